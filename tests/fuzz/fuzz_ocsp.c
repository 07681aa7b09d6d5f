/*
 * libFuzzer target for the OCSP responder through espd's request path
 * (src/httpd/page_ocsp.c, src/core/ocsp_answer.c, src/pki/ocsp.c): the
 * request's DER decoded by OpenSSL, its CertIDs matched against our issuing
 * CA, the store asked, the answer signed or taken from the cache.
 *
 * The first byte chooses the form: even, the rest is the body of a POST
 * application/ocsp-request; odd, the rest is base64-encoded here and sent
 * as GET /ocsp/<base64> (URL-escaped), so that mutations reach the DER
 * decoder either way.  Every answer is 200 (a signed answer: nothing asked
 * can be ours, so "unknown") or 400 (malformedRequest): a 5xx would be our
 * fault.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "esp/util.h"
#include "fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GET /ocsp/<base64, with '+', '/' and '=' percent-escaped>. */
static char *get_head(const uint8_t *der, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = xmalloc(cap);
	sodium_bin2base64(b64, cap, der, len, sodium_base64_VARIANT_ORIGINAL);
	struct buf b = {0};
	buf_puts(&b, "GET /ocsp/");
	for (const char *p = b64; *p; p++) {
		if (*p == '+' || *p == '/' || *p == '=')
			buf_printf(&b, "%%%02X", (unsigned char)*p);
		else
			buf_putc(&b, *p);
	}
	buf_puts(&b, " HTTP/1.1\r\nHost: esp.invalid\r\n");
	free(b64);
	return buf_steal(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_http_init();
	int status;
	if (data[0] & 1) {
		char *head = get_head(data + 1, size - 1);
		status = fuzz_http_request(head, "", 0);
		free(head);
	} else {
		status = fuzz_http_request("POST /ocsp HTTP/1.1\r\nHost: esp.invalid\r\n"
		                           "Content-Type: application/ocsp-request\r\n",
		                           data + 1, size - 1);
	}
	/* A GET whose URL is too long is refused before the responder (414);
	 * "GET /ocsp/" with nothing after it is no route (404). */
	bool empty_get = (data[0] & 1) && size == 1;
	if (status != 200 && status != 400 && status != 414 && !(empty_get && status == 404)) {
		fprintf(stderr, "fuzz_ocsp: %s answered %d\n", data[0] & 1 ? "GET" : "POST",
		        status);
		abort();
	}
	return 0;
}

/*
 * libFuzzer target for the JSON bodies of espd's API (src/httpd/api.c and
 * src/httpd/page_certlogin.c), through the real request path with a store
 * (fuzz_http.c): JSON loading, field extraction, and what the handlers do
 * with the fields (CSR screening, revocation reasons, the login
 * certificate's PEM and base64 signature).
 *
 * The first byte chooses the endpoint; the rest is the body:
 *   0  POST /api/v1/applications/{number}/certificates  {"csr", "token_serial"}
 *   1  POST /api/v1/certificates/{serial}/revoke         {"reason"}
 *   2  POST /api/v1/login/certificate   {"id", "challenge", "signature", "certificate"}
 * The first two carry the RA's API token.  No application, certificate or
 * challenge exists in the store, so nothing can succeed: every body must
 * be refused with a 4xx.  A 5xx (our fault) or no answer is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_http_init();
	static char heads[3][512];
	if (!heads[0][0]) {
		static const char *const lines[] = {
		    "POST /api/v1/applications/2026000001/certificates HTTP/1.1\r\n",
		    "POST /api/v1/certificates/0a1b2c3d4e5f/revoke HTTP/1.1\r\n",
		    "POST /api/v1/login/certificate HTTP/1.1\r\n",
		};
		for (int i = 0; i < 3; i++)
			snprintf(heads[i], sizeof heads[i],
			         "%sHost: esp.invalid\r\nContent-Type: application/json\r\n%s%s%s",
			         lines[i], i < 2 ? "Authorization: Bearer " : "",
			         i < 2 ? fuzz_http_token() : "", i < 2 ? "\r\n" : "");
	}
	int status = fuzz_http_request(heads[data[0] % 3], data + 1, size - 1);
	if (status < 400 || status > 499) {
		fprintf(stderr, "fuzz_json: endpoint %d answered %d\n", data[0] % 3, status);
		abort();
	}
	return 0;
}

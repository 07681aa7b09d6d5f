/*
 * libFuzzer target for form bodies: urlencoded and multipart/form-data,
 * through espd's own request path (libmicrohttpd's post processor and the
 * post iterator, the form fields (src/httpd/form.c), the CSRF check and
 * the error page of src/httpd/server.c), in process (fuzz_http.c).
 *
 * The first byte chooses the encoding (even: urlencoded; odd: multipart with
 * the boundary "ESPFUZZ"); the rest is the body of a POST /login.  No cookie
 * is sent, so the CSRF check refuses every form that parses: every body
 * must get a 403, or a 400 when it is malformed, or a 413 when it is too
 * large (or has too many fields).
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_http_init();
	const char *head = data[0] & 1 ? "POST /login HTTP/1.1\r\nHost: esp.invalid\r\n"
	                                 "Content-Type: multipart/form-data; boundary=ESPFUZZ\r\n"
	                               : "POST /login HTTP/1.1\r\nHost: esp.invalid\r\n"
	                                 "Content-Type: application/x-www-form-urlencoded\r\n";
	int status = fuzz_http_request(head, data + 1, size - 1);
	if (status != 403 && status != 400 && status != 413)
		abort();
	return 0;
}

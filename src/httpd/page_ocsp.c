/*
 * /ocsp: the OCSP responder (RFC 6960 appendix A): POST with the DER
 * request as an application/ocsp-request body, or GET with the request in
 * base64 (URL-encoded) as the rest of the path.  The answer, its cache and
 * its signature are core/ocsp_answer.c's and pki/ocsp.c's; this file only
 * takes the request out of HTTP.
 */
#include "httpd.h"

#include "esp/ocsp.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { OCSP_REQUEST_MAX = 8192 };

static void reply_ocsp(struct request *r, const unsigned char *req, size_t len)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	int http = 500;
	bool hit = false;
	ocsp_answer(r->srv->ocsp, req_db(r), req, len, &der, &der_len, &http, &hit);
	r->status = http;
	r->content_type = "application/ocsp-response";
	if (!der) {
		reply_server_error(r, "OCSP answer");
		return;
	}
	req_body_take(r, der, der_len);
	/* A client's cache must not keep "good" past a revocation. */
	req_header(r, "Cache-Control", "no-cache");
}

/* Base64 as RFC 6960 asks, and, as some clients send, without padding or
 * in the URL-safe alphabet.  NULL when none fits. */
static unsigned char *decode_path(struct request *r, const char *s, size_t *len)
{
	static const int variants[] = {
	    sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	    sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
	size_t n = strlen(s);
	if (n == 0 || n > OCSP_REQUEST_MAX * 2)
		return NULL;
	unsigned char *bin = arena_alloc(r->arena, n);
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
		if (sodium_base642bin(bin, n, s, n, NULL, len, NULL, variants[i]) == 0)
			return bin;
	return NULL;
}

void page_ocsp_get(struct request *r)
{
	size_t len = 0;
	const unsigned char *req = decode_path(r, r->params[0] ? r->params[0] : "", &len);
	reply_ocsp(r, req, req ? len : 0);
}

void page_ocsp_post(struct request *r)
{
	const char *ct =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	bool typed = ct && strncasecmp(ct, "application/ocsp-request", 24) == 0;
	if (!typed || r->raw.len > OCSP_REQUEST_MAX) {
		reply_ocsp(r, NULL, 0); /* malformedRequest, 400 */
		return;
	}
	reply_ocsp(r, (const unsigned char *)r->raw.data, r->raw.len);
}

int ocsp_start(struct server *srv, const char *ca_dir)
{
	struct esp_config *cfg = srv->cfg;
	long minutes = config_get_long(cfg, "ocsp_next_update_minutes");
	long days = config_get_long(cfg, "ocsp_responder_days");
	long entries = config_get_long(cfg, "ocsp_cache_entries");
	if (minutes < 2 || minutes > 7 * 24 * 60 || days < 31 || days > 3650 || entries < 1 ||
	    entries > (1L << 24)) {
		fprintf(stderr, "espd: ocsp_next_update_minutes must be 2-10080, "
		                "ocsp_responder_days 31-3650 and ocsp_cache_entries 1-16777216\n");
		return 1;
	}
	char *url = ocsp_responder_url(config_get(cfg, "ocsp_url"), srv->public_url);
	bool url_ok = ca_set_ocsp_url(srv->ca, url);
	if (!url_ok)
		fprintf(stderr, "espd: ocsp_url: '%s' is not a URL\n", url);
	free(url);
	if (!url_ok)
		return 1;
	esp_ocsp *o = NULL;
	if (ocsp_responder_open(srv->ca, ca_dir, (int)days, &o) != CA_OK) {
		fprintf(stderr, "espd: cannot load or make the OCSP responder in %s/ocsp.pem\n",
		        ca_dir);
		return 2;
	}
	srv->ocsp_responder = o;
	srv->ocsp = ocsp_cache_new(o, (size_t)entries, (int)minutes * 60);
	return 0;
}

void ocsp_stop(struct server *srv)
{
	ocsp_cache_free(srv->ocsp);
	ocsp_responder_free(srv->ocsp_responder);
	srv->ocsp = NULL;
	srv->ocsp_responder = NULL;
}

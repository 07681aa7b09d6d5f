/*
 * The OCSP responder's signing side (RFC 6960): its delegated certificate,
 * issued by the issuing CA and kept in <data_dir>/ca/ocsp.pem, the parsing
 * of OCSPRequests and the signing of OCSPResponses, all through OpenSSL's
 * OCSP API.  Which status to answer is the caller's (core/ocsp_answer.c).
 *
 * Why a delegated signer: an answer is signed per request (a nonce must be
 * echoed), and the issuing CA's key should sign as little as possible.  The
 * responder's key is an ECDSA P-256 key kept like the CA's (0600, wiped
 * after use); its certificate carries id-pkix-ocsp-nocheck, so clients do
 * not ask about the responder itself.
 */
#include "ca_internal.h"
#include "esp/ocsp.h"
#include "esp/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

enum {
	DAY = 24 * 60 * 60,
	RENEW_DAYS = 30, /* a certificate this close to its end is replaced at start */
	PEM_MAX = 64 * 1024,
	SERIAL_HEX_MAX = 40,
};

struct esp_ocsp {
	EVP_PKEY *key;
	X509 *cert;
	X509 *issuer; /* the issuing CA (owned by its esp_ca: not freed here) */
	pthread_mutex_t sign_lock;
	/* The issuer's CertID under each hash clients use, made once: made per
	 * request, its two digests (with OpenSSL 3's implicit fetch of the
	 * algorithm, under a lock all workers share) were most of a cached
	 * answer's cost. */
	int id_nid[4];
	OCSP_CERTID *id[4];
};

struct ocsp_query {
	OCSP_REQUEST *req;
	size_t n;
	bool nonce;
	char *serial[OCSP_MAX_SINGLE];
};

/* ---- the responder's certificate ---- */

static X509 *make_responder_cert(esp_ca *ca, EVP_PKEY *key, int days)
{
	time_t now = time(NULL);
	time_t end = now + (time_t)days * DAY;
	X509_NAME *name = X509_NAME_new();
	X509 *x = NULL;
	if (!name ||
	    X509_NAME_add_entry_by_NID(name, NID_countryName, MBSTRING_UTF8,
	                               (const unsigned char *)"CN", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                               (const unsigned char *)"ESP OCSP Responder", -1, -1, 0) != 1)
		goto fail;
	x = ca_leaf_new(ca, name, key, now - 5 * 60, end);
	if (!x)
		goto fail;
	if (X509_cmp_time(X509_get0_notAfter(ca->cert), &end) < 0 &&
	    X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)) != 1)
		goto fail;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (!ca_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !ca_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    !ca_add_ext(x, &ctx, NID_ext_key_usage, "critical,OCSPSigning") ||
	    !ca_add_ext(x, &ctx, NID_id_pkix_OCSP_noCheck, "ignored") ||
	    !ca_add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !ca_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    !ca_sign_x509(ca, x))
		goto fail;
	X509_NAME_free(name);
	return x;
fail:
	X509_NAME_free(name);
	X509_free(x);
	return NULL;
}

/* A pair read from ocsp.pem that still serves: issued by this CA, the key
 * its own, more than RENEW_DAYS left. */
static bool responder_usable(esp_ca *ca, X509 *cert, EVP_PKEY *key)
{
	time_t soon = time(NULL) + (time_t)RENEW_DAYS * DAY;
	return cert && key && X509_check_private_key(cert, key) == 1 &&
	       X509_verify(cert, X509_get0_pubkey(ca->cert)) == 1 &&
	       X509_check_issued(ca->cert, cert) == X509_V_OK &&
	       X509_cmp_time(X509_get0_notAfter(cert), &soon) > 0;
}

static void load_responder(const char *path, EVP_PKEY **key, X509 **cert)
{
	size_t len = 0;
	char *pem = file_read_max(path, PEM_MAX, &len);
	if (!pem || len > INT_MAX) {
		free(pem);
		return;
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (b) {
		*key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		*cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
	}
	BIO_free(b);
	OPENSSL_cleanse(pem, len);
	free(pem);
}

/* Key then certificate in one file, written atomically: a reader never sees
 * one process's key with another's certificate. */
static bool save_responder(const char *path, EVP_PKEY *key, X509 *cert)
{
	size_t key_len = 0;
	char *key_pem = ca_key_to_pem(key, &key_len);
	char *crt_pem = ca_x509_to_pem(cert);
	bool ok = false;
	if (key_pem && crt_pem) {
		size_t cl = strlen(crt_pem);
		char *both = malloc(key_len + cl);
		if (both) {
			memcpy(both, key_pem, key_len);
			memcpy(both + key_len, crt_pem, cl);
			ok = file_write_atomic(path, both, key_len + cl, 0600) == 0;
			OPENSSL_cleanse(both, key_len + cl);
			free(both);
		}
	}
	if (key_pem) {
		OPENSSL_cleanse(key_pem, key_len);
		free(key_pem);
	}
	free(crt_pem);
	return ok;
}

enum ca_status ocsp_responder_open(esp_ca *ca, const char *dir, int days, esp_ocsp **out)
{
	*out = NULL;
	if (!ca || !dir || days < 1 || days > 3660)
		return CA_ERR_INTERNAL;
	char *path = xasprintf("%s/ocsp.pem", dir);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	load_responder(path, &key, &cert);
	if (!responder_usable(ca, cert, key)) {
		EVP_PKEY_free(key);
		X509_free(cert);
		key = EVP_EC_gen("P-256");
		cert = key ? make_responder_cert(ca, key, days) : NULL;
		if (!cert || !save_responder(path, key, cert)) {
			EVP_PKEY_free(key);
			X509_free(cert);
			free(path);
			ERR_clear_error();
			return CA_ERR_INTERNAL;
		}
	}
	free(path);
	ERR_clear_error();
	esp_ocsp *o = xcalloc(1, sizeof *o);
	o->key = key;
	o->cert = cert;
	o->issuer = ca->cert;
	static const int nids[4] = {NID_sha1, NID_sha256, NID_sha384, NID_sha512};
	for (int i = 0; i < 4; i++) {
		o->id_nid[i] = nids[i];
		o->id[i] = OCSP_cert_to_id(EVP_get_digestbynid(nids[i]), NULL, o->issuer);
	}
	ERR_clear_error();
	pthread_mutex_init(&o->sign_lock, NULL);
	/* Fill the extension caches while single threaded (as ca_open does). */
	X509_check_purpose(o->cert, -1, 0);
	*out = o;
	return CA_OK;
}

void ocsp_responder_free(esp_ocsp *o)
{
	if (!o)
		return;
	EVP_PKEY_free(o->key);
	X509_free(o->cert);
	for (int i = 0; i < 4; i++)
		OCSP_CERTID_free(o->id[i]);
	pthread_mutex_destroy(&o->sign_lock);
	free(o);
}

/* ---- requests ---- */

ocsp_query *ocsp_query_parse(const unsigned char *der, size_t len)
{
	if (!der || len == 0 || len > LONG_MAX)
		return NULL;
	const unsigned char *p = der;
	OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	/* Trailing bytes after the request are as malformed as a short one. */
	if (!req || p != der + len) {
		OCSP_REQUEST_free(req);
		ERR_clear_error();
		return NULL;
	}
	int n = OCSP_request_onereq_count(req);
	if (n < 1 || n > OCSP_MAX_SINGLE) {
		OCSP_REQUEST_free(req);
		return NULL;
	}
	ocsp_query *q = xcalloc(1, sizeof *q);
	q->req = req;
	q->n = (size_t)n;
	q->nonce = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1) >= 0;
	for (int i = 0; i < n; i++) {
		ASN1_INTEGER *serial = NULL;
		OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
		if (!id || OCSP_id_get0_info(NULL, NULL, NULL, &serial, id) != 1 || !serial)
			goto bad;
		/* The answer copies each CertID (encoded, then decoded again).
		 * One whose encoding OpenSSL then refuses (an algorithm's
		 * parameters "20 00", an end-of-contents it reads leniently the
		 * first time only; found by fuzz_ocsp) would fail the signing: a
		 * 500 for the client's mistake. Malformed here instead. */
		OCSP_CERTID *copy = OCSP_CERTID_dup(id);
		if (!copy)
			goto bad;
		OCSP_CERTID_free(copy);
		q->serial[i] = ca_serial_hex(serial);
		if (!q->serial[i] || strlen(q->serial[i]) > SERIAL_HEX_MAX)
			goto bad;
	}
	return q;
bad:
	ocsp_query_free(q);
	ERR_clear_error();
	return NULL;
}

void ocsp_query_free(ocsp_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->serial[i]);
	OCSP_REQUEST_free(q->req);
	free(q);
}

size_t ocsp_query_count(const ocsp_query *q)
{
	return q->n;
}

bool ocsp_query_has_nonce(const ocsp_query *q)
{
	return q->nonce;
}

/* Whether the CertID's issuer hashes are our issuing CA's, computed with the
 * hash algorithm the client chose (SHA-1 by default, SHA-256 often). */
static bool certid_ours(const esp_ocsp *o, OCSP_CERTID *id)
{
	ASN1_OBJECT *md_oid = NULL;
	if (OCSP_id_get0_info(NULL, &md_oid, NULL, NULL, id) != 1 || !md_oid)
		return false;
	int nid = OBJ_obj2nid(md_oid);
	for (int i = 0; i < 4; i++)
		if (o->id[i] && o->id_nid[i] == nid)
			return OCSP_id_issuer_cmp(o->id[i], id) == 0;
	const EVP_MD *md = EVP_get_digestbyobj(md_oid);
	if (!md)
		return false;
	OCSP_CERTID *mine = OCSP_cert_to_id(md, NULL, o->issuer);
	bool same = mine && OCSP_id_issuer_cmp(mine, id) == 0;
	OCSP_CERTID_free(mine);
	ERR_clear_error();
	return same;
}

const char *ocsp_query_serial(const esp_ocsp *o, const ocsp_query *q, size_t i)
{
	if (i >= q->n)
		return NULL;
	OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(q->req, (int)i));
	return id && certid_ours(o, id) ? q->serial[i] : NULL;
}

/* ---- responses ---- */

static bool response_der(OCSP_RESPONSE *resp, unsigned char **der, size_t *len)
{
	unsigned char *d = NULL;
	int n = resp ? i2d_OCSP_RESPONSE(resp, &d) : -1;
	if (n <= 0) {
		ERR_clear_error();
		return false;
	}
	*der = ca_memdup(d, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(d);
	return *der != NULL;
}

static int status_code(enum ocsp_cert_status s)
{
	switch (s) {
	case OCSP_CERT_GOOD:
		return V_OCSP_CERTSTATUS_GOOD;
	case OCSP_CERT_REVOKED:
		return V_OCSP_CERTSTATUS_REVOKED;
	case OCSP_CERT_UNKNOWN:
		break;
	}
	return V_OCSP_CERTSTATUS_UNKNOWN;
}

bool ocsp_sign_answer(esp_ocsp *o, const ocsp_query *q, const struct ocsp_status *st,
                      int next_update_seconds, unsigned char **der, size_t *len)
{
	*der = NULL;
	*len = 0;
	bool ok = false;
	time_t now = time(NULL);
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	ASN1_TIME *this_upd = ASN1_TIME_set(NULL, now);
	ASN1_TIME *next_upd = ASN1_TIME_set(NULL, now + next_update_seconds);
	ASN1_TIME *rev = NULL;
	OCSP_RESPONSE *resp = NULL;
	if (!bs || !this_upd || !next_upd)
		goto out;
	for (size_t i = 0; i < q->n; i++) {
		OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(q->req, (int)i));
		int code = status_code(st[i].status);
		ASN1_TIME_free(rev);
		rev = NULL;
		if (code == V_OCSP_CERTSTATUS_REVOKED &&
		    !(rev = ASN1_TIME_set(NULL, st[i].revoked_at)))
			goto out;
		/* RFC 5280 5.3.1: no reason code rather than "unspecified". */
		int reason =
		    code == V_OCSP_CERTSTATUS_REVOKED && st[i].reason > 0 ? st[i].reason : -1;
		if (!OCSP_basic_add1_status(bs, id, code, reason, rev, this_upd, next_upd))
			goto out;
	}
	if (q->nonce && OCSP_copy_nonce(bs, q->req) <= 0)
		goto out;
	pthread_mutex_lock(&o->sign_lock);
	int signed_ok = OCSP_basic_sign(bs, o->cert, o->key, EVP_sha256(), NULL, 0);
	pthread_mutex_unlock(&o->sign_lock);
	if (signed_ok != 1)
		goto out;
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	ok = response_der(resp, der, len);
out:
	ERR_clear_error();
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	ASN1_TIME_free(this_upd);
	ASN1_TIME_free(next_upd);
	ASN1_TIME_free(rev);
	return ok;
}

bool ocsp_error_answer(enum ocsp_resp_status status, unsigned char **der, size_t *len)
{
	*der = NULL;
	*len = 0;
	OCSP_RESPONSE *resp = OCSP_response_create((int)status, NULL);
	bool ok = response_der(resp, der, len);
	OCSP_RESPONSE_free(resp);
	return ok;
}

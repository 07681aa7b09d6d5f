/*
 * Unit tests of the OCSP responder (src/core/ocsp_answer.c over
 * src/pki/ocsp.c) on both engines: good, revoked with time and reason,
 * unknown; the per-certificate cache, which serves a nonce-less request
 * without signing and is dropped when the certificate's status changes
 * (migration 014's generation) but kept when another certificate's does;
 * nonces echoed; malformed requests (400), a failing store (503); the
 * responder's certificate (OCSPSigning, kept and reloaded from ocsp.pem).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "esp/ocsp.h"
#include "../dbfixture.h"
#include "../testdir.h"
#include "storetest.h"

static char *ca_dir;
static esp_ca *ca;
static esp_ocsp *responder;
static X509 *ca_cert, *root_cert;

static void remove_ca(void)
{
	ocsp_responder_free(responder);
	ca_free(ca);
	X509_free(ca_cert);
	X509_free(root_cert);
	if (ca_dir)
		test_dir_remove(ca_dir);
	free(ca_dir);
}

/* One CA and responder for the whole run. */
static void ensure_ca(void)
{
	if (ca)
		return;
	ca_dir = test_dir_make("ocsp");
	assert_int_equal(ca_create(ca_dir, "测试"), CA_OK);
	assert_int_equal(ca_open(ca_dir, &ca), CA_OK);
	assert_int_equal(ocsp_responder_open(ca, ca_dir, 365, &responder), CA_OK);
	char *path = xasprintf("%s/ca.crt", ca_dir);
	FILE *f = fopen(path, "r");
	ca_cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	free(path);
	path = xasprintf("%s/root.crt", ca_dir);
	f = fopen(path, "r");
	root_cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	free(path);
	assert_non_null(ca_cert);
	assert_non_null(root_cert);
	atexit(remove_ca);
}

static void store_cert(db_conn *c, const char *serial)
{
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO certificates (serial, token_serial, subject, pem, der, "
	            "not_before, not_after, status, created_at) VALUES ($1, $1, 'CN=x', "
	            "'', $2, 0, 4102444800, 'valid', 0)",
	            NULL, P_TEXT(serial), P_BLOB("\x30\x00", 2)),
	    DB_OK);
}

static void revoke(db_conn *c, const char *serial, int64_t at, int reason)
{
	assert_int_equal(DB_EXEC(c,
	                         "UPDATE certificates SET status = 'revoked', revoked_at = $2, "
	                         "revoke_reason = $3 WHERE serial = $1",
	                         NULL, P_TEXT(serial), P_INT(at), P_INT(reason)),
	                 DB_OK);
}

/* A DER OCSPRequest for serial (hex) of our CA, or of `issuer`. */
static unsigned char *request(const char *serial_hex, X509 *issuer, bool nonce, size_t *len)
{
	BIGNUM *bn = NULL;
	assert_true(BN_hex2bn(&bn, serial_hex) > 0);
	ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
	X509 *is = issuer ? issuer : ca_cert;
	OCSP_CERTID *id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(is),
	                                   X509_get0_pubkey_bitstr(is), serial);
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	assert_non_null(OCSP_request_add0_id(req, id));
	if (nonce)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, -1), 1);
	unsigned char *der = NULL;
	int n = i2d_OCSP_REQUEST(req, &der);
	assert_true(n > 0);
	unsigned char *out = xmalloc((size_t)n);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return out;
}

struct answer {
	int http, status, reason;
	bool hit;
	time_t revoked_at;
	unsigned char *der;
	size_t len;
};

/* Asks, checks the signature against the CA, and reads the one status. */
static struct answer ask(ocsp_cache *cache, db_conn *c, const unsigned char *req, size_t len)
{
	struct answer a = {.status = -1, .reason = -1};
	ocsp_answer(cache, c, req, len, &a.der, &a.len, &a.http, &a.hit);
	assert_non_null(a.der);
	const unsigned char *p = a.der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)a.len);
	assert_non_null(resp);
	OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
	if (bs) {
		X509_STORE *st = X509_STORE_new();
		X509_STORE_add_cert(st, root_cert);
		X509_STORE_add_cert(st, ca_cert);
		assert_int_equal(OCSP_basic_verify(bs, NULL, st, 0), 1);
		X509_STORE_free(st);
		ASN1_GENERALIZEDTIME *rev = NULL;
		OCSP_SINGLERESP *single = OCSP_resp_get0(bs, 0);
		a.status = OCSP_single_get0_status(single, &a.reason, &rev, NULL, NULL);
		if (rev) {
			struct tm tm;
			ASN1_TIME_to_tm(rev, &tm);
			a.revoked_at = timegm(&tm);
		}
		OCSP_BASICRESP_free(bs);
	}
	OCSP_RESPONSE_free(resp);
	return a;
}

static ocsp_cache *new_cache(void)
{
	ensure_ca();
	return ocsp_cache_new(responder, 64, 3600);
}

static void test_good_revoked_unknown(void **state)
{
	struct fixture *f = *state;
	ocsp_cache *cache = new_cache();
	store_cert(f->c, "0a0b0c");
	size_t len;
	unsigned char *req = request("0a0b0c", NULL, false, &len);
	struct answer a = ask(cache, f->c, req, len);
	assert_int_equal(a.http, 200);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
	assert_false(a.hit);
	revoke(f->c, "0a0b0c", 1790000000, 1);
	struct answer b = ask(cache, f->c, req, len);
	assert_int_equal(b.status, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(b.reason, 1); /* keyCompromise */
	assert_int_equal(b.revoked_at, 1790000000);
	assert_false(b.hit);
	size_t ulen;
	unsigned char *unk = request("0badc0de", NULL, false, &ulen);
	struct answer u = ask(cache, f->c, unk, ulen);
	assert_int_equal(u.status, V_OCSP_CERTSTATUS_UNKNOWN);
	/* Unknown is never kept: a certificate inserted later bumps nothing. */
	store_cert(f->c, "0badc0de");
	struct answer later = ask(cache, f->c, unk, ulen);
	assert_int_equal(later.status, V_OCSP_CERTSTATUS_GOOD);
	free(later.der);
	free(a.der);
	free(b.der);
	free(u.der);
	free(req);
	free(unk);
	ocsp_cache_free(cache);
}

static void test_cache_kept_until_own_status_changes(void **state)
{
	struct fixture *f = *state;
	ocsp_cache *cache = new_cache();
	store_cert(f->c, "01");
	store_cert(f->c, "02");
	size_t len;
	unsigned char *req = request("01", NULL, false, &len);
	struct answer a = ask(cache, f->c, req, len);
	struct answer b = ask(cache, f->c, req, len);
	assert_false(a.hit);
	assert_true(b.hit);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.der, b.der, a.len);
	/* Another certificate's revocation moves the generation, but 01's own
	 * row is the same: its signed answer stays. */
	revoke(f->c, "02", 1790000000, 0);
	struct answer c = ask(cache, f->c, req, len);
	assert_true(c.hit);
	assert_memory_equal(a.der, c.der, a.len);
	revoke(f->c, "01", 1790000100, 4);
	struct answer d = ask(cache, f->c, req, len);
	assert_false(d.hit);
	assert_int_equal(d.status, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(d.reason, 4); /* superseded */
	uint64_t hits = 0, misses = 0;
	ocsp_cache_stats(cache, &hits, &misses);
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 2);
	free(a.der);
	free(b.der);
	free(c.der);
	free(d.der);
	free(req);
	ocsp_cache_free(cache);
}

static void test_nonce_echoed_not_cached(void **state)
{
	struct fixture *f = *state;
	ocsp_cache *cache = new_cache();
	store_cert(f->c, "03");
	size_t len;
	unsigned char *req = request("03", NULL, true, &len);
	for (int i = 0; i < 2; i++) {
		struct answer a = ask(cache, f->c, req, len);
		assert_false(a.hit);
		assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
		const unsigned char *p = req;
		OCSP_REQUEST *r = d2i_OCSP_REQUEST(NULL, &p, (long)len);
		p = a.der;
		OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)a.len);
		OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
		assert_int_equal(OCSP_check_nonce(r, bs), 1);
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(resp);
		OCSP_REQUEST_free(r);
		free(a.der);
	}
	free(req);
	ocsp_cache_free(cache);
}

static void test_other_issuer_is_unknown(void **state)
{
	struct fixture *f = *state;
	ocsp_cache *cache = new_cache();
	store_cert(f->c, "04");
	/* The same serial, asked of another CA (the responder's own certificate
	 * stands in for one): not ours. */
	char *path = xasprintf("%s/ocsp.pem", ca_dir);
	FILE *fp = fopen(path, "r");
	X509 *other = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	free(path);
	assert_non_null(other);
	size_t len;
	unsigned char *req = request("04", other, false, &len);
	struct answer a = ask(cache, f->c, req, len);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_UNKNOWN);
	free(a.der);
	free(req);
	X509_free(other);
	ocsp_cache_free(cache);
}

static void test_malformed_and_store_failure(void **state)
{
	struct fixture *f = *state;
	ocsp_cache *cache = new_cache();
	static const unsigned char malformed[] = {0x30, 0x03, 0x0a, 0x01, 0x01};
	const char *bad[] = {"", "x", "\x30\x00", "\x30\x82\xff\xff"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct answer a = ask(cache, f->c, (const unsigned char *)bad[i], strlen(bad[i]));
		assert_int_equal(a.http, 400);
		assert_int_equal(a.len, sizeof malformed);
		assert_memory_equal(a.der, malformed, sizeof malformed);
		free(a.der);
	}
	/* Trailing bytes after a valid request are malformed too. */
	size_t len;
	unsigned char *req = request("05", NULL, false, &len);
	unsigned char *longer = xmalloc(len + 1);
	memcpy(longer, req, len);
	longer[len] = 0;
	struct answer t = ask(cache, f->c, longer, len + 1);
	assert_int_equal(t.http, 400);
	free(t.der);
	assert_int_equal(DB_EXEC0(f->c, "ALTER TABLE generations RENAME TO generations_gone", NULL),
	                 DB_OK);
	struct answer s = ask(cache, f->c, req, len);
	assert_int_equal(s.http, 503);
	assert_int_equal(s.der[s.len - 1], 3); /* tryLater */
	free(s.der);
	free(longer);
	free(req);
	ocsp_cache_free(cache);
}

static void test_responder_certificate(void **state)
{
	(void)state;
	ensure_ca();
	char *path = xasprintf("%s/ocsp.pem", ca_dir);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	FILE *fp = fopen(path, "r");
	X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	assert_true(X509_get_extended_key_usage(x) & XKU_OCSP_SIGN);
	assert_int_equal(X509_check_issued(ca_cert, x), X509_V_OK);
	assert_true(X509_get_ext_by_NID(x, NID_id_pkix_OCSP_noCheck, -1) >= 0);
	/* Opened again: the same certificate, not a new one. */
	esp_ocsp *again = NULL;
	assert_int_equal(ocsp_responder_open(ca, ca_dir, 365, &again), CA_OK);
	fp = fopen(path, "r");
	X509 *y = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_int_equal(X509_cmp(x, y), 0);
	ocsp_responder_free(again);
	X509_free(x);
	X509_free(y);
	free(path);
	char *url = ocsp_responder_url("", "https://esp.example.cn/");
	assert_string_equal(url, "https://esp.example.cn/ocsp");
	free(url);
	url = ocsp_responder_url("http://ocsp.example.cn", "https://esp.example.cn");
	assert_string_equal(url, "http://ocsp.example.cn");
	free(url);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_good_revoked_unknown, setup, teardown),               \
	    cmocka_unit_test_setup_teardown(test_cache_kept_until_own_status_changes, setup,       \
	                                    teardown),                                             \
	    cmocka_unit_test_setup_teardown(test_nonce_echoed_not_cached, setup, teardown),        \
	    cmocka_unit_test_setup_teardown(test_other_issuer_is_unknown, setup, teardown),        \
	    cmocka_unit_test_setup_teardown(test_malformed_and_store_failure, setup, teardown),    \
	    cmocka_unit_test_setup_teardown(test_responder_certificate, setup, teardown)

STORE_TEST_MAIN("ocsp_answer", TESTS)

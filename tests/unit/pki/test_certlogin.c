/*
 * Tests of the certificate checks that need the store as well as the CA
 * (src/core/login.c and the revocation of src/core/issue.c): a certificate
 * is the one ESP stored, byte for byte, not merely one with a stored serial;
 * a staff certificate can be revoked like any other, leaves the CRL listing
 * it and no longer logs in.  On SQLite, in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "esp/audit.h"
#include "esp/ca.h"
#include "esp/core.h"
#include "esp/db.h"
#include "esp/login.h"
#include "esp/util.h"
#include "../testdir.h"
#include "esp/certificate.h"
#include "esp/revoke.h"

#define MIGRATIONS ESP_SOURCE_DIR "/src/db/migrations"

struct fixture {
	char *dir;
	esp_ca *ca;
	db_pool *pool;
	db_conn *c;
	int64_t staff_id;
};

static char *csr_pem(EVP_PKEY *key)
{
	X509_REQ *req = X509_REQ_new();
	assert_non_null(req);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	BIO *b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s = xstrndup(data, (size_t)n);
	BIO_free(b);
	X509_REQ_free(req);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	f->dir = test_dir_make("certlogin");
	char *ca_dir = xasprintf("%s", f->dir);
	if (ca_create(ca_dir, "测试") != CA_OK || ca_open(ca_dir, &f->ca) != CA_OK)
		return -1;
	free(ca_dir);
	char *db = xasprintf("%s/esp.db", f->dir);
	const char *err = NULL;
	f->pool = db_pool_open(db, 1, &err);
	free(db);
	int applied = 0;
	if (!f->pool || db_migrate(f->pool, MIGRATIONS, &applied) != DB_OK)
		return -1;
	f->c = db_acquire(f->pool);
	return account_create(f->c, "ops_admin", "Secret-123456!", ROLE_ADMIN, "值班管理员", 0,
	                      NULL, 0, &f->staff_id) == DB_OK
	           ? 0
	           : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_release(f->pool, f->c);
	db_pool_close(f->pool);
	ca_free(f->ca);
	test_dir_remove(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* A staff certificate issued as espctl staff-cert does; its DER. */
static unsigned char *staff_cert(struct fixture *f, char **serial, size_t *len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	char *csr = csr_pem(key);
	char *pem = NULL;
	assert_int_equal(
	    staff_cert_issue(f->c, f->ca, "ops_admin", csr, 365, "http://x/ca/crl", serial, &pem),
	    DB_OK);
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	assert_true(n > 0);
	unsigned char *out = xmalloc((size_t)n);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	free(pem);
	free(csr);
	EVP_PKEY_free(key);
	return out;
}

/* The issuing CA's key, as the test's stand-in for whoever once held it. */
static EVP_PKEY *issuing_key(const struct fixture *f)
{
	char *path = xasprintf("%s/ca.key", f->dir);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	free(path);
	assert_non_null(k);
	return k;
}

/* Regression: the login looked the certificate up by serial only, so another
 * certificate with the same serial, validly signed by the same CA (another
 * subject, another key), logged in as the stored one's holder. */
static void test_same_serial_other_certificate_refused(void **state)
{
	struct fixture *f = *state;
	char *serial = NULL;
	size_t len = 0;
	unsigned char *der = staff_cert(f, &serial, &len);
	int64_t account = 0;
	char *sn = NULL;
	assert_int_equal(cert_login_check(f->c, f->ca, der, len, &account, &sn), CL_OK);
	assert_int_equal(account, f->staff_id);
	assert_string_equal(sn, serial);
	free(sn);

	/* Same serial, same issuer and extensions; another subject and key,
	 * signed by the same issuing CA key. */
	const unsigned char *p = der;
	X509 *twin = d2i_X509(NULL, &p, (long)len);
	assert_non_null(twin);
	X509_NAME *name = X509_NAME_new();
	X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                           (const unsigned char *)"冒名者", -1, -1, 0);
	assert_int_equal(X509_set_subject_name(twin, name), 1);
	EVP_PKEY *other = EVP_EC_gen("P-256");
	assert_int_equal(X509_set_pubkey(twin, other), 1);
	EVP_PKEY *cakey = issuing_key(f);
	assert_true(X509_sign(twin, cakey, EVP_sha256()) > 0);
	unsigned char *tder = NULL;
	int tlen = i2d_X509(twin, &tder);
	assert_true(tlen > 0);
	/* It chains to our CA and carries the stored serial ... */
	char *tsn = NULL;
	assert_int_equal(ca_verify_client(f->ca, tder, (size_t)tlen, 0, &tsn), CA_CERT_GOOD);
	assert_string_equal(tsn, serial);
	free(tsn);
	/* ... but it is not the certificate ESP issued: refused. */
	account = 0;
	assert_int_equal(cert_login_check(f->c, f->ca, tder, (size_t)tlen, &account, &sn),
	                 CL_UNKNOWN_CERT);
	assert_int_equal(account, 0);
	free(sn);
	/* The genuine one still logs in. */
	assert_int_equal(cert_login_check(f->c, f->ca, der, len, &account, &sn), CL_OK);
	free(sn);

	OPENSSL_free(tder);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(other);
	X509_NAME_free(name);
	X509_free(twin);
	free(der);
	free(serial);
}

/* A lost staff key is stopped without disabling the person: the staff
 * certificate is revoked (audited), the CRL lists it, it no longer logs in. */
static void test_staff_certificate_revoked(void **state)
{
	struct fixture *f = *state;
	char *serial = NULL;
	size_t len = 0;
	unsigned char *der = staff_cert(f, &serial, &len);
	struct arena *ar = arena_new();
	struct certificate cert;
	assert_int_equal(cert_get(f->c, ar, serial, &cert), DB_OK);
	assert_true(cert.account_id == f->staff_id);
	assert_string_equal(cert.staff_username, "ops_admin");
	assert_int_equal(cert.registration_id, 0);
	assert_false(cert.revoked);
	struct policy_object o;
	cert_policy_object(&cert, &o);
	struct actor admin = {
	    .account_id = f->staff_id, .role = ROLE_ADMIN, .username = "ops_admin"};
	struct actor ra = {
	    .account_id = 99, .role = ROLE_RA, .username = "ra", .province_code = "35"};
	assert_true(policy_allows(&admin, ACT_CERT_REVOKE, &o));
	assert_false(policy_allows(&ra, ACT_CERT_REVOKE, &o));
	arena_free(ar);

	assert_int_equal(
	    cert_revoke(f->c, f->ca, &admin, serial, crl_reason_parse("keyCompromise"), 24), DB_OK);
	assert_int_equal(cert_revoke(f->c, f->ca, &admin, serial, 1, 24), DB_CONFLICT);
	assert_int_equal(cert_revoke(f->c, f->ca, &admin, "00", 1, 24), DB_NOT_FOUND);
	int64_t account = 0;
	char *sn = NULL;
	assert_int_equal(cert_login_check(f->c, f->ca, der, len, &account, &sn), CL_REVOKED);
	free(sn);

	unsigned char *crl_der = NULL;
	size_t crl_len = 0;
	assert_int_equal(crl_load(f->c, &crl_der, &crl_len, NULL), DB_OK);
	const unsigned char *p = crl_der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)crl_len);
	assert_non_null(crl);
	BIGNUM *bn = NULL;
	assert_true(BN_hex2bn(&bn, serial) > 0);
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	X509_REVOKED *rev = NULL;
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, ai), 1);
	int crit = 0;
	ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	assert_non_null(reason);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 1);

	db_result *r = NULL;
	char *obj = xasprintf("certificate:%s", serial);
	assert_int_equal(DB_EXEC(f->c,
	                         "SELECT action FROM audit_log WHERE object = $1 AND action = "
	                         "'certificate.revoke'",
	                         &r, P_TEXT(obj)),
	                 DB_OK);
	assert_int_equal(r->nrows, 1);
	db_result_free(r);
	free(obj);

	ASN1_ENUMERATED_free(reason);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	X509_CRL_free(crl);
	free(crl_der);
	free(der);
	free(serial);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	password_set_cost("min");
	/* Revocations are audited; each test's store is new, so all keyed. */
	unsigned char key[AUDIT_KEY_BYTES];
	randombytes_buf(key, sizeof key);
	audit_key_set(key, 1);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_same_serial_other_certificate_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_staff_certificate_revoked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of src/token: the rules for a new PIN (6–16 characters counted
 * as characters, not bytes; no control characters) and their message, the
 * message sink the desktop window uses, what a holder reads of a certificate
 * (holder, 证书序列号, issuer, days left, the 60-day warning, CA or not), and
 * esp-token.conf (module =, portal =).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "token.h"

/* ---- the message sink ---------------------------------------------------- */

static char last_msg[1024];
static int msgs;

static void sink(enum tok_msg_level level, const char *msg, void *data)
{
	(void)level;
	(void)data;
	snprintf(last_msg, sizeof last_msg, "%s", msg);
	msgs++;
}

static int setup_sink(void **state)
{
	(void)state;
	last_msg[0] = '\0';
	msgs = 0;
	tok_set_msg_sink(sink, NULL);
	return 0;
}

static int teardown_sink(void **state)
{
	(void)state;
	tok_set_msg_sink(NULL, NULL);
	return 0;
}

static void test_new_pin_rules(void **state)
{
	(void)state;
	assert_int_equal(tok_check_new_pin("123456"), TOK_EXIT_OK);
	assert_int_equal(tok_check_new_pin("1234567890123456"), TOK_EXIT_OK);
	assert_int_equal(msgs, 0);

	assert_int_equal(tok_check_new_pin("12345"), TOK_EXIT_USAGE);
	assert_non_null(strstr(last_msg, "6–16"));
	assert_non_null(strstr(last_msg, "现为5个"));
	assert_int_equal(tok_check_new_pin("12345678901234567"), TOK_EXIT_USAGE);
	assert_non_null(strstr(last_msg, "现为17个"));
	/* six Chinese characters are 18 bytes but six characters */
	assert_int_equal(tok_check_new_pin("交通运输安全"), TOK_EXIT_OK);
	assert_int_equal(tok_check_new_pin("交通运输安"), TOK_EXIT_USAGE);
	assert_int_equal(tok_check_new_pin("abc\tdef"), TOK_EXIT_USAGE);
	assert_non_null(strstr(last_msg, "控制字符"));
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(tok_utf8_len(""), 0);
	assert_int_equal(tok_utf8_len("abc"), 3);
	assert_int_equal(tok_utf8_len("证书U盘"), 4);
}

static void test_pin_flags_hint(void **state)
{
	(void)state;
	assert_non_null(strstr(tok_pin_flags_hint(CKF_USER_PIN_LOCKED, false), "已锁定"));
	assert_non_null(strstr(tok_pin_flags_hint(CKF_USER_PIN_FINAL_TRY, false), "最后一次"));
	assert_non_null(strstr(tok_pin_flags_hint(CKF_USER_PIN_COUNT_LOW, false), "不多"));
	assert_non_null(strstr(tok_pin_flags_hint(0, false), "未报告"));
	/* the SO flags do not speak for the user PIN, and the other way round */
	assert_non_null(strstr(tok_pin_flags_hint(CKF_SO_PIN_LOCKED, false), "未报告"));
	assert_non_null(strstr(tok_pin_flags_hint(CKF_SO_PIN_LOCKED, true), "已锁定"));
}

/* ---- certificates -------------------------------------------------------- */

static X509 *make_cert(const char *o, const char *cn, long days, bool ca)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509 *x = X509_new();
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1A2B3C4D);
	X509_NAME *n = X509_get_subject_name(x);
	if (o)
		X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_UTF8,
		                           (const unsigned char *)o, -1, -1, 0);
	if (cn)
		X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
		                           (const unsigned char *)cn, -1, -1, 0);
	X509_NAME *issuer = X509_NAME_new();
	X509_NAME_add_entry_by_NID(issuer, NID_commonName, MBSTRING_UTF8,
	                           (const unsigned char *)"ESP 测试颁发CA", -1, -1, 0);
	X509_set_issuer_name(x, issuer);
	X509_NAME_free(issuer);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400 + 3600);
	X509_set_pubkey(x, key);
	if (ca) {
		X509V3_CTX ctx;
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		X509_EXTENSION *e =
		    X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	return x;
}

static void test_cert_view_expiring(void **state)
{
	(void)state;
	X509 *x = make_cert("福州顺达运输有限公司", "张三", 30, false);
	struct tok_cert_view v;
	tok_cert_view_fill(x, &v);
	assert_string_equal(v.holder, "福州顺达运输有限公司 / 张三");
	assert_string_equal(v.issuer, "ESP 测试颁发CA");
	assert_string_equal(v.serial, "1A2B3C4D");
	assert_int_equal(v.days_left, 30);
	assert_true(v.expiring);
	assert_false(v.ca);
	assert_int_equal(strlen(v.not_after), 10); /* YYYY-MM-DD */
	assert_non_null(strstr(v.subject, "CN=张三"));
	tok_cert_view_clear(&v);
	X509_free(x);
}

static void test_cert_view_not_expiring_and_expired(void **state)
{
	(void)state;
	X509 *x = make_cert(NULL, "李四", 61, false);
	struct tok_cert_view v;
	tok_cert_view_fill(x, &v);
	assert_string_equal(v.holder, "李四");
	assert_int_equal(v.days_left, 61);
	assert_false(v.expiring);
	tok_cert_view_clear(&v);
	X509_free(x);

	x = make_cert("某单位", "某单位", -3, false);
	tok_cert_view_fill(x, &v);
	assert_string_equal(v.holder, "某单位"); /* O and CN the same: once */
	assert_int_equal(v.days_left, -1);
	assert_false(v.expiring);
	tok_cert_view_clear(&v);
	X509_free(x);
}

static void test_cert_view_ca(void **state)
{
	(void)state;
	X509 *x = make_cert("福建省交通运输厅", "ESP 测试颁发CA", 3650, true);
	struct tok_cert_view v;
	tok_cert_view_fill(x, &v);
	assert_true(v.ca);
	tok_cert_view_clear(&v);
	X509_free(x);
}

/* ---- esp-token.conf ------------------------------------------------------ */

static void test_config_values(void **state)
{
	(void)state;
	char dir[] = "/tmp/esp-test-token-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/esp-token.conf", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("# comment\nmodules = /wrong.so\n  module\t=  /usr/lib/vendor.so  \n"
	      "portal = https://esp.example.org:8444/\n",
	      fp);
	fclose(fp);
	char *old = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
	setenv("XDG_CONFIG_HOME", dir, 1);
	char *m = tok_default_module();
	char *p = tok_config_value("portal");
	char *none = tok_config_value("server");
	assert_string_equal(m, "/usr/lib/vendor.so");
	assert_string_equal(p, "https://esp.example.org:8444/");
	assert_null(none);
	free(m);
	free(p);
	if (old)
		setenv("XDG_CONFIG_HOME", old, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	free(old);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_pin_rules, setup_sink, teardown_sink),
	    cmocka_unit_test(test_utf8_len),
	    cmocka_unit_test(test_pin_flags_hint),
	    cmocka_unit_test(test_cert_view_expiring),
	    cmocka_unit_test(test_cert_view_not_expiring_and_expired),
	    cmocka_unit_test(test_cert_view_ca),
	    cmocka_unit_test(test_config_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

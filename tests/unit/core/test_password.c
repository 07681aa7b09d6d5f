/*
 * Unit tests of the password rule (src/core/password.c): what it refuses,
 * why (the Chinese sentence a person reads), and that ordinary strong
 * passwords pass. The changes of a password in the store are tested on
 * both engines in tests/unit/db/test_db.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "esp/core.h"

static const char *check(struct arena *a, const char *user, const char *pw)
{
	return password_policy_check(a, 8, user, pw);
}

static void test_refused(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	static const struct {
		const char *password, *why;
	} cases[] = {
	    {"", "请输入密码"},
	    {"Ab3$xyz", "密码至少8位"},
	    {"zhang_wei", "密码不能与用户名相同"},
	    {"ZHANG_WEI", "密码不能与用户名相同"},
	    {"aaaaaaaaaa", "密码不能由同一个字符重复组成"},
	    {"88888888", "密码不能由同一个字符重复组成"},
	    {"12345678", "密码不能是连续的数字或字母（如12345678、abcdefgh）"},
	    {"87654321", "密码不能是连续的数字或字母（如12345678、abcdefgh）"},
	    {"abcdefghij", "密码不能是连续的数字或字母（如12345678、abcdefgh）"},
	    {"19800101", "密码不能是日期（如生日）"},
	    {"20240229", "密码不能是日期（如生日）"},
	    {"password", "该密码过于常见，很容易被猜中，请换一个"},
	    {"PassWord", "该密码过于常见，很容易被猜中，请换一个"},
	    {"11111111", "密码不能由同一个字符重复组成"},
	    {"qwertyuiop", "该密码过于常见，很容易被猜中，请换一个"},
	    {"a1234567", "该密码过于常见，很容易被猜中，请换一个"},
	    {"Aa123456", "该密码过于常见，很容易被猜中，请换一个"},
	    {"woaini1314", "该密码过于常见，很容易被猜中，请换一个"},
	    {"1qaz2wsx", "该密码过于常见，很容易被猜中，请换一个"},
	    {"zhang123456", "该密码过于常见，很容易被猜中，请换一个"},
	    {"iloveyou", "该密码过于常见，很容易被猜中，请换一个"},
	    {"P@ssw0rd", "该密码过于常见，很容易被猜中，请换一个"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *why = check(a, "zhang_wei", cases[i].password);
		if (!why || strcmp(why, cases[i].why) != 0)
			fail_msg("%s: expected %s, got %s", cases[i].password, cases[i].why,
			         why ? why : "(accepted)");
	}
	/* The minimum comes from the settings; characters, not bytes, count. */
	assert_string_equal(password_policy_check(a, 10, "u", "Tr4m-line"), "密码至少10位");
	assert_string_equal(password_policy_check(a, 8, "u", "交通安全生产"), "密码至少8位");
	assert_null(password_policy_check(a, 8, "u", "交通安全生产标准化"));
	/* Longer than 128 bytes, and not UTF-8. */
	char longpw[130];
	memset(longpw, 'x', 128);
	longpw[0] = 'y';
	longpw[128] = 'z';
	longpw[129] = '\0';
	assert_string_equal(check(a, "u", longpw), "密码不能超过128个字符");
	longpw[128] = '\0';
	assert_null(check(a, "u", longpw));
	assert_string_equal(check(a, "u",
	                          "abc\xff\xfe"
	                          "defgh"),
	                    "密码含有无法识别的字符");
	/* Not a date: 13th month, 30 February, a year out of range. */
	assert_null(check(a, "u", "19801301"));
	assert_null(check(a, "u", "19800230"));
	assert_null(check(a, "u", "18000101"));
	arena_free(a);
}

static void test_accepted(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	static const char *const good[] = {
	    "Tr4m-line-Fuzhou", "correct horse battery", "x7Kp2mQz", "闽A货运2026安全", "81726354",
	    "abcdefgz",         "zhangwei-福州-7",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const char *why = check(a, "zhang_wei", good[i]);
		if (why)
			fail_msg("%s refused: %s", good[i], why);
	}
	/* No username to compare with (espctl before the account exists). */
	assert_null(password_policy_check(a, 8, NULL, "x7Kp2mQz"));
	arena_free(a);
}

/* The shipped list is loaded: the entries the rule names, in any case. */
static void test_common_list(void **state)
{
	(void)state;
	assert_true(password_is_common("12345678"));
	assert_true(password_is_common("password"));
	assert_true(password_is_common("PASSWORD"));
	assert_true(password_is_common("88888888"));
	assert_true(password_is_common("Woaini1314"));
	assert_true(password_is_common("abc123456"));
	assert_false(password_is_common("x7Kp2mQz"));
	assert_false(password_is_common(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_common_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

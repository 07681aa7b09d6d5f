/* Unit tests of src/httpd/csrf.c: the form token check and the cookie kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "csrf.h"

#define TOKEN "k3J9xQm2Lr8vT0aZb7YcW1nE"

static void test_token_equal(void **state)
{
	(void)state;
	assert_true(csrf_token_ok(TOKEN, TOKEN));
	char copy[] = TOKEN;
	assert_true(csrf_token_ok(copy, TOKEN));
}

static void test_token_unequal(void **state)
{
	(void)state;
	char t[] = TOKEN;
	t[0] ^= 1; /* first byte */
	assert_false(csrf_token_ok(t, TOKEN));
	strcpy(t, TOKEN);
	t[sizeof t - 2] ^= 1; /* last byte */
	assert_false(csrf_token_ok(t, TOKEN));
	assert_false(csrf_token_ok("k3J9xQm2Lr8vT0aZb7YcW1nF", TOKEN));
	/* Case counts. */
	assert_false(csrf_token_ok("K3J9XQM2LR8VT0AZB7YCW1NE", TOKEN));
}

static void test_token_short_or_long(void **state)
{
	(void)state;
	/* A prefix of the token, or the token with more after it. */
	assert_false(csrf_token_ok("k3J9xQm2Lr8vT0aZb7YcW1n", TOKEN));
	assert_false(csrf_token_ok("k", TOKEN));
	assert_false(csrf_token_ok(TOKEN "x", TOKEN));
	/* An embedded NUL ends what was sent. */
	assert_false(csrf_token_ok("k3J9xQm2Lr8v\0T0aZb7YcW1nE", TOKEN));
}

static void test_token_missing(void **state)
{
	(void)state;
	assert_false(csrf_token_ok(NULL, TOKEN));
	assert_false(csrf_token_ok("", TOKEN));
	assert_false(csrf_token_ok(TOKEN, NULL));
	assert_false(csrf_token_ok(NULL, NULL));
	/* Nothing expected is never matched by nothing sent. */
	assert_false(csrf_token_ok("", ""));
}

static void test_cookie_usable(void **state)
{
	(void)state;
	char c[CSRF_COOKIE_MAX + 2];
	memset(c, 'a', sizeof c);
	c[CSRF_COOKIE_MIN - 1] = '\0';
	assert_false(csrf_cookie_usable(c));
	c[CSRF_COOKIE_MIN - 1] = 'a';
	c[CSRF_COOKIE_MIN] = '\0';
	assert_true(csrf_cookie_usable(c));
	c[CSRF_COOKIE_MIN] = 'a';
	c[CSRF_COOKIE_MAX] = '\0';
	assert_true(csrf_cookie_usable(c));
	c[CSRF_COOKIE_MAX] = 'a';
	c[CSRF_COOKIE_MAX + 1] = '\0';
	assert_false(csrf_cookie_usable(c));
	assert_false(csrf_cookie_usable(""));
	assert_false(csrf_cookie_usable(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_equal),         cmocka_unit_test(test_token_unequal),
	    cmocka_unit_test(test_token_short_or_long), cmocka_unit_test(test_token_missing),
	    cmocka_unit_test(test_cookie_usable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of src/httpd/nested_part.c: multipart/mixed parts spotted in a
 * form body however it is cut into chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nested_part.h"

/* Feeds s in chunks of `step` bytes; whether the last call said seen. */
static bool feed(const char *s, size_t step)
{
	struct nested_part np = {0};
	size_t n = strlen(s);
	bool seen = false;
	for (size_t off = 0; off < n; off += step)
		seen = nested_part_seen(&np, s + off, n - off < step ? n - off : step);
	return seen;
}

static const char nested[] =
    "------b\r\nContent-Disposition: form-data; name=\"f\"\r\n"
    "Content-Type: multipart/mixed; boundary=IN\r\n\r\n--IN--\r\n------b--\r\n";

static void test_whole_and_cut_anywhere(void **state)
{
	(void)state;
	for (size_t step = 1; step <= sizeof nested; step++)
		assert_true(feed(nested, step));
	/* Cut once at every position. */
	for (size_t cut = 0; cut <= strlen(nested); cut++) {
		struct nested_part np = {0};
		bool a = nested_part_seen(&np, nested, cut);
		bool b = nested_part_seen(&np, nested + cut, strlen(nested) - cut);
		assert_true(b);
		assert_true(!a || cut > strstr(nested, "multipart/mixed") - nested);
	}
}

static void test_what_libmicrohttpd_would_nest(void **state)
{
	(void)state;
	/* It ends header lines at CR or LF and ignores case. */
	assert_true(feed("--b\nCONTENT-TYPE: MULTIPART/MIXED\n\n", 4));
	assert_true(feed("--b\rcontent-type: multipart/mixed; boundary=x\r", 7));
	assert_true(feed("--b\r\ncontent-type: multipart/mixedfoo\r\n", 1000));
}

static void test_ordinary_bodies_pass(void **state)
{
	(void)state;
	assert_false(feed("------b\r\nContent-Disposition: form-data; name=\"f\"\r\n"
	                  "Content-Type: multipart/form-data\r\n\r\nv\r\n------b--\r\n",
	                  3));
	/* Not at a line start, or not the header libmicrohttpd matches. */
	assert_false(feed("--b\r\nX-Content-Type: multipart/mixed\r\n\r\n", 5));
	assert_false(feed("--b\r\nContent-Type:multipart/mixed\r\n\r\n", 5));
	assert_false(feed("--b\r\nContent-Type: multipart/mixe", 5));
	assert_false(feed("", 1));
	/* Once seen, it stays seen. */
	struct nested_part np = {0};
	assert_true(nested_part_seen(&np, nested, strlen(nested)));
	assert_true(nested_part_seen(&np, "x", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_and_cut_anywhere),
	    cmocka_unit_test(test_what_libmicrohttpd_would_nest),
	    cmocka_unit_test(test_ordinary_bodies_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

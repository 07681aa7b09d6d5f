/*
 * Unit tests of src/httpd/router.c: matching a path against a pattern,
 * finding the route of a method and path (404 vs 405, HEAD as GET), and
 * the checks of a route table that espd makes before it serves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

static void h_a(struct request *r)
{
	(void)r;
}
static void h_b(struct request *r)
{
	(void)r;
}
static void h_c(struct request *r)
{
	(void)r;
}

static bool matches(const char *pattern, const char *path, const char *params[ROUTE_MAX_PARAMS],
                    struct arena *a)
{
	for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
		params[i] = NULL;
	return route_match(pattern, path, params, a);
}

static void test_match_literal(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	const char *p[ROUTE_MAX_PARAMS];
	assert_true(matches("/", "/", p, a));
	assert_true(matches("/admin/fees", "/admin/fees", p, a));
	assert_null(p[0]);
	assert_false(matches("/admin", "/admin/", p, a));
	assert_false(matches("/admin/", "/admin", p, a));
	assert_false(matches("/admin", "/admin/fees", p, a));
	assert_false(matches("/admin/fees", "/admin", p, a));
	assert_false(matches("/admin", "/Admin", p, a));
	assert_false(matches("/ra/queue.csv", "/ra/queue", p, a));
	assert_false(matches("/", "", p, a));
	arena_free(a);
}

static void test_match_params(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	const char *p[ROUTE_MAX_PARAMS];
	assert_true(matches("/review/{}", "/review/42", p, a));
	assert_string_equal(p[0], "42");
	assert_null(p[1]);
	/* One segment: never empty, never across a '/'. */
	assert_false(matches("/review/{}", "/review/", p, a));
	assert_false(matches("/review/{}", "/review", p, a));
	assert_false(matches("/review/{}", "/review/42/x", p, a));
	assert_false(matches("/review/{}", "/review//", p, a));
	assert_true(
	    matches("/ra/applications/{}/{}", "/ra/applications/ESP-2026-000001/payment", p, a));
	assert_string_equal(p[0], "ESP-2026-000001");
	assert_string_equal(p[1], "payment");
	assert_false(matches("/ra/applications/{}/{}", "/ra/applications/ESP-1/", p, a));
	/* A segment followed by a literal tail. */
	assert_true(matches("/applications/{}/form.pdf", "/applications/ESP-1/form.pdf", p, a));
	assert_string_equal(p[0], "ESP-1");
	assert_false(matches("/applications/{}/form.pdf", "/applications/ESP-1/form.pdfx", p, a));
	assert_false(matches("/applications/{}/print", "/applications/ESP-1/pdf", p, a));
	/* The most a pattern may hold. */
	assert_true(matches("/{}/{}/{}/{}", "/a/b/c/d", p, a));
	assert_string_equal(p[0], "a");
	assert_string_equal(p[3], "d");
	assert_false(matches("/{}/{}/{}/{}", "/a/b/c/d/e", p, a));
	/* Parameters are copies: the path may change after. */
	char path[] = "/review/7";
	assert_true(matches("/review/{}", path, p, a));
	path[8] = '8';
	assert_string_equal(p[0], "7");
	arena_free(a);
}

static void test_match_tail(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	const char *p[ROUTE_MAX_PARAMS];
	assert_true(matches("/static/*", "/static/css/esp.css", p, a));
	assert_string_equal(p[0], "css/esp.css");
	assert_true(matches("/static/*", "/static/x", p, a));
	assert_string_equal(p[0], "x");
	/* The tail is not empty and the prefix is whole. */
	assert_false(matches("/static/*", "/static/", p, a));
	assert_false(matches("/static/*", "/static", p, a));
	assert_false(matches("/static/*", "/staticx/a", p, a));
	arena_free(a);
}

static const struct route table[] = {
    {"GET", "/", h_a, R_PUBLIC, ACT_ANYONE},
    {"GET", "/review/{}", h_a, R_LOGIN, ACT_SESSION},
    {"POST", "/review/{}", h_b, R_LOGIN, ACT_SESSION},
    {"GET", "/review/{}", h_c, R_LOGIN, ACT_ADMIN}, /* shadowed by the first */
    {"GET", "/api/v1/x", h_a, R_JSON, ACT_ANYONE},
    {"GET", "/static/*", h_c, R_NO_SESSION | R_NO_STORE, ACT_ANYONE},
    {NULL, NULL, NULL, 0, ACT_ANYONE},
};

static void test_find(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	const char *p[ROUTE_MAX_PARAMS] = {0};
	const struct route *same = NULL;
	const struct route *rt = route_find(table, "GET", "/review/9", p, a, &same);
	assert_ptr_equal(rt, &table[1]);
	assert_ptr_equal(same, &table[1]);
	assert_string_equal(p[0], "9");
	rt = route_find(table, "POST", "/review/10", p, a, &same);
	assert_ptr_equal(rt, &table[2]);
	assert_ptr_equal(same, &table[1]);
	assert_string_equal(p[0], "10");
	/* HEAD is answered as GET; nothing else is. */
	assert_ptr_equal(route_find(table, "HEAD", "/review/9", p, a, &same), &table[1]);
	assert_null(route_find(table, "PUT", "/review/9", p, a, &same));
	assert_ptr_equal(same, &table[1]); /* 405, not 404 */
	assert_null(route_find(table, "POST", "/", p, a, &same));
	assert_ptr_equal(same, &table[0]);
	assert_null(route_find(table, "get", "/", p, a, &same));
	/* A wrong method on the API still tells the API's flags. */
	assert_null(route_find(table, "POST", "/api/v1/x", p, a, &same));
	assert_ptr_equal(same, &table[4]);
	assert_true(same->flags & R_JSON);
	/* Unknown path: 404. */
	assert_null(route_find(table, "GET", "/nowhere", p, a, &same));
	assert_null(same);
	assert_null(route_find(table, "GET", "/review/9/x", p, a, NULL));
	assert_ptr_equal(route_find(table, "GET", "/static/a.css", p, a, NULL), &table[5]);
	assert_string_equal(p[0], "a.css");
	arena_free(a);
}

/* The same lookups again (each thread keeps its last answer without
 * parameters): every answer as the first time, parameters never reused
 * from another path, and another table asked is another table. */
static const struct route other[] = {
    {"GET", "/", h_b, R_PUBLIC, ACT_ANYONE},
    {NULL, NULL, NULL, 0, ACT_ANYONE},
};

static void test_find_again(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	const char *p[ROUTE_MAX_PARAMS] = {0};
	const struct route *same = NULL;
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(route_find(table, "GET", "/", p, a, &same), &table[0]);
		assert_ptr_equal(same, &table[0]);
		assert_null(p[0]);
		assert_ptr_equal(route_find(table, "GET", "/api/v1/x", p, a, &same), &table[4]);
		assert_ptr_equal(route_find(table, "GET", "/api/v1/x", p, a, NULL), &table[4]);
		assert_null(route_find(table, "POST", "/api/v1/x", p, a, &same));
		assert_ptr_equal(same, &table[4]);
		assert_null(route_find(table, "POST", "/api/v1/x", p, a, &same));
		assert_ptr_equal(same, &table[4]);
		assert_null(route_find(table, "GET", "/nowhere", p, a, &same));
		assert_null(route_find(table, "GET", "/nowhere", p, a, &same));
		assert_null(same);
		assert_ptr_equal(route_find(table, "GET", "/review/9", p, a, &same), &table[1]);
		assert_string_equal(p[0], "9");
		assert_ptr_equal(route_find(table, "GET", "/review/10", p, a, &same), &table[1]);
		assert_string_equal(p[0], "10");
		assert_ptr_equal(route_find(table, "GET", "/review/10", p, a, &same), &table[1]);
		assert_string_equal(p[0], "10");
		/* A known page after one with parameters: no parameter left over. */
		p[0] = "stale";
		assert_ptr_equal(route_find(table, "GET", "/", p, a, &same), &table[0]);
		assert_null(p[0]);
		assert_ptr_equal(route_find(other, "GET", "/", p, a, &same), &other[0]);
		assert_ptr_equal(route_find(other, "GET", "/", p, a, &same), &other[0]);
		assert_ptr_equal(same, &other[0]);
		assert_ptr_equal(route_find(table, "HEAD", "/", p, a, &same), &table[0]);
		assert_ptr_equal(route_find(table, "HEAD", "/", p, a, &same), &table[0]);
		assert_null(route_find(table, "PUT", "/", p, a, &same));
		assert_ptr_equal(same, &table[0]);
	}
	/* Paths longer than what is kept are scanned every time. */
	char longp[300] = "/static/";
	memset(longp + 8, 'a', 250);
	assert_ptr_equal(route_find(table, "GET", longp, p, a, NULL), &table[5]);
	assert_ptr_equal(route_find(table, "GET", longp, p, a, NULL), &table[5]);
	assert_string_equal(p[0], longp + 8);
	arena_free(a);
}

static void test_table_valid(void **state)
{
	(void)state;
	assert_true(route_table_valid(table));
	struct route bad[2] = {{"GET", "/x", h_a, R_PUBLIC, ACT_ANYONE},
	                       {NULL, NULL, NULL, 0, ACT_ANYONE}};
	assert_true(route_table_valid(bad));
	/* A session route must name what it needs; a public one must not. */
	bad[0] = (struct route){"GET", "/x", h_a, R_LOGIN, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/x", h_a, R_PUBLIC, ACT_ADMIN};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/x", h_a, R_HOLDER, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/x", h_a, R_ELSE_HOME, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/x", h_a, R_NO_SESSION | R_LOGIN, ACT_SESSION};
	assert_false(route_table_valid(bad));
	/* More parameters than a request holds; a * before the end; no handler. */
	bad[0] = (struct route){"GET", "/{}/{}/{}/{}/{}", h_a, R_PUBLIC, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/{}/{}/{}/{}", h_a, R_PUBLIC, ACT_ANYONE};
	assert_true(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/{}/{}/{}/{}/*", h_a, R_PUBLIC, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/a/*/b", h_a, R_PUBLIC, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/a/{x}", h_a, R_PUBLIC, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "x", h_a, R_PUBLIC, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"GET", "/x", NULL, R_PUBLIC, ACT_ANYONE};
	assert_false(route_table_valid(bad));
	bad[0] = (struct route){"PUT", "/x", h_a, R_PUBLIC, ACT_ANYONE};
	assert_false(route_table_valid(bad));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_literal), cmocka_unit_test(test_match_params),
	    cmocka_unit_test(test_match_tail),    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_table_valid),   cmocka_unit_test(test_find_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

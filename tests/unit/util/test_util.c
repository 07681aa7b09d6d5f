/*
 * Unit tests of src/util/mem.c, misc.c and config.c: the growable buffer and
 * its HTML escaping, the arena, str_trim with ideographic spaces, dates in
 * China Standard Time, the configuration file, random tokens, SHA-256 and
 * atomic file writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../testdir.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esp/config.h"
#include "esp/tcount.h"
#include "esp/util.h"

/* ---- helpers ------------------------------------------------------------- */

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* ---- buf ------------------------------------------------------------------- */

static void test_buf_put_and_printf_growth(void **state)
{
	(void)state;
	struct buf b = {0};
	buf_puts(&b, "");
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");

	/* Many printf calls, each crossing the capacity now and then. */
	size_t expect_len = 0;
	for (int i = 0; i < 5000; i++) {
		buf_printf(&b, "[%d:%s]", i, i % 7 == 0 ? "seven" : "x");
		expect_len += (size_t)snprintf(NULL, 0, "[%d:%s]", i, i % 7 == 0 ? "seven" : "x");
		assert_int_equal(b.len, expect_len);
		assert_true(b.cap > b.len);
		assert_int_equal(b.data[b.len], '\0');
	}
	assert_int_equal(strlen(b.data), b.len);
	assert_true(strncmp(b.data, "[0:seven][1:x][2:x]", 19) == 0);
	assert_non_null(strstr(b.data, "[4999:x]"));

	/* One printf far larger than the capacity. */
	struct buf big = {0};
	char *chunk = xmalloc(100001);
	memset(chunk, 'z', 100000);
	chunk[100000] = '\0';
	buf_printf(&big, "<%s>", chunk);
	assert_int_equal(big.len, 100002);
	assert_int_equal(big.data[0], '<');
	assert_int_equal(big.data[100001], '>');
	assert_int_equal(big.data[100002], '\0');
	free(chunk);
	buf_free(&big);
	assert_null(big.data);
	assert_int_equal(big.len, 0);

	/* buf_put copies bytes, NULs included; putc appends one. */
	struct buf raw = {0};
	buf_put(&raw, "a\0b", 3);
	buf_putc(&raw, '\0');
	buf_putc(&raw, 'c');
	assert_int_equal(raw.len, 5);
	assert_memory_equal(raw.data, "a\0b\0c", 6);
	buf_free(&raw);

	/* steal hands over the data and leaves an empty buffer */
	char *s = buf_steal(&b);
	assert_int_equal(strlen(s), expect_len);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	free(s);
	/* ... and on an empty buffer gives an empty string to free */
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
	buf_free(&b);
}

static void test_buf_put_html(void **state)
{
	(void)state;
	struct buf b = {0};
	const char *in = "a<b>&\"c'd";
	buf_put_html(&b, in, strlen(in));
	assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;c&#39;d");
	buf_free(&b);

	/* Only n bytes are read. */
	buf_put_html(&b, "<<>>", 2);
	assert_string_equal(b.data, "&lt;&lt;");
	buf_free(&b);

	/* Nothing to escape; empty input. */
	buf_put_html(&b, "交通运输部 plain", strlen("交通运输部 plain"));
	buf_put_html(&b, "", 0);
	assert_string_equal(b.data, "交通运输部 plain");
	buf_free(&b);

	/* Only specials, appended after existing text, long enough to grow. */
	buf_puts(&b, "x");
	struct buf in2 = {0};
	for (int i = 0; i < 2000; i++)
		buf_puts(&in2, "<&>\"'");
	buf_put_html(&b, in2.data, in2.len);
	assert_int_equal(b.len, 1 + 2000 * (4 + 5 + 4 + 6 + 5));
	assert_true(strncmp(b.data, "x&lt;&amp;&gt;&quot;&#39;&lt;", 29) == 0);
	assert_null(strchr(b.data, '<'));
	assert_null(strchr(b.data, '"'));
	assert_null(strchr(b.data, '\''));
	buf_free(&in2);
	buf_free(&b);
}

/* ---- arena ------------------------------------------------------------------- */

/* What the arena's owner hands over is released when the arena is freed,
 * newest first, once each; a NULL is not recorded. */
static int released[4], nreleased;
static void record_release(void *p)
{
	released[nreleased++] = *(int *)p;
}

static void test_arena_defer(void **state)
{
	(void)state;
	static int one = 1, two = 2, three = 3;
	nreleased = 0;
	struct arena *a = arena_new();
	assert_ptr_equal(arena_defer(a, record_release, &one), &one);
	assert_null(arena_defer(a, record_release, NULL));
	arena_defer(a, record_release, &two);
	/* Allocations in between do not disturb the records. */
	for (int i = 0; i < 1000; i++)
		arena_alloc(a, 100);
	arena_defer(a, record_release, &three);
	assert_int_equal(nreleased, 0);
	arena_free(a);
	assert_int_equal(nreleased, 3);
	assert_int_equal(released[0], 3);
	assert_int_equal(released[1], 2);
	assert_int_equal(released[2], 1);
}

static void test_arena_many_allocs(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	enum { N = 20000 };
	unsigned char **ptrs = xcalloc(N, sizeof(*ptrs));
	size_t *sizes = xcalloc(N, sizeof(*sizes));
	for (int i = 0; i < N; i++) {
		sizes[i] = (size_t)(i * 37 % 300) + 1;
		ptrs[i] = arena_alloc(a, sizes[i]);
		assert_non_null(ptrs[i]);
		/* every allocation is aligned for any type */
		assert_int_equal((uintptr_t)ptrs[i] % _Alignof(max_align_t), 0);
		memset(ptrs[i], i & 0xff, sizes[i]);
	}
	/* Nothing overlapped: every block still holds its own pattern. */
	for (int i = 0; i < N; i++)
		for (size_t k = 0; k < sizes[i]; k++)
			if (ptrs[i][k] != (unsigned char)(i & 0xff))
				fail_msg("allocation %d byte %zu overwritten", i, k);
	/* Zero-byte allocations are valid pointers too. */
	assert_non_null(arena_alloc(a, 0));
	free(ptrs);
	free(sizes);
	arena_free(a);
	arena_free(NULL);
}

static void test_arena_big_and_strings(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	char *small = arena_strdup(a, "before");
	/* Bigger than a block: its own block, and the arena goes on working. */
	size_t big = 5u * 1024 * 1024;
	unsigned char *p = arena_alloc(a, big);
	memset(p, 0xab, big);
	assert_int_equal(p[0], 0xab);
	assert_int_equal(p[big - 1], 0xab);
	char *after = arena_strdup(a, "after");
	/* exactly one block's worth, and one byte more */
	memset(arena_alloc(a, 8192), 1, 8192);
	memset(arena_alloc(a, 8193), 2, 8193);
	assert_string_equal(small, "before");
	assert_string_equal(after, "after");

	assert_null(arena_strdup(a, NULL));
	assert_string_equal(arena_strdup(a, ""), "");
	char *part = arena_strndup(a, "交通运输部", 6);
	assert_string_equal(part, "交通");

	char *s = arena_printf(a, "%s-%d-%05.1f", "x", 42, 3.14159);
	assert_string_equal(s, "x-42-003.1");
	/* A long formatted string (larger than a block). */
	char *fill = xmalloc(20001);
	memset(fill, 'q', 20000);
	fill[20000] = '\0';
	char *l = arena_printf(a, "[%s]", fill);
	assert_int_equal(strlen(l), 20002);
	assert_int_equal(l[0], '[');
	assert_int_equal(l[20001], ']');
	free(fill);
	arena_free(a);
}

/* ---- str_trim ------------------------------------------------------------------ */

#define IDSP "\xe3\x80\x80" /* U+3000 IDEOGRAPHIC SPACE */

static void check_trim(const char *in, const char *want)
{
	char *s = xstrdup(in);
	char *r = str_trim(s);
	assert_ptr_equal(r, s);
	if (strcmp(s, want) != 0)
		fail_msg("str_trim(\"%s\") = \"%s\", want \"%s\"", in, s, want);
	free(s);
}

static void test_str_trim(void **state)
{
	(void)state;
	check_trim("", "");
	check_trim("abc", "abc");
	check_trim("  abc  ", "abc");
	check_trim("\t\r\n abc \r\n", "abc");
	check_trim("a b  c", "a b  c");
	check_trim("   ", "");
	check_trim("\n", "");
	/* ideographic spaces, alone and mixed with ASCII */
	check_trim(IDSP "张三" IDSP, "张三");
	check_trim(IDSP IDSP "交通运输部" IDSP IDSP IDSP, "交通运输部");
	check_trim(" " IDSP " \t" IDSP "厦门 市" IDSP " " IDSP "\n", "厦门 市");
	check_trim(IDSP, "");
	check_trim(IDSP " " IDSP, "");
	/* inside, they stay */
	check_trim("中" IDSP "文", "中" IDSP "文");
	/* other characters that end in 0x80 bytes are not spaces:
	 * U+3080 (\xe3\x82\x80 "む") and U+2000 EN QUAD are left alone */
	check_trim("\xe3\x82\x80", "\xe3\x82\x80");
	check_trim("a\xe3\x82\x80", "a\xe3\x82\x80");
	check_trim("\xe2\x80\x80x\xe2\x80\x80", "\xe2\x80\x80x\xe2\x80\x80");
	/* a truncated sequence at either end is not a space and reads no further */
	check_trim("\xe3\x80", "\xe3\x80");
	check_trim("x\xe3", "x\xe3");
	check_trim("\x80\x80", "\x80\x80");
	assert_null(str_trim(NULL));

	assert_true(str_empty(NULL));
	assert_true(str_empty(""));
	assert_false(str_empty(" "));
}

static void test_utf8_valid(void **state)
{
	(void)state;
	const char *good[] = {
	    "",
	    "ascii only, longer than eight bytes",
	    "交通运输部",
	    IDSP,
	    "\xc2\x80",
	    "\xdf\xbf",
	    "\xe0\xa0\x80",
	    "\xed\x9f\xbf" /* U+D7FF */,
	    "\xee\x80\x80" /* U+E000 */,
	    "\xef\xbf\xbf",
	    "\xf0\x90\x80\x80",
	    "\xf4\x8f\xbf\xbf" /* U+10FFFF */,
	    "12345678交12345678",
	    "🚢 ship",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!utf8_valid(good[i], strlen(good[i])))
			fail_msg("utf8_valid rejects good input %zu", i);
	const char *bad[] = {
	    "\x80",
	    "\xbf",
	    "a\xff",
	    "\xc0\x80" /* overlong NUL */,
	    "\xc1\xbf",
	    "\xe0\x80\x80" /* overlong */,
	    "\xed\xa0\x80" /* U+D800 */,
	    "\xed\xbf\xbf",
	    "\xf0\x80\x80\x80",
	    "\xf4\x90\x80\x80" /* U+110000 */,
	    "\xf5\x80\x80\x80",
	    "\xe4\xba" /* truncated */,
	    "abcdefgh\xe4",
	    "\xe4\xbaX",
	    "\xc2",
	    "12345678\x80"
	    "abcdefgh",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (utf8_valid(bad[i], strlen(bad[i])))
			fail_msg("utf8_valid accepts bad input %zu", i);
	/* NUL is a valid character; only n bytes are looked at. */
	assert_true(utf8_valid("a\0b", 3));
	assert_true(utf8_valid("交\xff", 3));
	assert_false(utf8_valid("交\xff", 4));
	/* A sequence cut by n is invalid even when the bytes go on. */
	assert_false(utf8_valid("交", 2));
	assert_true(utf8_valid(NULL, 0));
}

/* ---- time ----------------------------------------------------------------------- */

/* 2024-01-01 00:00 in Beijing is 2023-12-31 16:00 UTC. */
#define NEW_YEAR_2024_CST 1704038400

static void test_time_date(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	assert_string_equal(time_date(a, NEW_YEAR_2024_CST), "2024-01-01");
	assert_string_equal(time_date(a, NEW_YEAR_2024_CST - 1), "2023-12-31");
	assert_string_equal(time_datetime(a, NEW_YEAR_2024_CST - 1), "2023-12-31 23:59");
	assert_string_equal(time_datetime(a, NEW_YEAR_2024_CST + 13 * 3600 + 5 * 60 + 59),
	                    "2024-01-01 13:05");
	/* 16:00 UTC is already the next day in China */
	assert_string_equal(time_date(a, 1718985600 /* 2024-06-21 16:00 UTC */), "2024-06-22");
	assert_string_equal(time_date(a, 1718985599), "2024-06-21");
	/* leap day */
	assert_string_equal(time_date(a, 1709136000 /* 2024-02-28 16:00 UTC */), "2024-02-29");
	/* no time: empty */
	assert_string_equal(time_date(a, 0), "");
	assert_string_equal(time_datetime(a, 0), "");
	assert_string_equal(time_date(a, -5), "");
	arena_free(a);

	assert_true(time_now() > 1700000000);
	int64_t t1 = time_now_us(), t2 = time_now_us();
	assert_true(t2 >= t1);
}

static void test_time_parse_date(void **state)
{
	(void)state;
	assert_int_equal(time_parse_date("2024-01-01"), NEW_YEAR_2024_CST);
	assert_int_equal(time_parse_date("2024-02-29"), 1709136000);
	assert_int_equal(time_parse_date("2000-02-29"), 951753600);
	assert_int_equal(time_parse_date("1970-01-02"), 86400 - 8 * 3600);
	/* round trip over a few years, every day */
	struct arena *a = arena_new();
	for (int64_t t = NEW_YEAR_2024_CST - 800 * 86400LL; t < NEW_YEAR_2024_CST + 800 * 86400LL;
	     t += 86400) {
		const char *d = time_date(a, t);
		assert_int_equal(time_parse_date(d), t);
		/* any time of that day maps to the same date */
		assert_string_equal(time_date(a, t + 86399), d);
	}
	arena_free(a);

	const char *invalid[] = {
	    NULL,
	    "",
	    "2024",
	    "2024-01",
	    "2024-13-01",
	    "2024-00-10",
	    "2024-01-00",
	    "2024-01-32",
	    "2023-02-29",
	    "1900-02-29",
	    "2024-02-30",
	    "2024-04-31",
	    "2024-06-31",
	    "2024-09-31",
	    "2024-11-31",
	    "1969-12-31",
	    "2024-01-01x",
	    "2024-01-01 ",
	    "2024-01-01T00:00",
	    "2024/01/01",
	    "24-01-01",
	    "abcd-ef-gh",
	    "2024-01-01\n",
	    "二〇二四-01-01",
	};
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
		if (time_parse_date(invalid[i]) != -1)
			fail_msg("time_parse_date(\"%s\") = %lld, want -1",
			         invalid[i] ? invalid[i] : "NULL",
			         (long long)time_parse_date(invalid[i]));
}

/* ---- config ---------------------------------------------------------------------- */

static void test_config_defaults_and_set(void **state)
{
	(void)state;
	struct esp_config *c = config_new();
	assert_string_equal(config_get(c, "data_dir"), "var");
	assert_string_equal(config_get(c, "database"), "");
	assert_string_equal(config_get(c, "http_listen"), "127.0.0.1:8080");
	assert_int_equal(config_get_long(c, "threads"), 2);
	assert_int_equal(config_get_long(c, "max_body_bytes"), 12582912);
	assert_false(config_get_bool(c, "staff_password_login"));
	assert_true(config_get_bool(c, "log_requests"));
	assert_string_equal(config_get(c, "password_hash"), "interactive");
	assert_string_equal(config_get(c, "migrations_dir"), ESP_SOURCE_DIR "/src/db/migrations");

	/* set: known keys replace the value, unknown keys are refused */
	assert_int_equal(config_set(c, "threads", "16"), 0);
	assert_int_equal(config_get_long(c, "threads"), 16);
	assert_int_equal(config_set(c, "no_such_key", "1"), -1);
	assert_int_equal(config_set(c, "Threads", "1"), -1);
	assert_int_equal(config_set(c, "", "1"), -1);

	/* command-line arguments: --key=value, the value may hold '=' */
	assert_int_equal(config_set_arg(c, "--threads=8"), 0);
	assert_int_equal(config_get_long(c, "threads"), 8);
	assert_int_equal(config_set_arg(c, "--trusted_proxies=a=b"), 0);
	assert_string_equal(config_get(c, "trusted_proxies"), "a=b");
	assert_int_equal(config_set_arg(c, "--threads"), -1);
	assert_int_equal(config_set_arg(c, "threads=1"), -1);
	assert_int_equal(config_set_arg(c, "-threads=1"), -1);
	assert_int_equal(config_set_arg(c, "--no_such_key=1"), -2);
	assert_int_equal(config_set_arg(c, "--=1"), -2);
	assert_int_equal(config_get_long(c, "threads"), 8);
	const char *truthy[] = {"true", "yes", "1", "on"};
	for (size_t i = 0; i < 4; i++) {
		config_set(c, "staff_password_login", truthy[i]);
		assert_true(config_get_bool(c, "staff_password_login"));
	}
	const char *falsy[] = {"false", "no", "0", "off", "", "TRUE"};
	for (size_t i = 0; i < 6; i++) {
		config_set(c, "staff_password_login", falsy[i]);
		assert_false(config_get_bool(c, "staff_password_login"));
	}

	/* finish: the database defaults to <data_dir>/esp.db, once */
	config_set(c, "data_dir", "/srv/esp");
	config_finish(c);
	assert_string_equal(config_get(c, "database"), "/srv/esp/esp.db");
	config_set(c, "database", "postgresql://esp@db/esp");
	config_finish(c);
	assert_string_equal(config_get(c, "database"), "postgresql://esp@db/esp");

	/* help names every key */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print_help(f);
	fclose(f);
	assert_non_null(strstr(text, "db_connections"));
	assert_non_null(strstr(text, "staff_password_login"));
	free(text);
	config_free(c);
	config_free(NULL);
}

static char *write_temp(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600), 0);
	return path;
}

static void test_config_file(void **state)
{
	(void)state;
	char *dir = test_dir_make("util");
	char *path = write_temp(dir, "esp.conf",
	                        "# ESP configuration\n"
	                        "\n"
	                        "threads = 8\n"
	                        "   database=  /var/lib/esp/esp.db   \n"
	                        "public_url = https://esp.example.cn/?a=b\r\n"
	                        "\t# indented comment\n"
	                        "staff_password_login=yes\n"
	                        "data_dir =\n"
	                        "session_hours = 4"); /* no final newline */
	struct esp_config *c = config_new();
	const char *err = NULL;
	if (config_load_file(c, path, true, &err) != 0)
		fail_msg("config_load_file: %s", err);
	assert_int_equal(config_get_long(c, "threads"), 8);
	assert_string_equal(config_get(c, "database"), "/var/lib/esp/esp.db");
	/* "=" in the value is kept; the CR of a CRLF line is not */
	assert_string_equal(config_get(c, "public_url"), "https://esp.example.cn/?a=b");
	assert_true(config_get_bool(c, "staff_password_login"));
	assert_string_equal(config_get(c, "data_dir"), "");
	/* session_hours is the old name of session_max_hours */
	assert_int_equal(config_get_long(c, "session_max_hours"), 4);
	assert_int_equal(config_get_long(c, "session_idle_minutes"), 30);
	/* untouched keys keep their defaults */
	assert_string_equal(config_get(c, "http_listen"), "127.0.0.1:8080");
	config_free(c);
	free(path);

	/* An unknown key is an error naming file, line and key. */
	path = write_temp(dir, "typo.conf", "threads = 2\nthraeds = 3\n");
	c = config_new();
	err = NULL;
	assert_int_equal(config_load_file(c, path, true, &err), -1);
	assert_non_null(err);
	char *want = xasprintf("%s:2: unknown key 'thraeds'", path);
	assert_string_equal(err, want);
	free(want);
	config_free(c);
	free(path);

	/* A line without "=". */
	path = write_temp(dir, "noeq.conf", "threads 2\n");
	c = config_new();
	err = NULL;
	assert_int_equal(config_load_file(c, path, true, &err), -1);
	assert_non_null(strstr(err, "noeq.conf:1:"));
	assert_non_null(strstr(err, "key = value"));
	config_free(c);
	free(path);

	/* Missing file: fine unless required. */
	c = config_new();
	err = NULL;
	assert_int_equal(config_load_file(c, "/nonexistent/esp.conf", false, &err), 0);
	assert_int_equal(config_load_file(c, "/nonexistent/esp.conf", true, &err), -1);
	assert_non_null(strstr(err, "/nonexistent/esp.conf"));
	/* a second error replaces the first (no leak: checked under ASan) */
	assert_int_equal(config_load_file(c, "/nonexistent/other.conf", true, &err), -1);
	assert_non_null(strstr(err, "other.conf"));
	config_free(c);

	test_dir_remove(dir);
	free(dir);
}

/* Regression: blank lines were skipped when counting, so an error after a
 * blank line named the wrong line. */
static void test_config_line_numbers_count_blank_lines(void **state)
{
	(void)state;
	char *dir = test_dir_make("util");
	char *path = write_temp(dir, "blank.conf", "# header\n\n\nthreads = 2\n\nbogus = 1\n");
	struct esp_config *c = config_new();
	const char *err = NULL;
	assert_int_equal(config_load_file(c, path, true, &err), -1);
	char *want = xasprintf("%s:6: unknown key 'bogus'", path);
	assert_string_equal(err, want);
	free(want);
	config_free(c);
	free(path);
	test_dir_remove(dir);
	free(dir);
}

/* ---- random tokens and SHA-256 ------------------------------------------------------ */

static void check_token_charset(const char *t)
{
	for (const char *p = t; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			fail_msg("token %s holds '%c'", t, *p);
}

static void test_random_token(void **state)
{
	(void)state;
	/* base64url without padding: ceil(4n/3) characters */
	const size_t sizes[] = {1, 2, 3, 16, 24, 32, 48, 64};
	const size_t lens[] = {2, 3, 4, 22, 32, 43, 64, 86};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *t = random_token(sizes[i]);
		assert_int_equal(strlen(t), lens[i]);
		check_token_charset(t);
		free(t);
	}
	/* more than 64 bytes is capped at 64 */
	char *t = random_token(1000);
	assert_int_equal(strlen(t), 86);
	free(t);

	/* 200 tokens of 32 bytes: all different, and every character of the
	 * alphabet shows up (a broken encoder or RNG would not do that). */
	char *seen[200];
	int hist[256] = {0};
	for (int i = 0; i < 200; i++) {
		seen[i] = random_token(32);
		check_token_charset(seen[i]);
		for (const char *p = seen[i]; *p; p++)
			hist[(unsigned char)*p]++;
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
	const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	for (const char *p = alphabet; *p; p++)
		if (hist[(unsigned char)*p] == 0)
			fail_msg("'%c' never appeared in 8600 token characters", *p);
	for (int i = 0; i < 200; i++)
		free(seen[i]);
}

/* Each thread hashes with its own reused context: digests made at once
 * by several threads, over and over, stay each input's own. */
static void *sha256_worker(void *arg)
{
	const char *in = arg;
	char want[65], out[65];
	sha256_hex(in, strlen(in), want);
	for (int i = 0; i < 20000; i++) {
		sha256_hex(in, strlen(in), out);
		if (strcmp(out, want) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_sha256_threads(void **state)
{
	(void)state;
	const char *in[4] = {"abc", "", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	                     "esp_session"};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sha256_worker, (void *)in[i]), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		assert_null(bad);
	}
	char out[65];
	sha256_hex("abc", 3, out);
	assert_string_equal(out,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Per-thread counters: every addition of every thread is in the sum, while
 * the threads run (never going down) and after they end; a thread that ends
 * leaves its counts to the next one that attaches. */
#define TC_ADDS 200000
static struct tcount_set tc_set = TCOUNT_SET(3);
static _Thread_local uint64_t *tc_mine;
static int tc_running;

static void *tc_worker(void *arg)
{
	(void)arg;
	if (!tc_mine)
		tc_mine = tcount_attach(&tc_set);
	for (int i = 0; i < TC_ADDS; i++) {
		tcount_add(&tc_mine[0], 1);
		tcount_add(&tc_mine[2], 3);
	}
	__atomic_sub_fetch(&tc_running, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void tc_run(int n)
{
	pthread_t t[4];
	__atomic_store_n(&tc_running, n, __ATOMIC_RELEASE);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, tc_worker, NULL), 0);
	uint64_t last[3] = {0, 0, 0}, now[3];
	while (__atomic_load_n(&tc_running, __ATOMIC_ACQUIRE) > 0) {
		tcount_sum(&tc_set, now);
		for (int k = 0; k < 3; k++)
			assert_true(now[k] >= last[k]);
		memcpy(last, now, sizeof now);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void test_tcount(void **state)
{
	(void)state;
	uint64_t sum[3];
	tcount_sum(&tc_set, sum);
	assert_true(sum[0] == 0 && sum[1] == 0 && sum[2] == 0);
	tc_run(4);
	tcount_sum(&tc_set, sum);
	assert_true(sum[0] == 4 * (uint64_t)TC_ADDS);
	assert_true(sum[1] == 0);
	assert_true(sum[2] == 12 * (uint64_t)TC_ADDS);
	/* New threads take over the shards of the ended ones: nothing lost. */
	tc_run(2);
	tc_run(3);
	tcount_sum(&tc_set, sum);
	assert_true(sum[0] == 9 * (uint64_t)TC_ADDS);
	assert_true(sum[2] == 27 * (uint64_t)TC_ADDS);
	/* And this thread too. */
	tcount_add(&tcount_attach(&tc_set)[1], 5);
	tcount_sum(&tc_set, sum);
	assert_true(sum[1] == 5);
}

static void test_sha256_hex(void **state)
{
	(void)state;
	char out[65];
	sha256_hex("", 0, out);
	assert_string_equal(out,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, out);
	assert_string_equal(out,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(two, strlen(two), out);
	assert_string_equal(out,
	                    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* NUL bytes count: hashing "a\0b" is not hashing "a" */
	char a[65];
	sha256_hex("a\0b", 3, out);
	sha256_hex("a", 1, a);
	assert_string_not_equal(out, a);
	assert_int_equal(strlen(out), 64);
}

/* ---- files ------------------------------------------------------------------------- */

static void test_file_write_atomic(void **state)
{
	(void)state;
	mode_t old = umask(022);
	char *dir = test_dir_make("util");
	char *path = xasprintf("%s/key.pem", dir);

	/* bytes with NULs, written with the mode asked for */
	unsigned char data[1000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7);
	assert_int_equal(file_write_atomic(path, data, sizeof data, 0600), 0);
	size_t len = 0;
	char *back = file_read_all(path, &len);
	assert_non_null(back);
	assert_int_equal(len, sizeof data);
	assert_memory_equal(back, data, sizeof data);
	assert_int_equal(back[len], '\0');
	free(back);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* replacing an existing file; no temporary file is left behind */
	assert_int_equal(file_write_atomic(path, "new", 3, 0644), 0);
	back = file_read_all(path, NULL);
	assert_string_equal(back, "new");
	free(back);
	assert_int_equal(count_entries(dir), 1);

	/* empty file */
	char *empty = xasprintf("%s/empty", dir);
	assert_int_equal(file_write_atomic(empty, "", 0, 0644), 0);
	back = file_read_all(empty, &len);
	assert_non_null(back);
	assert_int_equal(len, 0);
	assert_string_equal(back, "");
	free(back);
	assert_int_equal(stat(empty, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	free(empty);

	/* a directory that does not exist: failure, nothing created */
	char *bad = xasprintf("%s/no/such/dir/file", dir);
	assert_int_equal(file_write_atomic(bad, "x", 1, 0600), -1);
	free(bad);
	assert_int_equal(count_entries(dir), 2);

	/* reading a missing file */
	errno = 0;
	assert_null(file_read_all("/nonexistent/esp/file", NULL));
	assert_int_equal(errno, ENOENT);

	/* the replacement has exactly the mode asked for, not the old file's */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(file_write_atomic(path, "secret", 6, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* file_read_max: up to max bytes, EFBIG beyond */
	back = file_read_max(path, 6, &len);
	assert_non_null(back);
	assert_int_equal(len, 6);
	assert_string_equal(back, "secret");
	free(back);
	errno = 0;
	assert_null(file_read_max(path, 5, NULL));
	assert_int_equal(errno, EFBIG);

	/* file_read_private: only a regular file of its owner's, not a link */
	back = file_read_private(path, 64, &len);
	assert_non_null(back);
	assert_string_equal(back, "secret");
	free(back);
	assert_int_equal(chmod(path, 0640), 0);
	errno = 0;
	assert_null(file_read_private(path, 64, NULL));
	assert_int_equal(errno, EACCES);
	assert_int_equal(chmod(path, 0600), 0);
	char *link = xasprintf("%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_null(file_read_private(link, 64, NULL));
	back = file_read_max(link, 64, NULL);
	assert_string_equal(back, "secret");
	free(back);
	unlink(link);
	free(link);

	/* file_write_new refuses an existing file and leaves it alone */
	errno = 0;
	assert_int_equal(file_write_new(path, "x", 1, 0600), -1);
	assert_int_equal(errno, EEXIST);
	back = file_read_all(path, NULL);
	assert_string_equal(back, "secret");
	free(back);

	free(path);
	test_dir_remove(dir);
	free(dir);
	umask(old);
}

/* The published FNV-1a 32-bit vectors. */
static void test_str_hash_fnv1a(void **state)
{
	(void)state;
	assert_int_equal(str_hash(""), 0x811c9dc5u);
	assert_int_equal(str_hash("a"), 0xe40c292cu);
	assert_int_equal(str_hash("foobar"), 0xbf9cf968u);
}

/* The published FNV-1a 64-bit vectors (the SQL statement caches' keys). */
static void test_str_hash64_fnv1a(void **state)
{
	(void)state;
	assert_true(str_hash64("") == 0xcbf29ce484222325u);
	assert_true(str_hash64("a") == 0xaf63dc4c8601ec8cu);
	assert_true(str_hash64("foobar") == 0x85944171f73967e8u);
}

/* A big request gets its own block behind the current one: the small
 * requests after it are still carved from the current block. */
static void test_mem_blocks_big_behind(void **state)
{
	(void)state;
	struct mem_blocks m = {0};
	char *a = mem_blocks_alloc(&m, 16, 1024);
	char *big = mem_blocks_alloc(&m, 1100, 1024);
	char *b = mem_blocks_alloc(&m, 16, 1024);
	assert_true(b > a && b < a + 1024); /* same block as a */
	assert_true(big < a || big >= a + 1024);
	assert_int_equal((uintptr_t)big % _Alignof(max_align_t), 0);
	memset(big, 1, 1100);
	mem_blocks_free(&m);
	assert_null(m.head);
	mem_blocks_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_str_hash_fnv1a),
	    cmocka_unit_test(test_str_hash64_fnv1a),
	    cmocka_unit_test(test_mem_blocks_big_behind),
	    cmocka_unit_test(test_buf_put_and_printf_growth),
	    cmocka_unit_test(test_buf_put_html),
	    cmocka_unit_test(test_arena_many_allocs),
	    cmocka_unit_test(test_arena_defer),
	    cmocka_unit_test(test_arena_big_and_strings),
	    cmocka_unit_test(test_str_trim),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_time_date),
	    cmocka_unit_test(test_time_parse_date),
	    cmocka_unit_test(test_config_defaults_and_set),
	    cmocka_unit_test(test_config_file),
	    cmocka_unit_test(test_config_line_numbers_count_blank_lines),
	    cmocka_unit_test(test_random_token),
	    cmocka_unit_test(test_sha256_hex),
	    cmocka_unit_test(test_sha256_threads),
	    cmocka_unit_test(test_tcount),
	    cmocka_unit_test(test_file_write_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

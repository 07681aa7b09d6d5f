/*
 * Unit tests of the reviewers' queues (registration_queue) on both engines:
 * for the whole tree, a province and a city, each state and every state, and
 * offsets from the first page past the last, the page and its total are the
 * ones a plain query finds, whichever way (wide or narrow) the queue takes;
 * queue_counts follows inserts, state changes, moves between authorities and
 * deletes made by plain SQL, as any writer's. The RA's queue (ra_queue) finds
 * by number, name or code through the trigram indexes and row by row alike, a
 * whole number or code by equality,
 * and each application carries its registration's province and kind, and is
 * counted in app_counts, whoever writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "esp/authority.h"
#include "esp/ra.h"
#include "esp/validate.h"
#include "esp/registration.h"
#include "../dbfixture.h"
#include "storetest.h"

struct tree {
	int64_t beijing, fujian, city;
	char *top, *fujian_path, *city_path;
};

static char *path_of(db_conn *c, int64_t id)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(c, "SELECT path FROM authorities WHERE id = $1", &r, P_INT(id)),
	                 DB_OK);
	char *p = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	return p;
}

static void add(db_conn *c, int64_t authority, const char *state, int n, int64_t at)
{
	char code[32];
	snprintf(code, sizeof code, "Q%lld", (long long)n);
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO registrations (kind, state, authority_id, province_code, "
	            "name, code, created_at, updated_at) VALUES ('enterprise', $1, $2, "
	            "'35', $3, $3, $4, $4)",
	            NULL, P_TEXT(state), P_INT(authority), P_TEXT(code), P_INT(at)),
	    DB_OK);
}

/* 北京's provincial authority, 福建's and a city under 福建, with rows in
 * three states; two rows share a creation time so that the id breaks ties. */
static struct tree fill(db_conn *c)
{
	struct tree t = {0};
	assert_int_equal(seed_base(c), DB_OK);
	t.beijing = authority_by_name(c, "北京市交通委员会");
	t.fujian = authority_by_name(c, "福建省交通运输厅");
	assert_int_equal(authority_insert(c, t.fujian, "福州市交通运输局", "35", "city", &t.city),
	                 DB_OK);
	t.top = path_of(c, authority_by_name(c, "交通运输部"));
	t.fujian_path = path_of(c, t.fujian);
	t.city_path = path_of(c, t.city);
	static const char *states[] = {"pending", "approved", "approved", "rejected"};
	int n = 0;
	for (int i = 0; i < 40; i++)
		add(c, t.beijing, states[i % 4], n++, 1000 + i);
	for (int i = 0; i < 12; i++)
		add(c, t.fujian, states[(i + 1) % 4], n++, 1000 + 3 * i);
	for (int i = 0; i < 6; i++)
		add(c, t.city, states[(i + 2) % 4], n++, 1001 + 7 * i);
	add(c, t.city, "pending", n++, 1005); /* the same second as another row */
	return t;
}

static void free_tree(struct tree *t)
{
	free(t->top);
	free(t->fujian_path);
	free(t->city_path);
}

/* The page a plain query finds: "id,id,..." and its total. */
static char *expected(db_conn *c, const char *path, const char *state, int limit, int offset,
                      int64_t *total)
{
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c,
	            "SELECT r.id FROM registrations r JOIN authorities a "
	            "ON a.id = r.authority_id WHERE substr(a.path, 1, length($1)) = $1 "
	            "AND ($2 = '' OR r.state = $2) "
	            "ORDER BY r.created_at DESC, r.id DESC",
	            &r, P_TEXT(path), P_TEXT(state)),
	    DB_OK);
	*total = r->nrows;
	struct buf b = {0};
	buf_puts(&b, "");
	for (int i = offset; i < r->nrows && i < offset + limit; i++)
		buf_printf(&b, "%s,", db_get(r, i, 0));
	db_result_free(r);
	return buf_steal(&b);
}

static void expect_queue(db_conn *c, const char *path, const char *state, int limit, int offset)
{
	int64_t want_total = 0;
	char *want = expected(c, path, state, limit, offset, &want_total);
	struct arena *a = arena_new();
	struct registration_row *rows = NULL;
	size_t n = 0;
	int64_t total = -1;
	assert_int_equal(
	    registration_queue(c, a, path, *state ? state : NULL, limit, offset, &rows, &n, &total),
	    DB_OK);
	struct buf got = {0};
	buf_puts(&got, "");
	for (size_t i = 0; i < n; i++) {
		buf_printf(&got, "%lld,", (long long)rows[i].id);
		assert_non_null(rows[i].authority_name);
		assert_non_null(rows[i].province);
	}
	if (strcmp(got.data, want) != 0 || total != want_total)
		fail_msg("queue %s state '%s' offset %d: got [%s] of %lld, want [%s] of %lld", path,
		         state, offset, got.data, (long long)total, want, (long long)want_total);
	buf_free(&got);
	free(want);
	arena_free(a);
}

static void test_pages_are_the_plain_query_s(void **state)
{
	struct fixture *f = *state;
	struct tree t = fill(f->c);
	const char *paths[] = {t.top, t.fujian_path, t.city_path};
	const char *states[] = {"", "pending", "approved", "rejected"};
	for (size_t p = 0; p < 3; p++)
		for (size_t s = 0; s < 4; s++)
			for (int offset = 0; offset <= 60; offset += 3)
				expect_queue(f->c, paths[p], states[s], 4, offset);
	free_tree(&t);
}

/* expect_queue through registration_queue_marked with marks. */
static void expect_marked(db_conn *c, struct queue_marks *m, const char *path, const char *state,
                          int limit, int offset)
{
	int64_t want_total = 0;
	char *want = expected(c, path, state, limit, offset, &want_total);
	struct arena *a = arena_new();
	struct registration_row *rows = NULL;
	size_t n = 0;
	int64_t total = -1;
	assert_int_equal(registration_queue_marked(c, m, a, path, *state ? state : NULL, limit,
	                                           offset, &rows, &n, &total),
	                 DB_OK);
	struct buf got = {0};
	buf_puts(&got, "");
	for (size_t i = 0; i < n; i++)
		buf_printf(&got, "%lld,", (long long)rows[i].id);
	if (strcmp(got.data, want) != 0 || total != want_total)
		fail_msg(
		    "marked queue %s state '%s' offset %d: got [%s] of %lld, want [%s] of %lld",
		    path, state, offset, got.data, (long long)total, want, (long long)want_total);
	buf_free(&got);
	free(want);
	arena_free(a);
}

/* Every state's pages of the whole tree, deep ones first (so that the kept
 * rows lie below the next pages), then the same again. */
static void expect_marked_pages(db_conn *c, struct queue_marks *m, const char *path)
{
	const char *states[] = {"", "pending", "approved"};
	for (int round = 0; round < 2; round++)
		for (size_t s = 0; s < 3; s++)
			for (int offset = 40; offset >= 4; offset -= 6)
				expect_marked(c, m, path, states[s], 4, offset);
}

/* A page found from a kept row is the plain query's, after new rows on top
 * (one or several between two pages), a state changed, a row inserted below
 * the top or given another creation time, and a delete; and the kept rows
 * were used (new rows on top are what they are for). */
static void test_marked_pages_after_changes(void **state)
{
	struct fixture *f = *state;
	struct tree t = fill(f->c);
	struct queue_marks *m = queue_marks_new();
	registration_queue_marks_from_set(1);
	expect_marked_pages(f->c, m, t.top);
	uint64_t before = registration_queue_marked_pages();
	int n = 100;
	for (int i = 0; i < 5; i++) {
		add(f->c, t.fujian, i % 2 ? "approved" : "pending", n++, 5000 + i);
		if (i == 3)
			add(f->c, t.city, "approved", n++, 5000 + i); /* two at once */
		expect_marked_pages(f->c, m, t.top);
	}
	assert_true(registration_queue_marked_pages() > before + 30);
	/* Rows inserted at the same second as the top one, with a larger id. */
	add(f->c, t.beijing, "approved", n++, 5004);
	expect_marked_pages(f->c, m, t.top);
	/* A change of state, a row inserted in the middle, a created_at moved,
	 * a delete: each walks once, then the kept rows serve again. */
	const char *changes[] = {
	    "UPDATE registrations SET state = 'approved' WHERE id = (SELECT MIN(id) FROM "
	    "registrations WHERE state = 'pending')",
	    "INSERT INTO registrations (kind, state, authority_id, province_code, name, code, "
	    "created_at, updated_at) SELECT 'enterprise', 'approved', authority_id, '35', 'M1', "
	    "'M1', 1010, 1010 FROM registrations WHERE state = 'approved' LIMIT 1",
	    "UPDATE registrations SET created_at = 1002 WHERE id = (SELECT MAX(id) FROM "
	    "registrations WHERE created_at < 1030)",
	    "DELETE FROM registrations WHERE id = (SELECT MIN(id) FROM registrations WHERE "
	    "state = 'approved')",
	};
	for (size_t i = 0; i < sizeof changes / sizeof *changes; i++) {
		assert_int_equal(DB_EXEC0(f->c, changes[i], NULL), DB_OK);
		expect_marked_pages(f->c, m, t.top);
		add(f->c, t.city, "approved", n++, 6000 + (int64_t)i);
		expect_marked_pages(f->c, m, t.top);
	}
	registration_queue_marks_from_set(0);
	queue_marks_free(m);
	free_tree(&t);
}

static int64_t counted(db_conn *c, int64_t authority, const char *state)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(c,
	                         "SELECT COALESCE(SUM(n), 0) FROM queue_counts "
	                         "WHERE authority_id = $1 AND state = $2",
	                         &r, P_INT(authority), P_TEXT(state)),
	                 DB_OK);
	int64_t n = db_get_int(r, 0, 0, -1);
	db_result_free(r);
	return n;
}

static int64_t actual(db_conn *c, int64_t authority, const char *state)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(c,
	                         "SELECT COUNT(*) FROM registrations "
	                         "WHERE authority_id = $1 AND state = $2",
	                         &r, P_INT(authority), P_TEXT(state)),
	                 DB_OK);
	int64_t n = db_get_int(r, 0, 0, -1);
	db_result_free(r);
	return n;
}

static void expect_counts(db_conn *c, const struct tree *t)
{
	const int64_t auth[] = {t->beijing, t->fujian, t->city};
	const char *states[] = {"pending", "approved", "rejected"};
	for (int i = 0; i < 3; i++)
		for (int s = 0; s < 3; s++)
			assert_int_equal(counted(c, auth[i], states[s]),
			                 actual(c, auth[i], states[s]));
}

static void test_counts_follow_every_writer(void **state)
{
	struct fixture *f = *state;
	struct tree t = fill(f->c);
	expect_counts(f->c, &t);
	assert_true(counted(f->c, t.beijing, "pending") == 10);

	assert_int_equal(DB_EXEC(f->c,
	                         "UPDATE registrations SET state = 'approved' "
	                         "WHERE authority_id = $1 AND state = 'pending'",
	                         NULL, P_INT(t.city)),
	                 DB_OK);
	expect_counts(f->c, &t);
	assert_int_equal(counted(f->c, t.city, "pending"), 0);

	assert_int_equal(DB_EXEC(f->c,
	                         "UPDATE registrations SET authority_id = $1 "
	                         "WHERE authority_id = $2 AND state = 'rejected'",
	                         NULL, P_INT(t.city), P_INT(t.beijing)),
	                 DB_OK);
	expect_counts(f->c, &t);
	assert_int_equal(counted(f->c, t.beijing, "rejected"), 0);

	/* A change to another column moves nothing. */
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE registrations SET updated_at = updated_at + 1", NULL), DB_OK);
	expect_counts(f->c, &t);

	assert_int_equal(DB_EXEC(f->c, "DELETE FROM registrations WHERE authority_id = $1", NULL,
	                         P_INT(t.fujian)),
	                 DB_OK);
	expect_counts(f->c, &t);
	expect_queue(f->c, t.top, "", 50, 0);
	expect_queue(f->c, t.fujian_path, "approved", 50, 0);
	free_tree(&t);
}

static int64_t add_application(db_conn *c, int64_t reg, int n, const char *state)
{
	db_result *r = NULL;
	char number[32], idem[32];
	snprintf(number, sizeof number, "ESP-2026-%06d", n);
	snprintf(idem, sizeof idem, "idem-%d", n);
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO applications (number, registration_id, type, state, "
	            "sets, contact_name, mobile, email, address, postcode, price_yuan, "
	            "medium_yuan, years, amount_yuan, idem_key, submitted_at, "
	            "updated_at) VALUES ($1, $2, 'initial', $3, 1, '联系人', "
	            "'13900000000', 'a@example.cn', '地址', '350001', 660, 80, 3, 660, "
	            "$4, $5, $5) RETURNING id",
	            &r, P_TEXT(number), P_INT(reg), P_TEXT(state), P_TEXT(idem), P_INT(2000 + n)),
	    DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

static int64_t registration_named(db_conn *c, int64_t authority, const char *province,
                                  const char *name, const char *code)
{
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO registrations (kind, state, authority_id, province_code, "
	            "name, code, created_at, updated_at) VALUES ('enterprise', "
	            "'approved', $1, $2, $3, $4, 1, 1) RETURNING id",
	            &r, P_INT(authority), P_TEXT(province), P_TEXT(name), P_TEXT(code)),
	    DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

/* The numbers ra_queue finds for q, in its order, against a plain LIKE. */
static void expect_search(db_conn *c, const char *province, const char *q, int want)
{
	struct arena *a = arena_new();
	struct ra_filter f = {.province = province, .q = q, .limit = 50};
	struct ra_queue_item *items = NULL;
	size_t n = 0;
	int64_t total = -1;
	assert_int_equal(ra_queue(c, a, &f, 20, &items, &n, &total), DB_OK);
	if (total != want || (int64_t)n != want)
		fail_msg("search '%s' in %s: %lld found, %zu shown, want %d", q, province,
		         (long long)total, n, want);
	for (size_t i = 0; i < n; i++)
		assert_true(strstr(items[i].number, q) || strstr(items[i].name, q) ||
		            strstr(items[i].code, q));
	arena_free(a);
}

/* A 统一社会信用代码 that validate_uscc accepts, from its first 17 characters. */
static void whole_code(char out[19], const char *first17)
{
	snprintf(out, 19, "%s0", first17);
	for (const char *c = "0123456789ABCDEFGHJKLMNPQRTUWXY"; *c; c++) {
		out[17] = *c;
		if (validate_uscc(out))
			return;
	}
	fail();
}

static void expect_search_whole(db_conn *c, const char *province, const char *q, const char *name)
{
	struct arena *a = arena_new();
	struct ra_filter f = {.province = province, .q = q, .limit = 50};
	struct ra_queue_item *items = NULL;
	size_t n = 0;
	int64_t total = -1;
	assert_int_equal(ra_queue(c, a, &f, 20, &items, &n, &total), DB_OK);
	assert_int_equal(total, 1);
	assert_int_equal(n, 1);
	assert_string_equal(items[0].name, name);
	assert_string_equal(items[0].code, q);
	arena_free(a);
}

static void test_ra_search_and_figures(void **state)
{
	struct fixture *f = *state;
	struct tree t = fill(f->c);
	char code[19], named[64];
	whole_code(code, "91350200MA2XYP001");
	snprintf(named, sizeof named, "旧代码%s的单位", code);
	int64_t whole = registration_named(f->c, t.city, "35", "某某运业", code);
	int64_t holder = registration_named(f->c, t.city, "35", named, "913503000000000004");
	int64_t fz =
	    registration_named(f->c, t.city, "35", "福州港务集团有限公司", "913501000000000001");
	int64_t xm =
	    registration_named(f->c, t.city, "35", "厦门港务运输公司", "913502000000000002");
	int64_t bj =
	    registration_named(f->c, t.beijing, "11", "北京港务运输公司", "911100000000000003");
	int64_t app = add_application(f->c, fz, 1, "submitted");
	add_application(f->c, fz, 2, "paid");
	add_application(f->c, xm, 3, "submitted");
	add_application(f->c, bj, 4, "submitted");
	add_application(f->c, whole, 5, "submitted");
	add_application(f->c, holder, 6, "submitted");

	/* Province and kind were copied from the registration by the store. */
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM applications WHERE province_code = '35' "
	                             "AND kind = 'enterprise'",
	                             NULL),
	                 5);
	/* A whole code is looked up by equality: the unit with it, not the one
	 * whose name quotes it. */
	expect_search_whole(f->c, "35", code, "某某运业");
	expect_search(f->c, "35", "ESP-2026-000005", 1);
	/* Searched through the indexes (three characters or more) and row by
	 * row (shorter, or with LIKE's own characters): the same answers. */
	expect_search(f->c, "35", "港务集团", 2);
	expect_search(f->c, "35", "港务", 3);
	expect_search(f->c, "35", "运输公司", 1);
	expect_search(f->c, "11", "运输公司", 1);
	expect_search(f->c, "35", "ESP-2026-000003", 1);
	expect_search(f->c, "35", "2026-0000", 5);
	expect_search(f->c, "35", "3501000", 2);
	expect_search(f->c, "35", "35_1", 0);
	expect_search(f->c, "35", "100%", 0);

	/* A renamed unit is found by its new name at once. */
	assert_int_equal(DB_EXEC(f->c,
	                         "UPDATE registrations SET name = '福州港口集团' WHERE id = $1",
	                         NULL, P_INT(fz)),
	                 DB_OK);
	expect_search(f->c, "35", "港务集团", 0);
	expect_search(f->c, "35", "港口集团", 2);

	/* The figures follow state changes and deletes. */
	struct ra_stats st;
	struct ra_filter all35 = {.province = "35"};
	assert_int_equal(ra_stats(f->c, &all35, 20, &st), DB_OK);
	assert_int_equal(st.count[APP_SUBMITTED], 4);
	assert_int_equal(st.count[APP_PAID], 1);
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE applications SET state = 'paid' WHERE id = $1", NULL, P_INT(app)),
	    DB_OK);
	assert_int_equal(
	    DB_EXEC(f->c, "DELETE FROM applications WHERE number = 'ESP-2026-000003'", NULL),
	    DB_OK);
	assert_int_equal(ra_stats(f->c, &all35, 20, &st), DB_OK);
	assert_int_equal(st.count[APP_SUBMITTED], 2);
	assert_int_equal(st.count[APP_PAID], 2);
	expect_search(f->c, "35", "厦门港务", 0);
	free_tree(&t);
}

/* One search's queue: its numbers (with "!" after an overdue one) and total. */
static char *queue_of(db_conn *c, const struct ra_filter *f, int64_t *total)
{
	struct arena *a = arena_new();
	struct ra_queue_item *items = NULL;
	size_t n = 0;
	assert_int_equal(ra_queue(c, a, f, 20, &items, &n, total), DB_OK);
	struct buf b = {0};
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s ", items[i].number, items[i].overdue ? "!" : "");
	arena_free(a);
	return buf_steal(&b);
}

/* A search matching more than the bound on what it reads at once is paged in
 * the store instead: for each filter and page, both ways give the same queue
 * (overdue first, then oldest first, the id breaking ties) and total. */
static void test_ra_search_over_the_bound(void **state)
{
	struct fixture *f = *state;
	struct tree t = fill(f->c);
	int64_t reg[3] = {
	    registration_named(f->c, t.city, "35", "泉州港务运输公司", "913505000000000001"),
	    registration_named(f->c, t.city, "35", "漳州港务运输公司", "913506000000000002"),
	    registration_named(f->c, t.city, "35", "莆田港务物流公司", "913503000000000003")};
	const char *states[] = {"submitted", "paid", "ready_to_issue", "issued"};
	for (int i = 0; i < 14; i++)
		add_application(f->c, reg[i % 3], 11 + i, states[i % 4]);
	/* Overdue: ready to issue or issued, paid and with materials long ago;
	 * two submitted at the same moment. */
	assert_int_equal(DB_EXEC0(f->c,
	                          "UPDATE applications SET paid_at = 5, materials_at = 6 "
	                          "WHERE state IN ('ready_to_issue', 'issued') AND id % 2 = 0",
	                          NULL),
	                 DB_OK);
	assert_int_equal(DB_EXEC0(f->c,
	                          "UPDATE applications SET submitted_at = 2030 "
	                          "WHERE number IN ('ESP-2026-000012', 'ESP-2026-000017')",
	                          NULL),
	                 DB_OK);
	const char *texts[] = {"港务", "港务运输", "运输公司", "ESP-2026-000017",
	                       "913505000000000001"};
	const char *filter_states[] = {NULL, "ready_to_issue", "issued"};
	int64_t overdue_seen = 0;
	for (size_t q = 0; q < sizeof texts / sizeof *texts; q++)
		for (size_t s = 0; s < 3; s++)
			for (int overdue = 0; overdue < 2; overdue++)
				for (int offset = 0; offset <= 15; offset += 4)
					for (int limit = 3; limit <= 50; limit += 47) {
						struct ra_filter flt = {.province = "35",
						                        .q = texts[q],
						                        .state = filter_states[s],
						                        .overdue = overdue,
						                        .limit = limit,
						                        .offset = offset};
						int64_t once = -1, paged = -1;
						ra_search_rows_set(0);
						char *a = queue_of(f->c, &flt, &once);
						ra_search_rows_set(2);
						char *b = queue_of(f->c, &flt, &paged);
						ra_search_rows_set(0);
						if (strcmp(a, b) != 0 || once != paged)
							fail_msg(
							    "'%s' state %s overdue %d page %d+%d: "
							    "%lld [%s] read at once, %lld [%s] "
							    "paged",
							    texts[q], filter_states[s], overdue,
							    offset, limit, (long long)once, a,
							    (long long)paged, b);
						if (overdue && offset == 0)
							overdue_seen += once;
						free(a);
						free(b);
					}
	/* The queue's order itself, read at once: overdue first, the tie by id. */
	struct ra_filter all = {.province = "35", .q = "港务", .limit = 50};
	int64_t total = 0;
	char *order = queue_of(f->c, &all, &total);
	assert_int_equal(total, 14);
	assert_true(overdue_seen > 0);
	assert_string_equal(order, "ESP-2026-000014! ESP-2026-000018! ESP-2026-000022! "
	                           "ESP-2026-000011 ESP-2026-000013 ESP-2026-000015 "
	                           "ESP-2026-000016 ESP-2026-000019 ESP-2026-000020 "
	                           "ESP-2026-000021 ESP-2026-000023 ESP-2026-000024 "
	                           "ESP-2026-000012 ESP-2026-000017 ");
	free(order);
	free_tree(&t);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_pages_are_the_plain_query_s, setup, teardown),        \
	    cmocka_unit_test_setup_teardown(test_counts_follow_every_writer, setup, teardown),     \
	    cmocka_unit_test_setup_teardown(test_marked_pages_after_changes, setup, teardown),     \
	    cmocka_unit_test_setup_teardown(test_ra_search_and_figures, setup, teardown),          \
	    cmocka_unit_test_setup_teardown(test_ra_search_over_the_bound, setup, teardown)

STORE_TEST_MAIN("queue", TESTS)

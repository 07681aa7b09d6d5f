/*
 * Unit tests of the notifications and the outbox (src/core/notify.c,
 * src/core/outbox.c) on both engines: who a message goes to, once-only
 * events, and each delivery step's conditions, which are what make a
 * message go at most once (a lease not ours refuses the final "."; a row
 * in doubt is never claimed again; a refused one backs off, then dies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "esp/notify.h"
#include "esp/outbox.h"
#include "../dbfixture.h"
#include "storetest.h"

#define DAY 86400

/* A registration of 北京 with an e-mail (NULL: none), and 北京's RA address. */
static int64_t reg_with_mail(db_conn *c, const char *code, const char *email)
{
	int64_t reg = store_registration(c, "approved", code);
	assert_int_equal(DB_EXEC(c, "UPDATE registrations SET email = $1 WHERE id = $2", NULL,
	                         P_TEXT(email), P_INT(reg)),
	                 DB_OK);
	return reg;
}

static void ra_mail(db_conn *c, const char *email)
{
	assert_int_equal(DB_EXEC(c,
	                         "INSERT INTO ra_directory (province_code, ra_name, email) VALUES "
	                         "('11', '北京注册机构', $1)",
	                         NULL, P_TEXT(email)),
	                 DB_OK);
}

static int64_t rows(db_conn *c, const char *state)
{
	return store_count(c, "SELECT COUNT(*) FROM outbox WHERE state = $1", state);
}

static void test_recipients(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	ra_mail(f->c, "ra@example.cn");
	int64_t reg = reg_with_mail(f->c, "91110000000000001A", "unit@example.cn");
	int64_t bare = reg_with_mail(f->c, "91110000000000002B", NULL);
	/* A registration event: the holder only. */
	assert_int_equal(
	    notify_enqueue(f->c, NOTICE_REG_APPROVED, &(struct notice){.registration_id = reg}),
	    DB_OK);
	/* An application event: the holder and the RA, the reason kept. */
	assert_int_equal(notify_enqueue(f->c, NOTICE_APP_RETURNED,
	                                &(struct notice){.registration_id = reg,
	                                                 .application_number = "ESP-2026-000001",
	                                                 .reason = "未盖公章"}),
	                 DB_OK);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND "
	                             "state = 'pending'",
	                             "unit@example.cn"),
	                 2);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND "
	                             "audience = 'ra' AND kind = 'app_returned'",
	                             "ra@example.cn"),
	                 1);
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM outbox WHERE params LIKE $1", "%未盖公章%"), 2);
	/* No address: a notice only, never sent. */
	assert_int_equal(
	    notify_enqueue(f->c, NOTICE_CERT_REVOKED,
	                   &(struct notice){.registration_id = bare, .cert_serial = "ab"}),
	    DB_OK);
	assert_int_equal(rows(f->c, "no_address"), 1);
	assert_int_equal(notify_enqueue(f->c, NOTICE_REG_APPROVED,
	                                &(struct notice){.registration_id = reg + 1000}),
	                 DB_NOT_FOUND);
	/* The holder's notices: newest first, the RA's copies not among them. */
	struct arena *a = arena_new();
	struct notice_row *list;
	size_t n = 0;
	assert_int_equal(notify_list_for(f->c, a, reg, 10, &list, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].kind, "app_returned");
	assert_string_equal(list[1].kind, "reg_approved");
	assert_string_equal(list[0].state, "pending");
	assert_non_null(strstr(list[0].params, "ESP-2026-000001"));
	arena_free(a);
	/* The unlock approval (emitted by the unlock steps): the holder only. */
	assert_int_equal(
	    notify_enqueue(f->c, NOTICE_UNLOCK_APPROVED,
	                   &(struct notice){.registration_id = reg, .token_serial = "TK-9"}),
	    DB_OK);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM outbox WHERE kind = 'unlock_approved' "
	                             "AND audience = 'holder' AND params LIKE $1",
	                             "%TK-9%"),
	                 1);
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM outbox WHERE kind = 'unlock_approved'", NULL),
	    1);
	assert_int_equal(notice_kind_parse("renewal_window"), NOTICE_RENEWAL_WINDOW);
	assert_int_equal(notice_kind_parse("nope"), -1);
}

static void test_once_key(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	ra_mail(f->c, "ra@example.cn");
	int64_t reg = reg_with_mail(f->c, "91110000000000001A", "unit@example.cn");
	struct notice n = {.registration_id = reg, .application_number = "ESP-1", .once_key = "k1"};
	for (int i = 0; i < 3; i++)
		assert_int_equal(notify_enqueue(f->c, NOTICE_APP_OVERDUE, &n), DB_OK);
	assert_int_equal(store_count(f->c, "SELECT COUNT(*) FROM outbox", NULL), 2);
}

/* One pending message to 'unit@example.cn'. */
static int64_t one_message(db_conn *c)
{
	assert_int_equal(seed_base(c), DB_OK);
	int64_t reg = reg_with_mail(c, "91110000000000001A", "unit@example.cn");
	assert_int_equal(
	    notify_enqueue(c, NOTICE_REG_APPROVED, &(struct notice){.registration_id = reg}),
	    DB_OK);
	return reg;
}

static void test_crash_after_the_dot_is_in_doubt(void **state)
{
	struct fixture *f = *state;
	one_message(f->c);
	int64_t now = time_now();
	struct outbox_msg m = {0};
	assert_int_equal(outbox_claim(f->c, now, 30, "A", &m), DB_OK);
	assert_string_equal(m.recipient, "unit@example.cn");
	assert_string_equal(m.kind, "reg_approved");
	assert_int_equal(m.attempts, 1);
	int64_t id = m.id;
	outbox_msg_clear(&m);
	/* Claimed: nobody else gets it while the lease runs. */
	assert_int_equal(outbox_claim(f->c, now + 10, 30, "B", &m), DB_NOT_FOUND);
	/* Only the lease holder may let the "." go. */
	assert_int_equal(outbox_committing(f->c, id, "B"), DB_CONFLICT);
	assert_int_equal(outbox_committing(f->c, id, "A"), DB_OK);
	/* The worker dies here: while its lease runs nothing happens ... */
	int n = -1;
	assert_int_equal(outbox_expire(f->c, now + 10, &n), DB_OK);
	assert_int_equal(n, 0);
	/* ... then the row is in doubt, and never claimed again. */
	assert_int_equal(outbox_expire(f->c, now + 31, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows(f->c, "in_doubt"), 1);
	assert_int_equal(outbox_claim(f->c, now + 10 * DAY, 30, "C", &m), DB_NOT_FOUND);
	/* The admin decides: delivered. A second decision is refused. */
	struct actor admin = store_admin(f->c);
	assert_int_equal(outbox_delivered(f->c, &admin, id), DB_OK);
	assert_int_equal(rows(f->c, "sent"), 1);
	assert_int_equal(outbox_delivered(f->c, &admin, id), DB_CONFLICT);
	assert_int_equal(outbox_retry(f->c, &admin, id), DB_CONFLICT);
}

static void test_crash_before_the_dot_is_sent_again(void **state)
{
	struct fixture *f = *state;
	one_message(f->c);
	int64_t now = time_now();
	struct outbox_msg m = {0};
	assert_int_equal(outbox_claim(f->c, now, 30, "A", &m), DB_OK);
	int64_t id = m.id;
	outbox_msg_clear(&m);
	/* A dies before the "."; once its lease has run out B claims it. */
	assert_int_equal(outbox_claim(f->c, now + 31, 30, "B", &m), DB_OK);
	assert_int_equal(m.id, id);
	assert_int_equal(m.attempts, 2);
	outbox_msg_clear(&m);
	/* Were A still alive, its "." would be refused. */
	assert_int_equal(outbox_committing(f->c, id, "A"), DB_CONFLICT);
	assert_int_equal(outbox_committing(f->c, id, "B"), DB_OK);
	assert_int_equal(outbox_sent(f->c, id, "B", "250"), DB_OK);
	assert_int_equal(rows(f->c, "sent"), 1);
	assert_int_equal(outbox_sent(f->c, id, "B", "250"), DB_CONFLICT);
}

static void test_failures_back_off_then_die(void **state)
{
	struct fixture *f = *state;
	one_message(f->c);
	int64_t now = time_now();
	struct outbox_msg m = {0};
	assert_int_equal(outbox_claim(f->c, now, 30, "A", &m), DB_OK);
	int64_t id = m.id;
	outbox_msg_clear(&m);
	assert_int_equal(outbox_failed(f->c, id, "A", "SMTP 451", false, 100, 2), DB_OK);
	assert_int_equal(rows(f->c, "pending"), 1);
	assert_int_equal(outbox_claim(f->c, time_now() + 50, 30, "B", &m), DB_NOT_FOUND);
	assert_int_equal(outbox_claim(f->c, time_now() + 101, 30, "B", &m), DB_OK);
	outbox_msg_clear(&m);
	assert_int_equal(outbox_failed(f->c, id, "B", "SMTP 451", false, 100, 2), DB_OK);
	assert_int_equal(rows(f->c, "dead"), 1);
	struct actor admin = store_admin(f->c);
	assert_int_equal(outbox_delivered(f->c, &admin, id), DB_CONFLICT);
	assert_int_equal(outbox_retry(f->c, &admin, id), DB_OK);
	assert_int_equal(outbox_claim(f->c, time_now(), 30, "C", &m), DB_OK);
	assert_int_equal(m.attempts, 1);
	outbox_msg_clear(&m);
	/* A 5xx is permanent at once. */
	assert_int_equal(outbox_failed(f->c, id, "C", "SMTP 550", true, 100, 10), DB_OK);
	assert_int_equal(rows(f->c, "dead"), 1);
	struct outbox_counts counts;
	assert_int_equal(outbox_counts(f->c, &counts), DB_OK);
	assert_int_equal(counts.dead, 1);
	assert_int_equal(counts.pending + counts.sent, 0);
	struct arena *a = arena_new();
	struct outbox_row *rows_of;
	size_t n = 0;
	assert_int_equal(outbox_list(f->c, a, "dead", 10, &rows_of, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows_of[0].id, id);
	assert_string_equal(rows_of[0].last_error, "SMTP 550");
	assert_string_equal(rows_of[0].recipient, "unit@example.cn");
	arena_free(a);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(outbox_backoff(1, 60, 3600), 60);
	assert_int_equal(outbox_backoff(2, 60, 3600), 120);
	assert_int_equal(outbox_backoff(3, 60, 3600), 240);
	assert_int_equal(outbox_backoff(7, 60, 3600), 3600);
	assert_int_equal(outbox_backoff(1000, 60, 3600), 3600);
}

static void store_cert(db_conn *c, int64_t reg, const char *serial, int64_t not_after)
{
	assert_int_equal(
	    DB_EXEC(
	        c,
	        "INSERT INTO certificates (serial, registration_id, token_serial, subject, pem, "
	        "der, not_before, not_after, status, created_at) VALUES ($1, $2, $1, 'CN=x', "
	        "'pem', $3, 0, $4, 'valid', 0)",
	        NULL, P_TEXT(serial), P_INT(reg), P_BLOB("x", 1), P_INT(not_after)),
	    DB_OK);
}

static void test_daily_reminders_once_per_window(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = reg_with_mail(f->c, "91110000000000001A", "unit@example.cn");
	int64_t now = time_now(), exp = now + 100 * DAY;
	store_cert(f->c, reg, "aa01", exp);
	store_cert(f->c, reg, "aa02", now + 3 * DAY); /* first seen inside 7 days */
	int found = 0;
	const char *sql = "SELECT COUNT(*) FROM outbox WHERE kind = 'renewal_window' AND params "
	                  "LIKE $1";
	assert_int_equal(notify_daily(f->c, now, 20, &found), DB_OK);
	assert_int_equal(store_count(f->c, sql, "%aa01%"), 0);
	assert_int_equal(store_count(f->c, sql, "%\"days\":7%"), 1);
	for (int i = 0; i < 2; i++) /* the same day twice: nothing new */
		assert_int_equal(notify_daily(f->c, exp - 59 * DAY, 20, &found), DB_OK);
	assert_int_equal(store_count(f->c, sql, "%aa01%"), 1);
	assert_int_equal(notify_daily(f->c, exp - 30 * DAY, 20, &found), DB_OK);
	assert_int_equal(notify_daily(f->c, exp - 7 * DAY, 20, &found), DB_OK);
	assert_int_equal(notify_daily(f->c, exp - 1 * DAY, 20, &found), DB_OK);
	assert_int_equal(store_count(f->c, sql, "%aa01%"), 3);
	assert_int_equal(store_count(f->c, sql, "%\"days\":30%"), 1);
	/* Revoked or expired: no reminder. */
	assert_int_equal(notify_daily(f->c, exp + DAY, 20, &found), DB_OK);
	assert_int_equal(found, 0);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_recipients, setup, teardown),                         \
	    cmocka_unit_test_setup_teardown(test_once_key, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_crash_after_the_dot_is_in_doubt, setup,           \
	                                    teardown),                                             \
	    cmocka_unit_test_setup_teardown(test_crash_before_the_dot_is_sent_again, setup,        \
	                                    teardown),                                             \
	    cmocka_unit_test_setup_teardown(test_failures_back_off_then_die, setup, teardown),     \
	    cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),                        \
	    cmocka_unit_test_setup_teardown(test_daily_reminders_once_per_window, setup, teardown)

STORE_TEST_MAIN("outbox", TESTS)

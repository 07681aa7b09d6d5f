/*
 * Unit tests of src/core/replace.c (丢失补办, 损坏补办): which certificate
 * each kind may replace, written here from the rules in docs/renewal.md;
 * the application through the core on SQLite and, when ESP_PG_CLUSTER is
 * set, on PostgreSQL: refusals leave nothing behind, one replacement per
 * certificate, the fee of a set (nothing for evaluators), a withdrawn one
 * makes room for another; and the holder's table.  The revocation at
 * issuance needs the CA and is tested in tests/integration/replacement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/application.h"
#include "esp/audit.h"
#include "esp/core.h"
#include "esp/db.h"
#include "esp/fee.h"
#include "esp/replace.h"
#include "esp/util.h"
#include "../dbfixture.h"
#include "appfixture.h"

#define LOST APP_TYPE_REPLACE_LOST
#define DAMAGED APP_TYPE_REPLACE_DAMAGED

/* ---- which certificate, which kind ---------------------------------------- */

static void test_check(void **state)
{
	(void)state;
	const int64_t now = 1000000000, later = now + 86400, earlier = now - 1;
	/* 丢失补办: only after 挂失 (keyCompromise). */
	assert_int_equal(replace_check(LOST, "revoked", 1, later, now), REPLACE_OK);
	assert_int_equal(replace_check(LOST, "valid", 0, later, now), REPLACE_NOT_LOST);
	assert_int_equal(replace_check(LOST, "revoked", 5, later, now), REPLACE_USE_DAMAGED);
	/* 损坏补办: handed in (cessationOfOperation) or still valid on a broken token. */
	assert_int_equal(replace_check(DAMAGED, "revoked", 5, later, now), REPLACE_OK);
	assert_int_equal(replace_check(DAMAGED, "valid", 0, later, now), REPLACE_OK);
	assert_int_equal(replace_check(DAMAGED, "revoked", 1, later, now), REPLACE_USE_LOST);
	/* Superseded (更新), affiliationChanged (信息变更), unspecified: not a replacement. */
	for (int reason = 0; reason <= 10; reason++) {
		if (reason == 1 || reason == 5)
			continue;
		assert_int_equal(replace_check(LOST, "revoked", reason, later, now),
		                 REPLACE_WRONG_REASON);
		assert_int_equal(replace_check(DAMAGED, "revoked", reason, later, now),
		                 REPLACE_WRONG_REASON);
	}
	/* A renewal's certificate not yet on its token is no one's key. */
	assert_int_equal(replace_check(DAMAGED, "pending", 0, later, now), REPLACE_WRONG_REASON);
	/* Expired: apply again instead, whatever happened to the key. */
	assert_int_equal(replace_check(LOST, "revoked", 1, earlier, now), REPLACE_EXPIRED);
	assert_int_equal(replace_check(DAMAGED, "valid", 0, earlier, now), REPLACE_EXPIRED);
	assert_int_equal(replace_check(DAMAGED, "revoked", 5, now, now), REPLACE_OK);
	/* Only the two replacement kinds. */
	assert_int_equal(replace_check(APP_TYPE_INITIAL, "revoked", 1, later, now),
	                 REPLACE_BAD_INPUT);
	assert_int_equal(replace_check(APP_TYPE_RENEWAL, "valid", 0, later, now),
	                 REPLACE_BAD_INPUT);
	assert_int_equal(replace_check(LOST, NULL, 1, later, now), REPLACE_BAD_INPUT);
	/* Every answer has a code, a Chinese message and a status; unknown ones are 500. */
	for (int r = REPLACE_OK; r <= REPLACE_ERROR; r++) {
		assert_true(strlen(replace_result_code((enum replace_result)r)) > 0);
		assert_true(strlen(replace_result_message((enum replace_result)r)) > 0);
		assert_true(replace_result_status((enum replace_result)r) >= 200);
	}
	assert_int_equal(replace_result_status(REPLACE_FORBIDDEN), 403);
	assert_int_equal(replace_result_status(REPLACE_NOT_FOUND), 404);
	assert_int_equal(replace_result_status((enum replace_result)99), 500);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(app_type_name(LOST), "replace_lost");
	assert_string_equal(app_type_name(DAMAGED), "replace_damaged");
	assert_string_equal(app_type_label(LOST), "丢失补办");
	assert_string_equal(app_type_label(DAMAGED), "损坏补办");
	assert_int_equal(app_type_parse("replace_lost"), LOST);
	assert_int_equal(app_type_parse("replace_damaged"), DAMAGED);
	/* They go the way of a new key: no kind fact of their own. */
	assert_int_equal(app_type_facts(LOST), 0);
	assert_int_equal(app_type_facts(DAMAGED), 0);
}

/* ---- through the core, on a store ----------------------------------------- */

static int64_t one_int(db_conn *c, const char *sql, const char *arg)
{
	db_result *r = NULL;
	struct db_param p[] = {P_TEXT(arg)};
	assert_int_equal(db_exec(c, sql, p, arg ? 1 : 0, &r), DB_OK);
	int64_t v = r->nrows ? db_get_int(r, 0, 0, 0) : -1;
	db_result_free(r);
	return v;
}

/* An approved registration of `kind` in 福建, its applicant, an initial
 * application and a certificate of it. */
static struct actor make_holder(db_conn *c, const char *kind, const char *code, const char *serial,
                                const char *status, int reason)
{
	struct actor holder;
	char *idem = xasprintf("idem-%s", serial);
	char *token = xasprintf("TK-%s", serial);
	char *number = fixture_application(c, kind, code, idem, 1, &holder);
	int64_t reg_id = holder.registration_id;
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO certificates (serial, application_id, registration_id, "
	            "token_serial, subject, pem, der, not_before, not_after, status, "
	            "revoke_reason, revoked_at, created_at) VALUES ($1, (SELECT id FROM "
	            "applications WHERE number = $2), $3, $4, 'CN=x', 'pem', $5, 0, $6, $7, $8, "
	            "$9, 0)",
	            NULL, P_TEXT(serial), P_TEXT(number), P_INT(reg_id), P_TEXT(token),
	            P_BLOB("\x30\x00", 2), P_INT(time_now() + 86400 * 365), P_TEXT(status),
	            strcmp(status, "revoked") == 0 ? P_INT(reason) : P_NULL,
	            strcmp(status, "revoked") == 0 ? P_INT(time_now()) : P_NULL),
	    DB_OK);
	free(idem);
	free(token);
	free(number);
	return holder;
}

static int64_t count_replacements(db_conn *c, const char *serial)
{
	return one_int(c, "SELECT COUNT(*) FROM applications WHERE replaces_serial = $1", serial);
}

static void test_apply(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct actor h = make_holder(c, "enterprise", "91350000000000001X", "AA01", "valid", 0);
	struct actor other = make_holder(c, "enterprise", "91350000000000002X", "BB01", "valid", 0);
	char *n = NULL, *again = NULL;

	/* Refusals write nothing. */
	assert_int_equal(replace_apply(c, &h, "AA01", LOST, &n), REPLACE_NOT_LOST);
	assert_null(n);
	assert_int_equal(replace_apply(c, &other, "AA01", DAMAGED, &n), REPLACE_FORBIDDEN);
	assert_int_equal(replace_apply(c, &h, "CC99", DAMAGED, &n), REPLACE_NOT_FOUND);
	assert_int_equal(replace_apply(c, &h, "", DAMAGED, &n), REPLACE_BAD_INPUT);
	assert_int_equal(replace_apply(c, &h, "AA01", APP_TYPE_RENEWAL, &n), REPLACE_BAD_INPUT);
	/* Staff do not apply for a holder. */
	struct actor ra = {.role = ROLE_RA, .username = "fj_ra", .province_code = "35"};
	assert_int_equal(replace_apply(c, &ra, "AA01", DAMAGED, &n), REPLACE_FORBIDDEN);
	assert_null(n);
	assert_int_equal(count_replacements(c, "AA01"), 0);

	/* 损坏补办 of the still-valid certificate: one set at a set's price. */
	assert_int_equal(replace_apply(c, &h, "AA01", DAMAGED, &n), REPLACE_OK);
	assert_non_null(n);
	struct arena *ar = arena_new();
	struct application app;
	assert_int_equal(application_get(c, ar, n, &app), DB_OK);
	assert_int_equal(app.type, DAMAGED);
	assert_int_equal(app.state, APP_SUBMITTED);
	assert_int_equal(app.sets, 1);
	assert_string_equal(app.replaces_serial, "AA01");
	assert_string_equal(app.contact_name, "张三");
	struct fee fee;
	assert_int_equal(fee_current(c, &fee), DB_OK);
	assert_int_equal(app.amount_yuan, fee.price_yuan);
	assert_int_equal(app.medium_yuan, fee.medium_yuan);
	/* The certificate is not touched by applying. */
	assert_int_equal(one_int(c,
	                         "SELECT COUNT(*) FROM certificates WHERE serial = $1 AND "
	                         "status = 'valid'",
	                         "AA01"),
	                 1);

	/* Again, or the other kind: the same application. */
	assert_int_equal(replace_apply(c, &h, "AA01", DAMAGED, &again), REPLACE_EXISTING);
	assert_string_equal(again, n);
	free(again);
	assert_int_equal(replace_apply(c, &h, "AA01", LOST, &again), REPLACE_EXISTING);
	assert_string_equal(again, n);
	free(again);
	assert_int_equal(count_replacements(c, "AA01"), 1);

	/* Withdrawn, it makes room for another. */
	assert_int_equal(application_withdraw(c, &h, n), DB_OK);
	assert_int_equal(replace_apply(c, &h, "AA01", DAMAGED, &again), REPLACE_OK);
	assert_string_not_equal(again, n);
	assert_int_equal(count_replacements(c, "AA01"), 2);
	free(again);
	free(n);
	arena_free(ar);
}

static void test_revoked_and_evaluator(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct actor lost =
	    make_holder(c, "enterprise", "91350000000000003X", "LL01", "revoked", 1);
	struct actor gone =
	    make_holder(c, "enterprise", "91350000000000004X", "SS01", "revoked", 4);
	struct actor eval = make_holder(c, "evaluator", "350102198001010011", "EE01", "revoked", 5);
	char *n = NULL;
	assert_int_equal(replace_apply(c, &lost, "LL01", DAMAGED, &n), REPLACE_USE_LOST);
	assert_int_equal(replace_apply(c, &lost, "LL01", LOST, &n), REPLACE_OK);
	assert_int_equal(one_int(c,
	                         "SELECT COUNT(*) FROM applications WHERE number = $1 AND type = "
	                         "'replace_lost'",
	                         n),
	                 1);
	free(n);
	n = NULL;
	/* Superseded by a renewal: nothing to replace. */
	assert_int_equal(replace_apply(c, &gone, "SS01", LOST, &n), REPLACE_WRONG_REASON);
	assert_int_equal(replace_apply(c, &gone, "SS01", DAMAGED, &n), REPLACE_WRONG_REASON);
	assert_null(n);
	/* An evaluator pays nothing (the training institution). */
	assert_int_equal(replace_apply(c, &eval, "EE01", LOST, &n), REPLACE_USE_DAMAGED);
	assert_int_equal(replace_apply(c, &eval, "EE01", DAMAGED, &n), REPLACE_OK);
	assert_int_equal(one_int(c, "SELECT amount_yuan FROM applications WHERE number = $1", n),
	                 0);
	/* Issuance of a replacement whose old certificate is revoked already
	 * revokes nothing more (the CA is not needed). */
	struct arena *ar = arena_new();
	struct application app;
	assert_int_equal(application_get(c, ar, n, &app), DB_OK);
	assert_int_equal(replace_issued(c, NULL, &eval, &app, 24), DB_OK);
	assert_int_equal(
	    one_int(c, "SELECT revoke_reason FROM certificates WHERE serial = $1", "EE01"), 5);

	/* The holder's table: what each kind answers, and the application. */
	struct replace_row *rows = NULL;
	size_t count = 0;
	assert_int_equal(replace_list(c, ar, eval.registration_id, &rows, &count), DB_OK);
	assert_int_equal(count, 1);
	assert_string_equal(rows[0].serial, "EE01");
	assert_string_equal(rows[0].token_serial, "TK-EE01");
	assert_int_equal(rows[0].lost, REPLACE_USE_DAMAGED);
	assert_int_equal(rows[0].damaged, REPLACE_OK);
	assert_string_equal(rows[0].number, n);
	assert_int_equal(rows[0].type, DAMAGED);
	assert_int_equal(rows[0].state, APP_SUBMITTED);
	assert_int_equal(replace_list(c, ar, gone.registration_id, &rows, &count), DB_OK);
	assert_int_equal(count, 1);
	assert_null(rows[0].number);
	assert_int_equal(rows[0].damaged, REPLACE_WRONG_REASON);
	arena_free(ar);
	free(n);
}

#define ENGINE_TESTS(setup)                                                                        \
	cmocka_unit_test_setup_teardown(test_apply, setup, teardown),                              \
	    cmocka_unit_test_setup_teardown(test_revoked_and_evaluator, setup, teardown)

int main(void)
{
	/* Every application writes an audit entry, which needs the audit key. */
	if (sodium_init() < 0)
		return 1;
	unsigned char key[AUDIT_KEY_BYTES];
	randombytes_buf(key, sizeof key);
	audit_key_set(key, 1);
	const struct CMUnitTest rules[] = {
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_type_names),
	};
	const struct CMUnitTest sqlite_tests[] = {ENGINE_TESTS(setup_sqlite)};
	const struct CMUnitTest pg_tests[] = {ENGINE_TESTS(setup_pg)};
	int failed = cmocka_run_group_tests_name("rules", rules, NULL, NULL);
	failed += cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
	const char *cluster = getenv("ESP_PG_CLUSTER");
	if (cluster && *cluster)
		failed += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
	else
		printf("PostgreSQL tests not run: ESP_PG_CLUSTER is not set\n");
	return failed ? 1 : 0;
}

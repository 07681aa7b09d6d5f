/*
 * Unit tests of the fee schedule (src/core/fee.c) on both engines: the row
 * the first migration makes, rows the admin adds (audited, one in the future
 * not yet in force), the list's order, an empty schedule, and a store that
 * fails answering an error, never an empty list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "esp/fee.h"
#include "../dbfixture.h"
#include "storetest.h"

static void test_initial_row(void **state)
{
	struct fixture *f = *state;
	struct fee cur;
	assert_int_equal(fee_current(f->c, &cur), DB_OK);
	assert_int_equal(cur.price_yuan, 660);
	assert_int_equal(cur.medium_yuan, 80);
	assert_int_equal(cur.years, 3);
	assert_int_equal(cur.valid_from, 0);
	struct arena *a = arena_new();
	struct fee *rows;
	size_t n;
	assert_int_equal(fee_list(f->c, a, &rows, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, cur.id);
	assert_int_equal(rows[0].price_yuan, 660);
	arena_free(a);
}

static void test_add_current_and_list(void **state)
{
	struct fixture *f = *state;
	struct actor admin = store_admin(f->c);
	int64_t now = time_now();
	struct fee in_force = {
	    .price_yuan = 700, .medium_yuan = 90, .years = 2, .valid_from = now - 60};
	struct fee future = {.price_yuan = 800,
	                     .medium_yuan = 100,
	                     .years = 5,
	                     .valid_from = now + 86400,
	                     .renewal_yuan = 350,
	                     .replacement_yuan = 750};
	assert_int_equal(fee_add(f->c, &admin, &in_force), DB_OK);
	assert_int_equal(fee_add(f->c, &admin, &future), DB_OK);

	/* The future row is listed but not in force. */
	struct fee cur;
	assert_int_equal(fee_current(f->c, &cur), DB_OK);
	assert_int_equal(cur.price_yuan, 700);
	assert_int_equal(cur.medium_yuan, 90);
	assert_int_equal(cur.years, 2);
	assert_int_equal(cur.valid_from, now - 60);
	assert_int_equal(cur.renewal_yuan, 0);       /* a row that sets no renewal fee: free */
	assert_int_equal(cur.replacement_yuan, 700); /* none set: the row's price of a set */

	struct arena *a = arena_new();
	struct fee *rows;
	size_t n;
	assert_int_equal(fee_list(f->c, a, &rows, &n), DB_OK);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].price_yuan, 800);
	assert_int_equal(rows[0].years, 5);
	assert_int_equal(rows[0].valid_from, now + 86400);
	assert_int_equal(rows[0].renewal_yuan, 350);
	assert_int_equal(rows[2].renewal_yuan, 300); /* the first row, as migration 012 priced it */
	assert_int_equal(rows[0].replacement_yuan, 750);
	assert_int_equal(rows[2].replacement_yuan, 660); /* before migration 015: a set's price */
	assert_true(rows[0].created_at >= now);
	assert_int_equal(rows[1].price_yuan, 700);
	assert_int_equal(rows[2].price_yuan, 660);
	arena_free(a);

	/* Each addition is audited, with what it set. */
	assert_int_equal(store_count(f->c, "SELECT COUNT(*) FROM audit_log WHERE action = $1",
	                             "fee_schedule.add"),
	                 2);
	assert_int_equal(store_count(f->c, "SELECT COUNT(*) FROM audit_log WHERE after_state = $1",
	                             "800/100/5/350/750"),
	                 1);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM fee_schedule WHERE created_by = "
	                             "(SELECT id FROM accounts WHERE username = $1)",
	                             "admin"),
	                 2);
}

static void test_empty_schedule(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(DB_EXEC0(f->c, "DELETE FROM fee_schedule", NULL), DB_OK);
	struct fee cur;
	assert_int_equal(fee_current(f->c, &cur), DB_NOT_FOUND);
	struct arena *a = arena_new();
	struct fee *rows = (struct fee *)1;
	size_t n = 9;
	assert_int_equal(fee_list(f->c, a, &rows, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_null(rows);
	arena_free(a);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(DB_EXEC0(f->c, "DROP TABLE fee_schedule", NULL), DB_OK);
	struct fee cur;
	assert_int_equal(fee_current(f->c, &cur), DB_ERROR);
	struct arena *a = arena_new();
	struct fee *rows;
	size_t n;
	assert_int_equal(fee_list(f->c, a, &rows, &n), DB_ERROR);
	assert_int_equal(n, 0);
	arena_free(a);
	struct actor admin = store_admin(f->c);
	struct fee x = {.price_yuan = 1, .medium_yuan = 0, .years = 1};
	assert_int_not_equal(fee_add(f->c, &admin, &x), DB_OK);
	/* Nothing audited for a row that was not written. */
	assert_int_equal(store_count(f->c, "SELECT COUNT(*) FROM audit_log WHERE action = $1",
	                             "fee_schedule.add"),
	                 0);
}

static void test_amount(void **state)
{
	(void)state;
	struct fee fee = {.price_yuan = 660, .medium_yuan = 80, .years = 3};
	assert_int_equal(fee_amount(&fee, KIND_ENTERPRISE, 3), 1980);
	assert_int_equal(fee_amount(&fee, KIND_AGENCY, 1), 660);
	assert_int_equal(fee_amount(&fee, KIND_EVALUATOR, 1), 0);
	assert_int_equal(fee_amount(&fee, KIND_ENTERPRISE, 0), 0);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_initial_row, setup, teardown),                        \
	    cmocka_unit_test_setup_teardown(test_add_current_and_list, setup, teardown),           \
	    cmocka_unit_test_setup_teardown(test_empty_schedule, setup, teardown),                 \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown),      \
	    cmocka_unit_test(test_amount)

STORE_TEST_MAIN("fee", TESTS)

/*
 * Unit tests of 信息变更 (src/core/change.c) on both engines: which fields
 * a kind may change and which of them re-issue certificates; validation
 * through the registration's field table (Chinese messages, duplicates,
 * nothing changed); the pending record with old and new values, one open
 * per registration and only for an approved registration; approval that
 * applies the values and makes one free renewal application per valid
 * certificate when the subject changed, none for an address; a return
 * with its reason that changes nothing; each with its mail and audit entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "esp/authority.h"
#include "esp/change.h"
#include "esp/config.h"
#include "../dbfixture.h"
#include "storetest.h"

#define CODE_A "91350100M000100Y43"
#define CODE_B "91350100M000200Y4T"
#define CODE_C "91110000000000003P"

/* ---- the tables ---- */

static void test_fields_per_kind(void **state)
{
	(void)state;
	assert_true(change_field_applies(KIND_ENTERPRISE, "name"));
	assert_true(change_field_applies(KIND_ENTERPRISE, "code"));
	assert_true(change_field_applies(KIND_ENTERPRISE, "address"));
	assert_true(change_field_applies(KIND_ENTERPRISE, "contact_name"));
	assert_true(change_field_applies(KIND_ENTERPRISE, "email"));
	/* Not what a change is for, or not the kind's. */
	assert_false(change_field_applies(KIND_ENTERPRISE, "legal_rep"));
	assert_false(change_field_applies(KIND_ENTERPRISE, "authority_id"));
	assert_false(change_field_applies(KIND_ENTERPRISE, "province_code"));
	assert_false(change_field_applies(KIND_ENTERPRISE, "username"));
	assert_false(change_field_applies(KIND_ENTERPRISE, "work_unit"));
	assert_true(change_field_applies(KIND_EVALUATOR, "work_unit"));
	assert_false(change_field_applies(KIND_EVALUATOR, "contact_name"));
	assert_false(change_field_applies(KIND_EVALUATOR, NULL));
	/* The subject: name and code; an evaluator's work unit too. */
	assert_true(change_field_reissues(KIND_ENTERPRISE, "name"));
	assert_true(change_field_reissues(KIND_ENTERPRISE, "code"));
	assert_false(change_field_reissues(KIND_ENTERPRISE, "address"));
	assert_false(change_field_reissues(KIND_ENTERPRISE, "email"));
	assert_true(change_field_reissues(KIND_EVALUATOR, "work_unit"));
	assert_true(change_kind_needs_scan(KIND_ENTERPRISE));
	assert_true(change_kind_needs_scan(KIND_AGENCY));
	assert_false(change_kind_needs_scan(KIND_EVALUATOR));
	assert_string_equal(change_state_label(change_state_parse("returned")), "已退回");
	assert_int_equal(change_state_parse("nonsense"), CHANGE_STATE_UNKNOWN);
}

/* ---- on a store ---- */

/* An approved enterprise of 北京 with every field, and its account. */
static int64_t approved_enterprise(db_conn *c, const char *code, const char *name)
{
	int64_t auth = authority_by_name(c, "北京市交通委员会");
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(
	        c,
	        "INSERT INTO registrations (kind, state, authority_id, province_code, name, code, "
	        "legal_rep, contact_name, contact_id_number, phone, mobile, email, address, "
	        "postcode, category, created_at, updated_at) VALUES ('enterprise', 'approved', "
	        "$1, '11', $2, $3, '张三', '李四', '11010519491231002X', '010-65290000', "
	        "'13800138000', 'old@example.cn', '北京市东城区旧地址1号', '100010', "
	        "'道路运输-普通货运', $4, $4) RETURNING id",
	        &r, P_INT(auth), P_TEXT(name), P_TEXT(code), P_INT(time_now())),
	    DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	int64_t acc = 0;
	char user[32];
	snprintf(user, sizeof user, "u%lld", (long long)id);
	assert_int_equal(
	    account_create(c, user, "口令口令12345", ROLE_APPLICANT, name, 0, NULL, id, &acc),
	    DB_OK);
	return id;
}

static struct actor holder_of(db_conn *c, int64_t reg)
{
	char q[96];
	snprintf(q, sizeof q, "SELECT id FROM accounts WHERE registration_id = %lld",
	         (long long)reg);
	return (struct actor){.account_id = store_count(c, q, NULL),
	                      .role = ROLE_APPLICANT,
	                      .username = "holder",
	                      .registration_id = reg,
	                      .address = "127.0.0.1"};
}

static struct actor reviewer(db_conn *c)
{
	int64_t id = 0;
	int64_t auth = authority_by_name(c, "北京市交通委员会");
	assert_int_equal(account_create(c, "bjrev", "审核员口令12345", ROLE_REVIEWER, "北京初审员",
	                                auth, NULL, 0, &id),
	                 DB_OK);
	return (struct actor){.account_id = id,
	                      .role = ROLE_REVIEWER,
	                      .username = "bjrev",
	                      .authority_id = auth,
	                      .address = "127.0.0.1"};
}

static const struct esp_limits *limits(void)
{
	static struct esp_limits l;
	l.password_min_length = 8;
	return &l;
}

/* Validates posted against the stored registration reg. */
static void validate(db_conn *c, struct arena *a, int64_t reg, struct registration_input *posted,
                     struct field_errors *e, struct change_diff *d)
{
	struct registration cur;
	assert_int_equal(registration_get(c, a, reg, &cur), DB_OK);
	memset(e, 0, sizeof *e);
	change_validate(c, limits(), &cur, posted, a, e, d);
}

static struct registration_input current(db_conn *c, struct arena *a, int64_t reg)
{
	struct registration cur;
	assert_int_equal(registration_get(c, a, reg, &cur), DB_OK);
	struct registration_input in;
	change_input_from(&cur, &in);
	return in;
}

static void test_validation(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = approved_enterprise(f->c, CODE_A, "甲公司");
	approved_enterprise(f->c, CODE_C, "丙公司");
	struct arena *a = arena_new();
	struct field_errors e;
	struct change_diff d;

	/* Nothing changed: said for the form, not for a field. */
	struct registration_input in = current(f->c, a, reg);
	validate(f->c, a, reg, &in, &e, &d);
	assert_int_equal(d.n, 0);
	assert_non_null(strstr(field_error_of(&e, "_form"), "没有修改任何信息"));

	/* Bad values, each named by its label. */
	in = current(f->c, a, reg);
	in.code = "91350100M000100Y44";
	in.email = "not-an-email";
	in.postcode = "12";
	in.name = "";
	validate(f->c, a, reg, &in, &e, &d);
	assert_string_equal(field_error_of(&e, "code"),
	                    "统一社会信用代码校验错误，请核对后重新输入");
	assert_non_null(strstr(field_error_of(&e, "email"), "电子邮箱格式不正确"));
	assert_string_equal(field_error_of(&e, "postcode"), "邮政编码应为6位数字");
	assert_string_equal(field_error_of(&e, "name"), "单位名称为必填项");
	assert_null(field_error_of(&e, "_form"));

	/* Another registration's code is taken; its own is not. */
	in = current(f->c, a, reg);
	in.code = CODE_C;
	validate(f->c, a, reg, &in, &e, &d);
	assert_string_equal(field_error_of(&e, "code"), "该单位代码已经报名，请勿重复报名");

	/* A name and code change: the diff in form order, re-issuing; the code
	 * normalised as the registration form does; what a change may not
	 * touch (legal_rep) is ignored. */
	in = current(f->c, a, reg);
	in.name = "  甲公司（新）  ";
	in.code = "91350100m000200y4t";
	in.legal_rep = "王五";
	validate(f->c, a, reg, &in, &e, &d);
	assert_int_equal(e.n, 0);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.field[0], "name");
	assert_string_equal(d.old_value[0], "甲公司");
	assert_string_equal(d.new_value[0], "甲公司（新）");
	assert_string_equal(d.field[1], "code");
	assert_string_equal(d.new_value[1], CODE_B);
	assert_true(d.reissue);

	/* An address and contact change re-issues nothing. */
	in = current(f->c, a, reg);
	in.address = "北京市西城区新地址2号";
	in.mobile = "139 0013 9000";
	validate(f->c, a, reg, &in, &e, &d);
	assert_int_equal(e.n, 0);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.field[0], "address");
	assert_string_equal(d.field[1], "mobile");
	assert_string_equal(d.new_value[1], "13900139000");
	assert_false(d.reissue);
	arena_free(a);
}

/* A valid certificate of reg on token tk, from an application of reg. */
static void valid_certificate(db_conn *c, int64_t reg, const char *serial, const char *tk)
{
	char number[32];
	snprintf(number, sizeof number, "ESP-2026-T%s", serial);
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO applications (number, registration_id, type, state, sets, "
	            "contact_name, mobile, email, address, postcode, price_yuan, medium_yuan, "
	            "years, amount_yuan, idem_key, submitted_at, updated_at) VALUES ($1, $2, "
	            "'initial', 'received', 1, '李四', '13800138000', 'old@example.cn', '旧地址', "
	            "'100010', 660, 80, 3, 660, $1, 1, 1) RETURNING id",
	            &r, P_TEXT(number), P_INT(reg)),
	    DB_OK);
	int64_t app = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO certificates (serial, application_id, registration_id, "
	            "token_serial, subject, pem, der, not_before, not_after, status, "
	            "created_at) VALUES ($1, $2, $3, $4, 'CN=甲公司', 'pem', 'der', 1, "
	            "$5, 'valid', 1)",
	            NULL, P_TEXT(serial), P_INT(app), P_INT(reg), P_TEXT(tk),
	            P_INT(time_now() + 1000 * 86400)),
	    DB_OK);
}

static void test_submit_and_approve_reissues(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = approved_enterprise(f->c, CODE_A, "甲公司");
	valid_certificate(f->c, reg, "0A01", "TK1");
	valid_certificate(f->c, reg, "0A02", "TK2");
	struct arena *a = arena_new();
	struct actor h = holder_of(f->c, reg), rv = reviewer(f->c);
	struct field_errors e;
	struct change_diff d;
	struct registration_input in = current(f->c, a, reg);
	in.name = "甲公司（新）";
	in.code = CODE_B;
	validate(f->c, a, reg, &in, &e, &d);
	assert_int_equal(e.n, 0);
	int64_t id = 0;
	assert_int_equal(change_submit(f->c, &h, reg, &d, 0, &id), DB_OK);
	assert_true(id > 0);
	/* One open change per registration. */
	int64_t id2 = 0;
	assert_int_equal(change_submit(f->c, &h, reg, &d, 0, &id2), DB_CONFLICT);
	/* The registration keeps its values until approved. */
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM registrations WHERE name = '甲公司' AND "
	                             "code = $1",
	                             CODE_A),
	                 1);
	struct reg_change ch;
	assert_int_equal(change_get(f->c, a, id, &ch), DB_OK);
	assert_int_equal(ch.state, CHANGE_PENDING);
	assert_int_equal(ch.diff.n, 2);
	assert_string_equal(ch.diff.old_value[1], CODE_A);
	assert_string_equal(ch.diff.new_value[1], CODE_B);
	assert_true(ch.diff.reissue);
	struct change_row *rows;
	size_t n;
	struct registration cur;
	assert_int_equal(registration_get(f->c, a, reg, &cur), DB_OK);
	assert_int_equal(change_queue(f->c, a, cur.authority_path, 10, &rows, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, id);
	/* Another subtree does not see it. */
	assert_int_equal(change_queue(f->c, a, "/999/", 10, &rows, &n), DB_OK);
	assert_int_equal(n, 0);

	int reissued = -1;
	char *blocked = NULL;
	assert_int_equal(change_decide(f->c, &rv, id, true, NULL, &reissued, &blocked), DB_OK);
	assert_null(blocked);
	assert_int_equal(reissued, 2);
	assert_int_equal(
	    store_count(f->c,
	                "SELECT COUNT(*) FROM registrations WHERE name = '甲公司（新）' "
	                "AND code = $1",
	                CODE_B),
	    1);
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM accounts WHERE display_name = '甲公司（新）'",
	                NULL),
	    1);
	/* One free renewal application per valid certificate, ready to issue. */
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM applications WHERE type = 'renewal' AND "
	                             "state = 'ready_to_issue' AND amount_yuan = 0 AND "
	                             "renews_serial IN ('0A01', '0A02') AND change_id IS NOT NULL",
	                             NULL),
	                 2);
	/* The certificates stay valid until each is renewed on its token. */
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM certificates WHERE status = 'valid'", NULL), 2);
	assert_int_equal(
	    store_count(f->c,
	                "SELECT COUNT(*) FROM outbox WHERE kind = 'change_approved' AND "
	                "recipient = 'old@example.cn'",
	                NULL),
	    1);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM audit_log WHERE action = "
	                             "'registration.change.approve'",
	                             NULL),
	                 1);
	/* Decided once. */
	assert_int_equal(change_decide(f->c, &rv, id, false, "再来", &reissued, &blocked),
	                 DB_CONFLICT);
	arena_free(a);
}

static void test_address_only_and_return(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = approved_enterprise(f->c, CODE_A, "甲公司");
	valid_certificate(f->c, reg, "0B01", "TK3");
	struct arena *a = arena_new();
	struct actor h = holder_of(f->c, reg), rv = reviewer(f->c);
	struct field_errors e;
	struct change_diff d;
	struct registration_input in = current(f->c, a, reg);
	in.email = "new@example.cn";
	validate(f->c, a, reg, &in, &e, &d);
	int64_t id = 0;
	assert_int_equal(change_submit(f->c, &h, reg, &d, 0, &id), DB_OK);
	int reissued = -1;
	assert_int_equal(change_decide(f->c, &rv, id, false, "邮箱无法联系", &reissued, NULL),
	                 DB_OK);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM registrations WHERE email = "
	                             "'old@example.cn'",
	                             NULL),
	                 1);
	struct reg_change ch;
	assert_int_equal(change_latest(f->c, a, reg, &ch), DB_OK);
	assert_int_equal(ch.state, CHANGE_RETURNED);
	assert_string_equal(ch.reason, "邮箱无法联系");
	assert_int_equal(
	    store_count(f->c,
	                "SELECT COUNT(*) FROM outbox WHERE kind = 'change_returned' AND "
	                "params LIKE '%邮箱无法联系%'",
	                NULL),
	    1);
	/* Returned, the next change may be submitted; an address-only one
	 * approved touches no certificate. */
	in = current(f->c, a, reg);
	in.address = "北京市西城区新地址2号";
	validate(f->c, a, reg, &in, &e, &d);
	assert_int_equal(change_submit(f->c, &h, reg, &d, 0, &id), DB_OK);
	assert_int_equal(change_decide(f->c, &rv, id, true, NULL, &reissued, NULL), DB_OK);
	assert_int_equal(reissued, 0);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM registrations WHERE address = "
	                             "'北京市西城区新地址2号'",
	                             NULL),
	                 1);
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM applications WHERE change_id IS NOT NULL",
	                NULL),
	    0);
	/* A registration that is not approved has nothing to change. */
	assert_int_equal(DB_EXEC(f->c, "UPDATE registrations SET state = 'rejected' WHERE id = $1",
	                         NULL, P_INT(reg)),
	                 DB_OK);
	assert_int_equal(change_submit(f->c, &h, reg, &d, 0, &id), DB_CONFLICT);
	arena_free(a);
}

/* A renewal the holder applied for before the change: an unpaid one is
 * withdrawn for the free one; a paid one becomes the change's. */
static void renewal_app(db_conn *c, int64_t reg, const char *serial, const char *state)
{
	char number[40];
	snprintf(number, sizeof number, "ESP-2026-R%s", serial);
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO applications (number, registration_id, type, state, sets, "
	            "contact_name, mobile, email, address, postcode, price_yuan, medium_yuan, "
	            "years, amount_yuan, idem_key, submitted_at, updated_at, renews_serial) VALUES "
	            "($1, $2, 'renewal', $3, 1, '李四', '13800138000', 'old@example.cn', '旧地址', "
	            "'100010', 300, 0, 3, 300, $1, 1, 1, $4)",
	            NULL, P_TEXT(number), P_INT(reg), P_TEXT(state), P_TEXT(serial)),
	    DB_OK);
}

static void test_open_renewals_at_approval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = approved_enterprise(f->c, CODE_A, "甲公司");
	valid_certificate(f->c, reg, "0C01", "TK5");
	valid_certificate(f->c, reg, "0C02", "TK6");
	renewal_app(f->c, reg, "0C01", "submitted");
	renewal_app(f->c, reg, "0C02", "ready_to_issue");
	struct arena *a = arena_new();
	struct actor h = holder_of(f->c, reg), rv = reviewer(f->c);
	struct field_errors e;
	struct change_diff d;
	struct registration_input in = current(f->c, a, reg);
	in.code = CODE_B;
	validate(f->c, a, reg, &in, &e, &d);
	int64_t id = 0;
	assert_int_equal(change_submit(f->c, &h, reg, &d, 0, &id), DB_OK);
	int reissued = 0;
	assert_int_equal(change_decide(f->c, &rv, id, true, NULL, &reissued, NULL), DB_OK);
	assert_int_equal(reissued, 2);
	assert_int_equal(
	    store_count(f->c,
	                "SELECT COUNT(*) FROM applications WHERE number = "
	                "'ESP-2026-R0C01' AND state = 'withdrawn' AND change_id IS NULL",
	                NULL),
	    1);
	assert_int_equal(
	    store_count(f->c,
	                "SELECT COUNT(*) FROM applications WHERE renews_serial = '0C01' "
	                "AND state = 'ready_to_issue' AND amount_yuan = 0 AND "
	                "change_id IS NOT NULL",
	                NULL),
	    1);
	/* The paid one is kept (no second application, nothing refunded). */
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM applications WHERE renews_serial = '0C02'",
	                NULL),
	    1);
	assert_int_equal(
	    store_count(f->c,
	                "SELECT COUNT(*) FROM applications WHERE number = "
	                "'ESP-2026-R0C02' AND state = 'ready_to_issue' AND change_id IS "
	                "NOT NULL",
	                NULL),
	    1);
	arena_free(a);
}

/* An approved 主管机关 is a node of the tree: a new name renames the node,
 * and a name another authority has is refused at submission. */
static void test_authority_rename(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t parent = authority_by_name(f->c, "北京市交通委员会");
	int64_t node = 0;
	assert_int_equal(authority_insert(f->c, parent, "某某区交通局", "11", "city", &node),
	                 DB_OK);
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(
	        f->c,
	        "INSERT INTO registrations (kind, state, authority_id, new_authority_id, "
	        "province_code, name, code, legal_rep, contact_name, contact_id_number, phone, "
	        "mobile, email, address, postcode, created_at, updated_at) VALUES ('authority', "
	        "'approved', $1, $2, '11', '某某区交通局', $3, '张三', '李四', "
	        "'11010519491231002X', '010-65290000', '13800138000', 'qu@example.cn', "
	        "'北京市某区1号', '100010', 1, 1) RETURNING id",
	        &r, P_INT(parent), P_INT(node), P_TEXT(CODE_C)),
	    DB_OK);
	int64_t reg = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	int64_t acc = 0;
	assert_int_equal(account_create(f->c, "quju", "口令口令12345", ROLE_APPLICANT,
	                                "某某区交通局", 0, NULL, reg, &acc),
	                 DB_OK);
	struct arena *a = arena_new();
	struct actor h = holder_of(f->c, reg), rv = reviewer(f->c);
	struct field_errors e;
	struct change_diff d;
	/* Its own name, unchanged, is no clash with its own node. */
	struct registration_input in = current(f->c, a, reg);
	in.address = "北京市某区2号";
	validate(f->c, a, reg, &in, &e, &d);
	assert_int_equal(e.n, 0);
	assert_int_equal(d.n, 1);
	/* Another authority's name is refused. */
	in = current(f->c, a, reg);
	in.name = "北京市交通委员会";
	validate(f->c, a, reg, &in, &e, &d);
	assert_non_null(field_error_of(&e, "name"));
	assert_non_null(strstr(field_error_of(&e, "name"), "该主管机关已存在"));
	/* A new name renames the node. */
	in = current(f->c, a, reg);
	in.name = "某某新区交通局";
	validate(f->c, a, reg, &in, &e, &d);
	assert_int_equal(e.n, 0);
	int64_t id = 0;
	assert_int_equal(change_submit(f->c, &h, reg, &d, 0, &id), DB_OK);
	assert_int_equal(change_decide(f->c, &rv, id, true, NULL, NULL, NULL), DB_OK);
	char q[96];
	snprintf(q, sizeof q, "SELECT COUNT(*) FROM authorities WHERE id = %lld AND name = $1",
	         (long long)node);
	assert_int_equal(store_count(f->c, q, "某某新区交通局"), 1);
	arena_free(a);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_validation, setup, teardown),                         \
	    cmocka_unit_test_setup_teardown(test_submit_and_approve_reissues, setup, teardown),    \
	    cmocka_unit_test_setup_teardown(test_address_only_and_return, setup, teardown),        \
	    cmocka_unit_test_setup_teardown(test_open_renewals_at_approval, setup, teardown),      \
	    cmocka_unit_test_setup_teardown(test_authority_rename, setup, teardown)

int main(void)
{
	const struct CMUnitTest table[] = {cmocka_unit_test(test_fields_per_kind)};
	int failed = cmocka_run_group_tests_name("change tables", table, NULL, NULL);
	const struct CMUnitTest sqlite_tests[] = {TESTS(setup_sqlite)};
	const struct CMUnitTest pg_tests[] = {TESTS(setup_pg)};
	failed += store_test_main("change", sqlite_tests, pg_tests,
	                          sizeof sqlite_tests / sizeof sqlite_tests[0]);
	return failed ? 1 : 0;
}

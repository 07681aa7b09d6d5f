/*
 * Unit tests of the applications' lookups the wizard makes
 * (src/core/application.c) on both engines: the open initial application
 * (withdrawn ones and additional applications do not count; the newest live
 * one does), the newest scan on file (DB_NOT_FOUND when there is none), the
 * typed loads (one by number, a registration's list) and the validation's
 * field errors, and a failing store is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "esp/application.h"
#include "esp/upload.h"
#include "../dbfixture.h"
#include "storetest.h"

/* An application row as application_create leaves it (fields the lookups
 * do not read hold fixed dummy values). */
static int64_t store_application(db_conn *c, int64_t reg, const char *number, const char *type,
                                 const char *app_state, int64_t scan)
{
	db_result *r = NULL;
	int64_t now = time_now();
	assert_int_equal(
	    DB_EXEC(
	        c,
	        "INSERT INTO applications (number, registration_id, type, state, sets, "
	        "contact_name, mobile, email, address, postcode, price_yuan, medium_yuan, years, "
	        "amount_yuan, scan_id, idem_key, submitted_at, updated_at) VALUES ($1, $2, $3, $4, "
	        "1, '联系人', '13800000000', 'a@example.com', '地址', '100000', 660, 80, 3, 660, "
	        "$5, "
	        "$1, $6, $6) RETURNING id",
	        &r, P_TEXT(number), P_INT(reg), P_TEXT(type), P_TEXT(app_state),
	        scan ? P_INT(scan) : P_NULL, P_INT(now)),
	    DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

static int64_t store_upload(db_conn *c, int64_t reg)
{
	int64_t id = 0;
	assert_int_equal(upload_store(c, reg, "%PDF-1.4\n", 9, "application/pdf", &id), DB_OK);
	assert_true(id > 0);
	return id;
}

/* The open initial application's number (malloc'ed), NULL when none. */
static char *open_initial(db_conn *c, int64_t reg)
{
	char *number = (char *)"x";
	assert_int_equal(application_open_initial(c, reg, &number), DB_OK);
	return number;
}

static void test_open_initial(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	int64_t other = store_registration(f->c, "approved", "91110000000000002B");
	assert_null(open_initial(f->c, reg));

	/* Withdrawn, additional, or another registration's: none is open. */
	store_application(f->c, reg, "ESP-2026-000001", "initial", "withdrawn", 0);
	store_application(f->c, reg, "ESP-2026-000002", "additional", "submitted", 0);
	store_application(f->c, other, "ESP-2026-000003", "initial", "submitted", 0);
	assert_null(open_initial(f->c, reg));

	store_application(f->c, reg, "ESP-2026-000004", "initial", "paid", 0);
	char *n = open_initial(f->c, reg);
	assert_string_equal(n, "ESP-2026-000004");
	free(n);
	n = open_initial(f->c, other);
	assert_string_equal(n, "ESP-2026-000003");
	free(n);
}

static void test_latest_scan(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	int64_t scan = -1;
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_NOT_FOUND);
	assert_int_equal(scan, 0);
	store_application(f->c, reg, "ESP-2026-000001", "additional", "submitted", 0);
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_NOT_FOUND);

	int64_t first = store_upload(f->c, reg), second = store_upload(f->c, reg);
	store_application(f->c, reg, "ESP-2026-000002", "initial", "received", first);
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_OK);
	assert_int_equal(scan, first);
	/* The newest application with a scan, not the newest upload; one
	 * without a scan after it changes nothing. */
	store_application(f->c, reg, "ESP-2026-000003", "additional", "submitted", second);
	store_application(f->c, reg, "ESP-2026-000004", "additional", "submitted", 0);
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_OK);
	assert_int_equal(scan, second);
}

static void test_get_and_list(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	struct arena *a = arena_new();
	struct application app;
	assert_int_equal(application_get(f->c, a, "ESP-2026-000001", &app), DB_NOT_FOUND);
	/* Too long to be a number: not looked up at all. */
	assert_int_equal(application_get(f->c, a, "ESP-2026-000001-0123456789012345678", &app),
	                 DB_NOT_FOUND);
	assert_int_equal(application_get(f->c, a, NULL, &app), DB_NOT_FOUND);

	int64_t scan = store_upload(f->c, reg);
	int64_t id = store_application(f->c, reg, "ESP-2026-000001", "initial", "paid", scan);
	store_application(f->c, reg, "ESP-2026-000002", "additional", "submitted", 0);
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE applications SET paid_at = 5 WHERE id = $1", NULL, P_INT(id)),
	    DB_OK);
	assert_int_equal(application_get(f->c, a, "ESP-2026-000001", &app), DB_OK);
	assert_true(app.id == id);
	assert_string_equal(app.number, "ESP-2026-000001");
	assert_true(app.registration_id == reg);
	assert_int_equal(app.type, APP_TYPE_INITIAL);
	assert_int_equal(app.state, APP_PAID);
	assert_int_equal(app.sets, 1);
	assert_string_equal(app.contact_name, "联系人");
	assert_null(app.contact_id_number); /* not given: no text, not "" */
	assert_int_equal(app.amount_yuan, 660);
	assert_true(app.scan_id == scan);
	assert_int_equal(app.paid_at, 5);
	assert_int_equal(app.materials_at, 0);
	assert_int_equal(app.kind, KIND_ENTERPRISE);
	assert_string_equal(app.reg_state, "approved");
	assert_string_equal(app.reg_code, "91110000000000001A");
	assert_string_equal(app.province_code, "11");
	assert_string_equal(app.province, "北京市");
	assert_string_equal(app.authority_name, "北京市交通委员会");
	assert_int_equal(application_facts(&app), APP_FACT_PAID);
	struct policy_object o;
	application_policy_object(&app, &o);
	assert_true(o.registration_id == reg);
	assert_string_equal(o.kind, "enterprise");
	assert_string_equal(o.province_code, "11");
	assert_string_equal(o.authority_path, app.authority_path);
	application_policy_object(NULL, &o);
	assert_null(o.kind);

	struct application *list;
	size_t n;
	assert_int_equal(application_list_for(f->c, a, reg, &list, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].number, "ESP-2026-000002"); /* newest first */
	assert_int_equal(list[0].type, APP_TYPE_ADDITIONAL);
	assert_int_equal(list[0].scan_id, 0);
	assert_string_equal(list[1].number, "ESP-2026-000001");
	assert_int_equal(application_list_for(f->c, a, reg + 1000, &list, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	arena_free(a);
}

static const struct esp_limits limits = {.keys_per_application_max = 99};

static void test_validate(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct field_errors e = {0};
	struct application_input in = {.contact_name = "  张三 ",
	                               .contact_id_number = "11010519491231002x",
	                               .mobile = "13800000000",
	                               .phone = "010-65290000",
	                               .email = "a@example.cn",
	                               .address = "北京市",
	                               .postcode = "100000",
	                               .sets = "2",
	                               .invoice_title = "测试企业",
	                               .taxpayer_id = " 91110000000000001h"};
	application_validate(&limits, KIND_AGENCY, &in, a, &e);
	assert_int_equal(e.n, 0);
	/* Trimmed, and the letters of the codes upper case. */
	assert_string_equal(in.contact_name, "张三");
	assert_string_equal(in.contact_id_number, "11010519491231002X");
	assert_string_equal(in.taxpayer_id, "91110000000000001H");

	/* An enterprise must give its taxpayer ID; wrong values name their field. */
	struct application_input bad = {
	    .contact_name = "", .mobile = "123", .email = "x", .postcode = "1", .sets = "100"};
	application_validate(&limits, KIND_ENTERPRISE, &bad, a, &e);
	assert_string_equal(field_error_of(&e, "contact_name"), "此项为必填项");
	assert_string_equal(field_error_of(&e, "taxpayer_id"), "企业用户必须填写纳税人识别号");
	assert_string_equal(field_error_of(&e, "mobile"), "请输入正确的11位手机号码");
	assert_string_equal(field_error_of(&e, "email"), "请输入正确的电子邮箱地址");
	assert_string_equal(field_error_of(&e, "postcode"), "邮政编码应为6位数字");
	assert_string_equal(field_error_of(&e, "sets"), "证书U盘数量应为1-99之间的整数");
	assert_string_equal(field_error_of(&e, "phone"), "此项为必填项"); /* a unit's */
	assert_string_equal(field_error_of(&e, "contact_id_number"), "此项为必填项");
	assert_string_equal(bad.address, ""); /* NULL counts as "" */

	/* An evaluator has no sets to choose: one key. */
	struct field_errors ev = {0};
	struct application_input person = {.contact_name = "李四",
	                                   .mobile = "13800000000",
	                                   .email = "b@example.cn",
	                                   .address = "福州市",
	                                   .postcode = "350000",
	                                   .sets = "7"};
	application_validate(&limits, KIND_EVALUATOR, &person, a, &ev);
	assert_int_equal(ev.n, 0);
	assert_string_equal(person.sets, "1");
	arena_free(a);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(
	    DB_EXEC0(f->c, "ALTER TABLE applications RENAME TO applications_gone", NULL), DB_OK);
	char *number = (char *)"x";
	int64_t id;
	assert_int_equal(application_open_initial(f->c, 1, &number), DB_ERROR);
	assert_null(number);
	assert_int_equal(application_latest_scan(f->c, 1, &id), DB_ERROR);
	/* A store that fails is an error, never "no such application". */
	struct arena *a = arena_new();
	struct application app, *list;
	size_t n;
	assert_int_equal(application_get(f->c, a, "ESP-2026-000001", &app), DB_ERROR);
	assert_int_equal(application_list_for(f->c, a, 1, &list, &n), DB_ERROR);
	assert_int_equal(n, 0);
	arena_free(a);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_open_initial, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_latest_scan, setup, teardown),                    \
	    cmocka_unit_test_setup_teardown(test_get_and_list, setup, teardown),                   \
	    cmocka_unit_test_setup_teardown(test_validate, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("application", TESTS)

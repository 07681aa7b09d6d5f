/* See appfixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "esp/application.h"
#include "esp/registration.h"
#include "esp/util.h"
#include "appfixture.h"

static int64_t count_of(db_conn *c, const char *sql)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC0(c, sql, &r), DB_OK);
	int64_t n = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return n;
}

char *fixture_application(db_conn *c, const char *kind, const char *code, const char *idem,
                          int sets, struct actor *holder)
{
	if (count_of(c, "SELECT COUNT(*) FROM provinces WHERE code = '35'") == 0)
		assert_int_equal(DB_EXEC0(c,
		                          "INSERT INTO provinces (code, name, sort) VALUES ('35', "
		                          "'福建省', 35)",
		                          NULL),
		                 DB_OK);
	if (count_of(c, "SELECT COUNT(*) FROM authorities WHERE province_code = '35'") == 0)
		assert_int_equal(DB_EXEC0(c,
		                          "INSERT INTO authorities (name, province_code, level, "
		                          "path, created_at) VALUES ('福建省交通运输厅', '35', "
		                          "'provincial', '/1/', 0)",
		                          NULL),
		                 DB_OK);
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(c,
	                         "INSERT INTO registrations (kind, state, authority_id, "
	                         "province_code, name, code, created_at, updated_at) VALUES ($1, "
	                         "'approved', (SELECT MIN(id) FROM authorities), '35', '测试企业', "
	                         "$2, 0, 0) RETURNING id",
	                         &r, P_TEXT(kind), P_TEXT(code)),
	                 DB_OK);
	int64_t reg_id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	struct actor applicant = {.role = ROLE_APPLICANT,
	                          .username = "holder",
	                          .registration_id = reg_id,
	                          .session_method = "password"};
	char sets_s[12];
	snprintf(sets_s, sizeof sets_s, "%d", sets);
	const struct application_input in = {.contact_name = "张三",
	                                     .mobile = "13800000000",
	                                     .email = "a@example.cn",
	                                     .address = "福州市",
	                                     .postcode = "350000",
	                                     .sets = sets_s};
	char *number = NULL;
	bool existing = true;
	assert_int_equal(application_create(c, &applicant, reg_id, kind_parse(kind), &in,
	                                    APP_TYPE_INITIAL, 0, idem, &number, &existing),
	                 DB_OK);
	assert_false(existing);
	if (holder)
		*holder = applicant;
	return number;
}

/*
 * Unit tests of render/notice.c: an outbox row's facts as a subject and a
 * body; the subject stays one header line whatever a value holds (a unit
 * name with a line break must not add a header such as Bcc).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "esp/notice.h"
#include "esp/notify.h"

static struct tpl_set *set_of(const char *text)
{
	struct tpl_set *set = NULL;
	char *err = NULL;
	assert_int_equal(tpl_add(&set, "mail_test", text, &err), 0);
	return set;
}

static void test_subject_and_body(void **state)
{
	(void)state;
	struct tpl_set *set = set_of("{{! comment }}\n【系统】{{{name}}}到期 {{{expiry_date}}}\n"
	                             "{{{name}}}：\n\n请登录 {{{site}}}/mgmt & 更新。\n");
	char *subject = NULL, *body = NULL;
	assert_int_equal(notice_render(set, "test", "{\"name\":\"甲单位\",\"not_after\":86400}",
	                               "http://esp.example", &subject, &body),
	                 0);
	assert_string_equal(subject, "【系统】甲单位到期 1970-01-02");
	/* Plain text: nothing escaped. */
	assert_string_equal(body, "甲单位：\n\n请登录 http://esp.example/mgmt & 更新。\n");
	free(subject);
	free(body);
	tpl_free(set);
}

static void test_subject_is_one_line(void **state)
{
	(void)state;
	struct tpl_set *set = set_of("{{{name}}} 的通知\n正文\n");
	char *subject = NULL, *body = NULL;
	assert_int_equal(notice_render(set, "test", "{\"name\":\"甲\\r\\nBcc: x@y\\u0001\"}", NULL,
	                               &subject, &body),
	                 0);
	assert_null(strchr(subject, '\r'));
	assert_null(strchr(subject, '\n'));
	assert_null(strchr(subject, '\1'));
	free(subject);
	free(body);
	tpl_free(set);
}

static void test_unknown_or_bad(void **state)
{
	(void)state;
	struct tpl_set *set = set_of("x\n");
	char *subject = NULL, *body = NULL;
	assert_int_equal(notice_render(set, "nope", "{}", NULL, &subject, &body), -1);
	assert_int_equal(notice_render(set, "test", "[1]", NULL, &subject, &body), -1);
	assert_int_equal(notice_render(set, "test", "not json", NULL, &subject, &body), -1);
	tpl_free(set);
}

/* Every kind of notice has its template in templates/, for the holder and
 * for the RA, and says the facts it was given. */
static void test_every_kind_has_its_template(void **state)
{
	(void)state;
	char *err = NULL;
	struct tpl_set *set = tpl_load_dir(ESP_SOURCE_DIR "/templates", &err);
	assert_non_null(set);
	const char *facts[] = {
	    "{\"name\":\"甲单位\",\"number\":\"ESP-2026-000001\",\"serial\":\"ab12\","
	    "\"token\":\"TK-1\",\"reason\":\"原因甲\",\"days\":30,\"not_after\":1800000000,"
	    "\"detail\":\"顺丰 SF1\",\"ra_name\":\"福建注册机构\"}",
	    "{\"name\":\"甲单位\",\"number\":\"ESP-2026-000001\",\"to_ra\":true,"
	    "\"ra_name\":\"福建注册机构\",\"days\":20}",
	};
	for (int k = 0; k < NOTICE_KIND_COUNT; k++)
		for (size_t i = 0; i < 2; i++) {
			char *subject = NULL, *body = NULL;
			assert_int_equal(notice_render(set, notice_kind_name(k), facts[i],
			                               "http://esp.example", &subject, &body),
			                 0);
			assert_true(strstr(subject, "【交通运输安全管理系统】") == subject);
			assert_true(strlen(body) > 20);
			assert_null(strstr(body, "{{"));
			assert_non_null(strstr(body, "甲单位"));
			/* The RA's copy of an application event is addressed to the RA. */
			if (i && strncmp(notice_kind_name(k), "app_", 4) == 0)
				assert_true(strstr(body, "福建注册机构") == body);
			free(subject);
			free(body);
		}
	tpl_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_subject_and_body),
	    cmocka_unit_test(test_subject_is_one_line),
	    cmocka_unit_test(test_unknown_or_bad),
	    cmocka_unit_test(test_every_kind_has_its_template),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

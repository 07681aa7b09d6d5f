/* Unit tests of src/httpd/form.c: the fields of a posted form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"

static enum form_status add(struct form *f, const char *name, const char *value)
{
	return form_add(f, name, NULL, NULL, value, 0, strlen(value));
}

static void test_nameless_part_refused(void **state)
{
	(void)state;
	struct form f;
	form_init(&f, 10);
	/* libmicrohttpd hands a multipart part without name= over as NULL. */
	assert_int_equal(form_add(&f, NULL, NULL, NULL, "v", 0, 1), FORM_NAMELESS);
	assert_int_equal(form_add(&f, NULL, "a.pdf", "application/pdf", "v", 0, 1), FORM_NAMELESS);
	assert_int_equal(add(&f, "", "v"), FORM_NAMELESS);
	assert_int_equal(f.n, 0);
	form_free(&f);
}

static void test_chunks_and_repeats(void **state)
{
	(void)state;
	struct form f;
	form_init(&f, 10);
	/* One value in three chunks (offsets grow), then a repeated field. */
	assert_int_equal(form_add(&f, "name", NULL, NULL, "张", 0, strlen("张")), FORM_OK);
	assert_int_equal(form_add(&f, "name", NULL, NULL, "三", 3, strlen("三")), FORM_OK);
	assert_int_equal(add(&f, "item", "0"), FORM_OK);
	assert_int_equal(add(&f, "item", "1"), FORM_OK);
	assert_int_equal(form_add(&f, "empty", NULL, NULL, NULL, 0, 0), FORM_OK);
	assert_int_equal(form_add(&f, "scan", "a.pdf", "application/pdf", "%PDF", 0, 4), FORM_OK);
	assert_int_equal(form_add(&f, "scan", "a.pdf", "application/pdf", "-1.4", 4, 4), FORM_OK);
	assert_string_equal(form_find(&f, "name")->value.data, "张三");
	assert_string_equal(form_find(&f, "item")->value.data, "0\n1");
	assert_string_equal(form_find(&f, "empty")->value.data, "");
	assert_string_equal(form_find(&f, "scan")->value.data, "%PDF-1.4");
	assert_string_equal(form_find(&f, "scan")->filename, "a.pdf");
	assert_null(form_find(&f, "absent"));
	/* In the order they came. */
	assert_int_equal(f.n, 4);
	assert_string_equal(f.items[0].name, "name");
	assert_string_equal(f.items[3].name, "scan");
	form_free(&f);
}

static void test_limits(void **state)
{
	(void)state;
	struct form f;
	form_init(&f, 3);
	char longname[FORM_MAX_NAME + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_int_equal(add(&f, longname, "v"), FORM_NAME_TOO_LONG);
	longname[FORM_MAX_NAME] = '\0';
	assert_int_equal(add(&f, longname, "v"), FORM_OK);
	assert_int_equal(add(&f, "b", "v"), FORM_OK);
	assert_int_equal(add(&f, "c", "v"), FORM_OK);
	assert_int_equal(add(&f, "d", "v"), FORM_TOO_MANY);
	/* A field already there still takes more of its value. */
	assert_int_equal(add(&f, "b", "w"), FORM_OK);
	assert_string_equal(form_find(&f, "b")->value.data, "v\nw");
	form_free(&f);
}

/* Many fields: every one is found, through every growth of the table. */
static void test_many_fields(void **state)
{
	(void)state;
	struct form f;
	form_init(&f, 5000);
	char name[32], value[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "f%d", i);
		snprintf(value, sizeof value, "%d", i * 7);
		assert_int_equal(add(&f, name, value), FORM_OK);
	}
	assert_int_equal(add(&f, "one-more", "x"), FORM_TOO_MANY);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "f%d", i);
		snprintf(value, sizeof value, "%d", i * 7);
		const struct form_field *x = form_find(&f, name);
		assert_non_null(x);
		assert_string_equal(x->value.data, value);
	}
	form_free(&f);
	assert_int_equal(f.n, 0);
	assert_null(f.items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nameless_part_refused),
	    cmocka_unit_test(test_chunks_and_repeats),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_many_fields),
	};
	return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}

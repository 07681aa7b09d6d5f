/*
 * Tests of the application form: the PDF (checked with poppler-utils:
 * pdftotext, pdffonts, pdfinfo), the QR code SVG, the JSON for the HTML
 * print view, 金额大写, and rendering from two threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp/appform.h"
#include "esp/qr.h"

#define LONG_ADDRESS                                                                                      \
	"福建省厦门市思明区软件园二期观日路四十四号创新大厦B座十八层1801室" \
	"（邮件请寄交通运输安全生产标准化工作办公室收）"

static const struct appform unit_form = {
    .personal = false,
    .kind = "enterprise",
    .number = "ESP-2026-000123",
    .business_type = "初次办理",
    .date = "2026-01-05",
    .unit_name = "厦门海峡旅游客运有限公司",
    .unit_code = "91350200776049653A",
    .legal_rep = "陈建国",
    .contact_name = "林晓红",
    .contact_id_number = "11010519491231002X",
    .phone = "0592-5551234",
    .mobile = "13912345678",
    .email = "linxiaohong@xmhxky.example.com",
    .address = LONG_ADDRESS,
    .postcode = "361008",
    .keys = 2,
    .invoice_title = "厦门海峡旅游客运有限公司",
    .taxpayer_id = "91350200776049653A",
    .amount_yuan = 1320,
};

static const struct appform person_form = {
    .personal = true,
    .kind = "evaluator",
    .number = "ESP-2026-000777",
    .business_type = "更新",
    .date = "2026-03-15",
    .person_name = "王志强",
    .id_type = "居民身份证",
    .id_number = "440524188001015368",
    .mobile = "13800138000",
    .email = "wzq@example.org",
    .address = LONG_ADDRESS,
    .postcode = "361008",
    .work_unit = "福建省交通运输安全生产考评中心",
    .department = "考评一部",
};

/* ---------------------------------------------------------------- helpers */

/* Output of a shell command (malloc'ed), or NULL. */
static char *run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	size_t n;
	while (out != NULL && (n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2048) {
			cap *= 2;
			char *o = realloc(out, cap);
			if (o == NULL) {
				free(out);
				out = NULL;
			}
			out = o;
		}
	}
	int st = pclose(p);
	if (out == NULL)
		return NULL;
	out[len] = '\0';
	if (st != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Remove all whitespace so that text wrapped across lines matches. */
static void squeeze(char *s)
{
	char *d = s;
	for (; *s; s++)
		if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\f' && *s != '\r')
			*d++ = *s;
	*d = '\0';
}

/* Render f into a new temp file; returns its path (malloc'ed). */
static char *render_to_file(const struct appform *f)
{
	unsigned char *pdf = NULL;
	size_t len = 0;
	assert_int_equal(appform_pdf(f, &pdf, &len), 0);
	assert_non_null(pdf);
	assert_true(len > 1000);
	assert_memory_equal(pdf, "%PDF-", 5);

	char *path = strdup("/tmp/test_appform_XXXXXX.pdf");
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pdf, len), (ssize_t)len);
	close(fd);
	free(pdf);
	return path;
}

static void assert_pdf_fonts_embedded_subset(const char *path)
{
	char *fonts = run("pdffonts '%s'", path);
	assert_non_null(fonts);
	assert_non_null(strstr(fonts, "NotoSansCJK"));
	/* Every font line (after the two header lines) is emb yes, sub yes. */
	int n_fonts = 0;
	char *line = strchr(fonts, '\n');
	line = line ? strchr(line + 1, '\n') : NULL;
	while (line != NULL && line[1] != '\0') {
		line++;
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (line[0] != '\0') {
			n_fonts++;
			if (strstr(line, "NotoSansCJK") == NULL || strstr(line, "yes yes") == NULL)
				fail_msg("font not Noto Sans CJK embedded subset: %s", line);
		}
		line = end;
	}
	assert_true(n_fonts >= 1 && n_fonts <= 2); /* regular + bold at most */
	free(fonts);
}

static void assert_pages(const char *path, int pages)
{
	char *info = run("pdfinfo '%s'", path);
	assert_non_null(info);
	char *p = strstr(info, "Pages:");
	assert_non_null(p);
	assert_int_equal(atoi(p + 6), pages);
	assert_non_null(strstr(info, "595.276 x 841.89")); /* A4 */
	free(info);
}

/* ---------------------------------------------------------------- tests */

static void test_unit_form_pdf(void **state)
{
	(void)state;
	char *path = render_to_file(&unit_form);
	char *text = run("pdftotext -enc UTF-8 '%s' -", path);
	assert_non_null(text);
	assert_non_null(strstr(text, "单位数字证书申请表"));
	assert_non_null(strstr(text, "厦门海峡旅游客运有限公司"));
	assert_non_null(strstr(text, "ESP-2026-000123"));
	assert_non_null(strstr(text, "第一联"));
	assert_non_null(strstr(text, "第二联"));
	assert_non_null(strstr(text, "申请单位公章"));
	squeeze(text);
	assert_non_null(strstr(text, "1320元（大写：壹仟叁佰贰拾元整）"));
	/* The notes list the manual's materials: the stamped code certificate
	 * copy, no ID copy of the contact. */
	assert_non_null(strstr(
	    text,
	    "连同《组织机构代码证（副本）》复印件（加盖公章）一并提交所在省的数字证书注册机构。"));
	assert_null(strstr(text, "身份证复印件"));
	assert_non_null(strstr(text, "本单位承诺所填信息真实有效，并同意遵守数字证书服务协议。"));
	assert_non_null(strstr(text, "受理审批（由数字证书注册机构填写）"));
	/* The long address wraps but is printed in full. */
	assert_non_null(strstr(text, "（邮件请寄交通运输安全生产标准化工作办公室收）"));
	free(text);

	assert_pdf_fonts_embedded_subset(path);
	assert_pages(path, 2);
	unlink(path);
	free(path);
}

static void test_authority_seal(void **state)
{
	(void)state;
	struct appform f = unit_form;
	f.kind = "authority";
	f.unit_name = "福建省交通运输厅";
	char *path = render_to_file(&f);
	char *text = run("pdftotext -enc UTF-8 '%s' -", path);
	assert_non_null(text);
	assert_non_null(strstr(text, "部门章"));
	assert_null(strstr(text, "申请单位公章"));
	/* The manual asks an authority for the form with its 部门章 and nothing
	 * else: no 公章, no licence, no ID copy in the notes. */
	squeeze(text);
	assert_non_null(strstr(
	    text, "请用黑色签字笔签名并加盖部门章后提交所在省的数字证书注册机构，无需其他材料。"));
	assert_null(strstr(text, "公章"));
	assert_null(strstr(text, "身份证复印件"));
	assert_null(strstr(text, "营业执照"));
	free(text);
	unlink(path);
	free(path);
}

static void test_personal_form_pdf(void **state)
{
	(void)state;
	char *path = render_to_file(&person_form);
	char *text = run("pdftotext -enc UTF-8 '%s' -", path);
	assert_non_null(text);
	assert_non_null(strstr(text, "个人数字证书申请表"));
	assert_non_null(strstr(text, "王志强"));
	assert_non_null(strstr(text, "ESP-2026-000777"));
	assert_non_null(strstr(text, "申请人签字"));
	assert_non_null(strstr(text, "所属部门"));
	assert_null(strstr(text, "单位数字证书申请表"));
	/* The first copy goes to the training institution, not the RA; the
	 * phone printed is the mobile, named as such. */
	assert_non_null(strstr(text, "培训机构留存"));
	assert_null(strstr(text, "注册机构留存"));
	assert_non_null(strstr(text, "手机号码"));
	assert_null(strstr(text, "联系电话"));
	free(text);
	assert_pdf_fonts_embedded_subset(path);
	assert_pages(path, 2);
	unlink(path);
	free(path);
}

/* Characters beyond GB 2312 (rare hanzi in names are common enough) are
 * printed too: such a form is drawn with the system's full fonts. */
static void test_rare_characters(void **state)
{
	(void)state;
	struct appform f = unit_form;
	f.legal_rep = "王喆堃";
	f.contact_name = "李赟";
	char *path = render_to_file(&f);
	char *text = run("pdftotext -enc UTF-8 '%s' -", path);
	assert_non_null(text);
	assert_non_null(strstr(text, "王喆堃"));
	assert_non_null(strstr(text, "李赟"));
	assert_non_null(strstr(text, "厦门海峡旅游客运有限公司"));
	free(text);
	assert_pdf_fonts_embedded_subset(path);
	assert_pages(path, 2);
	unlink(path);
	free(path);
}

/* Absurdly long values and invalid UTF-8 must neither fail nor overflow a page. */
static void test_extreme_values(void **state)
{
	(void)state;
	char big[8192];
	size_t n = 0;
	while (n + sizeof("很长的地址") < sizeof(big)) {
		memcpy(big + n, "很长的地址", sizeof("很长的地址") - 1);
		n += sizeof("很长的地址") - 1;
	}
	big[n] = '\0';
	struct appform f = unit_form;
	f.address = big;
	f.unit_name = big;
	f.invoice_title = big;
	f.email = "averyveryveryveryveryveryveryveryveryveryverylongemailaddress@example.com";
	f.legal_rep = "\xff\xfe bad utf-8 \xc3";
	f.number = NULL;
	f.date = NULL;
	char *path = render_to_file(&f);
	assert_pages(path, 2);
	unlink(path);
	free(path);
}

static void test_qr_svg(void **state)
{
	(void)state;
	char *svg = qr_svg("ESP-2026-000123", 4);
	assert_non_null(svg);
	assert_int_equal(strncmp(svg, "<svg", 4), 0);
	size_t len = strlen(svg);
	assert_string_equal(svg + len - 6, "</svg>");
	/* Exactly one path, with many subpaths (one per run of dark modules). */
	char *d = strstr(svg, " d=\"");
	assert_non_null(d);
	assert_null(strstr(d + 1, "<path"));
	int segments = 0;
	for (char *p = d + 4; *p && *p != '"'; p++)
		segments += *p == 'M';
	assert_true(segments > 20);
	int w = 0;
	unsigned char *m = qr_matrix("ESP-2026-000123", &w);
	assert_non_null(m);
	assert_true(w >= 21 && (w - 17) % 4 == 0); /* a QR version's size */
	/* The quiet zone of 4 modules on each side, 4 px per module. */
	char expect[64];
	snprintf(expect, sizeof(expect), "viewBox=\"0 0 %d %d\"", w + 8, w + 8);
	assert_non_null(strstr(svg, expect));
	snprintf(expect, sizeof(expect), "width=\"%d\"", (w + 8) * 4);
	assert_non_null(strstr(svg, expect));
	free(svg);
	/* Finder pattern: top-left 7×7 has a dark border. */
	for (int i = 0; i < 7; i++) {
		assert_int_equal(m[i], 1);
		assert_int_equal(m[i * w], 1);
	}
	assert_int_equal(m[1 * w + 1], 0);
	free(m);

	assert_null(qr_svg("", 4));
	assert_null(qr_svg(NULL, 4));
}

static void test_to_json(void **state)
{
	(void)state;
	json_t *j = appform_to_json(&unit_form);
	assert_non_null(j);
	const char *keys[] = {
	    "personal",   "kind",          "number",        "business_type", "date",
	    "unit_name",  "unit_code",     "legal_rep",     "contact_name",  "contact_id_number",
	    "phone",      "mobile",        "email",         "address",       "postcode",
	    "keys",       "invoice_title", "taxpayer_id",   "person_name",   "id_type",
	    "id_number",  "work_unit",     "department",    "amount_yuan",   "title",
	    "seal_label", "qr_svg",        "business_types"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(j, keys[i]) == NULL)
			fail_msg("missing key %s", keys[i]);
	assert_string_equal(json_string_value(json_object_get(j, "title")), "单位数字证书申请表");
	assert_string_equal(json_string_value(json_object_get(j, "seal_label")), "申请单位公章");
	assert_string_equal(json_string_value(json_object_get(j, "unit_name")),
	                    "厦门海峡旅游客运有限公司");
	assert_true(json_is_integer(json_object_get(j, "keys")));
	assert_int_equal(json_integer_value(json_object_get(j, "keys")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "amount_yuan")), 1320);
	assert_string_equal(json_string_value(json_object_get(j, "person_name")), "");
	assert_int_equal(strncmp(json_string_value(json_object_get(j, "qr_svg")), "<svg", 4), 0);

	json_t *types = json_object_get(j, "business_types");
	assert_true(json_is_array(types));
	assert_int_equal(json_array_size(types), 8);
	int checked = 0;
	size_t i;
	json_t *t;
	json_array_foreach(types, i, t)
	{
		assert_true(json_is_string(json_object_get(t, "name")));
		assert_true(json_is_boolean(json_object_get(t, "checked")));
		if (json_is_true(json_object_get(t, "checked"))) {
			checked++;
			assert_string_equal(json_string_value(json_object_get(t, "name")),
			                    "初次办理");
		}
	}
	assert_int_equal(checked, 1);
	assert_int_equal(json_array_size(json_object_get(j, "copies")), 2);
	json_decref(j);

	struct appform a = unit_form;
	a.kind = "authority";
	j = appform_to_json(&a);
	assert_string_equal(json_string_value(json_object_get(j, "seal_label")), "部门章");
	json_decref(j);

	j = appform_to_json(&person_form);
	assert_true(json_is_true(json_object_get(j, "personal")));
	assert_string_equal(json_string_value(json_object_get(j, "title")), "个人数字证书申请表");
	assert_string_equal(json_string_value(json_object_get(j, "seal_label")), "本人签字");
	json_decref(j);
}

static void test_amount_upper(void **state)
{
	(void)state;
	static const struct {
		long v;
		const char *s;
	} cases[] = {
	    {0, "零元整"},
	    {660, "陆佰陆拾元整"},
	    {1320, "壹仟叁佰贰拾元整"},
	    {1001, "壹仟零壹元整"},
	    {10000, "壹万元整"},
	    {100005, "壹拾万零伍元整"},
	    {10010000, "壹仟零壹万元整"},
	    {100000000, "壹亿元整"},
	    {100200300, "壹亿零贰拾万零叁佰元整"},
	    {-80, "负捌拾元整"},
	};
	char buf[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(appform_amount_upper(cases[i].v, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].s);
	}
	assert_int_equal(appform_amount_upper(1320, buf, 4), -1);
}

struct thread_job {
	struct appform form;
	char name[64];
	int failures;
};

static void *render_many(void *arg)
{
	struct thread_job *job = arg;
	for (int i = 0; i < 6; i++) {
		unsigned char *pdf = NULL;
		size_t len = 0;
		if (appform_pdf(&job->form, &pdf, &len) != 0 || len < 1000 ||
		    memcmp(pdf, "%PDF-", 5) != 0)
			job->failures++;
		if (i == 5 && pdf != NULL) { /* keep the last one to check its text */
			char path[] = "/tmp/test_appform_thr_XXXXXX.pdf";
			int fd = mkstemps(path, 4);
			if (fd < 0 || write(fd, pdf, len) != (ssize_t)len) {
				job->failures++;
			} else {
				char *text = run("pdftotext -enc UTF-8 '%s' -", path);
				if (text == NULL || strstr(text, job->name) == NULL)
					job->failures++;
				free(text);
			}
			if (fd >= 0)
				close(fd);
			unlink(path);
		}
		free(pdf);
	}
	return NULL;
}

static void test_two_threads(void **state)
{
	(void)state;
	struct thread_job jobs[2];
	jobs[0] = (struct thread_job){.form = unit_form, .name = "第一线程运输公司"};
	jobs[0].form.unit_name = jobs[0].name;
	jobs[1] = (struct thread_job){.form = person_form, .name = "第二线程考评员"};
	jobs[1].form.person_name = jobs[1].name;
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, render_many, &jobs[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(jobs[0].failures, 0);
	assert_int_equal(jobs[1].failures, 0);
}

static int setup(void **state)
{
	(void)state;
	appform_init();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unit_form_pdf),     cmocka_unit_test(test_authority_seal),
	    cmocka_unit_test(test_personal_form_pdf), cmocka_unit_test(test_rare_characters),
	    cmocka_unit_test(test_extreme_values),    cmocka_unit_test(test_qr_svg),
	    cmocka_unit_test(test_to_json),           cmocka_unit_test(test_amount_upper),
	    cmocka_unit_test(test_two_threads),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

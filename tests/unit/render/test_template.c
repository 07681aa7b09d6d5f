/*
 * Unit tests of src/render/template.c, the mustache-like engine every page
 * goes through: escaping, raw values, numbers, dotted names, sections,
 * inverted sections, context lookup, partials (also ones that include
 * themselves), comments, parse errors with template name and line, the
 * limits on nesting and on rendering work, loading a directory, and 2000
 * pseudo-random templates through the fuzz target (tests/fuzz/fuzz_template.c)
 * so that every run under ASan fuzzes a little.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../testdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esp/template.h"
#include "esp/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- helpers ------------------------------------------------------------ */

static json_t *ctx_of(const char *json)
{
	json_error_t jerr;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (!v)
		fail_msg("bad JSON in test: %s: %s", json, jerr.text);
	return v;
}

/* Parses text as "t" and renders it against the JSON context; caller frees. */
static char *render_json(const char *text, const char *json)
{
	struct tpl_set *s = NULL;
	char *err = NULL;
	if (tpl_add(&s, "t", text, &err) != 0)
		fail_msg("template %s did not parse: %s", text, err);
	json_t *ctx = ctx_of(json);
	struct buf out = {0};
	assert_int_equal(tpl_render(s, "t", ctx, &out), 0);
	json_decref(ctx);
	tpl_free(s);
	return buf_steal(&out);
}

#define assert_renders(text, json, want)                                                           \
	do {                                                                                       \
		char *got_ = render_json((text), (json));                                          \
		if (strcmp(got_, (want)) != 0)                                                     \
			print_error("template: %s\ncontext:  %s\nwant:     %s\ngot:      %s\n",    \
			            (text), (json), (want), got_);                                 \
		assert_string_equal(got_, (want));                                                 \
		free(got_);                                                                        \
	} while (0)

/* Expects text to fail parsing with an error that contains every needle. */
static void assert_parse_error(const char *name, const char *text, const char *needle1,
                               const char *needle2)
{
	struct tpl_set *s = NULL;
	char *err = NULL;
	int rc = tpl_add(&s, name, text, &err);
	if (rc == 0)
		fail_msg("template %s parsed, expected an error", text);
	assert_int_equal(rc, -1);
	assert_non_null(err);
	/* A failed add leaves no set behind. */
	assert_null(s);
	if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
		fail_msg("error for %s is \"%s\"; expected it to contain \"%s\" and \"%s\"", text,
		         err, needle1, needle2 ? needle2 : "");
	free(err);
}

/* ---- values --------------------------------------------------------------- */

static void test_escaping(void **state)
{
	(void)state;
	assert_renders("{{x}}", "{\"x\": \"<a href=\\\"u\\\" title='t'>A & B</a>\"}",
	               "&lt;a href=&quot;u&quot; title=&#39;t&#39;&gt;A &amp; B&lt;/a&gt;");
	assert_renders("[{{x}}]", "{\"x\": \"<>&\\\"'\"}", "[&lt;&gt;&amp;&quot;&#39;]");
	/* Entities already in the value are escaped again, not trusted. */
	assert_renders("{{x}}", "{\"x\": \"&amp;\"}", "&amp;amp;");
	/* Template text itself is not escaped. */
	assert_renders("<p class=\"a\">{{x}}</p>", "{\"x\": \"b\"}", "<p class=\"a\">b</p>");
	/* UTF-8 passes through untouched. */
	assert_renders("{{x}}", "{\"x\": \"交通运输部　<安全>\"}", "交通运输部　&lt;安全&gt;");
	/* Spaces inside the tag are allowed. */
	assert_renders("{{ x }}|{{{ x }}}", "{\"x\": \"<i>\"}", "&lt;i&gt;|<i>");
	/* Dotted names and sections escape too. */
	assert_renders("{{a.b}}{{#l}}{{.}}{{/l}}", "{\"a\": {\"b\": \"<\"}, \"l\": [\">\", \"&\"]}",
	               "&lt;&gt;&amp;");
}

static void test_raw(void **state)
{
	(void)state;
	assert_renders("{{{x}}}", "{\"x\": \"<b>bold</b> & 'q'\"}", "<b>bold</b> & 'q'");
	assert_renders("{{{a.b}}}", "{\"a\": {\"b\": \"<br>\"}}", "<br>");
	assert_renders("{{{missing}}}", "{}", "");
	assert_renders("{{{n}}}", "{\"n\": 7}", "7");
}

static void test_numbers_and_other_values(void **state)
{
	(void)state;
	assert_renders("{{n}}", "{\"n\": 42}", "42");
	assert_renders("{{n}}", "{\"n\": -9007199254740993}", "-9007199254740993");
	assert_renders("{{n}}", "{\"n\": 0}", "0");
	/* Reals print with two decimals (money). */
	assert_renders("{{r}}", "{\"r\": 3.5}", "3.50");
	assert_renders("{{r}}", "{\"r\": 1234.5}", "1234.50");
	/* Booleans, null, objects and arrays print nothing. */
	assert_renders("[{{t}}{{f}}{{z}}{{o}}{{a}}]",
	               "{\"t\": true, \"f\": false, \"z\": null, \"o\": {\"x\": 1}, \"a\": [1]}",
	               "[]");
}

static void test_missing_values_render_empty(void **state)
{
	(void)state;
	assert_renders("a{{nope}}b{{{nope}}}c{{x.y.z}}d", "{\"x\": {}}", "abcd");
	assert_renders("{{x.y}}", "{\"x\": \"not an object\"}", "");
	assert_renders("{{x.y}}", "{\"x\": [1, 2]}", "");
	assert_renders("{{x}}", "[]", "");
	assert_renders("{{x}}", "null", "");
}

static void test_dotted_names(void **state)
{
	(void)state;
	const char *ctx = "{\"a\": {\"b\": {\"c\": \"deep\", \"n\": 5}}, \"a.b\": \"literal\"}";
	assert_renders("{{a.b.c}}/{{a.b.n}}", ctx, "deep/5");
	assert_renders("{{a.b.x}}", ctx, "");
	/* The first part is found outwards; the rest must be in that value. */
	assert_renders("{{#a}}{{a.b.c}}{{/a}}", ctx, "deep");
	assert_renders("{{#a}}{{b.c}}{{/a}}", ctx, "deep");
	/* Once the first part is found, there is no falling back for the rest. */
	assert_renders("{{#inner}}{{a.b.c}}{{/inner}}",
	               "{\"a\": {\"b\": {\"c\": \"outer\"}}, \"inner\": {\"a\": {\"x\": 1}}}", "");
}

static void test_dot(void **state)
{
	(void)state;
	assert_renders("{{#l}}<{{.}}>{{/l}}", "{\"l\": [\"a\", \"<\", 3, 1.5]}",
	               "<a><&lt;><3><1.50>");
	assert_renders("{{#l}}({{{.}}}){{/l}}", "{\"l\": [\"<b>\"]}", "(<b>)");
	assert_renders("{{#s}}[{{.}}]{{/s}}", "{\"s\": \"text\"}", "[text]");
	/* At top level "." is the context itself. */
	assert_renders("{{.}}", "\"top\"", "top");
	assert_renders("{{.}}", "{\"a\": 1}", "");
}

/* ---- sections --------------------------------------------------------------- */

static void test_sections(void **state)
{
	(void)state;
	/* Arrays: once per element, the element pushed. */
	assert_renders("{{#l}}[{{name}}]{{/l}}",
	               "{\"l\": [{\"name\": \"a\"}, {\"name\": \"b\"}, {\"name\": \"c\"}]}",
	               "[a][b][c]");
	assert_renders("<{{#l}}x{{/l}}>", "{\"l\": []}", "<>");
	/* Objects: once, pushed. */
	assert_renders("{{#o}}{{x}}-{{y}}{{/o}}", "{\"o\": {\"x\": 1, \"y\": \"two\"}}", "1-two");
	/* true: once, the context unchanged. */
	assert_renders("{{#t}}yes {{name}}{{/t}}", "{\"t\": true, \"name\": \"n\"}", "yes n");
	/* Non-empty strings and numbers are true. */
	assert_renders("{{#s}}S{{/s}}{{#n}}N{{/n}}", "{\"s\": \"x\", \"n\": 3}", "SN");
	/* false, null, missing, "", [] render nothing. */
	assert_renders("{{#f}}F{{/f}}{{#z}}Z{{/z}}{{#m}}M{{/m}}{{#e}}E{{/e}}{{#l}}L{{/l}}.",
	               "{\"f\": false, \"z\": null, \"e\": \"\", \"l\": []}", ".");
	/* Nested sections over nested arrays. */
	assert_renders("{{#rows}}<{{#cells}}{{.}},{{/cells}}>{{/rows}}",
	               "{\"rows\": [{\"cells\": [1, 2]}, {\"cells\": []}, {\"cells\": [\"x\"]}]}",
	               "<1,2,><><x,>");
	/* Arrays of arrays: the inner array is the context. */
	assert_renders("{{#m}}[{{#.}}{{.}}{{/.}}]{{/m}}", "{\"m\": [[1, 2], [3]]}", "[12][3]");
	/* A dotted section name. */
	assert_renders("{{#a.l}}{{.}}{{/a.l}}", "{\"a\": {\"l\": [\"p\", \"q\"]}}", "pq");
	/* The same name in a nested section. */
	assert_renders("{{#a}}1{{#a}}2{{/a}}3{{/a}}", "{\"a\": true}", "123");
	/* Text around and between sections is kept exactly, newlines too. */
	assert_renders("a\n{{#t}}\nb\n{{/t}}\nc", "{\"t\": true}", "a\n\nb\n\nc");
	/* An empty section parses and renders nothing. */
	assert_renders("<{{#t}}{{/t}}>", "{\"t\": true}", "<>");
}

static void test_inverted_sections(void **state)
{
	(void)state;
	const char *tpl = "{{^v}}empty{{/v}}";
	assert_renders(tpl, "{}", "empty");
	assert_renders(tpl, "{\"v\": null}", "empty");
	assert_renders(tpl, "{\"v\": false}", "empty");
	assert_renders(tpl, "{\"v\": \"\"}", "empty");
	assert_renders(tpl, "{\"v\": []}", "empty");
	assert_renders(tpl, "{\"v\": true}", "");
	assert_renders(tpl, "{\"v\": \"x\"}", "");
	assert_renders(tpl, "{\"v\": [0]}", "");
	assert_renders(tpl, "{\"v\": 0}", "");
	assert_renders(tpl, "{\"v\": {\"a\": 1}}", "");
	/* Inverted sections do not push a context. */
	assert_renders("{{^v}}{{name}}{{/v}}", "{\"v\": false, \"name\": \"outer\"}", "outer");
	/* The usual pair. */
	const char *pair = "{{#l}}{{.}};{{/l}}{{^l}}none{{/l}}";
	assert_renders(pair, "{\"l\": [\"a\", \"b\"]}", "a;b;");
	assert_renders(pair, "{\"l\": []}", "none");
	/* Missing dotted name. */
	assert_renders("{{^a.b}}no b{{/a.b}}", "{\"a\": {}}", "no b");
	assert_renders("{{^a.b}}no b{{/a.b}}", "{\"a\": {\"b\": 1}}", "");
}

static void test_context_lookup_falls_outwards(void **state)
{
	(void)state;
	const char *ctx =
	    "{\"title\": \"T\", \"who\": \"outer\","
	    " \"o\": {\"who\": \"middle\", \"l\": [{\"who\": \"inner\"}, {\"x\": 1}]}}";
	/* Innermost first, then outwards, up to the root. */
	assert_renders("{{#o}}{{#l}}{{who}}/{{title}};{{/l}}{{/o}}", ctx, "inner/T;middle/T;");
	assert_renders("{{#o}}{{who}}{{/o}}|{{who}}", ctx, "middle|outer");
	/* Array elements that are not objects are skipped by name lookup. */
	assert_renders("{{#l}}{{.}}{{who}};{{/l}}", "{\"who\": \"w\", \"l\": [1, \"s\"]}",
	               "1w;sw;");
	/* A key present with null shadows nothing: lookup stops at the first hit. */
	assert_renders("{{#o}}[{{who}}]{{/o}}", "{\"who\": \"outer\", \"o\": {\"who\": null}}",
	               "[]");
}

/* ---- partials and comments -------------------------------------------------- */

static char *render_set(struct tpl_set *s, const char *name, const char *json)
{
	json_t *ctx = ctx_of(json);
	struct buf out = {0};
	assert_int_equal(tpl_render(s, name, ctx, &out), 0);
	json_decref(ctx);
	return buf_steal(&out);
}

static void add_ok(struct tpl_set **s, const char *name, const char *text)
{
	char *err = NULL;
	if (tpl_add(s, name, text, &err) != 0)
		fail_msg("%s did not parse: %s", name, err);
	assert_null(err);
}

static void test_partials(void **state)
{
	(void)state;
	struct tpl_set *s = NULL;
	add_ok(&s, "page", "<h1>{{title}}</h1>{{#items}}{{> item}}{{/items}}{{>footer}}");
	add_ok(&s, "item", "<li>{{name}} ({{title}})</li>");
	add_ok(&s, "footer", "<footer>{{{raw}}}</footer>");
	char *out = render_set(s, "page",
	                       "{\"title\": \"<T>\", \"raw\": \"<i>f</i>\","
	                       " \"items\": [{\"name\": \"a\"}, {\"name\": \"b&c\"}]}");
	assert_string_equal(out, "<h1>&lt;T&gt;</h1><li>a (&lt;T&gt;)</li>"
	                         "<li>b&amp;c (&lt;T&gt;)</li><footer><i>f</i></footer>");
	free(out);
	/* A missing partial renders nothing. */
	add_ok(&s, "holey", "[{{>nothere}}]");
	out = render_set(s, "holey", "{}");
	assert_string_equal(out, "[]");
	free(out);
	/* An unknown template is an error. */
	struct buf b = {0};
	json_t *ctx = json_object();
	assert_int_equal(tpl_render(s, "nothere", ctx, &b), -1);
	assert_int_equal(tpl_render(NULL, "page", ctx, &b), -1);
	assert_int_equal(b.len, 0);
	json_decref(ctx);
	buf_free(&b);
	tpl_free(s);
}

static void test_recursive_partials_terminate(void **state)
{
	(void)state;
	struct tpl_set *s = NULL;
	add_ok(&s, "self", "x{{>self}}");
	char *out = render_set(s, "self", "{}");
	size_t n = strlen(out);
	assert_true(n > 1 && n < 100);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i], 'x');
	free(out);

	/* Two that include each other. */
	add_ok(&s, "ping", "(ping{{>pong}})");
	add_ok(&s, "pong", "[pong{{>ping}}]");
	out = render_set(s, "ping", "{}");
	assert_true(strlen(out) < 1000);
	assert_true(strncmp(out, "(ping[pong(ping", 15) == 0);
	free(out);

	/* A self-including partial inside a section whose name is always found
	 * (outwards): both the partial and the context depth are bounded. */
	add_ok(&s, "tree", "<{{#node}}{{name}}{{>tree}}{{/node}}>");
	out = render_set(s, "tree", "{\"node\": {\"name\": \"n\"}}");
	assert_true(strlen(out) < 1000);
	assert_true(strncmp(out, "<n<n<n", 6) == 0);
	free(out);

	/* Recursion over real data ends with the data. */
	add_ok(&s, "list", "{{#kids}}({{name}}{{>list}}){{/kids}}");
	out =
	    render_set(s, "list",
	               "{\"kids\": [{\"name\": \"a\", \"kids\": [{\"name\": \"b\", \"kids\": []}]},"
	               " {\"name\": \"c\", \"kids\": []}]}");
	assert_string_equal(out, "(a(b))(c)");
	free(out);
	tpl_free(s);
}

static void test_comments(void **state)
{
	(void)state;
	assert_renders("a{{! a comment }}b", "{}", "ab");
	assert_renders("a{{!\nmulti\nline\n}}b", "{}", "ab");
	assert_renders("{{!}}c", "{}", "c");
	/* A comment inside a section. */
	assert_renders("{{#t}}{{! hidden }}v{{/t}}", "{\"t\": true}", "v");
}

static void test_text_only_and_empty(void **state)
{
	(void)state;
	assert_renders("", "{}", "");
	assert_renders("plain text, no tags", "{}", "plain text, no tags");
	assert_renders("single { brace } and }} closers", "{}", "single { brace } and }} closers");
	assert_renders("交通运输安全生产标准化", "{}", "交通运输安全生产标准化");
}

/* ---- parse errors ------------------------------------------------------------ */

static void test_parse_errors(void **state)
{
	(void)state;
	assert_parse_error("open", "abc {{name", "open:1:", "not closed");
	assert_parse_error("open3", "line1\nline2\n  {{name\n", "open3:3:", "not closed");
	assert_parse_error("triple", "a\n{{{raw}}\n", "triple:2:", "not closed");
	/* Unclosed section: the template, the line of the opening tag and the
	 * section. */
	assert_parse_error("sect", "x\n{{#items}}\n<li>{{name}}</li>\n", "sect:2:", "items");
	assert_parse_error("sect2", "{{#a}}{{#b}}{{/b}}", "sect2:1:", "'a'");
	assert_parse_error("sect3", "{{#a}}\n\n{{^b}}\n{{/a}}", "sect3:", "{{/a}}");
	assert_parse_error("sect4", "{{#a}}\n{{#b}}\n{{/b}}\n", "sect4:1:", "'a'");
	/* Closing the wrong section, on the line where it happens. */
	assert_parse_error("mismatch", "{{#a}}\n\n{{/b}}", "mismatch:3:", "{{/b}}");
	assert_parse_error("crossed", "{{#a}}{{#b}}\n{{/a}}{{/b}}", "crossed:2:", "{{/a}}");
	/* A close without an open. */
	assert_parse_error("stray", "text\n{{/a}}", "stray:2:", "{{/a}}");
	/* Empty tags. */
	assert_parse_error("empty", "{{}}", "empty:1:", "empty tag");
	assert_parse_error("empty2", "ok\n{{ }}", "empty2:2:", "empty tag");
	assert_parse_error("empty3", "{{#}}{{/}}", "empty3:1:", "empty tag");
	assert_parse_error("emptyp", "{{>}}", "emptyp:1:", NULL);
	/* An error inside a section of a section of a partial's text. */
	assert_parse_error("inner", "{{#a}}\n{{#b}}\n{{^c}}\n{{x\n", "inner:4:", "not closed");
}

static void test_parse_error_keeps_set(void **state)
{
	(void)state;
	struct tpl_set *s = NULL;
	add_ok(&s, "good", "G{{x}}");
	char *err = NULL;
	assert_int_equal(tpl_add(&s, "bad", "{{#x}}", &err), -1);
	assert_non_null(err);
	free(err);
	assert_non_null(s);
	char *out = render_set(s, "good", "{\"x\": 1}");
	assert_string_equal(out, "G1");
	free(out);
	struct buf b = {0};
	json_t *ctx = json_object();
	assert_int_equal(tpl_render(s, "bad", ctx, &b), -1);
	json_decref(ctx);
	buf_free(&b);
	tpl_free(s);
	tpl_free(NULL);
}

/* 100 sections nest in one template; 101 are a parse error. */
#define NESTING 100

static void nested(struct buf *t, const char *open, const char *mid, const char *close, int n)
{
	for (int i = 0; i < n; i++)
		buf_puts(t, open);
	buf_puts(t, mid);
	for (int i = 0; i < n; i++)
		buf_puts(t, close);
}

static void test_deep_nesting_within_limits(void **state)
{
	(void)state;
	/* The deepest nesting allowed, over a value found at every level (outwards). */
	struct buf t = {0};
	nested(&t, "{{#a}}", "x", "{{/a}}", NESTING);
	struct tpl_set *s = NULL;
	add_ok(&s, "deep", t.data);
	char *out = render_set(s, "deep", "{\"a\": {\"b\": 1}}");
	/* Context depth is capped: deeper sections render nothing. */
	assert_string_equal(out, "");
	free(out);
	out = render_set(s, "deep", "{\"a\": false}");
	assert_string_equal(out, "");
	free(out);
	tpl_free(s);
	buf_free(&t);

	/* Inverted sections nest without pushing. */
	nested(&t, "{{^a}}", "y", "{{/a}}", NESTING);
	s = NULL;
	add_ok(&s, "deep", t.data);
	out = render_set(s, "deep", "{}");
	assert_string_equal(out, "y");
	free(out);
	tpl_free(s);
	buf_free(&t);

	/* One more is an error on the line of the tag that goes too deep. */
	buf_puts(&t, "\n");
	nested(&t, "{{^a}}\n", "y", "{{/a}}", NESTING + 1);
	assert_parse_error("toodeep", t.data, "toodeep:102:", "sections nested too deeply");
	buf_free(&t);
	nested(&t, "{{#a}}{{^b}}", "", "{{/b}}{{/a}}", NESTING / 2 + 1);
	assert_parse_error("mixed", t.data, "mixed:1:", "sections nested too deeply");
	buf_free(&t);

	/* Inverted sections count towards render()'s own depth, also through
	 * partials: a self-including partial inside the deepest nesting stops
	 * after a few levels instead of 32. */
	nested(&t, "{{^z}}", "y{{>inv}}", "{{/z}}", NESTING);
	s = NULL;
	add_ok(&s, "inv", t.data);
	out = render_set(s, "inv", "{}");
	size_t n = strlen(out);
	assert_true(n >= 1 && n < 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i], 'y');
	free(out);
	tpl_free(s);
	buf_free(&t);
}

/* ---- tpl_render_wrapped: a page inside the layout -------------------------- */

static void test_render_wrapped(void **state)
{
	(void)state;
	struct tpl_set *s = NULL;
	add_ok(&s, "layout", "<title>{{title}}</title><main>{{{body}}}</main>[{{body}}]");
	add_ok(&s, "page", "<p>{{msg}} {{title}}</p>");
	add_ok(&s, "shadow", "{{#o}}({{{body}}}){{/o}}|{{{body}}}");
	json_t *outer = ctx_of("{\"title\": \"<T>\"}");
	json_t *inner = ctx_of("{\"msg\": \"a&b\"}");
	struct buf out = {0};
	buf_puts(&out, "pre:");
	assert_int_equal(tpl_render_wrapped(s, "layout", outer, "body", "page", inner, &out), 0);
	/* {{{body}}} is the inner rendering as is; {{body}} escapes it; the inner
	 * template sees only its own context. */
	assert_string_equal(out.data, "pre:<title>&lt;T&gt;</title><main><p>a&amp;b </p></main>"
	                              "[&lt;p&gt;a&amp;amp;b &lt;/p&gt;]");
	buf_free(&out);
	/* A section context that has the key itself shadows the slot. */
	json_t *outer2 = ctx_of("{\"o\": {\"body\": \"own\"}}");
	assert_int_equal(tpl_render_wrapped(s, "shadow", outer2, "body", "page", inner, &out), 0);
	assert_string_equal(out.data, "(own)|<p>a&amp;b </p>");
	buf_free(&out);
	/* Unknown templates: -1 for the inner, -2 for the outer, nothing written. */
	assert_int_equal(tpl_render_wrapped(s, "layout", outer, "body", "nothere", inner, &out),
	                 -1);
	assert_int_equal(tpl_render_wrapped(s, "nothere", outer, "body", "page", inner, &out), -2);
	assert_int_equal(out.len, 0);
	json_decref(outer);
	json_decref(outer2);
	json_decref(inner);
	tpl_free(s);
}

/* tpl_render_around: the slot's text is given, already rendered. */
static void test_render_around(void **state)
{
	(void)state;
	struct tpl_set *s = NULL;
	add_ok(&s, "layout", "<title>{{title}}</title><main>{{{body}}}</main>[{{body}}]");
	json_t *outer = ctx_of("{\"title\": \"<T>\"}");
	struct buf out = {0};
	const char html[] = "<p>a&amp;b</p>tail";
	/* Only len bytes are used: the caller's text need not end there. */
	assert_int_equal(tpl_render_around(s, "layout", outer, "body", html, 14, &out), 0);
	assert_string_equal(out.data, "<title>&lt;T&gt;</title><main><p>a&amp;b</p></main>"
	                              "[&lt;p&gt;a&amp;amp;b&lt;/p&gt;]");
	buf_free(&out);
	assert_int_equal(tpl_render_around(s, "layout", outer, "body", NULL, 0, &out), 0);
	assert_string_equal(out.data, "<title>&lt;T&gt;</title><main></main>[]");
	buf_free(&out);
	assert_int_equal(tpl_render_around(s, "nothere", outer, "body", html, 4, &out), -2);
	assert_int_equal(out.len, 0);
	json_decref(outer);
	tpl_free(s);
}

/* ---- tpl_load_dir ----------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0644), 0);
	free(path);
}

static void test_load_dir(void **state)
{
	(void)state;
	char *dir = test_dir_make("template");
	write_file(dir, "layout.html", "<html>{{>body}}</html>\n");
	write_file(dir, "body.html", "<p>{{msg}}</p>");
	write_file(dir, "notes.txt", "{{#broken");  /* not a template: ignored */
	write_file(dir, ".html", "{{#broken");      /* no name: ignored */
	write_file(dir, "x.html.bak", "{{#broken"); /* ignored */
	char *err = NULL;
	struct tpl_set *s = tpl_load_dir(dir, &err);
	if (!s)
		fail_msg("tpl_load_dir: %s", err);
	assert_null(err);
	char *out = render_set(s, "layout", "{\"msg\": \"<hi>\"}");
	assert_string_equal(out, "<html><p>&lt;hi&gt;</p></html>\n");
	free(out);
	out = render_set(s, "body", "{\"msg\": \"b\"}");
	assert_string_equal(out, "<p>b</p>");
	free(out);
	struct buf b = {0};
	json_t *ctx = json_object();
	assert_int_equal(tpl_render(s, "notes", ctx, &b), -1);
	assert_int_equal(tpl_render(s, "layout.html", ctx, &b), -1);
	json_decref(ctx);
	buf_free(&b);
	tpl_free(s);

	/* A broken template fails the whole load, naming it and the line. */
	write_file(dir, "broken.html", "<div>\n<p>\n{{#list}}\n{{/lsit}}\n");
	s = tpl_load_dir(dir, &err);
	assert_null(s);
	assert_non_null(err);
	if (!strstr(err, "broken:4:") || !strstr(err, "lsit"))
		fail_msg("unexpected error: %s", err);
	free(err);
	test_dir_remove(dir);
	free(dir);

	/* A missing directory. */
	err = NULL;
	s = tpl_load_dir("/nonexistent/esp-templates", &err);
	assert_null(s);
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent/esp-templates"));
	free(err);
}

static void test_load_dir_empty(void **state)
{
	(void)state;
	char *dir = test_dir_make("template");
	char *err = NULL;
	struct tpl_set *s = tpl_load_dir(dir, &err);
	assert_non_null(s);
	struct buf b = {0};
	json_t *ctx = json_object();
	assert_int_equal(tpl_render(s, "anything", ctx, &b), -1);
	json_decref(ctx);
	tpl_free(s);
	test_dir_remove(dir);
	free(dir);
}

/* The project's own templates all parse. */
static void test_project_templates_parse(void **state)
{
	(void)state;
	char *err = NULL;
	struct tpl_set *s = tpl_load_dir(ESP_SOURCE_DIR "/templates", &err);
	if (!s)
		fail_msg("templates/ do not load: %s", err);
	tpl_free(s);
}

/* ---- the fuzz target, fed 2000 pseudo-random templates ---------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, the same inputs on every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static const char *const fragments[] = {
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{",
    "}",
    "{{name}}",
    "{{{name}}}",
    "{{ name }}",
    "{{n}}",
    "{{r}}",
    "{{.}}",
    "{{{.}}}",
    "{{o.a.b}}",
    "{{o.a}}",
    "{{zh}}",
    "{{missing.x}}",
    "{{#arr}}",
    "{{/arr}}",
    "{{#o}}",
    "{{/o}}",
    "{{#t}}",
    "{{/t}}",
    "{{#f}}",
    "{{/f}}",
    "{{^e}}",
    "{{/e}}",
    "{{^empty}}",
    "{{/empty}}",
    "{{#eo}}",
    "{{/eo}}",
    "{{#.}}",
    "{{/.}}",
    "{{^z}}",
    "{{/z}}",
    "{{#o.o}}",
    "{{/o.o}}",
    "{{>p}}",
    "{{>q}}",
    "{{>main}}",
    "{{> p }}",
    "{{>none}}",
    "{{! comment }}",
    "{{!",
    "{{#",
    "{{/",
    "{{^",
    "{{>",
    "{{}}",
    "{{ }}",
    "text",
    " ",
    "\n",
    "<",
    ">",
    "&",
    "\"",
    "'",
    "交通",
    "\xe3\x80\x80",
    "\xff",
    "{{#arr}}{{.}}",
    "{{/arr}}{{/arr}}",
    "{{#arr}}{{>p}}{{/arr}}",
    "{{#o}}{{>main}}{{/o}}",
    "\0",
    "\0",
    "\0",
};
/* Partials may include themselves or each other several times and from
 * inside sections over arrays: such fan-out runs into the rendering budget,
 * which the fuzz target accepts as a result (see
 * test_regression_recursion_fan_out). */
static void put_fragment(struct buf *in, size_t i)
{
	const char *f = fragments[i];
	if (f[0] == '\0')
		buf_putc(in, '\0');
	else
		buf_puts(in, f);
}

static const char *const texts[] = {"a", "<p>", "</p>\n", " & ", "交通运输部", "\"q\"", "{", "}"};
static const char *const vars[] = {"name",   "n",  "r",       "neg", ".",   "o.a.b",
                                   "o.name", "zh", "missing", "t",   "arr", "o.a.n"};
static const char *const sections[] = {"arr", "o", "t",   "f",  "e",       "empty", "eo",
                                       ".",   "z", "o.o", "zh", "missing", "o.a",   "n"};
static const char *const partial_names[] = {"main", "p", "q", "none", " p "};

#define PICK(list) (list[rng() % (sizeof list / sizeof list[0])])

/* Well-formed templates from a small grammar, with a mistake now and then. */
static void gen_block(struct buf *in, int depth)
{
	int items = (int)(rng() % 6);
	for (int k = 0; k < items; k++) {
		switch (rng() % 10) {
		case 0:
		case 1:
		case 2:
			buf_puts(in, PICK(texts));
			break;
		case 3:
		case 4: {
			int kind = (int)(rng() % 3);
			buf_printf(in,
			           kind == 0   ? "{{%s}}"
			           : kind == 1 ? "{{{%s}}}"
			                       : "{{ %s }}",
			           PICK(vars));
			break;
		}
		case 5:
			buf_puts(in, "{{! note }}");
			break;
		case 6:
		case 7: {
			if (depth >= 4)
				break;
			char sigil = rng() % 3 == 0 ? '^' : '#';
			const char *name = PICK(sections);
			buf_printf(in, "{{%c%s}}", sigil, name);
			gen_block(in, depth + 1);
			buf_printf(in, "{{/%s}}", rng() % 25 == 0 ? PICK(sections) : name);
			break;
		}
		case 8:
			buf_printf(in, "{{>%s}}", PICK(partial_names));
			break;
		default:
			/* a stray fragment: often a mistake */
			if (rng() % 4 == 0)
				put_fragment(
				    in, (size_t)(rng() % (sizeof fragments / sizeof fragments[0])));
			break;
		}
	}
}

static void test_fuzz_target_random_templates(void **state)
{
	(void)state;
	rng_state = 0x9E3779B97F4A7C15ULL;
	size_t nfrag = sizeof fragments / sizeof fragments[0];
	struct buf in = {0};
	for (int iter = 0; iter < 2000; iter++) {
		in.len = 0;
		if (iter % 2 == 0) {
			/* one to three well-formed templates: main, p, q */
			int parts = 1 + (int)(rng() % 3);
			for (int k = 0; k < parts; k++) {
				if (k)
					buf_putc(&in, '\0');
				gen_block(&in, 0);
			}
		} else {
			/* fragments thrown together */
			int pieces = 1 + (int)(rng() % 40);
			for (int k = 0; k < pieces; k++) {
				uint64_t r = rng();
				if (r % 16 == 0)
					/* a random byte now and then (a NUL starts the next
					 * template) */
					buf_putc(&in, (char)(r >> 8));
				else
					put_fragment(&in, (size_t)(r >> 16) % nfrag);
			}
		}
		/* The target must accept anything; it aborts on a broken invariant. */
		assert_int_equal(
		    LLVMFuzzerTestOneInput((const uint8_t *)(in.data ? in.data : ""), in.len), 0);
	}
	/* A few fixed edge cases. */
	const char *fixed[] = {"",
	                       "{{",
	                       "{{{",
	                       "}}}",
	                       "{{#a}}",
	                       "{{/a}}",
	                       "{{>main}}",
	                       "x{{>main}}",
	                       "{{#o}}{{>main}}{{/o}}",
	                       "{{#o}}{{#o}}{{>p}}",
	                       "x{{>main}}{{>main}}",
	                       "{{#arr}}{{.}}{{>main}}{{/arr}}"};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		assert_int_equal(
		    LLVMFuzzerTestOneInput((const uint8_t *)fixed[i], strlen(fixed[i])), 0);
	const char with_partials[] = "<{{>p}}>\0[{{>q}}{{name}}]\0{{#o}}{{.}}{{>p}}{{/o}}";
	assert_int_equal(
	    LLVMFuzzerTestOneInput((const uint8_t *)with_partials, sizeof with_partials - 1), 0);
	buf_free(&in);
}

/* ---- regression tests ------------------------------------------------------- */

/* The CPU time this thread has used, in ms: unlike the clock on the wall
 * it does not grow while other processes have the CPUs. */
static int64_t thread_cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Renders name and expects it to fail on the work budget, quickly (in CPU
 * time: a busy machine stretches the wall-clock time, not the work),
 * leaving the buffer as it was. */
static void assert_over_budget(struct tpl_set *s, const char *name, json_t *ctx)
{
	struct buf out = {0};
	buf_puts(&out, "pre:");
	int64_t t0 = thread_cpu_ms();
	assert_int_equal(tpl_render(s, name, ctx, &out), -2);
	int64_t ms = thread_cpu_ms() - t0;
	if (ms >= 2000) {
		buf_free(&out);
		fail_msg("rendering %s took %lld ms of CPU", name, (long long)ms);
	}
	assert_int_equal(out.len, 4);
	assert_string_equal(out.data, "pre:");
	buf_free(&out);
	/* Into an empty buffer: nothing is left behind either. */
	assert_int_equal(tpl_render(s, name, ctx, &out), -2);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

/* Partial recursion was bounded in depth, not in work: "{{>t}}{{>t}}" made
 * 2^33 calls, a section over an array of 6 around a self-include 6^32.
 * Rendering now stops within a fixed budget and fails. */
static void test_regression_recursion_fan_out(void **state)
{
	(void)state;
	struct tpl_set *s = NULL;
	add_ok(&s, "twice", "x{{>twice}}{{>twice}}");
	add_ok(&s, "loop", "{{#l}}{{.}}{{>loop}}{{/l}}");
	add_ok(&s, "layout", "<main>{{{body}}}</main>");
	add_ok(&s, "escaped", "<main>{{body}}</main>");
	add_ok(&s, "page", "<p>{{x}}</p>");
	json_t *ctx = ctx_of("{\"l\": [1, 2, 3, 4, 5, 6]}");
	assert_over_budget(s, "twice", ctx);
	assert_over_budget(s, "loop", ctx);

	/* In the layout: -3, nothing appended. */
	const char *outers[] = {"layout", "escaped"};
	for (size_t i = 0; i < 2; i++) {
		struct buf out = {0};
		buf_puts(&out, "pre:");
		assert_int_equal(tpl_render_wrapped(s, outers[i], ctx, "body", "loop", ctx, &out),
		                 -3);
		assert_string_equal(out.data, "pre:");
		buf_free(&out);
	}

	/* The same set still renders what stays within the budget. */
	json_t *small = ctx_of("{\"x\": \"<x>\"}");
	struct buf out = {0};
	assert_int_equal(tpl_render_wrapped(s, "escaped", ctx, "body", "page", small, &out), 0);
	assert_string_equal(out.data, "<main>&lt;p&gt;&amp;lt;x&amp;gt;&lt;/p&gt;</main>");
	buf_free(&out);
	json_decref(small);
	json_decref(ctx);
	tpl_free(s);
}

/* Output is capped at 64 MB even when few nodes write it. */
static void test_regression_output_cap(void **state)
{
	(void)state;
	size_t mb = 1024 * 1024;
	char *big = xmalloc(mb + 1);
	memset(big, 'a', mb);
	big[mb] = '\0';
	json_t *ctx = json_object();
	json_object_set_new(ctx, "big", json_string(big));
	free(big);
	json_t *arr = json_array();
	for (int i = 0; i < 65; i++)
		json_array_append_new(arr, json_integer(i));
	json_object_set_new(ctx, "l", arr);
	json_object_set_new(ctx, "few", json_pack("[i, i, i]", 1, 2, 3));
	struct tpl_set *s = NULL;
	add_ok(&s, "t", "{{#l}}{{big}}{{/l}}");
	add_ok(&s, "few", "{{#few}}{{big}}{{/few}}");
	assert_over_budget(s, "t", ctx);
	struct buf out = {0};
	assert_int_equal(tpl_render(s, "few", ctx, &out), 0);
	assert_int_equal(out.len, 3 * mb);
	buf_free(&out);
	json_decref(ctx);
	tpl_free(s);
}

/* The parser recursed once per nested section: 200000 nested "{{#a}}"
 * (2.4 MB of text) overflowed the stack.  Deep nesting is an error now. */
static void test_regression_parse_nesting_overflows_stack(void **state)
{
	(void)state;
	struct buf t = {0};
	nested(&t, "{{#a}}", "", "{{/a}}", 200000);
	assert_parse_error("t", t.data, "t:1:", "sections nested too deeply");
	buf_free(&t);
	nested(&t, "{{^a}}\n", "", "{{/a}}", 200000);
	assert_parse_error("t", t.data, "t:101:", "sections nested too deeply");
	buf_free(&t);
}

/* An unclosed section was reported without a line: it names the line of
 * the opening tag now, like the other errors. */
static void test_regression_unclosed_section_has_line(void **state)
{
	(void)state;
	assert_parse_error("sect", "x\n{{#items}}\n<li>{{name}}</li>\n", "sect:2:", "items");
	assert_parse_error("sect", "{{#a}}\n{{/a}}\n\n{{^b}}\n{{#c}}{{/c}}", "sect:4:", "'b'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_raw),
	    cmocka_unit_test(test_numbers_and_other_values),
	    cmocka_unit_test(test_missing_values_render_empty),
	    cmocka_unit_test(test_dotted_names),
	    cmocka_unit_test(test_dot),
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_inverted_sections),
	    cmocka_unit_test(test_context_lookup_falls_outwards),
	    cmocka_unit_test(test_partials),
	    cmocka_unit_test(test_recursive_partials_terminate),
	    cmocka_unit_test(test_comments),
	    cmocka_unit_test(test_text_only_and_empty),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_parse_error_keeps_set),
	    cmocka_unit_test(test_deep_nesting_within_limits),
	    cmocka_unit_test(test_render_wrapped),
	    cmocka_unit_test(test_render_around),
	    cmocka_unit_test(test_load_dir),
	    cmocka_unit_test(test_load_dir_empty),
	    cmocka_unit_test(test_project_templates_parse),
	    cmocka_unit_test(test_fuzz_target_random_templates),
	    cmocka_unit_test(test_regression_recursion_fan_out),
	    cmocka_unit_test(test_regression_output_cap),
	    cmocka_unit_test(test_regression_parse_nesting_overflows_stack),
	    cmocka_unit_test(test_regression_unclosed_section_has_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

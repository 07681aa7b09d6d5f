/*
 * libFuzzer target for the template engine (src/render/template.c).
 *
 * The input is split at NUL bytes into up to three templates, "main", "p"
 * and "q", so that partials (including ones that include themselves or each
 * other) are exercised; each is parsed with tpl_add, and when all parse,
 * "main" is rendered against a small JSON context that has every kind of
 * value the engine distinguishes.  Parse errors are fine: they must only be
 * reported, never crash or leak.  So is a rendering that goes over the work
 * budget (partials that fan out): it must fail the same way every time and
 * leave nothing in the output.
 *
 * Built by tests/unit/render/meson.build into test_template, which feeds it
 * pseudo-random inputs on every test run; see tests/fuzz/README.md for a
 * real libFuzzer build.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "esp/template.h"
#include "esp/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_context[] =
    "{\"name\": \"<b>Tom & \\\"Jerry\\\" 'x'</b>\","
    " \"n\": 42, \"neg\": -7, \"r\": 3.25, \"t\": true, \"f\": false, \"z\": null,"
    " \"e\": \"\", \"zh\": \"交通运输部\", \"empty\": [], \"eo\": {},"
    " \"arr\": [1, \"two\", {\"name\": \"inner\", \"arr\": []}, [\"nested\"], null, true],"
    " \"o\": {\"a\": {\"b\": \"deep\", \"n\": 1}, \"name\": \"o-name\", \"o\": {\"name\": "
    "\"oo\"}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Templates are C strings: NUL bytes separate them. */
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	static const char *const names[] = {"main", "p", "q"};
	struct tpl_set *set = NULL;
	bool ok = true;
	const char *part = text;
	for (size_t i = 0; i < sizeof names / sizeof names[0] && ok; i++) {
		char *err = NULL;
		if (tpl_add(&set, names[i], part, &err) != 0) {
			/* An error always comes with a message naming the template. */
			if (!err || strstr(err, names[i]) != err)
				abort();
			free(err);
			ok = false;
			break;
		}
		size_t len = strlen(part);
		if (part + len >= text + size)
			break;
		part += len + 1;
	}

	if (ok) {
		json_error_t jerr;
		json_t *ctx = json_loads(fuzz_context, 0, &jerr);
		if (!ctx)
			abort();
		struct buf out = {0};
		int rc = tpl_render(set, "main", ctx, &out);
		if (rc != 0 && rc != -2)
			abort();
		/* Over the budget nothing is appended. */
		if (rc == -2 && out.len != 0)
			abort();
		/* The output is a C string of the stated length (nothing here holds a NUL). */
		if (out.data && strlen(out.data) != out.len)
			abort();
		/* Rendering is pure: a second rendering gives the same result and bytes. */
		struct buf again = {0};
		if (tpl_render(set, "main", ctx, &again) != rc)
			abort();
		if (out.len != again.len || (out.len && memcmp(out.data, again.data, out.len) != 0))
			abort();
		buf_free(&again);
		buf_free(&out);
		json_decref(ctx);
	}
	tpl_free(set);
	free(text);
	return 0;
}

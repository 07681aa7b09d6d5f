/*
 * appform_html: writes the HTML print view (templates/appform_print.html,
 * rendered by our template engine from appform_to_json) of the benchmark's
 * application to stdout, for pdf_vs_chromium.sh.
 *
 *   appform_html TEMPLATE_FILE [-p]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/appform.h"
#include "esp/template.h"
#include "esp/util.h"
#include "sample_form.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct buf b = {0};
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, n);
	fclose(f);
	buf_puts(&b, ""); /* NUL-terminated even when empty */
	return buf_steal(&b);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s TEMPLATE_FILE [-p]\n", argv[0]);
		return 2;
	}
	const struct appform *form =
	    argc > 2 && strcmp(argv[2], "-p") == 0 ? &bench_person_form : &bench_unit_form;
	char *text = read_file(argv[1]);
	if (text == NULL) {
		perror(argv[1]);
		return 1;
	}
	struct tpl_set *set = NULL;
	char *err = NULL;
	if (tpl_add(&set, "appform_print", text, &err) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err ? err : "parse error");
		return 1;
	}
	json_t *ctx = appform_to_json(form);
	json_object_set_new(ctx, "back_url", json_string("/applications/ESP-2026-000123"));
	struct buf out = {0};
	if (tpl_render(set, "appform_print", ctx, &out) != 0)
		return 1;
	fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	json_decref(ctx);
	tpl_free(set);
	free(text);
	free(err);
	return 0;
}

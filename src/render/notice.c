/*
 * An outbox row as a subject and a body: see esp/notice.h.
 */
#include "esp/notice.h"
#include "esp/util.h"

#include <stdlib.h>
#include <string.h>

/* The subject goes into a header: no line breaks or other control bytes,
 * whatever a value held. */
static char *one_line(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	out[k] = '\0';
	char *t = str_trim(out);
	if (t != out)
		memmove(out, t, strlen(t) + 1);
	return out;
}

int notice_render(const struct tpl_set *set, const char *kind, const char *params, const char *site,
                  char **subject, char **body)
{
	json_t *ctx = json_loads(params ? params : "{}", 0, NULL);
	if (!json_is_object(ctx)) {
		json_decref(ctx);
		return -1;
	}
	struct arena *a = arena_new();
	json_int_t not_after = json_integer_value(json_object_get(ctx, "not_after"));
	if (not_after)
		json_object_set_new(ctx, "expiry_date", json_string(time_date(a, not_after)));
	if (site)
		json_object_set_new(ctx, "site", json_string(site));
	arena_free(a);
	char *name = xasprintf("mail_%s", kind);
	struct buf out = {0};
	int rc = tpl_render(set, name, ctx, &out);
	free(name);
	json_decref(ctx);
	if (rc != 0 || !out.data) {
		buf_free(&out);
		return -1;
	}
	/* Template comments and indentation leave blank lines first. */
	const char *s = out.data;
	while (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t')
		s++;
	const char *nl = strchr(s, '\n');
	size_t n = nl ? (size_t)(nl - s) : strlen(s);
	*subject = one_line(s, n);
	const char *b = nl ? nl + 1 : s + n;
	while (*b == '\n' || *b == '\r')
		b++;
	*body = xstrdup(b);
	buf_free(&out);
	return 0;
}

/*
 * The fields of one posted form, as libmicrohttpd's post processor hands
 * them over chunk by chunk.
 *
 * The body comes from anyone on the internet, before any session or token
 * is checked, so every cost here is bounded by the body's size alone: a
 * field is found in constant time (an open-addressed table of indices, not
 * a list walked for every chunk), and the number of fields and the length
 * of a name are capped.  A part without a name is refused, not guessed at.
 */
#include "form.h"

#include <stdlib.h>
#include <string.h>

#define FORM_FIRST_CAP 16

void form_init(struct form *f, unsigned max_fields)
{
	memset(f, 0, sizeof(*f));
	f->max_fields = max_fields ? max_fields : 1;
}

static void slots_rebuild(struct form *f, unsigned nslots)
{
	free(f->slots);
	f->slots = xcalloc(nslots, sizeof(*f->slots));
	f->mask = nslots - 1;
	for (unsigned i = 0; i < f->n; i++) {
		uint32_t h = str_hash(f->items[i].name) & f->mask;
		while (f->slots[h])
			h = (h + 1) & f->mask;
		f->slots[h] = i + 1;
	}
}

struct form_field *form_find(const struct form *f, const char *name)
{
	if (!f->slots)
		return NULL;
	for (uint32_t h = str_hash(name) & f->mask; f->slots[h]; h = (h + 1) & f->mask) {
		struct form_field *x = &f->items[f->slots[h] - 1];
		if (strcmp(x->name, name) == 0)
			return x;
	}
	return NULL;
}

enum form_status form_add(struct form *f, const char *name, const char *filename,
                          const char *content_type, const char *data, uint64_t off, size_t size)
{
	if (!name || !*name)
		return FORM_NAMELESS;
	if (strlen(name) > FORM_MAX_NAME)
		return FORM_NAME_TOO_LONG;
	/* Consecutive chunks of one value name the same field: skip the hash. */
	struct form_field *x =
	    f->last && strcmp(f->last->name, name) == 0 ? f->last : form_find(f, name);
	if (!x) {
		if (f->n >= f->max_fields)
			return FORM_TOO_MANY;
		if (f->n == f->cap) {
			unsigned cap = f->cap ? f->cap * 2 : FORM_FIRST_CAP;
			if (cap > f->max_fields)
				cap = f->max_fields;
			f->items = xrealloc(f->items, (size_t)cap * sizeof(*f->items));
			f->cap = cap;
		}
		x = &f->items[f->n++];
		memset(x, 0, sizeof(*x));
		x->name = xstrdup(name);
		if (filename)
			x->filename = xstrdup(filename);
		if (content_type)
			x->content_type = xstrdup(content_type);
		/* Keep the table at most half full: probes stay short. */
		if (f->n * 2 > f->mask + 1 || !f->slots) {
			unsigned nslots = 32;
			while (nslots < f->n * 4)
				nslots *= 2;
			slots_rebuild(f, nslots);
		} else {
			uint32_t h = str_hash(x->name) & f->mask;
			while (f->slots[h])
				h = (h + 1) & f->mask;
			f->slots[h] = f->n;
		}
	} else if (off == 0 && !x->filename && x->value.len) {
		/* A repeated plain field (checkboxes) appends with a newline. */
		buf_putc(&x->value, '\n');
	}
	f->last = x;
	if (size)
		buf_put(&x->value, data, size);
	else if (!x->value.data)
		buf_puts(&x->value, "");
	return FORM_OK;
}

void form_free(struct form *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		struct form_field *x = &f->items[i];
		/* Passwords travel in form fields: wipe before freeing. */
		if (x->value.data)
			memset(x->value.data, 0, x->value.len);
		buf_free(&x->value);
		free(x->name);
		free(x->filename);
		free(x->content_type);
	}
	free(f->items);
	free(f->slots);
	memset(f, 0, sizeof(*f));
}

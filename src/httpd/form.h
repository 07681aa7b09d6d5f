/* The fields of one posted form (see form.c). */
#ifndef ESPD_FORM_H
#define ESPD_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "esp/util.h"

/* Longest field name accepted; ESP's own are under 40 bytes. */
#define FORM_MAX_NAME 128

struct form_field {
	char *name;
	struct buf value; /* always NUL-terminated once the field exists */
	char *filename;   /* uploads only */
	char *content_type;
};

struct form {
	struct form_field *items; /* in the order they arrived */
	unsigned n, cap, max_fields;
	uint32_t *slots; /* open addressing: index + 1, 0 = empty */
	uint32_t mask;
	struct form_field *last; /* the field the previous chunk went to */
};

enum form_status { FORM_OK, FORM_NAMELESS, FORM_NAME_TOO_LONG, FORM_TOO_MANY };

void form_init(struct form *f, unsigned max_fields);
/* One chunk of a field's value, as the post processor's iterator gets it. */
enum form_status form_add(struct form *f, const char *name, const char *filename,
                          const char *content_type, const char *data, uint64_t off, size_t size);
struct form_field *form_find(const struct form *f, const char *name);
/* Wipes the values (passwords travel in forms) and frees everything. */
void form_free(struct form *f);

#endif

/*
 * The errors of a form's validation, field by field, as the core returns
 * them (util/field_error.c); the HTTP edge shows each beside its field.
 */
#ifndef ESP_FIELD_ERROR_H
#define ESP_FIELD_ERROR_H

#include <stddef.h>

enum { FIELD_ERRORS_MAX = 48 }; /* more than any form has fields */

struct field_error {
	const char *field;   /* the field's name, as on the form */
	const char *message; /* Chinese, for the applicant; static or in an arena */
};

struct field_errors {
	size_t n;
	struct field_error items[FIELD_ERRORS_MAX];
};

/* Records message as field's error unless it has one: the first stands. */
void field_error_set(struct field_errors *e, const char *field, const char *message);
/* field's error, or NULL. */
const char *field_error_of(const struct field_errors *e, const char *field);

#endif

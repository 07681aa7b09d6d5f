/* The errors of a form's validation, one per field: the first one stands. */
#include "esp/field_error.h"

#include <assert.h>
#include <string.h>

void field_error_set(struct field_errors *e, const char *field, const char *message)
{
	if (field_error_of(e, field))
		return;
	assert(e->n < FIELD_ERRORS_MAX);
	if (e->n < FIELD_ERRORS_MAX)
		e->items[e->n++] = (struct field_error){.field = field, .message = message};
}

const char *field_error_of(const struct field_errors *e, const char *field)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->items[i].field, field) == 0)
			return e->items[i].message;
	return NULL;
}

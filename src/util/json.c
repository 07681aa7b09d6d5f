/* Reading objects of strings: forms' values and rows made into JSON. */
#include "esp/json_util.h"

const char *sval(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

const char *sval_opt(const json_t *o, const char *key)
{
	const char *v = sval(o, key);
	return *v ? v : NULL;
}

void set_err(json_t *errors, const char *name, const char *msg)
{
	if (!json_object_get(errors, name))
		json_object_set_new(errors, name, json_string(msg));
}

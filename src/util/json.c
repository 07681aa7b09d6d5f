/* Reading the posted forms' values, which the edge keeps as objects of strings. */
#include "esp/json_util.h"

const char *sval(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* Store rows as JSON objects, for the callers that still pass rows on as JSON. */
#include "esp/db_json.h"
#include "esp/util.h"

#include <string.h>

/* A JSON string of store text, as json_string() would make it (NULL when the
 * text is not valid UTF-8), with one fast validity scan instead of jansson's. */
static json_t *store_string(const char *v)
{
	size_t n = strlen(v);
	return utf8_valid(v, n) ? json_stringn_nocheck(v, n) : NULL;
}

json_t *db_row_json(const db_result *r, int row)
{
	json_t *o = json_object();
	for (int i = 0; i < r->ncols; i++) {
		const char *v = db_get(r, row, i);
		json_t *jv = v ? store_string(v) : json_null();
		if (jv)
			json_object_set_new_nocheck(o, r->names[i], jv);
	}
	return o;
}

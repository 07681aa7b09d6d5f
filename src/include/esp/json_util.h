/*
 * Reading the objects of strings that forms and store rows still travel in
 * (util/json.c), and the store's rows as such objects (db/db_json.c).
 */
#ifndef ESP_JSON_UTIL_H
#define ESP_JSON_UTIL_H

#include <jansson.h>

#include "esp/db.h"

/* The string under key, "" when absent or not a string. */
const char *sval(const json_t *o, const char *key);
/* The string under key, NULL when absent, not a string or empty. */
const char *sval_opt(const json_t *o, const char *key);
/* Records msg as field name's error unless it has one: the first stands. */
void set_err(json_t *errors, const char *name, const char *msg);

/* One row of r as an object keyed by column name (our own SQL: ASCII
 * names): a NULL cell is JSON null, a cell whose text is not valid UTF-8
 * is left out (new reference). */
json_t *db_row_json(const db_result *r, int row);

#endif

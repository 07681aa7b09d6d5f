/*
 * Reading the objects of strings that forms and store rows still travel in
 * (util/json.c).
 */
#ifndef ESP_JSON_UTIL_H
#define ESP_JSON_UTIL_H

#include <jansson.h>

/* The string under key, "" when absent or not a string. */
const char *sval(const json_t *o, const char *key);
/* The string under key, NULL when absent, not a string or empty. */
const char *sval_opt(const json_t *o, const char *key);
/* Records msg as field name's error unless it has one: the first stands. */
void set_err(json_t *errors, const char *name, const char *msg);

#endif

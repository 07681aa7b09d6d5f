/*
 * Reading the objects of strings that posted forms travel in at the HTTP
 * edge (util/json.c); the core takes typed records instead.
 */
#ifndef ESP_JSON_UTIL_H
#define ESP_JSON_UTIL_H

#include <jansson.h>

/* The string under key, "" when absent or not a string. */
const char *sval(const json_t *o, const char *key);

#endif

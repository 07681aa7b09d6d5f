/*
 * The RA directory (core/directory.c): each province's 数字证书注册机构,
 * its address, contacts and bank details, as the portal shows them.
 */
#ifndef ESP_DIRECTORY_H
#define ESP_DIRECTORY_H

#include <jansson.h>

#include "esp/db.h"
#include "esp/policy.h"

/* One province's entry joined with the province name; "configured" is true
 * when payee, account and address are filled (new reference). */
json_t *ra_directory_get(db_conn *c, const char *province_code);
json_t *ra_directory_list(db_conn *c);
/* Upserts one province's entry from an object of strings. */
enum db_status ra_directory_save(db_conn *c, const struct actor *a, const char *province_code,
                                 json_t *values);
/* The directory's editable fields: [{name, label}] (static, shared). */
json_t *ra_directory_fields(void);

#endif

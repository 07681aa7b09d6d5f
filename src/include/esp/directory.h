/*
 * The RA directory (core/directory.c): each province's 数字证书注册机构,
 * its address, contacts and bank details, as the portal shows them.
 */
#ifndef ESP_DIRECTORY_H
#define ESP_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

/* The editable fields of an entry, in form order: also its columns. */
enum ra_dir_field {
	DIR_RA_NAME,
	DIR_PAYEE,
	DIR_BANK,
	DIR_ACCOUNT_NO,
	DIR_ADDRESS,
	DIR_POSTCODE,
	DIR_RECIPIENT,
	DIR_PHONE,
	DIR_TRAINER_NAME,
	DIR_TRAINER_ADDRESS,
	DIR_TRAINER_PHONE,
	DIR_FIELD_COUNT
};
const char *ra_directory_field_name(enum ra_dir_field f);  /* "ra_name" ... (column) */
const char *ra_directory_field_label(enum ra_dir_field f); /* 注册机构名称 ... */
/* The field named name; false when there is none. */
bool ra_directory_field_parse(const char *name, enum ra_dir_field *out);

/* One province's entry with the province's name; a field not set is "". */
struct ra_directory_entry {
	const char *province_code;
	const char *province;
	const char *field[DIR_FIELD_COUNT];
	int64_t updated_at; /* 0 when never saved */
};
/* Payee, account and address are filled: an applicant can pay and post. */
bool ra_directory_configured(const struct ra_directory_entry *e);
/* The training institution's name and address are filled. */
bool ra_directory_trainer_configured(const struct ra_directory_entry *e);

/* One province's entry (strings in arena); DB_NOT_FOUND for no such province. */
enum db_status ra_directory_get(db_conn *c, struct arena *a, const char *province_code,
                                struct ra_directory_entry *out);
/* Every province's entry in display order (strings and *out in arena). */
enum db_status ra_directory_list(db_conn *c, struct arena *a, struct ra_directory_entry **out,
                                 size_t *n);
/* Replaces one province's entry with e's fields (NULL counts as ""), audited;
 * DB_NOT_FOUND for no such province. */
enum db_status ra_directory_save(db_conn *c, const struct actor *a, const char *province_code,
                                 const struct ra_directory_entry *e);

#endif

/*
 * The authority tree (主管机关) and the provinces (core/authority.c).
 */
#ifndef ESP_AUTHORITY_H
#define ESP_AUTHORITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/util.h"

/* ---- authority tree ---- */
/* JSON array of {id, name, province_code, province, level, depth} in tree order. */
json_t *authority_list(db_conn *c);
/* Loads name, path, province of one authority (arena). */
enum db_status authority_get(db_conn *c, struct arena *a, int64_t id, const char **name,
                             const char **path, const char **province_code);
/* The level (ministry | provincial | river | city | county) and province
 * (NULL for the national ones) of one authority (arena). */
enum db_status authority_level(db_conn *c, struct arena *a, int64_t id, const char **level,
                               const char **province_code);
/* Inserts a child authority and sets its path; run inside a transaction. */
enum db_status authority_insert(db_conn *c, int64_t parent_id, const char *name,
                                const char *province_code, const char *level, int64_t *id_out);
/* The name of an authority in the tree that is the same as name once folded
 * (text_fold: spaces, full-width and case do not count), malloc'ed, or NULL.
 * Reads every name: for the rare writes of authority names, not for pages. */
char *authority_same_name(db_conn *c, const char *name);
/* The first text in column 0 of r that folds to what name folds to
 * (malloc'ed), or NULL. */
char *names_find_folded(const db_result *r, const char *name);

/* ---- provinces ---- */
json_t *province_list(db_conn *c); /* [{code, name}] */
bool province_exists(db_conn *c, const char *code);
/* The code of the province named name, or the name of the one coded code
 * (into arena); DB_NOT_FOUND when there is none. */
enum db_status province_code_of(db_conn *c, struct arena *a, const char *name, const char **code);
enum db_status province_name_of(db_conn *c, struct arena *a, const char *code, const char **name);

#endif

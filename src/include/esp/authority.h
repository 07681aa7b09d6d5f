/*
 * The authority tree (主管机关) and the provinces (core/authority.c).
 */
#ifndef ESP_AUTHORITY_H
#define ESP_AUTHORITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/util.h"

/* ---- authority tree ---- */
/* An authority of the tree as the lists show it. */
struct authority {
	int64_t id;
	const char *name;
	const char *province_code; /* NULL for the ministry and its direct bodies */
	const char *province;      /* the province's name; NULL likewise */
	const char *level;
	const char *path;
	int depth; /* 0 for the ministry, 1 below it ... */
};
/* Every authority in tree order (each right after its parent); strings and
 * *out in arena. */
enum db_status authority_list(db_conn *c, struct arena *a, struct authority **out, size_t *n);
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
struct province {
	const char *code;
	const char *name;
};
/* The provinces in their display order (strings and *out in arena). */
enum db_status province_list(db_conn *c, struct arena *a, struct province **out, size_t *n);
bool province_exists(db_conn *c, const char *code);
/* The code of the province named name, or the name of the one coded code
 * (into arena); DB_NOT_FOUND when there is none. */
enum db_status province_code_of(db_conn *c, struct arena *a, const char *name, const char **code);
enum db_status province_name_of(db_conn *c, struct arena *a, const char *code, const char **name);

#endif

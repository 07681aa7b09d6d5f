/*
 * The base data espctl init writes (core/seed.c).
 */
#ifndef ESP_SEED_H
#define ESP_SEED_H

#include <stdint.h>

#include "esp/db.h"

/* ---- base data (espctl init) ---- */
/* Provinces, 交通运输部, the river authorities and one provincial authority per
 * province; in one transaction. DB_CONFLICT when already there. */
enum db_status seed_base(db_conn *c);
/* Authority id by exact name, 0 when absent. */
int64_t authority_by_name(db_conn *c, const char *name);

#endif

/*
 * Store rows as JSON objects (db/db_json.c), for the core functions that
 * still hand rows on as JSON.
 */
#ifndef ESP_DB_JSON_H
#define ESP_DB_JSON_H

#include <jansson.h>

#include "esp/db.h"

/* One row of r as an object keyed by column name (our own SQL: ASCII
 * names): a NULL cell is JSON null, a cell whose text is not valid UTF-8
 * is left out (new reference). */
json_t *db_row_json(const db_result *r, int row);

#endif

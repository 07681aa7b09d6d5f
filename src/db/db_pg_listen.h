/*
 * Between db_pg.c and db_pg_listen.c: the epoch the listening connection
 * moves (PostgreSQL's commit mark, see db_pg_listen.c).
 */
#ifndef ESP_DB_PG_LISTEN_H
#define ESP_DB_PG_LISTEN_H

#include <stdbool.h>
#include <stdint.h>

/* The epoch now; true while listening (only then is it a mark). */
bool pg_listen_mark(uint64_t *out);
/* This process committed a write: marks taken before no longer hold. */
void pg_listen_bump(void);
bool pg_listen_start(const char *target);
void pg_listen_stop(void);

#endif

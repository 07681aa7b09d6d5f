/*
 * Rate limits kept in the store, so that every espd sharing one database
 * counts together.  A key names what is limited ("login:user:alice",
 * "register:addr:10.0.0.1"); each key allows `limit` events in a window of
 * `window_seconds` that opens with its first event.
 *
 * A slot is reserved BEFORE the work it guards (a password hash, a row
 * written), in one atomic statement: N concurrent callers with a limit of L
 * get exactly min(N, L) allowed, whatever the engine or the number of espd
 * processes.  Windows that have ended are deleted by ratelimit_purge (espd's
 * maintenance), so the table holds only the keys active right now.
 */
#ifndef ESP_RATELIMIT_H
#define ESP_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "esp/db.h"

struct ratelimit_verdict {
	bool allowed;
	int count;           /* events in the window with this one; limit + 1 once refused */
	int64_t window_end;  /* when the window closes (unix time) */
	int64_t retry_after; /* refused: seconds to wait (>= 1); allowed: 0 */
};

/* Reserves one event of key. A limit <= 0 means no limit: allowed, nothing
 * written. DB_OK with *v filled, or the store's error (then *v refuses).
 * Outside a transaction only: a busy store makes it run as one of its own. */
enum db_status ratelimit_reserve(db_conn *c, const char *key, int limit, int window_seconds,
                                 struct ratelimit_verdict *v);
/* Gives back the slot an allowed reservation took, when what it guarded
 * turned out not to count (a right password is not a failure). */
enum db_status ratelimit_release(db_conn *c, const char *key, int limit,
                                 const struct ratelimit_verdict *v);
/* Forgets key and its count (a right password clears its account's failures). */
enum db_status ratelimit_clear(db_conn *c, const char *key);
/* Deletes every window that has ended by now; *deleted (may be NULL) says how many. */
enum db_status ratelimit_purge(db_conn *c, int64_t now, int *deleted);

#endif

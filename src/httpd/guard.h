/* Absolute deadlines per connection and phase (see guard.c). */
#ifndef ESPD_GUARD_H
#define ESPD_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>

enum guard_phase {
	GUARD_HEADERS, /* from the connection's start or its previous request's end */
	GUARD_BODY,    /* from the end of the headers to the end of the body */
	GUARD_SEND,    /* from the queued response to its last byte */
	GUARD_PHASES,
};

struct guard;

/* seconds[p]: how long a connection may stay in phase p; from `pressure`
 * open connections on, the headers get 3 s at most. Starts the watchdog. */
struct guard *guard_new(const int seconds[GUARD_PHASES], unsigned pressure);
/* Stops the watchdog; call after the daemons that use it have stopped. */
void guard_free(struct guard *g);
/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the guard. */
void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode toe);
/* The connection's request enters phase p: its deadline starts now, or at
 * now_us (time_now_us's clock) when the caller has read the clock already. */
void guard_phase(struct guard *g, struct MHD_Connection *conn, enum guard_phase p);
void guard_phase_at(struct guard *g, struct MHD_Connection *conn, enum guard_phase p,
                    int64_t now_us);
/* The same for a connection known by its socket (guard_notify and
 * guard_phase use these; so do the unit tests, without libmicrohttpd):
 * guard_open starts its headers' deadline; guard_close forgets it. */
struct guard_conn;
struct guard_conn *guard_open(struct guard *g, int fd);
void guard_set_phase(struct guard *g, struct guard_conn *e, enum guard_phase p);
void guard_set_phase_at(struct guard *g, struct guard_conn *e, enum guard_phase p, int64_t now_us);
void guard_close(struct guard *g, struct guard_conn *e);
/* How many connections were cut in each phase since the start. */
void guard_counts(struct guard *g, unsigned long out[GUARD_PHASES]);

#endif

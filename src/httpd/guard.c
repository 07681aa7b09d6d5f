/*
 * Deadlines for every connection, whatever the client does.
 *
 * libmicrohttpd's connection timeout is an idle timeout: each byte received
 * resets it, so a client that sends one header byte every few seconds keeps
 * a connection (and its memory) for ever, and a thousand such clients fill
 * a listener.  The guard gives each connection an absolute deadline per
 * phase of a request: the request's headers (counted from the connection's
 * start, or from the end of its previous request on a kept-alive
 * connection; this also covers a TLS handshake), its body, and the sending
 * of the response.  One thread looks twice a second for connections past
 * their deadline and shuts their socket down; libmicrohttpd then sees the
 * connection end and cleans it up in its own thread, as for any client
 * that went away.
 *
 * shutdown() never races with the descriptor's reuse: libmicrohttpd tells
 * us a connection is closed (MHD_CONNECTION_NOTIFY_CLOSED) before it closes
 * the descriptor, and the entry leaves the list under the same lock the
 * watchdog holds while it shuts sockets down.
 *
 * A request changes its connection's phase three times; that is one atomic
 * store into the connection's own entry, no lock: the lock shared by every
 * worker thread is taken only when a connection opens or closes (it was
 * taken on every phase change, with the workers waiting on each other and
 * on the watchdog's sweep).
 */
#include "guard.h"
#include "esp/util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct guard_conn {
	struct guard_conn *prev, *next;
	int fd;
	/* The deadline (µs, monotonic) << 2 | the phase, as one word: the
	 * watchdog reads it without the lock and never sees the deadline of
	 * one phase with another phase. Written by the connection's worker. */
	uint64_t state;
	bool shut; /* under the lock */
};

#define STATE(deadline, phase) ((uint64_t)(deadline) << 2 | (uint64_t)(phase))
#define STATE_DEADLINE(s) ((int64_t)((s) >> 2))
#define STATE_PHASE(s) ((enum guard_phase)((s)&3))
_Static_assert(GUARD_PHASES <= 4, "the phase is kept in two bits");

struct guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct guard_conn head; /* circular list; head is a sentinel */
	int64_t limit_us[GUARD_PHASES];
	unsigned open;     /* connections now: written under the lock, read without */
	unsigned pressure; /* "many" connections from this count on */
	bool stopping;
	pthread_t thread;
	bool started;
	unsigned long cut[GUARD_PHASES];
};

static void *guard_thread(void *arg);

struct guard *guard_new(const int seconds[GUARD_PHASES], unsigned pressure)
{
	struct guard *g = xcalloc(1, sizeof(*g));
	g->pressure = pressure ? pressure : 1;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, NULL);
	g->head.next = g->head.prev = &g->head;
	for (int i = 0; i < GUARD_PHASES; i++)
		g->limit_us[i] = (int64_t)seconds[i] * 1000000;
	g->started = pthread_create(&g->thread, NULL, guard_thread, g) == 0;
	if (!g->started)
		log_error("connection deadlines are not enforced: no watchdog thread");
	return g;
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	if (g->started)
		pthread_join(g->thread, NULL);
	/* The daemons are stopped before this: every connection is gone. */
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->wake);
	free(g);
}

/* While many connections are open, a connection that has not yet sent its
 * headers gets much less time: under a flood of idle or trickling
 * connections from many addresses (which no per-address limit stops),
 * slots free up in seconds for real clients, who send their headers at once. */
#define GUARD_PRESSED_HEADERS_US 3000000

static uint64_t phase_state_at(struct guard *g, enum guard_phase p, int64_t now_us)
{
	int64_t limit = g->limit_us[p];
	if (p == GUARD_HEADERS && __atomic_load_n(&g->open, __ATOMIC_RELAXED) >= g->pressure &&
	    limit > GUARD_PRESSED_HEADERS_US)
		limit = GUARD_PRESSED_HEADERS_US;
	return STATE(now_us + limit, p);
}

static uint64_t phase_state(struct guard *g, enum guard_phase p)
{
	return phase_state_at(g, p, time_now_us());
}

struct guard_conn *guard_open(struct guard *g, int fd)
{
	struct guard_conn *e = xcalloc(1, sizeof(*e));
	e->fd = fd;
	pthread_mutex_lock(&g->lock);
	__atomic_store_n(&g->open, g->open + 1, __ATOMIC_RELAXED);
	e->state = phase_state(g, GUARD_HEADERS);
	e->next = g->head.next;
	e->prev = &g->head;
	g->head.next->prev = e;
	g->head.next = e;
	pthread_mutex_unlock(&g->lock);
	return e;
}

void guard_set_phase_at(struct guard *g, struct guard_conn *e, enum guard_phase p, int64_t now_us)
{
	/* Relaxed is enough: the watchdog acts on whichever deadline it reads,
	 * and one it reads late is at most one sweep (0.5 s) late. */
	__atomic_store_n(&e->state, phase_state_at(g, p, now_us), __ATOMIC_RELAXED);
}

void guard_set_phase(struct guard *g, struct guard_conn *e, enum guard_phase p)
{
	guard_set_phase_at(g, e, p, time_now_us());
}

void guard_close(struct guard *g, struct guard_conn *e)
{
	pthread_mutex_lock(&g->lock);
	__atomic_store_n(&g->open, g->open - 1, __ATOMIC_RELAXED);
	e->prev->next = e->next;
	e->next->prev = e->prev;
	pthread_mutex_unlock(&g->lock);
	free(e);
}

void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode toe)
{
	struct guard *g = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			*socket_context = guard_open(g, ci->connect_fd);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		guard_close(g, *socket_context);
		*socket_context = NULL;
	}
}

void guard_phase_at(struct guard *g, struct MHD_Connection *conn, enum guard_phase p,
                    int64_t now_us)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct guard_conn *e = ci ? ci->socket_context : NULL;
	if (e)
		guard_set_phase_at(g, e, p, now_us);
}

void guard_phase(struct guard *g, struct MHD_Connection *conn, enum guard_phase p)
{
	guard_phase_at(g, conn, p, time_now_us());
}

static int guard_sweep(struct guard *g)
{
	int64_t now = time_now_us();
	int n = 0;
	for (struct guard_conn *e = g->head.next; e != &g->head; e = e->next) {
		uint64_t s = __atomic_load_n(&e->state, __ATOMIC_RELAXED);
		if (e->shut || STATE_DEADLINE(s) > now)
			continue;
		shutdown(e->fd, SHUT_RDWR);
		e->shut = true;
		g->cut[STATE_PHASE(s)]++;
		n++;
	}
	return n;
}

static void *guard_thread(void *arg)
{
	struct guard *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
		if (!g->stopping)
			guard_sweep(g);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

void guard_counts(struct guard *g, unsigned long out[GUARD_PHASES])
{
	pthread_mutex_lock(&g->lock);
	for (int i = 0; i < GUARD_PHASES; i++)
		out[i] = g->cut[i];
	pthread_mutex_unlock(&g->lock);
}

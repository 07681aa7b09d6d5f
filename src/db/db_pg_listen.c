/*
 * PostgreSQL's commit mark: one listening connection per process, told by
 * the server whenever a transaction that moved a generation commits.
 *
 * The triggers that bump the generations (024_generation_notify.sql) also
 * NOTIFY esp_generations; the server delivers a notification to every
 * listener once the transaction has committed, whoever committed it. This
 * thread keeps LISTEN esp_generations open and turns every notification into
 * a step of `epoch`; db_commit_mark hands the epoch out as the mark, so a
 * cache of what a statement read (the generations, core/generation.c) is
 * reused while the epoch stays the same, and every request that loads a
 * session or asks OCSP no longer runs a statement for it.
 *
 * The epoch is odd while the listening connection is up, even while it is
 * not: no mark is given then, and every reader runs its statement as before
 * (the fallback). Every change of state and every notification moves the
 * epoch forward, never back, so a mark taken before a lost or re-established
 * connection never equals one taken after it: notifications missed while
 * down cannot leave a cache stale.
 *
 * The window: another process's commit is seen here once its notification
 * has reached this thread (the server signals its listening backend at
 * commit; on loopback well under a millisecond when neither is starved of
 * CPU). This process's own writes do not wait for that: db_pg.c moves the
 * epoch itself as soon as a COMMIT (or a write outside a transaction)
 * returns, before the request that wrote answers.
 *
 * A silent server (a partition, a host gone without a word) is found by a
 * `SELECT 1` sent every second: unanswered within LISTEN_PING_TIMEOUT_MS, the
 * connection is dropped and the fallback holds until a new one listens.
 */
#include "db_pg_listen.h"

#include "esp/db.h"
#include "esp/util.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_PING_EVERY_MS 1000
#define LISTEN_PING_TIMEOUT_MS 3000
#define LISTEN_RETRY_MS 1000 /* after a lost connection, first retry */
#define LISTEN_RETRY_MAX_MS 5000

static uint64_t epoch;         /* atomic; odd while listening */
static uint64_t notifications; /* atomic; received since the start */

static struct {
	pthread_t tid;
	bool running;
	int wake[2]; /* written to stop the thread */
	char *target;
} L = {.wake = {-1, -1}};

bool pg_listen_mark(uint64_t *out)
{
	uint64_t e = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
	*out = e;
	return e & 1;
}

void pg_listen_bump(void)
{
	/* +2 keeps the parity: a write never makes a process listen. */
	__atomic_add_fetch(&epoch, 2, __ATOMIC_ACQ_REL);
}

void db_listen_stats(bool *listening, uint64_t *received)
{
	*listening = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE) & 1;
	*received = __atomic_load_n(&notifications, __ATOMIC_RELAXED);
}

/* libpq's message, first line. */
static int msg_len(const char *m)
{
	return (int)strcspn(m, "\n");
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits up to ms for the wake pipe; true when the thread is to stop. */
static bool stop_within(int ms)
{
	struct pollfd p = {.fd = L.wake[0], .events = POLLIN};
	return poll(&p, 1, ms) > 0;
}

/* A listening connection to the writable server (notifications are the
 * primary's: a standby can neither send nor listen), or NULL. */
static PGconn *listen_connect(void)
{
	/* connect_timeout: an unreachable server must not hold the thread
	 * (and espd's stop, which joins it) for the system's TCP timeout. */
	const char *const keys[] = {"dbname", "target_session_attrs", "application_name",
	                            "connect_timeout", NULL};
	const char *const vals[] = {L.target, "read-write", "espd-listen", "5", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		const char *m = c ? PQerrorMessage(c) : "out of memory";
		log_error("postgresql: listening connection: %.*s", msg_len(m), m);
		PQfinish(c);
		return NULL;
	}
	PGresult *r = PQexec(c, "LISTEN esp_generations");
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		const char *m = PQerrorMessage(c);
		log_error("postgresql: LISTEN esp_generations failed: %.*s", msg_len(m), m);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Reads what the server sent: false when the connection is gone. */
static bool drain(PGconn *c, bool *ping_out)
{
	if (!PQconsumeInput(c))
		return false;
	while (*ping_out && !PQisBusy(c)) {
		PGresult *r = PQgetResult(c);
		if (!r) {
			*ping_out = false;
			break;
		}
		PQclear(r);
	}
	unsigned n = 0;
	for (PGnotify *m; (m = PQnotifies(c)); n++)
		PQfreemem(m);
	if (n) {
		/* One step for the lot: readers only compare. */
		pg_listen_bump();
		__atomic_add_fetch(&notifications, n, __ATOMIC_RELAXED);
	}
	return PQstatus(c) == CONNECTION_OK;
}

static void *listen_main(void *arg)
{
	(void)arg;
	int retry = LISTEN_RETRY_MS;
	bool said_lost = false;
	for (;;) {
		PGconn *c = listen_connect();
		if (!c) {
			if (stop_within(retry))
				return NULL;
			retry = retry * 2 < LISTEN_RETRY_MAX_MS ? retry * 2 : LISTEN_RETRY_MAX_MS;
			continue;
		}
		/* Listening from here: what committed before is read by the
		 * statement the next reader runs (its mark is older). */
		__atomic_add_fetch(&epoch, 1, __ATOMIC_ACQ_REL);
		if (said_lost)
			log_info("postgresql: listening again for the generations' changes");
		retry = LISTEN_RETRY_MS;
		bool ping_out = false, lost = false;
		int64_t ping_at = now_ms();
		for (;;) {
			int64_t t = now_ms();
			if (ping_out && t - ping_at > LISTEN_PING_TIMEOUT_MS) {
				log_error(
				    "postgresql: the listening connection did not answer in %d ms",
				    LISTEN_PING_TIMEOUT_MS);
				lost = true;
				break;
			}
			if (!ping_out && t - ping_at >= LISTEN_PING_EVERY_MS) {
				if (!PQsendQuery(c, "SELECT 1")) {
					lost = true;
					break;
				}
				ping_out = true;
				ping_at = t;
			}
			struct pollfd p[2] = {{.fd = PQsocket(c), .events = POLLIN},
			                      {.fd = L.wake[0], .events = POLLIN}};
			int wait = ping_out ? LISTEN_PING_TIMEOUT_MS : LISTEN_PING_EVERY_MS;
			if (poll(p, 2, wait) < 0 && errno != EINTR) {
				lost = true;
				break;
			}
			if (p[1].revents)
				break;
			if (p[0].revents && !drain(c, &ping_out)) {
				const char *m = PQerrorMessage(c);
				log_error("postgresql: the listening connection was lost: %.*s",
				          msg_len(m), m);
				lost = true;
				break;
			}
		}
		/* Not listening: every reader runs its statement again. */
		__atomic_add_fetch(&epoch, 1, __ATOMIC_ACQ_REL);
		PQfinish(c);
		if (!lost)
			return NULL;
		said_lost = true;
		if (stop_within(retry))
			return NULL;
	}
}

bool pg_listen_start(const char *target)
{
	if (L.running)
		return true;
	if (pipe(L.wake) != 0)
		return false;
	L.target = xstrdup(target);
	if (pthread_create(&L.tid, NULL, listen_main, NULL) != 0) {
		close(L.wake[0]);
		close(L.wake[1]);
		free(L.target);
		L.target = NULL;
		return false;
	}
	L.running = true;
	return true;
}

void pg_listen_stop(void)
{
	if (!L.running)
		return;
	ssize_t w = write(L.wake[1], "x", 1);
	(void)w;
	pthread_join(L.tid, NULL);
	close(L.wake[0]);
	close(L.wake[1]);
	/* It may hold the password. */
	explicit_bzero(L.target, strlen(L.target));
	free(L.target);
	L.target = NULL;
	L.running = false;
}

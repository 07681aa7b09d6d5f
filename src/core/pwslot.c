/*
 * A bound on concurrent password hashes (Argon2id). Each hash at the
 * production cost allocates 64 MiB for as long as it runs, so with every
 * worker hashing at once espd's peak memory was its resting size plus 64 MiB
 * per worker. Requests that hash (registration, password login) take a slot
 * with a time limit and are answered 503 with Retry-After when none frees
 * in time, rather than queueing without end.
 */
#include "esp/pwslot.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed = PTHREAD_COND_INITIALIZER;
static int slots;   /* 0: no bound */
static int wait_ms; /* a bounded enter's patience */
static int in_use;
static _Thread_local int depth; /* this thread's holds (re-entrant) */

void pwslot_configure(int n, int ms)
{
	pthread_mutex_lock(&lock);
	slots = n > 0 ? n : 0;
	wait_ms = ms > 0 ? ms : 0;
	pthread_mutex_unlock(&lock);
}

bool pwslot_enter(bool bounded)
{
	if (depth > 0) {
		depth++;
		return true;
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	pthread_mutex_lock(&lock);
	long ns = until.tv_nsec + (long)(wait_ms % 1000) * 1000000L;
	until.tv_sec += wait_ms / 1000 + ns / 1000000000L;
	until.tv_nsec = ns % 1000000000L;
	bool ok = true;
	while (slots > 0 && in_use >= slots) {
		int e = bounded ? pthread_cond_timedwait(&freed, &lock, &until)
		                : pthread_cond_wait(&freed, &lock);
		if (e == ETIMEDOUT && in_use >= slots) {
			ok = false;
			break;
		}
	}
	if (ok)
		in_use++;
	pthread_mutex_unlock(&lock);
	if (ok)
		depth = 1;
	return ok;
}

void pwslot_leave(void)
{
	if (depth == 0 || --depth > 0)
		return;
	pthread_mutex_lock(&lock);
	in_use--;
	pthread_cond_signal(&freed);
	pthread_mutex_unlock(&lock);
}

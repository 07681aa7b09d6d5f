/*
 * The committer: one thread that stores every issuance queued while the
 * previous batch was being committed, in one transaction, so that one
 * COMMIT (one fsync of SQLite's WAL at sqlite_synchronous = full) serves
 * every request in flight.
 *
 * Request threads of an HTTP server handle one request at a time each, so
 * at most as many issuances as threads could meet at the store when each
 * thread waited for its own COMMIT: with two workers, one COMMIT served one
 * certificate (bench/RESULTS.md, "Durability and the issuance rate").  Here
 * a request thread only checks the CSR, queues the job and suspends its
 * connection; it is free for the next request at once, and the queue fills
 * up while a COMMIT is being synced.
 *
 * Bounds: the queue (a full queue refuses at once: the caller answers 503),
 * the batch, and the time a job may wait in the queue (older jobs are
 * answered busy when the committer reaches them, never stored).  A batch's
 * own time is bounded by the store's (busy timeout, db_transaction's retry
 * budget).  Lock order: the committer's lock, then whatever the owner's
 * suspend and done callbacks take (libmicrohttpd's connection lock); the
 * owner's release takes the committer's lock and nothing else, so a request
 * that ends (a client gone, a daemon stopping) can never race a done call:
 * either it let go first and is not told, or it is told first.
 */
#include "issue_job.h"
#include "esp/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct issue_committer {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	db_pool *pool;
	struct issue_committer_limits lim;
	struct issue_job *head, **tail; /* the queue, oldest first */
	unsigned queued;
	bool stopping, held, joined;
	unsigned told_at_stop; /* jobs answered once stopping: connections resumed */
	pthread_t thread;
	struct issue_commit_stats stats;
};

static unsigned size_bucket(size_t n)
{
	unsigned b = 0;
	for (size_t top = 1; b + 1 < ISSUE_BATCH_BUCKETS && n > top; top *= 2)
		b++;
	return b;
}

/* Tells the owner (or frees an orphan); under q->lock. */
static void finish_locked(struct issue_committer *q, struct issue_job *j)
{
	(void)q;
	if (j->orphan) {
		issue_job_destroy(j);
		return;
	}
	j->state = JOB_DONE;
	j->done(j->done_arg);
}

/* Takes at most max_batch jobs off the queue (q->lock held); those that
 * waited too long are answered busy at once. */
static struct issue_job *take_locked(struct issue_committer *q, size_t *n)
{
	int64_t oldest = time_now_us() - (int64_t)q->lim.max_wait_ms * 1000;
	struct issue_job *batch = NULL, **bt = &batch;
	*n = 0;
	while (q->head && *n < q->lim.max_batch) {
		struct issue_job *j = q->head;
		q->head = j->next;
		q->queued--;
		j->next = NULL;
		if (j->queued_us < oldest) {
			j->busy = true;
			q->stats.busy++;
			finish_locked(q, j);
			continue;
		}
		j->state = JOB_RUNNING;
		*bt = j;
		bt = &j->next;
		(*n)++;
	}
	if (!q->head)
		q->tail = &q->head;
	return batch;
}

/* The WAL's size, in frames, at which the committer checkpoints it between
 * batches (SQLite's own default for its automatic checkpoint): see
 * db_checkpoint_over. */
enum { CHECKPOINT_FRAMES = 1000 };

/* Stores the batch (outside the lock): one transaction, one COMMIT.
 * Returns the connection it used (NULL when none came), for the
 * checkpoint after the batch is answered. */
static db_conn *store_batch(struct issue_committer *q, struct issue_job *batch)
{
	db_conn *c = db_acquire_wait(q->pool, q->lim.store_wait_ms);
	if (!c) {
		for (struct issue_job *j = batch; j; j = j->next)
			j->busy = true;
		return NULL;
	}
	struct batch_item *list = NULL, **lt = &list;
	for (struct issue_job *j = batch; j; j = j->next) {
		j->item.next = NULL;
		j->item.st = DB_ERROR;
		*lt = &j->item;
		lt = &j->item.next;
	}
	issue_batch_run(c, list);
	return c;
}

static void *committer_thread(void *arg)
{
	struct issue_committer *q = arg;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stopping && (q->held || !q->head))
			pthread_cond_wait(&q->wake, &q->lock);
		if (q->stopping)
			break;
		size_t n = 0;
		struct issue_job *batch = take_locked(q, &n);
		if (!batch)
			continue;
		pthread_mutex_unlock(&q->lock);
		db_conn *c = store_batch(q, batch);
		pthread_mutex_lock(&q->lock);
		if (q->stopping)
			q->told_at_stop += (unsigned)n;
		q->stats.batches++;
		q->stats.jobs += n;
		q->stats.sizes[size_bucket(n)]++;
		if (n > q->stats.max_batch)
			q->stats.max_batch = n;
		for (struct issue_job *j = batch, *next; j; j = next) {
			next = j->next;
			if (j->busy)
				q->stats.busy++;
			finish_locked(q, j);
		}
		if (c) {
			/* After the answers: the next batch waits, not this one. */
			pthread_mutex_unlock(&q->lock);
			db_checkpoint_over(c, CHECKPOINT_FRAMES);
			db_release(q->pool, c);
			pthread_mutex_lock(&q->lock);
		}
	}
	/* Stopping: what is still queued is answered busy, never stored. */
	while (q->head) {
		struct issue_job *j = q->head;
		q->head = j->next;
		q->queued--;
		j->next = NULL;
		j->busy = true;
		q->stats.busy++;
		q->told_at_stop++;
		finish_locked(q, j);
	}
	q->tail = &q->head;
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct issue_committer *issue_committer_start(db_pool *pool, const struct issue_committer_limits *l)
{
	struct issue_committer *q = xcalloc(1, sizeof(*q));
	q->pool = pool;
	q->lim = *l;
	if (!q->lim.max_queue)
		q->lim.max_queue = 1;
	if (!q->lim.max_batch)
		q->lim.max_batch = 1;
	q->tail = &q->head;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	if (pthread_create(&q->thread, NULL, committer_thread, q) != 0) {
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->wake);
		free(q);
		return NULL;
	}
	return q;
}

unsigned issue_committer_stop(struct issue_committer *q)
{
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_signal(&q->wake);
	bool joined = q->joined;
	q->joined = true;
	pthread_mutex_unlock(&q->lock);
	if (!joined)
		pthread_join(q->thread, NULL);
	return q->told_at_stop;
}

void issue_committer_free(struct issue_committer *q)
{
	if (!q)
		return;
	issue_committer_stop(q);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->wake);
	free(q);
}

bool issue_committer_submit(struct issue_committer *q, struct issue_job *j,
                            void (*suspend)(void *arg), void (*done)(void *arg), void *arg)
{
	pthread_mutex_lock(&q->lock);
	if (q->stopping || q->queued >= q->lim.max_queue) {
		q->stats.refused++;
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	suspend(arg);
	j->q = q;
	j->state = JOB_QUEUED;
	j->done = done;
	j->done_arg = arg;
	j->queued_us = time_now_us();
	j->next = NULL;
	*q->tail = j;
	q->tail = &j->next;
	q->queued++;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	return true;
}

void issue_job_release(struct issue_job *j)
{
	if (!j)
		return;
	struct issue_committer *q = j->q;
	if (!q) { /* never submitted */
		issue_job_destroy(j);
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (j->state == JOB_QUEUED) {
		/* Not stored, and never will be: nobody would be told. */
		struct issue_job **p = &q->head;
		while (*p && *p != j)
			p = &(*p)->next;
		if (*p) {
			*p = j->next;
			q->queued--;
		}
		q->tail = &q->head;
		while (*q->tail)
			q->tail = &(*q->tail)->next;
		issue_job_destroy(j);
	} else if (j->state == JOB_RUNNING) {
		j->orphan = true; /* freed after its COMMIT */
	} else {
		issue_job_destroy(j);
	}
	pthread_mutex_unlock(&q->lock);
}

void issue_committer_hold(struct issue_committer *q, bool hold)
{
	pthread_mutex_lock(&q->lock);
	q->held = hold;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
}

void issue_committer_stats(struct issue_committer *q, struct issue_commit_stats *s)
{
	pthread_mutex_lock(&q->lock);
	*s = q->stats;
	pthread_mutex_unlock(&q->lock);
}

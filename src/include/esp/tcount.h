/*
 * Counters kept per thread and summed when read (util/tcount.c).
 *
 * A counter every request adds to, shared by the worker threads, is a cache
 * line the CPUs take from each other on every addition. Here each thread
 * adds to its own copy (a plain store: no other thread writes it), and a
 * reader sums the copies. A thread's copy outlives it: a thread that ends
 * leaves its counts to the next thread that attaches, so no count is lost
 * and the sums never go down.
 */
#ifndef ESP_TCOUNT_H
#define ESP_TCOUNT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tcount_shard;

/* One set of n counters; define it static with TCOUNT_SET(n). */
struct tcount_set {
	size_t n;
	pthread_mutex_t lock;
	bool key_made;
	pthread_key_t key;
	struct tcount_shard *shards;
};
#define TCOUNT_SET(count)                                                                          \
	{                                                                                          \
		.n = (count), .lock = PTHREAD_MUTEX_INITIALIZER                                    \
	}

/* This thread's n counters in s, attached on its first call; keep the
 * pointer in a _Thread_local. Never NULL (aborts when out of memory). */
uint64_t *tcount_attach(struct tcount_set *s);

/* Adds to a counter of this thread's own (from tcount_attach). */
static inline void tcount_add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* out[i] = the sum of counter i over every thread that attached, i < s->n. */
void tcount_sum(struct tcount_set *s, uint64_t *out);

#endif

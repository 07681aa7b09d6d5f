/*
 * Per-thread counters (esp/tcount.h): one shard of counters per attached
 * thread, in a list that only grows; a shard whose thread ended is taken
 * over, counts and all, by the next thread that attaches.
 */
#include "esp/tcount.h"
#include "esp/util.h"

#include <stdlib.h>
#include <string.h>

struct tcount_shard {
	struct tcount_shard *next;
	struct tcount_set *set;
	bool in_use;
	/* Its own cache lines: a neighbour's additions never touch them. */
	_Alignas(64) uint64_t v[];
};

static void shard_left(void *p)
{
	struct tcount_shard *sh = p;
	pthread_mutex_lock(&sh->set->lock);
	sh->in_use = false;
	pthread_mutex_unlock(&sh->set->lock);
}

uint64_t *tcount_attach(struct tcount_set *s)
{
	pthread_mutex_lock(&s->lock);
	if (!s->key_made) {
		if (pthread_key_create(&s->key, shard_left) != 0)
			abort();
		s->key_made = true;
	}
	struct tcount_shard *sh = s->shards;
	while (sh && sh->in_use)
		sh = sh->next;
	if (!sh) {
		size_t bytes = sizeof(*sh) + s->n * sizeof(uint64_t);
		bytes = (bytes + 63) & ~(size_t)63;
		sh = aligned_alloc(64, bytes);
		if (!sh)
			abort();
		memset(sh, 0, bytes);
		sh->set = s;
		sh->next = s->shards;
		s->shards = sh;
	}
	sh->in_use = true;
	pthread_mutex_unlock(&s->lock);
	pthread_setspecific(s->key, sh);
	return sh->v;
}

void tcount_sum(struct tcount_set *s, uint64_t *out)
{
	memset(out, 0, s->n * sizeof(uint64_t));
	pthread_mutex_lock(&s->lock);
	for (struct tcount_shard *sh = s->shards; sh; sh = sh->next)
		for (size_t i = 0; i < s->n; i++)
			out[i] += __atomic_load_n(&sh->v[i], __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
}

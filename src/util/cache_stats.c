/* Hits and misses of espd's in-memory caches (esp/cache_stats.h). */
#include "esp/cache_stats.h"

static uint64_t hits[CACHE_KINDS], misses[CACHE_KINDS];

void cache_stat(enum cache_kind k, bool hit)
{
	__atomic_add_fetch(hit ? &hits[k] : &misses[k], 1, __ATOMIC_RELAXED);
}

void cache_stats_read(enum cache_kind k, uint64_t *h, uint64_t *m)
{
	*h = __atomic_load_n(&hits[k], __ATOMIC_RELAXED);
	*m = __atomic_load_n(&misses[k], __ATOMIC_RELAXED);
}

const char *cache_kind_name(enum cache_kind k)
{
	static const char *const names[CACHE_KINDS] = {[CACHE_SESSIONS] = "sessions",
	                                               [CACHE_REVIEW_QUEUE] = "review_queue",
	                                               [CACHE_RA_SEARCH] = "ra_search"};
	return names[k];
}

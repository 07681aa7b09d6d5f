/* Hits and misses of espd's in-memory caches (esp/cache_stats.h). */
#include "esp/cache_stats.h"
#include "esp/tcount.h"

/* Per thread (esp/tcount.h): hits of kind k at k, misses at CACHE_KINDS + k. */
static struct tcount_set counts = TCOUNT_SET(2 * CACHE_KINDS);
static _Thread_local uint64_t *mine;

void cache_stat(enum cache_kind k, bool hit)
{
	if (!mine)
		mine = tcount_attach(&counts);
	tcount_add(&mine[hit ? k : CACHE_KINDS + k], 1);
}

void cache_stats_read(enum cache_kind k, uint64_t *h, uint64_t *m)
{
	uint64_t sum[2 * CACHE_KINDS];
	tcount_sum(&counts, sum);
	*h = sum[k];
	*m = sum[CACHE_KINDS + k];
}

const char *cache_kind_name(enum cache_kind k)
{
	static const char *const names[CACHE_KINDS] = {[CACHE_SESSIONS] = "sessions",
	                                               [CACHE_REVIEW_QUEUE] = "review_queue",
	                                               [CACHE_RA_SEARCH] = "ra_search"};
	return names[k];
}

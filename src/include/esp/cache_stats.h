/*
 * Hits and misses of espd's in-memory caches, for /metrics (util/cache_stats.c).
 * Counted per thread (esp/tcount.h): a cache pays one plain addition per lookup.
 */
#ifndef ESP_CACHE_STATS_H
#define ESP_CACHE_STATS_H

#include <stdbool.h>
#include <stdint.h>

enum cache_kind {
	CACHE_SESSIONS,     /* sessions by cookie (core/account.c) */
	CACHE_REVIEW_QUEUE, /* the reviewers' rendered queues (httpd/page_review.c) */
	CACHE_RA_SEARCH,    /* the RA's rendered search results and home pages (httpd/page_ra.c) */
	CACHE_KINDS
};

void cache_stat(enum cache_kind k, bool hit);
void cache_stats_read(enum cache_kind k, uint64_t *hits, uint64_t *misses);
/* The label in /metrics: "sessions", "review_queue", "ra_search". */
const char *cache_kind_name(enum cache_kind k);

#endif

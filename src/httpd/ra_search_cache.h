/* The RA's rendered search results and home pages, kept while the
 * applications' generation stays the same (ra_search_cache.c). */
#ifndef ESP_RA_SEARCH_CACHE_H
#define ESP_RA_SEARCH_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* entries: slots (0 = keep nothing); made once at start-up. */
void ra_search_cache_init(long entries);
/* A malloc'ed copy of the page kept under key at generation, or NULL. */
char *ra_search_cache_get(const char *key, int64_t generation, size_t *len);
void ra_search_cache_put(const char *key, int64_t generation, const char *html, size_t len);

#endif

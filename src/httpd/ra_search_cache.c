/*
 * The RA's search results as rendered, by (scope, filters, text, page).
 * A search by part of a name reads the trigram lists of the text, and the
 * common ones ("运输", "有限公司") list nearly every application: 2-5 ms a
 * time on a national store, which 16 operators at once turned into a p99
 * above 100 ms. What a search shows changes only with the applications, their
 * registrations' names and codes and the provinces' names, and the store's
 * triggers bump the 'applications' generation on each of those
 * (021_applications_generation.sql), whoever writes; a new registration or a
 * reviewer's decision does not. An entry is also tied to the minute it was
 * made (in its key), since the overdue marks and day counts move with time.
 * A direct-mapped table: a new search takes the slot of whatever hashed there.
 */
#include "ra_search_cache.h"
#include "esp/cache_stats.h"
#include "esp/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *key;
	int64_t generation;
	char *html;
	size_t len;
};

static struct entry *slots;
static size_t nslots;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void ra_search_cache_init(long entries)
{
	if (entries <= 0 || slots)
		return;
	nslots = (size_t)entries;
	slots = xcalloc(nslots, sizeof *slots);
}

char *ra_search_cache_get(const char *key, int64_t generation, size_t *len)
{
	if (!nslots || generation < 0)
		return NULL;
	struct entry *e = &slots[str_hash(key) % nslots];
	char *html = NULL;
	pthread_mutex_lock(&lock);
	if (e->key && e->generation == generation && strcmp(e->key, key) == 0) {
		html = xmalloc(e->len + 1);
		memcpy(html, e->html, e->len + 1);
		*len = e->len;
	}
	pthread_mutex_unlock(&lock);
	cache_stat(CACHE_RA_SEARCH, html != NULL);
	return html;
}

void ra_search_cache_put(const char *key, int64_t generation, const char *html, size_t len)
{
	if (!nslots || generation < 0)
		return;
	struct entry *e = &slots[str_hash(key) % nslots];
	char *k = xstrdup(key), *h = xstrndup(html, len);
	pthread_mutex_lock(&lock);
	/* A result made at an older generation never replaces a newer one. */
	if (e->key && strcmp(e->key, key) == 0 && e->generation > generation) {
		pthread_mutex_unlock(&lock);
		free(k);
		free(h);
		return;
	}
	char *old_k = e->key, *old_h = e->html;
	*e = (struct entry){.key = k, .generation = generation, .html = h, .len = len};
	pthread_mutex_unlock(&lock);
	free(old_k);
	free(old_h);
}

/*
 * The kept places of the reviewers' queues (esp/queue_marks.h): a small
 * table of queues by key, each slot replaced whole, under one lock held only
 * to copy a slot in or out (no statement runs under it).
 */
#include "esp/queue_marks.h"
#include "esp/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A reviewer sees one subtree: 交通运输部, the provinces and their cities'
 * reviewers, four tabs each; only wide queues with deep pages use it. */
#define SLOTS 256

struct slot {
	char *key;
	struct queue_anchor a;
};

struct queue_marks {
	pthread_mutex_t lock;
	struct slot slots[SLOTS];
};

struct queue_marks *queue_marks_new(void)
{
	struct queue_marks *m = xcalloc(1, sizeof *m);
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void queue_marks_free(struct queue_marks *m)
{
	if (!m)
		return;
	for (int i = 0; i < SLOTS; i++)
		free(m->slots[i].key);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

bool queue_marks_get(struct queue_marks *m, const char *key, struct queue_anchor *out)
{
	struct slot *s = &m->slots[str_hash(key) % SLOTS];
	pthread_mutex_lock(&m->lock);
	bool found = s->key && strcmp(s->key, key) == 0;
	if (found)
		*out = s->a;
	pthread_mutex_unlock(&m->lock);
	return found;
}

void queue_marks_put(struct queue_marks *m, const char *key, const struct queue_anchor *a)
{
	struct slot *s = &m->slots[str_hash(key) % SLOTS];
	char *k = NULL;
	pthread_mutex_lock(&m->lock);
	if (!s->key || strcmp(s->key, key) != 0) {
		k = s->key;
		s->key = xstrdup(key);
	}
	s->a = *a;
	pthread_mutex_unlock(&m->lock);
	free(k);
}

void queue_anchor_add(struct queue_anchor *a, struct queue_mark mk)
{
	/* A mark near another one saves no walk the other does not. */
	int at = -1;
	int64_t far = -1;
	for (int i = 0; i < a->nmarks; i++) {
		int64_t d = llabs(a->marks[i].pos - mk.pos);
		if (d < QUEUE_MARK_NEAR) {
			at = i;
			break;
		}
		if (a->nmarks == QUEUE_MARKS_PER_QUEUE && d > far) {
			far = d;
			at = i;
		}
	}
	if (at < 0)
		at = a->nmarks++;
	a->marks[at] = mk;
}

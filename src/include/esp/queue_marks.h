/*
 * Kept places in the reviewers' queues (registration_queue_marked): for each
 * queue (subtree and state), the key of a few rows and where each stood, and
 * the counters of the store (025_queue_marks.sql) at the moment they did.
 * A later page starts from the nearest kept row instead of walking every
 * row before it (OFFSET). Owned by whoever makes it (espd: one for the
 * process); its own lock lets every thread share it.
 */
#ifndef ESP_QUEUE_MARKS_H
#define ESP_QUEUE_MARKS_H

#include <stdbool.h>
#include <stdint.h>

/* One row of a queue: its key in the queue's order (created_at, id; newest
 * first) and its place (0 = the first row). */
struct queue_mark {
	int64_t pos, created_at, id;
};

#define QUEUE_MARKS_PER_QUEUE 8

/* What is known of one queue, all of it as of one state of the store. */
struct queue_anchor {
	int64_t total, ins, moves; /* the queue's counters then */
	int64_t top_at, top_id;    /* its first row then */
	int nmarks;
	struct queue_mark marks[QUEUE_MARKS_PER_QUEUE];
};

struct queue_marks;

struct queue_marks *queue_marks_new(void);
void queue_marks_free(struct queue_marks *m);
/* A copy of what is kept for key (false: nothing). */
bool queue_marks_get(struct queue_marks *m, const char *key, struct queue_anchor *out);
/* Keeps a (whole: it replaces what was kept for key). */
void queue_marks_put(struct queue_marks *m, const char *key, const struct queue_anchor *a);
/* Adds a mark to a: in place of one fewer than QUEUE_MARK_NEAR rows away,
 * or else, when a holds QUEUE_MARKS_PER_QUEUE already, of the farthest. */
#define QUEUE_MARK_NEAR 64
void queue_anchor_add(struct queue_anchor *a, struct queue_mark mk);

#endif

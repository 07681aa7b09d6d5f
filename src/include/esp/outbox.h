/*
 * The outbox's delivery steps (core/outbox.c), for espd's mail worker and
 * the admin's mail page. Each step is one conditional UPDATE, so two
 * workers, or a worker and an admin, never both win the same row.
 *
 * The guarantee (docs/mail.md): a message is handed to the SMTP server at
 * most once by ESP's own doing, and none is lost silently: every row ends
 * sent (the server's 250 is recorded), dead (refused for good or out of
 * attempts; retry on the admin page) or in_doubt (espd died or the link
 * broke in the one round trip between the DATA's final "." and the
 * recording of the reply: shown to the admin, who decides).
 */
#ifndef ESP_OUTBOX_H
#define ESP_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

struct outbox_msg {
	int64_t id;
	char kind[32];
	char audience[8];
	char recipient[256];
	char *params; /* JSON text, malloc'ed: outbox_msg_clear frees it */
	int attempts; /* including this one */
};
void outbox_msg_clear(struct outbox_msg *m);

/* Claims the next due row (pending and due, or sending with its lease run
 * out) for lease_seconds under token. DB_NOT_FOUND: nothing due. */
enum db_status outbox_claim(db_conn *c, int64_t now, int lease_seconds, const char *token,
                            struct outbox_msg *m);
/* Just before the final "." goes out. DB_CONFLICT: the lease is no longer
 * ours (another worker took the row): the "." must not be sent. */
enum db_status outbox_committing(db_conn *c, int64_t id, const char *token);
/* The server's 250. */
enum db_status outbox_sent(db_conn *c, int64_t id, const char *token, const char *reply);
/* Not accepted (the "." was never sent, or the server refused it): due
 * again after retry_after seconds, or dead when permanent or when
 * max_attempts are spent. */
enum db_status outbox_failed(db_conn *c, int64_t id, const char *token, const char *error,
                             bool permanent, int64_t retry_after, int max_attempts);
/* The "." went out and no reply came. */
enum db_status outbox_in_doubt(db_conn *c, int64_t id, const char *token, const char *error);
/* Rows left committing by a worker whose lease ran out become in_doubt;
 * *n says how many. */
enum db_status outbox_expire(db_conn *c, int64_t now, int *n);

/* The wait after `attempts` failed attempts: retry_seconds doubled for
 * each attempt after the first, at most max_seconds. */
int64_t outbox_backoff(int attempts, int retry_seconds, int max_seconds);

/* The admin's view: how many rows are in each state, and the rows of one
 * state, newest first (*out and its strings in arena; "" for NULL). */
struct outbox_counts {
	int64_t pending, sending, committing, in_doubt, sent, dead, no_address;
};
enum db_status outbox_counts(db_conn *c, struct outbox_counts *out);
struct outbox_row {
	int64_t id;
	const char *kind, *audience, *recipient, *state, *last_error;
	int attempts;
	int64_t next_at, created_at;
};
enum db_status outbox_list(db_conn *c, struct arena *a, const char *state, int limit,
                           struct outbox_row **out, size_t *n);
/* The admin's decisions, audited: a dead or in_doubt row sent again (its
 * attempts start over), or an in_doubt row recorded as delivered.
 * DB_CONFLICT: the row is not in a state that allows it. */
enum db_status outbox_retry(db_conn *c, const struct actor *a, int64_t id);
enum db_status outbox_delivered(db_conn *c, const struct actor *a, int64_t id);
/* Every dead letter sent again (after the mail server's long outage), in
 * one audited step; *n says how many. In-doubt rows are left to decide one
 * by one. */
enum db_status outbox_retry_dead(db_conn *c, const struct actor *a, int *n);

#endif

/*
 * The RA back office: the work queue and its figures, the recorded steps of
 * an application (payment, materials, return, shipping, receipt) and its
 * history (core/ra.c).  Issuance is in issue.h, revocation and the CRL in
 * revoke.h, the certificates' lists in certificate.h, the API tokens of RA
 * workstations in api_token.h.
 *
 * Every change runs in one transaction with its application event and audit
 * entry; a step that the state does not allow answers DB_CONFLICT.
 */
#ifndef ESP_RA_H
#define ESP_RA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/application.h"

struct ra_filter {
	const char *province; /* NULL = all (admin) */
	bool evaluators_only; /* training institutions */
	const char *state;    /* NULL/"" = any */
	const char *kind;     /* NULL/"" = any */
	int64_t from, to;     /* submitted between (0 = open) */
	bool overdue;
	const char *q; /* number, name or code contains */
	int limit, offset;
};

/* What the back office shows an operator: its province (the admin: all),
 * and only evaluators to a training institution. */
void ra_filter_scope(const struct actor *a, struct ra_filter *f);
/* One application of the queue. */
struct ra_queue_item {
	const char *number;
	const char *state; /* as stored */
	int sets;
	int64_t amount_yuan;
	int64_t submitted_at;
	enum reg_kind kind;
	const char *name, *code, *province; /* the registration's, the province's name */
	bool overdue;
	int64_t days;       /* since the later of payment and materials; -1 before both */
	enum app_type type; /* 业务类型: renewals and unlocks are in the same queue */
	/* 丢失补办, 损坏补办: the old certificate; else NULL */
	const char *replaces_serial;
};
/* The queue, overdue first then oldest first (strings and *out in arena);
 * *total counts every match, beyond f->limit. */
enum db_status ra_queue(db_conn *c, struct arena *a, const struct ra_filter *f, int delivery_days,
                        struct ra_queue_item **out, size_t *n, int64_t *total);
/* The most matches a search reads into memory before ra_queue pages it in
 * the store instead (n <= 0: the built-in 20,000); for tests. */
void ra_search_rows_set(int n);
/* How many applications are in each state, and how many are overdue. */
struct ra_stats {
	int64_t count[APP_STATE_COUNT];
	int64_t overdue;
};
enum db_status ra_stats(db_conn *c, const struct ra_filter *f, int delivery_days,
                        struct ra_stats *out);
/* One day of the last `days`: applications received, keys shipped. */
struct ra_day {
	int64_t start; /* 00:00 China Standard Time, Unix seconds */
	int64_t received, shipped;
};
/* The last `days` days, oldest first (*out in arena, `days` of them). */
enum db_status ra_daily(db_conn *c, struct arena *a, const struct ra_filter *f, int days,
                        struct ra_day **out);
/* One event of an application's history. */
struct app_event {
	int64_t at;
	const char *actor, *action;
	const char *from_state, *to_state; /* as stored */
	const char *note;                  /* NULL for none */
};
/* The history of an application, oldest first (strings and *out in arena). */
enum db_status application_history(db_conn *c, struct arena *a, int64_t app_id,
                                   struct app_event **out, size_t *n);

enum db_status ra_record_payment(db_conn *c, const struct actor *a, const char *number, long amount,
                                 int64_t paid_on, const char *payer, const char *bank_ref,
                                 const char *note);
enum db_status ra_record_materials(db_conn *c, const struct actor *a, const char *number,
                                   const char *checklist);
enum db_status ra_return(db_conn *c, const struct actor *a, const char *number, const char *reason);
/* Units: shipped with courier and tracking number; evaluators: ready_for_pickup. */
enum db_status ra_ship(db_conn *c, const struct actor *a, const char *number, const char *courier,
                       const char *tracking);
enum db_status ra_mark_received(db_conn *c, const struct actor *a, const char *number);
/* The applicant has corrected a returned application: back to work. */
enum db_status application_resubmit(db_conn *c, const struct actor *a, const char *number);

#endif

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

#include <jansson.h>

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
/* The queue, overdue first then oldest first; each row with "days" (since the
 * later of payment and materials) and "overdue". */
json_t *ra_queue(db_conn *c, const struct ra_filter *f, int delivery_days, int64_t *total);
/* Counts per state and overdue: {"states":[{state,label,count}], "overdue": n}. */
json_t *ra_stats(db_conn *c, const struct ra_filter *f, int delivery_days);
/* Applications received and keys shipped per day for the last `days` days. */
json_t *ra_daily(db_conn *c, const struct ra_filter *f, int days);
/* The history of an application (events, oldest first). */
json_t *application_history(db_conn *c, int64_t app_id, struct arena *a);

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

/*
 * Notifications: which events are told to whom, written to the outbox in
 * the caller's transaction (see esp/notify.h), and the daily job that finds
 * certificates entering their renewal window and applications past their
 * delivery promise.
 *
 * A row keeps the facts of the event (params) rather than the rendered
 * message: the core never renders; the mail worker and the pages render the
 * same facts with the same template (templates/mail_<kind>.html), so the
 * notice on the page and the e-mail always say the same thing.
 */
#include "esp/notify.h"
#include "esp/util.h"

/* Only to write the facts as one text column (outbox.params): no json_t
 * leaves this file; render/notice.c reads the text back. */
#include <jansson.h>

#include <stdlib.h>
#include <string.h>

#define DAY 86400

static const struct {
	const char *name;
	bool to_ra; /* the RA of the registration's province is told too */
} kinds[NOTICE_KIND_COUNT] = {
    [NOTICE_REG_APPROVED] = {"reg_approved", false},
    [NOTICE_REG_RETURNED] = {"reg_returned", false},
    [NOTICE_APP_RETURNED] = {"app_returned", true},
    [NOTICE_APP_ISSUED] = {"app_issued", true},
    [NOTICE_APP_SHIPPED] = {"app_shipped", true},
    [NOTICE_APP_OVERDUE] = {"app_overdue", true},
    [NOTICE_RENEWAL_WINDOW] = {"renewal_window", false},
    [NOTICE_CERT_REVOKED] = {"cert_revoked", false},
    [NOTICE_UNLOCK_APPROVED] = {"unlock_approved", false},
    [NOTICE_CHANGE_APPROVED] = {"change_approved", false},
    [NOTICE_CHANGE_RETURNED] = {"change_returned", false},
    [NOTICE_RENEWED] = {"renewed", false},
};

const char *notice_kind_name(enum notice_kind k)
{
	return k >= 0 && k < NOTICE_KIND_COUNT ? kinds[k].name : "";
}

int notice_kind_parse(const char *name)
{
	for (int i = 0; name && i < NOTICE_KIND_COUNT; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return i;
	return -1;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, json_string(v));
}

static enum db_status insert_row(db_conn *c, enum notice_kind k, const char *audience,
                                 int64_t reg_id, const char *to, const char *params,
                                 const char *once)
{
	int64_t now = time_now();
	char *once_key = once ? xasprintf("%s:%s", once, audience) : NULL;
	/* A reminder already told adds nothing: the unique once_key says so
	 * without failing the caller's transaction. */
	enum db_status st = DB_EXEC(
	    c,
	    "INSERT INTO outbox (kind, audience, registration_id, recipient, params, once_key, "
	    "state, next_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
	    "ON CONFLICT (once_key) DO NOTHING",
	    NULL, P_TEXT(kinds[k].name), P_TEXT(audience), P_INT(reg_id), P_TEXT(to ? to : ""),
	    P_TEXT(params), P_TEXT(once_key), P_TEXT(to && *to ? "pending" : "no_address"),
	    P_INT(now));
	free(once_key);
	return st;
}

enum db_status notify_enqueue(db_conn *c, enum notice_kind k, const struct notice *n)
{
	if (k < 0 || k >= NOTICE_KIND_COUNT || !n)
		return DB_ERROR;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	                            "SELECT r.name, r.email, p.name, d.ra_name, d.email "
	                            "FROM registrations r JOIN provinces p ON p.code = "
	                            "r.province_code LEFT JOIN ra_directory d ON "
	                            "d.province_code = r.province_code WHERE r.id = $1",
	                            &r, P_INT(n->registration_id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	json_t *p = json_object();
	set_str(p, "name", db_get(r, 0, 0));
	set_str(p, "province", db_get(r, 0, 2));
	set_str(p, "ra_name", db_get(r, 0, 3));
	set_str(p, "number", n->application_number);
	set_str(p, "serial", n->cert_serial);
	set_str(p, "token", n->token_serial);
	set_str(p, "reason", n->reason);
	set_str(p, "detail", n->detail);
	set_str(p, "old_serial", n->old_serial);
	if (n->days)
		json_object_set_new(p, "days", json_integer(n->days));
	if (n->not_after)
		json_object_set_new(p, "not_after", json_integer(n->not_after));
	char *holder = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	st = insert_row(c, k, "holder", n->registration_id, db_get(r, 0, 1), holder, n->once_key);
	free(holder);
	if (st == DB_OK && kinds[k].to_ra) {
		json_object_set_new(p, "to_ra", json_true());
		char *ra = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
		st = insert_row(c, k, "ra", n->registration_id, db_get(r, 0, 4), ra, n->once_key);
		free(ra);
	}
	json_decref(p);
	db_result_free(r);
	return st;
}

enum db_status notify_application_step(db_conn *c, int64_t app_id, const char *action,
                                       const char *from, const char *to, const char *note)
{
	enum notice_kind k;
	if (strcmp(action, "return") == 0)
		k = NOTICE_APP_RETURNED;
	else if (strcmp(action, "issue") == 0 && strcmp(to, "issued") == 0 && strcmp(from, to) != 0)
		k = NOTICE_APP_ISSUED; /* the last set: the application is issued */
	else if (strcmp(action, "ship") == 0 || strcmp(action, "pickup") == 0)
		k = NOTICE_APP_SHIPPED;
	else
		return DB_OK;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c, "SELECT registration_id, number FROM applications WHERE id = $1", &r, P_INT(app_id));
	if (st == DB_OK && r->nrows)
		st = notify_enqueue(
		    c, k,
		    &(struct notice){.registration_id = db_get_int(r, 0, 0, 0),
		                     .application_number = db_get(r, 0, 1),
		                     .reason = k == NOTICE_APP_RETURNED ? note : NULL,
		                     .detail = strcmp(action, "ship") == 0 ? note : NULL});
	db_result_free(r);
	return st;
}

/* ---- the daily job ---- */

static const int windows[] = {7, 30, 60}; /* smallest first: the one a certificate is in */

struct daily_ctx {
	int64_t now;
	int delivery_days;
	int enqueued;
};

static enum db_status renewal_reminders(db_conn *c, struct daily_ctx *x)
{
	db_result *r = NULL;
	/* Holders' certificates (staff keys have no registration) valid and
	 * expiring within the widest window. */
	enum db_status st = DB_EXEC(c,
	                            "SELECT serial, registration_id, not_after FROM certificates "
	                            "WHERE status = 'valid' AND registration_id IS NOT NULL "
	                            "AND not_after > $1 AND not_after <= $2 ORDER BY id",
	                            &r, P_INT(x->now), P_INT(x->now + 60 * (int64_t)DAY));
	for (int i = 0; st == DB_OK && i < r->nrows; i++) {
		int64_t left = db_get_int(r, i, 2, 0) - x->now;
		int days = 60;
		for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++)
			if (left <= windows[w] * (int64_t)DAY) {
				days = windows[w];
				break;
			}
		/* A certificate first seen inside the 7-day window is told once,
		 * of that window: the wider ones it skipped are past. */
		char *once = xasprintf("renewal:%d:%s", days, db_get(r, i, 0));
		struct notice n = {.registration_id = db_get_int(r, i, 1, 0),
		                   .cert_serial = db_get(r, i, 0),
		                   .days = days,
		                   .not_after = db_get_int(r, i, 2, 0),
		                   .once_key = once};
		st = notify_enqueue(c, NOTICE_RENEWAL_WINDOW, &n);
		free(once);
		x->enqueued++;
	}
	db_result_free(r);
	return st;
}

/* The same start of the 20 days as the RA's queue (core/ra.c). */
#define START_SQL                                                                                  \
	"(CASE WHEN r.kind = 'evaluator' THEN a.materials_at "                                     \
	"WHEN a.paid_at IS NULL OR a.materials_at IS NULL THEN NULL "                              \
	"WHEN a.paid_at > a.materials_at THEN a.paid_at ELSE a.materials_at END)"

static enum db_status overdue_notices(db_conn *c, struct daily_ctx *x)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT a.number, a.registration_id FROM applications a JOIN registrations r "
	            "ON r.id = a.registration_id WHERE a.state IN ('ready_to_issue', 'issued') "
	            "AND " START_SQL " < $1 ORDER BY a.id",
	            &r, P_INT(x->now - (int64_t)x->delivery_days * DAY));
	for (int i = 0; st == DB_OK && i < r->nrows; i++) {
		char *once = xasprintf("overdue:%s", db_get(r, i, 0));
		struct notice n = {.registration_id = db_get_int(r, i, 1, 0),
		                   .application_number = db_get(r, i, 0),
		                   .days = x->delivery_days,
		                   .once_key = once};
		st = notify_enqueue(c, NOTICE_APP_OVERDUE, &n);
		free(once);
		x->enqueued++;
	}
	db_result_free(r);
	return st;
}

static enum db_status daily_tx(db_conn *c, void *arg)
{
	struct daily_ctx *x = arg;
	x->enqueued = 0;
	enum db_status st = renewal_reminders(c, x);
	return st == DB_OK ? overdue_notices(c, x) : st;
}

enum db_status notify_daily(db_conn *c, int64_t now, int delivery_days, int *enqueued)
{
	struct daily_ctx x = {.now = now, .delivery_days = delivery_days};
	enum db_status st = db_transaction(c, daily_tx, &x);
	if (enqueued)
		*enqueued = st == DB_OK ? x.enqueued : 0;
	return st;
}

enum db_status notify_list_for(db_conn *c, struct arena *a, int64_t registration_id, int limit,
                               struct notice_row **out, size_t *n)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	                            "SELECT kind, params, created_at, state FROM outbox WHERE "
	                            "registration_id = $1 AND audience = 'holder' ORDER BY "
	                            "created_at DESC, id DESC LIMIT $2",
	                            &r, P_INT(registration_id), P_INT(limit));
	*out = NULL;
	*n = 0;
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		for (int i = 0; i < r->nrows; i++)
			(*out)[i] = (struct notice_row){.kind = arena_strdup(a, db_get(r, i, 0)),
			                                .params = arena_strdup(a, db_get(r, i, 1)),
			                                .created_at = db_get_int(r, i, 2, 0),
			                                .state = arena_strdup(a, db_get(r, i, 3))};
		*n = (size_t)r->nrows;
	}
	db_result_free(r);
	return st;
}

const char *notice_mail_label(const char *state)
{
	if (state && strcmp(state, "sent") == 0)
		return "邮件已发送";
	if (state && strcmp(state, "no_address") == 0)
		return "无电子邮箱，未发邮件";
	return "邮件待发送";
}

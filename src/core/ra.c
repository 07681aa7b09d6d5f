/*
 * The RA back office: queue, figures and the recorded steps of an
 * application. Which step the state allows, to whom, and what the state
 * becomes is the state machine's (core/appstate.c).
 */
#include "esp/ra.h"

#include <stdlib.h>
#include <string.h>

#define DAY 86400

/* When the 20 days start: the later of payment and materials (evaluators:
 * materials only); NULL while either is missing. */
#define START_SQL                                                                                  \
	"(CASE WHEN r.kind = 'evaluator' THEN a.materials_at "                                     \
	"WHEN a.paid_at IS NULL OR a.materials_at IS NULL THEN NULL "                              \
	"WHEN a.paid_at > a.materials_at THEN a.paid_at ELSE a.materials_at END)"
#define OVERDUE_SQL "(a.state IN ('ready_to_issue', 'issued') AND " START_SQL " < $1)"

/* Filters shared by queue, stats and chart; $1 is the overdue limit. */
#define FILTER_SQL                                                                                 \
	"FROM applications a JOIN registrations r ON r.id = a.registration_id "                    \
	"JOIN provinces p ON p.code = r.province_code "                                            \
	"WHERE ($2 = '' OR r.province_code = $2) AND ($3 = 0 OR r.kind = 'evaluator') "            \
	"AND ($4 = '' OR a.state = $4) AND ($5 = '' OR r.kind = $5) "                              \
	"AND ($6 = 0 OR a.submitted_at >= $6) AND ($7 = 0 OR a.submitted_at < $7) "                \
	"AND ($8 = 0 OR " OVERDUE_SQL ") "                                                         \
	"AND ($9 = '' OR a.number LIKE $9 ESCAPE '\\' OR r.name LIKE $9 ESCAPE '\\' "              \
	"OR r.code LIKE $9 ESCAPE '\\') "

void ra_filter_scope(const struct actor *a, struct ra_filter *f)
{
	f->province = a->role == ROLE_ADMIN ? NULL : a->province_code;
	f->evaluators_only = a->role == ROLE_TRAINER;
}

static char *like_pattern(const char *q)
{
	if (!q || !*q)
		return xstrdup("");
	struct buf b = {0};
	buf_putc(&b, '%');
	for (const char *p = q; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *p);
	}
	buf_putc(&b, '%');
	return buf_steal(&b);
}

#define FILTER_PARAMS(f, limit_at, like)                                                           \
	P_INT(limit_at), P_TEXT((f)->province ? (f)->province : ""),                               \
	    P_INT((f)->evaluators_only ? 1 : 0), P_TEXT((f)->state ? (f)->state : ""),             \
	    P_TEXT((f)->kind ? (f)->kind : ""), P_INT((f)->from), P_INT((f)->to),                  \
	    P_INT((f)->overdue ? 1 : 0), P_TEXT(like)

json_t *ra_queue(db_conn *c, const struct ra_filter *f, int delivery_days, int64_t *total)
{
	int64_t limit_at = time_now() - (int64_t)delivery_days * DAY;
	char *like = like_pattern(f->q);
	db_result *r = NULL;
	*total = 0;
	if (DB_EXEC(c, "SELECT COUNT(*) " FILTER_SQL, &r, FILTER_PARAMS(f, limit_at, like)) ==
	    DB_OK)
		*total = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	r = NULL;
	json_t *arr = json_array();
	if (DB_EXEC(
	        c,
	        "SELECT a.number, a.state, a.sets, a.amount_yuan, a.submitted_at, r.kind, r.name, "
	        "r.code, p.name AS province, " START_SQL " AS started, "
	        "CASE WHEN " OVERDUE_SQL " THEN 1 ELSE 0 END AS overdue, a.type " FILTER_SQL
	        "ORDER BY overdue DESC, a.submitted_at, a.id LIMIT $10 OFFSET $11",
	        &r, FILTER_PARAMS(f, limit_at, like), P_INT(f->limit), P_INT(f->offset)) == DB_OK) {
		int64_t now = time_now();
		for (int i = 0; i < r->nrows; i++) {
			int64_t started = db_get_int(r, i, 9, 0);
			enum reg_kind k = kind_parse(db_get(r, i, 5));
			json_array_append_new(
			    arr,
			    json_pack(
			        "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:I}",
			        "number", db_get(r, i, 0), "state", db_get(r, i, 1), "state_label",
			        app_state_label(db_get(r, i, 1)), "sets", db_get(r, i, 2), "amount",
			        db_get(r, i, 3), "submitted_at", (json_int_t)db_get_int(r, i, 4, 0),
			        "kind", db_get(r, i, 5), "kind_label",
			        k == KIND_NONE ? "" : kind_label(k), "name", db_get(r, i, 6),
			        "code", db_get(r, i, 7), "province", db_get(r, i, 8), "overdue",
			        db_get_int(r, i, 10, 0) != 0, "days",
			        (json_int_t)(started ? (now - started) / DAY : -1)));
			/* 业务类型: renewals are a kind of application in the same queue. */
			json_object_set_new(json_array_get(arr, json_array_size(arr) - 1),
			                    "type_label",
			                    json_string(app_type_label(db_get(r, i, 11))));
		}
	}
	db_result_free(r);
	free(like);
	return arr;
}

json_t *ra_stats(db_conn *c, const struct ra_filter *f, int delivery_days)
{
	struct ra_filter all = *f;
	all.state = NULL;
	all.overdue = false;
	int64_t limit_at = time_now() - (int64_t)delivery_days * DAY;
	char *like = like_pattern(all.q);
	db_result *r = NULL;
	json_t *states = json_array();
	int64_t overdue = 0;
	if (DB_EXEC(c,
	            "SELECT a.state, COUNT(*), SUM(CASE WHEN " OVERDUE_SQL
	            " THEN 1 ELSE 0 END) " FILTER_SQL "GROUP BY a.state",
	            &r, FILTER_PARAMS(&all, limit_at, like)) == DB_OK) {
		for (enum app_state k = APP_SUBMITTED; k < APP_STATE_COUNT; k++) {
			int64_t n = 0;
			for (int i = 0; i < r->nrows; i++)
				if (appstate_parse(db_get(r, i, 0)) == k) {
					n = db_get_int(r, i, 1, 0);
					overdue += db_get_int(r, i, 2, 0);
				}
			json_array_append_new(
			    states, json_pack("{s:s, s:s, s:I}", "state", appstate_name(k), "label",
			                      appstate_label(k), "count", (json_int_t)n));
		}
	}
	db_result_free(r);
	free(like);
	return json_pack("{s:o, s:I}", "states", states, "overdue", (json_int_t)overdue);
}

json_t *ra_daily(db_conn *c, const struct ra_filter *f, int days)
{
	int64_t now = time_now();
	/* Day boundaries in China Standard Time. */
	int64_t today = ((now + 8 * 3600) / DAY) * DAY - 8 * 3600;
	int64_t since = today - (int64_t)(days - 1) * DAY;
	int64_t *recv = xcalloc((size_t)days, sizeof(int64_t));
	int64_t *ship = xcalloc((size_t)days, sizeof(int64_t));
	struct ra_filter all = *f;
	all.state = NULL;
	all.overdue = false;
	all.from = since;
	all.to = 0;
	char *like = like_pattern(all.q);
	db_result *r = NULL;
	if (DB_EXEC(c, "SELECT a.submitted_at " FILTER_SQL, &r, FILTER_PARAMS(&all, 0, like)) ==
	    DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			int64_t d = (db_get_int(r, i, 0, 0) - since) / DAY;
			if (d >= 0 && d < days)
				recv[d]++;
		}
	db_result_free(r);
	r = NULL;
	all.from = 0;
	if (DB_EXEC(c,
	            "SELECT COALESCE(a.shipped_at, a.pickup_at), a.sets " FILTER_SQL
	            "AND COALESCE(a.shipped_at, a.pickup_at) >= $10",
	            &r, FILTER_PARAMS(&all, 0, like), P_INT(since)) == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			int64_t d = (db_get_int(r, i, 0, 0) - since) / DAY;
			if (d >= 0 && d < days)
				ship[d] += db_get_int(r, i, 1, 0);
		}
	db_result_free(r);
	free(like);
	json_t *arr = json_array();
	for (int d = 0; d < days; d++) {
		time_t t = (time_t)(since + (int64_t)d * DAY + 8 * 3600);
		struct tm tm;
		gmtime_r(&t, &tm);
		char label[16];
		snprintf(label, sizeof label, "%02d-%02d", (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "date", label, "received",
		                                     (json_int_t)recv[d], "shipped",
		                                     (json_int_t)ship[d]));
	}
	free(recv);
	free(ship);
	return arr;
}

json_t *application_history(db_conn *c, int64_t app_id, struct arena *ar)
{
	db_result *r = NULL;
	json_t *arr = json_array();
	if (DB_EXEC(c,
	            "SELECT at, actor, action, from_state, to_state, note FROM application_events "
	            "WHERE application_id = $1 ORDER BY at, id",
	            &r, P_INT(app_id)) == DB_OK)
		for (int i = 0; i < r->nrows; i++)
			json_array_append_new(
			    arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "at",
			                   time_datetime(ar, db_get_int(r, i, 0, 0)), "actor",
			                   db_get(r, i, 1), "action", db_get(r, i, 2), "from",
			                   app_state_label(db_get(r, i, 3)), "to",
			                   app_state_label(db_get(r, i, 4)), "note",
			                   db_get(r, i, 5) ? db_get(r, i, 5) : ""));
	db_result_free(r);
	return arr;
}

/* ---- steps ---- */

struct app_row {
	int64_t id;
	enum app_state state;
	unsigned facts; /* APP_FACT_EVALUATOR, _PAID, _MATERIALS, _CERTS */
};

static enum db_status load_row(db_conn *c, const char *number, struct app_row *row)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT a.id, a.state, r.kind, a.paid_at, a.materials_at, "
	            "(SELECT COUNT(*) FROM certificates ce WHERE ce.application_id = a.id), a.type "
	            "FROM applications a JOIN registrations r ON r.id = a.registration_id WHERE "
	            "a.number = $1",
	            &r, P_TEXT(number));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		row->id = db_get_int(r, 0, 0, 0);
		row->state = appstate_parse(db_get(r, 0, 1));
		row->facts =
		    (kind_parse(db_get(r, 0, 2)) == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0) |
		    (db_get(r, 0, 3) ? APP_FACT_PAID : 0) |
		    (db_get(r, 0, 4) ? APP_FACT_MATERIALS : 0) |
		    (db_get_int(r, 0, 5, 0) > 0 ? APP_FACT_CERTS : 0) |
		    (strcmp(db_get(r, 0, 6), "renewal") == 0 ? APP_FACT_RENEWAL : 0) |
		    (strcmp(db_get(r, 0, 6), "unlock") == 0 ? APP_FACT_UNLOCK : 0);
	}
	db_result_free(r);
	return st;
}

/* Loads the application and asks the state machine whether the actor's
 * role takes `step` now: DB_CONFLICT when it does not. */
static enum db_status step_begin(db_conn *c, const struct actor *a, const char *number,
                                 enum app_step step, struct app_row *row, enum app_state *to)
{
	enum db_status st = load_row(c, number, row);
	if (st != DB_OK)
		return st;
	if (!appstate_next(row->state, step, a ? a->role : ROLE_NONE, row->facts, to))
		return DB_CONFLICT;
	return DB_OK;
}

static enum db_status set_state(db_conn *c, const struct actor *a, const struct app_row *row,
                                enum app_state to, enum app_step step, const char *note)
{
	enum db_status st =
	    DB_EXEC(c, "UPDATE applications SET state = $2, updated_at = $3 WHERE id = $1", NULL,
	            P_INT(row->id), P_TEXT(appstate_name(to)), P_INT(time_now()));
	if (st != DB_OK)
		return st;
	return application_event(c, a, row->id, appstep_name(step), appstate_name(row->state),
	                         appstate_name(to), note);
}

struct step {
	const struct actor *a;
	const char *number;
	long amount;
	int64_t date;
	const char *s1, *s2, *s3;
};

static enum db_status payment_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_PAYMENT, &row, &to);
	if (st != DB_OK)
		return st;
	int64_t now = time_now();
	st = DB_EXEC(
	    c,
	    "INSERT INTO payments (application_id, amount_yuan, paid_on, payer, bank_ref, note, "
	    "recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	    NULL, P_INT(row.id), P_INT(s->amount), P_INT(s->date), P_TEXT(s->s1), P_TEXT(s->s2),
	    P_TEXT(s->s3 && *s->s3 ? s->s3 : NULL), P_INT(s->a->account_id), P_INT(now));
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE applications SET paid_at = $2 WHERE id = $1", NULL, P_INT(row.id),
	             P_INT(now));
	if (st != DB_OK)
		return st;
	char *note = xasprintf("%ld元 %s %s%s%s", s->amount, s->s1, s->s2,
	                       s->s3 && *s->s3 ? " " : "", s->s3 ? s->s3 : "");
	st = set_state(c, s->a, &row, to, STEP_PAYMENT, note);
	free(note);
	return st;
}

enum db_status ra_record_payment(db_conn *c, const struct actor *a, const char *number, long amount,
                                 int64_t paid_on, const char *payer, const char *bank_ref,
                                 const char *note)
{
	struct step s = {.a = a,
	                 .number = number,
	                 .amount = amount,
	                 .date = paid_on,
	                 .s1 = payer,
	                 .s2 = bank_ref,
	                 .s3 = note};
	return db_transaction(c, payment_tx, &s);
}

static enum db_status materials_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_MATERIALS, &row, &to);
	if (st != DB_OK)
		return st;
	int64_t now = time_now();
	st = DB_EXEC(c,
	             "INSERT INTO materials (application_id, checklist, recorded_by, recorded_at) "
	             "VALUES ($1, $2, $3, $4)",
	             NULL, P_INT(row.id), P_TEXT(s->s1), P_INT(s->a->account_id), P_INT(now));
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE applications SET materials_at = $2 WHERE id = $1", NULL,
	             P_INT(row.id), P_INT(now));
	if (st != DB_OK)
		return st;
	return set_state(c, s->a, &row, to, STEP_MATERIALS, s->s1);
}

enum db_status ra_record_materials(db_conn *c, const struct actor *a, const char *number,
                                   const char *checklist)
{
	struct step s = {.a = a, .number = number, .s1 = checklist};
	return db_transaction(c, materials_tx, &s);
}

static enum db_status return_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_RETURN, &row, &to);
	if (st != DB_OK)
		return st;
	int64_t now = time_now();
	st =
	    DB_EXEC(c, "UPDATE applications SET returned_at = $2, return_reason = $3 WHERE id = $1",
	            NULL, P_INT(row.id), P_INT(now), P_TEXT(s->s1));
	if (st != DB_OK)
		return st;
	return set_state(c, s->a, &row, to, STEP_RETURN, s->s1);
}

enum db_status ra_return(db_conn *c, const struct actor *a, const char *number, const char *reason)
{
	struct step s = {.a = a, .number = number, .s1 = reason};
	return db_transaction(c, return_tx, &s);
}

static enum db_status resubmit_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_RESUBMIT, &row, &to);
	if (st != DB_OK)
		return st;
	/* The materials are sent again; a payment made stays made. */
	st = DB_EXEC(c, "UPDATE applications SET materials_at = NULL WHERE id = $1", NULL,
	             P_INT(row.id));
	if (st != DB_OK)
		return st;
	return set_state(c, s->a, &row, to, STEP_RESUBMIT, NULL);
}

enum db_status application_resubmit(db_conn *c, const struct actor *a, const char *number)
{
	struct step s = {.a = a, .number = number};
	return db_transaction(c, resubmit_tx, &s);
}

static enum db_status ship_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = load_row(c, s->number, &row);
	if (st != DB_OK)
		return st;
	/* Evaluators' keys go to the training institution to be picked up. */
	bool pickup = row.facts & APP_FACT_EVALUATOR;
	enum app_step step = pickup ? STEP_PICKUP : STEP_SHIP;
	if (!appstate_next(row.state, step, s->a ? s->a->role : ROLE_NONE, row.facts, &to))
		return DB_CONFLICT;
	int64_t now = time_now();
	if (pickup) {
		st = DB_EXEC(c, "UPDATE applications SET pickup_at = $2 WHERE id = $1", NULL,
		             P_INT(row.id), P_INT(now));
		return st == DB_OK ? set_state(c, s->a, &row, to, step, NULL) : st;
	}
	st = DB_EXEC(c,
	             "UPDATE applications SET shipped_at = $2, courier = $3, tracking_no = $4 "
	             "WHERE id = $1",
	             NULL, P_INT(row.id), P_INT(now), P_TEXT(s->s1), P_TEXT(s->s2));
	if (st != DB_OK)
		return st;
	char *note = xasprintf("%s %s", s->s1, s->s2);
	st = set_state(c, s->a, &row, to, step, note);
	free(note);
	return st;
}

enum db_status ra_ship(db_conn *c, const struct actor *a, const char *number, const char *courier,
                       const char *tracking)
{
	struct step s = {.a = a, .number = number, .s1 = courier, .s2 = tracking};
	return db_transaction(c, ship_tx, &s);
}

static enum db_status received_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_RECEIVED, &row, &to);
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE applications SET received_at = $2 WHERE id = $1", NULL,
	             P_INT(row.id), P_INT(time_now()));
	return st == DB_OK ? set_state(c, s->a, &row, to, STEP_RECEIVED, NULL) : st;
}

enum db_status ra_mark_received(db_conn *c, const struct actor *a, const char *number)
{
	struct step s = {.a = a, .number = number};
	return db_transaction(c, received_tx, &s);
}

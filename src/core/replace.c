/*
 * 丢失补办 and 损坏补办: which certificates may be replaced and by which
 * kind, the replacement application, and the damaged certificate's
 * revocation when its replacement is issued (see esp/replace.h).
 */
#include "esp/replace.h"
#include "esp/certificate.h"
#include "esp/fee.h"
#include "esp/revoke.h"

#include <stdlib.h>
#include <string.h>

static const struct replace_text {
	enum replace_result r;
	int status;
	const char *code, *message;
} texts[] = {
    {REPLACE_OK, 201, "ok", "补办申请已提交"},
    {REPLACE_EXISTING, 200, "ok", "该证书已有补办申请，返回原申请"},
    {REPLACE_BAD_INPUT, 400, "bad_request",
     "请求格式错误：需要证书序列号和补办类型（丢失补办或损坏补办）"},
    {REPLACE_NOT_FOUND, 404, "not_found", "没有这个证书：请核对证书序列号"},
    {REPLACE_FORBIDDEN, 403, "forbidden",
     "该证书不属于当前登录的用户（或本单位报名尚未通过初审），不能申请补办"},
    {REPLACE_NOT_LOST, 409, "not_lost",
     "该证书尚未挂失，不能申请丢失补办：请先在【当前用户信息】中挂失该证书U盘（或请数字证书注册机构"
     "吊销），"
     "再申请丢失补办；证书U盘损坏的，请申请损坏补办"},
    {REPLACE_USE_DAMAGED, 409, "use_damaged",
     "该证书因证书U盘损坏已由数字证书注册机构吊销（停止使用），请申请损坏补办"},
    {REPLACE_USE_LOST, 409, "use_lost", "该证书已挂失（密钥泄露），请申请丢失补办"},
    {REPLACE_WRONG_REASON, 409, "not_replaceable",
     "该证书已被更新替代、因信息变更或其他原因吊销，或尚未生效，不能补办"},
    {REPLACE_EXPIRED, 409, "expired",
     "该证书已过期，不能补办：请在【查看初审状态】页面点击【再次申请登录认证U盘】重新申请"},
    {REPLACE_ERROR, 500, "internal", "系统内部错误，请稍后重试"},
};

static const struct replace_text *text_of(enum replace_result r)
{
	size_t n = sizeof texts / sizeof texts[0];
	for (size_t i = 0; i < n; i++)
		if (texts[i].r == r)
			return &texts[i];
	return &texts[n - 1];
}

const char *replace_result_code(enum replace_result r)
{
	return text_of(r)->code;
}

const char *replace_result_message(enum replace_result r)
{
	return text_of(r)->message;
}

int replace_result_status(enum replace_result r)
{
	return text_of(r)->status;
}

static bool is_replacement(enum app_type t)
{
	return t == APP_TYPE_REPLACE_LOST || t == APP_TYPE_REPLACE_DAMAGED;
}

enum replace_result replace_check(enum app_type type, const char *status, int reason,
                                  int64_t not_after, int64_t now)
{
	if (!is_replacement(type) || !status)
		return REPLACE_BAD_INPUT;
	bool valid = strcmp(status, "valid") == 0, revoked = strcmp(status, "revoked") == 0;
	/* A renewal's certificate not yet confirmed is nobody's key yet. */
	if (!valid && !revoked)
		return REPLACE_WRONG_REASON;
	if (revoked && reason != CRL_REASON_KEY_COMPROMISE && reason != CRL_REASON_CESSATION)
		return REPLACE_WRONG_REASON;
	/* Past notAfter the key is gone either way: 再次申请 makes a new one. */
	if (not_after < now)
		return REPLACE_EXPIRED;
	if (type == APP_TYPE_REPLACE_LOST) {
		/* A lost key still valid can be used by whoever found it: 挂失 first. */
		if (valid)
			return REPLACE_NOT_LOST;
		return reason == CRL_REASON_KEY_COMPROMISE ? REPLACE_OK : REPLACE_USE_DAMAGED;
	}
	/* 损坏补办: handed in and revoked by the RA, or still valid on the broken
	 * token (revoked when the replacement is issued); a key reported lost
	 * is replaced as lost, so the form says what happened. */
	return valid || reason == CRL_REASON_CESSATION ? REPLACE_OK : REPLACE_USE_LOST;
}

/* ---- applying ---- */

struct apply_ctx {
	const struct actor *a;
	const char *serial;
	enum app_type type;
	enum replace_result result;
	char *number;
};

/* The replacement of the certificate that was not withdrawn, newest first. */
static enum db_status open_replacement(db_conn *c, const char *serial, db_result **r)
{
	/* 'withdrawn' written out, not a parameter: see replace_list. */
	return DB_EXEC(c,
	               "SELECT id, number FROM applications WHERE replaces_serial = $1 AND "
	               "state <> 'withdrawn' ORDER BY id DESC LIMIT 1",
	               r, P_TEXT(serial));
}

static enum db_status refuse(struct apply_ctx *x, enum replace_result why)
{
	x->result = why;
	return DB_CONFLICT; /* nothing written: roll back */
}

static enum db_status apply_tx(db_conn *c, void *arg)
{
	struct apply_ctx *x = arg;
	free(x->number);
	x->number = NULL;
	x->result = REPLACE_ERROR;
	struct arena *ar = arena_new();
	struct certificate cert;
	enum db_status st = cert_get(c, ar, x->serial, &cert);
	struct policy_object o;
	cert_policy_object(st == DB_OK ? &cert : NULL, &o);
	db_result *r = NULL, *q = NULL;
	if (st == DB_NOT_FOUND || (st == DB_OK && !cert.registration_id)) {
		st = refuse(x, REPLACE_NOT_FOUND);
		goto out;
	}
	if (st != DB_OK)
		goto out;
	if (!policy_allows(x->a, ACT_APPLICATION_CREATE, &o)) {
		st = refuse(x, REPLACE_FORBIDDEN);
		goto out;
	}
	/* The same click again, or the other kind for the same certificate:
	 * one replacement per certificate. */
	if ((st = open_replacement(c, x->serial, &q)) != DB_OK)
		goto out;
	if (q->nrows) {
		x->number = xstrdup(db_get(q, 0, 1));
		x->result = REPLACE_EXISTING;
		goto out;
	}
	db_result_free(q);
	q = NULL;
	const char *status = cert.pending ? "pending" : cert.revoked ? "revoked" : "valid";
	int64_t now = time_now();
	enum replace_result ok =
	    replace_check(x->type, status, cert.revoke_reason, cert.not_after, now);
	if (ok != REPLACE_OK) {
		st = refuse(x, ok);
		goto out;
	}
	st = DB_EXEC(c,
	             "SELECT a.contact_name, a.contact_id_number, a.mobile, a.phone, a.email, "
	             "a.address, a.postcode, a.invoice_title, a.taxpayer_id, a.scan_id, r.kind "
	             "FROM certificates ce JOIN applications a ON a.id = ce.application_id "
	             "JOIN registrations r ON r.id = ce.registration_id WHERE ce.serial = $1",
	             &r, P_TEXT(x->serial));
	if (st == DB_OK && r->nrows == 0)
		st = refuse(x, REPLACE_NOT_FOUND);
	if (st != DB_OK)
		goto out;
	enum reg_kind k = kind_parse(db_get(r, 0, 10));
	enum app_state to;
	if (!appstate_next(APP_NEW, STEP_SUBMIT, x->a->role,
	                   app_type_facts(x->type) | (k == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0),
	                   &to)) {
		st = refuse(x, REPLACE_FORBIDDEN);
		goto out;
	}
	/* A replacement is a new token and a new certificate: the fee
	 * schedule's replacement fee, by default the price of a set. */
	struct fee fee;
	if ((st = fee_current(c, &fee)) != DB_OK)
		goto out;
	if ((st = application_next_number(c, &x->number)) != DB_OK)
		goto out;
	/* One idempotency key per try: the certificate and how many
	 * replacements of it were withdrawn before. */
	if ((st = DB_EXEC(c, "SELECT COUNT(*) FROM applications WHERE replaces_serial = $1", &q,
	                  P_TEXT(x->serial))) != DB_OK)
		goto out;
	char *idem = xasprintf("replace-%s-%lld", x->serial, (long long)db_get_int(q, 0, 0, 0));
	db_result_free(q);
	q = NULL;
	int64_t scan = db_get_int(r, 0, 9, 0);
	st = DB_EXEC(
	    c,
	    "INSERT INTO applications (number, registration_id, type, state, sets, "
	    "contact_name, contact_id_number, mobile, phone, email, address, postcode, "
	    "invoice_title, taxpayer_id, price_yuan, medium_yuan, years, amount_yuan, scan_id, "
	    "idem_key, submitted_at, updated_at, replaces_serial) "
	    "VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
	    "$17, $18, $19, $20, $20, $21) RETURNING id",
	    &q, P_TEXT(x->number), P_INT(cert.registration_id), P_TEXT(app_type_name(x->type)),
	    P_TEXT(appstate_name(to)), P_TEXT(db_get(r, 0, 0)), P_TEXT(db_get(r, 0, 1)),
	    P_TEXT(db_get(r, 0, 2)), P_TEXT(db_get(r, 0, 3)), P_TEXT(db_get(r, 0, 4)),
	    P_TEXT(db_get(r, 0, 5)), P_TEXT(db_get(r, 0, 6)), P_TEXT(db_get(r, 0, 7)),
	    P_TEXT(db_get(r, 0, 8)), P_INT(fee.replacement_yuan), P_INT(fee.medium_yuan),
	    P_INT(fee.years), P_INT(k == KIND_EVALUATOR ? 0 : fee.replacement_yuan),
	    scan ? P_INT(scan) : P_NULL, P_TEXT(idem), P_INT(now), P_TEXT(x->serial));
	free(idem);
	if (st == DB_CONFLICT) {
		/* The same certificate applied for at the same moment: find that one. */
		st = DB_RETRY;
		goto out;
	}
	if (st == DB_OK) {
		char *note = xasprintf("%s：原证书 %s（证书U盘 %s）", app_type_label(x->type),
		                       x->serial, cert.token_serial ? cert.token_serial : "");
		st = application_event(c, x->a, db_get_int(q, 0, 0, 0), appstep_name(STEP_SUBMIT),
		                       appstate_name(APP_NEW), appstate_name(to), note);
		free(note);
	}
	if (st == DB_OK)
		x->result = REPLACE_OK;
out:
	db_result_free(q);
	db_result_free(r);
	arena_free(ar);
	return st;
}

enum replace_result replace_apply(db_conn *c, const struct actor *a, const char *serial,
                                  enum app_type type, char **number)
{
	*number = NULL;
	if (!serial || !*serial || strlen(serial) > 64 || !is_replacement(type))
		return REPLACE_BAD_INPUT;
	struct apply_ctx x = {.a = a, .serial = serial, .type = type, .result = REPLACE_ERROR};
	enum db_status st = db_transaction(c, apply_tx, &x);
	if (st != DB_OK && (x.result == REPLACE_OK || x.result == REPLACE_EXISTING))
		x.result = REPLACE_ERROR;
	if (x.result == REPLACE_OK || x.result == REPLACE_EXISTING)
		*number = x.number;
	else
		free(x.number);
	return x.result;
}

/* ---- issuance ---- */

enum db_status replace_issued(db_conn *c, esp_ca *ca, const struct actor *a,
                              const struct application *app, int crl_hours)
{
	if (app->type != APP_TYPE_REPLACE_DAMAGED || !app->replaces_serial)
		return DB_OK;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, "SELECT status FROM certificates WHERE serial = $1", &r,
	                            P_TEXT(app->replaces_serial));
	bool valid = st == DB_OK && r->nrows && strcmp(db_get(r, 0, 0), "valid") == 0;
	db_result_free(r);
	if (st != DB_OK || !valid)
		return st; /* handed in and revoked by the RA already */
	/* The broken token's certificate ends when its replacement exists, so
	 * the unit always has as many keys as it paid for. */
	return cert_revoke_within(c, ca, a, app->replaces_serial, CRL_REASON_CESSATION, crl_hours);
}

/* ---- the holder's table ---- */

enum db_status replace_list(db_conn *c, struct arena *a, int64_t registration_id,
                            struct replace_row **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	db_result *r = NULL;
	/* The withdrawn state is written out, not a parameter: with "<> $2"
	 * PostgreSQL costs the generic plan of the prepared statement above the
	 * custom one and planned it again at every execution (0.07 ms of
	 * planning for 0.01 ms of work on every 当前用户信息 page). */
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT ce.serial, ce.token_serial, ce.status, ce.revoke_reason, ce.not_after, "
	            "(SELECT x.number FROM applications x WHERE x.replaces_serial = ce.serial AND "
	            "x.state <> 'withdrawn' ORDER BY x.id DESC LIMIT 1) AS number "
	            "FROM certificates ce WHERE ce.registration_id = $1 AND ce.status <> 'pending' "
	            "ORDER BY ce.created_at, ce.serial",
	            &r, P_INT(registration_id));
	if (st != DB_OK || r->nrows == 0) {
		db_result_free(r);
		return st;
	}
	int64_t now = time_now();
	*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
	for (int i = 0; i < r->nrows; i++) {
		struct replace_row *x = &(*out)[i];
		memset(x, 0, sizeof(*x));
		x->serial = arena_strdup(a, db_get(r, i, 0));
		x->token_serial = arena_strdup(a, db_get(r, i, 1) ? db_get(r, i, 1) : "");
		x->status = arena_strdup(a, db_get(r, i, 2));
		x->reason = (int)db_get_int(r, i, 3, 0);
		x->not_after = db_get_int(r, i, 4, 0);
		x->lost =
		    replace_check(APP_TYPE_REPLACE_LOST, x->status, x->reason, x->not_after, now);
		x->damaged = replace_check(APP_TYPE_REPLACE_DAMAGED, x->status, x->reason,
		                           x->not_after, now);
		const char *number = db_get(r, i, 5);
		if (number) {
			struct application app;
			x->number = arena_strdup(a, number);
			if (application_get(c, a, number, &app) == DB_OK) {
				x->type = app.type;
				x->state = app.state;
			}
		}
	}
	*n = (size_t)r->nrows;
	db_result_free(r);
	return DB_OK;
}

/*
 * Revocation (挂失) and the CRL: a revocation re-signs the CRL in the same
 * transaction, so the published list never lags behind the store.
 */
#include "esp/revoke.h"
#include "esp/application.h"
#include "esp/notify.h"

#include <stdlib.h>
#include <string.h>

static const char *const reason_names[] = {
    "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
    "superseded",    "cessationOfOperation", "certificateHold", NULL,
    "removeFromCRL", "privilegeWithdrawn",   "aACompromise",
};
static const char *const reason_labels[] = {
    "未指定",   "密钥泄露（挂失）", "CA密钥泄露", "隶属关系变更",
    "已被替代", "停止使用",         "证书冻结",   NULL,
    "",         "权限撤销",         "AA密钥泄露",
};

int crl_reason_parse(const char *name)
{
	for (int i = 0; name && i < (int)(sizeof reason_names / sizeof reason_names[0]); i++)
		if (reason_names[i] && strcmp(reason_names[i], name) == 0)
			/* certificateHold and removeFromCRL are not final: ESP never uses them. */
			return i == 6 || i == 8 ? -1 : i;
	return -1;
}

const char *crl_reason_label(int code)
{
	if (code < 0 || code >= (int)(sizeof reason_labels / sizeof reason_labels[0]) ||
	    !reason_labels[code])
		return "";
	return reason_labels[code];
}

/* The CRL row locked first, so two publishers (a revocation here, the
 * maintenance job of another espd) take numbers one after the other, and
 * the later one reads every revocation the earlier one committed: on
 * PostgreSQL the second waits for the lock and then retries with a fresh
 * snapshot (serialization failure); SQLite has one writer at a time. */
static const struct db_sql crl_lock = {
    .sqlite = "SELECT number FROM crl WHERE id = 1",
    .postgresql = "SELECT number FROM crl WHERE id = 1 FOR UPDATE",
};

enum db_status crl_publish_numbered(db_conn *c, esp_ca *ca, int crl_hours, int64_t *published)
{
	db_result *n = NULL;
	enum db_status st = DB_EXEC0(c, db_sql(c, &crl_lock), &n);
	uint64_t number = st == DB_OK && n->nrows ? (uint64_t)db_get_int(n, 0, 0, 0) + 1 : 1;
	bool exists = st == DB_OK && n->nrows;
	db_result_free(n);
	if (st != DB_OK)
		return st;
	db_result *r = NULL;
	st = DB_EXEC0(c,
	              "SELECT serial, revoked_at, revoke_reason FROM certificates "
	              "WHERE status = 'revoked' ORDER BY revoked_at",
	              &r);
	if (st != DB_OK)
		return st;
	struct crl_entry *e = xcalloc((size_t)r->nrows + 1, sizeof(*e));
	for (int i = 0; i < r->nrows; i++) {
		e[i].serial_hex = db_get(r, i, 0);
		e[i].revoked_at = (time_t)db_get_int(r, i, 1, 0);
		e[i].reason = (int)db_get_int(r, i, 2, 0);
	}
	unsigned char *der = NULL;
	size_t len = 0;
	if (st == DB_OK &&
	    ca_make_crl(ca, e, (size_t)r->nrows, number, crl_hours * 2, &der, &len) != CA_OK)
		st = DB_ERROR;
	free(e);
	db_result_free(r);
	if (st != DB_OK)
		return st;
	if (exists)
		st = DB_EXEC(c, "UPDATE crl SET number = $1, signed_at = $2, der = $3 WHERE id = 1",
		             NULL, P_INT(number), P_INT(time_now()), P_BLOB(der, len));
	else
		st = DB_EXEC(c,
		             "INSERT INTO crl (id, number, signed_at, der) VALUES (1, $1, $2, $3)",
		             NULL, P_INT(number), P_INT(time_now()), P_BLOB(der, len));
	free(der);
	if (st == DB_OK && published)
		*published = (int64_t)number;
	/* Two first publishers at once: the loser runs again with the new number. */
	return st == DB_CONFLICT ? DB_RETRY : st;
}

enum db_status crl_publish(db_conn *c, esp_ca *ca, int crl_hours)
{
	return crl_publish_numbered(c, ca, crl_hours, NULL);
}

struct refresh_ctx {
	esp_ca *ca;
	int crl_hours;
	bool force;
	int64_t number;
};

static enum db_status refresh_tx(db_conn *c, void *arg)
{
	struct refresh_ctx *x = arg;
	x->number = 0;
	db_result *r = NULL;
	enum db_status st = DB_EXEC0(c, "SELECT signed_at FROM crl WHERE id = 1", &r);
	bool due =
	    st == DB_OK &&
	    (r->nrows == 0 || db_get_int(r, 0, 0, 0) + (int64_t)x->crl_hours * 3600 <= time_now());
	db_result_free(r);
	if (st != DB_OK || (!due && !x->force))
		return st;
	return crl_publish_numbered(c, x->ca, x->crl_hours, &x->number);
}

enum db_status crl_refresh(db_conn *c, esp_ca *ca, int crl_hours, bool force, int64_t *number)
{
	struct refresh_ctx x = {.ca = ca, .crl_hours = crl_hours, .force = force};
	enum db_status st = db_transaction(c, refresh_tx, &x);
	if (number)
		*number = st == DB_OK ? x.number : 0;
	return st;
}

enum db_status crl_load(db_conn *c, unsigned char **der, size_t *len, int64_t *signed_at)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC0(c, "SELECT der, signed_at FROM crl WHERE id = 1", &r);
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		*len = db_get_len(r, 0, 0);
		*der = xmalloc(*len ? *len : 1);
		memcpy(*der, db_get(r, 0, 0), *len);
		if (signed_at)
			*signed_at = db_get_int(r, 0, 1, 0);
	}
	db_result_free(r);
	return st;
}

struct revoke_ctx {
	esp_ca *ca;
	const struct actor *a;
	const char *serial;
	int reason, crl_hours;
};

static enum db_status revoke_tx(db_conn *c, void *arg)
{
	struct revoke_ctx *x = arg;
	db_result *r = NULL;
	int64_t now = time_now();
	enum db_status st = DB_EXEC(
	    c,
	    "UPDATE certificates SET status = 'revoked', revoked_at = $2, revoke_reason = $3 "
	    "WHERE serial = $1 AND status = 'valid' RETURNING application_id, registration_id",
	    &r, P_TEXT(x->serial), P_INT(now), P_INT(x->reason));
	if (st == DB_OK && r->nrows == 0) {
		db_result *e = NULL;
		st = DB_EXEC(c, "SELECT 1 FROM certificates WHERE serial = $1", &e,
		             P_TEXT(x->serial));
		st = st == DB_OK && e->nrows ? DB_CONFLICT : DB_NOT_FOUND;
		db_result_free(e);
	}
	/* A staff certificate (espctl staff-cert) belongs to no application. */
	int64_t app_id = st == DB_OK ? db_get_int(r, 0, 0, 0) : 0;
	int64_t reg_id = st == DB_OK ? db_get_int(r, 0, 1, 0) : 0;
	db_result_free(r);
	if (st != DB_OK)
		return st;
	if (app_id) {
		char *note = xasprintf("吊销证书 %s：%s", x->serial, crl_reason_label(x->reason));
		db_result *s = NULL;
		st = DB_EXEC(c, "SELECT state FROM applications WHERE id = $1", &s, P_INT(app_id));
		const char *state = st == DB_OK && s->nrows ? db_get(s, 0, 0) : "";
		if (st == DB_OK)
			st = application_event(c, x->a, app_id, "revoke", state, state, note);
		db_result_free(s);
		free(note);
	}
	if (st == DB_OK && reg_id)
		st = notify_enqueue(c, NOTICE_CERT_REVOKED,
		                    &(struct notice){.registration_id = reg_id,
		                                     .cert_serial = x->serial,
		                                     .reason = crl_reason_label(x->reason)});
	if (st == DB_OK) {
		char *obj = xasprintf("certificate:%s", x->serial);
		st = audit_append(c, x->a, "certificate.revoke", obj, "valid", "revoked");
		free(obj);
	}
	return st == DB_OK ? crl_publish(c, x->ca, x->crl_hours) : st;
}

enum db_status cert_revoke_within(db_conn *c, esp_ca *ca, const struct actor *a, const char *serial,
                                  int reason, int crl_hours)
{
	struct revoke_ctx x = {
	    .ca = ca, .a = a, .serial = serial, .reason = reason, .crl_hours = crl_hours};
	return revoke_tx(c, &x);
}

enum db_status cert_revoke(db_conn *c, esp_ca *ca, const struct actor *a, const char *serial,
                           int reason, int crl_hours)
{
	struct revoke_ctx x = {
	    .ca = ca, .a = a, .serial = serial, .reason = reason, .crl_hours = crl_hours};
	return db_transaction(c, revoke_tx, &x);
}

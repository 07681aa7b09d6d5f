/*
 * Issuance of certificates onto tokens, revocation, the CRL and the API
 * tokens of RA workstations.
 *
 * The certificate is built from the application, never from the CSR: the
 * CSR only lends its public key. The CA key itself stays inside esp_ca.
 */
#include "esp/ra.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void issued_free(struct issued *i)
{
	free(i->serial);
	free(i->pem);
	i->serial = i->pem = NULL;
}

static const struct issue_text {
	enum issue_result r;
	const char *code, *message;
} issue_texts[] = {
	{ISSUE_OK, "ok", "证书已签发"},
	{ISSUE_EXISTING, "ok", "该证书U盘已签发过证书，返回原证书"},
	{ISSUE_NOT_FOUND, "not_found", "申请编号不存在"},
	{ISSUE_FORBIDDEN, "forbidden", "无权为该申请签发证书（仅限申请所在省的数字证书注册机构）"},
	{ISSUE_WRONG_STATE, "wrong_state", "该申请尚未确认付款和申请材料，或已退回、撤销，不能签发证书"},
	{ISSUE_ALL_ISSUED, "all_issued", "该申请的证书U盘已全部签发，不能超过申请数量"},
	{ISSUE_TOKEN_REVOKED, "token_revoked",
	 "该证书U盘在本申请下签发的证书已吊销，不能再次签发；请通过【再次申请登录认证U盘】办理新证书"},
	{ISSUE_TOKEN_IN_USE, "token_in_use", "该证书U盘已有有效证书，不能重复签发"},
	{ISSUE_BAD_CSR, "bad_csr", "证书请求(CSR)无效"},
	{ISSUE_BAD_INPUT, "bad_request", "请求格式错误：需要 csr 和 token_serial"},
	{ISSUE_ERROR, "internal", "系统内部错误，请稍后重试"},
};

/* The row of r; the last one (internal error) for a value not in the table. */
static const struct issue_text *issue_text(enum issue_result r)
{
	size_t n = sizeof issue_texts / sizeof issue_texts[0];
	for (size_t i = 0; i < n; i++)
		if (issue_texts[i].r == r)
			return &issue_texts[i];
	return &issue_texts[n - 1];
}

const char *issue_result_code(enum issue_result r) { return issue_text(r)->code; }

const char *issue_result_message(enum issue_result r) { return issue_text(r)->message; }

/*
 * Issuing a certificate: the CSR is parsed and its self-signature verified
 * once (ca_csr_parse), and the certificate is built and signed before the
 * transaction, from the application read outside it.  The transaction then
 * only re-checks policy, state, count and token against the store, inserts
 * the certificate and writes the event and the audit record, so the store's
 * write lock (SQLite) is never held while the CA works.
 *
 * The read outside the transaction is only a guess: the transaction reads
 * the application again and decides everything, exactly as if nothing had
 * been read before.  If the application changed in between (it is no
 * longer ready, or a field the certificate is built from changed), the
 * certificate signed beforehand is simply discarded: it was never stored
 * nor handed out, so it does not exist for anyone.  A refused request
 * returns the transaction's answer; an application whose certificate
 * fields changed, or that became ready meanwhile, gets its certificate
 * signed inside the transaction (the rare path, the old way).
 */

/* A certificate signed for the request, and the profile it was built from. */
struct signed_cert {
	json_t *app;              /* the application read; owns the profile's strings */
	struct cert_profile p;
	char *serial, *pem;
	unsigned char *der;
	size_t der_len;
	time_t nb, na;
};

static void signed_cert_free(struct signed_cert *s)
{
	json_decref(s->app);
	free(s->serial);
	free(s->pem);
	free(s->der);
	memset(s, 0, sizeof(*s));
}

struct issue_ctx {
	esp_ca *ca;
	const struct actor *a;
	const char *number, *token, *crl_url;
	const ca_csr *csr;
	int validity_days;
	struct signed_cert cert;  /* stays with the caller: handed out only after COMMIT */
	enum issue_result result;
	enum ca_status csr_status;
	struct issued out;        /* ISSUE_EXISTING: the stored certificate */
};

/* What goes into the certificate: everything from the application (its
 * registration: the unit or the person), never from the CSR.  The strings
 * point into app. */
static void app_profile(json_t *app, const struct issue_ctx *x, struct cert_profile *p)
{
	enum reg_kind k = kind_parse(json_string_value(json_object_get(app, "kind")));
	const char *name = json_string_value(json_object_get(app, "reg_name"));
	const char *code = json_string_value(json_object_get(app, "reg_code"));
	const char *work_unit = json_string_value(json_object_get(app, "work_unit"));
	*p = (struct cert_profile){
		.common_name = name,
		.organization = k == KIND_EVALUATOR ? (work_unit ? work_unit : "") : name,
		.org_unit = kind_label(k),
		.province = json_string_value(json_object_get(app, "province")),
		.code = code,
		.code_kind = k == KIND_EVALUATOR ? "id" : strlen(code) == 18 ? "uscc" : "org",
		.validity_days = x->validity_days,
		.crl_url = x->crl_url,
	};
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Would a certificate built from q be the one built from p? */
static bool profile_same(const struct cert_profile *p, const struct cert_profile *q)
{
	return same_str(p->common_name, q->common_name) && same_str(p->organization, q->organization) &&
	       same_str(p->org_unit, q->org_unit) && same_str(p->province, q->province) &&
	       same_str(p->code, q->code) && same_str(p->code_kind, q->code_kind) &&
	       p->validity_days == q->validity_days && same_str(p->crl_url, q->crl_url);
}

/* Sign the certificate for the application app into s (replacing what s held). */
static enum ca_status sign_for(const struct issue_ctx *x, json_t *app, struct signed_cert *s)
{
	signed_cert_free(s);
	s->app = json_incref(app);
	app_profile(app, x, &s->p);
	return ca_issue_csr(x->ca, x->csr, &s->p, &s->serial, &s->pem, &s->der, &s->der_len, &s->nb,
	                    &s->na);
}

static enum db_status issue_tx(db_conn *c, void *arg)
{
	struct issue_ctx *x = arg;
	issued_free(&x->out);
	json_t *app = application_get(c, x->number);
	if (!app) {
		x->result = ISSUE_NOT_FOUND;
		return DB_NOT_FOUND;
	}
	struct policy_object o;
	application_policy_object(app, &o);
	enum db_status st = DB_OK;
	int64_t app_id = strtoll(json_string_value(json_object_get(app, "id")), NULL, 10);
	int64_t reg_id = strtoll(json_string_value(json_object_get(app, "registration_id")), NULL, 10);
	enum app_state from = appstate_parse(json_string_value(json_object_get(app, "state")));
	int sets = (int)strtol(json_string_value(json_object_get(app, "sets")), NULL, 10);
	db_result *r = NULL;
	if (!policy_allows(x->a, ACT_APPLICATION_RA, &o)) {
		x->result = ISSUE_FORBIDDEN;
		st = DB_CONFLICT;
		goto out;
	}
	/* A retried request: the same token for the same application. */
	st = DB_EXEC(c, "SELECT serial, pem, status FROM certificates WHERE application_id = $1 AND "
	                "token_serial = $2",
	             &r, P_INT(app_id), P_TEXT(x->token));
	if (st != DB_OK)
		goto out;
	if (r->nrows && strcmp(db_get(r, 0, 2), "valid") != 0) {
		/* Handing back a revoked certificate would strand the RA; issuing a
		 * second one would exceed the sets. The holder applies again. */
		x->result = ISSUE_TOKEN_REVOKED;
		st = DB_CONFLICT;
		goto out;
	}
	if (r->nrows) {
		x->out.serial = xstrdup(db_get(r, 0, 0));
		x->out.pem = xstrdup(db_get(r, 0, 1));
		x->result = ISSUE_EXISTING;
		goto out;
	}
	db_result_free(r);
	r = NULL;
	/* Whether this set is the last one is known below; the state decides first. */
	if (!appstate_next(from, STEP_ISSUE, x->a->role, 0, NULL) &&
	    !appstate_next(from, STEP_ISSUE, x->a->role, APP_FACT_LAST_SET, NULL)) {
		x->result = from == APP_ISSUED ? ISSUE_ALL_ISSUED : ISSUE_WRONG_STATE;
		st = DB_CONFLICT;
		goto out;
	}
	st = DB_EXEC(c, "SELECT COUNT(*) FROM certificates WHERE application_id = $1", &r, P_INT(app_id));
	if (st != DB_OK)
		goto out;
	int issued = (int)db_get_int(r, 0, 0, 0);
	db_result_free(r);
	r = NULL;
	if (issued >= sets) {
		x->result = ISSUE_ALL_ISSUED;
		st = DB_CONFLICT;
		goto out;
	}
	st = DB_EXEC(c, "SELECT 1 FROM certificates WHERE token_serial = $1 AND status = 'valid'", &r,
	             P_TEXT(x->token));
	if (st != DB_OK)
		goto out;
	if (r->nrows) {
		x->result = ISSUE_TOKEN_IN_USE;
		st = DB_CONFLICT;
		goto out;
	}
	db_result_free(r);
	r = NULL;

	/* The certificate signed before the transaction, if it was built from
	 * what the application says now; otherwise (see the top) sign it here. */
	struct cert_profile p;
	app_profile(app, x, &p);
	if (!x->cert.pem || !profile_same(&p, &x->cert.p)) {
		enum ca_status cs = sign_for(x, app, &x->cert);
		if (cs != CA_OK) {
			signed_cert_free(&x->cert);
			x->csr_status = cs;
			x->result = cs == CA_ERR_INTERNAL ? ISSUE_ERROR : ISSUE_BAD_CSR;
			st = cs == CA_ERR_INTERNAL ? DB_ERROR : DB_CONFLICT;
			goto out;
		}
	}
	const struct signed_cert *sc = &x->cert;
	char *subject = xasprintf("CN=%s, OU=%s, ST=%s, serialNumber=%s", sc->p.common_name,
	                          sc->p.org_unit, sc->p.province ? sc->p.province : "", sc->p.code);
	int64_t now = time_now();
	st = DB_EXEC(c,
	    "INSERT INTO certificates (serial, application_id, registration_id, token_serial, subject, "
	    "pem, der, not_before, not_after, status, issued_by, created_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'valid', $10, $11)",
	    NULL, P_TEXT(sc->serial), P_INT(app_id), P_INT(reg_id), P_TEXT(x->token), P_TEXT(subject),
	    P_TEXT(sc->pem), P_BLOB(sc->der, sc->der_len), P_INT(sc->nb), P_INT(sc->na),
	    P_INT(x->a->account_id), P_INT(now));
	free(subject);
	if (st == DB_CONFLICT) {
		/* A concurrent request took the token: look again (with a fresh
		 * certificate, should the serial have been the conflict). */
		signed_cert_free(&x->cert);
		st = DB_RETRY;
	}
	if (st == DB_OK) {
		char *note = xasprintf("证书 %s 证书U盘 %s", sc->serial, x->token);
		bool all = issued + 1 == sets;
		enum app_state to = from;
		if (!appstate_next(from, STEP_ISSUE, x->a->role, all ? APP_FACT_LAST_SET : 0, &to))
			st = DB_CONFLICT; /* the table answered yes above, for either fact */
		if (st == DB_OK && to != from)
			st = DB_EXEC(c, "UPDATE applications SET state = $3, issued_at = $2, "
			                "updated_at = $2 WHERE id = $1",
			             NULL, P_INT(app_id), P_INT(now), P_TEXT(appstate_name(to)));
		if (st == DB_OK)
			st = application_event(c, x->a, app_id, appstep_name(STEP_ISSUE),
			                       appstate_name(from), appstate_name(to), note);
		free(note);
	}
	x->result = st == DB_OK ? ISSUE_OK : ISSUE_ERROR;
out:
	db_result_free(r);
	json_decref(app);
	return st;
}

enum issue_result issue_certificate(db_conn *c, esp_ca *ca, const struct actor *a,
                                    const char *number, const char *csr_pem,
                                    const char *token_serial, const char *crl_url,
                                    int validity_days, enum ca_status *csr_status,
                                    struct issued *out)
{
	*csr_status = CA_OK;
	memset(out, 0, sizeof(*out));
	if (!number || !csr_pem || !token_serial || !*token_serial || strlen(token_serial) > 64 ||
	    strlen(csr_pem) > 64 * 1024)
		return ISSUE_BAD_INPUT;
	for (const char *p = token_serial; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return ISSUE_BAD_INPUT;
	/* The CSR is parsed and checked once, before the transaction: the
	 * expensive part of a refusal never holds the store's write lock. */
	ca_csr *csr = NULL;
	enum ca_status cs = ca_csr_parse(csr_pem, strlen(csr_pem), &csr);
	if (cs != CA_OK) {
		*csr_status = cs;
		return cs == CA_ERR_INTERNAL ? ISSUE_ERROR : ISSUE_BAD_CSR;
	}
	struct issue_ctx x = {.ca = ca, .a = a, .number = number, .csr = csr,
	                      .token = token_serial, .crl_url = crl_url,
	                      .validity_days = validity_days, .result = ISSUE_ERROR};
	/* Sign before the transaction when the application, read now, looks
	 * issuable by this actor; the transaction decides (see the top). */
	json_t *app = application_get(c, number);
	if (app) {
		struct policy_object o;
		application_policy_object(app, &o);
		enum app_state state = appstate_parse(json_string_value(json_object_get(app, "state")));
		if (policy_allows(a, ACT_APPLICATION_RA, &o) &&
		    appstate_next(state, STEP_ISSUE, a->role, 0, NULL) &&
		    sign_for(&x, app, &x.cert) != CA_OK)
			signed_cert_free(&x.cert); /* the transaction tries again and reports */
		json_decref(app);
	}
	enum db_status st = db_transaction(c, issue_tx, &x);
	*csr_status = x.csr_status;
	enum issue_result res = x.result;
	if (res == ISSUE_OK && st == DB_OK) {
		out->serial = x.cert.serial;
		out->pem = x.cert.pem;
		x.cert.serial = x.cert.pem = NULL;
	} else if (res == ISSUE_EXISTING && st == DB_OK) {
		*out = x.out;
		memset(&x.out, 0, sizeof(x.out));
	} else if (res == ISSUE_OK || res == ISSUE_EXISTING) {
		res = ISSUE_ERROR; /* COMMIT failed */
	}
	issued_free(&x.out);
	signed_cert_free(&x.cert); /* a certificate not stored is never handed out */
	ca_csr_free(csr);
	return res;
}

/* ---- revocation and CRL ---- */

static const char *const reason_names[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", NULL, "removeFromCRL", "privilegeWithdrawn",
	"aACompromise",
};
static const char *const reason_labels[] = {
	"未指定", "密钥泄露（挂失）", "CA密钥泄露", "隶属关系变更", "已被替代", "停止使用", "证书冻结",
	NULL, "", "权限撤销", "AA密钥泄露",
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

enum db_status crl_publish(db_conn *c, esp_ca *ca, int crl_hours)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC0(c, "SELECT serial, revoked_at, revoke_reason FROM certificates "
	                                "WHERE status = 'revoked' ORDER BY revoked_at", &r);
	if (st != DB_OK)
		return st;
	struct crl_entry *e = xcalloc((size_t)r->nrows + 1, sizeof(*e));
	for (int i = 0; i < r->nrows; i++) {
		e[i].serial_hex = db_get(r, i, 0);
		e[i].revoked_at = (time_t)db_get_int(r, i, 1, 0);
		e[i].reason = (int)db_get_int(r, i, 2, 0);
	}
	db_result *n = NULL;
	st = DB_EXEC0(c, "SELECT number FROM crl WHERE id = 1", &n);
	uint64_t number = st == DB_OK && n->nrows ? (uint64_t)db_get_int(n, 0, 0, 0) + 1 : 1;
	bool exists = st == DB_OK && n->nrows;
	db_result_free(n);
	unsigned char *der = NULL;
	size_t len = 0;
	if (st == DB_OK && ca_make_crl(ca, e, (size_t)r->nrows, number, crl_hours * 2, &der, &len) != CA_OK)
		st = DB_ERROR;
	free(e);
	db_result_free(r);
	if (st != DB_OK)
		return st;
	if (exists)
		st = DB_EXEC(c, "UPDATE crl SET number = $1, signed_at = $2, der = $3 WHERE id = 1", NULL,
		             P_INT(number), P_INT(time_now()), P_BLOB(der, len));
	else
		st = DB_EXEC(c, "INSERT INTO crl (id, number, signed_at, der) VALUES (1, $1, $2, $3)", NULL,
		             P_INT(number), P_INT(time_now()), P_BLOB(der, len));
	free(der);
	/* Two publishers at once: the loser runs again with the new number. */
	return st == DB_CONFLICT ? DB_RETRY : st;
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
	enum db_status st = DB_EXEC(c,
	    "UPDATE certificates SET status = 'revoked', revoked_at = $2, revoke_reason = $3 "
	    "WHERE serial = $1 AND status = 'valid' RETURNING application_id",
	    &r, P_TEXT(x->serial), P_INT(now), P_INT(x->reason));
	if (st == DB_OK && r->nrows == 0) {
		db_result *e = NULL;
		st = DB_EXEC(c, "SELECT 1 FROM certificates WHERE serial = $1", &e, P_TEXT(x->serial));
		st = st == DB_OK && e->nrows ? DB_CONFLICT : DB_NOT_FOUND;
		db_result_free(e);
	}
	/* A staff certificate (espctl staff-cert) belongs to no application. */
	int64_t app_id = st == DB_OK ? db_get_int(r, 0, 0, 0) : 0;
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
	if (st == DB_OK) {
		char *obj = xasprintf("certificate:%s", x->serial);
		st = audit_append(c, x->a, "certificate.revoke", obj, "valid", "revoked");
		free(obj);
	}
	return st == DB_OK ? crl_publish(c, x->ca, x->crl_hours) : st;
}

enum db_status cert_revoke(db_conn *c, esp_ca *ca, const struct actor *a, const char *serial,
                           int reason, int crl_hours)
{
	struct revoke_ctx x = {.ca = ca, .a = a, .serial = serial, .reason = reason,
	                       .crl_hours = crl_hours};
	return db_transaction(c, revoke_tx, &x);
}

json_t *cert_get(db_conn *c, const char *serial)
{
	db_result *r = NULL;
	json_t *o = NULL;
	/* Holders' certificates come with their registration (for the policy);
	 * staff certificates (account_id set) with their account only. */
	if (DB_EXEC(c,
	        "SELECT ce.serial, ce.status, ce.token_serial, ce.not_before, ce.not_after, "
	        "ce.revoked_at, ce.revoke_reason, ce.registration_id, a.number, r.kind, r.state AS "
	        "reg_state, r.province_code, au.path AS authority_path, ce.account_id, "
	        "st.username AS staff_username, COALESCE(r.name, st.display_name) AS holder "
	        "FROM certificates ce "
	        "LEFT JOIN applications a ON a.id = ce.application_id LEFT JOIN registrations r ON "
	        "r.id = ce.registration_id LEFT JOIN authorities au ON au.id = r.authority_id "
	        "LEFT JOIN accounts st ON st.id = ce.account_id "
	        "WHERE ce.serial = $1",
	        &r, P_TEXT(serial)) == DB_OK &&
	    r->nrows) {
		o = json_object();
		for (int i = 0; i < r->ncols; i++)
			json_object_set_new(o, r->names[i],
			                    db_get(r, 0, i) ? json_string(db_get(r, 0, i)) : json_null());
	}
	db_result_free(r);
	return o;
}

void cert_policy_object(const json_t *cert, struct policy_object *o)
{
	memset(o, 0, sizeof(*o));
	const char *rid = json_string_value(json_object_get(cert, "registration_id"));
	o->registration_id = rid ? strtoll(rid, NULL, 10) : 0;
	o->kind = json_string_value(json_object_get(cert, "kind"));
	o->reg_state = json_string_value(json_object_get(cert, "reg_state"));
	o->province_code = json_string_value(json_object_get(cert, "province_code"));
	o->authority_path = json_string_value(json_object_get(cert, "authority_path"));
}

json_t *cert_list_all(db_conn *c, struct arena *ar, int limit)
{
	db_result *r = NULL;
	json_t *arr = json_array();
	int64_t now = time_now();
	if (DB_EXEC(c,
	        "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, ce.status, "
	        "ce.revoke_reason, COALESCE(r.name, st.display_name, ''), "
	        "COALESCE(st.username, ''), COALESCE(a.number, '') FROM certificates ce "
	        "LEFT JOIN applications a ON a.id = ce.application_id "
	        "LEFT JOIN registrations r ON r.id = ce.registration_id "
	        "LEFT JOIN accounts st ON st.id = ce.account_id "
	        "ORDER BY ce.id DESC LIMIT $1",
	        &r, P_INT(limit)) == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			bool revoked = strcmp(db_get(r, i, 4), "revoked") == 0;
			bool expired = !revoked && db_get_int(r, i, 3, 0) < now;
			bool staff = *db_get(r, i, 7) != '\0';
			json_array_append_new(arr, json_pack(
			    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:s, s:s}", "serial",
			    db_get(r, i, 0), "token_serial", db_get(r, i, 1), "issued",
			    time_date(ar, db_get_int(r, i, 2, 0)), "expires",
			    time_date(ar, db_get_int(r, i, 3, 0)), "holder", db_get(r, i, 6), "username",
			    db_get(r, i, 7), "kind_label", staff ? "工作人员证书" : "证书U盘",
			    "staff", staff, "status_label", revoked ? "已吊销" : expired ? "已过期" : "有效",
			    "valid", !revoked && !expired, "reason",
			    revoked ? crl_reason_label((int)db_get_int(r, i, 5, 0)) : "", "number",
			    db_get(r, i, 8)));
		}
	db_result_free(r);
	return arr;
}

json_t *cert_list(db_conn *c, const char *column, int64_t id, struct arena *ar, int warning_days)
{
	const char *sql = strcmp(column, "application_id") == 0
	                      ? "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, "
	                        "ce.status, ce.revoked_at, ce.revoke_reason, a.number FROM certificates ce "
	                        "JOIN applications a ON a.id = ce.application_id "
	                        "WHERE ce.application_id = $1 ORDER BY ce.id"
	                      : "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, "
	                        "ce.status, ce.revoked_at, ce.revoke_reason, a.number FROM certificates ce "
	                        "JOIN applications a ON a.id = ce.application_id "
	                        "WHERE ce.registration_id = $1 ORDER BY ce.id";
	db_result *r = NULL;
	json_t *arr = json_array();
	int64_t now = time_now();
	if (DB_EXEC(c, sql, &r, P_INT(id)) == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			int64_t na = db_get_int(r, i, 3, 0);
			bool revoked = strcmp(db_get(r, i, 4), "revoked") == 0;
			bool expired = !revoked && na < now;
			int64_t days = (na - now) / 86400;
			json_array_append_new(arr, json_pack(
			    "{s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:b, s:b, s:s, s:s}", "serial",
			    db_get(r, i, 0), "token_serial", db_get(r, i, 1), "issued",
			    time_date(ar, db_get_int(r, i, 2, 0)), "expires", time_date(ar, na), "days_left",
			    (json_int_t)(days < 0 ? 0 : days), "status_label",
			    revoked ? "已吊销" : expired ? "已过期" : "有效", "revoked", revoked, "expired",
			    expired, "valid", !revoked && !expired, "warning",
			    !revoked && !expired && days <= warning_days, "reason",
			    revoked ? crl_reason_label((int)db_get_int(r, i, 6, 0)) : "", "number",
			    db_get(r, i, 7)));
		}
	db_result_free(r);
	return arr;
}

/* ---- API tokens: 256 random bits, stored as their SHA-256 ---- */

enum db_status api_token_create(db_conn *c, const struct actor *a, const char *name, char **token)
{
	char *raw = random_token(32);
	char *tok = xasprintf("esp_%s", raw);
	sodium_memzero(raw, strlen(raw));
	free(raw);
	char hash[65];
	sha256_hex(tok, strlen(tok), hash);
	char prefix[13];
	snprintf(prefix, sizeof prefix, "%.12s", tok);
	const struct db_param params[] = {P_INT(a->account_id), P_TEXT(name), P_TEXT(hash),
	                                  P_TEXT(prefix), P_INT(time_now())};
	enum db_status st = db_exec_audited(c,
	    "INSERT INTO api_tokens (account_id, name, token_hash, prefix, created_at) "
	    "VALUES ($1, $2, $3, $4, $5)",
	    params, 5, NULL, a, "api_token.create", prefix, "", name);
	if (st != DB_OK) {
		sodium_memzero(tok, strlen(tok));
		free(tok);
		return st;
	}
	*token = tok;
	return DB_OK;
}

enum db_status api_token_actor(db_conn *c, struct arena *ar, const char *token, struct actor *out)
{
	if (!token || strlen(token) < 20 || strlen(token) > 128)
		return DB_NOT_FOUND;
	char hash[65];
	sha256_hex(token, strlen(token), hash);
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	    "SELECT ac.id, ac.role, ac.username, ac.display_name, ac.province_code, ac.status "
	    "FROM api_tokens t JOIN accounts ac ON ac.id = t.account_id "
	    "WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
	    &r, P_TEXT(hash));
	if (st == DB_OK && (r->nrows == 0 || strcmp(db_get(r, 0, 5), "active") != 0))
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		memset(out, 0, sizeof(*out));
		out->account_id = db_get_int(r, 0, 0, 0);
		out->role = role_parse(db_get(r, 0, 1));
		out->username = arena_strdup(ar, db_get(r, 0, 2));
		out->display_name = arena_strdup(ar, db_get(r, 0, 3));
		out->province_code = arena_strdup(ar, db_get(r, 0, 4));
		out->session_method = "api_token";
	}
	db_result_free(r);
	return st;
}

enum db_status api_token_revoke(db_conn *c, const struct actor *a, int64_t id)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, "SELECT 1 FROM api_tokens WHERE id = $1 AND account_id = $2 AND "
	                               "revoked_at IS NULL", &r, P_INT(id), P_INT(a->account_id));
	bool found = st == DB_OK && r->nrows == 1;
	db_result_free(r);
	r = NULL;
	if (st != DB_OK || !found)
		return st != DB_OK ? st : DB_NOT_FOUND;
	const struct db_param params[] = {P_INT(id), P_INT(a->account_id), P_INT(time_now())};
	char *obj = xasprintf("api_token:%lld", (long long)id);
	st = db_exec_audited(c,
	    "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND "
	    "revoked_at IS NULL RETURNING prefix",
	    params, 3, &r, a, "api_token.revoke", obj, "active", "revoked");
	free(obj);
	db_result_free(r);
	return st;
}

json_t *api_token_list(db_conn *c, int64_t account_id, struct arena *ar)
{
	db_result *r = NULL;
	json_t *arr = json_array();
	if (DB_EXEC(c, "SELECT id, name, prefix, created_at, revoked_at FROM api_tokens "
	               "WHERE account_id = $1 ORDER BY id DESC",
	            &r, P_INT(account_id)) == DB_OK)
		for (int i = 0; i < r->nrows; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", db_get(r, i, 0),
			                                     "name", db_get(r, i, 1), "prefix", db_get(r, i, 2),
			                                     "created", time_datetime(ar, db_get_int(r, i, 3, 0)),
			                                     "revoked", db_get(r, i, 4) != NULL));
	db_result_free(r);
	return arr;
}

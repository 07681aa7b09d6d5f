/*
 * 更新 (renewal) on the same key: the application, the issuance of the new
 * certificate against the old key's signature, and the confirmation that
 * supersedes the old certificate (see esp/renewal.h).
 */
#include "esp/renewal.h"
#include "esp/application.h"
#include "esp/fee.h"
#include "esp/json_util.h"
#include "esp/notify.h"
#include "esp/revoke.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CRL_AFFILIATION_CHANGED 3
#define CRL_SUPERSEDED 4

static const struct renewal_text {
	enum renewal_result r;
	int status;
	const char *code, *message;
} texts[] = {
    {RENEW_OK, 201, "ok", "证书已更新"},
    {RENEW_EXISTING, 200, "ok", "已办理过，返回原结果"},
    {RENEW_BAD_INPUT, 400, "bad_request",
     "请求格式错误：需要 certificate（原证书）、csr、signature 和 token_serial"},
    {RENEW_BAD_CERT, 403, "bad_certificate", "原证书不是本系统签发并登记的证书，或已超过更新期限"},
    {RENEW_BAD_SIGNATURE, 403, "bad_signature",
     "签名验证失败：证书请求必须由原证书的私钥签名（同一持有人），确认必须由新证书的私钥签名"},
    {RENEW_BAD_CSR, 400, "bad_csr", "证书请求(CSR)无效"},
    {RENEW_FORBIDDEN, 403, "forbidden", "该证书不属于当前登录的用户，不能申请更新"},
    {RENEW_NOT_VALID, 409, "not_valid", "该证书已吊销或已被更新，不能再更新"},
    {RENEW_TOO_EARLY, 409, "too_early", "证书尚未进入更新期：到期前规定天数内才能申请更新"},
    {RENEW_TOO_LATE, 409, "too_late",
     "证书已过期且超过更新宽限期，不能在线更新；请再次申请证书U盘"},
    {RENEW_NO_APPLICATION, 409, "no_application",
     "没有该证书的更新申请：请先登录系统，在【当前用户信息】中申请证书更新并付款"},
    {RENEW_NOT_PAID, 409, "not_paid", "证书更新申请尚未确认付款（或已退回、撤销），不能签发新证书"},
    {RENEW_WRONG_TOKEN, 409, "wrong_token",
     "证书更新只能在原证书所在的证书U盘上进行（证书U盘序列号不符）"},
    {RENEW_OTHER_KEY, 409, "other_key",
     "该更新申请已为另一个新密钥签发了证书，不能再为其他密钥签发"},
    {RENEW_ERROR, 500, "internal", "系统内部错误，请稍后重试"},
};

static const struct renewal_text *text_of(enum renewal_result r)
{
	size_t n = sizeof texts / sizeof texts[0];
	for (size_t i = 0; i < n; i++)
		if (texts[i].r == r)
			return &texts[i];
	return &texts[n - 1];
}

const char *renewal_result_code(enum renewal_result r)
{
	return text_of(r)->code;
}

const char *renewal_result_message(enum renewal_result r)
{
	return text_of(r)->message;
}

int renewal_result_status(enum renewal_result r)
{
	return text_of(r)->status;
}

enum renewal_result renewal_in_window(int64_t not_after, int64_t now,
                                      const struct renewal_window *w)
{
	if (now < not_after - (int64_t)w->before_days * 86400)
		return RENEW_TOO_EARLY;
	if (now > not_after + (int64_t)w->grace_days * 86400)
		return RENEW_TOO_LATE;
	return RENEW_OK;
}

/* ---- applying ---- */

struct apply_ctx {
	const struct actor *a;
	const char *serial;
	const struct renewal_window *w;
	enum renewal_result result;
	char *number;
};

/* The renewal application of the certificate still in the running (not
 * withdrawn, not yet renewed); NULL number when there is none.  Its
 * change_id (column 3) is set when a 信息变更 made it (core/change.c). */
static enum db_status open_renewal(db_conn *c, const char *serial, db_result **r)
{
	/* 'withdrawn' is written out (as in renewal_list): see there. */
	return DB_EXEC(c,
	               "SELECT id, number, state, change_id FROM applications WHERE "
	               "renews_serial = $1 AND "
	               "type = 'renewal' AND state <> 'withdrawn' ORDER BY id DESC LIMIT 1",
	               r, P_TEXT(serial));
}

static enum db_status apply_tx(db_conn *c, void *arg)
{
	struct apply_ctx *x = arg;
	free(x->number);
	x->number = NULL;
	x->result = RENEW_ERROR;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT ce.status, ce.not_after, ce.registration_id, ce.application_id, r.kind, "
	    "a.contact_name, a.contact_id_number, a.mobile, a.phone, a.email, a.address, "
	    "a.postcode, a.invoice_title, a.taxpayer_id "
	    "FROM certificates ce JOIN registrations r ON r.id = ce.registration_id "
	    "JOIN applications a ON a.id = ce.application_id WHERE ce.serial = $1",
	    &r, P_TEXT(x->serial));
	if (st != DB_OK)
		return st;
	if (r->nrows == 0 || db_get_int(r, 0, 2, 0) != x->a->registration_id ||
	    x->a->role != ROLE_APPLICANT) {
		x->result = RENEW_FORBIDDEN;
		db_result_free(r);
		return DB_CONFLICT;
	}
	if (strcmp(db_get(r, 0, 0), "valid") != 0) {
		x->result = RENEW_NOT_VALID;
		db_result_free(r);
		return DB_CONFLICT;
	}
	int64_t now = time_now();
	x->result = renewal_in_window(db_get_int(r, 0, 1, 0), now, x->w);
	if (x->result != RENEW_OK) {
		db_result_free(r);
		return DB_CONFLICT;
	}
	db_result *o = NULL;
	st = open_renewal(c, x->serial, &o);
	if (st == DB_OK && o->nrows) {
		x->number = xstrdup(db_get(o, 0, 1));
		x->result = RENEW_EXISTING;
		db_result_free(o);
		db_result_free(r);
		return DB_OK;
	}
	db_result_free(o);
	o = NULL;
	enum app_state to;
	struct fee fee;
	enum reg_kind k = kind_parse(db_get(r, 0, 4));
	if (st == DB_OK &&
	    !appstate_next(APP_NEW, STEP_SUBMIT, x->a->role,
	                   APP_FACT_RENEWAL | (k == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0), &to))
		st = DB_CONFLICT;
	if (st == DB_OK)
		st = fee_current(c, &fee);
	if (st == DB_OK)
		st = application_next_number(c, &x->number);
	/* One key per renewal: the idempotency key names the certificate and
	 * how many renewals of it were withdrawn before. */
	if (st == DB_OK)
		st = DB_EXEC(c, "SELECT COUNT(*) FROM applications WHERE renews_serial = $1", &o,
		             P_TEXT(x->serial));
	char *idem =
	    st == DB_OK ? xasprintf("renewal-%s-%lld", x->serial, (long long)db_get_int(o, 0, 0, 0))
	                : NULL;
	db_result_free(o);
	o = NULL;
	long amount = k == KIND_EVALUATOR ? 0 : fee.renewal_yuan;
	if (st == DB_OK)
		st = DB_EXEC(
		    c,
		    "INSERT INTO applications (number, registration_id, type, state, sets, "
		    "contact_name, contact_id_number, mobile, phone, email, address, postcode, "
		    "invoice_title, taxpayer_id, price_yuan, medium_yuan, years, amount_yuan, "
		    "idem_key, submitted_at, updated_at, renews_serial) "
		    "VALUES ($1, $2, 'renewal', $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
		    "0, "
		    "$14, $13, $15, $16, $16, $17) RETURNING id",
		    &o, P_TEXT(x->number), P_INT(db_get_int(r, 0, 2, 0)), P_TEXT(appstate_name(to)),
		    P_TEXT(db_get(r, 0, 5)), P_TEXT(db_get(r, 0, 6)), P_TEXT(db_get(r, 0, 7)),
		    P_TEXT(db_get(r, 0, 8)), P_TEXT(db_get(r, 0, 9)), P_TEXT(db_get(r, 0, 10)),
		    P_TEXT(db_get(r, 0, 11)), P_TEXT(db_get(r, 0, 12)), P_TEXT(db_get(r, 0, 13)),
		    P_INT(amount), P_INT(fee.years), P_TEXT(idem), P_INT(now), P_TEXT(x->serial));
	free(idem);
	db_result_free(r);
	if (st == DB_CONFLICT) {
		/* The same certificate applied for at the same moment: find that one. */
		db_result_free(o);
		return DB_RETRY;
	}
	if (st == DB_OK) {
		char *note = xasprintf("更新证书 %s", x->serial);
		st = application_event(c, x->a, db_get_int(o, 0, 0, 0), appstep_name(STEP_SUBMIT),
		                       appstate_name(APP_NEW), appstate_name(to), note);
		free(note);
	}
	db_result_free(o);
	if (st == DB_OK)
		x->result = RENEW_OK;
	return st;
}

enum renewal_result renewal_apply(db_conn *c, const struct actor *a, const char *serial,
                                  const struct renewal_window *w, char **number)
{
	*number = NULL;
	if (!serial || !*serial || strlen(serial) > 64)
		return RENEW_BAD_INPUT;
	struct apply_ctx x = {.a = a, .serial = serial, .w = w, .result = RENEW_ERROR};
	enum db_status st = db_transaction(c, apply_tx, &x);
	if (st != DB_OK && x.result == RENEW_OK)
		x.result = RENEW_ERROR;
	if (x.result == RENEW_OK || x.result == RENEW_EXISTING)
		*number = x.number;
	else
		free(x.number);
	return x.result;
}

/* ---- the tool's requests ---- */

static unsigned char *pem_cert_der(const char *pem, size_t *len, X509 **out)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!x)
		return NULL;
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	unsigned char *copy = NULL;
	if (n > 0) {
		copy = xmalloc((size_t)n);
		memcpy(copy, der, (size_t)n);
		*len = (size_t)n;
	}
	OPENSSL_free(der);
	if (out && copy)
		*out = x;
	else
		X509_free(x);
	return copy;
}

static bool unbase64(const char *s, unsigned char *out, size_t max, size_t *len)
{
	return s && sodium_base642bin(out, max, s, strlen(s), NULL, len, NULL,
	                              sodium_base64_VARIANT_ORIGINAL) == 0;
}

/* A certificate of our CA, checked at `now` or, expired, within the grace
 * period; *serial (malloc'd) names it. */
static bool ours(esp_ca *ca, const unsigned char *der, size_t len, int grace_days, char **serial)
{
	int64_t now = time_now();
	enum ca_verdict v = ca_verify_client(ca, der, len, (time_t)now, serial);
	if (v == CA_CERT_EXPIRED)
		v = ca_verify_client(ca, der, len, (time_t)(now - (int64_t)grace_days * 86400),
		                     serial);
	return v == CA_CERT_GOOD;
}

/* The holder's account as the actor of the tool's steps. */
static enum db_status holder_actor(db_conn *c, int64_t reg_id, struct arena *ar, struct actor *a)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	                            "SELECT id, username FROM accounts WHERE registration_id = $1 "
	                            "AND role = 'applicant' ORDER BY id LIMIT 1",
	                            &r, P_INT(reg_id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK)
		*a = (struct actor){.account_id = db_get_int(r, 0, 0, 0),
		                    .role = ROLE_APPLICANT,
		                    .username = arena_strdup(ar, db_get(r, 0, 1)),
		                    .registration_id = reg_id,
		                    .session_method = "certificate"};
	db_result_free(r);
	return st;
}

struct issue_renewal_ctx {
	esp_ca *ca;
	const struct renewal_request *rq;
	const struct renewal_window *w;
	const char *old_serial, *crl_url;
	const unsigned char *old_der;
	size_t old_len;
	const ca_csr *csr;
	EVP_PKEY *csr_key;
	int validity_days;
	enum renewal_result result;
	enum ca_status csr_status;
	struct issued out;
	char *number;
	struct arena *ar;
};

static bool same_der(db_result *r, int col, const unsigned char *der, size_t len)
{
	const char *stored = db_get(r, 0, col);
	return stored && db_get_len(r, 0, col) == len && memcmp(stored, der, len) == 0;
}

/* Whether the stored certificate (DER in column col) carries key k. */
static bool carries_key(db_result *r, int col, EVP_PKEY *k)
{
	const unsigned char *p = (const unsigned char *)db_get(r, 0, col);
	X509 *x = p ? d2i_X509(NULL, &p, (long)db_get_len(r, 0, col)) : NULL;
	bool same = x && EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1;
	X509_free(x);
	return same;
}

static enum db_status issue_renewal_tx(db_conn *c, void *arg)
{
	struct issue_renewal_ctx *x = arg;
	issued_free(&x->out);
	free(x->number);
	x->number = NULL;
	x->result = RENEW_ERROR;
	db_result *r = NULL, *a = NULL, *e = NULL;
	struct application app = {0};
	enum db_status st = DB_EXEC(c,
	                            "SELECT status, not_after, registration_id, token_serial, der "
	                            "FROM certificates WHERE serial = $1",
	                            &r, P_TEXT(x->old_serial));
	if (st != DB_OK)
		goto out;
	st = DB_CONFLICT;
	if (r->nrows == 0 || !same_der(r, 4, x->old_der, x->old_len) || !db_get(r, 0, 2)) {
		x->result = RENEW_BAD_CERT;
		goto out;
	}
	if (strcmp(db_get(r, 0, 0), "valid") != 0) {
		x->result = RENEW_NOT_VALID;
		goto out;
	}
	if (strcmp(db_get(r, 0, 3), x->rq->token_serial) != 0) {
		x->result = RENEW_WRONG_TOKEN;
		goto out;
	}
	st = open_renewal(c, x->old_serial, &a);
	if (st != DB_OK)
		goto out;
	/* A certificate whose subject a 信息变更 changed is renewed whenever
	 * the change is approved, not only in its window. */
	bool changed = a->nrows && db_get(a, 0, 3);
	if (!changed &&
	    (x->result = renewal_in_window(db_get_int(r, 0, 1, 0), time_now(), x->w)) != RENEW_OK) {
		st = DB_CONFLICT;
		goto out;
	}
	if (a->nrows == 0) {
		x->result = RENEW_NO_APPLICATION;
		st = DB_CONFLICT;
		goto out;
	}
	x->number = xstrdup(db_get(a, 0, 1));
	int64_t app_id = db_get_int(a, 0, 0, 0);
	/* A retry: the certificate made for this renewal, if it is this key's. */
	st = DB_EXEC(c, "SELECT serial, pem, der FROM certificates WHERE application_id = $1", &e,
	             P_INT(app_id));
	if (st != DB_OK)
		goto out;
	if (e->nrows) {
		if (!carries_key(e, 2, x->csr_key)) {
			x->result = RENEW_OTHER_KEY;
			st = DB_CONFLICT;
			goto out;
		}
		x->out.serial = xstrdup(db_get(e, 0, 0));
		x->out.pem = xstrdup(db_get(e, 0, 1));
		x->result = RENEW_EXISTING;
		goto out;
	}
	bool have = application_get(c, x->ar, x->number, &app) == DB_OK;
	enum app_state from = app.state, to;
	if (!have ||
	    !appstate_next(from, STEP_ISSUE, ROLE_APPLICANT, application_facts(&app), &to)) {
		x->result = RENEW_NOT_PAID;
		st = DB_CONFLICT;
		goto out;
	}
	struct actor holder;
	if ((st = holder_actor(c, db_get_int(r, 0, 2, 0), x->ar, &holder)) != DB_OK)
		goto out;
	/* Signed here, in the transaction: renewals are rare, and the subject
	 * is the registration's as it stands now. */
	struct cert_profile p;
	issue_profile(&app, x->crl_url, x->validity_days, &p);
	/* From ESP's now (the one the window and the confirmation are judged
	 * by), backdated like the CA's own default for clock skew. */
	p.not_before = (time_t)(time_now() - 5 * 60);
	char *serial = NULL, *pem = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	time_t nb = 0, na = 0;
	x->csr_status = ca_issue_csr(x->ca, x->csr, &p, &serial, &pem, &der, &der_len, &nb, &na);
	if (x->csr_status != CA_OK) {
		x->result = x->csr_status == CA_ERR_INTERNAL ? RENEW_ERROR : RENEW_BAD_CSR;
		st = x->csr_status == CA_ERR_INTERNAL ? DB_ERROR : DB_CONFLICT;
		goto out;
	}
	char *subject = xasprintf("CN=%s, OU=%s, ST=%s, serialNumber=%s", p.common_name, p.org_unit,
	                          p.province ? p.province : "", p.code ? p.code : "");
	int64_t now = time_now();
	/* 'pending' until the tool confirms it is on the token: the old one
	 * stays the token's one valid certificate meanwhile. */
	st =
	    DB_EXEC(c,
	            "INSERT INTO certificates (serial, application_id, registration_id, "
	            "token_serial, subject, pem, der, not_before, not_after, status, issued_by, "
	            "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11)",
	            NULL, P_TEXT(serial), P_INT(app_id), P_INT(db_get_int(r, 0, 2, 0)),
	            P_TEXT(x->rq->token_serial), P_TEXT(subject), P_TEXT(pem), P_BLOB(der, der_len),
	            P_INT(nb), P_INT(na), P_INT(holder.account_id), P_INT(now));
	free(subject);
	free(der);
	if (st == DB_CONFLICT)
		st = DB_RETRY; /* the same renewal at the same moment: look again */
	if (st == DB_OK)
		st = DB_EXEC(c,
		             "UPDATE applications SET state = $2, issued_at = $3, updated_at = $3 "
		             "WHERE id = $1",
		             NULL, P_INT(app_id), P_TEXT(appstate_name(to)), P_INT(now));
	if (st == DB_OK) {
		char *note = xasprintf("更新证书 %s → %s（待确认） 证书U盘 %s", x->old_serial,
		                       serial, x->rq->token_serial);
		st = application_event(c, &holder, app_id, appstep_name(STEP_ISSUE),
		                       appstate_name(from), appstate_name(to), note);
		free(note);
	}
	if (st == DB_OK) {
		x->out.serial = serial;
		x->out.pem = pem;
		x->result = RENEW_OK;
	} else {
		free(serial);
		free(pem);
	}
out:
	db_result_free(e);
	db_result_free(a);
	db_result_free(r);
	return st;
}

enum renewal_result renewal_issue(db_conn *c, esp_ca *ca, const struct renewal_request *rq,
                                  const struct renewal_window *w, const char *crl_url,
                                  int validity_days, enum ca_status *csr_status, struct issued *out,
                                  char **number)
{
	*csr_status = CA_OK;
	*number = NULL;
	memset(out, 0, sizeof(*out));
	if (!rq->old_cert_pem || !rq->csr_pem || !rq->signature_b64 || !rq->token_serial ||
	    !*rq->token_serial || strlen(rq->token_serial) > 64 ||
	    strlen(rq->csr_pem) > 64 * 1024 || strlen(rq->old_cert_pem) > 16 * 1024 ||
	    strlen(rq->signature_b64) > 2048)
		return RENEW_BAD_INPUT;
	size_t old_len = 0;
	unsigned char *old_der = pem_cert_der(rq->old_cert_pem, &old_len, NULL);
	if (!old_der)
		return RENEW_BAD_INPUT;
	enum renewal_result res = RENEW_ERROR;
	char *old_serial = NULL;
	ca_csr *csr = NULL;
	X509_REQ *req = NULL;
	unsigned char sig[1024];
	size_t sig_len = 0;
	struct arena *ar = arena_new();
	if (!ours(ca, old_der, old_len, w->grace_days, &old_serial)) {
		res = RENEW_BAD_CERT;
		goto out;
	}
	/* The proof that the holder of the old key asks: its signature over
	 * the CSR exactly as sent. */
	if (!unbase64(rq->signature_b64, sig, sizeof sig, &sig_len) ||
	    !ca_verify_signature(old_der, old_len, (const unsigned char *)rq->csr_pem,
	                         strlen(rq->csr_pem), sig, sig_len)) {
		res = RENEW_BAD_SIGNATURE;
		goto out;
	}
	enum ca_status cs = ca_csr_parse(rq->csr_pem, strlen(rq->csr_pem), &csr);
	BIO *b = BIO_new_mem_buf(rq->csr_pem, -1);
	req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (cs != CA_OK || !req) {
		*csr_status = cs;
		res = cs == CA_ERR_INTERNAL ? RENEW_ERROR : RENEW_BAD_CSR;
		goto out;
	}
	struct issue_renewal_ctx x = {.ca = ca,
	                              .rq = rq,
	                              .w = w,
	                              .old_serial = old_serial,
	                              .crl_url = crl_url,
	                              .old_der = old_der,
	                              .old_len = old_len,
	                              .csr = csr,
	                              .csr_key = X509_REQ_get0_pubkey(req),
	                              .validity_days = validity_days,
	                              .result = RENEW_ERROR,
	                              .ar = ar};
	/* The new key must be a new key: the old one renewed is no renewal. */
	X509 *old = NULL;
	free(pem_cert_der(rq->old_cert_pem, &old_len, &old));
	bool same_key = old && EVP_PKEY_eq(X509_get0_pubkey(old), x.csr_key) == 1;
	X509_free(old);
	if (same_key) {
		res = RENEW_BAD_CSR;
		goto out;
	}
	enum db_status st = db_transaction(c, issue_renewal_tx, &x);
	res = x.result;
	*csr_status = x.csr_status;
	if ((res == RENEW_OK || res == RENEW_EXISTING) && st == DB_OK) {
		*out = x.out;
		memset(&x.out, 0, sizeof x.out);
		*number = x.number;
		x.number = NULL;
	} else if (res == RENEW_OK || res == RENEW_EXISTING) {
		res = RENEW_ERROR;
	}
	issued_free(&x.out);
	free(x.number);
out:
	arena_free(ar);
	X509_REQ_free(req);
	ca_csr_free(csr);
	free(old_serial);
	free(old_der);
	return res;
}

/* ---- confirmation ---- */

struct confirm_ctx {
	esp_ca *ca;
	const char *serial;
	const unsigned char *der;
	size_t len;
	int crl_hours;
	enum renewal_result result;
	char *number, *old_serial;
	struct arena *ar;
};

static enum db_status confirm_tx(db_conn *c, void *arg)
{
	struct confirm_ctx *x = arg;
	free(x->number);
	free(x->old_serial);
	x->number = x->old_serial = NULL;
	x->result = RENEW_ERROR;
	db_result *r = NULL;
	struct application app = {0};
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT ce.status, ce.der, a.number, a.renews_serial, a.id, ce.registration_id, "
	    "a.change_id FROM certificates ce JOIN applications a ON a.id = ce.application_id "
	    "WHERE ce.serial = $1 AND a.type = 'renewal'",
	    &r, P_TEXT(x->serial));
	if (st != DB_OK)
		goto out;
	st = DB_CONFLICT;
	if (r->nrows == 0 || !same_der(r, 1, x->der, x->len)) {
		x->result = RENEW_BAD_CERT;
		goto out;
	}
	x->number = xstrdup(db_get(r, 0, 2));
	x->old_serial = xstrdup(db_get(r, 0, 3));
	bool have = application_get(c, x->ar, x->number, &app) == DB_OK;
	enum app_state from = have ? app.state : APP_STATE_UNKNOWN, to;
	if (strcmp(db_get(r, 0, 0), "valid") == 0 && from == APP_RENEWED) {
		x->result = RENEW_EXISTING; /* confirmed before; the answer is lost, not the step */
		st = DB_OK;
		goto out;
	}
	if (strcmp(db_get(r, 0, 0), "pending") != 0 ||
	    !appstate_next(from, STEP_CONFIRM, ROLE_APPLICANT, application_facts(&app), &to)) {
		x->result = RENEW_NOT_VALID;
		goto out;
	}
	struct actor holder;
	if ((st = holder_actor(c, db_get_int(r, 0, 5, 0), x->ar, &holder)) != DB_OK)
		goto out;
	int64_t now = time_now();
	/* Replaced for a 信息变更 the old subject is no longer the holder's
	 * (affiliationChanged); else the new certificate supersedes it. */
	bool changed = db_get(r, 0, 6) != NULL;
	/* The old one first: one valid certificate per token at every statement. */
	db_result *o = NULL;
	st = DB_EXEC(c,
	             "UPDATE certificates SET status = 'revoked', revoked_at = $2, revoke_reason = "
	             "$3 WHERE serial = $1 AND status = 'valid' RETURNING id",
	             &o, P_TEXT(x->old_serial), P_INT(now),
	             P_INT(changed ? CRL_AFFILIATION_CHANGED : CRL_SUPERSEDED));
	bool revoked = st == DB_OK && o->nrows == 1;
	db_result_free(o);
	if (st != DB_OK)
		goto out;
	if (!revoked) {
		/* Lost (挂失) or revoked by the RA meanwhile: its token is not the holder's to
		 * renew. */
		x->result = RENEW_NOT_VALID;
		st = DB_CONFLICT;
		goto out;
	}
	st = DB_EXEC(c, "UPDATE certificates SET status = 'valid' WHERE serial = $1", NULL,
	             P_TEXT(x->serial));
	if (st == DB_OK)
		st = DB_EXEC(c, "UPDATE applications SET state = $2, updated_at = $3 WHERE id = $1",
		             NULL, P_INT(db_get_int(r, 0, 4, 0)), P_TEXT(appstate_name(to)),
		             P_INT(now));
	if (st == DB_OK) {
		char *note =
		    xasprintf(changed ? "新证书 %s 已写入证书U盘；原证书 %s 吊销（信息变更）"
		                      : "新证书 %s 已写入证书U盘；原证书 %s 吊销（已被替代）",
		              x->serial, x->old_serial);
		st = application_event(c, &holder, db_get_int(r, 0, 4, 0),
		                       appstep_name(STEP_CONFIRM), appstate_name(from),
		                       appstate_name(to), note);
		free(note);
	}
	if (st == DB_OK) {
		char *obj = xasprintf("certificate:%s", x->old_serial);
		st = audit_append(c, &holder, "certificate.revoke", obj, "valid", "revoked");
		free(obj);
	}
	if (st == DB_OK) {
		char *obj = xasprintf("certificate:%s", x->serial);
		st = audit_append(c, &holder, "certificate.renew", obj, "pending", "valid");
		free(obj);
	}
	if (st == DB_OK)
		st = crl_publish(c, x->ca, x->crl_hours);
	/* Told in this transaction: the holder hears of the new certificate
	 * (and of the old one's revocation) exactly when both happened. */
	if (st == DB_OK)
		st = notify_enqueue(
		    c, NOTICE_RENEWED,
		    &(struct notice){.registration_id = db_get_int(r, 0, 5, 0),
		                     .application_number = x->number,
		                     .cert_serial = x->serial,
		                     .old_serial = x->old_serial,
		                     .reason = crl_reason_label(changed ? CRL_AFFILIATION_CHANGED
		                                                        : CRL_SUPERSEDED)});
	if (st == DB_OK)
		x->result = RENEW_OK;
out:
	db_result_free(r);
	return st;
}

enum renewal_result renewal_confirm(db_conn *c, esp_ca *ca, const char *cert_pem,
                                    const char *signature_b64, int crl_hours, char **number,
                                    char **old_serial)
{
	*number = *old_serial = NULL;
	if (!cert_pem || !signature_b64 || strlen(cert_pem) > 16 * 1024 ||
	    strlen(signature_b64) > 2048)
		return RENEW_BAD_INPUT;
	size_t len = 0;
	unsigned char *der = pem_cert_der(cert_pem, &len, NULL);
	if (!der)
		return RENEW_BAD_INPUT;
	enum renewal_result res = RENEW_ERROR;
	char *serial = NULL;
	unsigned char sig[1024];
	size_t sig_len = 0;
	struct arena *ar = arena_new();
	if (ca_verify_client(ca, der, len, (time_t)time_now(), &serial) != CA_CERT_GOOD) {
		res = RENEW_BAD_CERT;
		goto out;
	}
	/* The new key signs its own certificate: it is on the token that asks. */
	if (!unbase64(signature_b64, sig, sizeof sig, &sig_len) ||
	    !ca_verify_signature(der, len, der, len, sig, sig_len)) {
		res = RENEW_BAD_SIGNATURE;
		goto out;
	}
	struct confirm_ctx x = {
	    .ca = ca, .serial = serial, .der = der, .len = len, .crl_hours = crl_hours, .ar = ar};
	enum db_status st = db_transaction(c, confirm_tx, &x);
	res = x.result;
	if ((res == RENEW_OK || res == RENEW_EXISTING) && st == DB_OK) {
		*number = x.number;
		*old_serial = x.old_serial;
	} else {
		if (res == RENEW_OK || res == RENEW_EXISTING)
			res = RENEW_ERROR;
		free(x.number);
		free(x.old_serial);
	}
out:
	arena_free(ar);
	free(serial);
	free(der);
	return res;
}

/* ---- the page's list ---- */

enum db_status renewal_list(db_conn *c, struct arena *a, int64_t registration_id,
                            const struct renewal_window *w, struct renewal_row **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	db_result *r = NULL;
	/* The withdrawn state is written out, not a parameter: with "<> $2"
	 * PostgreSQL's generic plan of this prepared statement is costed above
	 * the custom one (it cannot see how few rows are withdrawn), so it
	 * planned the statement again at every execution: 0.1 ms of planning
	 * for 0.01 ms of work, on the holder's every 当前用户信息 page. */
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT ce.serial, ce.token_serial, ce.not_after, ce.status, "
	            "(SELECT a.number FROM applications a WHERE a.renews_serial = ce.serial AND "
	            "a.state <> 'withdrawn' ORDER BY a.id DESC LIMIT 1), "
	            "(SELECT a.state FROM applications a WHERE a.renews_serial = ce.serial AND "
	            "a.state <> 'withdrawn' ORDER BY a.id DESC LIMIT 1) "
	            "FROM certificates ce WHERE ce.registration_id = $1 AND ce.status <> 'pending' "
	            "ORDER BY ce.id",
	            &r, P_INT(registration_id));
	if (st == DB_OK && r->nrows) {
		int64_t now = time_now();
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		for (int i = 0; i < r->nrows; i++) {
			int64_t na = db_get_int(r, i, 2, 0);
			(*out)[i] = (struct renewal_row){
			    .serial = arena_strdup(a, db_get(r, i, 0)),
			    .token_serial = arena_strdup(a, db_get(r, i, 1)),
			    .not_after = na,
			    .revoked = strcmp(db_get(r, i, 3), "valid") != 0,
			    .window = renewal_in_window(na, now, w),
			    .number = db_get(r, i, 4) ? arena_strdup(a, db_get(r, i, 4)) : NULL,
			    .state = db_get(r, i, 5) ? appstate_parse(db_get(r, i, 5)) : APP_NEW,
			};
		}
		*n = (size_t)r->nrows;
	}
	db_result_free(r);
	return st;
}

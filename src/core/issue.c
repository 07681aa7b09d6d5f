/*
 * Issuance of certificates onto tokens.
 *
 * The certificate is built from the application, never from the CSR: the
 * CSR only lends its public key. The CA key itself stays inside esp_ca.
 */
#include "esp/issue.h"
#include "issue_job.h"
#include "esp/application.h"
#include "esp/replace.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
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
    {ISSUE_WRONG_STATE, "wrong_state",
     "该申请尚未确认付款和申请材料，或已退回、撤销，不能签发证书"},
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

const char *issue_result_code(enum issue_result r)
{
	return issue_text(r)->code;
}

const char *issue_result_message(enum issue_result r)
{
	return issue_text(r)->message;
}

/*
 * Issuing a certificate: the CSR is parsed and its self-signature verified
 * once (ca_csr_parse), before the transaction, so that the expensive part
 * of a refusal never holds the store.  The transaction reads the
 * application once, decides everything (policy, state, count, token),
 * builds and signs the certificate from what it read, inserts it and writes
 * the event and the audit record.
 *
 * The certificate used to be signed before the transaction, from a first
 * read of the application, and the transaction read it again to check that
 * first read: two reads of the application per certificate (together ~8 %
 * of espd's CPU per issuance).  Signing in the transaction holds SQLite's
 * write lock ~50 µs longer; with espd's two workers under bench/
 * issue_bench.sh two issuances met in the store in ~5 % of the commits, so
 * that rarely delays anyone, while the read saved is paid by every one.
 */

static void signed_cert_free(struct signed_cert *s)
{
	if (s->ar)
		arena_free(s->ar);
	free(s->serial);
	free(s->pem);
	free(s->der);
	memset(s, 0, sizeof(*s));
}

/* What goes into the certificate: everything from the application (its
 * registration: the unit or the person), never from the CSR.  The strings
 * point into app. */
void issue_profile(const struct application *app, const char *crl_url, int validity_days,
                   struct cert_profile *p)
{
	enum reg_kind k = app->kind;
	const char *name = app->reg_name;
	const char *code = app->reg_code;
	const char *work_unit = app->work_unit;
	*p = (struct cert_profile){
	    .common_name = name,
	    .organization = k == KIND_EVALUATOR ? (work_unit ? work_unit : "") : name,
	    .org_unit = kind_label(k),
	    .province = app->province,
	    .code = code,
	    .code_kind = k == KIND_EVALUATOR  ? "id"
	                 : strlen(code) == 18 ? "uscc"
	                                      : "org",
	    .validity_days = validity_days,
	    .crl_url = crl_url,
	};
}

static void app_profile(const struct application *app, const struct issue_ctx *x,
                        struct cert_profile *p)
{
	issue_profile(app, x->crl_url, x->validity_days, p);
}

/* s in arena, NULL staying NULL. */
static const char *keep(struct arena *a, const char *s)
{
	return s ? arena_strdup(a, s) : NULL;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Would a certificate built from q be the one built from p? */
static bool profile_same(const struct cert_profile *p, const struct cert_profile *q)
{
	return same_str(p->common_name, q->common_name) &&
	       same_str(p->organization, q->organization) && same_str(p->org_unit, q->org_unit) &&
	       same_str(p->province, q->province) && same_str(p->code, q->code) &&
	       same_str(p->code_kind, q->code_kind) && p->validity_days == q->validity_days &&
	       same_str(p->crl_url, q->crl_url);
}

/* Sign the certificate for the application app into s (replacing what s held). */
static enum ca_status sign_for(const struct issue_ctx *x, const struct application *app,
                               struct signed_cert *s)
{
	signed_cert_free(s);
	/* The profile outlives app (it is compared in the transaction): its
	 * strings are copied into s's arena. */
	s->ar = arena_new();
	app_profile(app, x, &s->p);
	s->p.common_name = keep(s->ar, s->p.common_name);
	s->p.organization = keep(s->ar, s->p.organization);
	s->p.province = keep(s->ar, s->p.province);
	s->p.code = keep(s->ar, s->p.code);
	return ca_issue_csr(x->ca, x->csr, &s->p, &s->serial, &s->pem, &s->der, &s->der_len, &s->nb,
	                    &s->na);
}

static enum db_status issue_tx(db_conn *c, void *arg)
{
	struct issue_ctx *x = arg;
	issued_free(&x->out);
	struct arena *ar = arena_new();
	struct application application, *app = &application;
	enum db_status st = application_get(c, ar, x->number, app);
	if (st != DB_OK) {
		arena_free(ar);
		x->result = st == DB_NOT_FOUND ? ISSUE_NOT_FOUND : ISSUE_ERROR;
		return st;
	}
	struct policy_object o;
	application_policy_object(app, &o);
	int64_t app_id = app->id;
	int64_t reg_id = app->registration_id;
	enum app_state from = app->state;
	int sets = app->sets;
	db_result *r = NULL;
	if (!policy_allows(x->a, ACT_APPLICATION_RA, &o)) {
		x->result = ISSUE_FORBIDDEN;
		st = DB_CONFLICT;
		goto out;
	}
	/* A retried request: the same token for the same application. */
	st = DB_EXEC(c,
	             "SELECT serial, pem, status FROM certificates WHERE application_id = $1 AND "
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
	/* Whether this set is the last one is known below; the state decides first.
	 * A renewal is the holder's tool's to issue (core/renewal.c), never the RA's. */
	unsigned kind = application_facts(app) & APP_FACTS_KIND;
	if (!appstate_next(from, STEP_ISSUE, x->a->role, kind, NULL) &&
	    !appstate_next(from, STEP_ISSUE, x->a->role, kind | APP_FACT_LAST_SET, NULL)) {
		x->result = from == APP_ISSUED ? ISSUE_ALL_ISSUED : ISSUE_WRONG_STATE;
		st = DB_CONFLICT;
		goto out;
	}
	st = DB_EXEC(c, "SELECT COUNT(*) FROM certificates WHERE application_id = $1", &r,
	             P_INT(app_id));
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
	st = DB_EXEC(c, "SELECT 1 FROM certificates WHERE token_serial = $1 AND status = 'valid'",
	             &r, P_TEXT(x->token));
	if (st != DB_OK)
		goto out;
	if (r->nrows) {
		x->result = ISSUE_TOKEN_IN_USE;
		st = DB_CONFLICT;
		goto out;
	}
	db_result_free(r);
	r = NULL;

	/* Signed here, from what the application says now; a certificate kept
	 * from an earlier attempt of this request (a batch run again alone) is
	 * used again only if it was built from the same fields. */
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
	             "INSERT INTO certificates (serial, application_id, registration_id, "
	             "token_serial, subject, "
	             "pem, der, not_before, not_after, status, issued_by, created_at) "
	             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'valid', $10, $11)",
	             NULL, P_TEXT(sc->serial), P_INT(app_id), P_INT(reg_id), P_TEXT(x->token),
	             P_TEXT(subject), P_TEXT(sc->pem), P_BLOB(sc->der, sc->der_len), P_INT(sc->nb),
	             P_INT(sc->na), P_INT(x->a->account_id), P_INT(now));
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
		if (!appstate_next(from, STEP_ISSUE, x->a->role,
		                   kind | (all ? APP_FACT_LAST_SET : 0), &to))
			st = DB_CONFLICT; /* the table answered yes above, for either fact */
		if (st == DB_OK && to != from)
			st = DB_EXEC(c,
			             "UPDATE applications SET state = $3, issued_at = $2, "
			             "updated_at = $2 WHERE id = $1",
			             NULL, P_INT(app_id), P_INT(now), P_TEXT(appstate_name(to)));
		if (st == DB_OK)
			st = application_event_numbered(
			    c, x->a, app_id, app->number, appstep_name(STEP_ISSUE),
			    appstate_name(from), appstate_name(to), note);
		free(note);
		/* 损坏补办: the broken token's certificate ends with its replacement. */
		if (st == DB_OK)
			st = replace_issued(c, x->ca, x->a, app, x->crl_hours);
	}
	x->result = st == DB_OK ? ISSUE_OK : ISSUE_ERROR;
out:
	db_result_free(r);
	arena_free(ar);
	return st;
}

/*
 * Group commit.  Concurrent issuances are stored in one transaction.  Two
 * ways lead here: with issue_group_commit = on, the committer thread
 * (issue_commit.c) hands issue_batch_run every job queued while it was
 * committing; with it off, store_batched below lets a request that finds
 * another one committing queue itself, and the next request to find the
 * store free commits every queued certificate together (with one worker
 * per request, rare: bench/RESULTS.md).  Either way each request is
 * answered only after the COMMIT that holds its certificate (or its
 * refusal) has returned, so an acknowledged certificate is as durable as
 * before, and one COMMIT (one sync of the WAL) serves the whole batch.
 *
 * Within the batch each request runs in a SAVEPOINT: a refusal (policy,
 * state, count, token), or a constraint broken after its first writes,
 * rolls back only its own statements, as its own transaction would have.  A retry
 * (serialization failure, busy) runs the whole batch again from the start,
 * every answer reset.  If the batch fails as a whole (an error, or the
 * retries ran out), every request is run again alone, the old way: a
 * request committed in between finds its certificate as a retried request.
 */
static pthread_mutex_t batch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t batch_done = PTHREAD_COND_INITIALIZER;
static struct batch_item *batch_queue, **batch_tail = &batch_queue;
static bool batch_running;

static enum db_status batch_tx(db_conn *c, void *arg)
{
	struct batch_item *list = arg;
	/* Run again after a retry (a serialization failure, a lost server):
	 * nothing of the attempt before may stand as an answer. */
	for (struct batch_item *b = list; b; b = b->next) {
		b->x->result = ISSUE_ERROR;
		b->x->csr_status = CA_OK;
	}
	if (!list->next)
		return list->st = issue_tx(c, list->x);
	for (struct batch_item *b = list; b; b = b->next) {
		enum db_status st = DB_EXEC0(c, "SAVEPOINT issue_one", NULL);
		if (st != DB_OK)
			return st;
		b->st = issue_tx(c, b->x);
		if (b->st == DB_CONFLICT || b->st == DB_NOT_FOUND)
			st = DB_EXEC0(c, "ROLLBACK TO SAVEPOINT issue_one", NULL);
		else if (b->st != DB_OK)
			return b->st; /* the whole batch: again, or each alone */
		if (st == DB_OK)
			st = DB_EXEC0(c, "RELEASE SAVEPOINT issue_one", NULL);
		if (st != DB_OK)
			return st;
	}
	return DB_OK;
}

void issue_batch_run(db_conn *c, struct batch_item *list)
{
	enum db_status st = db_transaction(c, batch_tx, list);
	for (struct batch_item *b = list; b; b = b->next) {
		if (st == DB_OK)
			continue;
		if (!list->next) {
			b->st = st;
			continue;
		}
		b->x->result = ISSUE_ERROR;
		b->x->csr_status = CA_OK;
		b->st = db_transaction(c, issue_tx, b->x);
	}
}

/* Stores the certificate of x (or its refusal) in a transaction shared with
 * the issuances queued meanwhile; returns x's outcome after its COMMIT. */
static enum db_status store_batched(db_conn *c, struct issue_ctx *x)
{
	struct batch_item me = {.x = x};
	pthread_mutex_lock(&batch_lock);
	*batch_tail = &me;
	batch_tail = &me.next;
	while (!me.done) {
		if (batch_running) {
			pthread_cond_wait(&batch_done, &batch_lock);
			continue;
		}
		batch_running = true;
		struct batch_item *list = batch_queue;
		batch_queue = NULL;
		batch_tail = &batch_queue;
		pthread_mutex_unlock(&batch_lock);

		issue_batch_run(c, list);

		pthread_mutex_lock(&batch_lock);
		for (struct batch_item *b = list, *next; b; b = next) {
			next = b->next; /* b belongs to its waiter once done */
			b->done = true;
		}
		batch_running = false;
		pthread_cond_broadcast(&batch_done);
	}
	pthread_mutex_unlock(&batch_lock);
	return me.st;
}

/* The checks of the input and of the CSR: CPU only, before any store. */
static enum issue_result issue_precheck(const char *number, const char *csr_pem,
                                        const char *token_serial, ca_csr **csr,
                                        enum ca_status *csr_status)
{
	*csr_status = CA_OK;
	*csr = NULL;
	if (!number || !csr_pem || !token_serial || !*token_serial || strlen(token_serial) > 64 ||
	    strlen(csr_pem) > 64 * 1024)
		return ISSUE_BAD_INPUT;
	for (const char *p = token_serial; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return ISSUE_BAD_INPUT;
	/* The CSR is parsed and checked once, before the transaction: the
	 * expensive part of a refusal never holds the store's write lock. */
	enum ca_status cs = ca_csr_parse(csr_pem, strlen(csr_pem), csr);
	if (cs != CA_OK) {
		*csr_status = cs;
		return cs == CA_ERR_INTERNAL ? ISSUE_ERROR : ISSUE_BAD_CSR;
	}
	return ISSUE_OK;
}

/* What the request learns from x after its transaction returned st. */
static enum issue_result issue_outcome(struct issue_ctx *x, enum db_status st,
                                       enum ca_status *csr_status, struct issued *out)
{
	*csr_status = x->csr_status;
	enum issue_result res = x->result;
	if (res == ISSUE_OK && st == DB_OK) {
		out->serial = x->cert.serial;
		out->pem = x->cert.pem;
		x->cert.serial = x->cert.pem = NULL;
	} else if (res == ISSUE_EXISTING && st == DB_OK) {
		*out = x->out;
		memset(&x->out, 0, sizeof(x->out));
	} else if (res == ISSUE_OK || res == ISSUE_EXISTING) {
		res = ISSUE_ERROR; /* COMMIT failed */
	}
	return res;
}

struct issue_job *issue_job_new(esp_ca *ca, const struct actor *a, const char *number,
                                const char *csr_pem, const char *token_serial, const char *crl_url,
                                int validity_days, int crl_hours, enum issue_result *res,
                                enum ca_status *csr_status)
{
	ca_csr *csr = NULL;
	*res = issue_precheck(number, csr_pem, token_serial, &csr, csr_status);
	if (*res != ISSUE_OK)
		return NULL;
	struct issue_job *j = xcalloc(1, sizeof(*j));
	struct arena *ar = j->ar = arena_new();
	j->csr = csr;
	j->actor = *a;
	j->actor.username = keep(ar, a->username);
	j->actor.display_name = keep(ar, a->display_name);
	j->actor.authority_path = keep(ar, a->authority_path);
	j->actor.authority_name = keep(ar, a->authority_name);
	j->actor.province_code = keep(ar, a->province_code);
	j->actor.address = keep(ar, a->address);
	j->actor.session_method = keep(ar, a->session_method);
	j->actor.cert_serial = keep(ar, a->cert_serial);
	j->x = (struct issue_ctx){.ca = ca,
	                          .a = &j->actor,
	                          .number = keep(ar, number),
	                          .csr = csr,
	                          .token = keep(ar, token_serial),
	                          .crl_url = keep(ar, crl_url),
	                          .validity_days = validity_days,
	                          .crl_hours = crl_hours,
	                          .result = ISSUE_ERROR};
	j->item.x = &j->x;
	j->item.st = DB_ERROR;
	return j;
}

enum issue_result issue_job_outcome(struct issue_job *j, enum ca_status *csr_status,
                                    struct issued *out, bool *busy)
{
	memset(out, 0, sizeof(*out));
	*busy = j->busy;
	if (j->busy) {
		*csr_status = CA_OK;
		return ISSUE_ERROR;
	}
	return issue_outcome(&j->x, j->item.st, csr_status, out);
}

void issue_job_destroy(struct issue_job *j)
{
	if (!j)
		return;
	issued_free(&j->x.out);
	signed_cert_free(&j->x.cert); /* a certificate not stored is never handed out */
	ca_csr_free(j->csr);
	arena_free(j->ar);
	free(j);
}

enum issue_result issue_certificate(db_conn *c, esp_ca *ca, const struct actor *a,
                                    const char *number, const char *csr_pem,
                                    const char *token_serial, const char *crl_url,
                                    int validity_days, int crl_hours, enum ca_status *csr_status,
                                    struct issued *out)
{
	memset(out, 0, sizeof(*out));
	ca_csr *csr = NULL;
	enum issue_result res = issue_precheck(number, csr_pem, token_serial, &csr, csr_status);
	if (res != ISSUE_OK)
		return res;
	struct issue_ctx x = {.ca = ca,
	                      .a = a,
	                      .number = number,
	                      .csr = csr,
	                      .token = token_serial,
	                      .crl_url = crl_url,
	                      .validity_days = validity_days,
	                      .crl_hours = crl_hours,
	                      .result = ISSUE_ERROR};
	enum db_status st = store_batched(c, &x);
	res = issue_outcome(&x, st, csr_status, out);
	issued_free(&x.out);
	signed_cert_free(&x.cert); /* a certificate not stored is never handed out */
	ca_csr_free(csr);
	return res;
}

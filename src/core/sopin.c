/*
 * 密码解锁: the tokens' SO PINs sealed in custody, set at enrolment and
 * released once, with a fresh one, to the holder's tool of an approved
 * unlock application (see esp/sopin.h).
 */
#include "esp/sopin.h"
#include "esp/appstate.h"
#include "esp/application.h"
#include "esp/audit.h"
#include "esp/json_util.h"
#include "esp/notify.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIN_LEN 16  /* PKCS#11 tokens take SO PINs of this length */
#define CODE_LEN 24 /* the one-time authorisation */

/* ---- the key ---- */

static unsigned char key[crypto_secretbox_KEYBYTES];
static bool have_key;
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

void sopin_key_set(const unsigned char k[32])
{
	pthread_mutex_lock(&key_lock);
	memcpy(key, k, sizeof key);
	have_key = true;
	pthread_mutex_unlock(&key_lock);
}

void sopin_key_forget(void)
{
	pthread_mutex_lock(&key_lock);
	sodium_memzero(key, sizeof key);
	have_key = false;
	pthread_mutex_unlock(&key_lock);
}

/* The file holds "key = <64 hex>" (comments allowed), mode 0600. */
enum sopin_key_status sopin_key_open(const char *path)
{
	size_t n = 0;
	char *text = file_read_private(path, 4096, &n);
	if (!text && errno == ENOENT) {
		unsigned char k[sizeof key];
		char hex[2 * sizeof key + 1], body[256];
		randombytes_buf(k, sizeof k);
		sodium_bin2hex(hex, sizeof hex, k, sizeof k);
		int len = snprintf(
		    body, sizeof body,
		    "# ESP SO PIN 密钥 (seals the tokens' SO PINs): keep it secret, back it up\n"
		    "# with the CA; without it no SO PIN in the store can be read.\n"
		    "key = %s\n",
		    hex);
		char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
		bool ok = len > 0 && file_write_new(tmp, body, (size_t)len, 0600) == 0 &&
		          (link(tmp, path) == 0 || errno == EEXIST);
		unlink(tmp);
		free(tmp);
		sodium_memzero(k, sizeof k);
		sodium_memzero(hex, sizeof hex);
		sodium_memzero(body, sizeof body);
		if (!ok)
			return SOPIN_KEY_BAD;
		enum sopin_key_status st = sopin_key_open(path);
		return st == SOPIN_KEY_LOADED ? SOPIN_KEY_CREATED : st;
	}
	if (!text)
		return SOPIN_KEY_BAD;
	bool ok = false;
	for (char *line = text, *next; line && !ok; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *t = str_trim(line);
		if (strncmp(t, "key", 3) != 0)
			continue;
		char *v = strchr(t, '=');
		unsigned char k[sizeof key];
		size_t got = 0;
		if (v && (v = str_trim(v + 1)) && strlen(v) == 2 * sizeof key &&
		    sodium_hex2bin(k, sizeof k, v, strlen(v), NULL, &got, NULL) == 0 &&
		    got == sizeof k) {
			sopin_key_set(k);
			ok = true;
		}
		sodium_memzero(k, sizeof k);
	}
	sodium_memzero(text, n);
	free(text);
	return ok ? SOPIN_KEY_LOADED : SOPIN_KEY_BAD;
}

/* nonce || secretbox(text); NULL without the key. */
static unsigned char *seal(const char *text, size_t *len)
{
	size_t n = strlen(text);
	*len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	unsigned char *out = xmalloc(*len);
	randombytes_buf(out, crypto_secretbox_NONCEBYTES);
	pthread_mutex_lock(&key_lock);
	bool ok = have_key && crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES,
	                                            (const unsigned char *)text, n, out, key) == 0;
	pthread_mutex_unlock(&key_lock);
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}

/* The text sealed in column col of row 0, or NULL. */
static char *unseal(db_result *r, int col)
{
	const unsigned char *p = (const unsigned char *)db_get(r, 0, col);
	size_t len = p ? db_get_len(r, 0, col) : 0;
	if (len <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
		return NULL;
	size_t n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	char *out = xmalloc(n + 1);
	pthread_mutex_lock(&key_lock);
	bool ok = have_key &&
	          crypto_secretbox_open_easy((unsigned char *)out, p + crypto_secretbox_NONCEBYTES,
	                                     len - crypto_secretbox_NONCEBYTES, p, key) == 0;
	pthread_mutex_unlock(&key_lock);
	if (!ok) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	return out;
}

static char *random_text(size_t n)
{
	/* No look-alikes (0/O, 1/l/I): the authorisation may be typed. */
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
	char *s = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	s[n] = '\0';
	return s;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static bool loaded(void)
{
	pthread_mutex_lock(&key_lock);
	bool k = have_key;
	pthread_mutex_unlock(&key_lock);
	return k;
}

/* ---- results ---- */

static const struct sopin_text {
	enum sopin_result r;
	int status;
	const char *code, *message;
} texts[] = {
    {SOPIN_OK, 200, "ok", "完成"},
    {SOPIN_EXISTING, 200, "ok", "已完成，无需重复"},
    {SOPIN_BAD_INPUT, 400, "bad_request",
     "请求格式错误：需要证书U盘序列号 token_serial 和授权码 code"},
    {SOPIN_NOT_FOUND, 404, "not_found", "申请编号不存在，或该证书U盘上没有有效证书"},
    {SOPIN_FORBIDDEN, 403, "forbidden", "无权办理该证书U盘的密码解锁"},
    {SOPIN_WRONG_STATE, 409, "wrong_state",
     "该解锁申请尚未批准、已经完成、已退回或撤销，不能进行此操作"},
    {SOPIN_BAD_CODE, 403, "bad_code", "授权码错误，或不是该申请的证书U盘"},
    {SOPIN_NO_CUSTODY, 409, "no_custody",
     "系统未保管该证书U盘的管理员PIN码（发放时未设置），不能远程解锁；请将证书U盘交数字证书注册机构"
     "解锁"},
    {SOPIN_NO_KEY, 500, "no_key", "系统未载入管理员PIN码密钥"},
    {SOPIN_ERROR, 500, "internal", "系统内部错误，请稍后重试"},
};

static const struct sopin_text *text_of(enum sopin_result r)
{
	size_t n = sizeof texts / sizeof texts[0];
	for (size_t i = 0; i < n; i++)
		if (texts[i].r == r)
			return &texts[i];
	return &texts[n - 1];
}

const char *sopin_result_code(enum sopin_result r)
{
	return text_of(r)->code;
}

const char *sopin_result_message(enum sopin_result r)
{
	return text_of(r)->message;
}

int sopin_result_status(enum sopin_result r)
{
	return text_of(r)->status;
}

static bool token_ok(const char *t)
{
	if (!t || !*t || strlen(t) > 64)
		return false;
	for (; *t; t++)
		if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
			return false;
	return true;
}

/* ---- custody at enrolment ---- */

struct custody_ctx {
	const struct actor *a;
	const char *token;
	bool confirm;
	enum sopin_result result;
	char *next;
};

/* The application of the token's valid certificate, for the policy. */
static enum sopin_result token_application(db_conn *c, struct arena *ar, const char *token,
                                           struct application *app)
{
	db_result *r = NULL;
	bool have = false;
	if (DB_EXEC(c,
	            "SELECT a.number FROM certificates ce JOIN applications a ON a.id = "
	            "ce.application_id WHERE ce.token_serial = $1 AND ce.status = 'valid'",
	            &r, P_TEXT(token)) != DB_OK) {
		db_result_free(r);
		return SOPIN_ERROR;
	}
	if (r->nrows)
		have = application_get(c, ar, db_get(r, 0, 0), app) == DB_OK;
	db_result_free(r);
	return have ? SOPIN_OK : SOPIN_NOT_FOUND;
}

static enum db_status custody_tx(db_conn *c, void *arg)
{
	struct custody_ctx *x = arg;
	wipe_free(x->next);
	x->next = NULL;
	struct arena *ar = arena_new();
	struct application app;
	x->result = token_application(c, ar, x->token, &app);
	if (x->result != SOPIN_OK) {
		arena_free(ar);
		return x->result == SOPIN_ERROR ? DB_ERROR : DB_CONFLICT;
	}
	struct policy_object o;
	application_policy_object(&app, &o);
	bool allowed = policy_allows(x->a, ACT_APPLICATION_RA, &o);
	arena_free(ar);
	if (!allowed) {
		x->result = SOPIN_FORBIDDEN;
		return DB_CONFLICT;
	}
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT sealed, next_sealed FROM token_so_pins WHERE token_serial = $1", &r,
	            P_TEXT(x->token));
	if (st != DB_OK)
		return st;
	bool row = r->nrows > 0, sealed = row && db_get(r, 0, 0), pending = row && db_get(r, 0, 1);
	int64_t now = time_now();
	x->result = SOPIN_ERROR;
	if (x->confirm) {
		if (!pending) {
			x->result = sealed ? SOPIN_EXISTING : SOPIN_WRONG_STATE;
			db_result_free(r);
			return sealed ? DB_OK : DB_CONFLICT;
		}
		st = DB_EXEC(c,
		             "UPDATE token_so_pins SET sealed = next_sealed, next_sealed = NULL, "
		             "updated_at = $2 WHERE token_serial = $1",
		             NULL, P_TEXT(x->token), P_INT(now));
		if (st == DB_OK) {
			char *obj = xasprintf("token:%s", x->token);
			st = audit_append(c, x->a, "token.so_pin.set", obj, "", "custody");
			free(obj);
		}
	} else if (sealed && !pending) {
		x->result = SOPIN_EXISTING;
	} else if (pending) {
		x->next = unseal(r, 1);
		st = x->next ? DB_OK : DB_ERROR;
	} else {
		x->next = random_text(PIN_LEN);
		size_t len = 0;
		unsigned char *box = seal(x->next, &len);
		st = !box  ? DB_ERROR
		     : row ? DB_EXEC(c,
		                     "UPDATE token_so_pins SET next_sealed = $2, updated_at = $3 "
		                     "WHERE token_serial = $1",
		                     NULL, P_TEXT(x->token), P_BLOB(box, len), P_INT(now))
		           : DB_EXEC(c,
		                     "INSERT INTO token_so_pins (token_serial, next_sealed, "
		                     "updated_at) VALUES ($1, $2, $3)",
		                     NULL, P_TEXT(x->token), P_BLOB(box, len), P_INT(now));
		free(box);
		if (st == DB_CONFLICT)
			st = DB_RETRY; /* the same token at the same moment */
	}
	db_result_free(r);
	if (st == DB_OK && x->result == SOPIN_ERROR)
		x->result = SOPIN_OK;
	return st;
}

static enum sopin_result custody(db_conn *c, const struct actor *a, const char *token, bool confirm,
                                 char **next)
{
	if (!token_ok(token))
		return SOPIN_BAD_INPUT;
	if (!loaded())
		return SOPIN_NO_KEY;
	struct custody_ctx x = {.a = a, .token = token, .confirm = confirm};
	enum db_status st = db_transaction(c, custody_tx, &x);
	if (st != DB_OK && (x.result == SOPIN_OK || x.result == SOPIN_EXISTING))
		x.result = SOPIN_ERROR;
	if (next && x.result == SOPIN_OK)
		*next = x.next;
	else
		wipe_free(x.next);
	return x.result;
}

enum sopin_result sopin_custody_begin(db_conn *c, const struct actor *a, const char *token,
                                      char **next_pin)
{
	*next_pin = NULL;
	return custody(c, a, token, false, next_pin);
}

enum sopin_result sopin_custody_confirm(db_conn *c, const struct actor *a, const char *token)
{
	return custody(c, a, token, true, NULL);
}

/* ---- the unlock application ---- */

struct apply_ctx {
	const struct actor *a;
	const char *token;
	enum sopin_result result;
	char *number;
};

static enum db_status apply_tx(db_conn *c, void *arg)
{
	struct apply_ctx *x = arg;
	free(x->number);
	x->number = NULL;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT ce.registration_id, r.kind, a.contact_name, a.contact_id_number, a.mobile, "
	    "a.phone, a.email, a.address, a.postcode, "
	    "(SELECT sealed FROM token_so_pins s WHERE s.token_serial = ce.token_serial) "
	    "FROM certificates ce JOIN applications a ON a.id = ce.application_id "
	    "JOIN registrations r ON r.id = ce.registration_id "
	    "WHERE ce.token_serial = $1 AND ce.status = 'valid'",
	    &r, P_TEXT(x->token));
	if (st != DB_OK)
		return st;
	x->result =
	    r->nrows == 0 ? SOPIN_NOT_FOUND
	    : db_get_int(r, 0, 0, 0) != x->a->registration_id || x->a->role != ROLE_APPLICANT
	        ? SOPIN_FORBIDDEN
	    : !db_get(r, 0, 9) ? SOPIN_NO_CUSTODY
	                       : SOPIN_OK;
	if (x->result != SOPIN_OK) {
		db_result_free(r);
		return DB_CONFLICT;
	}
	db_result *o = NULL;
	st = DB_EXEC(c,
	             "SELECT number FROM applications WHERE type = 'unlock' AND unlock_token = $1 "
	             "AND state IN ($2, $3, $4) ORDER BY id DESC LIMIT 1",
	             &o, P_TEXT(x->token), P_TEXT(appstate_name(APP_SUBMITTED)),
	             P_TEXT(appstate_name(APP_UNLOCK_APPROVED)),
	             P_TEXT(appstate_name(APP_RETURNED)));
	if (st == DB_OK && o->nrows) {
		x->number = xstrdup(db_get(o, 0, 0));
		x->result = SOPIN_EXISTING;
		db_result_free(o);
		db_result_free(r);
		return DB_OK;
	}
	db_result_free(o);
	o = NULL;
	enum reg_kind k = kind_parse(db_get(r, 0, 1));
	unsigned facts = APP_FACT_UNLOCK | (k == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0);
	enum app_state to;
	if (st == DB_OK && !appstate_next(APP_NEW, STEP_SUBMIT, x->a->role, facts, &to))
		st = DB_CONFLICT;
	if (st == DB_OK)
		st = application_next_number(c, &x->number);
	int64_t now = time_now();
	char *idem = x->number ? xasprintf("unlock-%s", x->number) : NULL;
	if (st == DB_OK)
		st = DB_EXEC(
		    c,
		    "INSERT INTO applications (number, registration_id, type, state, sets, "
		    "contact_name, contact_id_number, mobile, phone, email, address, "
		    "postcode, price_yuan, medium_yuan, years, amount_yuan, idem_key, "
		    "submitted_at, updated_at, unlock_token) VALUES ($1, $2, 'unlock', $3, "
		    "1, $4, $5, $6, $7, $8, $9, $10, 0, 0, 0, 0, $11, $12, $12, $13) "
		    "RETURNING id",
		    &o, P_TEXT(x->number), P_INT(db_get_int(r, 0, 0, 0)), P_TEXT(appstate_name(to)),
		    P_TEXT(db_get(r, 0, 2)), P_TEXT(db_get(r, 0, 3)), P_TEXT(db_get(r, 0, 4)),
		    P_TEXT(db_get(r, 0, 5)), P_TEXT(db_get(r, 0, 6)), P_TEXT(db_get(r, 0, 7)),
		    P_TEXT(db_get(r, 0, 8)), P_TEXT(idem), P_INT(now), P_TEXT(x->token));
	free(idem);
	db_result_free(r);
	if (st == DB_OK) {
		char *note = xasprintf("证书U盘 %s 密码解锁", x->token);
		st = application_event(c, x->a, db_get_int(o, 0, 0, 0), appstep_name(STEP_SUBMIT),
		                       appstate_name(APP_NEW), appstate_name(to), note);
		free(note);
	}
	db_result_free(o);
	if (st == DB_OK)
		x->result = SOPIN_OK;
	return st;
}

enum sopin_result sopin_unlock_apply(db_conn *c, const struct actor *a, const char *token,
                                     char **number)
{
	*number = NULL;
	if (!token_ok(token))
		return SOPIN_BAD_INPUT;
	struct apply_ctx x = {.a = a, .token = token, .result = SOPIN_ERROR};
	enum db_status st = db_transaction(c, apply_tx, &x);
	if (st != DB_OK && (x.result == SOPIN_OK || x.result == SOPIN_EXISTING))
		x.result = SOPIN_ERROR;
	if (x.result == SOPIN_OK || x.result == SOPIN_EXISTING)
		*number = x.number;
	else
		free(x.number);
	return x.result;
}

/* ---- approval, release and confirmation ---- */

struct step_ctx {
	const struct actor *a; /* the RA (approve); NULL: the holder's tool */
	const char *number, *code, *token;
	enum app_step step;
	bool release;
	enum sopin_result result;
	char *current, *next;
};

/* The holder's account, the actor of the tool's steps. */
static bool holder_of(db_conn *c, const struct application *app, struct actor *h, char **username)
{
	db_result *r = NULL;
	bool ok = DB_EXEC(c,
	                  "SELECT id, username FROM accounts WHERE registration_id = $1 AND "
	                  "role = 'applicant' ORDER BY id LIMIT 1",
	                  &r, P_INT(app->registration_id)) == DB_OK &&
	          r->nrows;
	if (ok) {
		*username = xstrdup(db_get(r, 0, 1));
		*h = (struct actor){.account_id = db_get_int(r, 0, 0, 0),
		                    .role = ROLE_APPLICANT,
		                    .username = *username,
		                    .registration_id = app->registration_id};
	}
	db_result_free(r);
	return ok;
}

static enum db_status step_tx(db_conn *c, void *arg)
{
	struct step_ctx *x = arg;
	wipe_free(x->current);
	wipe_free(x->next);
	x->current = x->next = NULL;
	x->result = SOPIN_ERROR;
	struct arena *ar = arena_new();
	struct application application, *app = &application;
	if (application_get(c, ar, x->number, app) != DB_OK || app->type != APP_TYPE_UNLOCK) {
		arena_free(ar);
		x->result = SOPIN_NOT_FOUND;
		return DB_CONFLICT;
	}
	enum db_status st = DB_CONFLICT;
	db_result *r = NULL, *p = NULL;
	char *code = NULL, *username = NULL;
	int64_t app_id = app->id;
	const char *token = app->unlock_token ? app->unlock_token : "";
	enum app_state from = app->state, to = from;
	struct actor holder;
	const struct actor *who = x->a;
	if (x->a) {
		struct policy_object o;
		application_policy_object(app, &o);
		if (!policy_allows(x->a, ACT_APPLICATION_RA, &o)) {
			x->result = SOPIN_FORBIDDEN;
			goto out;
		}
	} else {
		/* The tool: the authorisation, compared in constant time, and the token. */
		if ((st = DB_EXEC(c, "SELECT unlock_code FROM applications WHERE id = $1", &r,
		                  P_INT(app_id))) != DB_OK)
			goto out;
		st = DB_CONFLICT;
		code = r->nrows ? unseal(r, 0) : NULL;
		if (from == APP_UNLOCKED && !x->release) {
			x->result = SOPIN_EXISTING; /* confirmed before: the answer was lost */
			st = DB_OK;
			goto out;
		}
		if (from != APP_UNLOCK_APPROVED) {
			x->result = SOPIN_WRONG_STATE;
			goto out;
		}
		if (!code || strlen(code) != strlen(x->code) ||
		    sodium_memcmp(code, x->code, strlen(code)) != 0 ||
		    (x->token && strcmp(x->token, token) != 0)) {
			x->result = SOPIN_BAD_CODE;
			goto out;
		}
		if (!holder_of(c, app, &holder, &username)) {
			st = DB_ERROR;
			goto out;
		}
		who = &holder;
	}
	if (!x->release && !appstate_next(from, x->step, who->role,
	                                  application_facts(app) | APP_FACT_UNLOCK, &to)) {
		x->result = SOPIN_WRONG_STATE;
		goto out;
	}
	if ((st =
	         DB_EXEC(c, "SELECT sealed, next_sealed FROM token_so_pins WHERE token_serial = $1",
	                 &p, P_TEXT(token))) != DB_OK)
		goto out;
	if (p->nrows == 0 || !db_get(p, 0, 0)) {
		x->result = SOPIN_NO_CUSTODY;
		st = DB_CONFLICT;
		goto out;
	}
	/* A token whose certificate was revoked (挂失) meanwhile is not unlocked. */
	db_result *v = NULL;
	if ((st = DB_EXEC(c,
	                  "SELECT 1 FROM certificates WHERE token_serial = $1 AND status = 'valid'",
	                  &v, P_TEXT(token))) != DB_OK)
		goto out;
	bool valid = v->nrows > 0;
	db_result_free(v);
	if (!valid && x->step == STEP_APPROVE) {
		x->result = SOPIN_NOT_FOUND;
		st = DB_CONFLICT;
		goto out;
	}
	if (!valid && x->release) {
		x->result = SOPIN_WRONG_STATE;
		st = DB_CONFLICT;
		goto out;
	}
	int64_t now = time_now();
	char *obj = xasprintf("token:%s", token);
	if (x->step == STEP_APPROVE) {
		char *fresh = random_text(CODE_LEN);
		size_t len = 0;
		unsigned char *box = seal(fresh, &len);
		wipe_free(fresh);
		st = box ? DB_EXEC(c, "UPDATE applications SET unlock_code = $2 WHERE id = $1",
		                   NULL, P_INT(app_id), P_BLOB(box, len))
		         : DB_ERROR;
		free(box);
	} else if (x->release) {
		/* The SO PIN in custody and the fresh one; the same pair until confirmed. */
		x->current = unseal(p, 0);
		x->next = db_get(p, 0, 1) ? unseal(p, 1) : random_text(PIN_LEN);
		st = x->current && x->next ? DB_OK : DB_ERROR;
		if (st == DB_OK && !db_get(p, 0, 1)) {
			size_t len = 0;
			unsigned char *box = seal(x->next, &len);
			st = box ? DB_EXEC(c,
			                   "UPDATE token_so_pins SET next_sealed = $2, released_at "
			                   "= $3, "
			                   "updated_at = $3 WHERE token_serial = $1",
			                   NULL, P_TEXT(token), P_BLOB(box, len), P_INT(now))
			         : DB_ERROR;
			free(box);
		}
		if (st == DB_OK)
			st = audit_append(c, who, "token.so_pin.release", obj, "custody",
			                  "released");
	} else {
		/* Confirmed: the released SO PIN is replaced on the token and here. */
		st = db_get(p, 0, 1) ? DB_EXEC(c,
		                               "UPDATE token_so_pins SET sealed = next_sealed, "
		                               "next_sealed = NULL, updated_at = $2 WHERE "
		                               "token_serial = $1",
		                               NULL, P_TEXT(token), P_INT(now))
		                     : DB_CONFLICT;
		if (st == DB_CONFLICT)
			x->result = SOPIN_WRONG_STATE; /* never released */
		if (st == DB_OK)
			st = DB_EXEC(c, "UPDATE applications SET unlock_code = NULL WHERE id = $1",
			             NULL, P_INT(app_id));
		if (st == DB_OK)
			st = audit_append(c, who, "token.so_pin.set", obj, "released", "custody");
	}
	free(obj);
	if (st == DB_OK && to != from) {
		st = DB_EXEC(c, "UPDATE applications SET state = $2, updated_at = $3 WHERE id = $1",
		             NULL, P_INT(app_id), P_TEXT(appstate_name(to)), P_INT(now));
		if (st == DB_OK)
			st = application_event(c, who, app_id, appstep_name(x->step),
			                       appstate_name(from), appstate_name(to), NULL);
		/* The holder learns of the approval with it, and only once: a
		 * second approval is refused by the state machine above. */
		if (st == DB_OK && x->step == STEP_APPROVE)
			st =
			    notify_enqueue(c, NOTICE_UNLOCK_APPROVED,
			                   &(struct notice){.registration_id = app->registration_id,
			                                    .application_number = x->number,
			                                    .token_serial = token});
	}
	if (st == DB_OK)
		x->result = SOPIN_OK;
out:
	wipe_free(code);
	free(username);
	db_result_free(p);
	db_result_free(r);
	arena_free(ar);
	return st;
}

static enum sopin_result run_step(db_conn *c, struct step_ctx *x)
{
	if (!x->number || strlen(x->number) > 40 || (!x->a && (!x->code || !*x->code)) ||
	    (x->token && !token_ok(x->token)))
		return SOPIN_BAD_INPUT;
	if (!loaded())
		return SOPIN_NO_KEY;
	enum db_status st = db_transaction(c, step_tx, x);
	if (st != DB_OK && (x->result == SOPIN_OK || x->result == SOPIN_EXISTING))
		x->result = SOPIN_ERROR;
	return x->result;
}

enum sopin_result sopin_unlock_approve(db_conn *c, const struct actor *a, const char *number)
{
	struct step_ctx x = {.a = a, .number = number, .step = STEP_APPROVE};
	return run_step(c, &x);
}

enum sopin_result sopin_unlock_release(db_conn *c, const char *number, const char *code,
                                       const char *token, char **current, char **next)
{
	*current = *next = NULL;
	if (!token)
		return SOPIN_BAD_INPUT;
	struct step_ctx x = {
	    .number = number, .code = code, .token = token, .step = STEP_CONFIRM, .release = true};
	enum sopin_result res = run_step(c, &x);
	if (res == SOPIN_OK) {
		*current = x.current;
		*next = x.next;
	} else {
		wipe_free(x.current);
		wipe_free(x.next);
	}
	return res;
}

enum sopin_result sopin_unlock_confirm(db_conn *c, const char *number, const char *code)
{
	struct step_ctx x = {.number = number, .code = code, .step = STEP_CONFIRM};
	enum sopin_result res = run_step(c, &x);
	wipe_free(x.current);
	wipe_free(x.next);
	return res;
}

char *sopin_unlock_code(db_conn *c, const char *number)
{
	db_result *r = NULL;
	char *code = NULL;
	if (DB_EXEC(c,
	            "SELECT unlock_code FROM applications WHERE number = $1 AND type = 'unlock' "
	            "AND state = $2",
	            &r, P_TEXT(number), P_TEXT(appstate_name(APP_UNLOCK_APPROVED))) == DB_OK &&
	    r->nrows)
		code = unseal(r, 0);
	db_result_free(r);
	return code;
}

enum db_status sopin_unlock_list(db_conn *c, struct arena *a, int64_t registration_id,
                                 struct unlock_row **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT ce.token_serial, ce.serial, "
	    "(SELECT 1 FROM token_so_pins s WHERE s.token_serial = ce.token_serial AND "
	    "s.sealed IS NOT NULL), "
	    "(SELECT a.number FROM applications a WHERE a.type = 'unlock' AND "
	    "a.unlock_token = ce.token_serial AND a.state IN ($2, $3, $4) ORDER BY a.id "
	    "DESC LIMIT 1) "
	    "FROM certificates ce WHERE ce.registration_id = $1 AND ce.status = 'valid' "
	    "ORDER BY ce.id",
	    &r, P_INT(registration_id), P_TEXT(appstate_name(APP_SUBMITTED)),
	    P_TEXT(appstate_name(APP_UNLOCK_APPROVED)), P_TEXT(appstate_name(APP_RETURNED)));
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		for (int i = 0; i < r->nrows; i++)
			(*out)[i] = (struct unlock_row){
			    .token_serial = arena_strdup(a, db_get(r, i, 0)),
			    .serial = arena_strdup(a, db_get(r, i, 1)),
			    .custody = db_get(r, i, 2) != NULL,
			    .number = db_get(r, i, 3) ? arena_strdup(a, db_get(r, i, 3)) : NULL,
			};
		*n = (size_t)r->nrows;
	}
	db_result_free(r);
	return st;
}

/*
 * The HTTP side of espd: libmicrohttpd callbacks, request state, body
 * parsing (libmicrohttpd's post processor), limits, security headers,
 * sessions and CSRF, dispatch through the route table, and the access log.
 */
#include "httpd.h"
#include "server.h"
#include "csrf.h"
#include "metrics.h"
#include "esp/fee.h"
#include "esp/issue.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POST_BUFFER 16384

static const char *const security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "same-origin"},
};

/* ---- body parsing ---- */

static enum MHD_Result post_iterator(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data, uint64_t off,
                                     size_t size)
{
	struct request *r = cls;
	(void)kind;
	(void)transfer_encoding;
	r->form_status = form_add(&r->form, key, filename, content_type, data, off, size);
	return r->form_status == FORM_OK ? MHD_YES : MHD_NO;
}

static void request_free(struct request *r)
{
	if (!r)
		return;
	/* First: the committer must not tell a request that is gone. */
	issue_job_release(r->issue_job);
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	form_free(&r->form);
	__atomic_sub_fetch(&r->srv->body_bytes_in_flight, r->body_reserved, __ATOMIC_RELAXED);
	buf_free(&r->raw);
	buf_free(&r->body);
	if (r->shared_release)
		r->shared_release(r->shared_cls);
	if (r->db)
		db_release(r->srv->pool, r->db);
	/* Last: the request lives in its arena. */
	arena_free(r->arena);
}

/* ---- helpers used by handlers ---- */

db_conn *req_db(struct request *r)
{
	/* dispatch takes the connection (with a deadline) before any handler
	 * that may use the store runs. */
	assert(r->db);
	return r->db;
}

enum db_status req_fee(struct request *r, struct fee *out)
{
	if (!r->fee) {
		struct fee f = {0};
		enum db_status st = fee_current(req_db(r), &f);
		if (st != DB_OK)
			return st;
		r->fee = arena_alloc(r->arena, sizeof *r->fee);
		*r->fee = f;
	}
	*out = *r->fee;
	return DB_OK;
}

const char *req_form(struct request *r, const char *name)
{
	struct form_field *f = form_find(&r->form, name);
	return f ? (f->value.data ? f->value.data : "") : NULL;
}

const struct form_field *req_file(struct request *r, const char *name)
{
	struct form_field *f = form_find(&r->form, name);
	return f && f->filename ? f : NULL;
}

const char *req_query(struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_cookie(struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

int64_t req_param_int(struct request *r, int i)
{
	const char *p = r->params[i];
	if (!p || !*p)
		return 0;
	char *end;
	long long v = strtoll(p, &end, 10);
	return *end || v < 0 ? 0 : v;
}

void req_header(struct request *r, const char *name, const char *value)
{
	/* Handlers set a handful of headers; running out is a bug, not input. */
	assert(r->nheaders < (int)(sizeof r->headers / sizeof r->headers[0]));
	if (r->nheaders < (int)(sizeof r->headers / sizeof r->headers[0])) {
		r->headers[r->nheaders].name = name;
		r->headers[r->nheaders].value = value;
		r->nheaders++;
	}
}

void req_body_shared(struct request *r, const void *data, size_t len, void (*release)(void *),
                     void *cls)
{
	assert(!r->shared_release);
	buf_free(&r->body);
	r->shared_data = data;
	r->shared_len = len;
	r->shared_release = release;
	r->shared_cls = cls;
}

void req_body_shared_slot(struct request *r, const void *data, size_t len, void (*release)(void *),
                          void *cls, struct resp_slot *slot)
{
	req_body_shared(r, data, len, release, cls);
	r->shared_slot = slot;
}

void req_body_take(struct request *r, void *data, size_t len)
{
	buf_free(&r->body);
	char *d = xrealloc(data, len + 1);
	d[len] = '\0';
	r->body = (struct buf){.data = d, .len = len, .cap = len + 1};
}

static void json_release(void *p)
{
	json_decref(p);
}

json_t *req_own_json(struct request *r, json_t *j)
{
	return arena_defer(r->arena, json_release, j);
}

json_t *form_values(struct request *r)
{
	json_t *o = json_object();
	for (unsigned i = 0; i < r->form.n; i++) {
		const struct form_field *f = &r->form.items[i];
		if (!f->filename)
			json_object_set_new(o, f->name,
			                    json_string(f->value.data ? f->value.data : ""));
	}
	return o;
}

void set_session_cookie(struct request *r, const char *value)
{
	bool secure = request_over_https(r);
	const char *c =
	    value ? arena_printf(r->arena, "esp_session=%s; Path=/; HttpOnly; SameSite=Lax%s",
	                         value, secure ? "; Secure" : "")
	          : arena_printf(r->arena,
	                         "esp_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0%s",
	                         secure ? "; Secure" : "");
	req_header(r, MHD_HTTP_HEADER_SET_COOKIE, c);
}

/* ---- response ---- */

/* The path and method come from the client: a decoded %0a or an escape
 * sequence must not forge or colour a line of the log. */
static const char *log_safe(struct request *r, const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += *p < 0x20 || *p == 0x7f || *p == '\\' ? 4 : 1;
	char *out = arena_alloc(r->arena, n + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			static const char hex[] = "0123456789abcdef";
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

static void log_request(struct request *r, int64_t now_us)
{
	if (!r->srv->log_requests)
		return;
	log_info("req=%llu %s %s %d %lldus", (unsigned long long)r->id, log_safe(r, r->method),
	         log_safe(r, r->path), r->status, (long long)(now_us - r->start_us));
}

/* A handler's own policy (a scan's sandbox) replaces the default one:
 * two Content-Security-Policy headers would both be enforced. */
static bool request_sets_header(const struct request *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return true;
	return false;
}

/*
 * A response kept for shared bytes (struct resp_slot): made once with the
 * headers of the request that made it, queued again for every later
 * request whose headers would be the same (libmicrohttpd counts the
 * connections using a response; it is made to be queued on many). What
 * decides the headers beyond the constant ones is written into key: the
 * listener (HSTS), the content type and the handler's own headers; a
 * request that sets a cookie or closes the connection makes its own.
 */
struct resp_kept {
	struct MHD_Response *resp;
	size_t key_len;
	char key[];
};

void resp_slot_clear(struct resp_slot *slot)
{
	struct resp_kept *k = __atomic_exchange_n(&slot->kept, NULL, __ATOMIC_ACQ_REL);
	if (k) {
		MHD_destroy_response(k->resp);
		free(k);
	}
}

/* The key of r's headers into out (size cap); 0 when r's response is its own. */
static size_t resp_key(const struct request *r, char *out, size_t cap)
{
	if (r->set_csrf_cookie || r->too_large)
		return 0;
	size_t n = 0;
	const char *parts[2 + 2 * (sizeof r->headers / sizeof r->headers[0])];
	size_t np = 0;
	parts[np++] = r->listener != LISTEN_HTTP ? "s" : "h";
	parts[np++] = r->content_type ? r->content_type : "";
	for (int i = 0; i < r->nheaders; i++) {
		parts[np++] = r->headers[i].name;
		parts[np++] = r->headers[i].value;
	}
	for (size_t i = 0; i < np; i++) {
		size_t l = strlen(parts[i]) + 1; /* with its NUL: none can pose as two */
		if (n + l > cap)
			return 0;
		memcpy(out + n, parts[i], l);
		n += l;
	}
	return n;
}

static void add_headers(struct request *r, struct MHD_Response *resp)
{
	for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
		if (!request_sets_header(r, security_headers[i][0]))
			MHD_add_response_header(resp, security_headers[i][0],
			                        security_headers[i][1]);
	if (r->listener != LISTEN_HTTP)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        r->content_type ? r->content_type : "text/html; charset=utf-8");
	if (r->set_csrf_cookie) {
		const char *c =
		    arena_printf(r->arena, "esp_csrf=%s; Path=/; HttpOnly; SameSite=Lax%s", r->csrf,
		                 request_over_https(r) ? "; Secure" : "");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, c);
	}
	for (int i = 0; i < r->nheaders; i++)
		MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
	if (r->too_large)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* The response for shared bytes with a slot: the kept one when its headers
 * are r's, else a new one (kept when the slot is empty). *kept: whether the
 * slot holds it (then the caller must not destroy it). */
static struct MHD_Response *slot_response(struct request *r, bool *kept)
{
	char key[512];
	size_t n = resp_key(r, key, sizeof key);
	struct resp_slot *slot = r->shared_slot;
	struct resp_kept *k = n ? __atomic_load_n(&slot->kept, __ATOMIC_ACQUIRE) : NULL;
	if (k && k->key_len == n && memcmp(k->key, key, n) == 0) {
		*kept = true;
		return k->resp;
	}
	/* The bytes outlive the response: the slot's owner clears it first. */
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    r->shared_len, (void *)r->shared_data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return NULL;
	add_headers(r, resp);
	*kept = false;
	if (n && !k) {
		struct resp_kept *mine = xmalloc(sizeof(*mine) + n);
		mine->resp = resp;
		mine->key_len = n;
		memcpy(mine->key, key, n);
		struct resp_kept *none = NULL;
		if (__atomic_compare_exchange_n(&slot->kept, &none, mine, false, __ATOMIC_ACQ_REL,
		                                __ATOMIC_ACQUIRE))
			*kept = true;
		else
			free(mine);
	}
	return resp;
}

static enum MHD_Result send_response(struct request *r)
{
	struct MHD_Response *resp;
	bool kept = false;
	if (r->shared_release && r->shared_slot) {
		/* The request keeps its reference to the bytes (released when it
		 * is complete, after the last byte was sent). */
		resp = slot_response(r, &kept);
	} else if (r->shared_release) {
		/* The bytes belong to someone else (a cache): the response keeps a
		 * reference until the client has read them. */
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		    r->shared_len, (void *)r->shared_data, r->shared_release, r->shared_cls);
		if (resp) {
			r->shared_release = NULL;
			add_headers(r, resp);
		}
	} else {
		size_t len = r->body.len;
		char *data = buf_steal(&r->body);
		resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(data);
		else
			add_headers(r, resp);
	}
	if (!resp)
		return MHD_NO;
	/* Nothing the request holds in common with others outlives the
	 * handler: a client that reads slowly (or never) must not keep a store
	 * connection from everyone else. */
	if (r->db) {
		db_release(r->srv->pool, r->db);
		r->db = NULL;
	}
	/* The request's second and last reading of the clock (the first is
	 * its start): its send deadline, log line and latency. */
	int64_t now_us = time_now_us();
	guard_phase_at(r->srv->guard, r->conn, GUARD_SEND, now_us);
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	if (!kept)
		MHD_destroy_response(resp);
	log_request(r, now_us);
	metrics_request(r, now_us);
	return ret;
}

/* ---- session and access ---- */

static void load_session(struct request *r)
{
	const char *cookie = req_cookie(r, "esp_session");
	if (!cookie)
		return;
	char *csrf = NULL;
	/* The generations tell whether anything a cached session (or page) was
	 * derived from has changed since: one statement, or none on SQLite when
	 * nothing was committed since this thread last read them. */
	generations_read(req_db(r), r->generations);
	if (session_lookup_cached(req_db(r), r->arena, cookie, r->generations[GEN_SESSIONS],
	                          &r->actor, &csrf) == DB_OK) {
		r->logged_in = true;
		r->csrf = csrf;
		r->session_cookie = cookie;
		r->actor.address = r->client_addr;
	}
}

/* Anonymous forms carry a token that must equal the esp_csrf cookie
 * (double submit); logged-in forms carry the session's own token. */
static void ensure_csrf(struct request *r)
{
	if (r->csrf)
		return;
	const char *c = req_cookie(r, "esp_csrf");
	if (csrf_cookie_usable(c)) {
		r->csrf = c;
		return;
	}
	char *t = random_token(24);
	r->csrf = arena_strdup(r->arena, t);
	free(t);
	r->set_csrf_cookie = true;
}

static bool csrf_ok(struct request *r)
{
	/* A token made for this very response cannot have been sent. */
	return !r->set_csrf_cookie && csrf_token_ok(req_form(r, "csrf"), r->csrf);
}

/* The policy's refusal of the route's action, in the route's language. */
static void refuse(struct request *r, const struct route *route)
{
	if (!r->logged_in) {
		if (route->flags & R_JSON)
			reply_json_error(r, 401, "unauthenticated", "请先登录");
		else
			redirect(r, "/login?expired=1");
	} else if (route->flags & R_ELSE_HOME) {
		redirect(r, "/home");
	} else if (route->flags & R_JSON) {
		reply_json_error(r, 403, "forbidden", "无权访问");
	} else {
		reply_forbidden(r);
	}
}

/* The route of the request, found once when its headers arrive: its flags
 * decide how the body is read and in which language errors answer. */
static void route_request(struct request *r)
{
	const struct route *same_path = NULL;
	r->route = route_find(routes, r->method, r->path, r->params, r->arena, &same_path);
	r->path_known = same_path != NULL;
	r->json = same_path && (same_path->flags & R_JSON);
}

static void dispatch(struct request *r)
{
	const struct route *route = r->route;
	if (!route) {
		if (r->path_known)
			render_message(r, 405, "请求方法不允许", "此地址不接受该请求方法。");
		else
			reply_not_found(r);
		return;
	}
	/* Every handler that may use the store has its connection taken here,
	 * with a deadline, so no handler ever waits without end for one, and
	 * a pool held up elsewhere answers 503 at once. */
	if (!(route->flags & R_NO_STORE)) {
		/* The clock is read only when there is a wait to time. */
		r->db = db_try_acquire(r->srv->pool);
		if (r->db) {
			metrics_store_wait(0, false);
		} else {
			int64_t wait_from = time_now_us();
			r->db = db_acquire_wait(r->srv->pool, r->srv->store_wait_ms);
			metrics_store_wait(time_now_us() - wait_from, !r->db);
		}
		if (!r->db) {
			reply_busy(r);
			return;
		}
	}
	if (!(route->flags & R_NO_SESSION)) {
		load_session(r);
		ensure_csrf(r);
	}
	if ((route->flags & R_LOGIN) && !r->logged_in) {
		refuse(r, route);
		return;
	}
	/* A password an administrator reset is changed before anything else
	 * is done with it (a session opened with a certificate is not held up). */
	if (r->logged_in && r->actor.must_change_password &&
	    strcmp(r->actor.session_method, "password") == 0 &&
	    (route->flags & (R_LOGIN | R_NO_CSRF)) && !(route->flags & R_MUST_CHANGE_OK)) {
		if (route->flags & R_JSON)
			reply_json_error(r, 403, "password_change_required", "请先修改密码");
		else
			redirect(r, "/password");
		return;
	}
	if (r->is_post && !(route->flags & R_NO_CSRF) && !csrf_ok(r)) {
		render_message(r, 403, "页面已过期",
		               "表单校验失败（页面可能已过期），请返回上一页刷新后重新提交。");
		return;
	}
	/* Access is decided here, before the handler: by the route's action
	 * alone; what needs the record (ownership, region) the handler asks
	 * the policy with the record. */
	if ((route->flags & R_HOLDER) && !policy_allows(&r->actor, ACT_MGMT, NULL)) {
		reply_needs_key(r);
		return;
	}
	if (!policy_allows(&r->actor, route->action, NULL)) {
		refuse(r, route);
		return;
	}
	route->fn(r);
}

/* ---- the access handler ---- */

/* The peer's address as text. The last one formatted is kept per thread:
 * a kept-alive connection's requests, or one client's connections, come
 * from the same address, and inet_ntop formats through sprintf (a tenth of
 * what espd spent on a cached page beyond libmicrohttpd). */
static _Thread_local struct {
	sa_family_t family;
	unsigned char addr[16];
	char text[sizeof((struct request *)0)->client_addr];
} last_addr;

static void client_address(struct request *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	r->client_addr[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	const void *a;
	size_t n;
	if (sa->sa_family == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	} else {
		return;
	}
	if (last_addr.family != sa->sa_family || memcmp(last_addr.addr, a, n) != 0) {
		last_addr.family = AF_UNSPEC;
		if (!inet_ntop(sa->sa_family, a, last_addr.text, sizeof last_addr.text))
			return;
		memcpy(last_addr.addr, a, n);
		last_addr.family = sa->sa_family;
	}
	memcpy(r->client_addr, last_addr.text, sizeof r->client_addr);
}

/* An answer before the body is read: the rest of the body is drained
 * unparsed and unkept, and the connection closes after the answer. */
static void refuse_early(struct request *r, int status, const char *title, const char *message)
{
	r->too_large = r->answered = true;
	buf_free(&r->body);
	reply_error(r, status, "request_refused", title, message);
}

/* Reserves n bytes of the server-wide budget for bodies being received.
 * A body with a Content-Length reserves it all before its first byte is
 * read; a chunked one reserves as it arrives. */
static bool body_reserve(struct request *r, size_t n)
{
	struct server *srv = r->srv;
	size_t total = __atomic_add_fetch(&srv->body_bytes_in_flight, n, __ATOMIC_RELAXED);
	if (total > srv->max_bodies_in_flight) {
		__atomic_sub_fetch(&srv->body_bytes_in_flight, n, __ATOMIC_RELAXED);
		req_header(r, "Retry-After", "30");
		refuse_early(r, 503, "系统繁忙", "当前正在上传的内容过多，请稍后重新提交。");
		return false;
	}
	r->body_reserved += n;
	return true;
}

static bool body_admit(struct request *r, size_t n)
{
	if (r->body_bytes + n > r->srv->max_body) {
		refuse_early(r, 413, "提交内容过大", "提交的内容超过了允许的大小。");
		return false;
	}
	if (r->body_bytes + n > r->body_reserved &&
	    !body_reserve(r, r->body_bytes + n - r->body_reserved))
		return false;
	r->body_bytes += n;
	return true;
}

static void body_chunk(struct request *r, const char *data, size_t n)
{
	if (!body_admit(r, n))
		return;
	if (r->pp) {
		/* Before the post processor, which leaks on nested parts (nested_part.c). */
		if (r->multipart && nested_part_seen(&r->nested, data, n)) {
			refuse_early(
			    r, 400, "请求格式错误",
			    "提交的表单中含有嵌套的 multipart/mixed 部分，表单不接受这种格式。");
			return;
		}
		if (MHD_post_process(r->pp, data, n) == MHD_YES)
			return;
		switch (r->form_status) {
		case FORM_NAMELESS:
			refuse_early(r, 400, "请求格式错误", "提交的表单中有未命名的字段。");
			break;
		case FORM_NAME_TOO_LONG:
			refuse_early(r, 400, "请求格式错误", "提交的表单中有名称过长的字段。");
			break;
		case FORM_TOO_MANY:
			refuse_early(r, 413, "表单字段过多",
			             "提交的表单字段数量超过了允许的上限。");
			break;
		default:
			refuse_early(r, 400, "请求格式错误", "提交的内容格式错误。");
		}
	} else if (r->raw.len + n > r->srv->max_raw_body) {
		refuse_early(r, 413, "提交内容过大", "提交的内容超过了允许的大小。");
	} else {
		buf_put(&r->raw, data, n);
	}
}

static struct request *request_new(struct listener_ctx *lc, struct MHD_Connection *conn,
                                   const char *url, const char *method)
{
	struct server *srv = lc->srv;
	/* The request lives in its own arena: one allocation (mem.c keeps a
	 * spare per thread) where two callocs and two frees were. */
	struct arena *a = arena_new();
	struct request *r = arena_alloc(a, sizeof(*r));
	memset(r, 0, sizeof(*r));
	r->srv = srv;
	r->conn = conn;
	r->listener = lc->kind;
	r->arena = a;
	r->id = __atomic_add_fetch(&srv->next_request_id, 1, __ATOMIC_RELAXED);
	r->start_us = time_now_us();
	r->method = arena_strdup(r->arena, method);
	r->path = arena_strdup(r->arena, url);
	r->status = 200;
	r->is_post = strcmp(method, "POST") == 0;
	for (int g = 0; g < GEN_COUNT; g++)
		r->generations[g] = -1;
	form_init(&r->form, srv->max_form_fields);
	client_address(r);
	client_addr_behind_proxy(r);
	return r;
}

enum MHD_Result server_access(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	struct listener_ctx *lc = cls;
	struct server *srv = lc->srv;
	(void)version;
	struct request *r = *req_cls;
	if (!r) {
		/* First call: only set up state. Answering here would make
		 * libmicrohttpd close the connection after every response. */
		r = request_new(lc, conn, url, method);
		*req_cls = r;
		route_request(r);
		guard_phase_at(srv->guard, conn, GUARD_BODY, r->start_us);
		/* A refusal known from the headers alone is answered once the body
		 * has been drained unread (bounded by the body deadline): answering
		 * before would close a socket with unread data, whose reset can
		 * lose the answer on the client's side. */
		if (strlen(url) > srv->max_url) {
			refuse_early(r, 414, "地址过长", "请求的地址过长。");
			return MHD_YES;
		}
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
		if (declared > srv->max_body) {
			refuse_early(r, 413, "提交内容过大", "提交的内容超过了允许的大小。");
			return MHD_YES;
		}
		if (declared && !body_reserve(r, (size_t)declared))
			return MHD_YES;
		if (r->is_post) {
			const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			                                             MHD_HTTP_HEADER_CONTENT_TYPE);
			/* The JSON API keeps every body raw: its handlers answer a form
			 * with 415 JSON, never with the form parser's HTML 400. */
			r->multipart =
			    ct &&
			    strncasecmp(ct, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA, 19) == 0;
			if (ct && !r->json &&
			    (strncasecmp(ct, MHD_HTTP_POST_ENCODING_FORM_URLENCODED, 33) == 0 ||
			     r->multipart))
				r->pp =
				    MHD_create_post_processor(conn, POST_BUFFER, post_iterator, r);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		/* Once answered, the rest is drained unread; the answer goes out
		 * when the body ends, and the connection is closed after it. */
		if (!r->answered)
			body_chunk(r, upload_data, n);
		return MHD_YES;
	}
	db_store_busy_reset();
	if (r->resumed) {
		void (*resumed)(struct request *) = r->resumed;
		r->resumed = NULL;
		resumed(r);
	} else if (!r->answered) {
		dispatch(r);
		if (r->resumed)
			return MHD_YES; /* suspended: answered when resumed */
	}
	r->answered = true;
	return send_response(r);
}

void server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct listener_ctx *lc = cls;
	(void)toe;
	request_free(*req_cls);
	*req_cls = NULL;
	/* A kept-alive connection now owes its next request's headers: a
	 * deadline in seconds, from the clock as the kernel last ticked. */
	guard_phase_at(lc->srv->guard, conn, GUARD_HEADERS, time_now_coarse_us());
}

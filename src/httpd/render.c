/* Page rendering inside the layout, messages, redirects and JSON replies. */
#include "httpd.h"
#include "esp/upload.h"

#include <pthread.h>
#include <string.h>

/* What the layout adds around a page (its head, header, menu and footer
 * are about 3 KB). */
#define LAYOUT_ROOM 8192

/* What the layout shows. Whatever is added here must be added to
 * frame_key too: render_page_html keeps the layout per that key. */
static json_t *base_context(struct request *r, const char *title)
{
	json_t *ctx = json_object();
	json_object_set_new(ctx, "page_title", json_string(title));
	json_object_set_new(ctx, "csrf", json_string(r->csrf ? r->csrf : ""));
	json_object_set_new(ctx, "portal", json_string(portal_base(r)));
	if (r->logged_in) {
		json_object_set_new(ctx, "user",
		                    json_pack("{s:s, s:s, s:s}", "display_name",
		                              r->actor.display_name ? r->actor.display_name : "",
		                              "username", r->actor.username, "role_label",
		                              role_label(r->actor.role)));
	}
	return ctx;
}

/* Takes the rendering rc of body (from tpl_render_wrapped/around) as the
 * reply; body is consumed either way. */
static void take_page(struct request *r, int status, const char *tpl, int rc, struct buf *body)
{
	if (rc != 0) {
		log_error("req=%llu template %s: %s", (unsigned long long)r->id, tpl,
		          rc == -1   ? "missing"
		          : rc == -2 ? "layout missing"
		                     : "over the rendering limits");
		buf_free(body);
		r->status = 500;
		buf_puts(&r->body, "内部错误");
		return;
	}
	buf_free(&r->body);
	r->body = *body;
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	req_header(r, "Cache-Control", "no-store");
}

void render_page(struct request *r, int status, const char *tpl, const char *title, json_t *ctx)
{
	json_t *base = base_context(r, title);
	/* Management pages carry their 快捷导航; the layout draws it beside the page. */
	json_t *menu = ctx ? json_object_get(ctx, "menu") : NULL;
	if (json_is_array(menu)) {
		json_object_set(base, "menu", menu);
		json_object_set_new(base, "has_menu", json_true());
	}
	if (ctx)
		json_object_update_missing(ctx, base);
	else
		ctx = json_incref(base);
	/* The page is rendered straight into its place in the layout, where
	 * {{{content}}} stands: no copy of it goes through a JSON string. */
	struct buf body = {0};
	int rc = tpl_render_wrapped(r->srv->tpl, "layout", base, "content", tpl, ctx, &body);
	take_page(r, status, tpl, rc, &body);
	json_decref(ctx);
	json_decref(base);
}

/*
 * The layout around a page already rendered: a pure function of what
 * base_context puts in it (the layout reads nothing else), so its two
 * halves are kept per (title, form token, portal, user) and a request of the
 * same session for the same page copies them around the page instead of
 * building the context and rendering the layout again (a seventh of espd's
 * CPU on the reviewers' queue). Split at a marker rendered in the page's
 * place; kept only when the marker comes out exactly once.
 */
#define FRAME_SLOTS 64
#define FRAME_MARK "\x01esp-layout-content\x01"
#define FRAME_MAX_PAGE ((size_t)1 << 20) /* far below the rendering cap */
/* A whole page (layout and the page inside), shared by its frame and the
 * responses sending it: the last to let go frees it. */
struct whole_page {
	unsigned refs;
	struct resp_slot slot; /* its response, sent again while the headers stay */
	size_t len;
	char data[];
};
static struct frame {
	char *key;
	size_t key_len;
	struct buf halves; /* before, then after */
	size_t before;
	/* The last page sent in this layout whose bytes had an id
	 * (render_page_html_id), kept whole: the next request of the session
	 * for the same bytes sends it as it is, with no copy at all. */
	uint64_t body_id;
	struct whole_page *whole;
} frames[FRAME_SLOTS];
static pthread_mutex_t frames_lock = PTHREAD_MUTEX_INITIALIZER;

/* A frame's key, put together on the stack (it is built for every page):
 * a key that does not fit is not kept, and its page renders the layout. */
#define FRAME_KEY_MAX 1024
struct frame_key {
	size_t len;
	bool over;
	char data[FRAME_KEY_MAX];
};

static void key_part(struct frame_key *k, const char *s)
{
	s = s ? s : "";
	size_t n = strlen(s), v = n;
	char num[24];
	size_t i = sizeof num;
	num[--i] = ':';
	do
		num[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (k->over || n + sizeof num - i > FRAME_KEY_MAX - k->len) {
		k->over = true;
		return;
	}
	memcpy(k->data + k->len, num + i, sizeof num - i);
	k->len += sizeof num - i;
	memcpy(k->data + k->len, s, n);
	k->len += n;
}

/* Every input of the layout, each with its length so none can pose as two.
 * False: too long to keep. */
static bool frame_key(struct request *r, const char *title, struct frame_key *k)
{
	k->len = 0;
	k->over = false;
	key_part(k, title);
	key_part(k, r->csrf);
	key_part(k, portal_base(r));
	if (r->logged_in) {
		key_part(k, r->actor.display_name);
		key_part(k, r->actor.username);
		key_part(k, role_label(r->actor.role));
	}
	return !k->over;
}

/* The frame of a key: a word at a time (the form token in it is random, so
 * keys spread without a byte-by-byte hash). */
static struct frame *frame_of(const struct frame_key *k)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ k->len;
	size_t i = 0;
	for (; i + 8 <= k->len; i += 8) {
		uint64_t w;
		memcpy(&w, k->data + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	for (; i < k->len; i++)
		h = (h ^ (unsigned char)k->data[i]) * 0x100000001b3u;
	h ^= h >> 29;
	return &frames[h % FRAME_SLOTS];
}

static void whole_release(void *p)
{
	struct whole_page *w = p;
	if (w && __atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		resp_slot_clear(&w->slot);
		free(w);
	}
}

/* The layout of key k around html into out, or, with a body_id, into a
 * whole page (*whole, held until whole_release) that the frame keeps for
 * the next request with the same key and id. False: no such layout kept. */
static bool frame_get(const struct frame_key *k, const char *html, size_t len, uint64_t body_id,
                      struct buf *out, struct whole_page **whole)
{
	struct frame *f = frame_of(k);
	bool hit = false;
	struct whole_page *old = NULL;
	pthread_mutex_lock(&frames_lock);
	if (f->key && f->key_len == k->len && memcmp(f->key, k->data, k->len) == 0) {
		hit = true;
		if (!body_id) {
			buf_put(out, f->halves.data, f->before);
			buf_put(out, html, len);
			buf_put(out, f->halves.data + f->before, f->halves.len - f->before);
		} else if (f->whole && f->body_id == body_id) {
			*whole = f->whole;
			__atomic_add_fetch(&f->whole->refs, 1, __ATOMIC_RELAXED);
		} else {
			size_t after = f->halves.len - f->before;
			struct whole_page *w = xmalloc(sizeof(*w) + f->before + len + after + 1);
			memcpy(w->data, f->halves.data, f->before);
			memcpy(w->data + f->before, html, len);
			memcpy(w->data + f->before + len, f->halves.data + f->before, after);
			w->len = f->before + len + after;
			w->data[w->len] = '\0';
			w->refs = 2; /* the frame's and the caller's */
			w->slot.kept = NULL;
			old = f->whole;
			f->whole = w;
			f->body_id = body_id;
			*whole = w;
		}
	}
	pthread_mutex_unlock(&frames_lock);
	whole_release(old);
	return hit;
}

/* Renders the layout around the marker; false when it cannot be split. */
static bool frame_put(struct request *r, const char *title, const struct frame_key *k)
{
	json_t *base = base_context(r, title);
	struct buf b = {0};
	int rc = tpl_render_around(r->srv->tpl, "layout", base, "content", FRAME_MARK,
	                           sizeof FRAME_MARK - 1, &b);
	json_decref(base);
	const char *m = rc == 0 && b.data ? strstr(b.data, FRAME_MARK) : NULL;
	if (!m || strstr(m + 1, FRAME_MARK)) {
		buf_free(&b);
		return false;
	}
	size_t before = (size_t)(m - b.data);
	memmove(b.data + before, m + sizeof FRAME_MARK - 1,
	        b.len - before - (sizeof FRAME_MARK - 1) + 1);
	b.len -= sizeof FRAME_MARK - 1;
	char *key = xstrndup(k->data, k->len);
	struct frame *f = frame_of(k);
	pthread_mutex_lock(&frames_lock);
	char *old_key = f->key;
	struct buf old = f->halves;
	struct whole_page *old_whole = f->whole;
	f->key = key;
	f->key_len = k->len;
	f->halves = b;
	f->before = before;
	f->whole = NULL;
	f->body_id = 0;
	pthread_mutex_unlock(&frames_lock);
	free(old_key);
	buf_free(&old);
	whole_release(old_whole);
	return true;
}

void render_page_html_id(struct request *r, int status, const char *title, const char *html,
                         size_t len, uint64_t body_id)
{
	/* Room for the page and the layout around it at once: grown from
	 * nothing, a 20 KB page was copied seven times on the way. */
	struct buf body = {0};
	if (!body_id)
		buf_grow(&body, len + LAYOUT_ROOM);
	struct frame_key k;
	if (len <= FRAME_MAX_PAGE && frame_key(r, title, &k)) {
		struct whole_page *whole = NULL;
		bool hit =
		    frame_get(&k, html, len, body_id, &body, &whole) ||
		    (frame_put(r, title, &k) && frame_get(&k, html, len, body_id, &body, &whole));
		if (hit && whole) {
			take_page(r, status, "(html)", 0, &body);
			req_body_shared_slot(r, whole->data, whole->len, whole_release, whole,
			                     &whole->slot);
			return;
		}
		if (hit) {
			take_page(r, status, "(html)", 0, &body);
			return;
		}
	}
	if (body_id)
		buf_grow(&body, len + LAYOUT_ROOM);
	json_t *base = base_context(r, title);
	int rc = tpl_render_around(r->srv->tpl, "layout", base, "content", html, len, &body);
	take_page(r, status, "(html)", rc, &body);
	json_decref(base);
}

void render_page_html(struct request *r, int status, const char *title, const char *html,
                      size_t len)
{
	render_page_html_id(r, status, title, html, len, 0);
}

void render_message(struct request *r, int status, const char *title, const char *message)
{
	render_page(r, status, "message", title,
	            json_pack("{s:s, s:s}", "title", title, "message", message));
}

void redirect(struct request *r, const char *location)
{
	r->status = 303;
	req_header(r, MHD_HTTP_HEADER_LOCATION, arena_strdup(r->arena, location));
	buf_free(&r->body);
}

void reply_json(struct request *r, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	buf_free(&r->body);
	buf_puts(&r->body, s ? s : "{}");
	free(s);
	json_decref(body);
	r->status = status;
	r->content_type = "application/json";
	req_header(r, "Cache-Control", "no-store");
}

void reply_json_error(struct request *r, int status, const char *code, const char *message)
{
	reply_json(r, status, json_pack("{s:s, s:s}", "error", code, "message", message));
}

void reply_forbidden(struct request *r)
{
	render_message(r, 403, "无权访问", "您没有权限查看或操作此内容。");
}

void reply_not_found(struct request *r)
{
	render_message(r, 404, "页面不存在", "您访问的页面不存在。");
}

void reply_scan(struct request *r, int64_t scan_id)
{
	int64_t owner = 0;
	char *mime = NULL, *data = NULL;
	size_t len = 0;
	if (!scan_id || upload_load(req_db(r), scan_id, &owner, &mime, &data, &len) != DB_OK) {
		reply_not_found(r);
		return;
	}
	req_body_take(r, data, len);
	r->status = 200;
	r->content_type = arena_strdup(r->arena, mime);
	free(mime);
	/* A scan is shown, never run: no script, no plugins, even if it were HTML. */
	req_header(r, "Content-Security-Policy",
	           "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'none'");
	req_header(r, "Content-Disposition", "inline");
	req_header(r, "Cache-Control", "no-store");
}

void reply_error(struct request *r, int status, const char *code, const char *title,
                 const char *message)
{
	if (r->json)
		reply_json_error(r, status, code, message);
	else
		render_message(r, status, title, message);
}

void reply_busy(struct request *r)
{
	log_info("req=%llu %s: store busy, answered 503", (unsigned long long)r->id, r->method);
	req_header(r, "Retry-After", "5");
	reply_error(r, 503, "busy", "系统繁忙", "系统繁忙，请稍候片刻再试。");
}

void reply_hash_busy(struct request *r)
{
	log_info("req=%llu %s: every password hash in use, answered 503", (unsigned long long)r->id,
	         r->method);
	req_header(r, "Retry-After", "1");
	reply_error(r, 503, "busy", "系统繁忙", "系统繁忙，请1秒后再试。");
}

void reply_server_error(struct request *r, const char *what)
{
	/* A store that was only too busy (locked by another process, every
	 * connection in use) is the client's to retry, not our failure. */
	if (db_store_busy()) {
		reply_busy(r);
		return;
	}
	log_error("req=%llu %s %s: %s", (unsigned long long)r->id, r->method, r->path, what);
	char *msg =
	    xasprintf("系统内部错误，请稍后重试。（请求编号 %llu）", (unsigned long long)r->id);
	render_message(r, 500, "系统错误", msg);
	free(msg);
}

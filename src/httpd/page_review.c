/* 初审: a reviewer's queue, one registration, and the decision. */
#include "httpd.h"
#include "esp/cache_stats.h"
#include "record_json.h"
#include "registration_view.h"
#include "esp/validate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_PAGE 50

/* Rendered queues by (authority subtree, state, page), kept while the
 * registrations' generation stays the same: the queue only shows
 * registrations and authority names, and the store's triggers bump that
 * generation on every change to them (007_generations.sql), whoever makes
 * it. The layout around it (user, form token) is rendered for every request. */
#define QUEUE_CACHE 128
/* A rendered queue, shared by the cache and the requests showing it: the
 * last one to let go frees it, so a hit costs no copy of the page. */
struct queue_page {
	unsigned refs;
	uint64_t id; /* these bytes' own number (render_page_html_id): never reused */
	size_t len;
	char html[];
};
static uint64_t next_page_id;
static struct {
	char *key;
	int64_t generation;
	struct queue_page *page;
} queue_cache[QUEUE_CACHE];
static pthread_mutex_t queue_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned cache_slot(const char *key)
{
	return str_hash(key) % QUEUE_CACHE;
}

static void page_release(struct queue_page *p)
{
	if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(p);
}

/* The cached page, held until page_release, or NULL. */
static struct queue_page *cache_get(const char *key, int64_t generation)
{
	unsigned i = cache_slot(key);
	struct queue_page *p = NULL;
	pthread_mutex_lock(&queue_cache_lock);
	if (queue_cache[i].key && queue_cache[i].generation == generation &&
	    strcmp(queue_cache[i].key, key) == 0) {
		p = queue_cache[i].page;
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&queue_cache_lock);
	cache_stat(CACHE_REVIEW_QUEUE, p != NULL);
	return p;
}

/* Takes html (malloc'ed); the page returned is held until page_release. */
static struct queue_page *cache_put(const char *key, int64_t generation, char *html, size_t len)
{
	struct queue_page *p = xmalloc(sizeof(*p) + len + 1);
	if (len)
		memcpy(p->html, html, len);
	p->html[len] = '\0';
	p->len = len;
	p->id = __atomic_add_fetch(&next_page_id, 1, __ATOMIC_RELAXED);
	free(html);
	if (generation < 0) {
		p->refs = 1;
		return p;
	}
	p->refs = 2; /* the cache's and the caller's */
	unsigned i = cache_slot(key);
	char *k = xstrdup(key);
	pthread_mutex_lock(&queue_cache_lock);
	char *old_k = queue_cache[i].key;
	struct queue_page *old = queue_cache[i].page;
	queue_cache[i].key = k;
	queue_cache[i].page = p;
	queue_cache[i].generation = generation;
	pthread_mutex_unlock(&queue_cache_lock);
	free(old_k);
	page_release(old);
	return p;
}

/* "authority path|state|page": what arena_printf would make, without
 * vsnprintf (a tenth of the page's own time on a cache hit). */
static const char *queue_key(struct request *r, const char *state, long page)
{
	const char *path = r->actor.authority_path ? r->actor.authority_path : "";
	size_t np = strlen(path), ns = strlen(state);
	char num[24];
	size_t i = sizeof num;
	unsigned long v = (unsigned long)page;
	do
		num[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	size_t nn = sizeof num - i;
	char *k = arena_alloc(r->arena, np + ns + nn + 3), *o = k;
	memcpy(o, path, np);
	o += np;
	*o++ = '|';
	memcpy(o, state, ns);
	o += ns;
	*o++ = '|';
	memcpy(o, num + i, nn);
	o[nn] = '\0';
	return k;
}

/* The places kept in the queues for their deep pages, one set for the
 * process (registration_queue_marked): after a change, 交通运输部's page 999
 * starts near its rows instead of walking the 50,000 before them. */
static struct queue_marks *queue_marks;
static pthread_once_t queue_marks_once = PTHREAD_ONCE_INIT;

static void queue_marks_make(void)
{
	queue_marks = queue_marks_new();
}

/* The queue of one state, or of all (REG_STATE_UNKNOWN); NULL when the
 * store failed. */
static json_t *queue_context(struct request *r, enum reg_state st, long page)
{
	const char *state = st == REG_STATE_UNKNOWN ? "all" : reg_state_name(st);
	int64_t total = 0;
	struct registration_row *rows;
	size_t n;
	pthread_once(&queue_marks_once, queue_marks_make);
	if (registration_queue_marked(req_db(r), queue_marks, r->arena, r->actor.authority_path,
	                              st == REG_STATE_UNKNOWN ? NULL : state, QUEUE_PAGE,
	                              (int)((page - 1) * QUEUE_PAGE), &rows, &n, &total) != DB_OK)
		return NULL;
	json_t *items = registration_queue_to_json(rows, n, r->arena);
	json_t *tabs = json_array();
	for (int k = 0; k < REG_STATE_COUNT; k++)
		json_array_append_new(
		    tabs, json_pack("{s:s, s:s, s:b}", "state", reg_state_name((enum reg_state)k),
		                    "label", reg_state_label(reg_state_name((enum reg_state)k)),
		                    "current", st == (enum reg_state)k));
	json_array_append_new(tabs, json_pack("{s:s, s:s, s:b}", "state", "all", "label", "全部",
	                                      "current", st == REG_STATE_UNKNOWN));
	long pages = (long)((total + QUEUE_PAGE - 1) / QUEUE_PAGE);
	json_t *ctx = json_pack(
	    "{s:o, s:o, s:I, s:s, s:s}", "items", items, "tabs", tabs, "total", (json_int_t)total,
	    "authority", r->actor.authority_name ? r->actor.authority_name : "", "state", state);
	if (page > 1)
		json_object_set_new(ctx, "prev_url",
		                    json_string(arena_printf(r->arena, "/review?state=%s&page=%ld",
		                                             state, page - 1)));
	if (page < pages)
		json_object_set_new(ctx, "next_url",
		                    json_string(arena_printf(r->arena, "/review?state=%s&page=%ld",
		                                             state, page + 1)));
	json_object_set_new(ctx, "page", json_integer(page));
	json_object_set_new(ctx, "pages", json_integer(pages ? pages : 1));
	return ctx;
}

/* The route (ACT_REVIEW_QUEUE) lets only reviewers in. */
void page_review_queue(struct request *r)
{
	/* A state's tab, "all", or else the pending ones. */
	const char *q = req_query(r, "state");
	enum reg_state st = reg_state_parse(q);
	bool all = st == REG_STATE_UNKNOWN && q && strcmp(q, "all") == 0;
	if (st == REG_STATE_UNKNOWN && !all)
		st = REG_PENDING;
	const char *state = all ? "all" : reg_state_name(st);
	const char *page_s = req_query(r, "page");
	long page = page_s ? strtol(page_s, NULL, 10) : 1;
	if (page < 1 || page > 100000)
		page = 1;
	int64_t generation = r->generations[GEN_REGISTRATIONS];
	const char *key = queue_key(r, state, page);
	struct queue_page *p = generation >= 0 ? cache_get(key, generation) : NULL;
	if (!p) {
		json_t *ctx = req_own_json(r, queue_context(r, st, page));
		if (!ctx) {
			reply_server_error(r, "review queue could not be read");
			return;
		}
		struct buf b = {0};
		if (tpl_render(r->srv->tpl, "review_queue", ctx, &b) != 0) {
			buf_free(&b);
			reply_server_error(r, "review queue rendering failed");
			return;
		}
		size_t len = b.len;
		p = cache_put(key, generation, buf_steal(&b), len);
	}
	render_page_html_id(r, 200, "报名初审", p->html, p->len, p->id);
	page_release(p);
}

/* Loads the registration of the route and asks the policy; false =
 * answered (404, 403, 500). Its JSON is owned by the request. */
static bool load_for(struct request *r, enum action act, struct registration *reg, json_t **json)
{
	int64_t id = req_param_int(r, 0);
	enum db_status st = id ? load_registration(r, id, reg, json) : DB_NOT_FOUND;
	if (st == DB_NOT_FOUND) {
		reply_not_found(r);
		return false;
	}
	if (st != DB_OK) {
		reply_server_error(r, "registration could not be read");
		return false;
	}
	struct policy_object o;
	registration_policy_object(reg, &o);
	if (!policy_allows(&r->actor, act, &o)) {
		reply_forbidden(r);
		return false;
	}
	return true;
}

static void show_detail(struct request *r, int status, const struct registration *reg, json_t *json,
                        const char *error)
{
	/* The same field table as the form gives the labels, in the same order. */
	json_t *rows = registration_rows_json(reg->kind, json);
	json_t *ctx = json_pack("{s:O, s:o, s:b}", "reg", json, "rows", rows, "is_pending",
	                        reg->state == REG_PENDING);
	json_object_set_new(ctx, "submitted_date",
	                    json_string(time_datetime(r->arena, reg->created_at)));
	if (reg->reviewed_at)
		json_object_set_new(ctx, "reviewed_date",
		                    json_string(time_datetime(r->arena, reg->reviewed_at)));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	/* Said before the reviewer decides, not after: an authority whose name is
	 * already in the tree (submitted before names were compared folded) can
	 * only be refused. */
	char *blocker = error ? NULL : registration_approval_blocker(req_db(r), reg);
	if (blocker) {
		json_object_set_new(ctx, "blocker", json_string(blocker));
		free(blocker);
	}
	render_page(r, status, "review_detail", "报名信息审核", ctx);
}

void page_review_detail(struct request *r)
{
	struct registration reg;
	json_t *json;
	if (load_for(r, ACT_REGISTRATION_VIEW, &reg, &json))
		show_detail(r, 200, &reg, json, NULL);
}

void page_review_decide(struct request *r)
{
	struct registration reg_record, *reg = &reg_record;
	json_t *json;
	if (!load_for(r, ACT_REGISTRATION_DECIDE, reg, &json))
		return;
	const char *decision = req_form(r, "decision");
	char *reason = xstrdup(req_form(r, "reason") ? req_form(r, "reason") : "");
	str_trim(reason);
	bool approve = decision && strcmp(decision, "approve") == 0;
	bool reject = decision && strcmp(decision, "reject") == 0;
	if (!approve && !reject) {
		show_detail(r, 422, reg, json, "请选择审核结果。");
	} else if (reject && !*reason) {
		show_detail(r, 422, reg, json, "请填写不通过的原因。");
	} else if (validate_text(reason, true) != TEXT_OK) {
		show_detail(r, 422, reg, json,
		            arena_printf(r->arena, "不通过原因%s",
		                         text_fault_reason(validate_text(reason, true))));
	} else if (utf8_length(reason) > 500) {
		show_detail(r, 422, reg, json, "原因不能超过500个字。");
	} else {
		char *blocked = NULL;
		enum db_status st = registration_decide(req_db(r), &r->actor, req_param_int(r, 0),
		                                        approve, reason, &blocked);
		if (st == DB_OK)
			redirect(r, arena_printf(r->arena, "/review/%lld?decided=1",
			                         (long long)req_param_int(r, 0)));
		else if (st == DB_CONFLICT && blocked)
			show_detail(r, 409, reg, json, blocked);
		else if (st == DB_CONFLICT)
			show_detail(r, 409, reg, json, "该报名已经审核过，不能重复审核。");
		else
			reply_server_error(r, "registration decision failed");
		free(blocked);
	}
	free(reason);
}

/*
 * The back office of the provincial RA (注册机构) and the training institution
 * (培训机构): home with figures, overdue list and chart; the work queue with
 * filters, search and CSV export; one application with its actions; the API
 * tokens of the RA's enrolment workstation.
 */
#include "httpd.h"
#include "esp/sopin.h"
#include "esp/ra.h"
#include "esp/validate.h"
#include "esp/api_token.h"
#include "esp/certificate.h"
#include "record_json.h"
#include "application_view.h"
#include "registration_view.h"
#include "ra_search_cache.h"
#include "esp/generation.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_PAGE 50

static bool office_allowed(struct request *r)
{
	if (policy_allows(&r->actor, ACT_OPERATOR, NULL))
		return true;
	reply_forbidden(r);
	return false;
}

static void base_filter(struct request *r, struct ra_filter *f)
{
	memset(f, 0, sizeof(*f));
	ra_filter_scope(&r->actor, f);
	f->limit = QUEUE_PAGE;
}

static const char *q_or_empty(struct request *r, const char *name, size_t max)
{
	const char *v = req_query(r, name);
	if (!v || strlen(v) > max)
		return "";
	return v;
}

static void request_filter(struct request *r, struct ra_filter *f, json_t *form)
{
	base_filter(r, f);
	enum app_state state = appstate_parse(q_or_empty(r, "state", 20));
	if (state != APP_STATE_UNKNOWN && state != APP_NEW)
		f->state = appstate_name(state);
	const char *kind = q_or_empty(r, "kind", 12);
	if (kind_parse(kind) != KIND_NONE)
		f->kind = kind_name(kind_parse(kind));
	int64_t from = time_parse_date(q_or_empty(r, "from", 10));
	int64_t to = time_parse_date(q_or_empty(r, "to", 10));
	f->from = from > 0 ? from : 0;
	f->to = to > 0 ? to + 86400 : 0;
	f->overdue = strcmp(q_or_empty(r, "overdue", 3), "1") == 0;
	f->q = q_or_empty(r, "q", 64);
	long page = strtol(q_or_empty(r, "page", 6), NULL, 10);
	f->offset = page > 1 ? (int)(page - 1) * QUEUE_PAGE : 0;
	json_object_set_new(form, "state", json_string(f->state ? f->state : ""));
	json_object_set_new(form, "kind", json_string(f->kind ? f->kind : ""));
	json_object_set_new(form, "from", json_string(from > 0 ? q_or_empty(r, "from", 10) : ""));
	json_object_set_new(form, "to", json_string(to > 0 ? q_or_empty(r, "to", 10) : ""));
	json_object_set_new(form, "overdue", json_boolean(f->overdue));
	json_object_set_new(form, "q", json_string(f->q));
	json_object_set_new(form, "page", json_integer(page > 1 ? page : 1));
}

/* Bars of applications received and keys shipped per day: drawn here, no script. */
static char *chart_svg(const struct ra_day *daily, size_t n)
{
	int64_t max = 1;
	char(*dates)[16] = xcalloc(n ? n : 1, sizeof *dates);
	for (size_t i = 0; i < n; i++) {
		/* MM-DD of the day in China Standard Time. */
		time_t t = (time_t)(daily[i].start + 8 * 3600);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(dates[i], sizeof dates[i], "%02d-%02d", (tm.tm_mon + 1) % 100,
		         tm.tm_mday % 100);
		int64_t a = daily[i].received, b = daily[i].shipped;
		if (a > max)
			max = a;
		if (b > max)
			max = b;
	}
	const int w = 24, h = 160, left = 36, top = 10;
	struct buf s = {0};
	buf_printf(&s,
	           "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\" "
	           "aria-label=\"近30天每日收到的申请数与寄出的证书U盘数\" class=\"chart\">",
	           left + (int)n * w + 10, top + h + 40);
	buf_printf(&s, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", left,
	           top + h, left + (int)n * w, top + h);
	buf_printf(&s, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%lld</text>",
	           left - 4, top + 8, (long long)max);
	buf_printf(&s, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">0</text>",
	           left - 4, top + h);
	for (size_t i = 0; i < n; i++) {
		int64_t a = daily[i].received, b = daily[i].shipped;
		int x = left + (int)i * w;
		int ha = (int)(a * h / max), hb = (int)(b * h / max);
		buf_printf(&s,
		           "<rect x=\"%d\" y=\"%d\" width=\"9\" height=\"%d\" "
		           "fill=\"#1f4e8c\"><title>%s 收到申请 %lld</title></rect>",
		           x + 3, top + h - ha, ha, dates[i], (long long)a);
		buf_printf(&s,
		           "<rect x=\"%d\" y=\"%d\" width=\"9\" height=\"%d\" "
		           "fill=\"#2e7d32\"><title>%s 寄出证书U盘 %lld</title></rect>",
		           x + 12, top + h - hb, hb, dates[i], (long long)b);
		if (i % 5 == 0 || i == n - 1)
			buf_printf(&s,
			           "<text x=\"%d\" y=\"%d\" font-size=\"10\" "
			           "text-anchor=\"middle\">%s</text>",
			           x + 12, top + h + 14, dates[i]);
	}
	buf_printf(&s,
	           "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#1f4e8c\"/>"
	           "<text x=\"%d\" y=\"%d\" font-size=\"11\">收到的申请</text>"
	           "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#2e7d32\"/>"
	           "<text x=\"%d\" y=\"%d\" font-size=\"11\">寄出的证书U盘</text></svg>",
	           left, top + h + 24, left + 14, top + h + 33, left + 110, top + h + 24,
	           left + 124, top + h + 33);
	free(dates);
	return buf_steal(&s);
}

void page_ra_home(struct request *r)
{
	if (!office_allowed(r))
		return;
	struct ra_filter f;
	base_filter(r, &f);
	int days = r->srv->limits.delivery_days;
	/* The scope says whose office this is: a training institution sees
	 * evaluators only, an RA its province, the admin every province. */
	bool trainer = f.evaluators_only, ra = f.province && !trainer;
	const char *title = trainer ? "培训机构首页" : "注册机构首页";
	const char *org = r->actor.display_name ? r->actor.display_name : "";
	/* The page as rendered, like a search's (ra_search_cache.c): its figures,
	 * overdue list and chart read the applications, their registrations' names
	 * and the provinces' names only, which the 'applications' generation
	 * follows; a new registration leaves it. The minute is in the key for the
	 * overdue marks and the days' bars. Made again, it cost five statements
	 * (at 16 clients on a national store, a p99 of 50-480 ms on PostgreSQL). */
	int64_t generation = r->generations[GEN_APPLICATIONS];
	const char *key =
	    arena_printf(r->arena, "home|%s|%d|%d|%lld|%s", f.province ? f.province : "*", trainer,
	                 days, (long long)(time_now() / 60), org);
	size_t len = 0;
	char *html = generation >= 0 ? ra_search_cache_get(key, generation, &len) : NULL;
	if (html) {
		render_page_html(r, 200, title, html, len);
		free(html);
		return;
	}
	struct ra_stats stats;
	struct ra_queue_item *overdue;
	size_t n_overdue;
	struct ra_day *daily;
	enum db_status st = ra_stats(req_db(r), &f, days, &stats);
	f.overdue = true;
	f.limit = 20;
	int64_t total = 0;
	if (st == DB_OK)
		st = ra_queue(req_db(r), r->arena, &f, days, &overdue, &n_overdue, &total);
	if (st == DB_OK)
		st = ra_daily(req_db(r), r->arena, &f, 30, &daily);
	if (st != DB_OK) {
		reply_server_error(r, "RA figures could not be read");
		return;
	}
	char *svg = chart_svg(daily, 30);
	json_t *ctx =
	    json_pack("{s:o, s:o, s:s, s:i, s:b, s:s, s:s}", "stats", ra_stats_to_json(&stats),
	              "overdue", ra_queue_to_json(overdue, n_overdue, r->arena), "chart_svg", svg,
	              "delivery_days", days, "is_ra", ra, "org", org, "page_title", title);
	free(svg);
	req_own_json(r, ctx);
	struct buf b = {0};
	if (tpl_render(r->srv->tpl, "ra_home", ctx, &b) != 0) {
		buf_free(&b);
		reply_server_error(r, "RA home rendering failed");
		return;
	}
	if (generation >= 0)
		ra_search_cache_put(key, generation, b.data, b.len);
	render_page_html(r, 200, title, b.data, b.len);
	buf_free(&b);
}

void page_ra_queue(struct request *r)
{
	if (!office_allowed(r))
		return;
	struct ra_filter f;
	json_t *form = req_own_json(r, json_object());
	request_filter(r, &f, form);
	/* A search's page as rendered (ra_search_cache.c): what it shows
	 * depends on the operator's scope, the filters, the text, the page
	 * and the minute (overdue marks), nothing else of the request. */
	const char *key = NULL;
	int64_t generation = r->generations[GEN_APPLICATIONS];
	if (f.q && *f.q && generation >= 0) {
		key = arena_printf(r->arena, "%s|%d|%s|%s|%lld|%lld|%d|%d|%lld|%s",
		                   f.province ? f.province : "*", f.evaluators_only,
		                   f.state ? f.state : "", f.kind ? f.kind : "", (long long)f.from,
		                   (long long)f.to, f.overdue, f.offset,
		                   (long long)(time_now() / 60), f.q);
		size_t len = 0;
		char *html = ra_search_cache_get(key, generation, &len);
		if (html) {
			render_page_html(r, 200, "申请办理列表", html, len);
			free(html);
			return;
		}
	}
	int64_t total = 0;
	struct ra_queue_item *list;
	size_t n;
	if (ra_queue(req_db(r), r->arena, &f, r->srv->limits.delivery_days, &list, &n, &total) !=
	    DB_OK) {
		reply_server_error(r, "RA queue could not be read");
		return;
	}
	json_t *items = ra_queue_to_json(list, n, r->arena);
	long page = (long)json_integer_value(json_object_get(form, "page"));
	long pages = (long)((total + QUEUE_PAGE - 1) / QUEUE_PAGE);
	/* The same filters for the page links and the CSV export. */
	struct buf qs = {0};
	const char *keys[] = {"state", "kind", "from", "to", "q"};
	for (size_t i = 0; i < 5; i++) {
		const char *v = json_string_value(json_object_get(form, keys[i]));
		if (v && *v) {
			char *enc = NULL;
			struct buf e = {0};
			for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
				if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
					buf_putc(&e, (char)*p);
				else
					buf_printf(&e, "%%%02X", *p);
			}
			enc = buf_steal(&e);
			buf_printf(&qs, "%s=%s&", keys[i], enc);
			free(enc);
		}
	}
	if (f.overdue)
		buf_puts(&qs, "overdue=1&");
	const char *qstr = arena_strdup(r->arena, qs.data ? qs.data : "");
	buf_free(&qs);
	json_t *kinds = json_array();
	for (int k = 0; k < KIND_COUNT; k++)
		json_array_append_new(kinds,
		                      json_pack("{s:s, s:s, s:b}", "value", kind_name(k), "label",
		                                kind_label(k), "selected",
		                                f.kind && strcmp(f.kind, kind_name(k)) == 0));
	json_t *states = json_array();
	enum app_state selected = appstate_parse(f.state);
	for (enum app_state s = APP_SUBMITTED; s < APP_STATE_COUNT; s++)
		json_array_append_new(
		    states, json_pack("{s:s, s:s, s:b}", "value", appstate_name(s), "label",
		                      appstate_label(s), "selected", s == selected));
	json_t *ctx = json_pack("{s:o, s:O, s:I, s:o, s:o, s:i, s:i, s:s}", "items", items, "form",
	                        form, "total", (json_int_t)total, "kinds", kinds, "states", states,
	                        "page", (int)page, "pages", (int)(pages ? pages : 1), "csv_url",
	                        arena_printf(r->arena, "/ra/queue.csv?%s", qstr));
	if (page > 1)
		json_object_set_new(
		    ctx, "prev_url",
		    json_string(arena_printf(r->arena, "/ra/queue?%spage=%ld", qstr, page - 1)));
	if (page < pages)
		json_object_set_new(
		    ctx, "next_url",
		    json_string(arena_printf(r->arena, "/ra/queue?%spage=%ld", qstr, page + 1)));
	if (!key) {
		render_page(r, 200, "ra_queue", "申请办理列表", ctx);
		return;
	}
	req_own_json(r, ctx);
	struct buf b = {0};
	if (tpl_render(r->srv->tpl, "ra_queue", ctx, &b) != 0) {
		buf_free(&b);
		reply_server_error(r, "RA queue rendering failed");
		return;
	}
	ra_search_cache_put(key, generation, b.data, b.len);
	render_page_html(r, 200, "申请办理列表", b.data, b.len);
	buf_free(&b);
}

static void csv_field(struct buf *b, const char *v)
{
	buf_putc(b, '"');
	/* A cell starting with = + - @ would be a formula in a spreadsheet. */
	if (v && (*v == '=' || *v == '+' || *v == '-' || *v == '@'))
		buf_putc(b, '\'');
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

void page_ra_queue_csv(struct request *r)
{
	if (!office_allowed(r))
		return;
	struct ra_filter f;
	request_filter(r, &f, req_own_json(r, json_object()));
	f.limit = 100000;
	f.offset = 0;
	int64_t total = 0;
	struct ra_queue_item *list;
	size_t n;
	if (ra_queue(req_db(r), r->arena, &f, r->srv->limits.delivery_days, &list, &n, &total) !=
	    DB_OK) {
		reply_server_error(r, "RA queue could not be read");
		return;
	}
	buf_free(&r->body);
	/* The columns of the page's table, in the same words: 业务类型 and the
	 * replaced certificate tell a 补办 from a new key in the spreadsheet. */
	buf_puts(&r->body, "\xEF\xBB\xBF申请编号,业务类型,原证书序列号,状态,申请人类型,名称,代码,"
	                   "省份,数量,金额(元),提交日期,已用天数,超期\r\n");
	for (size_t i = 0; i < n; i++) {
		const struct ra_queue_item *it = &list[i];
		const char *cols[] = {it->number,
		                      app_type_label(it->type),
		                      it->replaces_serial ? it->replaces_serial : "",
		                      app_state_label(it->state),
		                      it->kind == KIND_NONE ? "" : kind_label(it->kind),
		                      it->name,
		                      it->code,
		                      it->province,
		                      arena_printf(r->arena, "%d", it->sets),
		                      arena_printf(r->arena, "%lld", (long long)it->amount_yuan)};
		for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
			csv_field(&r->body, cols[k]);
			buf_putc(&r->body, ',');
		}
		csv_field(&r->body, time_date(r->arena, it->submitted_at));
		buf_printf(&r->body, ",%s,%s\r\n",
		           it->days >= 0 ? arena_printf(r->arena, "%lld", (long long)it->days) : "",
		           it->overdue ? "是" : "否");
	}
	r->status = 200;
	r->content_type = "text/csv; charset=utf-8";
	req_header(r, "Content-Disposition", "attachment; filename=\"esp-applications.csv\"");
	req_header(r, "Cache-Control", "no-store");
}

/* ---- one application ---- */

static bool load_operator_app(struct request *r, struct application *app)
{
	return office_allowed(r) && application_for(r, ACT_APPLICATION_VIEW, app);
}

/* In which role the actor takes this application's steps, as the policy
 * says: its province's RA, the training institution of an evaluator's
 * province, or none (the admin and reviewers only look). */
static enum role acting_role(struct request *r, const struct policy_object *o)
{
	if (policy_allows(&r->actor, ACT_APPLICATION_RA, o))
		return ROLE_RA;
	if (policy_allows(&r->actor, ACT_APPLICATION_TRAINER, o))
		return ROLE_TRAINER;
	return ROLE_NONE;
}

static void show_ra_app(struct request *r, int status, const struct application *app,
                        const char *error)
{
	struct policy_object o;
	application_policy_object(app, &o);
	enum role who = acting_role(r, &o);
	enum reg_kind k = app->kind;
	bool eval = k == KIND_EVALUATOR;
	enum app_state state = app->state;
	int64_t app_id = app->id;
	struct certificate *cert_rows;
	size_t ncerts;
	struct app_event *events;
	size_t nevents;
	if (cert_list_of_application(req_db(r), r->arena, app_id, &cert_rows, &ncerts) != DB_OK ||
	    application_history(req_db(r), r->arena, app_id, &events, &nevents) != DB_OK) {
		reply_server_error(r, "application could not be read");
		return;
	}
	json_t *certs =
	    certs_to_json(cert_rows, ncerts, r->srv->limits.expiry_warning_days, r->arena);
	unsigned facts = application_facts(app) | (ncerts ? APP_FACT_CERTS : 0);
	struct registration record;
	json_t *reg = NULL;
	if (load_registration(r, app->registration_id, &record, &reg) == DB_ERROR) {
		reply_server_error(r, "registration could not be read");
		return;
	}
	json_t *ctx = json_pack("{s:o, s:O, s:o, s:o, s:o, s:s}", "app", application_to_json(app),
	                        "reg", reg ? reg : req_own_json(r, json_object()), "history",
	                        app_events_to_json(events, nevents, r->arena), "certs", certs,
	                        "timeline", application_timeline_json(app, r->arena), "today",
	                        time_date(r->arena, time_now()));
	/* A button shows when the state machine lets this role take its step now. */
	static const struct {
		const char *key;
		enum app_step step;
	} buttons[] = {
	    {"can_pay", STEP_PAYMENT},      {"can_materials", STEP_MATERIALS},
	    {"can_return", STEP_RETURN},    {"can_issue", STEP_ISSUE},
	    {"can_ship", STEP_SHIP},        {"can_pickup", STEP_PICKUP},
	    {"can_receive", STEP_RECEIVED}, {"can_approve", STEP_APPROVE},
	};
	for (size_t i = 0; i < sizeof buttons / sizeof buttons[0]; i++)
		json_object_set_new(
		    ctx, buttons[i].key,
		    json_boolean(appstate_next(state, buttons[i].step, who, facts, NULL)));
	size_t nitems;
	const char *const *items = application_materials(k, &nitems);
	json_t *list = json_array();
	for (size_t mi = 0; mi < nitems; mi++)
		json_array_append_new(
		    list, json_pack("{s:I, s:s}", "index", (json_int_t)mi, "label", items[mi]));
	json_object_set_new(ctx, "materials", list);
	json_object_set_new(ctx, "certs_count", json_integer((json_int_t)json_array_size(certs)));
	json_object_set_new(ctx, "is_evaluator", json_boolean(eval));
	json_object_set_new(ctx, "can_revoke",
	                    json_boolean(policy_allows(&r->actor, ACT_CERT_REVOKE, &o) &&
	                                 r->actor.role == ROLE_RA));
	json_object_set_new(ctx, "has_scan", json_boolean(app->scan_id != 0));
	json_object_set_new(ctx, "server_url", json_string(r->srv->public_url));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	render_page(r, status, "ra_application", arena_printf(r->arena, "办理申请 %s", app->number),
	            ctx);
}

void page_ra_application(struct request *r)
{
	struct application app;
	if (load_operator_app(r, &app))
		show_ra_app(r, 200, &app, NULL);
}

static char *trimmed(struct request *r, const char *name, size_t max_chars)
{
	const char *v = req_form(r, name);
	char *s = arena_strdup(r->arena, v ? v : "");
	str_trim(s);
	long n = utf8_length(s);
	if (n < 0 || n > (long)max_chars)
		return NULL;
	return s;
}

/* A return reason is shown inside a sentence ("原因：…。请按要求更正…"):
 * its own closing 。 or . would print twice, so it is stored without. */
static void drop_final_stop(char *s)
{
	size_t n = strlen(s);
	for (;;) {
		if (n >= 3 && (memcmp(s + n - 3, "。", 3) == 0 || memcmp(s + n - 3, "．", 3) == 0))
			n -= 3;
		else if (n >= 1 && (s[n - 1] == '.' || s[n - 1] == ' '))
			n -= 1;
		else
			break;
		s[n] = '\0';
	}
}

/* Runs one recorded step through the policy, answering as a person expects. */
void page_ra_action(struct request *r)
{
	struct application app;
	if (!load_operator_app(r, &app))
		return;
	struct policy_object o;
	application_policy_object(&app, &o);
	const char *number = app.number;
	bool eval = app.kind == KIND_EVALUATOR;
	unsigned facts = application_facts(&app);
	/* The steps recorded here, by the name in the address; "ship" hands an
	 * evaluator's key to the training institution instead. */
	enum app_step step;
	bool known = appstep_parse(r->params[1], &step) &&
	             (step == STEP_PAYMENT || step == STEP_MATERIALS || step == STEP_RETURN ||
	              step == STEP_SHIP || step == STEP_RECEIVED || step == STEP_APPROVE);
	if (known && step == STEP_SHIP && eval)
		step = STEP_PICKUP;
	/* A step never this actor's to take is forbidden; one the state does
	 * not allow now is a conflict, answered by the transaction. */
	if (!known || !appstate_step_is_for(step, acting_role(r, &o), facts)) {
		reply_forbidden(r);
		return;
	}
	enum db_status st = DB_ERROR;
	const char *error = NULL;
	db_conn *c = req_db(r);
	if (step == STEP_PAYMENT) {
		char *amount_s = trimmed(r, "amount", 10), *payer = trimmed(r, "payer", 100);
		char *ref = trimmed(r, "bank_ref", 60), *note = trimmed(r, "note", 200);
		int64_t on = time_parse_date(req_form(r, "paid_on"));
		char *end = NULL;
		long amount = amount_s ? strtol(amount_s, &end, 10) : -1;
		long due = (long)app.amount_yuan;
		if (!amount_s || !*amount_s || *end || amount <= 0 || amount > 10000000)
			error = "请输入正确的付款金额（元）";
		else if (on < 0 || on > time_now())
			error = "请输入正确的付款日期（YYYY-MM-DD，不能晚于今天）";
		else if (!payer || !*payer)
			error = "请填写付款人";
		else if (!ref || !*ref)
			error = "请填写银行流水号";
		else if (amount != due && (!note || !*note))
			error = "付款金额与应付金额不一致，请填写说明";
		else
			st = ra_record_payment(c, &r->actor, number, amount, on, payer, ref, note);
	} else if (step == STEP_MATERIALS) {
		size_t nitems;
		const char *const *items = application_materials(app.kind, &nitems);
		const char *got = req_form(r, "item");
		struct buf list = {0};
		bool all = true;
		for (size_t i = 0; i < nitems; i++) {
			/* Checkboxes come back as "0\n1" (repeated fields joined). */
			char key[24];
			snprintf(key, sizeof key, "%zu", i);
			bool ticked = false;
			for (const char *p = got; p && *p;) {
				size_t n = strcspn(p, "\n");
				if (n == strlen(key) && strncmp(p, key, n) == 0)
					ticked = true;
				p += n + (p[n] == '\n');
			}
			all = all && ticked;
			buf_printf(&list, "%s%s", i ? "；" : "", items[i]);
		}
		if (!all)
			error = "请逐项核对申请材料，全部收到后再确认";
		else
			st = ra_record_materials(c, &r->actor, number, list.data);
		buf_free(&list);
	} else if (step == STEP_RETURN) {
		char *reason = trimmed(r, "reason", 300);
		if (reason)
			drop_final_stop(reason);
		if (!reason || !*reason)
			error = "请填写退回原因（不超过300字）";
		else
			st = ra_return(c, &r->actor, number, reason);
	} else if (step == STEP_APPROVE) {
		/* 密码解锁: the one-time authorisation for the holder's tool (core/sopin.c). */
		enum sopin_result res = sopin_unlock_approve(c, &r->actor, number);
		st = res == SOPIN_OK                             ? DB_OK
		     : res == SOPIN_ERROR || res == SOPIN_NO_KEY ? DB_ERROR
		                                                 : DB_CONFLICT;
	} else if (step == STEP_SHIP || step == STEP_PICKUP) {
		char *courier = trimmed(r, "courier", 40),
		     *tracking = trimmed(r, "tracking_no", 40);
		if (!eval && (!courier || !*courier))
			error = "请填写快递公司";
		else if (!eval && (!tracking || !*tracking))
			error = "请填写快递单号";
		else
			st = ra_ship(c, &r->actor, number, courier, tracking);
	} else {
		st = ra_mark_received(c, &r->actor, number);
	}
	if (error) {
		show_ra_app(r, 422, &app, error);
	} else if (st == DB_OK) {
		redirect(r, arena_printf(r->arena, "/ra/applications/%s", number));
	} else if (st == DB_CONFLICT) {
		show_ra_app(r, 409, &app,
		            "该申请的当前状态不允许此操作（可能已被其他人处理），请刷新后查看。");
	} else {
		reply_server_error(r, "RA action failed");
	}
}

/* ---- API tokens of the enrolment workstation ---- */

static void show_tokens(struct request *r, int status, const char *new_token, const char *error)
{
	struct api_token *list;
	size_t n;
	if (api_token_list(req_db(r), r->arena, r->actor.account_id, &list, &n) != DB_OK) {
		reply_server_error(r, "API tokens could not be read");
		return;
	}
	json_t *ctx = json_pack("{s:o}", "tokens", api_tokens_to_json(list, n, r->arena));
	if (new_token)
		json_object_set_new(ctx, "new_token", json_string(new_token));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	json_object_set_new(ctx, "server_url", json_string(r->srv->public_url));
	render_page(r, status, "ra_tokens", "API令牌", ctx);
}

static bool token_holder(const struct request *r)
{
	return policy_allows(&r->actor, ACT_API_TOKENS, NULL);
}

void page_ra_tokens(struct request *r)
{
	if (!token_holder(r)) {
		reply_forbidden(r);
		return;
	}
	show_tokens(r, 200, NULL, NULL);
}

void page_ra_tokens_create(struct request *r)
{
	if (!token_holder(r)) {
		reply_forbidden(r);
		return;
	}
	char *name = trimmed(r, "name", 40);
	if (!name || !*name) {
		show_tokens(r, 422, NULL, "请填写令牌名称（如：制证工作站1）");
		return;
	}
	char *token = NULL;
	if (api_token_create(req_db(r), &r->actor, name, &token) != DB_OK) {
		reply_server_error(r, "token create failed");
		return;
	}
	show_tokens(r, 200, arena_strdup(r->arena, token), NULL);
	sodium_memzero(token, strlen(token));
	free(token);
}

void page_ra_tokens_revoke(struct request *r)
{
	if (!token_holder(r)) {
		reply_forbidden(r);
		return;
	}
	enum db_status st = api_token_revoke(req_db(r), &r->actor, req_param_int(r, 0));
	if (st == DB_NOT_FOUND)
		reply_not_found(r);
	else if (st != DB_OK)
		reply_server_error(r, "token revoke failed");
	else
		redirect(r, "/ra/tokens");
}

/* The applicant corrects a returned application. */
void page_application_resubmit(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_OWN, &app))
		return;
	enum db_status st = application_resubmit(req_db(r), &r->actor, app.number);
	if (st == DB_OK)
		redirect(r, arena_printf(r->arena, "/applications/%s", app.number));
	else if (st == DB_CONFLICT)
		render_message(r, 409, "不能重新提交", "该申请当前不是已退回状态。");
	else
		reply_server_error(r, "resubmit failed");
}

/*
 * One application: its status timeline, the printable form (HTML and PDF),
 * the payment and mailing information, its scan, and withdrawal.
 */
#include "httpd.h"
#include "esp/application.h"
#include "esp/directory.h"
#include "esp/upload.h"
#include "esp/json_util.h"

#include <stdlib.h>
#include <string.h>

json_t *application_for(struct request *r, enum action act)
{
	json_t *app = req_own_json(r, application_get(req_db(r), r->params[0]));
	if (!app) {
		reply_not_found(r);
		return NULL;
	}
	struct policy_object o;
	application_policy_object(app, &o);
	if (!policy_allows(&r->actor, act, &o)) {
		reply_forbidden(r);
		return NULL;
	}
	return app;
}

/* The registrant's own application: its steps and withdrawal are shown. */
static bool own_application(struct request *r, json_t *app)
{
	struct policy_object o;
	application_policy_object(app, &o);
	return policy_allows(&r->actor, ACT_APPLICATION_OWN, &o);
}

static enum reg_kind app_kind(json_t *app)
{
	return kind_parse(json_string_value(json_object_get(app, "kind")));
}

void page_application(struct request *r)
{
	json_t *app = application_for(r, ACT_APPLICATION_VIEW);
	if (!app)
		return;
	bool own = own_application(r, app);
	enum app_state state = appstate_parse(sval(app, "state"));
	unsigned facts = application_facts(app);
	json_t *ctx = json_pack("{s:O, s:o, s:b}", "app", app, "timeline",
	                        application_timeline(app, r->arena), "own", own);
	json_object_set_new(
	    ctx, "submitted_date",
	    json_string(time_datetime(r->arena, strtoll(sval(app, "submitted_at"), NULL, 10))));
	json_object_set_new(
	    ctx, "can_withdraw",
	    json_boolean(own && appstate_next(state, STEP_WITHDRAW, ROLE_APPLICANT, facts, NULL)));
	json_object_set_new(ctx, "is_returned", json_boolean(state == APP_RETURNED));
	json_object_set_new(ctx, "public_url", json_string(r->srv->public_url));
	unlock_context(r, app, ctx);
	json_object_set_new(ctx, "has_scan",
	                    json_boolean(!json_is_null(json_object_get(app, "scan_id"))));
	render_page(r, 200, "application", "证书U盘申请", ctx);
}

void page_application_print(struct request *r)
{
	json_t *app = application_for(r, ACT_APPLICATION_VIEW);
	if (!app)
		return;
	struct appform f;
	application_appform(app, &f);
	json_t *ctx = appform_to_json(&f);
	const char *n = sval(app, "number");
	bool own = own_application(r, app);
	json_object_set_new(ctx, "back_url",
	                    json_string(arena_printf(r->arena, "/applications/%s", n)));
	json_object_set_new(ctx, "pdf_url",
	                    json_string(arena_printf(r->arena, "/applications/%s/form.pdf", n)));
	if (own) {
		enum reg_kind k = app_kind(app);
		json_object_set_new(ctx, "steps", application_steps(k, "print"));
		json_object_set_new(ctx, "has_steps", json_true());
		json_object_set_new(
		    ctx, "next_url",
		    json_string(arena_printf(r->arena, "/applications/%s/payment", n)));
		json_object_set_new(ctx, "next_label",
		                    json_string(k == KIND_EVALUATOR
		                                    ? "【下一步】查看材料提交信息"
		                                    : "【下一步】查看支付及邮寄信息"));
	}
	buf_free(&r->body);
	if (tpl_render(r->srv->tpl, "appform_print", ctx, &r->body) != 0) {
		log_error("req=%llu template appform_print failed", (unsigned long long)r->id);
		json_decref(ctx);
		r->status = 500;
		buf_puts(&r->body, "内部错误");
		return;
	}
	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	req_header(r, "Cache-Control", "no-store");
	json_decref(ctx);
}

void page_application_pdf(struct request *r)
{
	json_t *app = application_for(r, ACT_APPLICATION_VIEW);
	if (!app)
		return;
	struct appform f;
	application_appform(app, &f);
	unsigned char *pdf = NULL;
	size_t len = 0;
	if (appform_pdf(&f, &pdf, &len) != 0) {
		reply_server_error(r, "PDF rendering failed");
		return;
	}
	req_body_take(r, pdf, len);
	r->status = 200;
	r->content_type = "application/pdf";
	req_header(r, "Content-Disposition",
	           arena_printf(r->arena, "inline; filename=\"%s.pdf\"", sval(app, "number")));
	req_header(r, "Cache-Control", "no-store");
}

void page_application_payment(struct request *r)
{
	json_t *app = application_for(r, ACT_APPLICATION_VIEW);
	if (!app)
		return;
	enum reg_kind k = app_kind(app);
	json_t *dir = ra_directory_get(req_db(r), sval(app, "province_code"));
	json_t *ctx =
	    json_pack("{s:O, s:o, s:o, s:b, s:o}", "app", app, "ra", dir ? dir : json_object(),
	              "materials", application_materials(k), "is_evaluator", k == KIND_EVALUATOR,
	              "steps", application_steps(k, k == KIND_EVALUATOR ? "submit" : "pay"));
	json_object_set_new(ctx, "delivery_days", json_integer(r->srv->limits.delivery_days));
	json_object_set_new(ctx, "is_authority", json_boolean(k == KIND_AUTHORITY));
	render_page(r, 200, "payment", k == KIND_EVALUATOR ? "提交申请材料" : "支付及邮寄信息",
	            ctx);
}

void page_application_scan(struct request *r)
{
	json_t *app = application_for(r, ACT_APPLICATION_VIEW);
	if (!app)
		return;
	json_t *sid = json_object_get(app, "scan_id");
	int64_t id = json_is_string(sid) ? strtoll(json_string_value(sid), NULL, 10) : 0;
	int64_t reg_id = 0;
	char *mime = NULL, *data = NULL;
	size_t len = 0;
	if (!id || upload_load(req_db(r), id, &reg_id, &mime, &data, &len) != DB_OK) {
		reply_not_found(r);
		return;
	}
	req_body_take(r, data, len);
	r->status = 200;
	r->content_type = arena_strdup(r->arena, mime);
	free(mime);
	/* A scan is shown, never run: no script, no plugins, even if it were HTML. */
	req_header(r, "Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'");
	req_header(r, "Content-Disposition", "inline");
	req_header(r, "Cache-Control", "no-store");
}

void page_application_withdraw(struct request *r)
{
	json_t *app = application_for(r, ACT_APPLICATION_OWN);
	if (!app)
		return;
	enum db_status st = application_withdraw(req_db(r), &r->actor, sval(app, "number"));
	if (st == DB_CONFLICT)
		render_message(r, 409, "不能撤销", "该申请已付款或已在办理中，不能撤销。");
	else if (st != DB_OK)
		reply_server_error(r, "withdraw failed");
	else
		redirect(r, "/status");
}

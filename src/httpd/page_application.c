/*
 * One application: its status timeline, the printable form (HTML and PDF),
 * the payment and mailing information, its scan, and withdrawal.
 */
#include "httpd.h"
#include "esp/application.h"
#include "esp/appform.h"
#include "esp/directory.h"
#include "record_json.h"
#include "application_view.h"

#include <stdlib.h>
#include <string.h>

bool application_for(struct request *r, enum action act, struct application *app)
{
	enum db_status st = application_get(req_db(r), r->arena, r->params[0], app);
	if (st == DB_NOT_FOUND) {
		reply_not_found(r);
		return false;
	}
	if (st != DB_OK) {
		reply_server_error(r, "application could not be read");
		return false;
	}
	struct policy_object o;
	application_policy_object(app, &o);
	if (!policy_allows(&r->actor, act, &o)) {
		reply_forbidden(r);
		return false;
	}
	return true;
}

/* The registrant's own application: its steps and withdrawal are shown. */
static bool own_application(struct request *r, const struct application *app)
{
	struct policy_object o;
	application_policy_object(app, &o);
	return policy_allows(&r->actor, ACT_APPLICATION_OWN, &o);
}

/* The printable form of an application (strings borrowed from app, the
 * date in arena). */
static void application_appform(const struct application *app, struct arena *a, struct appform *f)
{
	memset(f, 0, sizeof(*f));
	const char *const none = "";
#define S(v) ((v) ? (v) : none)
	f->personal = app->kind == KIND_EVALUATOR;
	f->kind = kind_name(app->kind);
	f->number = S(app->number);
	f->business_type = app_type_label(app->type);
	f->date = time_date(a, app->submitted_at);
	f->unit_name = S(app->reg_name);
	f->unit_code = S(app->reg_code);
	f->legal_rep = S(app->legal_rep);
	f->contact_name = S(app->contact_name);
	f->contact_id_number = S(app->contact_id_number);
	f->phone = S(app->phone);
	f->mobile = S(app->mobile);
	f->email = S(app->email);
	f->address = S(app->address);
	f->postcode = S(app->postcode);
	f->keys = app->sets;
	f->invoice_title = S(app->invoice_title);
	f->taxpayer_id = S(app->taxpayer_id);
	f->person_name = S(app->reg_name);
	f->id_type = "居民身份证";
	f->id_number = S(app->reg_code);
	f->work_unit = S(app->work_unit);
	f->department = S(app->department);
	f->amount_yuan = app->amount_yuan;
#undef S
}

void page_application(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_VIEW, &app))
		return;
	bool own = own_application(r, &app);
	unsigned facts = application_facts(&app);
	json_t *ctx = json_pack("{s:o, s:o, s:b}", "app", application_to_json(&app), "timeline",
	                        application_timeline_json(&app, r->arena), "own", own);
	json_object_set_new(ctx, "submitted_date",
	                    json_string(time_datetime(r->arena, app.submitted_at)));
	json_object_set_new(ctx, "can_withdraw",
	                    json_boolean(own && appstate_next(app.state, STEP_WITHDRAW,
	                                                      ROLE_APPLICANT, facts, NULL)));
	json_object_set_new(ctx, "is_returned", json_boolean(app.state == APP_RETURNED));
	json_object_set_new(ctx, "is_withdrawn", json_boolean(app.state == APP_WITHDRAWN));
	if (app.state == APP_WITHDRAWN && req_query(r, "withdrawn"))
		json_object_set_new(ctx, "notice",
		                    json_string("申请已撤销。无需付款，也无需邮寄申请材料。"));
	json_object_set_new(ctx, "has_scan", json_boolean(app.scan_id != 0));
	json_object_set_new(ctx, "public_url", json_string(r->srv->public_url));
	unlock_context(r, &app, ctx);
	render_page(r, 200, "application", "证书U盘申请", ctx);
}

void page_application_print(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_VIEW, &app))
		return;
	struct appform f;
	application_appform(&app, r->arena, &f);
	f.withdrawn = app.state == APP_WITHDRAWN;
	json_t *ctx = req_own_json(r, appform_to_json(&f));
	const char *n = app.number;
	bool own = own_application(r, &app);
	json_object_set_new(ctx, "back_url",
	                    json_string(arena_printf(r->arena, "/applications/%s", n)));
	json_object_set_new(ctx, "pdf_url",
	                    json_string(arena_printf(r->arena, "/applications/%s/form.pdf", n)));
	/* A withdrawn application has no next step: nothing to pay or post. */
	if (own && !f.withdrawn) {
		enum reg_kind k = app.kind;
		json_object_set_new(ctx, "steps", application_steps_json(k, "print"));
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
		r->status = 500;
		buf_puts(&r->body, "内部错误");
		return;
	}
	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	req_header(r, "Cache-Control", "no-store");
}

void page_application_pdf(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_VIEW, &app))
		return;
	struct appform f;
	application_appform(&app, r->arena, &f);
	f.withdrawn = app.state == APP_WITHDRAWN;
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
	           arena_printf(r->arena, "inline; filename=\"%s.pdf\"", app.number));
	req_header(r, "Cache-Control", "no-store");
}

void page_application_payment(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_VIEW, &app))
		return;
	enum reg_kind k = app.kind;
	struct ra_directory_entry e;
	enum db_status st = ra_directory_get(req_db(r), r->arena, app.province_code, &e);
	if (st != DB_OK && st != DB_NOT_FOUND) {
		reply_server_error(r, "RA directory could not be read");
		return;
	}
	json_t *ctx =
	    json_pack("{s:o, s:o, s:o, s:b, s:o}", "app", application_to_json(&app), "ra",
	              st == DB_OK ? ra_directory_entry_to_json(&e) : json_object(), "materials",
	              application_materials_json(k), "is_evaluator", k == KIND_EVALUATOR, "steps",
	              application_steps_json(k, k == KIND_EVALUATOR ? "submit" : "pay"));
	json_object_set_new(ctx, "delivery_days", json_integer(r->srv->limits.delivery_days));
	json_object_set_new(ctx, "is_authority", json_boolean(k == KIND_AUTHORITY));
	/* Nobody is asked to pay for, or post the materials of, a withdrawn
	 * application: the page says so and shows no amount nor account. */
	json_object_set_new(ctx, "is_withdrawn", json_boolean(app.state == APP_WITHDRAWN));
	render_page(r, 200, "payment", k == KIND_EVALUATOR ? "提交申请材料" : "支付及邮寄信息",
	            ctx);
}

void page_application_scan(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_VIEW, &app))
		return;
	reply_scan(r, app.scan_id);
}

/* 撤销此申请 asks first, saying what it means; the form posts the step. */
void page_application_withdraw_confirm(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_OWN, &app))
		return;
	if (!appstate_next(app.state, STEP_WITHDRAW, ROLE_APPLICANT, application_facts(&app),
	                   NULL)) {
		render_message(
		    r, 409, "不能撤销",
		    app.state == APP_WITHDRAWN
		        ? "该申请已经撤销。"
		        : "该申请已付款或已在办理中，不能撤销。如有疑问，请联系所在省的数字"
		          "证书注册机构。");
		return;
	}
	render_page(r, 200, "application_withdraw", "撤销证书U盘申请",
	            json_pack("{s:o}", "app", application_to_json(&app)));
}

void page_application_withdraw(struct request *r)
{
	struct application app;
	if (!application_for(r, ACT_APPLICATION_OWN, &app))
		return;
	enum db_status st = application_withdraw(req_db(r), &r->actor, app.number);
	if (st == DB_CONFLICT)
		render_message(r, 409, "不能撤销", "该申请已付款或已在办理中，不能撤销。");
	else if (st != DB_OK)
		reply_server_error(r, "withdraw failed");
	else
		redirect(r, arena_printf(r->arena, "/applications/%s?withdrawn=1", app.number));
}

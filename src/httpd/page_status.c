/* 查看初审状态: the registrant's own registration and what comes next. */
#include "httpd.h"
#include "esp/application.h"
#include "esp/directory.h"
#include "esp/certificate.h"

#include <stdlib.h>
#include <string.h>

#define DAY 86400

static int64_t ival(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? strtoll(v, NULL, 10) : 0;
}

/* Where one application is and what comes next, by the state machine; the
 * date its keys are due (the 20-day promise runs from the later of payment
 * and materials, materials alone for evaluators: as the RA counts it), and
 * once that date has passed, whom to call. */
static void describe(struct request *r, json_t *a, json_t *dir)
{
	enum app_state st = appstate_parse(json_string_value(json_object_get(a, "state")));
	unsigned facts = application_facts(a);
	json_object_set_new(a, "where", json_string(appstate_where(st, facts)));
	json_object_set_new(a, "what_next", json_string(appstate_what_next(st, facts)));
	json_object_set_new(a, "is_withdrawn", json_boolean(st == APP_WITHDRAWN));
	int days = r->srv->limits.delivery_days;
	int64_t paid = ival(a, "paid_at"), mats = ival(a, "materials_at");
	int64_t start =
	    (facts & APP_FACT_EVALUATOR) ? mats : (paid && mats ? (paid > mats ? paid : mats) : 0);
	json_object_set_new(a, "delivery_days", json_integer(days));
	if (!start && (st == APP_SUBMITTED || st == APP_PAID || st == APP_MATERIALS_RECEIVED)) {
		/* The promise, before its clock has started. */
		json_object_set_new(
		    a, "promise",
		    json_string(arena_printf(
		        r->arena,
		        (facts & APP_FACT_EVALUATOR)
		            ? "培训机构收到您的申请材料后%d日内，证书U盘可到培训机构领取。"
		            : "注册机构收到付款和申请材料后%d日内，证书U盘送达。",
		        days)));
		return;
	}
	if (!appstate_awaits_keys(st) || !start)
		return;
	int64_t due = start + (int64_t)days * DAY;
	json_object_set_new(a, "due_date", json_string(time_date(r->arena, due)));
	if (time_now() <= due)
		return;
	json_object_set_new(a, "overdue", json_true());
	const char *name = json_string_value(json_object_get(dir, "ra_name"));
	const char *phone = json_string_value(json_object_get(dir, "phone"));
	json_object_set_new(
	    a, "call",
	    json_string(name && *name && phone && *phone
	                    ? arena_printf(r->arena, "%s，联系电话 %s", name, phone)
	                    : "服务热线 400-700-1900（所在省的注册机构信息尚未配置）"));
}

/* Staff are sent to their own start page by the route (R_ELSE_HOME). */
void page_status(struct request *r)
{
	json_t *reg = registration_get(req_db(r), r->actor.registration_id);
	struct policy_object o;
	registration_policy_object(reg, &o);
	if (!reg || !policy_allows(&r->actor, ACT_REGISTRATION_VIEW, &o)) {
		json_decref(reg);
		reply_forbidden(r);
		return;
	}
	enum reg_state state = reg_state_parse(json_string_value(json_object_get(reg, "state")));
	json_t *ctx = json_pack("{s:o}", "reg", reg);
	json_object_set_new(ctx, "is_pending", json_boolean(state == REG_PENDING));
	json_object_set_new(ctx, "is_approved", json_boolean(state == REG_APPROVED));
	json_object_set_new(ctx, "is_rejected", json_boolean(state == REG_REJECTED));
	json_object_set_new(
	    ctx, "submitted_date",
	    json_string(time_datetime(
	        r->arena,
	        strtoll(json_string_value(json_object_get(reg, "created_at")), NULL, 10))));
	const char *reviewed = json_string_value(json_object_get(reg, "reviewed_at"));
	if (reviewed)
		json_object_set_new(
		    ctx, "reviewed_date",
		    json_string(time_datetime(r->arena, strtoll(reviewed, NULL, 10))));
	if (state == REG_APPROVED) {
		json_t *apps = application_list_for(req_db(r), r->actor.registration_id);
		json_t *dir = ra_directory_get(
		    req_db(r), json_string_value(json_object_get(reg, "province_code")));
		bool open_initial = false;
		size_t i;
		json_t *a;
		json_array_foreach(apps, i, a)
		{
			enum app_state st =
			    appstate_parse(json_string_value(json_object_get(a, "state")));
			const char *type = json_string_value(json_object_get(a, "type"));
			if (strcmp(type, "initial") == 0 && st != APP_WITHDRAWN)
				open_initial = true;
			const char *at = json_string_value(json_object_get(a, "submitted_at"));
			json_object_set_new(
			    a, "submitted_date",
			    json_string(time_datetime(r->arena, at ? strtoll(at, NULL, 10) : 0)));
			describe(r, a, dir);
		}
		json_decref(dir);
		json_object_set_new(ctx, "has_applications",
		                    json_boolean(json_array_size(apps) > 0));
		json_object_set_new(ctx, "applications", apps);
		/* An approved authority is the reviewer of what is filed under it. */
		if (kind_parse(json_string_value(json_object_get(reg, "kind"))) == KIND_AUTHORITY)
			json_object_set_new(ctx, "login_url",
			                    json_string(config_get(r->srv->cfg, "login_url")));
		if (!open_initial)
			json_object_set_new(ctx, "apply_url", json_string("/apply"));
		/* Every key lost or expired: no key to reach 再次申请 with, so it
		 * is offered here. */
		int issued = 0, good = 0;
		enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
		if (open_initial && kind_is_unit(k) &&
		    cert_counts(req_db(r), r->actor.registration_id, &issued, &good) == DB_OK &&
		    issued > 0 && good == 0)
			json_object_set_new(ctx, "reapply_url", json_string("/mgmt/reapply"));
	}
	/* The notices speak of a pending registration; after the decision the
	 * state says it all, even when the address still carries the flag. */
	if (req_query(r, "submitted") && state == REG_PENDING)
		json_object_set_new(ctx, "notice",
		                    json_string("报名信息已提交，请等待主管机关初审。"));
	if (req_query(r, "resubmitted") && state == REG_PENDING)
		json_object_set_new(
		    ctx, "notice", json_string("修改后的报名信息已重新提交，请等待主管机关初审。"));
	render_page(r, 200, "status", "查看初审状态", ctx);
}

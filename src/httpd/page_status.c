/* 查看初审状态: the registrant's own registration and what comes next. */
#include "httpd.h"
#include "esp/application.h"
#include "esp/certificate.h"
#include "esp/directory.h"
#include "record_json.h"
#include "registration_view.h"

#include <stdlib.h>
#include <string.h>

#define DAY 86400

/* Where one application is and what comes next, by the state machine; the
 * date its keys are due (the 20-day promise runs from the later of payment
 * and materials, materials alone for evaluators: as the RA counts it), and
 * once that date has passed, whom to call (dir: the RA of its province, or
 * NULL when none is configured). */
static void describe(struct request *r, json_t *a, const struct application *app,
                     const struct ra_directory_entry *dir)
{
	enum app_state st = app->state;
	unsigned facts = application_facts(app);
	json_object_set_new(a, "where", json_string(appstate_where(st, facts)));
	json_object_set_new(a, "what_next", json_string(appstate_what_next(st, facts)));
	json_object_set_new(a, "is_withdrawn", json_boolean(st == APP_WITHDRAWN));
	int days = r->srv->limits.delivery_days;
	int64_t paid = app->paid_at, mats = app->materials_at;
	int64_t start = (facts & APP_FACT_EVALUATOR) ? mats
	                : paid && mats               ? (paid > mats ? paid : mats)
	                                             : 0;
	json_object_set_new(a, "delivery_days", json_integer(days));
	/* The 20-day promise is about keys posted or handed out: not 更新 or 解锁. */
	if (facts & (APP_FACT_RENEWAL | APP_FACT_UNLOCK))
		return;
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
	const char *name = dir ? dir->field[DIR_RA_NAME] : NULL;
	const char *phone = dir ? dir->field[DIR_PHONE] : NULL;
	json_object_set_new(
	    a, "call",
	    json_string(name && *name && phone && *phone
	                    ? arena_printf(r->arena, "%s，联系电话 %s", name, phone)
	                    : "服务热线 400-700-1900（所在省的注册机构信息尚未配置）"));
}

/* Staff are sent to their own start page by the route (R_ELSE_HOME). */
void page_status(struct request *r)
{
	struct registration record;
	json_t *reg;
	enum db_status st = load_registration(r, r->actor.registration_id, &record, &reg);
	if (st != DB_OK && st != DB_NOT_FOUND) {
		reply_server_error(r, "registration could not be read");
		return;
	}
	struct policy_object o;
	registration_policy_object(st == DB_OK ? &record : NULL, &o);
	if (st != DB_OK || !policy_allows(&r->actor, ACT_REGISTRATION_VIEW, &o)) {
		reply_forbidden(r);
		return;
	}
	enum reg_state state = record.state;
	/* An approved registrant's applications, and where to apply if none is open. */
	json_t *applications = NULL;
	bool apply_url = false, reapply_url = false;
	if (state == REG_APPROVED) {
		struct application *list;
		size_t n;
		if (application_list_for(req_db(r), r->arena, r->actor.registration_id, &list,
		                         &n) != DB_OK) {
			reply_server_error(r, "applications could not be read");
			return;
		}
		struct ra_directory_entry dir;
		enum db_status ds =
		    ra_directory_get(req_db(r), r->arena, record.province_code, &dir);
		if (ds != DB_OK && ds != DB_NOT_FOUND) {
			reply_server_error(r, "RA directory could not be read");
			return;
		}
		json_t *apps = json_array();
		bool open_initial = false;
		for (size_t i = 0; i < n; i++) {
			if (list[i].type == APP_TYPE_INITIAL && list[i].state != APP_WITHDRAWN)
				open_initial = true;
			json_t *a = application_to_json(&list[i]);
			json_object_set_new(
			    a, "submitted_date",
			    json_string(time_datetime(r->arena, list[i].submitted_at)));
			describe(r, a, &list[i], ds == DB_OK ? &dir : NULL);
			json_array_append_new(apps, a);
		}
		applications = apps;
		apply_url = !open_initial;
		/* Every key lost or expired: no key to reach 再次申请 with, so it
		 * is offered here. */
		int issued = 0, good = 0;
		reapply_url =
		    open_initial && kind_is_unit(record.kind) &&
		    cert_counts(req_db(r), r->actor.registration_id, &issued, &good) == DB_OK &&
		    issued > 0 && good == 0;
	}
	json_t *ctx = json_pack("{s:O}", "reg", reg);
	json_object_set_new(ctx, "is_pending", json_boolean(state == REG_PENDING));
	json_object_set_new(ctx, "is_approved", json_boolean(state == REG_APPROVED));
	json_object_set_new(ctx, "is_rejected", json_boolean(state == REG_REJECTED));
	json_object_set_new(ctx, "submitted_date",
	                    json_string(time_datetime(r->arena, record.created_at)));
	if (record.reviewed_at)
		json_object_set_new(ctx, "reviewed_date",
		                    json_string(time_datetime(r->arena, record.reviewed_at)));
	if (applications) {
		json_object_set_new(ctx, "has_applications",
		                    json_boolean(json_array_size(applications) > 0));
		json_object_set_new(ctx, "applications", applications);
	}
	if (reapply_url)
		json_object_set_new(ctx, "reapply_url", json_string("/mgmt/reapply"));
	/* An approved authority is the reviewer of what is filed under it. */
	if (state == REG_APPROVED && record.kind == KIND_AUTHORITY)
		json_object_set_new(ctx, "login_url",
		                    json_string(config_get(r->srv->cfg, "login_url")));
	if (apply_url)
		json_object_set_new(ctx, "apply_url", json_string("/apply"));
	/* The notices speak of a pending registration; after the decision the
	 * state says it all, even when the address still carries the flag. */
	if (req_query(r, "submitted") && state == REG_PENDING)
		json_object_set_new(ctx, "notice",
		                    json_string("报名信息已提交，请等待主管机关初审。"));
	if (req_query(r, "resubmitted") && state == REG_PENDING)
		json_object_set_new(
		    ctx, "notice", json_string("修改后的报名信息已重新提交，请等待主管机关初审。"));
	/* Reached by 快捷导航 in a key session: it stays in the management layout. */
	if (r->actor.session_method && strcmp(r->actor.session_method, "password") != 0)
		json_object_set_new(ctx, "menu", mgmt_menu(r, "/status"));
	render_page(r, 200, "status", "查看初审状态", ctx);
}

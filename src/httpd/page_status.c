/* 查看初审状态: the registrant's own registration and what comes next. */
#include "httpd.h"
#include "esp/application.h"
#include "record_json.h"
#include "registration_view.h"

#include <stdlib.h>
#include <string.h>

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
	bool apply_url = false;
	if (state == REG_APPROVED) {
		struct application *list;
		size_t n;
		if (application_list_for(req_db(r), r->arena, r->actor.registration_id, &list,
		                         &n) != DB_OK) {
			reply_server_error(r, "applications could not be read");
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
			json_array_append_new(apps, a);
		}
		applications = apps;
		apply_url = !open_initial;
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
	if (applications)
		json_object_set_new(ctx, "applications", applications);
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

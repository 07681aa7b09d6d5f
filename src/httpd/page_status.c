/* 查看初审状态: the registrant's own registration and what comes next. */
#include "httpd.h"
#include "esp/application.h"

#include <stdlib.h>
#include <string.h>

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
		}
		json_object_set_new(ctx, "applications", apps);
		if (!open_initial)
			json_object_set_new(ctx, "apply_url", json_string("/apply"));
	}
	/* The notices speak of a pending registration; after the decision the
	 * state says it all, even when the address still carries the flag. */
	if (req_query(r, "submitted") && state == REG_PENDING)
		json_object_set_new(ctx, "notice",
		                    json_string("报名信息已提交，请等待主管机关初审。"));
	if (req_query(r, "resubmitted") && state == REG_PENDING)
		json_object_set_new(
		    ctx, "notice", json_string("修改后的报名信息已重新提交，请等待主管机关初审。"));
	json_object_set_new(ctx, "notices", notices_for(r, r->actor.registration_id));
	render_page(r, 200, "status", "查看初审状态", ctx);
}

/* 报名申请: the registration form of each kind, and its correction after 未通过. */
#include "httpd.h"
#include "throttle.h"

#include <stdlib.h>
#include <string.h>

static void show_form(struct request *r, int status, enum reg_kind k, json_t *values,
                      json_t *errors, bool editing, const char *notice)
{
	json_t *fields = registration_form(req_db(r), k, values, errors, editing);
	json_t *ctx = json_pack(
	    "{s:s, s:s, s:s, s:o, s:b, s:s}", "kind", kind_name(k), "kind_label", kind_label(k),
	    "apply_label", kind_apply_label(k), "fields", fields, "editing", editing, "action",
	    editing ? "/registration/edit" : arena_printf(r->arena, "/register/%s", kind_name(k)));
	if (json_object_size(errors) > 0)
		json_object_set_new(ctx, "has_errors",
		                    json_integer((json_int_t)json_object_size(errors)));
	if (notice)
		json_object_set_new(ctx, "notice", json_string(notice));
	render_page(r, status, "register", editing ? "修改报名信息" : kind_apply_label(k), ctx);
}

void page_register_get(struct request *r)
{
	enum reg_kind k = kind_parse(r->params[0]);
	if (k == KIND_NONE) {
		reply_not_found(r);
		return;
	}
	json_t *values = json_object();
	json_t *errors = json_object();
	show_form(r, 200, k, values, errors, false, NULL);
	json_decref(values);
	json_decref(errors);
}

void page_register_post(struct request *r)
{
	enum reg_kind k = kind_parse(r->params[0]);
	if (k == KIND_NONE) {
		reply_not_found(r);
		return;
	}
	db_conn *c = req_db(r);
	json_t *values = form_values(r);
	json_t *errors = registration_validate(c, &r->srv->limits, k, values, false, 0);
	/* A check the store could not answer (failing over, busy) is no error
	 * of the applicant's: "try again", not "choose another province". */
	if (db_store_busy()) {
		json_decref(values);
		json_decref(errors);
		reply_busy(r);
		return;
	}
	if (json_object_size(errors) == 0) {
		/* Anyone may register: one address may write only so many. Counted
		 * before the write and its password hash; a form sent back with
		 * errors writes nothing and does not count. */
		struct ratelimit_verdict slot;
		const char *key = arena_printf(r->arena, "register:addr:%s", throttle_client(r));
		int limit = throttle_config()->registrations_per_address_hour;
		if (!throttle_allow(r, key, limit, 3600, "同一网络地址提交报名过于频繁", false,
		                    &slot)) {
			json_decref(values);
			json_decref(errors);
			return;
		}
		int64_t reg_id = 0;
		const char *which = NULL;
		enum db_status st =
		    registration_submit(c, k, values, r->client_addr, &reg_id, &which);
		if (st != DB_OK)
			ratelimit_release(c, key, limit, &slot);
		if (st == DB_OK) {
			int64_t account_id = 0;
			account_by_registration(c, reg_id, &account_id);
			char *cookie = NULL;
			if (account_id &&
			    session_create(c, account_id, "password", NULL, r->srv->session_seconds,
			                   &cookie, NULL) == DB_OK) {
				set_session_cookie(r, arena_strdup(r->arena, cookie));
				free(cookie);
				redirect(r, "/status?submitted=1");
			} else {
				redirect(r, "/login?registered=1");
			}
			json_decref(values);
			json_decref(errors);
			return;
		}
		if (st != DB_CONFLICT) {
			json_decref(values);
			json_decref(errors);
			reply_server_error(r, "registration insert failed");
			return;
		}
		/* Lost a race with another registration of the same code or name. */
		json_object_set_new(errors,
		                    which && strcmp(which, "username") == 0 ? "username" : "code",
		                    json_string(which && strcmp(which, "username") == 0
		                                    ? "该用户名已被使用，请更换"
		                                    : "该代码已经报名，请勿重复报名"));
	}
	show_form(r, 422, k, values, errors, false, NULL);
	json_decref(values);
	json_decref(errors);
}

/* The registrant's own registration, loaded and checked through the policy. */
static json_t *own_registration(struct request *r, enum action act)
{
	json_t *reg = registration_get(req_db(r), r->actor.registration_id);
	struct policy_object o;
	registration_policy_object(reg, &o);
	if (!reg || !policy_allows(&r->actor, act, &o)) {
		json_decref(reg);
		return NULL;
	}
	return reg;
}

void page_registration_edit_get(struct request *r)
{
	json_t *reg = own_registration(r, ACT_REGISTRATION_EDIT);
	if (!reg) {
		reply_forbidden(r);
		return;
	}
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	json_t *errors = json_object();
	json_t *values = json_object();
	const char *key;
	json_t *v;
	json_object_foreach(reg, key, v)
	{
		if (json_is_string(v))
			json_object_set(values, key, v);
	}
	show_form(r, 200, k, values, errors, true,
	          json_string_value(json_object_get(reg, "reject_reason")));
	json_decref(values);
	json_decref(errors);
	json_decref(reg);
}

void page_registration_edit_post(struct request *r)
{
	json_t *reg = own_registration(r, ACT_REGISTRATION_EDIT);
	if (!reg) {
		reply_forbidden(r);
		return;
	}
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	json_t *values = form_values(r);
	json_t *errors = registration_validate(req_db(r), &r->srv->limits, k, values, true,
	                                       r->actor.registration_id);
	if (json_object_size(errors) == 0) {
		enum db_status st =
		    registration_resubmit(req_db(r), &r->actor, r->actor.registration_id, values);
		if (st == DB_OK) {
			redirect(r, "/status?resubmitted=1");
		} else if (st == DB_CONFLICT) {
			json_object_set_new(errors, "code",
			                    json_string("该代码已经报名，请勿重复报名"));
		} else {
			reply_server_error(r, "registration resubmit failed");
		}
	}
	if (json_object_size(errors) > 0)
		show_form(r, 422, k, values, errors, true,
		          json_string_value(json_object_get(reg, "reject_reason")));
	json_decref(values);
	json_decref(errors);
	json_decref(reg);
}

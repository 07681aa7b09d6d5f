/* 报名申请: the registration form of each kind, and its correction after 未通过. */
#include "esp/pwslot.h"
#include "httpd.h"
#include "registration_view.h"
#include "throttle.h"

#include <stdlib.h>
#include <string.h>

static void show_form(struct request *r, int status, enum reg_kind k, json_t *values,
                      const struct field_errors *errors, bool editing, const char *notice)
{
	json_t *fields = registration_form_json(req_db(r), k, values, errors, editing);
	json_t *ctx = json_pack(
	    "{s:s, s:s, s:s, s:o, s:b, s:s}", "kind", kind_name(k), "kind_label", kind_label(k),
	    "apply_label", kind_apply_label(k), "fields", fields, "editing", editing, "action",
	    editing ? "/registration/edit" : arena_printf(r->arena, "/register/%s", kind_name(k)));
	if (errors->n > 0)
		json_object_set_new(ctx, "has_errors", json_integer((json_int_t)errors->n));
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
	struct field_errors errors = {0};
	show_form(r, 200, k, req_own_json(r, json_object()), &errors, false, NULL);
}

void page_register_post(struct request *r)
{
	enum reg_kind k = kind_parse(r->params[0]);
	if (k == KIND_NONE) {
		reply_not_found(r);
		return;
	}
	db_conn *c = req_db(r);
	json_t *values = req_own_json(r, form_values(r));
	struct registration_input in;
	registration_input_from_json(values, &in);
	struct field_errors errors = {0};
	registration_validate(c, &r->srv->limits, k, &in, false, 0, r->arena, &errors);
	/* A check the store could not answer (failing over, busy) is no error
	 * of the applicant's: "try again", not "choose another province". */
	if (db_store_busy()) {
		reply_busy(r);
		return;
	}
	registration_input_to_json(k, &in, values);
	if (errors.n == 0) {
		/* Anyone may register: one address may write only so many. Counted
		 * before the write and its password hash; a form sent back with
		 * errors writes nothing and does not count. */
		struct ratelimit_verdict slot;
		const char *key = arena_printf(r->arena, "register:addr:%s", throttle_client(r));
		int limit = throttle_config()->registrations_per_address_hour;
		if (!throttle_allow(r, key, limit, 3600, "同一网络地址提交报名过于频繁", false,
		                    &slot))
			return;
		int64_t reg_id = 0;
		const char *which = NULL;
		/* Its password hash holds 64 MiB: only so many at once (pwslot.c),
		 * and the slot is held for the hash only, not for the write. */
		if (!pwslot_enter(true)) {
			ratelimit_release(c, key, limit, &slot);
			reply_hash_busy(r);
			return;
		}
		char *hash = password_hash(in.password ? in.password : "");
		pwslot_leave();
		enum db_status st =
		    registration_submit_hashed(c, k, &in, hash, r->client_addr, &reg_id, &which);
		free(hash);
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
			return;
		}
		if (st != DB_CONFLICT) {
			reply_server_error(r, "registration insert failed");
			return;
		}
		/* Lost a race with another registration of the same code or name. */
		bool username = which && strcmp(which, "username") == 0;
		field_error_set(&errors, username ? "username" : "code",
		                username ? "该用户名已被使用，请更换"
		                         : "该代码已经报名，请勿重复报名");
	}
	show_form(r, 422, k, values, &errors, false, NULL);
}

/* The registrant's own registration, loaded and checked through the policy
 * (its JSON owned by the request); false when answered (403, 500). */
static bool own_registration(struct request *r, enum action act, struct registration *reg,
                             json_t **json)
{
	enum db_status st = load_registration(r, r->actor.registration_id, reg, json);
	if (st != DB_OK && st != DB_NOT_FOUND) {
		reply_server_error(r, "registration could not be read");
		return false;
	}
	struct policy_object o;
	registration_policy_object(st == DB_OK ? reg : NULL, &o);
	if (st != DB_OK || !policy_allows(&r->actor, act, &o)) {
		reply_forbidden(r);
		return false;
	}
	return true;
}

void page_registration_edit_get(struct request *r)
{
	struct registration reg;
	json_t *json;
	if (!own_registration(r, ACT_REGISTRATION_EDIT, &reg, &json))
		return;
	json_t *values = req_own_json(r, json_object());
	const char *key;
	json_t *v;
	json_object_foreach(json, key, v)
	{
		if (json_is_string(v))
			json_object_set(values, key, v);
	}
	struct field_errors errors = {0};
	show_form(r, 200, reg.kind, values, &errors, true, reg.reject_reason);
}

void page_registration_edit_post(struct request *r)
{
	struct registration reg;
	if (!own_registration(r, ACT_REGISTRATION_EDIT, &reg, NULL))
		return;
	enum reg_kind k = reg.kind;
	json_t *values = req_own_json(r, form_values(r));
	struct registration_input in;
	registration_input_from_json(values, &in);
	struct field_errors errors = {0};
	registration_validate(req_db(r), &r->srv->limits, k, &in, true, r->actor.registration_id,
	                      r->arena, &errors);
	registration_input_to_json(k, &in, values);
	if (errors.n == 0) {
		enum db_status st =
		    registration_resubmit(req_db(r), &r->actor, r->actor.registration_id, &in);
		if (st == DB_OK) {
			redirect(r, "/status?resubmitted=1");
		} else if (st == DB_CONFLICT) {
			field_error_set(&errors, "code", "该代码已经报名，请勿重复报名");
		} else {
			reply_server_error(r, "registration resubmit failed");
		}
	}
	if (errors.n > 0)
		show_form(r, 422, k, values, &errors, true, reg.reject_reason);
}

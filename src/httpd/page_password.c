/* 修改密码: every account with a password changes it here; an account whose
 * password an administrator reset is sent here first (server.c). */
#include "httpd.h"

#include <string.h>

static void show_password(struct request *r, int status, json_t *errors)
{
	json_t *ctx = json_pack("{s:s, s:b, s:i}", "username", r->actor.username, "must_change",
	                        r->actor.must_change_password, "min_length",
	                        r->srv->limits.password_min_length);
	if (errors && json_object_size(errors)) {
		json_object_set(ctx, "errors", errors);
		json_object_set_new(ctx, "has_errors", json_true());
	}
	render_page(r, status, "password", "修改密码", ctx);
}

void page_password_get(struct request *r)
{
	if (redirect_password_page_to_https(r))
		return;
	show_password(r, 200, NULL);
}

void page_password_post(struct request *r)
{
	if (redirect_password_page_to_https(r))
		return;
	const char *current = req_form(r, "current_password");
	const char *next = req_form(r, "new_password");
	const char *next2 = req_form(r, "new_password2");
	json_t *errors = json_object();
	if (str_empty(current))
		json_object_set_new(errors, "current_password", json_string("请输入当前密码"));
	if (str_empty(next))
		json_object_set_new(errors, "new_password", json_string("请输入新密码"));
	else if (!next2 || strcmp(next, next2) != 0)
		json_object_set_new(errors, "new_password2", json_string("两次输入的新密码不一致"));
	if (json_object_size(errors)) {
		show_password(r, 422, errors);
		json_decref(errors);
		return;
	}
	const char *why = NULL;
	enum password_change_result res =
	    account_password_change(req_db(r), r->arena, &r->srv->limits, &r->actor, current, next,
	                            r->session_cookie, &why);
	switch (res) {
	case PWCHANGE_OK:
		break;
	case PWCHANGE_WRONG_CURRENT:
		json_object_set_new(errors, "current_password", json_string("当前密码不正确"));
		break;
	case PWCHANGE_WEAK:
		json_object_set_new(errors, "new_password", json_string(why));
		break;
	case PWCHANGE_SAME:
		json_object_set_new(errors, "new_password",
		                    json_string("新密码不能与当前密码相同"));
		break;
	case PWCHANGE_NO_PASSWORD:
		json_decref(errors);
		render_message(
		    r, 409, "修改密码",
		    "该账户没有设置密码，只能使用证书U盘登录。如需密码，请联系系统管理员。");
		return;
	case PWCHANGE_ERROR:
		json_decref(errors);
		reply_server_error(r, "password change failed");
		return;
	}
	if (res != PWCHANGE_OK) {
		show_password(r, 422, errors);
		json_decref(errors);
		return;
	}
	json_decref(errors);
	r->actor.must_change_password = false;
	render_page(r, 200, "password_done", "密码已修改", json_object());
}

/* Password login, logout and the landing page after login. */
#include "httpd.h"

#include "throttle.h"

#include <stdlib.h>
#include <string.h>

static void show_login(struct request *r, int status, const char *error, const char *username,
                       const char *portal)
{
	json_t *ctx = json_object();
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	json_object_set_new(ctx, "username", json_string(username ? username : ""));
	enum reg_kind k = kind_parse(portal);
	const char *as = req_query(r, "as");
	if (as && strcmp(as, "ra") == 0)
		json_object_set_new(ctx, "portal_label", json_string("注册机构登录"));
	else if (as && strcmp(as, "trainer") == 0)
		json_object_set_new(ctx, "portal_label", json_string("培训机构登录"));
	else if (as && strcmp(as, "reviewer") == 0)
		json_object_set_new(ctx, "portal_label", json_string("主管机关初审人员登录"));
	if (k != KIND_NONE) {
		json_object_set_new(ctx, "portal", json_string(kind_name(k)));
		json_object_set_new(ctx, "portal_label", json_string(kind_portal_label(k)));
		json_object_set_new(ctx, "apply_label", json_string(kind_apply_label(k)));
	}
	if (req_query(r, "registered"))
		json_object_set_new(ctx, "notice",
		                    json_string("报名信息已提交，请登录查看审批状态。"));
	if (req_query(r, "expired"))
		json_object_set_new(ctx, "notice", json_string("请先登录。"));
	render_page(r, status, "login", "用户登录", ctx);
}

void page_login_get(struct request *r)
{
	if (redirect_password_page_to_https(r))
		return;
	show_login(r, 200, NULL, NULL, req_query(r, "portal"));
}

static const char *landing_for(enum role role)
{
	const char *home = role_home(role);
	return home ? home : "/home";
}

void page_login_post(struct request *r)
{
	if (redirect_password_page_to_https(r))
		return;
	const char *user = req_form(r, "username");
	const char *pass = req_form(r, "password");
	const char *portal = req_form(r, "portal");
	if (str_empty(user) || str_empty(pass)) {
		show_login(r, 422, "请输入用户名和密码。", user, portal);
		return;
	}
	if (strlen(user) > 64 || strlen(pass) > 256) {
		show_login(r, 422, "用户名或密码错误。", NULL, portal);
		return;
	}
	int64_t id = 0, retry_after = 0;
	db_conn *c = req_db(r);
	struct login_limits limits = throttle_login_limits(r);
	enum login_result res = account_login(c, &limits, throttle_client(r), user, pass,
	                                      r->srv->staff_password_login, &id, &retry_after);
	const char *wait = throttle_wait_text(r, retry_after);
	if (retry_after > 0)
		req_header(r, "Retry-After",
		           arena_printf(r->arena, "%lld", (long long)retry_after));
	switch (res) {
	case LOGIN_OK:
		break;
	case LOGIN_BAD:
		show_login(r, 401, "用户名或密码错误。", user, portal);
		return;
	case LOGIN_LOCKED:
		show_login(
		    r, 429,
		    arena_printf(r->arena, "登录失败次数过多，账户已锁定，请%s后再试。", wait),
		    user, portal);
		return;
	case LOGIN_ADDRESS_THROTTLED:
		show_login(
		    r, 429,
		    arena_printf(r->arena, "您所在网络地址的登录尝试过于频繁，请%s后再试。", wait),
		    user, portal);
		return;
	case LOGIN_BUSY:
		show_login(r, 503, arena_printf(r->arena, "系统繁忙，请%s后再试。", wait), user,
		           portal);
		return;
	case LOGIN_DISABLED:
		show_login(r, 403, "该账户已停用，请联系系统管理员。", user, portal);
		return;
	case LOGIN_STAFF_NEEDS_CERT:
		show_login(r, 403, "工作人员请使用证书U盘登录。", user, portal);
		return;
	case LOGIN_ERROR:
		reply_server_error(r, "login query failed");
		return;
	}
	/* A new session id at every login: a planted cookie never becomes a session. */
	session_destroy(c, req_cookie(r, "esp_session"));
	char *cookie = NULL;
	if (session_create(c, id, "password", NULL, r->srv->session_seconds, &cookie, NULL) !=
	    DB_OK) {
		reply_server_error(r, "session create failed");
		return;
	}
	set_session_cookie(r, arena_strdup(r->arena, cookie));
	free(cookie);
	/* The session stands; a role the store cannot tell lands on the default page. */
	enum role role = ROLE_NONE;
	account_role(c, id, &role);
	redirect(r, landing_for(role));
}

void page_logout(struct request *r)
{
	session_destroy(req_db(r), r->session_cookie);
	set_session_cookie(r, NULL);
	/* Not "/": on the certificate-login listener that logs straight back in
	 * with the key still plugged in. */
	redirect(r, "/logged-out");
}

/* Says that the user is logged out and how to log in again; it never logs
 * in by itself. */
void page_logged_out(struct request *r)
{
	bool key = r->listener == LISTEN_LOGIN;
	render_page(r, 200, "logged_out", "已退出登录",
	            json_pack("{s:b, s:s}", "key_listener", key, "login_url",
	                      config_get(r->srv->cfg, "login_url")));
}

/* /home: each role starts on its own page; the admin's is this one. */
void page_home_after_login(struct request *r)
{
	const char *home = role_home(r->actor.role);
	if (home) {
		redirect(r, home);
		return;
	}
	render_page(r, 200, "staff_home", "管理首页",
	            json_pack("{s:s, s:b}", "role_label", role_label(r->actor.role), "is_admin",
	                      policy_allows(&r->actor, ACT_ADMIN, NULL)));
}

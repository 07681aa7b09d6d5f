/*
 * The management system after a certificate login: the left menu 快捷导航 as
 * the manual shows it for each role, 当前用户信息 with the holder's keys,
 * 再次申请登录认证U盘 and 挂失.
 */
#include "httpd.h"
#include "esp/certificate.h"
#include "record_json.h"
#include "registration_view.h"
#include "esp/revoke.h"

#include <stdlib.h>
#include <string.h>

/* The kind of the actor's registration (KIND_NONE for none, or when it
 * cannot be read) and, when reg_out is not NULL, its JSON (owned by the
 * request) or NULL. */
static enum reg_kind actor_kind(struct request *r, json_t **reg_out)
{
	if (!reg_out && r->actor_reg_kind)
		return (enum reg_kind)(r->actor_reg_kind - 2);
	struct registration reg;
	json_t *json = NULL;
	enum db_status st =
	    r->actor.registration_id
	        ? load_registration(r, r->actor.registration_id, &reg, reg_out ? &json : NULL)
	        : DB_NOT_FOUND;
	if (reg_out)
		*reg_out = json;
	enum reg_kind k = st == DB_OK ? reg.kind : KIND_NONE;
	r->actor_reg_kind = (int)k + 2;
	return k;
}

static json_t *item(const char *label, const char *href, const char *current)
{
	return json_pack("{s:s, s:s, s:b}", "label", label, "href", href, "current",
	                 current && strcmp(current, href) == 0);
}

/* 快捷导航: only entries that work for this actor, as the policy says of
 * the routes they lead to. */
json_t *mgmt_menu(struct request *r, const char *current)
{
	json_t *groups = json_array();
	json_t *items;
	const struct actor *a = &r->actor;
	if (policy_allows(a, ACT_REGISTRANT, NULL)) {
		enum reg_kind k = actor_kind(r, NULL);
		const char *group = k == KIND_AUTHORITY   ? "系统管理"
		                    : k == KIND_EVALUATOR ? NULL
		                                          : "其他";
		items = json_array();
		json_array_append_new(items, item("当前用户信息", "/mgmt/user", current));
		json_array_append_new(groups,
		                      json_pack("{s:s?, s:o}", "group", group, "items", items));
		items = json_array();
		json_array_append_new(items, item("证书U盘申请进度", "/status", current));
		json_array_append_new(items, item("证书U盘驱动", "/drivers", current));
		json_array_append_new(groups,
		                      json_pack("{s:s, s:o}", "group", "证书U盘", "items", items));
		/* An approved authority, signed in with its key, reviews its own. */
		if (policy_allows(a, ACT_REVIEW_QUEUE, NULL)) {
			items = json_array();
			json_array_append_new(items, item("报名初审", "/review", current));
			json_array_append_new(
			    groups, json_pack("{s:s, s:o}", "group", "初审", "items", items));
		}
	} else if (policy_allows(a, ACT_REVIEW_QUEUE, NULL)) {
		items = json_array();
		json_array_append_new(items, item("报名初审", "/review", current));
		json_array_append_new(groups,
		                      json_pack("{s:s, s:o}", "group", "初审", "items", items));
	} else if (policy_allows(a, ACT_ADMIN, NULL)) {
		items = json_array();
		json_array_append_new(items, item("注册机构通讯录", "/admin/directory", current));
		json_array_append_new(items, item("收费标准", "/admin/fees", current));
		json_array_append_new(items, item("工作人员账户", "/admin/staff", current));
		json_array_append_new(items, item("证书U盘驱动管理", "/admin/drivers", current));
		json_array_append_new(items, item("全部证书U盘申请", "/ra/queue", current));
		json_array_append_new(groups,
		                      json_pack("{s:s, s:o}", "group", "系统管理", "items", items));
	} else if (policy_allows(a, ACT_OPERATOR, NULL)) {
		/* The RA holds API tokens; the trainer does not. */
		bool ra = policy_allows(a, ACT_API_TOKENS, NULL);
		items = json_array();
		json_array_append_new(items,
		                      item(ra ? "注册机构首页" : "培训机构首页", "/ra", current));
		json_array_append_new(items, item("申请办理列表", "/ra/queue", current));
		if (ra)
			json_array_append_new(items,
			                      item("制证工作站API令牌", "/ra/tokens", current));
		json_array_append_new(groups,
		                      json_pack("{s:s, s:o}", "group", "证书办理", "items", items));
	}
	return groups;
}

/* Holders reach the management system with their key (ACT_MGMT, asked by
 * dispatch for the R_HOLDER routes); a password session of an applicant
 * only sees the application pages. */
void reply_needs_key(struct request *r)
{
	render_page(r, 403, "cert_refused", "请使用证书U盘登录",
	            json_pack("{s:s, s:s, s:b, s:s}", "title", "请使用证书U盘登录", "message",
	                      "管理系统需要插入证书U盘登录。请插入证书U盘后打开证书U盘登录页面。",
	                      "no_cert", 1, "login_url", config_get(r->srv->cfg, "login_url")));
}

static void render_mgmt(struct request *r, int status, const char *tpl, const char *title,
                        const char *current, json_t *ctx)
{
	json_object_set_new(ctx, "menu", mgmt_menu(r, current));
	json_object_set_new(ctx, "inner_template", json_string(tpl));
	render_page(r, status, tpl, title, ctx);
}

void page_mgmt_home(struct request *r)
{
	json_t *ctx = json_pack(
	    "{s:s, s:s}", "role_label", role_label(r->actor.role), "method",
	    r->actor.session_method && strcmp(r->actor.session_method, "password") != 0 ? "证书U盘"
	                                                                                : "密码");
	if (r->actor.registration_id)
		json_object_set_new(ctx, "notices", notices_for(r, r->actor.registration_id));
	render_mgmt(r, 200, "mgmt_home", "交通运输企业安全生产标准化管理系统", "/mgmt", ctx);
}

void page_mgmt_user(struct request *r)
{
	/* Staff see their account; a holder, the registration and its keys. */
	if (!policy_allows(&r->actor, ACT_REGISTRANT, NULL)) {
		json_t *ctx =
		    json_pack("{s:s, s:s, s:s, s:s}", "username", r->actor.username, "display_name",
		              r->actor.display_name ? r->actor.display_name : "", "role_label",
		              role_label(r->actor.role), "org",
		              r->actor.authority_name ? r->actor.authority_name : "");
		render_mgmt(r, 200, "mgmt_user", "当前用户信息", "/mgmt/user", ctx);
		return;
	}
	json_t *reg = NULL;
	enum reg_kind k = actor_kind(r, &reg);
	if (!reg) {
		reply_forbidden(r);
		return;
	}
	struct certificate *list;
	size_t n;
	if (cert_list_of_registration(req_db(r), r->arena, r->actor.registration_id, &list, &n) !=
	    DB_OK) {
		reply_server_error(r, "certificates could not be read");
		return;
	}
	json_t *rows = registration_rows_json(k, reg);
	json_t *certs = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *f = cert_to_json(&list[i], r->srv->limits.expiry_warning_days, r->arena);
		json_object_set_new(
		    f, "current",
		    json_boolean(r->actor.cert_serial &&
		                 strcmp(list[i].serial, r->actor.cert_serial) == 0));
		json_array_append_new(certs, f);
	}
	json_t *ctx = json_pack("{s:O, s:o, s:o, s:b, s:i}", "reg", reg, "rows", rows, "certs",
	                        certs, "is_unit", kind_is_unit(k), "warning_days",
	                        r->srv->limits.expiry_warning_days);
	if (req_query(r, "lost"))
		json_object_set_new(ctx, "notice",
		                    json_string("证书已挂失，该证书U盘已不能再登录。"));
	renewal_context(r, ctx);
	replace_context(r, ctx);
	render_mgmt(r, 200, "mgmt_user", "当前用户信息", "/mgmt/user", ctx);
}

/* ---- 挂失 ---- */

/* The certificate of the route, if the actor may report it lost; false =
 * answered (403, 500). */
static bool own_cert(struct request *r, struct certificate *cert)
{
	enum db_status st = cert_get(req_db(r), r->arena, r->params[0], cert);
	struct policy_object o;
	cert_policy_object(st == DB_OK ? cert : NULL, &o);
	if (st != DB_OK && st != DB_NOT_FOUND) {
		reply_server_error(r, "certificate could not be read");
		return false;
	}
	if (st != DB_OK || !policy_allows(&r->actor, ACT_CERT_REVOKE, &o)) {
		reply_forbidden(r);
		return false;
	}
	return true;
}

/* How many of its unit's keys are still good (valid, not expired) when the
 * certificate is the actor's own unit's; -1 when staff (the RA, the admin)
 * act on it: the warnings and the advice are the holder's. */
static int own_good_keys(struct request *r, const struct certificate *cert)
{
	int issued = 0, good = 0;
	if (!cert->registration_id || cert->registration_id != r->actor.registration_id ||
	    cert_counts(req_db(r), r->actor.registration_id, &issued, &good) != DB_OK)
		return -1;
	return good;
}

static bool is_session_key(struct request *r, const char *serial)
{
	return r->actor.cert_serial && serial && strcmp(r->actor.cert_serial, serial) == 0;
}

/* After the last key is lost the unit logs in with its password at the
 * portal and applies there (再次申请 then needs no key). */
#define APPLY_AGAIN_HOW                                                                                                              \
	"如需新的证书U盘，请在证书U盘申请网站用用户名和密码登录，在【查看初审状态】页面点击" \
	"【再次申请登录认证U盘】重新申请。"

void page_mgmt_lost_get(struct request *r)
{
	struct certificate cert;
	if (!own_cert(r, &cert))
		return;
	bool current = is_session_key(r, cert.serial);
	bool last = !cert.revoked && own_good_keys(r, &cert) == 1;
	json_t *ctx = json_pack("{s:o, s:b, s:b}", "cert", cert_to_json(&cert, 0, r->arena),
	                        "is_current", current, "is_last", last);
	if (last)
		json_object_set_new(ctx, "apply_again", json_string(APPLY_AGAIN_HOW));
	render_mgmt(r, 200, "mgmt_lost", "证书U盘挂失", "/mgmt/user", ctx);
}

void page_mgmt_lost_post(struct request *r)
{
	struct certificate cert;
	if (!own_cert(r, &cert))
		return;
	enum db_status st = cert_revoke(req_db(r), r->srv->ca, &r->actor, r->params[0], 1,
	                                (int)config_get_long(r->srv->cfg, "crl_hours"));
	bool own_session = is_session_key(r, r->params[0]);
	/* Counted after the revocation: none left means no key to log in with. */
	bool none_left = st == DB_OK && own_good_keys(r, &cert) == 0;
	if (st == DB_CONFLICT) {
		render_message(r, 409, "证书已吊销", "该证书已经挂失或吊销。");
	} else if (st != DB_OK) {
		reply_server_error(r, "revoke failed");
	} else if (own_session || none_left) {
		/* The key of this very session: it ends now. */
		if (own_session) {
			session_destroy(req_db(r), r->session_cookie);
			set_session_cookie(r, NULL);
			r->logged_in = false;
		}
		render_page(r, 200, "mgmt_lost_done", "证书已挂失",
		            json_pack("{s:b, s:b, s:s}", "own_session", own_session, "none_left",
		                      none_left, "apply_again", APPLY_AGAIN_HOW));
	} else {
		redirect(r, "/mgmt/user?lost=1");
	}
}

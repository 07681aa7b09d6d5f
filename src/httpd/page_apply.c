/*
 * 登录认证U盘申请: the wizard. Agencies and enterprises first upload the scan
 * of their 组织机构代码证（副本）; then the form, 【下一步】 to a read-only
 * confirmation, 【确定】 to commit or 【取消】 back to the form with every
 * value kept. Each form carries an idempotency key so that a double click,
 * a reload or the back button never makes a second application.
 */
#include "httpd.h"
#include "esp/certificate.h"
#include "esp/application.h"
#include "application_view.h"
#include "record_json.h"
#include "registration_view.h"
#include "throttle.h"
#include "esp/upload.h"

#include <stdlib.h>
#include <string.h>

/* The registrant's own registration, if the policy lets it apply (the
 * route lets only registrants in); the request owns it. */
static json_t *registration_for_apply(struct request *r)
{
	struct registration record;
	json_t *reg;
	enum db_status st = load_registration(r, r->actor.registration_id, &record, &reg);
	if (st != DB_OK && st != DB_NOT_FOUND) {
		reply_server_error(r, "registration could not be read");
		return NULL;
	}
	struct policy_object o;
	registration_policy_object(st == DB_OK ? &record : NULL, &o);
	if (st != DB_OK || !policy_allows(&r->actor, ACT_APPLICATION_CREATE, &o)) {
		render_message(r, 403, "暂不能申请证书U盘",
		               "报名信息通过主管机关初审后，才能申请证书U盘。");
		return NULL;
	}
	return reg;
}

static bool needs_scan(enum reg_kind k)
{
	return k == KIND_AGENCY || k == KIND_ENTERPRISE;
}

/* The open initial application, if any (*number in the request's arena,
 * NULL when none): a registrant applies once; more keys are asked for with
 * 再次申请 after logging in with a key.  False when answered (the store
 * failed: a 500, not a second application's form). */
static bool open_initial_application(struct request *r, const char **number)
{
	char *n = NULL;
	enum db_status st = application_open_initial(req_db(r), r->actor.registration_id, &n);
	*number = n ? arena_strdup(r->arena, n) : NULL;
	free(n);
	if (st == DB_OK)
		return true;
	reply_server_error(r, "initial application could not be read");
	return false;
}

static void show_scan(struct request *r, int status, enum reg_kind k, const char *error)
{
	json_t *ctx = json_pack("{s:o, s:i}", "steps", application_steps_json(k, "scan"), "max_mb",
	                        (int)(r->srv->limits.scan_max_bytes / (1024 * 1024)));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	render_page(r, status, "apply_scan", "准备证书U盘申请材料", ctx);
}

/* The same form serves the first application and 再次申请 (additional). */
static bool additional(struct request *r)
{
	return strncmp(r->path, "/mgmt/", 6) == 0;
}

static void form_context(struct request *r, json_t *ctx)
{
	bool again = additional(r);
	json_object_set_new(ctx, "action_url",
	                    json_string(again ? "/mgmt/reapply" : "/apply/form"));
	json_object_set_new(ctx, "back_url", json_string(again ? "/mgmt/user" : "/status"));
	json_object_set_new(ctx, "additional", json_boolean(again));
	if (again)
		json_object_set_new(ctx, "menu", mgmt_menu(r, "/mgmt/user"));
}

static void show_form(struct request *r, int status, enum reg_kind k, json_t *reg, json_t *values,
                      const struct field_errors *errors, const char *idem, int64_t scan_id)
{
	json_t *ctx =
	    json_pack("{s:o, s:o, s:s, s:I, s:b, s:O}", "steps", application_steps_json(k, "form"),
	              "fields", application_form_json(k, values, errors), "idem", idem, "scan_id",
	              (json_int_t)scan_id, "is_unit", kind_is_unit(k), "reg", reg);
	form_context(r, ctx);
	if (errors->n)
		json_object_set_new(ctx, "has_errors", json_integer((json_int_t)errors->n));
	render_page(r, status, "apply_form",
	            additional(r) ? "再次申请登录认证U盘" : "填写证书U盘申请信息", ctx);
}

void page_apply(struct request *r)
{
	json_t *reg = registration_for_apply(r);
	if (!reg)
		return;
	const char *existing = NULL;
	if (!open_initial_application(r, &existing))
		return;
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	if (existing)
		redirect(r, arena_printf(r->arena, "/applications/%s", existing));
	else if (needs_scan(k))
		show_scan(r, 200, k, NULL);
	else
		redirect(r, "/apply/form");
}

void page_apply_scan_post(struct request *r)
{
	json_t *reg = registration_for_apply(r);
	if (!reg)
		return;
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	if (!needs_scan(k)) {
		redirect(r, "/apply/form");
		return;
	}
	const struct form_field *f = req_file(r, "scan");
	if (!f || f->value.len == 0) {
		show_scan(r, 422, k, "请选择要上传的扫描件（PDF、JPEG或PNG格式）。");
		return;
	}
	if ((long)f->value.len > r->srv->limits.scan_max_bytes) {
		show_scan(r, 413, k, "扫描件不能超过10MB，请压缩后重新上传。");
		return;
	}
	/* The type is what the content is, whatever the name or the browser says. */
	const char *mime = upload_sniff(f->value.data, f->value.len);
	if (!mime) {
		show_scan(r, 422, k, "文件格式不正确：扫描件只能是PDF、JPEG或PNG格式的文件。");
		return;
	}
	/* Every upload is a row of up to 10 MB: one account writes only so
	 * many a minute (ones no application takes are deleted after a day). */
	if (!throttle_allow(
	        r, arena_printf(r->arena, "scan:account:%lld", (long long)r->actor.account_id),
	        throttle_config()->scans_per_account_minute, 60, "上传扫描件过于频繁", false, NULL))
		return;
	int64_t id = 0;
	if (upload_store(req_db(r), r->actor.registration_id, f->value.data, f->value.len, mime,
	                 &id) != DB_OK) {
		reply_server_error(r, "upload store failed");
		return;
	}
	redirect(r, arena_printf(r->arena, "/apply/form?scan=%lld", (long long)id));
}

/* The scan named by the form must be the registrant's own: *scan gets its
 * id, 0 for none, -1 for one that is not theirs.  False when answered (the
 * store failed). */
static bool own_scan(struct request *r, const char *s, int64_t *scan)
{
	*scan = 0;
	if (!s || !*s || strcmp(s, "0") == 0)
		return true;
	char *end;
	long long id = strtoll(s, &end, 10);
	*scan = -1;
	if (*end || id <= 0)
		return true;
	int64_t owner = 0;
	enum db_status st = upload_owner(req_db(r), id, &owner);
	if (st != DB_OK && st != DB_NOT_FOUND) {
		reply_server_error(r, "upload could not be read");
		return false;
	}
	if (st == DB_OK && owner == r->actor.registration_id)
		*scan = id;
	return true;
}

void page_apply_form_get(struct request *r)
{
	json_t *reg = registration_for_apply(r);
	if (!reg)
		return;
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	const char *existing = NULL;
	if (!open_initial_application(r, &existing))
		return;
	int64_t scan;
	if (!own_scan(r, req_query(r, "scan"), &scan))
		return;
	if (existing) {
		redirect(r, arena_printf(r->arena, "/applications/%s", existing));
	} else if (needs_scan(k) && scan <= 0) {
		redirect(r, "/apply");
	} else {
		json_t *values = req_own_json(r, application_defaults_json(reg));
		struct field_errors errors = {0};
		char *idem = random_token(18);
		show_form(r, 200, k, reg, values, &errors, idem, scan);
		free(idem);
	}
}

static bool idem_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 16 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

static void handle_form_post(struct request *r, json_t *reg);

void page_apply_form_post(struct request *r)
{
	json_t *reg = registration_for_apply(r);
	if (!reg)
		return;
	handle_form_post(r, reg);
}

/* 再次申请: units logged in with a key apply for more keys. The unit's name
 * and code come from the registration only: whatever the form sends for
 * them is ignored. */
static json_t *registration_for_reapply(struct request *r)
{
	json_t *reg = registration_for_apply(r);
	if (!reg)
		return NULL;
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	bool with_key = r->actor.session_method && strcmp(r->actor.session_method, "password") != 0;
	/* A unit whose every key is lost or expired has none to log in with:
	 * it applies again from its password session. */
	int issued = 0, good = 0;
	if (!with_key && kind_is_unit(k) &&
	    cert_counts(req_db(r), r->actor.registration_id, &issued, &good) == DB_OK)
		with_key = issued > 0 && good == 0;
	if (!kind_is_unit(k) || !with_key) {
		render_message(r, 403, "不能再次申请",
		               kind_is_unit(k) ? "请使用已有的证书U盘登录后再次申请登录认证U盘。"
		                               : "考评员每人一个证书U盘，不能再次申请。");
		return NULL;
	}
	return reg;
}

/* The scan of the first application stays the unit's document on file:
 * *id gets it (0 for none).  False when answered (the store failed). */
static bool latest_scan(struct request *r, int64_t *id)
{
	enum db_status st = application_latest_scan(req_db(r), r->actor.registration_id, id);
	if (st == DB_OK || st == DB_NOT_FOUND)
		return true;
	reply_server_error(r, "latest scan could not be read");
	return false;
}

void page_mgmt_reapply_get(struct request *r)
{
	json_t *reg = registration_for_reapply(r);
	if (!reg)
		return;
	int64_t scan = 0;
	if (!latest_scan(r, &scan))
		return;
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	/* The first application's data, as the manual says; the number of keys
	 * is entered anew. */
	struct application *apps;
	size_t n;
	if (application_list_for(req_db(r), r->arena, r->actor.registration_id, &apps, &n) !=
	    DB_OK) {
		reply_server_error(r, "applications could not be read");
		return;
	}
	json_t *values =
	    req_own_json(r, n ? application_to_json(&apps[n - 1]) : application_defaults_json(reg));
	json_object_set_new(values, "sets", json_string(""));
	struct field_errors errors = {0};
	char *idem = random_token(18);
	show_form(r, 200, k, reg, values, &errors, idem, scan);
	free(idem);
}

void page_mgmt_reapply_post(struct request *r)
{
	json_t *reg = registration_for_reapply(r);
	if (!reg)
		return;
	handle_form_post(r, reg);
}

static void handle_form_post(struct request *r, json_t *reg)
{
	enum reg_kind k = kind_parse(json_string_value(json_object_get(reg, "kind")));
	const char *action = req_form(r, "action");
	const char *idem = req_form(r, "idem");
	int64_t scan;
	if (!own_scan(r, req_form(r, "scan_id"), &scan))
		return;
	if (!idem_ok(idem) || scan < 0 || (needs_scan(k) && scan == 0 && !additional(r))) {
		render_message(r, 400, "申请表单无效", "申请表单已失效，请重新开始申请。");
		return;
	}
	json_t *values = req_own_json(r, form_values(r));
	struct application_input in;
	application_input_from_json(k, values, &in);
	if (k == KIND_EVALUATOR) /* the name is the registration's, never typed */
		in.contact_name = json_string_value(json_object_get(reg, "name"));
	struct field_errors errors = {0};
	application_validate(&r->srv->limits, k, &in, r->arena, &errors);
	/* The form shows the values as validation normalised them. */
	application_input_to_json(k, &in, values);
	if (!action || strcmp(action, "cancel") == 0 || errors.n) {
		/* 【取消】 and invalid input go back to the form with every value kept. */
		if (action && strcmp(action, "cancel") == 0)
			errors.n = 0;
		show_form(r, errors.n ? 422 : 200, k, reg, values, &errors, idem, scan);
	} else if (strcmp(action, "next") == 0) {
		struct fee fee;
		if (fee_current(req_db(r), &fee) != DB_OK) {
			reply_server_error(r, "no fee schedule");
		} else {
			int sets = (int)strtol(in.sets, NULL, 10);
			json_t *ctx = json_pack(
			    "{s:o, s:o, s:s, s:I, s:b, s:O, s:I, s:i, s:i, s:i}", "steps",
			    application_steps_json(k, "form"), "fields",
			    application_form_json(k, values, &errors), "idem", idem, "scan_id",
			    (json_int_t)scan, "is_unit", kind_is_unit(k), "reg", reg, "amount",
			    (json_int_t)fee_amount(&fee, k, sets), "price", (int)fee.price_yuan,
			    "medium", (int)fee.medium_yuan, "years", fee.years);
			form_context(r, ctx);
			render_page(r, 200, "apply_confirm", "确认证书U盘申请信息", ctx);
		}
	} else if (strcmp(action, "confirm") == 0) {
		char *number = NULL;
		bool existing = false;
		int64_t reg_id = strtoll(json_string_value(json_object_get(reg, "id")), NULL, 10);
		enum db_status st =
		    application_create(req_db(r), &r->actor, reg_id, k, &in,
		                       additional(r) ? APP_TYPE_ADDITIONAL : APP_TYPE_INITIAL, scan,
		                       idem, &number, &existing);
		if (st == DB_OK) {
			redirect(r, arena_printf(r->arena, "/applications/%s/print", number));
			free(number);
		} else if (st == DB_CONFLICT) {
			render_message(r, 409, "申请表单无效", "申请表单已失效，请重新开始申请。");
		} else {
			reply_server_error(r, "application create failed");
		}
	} else {
		show_form(r, 422, k, reg, values, &errors, idem, scan);
	}
}

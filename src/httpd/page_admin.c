/* The admin's pages: the RA directory (per province) and the fee schedule.
 * Their routes (ACT_ADMIN) let only the admin in. */
#include "httpd.h"
#include "esp/application.h"
#include "esp/validate.h"
#include "esp/directory.h"
#include "record_json.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void page_admin(struct request *r)
{
	render_page(r, 200, "admin_home", "系统管理", json_object());
}

void page_admin_directory(struct request *r)
{
	struct ra_directory_entry *list;
	size_t n;
	if (ra_directory_list(req_db(r), r->arena, &list, &n) != DB_OK) {
		reply_server_error(r, "RA directory could not be read");
		return;
	}
	render_page(r, 200, "admin_directory", "注册机构通讯录",
	            json_pack("{s:o}", "provinces", ra_directory_to_json(list, n)));
}

/* The edit form's fields: name, label, value and (errors[i] set) error. */
static void show_directory_edit(struct request *r, int status, const struct ra_directory_entry *e,
                                const char *const errors[DIR_FIELD_COUNT])
{
	json_t *fields = json_array();
	for (int i = 0; i < DIR_FIELD_COUNT; i++) {
		json_t *f = json_pack(
		    "{s:s, s:s, s:s}", "name", ra_directory_field_name((enum ra_dir_field)i),
		    "label", ra_directory_field_label((enum ra_dir_field)i), "value", e->field[i]);
		if (errors && errors[i])
			json_object_set_new(f, "error", json_string(errors[i]));
		json_array_append_new(fields, f);
	}
	render_page(
	    r, status, "admin_directory_edit", "编辑注册机构信息",
	    json_pack("{s:o, s:o}", "entry", ra_directory_entry_to_json(e), "fields", fields));
}

/* The directory entry of the route into *e; false = answered (404, 500). */
static bool directory_entry(struct request *r, struct ra_directory_entry *e)
{
	enum db_status st = ra_directory_get(req_db(r), r->arena, r->params[0], e);
	if (st == DB_NOT_FOUND)
		reply_not_found(r);
	else if (st != DB_OK)
		reply_server_error(r, "RA directory could not be read");
	return st == DB_OK;
}

void page_admin_directory_edit(struct request *r)
{
	struct ra_directory_entry e;
	if (directory_entry(r, &e))
		show_directory_edit(r, 200, &e, NULL);
}

void page_admin_directory_save(struct request *r)
{
	struct ra_directory_entry e;
	if (!directory_entry(r, &e))
		return;
	const char *errors[DIR_FIELD_COUNT] = {0};
	bool bad = false;
	for (int i = 0; i < DIR_FIELD_COUNT; i++) {
		const char *posted = req_form(r, ra_directory_field_name((enum ra_dir_field)i));
		/* Text that is not UTF-8 counts as not posted, as it always has. */
		if (!posted || utf8_length(posted) < 0)
			posted = "";
		char *v = arena_strdup(r->arena, posted);
		str_trim(v);
		long n = utf8_length(v);
		if (n < 0 || n > 200)
			errors[i] = "不能超过200个字";
		e.field[i] = v;
	}
	if (*e.field[DIR_POSTCODE] && !validate_postcode(e.field[DIR_POSTCODE]))
		errors[DIR_POSTCODE] = "邮政编码应为6位数字";
	if (*e.field[DIR_PHONE] && !validate_phone(e.field[DIR_PHONE]))
		errors[DIR_PHONE] = "请输入正确的电话号码";
	if (*e.field[DIR_EMAIL] && !validate_email(e.field[DIR_EMAIL]))
		errors[DIR_EMAIL] = "请输入正确的电子邮箱，如 ra@example.com";
	for (int i = 0; i < DIR_FIELD_COUNT; i++)
		bad = bad || errors[i];
	if (bad) {
		show_directory_edit(r, 422, &e, errors);
	} else if (ra_directory_save(req_db(r), &r->actor, r->params[0], &e) != DB_OK) {
		reply_server_error(r, "directory save failed");
	} else {
		redirect(r, "/admin/directory?saved=1");
	}
}

/* The fee schedule's rows for the template. */
static json_t *fees_to_json(struct request *r, const struct fee *rows, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "price",
		              arena_printf(r->arena, "%ld", rows[i].price_yuan), "renewal",
		              arena_printf(r->arena, "%ld", rows[i].renewal_yuan), "replacement",
		              arena_printf(r->arena, "%ld", rows[i].replacement_yuan), "medium",
		              arena_printf(r->arena, "%ld", rows[i].medium_yuan), "years",
		              arena_printf(r->arena, "%d", rows[i].years), "valid_from",
		              rows[i].valid_from ? time_date(r->arena, rows[i].valid_from)
		                                 : "系统初始"));
	return arr;
}

static void show_fees(struct request *r, int status, const char *error, json_t *values)
{
	struct fee *list;
	size_t n;
	if (fee_list(req_db(r), r->arena, &list, &n) != DB_OK) {
		reply_server_error(r, "fee schedule could not be read");
		return;
	}
	json_t *rows = fees_to_json(r, list, n);
	struct fee cur = {0};
	fee_current(req_db(r), &cur);
	json_t *ctx = json_pack("{s:o, s:i, s:i, s:i, s:i}", "rows", rows, "price",
	                        (int)cur.price_yuan, "medium", (int)cur.medium_yuan, "years",
	                        cur.years, "renewal", (int)cur.renewal_yuan);
	json_object_set_new(ctx, "replacement", json_integer(cur.replacement_yuan));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	if (values)
		json_object_set(ctx, "form", values);
	render_page(r, status, "admin_fees", "收费标准", ctx);
}

void page_admin_fees(struct request *r)
{
	show_fees(r, 200, NULL, NULL);
}

static long parse_amount(const char *s, long max)
{
	if (!s || !*s)
		return -1;
	char *end;
	long v = strtol(s, &end, 10);
	return *end || v < 0 || v > max ? -1 : v;
}

void page_admin_fees_save(struct request *r)
{
	json_t *values = form_values(r);
	long price = parse_amount(req_form(r, "price_yuan"), 100000);
	long medium = parse_amount(req_form(r, "medium_yuan"), 100000);
	long years = parse_amount(req_form(r, "years"), 10);
	int64_t from = time_parse_date(req_form(r, "valid_from"));
	/* A form without the renewal fee (before it existed) keeps the one in force. */
	struct fee cur = {0};
	fee_current(req_db(r), &cur);
	const char *renewal_s = req_form(r, "renewal_yuan");
	long renewal = renewal_s ? parse_amount(renewal_s, 100000) : cur.renewal_yuan;
	/* The replacement fee left empty is the new row's price of a set. */
	const char *replacement_s = req_form(r, "replacement_yuan");
	bool replacement_set = replacement_s && *replacement_s;
	long replacement = replacement_set ? parse_amount(replacement_s, 100000) : 0;
	const char *err = NULL;
	if (price <= 0)
		err = "每套价格应为正整数（元）";
	else if (medium < 0 || medium > price)
		err = "介质费应为不超过每套价格的整数（元）";
	else if (years < 1)
		err = "有效期应为1-10年";
	else if (from < 0)
		err = "请按 YYYY-MM-DD 格式填写生效日期";
	else if (renewal < 0)
		err = "证书更新费应为不小于0的整数（元）";
	else if (replacement_set && replacement <= 0)
		err = "补办费应为正整数（元），或空着（与每套价格相同）";
	if (err) {
		show_fees(r, 422, err, values);
	} else {
		struct fee f = {.price_yuan = price,
		                .medium_yuan = medium,
		                .years = (int)years,
		                .valid_from = from,
		                .renewal_yuan = renewal,
		                .replacement_yuan = replacement};
		enum db_status st = fee_add(req_db(r), &r->actor, &f);
		if (st == DB_OK)
			redirect(r, "/admin/fees?saved=1");
		else
			reply_server_error(r, "fee insert failed");
	}
	json_decref(values);
}

/* ---- staff accounts: reviewers, RA and training-institution operators ---- */

/* The staff accounts for the template; "self" marks the admin's own. */
static json_t *staff_to_json(struct request *r, const struct account_entry *list, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "username", list[i].username,
		              "role", role_label(list[i].role), "name", list[i].display_name,
		              "status", list[i].active ? "启用" : "停用", "authority",
		              list[i].authority_name, "province", list[i].province_name, "self",
		              strcmp(list[i].username, r->actor.username) == 0));
	return arr;
}

/* The admin makes reviewer accounts for the top of the tree only: the
 * ministry and the provincial authorities (the others review with their
 * own keys once approved). */
static bool top_of_tree(const char *level)
{
	return level && (strcmp(level, "ministry") == 0 || strcmp(level, "provincial") == 0);
}

/* The authorities the admin may choose from, the posted one selected;
 * NULL when the store fails. */
static json_t *top_authorities(struct request *r, json_t *form)
{
	const char *chosen = json_string_value(json_object_get(form, "authority_id"));
	struct authority *list;
	size_t n;
	if (authority_list(req_db(r), r->arena, &list, &n) != DB_OK)
		return NULL;
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!top_of_tree(list[i].level))
			continue;
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)list[i].id);
		json_array_append_new(out,
		                      json_pack("{s:s, s:s, s:b}", "id", id, "name", list[i].name,
		                                "selected", chosen && strcmp(chosen, id) == 0));
	}
	return out;
}

/* created_user and created_pw: an account just made, or (reset) a password
 * just reset; either way the password is shown this once. */
static void show_staff(struct request *r, int status, json_t *form, const char *error,
                       const char *created_user, const char *created_pw, bool reset)
{
	struct account_entry *list;
	size_t n;
	if (account_list(req_db(r), r->arena, true, &list, &n) != DB_OK) {
		reply_server_error(r, "staff accounts could not be read");
		return;
	}
	struct province *provs;
	size_t nprovs;
	if (province_list(req_db(r), r->arena, &provs, &nprovs) != DB_OK) {
		reply_server_error(r, "provinces could not be read");
		return;
	}
	json_t *rows = staff_to_json(r, list, n);
	json_t *authorities = top_authorities(r, form);
	if (!authorities) {
		reply_server_error(r, "authorities could not be read");
		return;
	}
	json_t *ctx = json_pack("{s:o, s:o, s:O, s:o}", "rows", rows, "provinces",
	                        provinces_to_json(provs, nprovs), "form", form ? form : json_null(),
	                        "authorities", authorities);
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	if (created_user)
		json_object_set_new(
		    ctx, reset ? "reset" : "created",
		    json_pack("{s:s, s:s}", "username", created_user, "password", created_pw));
	render_page(r, status, "admin_staff", "工作人员账户", ctx);
}

void page_admin_staff(struct request *r)
{
	show_staff(r, 200, NULL, NULL, NULL, NULL, false);
}

void page_admin_staff_create(struct request *r)
{
	json_t *form = form_values(r);
	enum role role = role_parse(req_form(r, "role"));
	const char *username = req_form(r, "username");
	const char *name = req_form(r, "display_name");
	const char *province = req_form(r, "province_code");
	const char *authority = req_form(r, "authority_id");
	const char *error = NULL;
	int64_t auth_id = 0;
	const char *auth_level = NULL, *auth_province = NULL;
	bool name_ok = username && strlen(username) >= 4 && strlen(username) <= 32;
	for (const char *p = username; name_ok && *p; p++)
		name_ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
	if (role != ROLE_REVIEWER && role != ROLE_RA && role != ROLE_TRAINER)
		error = "请选择账户类型";
	else if (!name_ok)
		error = "用户名应为4-32位小写字母、数字或下划线";
	else if (!name || !*name || utf8_length(name) < 0 || utf8_length(name) > 50)
		error = "请填写机构或人员名称（不超过50字）";
	else if (role == ROLE_REVIEWER &&
	         ((auth_id = authority ? strtoll(authority, NULL, 10) : 0) <= 0 ||
	          authority_level(req_db(r), r->arena, auth_id, &auth_level, &auth_province) !=
	              DB_OK ||
	          !top_of_tree(auth_level)))
		error = "请从列表中选择初审人员所属的主管机关（交通运输部或省级主管机关）";
	else if (role != ROLE_REVIEWER && !province_exists(req_db(r), province))
		error = "请选择所在省份";
	if (error) {
		show_staff(r, 422, form, error, NULL, NULL, false);
		json_decref(form);
		return;
	}
	char *pw = random_token(12);
	enum db_status st =
	    staff_account_create(req_db(r), &r->actor, username, pw, role, name, auth_id,
	                         role == ROLE_REVIEWER ? auth_province : province);
	if (st == DB_CONFLICT)
		show_staff(r, 422, form, "该用户名已存在", NULL, NULL, false);
	else if (st != DB_OK)
		reply_server_error(r, "staff create failed");
	else
		show_staff(r, 200, NULL, NULL, username, pw, false);
	sodium_memzero(pw, strlen(pw));
	free(pw);
	json_decref(form);
}

/* 重置密码: a one-time password, shown once, that the account must change at
 * its next login; its open sessions end. Staff accounts only (the ones this
 * page lists), and not the admin's own (修改密码 is for that). */
/* The staff account named by the route, as {username, name, role}
 * (new reference), or NULL after answering 404 / 422 (the admin's own). */
static json_t *reset_target(struct request *r)
{
	const char *username = r->params[0];
	struct account_entry e;
	enum db_status st = account_get(req_db(r), r->arena, username, &e);
	if (st != DB_OK && st != DB_NOT_FOUND) {
		reply_server_error(r, "staff lookup failed");
		return NULL;
	}
	json_t *target = NULL;
	if (st == DB_OK && e.role != ROLE_APPLICANT)
		target = json_pack("{s:s, s:s, s:s}", "username", username, "name", e.display_name,
		                   "role", role_label(e.role));
	if (!target) {
		reply_not_found(r);
	} else if (strcmp(username, r->actor.username) == 0) {
		json_decref(target);
		target = NULL;
		show_staff(r, 422, NULL, "不能在此重置自己的密码，请使用页面上方的“修改密码”。",
		           NULL, NULL, false);
	}
	return target;
}

/* Asks before resetting: the holder is logged out at once. */
void page_admin_staff_reset_confirm(struct request *r)
{
	json_t *target = reset_target(r);
	if (target)
		render_page(r, 200, "admin_staff_reset", "重置密码", target);
}

void page_admin_staff_reset(struct request *r)
{
	json_t *target = reset_target(r);
	if (!target)
		return;
	json_decref(target);
	const char *username = r->params[0];
	char *pw = NULL;
	if (account_password_reset(req_db(r), &r->actor, username, &pw) != DB_OK) {
		reply_server_error(r, "password reset failed");
		return;
	}
	show_staff(r, 200, NULL, NULL, username, pw, true);
	sodium_memzero(pw, strlen(pw));
	free(pw);
}

/*
 * 信息变更 pages: the registrant's change form (pre-filled with the
 * current values, a new scan where a name or code change needs one), and
 * the 初审 reviewer's queue and side-by-side page with its decision.
 */
#include "httpd.h"
#include "esp/change.h"
#include "esp/upload.h"
#include "esp/validate.h"
#include "registration_view.h"

#include <stdlib.h>
#include <string.h>

/* The registrant's own registration, if the policy lets it change it;
 * false when answered. */
static bool own_for_change(struct request *r, struct registration *reg, json_t **json)
{
	enum db_status st = load_registration(r, r->actor.registration_id, reg, json);
	if (st == DB_NOT_FOUND) {
		reply_not_found(r);
		return false;
	}
	if (st != DB_OK) {
		reply_server_error(r, "registration could not be read");
		return false;
	}
	struct policy_object o;
	registration_policy_object(reg, &o);
	if (!policy_allows(&r->actor, ACT_CHANGE_SUBMIT, &o)) {
		render_message(r, 403, "不能变更",
		               "只有初审已通过的注册才能办理信息变更；报名尚在审核或未通过时，"
		               "请在【查看初审状态】中修改报名信息。");
		return false;
	}
	return true;
}

/* The diff as rows for the templates: label, old, new. */
static json_t *diff_rows(enum reg_kind k, const struct change_diff *d)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < d->n; i++) {
		const struct reg_field *f = registration_field(k, d->field[i]);
		json_array_append_new(rows,
		                      json_pack("{s:s, s:s, s:s, s:s}", "name", d->field[i],
		                                "label", f ? f->label : d->field[i], "old",
		                                d->old_value[i] ? d->old_value[i] : "（空）", "new",
		                                d->new_value[i] ? d->new_value[i] : "（空）"));
	}
	return rows;
}

/* Only the fields a change may touch, from the registration form's table. */
static json_t *change_form_fields(struct request *r, enum reg_kind k, json_t *values,
                                  const struct field_errors *errors)
{
	json_t *all = registration_form_json(req_db(r), k, values, errors, true);
	json_t *out = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(all, i, f)
	{
		if (change_field_applies(k, json_string_value(json_object_get(f, "name"))))
			json_array_append(out, f);
	}
	json_decref(all);
	return out;
}

static void show_form(struct request *r, int status, const struct registration *reg, json_t *values,
                      const struct field_errors *errors, const char *scan_error)
{
	struct reg_change last;
	bool have = change_latest(req_db(r), r->arena, reg->id, &last) == DB_OK;
	json_t *ctx = json_pack(
	    "{s:s, s:s, s:o, s:b, s:b}", "kind_label", kind_label(reg->kind), "name",
	    reg->name ? reg->name : "", "fields", change_form_fields(r, reg->kind, values, errors),
	    "needs_scan", change_kind_needs_scan(reg->kind), "is_unit", kind_is_unit(reg->kind));
	if (have && last.state == CHANGE_PENDING) {
		json_object_set_new(ctx, "pending", json_true());
		json_object_set_new(ctx, "pending_rows", diff_rows(reg->kind, &last.diff));
		json_object_set_new(ctx, "pending_date",
		                    json_string(time_datetime(r->arena, last.created_at)));
	} else if (have && last.state == CHANGE_RETURNED) {
		json_object_set_new(ctx, "returned_reason",
		                    json_string(last.reason ? last.reason : ""));
	} else if (have && last.state == CHANGE_APPROVED) {
		json_object_set_new(ctx, "approved_date",
		                    json_string(time_datetime(r->arena, last.reviewed_at)));
	}
	if (status == 200 && req_query(r, "submitted"))
		json_object_set_new(ctx, "notice",
		                    json_string("信息变更已提交，请等待主管机关审核。审核通过前，"
		                                "注册信息和证书保持不变。"));
	size_t n = errors ? errors->n : 0;
	if (scan_error)
		n++;
	if (errors && field_error_of(errors, "_form")) {
		/* Said once, above the form: it is no field's. */
		json_object_set_new(ctx, "form_error",
		                    json_string(field_error_of(errors, "_form")));
		n--;
	}
	if (scan_error)
		json_object_set_new(ctx, "scan_error", json_string(scan_error));
	if (n)
		json_object_set_new(ctx, "has_errors", json_integer((json_int_t)n));
	render_page(r, status, "change_form", "信息变更", ctx);
}

void page_change_get(struct request *r)
{
	struct registration reg;
	json_t *json;
	if (!own_for_change(r, &reg, &json))
		return;
	json_t *values = req_own_json(r, json_object());
	const char *key;
	json_t *v;
	json_object_foreach(json, key, v)
	{
		if (json_is_string(v))
			json_object_set(values, key, v);
	}
	show_form(r, 200, &reg, values, NULL, NULL);
}

void page_change_post(struct request *r)
{
	struct registration reg;
	json_t *json;
	if (!own_for_change(r, &reg, &json))
		return;
	json_t *values = req_own_json(r, form_values(r));
	struct registration_input posted;
	registration_input_from_json(values, &posted);
	struct field_errors errors = {0};
	struct change_diff diff;
	change_validate(req_db(r), &r->srv->limits, &reg, &posted, r->arena, &errors, &diff);
	/* What the form shows again: the values as validated, and the
	 * registration's for what was not posted. */
	json_t *shown = req_own_json(r, json_object());
	const char *key;
	json_t *v;
	json_object_foreach(json, key, v)
	{
		if (json_is_string(v))
			json_object_set(shown, key, v);
	}
	json_object_foreach(values, key, v)
	{
		if (change_field_applies(reg.kind, key) && json_is_string(v))
			json_object_set(shown, key, v);
	}
	const struct form_field *f = req_file(r, "scan");
	bool has_file = f && f->value.len > 0;
	const char *scan_error = NULL, *mime = NULL;
	if (has_file && (long)f->value.len > r->srv->limits.scan_max_bytes)
		scan_error = "扫描件不能超过10MB，请压缩后重新上传。";
	else if (has_file && !(mime = upload_sniff(f->value.data, f->value.len)))
		scan_error = "文件格式不正确：扫描件只能是PDF、JPEG或PNG格式的文件。";
	else if (!has_file && errors.n == 0 && diff.reissue && change_kind_needs_scan(reg.kind))
		scan_error = "变更单位名称或代码时，必须上传变更后的营业执照（或组织机构代码证）"
		             "扫描件（PDF、JPEG或PNG格式）。";
	if (errors.n || scan_error) {
		show_form(r, 422, &reg, shown, &errors, scan_error);
		return;
	}
	int64_t scan_id = 0;
	if (has_file &&
	    upload_store(req_db(r), reg.id, f->value.data, f->value.len, mime, &scan_id) != DB_OK) {
		reply_server_error(r, "change scan could not be stored");
		return;
	}
	int64_t id = 0;
	enum db_status st = change_submit(req_db(r), &r->actor, reg.id, &diff, scan_id, &id);
	if (st == DB_OK) {
		redirect(r, "/change?submitted=1");
	} else if (st == DB_CONFLICT) {
		field_error_set(&errors, "_form",
		                "已有一项信息变更正在等待主管机关审核，审核完成前不能再次提交。");
		show_form(r, 409, &reg, shown, &errors, NULL);
	} else {
		reply_server_error(r, "change submit failed");
	}
}

/* ---- the reviewer's side ---- */

void page_change_queue(struct request *r)
{
	struct change_row *rows = NULL;
	size_t n = 0;
	if (change_queue(req_db(r), r->arena, r->actor.authority_path, 200, &rows, &n) != DB_OK) {
		reply_server_error(r, "change queue could not be read");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    items, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)rows[i].id,
		                     "kind_label", kind_label(rows[i].kind), "name",
		                     rows[i].name ? rows[i].name : "", "authority_name",
		                     rows[i].authority_name ? rows[i].authority_name : "", "date",
		                     time_datetime(r->arena, rows[i].created_at), "reissue",
		                     rows[i].reissue));
	render_page(r, 200, "change_queue", "信息变更审核",
	            json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)n));
}

/* The change of the route and its registration, if the policy lets the
 * actor review it; false when answered. */
static bool change_for(struct request *r, struct reg_change *ch, struct registration *reg)
{
	int64_t id = req_param_int(r, 0);
	enum db_status st = id ? change_get(req_db(r), r->arena, id, ch) : DB_NOT_FOUND;
	if (st == DB_OK)
		st = load_registration(r, ch->registration_id, reg, NULL);
	if (st == DB_NOT_FOUND) {
		reply_not_found(r);
		return false;
	}
	if (st != DB_OK) {
		reply_server_error(r, "change could not be read");
		return false;
	}
	struct policy_object o;
	registration_policy_object(reg, &o);
	if (!policy_allows(&r->actor, ACT_CHANGE_REVIEW, &o)) {
		reply_forbidden(r);
		return false;
	}
	return true;
}

static void show_review(struct request *r, int status, const struct reg_change *ch,
                        const struct registration *reg, const char *error)
{
	/* Every field the change may touch, old beside new; a changed one is
	 * marked in words (已变更), not by colour alone. */
	json_t *rows = json_array();
	struct registration_input cur;
	change_input_from(reg, &cur);
	size_t nf;
	const char *const *names = change_field_names(&nf);
	for (size_t i = 0; i < nf; i++) {
		if (!change_field_applies(reg->kind, names[i]))
			continue;
		const struct reg_field *f = registration_field(reg->kind, names[i]);
		const char *now = *registration_input_at(&cur, names[i]);
		const char *oldv = now ? now : "", *newv = oldv;
		bool changed = false;
		for (size_t j = 0; j < ch->diff.n; j++)
			if (strcmp(ch->diff.field[j], names[i]) == 0) {
				changed = true;
				oldv = ch->diff.old_value[j] ? ch->diff.old_value[j] : "";
				newv = ch->diff.new_value[j] ? ch->diff.new_value[j] : "";
			}
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", names[i],
		                                      "label", f->label, "old", oldv, "new", newv,
		                                      "changed", changed));
	}
	json_t *ctx = json_pack(
	    "{s:I, s:s, s:s, s:s, s:o, s:b, s:b, s:s, s:s}", "id", (json_int_t)ch->id, "kind_label",
	    kind_label(reg->kind), "name", reg->name ? reg->name : "", "authority_name",
	    reg->authority_name ? reg->authority_name : "", "rows", rows, "is_pending",
	    ch->state == CHANGE_PENDING, "reissue", ch->diff.reissue, "state_label",
	    change_state_label(ch->state), "date", time_datetime(r->arena, ch->created_at));
	if (ch->scan_id)
		json_object_set_new(ctx, "scan_url",
		                    json_string(arena_printf(r->arena, "/review/changes/%lld/scan",
		                                             (long long)ch->id)));
	if (ch->reason)
		json_object_set_new(ctx, "reason", json_string(ch->reason));
	if (ch->reviewer)
		json_object_set_new(
		    ctx, "reviewer",
		    json_string(arena_printf(r->arena, "%s　%s", ch->reviewer,
		                             time_datetime(r->arena, ch->reviewed_at))));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	render_page(r, status, "change_review", "信息变更审核", ctx);
}

void page_change_review(struct request *r)
{
	struct reg_change ch;
	struct registration reg;
	if (change_for(r, &ch, &reg))
		show_review(r, 200, &ch, &reg, NULL);
}

void page_change_scan(struct request *r)
{
	struct reg_change ch;
	struct registration reg;
	if (!change_for(r, &ch, &reg))
		return;
	reply_scan(r, ch.scan_id);
}

void page_change_decide(struct request *r)
{
	struct reg_change ch;
	struct registration reg;
	if (!change_for(r, &ch, &reg))
		return;
	const char *decision = req_form(r, "decision");
	char *reason = xstrdup(req_form(r, "reason") ? req_form(r, "reason") : "");
	str_trim(reason);
	bool approve = decision && strcmp(decision, "approve") == 0;
	bool ret = decision && strcmp(decision, "return") == 0;
	enum text_fault tf = validate_text(reason, true);
	if (!approve && !ret) {
		show_review(r, 422, &ch, &reg, "请选择审核结果（通过或退回）。");
	} else if (ret && !*reason) {
		show_review(r, 422, &ch, &reg, "请填写退回原因：退回信息变更时必须说明原因。");
	} else if (tf != TEXT_OK) {
		show_review(r, 422, &ch, &reg,
		            arena_printf(r->arena, "退回原因%s", text_fault_reason(tf)));
	} else if (utf8_length(reason) > 500) {
		show_review(r, 422, &ch, &reg, "退回原因不能超过500个字。");
	} else {
		char *blocked = NULL;
		int reissued = 0;
		enum db_status st = change_decide(req_db(r), &r->actor, ch.id, approve, reason,
		                                  &reissued, &blocked);
		if (st == DB_OK)
			redirect(r, arena_printf(r->arena, "/review/changes/%lld?decided=1",
			                         (long long)ch.id));
		else if (st == DB_CONFLICT)
			show_review(r, 409, &ch, &reg,
			            blocked ? blocked : "该信息变更已经审核过，不能重复审核。");
		else
			reply_server_error(r, "change decision failed");
		free(blocked);
	}
	free(reason);
}

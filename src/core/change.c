/*
 * 信息变更 (change of registration details): which fields a change may
 * touch, its validation through the registration's own field table, the
 * pending change record (old and new values side by side), the reviewer's
 * queue, and the 初审 decision that applies it and, when the certificates'
 * subject changed, makes a renewal application for each valid certificate
 * (see esp/change.h).
 */
#include "esp/change.h"
#include "esp/appstate.h"
#include "esp/application.h"
#include "esp/audit.h"
#include "esp/authority.h"
#include "esp/notify.h"
#include "esp/policy.h"

/* The old and new values are kept as two JSON objects (one text column
 * each): no json_t leaves this file. */
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fields[] = {
    "name",  "code",   "work_unit", "address", "postcode", "contact_name", "contact_id_number",
    "phone", "mobile", "email",
};
#define NFIELDS (sizeof fields / sizeof fields[0])
_Static_assert(NFIELDS <= CHANGE_FIELDS_MAX, "a diff holds every field");

/* The column each field is stored in: one statement per field, so no SQL
 * is ever assembled from a name. */
static const char *const update_sql[NFIELDS] = {
    "UPDATE registrations SET name = $2 WHERE id = $1",
    "UPDATE registrations SET code = $2 WHERE id = $1",
    "UPDATE registrations SET work_unit = $2 WHERE id = $1",
    "UPDATE registrations SET address = $2 WHERE id = $1",
    "UPDATE registrations SET postcode = $2 WHERE id = $1",
    "UPDATE registrations SET contact_name = $2 WHERE id = $1",
    "UPDATE registrations SET contact_id_number = $2 WHERE id = $1",
    "UPDATE registrations SET phone = $2 WHERE id = $1",
    "UPDATE registrations SET mobile = $2 WHERE id = $1",
    "UPDATE registrations SET email = $2 WHERE id = $1",
};

const char *const *change_field_names(size_t *n)
{
	*n = NFIELDS;
	return fields;
}

static int field_index(const char *name)
{
	for (size_t i = 0; name && i < NFIELDS; i++)
		if (strcmp(fields[i], name) == 0)
			return (int)i;
	return -1;
}

bool change_field_applies(enum reg_kind k, const char *name)
{
	return field_index(name) >= 0 && registration_field(k, name) != NULL;
}

bool change_field_reissues(enum reg_kind k, const char *name)
{
	/* The subject: CN is the name, serialNumber the code, and an
	 * evaluator's O the work unit (core/issue.c, issue_profile). */
	return name && (strcmp(name, "name") == 0 || strcmp(name, "code") == 0 ||
	                (k == KIND_EVALUATOR && strcmp(name, "work_unit") == 0));
}

bool change_kind_needs_scan(enum reg_kind k)
{
	/* The kinds whose application sends a 营业执照 scan (page_apply.c). */
	return k == KIND_AGENCY || k == KIND_ENTERPRISE;
}

static const char *const state_names[][2] = {
    [CHANGE_PENDING] = {"pending", "待审核"},
    [CHANGE_APPROVED] = {"approved", "已通过"},
    [CHANGE_RETURNED] = {"returned", "已退回"},
};

const char *change_state_name(enum change_state s)
{
	return s >= CHANGE_PENDING && s <= CHANGE_RETURNED ? state_names[s][0] : "";
}

const char *change_state_label(enum change_state s)
{
	return s >= CHANGE_PENDING && s <= CHANGE_RETURNED ? state_names[s][1] : "";
}

enum change_state change_state_parse(const char *name)
{
	for (int i = CHANGE_PENDING; name && i <= CHANGE_RETURNED; i++)
		if (strcmp(state_names[i][0], name) == 0)
			return (enum change_state)i;
	return CHANGE_STATE_UNKNOWN;
}

/* ---- validation ---- */

void change_input_from(const struct registration *reg, struct registration_input *in)
{
	*in = (struct registration_input){
	    .name = reg->name,
	    .code = reg->code,
	    .legal_rep = reg->legal_rep,
	    .contact_name = reg->contact_name,
	    .contact_id_number = reg->contact_id_number,
	    .phone = reg->phone,
	    .mobile = reg->mobile,
	    .email = reg->email,
	    .address = reg->address,
	    .postcode = reg->postcode,
	    .category = reg->category,
	    .grade = reg->grade,
	    .work_unit = reg->work_unit,
	    .department = reg->department,
	    .province_code = reg->province_code,
	};
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

void change_validate(db_conn *c, const struct esp_limits *l, const struct registration *reg,
                     const struct registration_input *posted, struct arena *a,
                     struct field_errors *errors, struct change_diff *diff)
{
	memset(diff, 0, sizeof *diff);
	struct registration_input in, old;
	change_input_from(reg, &in);
	change_input_from(reg, &old);
	char auth[24];
	snprintf(auth, sizeof auth, "%lld", (long long)reg->authority_id);
	in.authority_id = auth;
	for (size_t i = 0; i < NFIELDS; i++)
		if (change_field_applies(reg->kind, fields[i]))
			*registration_input_at(&in, fields[i]) =
			    *registration_input_at((struct registration_input *)posted, fields[i]);
	/* The same table, limits and messages as the registration form; the
	 * duplicate checks leave this registration out. */
	registration_validate(c, l, reg->kind, &in, true, reg->id, a, errors);
	for (size_t i = 0; i < NFIELDS; i++) {
		const char *f = fields[i];
		if (!change_field_applies(reg->kind, f))
			continue;
		const char *nv = *registration_input_at(&in, f);
		const char *ov = *registration_input_at(&old, f);
		if (same(nv, ov))
			continue;
		diff->field[diff->n] = f;
		diff->old_value[diff->n] = ov && *ov ? arena_strdup(a, ov) : NULL;
		diff->new_value[diff->n] = nv && *nv ? arena_strdup(a, nv) : NULL;
		diff->n++;
		if (change_field_reissues(reg->kind, f))
			diff->reissue = true;
	}
	/* An authority's own name is a node of the tree: registration_validate,
	 * comparing it with the tree, finds the authority itself when the name
	 * stays; only a new name is compared. */
	if (reg->kind == KIND_AUTHORITY && same(reg->name, in.name)) {
		size_t j = 0;
		for (size_t i = 0; i < errors->n; i++)
			if (strcmp(errors->items[i].field, "name") != 0)
				errors->items[j++] = errors->items[i];
		errors->n = j;
	}
	if (errors->n == 0 && diff->n == 0)
		field_error_set(errors, "_form", "没有修改任何信息：请修改需要变更的项目后再提交");
}

/* ---- the record ---- */

static char *values_json(const struct change_diff *d, bool new_values)
{
	json_t *o = json_object();
	for (size_t i = 0; i < d->n; i++) {
		const char *v = new_values ? d->new_value[i] : d->old_value[i];
		json_object_set_new(o, d->field[i], v ? json_string(v) : json_null());
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

struct submit_ctx {
	const struct actor *a;
	int64_t reg_id, scan_id, id;
	const struct change_diff *d;
};

static enum db_status submit_tx(db_conn *c, void *arg)
{
	struct submit_ctx *x = arg;
	char *oldv = values_json(x->d, false), *newv = values_json(x->d, true);
	int64_t now = time_now();
	db_result *r = NULL;
	/* Only an approved registration changes; the partial unique index
	 * keeps one pending change per registration. */
	enum db_status st = DB_EXEC(
	    c,
	    "INSERT INTO registration_changes (registration_id, state, old_values, new_values, "
	    "scan_id, reissue, submitted_by, created_at, updated_at) SELECT id, 'pending', $2, "
	    "$3, $4, $5, $6, $7, $7 FROM registrations WHERE id = $1 AND state = 'approved' "
	    "RETURNING id",
	    &r, P_INT(x->reg_id), P_TEXT(oldv), P_TEXT(newv),
	    x->scan_id > 0 ? P_INT(x->scan_id) : P_NULL, P_INT(x->d->reissue ? 1 : 0),
	    P_INT(x->a->account_id), P_INT(now));
	free(oldv);
	free(newv);
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	if (st == DB_OK)
		x->id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	if (st != DB_OK)
		return st;
	char obj[48];
	snprintf(obj, sizeof obj, "registration_change:%lld", (long long)x->id);
	return audit_append(c, x->a, "registration.change.submit", obj, "", "pending");
}

enum db_status change_submit(db_conn *c, const struct actor *a, int64_t registration_id,
                             const struct change_diff *d, int64_t scan_id, int64_t *change_id)
{
	struct submit_ctx x = {.a = a, .reg_id = registration_id, .scan_id = scan_id, .d = d};
	if (d->n == 0)
		return DB_CONFLICT;
	enum db_status st = db_transaction(c, submit_tx, &x);
	*change_id = x.id;
	return st;
}

/* ---- reading ---- */

static const char *dup_or_null(struct arena *a, const char *s)
{
	return s ? arena_strdup(a, s) : NULL;
}

/* Fills d from the two JSON objects, in form order. */
static void diff_from_json(struct arena *a, enum reg_kind k, const char *oldv, const char *newv,
                           bool reissue, struct change_diff *d)
{
	memset(d, 0, sizeof *d);
	json_t *o = json_loads(oldv ? oldv : "{}", 0, NULL);
	json_t *n = json_loads(newv ? newv : "{}", 0, NULL);
	for (size_t i = 0; i < NFIELDS && json_is_object(n); i++) {
		json_t *nv = json_object_get(n, fields[i]);
		if (!nv)
			continue;
		d->field[d->n] = fields[i];
		d->new_value[d->n] = dup_or_null(a, json_string_value(nv));
		d->old_value[d->n] =
		    dup_or_null(a, json_string_value(json_object_get(o, fields[i])));
		d->n++;
	}
	d->reissue = reissue;
	(void)k;
	json_decref(o);
	json_decref(n);
}

#define CHANGE_SELECT                                                                              \
	"SELECT ch.id, ch.registration_id, ch.state, ch.old_values, ch.new_values, ch.scan_id, "   \
	"ch.reissue, ch.reason, ch.created_at, ch.reviewed_at, rv.display_name, r.kind "           \
	"FROM registration_changes ch JOIN registrations r ON r.id = ch.registration_id "          \
	"LEFT JOIN accounts rv ON rv.id = ch.reviewed_by "

static enum db_status read_change(db_result *r, struct arena *a, struct reg_change *out)
{
	if (r->nrows == 0)
		return DB_NOT_FOUND;
	memset(out, 0, sizeof *out);
	out->id = db_get_int(r, 0, 0, 0);
	out->registration_id = db_get_int(r, 0, 1, 0);
	out->state = change_state_parse(db_get(r, 0, 2));
	out->scan_id = db_get_int(r, 0, 5, 0);
	out->reason = dup_or_null(a, db_get(r, 0, 7));
	out->created_at = db_get_int(r, 0, 8, 0);
	out->reviewed_at = db_get_int(r, 0, 9, 0);
	out->reviewer = dup_or_null(a, db_get(r, 0, 10));
	diff_from_json(a, kind_parse(db_get(r, 0, 11)), db_get(r, 0, 3), db_get(r, 0, 4),
	               db_get_int(r, 0, 6, 0) != 0, &out->diff);
	return DB_OK;
}

enum db_status change_get(db_conn *c, struct arena *a, int64_t id, struct reg_change *out)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, CHANGE_SELECT "WHERE ch.id = $1", &r, P_INT(id));
	if (st == DB_OK)
		st = read_change(r, a, out);
	db_result_free(r);
	return st;
}

enum db_status change_latest(db_conn *c, struct arena *a, int64_t registration_id,
                             struct reg_change *out)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, CHANGE_SELECT "WHERE ch.registration_id = $1 ORDER BY ch.id DESC LIMIT 1",
	            &r, P_INT(registration_id));
	if (st == DB_OK)
		st = read_change(r, a, out);
	db_result_free(r);
	return st;
}

enum db_status change_queue(db_conn *c, struct arena *a, const char *authority_path, int limit,
                            struct change_row **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!authority_path || !*authority_path)
		return DB_OK;
	db_result *r = NULL;
	/* Few changes are ever pending at once: the state index finds them,
	 * the subtree is the authority path's prefix. */
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT ch.id, ch.registration_id, r.kind, r.name, au.name, ch.created_at, ch.reissue "
	    "FROM registration_changes ch JOIN registrations r ON r.id = ch.registration_id "
	    "JOIN authorities au ON au.id = r.authority_id WHERE ch.state = 'pending' AND "
	    "substr(au.path, 1, length($1)) = $1 ORDER BY ch.created_at, ch.id LIMIT $2",
	    &r, P_TEXT(authority_path), P_INT(limit));
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++)
			(*out)[i] = (struct change_row){
			    .id = db_get_int(r, i, 0, 0),
			    .registration_id = db_get_int(r, i, 1, 0),
			    .kind = kind_parse(db_get(r, i, 2)),
			    .name = dup_or_null(a, db_get(r, i, 3)),
			    .authority_name = dup_or_null(a, db_get(r, i, 4)),
			    .created_at = db_get_int(r, i, 5, 0),
			    .reissue = db_get_int(r, i, 6, 0) != 0,
			};
	}
	db_result_free(r);
	return st;
}

/* ---- the decision ---- */

struct decide_ctx {
	const struct actor *a;
	int64_t id;
	bool approve;
	const char *reason;
	int reissued;
	char *blocked;
	struct arena *ar;
};

/* A renewal application, ready to issue and free, for the valid
 * certificate `serial` of the registration: the holder's tool renews it on
 * its token as any renewal (core/renewal.c), and the new certificate
 * carries the registration's new subject. */
static enum db_status reissue_one(db_conn *c, const struct actor *a, int64_t change_id,
                                  int64_t reg_id, const char *serial, int64_t cert_app_id)
{
	int64_t now = time_now();
	db_result *r = NULL;
	/* A renewal the holder already applied for: paid, it becomes this
	 * change's (renewed with the new subject, the old one revoked as
	 * affiliationChanged); not yet paid, it is withdrawn for the free one. */
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT id, state FROM applications WHERE renews_serial = $1 AND "
	            "type = 'renewal' AND state IN ($2, $3) ORDER BY id DESC LIMIT 1",
	            &r, P_TEXT(serial), P_TEXT(appstate_name(APP_SUBMITTED)),
	            P_TEXT(appstate_name(APP_READY_TO_ISSUE)));
	if (st != DB_OK || r->nrows == 0) {
		db_result_free(r);
		r = NULL;
	} else {
		int64_t open_id = db_get_int(r, 0, 0, 0);
		bool paid = strcmp(db_get(r, 0, 1), appstate_name(APP_READY_TO_ISSUE)) == 0;
		db_result_free(r);
		r = NULL;
		if (paid) {
			st =
			    DB_EXEC(c,
			            "UPDATE applications SET change_id = $2, updated_at = $3 WHERE "
			            "id = $1",
			            NULL, P_INT(open_id), P_INT(change_id), P_INT(now));
			if (st == DB_OK)
				st = application_event(c, a, open_id, "change",
				                       appstate_name(APP_READY_TO_ISSUE),
				                       appstate_name(APP_READY_TO_ISSUE),
				                       "信息变更已通过：更新后的证书使用新的证书信"
				                       "息，原证书以“信息变更”吊销");
			return st;
		}
		st = DB_EXEC(
		    c,
		    "UPDATE applications SET state = $2, withdrawn_at = $3, updated_at = $3 "
		    "WHERE id = $1",
		    NULL, P_INT(open_id), P_TEXT(appstate_name(APP_WITHDRAWN)), P_INT(now));
		if (st == DB_OK)
			st = application_event(c, a, open_id, appstep_name(STEP_WITHDRAW),
			                       appstate_name(APP_SUBMITTED),
			                       appstate_name(APP_WITHDRAWN),
			                       "信息变更已通过：由免费的证书更新代替，无需付款");
		if (st != DB_OK)
			return st;
	}
	char *number = NULL;
	if (st == DB_OK)
		st = application_next_number(c, &number);
	char *idem = xasprintf("change-%lld-%s", (long long)change_id, serial);
	if (st == DB_OK)
		st = DB_EXEC(
		    c,
		    "INSERT INTO applications (number, registration_id, type, state, sets, "
		    "contact_name, contact_id_number, mobile, phone, email, address, postcode, "
		    "invoice_title, taxpayer_id, price_yuan, medium_yuan, years, amount_yuan, "
		    "idem_key, submitted_at, updated_at, renews_serial, change_id) "
		    "SELECT $1, $2, 'renewal', $3, 1, a.contact_name, a.contact_id_number, "
		    "a.mobile, "
		    "a.phone, a.email, a.address, a.postcode, a.invoice_title, a.taxpayer_id, 0, "
		    "0, "
		    "a.years, 0, $4, $5, $5, $6, $7 FROM applications a WHERE a.id = $8 "
		    "RETURNING id",
		    &r, P_TEXT(number), P_INT(reg_id), P_TEXT(appstate_name(APP_READY_TO_ISSUE)),
		    P_TEXT(idem), P_INT(now), P_TEXT(serial), P_INT(change_id), P_INT(cert_app_id));
	free(idem);
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		char *note = xasprintf(
		    "信息变更：证书 %s 需在原证书U盘上更新为新的证书信息（免费）", serial);
		st = application_event(c, a, db_get_int(r, 0, 0, 0), appstep_name(STEP_SUBMIT),
		                       appstate_name(APP_NEW), appstate_name(APP_READY_TO_ISSUE),
		                       note);
		free(note);
	}
	db_result_free(r);
	free(number);
	return st;
}

static enum db_status decide_tx(db_conn *c, void *arg)
{
	struct decide_ctx *x = arg;
	free(x->blocked);
	x->blocked = NULL;
	x->reissued = 0;
	int64_t now = time_now();
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "UPDATE registration_changes SET state = $2, reason = $3, reviewed_by = $4, "
	            "reviewed_at = $5, updated_at = $5 WHERE id = $1 AND state = 'pending' "
	            "RETURNING registration_id, old_values, new_values, reissue",
	            &r, P_INT(x->id),
	            P_TEXT(change_state_name(x->approve ? CHANGE_APPROVED : CHANGE_RETURNED)),
	            P_TEXT(x->approve ? NULL : x->reason), P_INT(x->a->account_id), P_INT(now));
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	int64_t reg_id = db_get_int(r, 0, 0, 0);
	bool reissue = db_get_int(r, 0, 3, 0) != 0;
	struct change_diff d;
	diff_from_json(x->ar, KIND_NONE, db_get(r, 0, 1), db_get(r, 0, 2), reissue, &d);
	db_result_free(r);
	r = NULL;
	char obj[48];
	snprintf(obj, sizeof obj, "registration_change:%lld", (long long)x->id);
	if (!x->approve) {
		st = notify_enqueue(
		    c, NOTICE_CHANGE_RETURNED,
		    &(struct notice){.registration_id = reg_id, .reason = x->reason});
		if (st == DB_OK)
			st = audit_append(c, x->a, "registration.change.return", obj, "pending",
			                  "returned");
		return st;
	}
	st = DB_EXEC(c, "SELECT kind, new_authority_id FROM registrations WHERE id = $1", &r,
	             P_INT(reg_id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	enum reg_kind k = st == DB_OK ? kind_parse(db_get(r, 0, 0)) : KIND_NONE;
	int64_t node = st == DB_OK ? db_get_int(r, 0, 1, 0) : 0;
	db_result_free(r);
	r = NULL;
	const char *new_name = NULL;
	for (size_t i = 0; st == DB_OK && i < d.n; i++) {
		int f = field_index(d.field[i]);
		if (f < 0)
			continue;
		st = DB_EXEC(c, update_sql[f], NULL, P_INT(reg_id), P_TEXT(d.new_value[i]));
		if (st == DB_CONFLICT && strcmp(d.field[i], "code") == 0)
			x->blocked = xstrdup("不能通过：变更后的代码已被其他单位（人员）使用，"
			                     "请选择“退回”并写明原因。");
		if (strcmp(d.field[i], "name") == 0)
			new_name = d.new_value[i];
	}
	if (st == DB_OK)
		st = DB_EXEC(c, "UPDATE registrations SET updated_at = $2 WHERE id = $1", NULL,
		             P_INT(reg_id), P_INT(now));
	if (st == DB_OK && new_name)
		st = DB_EXEC(c, "UPDATE accounts SET display_name = $1 WHERE registration_id = $2",
		             NULL, P_TEXT(new_name), P_INT(reg_id));
	if (st == DB_OK && new_name && k == KIND_AUTHORITY && node) {
		/* The authority's node in the tree is named as the authority. */
		char *other = authority_same_name(c, new_name);
		if (other) {
			x->blocked = xasprintf("不能通过：已有名称相同的主管机关“%s”，"
			                       "请选择“退回”并写明原因。",
			                       other);
			free(other);
			st = DB_CONFLICT;
		} else {
			st = DB_EXEC(c, "UPDATE authorities SET name = $1 WHERE id = $2", NULL,
			             P_TEXT(new_name), P_INT(node));
		}
	}
	if (st == DB_OK && reissue) {
		st = DB_EXEC(c,
		             "SELECT serial, application_id FROM certificates WHERE "
		             "registration_id = $1 AND status = 'valid' ORDER BY id",
		             &r, P_INT(reg_id));
		for (int i = 0; st == DB_OK && i < r->nrows; i++) {
			st = reissue_one(c, x->a, x->id, reg_id, db_get(r, i, 0),
			                 db_get_int(r, i, 1, 0));
			x->reissued++;
		}
		db_result_free(r);
		r = NULL;
	}
	if (st == DB_OK) {
		char *detail =
		    x->reissued
		        ? xasprintf(
		              "单位名称或代码已变更：%d 张证书需要更新。请将证书U盘插入电脑，"
		              "运行证书管理工具的“证书更新”（esp-token renew），"
		              "在原证书U盘上免费更新为新的证书信息；更新完成后原证书自动吊销。",
		              x->reissued)
		        : NULL;
		st = notify_enqueue(c, NOTICE_CHANGE_APPROVED,
		                    &(struct notice){.registration_id = reg_id, .detail = detail});
		free(detail);
	}
	if (st == DB_OK)
		st = audit_append(c, x->a, "registration.change.approve", obj, "pending",
		                  "approved");
	return st;
}

enum db_status change_decide(db_conn *c, const struct actor *a, int64_t change_id, bool approve,
                             const char *reason, int *reissued, char **blocked)
{
	struct arena *ar = arena_new();
	struct decide_ctx x = {
	    .a = a, .id = change_id, .approve = approve, .reason = reason, .ar = ar};
	enum db_status st = db_transaction(c, decide_tx, &x);
	if (reissued)
		*reissued = st == DB_OK ? x.reissued : 0;
	if (st == DB_CONFLICT && x.blocked && blocked)
		*blocked = x.blocked;
	else
		free(x.blocked);
	arena_free(ar);
	return st;
}

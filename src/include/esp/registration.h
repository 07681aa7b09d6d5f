/*
 * Registrations (报名申请) of the four kinds of applicant and their review (初审).
 *
 * The fields of each kind are one table (registration.c); the pages render
 * the form from it, the server validates against it and stores only what it
 * lists, so a label, a limit and its error message are written once and a
 * field of another kind is never stored.
 */
#ifndef ESP_REGISTRATION_H
#define ESP_REGISTRATION_H

#include <jansson.h>

#include "esp/core.h"

enum reg_kind { KIND_NONE = -1, KIND_AUTHORITY = 0, KIND_AGENCY, KIND_ENTERPRISE, KIND_EVALUATOR };
#define KIND_COUNT 4

enum reg_kind kind_parse(const char *s);
const char *kind_name(enum reg_kind k); /* authority ... */
const char *kind_label(enum reg_kind k); /* 主管机关, 考评机构, 交通运输企业, 考评员 */
const char *kind_portal_label(enum reg_kind k); /* 主管机关用户登录 ... as on the home page */
const char *kind_apply_label(enum reg_kind k); /* 主管机关报名申请 ... */
bool kind_is_unit(enum reg_kind k);

/* How a field's value is checked after its presence, encoding and length. */
enum reg_check {
	CHECK_TEXT,      /* free text: validate_text() only */
	CHECK_UNIT_CODE, /* 统一社会信用代码 or 组织机构代码, normalised */
	CHECK_ID_NUMBER, /* 居民身份证号码, normalised */
	CHECK_PHONE,
	CHECK_MOBILE,
	CHECK_EMAIL,
	CHECK_POSTCODE,
	CHECK_USERNAME,
	CHECK_PASSWORD,  /* not trimmed; any character but controls */
	CHECK_ENUM,      /* one of options */
	CHECK_PROVINCE,  /* a province code in the store */
	CHECK_AUTHORITY, /* an authority id in the store, in the province */
};

/* One field of a kind's form: also the column it is stored in. */
struct reg_field {
	const char *name;
	const char *label; /* Chinese, as on the form; starts its error messages */
	enum reg_check check;
	bool required;
	int maxlen; /* in characters (code points) */
	const char *hint;
	const char *const *options; /* CHECK_ENUM: the allowed values, NULL-terminated */
	bool account;               /* username/password: not on the edit form */
};

/* The fields kind k has, in form order (static; *n = 0 and NULL for no kind).
 * Only these are read from a form and written to the store for k. */
const struct reg_field *registration_fields(enum reg_kind k, size_t *n);
/* Field name of kind k, or NULL when k has no such field. */
const struct reg_field *registration_field(enum reg_kind k, const char *name);

/* The form of a kind as JSON for the template: an array of
 * {name, label, type, required, value, error, options:[{value,label,selected}], hint}.
 * values and errors are objects name → string (may be NULL). editing=true leaves
 * out the username/password fields (resubmission). */
json_t *registration_form(db_conn *c, enum reg_kind k, json_t *values, json_t *errors,
                          bool editing);

/* The registration's fields as [{label, value}] for display, in form order,
 * with the authority and province by name (new reference). */
json_t *registration_rows(enum reg_kind k, json_t *reg);

/* Validates posted values (object name → string) for kind k: removes from
 * values every key that is not a field of k (and the account's when editing),
 * trims and normalises the rest in place.  Returns an object name → Chinese
 * message naming the field, empty when valid (new reference).  own_id: the
 * registration being edited (excluded from the duplicate checks), or 0. */
json_t *registration_validate(db_conn *c, const struct esp_limits *l, enum reg_kind k,
                              json_t *values, bool editing, int64_t own_id);

/* For an authority registration (k), the name that name is the same as once
 * folded (text_fold): an authority in the tree, or else another pending
 * authority registration than own_id (*pending = true); malloc'ed, or NULL. */
char *registration_name_clash(db_conn *c, enum reg_kind k, const char *name, int64_t own_id,
                              bool *pending);

/* Inserts the registration and its applicant account in one transaction.
 * DB_CONFLICT: code or username taken (*which = "code" | "username"). */
enum db_status registration_submit(db_conn *c, enum reg_kind k, json_t *values, const char *address,
                                   int64_t *reg_id, const char **which);
/* Resubmits a rejected registration with corrected values (state → pending). */
enum db_status registration_resubmit(db_conn *c, const struct actor *a, int64_t reg_id,
                                     json_t *values);

/* Loads one registration with its authority's name and path as a JSON object
 * (new reference) or NULL. Strings as stored; "state_label" added. */
json_t *registration_get(db_conn *c, int64_t id);
/* Fills a policy object from a loaded registration (borrows strings from reg). */
void registration_policy_object(json_t *reg, struct policy_object *o);

/* The queue of a reviewer: registrations whose authority is in the subtree
 * of authority_path, newest first, filtered by state (NULL = all). */
json_t *registration_queue(db_conn *c, const char *authority_path, const char *state, int limit,
                           int offset, int64_t *total);

/* 初审. approve=false needs a reason. Refuses (DB_CONFLICT) a decision on a
 * registration that is not pending. For an authority registration, approval
 * also adds its node to the tree under the reviewing authority, and is
 * refused (DB_CONFLICT with *blocked, a Chinese message the caller frees)
 * when the tree has an authority of the same folded name. */
enum db_status registration_decide(db_conn *c, const struct actor *a, int64_t reg_id, bool approve,
                                   const char *reason, char **blocked);
/* Why a loaded registration cannot be approved (Chinese, malloc'ed), or NULL. */
char *registration_approval_blocker(db_conn *c, json_t *reg);

/* The states of a registration: pending (待审核) → approved (已通过) |
 * rejected (未通过) → resubmitted → pending. Stored as their names. */
enum reg_state { REG_STATE_UNKNOWN = -1, REG_PENDING = 0, REG_APPROVED, REG_REJECTED };
#define REG_STATE_COUNT 3
const char *reg_state_name(enum reg_state s);     /* "pending" ...; "" when unknown */
enum reg_state reg_state_parse(const char *name); /* REG_STATE_UNKNOWN when not a state */
/* The label of a stored name; an unknown name is its own label, NULL is "". */
const char *reg_state_label(const char *state);

#endif

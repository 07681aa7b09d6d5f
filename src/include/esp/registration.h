/*
 * Registrations (报名申请) of the four kinds of applicant and their review (初审).
 *
 * The fields of each kind are one table (registration.c); the pages render
 * the form from it (httpd/registration_view.c), the server validates
 * against it and stores only what it lists, so a label, a limit and its error message are written
 * once and a field of another kind is never stored.
 */
#ifndef ESP_REGISTRATION_H
#define ESP_REGISTRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/core.h"
#include "esp/field_error.h"
#include "esp/queue_marks.h"

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

/* The states of a registration: pending (待审核) → approved (已通过) |
 * rejected (未通过) → resubmitted → pending. Stored as their names. */
enum reg_state { REG_STATE_UNKNOWN = -1, REG_PENDING = 0, REG_APPROVED, REG_REJECTED };
#define REG_STATE_COUNT 3
const char *reg_state_name(enum reg_state s);     /* "pending" ...; "" when unknown */
enum reg_state reg_state_parse(const char *name); /* REG_STATE_UNKNOWN when not a state */
/* The label of a stored name; an unknown name is its own label, NULL is "". */
const char *reg_state_label(const char *state);

/* The fields kind k has, in form order (static; *n = 0 and NULL for no kind).
 * Only these are read from a form and written to the store for k. */
const struct reg_field *registration_fields(enum reg_kind k, size_t *n);
/* Field name of kind k, or NULL when k has no such field. */
const struct reg_field *registration_field(enum reg_kind k, const char *name);

/* What a registration form posts, field by field (NULL counts as ""):
 * registration_validate trims and normalises it in place. */
struct registration_input {
	const char *name, *code, *legal_rep, *contact_name, *contact_id_number, *phone, *mobile,
	    *email, *address, *postcode, *category, *grade, *work_unit, *department, *province_code,
	    *authority_id, *username, *password, *password2;
};
/* The value of the field called name in in, or NULL when no field is called so. */
const char **registration_input_at(struct registration_input *in, const char *name);

/* Validates what was posted for kind k: clears every field that is not
 * one of k's (and the account's when editing), copies the rest into arena
 * (so in no longer borrows from the caller), trims and normalises them,
 * and records in *errors a Chinese message naming each wrong field.
 * own_id: the registration being edited (excluded from the duplicate
 * checks), or 0. */
void registration_validate(db_conn *c, const struct esp_limits *l, enum reg_kind k,
                           struct registration_input *in, bool editing, int64_t own_id,
                           struct arena *a, struct field_errors *errors);

/* For an authority registration (k), the name that name is the same as once
 * folded (text_fold): an authority in the tree, or else another pending
 * authority registration than own_id (*pending = true); malloc'ed, or NULL. */
char *registration_name_clash(db_conn *c, enum reg_kind k, const char *name, int64_t own_id,
                              bool *pending);

/* Inserts the registration and its applicant account in one transaction.
 * DB_CONFLICT: code or username taken (*which = "code" | "username"). */
enum db_status registration_submit(db_conn *c, enum reg_kind k, const struct registration_input *in,
                                   const char *address, int64_t *reg_id, const char **which);
/* The same with the password already hashed (password_hash), so that the
 * caller bounds the hash (pwslot.h) and not the write after it. */
enum db_status registration_submit_hashed(db_conn *c, enum reg_kind k,
                                          const struct registration_input *in, const char *hash,
                                          const char *address, int64_t *reg_id, const char **which);
/* Resubmits a rejected registration with corrected values (state → pending). */
enum db_status registration_resubmit(db_conn *c, const struct actor *a, int64_t reg_id,
                                     const struct registration_input *in);

/* A registration with its authority, province and reviewer. Text the
 * store does not have is NULL; a time not yet reached is 0. */
struct registration {
	int64_t id;
	enum reg_kind kind;
	enum reg_state state;
	const char *name, *code, *legal_rep, *contact_name, *contact_id_number, *phone, *mobile,
	    *email, *address, *postcode, *category, *grade, *work_unit, *department;
	const char *province_code;
	int64_t authority_id;
	const char *reject_reason;
	int64_t reviewed_at, created_at, updated_at;
	const char *authority_name, *authority_path, *province, *reviewer;
};
/* Loads one registration (strings in arena); DB_NOT_FOUND when there is none. */
enum db_status registration_get(db_conn *c, struct arena *a, int64_t id, struct registration *out);
/* Fills a policy object from a registration (borrows its strings; reg may be NULL). */
void registration_policy_object(const struct registration *reg, struct policy_object *o);

/* One registration of a reviewer's queue. */
struct registration_row {
	int64_t id;
	enum reg_kind kind;
	const char *state; /* as stored */
	const char *name, *code;
	int64_t created_at;
	const char *authority_name, *province;
};
/* The queue of a reviewer: registrations whose authority is in the subtree
 * of authority_path, newest first, filtered by state (NULL = all); strings
 * and *out in arena, *total counts every match. */
enum db_status registration_queue(db_conn *c, struct arena *a, const char *authority_path,
                                  const char *state, int limit, int offset,
                                  struct registration_row **out, size_t *n, int64_t *total);
/* The same, a deep page of a wide queue starting from a row kept in marks
 * (when one is known and nothing but new rows above it came since) instead
 * of walking every row before it; the rows are those of the plain query.
 * marks NULL: registration_queue. */
enum db_status registration_queue_marked(db_conn *c, struct queue_marks *marks, struct arena *a,
                                         const char *authority_path, const char *state, int limit,
                                         int offset, struct registration_row **out, size_t *n,
                                         int64_t *total);
/* The offset from which registration_queue_marked uses kept rows (<= 0:
 * the built-in 1,000); for tests. */
void registration_queue_marks_from_set(int offset);
/* Pages found from a kept row since the start. */
uint64_t registration_queue_marked_pages(void);

/* 初审. approve=false needs a reason. Refuses (DB_CONFLICT) a decision on a
 * registration that is not pending. For an authority registration, approval
 * also adds its node to the tree under the reviewing authority, and is
 * refused (DB_CONFLICT with *blocked, a Chinese message the caller frees)
 * when the tree has an authority of the same folded name. */
enum db_status registration_decide(db_conn *c, const struct actor *a, int64_t reg_id, bool approve,
                                   const char *reason, char **blocked);
/* Why a registration cannot be approved (Chinese, malloc'ed), or NULL. */
char *registration_approval_blocker(db_conn *c, const struct registration *reg);

#endif

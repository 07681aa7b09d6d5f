/*
 * 信息变更 (change of registration details, core/change.c): a registered
 * unit or evaluator submits new values for its name, code, address and
 * contact; its 主管机关 reviews them (初审) beside the old ones; approved,
 * the registration takes them, and when the name or code changed the
 * valid certificates are re-issued on their tokens through the renewal
 * path (core/renewal.c), the old ones revoked as affiliationChanged.
 */
#ifndef ESP_CHANGE_H
#define ESP_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/core.h"
#include "esp/field_error.h"
#include "esp/registration.h"

/* The fields a change may touch, in form order (static): the kind's own
 * of name, code, work_unit, address, postcode, contact_name,
 * contact_id_number, phone, mobile, email. */
const char *const *change_field_names(size_t *n);
/* Whether field `name` of kind k may be changed. */
bool change_field_applies(enum reg_kind k, const char *name);
/* Whether a change of field `name` changes the certificates' subject. */
bool change_field_reissues(enum reg_kind k, const char *name);
/* Whether kind k sends a new scan (营业执照 ...) with a name or code change. */
bool change_kind_needs_scan(enum reg_kind k);

#define CHANGE_FIELDS_MAX 12
/* What differs: the fields, in form order, with their old and new values
 * (NULL: empty). */
struct change_diff {
	size_t n;
	const char *field[CHANGE_FIELDS_MAX];
	const char *old_value[CHANGE_FIELDS_MAX];
	const char *new_value[CHANGE_FIELDS_MAX];
	bool reissue; /* a field that is in the certificates' subject changed */
};

/* The registration's values as a registration_input (strings borrowed). */
void change_input_from(const struct registration *reg, struct registration_input *in);

/* Validates posted (the change form's fields; the others are ignored and
 * keep reg's values) against the kind's field table as a registration edit
 * would, and records in *diff what differs from reg.  A change that
 * changes nothing is an error of the form ("_form"). Strings in arena. */
void change_validate(db_conn *c, const struct esp_limits *l, const struct registration *reg,
                     const struct registration_input *posted, struct arena *a,
                     struct field_errors *errors, struct change_diff *diff);

/* Stores the change as pending (one open change per registration:
 * DB_CONFLICT when one is open), with its audit entry. scan_id 0: none. */
enum db_status change_submit(db_conn *c, const struct actor *a, int64_t registration_id,
                             const struct change_diff *d, int64_t scan_id, int64_t *change_id);

enum change_state {
	CHANGE_STATE_UNKNOWN = -1,
	CHANGE_PENDING = 0,
	CHANGE_APPROVED,
	CHANGE_RETURNED
};
const char *change_state_name(enum change_state s);  /* "pending" ... */
const char *change_state_label(enum change_state s); /* 待审核, 已通过, 已退回 */
enum change_state change_state_parse(const char *name);

/* A change with what its review needs (strings in an arena). */
struct reg_change {
	int64_t id, registration_id;
	enum change_state state;
	struct change_diff diff;
	int64_t scan_id; /* 0: none */
	const char *reason;
	int64_t created_at, reviewed_at;
	const char *reviewer;
};
enum db_status change_get(db_conn *c, struct arena *a, int64_t id, struct reg_change *out);
/* The registration's newest change; DB_NOT_FOUND when it has none. */
enum db_status change_latest(db_conn *c, struct arena *a, int64_t registration_id,
                             struct reg_change *out);

/* One pending change of a reviewer's queue. */
struct change_row {
	int64_t id, registration_id;
	enum reg_kind kind;
	const char *name, *authority_name;
	int64_t created_at;
	bool reissue;
};
/* The pending changes of registrations whose authority is in the subtree
 * of authority_path, oldest first (at most limit). */
enum db_status change_queue(db_conn *c, struct arena *a, const char *authority_path, int limit,
                            struct change_row **out, size_t *n);

/* 初审 of a change: approve, or return with a reason.  Approved, the
 * registration takes the new values; with diff.reissue every valid
 * certificate of the registration gets a renewal application ready to
 * issue (no fee, applications.change_id), renewed on its token by
 * `esp-token renew`.  Audit, events and the holder's mail in the same
 * transaction.  DB_CONFLICT: not pending, or (*blocked, Chinese,
 * malloc'ed) the new code is taken meanwhile.  *reissued: how many
 * certificates are to be renewed. */
enum db_status change_decide(db_conn *c, const struct actor *a, int64_t change_id, bool approve,
                             const char *reason, int *reissued, char **blocked);

#endif

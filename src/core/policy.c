/*
 * Who may do what: the one function every handler asks.  Handlers never
 * decide access themselves.
 */
#include "esp/policy.h"
#include "esp/registration.h"

#include <string.h>

/* The reviewer's authority is the registration's authority or one above it:
 * paths are "/root/.../self/", so "above or same" is a prefix test. */
static bool in_jurisdiction(const struct actor *a, const struct policy_object *o)
{
	if (!a->authority_path || !o || !o->authority_path || !*a->authority_path)
		return false;
	/* Without its closing '/', "/1/5" would also match "/1/55/". */
	size_t n = strlen(a->authority_path);
	if (a->authority_path[n - 1] != '/')
		return false;
	return strncmp(o->authority_path, a->authority_path, strlen(a->authority_path)) == 0;
}

static bool same_province(const struct actor *a, const struct policy_object *o)
{
	return a->province_code && o && o->province_code &&
	       strcmp(a->province_code, o->province_code) == 0;
}

static bool is_registrant(const struct actor *a, const struct policy_object *o)
{
	return a->role == ROLE_APPLICANT && o && a->registration_id != 0 &&
	       a->registration_id == o->registration_id;
}

static bool approved(const struct policy_object *o)
{
	return o && reg_state_parse(o->reg_state) == REG_APPROVED;
}

static bool is_evaluator(const struct policy_object *o)
{
	return o && o->kind && strcmp(o->kind, "evaluator") == 0;
}

/* A session opened with a certificate (TLS or the signed challenge). */
static bool key_session(const struct actor *a)
{
	return a->session_method && strcmp(a->session_method, "password") != 0;
}

/* Who does 初审: reviewer accounts, and the holder of an approved
 * authority (its registration made it a node of the tree: authority_path),
 * signed in with its key; each in its own subtree (in_jurisdiction). */
static bool reviews(const struct actor *a)
{
	if (a->role == ROLE_REVIEWER)
		return true;
	return a->role == ROLE_APPLICANT && a->authority_path && *a->authority_path &&
	       key_session(a);
}

bool policy_allows(const struct actor *a, enum action act, const struct policy_object *o)
{
	if (act == ACT_ANYONE)
		return true;
	if (!a || a->role == ROLE_NONE)
		return false;
	switch (act) {
	case ACT_REGISTRATION_VIEW:
		return is_registrant(a, o) || (reviews(a) && in_jurisdiction(a, o)) ||
		       a->role == ROLE_ADMIN;
	case ACT_REGISTRATION_EDIT:
		return is_registrant(a, o) && reg_state_parse(o->reg_state) == REG_REJECTED;
	case ACT_REGISTRATION_DECIDE:
		/* An authority's own registration is filed under its parent,
		 * outside its subtree; the check says "never one's own" anyway. */
		return reviews(a) && in_jurisdiction(a, o) && !is_registrant(a, o);
	case ACT_REVIEW_QUEUE:
		return reviews(a);
	case ACT_APPLICATION_CREATE:
	case ACT_APPLICATION_OWN:
		return is_registrant(a, o) && approved(o);
	case ACT_APPLICATION_VIEW:
		return is_registrant(a, o) || (a->role == ROLE_RA && same_province(a, o)) ||
		       (a->role == ROLE_TRAINER && same_province(a, o) && is_evaluator(o)) ||
		       (reviews(a) && in_jurisdiction(a, o)) || a->role == ROLE_ADMIN;
	case ACT_APPLICATION_RA:
		return a->role == ROLE_RA && same_province(a, o);
	case ACT_APPLICATION_TRAINER:
		return a->role == ROLE_TRAINER && same_province(a, o) && is_evaluator(o);
	case ACT_CERT_REVOKE:
		return is_registrant(a, o) || (a->role == ROLE_RA && same_province(a, o)) ||
		       a->role == ROLE_ADMIN;
	case ACT_ADMIN:
		return a->role == ROLE_ADMIN;
	case ACT_ANYONE:
	case ACT_SESSION:
		return true;
	case ACT_REGISTRANT:
		return a->role == ROLE_APPLICANT;
	case ACT_OPERATOR:
		return a->role == ROLE_RA || a->role == ROLE_TRAINER || a->role == ROLE_ADMIN;
	case ACT_API_TOKENS:
		/* RA workstations issue; the admin revokes any certificate. */
		return a->role == ROLE_RA || a->role == ROLE_ADMIN;
	case ACT_MGMT:
		/* An applicant's password session only sees the application
		 * pages: the management system needs the key. */
		return a->role != ROLE_APPLICANT || key_session(a);
	case ACT_CHANGE_SUBMIT:
		return is_registrant(a, o) && approved(o);
	case ACT_CHANGE_REVIEW:
		/* Old and new values of a unit's details: its reviewers, nobody
		 * else (not the admin, not the RA, never the unit itself). */
		return reviews(a) && in_jurisdiction(a, o) && !is_registrant(a, o) && approved(o);
	case ACT_COUNT:
		break;
	}
	return false;
}

static const char *const role_names[] = {"", "applicant", "reviewer", "ra", "trainer", "admin"};
static const char *const role_labels[] = {"",         "申请人",   "初审人员",
                                          "注册机构", "培训机构", "系统管理员"};

static const char *const role_homes[] = {"/home", "/status", "/review", "/ra", "/ra", NULL};

const char *role_name(enum role r)
{
	return role_names[r];
}
const char *role_home(enum role r)
{
	return role_homes[r];
}
const char *role_label(enum role r)
{
	return role_labels[r];
}

enum role role_parse(const char *s)
{
	for (int i = 1; i <= ROLE_ADMIN; i++)
		if (s && strcmp(s, role_names[i]) == 0)
			return (enum role)i;
	return ROLE_NONE;
}

/*
 * Who acts (struct actor, roles) and what they may do: policy_allows is
 * the one place that decides (core/policy.c).
 */
#ifndef ESP_POLICY_H
#define ESP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* ---- who acts ---- */
enum role { ROLE_NONE = 0, ROLE_APPLICANT, ROLE_REVIEWER, ROLE_RA, ROLE_TRAINER, ROLE_ADMIN };
const char *role_name(enum role r); /* "applicant" ... */
const char *role_label(enum role r); /* 申请人, 初审人员, 注册机构, 培训机构, 系统管理员 */
enum role role_parse(const char *s);
/* Where a signed-in actor of the role starts ("/status" ...); NULL for the
 * admin, whose start page is /home itself. */
const char *role_home(enum role r);

struct actor {
	int64_t account_id;
	enum role role;
	const char *username;
	const char *display_name;
	int64_t registration_id;    /* applicants */
	int64_t authority_id;       /* reviewers */
	const char *authority_path; /* reviewers: "/1/5/" */
	const char *authority_name;
	const char *province_code;  /* ra, trainer */
	const char *address;        /* client address, for the audit log */
	const char *session_method; /* password | certificate | challenge */
	const char *cert_serial;
	bool must_change_password; /* an administrator reset the password */
};

/* ---- what they may do: the one place that decides ---- */
enum action {
	ACT_REGISTRATION_VIEW,   /* see a registration */
	ACT_REGISTRATION_EDIT,   /* correct and resubmit after rejection */
	ACT_REGISTRATION_DECIDE, /* approve / reject */
	ACT_REVIEW_QUEUE,        /* see the 初审 queue */
	ACT_APPLICATION_CREATE,  /* apply for keys */
	ACT_APPLICATION_VIEW,    /* see an application and its scan */
	ACT_APPLICATION_OWN,     /* withdraw, print, payment page: the registrant */
	ACT_APPLICATION_RA,      /* record payment, return, issue, ship */
	ACT_APPLICATION_TRAINER, /* evaluators' materials, hand out keys */
	ACT_CERT_REVOKE,         /* 挂失 */
	ACT_ADMIN,               /* directory, fees, drivers, staff accounts */
	/* 信息变更 (core/change.c), asked with the changed registration. */
	ACT_CHANGE_SUBMIT, /* its registrant, once approved */
	ACT_CHANGE_REVIEW, /* see and decide: the 初审 reviewer of its authority path only */
	/* The actions of a route as a whole, asked by dispatch before the
	 * handler runs (no object); the handler asks the ones above with the
	 * record. */
	ACT_ANYONE,     /* public pages: anyone, signed in or not */
	ACT_SESSION,    /* anyone signed in (the record decides the rest) */
	ACT_REGISTRANT, /* the pages of one's own registration: status, apply */
	ACT_OPERATOR,   /* the RA desk: RA, trainer, and the admin's overview */
	ACT_API_TOKENS, /* the RA workstations' API tokens: RA and admin */
	ACT_MGMT,       /* 管理系统: staff, and holders signed in with their key */
	ACT_COUNT
};

/* What the policy needs to know of the object acted on. */
struct policy_object {
	int64_t registration_id;
	const char *kind;           /* registration kind */
	const char *reg_state;      /* registration state */
	const char *authority_path; /* path of the registration's competent authority */
	const char *province_code;  /* the registration's province */
};

bool policy_allows(const struct actor *a, enum action act, const struct policy_object *o);

#endif

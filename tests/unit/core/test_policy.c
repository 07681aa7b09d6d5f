/*
 * Unit tests of src/core/policy.c: policy_allows is the one place that
 * decides who may do what, so every action is checked against every role,
 * with the jurisdiction (authority path prefix), ownership (registrant) and
 * province rules, including the traps: "/1/5/" must not see "/1/55/", a
 * pending registration may not apply for keys, a trainer only sees
 * evaluators.  The actions of a route as a whole (asked by dispatch with
 * no record) are checked for every role and session kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "esp/core.h"

/* ---- the cast ---------------------------------------------------------- */

static const struct actor nobody = {.account_id = 1, .role = ROLE_NONE, .username = "nobody"};
static const struct actor owner = {
    .account_id = 10, .role = ROLE_APPLICANT, .username = "owner", .registration_id = 42};
static const struct actor other_applicant = {
    .account_id = 11, .role = ROLE_APPLICANT, .username = "other", .registration_id = 43};
/* An applicant account whose registration id is not set must own nothing,
 * not even an object whose registration_id is 0. */
static const struct actor applicant_noreg = {
    .account_id = 12, .role = ROLE_APPLICANT, .username = "noreg", .registration_id = 0};
static const struct actor reviewer_root = {.account_id = 20,
                                           .role = ROLE_REVIEWER,
                                           .username = "mot",
                                           .authority_id = 1,
                                           .authority_path = "/1/"};
static const struct actor reviewer_5 = {.account_id = 21,
                                        .role = ROLE_REVIEWER,
                                        .username = "r5",
                                        .authority_id = 5,
                                        .authority_path = "/1/5/"};
static const struct actor reviewer_6 = {.account_id = 22,
                                        .role = ROLE_REVIEWER,
                                        .username = "r6",
                                        .authority_id = 6,
                                        .authority_path = "/1/6/"};
static const struct actor reviewer_55 = {.account_id = 23,
                                         .role = ROLE_REVIEWER,
                                         .username = "r55",
                                         .authority_id = 55,
                                         .authority_path = "/1/55/"};
static const struct actor reviewer_9 = {.account_id = 24,
                                        .role = ROLE_REVIEWER,
                                        .username = "r9",
                                        .authority_id = 9,
                                        .authority_path = "/1/5/9/"};
static const struct actor reviewer_nopath = {.account_id = 25,
                                             .role = ROLE_REVIEWER,
                                             .username = "r?",
                                             .authority_id = 0,
                                             .authority_path = NULL};
static const struct actor reviewer_emptypath = {.account_id = 26,
                                                .role = ROLE_REVIEWER,
                                                .username = "r-",
                                                .authority_id = 0,
                                                .authority_path = ""};
static const struct actor ra_32 = {
    .account_id = 30, .role = ROLE_RA, .username = "ra32", .province_code = "32"};
static const struct actor ra_33 = {
    .account_id = 31, .role = ROLE_RA, .username = "ra33", .province_code = "33"};
static const struct actor ra_none = {
    .account_id = 32, .role = ROLE_RA, .username = "ra?", .province_code = NULL};
static const struct actor trainer_32 = {
    .account_id = 40, .role = ROLE_TRAINER, .username = "tr32", .province_code = "32"};
static const struct actor trainer_33 = {
    .account_id = 41, .role = ROLE_TRAINER, .username = "tr33", .province_code = "33"};
static const struct actor admin = {.account_id = 50, .role = ROLE_ADMIN, .username = "admin"};

/* Registration 42 of an enterprise in 江苏 (32), reviewed by authority 9
 * under 5 under the ministry 1. */
static struct policy_object object(const char *kind, const char *state)
{
	return (struct policy_object){
	    .registration_id = 42,
	    .kind = kind,
	    .reg_state = state,
	    .authority_path = "/1/5/9/",
	    .province_code = "32",
	};
}

static const char *const action_names[] = {
    "REGISTRATION_VIEW",
    "REGISTRATION_EDIT",
    "REGISTRATION_DECIDE",
    "REVIEW_QUEUE",
    "APPLICATION_CREATE",
    "APPLICATION_VIEW",
    "APPLICATION_OWN",
    "APPLICATION_RA",
    "APPLICATION_TRAINER",
    "CERT_REVOKE",
    "ADMIN",
    "CHANGE_SUBMIT",
    "CHANGE_REVIEW",
    "ANYONE",
    "SESSION",
    "REGISTRANT",
    "OPERATOR",
    "API_TOKENS",
    "MGMT",
};
#define NACTIONS ((int)(sizeof action_names / sizeof action_names[0]))
/* The actions asked with a record: the matrices below. */
#define NRECORD (ACT_ADMIN + 1)

static void expect(const struct actor *a, enum action act, const struct policy_object *o, bool want)
{
	bool got = policy_allows(a, act, o);
	if (got != want) {
		print_error("policy_allows(%s, ACT_%s, reg %lld %s/%s at %s in %s) = %s, want %s\n",
		            a ? a->username : "NULL", action_names[act],
		            o ? (long long)o->registration_id : 0LL, o && o->kind ? o->kind : "-",
		            o && o->reg_state ? o->reg_state : "-",
		            o && o->authority_path ? o->authority_path : "-",
		            o && o->province_code ? o->province_code : "-", got ? "true" : "false",
		            want ? "true" : "false");
	}
	assert_int_equal(got, want);
}

/* One row of the matrix: what an actor may do to the standard object. */
struct row {
	const struct actor *a;
	/* Indexed by enum action. */
	bool allow[NRECORD];
};

static void check_matrix(const struct row *rows, size_t n, const struct policy_object *o)
{
	assert_int_equal(NACTIONS, ACT_COUNT);
	for (size_t i = 0; i < n; i++)
		for (int act = 0; act < NRECORD; act++)
			expect(rows[i].a, (enum action)act, o, rows[i].allow[act]);
}

/*                       VIEW   EDIT   DECIDE QUEUE  A_CRE  A_VIEW A_OWN  A_RA   A_TRN  REVOKE ADMIN
 */
#define T true
#define F false

/* ---- the full matrix on an approved enterprise registration ---------- */

static void test_matrix_approved_enterprise(void **state)
{
	(void)state;
	struct policy_object o = object("enterprise", "approved");
	/* clang-format off */
	const struct row rows[] = {
		{&nobody,            {F, F, F, F, F, F, F, F, F, F, F}},
		{&owner,             {T, F, F, F, T, T, T, F, F, T, F}},
		{&other_applicant,   {F, F, F, F, F, F, F, F, F, F, F}},
		{&applicant_noreg,   {F, F, F, F, F, F, F, F, F, F, F}},
		{&reviewer_root,     {T, F, T, T, F, T, F, F, F, F, F}},
		{&reviewer_5,        {T, F, T, T, F, T, F, F, F, F, F}},
		{&reviewer_9,        {T, F, T, T, F, T, F, F, F, F, F}},
		{&reviewer_6,        {F, F, F, T, F, F, F, F, F, F, F}},
		{&reviewer_55,       {F, F, F, T, F, F, F, F, F, F, F}},
		{&reviewer_nopath,   {F, F, F, T, F, F, F, F, F, F, F}},
		{&reviewer_emptypath,{F, F, F, T, F, F, F, F, F, F, F}},
		{&ra_32,             {F, F, F, F, F, T, F, T, F, T, F}},
		{&ra_33,             {F, F, F, F, F, F, F, F, F, F, F}},
		{&ra_none,           {F, F, F, F, F, F, F, F, F, F, F}},
		/* not an evaluator: the trainer has nothing to do with it */
		{&trainer_32,        {F, F, F, F, F, F, F, F, F, F, F}},
		{&trainer_33,        {F, F, F, F, F, F, F, F, F, F, F}},
		{&admin,             {T, F, F, F, F, T, F, F, F, T, T}},
	};
	/* clang-format on */
	check_matrix(rows, sizeof rows / sizeof rows[0], &o);
}

/* ---- an evaluator: the trainer of the same province joins in --------- */

static void test_matrix_approved_evaluator(void **state)
{
	(void)state;
	struct policy_object o = object("evaluator", "approved");
	/* clang-format off */
	const struct row rows[] = {
		{&owner,             {T, F, F, F, T, T, T, F, F, T, F}},
		{&other_applicant,   {F, F, F, F, F, F, F, F, F, F, F}},
		{&reviewer_5,        {T, F, T, T, F, T, F, F, F, F, F}},
		{&reviewer_6,        {F, F, F, T, F, F, F, F, F, F, F}},
		{&ra_32,             {F, F, F, F, F, T, F, T, F, T, F}},
		{&ra_33,             {F, F, F, F, F, F, F, F, F, F, F}},
		{&trainer_32,        {F, F, F, F, F, T, F, F, T, F, F}},
		{&trainer_33,        {F, F, F, F, F, F, F, F, F, F, F}},
		{&admin,             {T, F, F, F, F, T, F, F, F, T, T}},
	};
	/* clang-format on */
	check_matrix(rows, sizeof rows / sizeof rows[0], &o);
}

/* ---- pending and rejected: no keys yet; only a rejected one is edited -- */

static void test_matrix_pending(void **state)
{
	(void)state;
	struct policy_object o = object("enterprise", "pending");
	/* clang-format off */
	const struct row rows[] = {
		{&owner,             {T, F, F, F, F, T, F, F, F, T, F}},
		{&other_applicant,   {F, F, F, F, F, F, F, F, F, F, F}},
		{&reviewer_5,        {T, F, T, T, F, T, F, F, F, F, F}},
		{&ra_32,             {F, F, F, F, F, T, F, T, F, T, F}},
		{&admin,             {T, F, F, F, F, T, F, F, F, T, T}},
	};
	/* clang-format on */
	check_matrix(rows, sizeof rows / sizeof rows[0], &o);
}

static void test_matrix_rejected(void **state)
{
	(void)state;
	struct policy_object o = object("enterprise", "rejected");
	/* clang-format off */
	const struct row rows[] = {
		{&owner,             {T, T, F, F, F, T, F, F, F, T, F}},
		{&other_applicant,   {F, F, F, F, F, F, F, F, F, F, F}},
		{&reviewer_5,        {T, F, T, T, F, T, F, F, F, F, F}},
		{&admin,             {T, F, F, F, F, T, F, F, F, T, T}},
	};
	/* clang-format on */
	check_matrix(rows, sizeof rows / sizeof rows[0], &o);
}

static struct policy_object at_path_of(const char *path)
{
	struct policy_object o = object("enterprise", "pending");
	o.authority_path = path;
	return o;
}

/* ---- an approved authority's holder reviews its own subtree, with its key */

/* Registration 77: the authority 5 itself, approved, filed under the
 * ministry ("/1/"); its node of the tree is "/1/5/". */
static const struct actor holder_5_key = {.account_id = 60,
                                          .role = ROLE_APPLICANT,
                                          .username = "auth5",
                                          .registration_id = 77,
                                          .authority_id = 5,
                                          .authority_path = "/1/5/",
                                          .session_method = "certificate",
                                          .cert_serial = "ab"};
static const struct actor holder_5_challenge = {.account_id = 60,
                                                .role = ROLE_APPLICANT,
                                                .username = "auth5",
                                                .registration_id = 77,
                                                .authority_id = 5,
                                                .authority_path = "/1/5/",
                                                .session_method = "challenge",
                                                .cert_serial = "ab"};
static const struct actor holder_5_password = {.account_id = 60,
                                               .role = ROLE_APPLICANT,
                                               .username = "auth5",
                                               .registration_id = 77,
                                               .authority_id = 5,
                                               .authority_path = "/1/5/",
                                               .session_method = "password"};
/* An enterprise's holder signed in with its key: no node, no review. */
static const struct actor holder_enterprise_key = {.account_id = 61,
                                                   .role = ROLE_APPLICANT,
                                                   .username = "ent",
                                                   .registration_id = 78,
                                                   .session_method = "certificate",
                                                   .cert_serial = "cd"};

static void test_matrix_authority_holder(void **state)
{
	(void)state;
	/* Enterprise 42 filed under 9, below the holder's 5. */
	struct policy_object below = object("enterprise", "pending");
	/* clang-format off */
	const struct row in_subtree[] = {
		{&holder_5_key,          {T, F, T, T, F, T, F, F, F, F, F}},
		{&holder_5_challenge,    {T, F, T, T, F, T, F, F, F, F, F}},
		/* A password session of the holder is an applicant's only. */
		{&holder_5_password,     {F, F, F, F, F, F, F, F, F, F, F}},
		{&holder_enterprise_key, {F, F, F, F, F, F, F, F, F, F, F}},
	};
	/* clang-format on */
	check_matrix(in_subtree, sizeof in_subtree / sizeof in_subtree[0], &below);

	/* A sibling's, the prefix trap's and the parent's own are not its. */
	const char *outside[] = {"/1/6/", "/1/55/", "/1/55/9/", "/1/", ""};
	for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
		struct policy_object o = at_path_of(outside[i]);
		expect(&holder_5_key, ACT_REGISTRATION_VIEW, &o, false);
		expect(&holder_5_key, ACT_REGISTRATION_DECIDE, &o, false);
		expect(&holder_5_key, ACT_APPLICATION_VIEW, &o, false);
	}
	/* Its own registration, filed under the ministry: seen as its own,
	 * never decided by itself. */
	struct policy_object own = object("authority", "approved");
	own.registration_id = 77;
	own.authority_path = "/1/";
	expect(&holder_5_key, ACT_REGISTRATION_VIEW, &own, true);
	expect(&holder_5_key, ACT_REGISTRATION_DECIDE, &own, false);
	/* Even if it were filed in its own subtree. */
	own.authority_path = "/1/5/";
	expect(&holder_5_key, ACT_REGISTRATION_DECIDE, &own, false);
	/* The queue, asked by dispatch without a record. */
	expect(&holder_5_key, ACT_REVIEW_QUEUE, NULL, true);
	expect(&holder_5_password, ACT_REVIEW_QUEUE, NULL, false);
	expect(&holder_enterprise_key, ACT_REVIEW_QUEUE, NULL, false);
	expect(&owner, ACT_REVIEW_QUEUE, NULL, false);
}

#undef T
#undef F

/* ---- jurisdiction: path prefix on whole components --------------------- */

static struct policy_object at_path(const char *path)
{
	struct policy_object o = object("enterprise", "pending");
	o.authority_path = path;
	return o;
}

static void test_jurisdiction_paths(void **state)
{
	(void)state;
	const struct {
		const char *reviewer, *object;
		bool allowed;
	} cases[] = {
	    {"/1/", "/1/", true}, /* the ministry's own */
	    {"/1/", "/1/5/", true},
	    {"/1/", "/1/5/9/", true}, /* reviewer of "/1/" sees "/1/5/9/" */
	    {"/1/5/", "/1/5/", true},
	    {"/1/5/", "/1/5/9/", true},
	    {"/1/5/", "/1/5/9/77/", true},
	    {"/1/5/", "/1/6/", false}, /* a sibling */
	    {"/1/5/", "/1/6/9/", false},
	    {"/1/5/", "/1/", false}, /* above, not below */
	    {"/1/5/9/", "/1/5/", false},
	    {"/1/5/", "/1/55/", false}, /* the prefix trap */
	    {"/1/5/", "/1/55/9/", false},
	    {"/1/5/", "/1/50/", false},
	    {"/1/55/", "/1/5/", false},
	    {"/1/", "/10/", false},
	    {"/1/", "/12/3/", false},
	    {"/2/", "/1/2/", false}, /* the same id elsewhere in the tree */
	    {"/1/5/", "", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct actor r = reviewer_5;
		r.authority_path = cases[i].reviewer;
		struct policy_object o = at_path(cases[i].object);
		expect(&r, ACT_REGISTRATION_VIEW, &o, cases[i].allowed);
		expect(&r, ACT_REGISTRATION_DECIDE, &o, cases[i].allowed);
		expect(&r, ACT_APPLICATION_VIEW, &o, cases[i].allowed);
		expect(&r, ACT_REVIEW_QUEUE, &o, true);
	}
}

static void test_jurisdiction_object_without_path(void **state)
{
	(void)state;
	struct policy_object o = at_path(NULL);
	expect(&reviewer_root, ACT_REGISTRATION_VIEW, &o, false);
	expect(&reviewer_root, ACT_REGISTRATION_DECIDE, &o, false);
	expect(&reviewer_root, ACT_APPLICATION_VIEW, &o, false);
	/* Admin needs no path. */
	expect(&admin, ACT_REGISTRATION_VIEW, &o, true);
}

/* ---- registrant against other registrants ------------------------------ */

static void test_registrant_only_own(void **state)
{
	(void)state;
	struct policy_object mine = object("agency", "approved");
	struct policy_object theirs = mine;
	theirs.registration_id = 43;
	struct policy_object nobodys = mine;
	nobodys.registration_id = 0;

	enum action owner_actions[] = {ACT_REGISTRATION_VIEW, ACT_APPLICATION_CREATE,
	                               ACT_APPLICATION_VIEW, ACT_APPLICATION_OWN, ACT_CERT_REVOKE};
	for (size_t i = 0; i < sizeof owner_actions / sizeof owner_actions[0]; i++) {
		expect(&owner, owner_actions[i], &mine, true);
		expect(&owner, owner_actions[i], &theirs, false);
		expect(&owner, owner_actions[i], &nobodys, false);
		expect(&other_applicant, owner_actions[i], &mine, false);
		expect(&other_applicant, owner_actions[i], &theirs, true);
		expect(&applicant_noreg, owner_actions[i], &nobodys, false);
	}
	/* A staff account with a registration id set (it must not happen, but
	 * if it did) is not a registrant. */
	struct actor ra_with_reg = ra_33;
	ra_with_reg.registration_id = 42;
	expect(&ra_with_reg, ACT_APPLICATION_OWN, &mine, false);
	expect(&ra_with_reg, ACT_APPLICATION_CREATE, &mine, false);
	expect(&ra_with_reg, ACT_REGISTRATION_EDIT, &mine, false);
	struct actor reviewer_with_reg = reviewer_6;
	reviewer_with_reg.registration_id = 42;
	expect(&reviewer_with_reg, ACT_REGISTRATION_VIEW, &mine, false);
	expect(&reviewer_with_reg, ACT_APPLICATION_OWN, &mine, false);
}

/* ---- ACT_APPLICATION_CREATE needs an approved registration -------------- */

static void test_application_create_needs_approval(void **state)
{
	(void)state;
	const char *states[] = {"approved", "pending",  "rejected", "",
	                        NULL,       "APPROVED", "approved "};
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		struct policy_object o = object("enterprise", states[i]);
		bool ok = states[i] && strcmp(states[i], "approved") == 0;
		expect(&owner, ACT_APPLICATION_CREATE, &o, ok);
		expect(&owner, ACT_APPLICATION_OWN, &o, ok);
		expect(&other_applicant, ACT_APPLICATION_CREATE, &o, false);
		expect(&admin, ACT_APPLICATION_CREATE, &o, false);
		expect(&ra_32, ACT_APPLICATION_CREATE, &o, false);
		expect(&reviewer_root, ACT_APPLICATION_CREATE, &o, false);
	}
}

static void test_registration_edit_only_rejected(void **state)
{
	(void)state;
	const char *states[] = {"rejected", "pending", "approved", NULL};
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		struct policy_object o = object("evaluator", states[i]);
		bool ok = states[i] && strcmp(states[i], "rejected") == 0;
		expect(&owner, ACT_REGISTRATION_EDIT, &o, ok);
		expect(&other_applicant, ACT_REGISTRATION_EDIT, &o, false);
		expect(&admin, ACT_REGISTRATION_EDIT, &o, false);
		expect(&reviewer_root, ACT_REGISTRATION_EDIT, &o, false);
	}
}

/* ---- RA and trainer: same province only; trainer only for evaluators ---- */

static void test_ra_province(void **state)
{
	(void)state;
	const char *kinds[] = {"authority", "agency", "enterprise", "evaluator"};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct policy_object o = object(kinds[k], "approved");
		expect(&ra_32, ACT_APPLICATION_RA, &o, true);
		expect(&ra_32, ACT_APPLICATION_VIEW, &o, true);
		expect(&ra_32, ACT_CERT_REVOKE, &o, true);
		expect(&ra_32, ACT_APPLICATION_TRAINER, &o, false);
		expect(&ra_33, ACT_APPLICATION_RA, &o, false);
		expect(&ra_33, ACT_APPLICATION_VIEW, &o, false);
		expect(&ra_33, ACT_CERT_REVOKE, &o, false);
		expect(&ra_none, ACT_APPLICATION_RA, &o, false);
		/* 新疆生产建设兵团 has its own code */
		struct actor ra_xjbt = ra_32;
		ra_xjbt.province_code = "XJBT";
		expect(&ra_xjbt, ACT_APPLICATION_RA, &o, false);
		o.province_code = "XJBT";
		expect(&ra_xjbt, ACT_APPLICATION_RA, &o, true);
		expect(&ra_32, ACT_APPLICATION_RA, &o, false);
		/* An object without a province belongs to no RA. */
		o.province_code = NULL;
		expect(&ra_32, ACT_APPLICATION_RA, &o, false);
		expect(&ra_none, ACT_APPLICATION_RA, &o, false);
	}
	/* Province codes compare whole: "3" is not "32". */
	struct actor ra_3 = ra_32;
	ra_3.province_code = "3";
	struct policy_object o = object("enterprise", "approved");
	expect(&ra_3, ACT_APPLICATION_RA, &o, false);
}

static void test_trainer_evaluators_only(void **state)
{
	(void)state;
	const char *kinds[] = {"authority", "agency", "enterprise", "evaluator",
	                       "Evaluator", "",       NULL};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct policy_object o = object(kinds[k], "approved");
		bool ev = kinds[k] && strcmp(kinds[k], "evaluator") == 0;
		expect(&trainer_32, ACT_APPLICATION_TRAINER, &o, ev);
		expect(&trainer_32, ACT_APPLICATION_VIEW, &o, ev);
		expect(&trainer_33, ACT_APPLICATION_TRAINER, &o, false);
		expect(&trainer_33, ACT_APPLICATION_VIEW, &o, false);
		expect(&trainer_32, ACT_APPLICATION_RA, &o, false);
		expect(&trainer_32, ACT_CERT_REVOKE, &o, false);
		expect(&trainer_32, ACT_REGISTRATION_VIEW, &o, false);
		expect(&trainer_32, ACT_ADMIN, &o, false);
	}
}

/* ---- admin and the degenerate inputs ------------------------------------ */

static void test_admin(void **state)
{
	(void)state;
	struct policy_object o = object("authority", "pending");
	expect(&admin, ACT_ADMIN, NULL, true);
	expect(&admin, ACT_ADMIN, &o, true);
	expect(&admin, ACT_REGISTRATION_VIEW, &o, true);
	expect(&admin, ACT_APPLICATION_VIEW, &o, true);
	expect(&admin, ACT_CERT_REVOKE, &o, true);
	/* The admin manages, it does not review or act for the RA. */
	expect(&admin, ACT_REGISTRATION_DECIDE, &o, false);
	expect(&admin, ACT_REVIEW_QUEUE, &o, false);
	expect(&admin, ACT_APPLICATION_RA, &o, false);
	expect(&admin, ACT_APPLICATION_TRAINER, &o, false);
	const struct actor *staff[] = {&owner, &reviewer_root, &ra_32, &trainer_32, &nobody};
	for (size_t i = 0; i < sizeof staff / sizeof staff[0]; i++) {
		expect(staff[i], ACT_ADMIN, NULL, false);
		expect(staff[i], ACT_ADMIN, &o, false);
	}
}

static void test_null_actor_and_object(void **state)
{
	(void)state;
	struct policy_object o = object("evaluator", "approved");
	/* No actor (anonymous) may do anything but what anyone may. */
	for (int act = 0; act < NACTIONS; act++) {
		bool want = act == ACT_ANYONE;
		assert_int_equal(policy_allows(NULL, (enum action)act, &o), want);
		assert_int_equal(policy_allows(NULL, (enum action)act, NULL), want);
		assert_int_equal(policy_allows(&nobody, (enum action)act, &o), want);
	}
	/* Without an object only the object-free rights remain. */
	const struct actor *all[] = {&owner, &reviewer_root, &ra_32, &trainer_32, &admin};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		for (int act = 0; act < NRECORD; act++) {
			bool want = (act == ACT_REVIEW_QUEUE && all[i]->role == ROLE_REVIEWER) ||
			            (all[i]->role == ROLE_ADMIN &&
			             (act == ACT_ADMIN || act == ACT_REGISTRATION_VIEW ||
			              act == ACT_APPLICATION_VIEW || act == ACT_CERT_REVOKE));
			expect(all[i], (enum action)act, NULL, want);
		}
	}
	/* Unknown action numbers are refused. */
	assert_false(policy_allows(&admin, (enum action)99, &o));
	assert_false(policy_allows(&admin, (enum action) - 1, &o));
	assert_false(policy_allows(&admin, ACT_COUNT, &o));
	assert_false(policy_allows(NULL, ACT_COUNT, NULL));
}

/* ---- the routes' actions: every role, every kind of session ------------- */

static struct actor with_session(const struct actor *a, const char *method)
{
	struct actor x = *a;
	x.session_method = method;
	return x;
}

/* 信息变更: the registrant submits once approved; only the reviewers of
 * the registration's authority path see and decide it: not another
 * authority, not the RA, the trainer or the admin, never the unit itself. */
static void test_change_actions(void **state)
{
	(void)state;
	struct policy_object o = object("enterprise", "approved");
	const struct actor *all[] = {
	    &nobody,        &owner,           &other_applicant,    &applicant_noreg,
	    &reviewer_root, &reviewer_5,      &reviewer_6,         &reviewer_55,
	    &reviewer_9,    &reviewer_nopath, &reviewer_emptypath, &ra_32,
	    &ra_33,         &ra_none,         &trainer_32,         &trainer_33,
	    &admin};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		const struct actor *a = all[i];
		expect(a, ACT_CHANGE_SUBMIT, &o, a == &owner);
		expect(a, ACT_CHANGE_REVIEW, &o,
		       a == &reviewer_root || a == &reviewer_5 || a == &reviewer_9);
		expect(a, ACT_CHANGE_SUBMIT, NULL, false);
		expect(a, ACT_CHANGE_REVIEW, NULL, false);
	}
	/* Before approval there is nothing registered to change. */
	struct policy_object p = object("enterprise", "pending");
	expect(&owner, ACT_CHANGE_SUBMIT, &p, false);
	expect(&reviewer_5, ACT_CHANGE_REVIEW, &p, false);
	struct policy_object r = object("evaluator", "rejected");
	expect(&owner, ACT_CHANGE_SUBMIT, &r, false);
	/* An approved authority reviews with its key, never its own change. */
	struct actor holder = owner;
	holder.authority_path = "/1/5/";
	holder.session_method = "certificate";
	expect(&holder, ACT_CHANGE_REVIEW, &o, false);
	struct policy_object other = o;
	other.registration_id = 77;
	expect(&holder, ACT_CHANGE_REVIEW, &other, true);
	holder.session_method = "password";
	expect(&holder, ACT_CHANGE_REVIEW, &other, false);
}

static void test_route_actions_every_role(void **state)
{
	(void)state;
	/* Every actor of the cast, each with a password session, a TLS
	 * certificate session, the signed challenge's, and none recorded. */
	const struct actor *cast[] = {&nobody,          &owner,         &other_applicant,
	                              &applicant_noreg, &reviewer_root, &reviewer_5,
	                              &reviewer_nopath, &ra_32,         &ra_none,
	                              &trainer_32,      &trainer_33,    &admin};
	const char *methods[] = {"password", "certificate", "challenge", NULL};
	/*                 ANYONE SESSION REGISTRANT OPERATOR API_TOKENS MGMT(password) MGMT(key) */
	/* clang-format off */
	const struct {
		enum role role;
		bool allow[7];
	} want[] = {
	    {ROLE_NONE,      {true, false, false, false, false, false, false}},
	    {ROLE_APPLICANT, {true, true,  true,  false, false, false, true}},
	    {ROLE_REVIEWER,  {true, true,  false, false, false, true,  true}},
	    {ROLE_RA,        {true, true,  false, true,  true,  true,  true}},
	    {ROLE_TRAINER,   {true, true,  false, true,  false, true,  true}},
	    {ROLE_ADMIN,     {true, true,  false, true,  true,  true,  true}},
	};
	/* clang-format on */
	struct policy_object o = object("evaluator", "approved");
	for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++) {
		const bool *allow = NULL;
		for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
			if (want[w].role == cast[i]->role)
				allow = want[w].allow;
		assert_non_null(allow);
		for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
			struct actor a = with_session(cast[i], methods[m]);
			/* A session whose method is unknown is not a key session. */
			bool key = methods[m] && strcmp(methods[m], "password") != 0;
			for (int act = ACT_ANYONE; act < ACT_COUNT; act++) {
				bool w =
				    act == ACT_MGMT ? allow[key ? 6 : 5] : allow[act - ACT_ANYONE];
				/* The record does not matter to a route's action. */
				expect(&a, (enum action)act, NULL, w);
				expect(&a, (enum action)act, &o, w);
			}
		}
	}
}

static void test_role_home(void **state)
{
	(void)state;
	assert_string_equal(role_home(ROLE_APPLICANT), "/status");
	assert_string_equal(role_home(ROLE_REVIEWER), "/review");
	assert_string_equal(role_home(ROLE_RA), "/ra");
	assert_string_equal(role_home(ROLE_TRAINER), "/ra");
	assert_string_equal(role_home(ROLE_NONE), "/home");
	/* The admin starts on /home itself: no redirect loop. */
	assert_null(role_home(ROLE_ADMIN));
}

/* The RA back office and the workstations' API tokens: decided by role
 * alone, whatever object comes along (each operator's part of the queue is
 * ra_filter_scope's). */
static void test_ra_office_and_tokens(void **state)
{
	(void)state;
	struct policy_object unit = object("enterprise", "approved");
	struct policy_object eval = object("evaluator", "approved");
	const struct {
		const struct actor *a;
		bool office, tokens;
	} rows[] = {
	    {&nobody, false, false},
	    {&owner, false, false},
	    {&other_applicant, false, false},
	    {&applicant_noreg, false, false},
	    {&reviewer_root, false, false},
	    {&reviewer_5, false, false},
	    {&ra_32, true, true},
	    {&ra_33, true, true},
	    {&ra_none, true, true},
	    {&trainer_32, true, false},
	    {&trainer_33, true, false},
	    {&admin, true, true},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct policy_object *objs[] = {NULL, &unit, &eval};
		for (size_t k = 0; k < 3; k++) {
			expect(rows[i].a, ACT_OPERATOR, objs[k], rows[i].office);
			expect(rows[i].a, ACT_API_TOKENS, objs[k], rows[i].tokens);
		}
	}
	assert_false(policy_allows(NULL, ACT_OPERATOR, NULL));
	assert_false(policy_allows(NULL, ACT_API_TOKENS, NULL));
}

static void test_role_names(void **state)
{
	(void)state;
	for (int r = ROLE_APPLICANT; r <= ROLE_ADMIN; r++) {
		assert_int_equal(role_parse(role_name((enum role)r)), r);
		assert_true(strlen(role_label((enum role)r)) > 0);
	}
	assert_string_equal(role_name(ROLE_REVIEWER), "reviewer");
	assert_string_equal(role_label(ROLE_RA), "注册机构");
	assert_int_equal(role_parse(NULL), ROLE_NONE);
	assert_int_equal(role_parse(""), ROLE_NONE);
	assert_int_equal(role_parse("Admin"), ROLE_NONE);
	assert_int_equal(role_parse("admin "), ROLE_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matrix_approved_enterprise),
	    cmocka_unit_test(test_matrix_approved_evaluator),
	    cmocka_unit_test(test_matrix_pending),
	    cmocka_unit_test(test_matrix_rejected),
	    cmocka_unit_test(test_matrix_authority_holder),
	    cmocka_unit_test(test_jurisdiction_paths),
	    cmocka_unit_test(test_jurisdiction_object_without_path),
	    cmocka_unit_test(test_registrant_only_own),
	    cmocka_unit_test(test_application_create_needs_approval),
	    cmocka_unit_test(test_registration_edit_only_rejected),
	    cmocka_unit_test(test_ra_province),
	    cmocka_unit_test(test_trainer_evaluators_only),
	    cmocka_unit_test(test_admin),
	    cmocka_unit_test(test_null_actor_and_object),
	    cmocka_unit_test(test_ra_office_and_tokens),
	    cmocka_unit_test(test_role_names),
	    cmocka_unit_test(test_route_actions_every_role),
	    cmocka_unit_test(test_change_actions),
	    cmocka_unit_test(test_role_home),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

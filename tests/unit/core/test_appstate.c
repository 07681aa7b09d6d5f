/*
 * Unit tests of src/core/appstate.c, the application's one state machine:
 * every state × step × role × combination of facts against an expected
 * table written here independently, from the manual and from what the
 * pages and transactions did before the table existed; the names and the
 * labels the pages show; and the RA steps' refusals through the core
 * transactions (core/ra.c, core/application.c) on SQLite and, when
 * ESP_PG_CLUSTER is set, on PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/appstate.h"
#include "esp/audit.h"
#include "esp/core.h"
#include "esp/db.h"
#include "esp/fee.h"
#include "esp/ra.h"
#include "esp/renewal.h"
#include "esp/sopin.h"
#include "esp/util.h"
#include "../dbfixture.h"

#define EVAL APP_FACT_EVALUATOR
#define PAID APP_FACT_PAID
#define MATS APP_FACT_MATERIALS
#define CERTS APP_FACT_CERTS
#define LAST APP_FACT_LAST_SET
#define RENEW APP_FACT_RENEWAL
#define UNLK APP_FACT_UNLOCK

/* ---- the expected machine, written as the manual tells it ----------------- */

static bool before_issue(enum app_state s)
{
	return s == APP_SUBMITTED || s == APP_PAID || s == APP_MATERIALS_RECEIVED ||
	       s == APP_READY_TO_ISSUE;
}

static bool want_renewal(enum app_state from, enum app_step step, enum role who, unsigned f,
                         enum app_state *to);
static bool want_unlock(enum app_state from, enum app_step step, enum role who, unsigned f,
                        enum app_state *to);

static bool want(enum app_state from, enum app_step step, enum role who, unsigned f,
                 enum app_state *to)
{
	if (f & UNLK)
		return want_unlock(from, step, who, f, to);
	if (f & RENEW)
		return want_renewal(from, step, who, f, to);
	bool eval = f & EVAL, paid = f & PAID, mats = f & MATS, certs = f & CERTS, last = f & LAST;
	bool ra = who == ROLE_RA, trainer = who == ROLE_TRAINER, holder = who == ROLE_APPLICANT;
	switch (step) {
	case STEP_SUBMIT: /* the applicant sends the form */
		*to = APP_SUBMITTED;
		return holder && from == APP_NEW;
	case STEP_WITHDRAW: /* 撤销: only while nothing is recorded */
		*to = APP_WITHDRAWN;
		return holder && from == APP_SUBMITTED && !paid && !mats;
	case STEP_PAYMENT: /* units pay the RA; evaluators pay nothing */
		if (!ra || eval || paid)
			return false;
		*to = from == APP_SUBMITTED ? APP_PAID : APP_READY_TO_ISSUE;
		return from == APP_SUBMITTED || from == APP_MATERIALS_RECEIVED;
	case STEP_MATERIALS: /* units' materials go to the RA, evaluators' to the trainer */
		if (mats)
			return false;
		if (ra && !eval && from == APP_SUBMITTED) {
			*to = APP_MATERIALS_RECEIVED;
			return true;
		}
		if (ra && !eval && from == APP_PAID) {
			*to = APP_READY_TO_ISSUE;
			return true;
		}
		*to = APP_READY_TO_ISSUE;
		return trainer && eval && from == APP_SUBMITTED;
	case STEP_RETURN: /* before issuance, never once a set has its certificate */
		*to = APP_RETURNED;
		if (certs || !before_issue(from))
			return false;
		return ra ||
		       (trainer && eval && (from == APP_SUBMITTED || from == APP_READY_TO_ISSUE));
	case STEP_RESUBMIT: /* materials sent again; a payment stands */
		*to = paid ? APP_PAID : APP_SUBMITTED;
		return holder && from == APP_RETURNED;
	case STEP_ISSUE: /* one set each time; issued with the last */
		*to = last ? APP_ISSUED : APP_READY_TO_ISSUE;
		return ra && from == APP_READY_TO_ISSUE;
	case STEP_SHIP:
		*to = APP_SHIPPED;
		return ra && !eval && from == APP_ISSUED;
	case STEP_PICKUP:
		*to = APP_READY_FOR_PICKUP;
		return ra && eval && from == APP_ISSUED;
	case STEP_RECEIVED:
		*to = APP_RECEIVED;
		return (ra && !eval && from == APP_SHIPPED) ||
		       (trainer && eval && from == APP_READY_FOR_PICKUP);
	case STEP_CONFIRM: /* renewals and unlocks only */
	case STEP_APPROVE:
	case APP_STEP_COUNT:
		break;
	}
	return false;
}

/* 更新: the token is kept, so nothing is sent or shipped; units pay the RA,
 * evaluators go through the trainer; the holder's tool has the one
 * certificate issued and confirms it (issue 13). */
static bool want_renewal(enum app_state from, enum app_step step, enum role who, unsigned f,
                         enum app_state *to)
{
	bool eval = f & EVAL, paid = f & PAID, mats = f & MATS, certs = f & CERTS;
	bool ra = who == ROLE_RA, trainer = who == ROLE_TRAINER, holder = who == ROLE_APPLICANT;
	switch (step) {
	case STEP_SUBMIT:
		*to = APP_SUBMITTED;
		return holder && from == APP_NEW;
	case STEP_WITHDRAW:
		*to = APP_WITHDRAWN;
		return holder && from == APP_SUBMITTED && !paid && !mats;
	case STEP_PAYMENT: /* no materials to wait for: paid is ready */
		*to = APP_READY_TO_ISSUE;
		return ra && !eval && !paid && from == APP_SUBMITTED;
	case STEP_MATERIALS: /* only the trainer's confirmation of an evaluator */
		*to = APP_READY_TO_ISSUE;
		return trainer && eval && !mats && from == APP_SUBMITTED;
	case STEP_RETURN:
		*to = APP_RETURNED;
		if (certs || !before_issue(from))
			return false;
		return ra ||
		       (trainer && eval && (from == APP_SUBMITTED || from == APP_READY_TO_ISSUE));
	case STEP_RESUBMIT:
		*to = paid ? APP_READY_TO_ISSUE : APP_SUBMITTED;
		return holder && from == APP_RETURNED;
	case STEP_ISSUE: /* the holder's tool, never the RA */
		*to = APP_ISSUED;
		return holder && from == APP_READY_TO_ISSUE;
	case STEP_CONFIRM:
		*to = APP_RENEWED;
		return holder && from == APP_ISSUED;
	case STEP_SHIP:
	case STEP_PICKUP:
	case STEP_RECEIVED:
	case STEP_APPROVE:
	case APP_STEP_COUNT:
		break;
	}
	return false;
}

/* 密码解锁: free, approved by the RA (for evaluators too), done by the
 * holder's tool with a one-time authorisation (issue 13, item 4). */
static bool want_unlock(enum app_state from, enum app_step step, enum role who, unsigned f,
                        enum app_state *to)
{
	bool paid = f & PAID, mats = f & MATS, certs = f & CERTS;
	bool ra = who == ROLE_RA, holder = who == ROLE_APPLICANT;
	switch (step) {
	case STEP_SUBMIT:
		*to = APP_SUBMITTED;
		return holder && from == APP_NEW;
	case STEP_WITHDRAW:
		*to = APP_WITHDRAWN;
		return holder && from == APP_SUBMITTED && !paid && !mats;
	case STEP_RETURN:
		*to = APP_RETURNED;
		return ra && from == APP_SUBMITTED && !certs;
	case STEP_RESUBMIT:
		*to = APP_SUBMITTED;
		return holder && from == APP_RETURNED && !paid;
	case STEP_APPROVE:
		*to = APP_UNLOCK_APPROVED;
		return ra && from == APP_SUBMITTED;
	case STEP_CONFIRM:
		*to = APP_UNLOCKED;
		return holder && from == APP_UNLOCK_APPROVED;
	default:
		return false;
	}
}

static void test_every_state_step_role_and_fact(void **state)
{
	(void)state;
	int allowed = 0;
	for (int s = 0; s < APP_STATE_COUNT; s++)
		for (int st = 0; st < APP_STEP_COUNT; st++)
			for (int w = ROLE_NONE; w <= ROLE_ADMIN; w++)
				for (unsigned f = 0; f <= APP_FACTS_ALL; f++) {
					enum app_state exp = APP_STATE_UNKNOWN,
					               got = APP_STATE_UNKNOWN;
					bool e = want((enum app_state)s, (enum app_step)st,
					              (enum role)w, f, &exp);
					bool g = appstate_next((enum app_state)s, (enum app_step)st,
					                       (enum role)w, f, &got);
					if (e != g || (e && exp != got))
						fail_msg(
						    "%s --%s by %s, facts %#x--> %s %s, want %s %s",
						    appstate_name((enum app_state)s),
						    appstep_name((enum app_step)st),
						    role_name((enum role)w), f,
						    g ? "allowed" : "refused",
						    g ? appstate_name(got) : "",
						    e ? "allowed" : "refused",
						    e ? appstate_name(exp) : "");
					/* A refusal leaves *to alone; NULL is accepted. */
					if (!g)
						assert_int_equal(got, APP_STATE_UNKNOWN);
					assert_int_equal(appstate_next((enum app_state)s,
					                               (enum app_step)st,
					                               (enum role)w, f, NULL),
					                 e);
					allowed += e;
				}
	assert_true(allowed > 0);
	/* Out of range is refused, never read past the table. */
	assert_false(appstate_next(APP_STATE_UNKNOWN, STEP_PAYMENT, ROLE_RA, 0, NULL));
	assert_false(appstate_next(APP_STATE_COUNT, STEP_PAYMENT, ROLE_RA, 0, NULL));
	assert_false(appstate_next(APP_SUBMITTED, APP_STEP_COUNT, ROLE_RA, 0, NULL));
	assert_false(appstate_next(APP_SUBMITTED, STEP_PAYMENT, (enum role)99, 0, NULL));
}

/* Terminal states take no step from anyone. */
static void test_terminal_states(void **state)
{
	(void)state;
	const enum app_state ends[] = {APP_RECEIVED, APP_WITHDRAWN, APP_RENEWED, APP_UNLOCKED};
	for (size_t i = 0; i < 4; i++)
		for (int st = 0; st < APP_STEP_COUNT; st++)
			for (int w = ROLE_NONE; w <= ROLE_ADMIN; w++)
				for (unsigned f = 0; f <= APP_FACTS_ALL; f++)
					assert_false(appstate_next(ends[i], (enum app_step)st,
					                           (enum role)w, f, NULL));
	/* Reviewers, the admin and nobody take no step at all. */
	const enum role lookers[] = {ROLE_NONE, ROLE_REVIEWER, ROLE_ADMIN};
	for (size_t i = 0; i < 3; i++)
		for (int s = 0; s < APP_STATE_COUNT; s++)
			for (int st = 0; st < APP_STEP_COUNT; st++)
				for (unsigned f = 0; f <= APP_FACTS_ALL; f++)
					assert_false(appstate_next((enum app_state)s,
					                           (enum app_step)st, lookers[i], f,
					                           NULL));
}

/* ---- the buttons are those the RA page showed before the table ------------ */

/* The combinations that can occur: what each state implies of the facts,
 * and a trainer acts only on evaluators (the policy). */
static bool reachable(enum app_state s, enum role who, unsigned f)
{
	bool eval = f & EVAL, paid = f & PAID, mats = f & MATS, certs = f & CERTS;
	if (f & LAST)
		return false; /* a fact of issuing, not of a stored application */
	if (f & (RENEW | UNLK))
		return false; /* renewals and unlocks came after the old page */
	if (eval && paid)
		return false;
	if (who == ROLE_TRAINER && !eval)
		return false;
	bool ready = mats && (paid || eval);
	switch (s) {
	case APP_SUBMITTED:
	case APP_WITHDRAWN:
		return !paid && !mats && !certs;
	case APP_PAID:
		return !eval && paid && !mats && !certs;
	case APP_MATERIALS_RECEIVED:
		return !eval && !paid && mats && !certs;
	case APP_READY_TO_ISSUE:
		return ready;
	case APP_ISSUED:
	case APP_RECEIVED:
		return ready && certs;
	case APP_SHIPPED:
		return ready && certs && !eval;
	case APP_READY_FOR_PICKUP:
		return ready && certs && eval;
	case APP_RETURNED:
		return !certs;
	default:
		return false;
	}
}

static bool is(enum app_state s, const char *name)
{
	return strcmp(appstate_name(s), name) == 0;
}

/* The formulas of page_ra.c before the table, verbatim but for the types. */
static void old_buttons(enum app_state s, enum role who, unsigned f, bool out[7])
{
	bool ra = who == ROLE_RA, trainer = who == ROLE_TRAINER;
	bool eval = f & EVAL, paid = f & PAID, mats = f & MATS, has_certs = f & CERTS;
	bool before = is(s, "submitted") || is(s, "paid") || is(s, "materials_received") ||
	              is(s, "ready_to_issue");
	out[0] = ra && !eval && !paid && (is(s, "submitted") || is(s, "materials_received"));
	out[1] = (eval ? trainer : ra) && !mats && (is(s, "submitted") || is(s, "paid"));
	out[2] = (ra || (trainer && eval)) && before && !has_certs;
	out[3] = ra && is(s, "ready_to_issue");
	out[4] = ra && !eval && is(s, "issued");
	out[5] = ra && eval && is(s, "issued");
	out[6] = (ra && is(s, "shipped")) || (trainer && is(s, "ready_for_pickup"));
}

static void test_buttons_unchanged(void **state)
{
	(void)state;
	const enum app_step steps[7] = {STEP_PAYMENT, STEP_MATERIALS, STEP_RETURN,  STEP_ISSUE,
	                                STEP_SHIP,    STEP_PICKUP,    STEP_RECEIVED};
	int seen = 0;
	for (int s = APP_SUBMITTED; s < APP_STATE_COUNT; s++)
		for (int w = ROLE_NONE; w <= ROLE_ADMIN; w++)
			for (unsigned f = 0; f <= APP_FACTS_ALL; f++) {
				if (!reachable((enum app_state)s, (enum role)w, f))
					continue;
				bool old[7];
				old_buttons((enum app_state)s, (enum role)w, f, old);
				for (int b = 0; b < 7; b++) {
					bool now = appstate_next((enum app_state)s, steps[b],
					                         (enum role)w, f, NULL);
					if (now != old[b])
						fail_msg("%s by %s facts %#x: button %s %d, was %d",
						         appstate_name((enum app_state)s),
						         role_name((enum role)w), f,
						         appstep_name(steps[b]), now, old[b]);
				}
				seen++;
			}
	assert_true(seen > 50);
}

/* Whether a step is ever a role's: the RA page answers 403 when not. */
static void test_step_is_for(void **state)
{
	(void)state;
	for (int st = 0; st < APP_STEP_COUNT; st++)
		for (int w = ROLE_NONE; w <= ROLE_ADMIN; w++)
			for (unsigned e = 0; e <= 7; e++) {
				/* e: the kind, evaluator (bit 0), renewal (1), unlock (2) */
				unsigned kind = (e & 1 ? EVAL : 0u) | (e & 2 ? RENEW : 0u) |
				                (e & 4 ? UNLK : 0u);
				bool any = false;
				for (int s = 0; s < APP_STATE_COUNT; s++)
					for (unsigned f = 0; f <= APP_FACTS_ALL; f++) {
						enum app_state to;
						if ((f & APP_FACTS_KIND) == kind &&
						    want((enum app_state)s, (enum app_step)st,
						         (enum role)w, f, &to))
							any = true;
					}
				/* Other facts than the kind do not count. */
				for (unsigned f = 0; f <= APP_FACTS_ALL; f++)
					if ((f & APP_FACTS_KIND) == kind)
						assert_int_equal(
						    appstate_step_is_for((enum app_step)st,
						                         (enum role)w, f),
						    any);
			}
	/* As the pages used it. */
	assert_true(appstate_step_is_for(STEP_PAYMENT, ROLE_RA, 0));
	assert_false(appstate_step_is_for(STEP_PAYMENT, ROLE_RA, EVAL));
	assert_false(appstate_step_is_for(STEP_MATERIALS, ROLE_RA, EVAL));
	assert_true(appstate_step_is_for(STEP_MATERIALS, ROLE_TRAINER, EVAL));
	assert_false(appstate_step_is_for(STEP_MATERIALS, ROLE_TRAINER, 0));
	assert_true(appstate_step_is_for(STEP_RETURN, ROLE_TRAINER, EVAL));
	assert_true(appstate_step_is_for(STEP_PICKUP, ROLE_RA, EVAL));
	assert_false(appstate_step_is_for(STEP_SHIP, ROLE_RA, EVAL));
	assert_true(appstate_step_is_for(STEP_RECEIVED, ROLE_TRAINER, EVAL));
	assert_false(appstate_step_is_for(STEP_RECEIVED, ROLE_RA, EVAL));
	assert_false(appstate_step_is_for(STEP_ISSUE, ROLE_ADMIN, 0));
	assert_false(appstate_step_is_for(APP_STEP_COUNT, ROLE_RA, 0));
	/* Renewals: the RA takes the payment, never materials, issuance or shipping. */
	assert_true(appstate_step_is_for(STEP_PAYMENT, ROLE_RA, RENEW));
	assert_false(appstate_step_is_for(STEP_MATERIALS, ROLE_RA, RENEW));
	assert_false(appstate_step_is_for(STEP_ISSUE, ROLE_RA, RENEW));
	assert_false(appstate_step_is_for(STEP_SHIP, ROLE_RA, RENEW));
	assert_true(appstate_step_is_for(STEP_ISSUE, ROLE_APPLICANT, RENEW));
	assert_true(appstate_step_is_for(STEP_CONFIRM, ROLE_APPLICANT, RENEW | EVAL));
	assert_false(appstate_step_is_for(STEP_CONFIRM, ROLE_APPLICANT, 0));
	/* Unlocks: the RA approves (evaluators too) and may return; nothing else is its. */
	assert_true(appstate_step_is_for(STEP_APPROVE, ROLE_RA, UNLK));
	assert_true(appstate_step_is_for(STEP_APPROVE, ROLE_RA, UNLK | EVAL));
	assert_false(appstate_step_is_for(STEP_APPROVE, ROLE_RA, 0));
	assert_false(appstate_step_is_for(STEP_APPROVE, ROLE_TRAINER, UNLK | EVAL));
	assert_false(appstate_step_is_for(STEP_PAYMENT, ROLE_RA, UNLK));
	assert_true(appstate_step_is_for(STEP_RETURN, ROLE_RA, UNLK));
}

/* ---- names and labels ------------------------------------------------------ */

/* What the applicant is told: every state after submission says where the
 * application is and what comes next, for units and evaluators alike; the
 * 20-day promise runs (and can be overdue) exactly where the RA counts it. */
static void test_applicant_wording(void **state)
{
	(void)state;
	for (int s = APP_SUBMITTED; s < APP_STATE_COUNT; s++)
		for (unsigned eval = 0; eval <= APP_FACT_EVALUATOR; eval += APP_FACT_EVALUATOR) {
			assert_true(*appstate_where((enum app_state)s, eval));
			assert_true(*appstate_what_next((enum app_state)s, eval));
		}
	assert_string_equal(appstate_where(APP_NEW, 0), "");
	assert_string_equal(appstate_where(APP_STATE_UNKNOWN, 0), "");
	assert_string_equal(appstate_what_next(APP_STATE_COUNT, 0), "");
	/* After the keys shipped nobody is told to start applying or to pay. */
	assert_null(strstr(appstate_what_next(APP_SHIPPED, 0), "申请"));
	assert_null(strstr(appstate_what_next(APP_WITHDRAWN, 0), "请按"));
	assert_non_null(strstr(appstate_what_next(APP_WITHDRAWN, 0), "无需付款"));
	assert_non_null(strstr(appstate_where(APP_SUBMITTED, APP_FACT_EVALUATOR), "培训机构"));
	for (int s = 0; s < APP_STATE_COUNT; s++)
		assert_int_equal(appstate_awaits_keys((enum app_state)s),
		                 s == APP_READY_TO_ISSUE || s == APP_ISSUED);
}

static void test_names_and_labels(void **state)
{
	(void)state;
	/* As stored and as the pages have always shown them. */
	static const char *const states[][2] = {
	    {"", ""},
	    {"submitted", "已提交"},
	    {"paid", "已付款"},
	    {"materials_received", "材料已收到"},
	    {"ready_to_issue", "待制证"},
	    {"issued", "已制证"},
	    {"shipped", "已寄出"},
	    {"ready_for_pickup", "待领取"},
	    {"received", "已签收"},
	    {"returned", "已退回"},
	    {"withdrawn", "已撤销"},
	    {"renewed", "已更新"},
	    {"unlock_approved", "已批准解锁"},
	    {"unlocked", "已解锁"},
	};
	assert_int_equal(sizeof states / sizeof states[0], APP_STATE_COUNT);
	for (int s = 0; s < APP_STATE_COUNT; s++) {
		assert_string_equal(appstate_name((enum app_state)s), states[s][0]);
		assert_string_equal(appstate_label((enum app_state)s), states[s][1]);
		assert_int_equal(appstate_parse(states[s][0]), s);
		assert_string_equal(app_state_label(states[s][0]), states[s][1]);
	}
	assert_int_equal(appstate_parse(NULL), APP_STATE_UNKNOWN);
	assert_int_equal(appstate_parse("Submitted"), APP_STATE_UNKNOWN);
	assert_int_equal(appstate_parse("submitted "), APP_STATE_UNKNOWN);
	assert_int_equal(appstate_parse("pending"), APP_STATE_UNKNOWN);
	assert_string_equal(app_state_label("revoked"), "revoked");
	assert_string_equal(appstate_name(APP_STATE_UNKNOWN), "");
	assert_string_equal(appstate_label(APP_STATE_COUNT), "");

	/* The steps as the application's events record them. */
	static const char *const steps[] = {"submit", "withdraw", "payment", "materials",
	                                    "return", "resubmit", "issue",   "ship",
	                                    "pickup", "received", "confirm", "approve"};
	assert_int_equal(sizeof steps / sizeof steps[0], APP_STEP_COUNT);
	for (int st = 0; st < APP_STEP_COUNT; st++) {
		enum app_step got = APP_STEP_COUNT;
		assert_string_equal(appstep_name((enum app_step)st), steps[st]);
		assert_true(strlen(appstep_label((enum app_step)st)) > 0);
		assert_true(appstep_parse(steps[st], &got));
		assert_int_equal(got, st);
	}
	enum app_step got = STEP_SUBMIT;
	assert_false(appstep_parse("revoke", &got));
	assert_false(appstep_parse(NULL, &got));
	assert_false(appstep_parse("", &got));
	assert_int_equal(got, STEP_SUBMIT);
	assert_string_equal(appstep_name(APP_STEP_COUNT), "");
}

/* ---- the RA steps through the core, on a store ---------------------------- */

/* Staff with accounts in each test's store (steps record who took them). */
static struct actor ra = {.role = ROLE_RA, .username = "fj_ra", .province_code = "35"};
static struct actor trainer = {
    .role = ROLE_TRAINER, .username = "fj_trainer", .province_code = "35"};
static struct actor admin = {.role = ROLE_ADMIN, .username = "admin"};

static void make_staff(db_conn *c)
{
	struct actor *all[] = {&ra, &trainer, &admin};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(account_create(c, all[i]->username, "secret-password-1",
		                                all[i]->role, all[i]->username, 0,
		                                all[i]->province_code, 0, &all[i]->account_id),
		                 DB_OK);
}

static int64_t exec_id(db_conn *c, const char *sql, struct db_param *p, int n)
{
	db_result *r = NULL;
	assert_int_equal(db_exec(c, sql, p, n, &r), DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

/* An approved registration of `kind` in 福建 and its applicant. */
static int64_t make_registration(db_conn *c, const char *kind, const char *code)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(c, "SELECT COUNT(*) FROM provinces WHERE code = '35'", &r), DB_OK);
	bool have = db_get_int(r, 0, 0, 0) > 0;
	db_result_free(r);
	if (!have) {
		assert_int_equal(DB_EXEC(c,
		                         "INSERT INTO provinces (code, name, sort) VALUES ('35', "
		                         "'福建省', 35)",
		                         NULL),
		                 DB_OK);
		make_staff(c);
		assert_int_equal(
		    DB_EXEC(c,
		            "INSERT INTO authorities (name, province_code, level, path, "
		            "created_at) VALUES ('福建省交通运输厅', '35', 'provincial', "
		            "'/1/', 0)",
		            NULL),
		    DB_OK);
	}
	struct db_param p[] = {P_TEXT(kind), P_TEXT(code)};
	return exec_id(c,
	               "INSERT INTO registrations (kind, state, authority_id, province_code, name, "
	               "code, created_at, updated_at) VALUES ($1, 'approved', "
	               "(SELECT MIN(id) FROM authorities), '35', '测试', $2, 0, 0) RETURNING id",
	               p, 2);
}

struct app {
	struct actor holder;
	char *number;
};

static void submit(db_conn *c, const char *kind, const char *code, const char *idem,
                   struct app *out)
{
	int64_t reg_id = make_registration(c, kind, code);
	out->holder =
	    (struct actor){.role = ROLE_APPLICANT, .username = "holder", .registration_id = reg_id};
	const struct application_input in = {.contact_name = "张三",
	                                     .mobile = "13800000000",
	                                     .email = "a@example.cn",
	                                     .address = "福州市",
	                                     .postcode = "350000",
	                                     .sets = "2"};
	bool existing = true;
	out->number = NULL;
	assert_int_equal(application_create(c, &out->holder, reg_id, kind_parse(kind), &in,
	                                    APP_TYPE_INITIAL, 0, idem, &out->number, &existing),
	                 DB_OK);
	assert_false(existing);
	assert_non_null(out->number);
}

static char *state_of(db_conn *c, const char *number)
{
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c, "SELECT state FROM applications WHERE number = $1", &r, P_TEXT(number)),
	    DB_OK);
	assert_int_equal(r->nrows, 1);
	char *s = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	return s;
}

#define assert_state(c, number, want)                                                              \
	do {                                                                                       \
		char *got_ = state_of((c), (number));                                              \
		assert_string_equal(got_, (want));                                                 \
		free(got_);                                                                        \
	} while (0)

/* The events, "action:from>to;" each, oldest first. */
static char *events_of(db_conn *c, const char *number)
{
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c,
	            "SELECT e.action, e.from_state, e.to_state FROM application_events e "
	            "JOIN applications a ON a.id = e.application_id "
	            "WHERE a.number = $1 ORDER BY e.id",
	            &r, P_TEXT(number)),
	    DB_OK);
	struct buf b = {0};
	for (int i = 0; i < r->nrows; i++)
		buf_printf(&b, "%s:%s>%s;", db_get(r, i, 0), db_get(r, i, 1), db_get(r, i, 2));
	db_result_free(r);
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* Issuance needs the CA; what matters here is the state it leaves. */
static void set_issued(db_conn *c, const char *number)
{
	assert_int_equal(DB_EXEC(c, "UPDATE applications SET state = 'issued' WHERE number = $1",
	                         NULL, P_TEXT(number)),
	                 DB_OK);
}

static void add_certificate(db_conn *c, const char *number, const char *serial)
{
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO certificates (serial, application_id, token_serial, subject, "
	            "pem, der, not_before, not_after, status, created_at) VALUES ($1, "
	            "(SELECT id FROM applications WHERE number = $2), $1, 'CN=x', 'pem', $3, "
	            "0, 1, 'valid', 0)",
	            NULL, P_TEXT(serial), P_TEXT(number), P_BLOB("\x30\x00", 2)),
	    DB_OK);
}

/* The facts the pages read from a loaded application. */
static unsigned facts_of(db_conn *c, const char *number)
{
	struct arena *ar = arena_new();
	struct application app;
	assert_int_equal(application_get(c, ar, number, &app), DB_OK);
	unsigned f = application_facts(&app);
	arena_free(ar);
	return f;
}

static void test_unit_steps(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct app a;
	submit(c, "enterprise", "91350000000000001X", "idem-unit", &a);
	const char *n = a.number;
	assert_state(c, n, "submitted");

	/* Nothing out of order, nobody but the RA. */
	assert_int_equal(ra_ship(c, &ra, n, "EMS", "1"), DB_CONFLICT);
	assert_int_equal(ra_mark_received(c, &ra, n), DB_CONFLICT);
	assert_int_equal(application_resubmit(c, &a.holder, n), DB_CONFLICT);
	assert_int_equal(ra_record_payment(c, &trainer, n, 1320, 0, "付款人", "REF", NULL),
	                 DB_CONFLICT);
	assert_int_equal(ra_record_payment(c, &admin, n, 1320, 0, "付款人", "REF", NULL),
	                 DB_CONFLICT);
	assert_int_equal(ra_record_payment(c, &a.holder, n, 1320, 0, "付款人", "REF", NULL),
	                 DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &trainer, n, "表"), DB_CONFLICT);
	assert_int_equal(ra_return(c, &admin, n, "原因"), DB_CONFLICT);
	assert_int_equal(ra_record_payment(c, &ra, "ESP-1999-000001", 1, 0, "x", "y", NULL),
	                 DB_NOT_FOUND);
	assert_state(c, n, "submitted");
	assert_int_equal(facts_of(c, n), 0);

	assert_int_equal(ra_record_payment(c, &ra, n, 1320, 0, "付款人", "REF", NULL), DB_OK);
	assert_state(c, n, "paid");
	assert_int_equal(facts_of(c, n), PAID);
	assert_int_equal(ra_record_payment(c, &ra, n, 1320, 0, "付款人", "REF2", NULL),
	                 DB_CONFLICT);
	assert_int_equal(application_withdraw(c, &a.holder, n), DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_OK);
	assert_state(c, n, "ready_to_issue");
	assert_int_equal(facts_of(c, n), PAID | MATS);
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_CONFLICT);
	assert_int_equal(ra_ship(c, &ra, n, "EMS", "1"), DB_CONFLICT);

	/* Returned, corrected: the payment stands, the materials come again. */
	assert_int_equal(ra_return(c, &ra, n, "未盖章"), DB_OK);
	assert_state(c, n, "returned");
	assert_int_equal(ra_return(c, &ra, n, "未盖章"), DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_CONFLICT);
	assert_int_equal(application_resubmit(c, &ra, n), DB_CONFLICT);
	assert_int_equal(application_resubmit(c, &a.holder, n), DB_OK);
	assert_state(c, n, "paid");
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_OK);
	assert_state(c, n, "ready_to_issue");

	/* A set with its certificate keeps it from going back. */
	add_certificate(c, n, "0a01");
	assert_int_equal(ra_return(c, &ra, n, "太晚"), DB_CONFLICT);
	assert_state(c, n, "ready_to_issue");

	set_issued(c, n);
	assert_int_equal(ra_return(c, &ra, n, "太晚"), DB_CONFLICT);
	assert_int_equal(ra_mark_received(c, &ra, n), DB_CONFLICT);
	assert_int_equal(ra_ship(c, &trainer, n, "EMS", "1"), DB_CONFLICT);
	assert_int_equal(ra_ship(c, &ra, n, "EMS", "EA1CN"), DB_OK);
	assert_state(c, n, "shipped");
	assert_int_equal(ra_ship(c, &ra, n, "EMS", "EA1CN"), DB_CONFLICT);
	assert_int_equal(ra_mark_received(c, &trainer, n), DB_CONFLICT);
	assert_int_equal(ra_mark_received(c, &ra, n), DB_OK);
	assert_state(c, n, "received");

	/* The end: nothing moves it. */
	assert_int_equal(ra_mark_received(c, &ra, n), DB_CONFLICT);
	assert_int_equal(ra_return(c, &ra, n, "x"), DB_CONFLICT);
	assert_int_equal(application_withdraw(c, &a.holder, n), DB_CONFLICT);

	char *ev = events_of(c, n);
	assert_string_equal(ev, "submit:>submitted;payment:submitted>paid;"
	                        "materials:paid>ready_to_issue;return:ready_to_issue>returned;"
	                        "resubmit:returned>paid;materials:paid>ready_to_issue;"
	                        "ship:issued>shipped;received:shipped>received;");
	free(ev);
	free(a.number);
}

static void test_materials_before_payment(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct app a;
	submit(c, "agency", "91350000000000002X", "idem-agency", &a);
	const char *n = a.number;
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_OK);
	assert_state(c, n, "materials_received");
	assert_int_equal(application_withdraw(c, &a.holder, n), DB_CONFLICT);
	/* Returned without payment: back to submitted, materials cleared. */
	assert_int_equal(ra_return(c, &ra, n, "缺件"), DB_OK);
	assert_int_equal(application_resubmit(c, &a.holder, n), DB_OK);
	assert_state(c, n, "submitted");
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_OK);
	assert_int_equal(ra_record_payment(c, &ra, n, 1320, 0, "付款人", "REF", NULL), DB_OK);
	assert_state(c, n, "ready_to_issue");
	free(a.number);
}

static void test_evaluator_steps(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct app a;
	submit(c, "evaluator", "350102199001011234", "idem-eval", &a);
	const char *n = a.number;
	/* Evaluators pay nothing; their materials go to the training institution. */
	assert_int_equal(ra_record_payment(c, &ra, n, 0, 0, "x", "y", NULL), DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &ra, n, "表"), DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &trainer, n, "表"), DB_OK);
	assert_int_equal(facts_of(c, n), EVAL | MATS);
	assert_state(c, n, "ready_to_issue");
	assert_int_equal(ra_return(c, &trainer, n, "签名不清"), DB_OK);
	assert_int_equal(application_resubmit(c, &a.holder, n), DB_OK);
	assert_state(c, n, "submitted");
	assert_int_equal(ra_record_materials(c, &trainer, n, "表"), DB_OK);
	set_issued(c, n);
	/* The RA hands the key to the training institution, which hands it out. */
	assert_int_equal(ra_ship(c, &trainer, n, "", ""), DB_CONFLICT);
	assert_int_equal(ra_ship(c, &ra, n, "", ""), DB_OK);
	assert_state(c, n, "ready_for_pickup");
	assert_int_equal(ra_mark_received(c, &ra, n), DB_CONFLICT);
	assert_int_equal(ra_mark_received(c, &trainer, n), DB_OK);
	assert_state(c, n, "received");
	char *ev = events_of(c, n);
	assert_string_equal(ev, "submit:>submitted;materials:submitted>ready_to_issue;"
	                        "return:ready_to_issue>returned;resubmit:returned>submitted;"
	                        "materials:submitted>ready_to_issue;pickup:issued>ready_for_pickup;"
	                        "received:ready_for_pickup>received;");
	free(ev);
	free(a.number);
}

static void test_withdraw(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct app a;
	submit(c, "enterprise", "91350000000000003X", "idem-withdraw", &a);
	const char *n = a.number;
	assert_int_equal(application_withdraw(c, &ra, n), DB_CONFLICT);
	assert_int_equal(application_withdraw(c, &admin, n), DB_CONFLICT);
	assert_int_equal(application_withdraw(c, &a.holder, "ESP-1999-000001"), DB_CONFLICT);
	assert_state(c, n, "submitted");
	assert_int_equal(application_withdraw(c, &a.holder, n), DB_OK);
	assert_state(c, n, "withdrawn");
	assert_int_equal(application_withdraw(c, &a.holder, n), DB_CONFLICT);
	assert_int_equal(ra_record_payment(c, &ra, n, 1320, 0, "付款人", "REF", NULL), DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_CONFLICT);
	assert_int_equal(ra_return(c, &ra, n, "x"), DB_CONFLICT);
	char *ev = events_of(c, n);
	assert_string_equal(ev, "submit:>submitted;withdraw:submitted>withdrawn;");
	free(ev);
	/* A withdrawn initial application makes room for a new one. */
	struct app again;
	int64_t reg_id = a.holder.registration_id;
	const struct application_input in = {.contact_name = "张三",
	                                     .mobile = "13800000000",
	                                     .email = "a@example.cn",
	                                     .address = "福州市",
	                                     .postcode = "350000",
	                                     .sets = "1"};
	bool existing = true;
	again.number = NULL;
	assert_int_equal(application_create(c, &a.holder, reg_id, KIND_ENTERPRISE, &in,
	                                    APP_TYPE_INITIAL, 0, "idem-again", &again.number,
	                                    &existing),
	                 DB_OK);
	assert_false(existing);
	assert_string_not_equal(again.number, n);
	/* Only the applicant submits. */
	char *other = NULL;
	assert_int_equal(application_create(c, &ra, reg_id, KIND_ENTERPRISE, &in,
	                                    APP_TYPE_ADDITIONAL, 0, "idem-ra", &other, &existing),
	                 DB_CONFLICT);
	assert_null(other);
	free(again.number);
	free(a.number);
}

/* ---- 更新 through the core (core/renewal.c; issuance needs the CA and is
 * tested with real tokens in tests/integration/token/token_renewal) ------ */

static void add_holder_certificate(db_conn *c, const char *number, int64_t reg_id,
                                   const char *serial, int64_t not_after, const char *status)
{
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO certificates (serial, application_id, registration_id, "
	            "token_serial, subject, pem, der, not_before, not_after, status, created_at) "
	            "VALUES ($1, (SELECT id FROM applications WHERE number = $2), $3, $1, 'CN=x', "
	            "'pem', $4, 0, $5, $6, 0)",
	            NULL, P_TEXT(serial), P_TEXT(number), P_INT(reg_id), P_BLOB("\x30\x00", 2),
	            P_INT(not_after), P_TEXT(status)),
	    DB_OK);
}

static void test_renewal_window(void **state)
{
	(void)state;
	const struct renewal_window w = {.before_days = 60, .grace_days = 30};
	const int64_t end = 1000000000, day = 86400;
	assert_int_equal(renewal_in_window(end, end - 60 * day - 1, &w), RENEW_TOO_EARLY);
	assert_int_equal(renewal_in_window(end, end - 60 * day, &w), RENEW_OK);
	assert_int_equal(renewal_in_window(end, end, &w), RENEW_OK);
	assert_int_equal(renewal_in_window(end, end + 30 * day, &w), RENEW_OK);
	assert_int_equal(renewal_in_window(end, end + 30 * day + 1, &w), RENEW_TOO_LATE);
	const struct renewal_window none = {.before_days = 0, .grace_days = 0};
	assert_int_equal(renewal_in_window(end, end - 1, &none), RENEW_TOO_EARLY);
	assert_int_equal(renewal_in_window(end, end + 1, &none), RENEW_TOO_LATE);
	/* Every result has a code, a Chinese message and a status; unknown ones are 500. */
	for (int r = RENEW_OK; r <= RENEW_ERROR; r++) {
		assert_true(strlen(renewal_result_code((enum renewal_result)r)) > 0);
		assert_true(strlen(renewal_result_message((enum renewal_result)r)) > 0);
		assert_true(renewal_result_status((enum renewal_result)r) >= 200);
	}
	assert_int_equal(renewal_result_status((enum renewal_result)99), 500);
}

static void test_renewal_apply_and_pay(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct app a;
	submit(c, "enterprise", "91350100M000100Y43", "idem-renew", &a);
	set_issued(c, a.number);
	int64_t now = time_now(), day = 86400;
	const int64_t reg = a.holder.registration_id;
	add_holder_certificate(c, a.number, reg, "aa01", now + 50 * day, "valid");
	add_holder_certificate(c, a.number, reg, "aa02", now + 100 * day, "valid");
	add_holder_certificate(c, a.number, reg, "aa03", now - 31 * day, "valid");
	add_holder_certificate(c, a.number, reg, "aa04", now - 10 * day, "valid");
	add_holder_certificate(c, a.number, reg, "aa05", now + 5 * day, "revoked");
	const struct renewal_window w = {.before_days = 60, .grace_days = 30};
	char *n = NULL, *again = NULL, *none = NULL;

	assert_int_equal(renewal_apply(c, &a.holder, "aa01", &w, &n), RENEW_OK);
	assert_non_null(n);
	assert_state(c, n, "submitted");
	struct arena *ar = arena_new();
	struct application app;
	assert_int_equal(application_get(c, ar, n, &app), DB_OK);
	assert_int_equal(app.type, APP_TYPE_RENEWAL);
	assert_string_equal(app_type_label(app.type), "更新");
	assert_string_equal(app_type_name(app.type), "renewal");
	assert_string_equal(app.renews_serial, "aa01");
	assert_int_equal(app.amount_yuan, 300);
	assert_int_equal(app.medium_yuan, 0);
	assert_int_equal(app.sets, 1);
	assert_string_equal(app.contact_name, "张三");
	arena_free(ar);
	assert_true(facts_of(c, n) & APP_FACT_RENEWAL);
	assert_false(facts_of(c, a.number) & APP_FACT_RENEWAL);
	/* A second click: the same application. */
	assert_int_equal(renewal_apply(c, &a.holder, "aa01", &w, &again), RENEW_EXISTING);
	assert_string_equal(again, n);
	free(again);
	again = NULL;

	/* Outside the window, revoked, another's, unknown, staff: refused, nothing made. */
	assert_int_equal(renewal_apply(c, &a.holder, "aa02", &w, &none), RENEW_TOO_EARLY);
	assert_int_equal(renewal_apply(c, &a.holder, "aa03", &w, &none), RENEW_TOO_LATE);
	assert_int_equal(renewal_apply(c, &a.holder, "aa05", &w, &none), RENEW_NOT_VALID);
	assert_int_equal(renewal_apply(c, &a.holder, "ffff", &w, &none), RENEW_FORBIDDEN);
	assert_int_equal(renewal_apply(c, &ra, "aa01", &w, &none), RENEW_FORBIDDEN);
	struct actor other = a.holder;
	other.registration_id = make_registration(c, "enterprise", "91350100M000100Y51");
	assert_int_equal(renewal_apply(c, &other, "aa01", &w, &none), RENEW_FORBIDDEN);
	assert_int_equal(renewal_apply(c, &a.holder, "", &w, &none), RENEW_BAD_INPUT);
	assert_null(none);
	db_result *cr = NULL;
	assert_int_equal(
	    DB_EXEC(c, "SELECT COUNT(*) FROM applications WHERE type = 'renewal'", &cr), DB_OK);
	assert_int_equal(db_get_int(cr, 0, 0, 0), 1);
	db_result_free(cr);
	/* In the grace period after expiry. */
	char *grace = NULL;
	assert_int_equal(renewal_apply(c, &a.holder, "aa04", &w, &grace), RENEW_OK);

	/* The RA records the payment: ready, no materials, never the RA's to issue. */
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_CONFLICT);
	assert_int_equal(ra_record_payment(c, &ra, n, 300, 0, "付款人", "REF", NULL), DB_OK);
	assert_state(c, n, "ready_to_issue");
	assert_int_equal(ra_record_materials(c, &ra, n, "申请表"), DB_CONFLICT);
	/* Returned before its certificate, resubmitted: the payment stands, ready again. */
	assert_int_equal(ra_return(c, &ra, n, "付款人名称不符"), DB_OK);
	assert_state(c, n, "returned");
	assert_int_equal(application_resubmit(c, &a.holder, n), DB_OK);
	assert_state(c, n, "ready_to_issue");
	char *ev = events_of(c, n);
	assert_string_equal(ev, "submit:>submitted;payment:submitted>ready_to_issue;"
	                        "return:ready_to_issue>returned;resubmit:returned>ready_to_issue;");
	free(ev);

	/* A withdrawn renewal makes room for another. */
	assert_int_equal(application_withdraw(c, &a.holder, grace), DB_OK);
	char *grace2 = NULL;
	assert_int_equal(renewal_apply(c, &a.holder, "aa04", &w, &grace2), RENEW_OK);
	assert_string_not_equal(grace2, grace);
	free(grace2);
	free(grace);
	free(n);
	free(a.number);
}

/* An evaluator renews free, through the training institution; the fee in
 * force when a unit applies is the one charged (fee_add, versioned). */
static void test_renewal_evaluator_and_fee(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	int64_t now = time_now(), day = 86400;
	const struct renewal_window w = {.before_days = 60, .grace_days = 30};
	struct app e;
	submit(c, "evaluator", "350102199001011234", "idem-eval-renew", &e);
	set_issued(c, e.number);
	add_holder_certificate(c, e.number, e.holder.registration_id, "ee01", now + 20 * day,
	                       "valid");
	char *n = NULL;
	assert_int_equal(renewal_apply(c, &e.holder, "ee01", &w, &n), RENEW_OK);
	struct arena *ar = arena_new();
	struct application app;
	assert_int_equal(application_get(c, ar, n, &app), DB_OK);
	assert_int_equal(app.amount_yuan, 0);
	assert_int_equal(facts_of(c, n), EVAL | APP_FACT_RENEWAL);
	assert_int_equal(ra_record_payment(c, &ra, n, 0, 0, "x", "y", NULL), DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &ra, n, "表"), DB_CONFLICT);
	assert_int_equal(ra_record_materials(c, &trainer, n, "确认本人"), DB_OK);
	assert_state(c, n, "ready_to_issue");
	assert_int_equal(ra_ship(c, &ra, n, "", ""), DB_CONFLICT);
	free(n);

	/* A new renewal fee in force from now: the next unit renewal pays it. */
	struct actor adm = admin;
	struct fee fee = {.price_yuan = 700,
	                  .medium_yuan = 80,
	                  .years = 3,
	                  .valid_from = now - 1,
	                  .renewal_yuan = 280};
	assert_int_equal(fee_add(c, &adm, &fee), DB_OK);
	struct app u;
	submit(c, "enterprise", "91350100M000100Y43", "idem-fee-renew", &u);
	set_issued(c, u.number);
	add_holder_certificate(c, u.number, u.holder.registration_id, "ee02", now + 20 * day,
	                       "valid");
	assert_int_equal(renewal_apply(c, &u.holder, "ee02", &w, &n), RENEW_OK);
	assert_int_equal(application_get(c, ar, n, &app), DB_OK);
	assert_int_equal(app.amount_yuan, 280);
	assert_int_equal(app.price_yuan, 280);
	arena_free(ar);
	free(n);
	free(u.number);
	free(e.number);
}

/* ---- 密码解锁 through the core (core/sopin.c) ------------------------------ */

static void test_unlock_custody_and_release(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	unsigned char k[32];
	randombytes_buf(k, sizeof k);
	sopin_key_set(k);
	int64_t now = time_now(), day = 86400;
	struct app a;
	submit(c, "enterprise", "91350100M000100Y43", "idem-unlock", &a);
	/* The holder's account: the tool's steps are recorded as its. */
	assert_int_equal(account_create(c, "holder", "secret-password-1", ROLE_APPLICANT, "持有人",
	                                0, NULL, a.holder.registration_id, &a.holder.account_id),
	                 DB_OK);
	set_issued(c, a.number);
	add_holder_certificate(c, a.number, a.holder.registration_id, "TK1", now + 500 * day,
	                       "valid");
	add_holder_certificate(c, a.number, a.holder.registration_id, "TK2", now + 500 * day,
	                       "valid");
	char *pin = NULL, *again = NULL, *number = NULL;

	/* Custody at enrolment: the RA of the province only; the same PIN until confirmed. */
	assert_int_equal(sopin_custody_begin(c, &trainer, "TK1", &pin), SOPIN_FORBIDDEN);
	assert_int_equal(sopin_custody_begin(c, &ra, "NOPE", &pin), SOPIN_NOT_FOUND);
	assert_int_equal(sopin_custody_confirm(c, &ra, "TK1"), SOPIN_WRONG_STATE);
	assert_int_equal(sopin_custody_begin(c, &ra, "TK1", &pin), SOPIN_OK);
	assert_int_equal(strlen(pin), 16);
	assert_int_equal(sopin_custody_begin(c, &ra, "TK1", &again), SOPIN_OK);
	assert_string_equal(again, pin);
	free(again);
	again = NULL;
	assert_int_equal(sopin_custody_confirm(c, &ra, "TK1"), SOPIN_OK);
	assert_int_equal(sopin_custody_confirm(c, &ra, "TK1"), SOPIN_EXISTING);
	assert_int_equal(sopin_custody_begin(c, &ra, "TK1", &again), SOPIN_EXISTING);
	assert_null(again);
	/* Sealed: the PIN's text is not in the store. */
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c, "SELECT sealed FROM token_so_pins WHERE token_serial = 'TK1'", &r), DB_OK);
	assert_int_equal(r->nrows, 1);
	assert_null(memmem(db_get(r, 0, 0), db_get_len(r, 0, 0), pin, strlen(pin)));
	db_result_free(r);

	/* The holder applies: only its own token, only one in custody, once. */
	struct actor other = a.holder;
	other.registration_id = make_registration(c, "enterprise", "91350100M000100Y51");
	assert_int_equal(sopin_unlock_apply(c, &other, "TK1", &number), SOPIN_FORBIDDEN);
	assert_int_equal(sopin_unlock_apply(c, &a.holder, "TK2", &number), SOPIN_NO_CUSTODY);
	assert_int_equal(sopin_unlock_apply(c, &a.holder, "TK1", &number), SOPIN_OK);
	char *same = NULL;
	assert_int_equal(sopin_unlock_apply(c, &a.holder, "TK1", &same), SOPIN_EXISTING);
	assert_string_equal(same, number);
	free(same);
	assert_state(c, number, "submitted");
	assert_int_equal(facts_of(c, number), APP_FACT_UNLOCK);
	assert_null(sopin_unlock_code(c, number));

	/* Before approval nothing is released; the RA approves, nobody else. */
	char *cur = NULL, *next = NULL;
	assert_int_equal(sopin_unlock_release(c, number, "whatever", "TK1", &cur, &next),
	                 SOPIN_WRONG_STATE);
	assert_int_equal(ra_record_payment(c, &ra, number, 1, 0, "x", "y", NULL), DB_CONFLICT);
	assert_int_equal(sopin_unlock_approve(c, &trainer, number), SOPIN_FORBIDDEN);
	assert_int_equal(sopin_unlock_approve(c, &ra, number), SOPIN_OK);
	assert_state(c, number, "unlock_approved");
	assert_int_equal(sopin_unlock_approve(c, &ra, number), SOPIN_WRONG_STATE);
	char *code = sopin_unlock_code(c, number);
	assert_non_null(code);
	assert_int_equal(strlen(code), 24);

	/* The release: the authorisation and the token must match; the same pair twice. */
	assert_int_equal(
	    sopin_unlock_release(c, number, "wrong-code-wrong-code-xx", "TK1", &cur, &next),
	    SOPIN_BAD_CODE);
	assert_int_equal(sopin_unlock_release(c, number, code, "TK2", &cur, &next), SOPIN_BAD_CODE);
	assert_int_equal(sopin_unlock_release(c, number, code, "TK1", &cur, &next), SOPIN_OK);
	assert_string_equal(cur, pin);
	assert_string_not_equal(next, pin);
	char *cur2 = NULL, *next2 = NULL;
	assert_int_equal(sopin_unlock_release(c, number, code, "TK1", &cur2, &next2), SOPIN_OK);
	assert_string_equal(cur2, cur);
	assert_string_equal(next2, next);
	free(cur2);
	free(next2);

	/* Confirmed: the fresh PIN in custody, the authorisation spent. */
	assert_int_equal(sopin_unlock_confirm(c, number, "wrong"), SOPIN_BAD_CODE);
	assert_int_equal(sopin_unlock_confirm(c, number, code), SOPIN_OK);
	assert_state(c, number, "unlocked");
	assert_null(sopin_unlock_code(c, number));
	assert_int_equal(sopin_unlock_confirm(c, number, code), SOPIN_EXISTING);
	assert_int_equal(sopin_unlock_release(c, number, code, "TK1", &cur2, &next2),
	                 SOPIN_WRONG_STATE);
	char *ev = events_of(c, number);
	assert_string_equal(ev, "submit:>submitted;approve:submitted>unlock_approved;"
	                        "confirm:unlock_approved>unlocked;");
	free(ev);
	/* A new unlock releases the fresh PIN, never the released one. */
	char *n2 = NULL, *code2 = NULL;
	assert_int_equal(sopin_unlock_apply(c, &a.holder, "TK1", &n2), SOPIN_OK);
	assert_int_equal(sopin_unlock_approve(c, &ra, n2), SOPIN_OK);
	code2 = sopin_unlock_code(c, n2);
	assert_int_equal(sopin_unlock_release(c, n2, code2, "TK1", &cur2, &next2), SOPIN_OK);
	assert_string_equal(cur2, next);
	assert_string_not_equal(cur2, pin);
	/* A token lost (its certificate revoked) meanwhile is not unlocked. */
	assert_int_equal(
	    DB_EXEC(c, "UPDATE certificates SET status = 'revoked' WHERE token_serial = 'TK1'",
	            NULL),
	    DB_OK);
	char *c4 = NULL, *n4 = NULL;
	assert_int_equal(sopin_unlock_release(c, n2, code2, "TK1", &c4, &n4), SOPIN_WRONG_STATE);
	assert_null(c4);
	assert_int_equal(
	    DB_EXEC(c, "UPDATE certificates SET status = 'valid' WHERE token_serial = 'TK1'", NULL),
	    DB_OK);
	/* Without the key nothing is released. */
	sopin_key_forget();
	char *c3 = NULL, *n3 = NULL;
	assert_int_equal(sopin_unlock_release(c, n2, code2, "TK1", &c3, &n3), SOPIN_NO_KEY);
	free(cur2);
	free(next2);
	free(code2);
	free(n2);
	free(cur);
	free(next);
	free(code);
	free(number);
	free(pin);
	free(a.number);
}

/* What the back office reads: the queue, its figures, the chart's days and
 * an application's history, as typed records; a failing store is an error. */
static void test_ra_reads(void **state)
{
	struct fixture *f = *state;
	db_conn *c = f->c;
	struct app a, b;
	submit(c, "enterprise", "91350000000000001X", "idem-read-1", &a);
	submit(c, "evaluator", "110105194912310029", "idem-read-2", &b);
	assert_int_equal(ra_record_payment(c, &ra, a.number, 1320, 0, "付款人", "REF", NULL),
	                 DB_OK);
	assert_int_equal(ra_record_materials(c, &ra, a.number, "申请表"), DB_OK);
	struct arena *ar = arena_new();
	struct ra_filter flt = {.limit = 50};
	ra_filter_scope(&ra, &flt);
	struct ra_queue_item *q;
	size_t n;
	int64_t total = -1;
	assert_int_equal(ra_queue(c, ar, &flt, 20, &q, &n, &total), DB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	/* Oldest first: the enterprise's, paid and complete, its 20 days running. */
	assert_string_equal(q[0].number, a.number);
	assert_string_equal(q[0].state, "ready_to_issue");
	assert_int_equal(q[0].kind, KIND_ENTERPRISE);
	assert_int_equal(q[0].sets, 2);
	assert_string_equal(q[0].code, "91350000000000001X");
	assert_string_equal(q[0].province, "福建省");
	assert_int_equal(q[0].days, 0);
	assert_false(q[0].overdue);
	assert_int_equal(q[1].kind, KIND_EVALUATOR);
	assert_int_equal(q[1].days, -1); /* nothing received yet */
	/* A training institution sees evaluators only; a page past the end, nothing. */
	struct ra_filter tf = {.limit = 50};
	ra_filter_scope(&trainer, &tf);
	assert_int_equal(ra_queue(c, ar, &tf, 20, &q, &n, &total), DB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].number, b.number);
	flt.offset = 50;
	assert_int_equal(ra_queue(c, ar, &flt, 20, &q, &n, &total), DB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(total, 2);
	flt.offset = 0;

	struct ra_stats st;
	assert_int_equal(ra_stats(c, &flt, 20, &st), DB_OK);
	assert_int_equal(st.count[APP_READY_TO_ISSUE], 1);
	assert_int_equal(st.count[APP_SUBMITTED], 1);
	assert_int_equal(st.count[APP_PAID], 0);
	assert_int_equal(st.count[APP_SHIPPED], 0);
	assert_int_equal(st.overdue, 0);

	struct ra_day *days;
	assert_int_equal(ra_daily(c, ar, &flt, 30, &days), DB_OK);
	assert_int_equal(days[29].received, 2); /* today's */
	assert_int_equal(days[29].shipped, 0);
	assert_int_equal(days[0].received, 0);
	assert_int_equal(days[29].start - days[0].start, 29 * 86400);

	struct application app;
	assert_int_equal(application_get(c, ar, a.number, &app), DB_OK);
	struct app_event *ev;
	assert_int_equal(application_history(c, ar, app.id, &ev, &n), DB_OK);
	assert_int_equal(n, 3);
	assert_string_equal(ev[0].action, "submit");
	assert_string_equal(ev[0].from_state, "");
	assert_string_equal(ev[0].to_state, "submitted");
	assert_string_equal(ev[0].actor, "holder");
	assert_null(ev[0].note);
	assert_string_equal(ev[1].action, "payment");
	assert_string_equal(ev[1].to_state, "paid");
	assert_string_equal(ev[1].actor, "fj_ra");
	assert_string_equal(ev[2].action, "materials");
	assert_string_equal(ev[2].note, "申请表");

	/* A store that fails is an error, never an empty queue. */
	assert_int_equal(
	    DB_EXEC0(c, "ALTER TABLE application_events RENAME TO application_events_gone", NULL),
	    DB_OK);
	assert_int_equal(application_history(c, ar, app.id, &ev, &n), DB_ERROR);
	assert_int_equal(DB_EXEC0(c, "ALTER TABLE applications RENAME TO applications_gone", NULL),
	                 DB_OK);
	assert_int_equal(ra_queue(c, ar, &flt, 20, &q, &n, &total), DB_ERROR);
	assert_int_equal(n, 0);
	assert_int_equal(ra_stats(c, &flt, 20, &st), DB_ERROR);
	assert_int_equal(ra_daily(c, ar, &flt, 30, &days), DB_ERROR);
	arena_free(ar);
	free(a.number);
	free(b.number);
}

#define ENGINE_TESTS(setup)                                                                        \
	cmocka_unit_test_setup_teardown(test_unit_steps, setup, teardown),                         \
	    cmocka_unit_test_setup_teardown(test_materials_before_payment, setup, teardown),       \
	    cmocka_unit_test_setup_teardown(test_evaluator_steps, setup, teardown),                \
	    cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_renewal_apply_and_pay, setup, teardown),          \
	    cmocka_unit_test_setup_teardown(test_renewal_evaluator_and_fee, setup, teardown),      \
	    cmocka_unit_test_setup_teardown(test_unlock_custody_and_release, setup, teardown),     \
	    cmocka_unit_test_setup_teardown(test_ra_reads, setup, teardown)

int main(void)
{
	password_set_cost("min");
	/* Every step writes an audit entry, which needs the audit key. */
	if (sodium_init() < 0)
		return 1;
	unsigned char key[AUDIT_KEY_BYTES];
	randombytes_buf(key, sizeof key);
	audit_key_set(key, 1);
	const struct CMUnitTest table_tests[] = {
	    cmocka_unit_test(test_every_state_step_role_and_fact),
	    cmocka_unit_test(test_terminal_states),
	    cmocka_unit_test(test_buttons_unchanged),
	    cmocka_unit_test(test_step_is_for),
	    cmocka_unit_test(test_names_and_labels),
	    cmocka_unit_test(test_applicant_wording),
	    cmocka_unit_test(test_renewal_window),
	};
	const struct CMUnitTest sqlite_tests[] = {ENGINE_TESTS(setup_sqlite)};
	const struct CMUnitTest pg_tests[] = {ENGINE_TESTS(setup_pg)};
	int failed = cmocka_run_group_tests_name("table", table_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
	const char *cluster = getenv("ESP_PG_CLUSTER");
	if (cluster && *cluster)
		failed += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
	else
		printf("PostgreSQL tests not run: ESP_PG_CLUSTER is not set\n");
	return failed ? 1 : 0;
}

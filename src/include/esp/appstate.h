/*
 * The one state machine of a certificate key application (证书U盘申请):
 * its states, the steps that move it, and who takes each step, in one
 * transition table that the transactions (core/ra.c, core/application.c,
 * core/issue.c) and the pages that show or hide a step's button ask alike.
 *
 * Who may act on *this* application (its registrant, the RA of its
 * province, the training institution of an evaluator's province) is the
 * policy's question (policy_allows); the table answers which role's step
 * it is and what the state becomes. States are stored as text; their names
 * are read and written only here.
 */
#ifndef ESP_APPSTATE_H
#define ESP_APPSTATE_H

#include <stdbool.h>

#include "esp/core.h"

enum app_state {
	APP_STATE_UNKNOWN = -1, /* a name that is not a state */
	APP_NEW = 0,            /* before submission: the "from" of the submit event ("") */
	APP_SUBMITTED,          /* 已提交 */
	APP_PAID,               /* 已付款 */
	APP_MATERIALS_RECEIVED, /* 材料已收到 */
	APP_READY_TO_ISSUE,     /* 待制证 */
	APP_ISSUED,             /* 已制证 */
	APP_SHIPPED,            /* 已寄出 */
	APP_READY_FOR_PICKUP,   /* 待领取 */
	APP_RECEIVED,           /* 已签收 */
	APP_RETURNED,           /* 已退回 */
	APP_WITHDRAWN,          /* 已撤销 */
	APP_RENEWED,         /* 已更新: a renewal confirmed on the token, the old key revoked */
	APP_UNLOCK_APPROVED, /* 已批准解锁: the holder's tool may fetch its one-time authorisation
	                      */
	APP_UNLOCKED,        /* 已解锁: a new user PIN and a fresh SO PIN set on the token */
	APP_STATE_COUNT
};

/* The steps, named as the application's events record them. */
enum app_step {
	STEP_SUBMIT,    /* the applicant submits the form */
	STEP_WITHDRAW,  /* the applicant withdraws before anything is recorded */
	STEP_PAYMENT,   /* the RA records the payment (units only) */
	STEP_MATERIALS, /* the RA (units) or the trainer (evaluators) records the materials */
	STEP_RETURN,    /* sent back to the applicant with a reason, before any certificate */
	STEP_RESUBMIT,  /* the applicant has corrected a returned application */
	STEP_ISSUE,     /* the RA issues one set's certificate */
	STEP_SHIP,      /* the RA posts the keys (units) */
	STEP_PICKUP,    /* the RA hands the key to the training institution (evaluators) */
	STEP_RECEIVED,  /* the keys reached the holder */
	STEP_CONFIRM,   /* renewal, unlock: the holder's tool confirms what it did on the token */
	STEP_APPROVE,   /* unlock: the RA approves a remote unlock of the token */
	APP_STEP_COUNT
};

/* What a transition may depend on besides state, step and role: facts of
 * the application when the step is taken, or'ed together. */
enum app_fact {
	APP_FACT_EVALUATOR = 1u << 0, /* the applicant is an evaluator: pays nothing, picks up */
	APP_FACT_PAID = 1u << 1,      /* a payment is recorded */
	APP_FACT_MATERIALS = 1u << 2, /* the materials are recorded */
	APP_FACT_CERTS = 1u << 3,     /* some set already has its certificate */
	APP_FACT_LAST_SET = 1u << 4,  /* this issuance gives the last set its certificate */
	APP_FACT_RENEWAL = 1u << 5,   /* 更新: a new certificate for a key the holder keeps */
	APP_FACT_UNLOCK = 1u << 6,    /* 密码解锁: a locked token unlocked remotely */
	APP_FACT_CHANGE = 1u << 7, /* the 更新 re-issues for an approved 信息变更: nothing to pay */
};
#define APP_FACTS_ALL 0x7fu
/* The facts that say what kind of application it is, not how far it got. */
#define APP_FACTS_KIND (APP_FACT_EVALUATOR | APP_FACT_RENEWAL | APP_FACT_UNLOCK)

/* Whether `who` may take `step` from `from` given `facts`; when it may and
 * `to` is not NULL, *to is the state after the step. */
bool appstate_next(enum app_state from, enum app_step step, enum role who, unsigned facts,
                   enum app_state *to);
/* Whether `who` ever takes `step` on an application of this kind (only
 * APP_FACTS_KIND of `facts` count), in whatever state: a step that is
 * never its to take is refused as forbidden, not as a state conflict. */
bool appstate_step_is_for(enum app_step step, enum role who, unsigned facts);

/* Stored names ("submitted" ...; APP_NEW is "") and the labels the pages show. */
const char *appstate_name(enum app_state s);
const char *appstate_label(enum app_state s);
enum app_state appstate_parse(const char *name); /* APP_STATE_UNKNOWN when not a state */
/* The label of a stored name; an unknown name is its own label. */
const char *app_state_label(const char *name);

const char *appstep_name(enum app_step s); /* "submit" ..., as the events record them */
const char *appstep_label(enum app_step s);
bool appstep_parse(const char *name, enum app_step *out);

/* What the applicant is told of a state: where the application is, and
 * what happens next (static strings; "" for APP_NEW and unknown states). */
const char *appstate_where(enum app_state s, unsigned facts);
const char *appstate_what_next(enum app_state s, unsigned facts);
/* Whether the application waits for its keys to be made and sent: the
 * states in which the 20-day promise runs and can be overdue. */
bool appstate_awaits_keys(enum app_state s);

#endif

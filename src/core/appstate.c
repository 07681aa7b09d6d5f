/*
 * The application's state machine: names and labels of its states and
 * steps, and the one transition table (see esp/appstate.h).
 *
 *   submitted ─payment (RA)→ paid ─materials (RA)→ ready_to_issue
 *   submitted ─materials (RA)→ materials_received ─payment (RA)→ ready_to_issue
 *   submitted ─materials (trainer, evaluators pay nothing)→ ready_to_issue
 *   ready_to_issue ─issue (RA, one set each time)→ issued once every set has one
 *   issued ─ship (RA)→ shipped ─received (RA)→ received
 *   issued ─pickup (RA, evaluators)→ ready_for_pickup ─received (trainer)→ received
 *   before issued, no certificate yet ─return→ returned ─resubmit (applicant)→
 *       paid when a payment stands, else submitted (the materials are sent again)
 *   submitted, nothing recorded ─withdraw (applicant)→ withdrawn
 *
 * A renewal (更新) keeps its token: no materials, no shipping, and the
 * holder's tool, not the RA, has the certificate issued and confirms it.
 *   submitted ─payment (RA)→ ready_to_issue
 *   submitted ─materials (trainer, evaluators)→ ready_to_issue
 *   ready_to_issue ─issue (applicant's tool)→ issued ─confirm (tool)→ renewed
 *   returned ─resubmit→ ready_to_issue when a payment stands, else submitted
 *
 * A remote unlock (密码解锁) costs nothing and changes no certificate:
 *   submitted ─approve (RA)→ unlock_approved ─confirm (holder's tool)→ unlocked
 *   submitted ─return (RA)→ returned ─resubmit→ submitted; withdraw as any
 */
#include "esp/appstate.h"

#include <stddef.h>
#include <string.h>

static const char *const state_names[APP_STATE_COUNT][2] = {
    [APP_NEW] = {"", ""},
    [APP_SUBMITTED] = {"submitted", "已提交"},
    [APP_PAID] = {"paid", "已付款"},
    [APP_MATERIALS_RECEIVED] = {"materials_received", "材料已收到"},
    [APP_READY_TO_ISSUE] = {"ready_to_issue", "待制证"},
    [APP_ISSUED] = {"issued", "已制证"},
    [APP_SHIPPED] = {"shipped", "已寄出"},
    [APP_READY_FOR_PICKUP] = {"ready_for_pickup", "待领取"},
    [APP_RECEIVED] = {"received", "已签收"},
    [APP_RETURNED] = {"returned", "已退回"},
    [APP_WITHDRAWN] = {"withdrawn", "已撤销"},
    [APP_RENEWED] = {"renewed", "已更新"},
    [APP_UNLOCK_APPROVED] = {"unlock_approved", "已批准解锁"},
    [APP_UNLOCKED] = {"unlocked", "已解锁"},
};

static const char *const step_names[APP_STEP_COUNT][2] = {
    [STEP_SUBMIT] = {"submit", "提交申请"},
    [STEP_WITHDRAW] = {"withdraw", "撤销申请"},
    [STEP_PAYMENT] = {"payment", "登记付款"},
    [STEP_MATERIALS] = {"materials", "材料已收到"},
    [STEP_RETURN] = {"return", "退回申请"},
    [STEP_RESUBMIT] = {"resubmit", "重新提交"},
    [STEP_ISSUE] = {"issue", "制证"},
    [STEP_SHIP] = {"ship", "已寄出"},
    [STEP_PICKUP] = {"pickup", "交培训机构待领取"},
    [STEP_RECEIVED] = {"received", "已签收"},
    [STEP_CONFIRM] = {"confirm", "确认完成"},
    [STEP_APPROVE] = {"approve", "批准解锁"},
};

/* One transition: from `from`, `who` takes `step` when every fact of
 * `need` holds and none of `deny`; the state becomes `to`. */
struct transition {
	enum app_state from;
	enum app_step step;
	enum role who;
	unsigned need, deny;
	enum app_state to;
};

#define EVAL APP_FACT_EVALUATOR
#define PAID APP_FACT_PAID
#define MATS APP_FACT_MATERIALS
#define CERTS APP_FACT_CERTS
#define LAST APP_FACT_LAST_SET
#define RENEW APP_FACT_RENEWAL
#define UNLK APP_FACT_UNLOCK

static const struct transition table[] = {
    {APP_NEW, STEP_SUBMIT, ROLE_APPLICANT, 0, 0, APP_SUBMITTED},
    {APP_SUBMITTED, STEP_WITHDRAW, ROLE_APPLICANT, 0, PAID | MATS, APP_WITHDRAWN},

    {APP_SUBMITTED, STEP_PAYMENT, ROLE_RA, 0, EVAL | PAID | RENEW | UNLK, APP_PAID},
    {APP_MATERIALS_RECEIVED, STEP_PAYMENT, ROLE_RA, 0, EVAL | PAID | RENEW | UNLK,
     APP_READY_TO_ISSUE},
    {APP_SUBMITTED, STEP_MATERIALS, ROLE_RA, 0, EVAL | MATS | RENEW | UNLK, APP_MATERIALS_RECEIVED},
    {APP_PAID, STEP_MATERIALS, ROLE_RA, 0, EVAL | MATS | RENEW | UNLK, APP_READY_TO_ISSUE},
    {APP_SUBMITTED, STEP_MATERIALS, ROLE_TRAINER, EVAL, MATS | UNLK, APP_READY_TO_ISSUE},
    /* A renewal needs no materials: paid, it is ready. */
    {APP_SUBMITTED, STEP_PAYMENT, ROLE_RA, RENEW, EVAL | PAID | UNLK, APP_READY_TO_ISSUE},

    /* A certificate made for part of the sets keeps it from going back. */
    {APP_SUBMITTED, STEP_RETURN, ROLE_RA, 0, CERTS, APP_RETURNED},
    {APP_PAID, STEP_RETURN, ROLE_RA, 0, CERTS | UNLK, APP_RETURNED},
    {APP_MATERIALS_RECEIVED, STEP_RETURN, ROLE_RA, 0, CERTS | UNLK, APP_RETURNED},
    {APP_READY_TO_ISSUE, STEP_RETURN, ROLE_RA, 0, CERTS | UNLK, APP_RETURNED},
    {APP_SUBMITTED, STEP_RETURN, ROLE_TRAINER, EVAL, CERTS | UNLK, APP_RETURNED},
    {APP_READY_TO_ISSUE, STEP_RETURN, ROLE_TRAINER, EVAL, CERTS | UNLK, APP_RETURNED},
    /* The materials are sent again; a payment made stays made. */
    {APP_RETURNED, STEP_RESUBMIT, ROLE_APPLICANT, PAID, RENEW | UNLK, APP_PAID},
    {APP_RETURNED, STEP_RESUBMIT, ROLE_APPLICANT, PAID | RENEW, UNLK, APP_READY_TO_ISSUE},
    {APP_RETURNED, STEP_RESUBMIT, ROLE_APPLICANT, 0, PAID, APP_SUBMITTED},

    {APP_READY_TO_ISSUE, STEP_ISSUE, ROLE_RA, 0, LAST | RENEW | UNLK, APP_READY_TO_ISSUE},
    {APP_READY_TO_ISSUE, STEP_ISSUE, ROLE_RA, LAST, RENEW | UNLK, APP_ISSUED},
    {APP_ISSUED, STEP_SHIP, ROLE_RA, 0, EVAL | RENEW | UNLK, APP_SHIPPED},
    {APP_ISSUED, STEP_PICKUP, ROLE_RA, EVAL, RENEW | UNLK, APP_READY_FOR_PICKUP},
    {APP_SHIPPED, STEP_RECEIVED, ROLE_RA, 0, EVAL | RENEW | UNLK, APP_RECEIVED},
    {APP_READY_FOR_PICKUP, STEP_RECEIVED, ROLE_TRAINER, EVAL, RENEW | UNLK, APP_RECEIVED},

    /* The holder's tool, proving the old key, has the one certificate made;
     * confirmed on the token, the old certificate is revoked as superseded. */
    {APP_READY_TO_ISSUE, STEP_ISSUE, ROLE_APPLICANT, RENEW, UNLK, APP_ISSUED},
    {APP_ISSUED, STEP_CONFIRM, ROLE_APPLICANT, RENEW, UNLK, APP_RENEWED},

    /* 密码解锁: the RA approves; the holder's tool, given the one-time
     * authorisation, sets the new PINs and confirms. */
    {APP_SUBMITTED, STEP_APPROVE, ROLE_RA, UNLK, 0, APP_UNLOCK_APPROVED},
    {APP_UNLOCK_APPROVED, STEP_CONFIRM, ROLE_APPLICANT, UNLK, 0, APP_UNLOCKED},
};

static bool facts_fit(const struct transition *t, unsigned facts)
{
	return (facts & t->need) == t->need && (facts & t->deny) == 0;
}

bool appstate_next(enum app_state from, enum app_step step, enum role who, unsigned facts,
                   enum app_state *to)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct transition *t = &table[i];
		if (t->from == from && t->step == step && t->who == who && facts_fit(t, facts)) {
			if (to)
				*to = t->to;
			return true;
		}
	}
	return false;
}

bool appstate_step_is_for(enum app_step step, enum role who, unsigned facts)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct transition *t = &table[i];
		struct transition kind = *t;
		kind.need &= APP_FACTS_KIND;
		kind.deny &= APP_FACTS_KIND;
		if (t->step == step && t->who == who && facts_fit(&kind, facts & APP_FACTS_KIND))
			return true;
	}
	return false;
}

const char *appstate_name(enum app_state s)
{
	return (int)s >= 0 && (int)s < APP_STATE_COUNT ? state_names[s][0] : "";
}

const char *appstate_label(enum app_state s)
{
	return (int)s >= 0 && (int)s < APP_STATE_COUNT ? state_names[s][1] : "";
}

enum app_state appstate_parse(const char *name)
{
	for (int i = 0; name && i < APP_STATE_COUNT; i++)
		if (strcmp(state_names[i][0], name) == 0)
			return (enum app_state)i;
	return APP_STATE_UNKNOWN;
}

const char *app_state_label(const char *name)
{
	enum app_state s = appstate_parse(name);
	return s == APP_STATE_UNKNOWN ? name : appstate_label(s);
}

const char *appstep_name(enum app_step s)
{
	return (int)s >= 0 && (int)s < APP_STEP_COUNT ? step_names[s][0] : "";
}

const char *appstep_label(enum app_step s)
{
	return (int)s >= 0 && (int)s < APP_STEP_COUNT ? step_names[s][1] : "";
}

bool appstep_parse(const char *name, enum app_step *out)
{
	for (int i = 0; name && i < APP_STEP_COUNT; i++)
		if (strcmp(step_names[i][0], name) == 0) {
			*out = (enum app_step)i;
			return true;
		}
	return false;
}

/* What the applicant is told of each state: where the application is and
 * what happens next, in the words of the payment page and the manual. */
/* 更新 and 密码解锁 go their own ways through the shared states. */
static const char *renewal_where(enum app_state s, unsigned facts)
{
	bool unlock = facts & APP_FACT_UNLOCK;
	switch (s) {
	case APP_SUBMITTED:
		return unlock ? "密码解锁申请已提交，等待注册机构批准。"
		              : "证书更新申请已提交，等待注册机构确认付款。";
	case APP_READY_TO_ISSUE:
		/* A change's re-issue is free: nobody confirmed a payment. */
		return (facts & APP_FACT_CHANGE)
		           ? "信息变更已通过，可以在原证书U盘上免费更新为新的证书信息。"
		           : "注册机构已确认付款，可以在原证书U盘上更新证书。";
	case APP_ISSUED:
		return "新证书已写入证书U盘，等待您确认更新。";
	default:
		return NULL;
	}
}

static const char *renewal_next(enum app_state s, unsigned facts)
{
	bool unlock = facts & APP_FACT_UNLOCK;
	switch (s) {
	case APP_SUBMITTED:
		return unlock ? "注册机构批准后，请按【密码解锁】页面的说明完成解锁。"
		              : "请按【证书更新】页面的说明支付证书更新费用。";
	case APP_READY_TO_ISSUE:
	case APP_ISSUED:
		return "请按【证书更新】页面的说明，插入原证书U盘完成更新。";
	default:
		return NULL;
	}
}

const char *appstate_where(enum app_state s, unsigned facts)
{
	bool eval = facts & APP_FACT_EVALUATOR;
	const char *own =
	    (facts & (APP_FACT_RENEWAL | APP_FACT_UNLOCK)) ? renewal_where(s, facts) : NULL;
	if (own)
		return own;
	switch (s) {
	case APP_SUBMITTED:
		return eval ? "申请已提交，等待培训机构收到您的申请材料。"
		            : "申请已提交，等待您付款并邮寄申请材料。";
	case APP_PAID:
		return "注册机构已收到您的付款，正在等待您的申请材料。";
	case APP_MATERIALS_RECEIVED:
		return "注册机构已收到您的申请材料，正在等待您的付款。";
	case APP_READY_TO_ISSUE:
		return eval ? "培训机构已收到您的申请材料，注册机构正在制作证书U盘。"
		            : "注册机构已收到付款和申请材料，正在制作证书U盘。";
	case APP_ISSUED:
		return eval ? "证书U盘已制作完成，正在送交培训机构。"
		            : "证书U盘已制作完成，等待寄出。";
	case APP_SHIPPED:
		return "证书U盘已寄出。";
	case APP_READY_FOR_PICKUP:
		return "证书U盘已送达培训机构，等待您领取。";
	case APP_RECEIVED:
		return "证书U盘已签收，申请办理完毕。";
	case APP_RETURNED:
		return "注册机构已退回此申请。";
	case APP_WITHDRAWN:
		return "此申请已撤销，不再办理。";
	case APP_RENEWED:
		return "证书已更新，原证书已作废。";
	case APP_UNLOCK_APPROVED:
		return "注册机构已批准解锁。";
	case APP_UNLOCKED:
		return "证书U盘已解锁。";
	default:
		return "";
	}
}

const char *appstate_what_next(enum app_state s, unsigned facts)
{
	bool eval = facts & APP_FACT_EVALUATOR;
	const char *own =
	    (facts & (APP_FACT_RENEWAL | APP_FACT_UNLOCK)) ? renewal_next(s, facts) : NULL;
	if (own)
		return own;
	switch (s) {
	case APP_SUBMITTED:
		return eval ? "请将申请材料提交至所在省的培训机构（见【查看材料提交信息】）。"
		            : "请按【查看支付及邮寄信息】支付费用并邮寄申请材料，注册机构收到两者后"
		              "开始制证。";
	case APP_PAID:
		return "请邮寄申请材料；已经寄出的，请等待注册机构签收。";
	case APP_MATERIALS_RECEIVED:
		return "请支付证书U盘费用；已经支付的，请等待注册机构确认到账。";
	case APP_READY_TO_ISSUE:
	case APP_ISSUED:
		return eval ? "证书U盘送达培训机构后，请到培训机构领取。"
		            : "证书U盘寄出后，这里会显示快递公司和快递单号。";
	case APP_SHIPPED:
		return "收到证书U盘后，请插入计算机，使用证书U盘登录管理系统。";
	case APP_READY_FOR_PICKUP:
		return "请到所在省的培训机构领取证书U盘，领取后插入计算机，"
		       "使用证书U盘登录管理系统。";
	case APP_RECEIVED:
		return "请插入证书U盘，使用证书U盘登录管理系统办理业务。";
	case APP_RETURNED:
		return "请按退回原因更正后，重新提交申请并邮寄申请材料。";
	case APP_WITHDRAWN:
		return "无需付款，也无需邮寄申请材料。如仍需要证书U盘，请重新申请。";
	case APP_RENEWED:
		return "请使用更新后的证书U盘登录管理系统。";
	case APP_UNLOCK_APPROVED:
		return "请插入证书U盘，按【密码解锁】页面的说明设置新的PIN码。";
	case APP_UNLOCKED:
		return "请使用新的PIN码登录管理系统。";
	default:
		return "";
	}
}

bool appstate_awaits_keys(enum app_state s)
{
	/* The states the RA's overdue list counts (core/ra.c). */
	return s == APP_READY_TO_ISSUE || s == APP_ISSUED;
}

/*
 * The admin's view of the e-mail outbox: how many messages wait, which are
 * dead letters or in doubt, and the two decisions the admin takes on them.
 * The delivery states and what they promise are core/outbox.c's.
 *
 *   GET  /admin/mail                   counts, backlog, dead letters, in doubt
 *   POST /admin/mail/{id}/retry        dead or in doubt → sent again
 *   POST /admin/mail/{id}/delivered    in doubt → recorded as delivered
 *   POST /admin/mail/retry-dead         every dead letter sent again
 */
#include "httpd.h"
#include "esp/notice.h"
#include "esp/notify.h"
#include "esp/outbox.h"

#include <stdlib.h>
#include <string.h>

enum { LIST_LIMIT = 200 };

static const char *const kind_labels[][2] = {
    {"reg_approved", "注册审核通过"},      {"reg_returned", "注册审核未通过"},
    {"app_returned", "申请被退回"},        {"app_issued", "证书已制作"},
    {"app_shipped", "证书U盘已寄出"},      {"app_overdue", "申请超期"},
    {"renewal_window", "证书到期提醒"},    {"cert_revoked", "证书已吊销"},
    {"unlock_approved", "密码解锁已批准"}, {"change_approved", "信息变更已通过"},
    {"change_returned", "信息变更被退回"}, {"renewed", "证书已更新"},
};

static const char *mail_kind_label(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof kind_labels / sizeof kind_labels[0]; i++)
		if (strcmp(kind_labels[i][0], kind) == 0)
			return kind_labels[i][1];
	return kind ? kind : "";
}

/* The rows of one state, with labels and dates for the page; NULL when the
 * store could not be read. */
static json_t *rows(struct request *r, const char *state)
{
	struct outbox_row *list;
	size_t n;
	if (outbox_list(req_db(r), r->arena, state, LIST_LIMIT, &list, &n) != DB_OK)
		return NULL;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct outbox_row *o = &list[i];
		json_array_append_new(
		    arr,
		    json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "id", (json_int_t)o->id,
		              "kind_label", mail_kind_label(o->kind), "audience_label",
		              strcmp(o->audience, "ra") == 0 ? "注册机构" : "申请单位", "recipient",
		              o->recipient, "attempts", o->attempts, "last_error", o->last_error,
		              "created", time_datetime(r->arena, o->created_at), "next",
		              time_datetime(r->arena, o->next_at)));
	}
	return arr;
}

void page_admin_mail(struct request *r)
{
	struct outbox_counts n;
	json_t *lists[4] = {NULL};
	static const char *const states[4] = {"pending", "dead", "in_doubt", "no_address"};
	bool ok = outbox_counts(req_db(r), &n) == DB_OK;
	for (int i = 0; i < 4 && ok; i++)
		ok = (lists[i] = rows(r, states[i])) != NULL;
	if (!ok) {
		for (int i = 0; i < 4; i++)
			json_decref(lists[i]);
		reply_server_error(r, "outbox could not be read");
		return;
	}
	json_t *counts = json_pack("{s:I, s:I, s:I, s:I}", "sent", (json_int_t)n.sent, "dead",
	                           (json_int_t)n.dead, "in_doubt", (json_int_t)n.in_doubt,
	                           "no_address", (json_int_t)n.no_address);
	json_t *ctx = json_pack("{s:o, s:I, s:o, s:o, s:o, s:o, s:b, s:b, s:i}", "counts", counts,
	                        "backlog", (json_int_t)(n.pending + n.sending + n.committing),
	                        "pending", lists[0], "dead", lists[1], "in_doubt", lists[2],
	                        "no_address", lists[3], "has_dead", n.dead > 0, "smtp_off",
	                        !*config_get(r->srv->cfg, "smtp_url"), "limit", LIST_LIMIT);
	const char *done = req_query(r, "done");
	if (done && strcmp(done, "retry") == 0)
		json_object_set_new(ctx, "done", json_string("已重新排入发送队列。"));
	else if (done && strcmp(done, "all") == 0)
		json_object_set_new(ctx, "done", json_string("全部死信已重新排入发送队列。"));
	else if (done && strcmp(done, "delivered") == 0)
		json_object_set_new(ctx, "done", json_string("已记录为已送达，不会再发送。"));
	render_page(r, 200, "admin_mail", "邮件通知", ctx);
}

static void decide(struct request *r, bool retry)
{
	char *end = NULL;
	long long id = strtoll(r->params[0], &end, 10);
	if (!end || *end || id <= 0) {
		reply_not_found(r);
		return;
	}
	enum db_status st = retry ? outbox_retry(req_db(r), &r->actor, id)
	                          : outbox_delivered(req_db(r), &r->actor, id);
	if (st == DB_OK)
		redirect(r, retry ? "/admin/mail?done=retry" : "/admin/mail?done=delivered");
	else if (st == DB_CONFLICT)
		render_message(
		    r, 409, "邮件状态已变化",
		    "该邮件已不是待处理的死信或状态未知的邮件，请返回邮件通知页面刷新后查看。");
	else
		reply_server_error(r, "outbox decision failed");
}

void page_admin_mail_retry_dead(struct request *r)
{
	int n = 0;
	if (outbox_retry_dead(req_db(r), &r->actor, &n) != DB_OK)
		reply_server_error(r, "outbox retry of dead letters failed");
	else
		redirect(r, "/admin/mail?done=all");
}

void page_admin_mail_retry(struct request *r)
{
	decide(r, true);
}

void page_admin_mail_delivered(struct request *r)
{
	decide(r, false);
}

/* ---- the applicant's notices: the same events as the e-mail ---- */

json_t *notices_for(struct request *r, int64_t registration_id)
{
	struct notice_row *list;
	size_t n;
	json_t *out = json_array();
	if (notify_list_for(req_db(r), r->arena, registration_id, 20, &list, &n) != DB_OK)
		return out; /* the notices are extra: the page shows without them */
	for (size_t i = 0; i < n; i++) {
		char *subject = NULL, *body = NULL;
		if (notice_render(r->srv->tpl, list[i].kind, list[i].params, r->srv->public_url,
		                  &subject, &body) != 0)
			continue;
		const char *mail = notice_mail_label(list[i].state);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "subject", subject,
		                                     "kind", list[i].kind, "date",
		                                     time_datetime(r->arena, list[i].created_at),
		                                     "mail", mail));
		free(subject);
		free(body);
	}
	return out;
}

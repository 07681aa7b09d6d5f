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
    {"unlock_approved", "密码解锁已批准"},
};

static const char *mail_kind_label(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof kind_labels / sizeof kind_labels[0]; i++)
		if (strcmp(kind_labels[i][0], kind) == 0)
			return kind_labels[i][1];
	return kind ? kind : "";
}

/* Dates and labels for the page. */
static json_t *rows(struct request *r, const char *state)
{
	json_t *list = outbox_list(req_db(r), state, LIST_LIMIT);
	size_t i;
	json_t *it;
	json_array_foreach(list, i, it)
	{
		const char *kind = json_string_value(json_object_get(it, "kind"));
		json_object_set_new(it, "kind_label", json_string(mail_kind_label(kind)));
		const char *aud = json_string_value(json_object_get(it, "audience"));
		json_object_set_new(
		    it, "audience_label",
		    json_string(aud && strcmp(aud, "ra") == 0 ? "注册机构" : "申请单位"));
		const char *at = json_string_value(json_object_get(it, "created_at"));
		const char *next = json_string_value(json_object_get(it, "next_at"));
		json_object_set_new(
		    it, "created",
		    json_string(time_datetime(r->arena, at ? strtoll(at, NULL, 10) : 0)));
		json_object_set_new(
		    it, "next",
		    json_string(time_datetime(r->arena, next ? strtoll(next, NULL, 10) : 0)));
	}
	return list;
}

void page_admin_mail(struct request *r)
{
	json_t *counts = outbox_counts(req_db(r));
	json_int_t backlog = json_integer_value(json_object_get(counts, "pending")) +
	                     json_integer_value(json_object_get(counts, "sending")) +
	                     json_integer_value(json_object_get(counts, "committing"));
	json_t *ctx =
	    json_pack("{s:o, s:I, s:o, s:o, s:o, s:o, s:b, s:i}", "counts", counts, "backlog",
	              backlog, "pending", rows(r, "pending"), "dead", rows(r, "dead"), "in_doubt",
	              rows(r, "in_doubt"), "no_address", rows(r, "no_address"), "smtp_off",
	              !*config_get(r->srv->cfg, "smtp_url"), "limit", LIST_LIMIT);
	json_object_set_new(ctx, "has_dead",
	                    json_boolean(json_integer_value(json_object_get(counts, "dead")) > 0));
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
	json_t *list = notify_list_for(req_db(r), registration_id, 20), *out = json_array();
	size_t i;
	json_t *it;
	json_array_foreach(list, i, it)
	{
		char *params = json_dumps(json_object_get(it, "params"), JSON_COMPACT);
		char *subject = NULL, *body = NULL;
		const char *kind = json_string_value(json_object_get(it, "kind"));
		if (notice_render(r->srv->tpl, kind, params, r->srv->public_url, &subject, &body) ==
		    0) {
			const char *state = json_string_value(json_object_get(it, "state"));
			const char *mail = !strcmp(state, "sent")         ? "邮件已发送"
			                   : !strcmp(state, "no_address") ? "无电子邮箱，未发邮件"
			                                                  : "邮件待发送";
			json_array_append_new(
			    out,
			    json_pack("{s:s, s:s, s:s, s:s}", "subject", subject, "kind", kind,
			              "date",
			              time_datetime(r->arena, json_integer_value(json_object_get(
			                                          it, "created_at"))),
			              "mail", mail));
		}
		free(subject);
		free(body);
		free(params);
	}
	json_decref(list);
	return out;
}

/*
 * 丢失补办 and 损坏补办 over HTTP: the holder's table of certificates with
 * a button for each kind of replacement a certificate allows (on its own
 * page /replace, reached from 查看初审状态 with the password, since a lost
 * or broken key does not log in, and on 当前用户信息), and the buttons'
 * POSTs, which land on the replacement application's page.
 */
#include "httpd.h"
#include "esp/fee.h"
#include "esp/replace.h"
#include "esp/revoke.h"

#include <stdlib.h>
#include <string.h>

/* Why neither button shows for a certificate. */
static const char *why_not(const struct replace_row *x)
{
	if (x->lost == REPLACE_EXPIRED)
		return "证书已过期，请再次申请";
	if (x->lost == REPLACE_WRONG_REASON)
		return "证书已被替代或吊销，不能补办";
	return "";
}

static json_t *replace_rows(struct request *r)
{
	struct replace_row *rows = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	if (replace_list(req_db(r), r->arena, r->actor.registration_id, &rows, &n) != DB_OK)
		return arr;
	for (size_t i = 0; i < n; i++) {
		const struct replace_row *x = &rows[i];
		bool revoked = strcmp(x->status, "revoked") == 0;
		char *label = revoked ? xasprintf("已吊销：%s", crl_reason_label(x->reason))
		                      : xstrdup(x->not_after < time_now() ? "已过期" : "有效");
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "serial", x->serial,
		                      "token_serial", x->token_serial, "expires",
		                      time_date(r->arena, x->not_after), "status_label", label,
		                      "can_lost", x->lost == REPLACE_OK, "can_damaged",
		                      x->damaged == REPLACE_OK, "why", why_not(x));
		free(label);
		if (x->number) {
			json_object_set_new(o, "number", json_string(x->number));
			json_object_set_new(o, "type_label", json_string(app_type_label(x->type)));
			json_object_set_new(o, "state_label",
			                    json_string(appstate_label(x->state)));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

void replace_context(struct request *r, json_t *ctx)
{
	json_object_set_new(ctx, "replacements", replace_rows(r));
	struct fee fee = {0};
	req_fee(r, &fee);
	json_object_set_new(ctx, "replace_fee", json_integer(fee.replacement_yuan));
}

void page_replace(struct request *r)
{
	if (!r->actor.registration_id) {
		reply_forbidden(r);
		return;
	}
	json_t *ctx = json_object();
	replace_context(r, ctx);
	render_page(r, 200, "replace", "丢失补办与损坏补办", ctx);
}

static void apply(struct request *r, enum app_type type)
{
	char *number = NULL;
	enum replace_result res = replace_apply(req_db(r), &r->actor, r->params[0], type, &number);
	if (res == REPLACE_OK || res == REPLACE_EXISTING) {
		char *to = xasprintf("/applications/%s", number);
		redirect(r, to);
		free(to);
	} else if (res == REPLACE_ERROR) {
		reply_server_error(r, "replacement application failed");
	} else {
		char *title = xasprintf("不能申请%s", app_type_label(type));
		render_message(r, replace_result_status(res), title, replace_result_message(res));
		free(title);
	}
	free(number);
}

void page_replace_lost(struct request *r)
{
	apply(r, APP_TYPE_REPLACE_LOST);
}

void page_replace_damaged(struct request *r)
{
	apply(r, APP_TYPE_REPLACE_DAMAGED);
}

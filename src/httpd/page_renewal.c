/*
 * 更新 (renewal) over HTTP: the holder's page and its 申请更新 button (a
 * key session on 当前用户信息, or a password session during the grace
 * period when the expired key no longer logs in), and the JSON API the
 * holder's tool (esp-token renew) calls with the key itself, no session:
 *
 *   POST /api/v1/renewals          {"certificate", "csr", "signature", "token_serial"}
 *   POST /api/v1/renewals/confirm  {"certificate", "signature"}
 */
#include "httpd.h"
#include "esp/fee.h"
#include "esp/renewal.h"

#include <stdlib.h>
#include <string.h>

static struct renewal_window window_of(struct request *r)
{
	return (struct renewal_window){
	    .before_days = (int)config_get_long(r->srv->cfg, "renewal_window_days"),
	    .grace_days = (int)config_get_long(r->srv->cfg, "renewal_grace_days")};
}

/* The renewal table's rows: what each certificate allows now. */
static json_t *renewal_rows(struct request *r, const struct renewal_window *w)
{
	struct renewal_row *rows = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	if (renewal_list(req_db(r), r->arena, r->actor.registration_id, w, &rows, &n) != DB_OK)
		return arr;
	int64_t now = time_now();
	for (size_t i = 0; i < n; i++) {
		const struct renewal_row *x = &rows[i];
		bool expired = x->not_after < now;
		const char *why = x->revoked                     ? "证书已吊销"
		                  : x->number                    ? "已申请更新"
		                  : x->window == RENEW_TOO_EARLY ? "尚未进入更新期"
		                  : x->window == RENEW_TOO_LATE  ? "已超过更新宽限期"
		                  : expired ? "已过期，宽限期内可更新"
		                            : "可以申请更新";
		json_t *o = json_pack(
		    "{s:s, s:s, s:s, s:s, s:b, s:s}", "serial", x->serial, "token_serial",
		    x->token_serial, "expires", time_date(r->arena, x->not_after), "status_label",
		    x->revoked ? "已吊销"
		    : expired  ? "已过期"
		               : "有效",
		    "can_apply", !x->revoked && !x->number && x->window == RENEW_OK, "window", why);
		if (x->number) {
			json_object_set_new(o, "number", json_string(x->number));
			json_object_set_new(o, "state_label",
			                    json_string(appstate_label(x->state)));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The renewal table's values, added to a page's context. */
void renewal_context(struct request *r, json_t *ctx)
{
	struct renewal_window w = window_of(r);
	json_object_set_new(ctx, "renewals", renewal_rows(r, &w));
	json_object_set_new(ctx, "renewal_before_days", json_integer(w.before_days));
	json_object_set_new(ctx, "renewal_grace_days", json_integer(w.grace_days));
	json_object_set_new(ctx, "public_url", json_string(r->srv->public_url));
	struct fee fee = {0};
	req_fee(r, &fee);
	json_object_set_new(ctx, "renewal_fee", json_integer(fee.renewal_yuan));
}

void page_renewal(struct request *r)
{
	if (!r->actor.registration_id) {
		reply_forbidden(r);
		return;
	}
	json_t *ctx = json_object();
	renewal_context(r, ctx);
	render_page(r, 200, "renewal", "证书更新", ctx);
}

void page_renewal_apply(struct request *r)
{
	struct renewal_window w = window_of(r);
	char *number = NULL;
	enum renewal_result res = renewal_apply(req_db(r), &r->actor, r->params[0], &w, &number);
	if (res == RENEW_OK || res == RENEW_EXISTING) {
		char *to = xasprintf("/applications/%s", number);
		redirect(r, to);
		free(to);
	} else if (res == RENEW_ERROR) {
		reply_server_error(r, "renewal application failed");
	} else {
		render_message(r, renewal_result_status(res), "不能申请证书更新",
		               renewal_result_message(res));
	}
	free(number);
}

static const char *field(json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

static void reply_refusal(struct request *r, enum renewal_result res, enum ca_status cs)
{
	if (res == RENEW_ERROR)
		log_error("req=%llu renewal failed", (unsigned long long)r->id);
	if (res == RENEW_BAD_CSR && cs != CA_OK) {
		char *msg = xasprintf("%s：%s", renewal_result_message(res), ca_status_message(cs));
		reply_json_error(r, 400, "bad_csr", msg);
		free(msg);
		return;
	}
	reply_json_error(r, renewal_result_status(res), renewal_result_code(res),
	                 renewal_result_message(res));
}

void api_renewal_issue(struct request *r)
{
	json_t *body = req_json_body(r);
	if (!body)
		return;
	struct renewal_request rq = {.old_cert_pem = field(body, "certificate"),
	                             .csr_pem = field(body, "csr"),
	                             .signature_b64 = field(body, "signature"),
	                             .token_serial = field(body, "token_serial")};
	struct renewal_window w = window_of(r);
	char *crl_url = xasprintf("%s/ca/crl", r->srv->public_url);
	enum ca_status cs = CA_OK;
	struct issued out = {0};
	char *number = NULL;
	enum renewal_result res =
	    renewal_issue(req_db(r), r->srv->ca, &rq, &w, crl_url,
	                  r->srv->limits.cert_validity_days, &cs, &out, &number);
	free(crl_url);
	if (res == RENEW_OK || res == RENEW_EXISTING)
		reply_issued_json(r, renewal_result_status(res), out.serial, out.pem, number);
	else
		reply_refusal(r, res, cs);
	issued_free(&out);
	free(number);
}

void api_renewal_confirm(struct request *r)
{
	json_t *body = req_json_body(r);
	if (!body)
		return;
	char *number = NULL, *old = NULL;
	enum renewal_result res = renewal_confirm(
	    req_db(r), r->srv->ca, field(body, "certificate"), field(body, "signature"),
	    (int)config_get_long(r->srv->cfg, "crl_hours"), &number, &old);
	if (res == RENEW_OK || res == RENEW_EXISTING)
		reply_json(r, 200,
		           json_pack("{s:s, s:s, s:s}", "application", number, "superseded", old,
		                     "status", "renewed"));
	else
		reply_refusal(r, res, CA_OK);
	free(number);
	free(old);
}

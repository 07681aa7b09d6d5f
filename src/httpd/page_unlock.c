/*
 * 密码解锁 (remote unlock) over HTTP: the holder's page (password login: a
 * locked key does not log in) and its 申请解锁 button, and the JSON API:
 *
 *   POST /api/v1/tokens/{serial}/so-pin          RA workstation (Bearer): the SO PIN to set at
 * enrolment POST /api/v1/tokens/{serial}/so-pin/confirm  RA workstation (Bearer): it is set POST
 * /api/v1/unlocks/{number}/release        the holder's tool: {"code", "token_serial"} POST
 * /api/v1/unlocks/{number}/confirm        the holder's tool: {"code"}
 */
#include "httpd.h"
#include "esp/api_token.h"
#include "esp/application.h"
#include "esp/sopin.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void page_unlock(struct request *r)
{
	if (!r->actor.registration_id) {
		reply_forbidden(r);
		return;
	}
	struct unlock_row *rows = NULL;
	size_t n = 0;
	if (sopin_unlock_list(req_db(r), r->arena, r->actor.registration_id, &rows, &n) != DB_OK) {
		reply_server_error(r, "unlock list");
		return;
	}
	json_t *tokens = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:b}", "token_serial", rows[i].token_serial,
		                      "serial", rows[i].serial, "custody", rows[i].custody);
		if (rows[i].number)
			json_object_set_new(o, "number", json_string(rows[i].number));
		json_array_append_new(tokens, o);
	}
	render_page(r, 200, "unlock", "密码解锁", json_pack("{s:o}", "tokens", tokens));
}

void page_unlock_apply(struct request *r)
{
	char *number = NULL;
	enum sopin_result res = sopin_unlock_apply(req_db(r), &r->actor, r->params[0], &number);
	if (res == SOPIN_OK || res == SOPIN_EXISTING) {
		char *to = xasprintf("/applications/%s", number);
		redirect(r, to);
		free(to);
	} else if (res == SOPIN_ERROR || res == SOPIN_NO_KEY) {
		reply_server_error(r, "unlock application failed");
	} else {
		render_message(r, sopin_result_status(res), "不能申请密码解锁",
		               sopin_result_message(res));
	}
	free(number);
}

/* The one-time authorisation for the application page of its holder. */
void unlock_context(struct request *r, const struct application *app, json_t *ctx)
{
	if (app->type != APP_TYPE_UNLOCK || r->actor.registration_id != app->registration_id)
		return;
	char *code = sopin_unlock_code(req_db(r), app->number);
	if (code) {
		json_object_set_new(ctx, "unlock_code", json_string(code));
		sodium_memzero(code, strlen(code));
		free(code);
	}
}

static void reply_refusal(struct request *r, enum sopin_result res)
{
	if (res == SOPIN_ERROR || res == SOPIN_NO_KEY)
		log_error("req=%llu SO PIN step failed: %s", (unsigned long long)r->id,
		          sopin_result_code(res));
	reply_json_error(r, sopin_result_status(res), sopin_result_code(res),
	                 sopin_result_message(res));
}

void api_token_so_pin(struct request *r)
{
	if (!req_bearer_actor(r))
		return;
	char *pin = NULL;
	enum sopin_result res = sopin_custody_begin(req_db(r), &r->actor, r->params[0], &pin);
	if (res == SOPIN_OK) {
		reply_json(r, 200,
		           json_pack("{s:s, s:s}", "token_serial", r->params[0], "so_pin", pin));
		sodium_memzero(pin, strlen(pin));
	} else if (res == SOPIN_EXISTING) {
		reply_json(
		    r, 200,
		    json_pack("{s:s, s:s}", "token_serial", r->params[0], "status", "in_custody"));
	} else {
		reply_refusal(r, res);
	}
	free(pin);
}

void api_token_so_pin_confirm(struct request *r)
{
	if (!req_bearer_actor(r))
		return;
	enum sopin_result res = sopin_custody_confirm(req_db(r), &r->actor, r->params[0]);
	if (res == SOPIN_OK || res == SOPIN_EXISTING)
		reply_json(
		    r, 200,
		    json_pack("{s:s, s:s}", "token_serial", r->params[0], "status", "in_custody"));
	else
		reply_refusal(r, res);
}

void api_unlock_release(struct request *r)
{
	json_t *body = req_json_body(r);
	if (!body)
		return;
	char *current = NULL, *next = NULL;
	enum sopin_result res = sopin_unlock_release(
	    req_db(r), r->params[0], json_string_value(json_object_get(body, "code")),
	    json_string_value(json_object_get(body, "token_serial")), &current, &next);
	if (res == SOPIN_OK) {
		reply_json(r, 200,
		           json_pack("{s:s, s:s, s:s}", "application", r->params[0], "so_pin",
		                     current, "next_so_pin", next));
		sodium_memzero(current, strlen(current));
		sodium_memzero(next, strlen(next));
	} else {
		reply_refusal(r, res);
	}
	free(current);
	free(next);
}

void api_unlock_confirm(struct request *r)
{
	json_t *body = req_json_body(r);
	if (!body)
		return;
	enum sopin_result res = sopin_unlock_confirm(
	    req_db(r), r->params[0], json_string_value(json_object_get(body, "code")));
	if (res == SOPIN_OK || res == SOPIN_EXISTING)
		reply_json(
		    r, 200,
		    json_pack("{s:s, s:s}", "application", r->params[0], "status", "unlocked"));
	else
		reply_refusal(r, res);
}

/*
 * token_cmd_unlock_remote.c - the SO PIN in ESP's custody: set at
 * enrolment (`enroll --so-pin-file`, the RA's workstation) and used once by
 * the holder's `unlock --remote`:
 *
 *   POST <server>/api/v1/unlocks/<N>/release {"code", "token_serial"}
 *        -> {"so_pin", "next_so_pin"}   (the same pair until confirmed)
 *   log in as SO (with next_so_pin if an interrupted run already changed
 *   it), C_InitPIN the holder's new PIN, C_SetPIN the SO PIN to next_so_pin
 *   POST <server>/api/v1/unlocks/<N>/confirm {"code"}
 *
 * Neither SO PIN is ever printed or written anywhere.  The unlock itself is
 * token_unlock_remote.c's, shared with the desktop window's 【密码解锁】; this
 * reads the authorisation and the new PIN and prints the progress.
 */
#include "esp_token.h"

#include <stdlib.h>
#include <string.h>

#define TOK_CODE_BUF 256

int tok_so_pin_custody(const struct tok_opts *o, const char *base, const char *api_token,
                       const char *token_serial)
{
	struct tok_ctx ctx = {.h = CK_INVALID_HANDLE}, *t = &ctx;
	char current[TOK_PIN_BUF], next[TOK_PIN_BUF];
	memset(next, 0, sizeof next);
	if (tok_read_first_line(o->so_pin_file, current, sizeof current, "管理员PIN码 (SO PIN)") !=
	    0)
		return TOK_EXIT_USAGE;
	char *url = tok_url_for(base, "/api/v1/tokens/%s/so-pin", token_serial);
	json_t *body = json_object(), *reply = NULL;
	int rc = tok_post_json(o->ca_file, url, api_token, body, &reply);
	free(url);
	if (rc == TOK_EXIT_OK && !tok_reply_pin(reply, "so_pin", next, sizeof next)) {
		/* Already in custody (an earlier run confirmed it): nothing to do. */
		printf("管理员PIN码 (SO PIN) 已由系统保管。\n");
		goto out;
	}
	if (rc != TOK_EXIT_OK)
		goto out;
	rc = tok_load(t, o->module);
	if (rc == TOK_EXIT_OK)
		rc = tok_select(t, o->token);
	if (rc == TOK_EXIT_OK)
		rc = tok_rotate_so_pin(t, current, next, NULL);
	if (rc == TOK_EXIT_OK) {
		json_decref(reply);
		reply = NULL;
		url = tok_url_for(base, "/api/v1/tokens/%s/so-pin/confirm", token_serial);
		rc = tok_post_json(o->ca_file, url, api_token, body, &reply);
		free(url);
	}
	if (rc == TOK_EXIT_OK)
		printf("已把管理员PIN码 (SO PIN) 换成系统生成的随机PIN码，由系统加密保管"
		       "（用于远程密码解锁）。\n");
	else
		tok_note(
		    "重新运行同一 enroll 命令可继续：系统在确认之前一直保留同一个新管理员PIN码。");
out:
	tok_unload(t);
	json_decref(reply);
	json_decref(body);
	tok_wipe(current, sizeof current);
	tok_wipe(next, sizeof next);
	return rc;
}

static void print_progress(const char *text, X509 *cert, void *data)
{
	(void)cert;
	(void)data;
	printf("%s\n", text);
	fflush(stdout);
}

int tok_cmd_unlock_remote(const struct tok_opts *o)
{
	if (!o->server || !o->application || !o->code_file) {
		tok_err("unlock --remote 需要 --server、--application 和 --code-file");
		return TOK_EXIT_USAGE;
	}
	if (o->so_pin_file) {
		tok_err("unlock --remote 不用 --so-pin-file：管理员PIN码由系统保管");
		return TOK_EXIT_USAGE;
	}
	if (!tok_valid_application(o->application)) {
		tok_err("--application 必须是申请编号（如 ESP-2026-000123）：%s", o->application);
		return TOK_EXIT_USAGE;
	}
	char code[TOK_CODE_BUF], pin[TOK_PIN_BUF];
	int rc = TOK_EXIT_USAGE;
	if (tok_read_first_line(o->code_file, code, sizeof code, "一次性授权码") == 0 &&
	    (rc = tok_get_new_pin(o->new_pin_file, pin, sizeof pin)) == TOK_EXIT_OK) {
		struct tok_unlock_req r = {.module = o->module,
		                           .token = o->token,
		                           .server = o->server,
		                           .ca_file = o->ca_file,
		                           .application = o->application,
		                           .code = code,
		                           .new_pin = pin,
		                           .progress = print_progress};
		rc = tok_unlock_remote(&r);
	}
	tok_wipe(code, sizeof code);
	tok_wipe(pin, sizeof pin);
	return rc;
}

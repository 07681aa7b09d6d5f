/*
 * token_cmd_pin.c - `passwd` (the holder changes the user PIN, C_SetPIN) and
 * `unlock` (the RA's 密码解锁: log in as SO, set a new user PIN with
 * C_InitPIN), as the token library does them.  PIN buffers are wiped before
 * returning.
 */
#include "esp_token.h"

#include <string.h>

int tok_cmd_passwd(const struct tok_opts *o)
{
	char old_pin[TOK_PIN_BUF], new_pin[TOK_PIN_BUF];
	memset(old_pin, 0, sizeof old_pin);
	memset(new_pin, 0, sizeof new_pin);
	struct tok_ctx t;
	int rc = tok_load(&t, o->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	rc = tok_select(&t, o->token);
	if (rc == TOK_EXIT_OK)
		rc = tok_get_pin(o->pin_file, "当前PIN码 (current PIN)", old_pin, sizeof old_pin);
	if (rc == TOK_EXIT_OK)
		rc = tok_get_new_pin(o->new_pin_file, new_pin, sizeof new_pin);
	if (rc == TOK_EXIT_OK) {
		rc = tok_change_pin(&t, old_pin, new_pin);
		if (rc == TOK_EXIT_OK)
			printf("PIN码已修改 (PIN changed)。\n");
	}
	tok_wipe(old_pin, sizeof old_pin);
	tok_wipe(new_pin, sizeof new_pin);
	tok_unload(&t);
	return rc;
}

int tok_cmd_unlock(const struct tok_opts *o)
{
	if (o->remote)
		return tok_cmd_unlock_remote(o);
	if (o->server || o->application || o->code_file) {
		tok_err("--server、--application 和 --code-file 只用于 unlock --remote");
		return TOK_EXIT_USAGE;
	}
	char so_pin[TOK_PIN_BUF], new_pin[TOK_PIN_BUF];
	memset(so_pin, 0, sizeof so_pin);
	memset(new_pin, 0, sizeof new_pin);
	struct tok_ctx t;
	int rc = tok_load(&t, o->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	rc = tok_select(&t, o->token);
	if (rc == TOK_EXIT_OK)
		rc = tok_get_pin(o->so_pin_file, "管理员PIN码 (SO PIN)", so_pin, sizeof so_pin);
	if (rc == TOK_EXIT_OK)
		rc = tok_get_new_pin(o->new_pin_file, new_pin, sizeof new_pin);
	if (rc == TOK_EXIT_OK) {
		rc = tok_unlock_pin(&t, so_pin, new_pin);
		if (rc == TOK_EXIT_OK)
			printf("证书U盘已解锁：已用管理员PIN码 (SO PIN) 设置新的用户PIN码。\n");
	}
	tok_wipe(so_pin, sizeof so_pin);
	tok_wipe(new_pin, sizeof new_pin);
	tok_unload(&t);
	return rc;
}

/*
 * token_cmd_pin.c - `passwd` (the holder changes the user PIN, C_SetPIN) and
 * `unlock` (the RA's 密码解锁: log in as SO, set a new user PIN with
 * C_InitPIN).  PIN buffers are wiped before returning.
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
	if (rc == TOK_EXIT_OK)
		rc = tok_open_session(&t, true);
	if (rc == TOK_EXIT_OK) {
		CK_RV rv = t.f->C_SetPIN(t.h, (CK_UTF8CHAR_PTR)old_pin, (CK_ULONG)strlen(old_pin),
		                         (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin));
		rc = tok_pin_result(&t, rv, "修改PIN码 (C_SetPIN)");
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
	if (rc == TOK_EXIT_OK)
		rc = tok_open_session(&t, true);
	if (rc == TOK_EXIT_OK)
		rc = tok_login(&t, CKU_SO, so_pin);
	tok_wipe(so_pin, sizeof so_pin);
	if (rc == TOK_EXIT_OK) {
		CK_RV rv = t.f->C_InitPIN(t.h, (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin));
		rc = tok_pin_result(&t, rv, "设置用户PIN码 (C_InitPIN)");
		if (rc == TOK_EXIT_OK)
			printf("证书U盘已解锁：已用管理员PIN码 (SO PIN) 设置新的用户PIN码。\n");
	}
	tok_wipe(new_pin, sizeof new_pin);
	tok_unload(&t);
	return rc;
}

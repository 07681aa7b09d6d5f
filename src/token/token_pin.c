/*
 * token_pin.c - the PIN rules and the two PIN operations of a certificate
 * key: the holder's 修改密码 (C_SetPIN) and the RA's 密码解锁 (log in as SO,
 * C_InitPIN).  Callers read the PINs and wipe them; nothing here keeps a copy.
 */
#include "token.h"

#include <stdlib.h>
#include <string.h>

int tok_check_new_pin(const char *pin)
{
	size_t n = tok_utf8_len(pin);
	if (n < TOK_PIN_MIN || n > TOK_PIN_MAX) {
		tok_err("新PIN码长度必须为%d–%d个字符（现为%zu个）", TOK_PIN_MIN, TOK_PIN_MAX, n);
		return TOK_EXIT_USAGE;
	}
	for (const unsigned char *p = (const unsigned char *)pin; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			tok_err("新PIN码含有控制字符");
			return TOK_EXIT_USAGE;
		}
	}
	return TOK_EXIT_OK;
}

/* A read-write session of its own, closed again: the caller's session (if
 * any) is left as it was. */
static int rw_session(struct tok_ctx *t, CK_SESSION_HANDLE *h)
{
	CK_RV rv =
	    t->f->C_OpenSession(t->slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, h);
	if (rv != CKR_OK) {
		tok_err("打开会话 (C_OpenSession) 失败：%s [CKR 0x%lx]", tok_ckr_text(rv),
		        (unsigned long)rv);
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

int tok_change_pin(struct tok_ctx *t, const char *old_pin, const char *new_pin)
{
	int rc = tok_check_new_pin(new_pin);
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	if (rc == TOK_EXIT_OK)
		rc = rw_session(t, &h);
	if (rc != TOK_EXIT_OK)
		return rc;
	CK_RV rv = t->f->C_SetPIN(h, (CK_UTF8CHAR_PTR)old_pin, (CK_ULONG)strlen(old_pin),
	                          (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin));
	t->f->C_CloseSession(h);
	return tok_pin_result(t, rv, "修改PIN码 (C_SetPIN)");
}

int tok_unlock_pin(struct tok_ctx *t, const char *so_pin, const char *new_pin)
{
	int rc = tok_check_new_pin(new_pin);
	if (rc == TOK_EXIT_OK && t->h == CK_INVALID_HANDLE)
		rc = tok_open_session(t, true);
	if (rc == TOK_EXIT_OK)
		rc = tok_login(t, CKU_SO, so_pin);
	if (rc != TOK_EXIT_OK)
		return rc;
	CK_RV rv = t->f->C_InitPIN(t->h, (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin));
	rc = tok_pin_result(t, rv, "设置用户PIN码 (C_InitPIN)");
	t->f->C_Logout(t->h);
	t->logged_in = false;
	return rc;
}

int tok_rotate_so_pin(struct tok_ctx *t, const char *so_pin, const char *next_so_pin,
                      const char *new_user_pin)
{
	int rc = new_user_pin ? tok_check_new_pin(new_user_pin) : TOK_EXIT_OK;
	if (rc == TOK_EXIT_OK && t->h == CK_INVALID_HANDLE)
		rc = tok_open_session(t, true);
	if (rc != TOK_EXIT_OK)
		return rc;
	/* One quiet try with the SO PIN in custody: refused as incorrect, the
	 * change was made by an interrupted run, and the next one logs in. */
	bool changed = false;
	CK_RV rv = t->f->C_Login(t->h, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, (CK_ULONG)strlen(so_pin));
	if (rv == CKR_PIN_INCORRECT) {
		rc = tok_login(t, CKU_SO, next_so_pin);
		changed = rc == TOK_EXIT_OK;
	} else if (rv == CKR_OK) {
		t->logged_in = true;
	} else {
		rc = tok_pin_result(t, rv, "管理员PIN码登录 (C_Login CKU_SO)");
	}
	if (rc != TOK_EXIT_OK)
		return rc;
	if (new_user_pin) {
		rv = t->f->C_InitPIN(t->h, (CK_UTF8CHAR_PTR)new_user_pin,
		                     (CK_ULONG)strlen(new_user_pin));
		rc = tok_pin_result(t, rv, "设置用户PIN码 (C_InitPIN)");
	}
	if (rc == TOK_EXIT_OK && !changed) {
		rv = t->f->C_SetPIN(t->h, (CK_UTF8CHAR_PTR)so_pin, (CK_ULONG)strlen(so_pin),
		                    (CK_UTF8CHAR_PTR)next_so_pin, (CK_ULONG)strlen(next_so_pin));
		rc = tok_pin_result(t, rv, "更换管理员PIN码 (C_SetPIN)");
	}
	t->f->C_Logout(t->h);
	t->logged_in = false;
	return rc;
}

int tok_login_user(struct tok_ctx *t, const char *pin, char **serial)
{
	int rc = tok_open_session(t, true);
	if (rc != TOK_EXIT_OK)
		return rc;
	if ((rc = tok_login(t, CKU_USER, pin)) != TOK_EXIT_OK)
		return rc;
	CK_TOKEN_INFO info;
	if ((rc = tok_token_info(t, t->slot_id, &info)) != TOK_EXIT_OK)
		return rc;
	*serial = tok_p11_string(info.serialNumber, sizeof info.serialNumber);
	if (!(*serial)[0]) {
		tok_err("证书U盘没有序列号 (serial number)");
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

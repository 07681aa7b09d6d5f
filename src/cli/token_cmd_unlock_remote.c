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
 * Neither SO PIN is ever printed or written anywhere.
 */
#include "esp_token.h"

#include <stdlib.h>
#include <string.h>

#define TOK_CODE_BUF 256

static char *url_for(const char *base, const char *fmt, const char *arg)
{
	size_t n = strlen(base) + strlen(fmt) + strlen(arg) + 1;
	char *u = tok_xmalloc(n);
	int k = snprintf(u, n, "%s", base);
	snprintf(u + k, n - (size_t)k, fmt, arg);
	return u;
}

/* POST body; *reply (on 2xx) owned by the caller. Returns exit code (reported). */
static int post(const struct tok_opts *o, const char *url, const char *bearer, json_t *body,
                json_t **reply)
{
	*reply = NULL;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		tok_err("无法生成请求");
		return TOK_EXIT_USAGE;
	}
	struct tok_http h = {.ca_file = o->ca_file, .bearer = bearer};
	long status = 0;
	json_t *r = NULL;
	int rc = tok_http_json(&h, url, text, &status, &r);
	tok_wipe(text, strlen(text));
	free(text);
	if (rc == TOK_EXIT_OK && status != 200)
		rc = tok_http_failure(status, r);
	if (rc == TOK_EXIT_OK)
		*reply = r;
	else
		json_decref(r);
	return rc;
}

/* A PIN string of the reply, copied into buf; false when absent. */
static bool reply_pin(json_t *reply, const char *name, char *buf, size_t size)
{
	const char *v = json_string_value(json_object_get(reply, name));
	if (!v || !*v || strlen(v) >= size)
		return false;
	snprintf(buf, size, "%s", v);
	return true;
}

int tok_so_pin_custody(const struct tok_opts *o, const char *base, const char *api_token,
                       const char *token_serial)
{
	struct tok_ctx ctx = {.h = CK_INVALID_HANDLE}, *t = &ctx;
	char current[TOK_PIN_BUF], next[TOK_PIN_BUF];
	memset(next, 0, sizeof next);
	if (tok_read_first_line(o->so_pin_file, current, sizeof current, "管理员PIN码 (SO PIN)") !=
	    0)
		return TOK_EXIT_USAGE;
	char *url = url_for(base, "/api/v1/tokens/%s/so-pin", token_serial);
	json_t *body = json_object(), *reply = NULL;
	int rc = post(o, url, api_token, body, &reply);
	free(url);
	if (rc == TOK_EXIT_OK && !reply_pin(reply, "so_pin", next, sizeof next)) {
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
		url = url_for(base, "/api/v1/tokens/%s/so-pin/confirm", token_serial);
		rc = post(o, url, api_token, body, &reply);
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

static bool valid_number(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= 'a' && *s <= 'z') || *s == '-'))
			return false;
	return true;
}

struct unlock_state {
	struct tok_ctx t;
	char code[TOK_CODE_BUF], new_pin[TOK_PIN_BUF], so_pin[TOK_PIN_BUF], next[TOK_PIN_BUF];
	char *base, *serial;
};

static int unlock_run(const struct tok_opts *o, struct unlock_state *s)
{
	int rc = tok_load(&s->t, o->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	if ((rc = tok_select(&s->t, o->token)) != TOK_EXIT_OK)
		return rc;
	CK_TOKEN_INFO info;
	if ((rc = tok_token_info(&s->t, s->t.slot_id, &info)) != TOK_EXIT_OK)
		return rc;
	s->serial = tok_p11_string(info.serialNumber, sizeof info.serialNumber);
	if (tok_read_first_line(o->code_file, s->code, sizeof s->code, "一次性授权码") != 0)
		return TOK_EXIT_USAGE;
	if ((rc = tok_get_new_pin(o->new_pin_file, s->new_pin, sizeof s->new_pin)) != TOK_EXIT_OK)
		return rc;
	char *url = url_for(s->base, "/api/v1/unlocks/%s/release", o->application);
	json_t *body = json_pack("{s:s, s:s}", "code", s->code, "token_serial", s->serial);
	json_t *reply = NULL;
	printf("正在从服务器取得一次性解锁授权（证书U盘 %s）。\n", s->serial);
	fflush(stdout);
	rc = post(o, url, NULL, body, &reply);
	free(url);
	if (rc == TOK_EXIT_OK && (!reply_pin(reply, "so_pin", s->so_pin, sizeof s->so_pin) ||
	                          !reply_pin(reply, "next_so_pin", s->next, sizeof s->next))) {
		tok_err("服务器的应答中没有管理员PIN码");
		rc = TOK_EXIT_NETWORK;
	}
	json_decref(reply);
	reply = NULL;
	if (rc == TOK_EXIT_OK)
		rc = tok_rotate_so_pin(&s->t, s->so_pin, s->next, s->new_pin);
	if (rc == TOK_EXIT_OK) {
		printf("已设置新的用户PIN码，并更换了管理员PIN码。\n");
		json_object_del(body, "token_serial");
		url = url_for(s->base, "/api/v1/unlocks/%s/confirm", o->application);
		rc = post(o, url, NULL, body, &reply);
		free(url);
		if (rc == TOK_EXIT_OK)
			printf("服务器已确认，密码解锁完成；授权码已作废。\n");
		else
			tok_note("新PIN码已生效；请用同一授权码重新运行本命令，向服务器确认。");
	}
	json_decref(reply);
	json_decref(body);
	return rc;
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
	if (!valid_number(o->application)) {
		tok_err("--application 必须是申请编号（如 ESP-2026-000123）：%s", o->application);
		return TOK_EXIT_USAGE;
	}
	struct unlock_state *s = tok_xmalloc(sizeof *s);
	memset(s, 0, sizeof *s);
	s->t.h = CK_INVALID_HANDLE;
	int rc = TOK_EXIT_USAGE;
	s->base = tok_server_base(o->server);
	if (s->base)
		rc = unlock_run(o, s);
	tok_wipe(s->code, sizeof s->code);
	tok_wipe(s->new_pin, sizeof s->new_pin);
	tok_wipe(s->so_pin, sizeof s->so_pin);
	tok_wipe(s->next, sizeof s->next);
	free(s->serial);
	free(s->base);
	tok_unload(&s->t);
	free(s);
	return rc;
}

/*
 * token_unlock_remote.c - 密码解锁 remotely, shared by `esp-token unlock
 * --remote` and the desktop window's 【密码解锁】:
 *
 *   POST <server>/api/v1/unlocks/<N>/release {"code", "token_serial"}
 *        -> {"so_pin", "next_so_pin"}   (the same pair until confirmed)
 *   log in as SO (with next_so_pin if an interrupted run already changed
 *   it), C_InitPIN the holder's new PIN, C_SetPIN the SO PIN to next_so_pin
 *   POST <server>/api/v1/unlocks/<N>/confirm {"code"}
 *
 * Neither SO PIN is ever printed or written anywhere; both are wiped here.
 * Progress goes to the caller's callback, errors to the token library's sink.
 */
#include "token_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool tok_valid_application(const char *s)
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

bool tok_reply_pin(json_t *reply, const char *name, char *buf, size_t size)
{
	const char *v = json_string_value(json_object_get(reply, name));
	if (!v || !*v || strlen(v) >= size)
		return false;
	snprintf(buf, size, "%s", v);
	return true;
}

struct unlock_state {
	const struct tok_unlock_req *r;
	struct tok_ctx t;
	char so_pin[TOK_PIN_BUF], next[TOK_PIN_BUF];
	char *base, *serial;
};

static void say(struct unlock_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct unlock_state *s, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (s->r->progress)
		s->r->progress(text, NULL, s->r->data);
}

static int unlock_run(const struct tok_unlock_req *o, struct unlock_state *s)
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
	char *url = tok_url_for(s->base, "/api/v1/unlocks/%s/release", o->application);
	json_t *body = json_pack("{s:s, s:s}", "code", o->code, "token_serial", s->serial);
	json_t *reply = NULL;
	say(s, "正在从服务器取得一次性解锁授权（证书U盘 %s）……", s->serial);
	rc = tok_post_json(o->ca_file, url, NULL, body, &reply);
	free(url);
	if (rc == TOK_EXIT_OK && (!tok_reply_pin(reply, "so_pin", s->so_pin, sizeof s->so_pin) ||
	                          !tok_reply_pin(reply, "next_so_pin", s->next, sizeof s->next))) {
		tok_err("服务器的应答中没有管理员PIN码");
		rc = TOK_EXIT_NETWORK;
	}
	json_decref(reply);
	reply = NULL;
	if (rc == TOK_EXIT_OK)
		rc = tok_rotate_so_pin(&s->t, s->so_pin, s->next, o->new_pin);
	if (rc == TOK_EXIT_OK) {
		say(s, "已设置新的用户PIN码，并更换了管理员PIN码。");
		json_object_del(body, "token_serial");
		url = tok_url_for(s->base, "/api/v1/unlocks/%s/confirm", o->application);
		rc = tok_post_json(o->ca_file, url, NULL, body, &reply);
		free(url);
		if (rc == TOK_EXIT_OK)
			say(s, "服务器已确认，密码解锁完成；授权码已作废。");
		else
			tok_note("新PIN码已生效；请用同一授权码再做一次密码解锁，向服务器确认。");
	}
	json_decref(reply);
	json_decref(body);
	return rc;
}

int tok_unlock_remote(const struct tok_unlock_req *r)
{
	if (!r->server || !r->application || !r->code || !*r->code || !r->new_pin) {
		tok_err("密码解锁需要服务器地址、申请编号和一次性授权码");
		return TOK_EXIT_USAGE;
	}
	if (!tok_valid_application(r->application)) {
		tok_err("申请编号格式不正确（如 ESP-2026-000123）");
		return TOK_EXIT_USAGE;
	}
	int rc = tok_check_new_pin(r->new_pin);
	if (rc != TOK_EXIT_OK)
		return rc;
	struct unlock_state *s = tok_xmalloc(sizeof *s);
	memset(s, 0, sizeof *s);
	s->r = r;
	s->t.h = CK_INVALID_HANDLE;
	rc = TOK_EXIT_USAGE;
	s->base = tok_server_base(r->server);
	if (s->base)
		rc = unlock_run(r, s);
	tok_wipe(s->so_pin, sizeof s->so_pin);
	tok_wipe(s->next, sizeof s->next);
	free(s->serial);
	free(s->base);
	tok_unload(&s->t);
	free(s);
	return rc;
}

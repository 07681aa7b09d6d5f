/*
 * token_cmd_login.c - `esp-token login`: signed-challenge login.
 *
 *   GET  <server>/api/v1/login/challenge   -> {"challenge": b64, "id": ...}
 *   sign the raw challenge bytes with the token key (ECDSA-SHA256 in DER, or
 *   RSA PKCS#1 v1.5 with SHA-256)
 *   POST <server>/api/v1/login/certificate {"id", "challenge", "signature",
 *        "certificate"}                    -> {"session": "..."}
 * The session token is printed on stdout (and nothing else is).
 */
#include "esp_token.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define TOK_CHALLENGE_MAX 4096

struct login_state {
	struct tok_ctx t;
	char pin[TOK_PIN_BUF];
	struct tok_cert *certs;
	size_t ncerts;
	char *base, *url, *pem, *sig, *body;
	unsigned char *challenge;
	EVP_PKEY *priv;
	json_t *reply;
};

static int get_challenge(const struct tok_opts *o, struct login_state *s, json_t **ch)
{
	size_t n = strlen(s->base) + 64;
	s->url = tok_xmalloc(n);
	snprintf(s->url, n, "%s/api/v1/login/challenge", s->base);
	struct tok_http h = {.ca_file = o->ca_file, .bearer = NULL};
	long status;
	int rc = tok_http_json(&h, s->url, NULL, &status, ch);
	if (rc != TOK_EXIT_OK)
		return rc;
	if (status != 200)
		return tok_http_failure(status, *ch);
	json_t *c = json_object_get(*ch, "challenge");
	json_t *id = json_object_get(*ch, "id");
	if (!json_is_string(c) || !(json_is_string(id) || json_is_integer(id))) {
		tok_err("服务器的挑战 (challenge) 应答格式不对");
		return TOK_EXIT_NETWORK;
	}
	return TOK_EXIT_OK;
}

static int login_run(const struct tok_opts *o, struct login_state *s)
{
	int rc = tok_load(&s->t, o->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	if ((rc = tok_select(&s->t, o->token)) != TOK_EXIT_OK)
		return rc;
	if ((rc = tok_find_certs(&s->t, &s->certs, &s->ncerts)) != TOK_EXIT_OK)
		return rc;
	int pick = tok_choose_cert(s->certs, s->ncerts, o->id_hex, o->label);
	if (pick < 0)
		return pick == -2 ? TOK_EXIT_USAGE : TOK_EXIT_TOKEN;
	struct tok_cert *cert = &s->certs[pick];
	if (tok_days_left(cert->x509) < 0) {
		tok_err("证书已过期，无法登录");
		tok_note("过期后的更新宽限期内仍可更新：用用户名和密码登录系统，在【证书更新】申请"
		         "并付款后，"
		         "运行 esp-token renew --server <地址>。");
		return TOK_EXIT_TOKEN;
	}
	if ((rc = tok_get_pin(o->pin_file, "PIN码", s->pin, sizeof s->pin)) != TOK_EXIT_OK)
		return rc;
	rc = tok_login(&s->t, CKU_USER, s->pin);
	tok_wipe(s->pin, sizeof s->pin);
	if (rc != TOK_EXIT_OK)
		return rc;
	PKCS11_KEY *key = tok_find_p11_key(&s->t, cert->id, cert->id_len);
	s->priv = key ? PKCS11_get_private_key(key) : NULL;
	if (!s->priv) {
		tok_err("证书U盘上没有与证书对应的私钥 (private key)");
		return TOK_EXIT_TOKEN;
	}
	s->pem = tok_cert_pem(cert->x509);
	if (!s->pem)
		return TOK_EXIT_TOKEN;

	json_t *ch = NULL;
	rc = get_challenge(o, s, &ch);
	if (rc != TOK_EXIT_OK) {
		json_decref(ch);
		return rc;
	}
	const char *c64 = json_string_value(json_object_get(ch, "challenge"));
	size_t clen = 0;
	s->challenge = tok_unbase64(c64, &clen);
	if (!s->challenge || clen == 0 || clen > TOK_CHALLENGE_MAX) {
		tok_err("服务器的挑战 (challenge) 不是有效的 base64");
		json_decref(ch);
		return TOK_EXIT_NETWORK;
	}
	s->sig = tok_sign_b64(s->priv, s->challenge, clen);
	if (!s->sig) {
		json_decref(ch);
		return TOK_EXIT_TOKEN;
	}
	json_t *body = json_pack("{s:O, s:s, s:s, s:s}", "id", json_object_get(ch, "id"),
	                         "challenge", c64, "signature", s->sig, "certificate", s->pem);
	json_decref(ch);
	s->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!s->body)
		return TOK_EXIT_USAGE;

	size_t n = strlen(s->base) + 64;
	free(s->url);
	s->url = tok_xmalloc(n);
	snprintf(s->url, n, "%s/api/v1/login/certificate", s->base);
	struct tok_http h = {.ca_file = o->ca_file, .bearer = NULL};
	long status;
	rc = tok_http_json(&h, s->url, s->body, &status, &s->reply);
	if (rc != TOK_EXIT_OK)
		return rc;
	if (status != 200 && status != 201)
		return tok_http_failure(status, s->reply);
	const char *session = json_string_value(json_object_get(s->reply, "session"));
	if (!session || !session[0]) {
		tok_err("服务器的应答中没有会话 (session)");
		return TOK_EXIT_NETWORK;
	}
	tok_fputs_clean(session, stdout);
	fputc('\n', stdout);
	return TOK_EXIT_OK;
}

int tok_cmd_login(const struct tok_opts *o)
{
	if (!o->server) {
		tok_err("login 需要 --server");
		return TOK_EXIT_USAGE;
	}
	struct login_state *s = tok_xmalloc(sizeof *s);
	memset(s, 0, sizeof *s);
	s->t.h = CK_INVALID_HANDLE;
	int rc = TOK_EXIT_USAGE;
	s->base = tok_server_base(o->server);
	if (s->base)
		rc = login_run(o, s);
	tok_wipe(s->pin, sizeof s->pin);
	json_decref(s->reply);
	EVP_PKEY_free(s->priv);
	tok_certs_free(s->certs, s->ncerts);
	free(s->challenge);
	free(s->sig);
	free(s->pem);
	free(s->body);
	free(s->url);
	free(s->base);
	tok_unload(&s->t);
	free(s);
	return rc;
}

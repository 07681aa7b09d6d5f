/*
 * token_renew.c - the online renewal 更新 shared by `esp-token renew` and
 * the desktop window's 【证书更新】: a new certificate for a new key on the same
 * token, once the renewal application is paid.
 *
 *   1. the token's certificate (the old one) and its key; the new key pair
 *      is labelled "esp-renew-<old serial>", so a rerun finds it (resume);
 *   2. no certificate for the new key yet: a CSR signed by the new key, and
 *      a signature by the old key over the CSR's PEM text (the same holder
 *      asks), POSTed to <server>/api/v1/renewals; the server answers the
 *      same certificate to the same key however often it is asked;
 *   3. the certificate checked against the new key and written;
 *   4. POST <server>/api/v1/renewals/confirm with the new key's signature
 *      over the certificate's DER: only now does the server revoke the old
 *      certificate (superseded);
 *   5. the old certificate and key pair are removed from the token.
 * Until 4 succeeds the old certificate stays valid and on the token: an
 * interruption anywhere leaves a token that still logs in, and a rerun
 * carries on from where it stopped.
 *
 * Progress goes to the caller's callback (the terminal, or the window's
 * status line from its worker thread); errors to the token library's sink.
 */
#include "token_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>

struct renew_state {
	const struct tok_renew_req *r;
	struct tok_ctx t;
	struct tok_cert *certs;
	size_t ncerts;
	int old;         /* index of the old certificate in certs */
	int fresh_cert;  /* index of the new key's certificate, -1 when not on the token */
	char label[128]; /* esp-renew-<old serial> */
	unsigned char id[64];
	size_t id_len;
	bool generated; /* the new key pair was made in this run */
	char *base, *serial, *csr, *chain;
	EVP_PKEY *old_priv, *priv, *pub;
	X509 *cert; /* the new certificate, as the server sent it */
};

/* One line of progress, with the certificate it speaks of (or NULL). */
static void say(struct renew_state *s, X509 *cert, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct renew_state *s, X509 *cert, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (s->r->progress)
		s->r->progress(text, cert, s->r->data);
}

static bool user_cert(const struct tok_cert *c)
{
	return c->id_len > 0 && c->category != 2;
}

/* The certificate's serial in lower-case hex (names the new key's label). */
static char *serial_hex(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	char *out = hex ? tok_xstrdup(hex) : NULL;
	for (char *p = out; p && *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	OPENSSL_free(hex);
	BN_free(bn);
	return out;
}

static int cert_with_id(struct renew_state *s, const unsigned char *id, size_t id_len)
{
	for (size_t i = 0; i < s->ncerts; i++)
		if (s->certs[i].id_len == id_len && memcmp(s->certs[i].id, id, id_len) == 0)
			return (int)i;
	return -1;
}

/* Which certificate is being renewed and how far the renewal got. */
static int find_old(struct renew_state *s)
{
	int users = 0, only = -1;
	for (size_t i = 0; i < s->ncerts; i++) {
		if (!user_cert(&s->certs[i]))
			continue;
		users++;
		only = (int)i;
		char *hex = serial_hex(s->certs[i].x509);
		if (!hex)
			return TOK_EXIT_TOKEN;
		char label[128];
		snprintf(label, sizeof label, "esp-renew-%s", hex);
		free(hex);
		unsigned char id[64];
		size_t id_len = 0;
		int found = tok_find_key_by_label(&s->t, label, id, sizeof id, &id_len);
		if (found < 0)
			return TOK_EXIT_TOKEN;
		if (found) {
			s->old = (int)i;
			snprintf(s->label, sizeof s->label, "%s", label);
			memcpy(s->id, id, id_len);
			s->id_len = id_len;
			s->fresh_cert = cert_with_id(s, id, id_len);
			say(s, NULL,
			    "证书U盘上已有更新用的新密钥对 %s（上次未完成），继续更新 (resume)。",
			    label);
			return TOK_EXIT_OK;
		}
	}
	if (users != 1) {
		tok_err(users ? "证书U盘上有多个证书，无法确定要更新哪一个"
		              : "证书U盘上没有证书，无法更新；新证书U盘请用 enroll 申请");
		return TOK_EXIT_TOKEN;
	}
	s->old = only;
	s->fresh_cert = -1;
	char *hex = serial_hex(s->certs[only].x509);
	if (!hex)
		return TOK_EXIT_TOKEN;
	snprintf(s->label, sizeof s->label, "esp-renew-%s", hex);
	free(hex);
	return TOK_EXIT_OK;
}

static char *url_of(const char *base, const char *path)
{
	size_t n = strlen(base) + strlen(path) + 1;
	char *u = tok_xmalloc(n);
	snprintf(u, n, "%s%s", base, path);
	return u;
}

/* POST body to path; *reply set on 2xx. Returns exit code (reported). */
static int post(const struct tok_renew_req *o, const char *base, const char *path, json_t *body,
                json_t **reply)
{
	*reply = NULL;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		tok_err("无法生成请求");
		return TOK_EXIT_USAGE;
	}
	char *url = url_of(base, path);
	struct tok_http h = {.ca_file = o->ca_file, .bearer = NULL};
	long status = 0;
	json_t *r = NULL;
	int rc = tok_http_json(&h, url, text, &status, &r);
	free(url);
	free(text);
	if (rc == TOK_EXIT_OK && status != 200 && status != 201)
		rc = tok_http_failure(status, r);
	if (rc == TOK_EXIT_OK)
		*reply = r;
	else
		json_decref(r);
	return rc;
}

/* Step 2 and 3: the new certificate onto the token. */
static int get_certificate(const struct tok_renew_req *o, struct renew_state *s)
{
	s->csr = tok_make_csr_pem(s->priv, s->pub, s->label);
	if (!s->csr)
		return TOK_EXIT_TOKEN;
	char *sig = tok_sign_b64(s->old_priv, (const unsigned char *)s->csr, strlen(s->csr));
	char *old_pem = tok_cert_pem(s->certs[s->old].x509);
	if (!sig || !old_pem) {
		free(sig);
		free(old_pem);
		return TOK_EXIT_TOKEN;
	}
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "certificate", old_pem, "csr", s->csr,
	                         "signature", sig, "token_serial", s->serial);
	free(sig);
	free(old_pem);
	say(s, NULL, "正在向服务器提交更新请求（新密钥的证书请求，由原证书的私钥签名）……");
	json_t *reply = NULL;
	int rc = post(o, s->base, "/api/v1/renewals", body, &reply);
	json_decref(body);
	if (rc != TOK_EXIT_OK)
		return rc;
	const char *pem = json_string_value(json_object_get(reply, "certificate"));
	const char *chain = json_string_value(json_object_get(reply, "chain"));
	s->cert = pem ? tok_x509_from_pem(pem) : NULL;
	s->chain = chain ? tok_xstrdup(chain) : NULL;
	json_decref(reply);
	if (!s->cert) {
		tok_err("服务器的应答中没有有效的证书 (certificate)");
		return TOK_EXIT_NETWORK;
	}
	if ((rc = tok_store_issued(&s->t, s->cert, s->pub, s->label, s->id, s->id_len)) !=
	    TOK_EXIT_OK)
		return rc;
	say(s, s->cert, "已将新证书写入证书U盘 (label %s)：", s->label);
	if (s->chain && (rc = tok_store_chain(&s->t, s->chain, s->cert)) != TOK_EXIT_OK)
		return rc;
	return TOK_EXIT_OK;
}

/* Step 4 and 5. */
static int confirm(const struct tok_renew_req *o, struct renew_state *s, X509 *fresh)
{
	unsigned char *der = NULL;
	int len = i2d_X509(fresh, &der);
	char *sig = len > 0 ? tok_sign_b64(s->priv, der, (size_t)len) : NULL;
	OPENSSL_free(der);
	char *pem = tok_cert_pem(fresh);
	if (!sig || !pem) {
		free(sig);
		free(pem);
		return TOK_EXIT_TOKEN;
	}
	json_t *body = json_pack("{s:s, s:s}", "certificate", pem, "signature", sig);
	free(sig);
	free(pem);
	json_t *reply = NULL;
	int rc = post(o, s->base, "/api/v1/renewals/confirm", body, &reply);
	json_decref(body);
	if (rc != TOK_EXIT_OK) {
		tok_note("原证书仍然有效并保留在证书U盘上；请稍后重新更新（esp-token renew 或"
		         "证书管理工具的【证书更新】），将从中断处继续。");
		return rc;
	}
	const char *number = json_string_value(json_object_get(reply, "application"));
	char clean[64] = "";
	for (size_t i = 0, k = 0; number && number[i] && k + 1 < sizeof clean; i++)
		if ((unsigned char)number[i] >= 0x20 && number[i] != 0x7f)
			clean[k++] = number[i], clean[k] = '\0';
	say(s, NULL, "服务器已确认更新（申请 %s），原证书已作废（已被替代）。", clean);
	json_decref(reply);
	/* The old certificate is revoked now: remove it and its key, so the
	 * token holds one certificate again. */
	struct tok_cert *old = &s->certs[s->old];
	rc = tok_destroy_object(&s->t, old->handle);
	if (rc == TOK_EXIT_OK)
		rc = tok_destroy_keypair(&s->t, old->id, old->id_len);
	if (rc != TOK_EXIT_OK) {
		tok_warn("原证书已作废，但未能从证书U盘上删除；可再次更新（esp-token renew 或"
		         "【证书更新】）清理");
		return rc;
	}
	say(s, NULL, "已从证书U盘上删除原证书和原密钥对。证书更新完成。");
	return TOK_EXIT_OK;
}

static int renew_run(const struct tok_renew_req *o, struct renew_state *s)
{
	say(s, NULL, "正在打开证书U盘并验证密码……");
	int rc = tok_load(&s->t, o->module);
	if (rc == TOK_EXIT_OK)
		rc = tok_select(&s->t, o->token);
	if (rc == TOK_EXIT_OK)
		rc = tok_login_user(&s->t, o->pin, &s->serial);
	if (rc != TOK_EXIT_OK)
		return rc;
	if ((rc = tok_find_certs(&s->t, &s->certs, &s->ncerts)) != TOK_EXIT_OK)
		return rc;
	if ((rc = find_old(s)) != TOK_EXIT_OK)
		return rc;
	struct tok_cert *old = &s->certs[s->old];
	say(s, old->x509, "要更新的证书：");
	PKCS11_KEY *ok = tok_find_p11_key(&s->t, old->id, old->id_len);
	s->old_priv = ok ? PKCS11_get_private_key(ok) : NULL;
	if (!s->old_priv) {
		tok_err("证书U盘上没有与原证书对应的私钥 (private key)，无法证明是同一持有人");
		return TOK_EXIT_TOKEN;
	}
	if (!s->id_len) {
		rc = tok_generate_keypair(&s->t, s->label, o->rsa, s->id, sizeof s->id, &s->id_len);
		if (rc != TOK_EXIT_OK)
			return rc;
		s->generated = true;
		say(s, NULL, "已在证书U盘上生成新密钥对 (key pair) %s：%s，私钥不可导出。",
		    s->label, o->rsa ? "RSA 2048" : "EC P-256");
	}
	if ((rc = tok_key_pair(&s->t, s->id, s->id_len, s->label, &s->priv, &s->pub)) !=
	    TOK_EXIT_OK)
		return rc;
	if (s->fresh_cert < 0) {
		rc = get_certificate(o, s);
		if (rc == TOK_EXIT_REFUSED && s->generated) {
			/* Refused for a key made in this run: the server holds no
			 * certificate for it, so it goes (see enroll). */
			EVP_PKEY_free(s->priv);
			s->priv = NULL;
			if (tok_destroy_keypair(&s->t, s->id, s->id_len) == TOK_EXIT_OK)
				tok_note("已删除本次生成的新密钥对 %s（服务器未签发证书）。",
				         s->label);
		}
		if (rc != TOK_EXIT_OK)
			return rc;
		return confirm(o, s, s->cert);
	}
	say(s, NULL, "新证书已在证书U盘上，正在向服务器确认更新……");
	return confirm(o, s, s->certs[s->fresh_cert].x509);
}

int tok_renew(const struct tok_renew_req *r)
{
	if (!r->server) {
		tok_err("证书更新需要服务器地址 (--server)");
		return TOK_EXIT_USAGE;
	}
	struct renew_state *s = tok_xmalloc(sizeof *s);
	memset(s, 0, sizeof *s);
	s->r = r;
	s->t.h = CK_INVALID_HANDLE;
	s->fresh_cert = -1;
	int rc = TOK_EXIT_USAGE;
	s->base = tok_server_base(r->server);
	if (s->base)
		rc = renew_run(r, s);
	X509_free(s->cert);
	EVP_PKEY_free(s->old_priv);
	EVP_PKEY_free(s->priv);
	EVP_PKEY_free(s->pub);
	tok_certs_free(s->certs, s->ncerts);
	free(s->csr);
	free(s->chain);
	free(s->serial);
	free(s->base);
	tok_unload(&s->t);
	free(s);
	return rc;
}

/*
 * token_cmd_enroll.c - `esp-token enroll`: get the certificate of an
 * approved application onto the token.
 *
 *   1. log in; look for the key pair labelled "esp-<N>" (resume after an
 *      interruption); if its certificate is already on the token, stop;
 *   2. otherwise generate the key pair on the token (never a second one);
 *   3. build a CSR signed by the token key (libp11 EVP_PKEY);
 *   4. POST it to <server>/api/v1/applications/<N>/certificates; the server
 *      is idempotent per token serial, so a rerun gets the same certificate;
 *   5. check that the certificate belongs to the key, write it and the CA
 *      chain onto the token with all attributes NSS needs.
 */
#include "esp_token.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define TOK_API_TOKEN_BUF 4096

/*
 * An application number as ESP gives it ("ESP-2026-000123"); plain
 * positive integers are accepted too.  Only [A-Za-z0-9-] so that it can go
 * into the URL path and the key label unescaped.
 */
static bool valid_application(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '-'))
			return false;
	}
	return true;
}

/* 1 if a certificate with this CKA_ID is on the token (x509 returned). */
static int cert_for_id(struct tok_ctx *t, const unsigned char *id, size_t id_len, X509 **out)
{
	struct tok_cert *c;
	size_t n;
	*out = NULL;
	if (tok_find_certs(t, &c, &n) != TOK_EXIT_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (c[i].id_len == id_len && memcmp(c[i].id, id, id_len) == 0) {
			*out = c[i].x509;
			X509_up_ref(*out);
			break;
		}
	}
	tok_certs_free(c, n);
	return *out != NULL;
}

/* Send the CSR; on success *cert_out and *chain_out (may be NULL) are set. */
static int post_csr(const struct tok_opts *o, const char *base, const char *api_token,
                    const char *csr, const char *token_serial, X509 **cert_out, char **chain_out)
{
	*cert_out = NULL;
	*chain_out = NULL;
	size_t ulen = strlen(base) + strlen(o->application) + 64;
	char *url = tok_xmalloc(ulen);
	snprintf(url, ulen, "%s/api/v1/applications/%s/certificates", base, o->application);
	json_t *body = json_pack("{s:s, s:s}", "csr", csr, "token_serial", token_serial);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		free(url);
		tok_err("无法生成请求");
		return TOK_EXIT_USAGE;
	}
	struct tok_http h = {.ca_file = o->ca_file, .bearer = api_token};
	long status;
	json_t *reply;
	printf("正在向服务器提交证书请求 (CSR)：%s\n", url);
	fflush(stdout);
	int rc = tok_http_json(&h, url, text, &status, &reply);
	free(text);
	free(url);
	if (rc != TOK_EXIT_OK)
		return rc;
	if (status != 200 && status != 201) {
		rc = tok_http_failure(status, reply);
		json_decref(reply);
		return rc;
	}
	const char *cert_pem = json_string_value(json_object_get(reply, "certificate"));
	const char *chain = json_string_value(json_object_get(reply, "chain"));
	X509 *x = cert_pem ? tok_x509_from_pem(cert_pem) : NULL;
	if (!x) {
		tok_err("服务器的应答中没有有效的证书 (certificate)");
		json_decref(reply);
		return TOK_EXIT_NETWORK;
	}
	*cert_out = x;
	*chain_out = chain ? tok_xstrdup(chain) : NULL;
	json_decref(reply);
	return TOK_EXIT_OK;
}

struct enroll_state {
	struct tok_ctx t;
	char api_token[TOK_API_TOKEN_BUF];
	char label[64];
	unsigned char id[64];
	size_t id_len;
	char *base;
	char *csr;
	char *chain;
	char *serial;
	EVP_PKEY *priv, *pub;
	X509 *cert;
};

static int enroll_run(const struct tok_opts *o, struct enroll_state *s)
{
	int rc = tok_open_user(&s->t, o, &s->serial);
	if (rc != TOK_EXIT_OK)
		return rc;

	snprintf(s->label, sizeof s->label, "esp-%s", o->application);
	int found = tok_find_key_by_label(&s->t, s->label, s->id, sizeof s->id, &s->id_len);
	if (found < 0)
		return TOK_EXIT_TOKEN;
	if (found) {
		X509 *have = NULL;
		int c = cert_for_id(&s->t, s->id, s->id_len, &have);
		if (c < 0)
			return TOK_EXIT_TOKEN;
		if (c == 1) {
			printf("证书U盘上已有申请 %s 的密钥对和证书，无需再次申请：\n",
			       o->application);
			fflush(stdout);
			tok_print_cert_summary(have, "  ");
			X509_free(have);
			return TOK_EXIT_OK;
		}
		printf("证书U盘上已有密钥对 %s（上次未完成），继续申请 (resume)。\n", s->label);
	} else {
		rc = tok_generate_keypair(&s->t, s->label, o->rsa, s->id, sizeof s->id, &s->id_len);
		if (rc != TOK_EXIT_OK)
			return rc;
		printf("已在证书U盘上生成密钥对 (key pair) %s：%s，私钥不可导出。\n", s->label,
		       o->rsa ? "RSA 2048" : "EC P-256");
	}
	fflush(stdout);

	if ((rc = tok_key_pair(&s->t, s->id, s->id_len, s->label, &s->priv, &s->pub)) !=
	    TOK_EXIT_OK)
		return rc;
	s->csr = tok_make_csr_pem(s->priv, s->pub, s->label);
	if (!s->csr)
		return TOK_EXIT_TOKEN;

	rc = post_csr(o, s->base, s->api_token, s->csr, s->serial, &s->cert, &s->chain);
	if (rc == TOK_EXIT_REFUSED && !found) {
		/*
		 * The server refused the request of a key made in this run, so it
		 * holds no certificate for it: remove the key pair rather than
		 * leave an orphan on the token.  A key from an earlier run is
		 * kept, since the server may already have issued its certificate
		 * (a retry with the right API token then gets it back).
		 */
		EVP_PKEY_free(s->priv);
		s->priv = NULL;
		if (tok_destroy_keypair(&s->t, s->id, s->id_len) == TOK_EXIT_OK)
			fprintf(stderr, "已删除本次生成的密钥对 %s（服务器未签发证书）。\n",
			        s->label);
	}
	if (rc != TOK_EXIT_OK)
		return rc;
	rc = tok_store_issued(&s->t, s->cert, s->pub, s->label, s->id, s->id_len);
	if (rc != TOK_EXIT_OK)
		return rc;
	printf("已将证书写入证书U盘 (label %s)：\n", s->label);
	fflush(stdout);
	tok_print_cert_summary(s->cert, "  ");
	if (s->chain)
		rc = tok_store_chain(&s->t, s->chain, s->cert);
	if (rc == TOK_EXIT_OK)
		printf("申请完成。\n");
	return rc;
}

int tok_cmd_enroll(const struct tok_opts *o)
{
	if (!o->server || !o->application || !o->api_token_file) {
		tok_err("enroll 需要 --server、--application 和 --api-token-file");
		return TOK_EXIT_USAGE;
	}
	if (!valid_application(o->application)) {
		tok_err("--application 必须是申请编号（如 ESP-2026-000123）：%s", o->application);
		return TOK_EXIT_USAGE;
	}
	struct enroll_state *s = tok_xmalloc(sizeof *s);
	memset(s, 0, sizeof *s);
	s->t.h = CK_INVALID_HANDLE;
	int rc = TOK_EXIT_USAGE;
	s->base = tok_server_base(o->server);
	if (s->base && tok_read_first_line(o->api_token_file, s->api_token, sizeof s->api_token,
	                                   "API令牌 (API token)") == 0)
		rc = enroll_run(o, s);
	/* The SO PIN into ESP's custody, for a remote unlock later (密码解锁).
	 * An SO session needs every session read-write: the enrolment's
	 * (libp11's read-only ones too) end first. */
	if (rc == TOK_EXIT_OK && o->so_pin_file) {
		EVP_PKEY_free(s->priv); /* libp11's keys go before libp11 */
		EVP_PKEY_free(s->pub);
		s->priv = s->pub = NULL;
		tok_unload(&s->t);
		s->t.h = CK_INVALID_HANDLE;
		rc = tok_so_pin_custody(o, s->base, s->api_token, s->serial);
	}
	tok_wipe(s->api_token, sizeof s->api_token);
	X509_free(s->cert);
	EVP_PKEY_free(s->priv);
	EVP_PKEY_free(s->pub);
	free(s->csr);
	free(s->chain);
	free(s->serial);
	free(s->base);
	tok_unload(&s->t);
	free(s);
	return rc;
}

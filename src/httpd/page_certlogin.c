/*
 * Certificate login: the TLS client certificate of the login listener, and
 * the signed challenge of `esp-token login` (GET /api/v1/login/challenge,
 * POST /api/v1/login/certificate). Both end in cert_login_check and a session.
 */
#include "httpd.h"
#include "esp/login.h"
#include "throttle.h"

#include <gnutls/gnutls.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The DER of the client's certificate (borrowed from GnuTLS), or NULL. */
static const gnutls_datum_t *client_certificate(struct request *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return NULL;
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(ci->tls_session, &n);
	return n > 0 ? &certs[0] : NULL;
}

static void refuse(struct request *r, enum cert_login res)
{
	int status = res == CL_NO_CERT ? 401 : res == CL_ERROR ? 500 : 403;
	render_page(r, status, "cert_refused", cert_login_title(res),
	            json_pack("{s:s, s:s, s:b}", "title", cert_login_title(res), "message",
	                      cert_login_message(res), "no_cert", res == CL_NO_CERT));
}

void page_cert_login(struct request *r)
{
	if (r->listener != LISTEN_LOGIN) {
		render_page(r, 200, "cert_login_info", "证书U盘登录",
		            json_pack("{s:s}", "login_url", config_get(r->srv->cfg, "login_url")));
		return;
	}
	const gnutls_datum_t *cert = client_certificate(r);
	int64_t account_id = 0;
	char *serial = NULL;
	enum cert_login res = cert_login_check(req_db(r), r->srv->ca, cert ? cert->data : NULL,
	                                       cert ? cert->size : 0, &account_id, &serial);
	if (res != CL_OK) {
		log_info("req=%llu certificate login refused: %s", (unsigned long long)r->id,
		         cert_login_title(res));
		free(serial);
		refuse(r, res);
		return;
	}
	session_destroy(req_db(r), req_cookie(r, "esp_session"));
	char *cookie = NULL;
	enum db_status st = session_create(req_db(r), account_id, "certificate", serial,
	                                   r->srv->session_seconds, &cookie, NULL);
	free(serial);
	if (st != DB_OK) {
		reply_server_error(r, "session create failed");
		return;
	}
	/* The address the login is known by: behind HAProxy in TCP mode, the
	 * one its PROXY header carried (login_proxy_protocol). */
	log_info("req=%llu certificate login: account %lld from %s", (unsigned long long)r->id,
	         (long long)account_id, r->client_addr);
	set_session_cookie(r, arena_strdup(r->arena, cookie));
	free(cookie);
	redirect(r, "/mgmt");
}

void api_login_challenge(struct request *r)
{
	const struct throttle_config *t = throttle_config();
	/* Each call writes a row: one address gets a few a minute, and the
	 * store holds at most challenges_max usable ones from everyone. */
	if (!throttle_allow(r, arena_printf(r->arena, "challenge:addr:%s", throttle_client(r)),
	                    t->challenges_per_address_minute, 60, "获取登录挑战码过于频繁", true,
	                    NULL))
		return;
	char *id = NULL, *challenge = NULL;
	enum db_status st = challenge_new(req_db(r), t->challenges_max, &id, &challenge);
	if (st == DB_CONFLICT) {
		log_info("req=%llu challenge refused: %d unexpired challenges in the store",
		         (unsigned long long)r->id, t->challenges_max);
		throttle_refuse(r, 503, 60, "登录挑战码已达上限", true);
		return;
	}
	if (st != DB_OK) {
		reply_json_error(r, 500, "internal", "系统内部错误，请稍后重试");
		return;
	}
	reply_json(r, 200,
	           json_pack("{s:s, s:s, s:i}", "id", id, "challenge", challenge, "expires_in",
	                     CHALLENGE_MAX_AGE));
	free(id);
	free(challenge);
}

static unsigned char *pem_to_der(const char *pem, size_t *len)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!x)
		return NULL;
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0)
		return NULL;
	unsigned char *out = xmalloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return out;
}

void api_login_certificate(struct request *r)
{
	json_error_t jerr;
	json_t *body = json_loadb(r->raw.data ? r->raw.data : "", r->raw.len, 0, &jerr);
	const char *id = json_string_value(json_object_get(body, "id"));
	const char *challenge = json_string_value(json_object_get(body, "challenge"));
	const char *sig_b64 = json_string_value(json_object_get(body, "signature"));
	const char *cert_pem = json_string_value(json_object_get(body, "certificate"));
	if (!id || !challenge || !sig_b64 || !cert_pem || strlen(sig_b64) > 2048 ||
	    strlen(cert_pem) > 16384) {
		json_decref(body);
		reply_json_error(r, 400, "bad_request",
		                 "请求格式错误：需要 id、challenge、signature 和 certificate");
		return;
	}
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	if (challenge_take(req_db(r), id, challenge, CHALLENGE_MAX_AGE, &raw, &raw_len) != DB_OK) {
		json_decref(body);
		reply_json_error(r, 401, "bad_challenge", "挑战码无效、已使用或已过期，请重新获取");
		return;
	}
	unsigned char sig[1024];
	size_t sig_len = 0;
	size_t der_len = 0;
	unsigned char *der = pem_to_der(cert_pem, &der_len);
	bool sig_ok = sodium_base642bin(sig, sizeof sig, sig_b64, strlen(sig_b64), NULL, &sig_len,
	                                NULL, sodium_base64_VARIANT_ORIGINAL) == 0;
	enum cert_login res = CL_BAD;
	int64_t account_id = 0;
	char *serial = NULL;
	if (der)
		res = cert_login_check(req_db(r), r->srv->ca, der, der_len, &account_id, &serial);
	/* The same refusals as the TLS login, then the proof of the key. */
	if (res == CL_OK &&
	    (!sig_ok || !ca_verify_signature(der, der_len, raw, raw_len, sig, sig_len))) {
		reply_json_error(r, 401, "bad_signature",
		                 "签名验证失败：签名不是由该证书的私钥生成");
	} else if (res != CL_OK) {
		int status = res == CL_ERROR ? 500 : 403;
		reply_json_error(r, status,
		                 res == CL_REVOKED          ? "revoked"
		                 : res == CL_EXPIRED        ? "expired"
		                 : res == CL_DISABLED       ? "disabled"
		                 : res == CL_UNKNOWN_ISSUER ? "unknown_issuer"
		                                            : "bad_certificate",
		                 cert_login_message(res));
	} else {
		char *cookie = NULL, *csrf = NULL;
		if (session_create(req_db(r), account_id, "challenge", serial,
		                   r->srv->session_seconds, &cookie, &csrf) != DB_OK) {
			reply_json_error(r, 500, "internal", "系统内部错误，请稍后重试");
		} else {
			reply_json(r, 200,
			           json_pack("{s:s, s:s, s:s, s:i}", "session", cookie, "csrf",
			                     csrf, "cookie", "esp_session", "expires_in",
			                     r->srv->session_seconds));
			sodium_memzero(cookie, strlen(cookie));
		}
		free(cookie);
		free(csrf);
	}
	free(serial);
	free(der);
	free(raw);
	json_decref(body);
}

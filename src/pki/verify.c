/*
 * Checking what a key holder presents: a client certificate against our
 * chain (root and issuing CA as trust anchors, RFC 5280 strict checks,
 * extended key usage clientAuth) and a signature made with the key of such a
 * certificate.  Revocation is checked by the caller against the store.
 *
 * Thread safety: ca->store is shared read-only; each call uses its own
 * X509_STORE_CTX and its own copy of the verification parameters.
 */
#include "ca_internal.h"

#include <limits.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

enum { CERT_MAX = 64 * 1024 };

/* Parse exactly one DER certificate that fills the whole buffer. */
static X509 *parse_der(const unsigned char *der, size_t len)
{
	if (!der || len == 0 || len > CERT_MAX)
		return NULL;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static enum ca_verdict verdict_from_error(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return CA_CERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return CA_CERT_NOT_YET_VALID;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE: /* same issuer name, other key */
	case X509_V_ERR_AKID_SKID_MISMATCH:
	case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
		return CA_CERT_UNKNOWN_ISSUER;
	default:
		return CA_CERT_BAD;
	}
}

enum ca_verdict ca_verify_client(esp_ca *ca, const unsigned char *der, size_t len, time_t now,
                                 char **serial_hex)
{
	if (serial_hex)
		*serial_hex = NULL;
	if (!ca)
		return CA_CERT_BAD;
	X509 *x = parse_der(der, len);
	if (!x) {
		ERR_clear_error();
		return CA_CERT_BAD;
	}

	enum ca_verdict v = CA_CERT_BAD;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, ca->store, x, NULL) != 1)
		goto out;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_time(param, now ? now : time(NULL));
	if (X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1)
		goto out;

	if (X509_verify_cert(ctx) != 1) {
		v = verdict_from_error(X509_STORE_CTX_get_error(ctx));
		goto out;
	}
	/* The purpose check accepts a certificate without extendedKeyUsage;
	 * ours always carry one, so insist on it, and on an end entity. */
	if (!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT) || X509_check_ca(x) != 0)
		goto out;
	if (serial_hex) {
		*serial_hex = ca_serial_hex(X509_get0_serialNumber(x));
		if (!*serial_hex)
			goto out;
	}
	v = CA_CERT_GOOD;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(x);
	return v;
}

bool ca_verify_signature(const unsigned char *cert_der, size_t cert_len, const unsigned char *msg,
                         size_t msg_len, const unsigned char *sig, size_t sig_len)
{
	if ((!msg && msg_len) || !sig || sig_len == 0)
		return false;
	X509 *x = parse_der(cert_der, cert_len);
	if (!x) {
		ERR_clear_error();
		return false;
	}
	bool ok = false;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL; /* owned by md */
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (!md || !pk)
		goto out;
	bool rsa = EVP_PKEY_is_a(pk, "RSA");
	if (!rsa && !EVP_PKEY_is_a(pk, "EC"))
		goto out;
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pk) != 1)
		goto out;
	if (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	ok =
	    EVP_DigestVerify(md, sig, sig_len, msg ? msg : (const unsigned char *)"", msg_len) == 1;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	X509_free(x);
	return ok;
}

const char *ca_verdict_message(enum ca_verdict v)
{
	switch (v) {
	case CA_CERT_GOOD:
		return "证书有效";
	case CA_CERT_UNKNOWN_ISSUER:
		return "证书不是由本系统签发";
	case CA_CERT_EXPIRED:
		return "证书已过期";
	case CA_CERT_NOT_YET_VALID:
		return "证书尚未生效";
	case CA_CERT_BAD:
		return "证书格式错误或用途不符（需要客户端身份认证用途）";
	}
	return "证书无效";
}

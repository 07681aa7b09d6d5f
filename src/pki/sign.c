/*
 * Detached signatures with the issuing CA key over a short text, for records
 * that must be provably ours outside the store (the audit log's anchors):
 * ECDSA with SHA-256, DER encoded, made under ca->sign_lock like every other
 * use of the key.  Checking needs only the issuing CA's certificate, so a
 * verifier never loads the private key.
 */
#include "ca_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

enum { SIG_MSG_MAX = 64 * 1024, CERT_PEM_MAX = 64 * 1024 };

enum ca_status ca_sign_blob(esp_ca *ca, const void *msg, size_t len, unsigned char **sig,
                            size_t *sig_len)
{
	*sig = NULL;
	*sig_len = 0;
	if (!ca || (!msg && len) || len > SIG_MSG_MAX)
		return CA_ERR_INTERNAL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *out = NULL;
	size_t n = 0;
	bool ok = false;
	pthread_mutex_lock(&ca->sign_lock);
	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ca->key) == 1 &&
	    EVP_DigestSign(md, NULL, &n, msg ? msg : (const void *)"", len) == 1 &&
	    (out = malloc(n)) &&
	    EVP_DigestSign(md, out, &n, msg ? msg : (const void *)"", len) == 1)
		ok = true;
	pthread_mutex_unlock(&ca->sign_lock);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	if (!ok) {
		free(out);
		return CA_ERR_INTERNAL;
	}
	*sig = out;
	*sig_len = n;
	return CA_OK;
}

bool ca_verify_blob(const char *cert_pem, const void *msg, size_t len, const unsigned char *sig,
                    size_t sig_len)
{
	if (!cert_pem || (!msg && len) || !sig || !sig_len)
		return false;
	size_t pem_len = strnlen(cert_pem, CERT_PEM_MAX + 1);
	if (pem_len > CERT_PEM_MAX)
		return false;
	BIO *b = BIO_new_mem_buf(cert_pem, (int)pem_len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = pk && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
	          EVP_DigestVerify(md, sig, sig_len, msg ? msg : (const void *)"", len) == 1;
	EVP_MD_CTX_free(md);
	X509_free(x);
	ERR_clear_error();
	return ok;
}

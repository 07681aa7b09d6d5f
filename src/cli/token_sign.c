/*
 * token_sign.c - the token's signatures over what goes to the server, the
 * certificate request of a new key, and the CA chain written next to a new
 * certificate: shared by enroll, login, renew and the desktop window.
 */
#include "token_client.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

char *tok_sign_b64(EVP_PKEY *key, const unsigned char *data, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	char *b64 = NULL;
	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, NULL, &sig_len, data, len) == 1) {
		sig = tok_xmalloc(sig_len);
		if (EVP_DigestSign(md, sig, &sig_len, data, len) == 1)
			b64 = tok_base64(sig, sig_len);
	}
	if (!b64) {
		tok_err("证书U盘签名失败");
		ERR_print_errors_fp(stderr);
	}
	free(sig);
	EVP_MD_CTX_free(md);
	return b64;
}

char *tok_cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	if (b && PEM_write_bio_X509(b, x)) {
		char *data;
		long len = BIO_get_mem_data(b, &data);
		pem = tok_xmalloc((size_t)len + 1);
		memcpy(pem, data, (size_t)len);
		pem[len] = '\0';
	}
	BIO_free(b);
	return pem;
}

char *tok_make_csr_pem(EVP_PKEY *priv, EVP_PKEY *pub, const char *cn)
{
	char *pem = NULL;
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	if (!req || !name || !b)
		goto out;
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	                                -1, 0) ||
	    !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, pub))
		goto out;
	if (X509_REQ_sign(req, priv, EVP_sha256()) <= 0) {
		tok_err("证书U盘签名证书请求 (CSR) 失败");
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		tok_err("证书请求 (CSR) 的签名与公钥不符");
		goto out;
	}
	if (!PEM_write_bio_X509_REQ(b, req))
		goto out;
	char *data;
	long len = BIO_get_mem_data(b, &data);
	pem = tok_xmalloc((size_t)len + 1);
	memcpy(pem, data, (size_t)len);
	pem[len] = '\0';
out:
	if (!pem)
		ERR_print_errors_fp(stderr);
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return pem;
}

static char *subject_cn(X509 *x, const char *fallback)
{
	char buf[256];
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf) >
	    0)
		return tok_xstrdup(buf);
	return tok_xstrdup(fallback);
}

int tok_store_chain(struct tok_ctx *t, const char *chain_pem, X509 *leaf)
{
	BIO *b = BIO_new_mem_buf(chain_pem, -1);
	if (!b)
		return TOK_EXIT_TOKEN;
	int rc = TOK_EXIT_OK;
	X509 *x;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (X509_cmp(x, leaf) != 0) {
			int present = tok_cert_present(t, x);
			char *cn = subject_cn(x, "CA");
			if (present == 0) {
				rc = tok_store_cert(t, x, cn, NULL, 0, 2);
				if (rc == TOK_EXIT_OK) {
					printf("已写入CA证书 (CA certificate)：");
					tok_fputs_clean(cn, stdout);
					printf("\n");
				}
			} else if (present == 1) {
				printf("CA证书已在证书U盘上：");
				tok_fputs_clean(cn, stdout);
				printf("\n");
			}
			free(cn);
		}
		X509_free(x);
		if (rc != TOK_EXIT_OK)
			break;
	}
	ERR_clear_error(); /* end of PEM data */
	BIO_free(b);
	return rc;
}

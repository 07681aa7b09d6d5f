/*
 * token_keys.c - objects esp-token creates on the token with raw PKCS#11:
 * the key pair (C_GenerateKeyPair; libp11 cannot generate EC keys) and the
 * certificate objects (C_CreateObject, because PKCS11_store_certificate
 * leaves CKA_SERIAL_NUMBER empty and NSS then ignores the certificate).
 */
#include "token.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#define TOK_KEY_ID_LEN 16

int tok_find_key_by_label(struct tok_ctx *t, const char *label, unsigned char *id, size_t id_max,
                          size_t *id_len)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof cls},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_RV rv = t->f->C_FindObjectsInit(t->h, tmpl, 2);
	if (rv != CKR_OK) {
		tok_err("查找私钥失败：%s", tok_ckr_text(rv));
		return -1;
	}
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n = 0;
	rv = t->f->C_FindObjects(t->h, h, 4, &n);
	t->f->C_FindObjectsFinal(t->h);
	if (rv != CKR_OK) {
		tok_err("查找私钥失败：%s", tok_ckr_text(rv));
		return -1;
	}
	if (n == 0)
		return 0;
	if (n > 1)
		tok_warn("证书U盘上有多个标签为 %s 的私钥；使用第一个", label);
	CK_ATTRIBUTE a = {CKA_ID, id, id_max};
	rv = t->f->C_GetAttributeValue(t->h, h[0], &a, 1);
	if (rv != CKR_OK || a.ulValueLen == 0 || a.ulValueLen > id_max) {
		tok_err("私钥 %s 没有可用的 CKA_ID", label);
		return -1;
	}
	*id_len = a.ulValueLen;
	return 1;
}

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7), the CKA_EC_PARAMS value. */
static const unsigned char P256_OID[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};

int tok_generate_keypair(struct tok_ctx *t, const char *label, bool rsa, unsigned char *id,
                         size_t id_max, size_t *id_len)
{
	if (id_max < TOK_KEY_ID_LEN || RAND_bytes(id, TOK_KEY_ID_LEN) != 1) {
		tok_err("无法生成随机 CKA_ID");
		return TOK_EXIT_TOKEN;
	}
	*id_len = TOK_KEY_ID_LEN;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE exponent[] = {0x01, 0x00, 0x01};
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = rsa ? CKK_RSA : CKK_EC;
	CK_ULONG label_len = strlen(label);

	CK_ATTRIBUTE pub[11] = {
	    {CKA_CLASS, &pub_cls, sizeof pub_cls},
	    {CKA_KEY_TYPE, &kt, sizeof kt},
	    {CKA_TOKEN, &yes, sizeof yes},
	    {CKA_PRIVATE, &no, sizeof no},
	    {CKA_VERIFY, &yes, sizeof yes},
	    {CKA_ENCRYPT, &no, sizeof no},
	    {CKA_WRAP, &no, sizeof no},
	    {CKA_ID, id, TOK_KEY_ID_LEN},
	    {CKA_LABEL, (void *)label, label_len},
	};
	CK_ULONG npub = 9;
	if (rsa) {
		pub[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof bits};
		pub[npub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exponent, sizeof exponent};
	} else {
		pub[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)P256_OID, sizeof P256_OID};
	}

	CK_ATTRIBUTE priv[] = {
	    {CKA_CLASS, &priv_cls, sizeof priv_cls},
	    {CKA_KEY_TYPE, &kt, sizeof kt},
	    {CKA_TOKEN, &yes, sizeof yes},
	    {CKA_PRIVATE, &yes, sizeof yes},
	    {CKA_SENSITIVE, &yes, sizeof yes},
	    {CKA_EXTRACTABLE, &no, sizeof no},
	    {CKA_SIGN, &yes, sizeof yes},
	    {CKA_DECRYPT, &no, sizeof no},
	    {CKA_UNWRAP, &no, sizeof no},
	    {CKA_ID, id, TOK_KEY_ID_LEN},
	    {CKA_LABEL, (void *)label, label_len},
	};
	CK_MECHANISM mech = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv = t->f->C_GenerateKeyPair(t->h, &mech, pub, npub, priv,
	                                   sizeof priv / sizeof priv[0], &hpub, &hpriv);
	if (rv != CKR_OK) {
		tok_err("生成密钥对 (C_GenerateKeyPair %s) 失败：%s [CKR 0x%lx]",
		        rsa ? "RSA 2048" : "EC P-256", tok_ckr_text(rv), (unsigned long)rv);
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

int tok_destroy_keypair(struct tok_ctx *t, const unsigned char *id, size_t id_len)
{
	static const CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
	int rc = TOK_EXIT_OK;
	for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++) {
		CK_OBJECT_CLASS cls = classes[c];
		CK_ATTRIBUTE tmpl[] = {
		    {CKA_CLASS, &cls, sizeof cls},
		    {CKA_ID, (void *)id, id_len},
		};
		CK_OBJECT_HANDLE h[4];
		CK_ULONG n = 0;
		CK_RV rv = t->f->C_FindObjectsInit(t->h, tmpl, 2);
		if (rv == CKR_OK) {
			rv = t->f->C_FindObjects(t->h, h, 4, &n);
			t->f->C_FindObjectsFinal(t->h);
		}
		for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++)
			rv = t->f->C_DestroyObject(t->h, h[i]);
		if (rv != CKR_OK) {
			tok_err("删除密钥 (C_DestroyObject) 失败：%s", tok_ckr_text(rv));
			rc = TOK_EXIT_TOKEN;
		}
	}
	return rc;
}

int tok_destroy_object(struct tok_ctx *t, CK_OBJECT_HANDLE h)
{
	CK_RV rv = t->f->C_DestroyObject(t->h, h);
	if (rv != CKR_OK) {
		tok_err("删除证书U盘上的对象 (C_DestroyObject) 失败：%s", tok_ckr_text(rv));
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

static CK_OBJECT_HANDLE find_public_key(struct tok_ctx *t, const unsigned char *id, size_t id_len)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof cls},
	    {CKA_ID, (void *)id, id_len},
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ULONG n = 0;
	if (t->f->C_FindObjectsInit(t->h, tmpl, 2) != CKR_OK)
		return CK_INVALID_HANDLE;
	if (t->f->C_FindObjects(t->h, &h, 1, &n) != CKR_OK || n == 0)
		h = CK_INVALID_HANDLE;
	t->f->C_FindObjectsFinal(t->h);
	return h;
}

/* EC public key from CKA_EC_PARAMS (must be P-256) and CKA_EC_POINT (DER
 * OCTET STRING as PKCS#11 says, or the raw point as some tokens give it). */
static EVP_PKEY *ec_public_key(struct tok_ctx *t, CK_OBJECT_HANDLE h)
{
	unsigned char *params = NULL, *point = NULL;
	size_t params_len = 0, point_len = 0;
	EVP_PKEY *pkey = NULL;
	ASN1_OCTET_STRING *os = NULL;
	if (tok_get_attr(t, h, CKA_EC_PARAMS, &params, &params_len) != 0 ||
	    tok_get_attr(t, h, CKA_EC_POINT, &point, &point_len) != 0)
		goto out;
	if (params_len != sizeof P256_OID || memcmp(params, P256_OID, params_len) != 0) {
		tok_err("只支持 EC P-256 (prime256v1) 密钥");
		goto out;
	}
	const unsigned char *raw = point;
	size_t raw_len = point_len;
	if (!(point_len == 65 && point[0] == 0x04)) {
		const unsigned char *p = point;
		os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)point_len);
		if (!os)
			goto out;
		raw = ASN1_STRING_get0_data(os);
		raw_len = (size_t)ASN1_STRING_length(os);
	}
	OSSL_PARAM prm[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)raw, raw_len),
	    OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, prm) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
out:
	ASN1_OCTET_STRING_free(os);
	free(params);
	free(point);
	return pkey;
}

static EVP_PKEY *rsa_public_key(struct tok_ctx *t, CK_OBJECT_HANDLE h)
{
	unsigned char *mod = NULL, *exp = NULL;
	size_t mod_len = 0, exp_len = 0;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *prm = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (tok_get_attr(t, h, CKA_MODULUS, &mod, &mod_len) != 0 ||
	    tok_get_attr(t, h, CKA_PUBLIC_EXPONENT, &exp, &exp_len) != 0)
		goto out;
	n = BN_bin2bn(mod, (int)mod_len, NULL);
	e = BN_bin2bn(exp, (int)exp_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	prm = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!prm || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, prm) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(prm);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(mod);
	free(exp);
	return pkey;
}

EVP_PKEY *tok_public_key(struct tok_ctx *t, const unsigned char *id, size_t id_len)
{
	CK_OBJECT_HANDLE h = find_public_key(t, id, id_len);
	if (h == CK_INVALID_HANDLE)
		return NULL;
	CK_KEY_TYPE kt;
	CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof kt};
	if (t->f->C_GetAttributeValue(t->h, h, &a, 1) != CKR_OK)
		return NULL;
	if (kt == CKK_EC)
		return ec_public_key(t, h);
	if (kt == CKK_RSA)
		return rsa_public_key(t, h);
	tok_err("不支持的密钥类型 (key type 0x%lx)", (unsigned long)kt);
	return NULL;
}

static int der_of(X509 *x, unsigned char **der, int *len)
{
	*der = NULL;
	*len = i2d_X509(x, der);
	return *len > 0 ? 0 : -1;
}

int tok_cert_present(struct tok_ctx *t, X509 *x)
{
	unsigned char *der;
	int len;
	if (der_of(x, &der, &len) != 0)
		return -1;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof cls},
	    {CKA_VALUE, der, (CK_ULONG)len},
	};
	CK_RV rv = t->f->C_FindObjectsInit(t->h, tmpl, 2);
	int res = -1;
	if (rv == CKR_OK) {
		CK_OBJECT_HANDLE h;
		CK_ULONG n = 0;
		rv = t->f->C_FindObjects(t->h, &h, 1, &n);
		t->f->C_FindObjectsFinal(t->h);
		if (rv == CKR_OK)
			res = n > 0;
	}
	OPENSSL_free(der);
	return res;
}

int tok_store_cert(struct tok_ctx *t, X509 *x, const char *label, const unsigned char *id,
                   size_t id_len, CK_ULONG category)
{
	unsigned char *der = NULL, *subj = NULL, *iss = NULL, *ser = NULL;
	int der_len, subj_len, iss_len, ser_len;
	int rc = TOK_EXIT_TOKEN;
	if (der_of(x, &der, &der_len) != 0)
		goto out;
	subj_len = i2d_X509_NAME(X509_get_subject_name(x), &subj);
	iss_len = i2d_X509_NAME(X509_get_issuer_name(x), &iss);
	/* CKA_SERIAL_NUMBER is the DER encoding of the INTEGER, tag included. */
	ser_len = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &ser);
	if (subj_len <= 0 || iss_len <= 0 || ser_len <= 0) {
		tok_err("无法编码证书字段");
		goto out;
	}
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE a[12] = {
	    {CKA_CLASS, &cls, sizeof cls},
	    {CKA_CERTIFICATE_TYPE, &ct, sizeof ct},
	    {CKA_TOKEN, &yes, sizeof yes},
	    {CKA_PRIVATE, &no, sizeof no},
	    {CKA_MODIFIABLE, &yes, sizeof yes},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_SUBJECT, subj, (CK_ULONG)subj_len},
	    {CKA_ISSUER, iss, (CK_ULONG)iss_len},
	    {CKA_SERIAL_NUMBER, ser, (CK_ULONG)ser_len},
	    {CKA_VALUE, der, (CK_ULONG)der_len},
	};
	CK_ULONG n = 10;
	if (id && id_len)
		a[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
	CK_ULONG cat_index = n;
	if (category)
		a[n++] = (CK_ATTRIBUTE){CKA_CERTIFICATE_CATEGORY, &category, sizeof category};
	CK_OBJECT_HANDLE obj;
	CK_RV rv = t->f->C_CreateObject(t->h, a, n, &obj);
	if (category && (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_VALUE_INVALID ||
	                 rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_ATTRIBUTE_READ_ONLY)) {
		/* Token without CKA_CERTIFICATE_CATEGORY: store without it. */
		rv = t->f->C_CreateObject(t->h, a, cat_index, &obj);
	}
	if (rv != CKR_OK) {
		tok_err("写入证书 (C_CreateObject) 失败：%s [CKR 0x%lx]", tok_ckr_text(rv),
		        (unsigned long)rv);
		goto out;
	}
	rc = TOK_EXIT_OK;
out:
	OPENSSL_free(der);
	OPENSSL_free(subj);
	OPENSSL_free(iss);
	OPENSSL_free(ser);
	return rc;
}

int tok_key_pair(struct tok_ctx *t, const unsigned char *id, size_t id_len, const char *label,
                 EVP_PKEY **priv, EVP_PKEY **pub)
{
	PKCS11_KEY *key = tok_find_p11_key(t, id, id_len);
	*priv = key ? PKCS11_get_private_key(key) : NULL;
	*pub = tok_public_key(t, id, id_len);
	if (*priv && *pub)
		return TOK_EXIT_OK;
	EVP_PKEY_free(*priv);
	EVP_PKEY_free(*pub);
	*priv = *pub = NULL;
	tok_err("无法通过 libp11 使用密钥 %s（私钥或公钥缺失）", label);
	return TOK_EXIT_TOKEN;
}

int tok_store_issued(struct tok_ctx *t, X509 *cert, EVP_PKEY *pub, const char *label,
                     const unsigned char *id, size_t id_len)
{
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1) {
		tok_err("服务器返回的证书与证书U盘上的密钥不匹配，未写入证书U盘");
		return TOK_EXIT_NETWORK;
	}
	int present = tok_cert_present(t, cert);
	if (present < 0)
		return TOK_EXIT_TOKEN;
	return present ? TOK_EXIT_OK : tok_store_cert(t, cert, label, id, id_len, 1);
}

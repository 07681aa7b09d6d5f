/*
 * PKCS#10 certificate requests (RFC 2986) as tokens send them: parsing the
 * PEM, screening the key (named curve P-256 or RSA 2048..8192) before any
 * costly work, and verifying the self-signature.  A checked request keeps
 * only its SubjectPublicKeyInfo, which ca.c copies into the certificate as
 * received (ca_csr_spki_copy()).
 */
#include "ca_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

enum {
	CSR_MAX = 64 * 1024,
	RSA_MIN_BITS = 2048,
	RSA_MAX_BITS = 8192, /* bounds the cost of verifying a CSR */
};

/* The SubjectPublicKeyInfo's algorithm: an EC key must name its curve by
 * OID (RFC 5480 section 2.1.1: namedCurve only).  OpenSSL decodes explicit
 * parameters of P-256 into a key it calls "prime256v1", but a certificate
 * carrying them is refused by strict verifiers, ESP's own login included:
 * such a CSR would use up a paid key for a certificate nobody accepts. */
static bool spki_algorithm_acceptable(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid = NULL;
	int ptype = V_ASN1_UNDEF;
	const void *pval = NULL;
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	if (OBJ_obj2nid(oid) != NID_X9_62_id_ecPublicKey)
		return true; /* RSA and the rest: judged on the decoded key */
	return ptype == V_ASN1_OBJECT && OBJ_obj2nid(pval) == NID_X9_62_prime256v1;
}

/* EC on the named curve P-256, or RSA with 2048..8192 bits.  Anything else
 * is refused, including other curves (P-384, SM2), Ed25519 and RSA-PSS-only
 * keys; explicit curve parameters are refused before, by
 * spki_algorithm_acceptable(). */
static bool key_acceptable(const EVP_PKEY *pk)
{
	if (EVP_PKEY_is_a(pk, "EC")) {
		char group[80];
		size_t glen = 0;
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof group, &glen) != 1)
			return false;
		return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
	}
	if (EVP_PKEY_is_a(pk, "RSA")) {
		int bits = EVP_PKEY_get_bits(pk);
		return bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS;
	}
	return false;
}

/*
 * The CSR, decoded with OpenSSL's ASN.1 machinery but with our own item
 * types for RFC 2986's CertificationRequest, so that the SubjectPublicKeyInfo
 * stays what it is on the wire: an AlgorithmIdentifier and a BIT STRING.
 *
 * Why not X509_REQ: in OpenSSL 3.0, decoding an X509_REQ turns its key into
 * an EVP_PKEY through OSSL_DECODER, whose setup alone costs a few hundred
 * microseconds, and X509_set_pubkey() then encodes that EVP_PKEY again and
 * decodes the result once more.  Here the key becomes an EVP_PKEY exactly once
 * per CSR (csr_key(), from the curve name and the point for P-256), only to
 * check it and the self-signature; the certificate receives the CSR's
 * SubjectPublicKeyInfo as received (spki_copy()).
 *
 * The grammar is the one X509_REQ accepts (the attributes are optional, as
 * OpenSSL tolerates CSRs without them; the version is not checked, as
 * X509_REQ_verify() in OpenSSL 3.0 does not), and CertificationRequestInfo
 * and SubjectPublicKeyInfo keep their received encoding (ASN1_AFLG_ENCODING),
 * so the signature is verified over the bytes that were signed, exactly as
 * X509_REQ_verify() does it.
 */
typedef struct {
	ASN1_ENCODING enc;
	X509_ALGOR *algorithm;
	ASN1_BIT_STRING *key;
} CSR_SPKI;

typedef struct {
	ASN1_ENCODING enc;
	ASN1_INTEGER *version;
	X509_NAME *subject;
	CSR_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) * attributes;
} CSR_INFO;

typedef struct {
	CSR_INFO *info;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} CSR_REQ;

ASN1_SEQUENCE_enc(CSR_SPKI, enc, 0) =
    {
        ASN1_SIMPLE(CSR_SPKI, algorithm, X509_ALGOR),
        ASN1_SIMPLE(CSR_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END_ref(CSR_SPKI, CSR_SPKI)

        ASN1_SEQUENCE_enc(CSR_INFO, enc, 0) =
            {
                ASN1_SIMPLE(CSR_INFO, version, ASN1_INTEGER),
                ASN1_SIMPLE(CSR_INFO, subject, X509_NAME),
                ASN1_SIMPLE(CSR_INFO, spki, CSR_SPKI),
                ASN1_IMP_SET_OF_OPT(CSR_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(CSR_INFO, CSR_INFO)

                ASN1_SEQUENCE(CSR_REQ) =
                    {
                        ASN1_SIMPLE(CSR_REQ, info, CSR_INFO),
                        ASN1_SIMPLE(CSR_REQ, sig_alg, X509_ALGOR),
                        ASN1_SIMPLE(CSR_REQ, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CSR_REQ)

    /* A checked CSR: only its public key is kept. */
    struct ca_csr {
	CSR_SPKI *spki;
};

static void csr_req_free(CSR_REQ *req)
{
	ASN1_item_free((ASN1_VALUE *)req, ASN1_ITEM_rptr(CSR_REQ));
}

static void csr_spki_free(CSR_SPKI *spki)
{
	ASN1_item_free((ASN1_VALUE *)spki, ASN1_ITEM_rptr(CSR_SPKI));
}

/* The CSR's key as an EVP_PKEY (NULL when it does not decode).  An EC key on
 * the named curve P-256, what ESP's tokens make, is built directly from the
 * curve name and the point (EC_POINT_oct2point() checks that the point is
 * on the curve, as the decoder does); anything else goes through OpenSSL's
 * generic decoder with the SubjectPublicKeyInfo as received, which gives
 * the same key, hence the same key_acceptable() verdict, as X509_REQ did. */
/* P-256 parameters without a key: copied for each CSR's key, which is much
 * cheaper than EVP_PKEY_fromdata() building the curve anew (~4 µs against
 * ~22 µs here).  Made once; only read afterwards. */
static EVP_PKEY *p256_params;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;

static void p256_params_init(void)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
	    OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &p256_params, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
		EVP_PKEY_free(p256_params);
		p256_params = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
}

/* The P-256 key of the point (uncompressed or compressed); NULL when the
 * point is not on the curve (EC_POINT_oct2point checks it, as
 * EVP_PKEY_fromdata did). */
static EVP_PKEY *p256_key(const unsigned char *point, size_t len)
{
	pthread_once(&p256_once, p256_params_init);
	EVP_PKEY *pk = p256_params ? EVP_PKEY_dup(p256_params) : NULL;
	if (pk && EVP_PKEY_set1_encoded_public_key(pk, point, len) == 1)
		return pk;
	EVP_PKEY_free(pk);
	return NULL;
}

static EVP_PKEY *csr_key(const CSR_SPKI *spki)
{
	const ASN1_OBJECT *alg = NULL;
	int ptype = V_ASN1_UNDEF;
	const void *pval = NULL;
	X509_ALGOR_get0(&alg, &ptype, &pval, spki->algorithm);
	EVP_PKEY *pk = NULL;
	if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT &&
	    OBJ_obj2nid(pval) == NID_X9_62_prime256v1) {
		if (spki->key->length <= 0)
			return NULL;
		return p256_key(spki->key->data, (size_t)spki->key->length);
	}
	unsigned char *der = NULL;
	int n = ASN1_item_i2d((const ASN1_VALUE *)spki, &der, ASN1_ITEM_rptr(CSR_SPKI));
	const unsigned char *p = der;
	if (n > 0)
		pk = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return pk;
}

/* An encrypted PEM block has no password here (and must never prompt). */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Parse and check a CSR: PEM "CERTIFICATE REQUEST" (or the old "NEW
 * CERTIFICATE REQUEST", other blocks skipped, as PEM_read_bio_X509_REQ()),
 * key acceptable (before verifying: that bounds the work), self-signature.
 * On CA_OK *out is the request (csr_req_free). */
static enum ca_status csr_parse(const char *pem, size_t len, CSR_REQ **out)
{
	*out = NULL;
	if (!pem || len == 0 || len > CSR_MAX)
		return CA_ERR_CSR_PARSE;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return CA_ERR_INTERNAL;
	unsigned char *der = NULL;
	long der_len = 0;
	int got =
	    PEM_bytes_read_bio(&der, &der_len, NULL, PEM_STRING_X509_REQ, b, no_password, NULL);
	BIO_free(b);
	const unsigned char *p = der;
	CSR_REQ *req =
	    got == 1 ? (CSR_REQ *)ASN1_item_d2i(NULL, &p, der_len, ASN1_ITEM_rptr(CSR_REQ)) : NULL;
	OPENSSL_free(der);
	/* The curve is judged on the wire before any decoding of the key. */
	bool alg_ok = req && spki_algorithm_acceptable(req->info->spki->algorithm);
	EVP_PKEY *pk = alg_ok ? csr_key(req->info->spki) : NULL;
	enum ca_status st = CA_OK;
	if (!req)
		st = CA_ERR_CSR_PARSE;
	else if (!alg_ok)
		st = CA_ERR_KEY_WEAK;
	else if (!pk)
		st = CA_ERR_CSR_PARSE;
	else if (!key_acceptable(pk))
		st = CA_ERR_KEY_WEAK;
	else if (ASN1_item_verify(ASN1_ITEM_rptr(CSR_INFO), req->sig_alg, req->signature, req->info,
	                          pk) != 1)
		st = CA_ERR_CSR_SIGNATURE;
	EVP_PKEY_free(pk);
	if (st != CA_OK) {
		ERR_clear_error();
		csr_req_free(req);
		return st;
	}
	*out = req;
	return CA_OK;
}

enum ca_status ca_csr_parse(const char *csr_pem, size_t len, ca_csr **out)
{
	if (!out)
		return CA_ERR_INTERNAL;
	*out = NULL;
	CSR_REQ *req = NULL;
	enum ca_status st = csr_parse(csr_pem, len, &req);
	if (st != CA_OK)
		return st;
	ca_csr *csr = malloc(sizeof *csr);
	if (!csr) {
		csr_req_free(req);
		return CA_ERR_INTERNAL;
	}
	csr->spki = req->info->spki; /* keep the key, drop the rest */
	req->info->spki = NULL;
	csr_req_free(req);
	*out = csr;
	return CA_OK;
}

void ca_csr_free(ca_csr *csr)
{
	if (!csr)
		return;
	csr_spki_free(csr->spki);
	free(csr);
}

enum ca_status ca_check_csr(const char *csr_pem, size_t len)
{
	CSR_REQ *req = NULL;
	enum ca_status st = csr_parse(csr_pem, len, &req);
	csr_req_free(req);
	return st;
}

/* Gives x the CSR's SubjectPublicKeyInfo as received: its algorithm with the
 * parameters, and the key's BIT STRING.  No EVP_PKEY is involved; the subject
 * key identifier ("hash") is the SHA-1 of these key bits. */
bool ca_csr_spki_copy(X509 *x, const ca_csr *csr)
{
	const CSR_SPKI *spki = csr->spki;
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(x);
	const ASN1_OBJECT *alg = NULL;
	X509_ALGOR_get0(&alg, NULL, NULL, spki->algorithm);
	int n = spki->key->length;
	ASN1_OBJECT *obj = OBJ_dup(alg);
	unsigned char *bits = n > 0 ? OPENSSL_memdup(spki->key->data, (size_t)n) : NULL;
	if (!pub || !obj || !bits ||
	    X509_PUBKEY_set0_param(pub, obj, V_ASN1_UNDEF, NULL, bits, n) != 1) {
		ASN1_OBJECT_free(obj);
		OPENSSL_free(bits);
		return false;
	}
	/* Now the parameters (the curve, RSA's NULL): the algorithm copied whole. */
	X509_ALGOR *dst = NULL;
	return X509_PUBKEY_get0_param(NULL, NULL, NULL, &dst, pub) == 1 && dst &&
	       X509_ALGOR_copy(dst, spki->algorithm) == 1;
}

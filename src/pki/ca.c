/*
 * ESP's certificate authority: creating the root and issuing CA on disk,
 * loading the issuing CA and signing certificates for USB keys and for the
 * server.  PKCS#10 requests are parsed and checked in csr.c; CRLs are made
 * in crl.c; client certificates and signatures are verified in verify.c.
 *
 * Thread safety: an esp_ca is immutable after ca_open() apart from the use
 * of its private key.  OpenSSL 3 documents signing with a shared read-only
 * EVP_PKEY as safe, but the key's provider-side caches are filled lazily on
 * first use, so to be certain rather than clever every signature made with
 * the issuing CA key is taken under ca->sign_lock (ca_sign_x509() and
 * ca_sign_crl()).  An ECDSA P-256 signature costs tens of microseconds, so
 * the lock is never contended for long.  Everything else (parsing the CSR,
 * building the certificate, encoding) runs on per-call objects, in parallel.
 *
 * Private keys: generated keys are written as unencrypted PKCS#8 PEM through
 * a secure-memory BIO into files created with open(O_CREAT|O_EXCL, 0600), and
 * every copy of the PEM text is wiped with OPENSSL_cleanse() before it is
 * freed.  EVP_PKEY_free() clears the key material itself.
 */
#include "ca_internal.h"
#include "esp/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

enum {
	DAY = 24 * 60 * 60,
	ROOT_DAYS = 7305,     /* 20 years */
	ISSUING_DAYS = 3653,  /* 10 years */
	SERVER_DAYS = 730,    /* 2 years: below the 825 days browsers accept */
	MAX_LEAF_DAYS = 3660, /* sanity bound on profile->validity_days */
	CLOCK_SKEW = 5 * 60,  /* not_before is backdated by this much */
	SERIAL_BYTES = 16,
	FILE_MAX = 1024 * 1024,
};

/* GM/T 0015 identity extensions: the holder's ID number, unified social
 * credit code or organisation code (docs/api.md, the certificate profile). */
#define OID_GMT_ID_NUMBER "1.2.156.10260.4.1.1"
#define OID_GMT_USCC "1.2.156.10260.4.1.3"
#define OID_GMT_ORG_CODE "1.2.156.10260.4.1.4"

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

unsigned char *ca_memdup(const void *p, size_t len)
{
	unsigned char *d = malloc(len ? len : 1);
	if (d && len)
		memcpy(d, p, len);
	return d;
}

char *ca_serial_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	if (!bn)
		return NULL;
	bool neg = BN_is_negative(bn);
	BN_set_negative(bn, 0);
	int n = BN_num_bytes(bn);
	unsigned char *raw = malloc(n > 0 ? (size_t)n : 1);
	char *hex = malloc(2 * (size_t)(n > 0 ? n : 1) + 2);
	if (!raw || !hex) {
		free(raw);
		free(hex);
		BN_free(bn);
		return NULL;
	}
	char *o = hex;
	if (neg)
		*o++ = '-';
	if (n == 0) {
		strcpy(o, "00");
	} else {
		/* Every OCSP request names a serial: sprintf per byte was a
		 * twentieth of espd's CPU for a cached answer. */
		static const char digits[] = "0123456789abcdef";
		BN_bn2bin(bn, raw);
		for (int i = 0; i < n; i++) {
			*o++ = digits[raw[i] >> 4];
			*o++ = digits[raw[i] & 15];
		}
		*o = '\0';
	}
	free(raw);
	BN_free(bn);
	return hex;
}

static bool path_join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	return n > 0 && (size_t)n < size;
}

/* Create path (which must not exist) with the given mode and contents.
 * CA_ERR_EXISTS when it exists; on other failures nothing is left behind. */
static enum ca_status write_new_file(const char *path, const void *data, size_t len, mode_t mode)
{
	if (file_write_new(path, data, len, (int)mode) == 0)
		return CA_OK;
	return errno == EEXIST ? CA_ERR_EXISTS : CA_ERR_INTERNAL;
}

/* Replace dir/name atomically, with a fresh file of exactly `mode` (so a key
 * is never readable by others, whatever the old file's mode was). */
static enum ca_status replace_file(const char *dir, const char *name, const void *data, size_t len,
                                   mode_t mode)
{
	char dst[PATH_MAX];
	if (!path_join(dst, sizeof dst, dir, name))
		return CA_ERR_INTERNAL;
	return file_write_atomic(dst, data, len, (int)mode) == 0 ? CA_OK : CA_ERR_INTERNAL;
}

/* Read a whole (small) file into a NUL-terminated malloc'ed buffer. */
static enum ca_status read_file(const char *path, char **out, size_t *out_len)
{
	*out = file_read_max(path, FILE_MAX, out_len);
	if (*out)
		return CA_OK;
	return errno == ENOENT ? CA_ERR_NOT_FOUND : CA_ERR_INTERNAL;
}

static void free_secret(char *p, size_t len)
{
	if (p) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

/* Contents of a memory BIO as a NUL-terminated malloc'ed string. */
static char *bio_to_string(BIO *b, size_t *len)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	if (len)
		*len = (size_t)n;
	return s;
}

/* DER as PEM with OpenSSL's PEM writer, under the label name. */
static char *der_to_pem(const char *name, const unsigned char *der, int len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;
	if (b && PEM_write_bio(b, name, "", der, len) > 0)
		s = bio_to_string(b, NULL);
	BIO_free(b);
	return s;
}

static char *x509_to_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;
	if (b && PEM_write_bio_X509(b, x) == 1)
		s = bio_to_string(b, NULL);
	BIO_free(b);
	return s;
}

/* Private key as PKCS#8 PEM (unencrypted).  The caller wipes and frees the
 * result with free_secret(). */
static char *key_to_pem(EVP_PKEY *key, size_t *len)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *s = NULL;
	if (b && PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_to_string(b, len);
	BIO_free(b); /* a secure-memory BIO clears its buffer when freed */
	return s;
}

static EVP_PKEY *load_key(const char *pem, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

static X509 *load_cert(const char *pem, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

/* First value of `nid` in `name` as a malloc'ed UTF-8 string, or NULL. */
static char *name_entry_utf8(const X509_NAME *name, int nid)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	if (i < 0)
		return NULL;
	const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, v);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, u, (size_t)n);
		s[n] = '\0';
	}
	OPENSSL_free(u);
	return s;
}

/* Add an attribute from UTF-8 text; NULL or "" leaves it out.  MBSTRING_UTF8
 * validates the UTF-8 and the length bounds of X.520 and picks the string
 * type: UTF8String for names, PrintableString for C and serialNumber. */
static bool name_add(X509_NAME *n, int nid, const char *utf8)
{
	if (!utf8 || !*utf8)
		return true;
	return X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, (const unsigned char *)utf8, -1,
	                                  -1, 0) == 1;
}

static bool printable_string_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr(" '()+,-./:=?", c)))
			return false;
	}
	return true;
}

/* A URI or DNS name for an IA5String: visible ASCII, no spaces. */
static bool ia5_visible(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* A positive random serial of SERIAL_BYTES bytes: top bit cleared (so the
 * DER INTEGER is positive without padding), first byte nonzero (so it always
 * has exactly 16 bytes): 127 bits minus a sliver of entropy. */
static ASN1_INTEGER *random_serial(void)
{
	unsigned char b[SERIAL_BYTES];
	do {
		if (RAND_bytes(b, sizeof b) != 1)
			return NULL;
		b[0] &= 0x7f;
	} while (b[0] == 0);
	BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
	ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	return ai;
}

/* A v3 certificate with random serial, names, validity and, unless pub is
 * NULL, public key set; issuer NULL means self-issued.  Extensions and
 * signature are up to the caller. */
static X509 *cert_new(const X509_NAME *subject, EVP_PKEY *pub, const X509 *issuer,
                      time_t not_before, time_t not_after)
{
	X509 *x = X509_new();
	ASN1_INTEGER *serial = random_serial();
	bool ok = x && serial && X509_set_version(x, X509_VERSION_3) == 1 &&
	          X509_set_serialNumber(x, serial) == 1 && X509_set_subject_name(x, subject) == 1 &&
	          X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) == 1 &&
	          ASN1_TIME_set(X509_getm_notBefore(x), not_before) != NULL &&
	          ASN1_TIME_set(X509_getm_notAfter(x), not_after) != NULL &&
	          (!pub || X509_set_pubkey(x, pub) == 1);
	ASN1_INTEGER_free(serial);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Add an extension given in openssl.cnf syntax (fixed strings only). */
static bool add_ext_conf(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	if (!ext)
		return false;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1;
}

/* CRL distribution point with one URI fullName; NULL or "" leaves it out. */
static bool add_crl_dp(X509 *x, const char *url)
{
	if (!url || !*url)
		return true;
	if (!ia5_visible(url))
		return false;
	bool ok = false;
	CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	if (!cdp || !dp || !gn || !uri || ASN1_STRING_set(uri, url, -1) != 1)
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	dp->distpoint = DIST_POINT_NAME_new();
	if (!dp->distpoint)
		goto out;
	dp->distpoint->type = 0; /* fullName */
	dp->distpoint->name.fullname = GENERAL_NAMES_new();
	if (!dp->distpoint->name.fullname ||
	    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	if (!sk_DIST_POINT_push(cdp, dp))
		goto out;
	dp = NULL;
	ok = X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0, X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(cdp);
	return ok;
}

/* authorityInfoAccess with the OCSP responder's URI; NULL leaves it out. */
static bool add_ocsp_aia(X509 *x, const char *url)
{
	if (!url || !*url)
		return true;
	if (!ia5_visible(url))
		return false;
	bool ok = false;
	AUTHORITY_INFO_ACCESS *aia = AUTHORITY_INFO_ACCESS_new();
	ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	if (!aia || !ad || !uri || ASN1_STRING_set(uri, url, -1) != 1)
		goto out;
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(NID_ad_OCSP);
	GENERAL_NAME_set0_value(ad->location, GEN_URI, uri);
	uri = NULL;
	if (!sk_ACCESS_DESCRIPTION_push(aia, ad))
		goto out;
	ad = NULL;
	ok = X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_IA5STRING_free(uri);
	ACCESS_DESCRIPTION_free(ad);
	AUTHORITY_INFO_ACCESS_free(aia);
	return ok;
}

/* GM/T 0015 identity extension (non-critical) carrying the code as a
 * PrintableString, or a UTF8String when it has other characters. */
static bool add_identity_ext(X509 *x, const char *kind, const char *code)
{
	if ((!kind || !*kind) && (!code || !*code))
		return true;
	if (!kind || !*kind)
		return true; /* a code without a kind: serialNumber only */
	if (!code || !*code)
		return false;
	const char *oid;
	if (strcmp(kind, "id") == 0)
		oid = OID_GMT_ID_NUMBER;
	else if (strcmp(kind, "uscc") == 0)
		oid = OID_GMT_USCC;
	else if (strcmp(kind, "org") == 0)
		oid = OID_GMT_ORG_CODE;
	else
		return false;

	bool ok = false;
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int type = printable_string_ok(code) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
	ASN1_STRING *str = ASN1_STRING_type_new(type);
	ASN1_TYPE *any = ASN1_TYPE_new();
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int der_len;
	if (!obj || !str || !any || !os || ASN1_STRING_set(str, code, -1) != 1 ||
	    ASN1_TYPE_set1(any, type, str) != 1)
		goto out;
	der_len = i2d_ASN1_TYPE(any, &der);
	if (der_len <= 0 || ASN1_OCTET_STRING_set(os, der, der_len) != 1)
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	ok = ext && X509_add_ext(x, ext, -1) == 1;
out:
	X509_EXTENSION_free(ext);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(os);
	ASN1_TYPE_free(any);
	ASN1_STRING_free(str);
	ASN1_OBJECT_free(obj);
	return ok;
}

/* subjectAltName from "localhost,127.0.0.1": IPv4/IPv6 literals become
 * iPAddress, anything else dNSName.  *first gets the first name (malloc'ed)
 * for the subject CN. */
static bool add_san(X509 *x, const char *names, char **first)
{
	*first = NULL;
	bool ok = false;
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	char *copy = strdup(names ? names : "");
	if (!gens || !copy)
		goto out;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		size_t l = strlen(tok);
		while (l > 0 && (tok[l - 1] == ' ' || tok[l - 1] == '\t'))
			tok[--l] = '\0';
		if (l == 0)
			continue;
		if (!ia5_visible(tok))
			goto out;
		GENERAL_NAME *gn = GENERAL_NAME_new();
		if (!gn)
			goto out;
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(tok);
		if (ip) {
			GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		} else {
			ERR_clear_error();
			ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
			if (!dns || ASN1_STRING_set(dns, tok, -1) != 1) {
				ASN1_IA5STRING_free(dns);
				GENERAL_NAME_free(gn);
				goto out;
			}
			GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
		}
		if (!sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
		if (!*first && !(*first = strdup(tok)))
			goto out;
	}
	if (sk_GENERAL_NAME_num(gens) == 0)
		goto out;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
	if (!ok) {
		free(*first);
		*first = NULL;
	}
	free(copy);
	GENERAL_NAMES_free(gens);
	return ok;
}

bool ca_sign_x509(esp_ca *ca, X509 *cert)
{
	pthread_mutex_lock(&ca->sign_lock);
	int n = X509_sign(cert, ca->key, EVP_sha256());
	pthread_mutex_unlock(&ca->sign_lock);
	return n > 0;
}

bool ca_sign_crl(esp_ca *ca, X509_CRL *crl)
{
	pthread_mutex_lock(&ca->sign_lock);
	int n = X509_CRL_sign(crl, ca->key, EVP_sha256());
	pthread_mutex_unlock(&ca->sign_lock);
	return n > 0;
}

/* ------------------------------------------------------------------ */
/* creating and loading the CA                                         */

static X509_NAME *ca_name(const char *org, const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	if (n && name_add(n, NID_countryName, "CN") && name_add(n, NID_organizationName, org) &&
	    name_add(n, NID_commonName, cn))
		return n;
	X509_NAME_free(n);
	return NULL;
}

/* The root (self-signed) or, with issuer set, the issuing CA (pathlen 0). */
static X509 *make_ca_cert(const char *org, const char *cn, EVP_PKEY *key, const X509 *issuer,
                          EVP_PKEY *issuer_key, int days, time_t now)
{
	X509_NAME *name = ca_name(org, cn);
	X509 *x =
	    name ? cert_new(name, key, issuer, now - CLOCK_SKEW, now + (time_t)days * DAY) : NULL;
	X509_NAME_free(name);
	if (!x)
		return NULL;
	/* The issuing CA never outlives the root that signed it. */
	time_t end = now + (time_t)days * DAY;
	if (issuer && X509_cmp_time(X509_get0_notAfter(issuer), &end) < 0 &&
	    X509_set1_notAfter(x, X509_get0_notAfter(issuer)) != 1) {
		X509_free(x);
		return NULL;
	}
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? (X509 *)issuer : x, x, NULL, NULL, 0);
	bool ok =
	    add_ext_conf(x, &ctx, NID_basic_constraints,
	                 issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE") &&
	    add_ext_conf(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
	    add_ext_conf(x, &ctx, NID_subject_key_identifier, "hash") &&
	    (!issuer || add_ext_conf(x, &ctx, NID_authority_key_identifier, "keyid:always")) &&
	    X509_sign(x, issuer_key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/*
 * The root CA's key signs one thing: the issuing CA's certificate.  So it is
 * made apart (ca_create_root, into a directory the operator keeps offline)
 * and brought online only to sign an issuing CA (ca_create_issuing).  The
 * data directory holds the issuing CA's key and certificate, the root's
 * certificate and the chain; espd and everything it signs (certificates,
 * CRLs, the server certificate) use the issuing key only.
 */
static const char *const root_files[] = {"root.key", "root.crt"};
static const char *const issuing_files[] = {"ca.key", "ca.crt", "root.crt", "chain.pem"};
enum { ROOT_NFILES = 2, ISSUING_NFILES = 4 };

struct new_file {
	const char *name;
	const char *data;
	size_t len;
	mode_t mode;
};

/* CA_ERR_EXISTS when any of names exists in dir. */
static enum ca_status none_exist(const char *dir, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat sb;
		if (!path_join(path, sizeof path, dir, names[i]))
			return CA_ERR_INTERNAL;
		if (lstat(path, &sb) == 0)
			return CA_ERR_EXISTS;
	}
	return CA_OK;
}

/* Create every file or none: leave no half-made CA behind, and never touch
 * a file we did not create. */
static enum ca_status write_new_files(const char *dir, const struct new_file *f, size_t n)
{
	char paths[ISSUING_NFILES][PATH_MAX];
	size_t made = 0;
	enum ca_status st = n <= ISSUING_NFILES ? CA_OK : CA_ERR_INTERNAL;
	for (; st == CA_OK && made < n; made++) {
		if (!path_join(paths[made], sizeof paths[made], dir, f[made].name))
			st = CA_ERR_INTERNAL;
		else
			st = write_new_file(paths[made], f[made].data, f[made].len, f[made].mode);
		if (st != CA_OK)
			break;
	}
	if (st != CA_OK)
		for (size_t i = 0; i < made; i++)
			unlink(paths[i]);
	return st;
}

/* A new issuing CA signed by root/root_key, written into dir with the
 * root's certificate and the chain.  The root key is only read here. */
static enum ca_status write_issuing(const char *dir, const char *org, X509 *root,
                                    EVP_PKEY *root_key)
{
	enum ca_status st = none_exist(dir, issuing_files, ISSUING_NFILES);
	if (st != CA_OK)
		return st;
	st = CA_ERR_INTERNAL;
	EVP_PKEY *ca_key = EVP_EC_gen("P-256");
	X509 *issuing = ca_key ? make_ca_cert(org, "ESP Issuing CA", ca_key, root, root_key,
	                                      ISSUING_DAYS, time(NULL))
	                       : NULL;
	size_t ca_key_len = 0;
	char *ca_key_pem = issuing ? key_to_pem(ca_key, &ca_key_len) : NULL;
	char *root_pem = x509_to_pem(root);
	char *ca_pem = issuing ? x509_to_pem(issuing) : NULL;
	char *chain = NULL;
	if (ca_key_pem && root_pem && ca_pem) {
		size_t rl = strlen(root_pem), cl = strlen(ca_pem);
		chain = malloc(rl + cl + 1);
		if (chain) {
			memcpy(chain, ca_pem, cl);
			memcpy(chain + cl, root_pem, rl + 1);
			const struct new_file files[ISSUING_NFILES] = {
			    {"ca.key", ca_key_pem, ca_key_len, 0600},
			    {"ca.crt", ca_pem, cl, 0644},
			    {"root.crt", root_pem, rl, 0644},
			    {"chain.pem", chain, rl + cl, 0644},
			};
			st = write_new_files(dir, files, ISSUING_NFILES);
		}
	}
	if (st != CA_OK)
		ERR_clear_error();
	free_secret(ca_key_pem, ca_key_len);
	free(root_pem);
	free(ca_pem);
	free(chain);
	X509_free(issuing);
	EVP_PKEY_free(ca_key);
	return st;
}

static EVP_PKEY *new_root(const char *org, X509 **root)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	*root =
	    key ? make_ca_cert(org, "ESP Root CA", key, NULL, key, ROOT_DAYS, time(NULL)) : NULL;
	if (!*root) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

enum ca_status ca_create_root(const char *dir, const char *org)
{
	if (!dir)
		return CA_ERR_INTERNAL;
	enum ca_status st = none_exist(dir, root_files, ROOT_NFILES);
	if (st != CA_OK)
		return st;
	st = CA_ERR_INTERNAL;
	X509 *root = NULL;
	EVP_PKEY *key = new_root(org, &root);
	size_t key_len = 0;
	char *key_pem = key ? key_to_pem(key, &key_len) : NULL;
	char *root_pem = root ? x509_to_pem(root) : NULL;
	if (key_pem && root_pem) {
		const struct new_file files[ROOT_NFILES] = {
		    {"root.key", key_pem, key_len, 0600},
		    {"root.crt", root_pem, strlen(root_pem), 0644},
		};
		st = write_new_files(dir, files, ROOT_NFILES);
	}
	if (st != CA_OK)
		ERR_clear_error();
	free_secret(key_pem, key_len);
	free(root_pem);
	X509_free(root);
	EVP_PKEY_free(key);
	return st;
}

enum ca_status ca_create_issuing(const char *dir, const char *root_dir)
{
	char key_path[PATH_MAX], crt_path[PATH_MAX];
	if (!dir || !root_dir || !path_join(key_path, sizeof key_path, root_dir, "root.key") ||
	    !path_join(crt_path, sizeof crt_path, root_dir, "root.crt"))
		return CA_ERR_INTERNAL;
	char *key_pem = NULL, *crt_pem = NULL;
	size_t key_len = 0, crt_len = 0;
	enum ca_status st = read_file(key_path, &key_pem, &key_len);
	if (st == CA_OK)
		st = read_file(crt_path, &crt_pem, &crt_len);
	EVP_PKEY *key = st == CA_OK ? load_key(key_pem, key_len) : NULL;
	X509 *root = st == CA_OK ? load_cert(crt_pem, crt_len) : NULL;
	char *org =
	    root ? name_entry_utf8(X509_get_subject_name(root), NID_organizationName) : NULL;
	if (st == CA_OK) {
		/* The pair must be a root CA and its own key. */
		if (!key || !root || X509_check_private_key(root, key) != 1 ||
		    X509_check_ca(root) == 0 || X509_verify(root, key) != 1)
			st = CA_ERR_INTERNAL;
		else
			st = write_issuing(dir, org, root, key);
	}
	if (st != CA_OK)
		ERR_clear_error();
	free_secret(key_pem, key_len);
	free(crt_pem);
	free(org);
	X509_free(root);
	EVP_PKEY_free(key);
	return st;
}

enum ca_status ca_create(const char *dir, const char *org)
{
	if (!dir)
		return CA_ERR_INTERNAL;
	/* A root key left in the directory from before counts as a CA there. */
	enum ca_status st = none_exist(dir, root_files, 1);
	if (st != CA_OK)
		return st;
	X509 *root = NULL;
	EVP_PKEY *key = new_root(org, &root);
	st = key ? write_issuing(dir, org, root, key) : CA_ERR_INTERNAL;
	if (st != CA_OK)
		ERR_clear_error();
	X509_free(root);
	EVP_PKEY_free(key); /* the root key is never written: see ca.h */
	return st;
}

/* The fixed leaf extensions of ca (see struct esp_ca), in the order
 * ca_issue_csr adds them; the key identifier of the issuer is ca's own. */
static bool leaf_ext_init(esp_ca *ca)
{
	static const struct {
		int nid;
		const char *value;
	} fixed[] = {
	    {NID_basic_constraints, "critical,CA:FALSE"},
	    {NID_key_usage, "critical,digitalSignature"},
	    {NID_ext_key_usage, "clientAuth"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	_Static_assert(sizeof fixed / sizeof fixed[0] ==
	                   sizeof ca->leaf_ext / sizeof ca->leaf_ext[0],
	               "one slot per fixed extension");
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (!(ca->leaf_ext[i] =
		          X509V3_EXT_nconf_nid(NULL, &ctx, fixed[i].nid, fixed[i].value)))
			return false;
	return true;
}

enum ca_status ca_open(const char *dir, esp_ca **out)
{
	char key_path[PATH_MAX], crt_path[PATH_MAX], root_path[PATH_MAX];
	char *key_pem = NULL, *crt_pem = NULL, *root_pem = NULL;
	size_t key_len = 0, crt_len = 0, root_len = 0;
	enum ca_status st;

	if (!out)
		return CA_ERR_INTERNAL;
	*out = NULL;
	if (!dir || !path_join(key_path, sizeof key_path, dir, "ca.key") ||
	    !path_join(crt_path, sizeof crt_path, dir, "ca.crt") ||
	    !path_join(root_path, sizeof root_path, dir, "root.crt"))
		return CA_ERR_INTERNAL;

	esp_ca *ca = calloc(1, sizeof *ca);
	if (!ca)
		return CA_ERR_INTERNAL;
	if (pthread_mutex_init(&ca->sign_lock, NULL) != 0) {
		free(ca);
		return CA_ERR_INTERNAL;
	}

	if ((st = read_file(key_path, &key_pem, &key_len)) != CA_OK ||
	    (st = read_file(crt_path, &crt_pem, &crt_len)) != CA_OK ||
	    (st = read_file(root_path, &root_pem, &root_len)) != CA_OK)
		goto out;
	st = CA_ERR_INTERNAL;
	ca->key = load_key(key_pem, key_len);
	ca->cert = load_cert(crt_pem, crt_len);
	ca->root = load_cert(root_pem, root_len);
	if (!ca->key || !ca->cert || !ca->root)
		goto out;
	/* The key must belong to the certificate, and the certificate to the root. */
	if (X509_check_private_key(ca->cert, ca->key) != 1 ||
	    X509_verify(ca->cert, X509_get0_pubkey(ca->root)) != 1 || X509_check_ca(ca->cert) == 0)
		goto out;
	/* Fill OpenSSL's per-certificate extension caches now, while single threaded. */
	X509_check_purpose(ca->cert, -1, 0);
	X509_check_purpose(ca->root, -1, 0);

	ca->store = X509_STORE_new();
	if (!ca->store || X509_STORE_add_cert(ca->store, ca->root) != 1 ||
	    X509_STORE_add_cert(ca->store, ca->cert) != 1)
		goto out;

	ca->cert_pem = x509_to_pem(ca->cert);
	char *rp = x509_to_pem(ca->root);
	if (ca->cert_pem && rp) {
		size_t cl = strlen(ca->cert_pem), rl = strlen(rp);
		ca->chain_pem = malloc(cl + rl + 1);
		if (ca->chain_pem) {
			memcpy(ca->chain_pem, ca->cert_pem, cl);
			memcpy(ca->chain_pem + cl, rp, rl + 1);
		}
	}
	free(rp);
	ca->issuer_cn = name_entry_utf8(X509_get_subject_name(ca->cert), NID_commonName);
	if (!ca->issuer_cn)
		ca->issuer_cn = strdup("");
	if (!ca->cert_pem || !ca->chain_pem || !ca->issuer_cn || !leaf_ext_init(ca))
		goto out;
	st = CA_OK;
out:
	free_secret(key_pem, key_len);
	free(crt_pem);
	free(root_pem);
	if (st != CA_OK) {
		ERR_clear_error();
		ca_free(ca);
		return st;
	}
	*out = ca;
	return CA_OK;
}

void ca_free(esp_ca *ca)
{
	if (!ca)
		return;
	EVP_PKEY_free(ca->key); /* clears the private scalar */
	X509_free(ca->cert);
	X509_free(ca->root);
	X509_STORE_free(ca->store);
	free(ca->cert_pem);
	free(ca->chain_pem);
	free(ca->issuer_cn);
	free(ca->ocsp_url);
	for (size_t i = 0; i < sizeof ca->leaf_ext / sizeof ca->leaf_ext[0]; i++)
		X509_EXTENSION_free(ca->leaf_ext[i]);
	pthread_mutex_destroy(&ca->sign_lock);
	free(ca);
}

const char *ca_chain_pem(const esp_ca *ca)
{
	return ca->chain_pem;
}

const char *ca_cert_pem(const esp_ca *ca)
{
	return ca->cert_pem;
}

const char *ca_issuer_cn(const esp_ca *ca)
{
	return ca->issuer_cn;
}

bool ca_set_ocsp_url(esp_ca *ca, const char *url)
{
	if (url && *url && !ia5_visible(url))
		return false;
	free(ca->ocsp_url);
	ca->ocsp_url = url && *url ? strdup(url) : NULL;
	return !url || !*url || ca->ocsp_url;
}

X509 *ca_leaf_new(esp_ca *ca, const X509_NAME *subject, EVP_PKEY *pub, time_t nb, time_t na)
{
	return cert_new(subject, pub, ca->cert, nb, na);
}

bool ca_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	return add_ext_conf(x, ctx, nid, value);
}

char *ca_key_to_pem(EVP_PKEY *key, size_t *len)
{
	return key_to_pem(key, len);
}

char *ca_x509_to_pem(X509 *x)
{
	return x509_to_pem(x);
}

/* ------------------------------------------------------------------ */
/* server certificate                                                  */

enum ca_status ca_issue_server_cert(esp_ca *ca, const char *dir, const char *names)
{
	if (!ca || !dir || !names)
		return CA_ERR_INTERNAL;
	enum ca_status st = CA_ERR_INTERNAL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_NAME *subject = X509_NAME_new();
	X509 *x = NULL;
	char *first = NULL, *org = NULL, *key_pem = NULL, *leaf_pem = NULL, *crt = NULL;
	size_t key_len = 0;
	time_t now = time(NULL);

	if (!key || !subject)
		goto out;
	/* Build with a placeholder subject first: the CN is the first SAN. */
	x = cert_new(subject, key, ca->cert, now - CLOCK_SKEW, now + (time_t)SERVER_DAYS * DAY);
	if (!x || !add_san(x, names, &first))
		goto out;
	org = name_entry_utf8(X509_get_subject_name(ca->cert), NID_organizationName);
	if (!name_add(subject, NID_countryName, "CN") ||
	    !name_add(subject, NID_organizationName, org) ||
	    !name_add(subject, NID_commonName, first) || X509_set_subject_name(x, subject) != 1)
		goto out;
	/* Never outlive the issuing CA: end with it when it ends first. */
	time_t end = now + (time_t)SERVER_DAYS * DAY;
	if (X509_cmp_time(X509_get0_notAfter(ca->cert), &end) < 0 &&
	    X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)) != 1)
		goto out;

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (!add_ext_conf(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext_conf(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext_conf(x, &ctx, NID_ext_key_usage, "serverAuth") ||
	    !add_ext_conf(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_ext_conf(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    !ca_sign_x509(ca, x))
		goto out;

	key_pem = key_to_pem(key, &key_len);
	leaf_pem = x509_to_pem(x);
	if (!key_pem || !leaf_pem)
		goto out;
	size_t ll = strlen(leaf_pem), cl = strlen(ca->cert_pem);
	crt = malloc(ll + cl + 1);
	if (!crt)
		goto out;
	memcpy(crt, leaf_pem, ll);
	memcpy(crt + ll, ca->cert_pem, cl + 1);
	/* Key first: a new certificate must never sit next to an old key. */
	if (replace_file(dir, "server.key", key_pem, key_len, 0600) != CA_OK ||
	    replace_file(dir, "server.crt", crt, ll + cl, 0644) != CA_OK)
		goto out;
	st = CA_OK;
out:
	if (st != CA_OK)
		ERR_clear_error();
	free_secret(key_pem, key_len);
	free(leaf_pem);
	free(crt);
	free(first);
	free(org);
	X509_free(x);
	X509_NAME_free(subject);
	EVP_PKEY_free(key);
	return st;
}

/* ------------------------------------------------------------------ */
/* key certificates (the CSR is parsed and screened in csr.c)          */

/* Subject from the profile only: C=CN, ST, O, OU, CN, serialNumber. */
/* Fills the empty name n with the subject of p.  It is filled in the
 * certificate's own name: X509_set_subject_name() would copy it by a DER
 * round trip (encode, decode, canonical form) for every certificate. */
static bool profile_name_fill(X509_NAME *n, const struct cert_profile *p)
{
	return n && name_add(n, NID_countryName, "CN") &&
	       name_add(n, NID_stateOrProvinceName, p->province) &&
	       name_add(n, NID_organizationName, p->organization) &&
	       name_add(n, NID_organizationalUnitName, p->org_unit) &&
	       name_add(n, NID_commonName, p->common_name) &&
	       name_add(n, NID_serialNumber, p->code) && X509_NAME_entry_count(n) > 1;
}

enum ca_status ca_issue_csr(esp_ca *ca, const ca_csr *csr, const struct cert_profile *p,
                            char **serial_hex, char **cert_pem, unsigned char **cert_der,
                            size_t *der_len, time_t *not_before, time_t *not_after)
{
	if (serial_hex)
		*serial_hex = NULL;
	if (cert_pem)
		*cert_pem = NULL;
	if (cert_der)
		*cert_der = NULL;
	if (der_len)
		*der_len = 0;
	if (!ca || !csr || !p || !serial_hex || !cert_pem || !cert_der || !der_len)
		return CA_ERR_INTERNAL;

	enum ca_status st = CA_ERR_INTERNAL;
	X509_NAME *subject = NULL;
	X509 *x = NULL;
	char *serial = NULL, *pem = NULL;
	unsigned char *der = NULL, *der_copy = NULL;
	int dlen = 0;
	time_t nb = p->not_before ? p->not_before : time(NULL) - CLOCK_SKEW;
	time_t na = nb + (time_t)p->validity_days * DAY;

	/* An invalid profile is the caller's bug (applications are validated
	 * before they reach the CA), hence CA_ERR_INTERNAL. */
	if (p->validity_days <= 0 || p->validity_days > MAX_LEAF_DAYS)
		goto out;
	/* A certificate must not outlive the CA that signed it. */
	if (X509_cmp_time(X509_get0_notAfter(ca->cert), &na) < 0)
		goto out;
	subject = X509_NAME_new(); /* empty: filled in place below */
	x = subject ? cert_new(subject, NULL, ca->cert, nb, na) : NULL;
	if (!x || !profile_name_fill(X509_get_subject_name(x), p) || !ca_csr_spki_copy(x, csr))
		goto out;

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (X509_add_ext(x, ca->leaf_ext[0], -1) != 1 ||
	    X509_add_ext(x, ca->leaf_ext[1], -1) != 1 ||
	    X509_add_ext(x, ca->leaf_ext[2], -1) != 1 ||
	    !add_ext_conf(x, &ctx, NID_subject_key_identifier, "hash") ||
	    X509_add_ext(x, ca->leaf_ext[3], -1) != 1 || !add_crl_dp(x, p->crl_url) ||
	    !add_ocsp_aia(x, ca->ocsp_url) || !add_identity_ext(x, p->code_kind, p->code))
		goto out;
	if (!ca_sign_x509(ca, x))
		goto out;

	/* Encoded once: the PEM is written from that DER (each encoding of the
	 * certificate walks its whole ASN.1 tree again). */
	serial = ca_serial_hex(X509_get0_serialNumber(x));
	dlen = i2d_X509(x, &der);
	pem = dlen > 0 ? der_to_pem(PEM_STRING_X509, der, dlen) : NULL;
	if (!serial || !pem || dlen <= 0 || !(der_copy = ca_memdup(der, (size_t)dlen)))
		goto out;

	*serial_hex = serial;
	*cert_pem = pem;
	*cert_der = der_copy;
	*der_len = (size_t)dlen;
	if (not_before)
		*not_before = nb;
	if (not_after)
		*not_after = na;
	serial = pem = NULL;
	der_copy = NULL;
	st = CA_OK;
out:
	if (st != CA_OK)
		ERR_clear_error();
	free(serial);
	free(pem);
	free(der_copy);
	OPENSSL_free(der);
	X509_free(x);
	X509_NAME_free(subject);
	return st;
}

enum ca_status ca_issue(esp_ca *ca, const char *csr_pem, size_t csr_len,
                        const struct cert_profile *p, char **serial_hex, char **cert_pem,
                        unsigned char **cert_der, size_t *der_len, time_t *not_before,
                        time_t *not_after)
{
	if (serial_hex)
		*serial_hex = NULL;
	if (cert_pem)
		*cert_pem = NULL;
	if (cert_der)
		*cert_der = NULL;
	if (der_len)
		*der_len = 0;
	if (!ca || !p || !serial_hex || !cert_pem || !cert_der || !der_len)
		return CA_ERR_INTERNAL;
	ca_csr *csr = NULL;
	enum ca_status st = ca_csr_parse(csr_pem, csr_len, &csr);
	if (st == CA_OK)
		st = ca_issue_csr(ca, csr, p, serial_hex, cert_pem, cert_der, der_len, not_before,
		                  not_after);
	ca_csr_free(csr);
	return st;
}

const char *ca_status_message(enum ca_status s)
{
	switch (s) {
	case CA_OK:
		return "成功";
	case CA_ERR_INTERNAL:
		return "证书服务内部错误，请稍后重试或联系管理员";
	case CA_ERR_CSR_PARSE:
		return "证书请求(CSR)格式错误：应为PEM编码的PKCS#10证书请求";
	case CA_ERR_CSR_SIGNATURE:
		return "证书请求签名验证失败";
	case CA_ERR_KEY_WEAK:
		return "密钥算法或长度不符合要求：仅支持以命名曲线标识的ECDSA "
		       "P-256（prime256v1）密钥或2048位以上的RSA密钥；"
		       "不接受显式曲线参数、其他曲线或短于2048位的RSA密钥";
	case CA_ERR_EXISTS:
		return "CA已存在，拒绝覆盖";
	case CA_ERR_NOT_FOUND:
		return "未找到CA文件";
	}
	return "未知错误";
}

/*
 * ESP's certificate authority: a root and an issuing CA (ECDSA P-256), the
 * server certificate, certificates for USB keys built from an application,
 * CRLs, and verification of client certificates against our chain.
 *
 * The issuing CA's private key lives inside struct esp_ca and is only touched
 * by the signing functions here; nothing else can reach it.
 */
#ifndef ESP_CA_H
#define ESP_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct esp_ca esp_ca;

enum ca_status {
	CA_OK = 0,
	CA_ERR_INTERNAL,      /* our fault: I/O, OpenSSL failure */
	CA_ERR_CSR_PARSE,     /* not a PEM PKCS#10 request */
	CA_ERR_CSR_SIGNATURE, /* self-signature of the CSR does not verify */
	CA_ERR_KEY_WEAK,      /* unsupported algorithm, curve or too short RSA */
	CA_ERR_EXISTS,        /* ca_create on a directory that already has a CA */
	CA_ERR_NOT_FOUND,     /* ca_open on a directory without CA files */
};

/*
 * The root CA's key is kept offline: it only signs issuing CAs.  The data
 * directory (dir below) holds ca.key (mode 0600), ca.crt, root.crt and
 * chain.pem (issuing CA then root), never root.key; ca_open reads nothing
 * else.  All three refuse (CA_ERR_EXISTS) to overwrite any file they would
 * write, and leave nothing behind when they fail.
 */
/* A root CA (20 years) in dir, meant to be kept offline: root.key (0600)
 * and root.crt.  org is the organisation name of the subject. */
enum ca_status ca_create_root(const char *dir, const char *org);
/* A new issuing CA (10 years, at most as long as the root) in dir, signed
 * with root_dir/root.key and root_dir/root.crt (the root's organisation is
 * reused).  CA_ERR_NOT_FOUND when root_dir has no root. */
enum ca_status ca_create_issuing(const char *dir, const char *root_dir);
/* Demo and tests: a root made in memory signs the issuing CA written to
 * dir, and is then thrown away; such a CA can never make another issuing CA. */
enum ca_status ca_create(const char *dir, const char *org);
/* Load the issuing CA from dir. *out freed with ca_free. */
enum ca_status ca_open(const char *dir, esp_ca **out);
void ca_free(esp_ca *ca);

/* Issue a server certificate for the given DNS names / IPs (comma separated,
 * "localhost,127.0.0.1") into dir/server.key and dir/server.crt (the crt file
 * holds the leaf followed by the issuing CA). */
enum ca_status ca_issue_server_cert(esp_ca *ca, const char *dir, const char *names);

/* The chain as PEM (issuing CA, then root); owned by ca. */
const char *ca_chain_pem(const esp_ca *ca);
/* The issuing CA's certificate as PEM; owned by ca. */
const char *ca_cert_pem(const esp_ca *ca);
/* The issuing CA's subject common name; owned by ca. */
const char *ca_issuer_cn(const esp_ca *ca);

/* The OCSP responder's URL put in the authorityInfoAccess of every key
 * certificate issued from now on (NULL or "" leaves it out).  Set once at
 * start, before any thread issues; false when url is not visible ASCII. */
bool ca_set_ocsp_url(esp_ca *ca, const char *url);

/* What goes into a key's certificate; everything comes from the application,
 * never from the CSR. Strings are UTF-8; NULL or "" leaves a field out. */
struct cert_profile {
	const char *common_name;  /* unit name or person name */
	const char *organization; /* unit name; for evaluators the work unit */
	const char *org_unit; /* role in Chinese: 主管机关/考评机构/交通运输企业/考评员 */
	const char *province; /* ST */
	const char *code; /* 统一社会信用代码, 组织机构代码 or ID number: serialNumber */
	const char *code_kind; /* "uscc", "org", "id": picks the GM/T 0015 extension */
	int validity_days;     /* 3 years = 1095 */
	const char *crl_url;   /* CRL distribution point */
	time_t not_before;     /* 0 = now */
};

/* ---- certificate requests (csr.c) ---- */
/* Check a PEM CSR: parses, self-signature verifies, key is EC P-256 or RSA >= 2048. */
enum ca_status ca_check_csr(const char *csr_pem, size_t len);

/* A checked CSR, to issue from without parsing or verifying it again: the
 * CSR is decoded, its key checked and its self-signature verified once, by
 * ca_csr_parse; ca_issue_csr then only signs.  Only the CSR's public key is
 * kept.  Immutable once parsed: may be used from any thread. */
typedef struct ca_csr ca_csr;
/* Check a PEM CSR as ca_check_csr does; on CA_OK *out is the checked CSR
 * (free with ca_csr_free), otherwise *out is NULL. */
enum ca_status ca_csr_parse(const char *csr_pem, size_t len, ca_csr **out);
void ca_csr_free(ca_csr *csr);

/* Sign a certificate for the CSR's public key with the given profile.
 * keyUsage digitalSignature (critical), extendedKeyUsage clientAuth, SKI, AKI,
 * basicConstraints CA:FALSE, CRL distribution point, random 128-bit serial.
 * Outputs (caller frees with free()): *serial_hex (lowercase hex, no leading
 * zeros beyond one byte), *cert_pem, *cert_der and *der_len; *not_before and *not_after. */
enum ca_status ca_issue(esp_ca *ca, const char *csr_pem, size_t csr_len,
                        const struct cert_profile *p, char **serial_hex, char **cert_pem,
                        unsigned char **cert_der, size_t *der_len, time_t *not_before,
                        time_t *not_after);
/* ca_issue for a CSR already checked by ca_csr_parse (same outputs).  The
 * certificate carries the CSR's SubjectPublicKeyInfo unchanged. */
enum ca_status ca_issue_csr(esp_ca *ca, const ca_csr *csr, const struct cert_profile *p,
                            char **serial_hex, char **cert_pem, unsigned char **cert_der,
                            size_t *der_len, time_t *not_before, time_t *not_after);

/* A revoked certificate for the CRL. reason is an RFC 5280 CRLReason code. */
struct crl_entry {
	const char *serial_hex;
	time_t revoked_at;
	int reason;
};
/* Sign a CRL (thisUpdate now, nextUpdate now+next_update_hours) with crl_number.
 * *der is malloc'ed; caller frees. */
enum ca_status ca_make_crl(esp_ca *ca, const struct crl_entry *entries, size_t n,
                           uint64_t crl_number, int next_update_hours, unsigned char **der,
                           size_t *der_len);

/* Result of checking a client certificate. */
enum ca_verdict {
	CA_CERT_GOOD = 0,
	CA_CERT_UNKNOWN_ISSUER, /* does not chain to our issuing CA (incl. self-signed) */
	CA_CERT_EXPIRED,        /* outside its validity at time now */
	CA_CERT_NOT_YET_VALID,
	CA_CERT_BAD, /* cannot be parsed, wrong key usage */
};
/* Verify a DER certificate against our chain at time `now` (0 = current time);
 * on CA_CERT_GOOD sets *serial_hex (caller frees). Revocation is checked by
 * the caller against the store. */
enum ca_verdict ca_verify_client(esp_ca *ca, const unsigned char *der, size_t len, time_t now,
                                 char **serial_hex);

/* Verify signature `sig` (DER ECDSA or RSA PKCS#1 v1.5, SHA-256) over msg with
 * the public key of the DER certificate. Returns true when it verifies. */
bool ca_verify_signature(const unsigned char *cert_der, size_t cert_len, const unsigned char *msg,
                         size_t msg_len, const unsigned char *sig, size_t sig_len);

/* A detached signature (ECDSA or RSA as the CA's key is, SHA-256, DER) with
 * the issuing CA key over msg; *sig malloc'ed, caller frees. */
enum ca_status ca_sign_blob(esp_ca *ca, const void *msg, size_t len, unsigned char **sig,
                            size_t *sig_len);
/* Checks such a signature with the issuing CA's certificate (PEM, as in
 * <data_dir>/ca/ca.crt); needs no private key. */
bool ca_verify_blob(const char *cert_pem, const void *msg, size_t len, const unsigned char *sig,
                    size_t sig_len);

/* Human readable messages (Chinese) for the API and pages. */
const char *ca_status_message(enum ca_status s);
const char *ca_verdict_message(enum ca_verdict v);

#endif

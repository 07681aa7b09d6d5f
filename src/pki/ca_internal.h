/*
 * Private to src/pki: the layout of struct esp_ca and the few helpers that
 * ca.c, csr.c, crl.c, verify.c and sign.c share.  Nothing outside src/pki
 * includes this.
 */
#ifndef ESP_PKI_CA_INTERNAL_H
#define ESP_PKI_CA_INTERNAL_H

#include "esp/ca.h"

#include <pthread.h>
#include <stdbool.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * The loaded issuing CA.  Everything here is written once by ca_open() and
 * only read afterwards, except that the private key is used for signing under
 * sign_lock (see ca_sign_x509()).  All members are owned and freed by
 * ca_free().
 */
struct esp_ca {
	EVP_PKEY *key;     /* issuing CA private key */
	X509 *cert;        /* issuing CA certificate */
	X509 *root;        /* root CA certificate */
	X509_STORE *store; /* trust anchors: root and issuing CA */
	char *cert_pem;    /* issuing CA certificate, PEM */
	char *chain_pem;   /* issuing CA then root, PEM */
	char *issuer_cn;   /* issuing CA subject CN, UTF-8 */
	char *ocsp_url;    /* OCSP responder in issued certificates' AIA, or NULL */
	/* The extensions every leaf certificate carries unchanged (basic
	 * constraints, key usage, extended key usage, authority key id), built
	 * once instead of parsed from their text form for every certificate. */
	X509_EXTENSION *leaf_ext[4];
	pthread_mutex_t sign_lock;
};

/* Sign with the issuing CA key (SHA-256), serialised by ca->sign_lock. */
bool ca_sign_x509(esp_ca *ca, X509 *cert);
bool ca_sign_crl(esp_ca *ca, X509_CRL *crl);

/* Serial number as lowercase hex, every byte two digits ("0a1b..."), "00"
 * for zero, leading '-' when negative.  malloc'ed; NULL on failure. */
char *ca_serial_hex(const ASN1_INTEGER *serial);

/* Copy `len` bytes to a new malloc'ed buffer (so callers free() with free()
 * whatever OpenSSL allocated with OPENSSL_malloc). NULL on failure. */
unsigned char *ca_memdup(const void *p, size_t len);

/* Gives x the checked CSR's SubjectPublicKeyInfo as received (csr.c). */
bool ca_csr_spki_copy(X509 *x, const ca_csr *csr);

/* For the OCSP responder's certificate (ocsp.c), the same building blocks
 * the CA's own certificates use (ca.c). */
X509 *ca_leaf_new(esp_ca *ca, const X509_NAME *subject, EVP_PKEY *pub, time_t nb, time_t na);
bool ca_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value);
/* PKCS#8 PEM of key (wipe with OPENSSL_cleanse, then free) and PEM of x. */
char *ca_key_to_pem(EVP_PKEY *key, size_t *len);
char *ca_x509_to_pem(X509 *x);

#endif

/*
 * Certificate revocation lists signed by the issuing CA: X.509 v2 CRLs with
 * a CRL number, the authority key identifier and, per entry, the reason code
 * (left out for "unspecified", as RFC 5280 section 5.3.1 asks).
 */
#include "ca_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

enum {
	MAX_NEXT_UPDATE_HOURS = 24 * 366,
	MAX_SERIAL_HEX = 40, /* RFC 5280: at most 20 octets */
	CRL_REASON_VALUE_UNUSED = 7,
};

/* A serial written by ca_issue (lowercase or uppercase hex, no sign). */
static ASN1_INTEGER *serial_from_hex(const char *hex)
{
	size_t n = hex ? strlen(hex) : 0;
	if (n == 0 || n > MAX_SERIAL_HEX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return NULL;
	BIGNUM *bn = NULL;
	if (BN_hex2bn(&bn, hex) != (int)n) {
		BN_free(bn);
		return NULL;
	}
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return ai;
}

static bool reason_valid(int reason)
{
	/* removeFromCRL belongs to delta CRLs, which we do not make. */
	return reason >= CRL_REASON_UNSPECIFIED && reason <= CRL_REASON_AA_COMPROMISE &&
	       reason != CRL_REASON_VALUE_UNUSED && reason != CRL_REASON_REMOVE_FROM_CRL;
}

static bool add_entry(X509_CRL *crl, const struct crl_entry *e)
{
	if (!reason_valid(e->reason))
		return false;
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_INTEGER *serial = serial_from_hex(e->serial_hex);
	ASN1_TIME *when = ASN1_TIME_set(NULL, e->revoked_at);
	ASN1_ENUMERATED *reason = NULL;
	bool ok = r && serial && when && X509_REVOKED_set_serialNumber(r, serial) == 1 &&
	          X509_REVOKED_set_revocationDate(r, when) == 1;
	if (ok && e->reason != CRL_REASON_UNSPECIFIED) {
		reason = ASN1_ENUMERATED_new();
		ok = reason && ASN1_ENUMERATED_set(reason, e->reason) == 1 &&
		     X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, X509V3_ADD_DEFAULT) ==
		         1;
	}
	if (ok && X509_CRL_add0_revoked(crl, r) == 1)
		r = NULL; /* now owned by crl */
	else
		ok = false;
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	X509_REVOKED_free(r);
	return ok;
}

enum ca_status ca_make_crl(esp_ca *ca, const struct crl_entry *entries, size_t n,
                           uint64_t crl_number, int next_update_hours, unsigned char **der,
                           size_t *der_len)
{
	if (der)
		*der = NULL;
	if (der_len)
		*der_len = 0;
	if (!ca || !der || !der_len || (n > 0 && !entries) || next_update_hours <= 0 ||
	    next_update_hours > MAX_NEXT_UPDATE_HOURS)
		return CA_ERR_INTERNAL;

	enum ca_status st = CA_ERR_INTERNAL;
	time_t now = time(NULL);
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *this_update = ASN1_TIME_set(NULL, now);
	ASN1_TIME *next_update = ASN1_TIME_set(NULL, now + (time_t)next_update_hours * 3600);
	ASN1_INTEGER *number = ASN1_INTEGER_new();
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->cert);
	unsigned char *out = NULL;
	int out_len = 0;

	if (!crl || !this_update || !next_update || !number || !akid || !ski)
		goto out;
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, this_update) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, next_update) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!add_entry(crl, &entries[i]))
			goto out;
	if (ASN1_INTEGER_set_uint64(number, crl_number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	akid->keyid = ASN1_OCTET_STRING_dup(ski);
	if (!akid->keyid || X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0,
	                                          X509V3_ADD_DEFAULT) != 1)
		goto out;
	if (X509_CRL_sort(crl) != 1 || !ca_sign_crl(ca, crl))
		goto out;
	out_len = i2d_X509_CRL(crl, &out);
	if (out_len <= 0 || !(*der = ca_memdup(out, (size_t)out_len)))
		goto out;
	*der_len = (size_t)out_len;
	st = CA_OK;
out:
	if (st != CA_OK)
		ERR_clear_error();
	OPENSSL_free(out);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(next_update);
	ASN1_TIME_free(this_update);
	X509_CRL_free(crl);
	return st;
}

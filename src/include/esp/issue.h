/*
 * Issuance of certificates onto tokens (core/issue.c): the certificate is
 * built from the application, the CSR only lends its public key.
 */
#ifndef ESP_ISSUE_H
#define ESP_ISSUE_H

#include "esp/ca.h"
#include "esp/db.h"
#include "esp/policy.h"

enum issue_result {
	ISSUE_OK,
	ISSUE_EXISTING, /* the same token was issued for this application before */
	ISSUE_NOT_FOUND,
	ISSUE_FORBIDDEN,
	ISSUE_WRONG_STATE,   /* payment or materials missing, returned, withdrawn ... */
	ISSUE_ALL_ISSUED,    /* every paid set has its certificate */
	ISSUE_TOKEN_IN_USE,  /* the token holds a valid certificate of another application */
	ISSUE_TOKEN_REVOKED, /* this token's certificate for this application was revoked */
	ISSUE_BAD_CSR,       /* see *csr_status */
	ISSUE_BAD_INPUT,
	ISSUE_ERROR,
};
struct issued {
	char *serial, *pem; /* malloc'ed; caller frees with issued_free */
};
void issued_free(struct issued *i);
enum issue_result issue_certificate(db_conn *c, esp_ca *ca, const struct actor *a,
                                    const char *number, const char *csr_pem,
                                    const char *token_serial, const char *crl_url,
                                    int validity_days, int crl_hours, enum ca_status *csr_status,
                                    struct issued *out);
const char *issue_result_code(enum issue_result r);
const char *issue_result_message(enum issue_result r);

/* What a certificate for the application app says (its registration: the
 * unit or the person), never taken from a CSR; the strings point into app. */
struct application;
void issue_profile(const struct application *app, const char *crl_url, int validity_days,
                   struct cert_profile *p);

#endif

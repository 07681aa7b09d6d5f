/*
 * Logging in with a certificate key: the TLS client certificate of the
 * login listener, and the signed challenge of `esp-token login` (the way
 * SM2 keys log in). Both end in the same checks: chain to ESP's issuing CA,
 * then the store (known serial, valid, within validity, account active).
 */
#ifndef ESP_LOGIN_H
#define ESP_LOGIN_H

#include "esp/ca.h"
#include "esp/core.h"

enum cert_login {
	CL_OK,
	CL_NO_CERT,        /* the browser sent none */
	CL_UNKNOWN_ISSUER, /* not issued by ESP (another CA, self-signed) */
	CL_EXPIRED,
	CL_NOT_YET_VALID,
	CL_BAD,          /* unparsable or not for client authentication */
	CL_UNKNOWN_CERT, /* ours in form, but not in the store */
	CL_REVOKED,      /* 挂失 or revoked by the RA */
	CL_DISABLED,     /* the account is disabled */
	CL_ERROR,
};

/* Checks a DER certificate and finds its account. *serial (malloc'ed) is set
 * when the chain verified. */
enum cert_login cert_login_check(db_conn *c, esp_ca *ca, const unsigned char *der, size_t len,
                                 int64_t *account_id, char **serial);
const char *cert_login_title(enum cert_login r);
const char *cert_login_message(enum cert_login r);

/* Seconds a challenge can be used after it was given out. */
#define CHALLENGE_MAX_AGE 300
/* A new single-use challenge: *id and *challenge (base64 of 32 random bytes)
 * malloc'ed. DB_CONFLICT when max_open unexpired challenges exist already
 * (max_open <= 0: no cap). */
enum db_status challenge_new(db_conn *c, int max_open, char **id, char **challenge);
/* Deletes the challenges used or expired by now; *deleted (may be NULL). */
enum db_status challenge_purge(db_conn *c, int64_t now, int *deleted);
/* Takes a challenge: it must exist, match, be unused and younger than
 * max_age seconds; it is used up whatever follows. DB_NOT_FOUND otherwise.
 * *raw and *raw_len get the decoded challenge bytes (malloc'ed). */
enum db_status challenge_take(db_conn *c, const char *id, const char *challenge, int max_age,
                              unsigned char **raw, size_t *raw_len);

/* Issues a certificate for a staff account from a CSR (espctl staff-cert). */
enum db_status staff_cert_issue(db_conn *c, esp_ca *ca, const char *username, const char *csr_pem,
                                int validity_days, const char *crl_url, char **serial, char **pem);

#endif

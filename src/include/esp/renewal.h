/*
 * 更新 (renewal) on the same key: a holder applies for the renewal of a
 * certificate in its window; once paid, the holder's tool sends a CSR of a
 * new key on the same token with a signature by the old key over it; the
 * new certificate stays 'pending' until the tool confirms it is on the
 * token, and only then is the old one revoked as superseded.
 */
#ifndef ESP_RENEWAL_H
#define ESP_RENEWAL_H

#include <stdbool.h>
#include <stdint.h>

#include "esp/appstate.h"
#include "esp/ca.h"
#include "esp/db.h"
#include "esp/issue.h"
#include "esp/policy.h"
#include "esp/util.h"

/* When a certificate may be renewed: from before_days before its notAfter
 * to grace_days after it (config renewal_window_days, renewal_grace_days). */
struct renewal_window {
	int before_days, grace_days;
};

enum renewal_result {
	RENEW_OK,             /* done now */
	RENEW_EXISTING,       /* done before: the same answer again (idempotent) */
	RENEW_BAD_INPUT,      /* a field missing or malformed */
	RENEW_BAD_CERT,       /* not a certificate of our CA, or not the one stored */
	RENEW_BAD_SIGNATURE,  /* the old key did not sign the CSR (or the new key the confirmation)
	                       */
	RENEW_BAD_CSR,        /* the CSR is not acceptable (see csr_status) */
	RENEW_FORBIDDEN,      /* another holder's certificate */
	RENEW_NOT_VALID,      /* revoked, or already superseded */
	RENEW_TOO_EARLY,      /* before the window */
	RENEW_TOO_LATE,       /* after the grace period */
	RENEW_NO_APPLICATION, /* no renewal application for this certificate */
	RENEW_NOT_PAID,       /* the application is not ready (payment not recorded, returned) */
	RENEW_WRONG_TOKEN,    /* the CSR comes with another token's serial */
	RENEW_OTHER_KEY,      /* the renewal was issued for another new key */
	RENEW_ERROR,
};
const char *renewal_result_code(enum renewal_result r);
const char *renewal_result_message(enum renewal_result r);
int renewal_result_status(enum renewal_result r); /* the HTTP status */

/* Where certificate `not_after` stands at `now`: RENEW_OK inside the
 * window, else RENEW_TOO_EARLY or RENEW_TOO_LATE. */
enum renewal_result renewal_in_window(int64_t not_after, int64_t now,
                                      const struct renewal_window *w);

/* The holder `a` applies for the renewal of its certificate `serial`: a
 * renewal application (type 'renewal', one set, the renewal fee of the fee
 * schedule, nothing for evaluators) with the contact details of the
 * application the certificate came from.  An open renewal of the same
 * certificate is returned instead (RENEW_EXISTING). *number is malloc'd. */
enum renewal_result renewal_apply(db_conn *c, const struct actor *a, const char *serial,
                                  const struct renewal_window *w, char **number);

/* What the holder's tool sends: the old certificate (PEM), the new key's
 * CSR (PEM, exactly the bytes the old key signed), that signature (base64,
 * SHA-256, ECDSA DER or RSA PKCS#1 v1.5) and the token's serial. */
struct renewal_request {
	const char *old_cert_pem, *csr_pem, *signature_b64, *token_serial;
};
/* Issue the new certificate, 'pending' until confirmed.  Idempotent by the
 * renewal application and the new key: the same key gets the same
 * certificate (RENEW_EXISTING), another key RENEW_OTHER_KEY. */
enum renewal_result renewal_issue(db_conn *c, esp_ca *ca, const struct renewal_request *rq,
                                  const struct renewal_window *w, const char *crl_url,
                                  int validity_days, enum ca_status *csr_status, struct issued *out,
                                  char **number);

/* The tool wrote the new certificate (PEM) and proves its key by signing
 * the certificate's DER: the new one becomes valid, the old one is revoked
 * as superseded and the CRL re-signed, in one transaction.  Confirming
 * again answers RENEW_EXISTING. *old_serial (malloc'd) is the one revoked. */
enum renewal_result renewal_confirm(db_conn *c, esp_ca *ca, const char *cert_pem,
                                    const char *signature_b64, int crl_hours, char **number,
                                    char **old_serial);

/* A certificate of the registration as the renewal page shows it. */
struct renewal_row {
	const char *serial, *token_serial;
	int64_t not_after;
	bool revoked;
	enum renewal_result window; /* RENEW_OK, RENEW_TOO_EARLY or RENEW_TOO_LATE now */
	const char *number;         /* its renewal application still in the running, or NULL */
	enum app_state state;       /* that application's */
};
/* The registration's certificates (not the pending ones), oldest first;
 * strings and *out in arena. */
enum db_status renewal_list(db_conn *c, struct arena *a, int64_t registration_id,
                            const struct renewal_window *w, struct renewal_row **out, size_t *n);

#endif

/*
 * 丢失补办 and 损坏补办 (core/replace.c): a new key for one that is lost
 * (its certificate revoked by 挂失, keyCompromise) or broken (revoked by the
 * RA as cessationOfOperation when the token was handed in, or still valid:
 * then revoked so when the replacement is issued).  The application names
 * the certificate it replaces and goes the way of a new key: payment,
 * materials, issuance onto a new token, shipping, receipt.
 */
#ifndef ESP_REPLACE_H
#define ESP_REPLACE_H

#include <stdbool.h>
#include <stdint.h>

#include "esp/application.h"
#include "esp/appstate.h"
#include "esp/ca.h"
#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

/* RFC 5280 reasons a replacement starts from. */
#define CRL_REASON_KEY_COMPROMISE 1
#define CRL_REASON_CESSATION 5

enum replace_result {
	REPLACE_OK,           /* applied now */
	REPLACE_EXISTING,     /* a replacement of the certificate is in the running: that one */
	REPLACE_BAD_INPUT,    /* no serial, or not a replacement kind */
	REPLACE_NOT_FOUND,    /* no such certificate */
	REPLACE_FORBIDDEN,    /* another registration's certificate */
	REPLACE_NOT_LOST,     /* 丢失补办 of a certificate not reported lost */
	REPLACE_USE_DAMAGED,  /* 丢失补办 of a certificate revoked for a broken token */
	REPLACE_USE_LOST,     /* 损坏补办 of a certificate reported lost */
	REPLACE_WRONG_REASON, /* revoked otherwise (superseded, ...) or not yet issued */
	REPLACE_EXPIRED,      /* the certificate has expired: apply again instead */
	REPLACE_ERROR,
};
const char *replace_result_code(enum replace_result r);
const char *replace_result_message(enum replace_result r);
int replace_result_status(enum replace_result r); /* the HTTP status */

/* Whether a certificate in `status` ("valid", "revoked", "pending"),
 * revoked for `reason` (when revoked), running until not_after, may be
 * replaced by a `type` application at `now`: REPLACE_OK or why not. */
enum replace_result replace_check(enum app_type type, const char *status, int reason,
                                  int64_t not_after, int64_t now);

/* The holder `a` applies for a `type` (APP_TYPE_REPLACE_LOST or _DAMAGED)
 * replacement of its certificate `serial`: one set, the fee of a set of the
 * fee schedule in force (nothing for evaluators), the contact details and
 * the scan of the application the certificate came from.  Any replacement
 * of the certificate not withdrawn is returned instead (REPLACE_EXISTING).
 * *number is malloc'd. */
enum replace_result replace_apply(db_conn *c, const struct actor *a, const char *serial,
                                  enum app_type type, char **number);

/* Inside the issuance of a certificate for `app` (core/issue.c): the
 * damaged certificate a 损坏补办 replaces is revoked as
 * cessationOfOperation now, if it was still valid. */
enum db_status replace_issued(db_conn *c, esp_ca *ca, const struct actor *a,
                              const struct application *app, int crl_hours);

/* A certificate of the registration as the replacement table shows it. */
struct replace_row {
	const char *serial, *token_serial, *status;
	int reason; /* when revoked */
	int64_t not_after;
	enum replace_result lost, damaged; /* what each kind would answer now */
	const char *number;                /* its replacement application, or NULL */
	enum app_type type;
	enum app_state state;
};
/* The registration's certificates (not the pending ones), oldest first;
 * strings and *out in arena. */
enum db_status replace_list(db_conn *c, struct arena *a, int64_t registration_id,
                            struct replace_row **out, size_t *n);

#endif

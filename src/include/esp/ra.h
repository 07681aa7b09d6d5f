/*
 * The RA back office: the work queue and its figures, the recorded steps of
 * an application (payment, materials, return, shipping, receipt), issuance of
 * certificates from CSRs made on tokens, revocation and the CRL, and the API
 * tokens of RA workstations.
 *
 * Every change runs in one transaction with its application event and audit
 * entry; a step that the state does not allow answers DB_CONFLICT.
 */
#ifndef ESP_RA_H
#define ESP_RA_H

#include <jansson.h>

#include "esp/application.h"
#include "esp/ca.h"

struct ra_filter {
	const char *province;     /* NULL = all (admin) */
	bool evaluators_only;     /* training institutions */
	const char *state;        /* NULL/"" = any */
	const char *kind;         /* NULL/"" = any */
	int64_t from, to;         /* submitted between (0 = open) */
	bool overdue;
	const char *q;            /* number, name or code contains */
	int limit, offset;
};

/* What the back office shows an operator: its province (the admin: all),
 * and only evaluators to a training institution. */
void ra_filter_scope(const struct actor *a, struct ra_filter *f);
/* The queue, overdue first then oldest first; each row with "days" (since the
 * later of payment and materials) and "overdue". */
json_t *ra_queue(db_conn *c, const struct ra_filter *f, int delivery_days, int64_t *total);
/* Counts per state and overdue: {"states":[{state,label,count}], "overdue": n}. */
json_t *ra_stats(db_conn *c, const struct ra_filter *f, int delivery_days);
/* Applications received and keys shipped per day for the last `days` days. */
json_t *ra_daily(db_conn *c, const struct ra_filter *f, int days);
/* The history of an application (events, oldest first). */
json_t *application_history(db_conn *c, int64_t app_id, struct arena *a);

enum db_status ra_record_payment(db_conn *c, const struct actor *a, const char *number,
                                 long amount, int64_t paid_on, const char *payer,
                                 const char *bank_ref, const char *note);
enum db_status ra_record_materials(db_conn *c, const struct actor *a, const char *number,
                                   const char *checklist);
enum db_status ra_return(db_conn *c, const struct actor *a, const char *number,
                         const char *reason);
/* Units: shipped with courier and tracking number; evaluators: ready_for_pickup. */
enum db_status ra_ship(db_conn *c, const struct actor *a, const char *number,
                       const char *courier, const char *tracking);
enum db_status ra_mark_received(db_conn *c, const struct actor *a, const char *number);
/* The applicant has corrected a returned application: back to work. */
enum db_status application_resubmit(db_conn *c, const struct actor *a, const char *number);

/* ---- issuance ---- */
enum issue_result {
	ISSUE_OK,
	ISSUE_EXISTING,      /* the same token was issued for this application before */
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
	char *serial, *pem;  /* malloc'ed; caller frees with issued_free */
};
void issued_free(struct issued *i);
enum issue_result issue_certificate(db_conn *c, esp_ca *ca, const struct actor *a,
                                    const char *number, const char *csr_pem,
                                    const char *token_serial, const char *crl_url,
                                    int validity_days, enum ca_status *csr_status,
                                    struct issued *out);
const char *issue_result_code(enum issue_result r);
const char *issue_result_message(enum issue_result r);

/* ---- revocation and the CRL ---- */
/* RFC 5280 reason names ("keyCompromise" ...) ↔ codes; -1 when unknown
 * (or certificateHold / removeFromCRL, which ESP never uses). */
int crl_reason_parse(const char *name);
const char *crl_reason_label(int code);
/* Revokes a valid certificate and re-signs the CRL, in one transaction.
 * DB_NOT_FOUND: no such serial; DB_CONFLICT: already revoked. */
enum db_status cert_revoke(db_conn *c, esp_ca *ca, const struct actor *a, const char *serial,
                           int reason, int crl_hours);
/* Signs a new CRL of every revoked certificate (number + 1). */
enum db_status crl_publish(db_conn *c, esp_ca *ca, int crl_hours);
/* The current CRL (DER, malloc'ed), and when it was signed. */
enum db_status crl_load(db_conn *c, unsigned char **der, size_t *len, int64_t *signed_at);
/* Loads a certificate's row (new reference) by serial, or NULL: holders'
 * certificates with their registration, staff certificates (account_id,
 * staff_username set; no registration) too. */
json_t *cert_get(db_conn *c, const char *serial);
/* The policy object of a row of cert_get (strings point into cert): empty
 * for a staff certificate, so only the admin may act on it. */
void cert_policy_object(const json_t *cert, struct policy_object *o);
/* The latest `limit` certificates of every kind, holders' and staff's, for
 * the admin (new reference): serial, holder, username (staff), kind_label,
 * status_label, valid, reason, issued, expires, token_serial, number. */
json_t *cert_list_all(db_conn *c, struct arena *a, int limit);
/* The certificates of an application or of a registration (new reference). */
json_t *cert_list(db_conn *c, const char *column, int64_t id, struct arena *a,
                  int warning_days);

/* ---- API tokens ---- */
/* Creates a token for an account; *token (malloc'ed) is shown once. */
enum db_status api_token_create(db_conn *c, const struct actor *a, const char *name,
                                char **token);
/* Loads the actor of a bearer token (strings in arena): DB_NOT_FOUND when
 * unknown, revoked or the account disabled. */
enum db_status api_token_actor(db_conn *c, struct arena *ar, const char *token,
                               struct actor *out);
enum db_status api_token_revoke(db_conn *c, const struct actor *a, int64_t id);
json_t *api_token_list(db_conn *c, int64_t account_id, struct arena *ar);

#endif

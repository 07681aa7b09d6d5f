/*
 * The certificates issued, as the pages and the API list them
 * (core/certificate.c): typed records, strings in the caller's arena.
 */
#ifndef ESP_CERTIFICATE_H
#define ESP_CERTIFICATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

/* One certificate. Text the store does not have is NULL (cert_get) or ""
 * (the lists), as noted; times are Unix seconds. */
struct certificate {
	const char *serial;
	const char *token_serial;
	const char *number; /* its application's number; NULL/"" for a staff certificate */
	const char *holder; /* the registration's name, or the staff member's */
	bool revoked;       /* status "revoked"; else "valid" */
	bool pending;       /* a renewal's new certificate until its tool confirms it */
	int revoke_reason;  /* RFC 5280 code, when revoked */
	int64_t issued_at;  /* created_at */
	int64_t not_after;
	int64_t registration_id;    /* 0 for a staff certificate */
	int64_t account_id;         /* the staff account; 0 for a holder's certificate */
	const char *staff_username; /* NULL/"" for a holder's certificate */
	/* cert_get only: its registration, for the policy (NULL for staff). */
	const char *kind;
	const char *reg_state;
	const char *province_code;
	const char *authority_path;
};

/* Loads a certificate by serial (strings in arena): holders' certificates
 * with their registration, staff certificates (account_id, staff_username
 * set; no registration) too. DB_NOT_FOUND when there is none. */
enum db_status cert_get(db_conn *c, struct arena *a, const char *serial, struct certificate *out);
/* The policy object of a certificate (strings point into cert; cert may be
 * NULL): empty for a staff certificate, so only the admin may act on it. */
void cert_policy_object(const struct certificate *cert, struct policy_object *o);
/* The latest `limit` certificates of every kind, holders' and staff's, for
 * the admin, newest first; "" for what a row has not. *out in arena. */
enum db_status cert_list_all(db_conn *c, struct arena *a, int limit, struct certificate **out,
                             size_t *n);
/* The certificates of an application, oldest first (*out in arena). */
enum db_status cert_list_of_application(db_conn *c, struct arena *a, int64_t application_id,
                                        struct certificate **out, size_t *n);
/* The certificates of a registration, oldest first (*out in arena). */
enum db_status cert_list_of_registration(db_conn *c, struct arena *a, int64_t registration_id,
                                         struct certificate **out, size_t *n);

/* How many certificates a registration was ever issued, and how many of
 * them are good now (valid, not expired): none good after some were issued
 * means the unit has lost its last key and applies again without one. */
enum db_status cert_counts(db_conn *c, int64_t registration_id, int *issued, int *good);

#endif

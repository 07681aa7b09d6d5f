/*
 * The certificates issued, as the pages and the API list them
 * (core/certificate.c).
 */
#ifndef ESP_CERTIFICATE_H
#define ESP_CERTIFICATE_H

#include <jansson.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

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
json_t *cert_list(db_conn *c, const char *column, int64_t id, struct arena *a, int warning_days);

/* How many certificates a registration was ever issued, and how many of
 * them are good now (valid, not expired): none good after some were issued
 * means the unit has lost its last key and applies again without one. */
enum db_status cert_counts(db_conn *c, int64_t registration_id, int *issued, int *good);

#endif

/*
 * Revocation of certificates (挂失) and the CRL (core/revoke.c).
 */
#ifndef ESP_REVOKE_H
#define ESP_REVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "esp/ca.h"
#include "esp/db.h"
#include "esp/policy.h"

/* RFC 5280 reason names ("keyCompromise" ...) ↔ codes; -1 when unknown
 * (or certificateHold / removeFromCRL, which ESP never uses). */
int crl_reason_parse(const char *name);
const char *crl_reason_label(int code);
/* Revokes a valid certificate and re-signs the CRL, in one transaction.
 * DB_NOT_FOUND: no such serial; DB_CONFLICT: already revoked. */
enum db_status cert_revoke(db_conn *c, esp_ca *ca, const struct actor *a, const char *serial,
                           int reason, int crl_hours);
/* The same inside the caller's transaction (a revocation that belongs
 * to another change, as a 损坏补办's issuance). */
enum db_status cert_revoke_within(db_conn *c, esp_ca *ca, const struct actor *a, const char *serial,
                                  int reason, int crl_hours);
/* Signs a new CRL of every revoked certificate (number + 1). */
enum db_status crl_publish(db_conn *c, esp_ca *ca, int crl_hours);
/* The same, saying which number the new CRL carries. */
enum db_status crl_publish_numbered(db_conn *c, esp_ca *ca, int crl_hours, int64_t *published);
/* Re-signs the CRL in a transaction of its own when it is due (signed more
 * than crl_hours ago, or none yet) or when force is set; *number is the
 * new CRL's number, or 0 when none was due. */
enum db_status crl_refresh(db_conn *c, esp_ca *ca, int crl_hours, bool force, int64_t *number);
/* The current CRL (DER, malloc'ed), and when it was signed. */
enum db_status crl_load(db_conn *c, unsigned char **der, size_t *len, int64_t *signed_at);

#endif

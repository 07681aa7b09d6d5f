/*
 * Anchors of the audit log: the chain's head (entry seq and MAC) signed by
 * ESP's issuing CA, appended as one text line to a file outside the store
 * (<data_dir>/audit-anchors) and written to espd's log.  A chain cut short
 * after an anchor still links up, but no longer reaches the anchored entry:
 * that is how truncation shows.  A line reads
 *
 *   2026-11-30T18:42:07Z seq=42 mac=<64 hex> sig=<base64 DER ECDSA>
 *
 * and the signature covers "esp-audit-anchor/1 " followed by the line up to
 * " sig=".
 */
#ifndef ESP_AUDIT_ANCHOR_H
#define ESP_AUDIT_ANCHOR_H

#include <stdint.h>

#include "esp/audit.h"
#include "esp/ca.h"
#include "esp/db.h"

struct audit_anchor {
	int64_t at;   /* when it was made */
	int64_t seq;  /* the entry it vouches for; 0 for an empty log */
	char mac[65]; /* that entry's MAC, hex (zeros for an empty log) */
};

/* Checks the whole log as audit_check_anchored does and, only when it is
 * intact, signs its head with the CA, appends the anchor to path and logs
 * it.  Returns AUDIT_INTACT when the anchor was written (*out filled),
 * otherwise the fault (chk says where) or AUDIT_ERROR; nothing is written
 * then. */
enum audit_fault audit_anchor_write(db_conn *c, esp_ca *ca, const char *path,
                                    struct audit_check *chk, struct audit_anchor *out);
/* The time of the newest anchor in path; 0 when there is none or the file
 * cannot be read. */
int64_t audit_anchor_last_at(const char *path);
/* Checks the chain (audit_check_chain), then every anchor in path: its
 * signature with the issuing CA's certificate (PEM) and that its entry is
 * still there with the same MAC.  A missing file is no anchors (anchors 0). */
enum audit_fault audit_check_anchored(db_conn *c, const char *path, const char *ca_cert_pem,
                                      struct audit_check *chk);

#endif

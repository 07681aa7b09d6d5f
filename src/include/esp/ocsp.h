/*
 * OCSP (RFC 6960): the delegated responder that signs ESP's answers
 * (pki/ocsp.c) and the per-certificate cache that answers from the store
 * (core/ocsp_answer.c).
 *
 * The responder has its own key and certificate (extendedKeyUsage
 * id-kp-OCSPSigning, id-pkix-ocsp-nocheck), issued by the issuing CA and
 * kept beside it in <data_dir>/ca/ocsp.pem (key then certificate, mode
 * 0600), so the issuing CA's key signs nothing per OCSP request.
 */
#ifndef ESP_OCSP_H
#define ESP_OCSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "esp/ca.h"
#include "esp/db.h"

typedef struct esp_ocsp esp_ocsp;

/* Loads dir/ocsp.pem, or, when it is missing, was not issued by ca, or ends
 * within 30 days, issues a new responder certificate (`days` long, never
 * beyond the CA) and writes it there atomically.  Two processes starting at
 * once may each make one: both are valid, the last written stays on disk.
 * *out freed with ocsp_responder_free. */
enum ca_status ocsp_responder_open(esp_ca *ca, const char *dir, int days, esp_ocsp **out);
void ocsp_responder_free(esp_ocsp *o);

/* OCSPResponseStatus values (RFC 6960 4.2.1) we answer with. */
enum ocsp_resp_status {
	OCSP_ANSWER_OK = 0,
	OCSP_ANSWER_MALFORMED = 1,
	OCSP_ANSWER_INTERNAL = 2,
	OCSP_ANSWER_TRY_LATER = 3,
};

/* A parsed OCSPRequest: at most OCSP_MAX_SINGLE certificates. */
enum { OCSP_MAX_SINGLE = 8 };
typedef struct ocsp_query ocsp_query;
/* NULL when der is not an OCSPRequest or asks about no certificate or more
 * than OCSP_MAX_SINGLE. */
ocsp_query *ocsp_query_parse(const unsigned char *der, size_t len);
void ocsp_query_free(ocsp_query *q);
size_t ocsp_query_count(const ocsp_query *q);
bool ocsp_query_has_nonce(const ocsp_query *q);
/* The serial of the i-th certificate asked about, lowercase hex as the
 * store keeps it (owned by q), or NULL when the request names an issuer
 * other than ESP's issuing CA (answered "unknown"). */
const char *ocsp_query_serial(const esp_ocsp *o, const ocsp_query *q, size_t i);

/* What the store says of one certificate. */
enum ocsp_cert_status { OCSP_CERT_GOOD, OCSP_CERT_REVOKED, OCSP_CERT_UNKNOWN };
struct ocsp_status {
	enum ocsp_cert_status status;
	time_t revoked_at;
	int reason; /* RFC 5280 CRLReason */
};

/* A signed successful OCSPResponse for q, one status per certificate in
 * order, thisUpdate now and nextUpdate now + next_update_seconds, the
 * request's nonce echoed.  *der malloc'ed; false on an OpenSSL failure. */
bool ocsp_sign_answer(esp_ocsp *o, const ocsp_query *q, const struct ocsp_status *st,
                      int next_update_seconds, unsigned char **der, size_t *len);
/* An unsigned OCSPResponse with an error status; *der malloc'ed. */
bool ocsp_error_answer(enum ocsp_resp_status status, unsigned char **der, size_t *len);

/* ---- the responder over the store (core/ocsp_answer.c) ---- */

/* Per-certificate answers, each kept until the certificate's status changes
 * (seen through the store's 'certificates' generation, 014_ocsp.sql) or
 * half its validity has passed.  Thread safe. */
typedef struct ocsp_cache ocsp_cache;
/* slots: how many certificates' answers are kept (a power of two is used,
 * at least this many); next_update_seconds: each answer's validity. */
ocsp_cache *ocsp_cache_new(esp_ocsp *o, size_t slots, int next_update_seconds);
void ocsp_cache_free(ocsp_cache *c);

/* The OCSPResponse for the DER request (malloc'ed into *der): *http is the
 * HTTP status to send it with (200; 400 for a malformed request; 503 when
 * the store does not answer).  *cache_hit tells whether it was served from
 * the cache without signing. */
void ocsp_answer(ocsp_cache *c, db_conn *db, const unsigned char *req, size_t req_len,
                 unsigned char **der, size_t *len, int *http, bool *cache_hit);

/* The responder's address: ocsp_url when set, else <public_url>/ocsp
 * (malloc'ed). */
char *ocsp_responder_url(const char *ocsp_url, const char *public_url);

/* Since the start: answers served from the cache, and answers signed. */
void ocsp_cache_stats(const ocsp_cache *c, uint64_t *hits, uint64_t *misses);

#endif

/*
 * Issuance of certificates onto tokens (core/issue.c): the certificate is
 * built from the application, the CSR only lends its public key.
 */
#ifndef ESP_ISSUE_H
#define ESP_ISSUE_H

#include "esp/ca.h"
#include "esp/db.h"
#include "esp/policy.h"

#include <stdbool.h>
#include <stdint.h>

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
/*
 * Group commit through a committer thread (core/issue_commit.c).  A request
 * thread does the CPU-only part (issue_job_new: the input and the CSR
 * checked), hands the job to the committer and lets go of the request (an
 * HTTP server suspends the connection); the committer takes every job
 * queued, runs them in ONE transaction (a SAVEPOINT each) and COMMITs once,
 * then tells each job's owner (done), who reads the outcome
 * (issue_job_outcome) and answers.  Nothing is answered before the COMMIT
 * that holds its certificate has returned.
 */
struct issue_job;
struct issue_committer;

/* NULL after a refusal known without the store (*res, *csr_status say it). */
struct issue_job *issue_job_new(esp_ca *ca, const struct actor *a, const char *number,
                                const char *csr_pem, const char *token_serial, const char *crl_url,
                                int validity_days, int crl_hours, enum issue_result *res,
                                enum ca_status *csr_status);
/* After done: the result as issue_certificate gives it, or *busy (not
 * stored: the queue waited too long, no store connection, espd stopping). */
enum issue_result issue_job_outcome(struct issue_job *j, enum ca_status *csr_status,
                                    struct issued *out, bool *busy);

struct issue_committer_limits {
	unsigned max_queue; /* jobs waiting, at most (issue_committer_submit refuses more) */
	unsigned max_batch; /* jobs in one transaction, at most */
	int max_wait_ms;    /* a job queued longer is answered busy, not stored */
	int store_wait_ms;  /* longest wait for a pooled store connection */
};
struct issue_committer *issue_committer_start(db_pool *pool,
                                              const struct issue_committer_limits *l);
/* Stops taking jobs (issue_committer_submit refuses from then on), answers
 * those still queued busy (done is called for each), waits for the batch
 * being stored and joins the thread.  q stays valid until freed.  Returns
 * how many jobs were told once stopping (their owners may still be
 * answering). */
unsigned issue_committer_stop(struct issue_committer *q);
/* Stops q if still running, and frees it: after its last submit. */
void issue_committer_free(struct issue_committer *q);
/* Queues j.  Under the committer's lock, first calls suspend(arg) (so that
 * done(arg) can never come before it); done(arg) is later called from the
 * committer's thread, under its lock, once j's outcome is final, unless the
 * owner let go first (issue_job_release).  False, with nothing called and j
 * still the caller's: the queue is full or the committer stopping. */
bool issue_committer_submit(struct issue_committer *q, struct issue_job *j,
                            void (*suspend)(void *arg), void (*done)(void *arg), void *arg);
/* The owner lets go of j, in any state: a job not submitted or done is
 * freed; one still queued leaves the queue unstored; one being stored is
 * freed by the committer after its COMMIT, with nobody told. */
void issue_job_release(struct issue_job *j);
/* While held, jobs queue but no batch starts (tests; false lets go). */
void issue_committer_hold(struct issue_committer *q, bool hold);

/* Batch sizes so far: 1, 2, 3-4, 5-8, 9-16, 17-32, 33-64, more. */
#define ISSUE_BATCH_BUCKETS 8
struct issue_commit_stats {
	uint64_t batches, jobs, busy, refused;
	uint64_t max_batch;
	uint64_t sizes[ISSUE_BATCH_BUCKETS];
};
void issue_committer_stats(struct issue_committer *q, struct issue_commit_stats *s);

const char *issue_result_code(enum issue_result r);
const char *issue_result_message(enum issue_result r);

/* What a certificate for the application app says (its registration: the
 * unit or the person), never taken from a CSR; the strings point into app. */
struct application;
void issue_profile(const struct application *app, const char *crl_url, int validity_days,
                   struct cert_profile *p);

#endif

/*
 * What core/issue.c (the issuance itself) and core/issue_commit.c (the
 * committer that stores many issuances in one transaction) share: the
 * state of one issuance and the batch runner.  Private to src/core.
 */
#ifndef ESP_ISSUE_JOB_H
#define ESP_ISSUE_JOB_H

#include "esp/issue.h"

#include <stdbool.h>
#include <stdint.h>

/* A certificate signed for the request, and the profile it was built from. */
struct signed_cert {
	struct arena *ar; /* owns the application read, and so the profile's strings */
	struct cert_profile p;
	char *serial, *pem;
	unsigned char *der;
	size_t der_len;
	time_t nb, na;
};

struct issue_ctx {
	esp_ca *ca;
	const struct actor *a;
	const char *number, *token, *crl_url;
	const ca_csr *csr;
	int validity_days, crl_hours;
	struct signed_cert cert; /* stays with the caller: handed out only after COMMIT */
	enum issue_result result;
	enum ca_status csr_status;
	struct issued out; /* ISSUE_EXISTING: the stored certificate */
};

struct batch_item {
	struct issue_ctx *x;
	enum db_status st; /* issue_tx's answer for this request */
	bool done;
	struct batch_item *next;
};

/* Runs the issuances of list in one transaction, a SAVEPOINT each (a
 * refusal undoes only its own statements), and COMMITs once; a batch that
 * fails as a whole runs each issuance again alone.  Each item's st and its
 * issuance's result are final on return. */
void issue_batch_run(db_conn *c, struct batch_item *list);

/* Where a job stands; the committer's lock guards it (issue_commit.c). */
enum issue_job_state { JOB_NEW, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/*
 * One issuance handed from a request's thread to the committer.  It owns
 * copies of everything it reads (the actor, the application number, the
 * token, the parsed CSR): the request that made it may end first (a client
 * gone, a server stopping), and the job must not read its memory then.
 */
struct issue_job {
	struct arena *ar; /* the copies */
	struct actor actor;
	ca_csr *csr;
	struct issue_ctx x;
	struct batch_item item;
	bool busy; /* not stored: the queue waited too long, no store, or stopping (503) */
	/* the committer's */
	struct issue_committer *q;
	enum issue_job_state state;
	bool orphan; /* the request has let go: nobody to tell, free when done */
	int64_t queued_us;
	void (*done)(void *arg);
	void *done_arg;
	struct issue_job *next;
};

/* Frees a job nobody holds any more (its certificate, if not handed out). */
void issue_job_destroy(struct issue_job *j);

#endif

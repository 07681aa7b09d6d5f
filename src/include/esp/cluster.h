/*
 * What several espd sharing one store agree on through it
 * (core/cluster.c, 013_cluster.sql): each process's instance number, the
 * lease that lets one process at a time run the maintenance jobs, and the
 * deployment's identity (CA, public address) every process must share.
 */
#ifndef ESP_CLUSTER_H
#define ESP_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "esp/ca.h"
#include "esp/db.h"

/* A new instance number for this process (1, 2, ...), or 0 on a store error. */
int64_t instance_register(db_conn *c, const char *host, long pid);

/* Takes or renews the lease `name` for `holder` until now + seconds. True
 * when holder has it (free, expired, or already its own); false when
 * another holder's lease runs, or on a store error. */
bool lease_take(db_conn *c, const char *name, int64_t holder, int64_t now, int seconds);
/* The host and process id of the lease's holder (host malloc'ed); false
 * when nobody holds it. */
bool lease_holder(db_conn *c, const char *name, char **host, long *pid);
/* Gives the lease up (on a clean stop) so another process takes it at once. */
void lease_release(db_conn *c, const char *name, int64_t holder);
/* Gives up the lease `name` held by process pid of host, which is gone. */
void lease_release_process(db_conn *c, const char *name, const char *host, long pid);

/* SHA-256 of the issuing CA certificate, hex (65 bytes with the NUL). */
void ca_fingerprint(const esp_ca *ca, char out[65]);

/* Whether the store records the deployment at all (013_cluster.sql): init
 * run with an older migrations_dir leaves it to espd's first start. */
bool deployment_recorded(db_conn *c);
/* Whether the store already has a CA: one recorded, or a CRL or
 * certificates signed by one before it was recorded. */
bool store_has_ca(db_conn *c);

/* The value the store records for a deployment key (malloc'ed), or NULL. */
char *deployment_get(db_conn *c, const char *name);

enum deployment_verdict {
	DEPLOYMENT_SAME,     /* the store records what was given */
	DEPLOYMENT_RECORDED, /* the store recorded nothing; now it records it */
	DEPLOYMENT_DIFFERS,  /* the store records something else: refuse */
	DEPLOYMENT_ERROR,    /* the store could not be read or written */
};
/* Compares `value` with what the store records under `name`, recording it
 * when nothing is; *recorded (malloc'ed, may be NULL) is what it holds. */
enum deployment_verdict deployment_check(db_conn *c, const char *name, const char *value,
                                         char **recorded);

struct actor;
/* Records `value` under `name` (a new public_url, once every espd is
 * stopped), with an audit entry "deployment.set", in one transaction.
 * *before (malloc'ed, may be NULL) is what the store held; *same is true
 * when it held `value` already (nothing is written then). */
enum db_status deployment_set(db_conn *c, const struct actor *a, const char *name,
                              const char *value, char **before, bool *same);

#endif

/*
 * espd's counters for /metrics (Prometheus text format) and the health
 * routes /healthz and /readyz (metrics.c).  Counting is lock-free (relaxed
 * atomics): the request path pays two additions and no lock.
 */
#ifndef ESPD_METRICS_H
#define ESPD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

struct request;
struct server;

/* Reads metrics_allow; 0, or 1 after saying on stderr what is wrong. */
int metrics_init(struct server *srv);
/* One request answered (send_response) at now_us (time_now_us's clock):
 * its route, status and time. */
void metrics_request(const struct request *r, int64_t now_us);
/* A wait for a pooled store connection (dispatch): how long, and whether
 * it ended without one. */
void metrics_store_wait(int64_t us, bool timed_out);

#endif

/*
 * The limits espd puts on expensive and anonymous requests (password
 * checks, registrations, certificate-login challenges, scan uploads), read
 * once from the configuration, and the answers a refused request gets:
 * 429 (this client) or 503 (everyone: a store-wide cap) with Retry-After,
 * a Chinese message page for HTML, a JSON error for the APIs.
 * The counts themselves live in the store (esp/ratelimit.h).
 */
#ifndef ESPD_THROTTLE_H
#define ESPD_THROTTLE_H

#include "httpd.h"
#include "esp/ratelimit.h"

struct throttle_config {
	int login_failures_per_account;
	int login_failures_per_address;
	int login_checks_per_second;
	int registrations_per_address_hour;
	int challenges_per_address_minute;
	int challenges_max;
	int scans_per_account_minute;
	int scans_unreferenced_hours;
};

/* Reads the limits (config keys of the same names). */
void throttle_init(const struct esp_config *cfg);
const struct throttle_config *throttle_config(void);

/* The limits of a password login: the settings' lockout (login_max_failures
 * in login_lockout_seconds) per account and address, and the keys above. */
struct login_limits throttle_login_limits(const struct request *r);

/* The client as rate limits count it: its IPv4 address, or the /64 of an
 * IPv6 address (one subscriber gets a whole /64: counting single IPv6
 * addresses would give it 2^64 allowances). In r's arena. */
const char *throttle_client(struct request *r);

/* Reserves one event of key (limit per window_seconds; limit <= 0: no
 * limit). Refused, or the store failing: answers the request itself (429;
 * what says what was too frequent, in Chinese; as JSON when json) and
 * returns false. *v (may be NULL) gets the verdict, for
 * ratelimit_release when the work turns out not to happen. */
bool throttle_allow(struct request *r, const char *key, int limit, int window_seconds,
                    const char *what, bool json, struct ratelimit_verdict *v);

/* Answers status (429 or 503) with Retry-After: an HTML message page that
 * says when to try again (what: what was refused, in Chinese), or JSON. */
void throttle_refuse(struct request *r, int status, int64_t retry_after, const char *what,
                     bool json);

/* "N秒" / "N分钟" / "N小时": the wait, rounded up, for messages. */
const char *throttle_wait_text(struct request *r, int64_t seconds);

#endif

/*
 * How many rows of each kind the store holds (espctl counts): a quick look
 * at a deployment, not a report.
 */
#ifndef ESP_COUNTS_H
#define ESP_COUNTS_H

#include <stdint.h>

#include "esp/db.h"

enum store_count {
	COUNT_PROVINCES,
	COUNT_AUTHORITIES,
	COUNT_REGISTRATIONS,
	COUNT_REGISTRATIONS_PENDING,
	COUNT_REGISTRATIONS_APPROVED,
	COUNT_REGISTRATIONS_REJECTED,
	COUNT_ACCOUNTS,
	COUNT_SESSIONS,
	COUNT_UPLOADS,
	COUNT_APPLICATIONS,
	COUNT_AUDIT_ENTRIES,
	COUNT_KINDS
};

/* What a count is called ("registrations pending"). */
const char *store_count_name(enum store_count k);
/* Every count, each its own statement; the first failure is returned. */
enum db_status store_counts(db_conn *c, int64_t out[COUNT_KINDS]);

#endif

/* Row counts of the store's main tables, by name. */
#include "esp/counts.h"

#include <assert.h>

static const char *const counts[COUNT_KINDS][2] = {
    [COUNT_PROVINCES] = {"provinces", "SELECT COUNT(*) FROM provinces"},
    [COUNT_AUTHORITIES] = {"authorities", "SELECT COUNT(*) FROM authorities"},
    [COUNT_REGISTRATIONS] = {"registrations", "SELECT COUNT(*) FROM registrations"},
    [COUNT_REGISTRATIONS_PENDING] = {"registrations pending",
                                     "SELECT COUNT(*) FROM registrations WHERE state = 'pending'"},
    [COUNT_REGISTRATIONS_APPROVED] =
        {"registrations approved", "SELECT COUNT(*) FROM registrations WHERE state = 'approved'"},
    [COUNT_REGISTRATIONS_REJECTED] =
        {"registrations rejected", "SELECT COUNT(*) FROM registrations WHERE state = 'rejected'"},
    [COUNT_ACCOUNTS] = {"accounts", "SELECT COUNT(*) FROM accounts"},
    [COUNT_SESSIONS] = {"sessions", "SELECT COUNT(*) FROM sessions"},
    [COUNT_UPLOADS] = {"uploads", "SELECT COUNT(*) FROM uploads"},
    [COUNT_APPLICATIONS] = {"applications", "SELECT COUNT(*) FROM applications"},
    [COUNT_AUDIT_ENTRIES] = {"audit entries", "SELECT COUNT(*) FROM audit_log"},
};

const char *store_count_name(enum store_count k)
{
	assert(k >= 0 && k < COUNT_KINDS);
	return counts[k][0];
}

enum db_status store_counts(db_conn *c, int64_t out[COUNT_KINDS])
{
	for (int k = 0; k < COUNT_KINDS; k++) {
		db_result *r = NULL;
		enum db_status st = DB_EXEC0(c, counts[k][1], &r);
		out[k] = st == DB_OK ? db_get_int(r, 0, 0, 0) : -1;
		db_result_free(r);
		if (st != DB_OK)
			return st;
	}
	return DB_OK;
}

/*
 * Counters the store raises with every change a cache derives from
 * (core/generation.c, 007_generations.sql).
 */
#ifndef ESP_GENERATION_H
#define ESP_GENERATION_H

#include <stdbool.h>
#include <stdint.h>

#include "esp/db.h"

/* ---- generations (007_generations.sql) ---- */
/* Counters that go up (by trigger) with every change to what a cache
 * derives from: the registrations' queues, the sessions, the settings,
 * what the RA's search shows (021_applications_generation.sql) and the
 * certificates' statuses OCSP answers (014_ocsp.sql). */
enum generation {
	GEN_REGISTRATIONS,
	GEN_SESSIONS,
	GEN_SETTINGS,
	GEN_APPLICATIONS,
	GEN_CERTIFICATES,
	GEN_COUNT
};
/* Reads them all in one statement, or none while the store's commit mark
 * (db_commit_mark) says nothing committed since this thread last read
 * them; false on a store error (all set to -1). */
bool generations_read(db_conn *c, int64_t out[GEN_COUNT]);

#endif

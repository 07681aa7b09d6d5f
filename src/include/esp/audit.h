/*
 * The audit log: one row per change, each chained to the one before by a
 * MAC (HMAC-SHA-256) keyed with a secret kept outside the store, so that
 * whoever can write the store but not read the key can neither edit an entry
 * nor recompute the chain after an edit.  Entries written before the key
 * existed carry the old unkeyed SHA-256 hash (mac_version 0) and still
 * verify; the key file records the first entry that must be keyed, so a
 * keyed entry cannot be passed off as an old unkeyed one.
 *
 * The key lives in one process-wide slot: loaded once at start (espd,
 * espctl) before any thread appends, read-only afterwards, wiped at exit.
 * Deleting the newest entries leaves a valid shorter chain: the anchors
 * (audit_anchor.h) catch that.
 */
#ifndef ESP_AUDIT_H
#define ESP_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "esp/db.h"

struct actor;

enum { AUDIT_KEY_BYTES = 32 };

/* ---- the key ---- */
enum audit_key_status {
	AUDIT_KEY_LOADED = 0, /* read from the file */
	AUDIT_KEY_CREATED,    /* the file did not exist and was made (mode 0600) */
	AUDIT_KEY_MISSING,    /* no file and !create */
	AUDIT_KEY_BAD,        /* unreadable, malformed, or readable by group/others */
	AUDIT_KEY_STORE,      /* the store could not say where the chain ends */
};
/* Loads the key file at path into the process's slot; when it does not
 * exist and create is true, makes one whose keyed entries start after the
 * store's newest entry (c is only read then).  Run after the migrations and
 * before any thread appends.  The key itself is never logged. */
enum audit_key_status audit_key_open(db_conn *c, const char *path, bool create);
/* Puts a key into the slot directly: entries from seq keyed_from on are
 * keyed.  For tests and tools that hold the key already. */
void audit_key_set(const unsigned char key[AUDIT_KEY_BYTES], int64_t keyed_from);
/* Wipes and empties the slot (at exit; tests between cases). */
void audit_key_forget(void);
bool audit_key_loaded(void);
/* A line of text (Chinese, then English) for a key status. */
const char *audit_key_message(enum audit_key_status st);

/* ---- writing ---- */
/* Appends an entry chained to the previous one; call inside the transaction
 * of the change it records.  DB_ERROR when no key is loaded: an unkeyed
 * entry after keyed ones would break the chain. */
enum db_status audit_append(db_conn *c, const struct actor *a, const char *action,
                            const char *object, const char *before, const char *after);
/* Runs one statement and its audit entry in one transaction: the change
 * and its record land together or not at all. *res as for db_exec. */
enum db_status db_exec_audited(db_conn *c, const char *sql, const struct db_param *params,
                               int nparams, db_result **res, const struct actor *a,
                               const char *action, const char *object, const char *before,
                               const char *after);

/* ---- checking ---- */
enum audit_fault {
	AUDIT_INTACT = 0,
	AUDIT_BROKEN,     /* an entry's MAC or link fails: edited, inserted or removed */
	AUDIT_TRUNCATED,  /* the log ends before an anchored entry, or that entry differs */
	AUDIT_ANCHOR_BAD, /* an anchor line is malformed or its signature fails */
	AUDIT_NO_KEY,     /* keyed entries, but no key loaded to check them */
	AUDIT_ERROR,      /* the store or a file could not be read, or signing failed */
};
struct audit_check {
	enum audit_fault fault;
	int64_t entries;    /* entries checked */
	int64_t legacy;     /* of which unkeyed (written before the key existed) */
	int64_t head;       /* seq of the newest entry, 0 when empty */
	char head_mac[65];  /* its MAC (hex), "" when empty */
	int64_t seq;        /* BROKEN, NO_KEY: the first entry that fails;
	                       TRUNCATED: the anchored entry missing or changed */
	int anchors;        /* anchors checked */
	int64_t anchor_seq; /* the newest anchor's entry (0 when none) */
	int anchor_line;    /* TRUNCATED, ANCHOR_BAD: line of the anchor in its file */
};
/* Checks every entry's link and MAC (the chain only, no anchors).  Returns
 * out->fault; entries and head are filled as far as it got. */
enum audit_fault audit_check_chain(db_conn *c, struct audit_check *out);
/* The chain check in brief: 0 when intact, else the seq of the first broken
 * entry (-1 when the store cannot be read); *checked gets the count. */
int64_t audit_verify(db_conn *c, int64_t *checked);
/* A line (Chinese, then English) that says what a check found. */
const char *audit_fault_message(enum audit_fault f);

#endif

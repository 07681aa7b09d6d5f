/*
 * Uploaded scans of applications (core/upload.c): the type is decided from
 * the content, never from what the client says.
 */
#ifndef ESP_UPLOAD_H
#define ESP_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"

/* Decides the type from the content (libmagic): "application/pdf",
 * "image/jpeg" or "image/png"; NULL for anything else. */
const char *upload_sniff(const void *data, size_t len);
enum db_status upload_store(db_conn *c, int64_t registration_id, const void *data, size_t len,
                            const char *mime, int64_t *id);
/* Deletes the uploads created before older_than that no application refers
 * to; *deleted (may be NULL) says how many. */
enum db_status upload_purge_unreferenced(db_conn *c, int64_t older_than, int *deleted);
/* Loads an upload: *data malloc'ed (caller frees). */
enum db_status upload_load(db_conn *c, int64_t id, int64_t *registration_id, char **mime,
                           char **data, size_t *len);

/* The registration an upload belongs to, without its bytes; DB_NOT_FOUND
 * when there is no such upload. */
enum db_status upload_owner(db_conn *c, int64_t id, int64_t *registration_id);

#endif

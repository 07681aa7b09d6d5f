/*
 * Certificate key applications (证书U盘申请): the form of each kind,
 * numbering, creation (idempotent per form), reading, the status timeline,
 * scans (uploads) and the RA directory.  The fee schedule: esp/fee.h.
 */
#ifndef ESP_APPLICATION_H
#define ESP_APPLICATION_H

#include <jansson.h>

#include "esp/appform.h"
#include "esp/appstate.h"
#include "esp/core.h"
#include "esp/fee.h"
#include "esp/registration.h"

/* Wizard steps of a kind as the manual numbers them, with `current` marked:
 * keys "register", "status", "scan", "form", "print", "pay", "receive". */
json_t *application_steps(enum reg_kind k, const char *current);

/* Values to start the form with, taken from the registration (new reference). */
json_t *application_defaults(json_t *reg);
/* The form fields for the template (like registration_form). */
json_t *application_form(enum reg_kind k, json_t *values, json_t *errors);
/* Validates and normalises values in place; returns errors (new reference). */
json_t *application_validate(const struct esp_limits *l, enum reg_kind k, json_t *values);

/* Creates the application in one transaction: number, fee snapshot, event,
 * audit. idem_key makes it idempotent: the same key returns the application
 * made before (*existing = true). *number is malloc'ed (caller frees). */
enum db_status application_create(db_conn *c, const struct actor *a, json_t *reg,
                                  json_t *values, const char *type, int64_t scan_id,
                                  const char *idem_key, char **number, bool *existing);

/* One application joined with its registration, or NULL (new reference). */
json_t *application_get(db_conn *c, const char *number);
/* The applications of a registration, newest first. */
json_t *application_list_for(db_conn *c, int64_t registration_id);
/* The number of the registration's initial application that is not
 * withdrawn (a registrant has one; more keys come by 再次申请), in arena;
 * DB_NOT_FOUND when there is none. */
enum db_status application_open_initial(db_conn *c, struct arena *a, int64_t registration_id,
                                        const char **number);
/* The scan of the registration's newest application that has one (the
 * unit's document on file); DB_NOT_FOUND when none has. */
enum db_status application_latest_scan(db_conn *c, int64_t registration_id, int64_t *scan_id);
/* Policy object of a loaded application (borrows strings). */
void application_policy_object(json_t *app, struct policy_object *o);
/* What the state machine needs to know of a loaded application besides its
 * state: APP_FACT_EVALUATOR, _PAID, _MATERIALS (certificates are counted
 * by the caller that has them). */
unsigned application_facts(json_t *app);
/* Fills the printable form from a loaded application (borrows strings). */
void application_appform(json_t *app, struct appform *f);
/* The timeline 已提交 → 已付款 → 材料已收到 → 已制证 → 已寄出/待领取 → 已签收
 * with dates (strings in arena). */
json_t *application_timeline(json_t *app, struct arena *a);
const char *app_type_label(const char *type);
/* The materials the manual lists for a kind: array of strings. */
json_t *application_materials(enum reg_kind k);

/* 撤销: submitted and nothing paid → withdrawn, with event and audit, in one
 * transaction. DB_CONFLICT when the state does not allow it. */
enum db_status application_withdraw(db_conn *c, const struct actor *a, const char *number);
/* Records an event of the application's history (inside a transaction). */
enum db_status application_event(db_conn *c, const struct actor *a, int64_t app_id,
                                 const char *action, const char *from, const char *to,
                                 const char *note);

/* ---- scans ---- */
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

/* ---- RA directory ---- */
/* One province's entry joined with the province name; "configured" is true
 * when payee, account and address are filled (new reference). */
json_t *ra_directory_get(db_conn *c, const char *province_code);
json_t *ra_directory_list(db_conn *c);
/* Upserts one province's entry from an object of strings. */
enum db_status ra_directory_save(db_conn *c, const struct actor *a, const char *province_code,
                                 json_t *values);
/* The directory's editable fields: [{name, label}] (static, shared). */
json_t *ra_directory_fields(void);

#endif

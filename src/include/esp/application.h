/*
 * Certificate key applications (证书U盘申请): the form of each kind,
 * numbering, creation (idempotent per form), reading and the status
 * timeline (core/application.c).  The fee schedule is in fee.h, scans in
 * upload.h, the RA directory in directory.h.
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
enum db_status application_create(db_conn *c, const struct actor *a, json_t *reg, json_t *values,
                                  const char *type, int64_t scan_id, const char *idem_key,
                                  char **number, bool *existing);

/* The registration's open (not withdrawn) initial application: a registrant
 * applies once, more keys are asked for with 再次申请. *number (malloc'ed) is
 * NULL when there is none. */
enum db_status application_open_initial(db_conn *c, int64_t registration_id, char **number);

/* The next application number, ESP-YYYY-NNNNNN, inside the caller's transaction. */
enum db_status application_next_number(db_conn *c, char **number);

/* One application joined with its registration, or NULL (new reference). */
json_t *application_get(db_conn *c, const char *number);
/* The applications of a registration, newest first. */
json_t *application_list_for(db_conn *c, int64_t registration_id);
/* The scan of the registration's newest application that has one (the
 * unit's document on file); DB_NOT_FOUND when none has. */
enum db_status application_latest_scan(db_conn *c, int64_t registration_id, int64_t *scan_id);
/* Policy object of a loaded application (borrows strings). */
void application_policy_object(json_t *app, struct policy_object *o);
/* What the state machine needs to know of a loaded application besides its
 * state: APP_FACT_EVALUATOR, _PAID, _MATERIALS, _RENEWAL (certificates are counted
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

#endif

/*
 * The core's typed records as JSON, made only here at the HTTP edge: for the
 * templates' contexts and the API's bodies (record_json.c). Each returns a
 * new reference; dates are China Standard Time, as the pages show them.
 */
#ifndef ESP_RECORD_JSON_H
#define ESP_RECORD_JSON_H

#include <jansson.h>

#include "esp/api_token.h"
#include "esp/application.h"
#include "esp/authority.h"
#include "esp/certificate.h"
#include "esp/directory.h"
#include "esp/field_error.h"
#include "esp/ra.h"
#include "esp/registration.h"

/* A certificate: serial, token_serial, number, holder, staff_username,
 * username, kind_label, staff, issued, expires, days_left, status_label,
 * revoked, expired, valid, warning (expires within warning_days), reason;
 * text the record has not is null. */
json_t *cert_to_json(const struct certificate *ce, int warning_days, struct arena *a);
/* An array of cert_to_json. */
json_t *certs_to_json(const struct certificate *list, size_t n, int warning_days, struct arena *a);
/* An array of API tokens: id, name, prefix, created, revoked. */
json_t *api_tokens_to_json(const struct api_token *list, size_t n, struct arena *a);
/* An array of provinces: code, name. */
json_t *provinces_to_json(const struct province *list, size_t n);
/* A directory entry: province_code, province, each field by its name,
 * updated_at, configured, trainer_configured. */
json_t *ra_directory_entry_to_json(const struct ra_directory_entry *e);
/* An array of ra_directory_entry_to_json. */
json_t *ra_directory_to_json(const struct ra_directory_entry *list, size_t n);
/* An application as its row and registration read: every column under its
 * name (numbers as decimal text, what it has not as null), and state_label,
 * type_label, kind_label, is_evaluator. */
json_t *application_to_json(const struct application *app);
/* Validation errors as an object field → message. */
json_t *field_errors_to_json(const struct field_errors *e);
/* The RA's queue: number, state, state_label, sets, amount, submitted_at,
 * submitted_date, kind, kind_label, name, code, province, overdue, days. */
json_t *ra_queue_to_json(const struct ra_queue_item *list, size_t n, struct arena *a);
/* {"states": [{state, label, count}] from 已提交 on, "overdue": n}. */
json_t *ra_stats_to_json(const struct ra_stats *s);
/* An application's history: at, actor, action, from, to (labels), note. */
json_t *app_events_to_json(const struct app_event *list, size_t n, struct arena *a);
/* A registration as its row reads: every column under its name (numbers as
 * decimal text, what it has not as null), and state_label, kind_label,
 * is_unit. */
json_t *registration_to_json(const struct registration *reg);
/* A reviewer's queue: id, kind, state, name, code, created_at,
 * authority_name, province, state_label, kind_label, created_date. */
json_t *registration_queue_to_json(const struct registration_row *list, size_t n, struct arena *a);

#endif

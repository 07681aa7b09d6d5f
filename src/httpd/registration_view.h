/*
 * What the registration pages show around a registration
 * (registration_view.c). Each json_t returned is a new reference.
 */
#ifndef ESP_REGISTRATION_VIEW_H
#define ESP_REGISTRATION_VIEW_H

#include <jansson.h>

#include "esp/registration.h"

/* The form of a kind for the template: an array of {name, label, type,
 * required, value, error, options:[{value,label,selected}], hint}. values
 * is an object name → string; errors may be NULL. editing=true leaves out
 * the username/password fields (resubmission). */
json_t *registration_form_json(db_conn *c, enum reg_kind k, json_t *values,
                               const struct field_errors *errors, bool editing);
/* The registration's fields as [{label, value}] for display, in form order,
 * with the authority and province by name (reg as registration_to_json). */
json_t *registration_rows_json(enum reg_kind k, json_t *reg);
/* The typed input of the posted values (borrowed; what is not a string is
 * left out). */
void registration_input_from_json(json_t *values, struct registration_input *in);
/* Replaces values with in's fields of kind k that are set, as the form
 * shows them again after validation. */
void registration_input_to_json(enum reg_kind k, const struct registration_input *in,
                                json_t *values);
struct request;
/* Loads registration id into *reg (strings in the request's arena) and,
 * when json is not NULL, its JSON (owned by the request) into *json. */
enum db_status load_registration(struct request *r, int64_t id, struct registration *reg,
                                 json_t **json);

#endif

/*
 * What the application pages show around an application (application_view.c):
 * the wizard's steps, the status timeline, the materials list, the form's
 * fields, and the form's values to and from the typed input. Each json_t
 * returned is a new reference.
 */
#ifndef ESP_APPLICATION_VIEW_H
#define ESP_APPLICATION_VIEW_H

#include <jansson.h>

#include "esp/application.h"

/* Wizard steps of a kind as the manual numbers them, with `current` marked:
 * keys "register", "status", "scan", "form", "print", "pay", "submit",
 * "receive". */
json_t *application_steps_json(enum reg_kind k, const char *current);
/* The timeline 已提交 → 已付款 → 材料已收到 → 已制证 → 已寄出/待领取 → 已签收
 * with dates (strings in arena). */
json_t *application_timeline_json(const struct application *app, struct arena *a);
/* The materials the manual lists for a kind: an array of strings. */
json_t *application_materials_json(enum reg_kind k);
/* The form's fields for the template: name, label, type, required, value
 * (from values), maxlength, is_select, hint and error. */
json_t *application_form_json(enum reg_kind k, json_t *values, const struct field_errors *errors);
/* Values to start the form with, taken from the registration. */
json_t *application_defaults_json(json_t *reg);
/* The typed input of kind k's fields from the posted values (borrowed). */
void application_input_from_json(enum reg_kind k, json_t *values, struct application_input *in);
/* Writes in's fields of kind k (and sets) back into values, as the form shows them again. */
void application_input_to_json(enum reg_kind k, struct application_input *in, json_t *values);

#endif

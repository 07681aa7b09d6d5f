/*
 * The rules' numbers kept in the settings table (core/settings.c): what
 * an administrator may change without a release.
 */
#ifndef ESP_SETTINGS_H
#define ESP_SETTINGS_H

#include "esp/db.h"

struct esp_limits {
	int login_max_failures;
	int login_lockout_seconds;
	int delivery_days;
	int expiry_warning_days;
	int keys_per_application_max;
	long scan_max_bytes;
	int cert_validity_days;
	int password_min_length;
};
/* Reads the settings table; missing rows keep the built-in defaults. */
void limits_load(db_conn *c, struct esp_limits *l);
/* Copies fresh numbers over the ones requests are reading, one field at a
 * time with atomic stores: a request sees each number either old or new. */
void limits_publish(struct esp_limits *dst, const struct esp_limits *src);
/* One setting's value; NULL when absent. */
char *setting_get(db_conn *c, const char *name); /* caller frees */

#endif

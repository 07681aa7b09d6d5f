/*
 * Configuration: "key = value" lines in a file (default <data_dir>/esp.conf),
 * every key overridable on the command line as --key=value.  The table of
 * keys in config.c is the documentation: `espd --help` prints it.
 */
#ifndef ESP_CONFIG_H
#define ESP_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

struct esp_config;

/* Defaults only. */
struct esp_config *config_new(void);
void config_free(struct esp_config *c);
/* Loads a file; unknown keys are an error (typos must not pass silently).
 * A missing file is fine when !required. Returns 0 or -1 with *err set
 * (static or malloc'ed into the config; valid until config_free). */
int config_load_file(struct esp_config *c, const char *path, bool required, const char **err);
/* Applies "key=value". Returns 0 or -1 when the key is unknown. */
int config_set(struct esp_config *c, const char *key, const char *value);
/* Applies a command-line argument "--key=value": 0, -1 when arg is not of
 * that form, -2 when the key is unknown. */
int config_set_arg(struct esp_config *c, const char *arg);
const char *config_get(const struct esp_config *c, const char *key);
long config_get_long(const struct esp_config *c, const char *key);
bool config_get_bool(const struct esp_config *c, const char *key);
/* Prints every key with its default and meaning. */
void config_print_help(FILE *out);
/* Fills data_dir-relative defaults (database, audit key and anchor files)
 * once data_dir is final. */
void config_finish(struct esp_config *c);

#endif

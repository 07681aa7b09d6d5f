/*
 * espctl backup FILE, espctl backup verify FILE, espctl restore FILE: the
 * command line around core/backup.c.  The passphrase comes from a file
 * (--passphrase-file F) or from ESP_BACKUP_PASSPHRASE, never from the
 * command line, where any user could read it in the process list.
 */
#include "espctl_backup.h"

#include "esp/backup.h"
#include "esp/db.h"
#include "esp/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The passphrase, malloc'ed (wipe before freeing), or NULL after saying why. */
static char *passphrase(int argc, char **argv)
{
	const char *file = NULL;
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], "--passphrase-file") == 0)
			file = argv[i + 1];
	char *p = NULL;
	if (file) {
		size_t len = 0;
		p = file_read_max(file, 4096, &len);
		if (!p) {
			fprintf(stderr, "espctl: cannot read %s\n", file);
			return NULL;
		}
		/* One line: the newline an editor adds is not part of it. */
		p[strcspn(p, "\r\n")] = '\0';
	} else if (getenv("ESP_BACKUP_PASSPHRASE")) {
		p = xstrdup(getenv("ESP_BACKUP_PASSPHRASE"));
	} else {
		fprintf(stderr, "espctl: give the passphrase with --passphrase-file F or in "
		                "ESP_BACKUP_PASSPHRASE\n");
		return NULL;
	}
	if (strlen(p) < BACKUP_PASSPHRASE_MIN) {
		fprintf(stderr, "espctl: the passphrase must be at least %d characters\n",
		        BACKUP_PASSPHRASE_MIN);
		sodium_memzero(p, strlen(p));
		free(p);
		return NULL;
	}
	return p;
}

static void forget(char *p)
{
	if (p) {
		sodium_memzero(p, strlen(p));
		free(p);
	}
}

static void print_manifest(const char *what, const char *file, json_t *m)
{
	json_t *tables = json_object_get(m, "tables");
	json_int_t rows = 0;
	const char *name;
	json_t *v;
	json_object_foreach(tables, name, v) rows += json_integer_value(v);
	json_t *head = json_object_get(m, "audit_head");
	printf("%s %s: %s store of %lld (Unix time), %zu tables, %lld rows, audit log head %lld, "
	       "CRL number %lld\n",
	       what, file, json_string_value(json_object_get(m, "engine")),
	       (long long)json_integer_value(json_object_get(m, "created_at")),
	       json_object_size(tables), (long long)rows,
	       (long long)json_integer_value(json_object_get(head, "seq")),
	       (long long)json_integer_value(json_object_get(m, "crl_number")));
}

static struct backup_opts opts_of(struct esp_config *cfg, const char *pass)
{
	return (struct backup_opts){
	    .data_dir = config_get(cfg, "data_dir"),
	    .database = config_get(cfg, "database"),
	    .passphrase = pass,
	    .kdf_min = strcmp(config_get(cfg, "password_hash"), "min") == 0,
	};
}

static int backup_verify_cmd(struct esp_config *cfg, const char *file, char *pass)
{
	struct backup_opts o = opts_of(cfg, pass);
	json_t *m = NULL;
	char *err = NULL;
	int rc = backup_verify(&o, file, &m, &err);
	if (rc == 0)
		print_manifest("verified", file, m);
	else
		fprintf(stderr, "espctl: backup verify %s: %s\n", file, err);
	json_decref(m);
	free(err);
	return rc;
}

int cmd_backup(struct esp_config *cfg, int argc, char **argv)
{
	bool verify = argc >= 1 && strcmp(argv[0], "verify") == 0;
	if (verify) {
		argc--;
		argv++;
	}
	if (argc < 1 || strncmp(argv[0], "--", 2) == 0) {
		fprintf(stderr, "usage: espctl backup [verify] FILE [--passphrase-file F]\n");
		return 1;
	}
	const char *file = argv[0];
	char *pass = passphrase(argc - 1, argv + 1);
	if (!pass)
		return 1;
	if (verify) {
		int rc = backup_verify_cmd(cfg, file, pass);
		forget(pass);
		return rc;
	}
	struct backup_opts o = opts_of(cfg, pass);
	const char *e = NULL;
	db_pool *p = db_pool_open(o.database, 1, &e);
	if (!p) {
		fprintf(stderr, "espctl: database %s: %s\n", o.database, e);
		forget(pass);
		return 2;
	}
	db_conn *c = db_acquire(p);
	char *err = NULL;
	int rc = backup_create(p, c, &o, file, &err);
	db_release(p, c);
	db_pool_close(p);
	if (rc == 0)
		fprintf(stderr, "backup written to %s\n", file);
	else
		fprintf(stderr, "espctl: backup: %s\n", err);
	free(err);
	/* A backup that cannot be read back is no backup. */
	if (rc == 0)
		rc = backup_verify_cmd(cfg, file, pass);
	forget(pass);
	return rc;
}

int cmd_restore(struct esp_config *cfg, int argc, char **argv)
{
	if (argc < 1 || strncmp(argv[0], "--", 2) == 0) {
		fprintf(stderr, "usage: espctl restore FILE [--passphrase-file F]\n");
		return 1;
	}
	char *pass = passphrase(argc - 1, argv + 1);
	if (!pass)
		return 1;
	struct backup_opts o = opts_of(cfg, pass);
	json_t *m = NULL;
	char *err = NULL;
	int rc = backup_restore(&o, argv[0], &m, &err);
	if (rc == 0)
		print_manifest("restored", argv[0], m);
	else
		fprintf(stderr, "espctl: restore %s: %s\n", argv[0], err);
	json_decref(m);
	free(err);
	forget(pass);
	return rc;
}

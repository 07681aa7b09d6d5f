/* A fresh, migrated store for each unit test, on either engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp/db.h"
#include "esp/util.h"
#include "dbfixture.h"

#define MIGRATIONS ESP_SOURCE_DIR "/src/db/migrations"

static int open_and_migrate(struct fixture *f)
{
	const char *err = NULL;
	f->pool = db_pool_open(f->target, 2, &err);
	if (!f->pool) {
		print_error("cannot open %s: %s\n", f->target, err ? err : "?");
		return -1;
	}
	if (db_migrate(f->pool, MIGRATIONS, &f->applied) != DB_OK) {
		print_error("migrations failed on %s\n", f->target);
		return -1;
	}
	f->c = db_acquire(f->pool);
	return 0;
}

int setup_sqlite(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	f->tmpdir = xstrdup("/tmp/esp-test-db-XXXXXX");
	if (!mkdtemp(f->tmpdir)) {
		print_error("mkdtemp failed\n");
		return -1;
	}
	f->target = xasprintf("%s/esp.db", f->tmpdir);
	return open_and_migrate(f);
}

static char *shell_quote(const char *s)
{
	struct buf b = {0};
	buf_putc(&b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			buf_puts(&b, "'\\''");
		else
			buf_putc(&b, *p);
	}
	buf_putc(&b, '\'');
	return buf_steal(&b);
}

/* A fresh database in the cluster, by the project's script. */
static char *pg_new_database(const char *cluster)
{
	static int counter;
	char name[64];
	snprintf(name, sizeof name, "esp_unit_db_%ld_%d", (long)getpid(), ++counter);
	char *q = shell_quote(cluster);
	char *cmd =
	    xasprintf("bash %s/scripts/pg-test-cluster.sh newdb %s %s", ESP_SOURCE_DIR, q, name);
	free(q);
	FILE *p = popen(cmd, "r");
	if (!p) {
		print_error("cannot run %s\n", cmd);
		free(cmd);
		return NULL;
	}
	char line[512] = "";
	if (!fgets(line, sizeof line, p))
		line[0] = '\0';
	int rc = pclose(p);
	line[strcspn(line, "\r\n")] = '\0';
	if (rc != 0 || strncmp(line, "postgresql://", 13) != 0) {
		print_error("%s failed (status %d, output \"%s\")\n", cmd, rc, line);
		free(cmd);
		return NULL;
	}
	free(cmd);
	return xstrdup(line);
}

int setup_pg(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	f->pg = true;
	f->target = pg_new_database(getenv("ESP_PG_CLUSTER"));
	if (!f->target)
		return -1;
	return open_and_migrate(f);
}

int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	if (f->c)
		db_release(f->pool, f->c);
	db_pool_close(f->pool);
	if (f->tmpdir) {
		const char *suffix[] = {"", "-wal", "-shm", "-journal"};
		for (size_t i = 0; i < 4; i++) {
			char *p = xasprintf("%s%s", f->target, suffix[i]);
			unlink(p);
			free(p);
		}
		rmdir(f->tmpdir);
		free(f->tmpdir);
	}
	free(f->target);
	free(f);
	return 0;
}

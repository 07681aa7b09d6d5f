/*
 * Backup, verification and restore of a whole ESP installation (see
 * esp/backup.h for the file's layout).
 *
 * Consistency while espd runs: the store is copied first, in one snapshot
 * (SQLite's backup API copies every page inside one read transaction;
 * pg_dump runs in a snapshot exported by a REPEATABLE READ transaction, in
 * which the manifest's row counts are also taken), and the files after it.
 * Scans live in the store; what the data directory holds (CA, OCSP
 * responder, audit key and anchors, drivers) only grows or is replaced
 * atomically, so a file newer than the snapshot is harmless.
 *
 * The archive itself is GNU tar's (spawned, streaming through a pipe), the
 * dump pg_dump's and the restore pg_restore's: we only seal the stream.
 */
#include "esp/backup.h"
#include "esp/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "ESPBACKUP1\n"
#define MAGIC_LEN 11
enum {
	CHUNK = 64 * 1024,
	SEALED_MAX = CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES,
	KEY_LEN = crypto_secretstream_xchacha20poly1305_KEYBYTES,
	HEADER_LEN = crypto_secretstream_xchacha20poly1305_HEADERBYTES,
	SALT_LEN = crypto_pwhash_SALTBYTES,
};

static char *errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *errf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s ? s : xstrdup("out of memory");
}

static bool is_pg(const char *database)
{
	return strncmp(database, "postgresql://", 13) == 0 ||
	       strncmp(database, "postgres://", 11) == 0;
}

/* ---- child processes (tar, pg_dump, pg_restore) ---- */

/* Starts argv; with pipe_fd, the child's stdin (child_reads) or stdout is
 * a pipe whose other end is *pipe_fd. -1 when it cannot start. */
static pid_t spawn(char *const argv[], bool child_reads, int *pipe_fd)
{
	int p[2] = {-1, -1};
	if (pipe_fd && pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		if (pipe_fd)
			dup2(child_reads ? p[0] : p[1], child_reads ? 0 : 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pipe_fd) {
		close(child_reads ? p[0] : p[1]);
		*pipe_fd = child_reads ? p[1] : p[0];
		if (pid < 0) {
			close(*pipe_fd);
			*pipe_fd = -1;
		}
	}
	return pid;
}

/* The child's exit status, or -1 when it died of a signal. */
static int child_status(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(char *const argv[])
{
	pid_t pid = spawn(argv, false, NULL);
	return pid < 0 ? -1 : child_status(pid);
}

static bool write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

/* ---- the sealed stream ---- */

struct sealer {
	FILE *out;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char buf[CHUNK];
	size_t n;
};

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool derive_key(unsigned char key[KEY_LEN], const char *pass, const unsigned char *salt,
                       uint64_t ops, uint64_t mem)
{
	return crypto_pwhash(key, KEY_LEN, pass, strlen(pass), salt, ops, (size_t)mem,
	                     crypto_pwhash_ALG_ARGON2ID13) == 0;
}

static bool seal_begin(struct sealer *s, FILE *out, const char *pass, bool kdf_min)
{
	uint64_t ops = kdf_min ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_MODERATE;
	uint64_t mem = kdf_min ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_MODERATE;
	unsigned char head[MAGIC_LEN + SALT_LEN + 16], hdr[HEADER_LEN], key[KEY_LEN];
	memcpy(head, MAGIC, MAGIC_LEN);
	randombytes_buf(head + MAGIC_LEN, SALT_LEN);
	put_u64(head + MAGIC_LEN + SALT_LEN, ops);
	put_u64(head + MAGIC_LEN + SALT_LEN + 8, mem);
	s->out = out;
	s->n = 0;
	bool ok = derive_key(key, pass, head + MAGIC_LEN, ops, mem) &&
	          crypto_secretstream_xchacha20poly1305_init_push(&s->st, hdr, key) == 0 &&
	          fwrite(head, sizeof head, 1, out) == 1 && fwrite(hdr, sizeof hdr, 1, out) == 1;
	sodium_memzero(key, sizeof key);
	return ok;
}

static bool seal_chunk(struct sealer *s, unsigned char tag)
{
	unsigned char c[SEALED_MAX];
	unsigned long long clen = 0;
	crypto_secretstream_xchacha20poly1305_push(&s->st, c, &clen, s->buf, s->n, NULL, 0, tag);
	unsigned char len[4] = {(unsigned char)clen, (unsigned char)(clen >> 8),
	                        (unsigned char)(clen >> 16), (unsigned char)(clen >> 24)};
	s->n = 0;
	return fwrite(len, 4, 1, s->out) == 1 && fwrite(c, (size_t)clen, 1, s->out) == 1;
}

static bool seal_write(struct sealer *s, const unsigned char *p, size_t n)
{
	while (n) {
		size_t k = CHUNK - s->n < n ? CHUNK - s->n : n;
		memcpy(s->buf + s->n, p, k);
		s->n += k;
		p += k;
		n -= k;
		if (s->n == CHUNK &&
		    !seal_chunk(s, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
			return false;
	}
	return true;
}

static bool seal_end(struct sealer *s)
{
	bool ok = seal_chunk(s, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	sodium_memzero(&s->st, sizeof s->st);
	return ok;
}

/* Reading a sealed stream back, one chunk at a time. */
struct unsealer {
	FILE *in;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char c[SEALED_MAX], m[CHUNK];
	size_t mlen;
	bool final;
};

/* The next chunk into u->m; NULL, or what is wrong. */
static char *unseal_next(struct unsealer *u, bool first)
{
	unsigned char len[4];
	if (fread(len, 4, 1, u->in) != 1)
		return errf("the file is cut short (no final chunk)");
	size_t clen =
	    (size_t)len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
	if (clen < crypto_secretstream_xchacha20poly1305_ABYTES || clen > SEALED_MAX ||
	    fread(u->c, clen, 1, u->in) != 1)
		return errf("the file is cut short or damaged");
	unsigned long long mlen = 0;
	unsigned char tag = 0;
	if (crypto_secretstream_xchacha20poly1305_pull(&u->st, u->m, &mlen, &tag, u->c, clen, NULL,
	                                               0) != 0)
		return first ? errf("wrong passphrase, or not this backup's passphrase")
		             : errf("the file is damaged (a chunk fails authentication)");
	u->mlen = (size_t)mlen;
	u->final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	if (u->final && fgetc(u->in) != EOF)
		return errf("the file has bytes after its final chunk");
	return NULL;
}

/* Reads the header, derives the key and opens the first chunk, so that a
 * wrong passphrase is told before anything is unpacked. */
static char *unseal_begin(struct unsealer *u, FILE *in, const char *pass)
{
	unsigned char head[MAGIC_LEN + SALT_LEN + 16], hdr[HEADER_LEN], key[KEY_LEN];
	u->in = in;
	if (fread(head, sizeof head, 1, in) != 1 || memcmp(head, MAGIC, MAGIC_LEN) != 0 ||
	    fread(hdr, sizeof hdr, 1, in) != 1)
		return errf("not an ESP backup file");
	uint64_t ops = get_u64(head + MAGIC_LEN + SALT_LEN);
	uint64_t mem = get_u64(head + MAGIC_LEN + SALT_LEN + 8);
	/* A file's costs are bounded: a forged one must not take all memory. */
	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
		return errf("not an ESP backup file (bad key derivation parameters)");
	bool ok = derive_key(key, pass, head + MAGIC_LEN, ops, mem) &&
	          crypto_secretstream_xchacha20poly1305_init_pull(&u->st, hdr, key) == 0;
	sodium_memzero(key, sizeof key);
	if (!ok)
		return errf("cannot derive the key (out of memory?)");
	return unseal_next(u, true);
}

/* The rest of the stream into fd (tar's stdin), the first chunk included. */
static char *unseal_rest(struct unsealer *u, int fd)
{
	for (;;) {
		if (u->mlen && !write_all(fd, u->m, u->mlen))
			return errf("tar stopped reading the archive");
		if (u->final)
			return NULL;
		char *err = unseal_next(u, false);
		if (err)
			return err;
	}
}

/* ---- the manifest ---- */

static bool identifier_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* Every table's row count (an object name -> count), the audit log's head
 * and the CRL's number into m.  Table names come from the catalog and are
 * checked before they are quoted into the counting statement. */
static bool store_figures(db_conn *c, bool pg, json_t *m)
{
	db_result *r = NULL;
	const char *list = pg ? "SELECT tablename FROM pg_tables WHERE schemaname = "
	                        "current_schema() ORDER BY 1"
	                      : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
	                        "LIKE 'sqlite_%' ORDER BY 1";
	if (DB_EXEC0(c, list, &r) != DB_OK) {
		db_result_free(r);
		return false;
	}
	json_t *tables = json_object();
	bool ok = true;
	for (int i = 0; ok && i < r->nrows; i++) {
		const char *name = db_get(r, i, 0);
		db_result *n = NULL;
		char *sql =
		    identifier_ok(name) ? xasprintf("SELECT count(*) FROM \"%s\"", name) : NULL;
		ok = sql && DB_EXEC0(c, sql, &n) == DB_OK && n->nrows == 1;
		if (ok)
			json_object_set_new(tables, name, json_integer(db_get_int(n, 0, 0, -1)));
		db_result_free(n);
		free(sql);
	}
	db_result_free(r);
	json_object_set_new(m, "tables", tables);
	if (!ok)
		return false;
	r = NULL;
	if (DB_EXEC0(c, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &r) != DB_OK) {
		db_result_free(r);
		return false;
	}
	json_object_set_new(m, "audit_head",
	                    r->nrows
	                        ? json_pack("{s:I, s:s}", "seq", (json_int_t)db_get_int(r, 0, 0, 0),
	                                    "hash", db_get(r, 0, 1))
	                        : json_null());
	db_result_free(r);
	r = NULL;
	if (DB_EXEC0(c, "SELECT number FROM crl", &r) != DB_OK) {
		db_result_free(r);
		return false;
	}
	json_object_set_new(m, "crl_number",
	                    r->nrows ? json_integer(db_get_int(r, 0, 0, 0)) : json_null());
	db_result_free(r);
	return true;
}

static char *file_sha256(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	unsigned char buf[CHUNK];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		crypto_hash_sha256_update(&st, buf, n);
	bool ok = !ferror(f);
	fclose(f);
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, h);
	char *hex = xmalloc(2 * sizeof h + 1);
	sodium_bin2hex(hex, 2 * sizeof h + 1, h, sizeof h);
	if (!ok) {
		free(hex);
		return NULL;
	}
	return hex;
}

/* ---- temporary directories ---- */

static int remove_entry(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return -1;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char *p = xasprintf("%s/%s", path, e->d_name);
			remove_entry(p);
			free(p);
		}
		closedir(d);
		return rmdir(path);
	}
	return unlink(path);
}

static char *temp_dir_near(const char *near)
{
	char *parent = xstrdup(near);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
	else
		strcpy(parent, ".");
	char *t = xasprintf("%s/.esp-backup-XXXXXX", parent);
	free(parent);
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

static char *temp_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *t = xasprintf("%s/esp-backup-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

/* ---- backup ---- */

/* SQLite's online backup of database into path: every page in one read
 * transaction, however writers go on. */
static char *sqlite_copy(const char *database, const char *path)
{
	sqlite3 *src = NULL, *dst = NULL;
	char *err = NULL;
	if (sqlite3_open_v2(database, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	        SQLITE_OK) {
		err = errf("cannot open %s: %s", database, src ? sqlite3_errmsg(src) : "?");
		goto out;
	}
	sqlite3_busy_timeout(src, 10000);
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		err = errf("sqlite backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	int rc;
	for (int tries = 0; (rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	                    (rc == SQLITE_LOCKED && tries < 100);
	     tries++)
		sqlite3_sleep(100);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		err = errf("sqlite backup: %s", sqlite3_errstr(rc));
out:
	sqlite3_close(src);
	sqlite3_close(dst);
	return err;
}

/* The store's figures, counted in the copy itself. */
static char *sqlite_figures(const char *path, json_t *m)
{
	const char *e = NULL;
	db_pool *p = db_pool_open(path, 1, &e);
	if (!p)
		return errf("cannot open the copy of the store: %s", e ? e : "?");
	db_conn *c = db_acquire(p);
	bool ok = store_figures(c, false, m);
	db_release(p, c);
	db_pool_close(p);
	return ok ? NULL : errf("cannot count the copy's tables");
}

/* pg_dump in a snapshot exported by c, whose figures are counted in that
 * same snapshot. */
static char *pg_dump_snapshot(db_conn *c, const struct db_backend *be, const char *database,
                              const char *path, json_t *m)
{
	if (be->exec_script(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != DB_OK)
		return errf("cannot open a snapshot of the store");
	char *err = NULL;
	db_result *r = NULL;
	if (DB_EXEC0(c, "SELECT pg_export_snapshot()", &r) != DB_OK || r->nrows != 1) {
		err = errf("cannot export a snapshot of the store");
	} else if (!store_figures(c, true, m)) {
		err = errf("cannot count the store's tables");
	} else {
		char *snap = xasprintf("--snapshot=%s", db_get(r, 0, 0));
		char *file = xasprintf("--file=%s", path);
		char *const argv[] = {
		    "pg_dump", "--format=custom", "--no-owner", "--no-privileges", snap,
		    file,      (char *)database,  NULL};
		int st = run(argv);
		if (st != 0)
			err = errf("pg_dump failed (exit %d)", st);
		free(snap);
		free(file);
	}
	db_result_free(r);
	be->exec_script(c, "COMMIT");
	return err;
}

/* Refuses a backup file inside the directory it backs up: tar would read
 * it while it grows. */
static bool inside(const char *file, const char *dir)
{
	char *d = realpath(dir, NULL);
	char *copy = xstrdup(file);
	char *slash = strrchr(copy, '/');
	const char *fdir = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
	char *f = realpath(fdir, NULL);
	bool in = d && f && strncmp(f, d, strlen(d)) == 0 &&
	          (f[strlen(d)] == '\0' || f[strlen(d)] == '/');
	free(d);
	free(f);
	free(copy);
	return in;
}

/* The SQLite store's file name when it lies in data_dir (left out of
 * data/, as the store goes in store.sqlite), else NULL. */
static char *store_in_data_dir(const char *data_dir, const char *database)
{
	if (is_pg(database))
		return NULL;
	char *d = realpath(data_dir, NULL);
	char *copy = xstrdup(database);
	char *slash = strrchr(copy, '/');
	char *base = slash ? slash + 1 : copy;
	const char *ddir = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
	char *f = realpath(ddir, NULL);
	char *name = d && f && strcmp(d, f) == 0 ? xstrdup(base) : NULL;
	free(d);
	free(f);
	free(copy);
	return name;
}

/* tar's output, sealed into out. */
static char *tar_sealed(const struct backup_opts *o, const char *stage, const char *store_name,
                        FILE *out)
{
	char *store_base = store_in_data_dir(o->data_dir, o->database);
	/* tar's --directory options are relative to one another: absolute. */
	char *data_dir = realpath(o->data_dir, NULL);
	if (!data_dir) {
		free(store_base);
		return errf("cannot read the data directory %s: %s", o->data_dir, strerror(errno));
	}
	char *ex[4] = {0};
	const char *suffix[4] = {"", "-wal", "-shm", "-journal"};
	for (int i = 0; i < 4; i++)
		ex[i] = store_base ? xasprintf("--exclude=./%s%s", store_base, suffix[i])
		                   : xstrdup("--exclude=./.esp-backup-*");
	char *const argv[] = {"tar",
	                      "--create",
	                      "--file=-",
	                      "--format=posix",
	                      "--directory",
	                      (char *)stage,
	                      "manifest.json",
	                      (char *)store_name,
	                      "--directory",
	                      data_dir,
	                      "--exclude=./.esp-backup-*",
	                      ex[0],
	                      ex[1],
	                      ex[2],
	                      ex[3],
	                      "--transform=s,^\\.,data,",
	                      ".",
	                      NULL};
	int fd = -1;
	pid_t pid = spawn(argv, false, &fd);
	char *err = NULL;
	struct sealer *s = xcalloc(1, sizeof *s);
	if (pid < 0) {
		err = errf("cannot run tar");
	} else if (!seal_begin(s, out, o->passphrase, o->kdf_min)) {
		err = errf("cannot start the encryption");
	} else {
		unsigned char buf[CHUNK];
		ssize_t n;
		while ((n = read(fd, buf, sizeof buf)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 || !seal_write(s, buf, (size_t)n)) {
				err = errf("cannot write the backup: %s", strerror(errno));
				break;
			}
		}
		if (!err && !seal_end(s))
			err = errf("cannot write the backup: %s", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	/* 1: a file changed while it was read (one being replaced): the store
	 * is in the snapshot, and a changed file is either version. */
	int st = pid > 0 ? child_status(pid) : -1;
	if (!err && st != 0 && st != 1)
		err = errf("tar failed (exit %d)", st);
	sodium_memzero(s, sizeof *s);
	free(s);
	for (int i = 0; i < 4; i++)
		free(ex[i]);
	free(store_base);
	free(data_dir);
	return err;
}

int backup_create(db_pool *p, db_conn *c, const struct backup_opts *o, const char *file, char **err)
{
	*err = NULL;
	signal(SIGPIPE, SIG_IGN);
	if (!o->passphrase || strlen(o->passphrase) < BACKUP_PASSPHRASE_MIN) {
		*err = errf("the passphrase must be at least %d bytes", BACKUP_PASSPHRASE_MIN);
		return 2;
	}
	if (inside(file, o->data_dir)) {
		*err = errf("%s is inside the data directory %s: keep backups elsewhere", file,
		            o->data_dir);
		return 2;
	}
	bool pg = is_pg(o->database);
	char *stage = temp_dir();
	if (!stage) {
		*err = errf("cannot make a temporary directory: %s", strerror(errno));
		return 2;
	}
	const char *store_name = pg ? "store.pgdump" : "store.sqlite";
	char *store_path = xasprintf("%s/%s", stage, store_name);
	json_t *m = json_pack("{s:i, s:s, s:I}", "format", 1, "engine",
	                      pg ? "postgresql" : "sqlite", "created_at", (json_int_t)time(NULL));
	char *e = pg ? pg_dump_snapshot(c, db_pool_backend(p), o->database, store_path, m)
	             : sqlite_copy(o->database, store_path);
	if (!e && !pg)
		e = sqlite_figures(store_path, m);
	char *sha = e ? NULL : file_sha256(store_path);
	if (!e && !sha)
		e = errf("cannot read %s", store_path);
	char *partial = xasprintf("%s.partial", file);
	FILE *out = NULL;
	if (!e) {
		json_object_set_new(m, "store",
		                    json_pack("{s:s, s:s}", "file", store_name, "sha256", sha));
		char *mpath = xasprintf("%s/manifest.json", stage);
		if (json_dump_file(m, mpath, JSON_INDENT(1) | JSON_SORT_KEYS) != 0)
			e = errf("cannot write %s", mpath);
		free(mpath);
	}
	if (!e) {
		int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		out = fd >= 0 ? fdopen(fd, "wb") : NULL;
		if (!out) {
			if (fd >= 0)
				close(fd);
			e = errf("cannot write %s: %s", partial, strerror(errno));
		}
	}
	if (!e)
		e = tar_sealed(o, stage, store_name, out);
	if (out && (fflush(out) != 0 || fsync(fileno(out)) != 0) && !e)
		e = errf("cannot write %s: %s", partial, strerror(errno));
	if (out)
		fclose(out);
	if (!e && rename(partial, file) != 0)
		e = errf("cannot rename %s: %s", partial, strerror(errno));
	if (e)
		unlink(partial);
	remove_entry(stage);
	free(partial);
	free(sha);
	free(store_path);
	free(stage);
	json_decref(m);
	*err = e;
	return e ? 2 : 0;
}

/* ---- reading a backup back ---- */

/* Decrypts file and unpacks it into dir (which exists). */
static char *unpack(const struct backup_opts *o, const char *file, const char *dir)
{
	FILE *in = fopen(file, "rb");
	if (!in)
		return errf("cannot read %s: %s", file, strerror(errno));
	struct unsealer *u = xcalloc(1, sizeof *u);
	char *err = unseal_begin(u, in, o->passphrase);
	if (!err) {
		char *const argv[] = {"tar",         "--extract", "--file=-", "--no-same-owner",
		                      "--directory", (char *)dir, NULL};
		int fd = -1;
		pid_t pid = spawn(argv, true, &fd);
		err = pid < 0 ? errf("cannot run tar") : unseal_rest(u, fd);
		if (fd >= 0)
			close(fd);
		int st = pid > 0 ? child_status(pid) : -1;
		if (!err && st != 0)
			err = errf("the archive inside the backup is damaged (tar exit %d)", st);
	}
	sodium_memzero(u, sizeof *u);
	free(u);
	fclose(in);
	return err;
}

static json_t *read_manifest(const char *dir, char **err)
{
	char *path = xasprintf("%s/manifest.json", dir);
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	free(path);
	const char *store = json_string_value(json_object_get(json_object_get(m, "store"), "file"));
	if (!m || json_integer_value(json_object_get(m, "format")) != 1 || !store ||
	    (strcmp(store, "store.sqlite") != 0 && strcmp(store, "store.pgdump") != 0) ||
	    !json_is_object(json_object_get(m, "tables"))) {
		json_decref(m);
		*err = errf("the backup has no valid manifest.json");
		return NULL;
	}
	return m;
}

/* The store file's checksum against the manifest's. */
static char *check_store_file(const char *dir, json_t *m)
{
	json_t *s = json_object_get(m, "store");
	char *path = xasprintf("%s/%s", dir, json_string_value(json_object_get(s, "file")));
	char *sha = file_sha256(path);
	const char *want = json_string_value(json_object_get(s, "sha256"));
	char *err = NULL;
	if (!sha)
		err = errf("the backup holds no store file");
	else if (!want || strcmp(sha, want) != 0)
		err = errf("the store file's SHA-256 differs from the manifest's");
	free(sha);
	free(path);
	return err;
}

/* The counts of a restored or unpacked store against the manifest's. */
static char *compare_counts(db_conn *c, bool pg, json_t *m)
{
	json_t *now = json_object();
	char *err = NULL;
	if (!store_figures(c, pg, now)) {
		err = errf("cannot count the restored store's tables");
	} else if (!json_equal(json_object_get(now, "tables"), json_object_get(m, "tables"))) {
		err = errf("the store's row counts differ from the manifest's");
	} else if (!json_equal(json_object_get(now, "audit_head"),
	                       json_object_get(m, "audit_head"))) {
		err = errf("the audit log's head differs from the manifest's");
	}
	json_decref(now);
	return err;
}

static char *counts_of(const char *database, bool pg, json_t *m)
{
	const char *e = NULL;
	db_pool *p = db_pool_open(database, 1, &e);
	if (!p)
		return errf("cannot open the store %s: %s", database, e ? e : "?");
	db_conn *c = db_acquire(p);
	char *err = compare_counts(c, pg, m);
	db_release(p, c);
	db_pool_close(p);
	return err;
}

int backup_verify(const struct backup_opts *o, const char *file, json_t **manifest, char **err)
{
	*err = NULL;
	*manifest = NULL;
	signal(SIGPIPE, SIG_IGN);
	char *dir = temp_dir();
	if (!dir) {
		*err = errf("cannot make a temporary directory: %s", strerror(errno));
		return 2;
	}
	char *e = unpack(o, file, dir);
	json_t *m = e ? NULL : read_manifest(dir, &e);
	if (!e)
		e = check_store_file(dir, m);
	if (!e) {
		bool pg =
		    strcmp(json_string_value(json_object_get(m, "engine")), "postgresql") == 0;
		char *store = xasprintf("%s/%s", dir, pg ? "store.pgdump" : "store.sqlite");
		char *ca_key = xasprintf("%s/data/ca/ca.key", dir);
		if (access(ca_key, R_OK) != 0) {
			e = errf("the backup holds no CA key (data/ca/ca.key)");
		} else if (pg) {
			char *const argv[] = {"pg_restore", "--list", store, NULL};
			pid_t pid = spawn(argv, false, NULL);
			int st = pid < 0 ? -1 : child_status(pid);
			if (st != 0)
				e = errf("pg_restore cannot read the dump (exit %d)", st);
		} else {
			e = counts_of(store, false, m);
		}
		free(ca_key);
		free(store);
	}
	remove_entry(dir);
	free(dir);
	if (e) {
		json_decref(m);
		*err = e;
		return 2;
	}
	*manifest = m;
	return 0;
}

static bool dir_empty_or_absent(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT;
	struct dirent *e;
	bool empty = true;
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

static char *pg_target_empty(const char *database)
{
	const char *e = NULL;
	db_pool *p = db_pool_open(database, 1, &e);
	if (!p)
		return errf("cannot reach %s: %s", database, e ? e : "?");
	db_conn *c = db_acquire(p);
	db_result *r = NULL;
	char *err = NULL;
	if (DB_EXEC0(c, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()", &r) !=
	        DB_OK ||
	    r->nrows != 1)
		err = errf("cannot read %s's tables", database);
	else if (db_get_int(r, 0, 0, 0) != 0)
		err = errf("the database %s is not empty: restore into a new database", database);
	db_result_free(r);
	db_release(p, c);
	db_pool_close(p);
	return err;
}

/* For a store configured on another file system than the data directory:
 * rename cannot move it there.  The new file is made (O_EXCL), never an
 * existing one overwritten. */
static bool copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = in >= 0 ? open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	bool ok = in >= 0 && out >= 0;
	unsigned char *buf = xmalloc(CHUNK);
	ssize_t n;
	while (ok && (n = read(in, buf, CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && write_all(out, buf, (size_t)n);
	}
	ok = ok && fsync(out) == 0;
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0)
		ok = false;
	if (!ok && out >= 0)
		unlink(to);
	return ok;
}

/* Puts the unpacked store and data/ in place. */
static char *put_in_place(const struct backup_opts *o, const char *stage, bool pg)
{
	char *data = xasprintf("%s/data", stage);
	char *err = NULL;
	rmdir(o->data_dir); /* empty or absent: checked before */
	if (rename(data, o->data_dir) != 0)
		err = errf("cannot move the files into %s: %s", o->data_dir, strerror(errno));
	free(data);
	if (err)
		return err;
	char *store = xasprintf("%s/%s", stage, pg ? "store.pgdump" : "store.sqlite");
	if (pg) {
		char *db = xasprintf("--dbname=%s", o->database);
		char *const argv[] = {"pg_restore",
		                      "--no-owner",
		                      "--no-privileges",
		                      "--exit-on-error",
		                      "--single-transaction",
		                      db,
		                      store,
		                      NULL};
		int st = run(argv);
		if (st != 0)
			err = errf("pg_restore failed (exit %d)", st);
		free(db);
	} else if (rename(store, o->database) != 0 &&
	           (errno != EXDEV || !copy_file(store, o->database))) {
		err = errf("cannot move the store to %s: %s", o->database, strerror(errno));
	}
	free(store);
	return err;
}

int backup_restore(const struct backup_opts *o, const char *file, json_t **manifest, char **err)
{
	*err = NULL;
	*manifest = NULL;
	signal(SIGPIPE, SIG_IGN);
	bool pg = is_pg(o->database);
	struct stat sb;
	char *e = NULL;
	if (!dir_empty_or_absent(o->data_dir))
		e = errf("the data directory %s is not empty: restore into an empty one",
		         o->data_dir);
	else if (!pg && stat(o->database, &sb) == 0)
		e = errf("the store %s exists already", o->database);
	else if (pg)
		e = pg_target_empty(o->database);
	if (e) {
		*err = e;
		return 2;
	}
	/* Unpacked beside the data directory, so that it moves in by rename. */
	mkdir(o->data_dir, 0700);
	char *stage = temp_dir_near(o->data_dir);
	if (!stage) {
		*err = errf("cannot make a directory beside %s: %s", o->data_dir, strerror(errno));
		return 2;
	}
	e = unpack(o, file, stage);
	json_t *m = e ? NULL : read_manifest(stage, &e);
	if (!e)
		e = check_store_file(stage, m);
	if (!e && strcmp(json_string_value(json_object_get(m, "engine")),
	                 pg ? "postgresql" : "sqlite") != 0)
		e = errf("the backup is of a %s store; the configured database is %s",
		         json_string_value(json_object_get(m, "engine")),
		         pg ? "PostgreSQL" : "SQLite");
	if (!e)
		e = put_in_place(o, stage, pg);
	if (!e)
		e = counts_of(o->database, pg, m);
	remove_entry(stage);
	free(stage);
	if (e) {
		json_decref(m);
		*err = e;
		return 2;
	}
	*manifest = m;
	return 0;
}

/*
 * The audit log's chain: its key file, appending an entry, and checking
 * every entry's link and MAC.  See esp/audit.h for the threat it answers.
 *
 * An entry's MAC is HMAC-SHA-256 with the key over a canonical text of the
 * entry: a version tag, seq, time, actor id, then every text field (the
 * previous entry's MAC first) length-prefixed, so no two different entries
 * give the same text.  Entries older than the key keep their unkeyed
 * SHA-256 (the same text without the tag and actor id) and mac_version 0.
 *
 * The key file is text: "key = <64 hex>" and "keyed_from = <seq>", the first
 * entry that must be keyed.  It is made with O_EXCL and linked into place,
 * so two processes starting at once end up with the same key.  In memory
 * the key sits in libsodium's guarded allocation (locked, kept out of core
 * dumps, read-only once set, zeroed when freed); every other copy (the
 * file's text, the decoded bytes) is wiped right after use.
 */
#include "esp/audit.h"
#include "esp/policy.h"
#include "esp/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAC_HEX = 65, CHUNK = 1000, KEY_FILE_MAX = 4096 };

/* The slot: written at start or between tests, read by every append. */
static struct {
	unsigned char *key; /* sodium_malloc'ed, read-only; NULL when none */
	int64_t keyed_from;
} slot;

void audit_key_set(const unsigned char key[AUDIT_KEY_BYTES], int64_t keyed_from)
{
	audit_key_forget();
	if (sodium_init() < 0)
		abort();
	slot.key = sodium_malloc(AUDIT_KEY_BYTES);
	if (!slot.key)
		abort();
	memcpy(slot.key, key, AUDIT_KEY_BYTES);
	sodium_mprotect_readonly(slot.key);
	slot.keyed_from = keyed_from < 1 ? 1 : keyed_from;
}

void audit_key_forget(void)
{
	if (slot.key)
		sodium_free(slot.key); /* zeroes it */
	slot.key = NULL;
	slot.keyed_from = 0;
}

bool audit_key_loaded(void)
{
	return slot.key != NULL;
}

/* Parses the key file's text into key and *keyed_from; false when malformed. */
static bool key_parse(char *text, unsigned char key[AUDIT_KEY_BYTES], int64_t *keyed_from)
{
	bool have_key = false, have_from = false;
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		str_trim(line);
		if (!*line || *line == '#')
			continue;
		char *eq = strchr(line, '=');
		if (!eq)
			return false;
		*eq = '\0';
		char *k = str_trim(line), *v = str_trim(eq + 1);
		size_t n = 0;
		if (strcmp(k, "key") == 0) {
			have_key = strlen(v) == 2 * AUDIT_KEY_BYTES &&
			           sodium_hex2bin(key, AUDIT_KEY_BYTES, v, strlen(v), NULL, &n,
			                          NULL) == 0 &&
			           n == AUDIT_KEY_BYTES;
			if (!have_key)
				return false;
		} else if (strcmp(k, "keyed_from") == 0) {
			char *end;
			errno = 0;
			long long from = strtoll(v, &end, 10);
			if (errno || *end || end == v || from < 1)
				return false;
			*keyed_from = from;
			have_from = true;
		} else {
			return false;
		}
	}
	return have_key && have_from;
}

static enum audit_key_status key_load(const char *path)
{
	size_t n = 0;
	char *text = file_read_private(path, KEY_FILE_MAX - 1, &n);
	if (!text)
		return errno == ENOENT ? AUDIT_KEY_MISSING : AUDIT_KEY_BAD;
	unsigned char key[AUDIT_KEY_BYTES];
	int64_t from = 0;
	bool ok = key_parse(text, key, &from);
	sodium_memzero(text, n);
	free(text);
	if (ok)
		audit_key_set(key, from);
	sodium_memzero(key, sizeof key);
	return ok ? AUDIT_KEY_LOADED : AUDIT_KEY_BAD;
}

/* Makes fresh key text in a temporary file and links it to path; false on
 * any failure.  An EEXIST from link means another process won: fine, the
 * caller loads theirs. */
static bool key_create(const char *path, int64_t keyed_from)
{
	unsigned char key[AUDIT_KEY_BYTES];
	char hex[2 * AUDIT_KEY_BYTES + 1];
	char text[512];
	randombytes_buf(key, sizeof key);
	sodium_bin2hex(hex, sizeof hex, key, sizeof key);
	int len =
	    snprintf(text, sizeof text,
	             "# ESP 审计日志密钥 (audit-log MAC key): keep it secret, back it up with\n"
	             "# the CA (ca/), never edit it. Entries from keyed_from on are keyed.\n"
	             "key = %s\nkeyed_from = %" PRId64 "\n",
	             hex, keyed_from);
	sodium_memzero(key, sizeof key);
	sodium_memzero(hex, sizeof hex);
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	bool made = len > 0 && (size_t)len < sizeof text &&
	            file_write_new(tmp, text, (size_t)len, 0600) == 0;
	sodium_memzero(text, sizeof text);
	bool ok = made && (link(tmp, path) == 0 || errno == EEXIST);
	if (made)
		unlink(tmp);
	free(tmp);
	if (ok) {
		/* The key must survive a crash as surely as the entries it signs. */
		char *dir = xstrdup(path);
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dir);
	}
	return ok;
}

enum audit_key_status audit_key_open(db_conn *c, const char *path, bool create)
{
	audit_key_forget();
	enum audit_key_status st = key_load(path);
	if (st != AUDIT_KEY_MISSING || !create)
		return st;
	db_result *r = NULL;
	if (DB_EXEC0(c, "SELECT COALESCE(MAX(seq), 0) FROM audit_log", &r) != DB_OK) {
		db_result_free(r);
		return AUDIT_KEY_STORE;
	}
	int64_t keyed_from = db_get_int(r, 0, 0, 0) + 1;
	db_result_free(r);
	if (!key_create(path, keyed_from))
		return AUDIT_KEY_BAD;
	st = key_load(path);
	if (st != AUDIT_KEY_LOADED)
		return st;
	log_info("audit key created in %s: entries from seq %" PRId64 " on are keyed", path,
	         slot.keyed_from);
	return AUDIT_KEY_CREATED;
}

const char *audit_key_message(enum audit_key_status st)
{
	switch (st) {
	case AUDIT_KEY_LOADED:
		return "审计密钥已读取 (audit key loaded)";
	case AUDIT_KEY_CREATED:
		return "审计密钥已创建 (audit key created)";
	case AUDIT_KEY_MISSING:
		return "审计密钥文件不存在 (audit key file missing)";
	case AUDIT_KEY_BAD:
		return "审计密钥文件无法读取、格式错误或权限过宽，应为 0600 "
		       "(audit key file unreadable, malformed, or not mode 0600)";
	case AUDIT_KEY_STORE:
		return "无法读取审计日志 (cannot read the audit log)";
	}
	return "审计密钥错误 (audit key error)";
}

/* ---- the entries' MACs ---- */

struct entry {
	int64_t seq, at;
	const char *actor_id; /* decimal, "" when none */
	const char *prev, *actor, *address, *action, *object, *before, *after;
};

static void entry_text(struct buf *b, const struct entry *e)
{
	const char *fields[] = {e->prev,   e->actor,  e->address, e->action,
	                        e->object, e->before, e->after};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		buf_printf(b, "%zu:%s|", strlen(fields[i]), fields[i]);
}

/* mac_version 0: what entries carried before the key existed. */
static void entry_hash_v0(const struct entry *e, char out[MAC_HEX])
{
	struct buf b = {0};
	buf_printf(&b, "%" PRId64 "|%" PRId64 "|", e->seq, e->at);
	entry_text(&b, e);
	sha256_hex(b.data, b.len, out);
	buf_free(&b);
}

/* mac_version 1: keyed.  The caller has checked that a key is loaded. */
static void entry_mac_v1(const struct entry *e, char out[MAC_HEX])
{
	struct buf b = {0};
	buf_printf(&b, "esp-audit/1|%" PRId64 "|%" PRId64 "|%s|", e->seq, e->at, e->actor_id);
	entry_text(&b, e);
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256(mac, (const unsigned char *)b.data, b.len, slot.key);
	sodium_bin2hex(out, MAC_HEX, mac, sizeof mac);
	buf_free(&b);
}

enum db_status audit_append(db_conn *c, const struct actor *a, const char *action,
                            const char *object, const char *before, const char *after)
{
	if (!slot.key) {
		log_error("audit: no audit key loaded; entry %s %s refused", action, object);
		return DB_ERROR;
	}
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC0(c, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &r);
	if (st != DB_OK)
		return st;
	char actor_id[24] = "";
	if (a && a->account_id)
		snprintf(actor_id, sizeof actor_id, "%" PRId64, a->account_id);
	struct entry e = {
	    .seq = r->nrows ? db_get_int(r, 0, 0, 0) + 1 : 1,
	    .at = time_now(),
	    .actor_id = actor_id,
	    .prev = xstrdup(r->nrows ? db_get(r, 0, 1) : ""),
	    .actor = a ? a->username : "system",
	    .address = a && a->address ? a->address : "",
	    .action = action,
	    .object = object,
	    .before = before ? before : "",
	    .after = after ? after : "",
	};
	db_result_free(r);
	/* An entry below keyed_from would be a new unkeyed one: the store lost
	 * entries the key file says were there; refuse rather than hide it. */
	if (e.seq < slot.keyed_from) {
		log_error("audit: the log ends at seq %" PRId64
		          " but keyed entries began at %" PRId64 "; entry refused",
		          e.seq - 1, slot.keyed_from);
		free((char *)e.prev);
		return DB_ERROR;
	}
	char mac[MAC_HEX];
	entry_mac_v1(&e, mac);
	st = DB_EXEC(c,
	             "INSERT INTO audit_log (seq, at, actor_id, actor, address, action, object, "
	             "before_state, "
	             "after_state, prev_hash, hash, mac_version) "
	             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)",
	             NULL, P_INT(e.seq), P_INT(e.at),
	             a && a->account_id ? P_INT(a->account_id) : P_NULL, P_TEXT(e.actor),
	             P_TEXT(e.address), P_TEXT(e.action), P_TEXT(e.object), P_TEXT(e.before),
	             P_TEXT(e.after), P_TEXT(e.prev), P_TEXT(mac));
	free((char *)e.prev);
	return st;
}

struct audited_ctx {
	const char *sql;
	const struct db_param *params;
	int nparams;
	db_result **res;
	const struct actor *a;
	const char *action, *object, *before, *after;
};

static enum db_status audited_tx(db_conn *c, void *arg)
{
	struct audited_ctx *x = arg;
	if (x->res) {
		db_result_free(*x->res);
		*x->res = NULL;
	}
	enum db_status st = db_exec(c, x->sql, x->params, x->nparams, x->res);
	if (st != DB_OK)
		return st;
	return audit_append(c, x->a, x->action, x->object, x->before, x->after);
}

enum db_status db_exec_audited(db_conn *c, const char *sql, const struct db_param *params,
                               int nparams, db_result **res, const struct actor *a,
                               const char *action, const char *object, const char *before,
                               const char *after)
{
	if (res)
		*res = NULL;
	struct audited_ctx x = {.sql = sql,
	                        .params = params,
	                        .nparams = nparams,
	                        .res = res,
	                        .a = a,
	                        .action = action,
	                        .object = object,
	                        .before = before,
	                        .after = after};
	enum db_status st = db_transaction(c, audited_tx, &x);
	if (st != DB_OK && res) {
		db_result_free(*res);
		*res = NULL;
	}
	return st;
}

/* ---- checking the chain ---- */

/* Checks row i against the chain so far (prev, the seq expected next);
 * returns the fault, AUDIT_INTACT when the entry holds. */
static enum audit_fault check_row(db_result *r, int i, int64_t expect, const char *prev,
                                  int64_t keyed_from, char mac[MAC_HEX])
{
	struct entry e = {
	    .seq = db_get_int(r, i, 0, 0),
	    .at = db_get_int(r, i, 1, 0),
	    .actor_id = db_get(r, i, 2) ? db_get(r, i, 2) : "",
	    .actor = db_get(r, i, 3),
	    .address = db_get(r, i, 4),
	    .action = db_get(r, i, 5),
	    .object = db_get(r, i, 6),
	    .before = db_get(r, i, 7),
	    .after = db_get(r, i, 8),
	    .prev = db_get(r, i, 9),
	};
	int64_t version = db_get_int(r, i, 11, -1);
	if (e.seq != expect || strcmp(e.prev, prev) != 0)
		return AUDIT_BROKEN;
	if (version == 1 && !slot.key)
		return AUDIT_NO_KEY;
	/* The version must be the one the key file says, so that a keyed entry
	 * cannot be rewritten as an unkeyed one. */
	if (version != (e.seq >= keyed_from ? 1 : 0))
		return AUDIT_BROKEN;
	if (version == 1)
		entry_mac_v1(&e, mac);
	else
		entry_hash_v0(&e, mac);
	const char *stored = db_get(r, i, 10);
	return strlen(stored) == MAC_HEX - 1 && sodium_memcmp(mac, stored, MAC_HEX - 1) == 0
	           ? AUDIT_INTACT
	           : AUDIT_BROKEN;
}

enum audit_fault audit_check_chain(db_conn *c, struct audit_check *out)
{
	*out = (struct audit_check){0};
	/* Without a key, every entry is expected unkeyed; a keyed one then says
	 * AUDIT_NO_KEY instead of BROKEN. */
	int64_t keyed_from = slot.key ? slot.keyed_from : INT64_MAX;
	char prev[MAC_HEX] = "";
	for (;;) {
		db_result *r = NULL;
		if (DB_EXEC(
		        c,
		        "SELECT seq, at, actor_id, actor, address, action, object, before_state, "
		        "after_state, prev_hash, hash, mac_version FROM audit_log WHERE seq > $1 "
		        "ORDER BY seq LIMIT $2",
		        &r, P_INT(out->head), P_INT(CHUNK)) != DB_OK) {
			db_result_free(r);
			return out->fault = AUDIT_ERROR;
		}
		int n = r->nrows;
		for (int i = 0; i < n; i++) {
			char mac[MAC_HEX] = "";
			enum audit_fault f = check_row(r, i, out->head + 1, prev, keyed_from, mac);
			if (f != AUDIT_INTACT) {
				out->seq = db_get_int(r, i, 0, 0);
				db_result_free(r);
				return out->fault = f;
			}
			out->entries++;
			out->legacy += db_get_int(r, i, 11, 0) == 0;
			out->head++;
			memcpy(prev, mac, sizeof prev);
		}
		db_result_free(r);
		if (n < CHUNK)
			break;
	}
	memcpy(out->head_mac, prev, sizeof prev);
	return out->fault = AUDIT_INTACT;
}

int64_t audit_verify(db_conn *c, int64_t *checked)
{
	struct audit_check chk;
	enum audit_fault f = audit_check_chain(c, &chk);
	*checked = chk.entries;
	if (f == AUDIT_ERROR)
		return -1;
	return f == AUDIT_INTACT ? 0 : chk.seq;
}

const char *audit_fault_message(enum audit_fault f)
{
	switch (f) {
	case AUDIT_INTACT:
		return "审计日志完整 (audit log intact)";
	case AUDIT_BROKEN:
		return "审计日志链断裂：条目被修改、插入或删除 (audit chain broken: an entry was "
		       "edited, "
		       "inserted or deleted)";
	case AUDIT_TRUNCATED:
		return "审计日志被截断：锚点记录的条目已不存在或已被改动 (TRUNCATION: the log ends "
		       "before "
		       "the anchored entry, or that entry differs)";
	case AUDIT_ANCHOR_BAD:
		return "审计锚点无效：格式错误或CA签名不符 (anchor invalid: malformed or the CA "
		       "signature "
		       "does not verify)";
	case AUDIT_NO_KEY:
		return "缺少审计密钥，无法验证带密钥的条目 (no audit key: keyed entries cannot be "
		       "checked)";
	case AUDIT_ERROR:
		return "无法读取审计日志或锚点文件 (cannot read the audit log or the anchor file)";
	}
	return "审计检查失败 (audit check failed)";
}

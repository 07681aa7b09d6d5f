/*
 * Unit tests of the audit log (src/core/audit.c, audit_anchor.c) on both
 * engines, as an attacker who can write the store but cannot read the key
 * file or the CA key would try it: edit an entry, recompute the chain with
 * the old unkeyed hash, pass a keyed entry off as an old unkeyed one, delete
 * the newest entries after an anchor, forge an anchor.  Each must be found;
 * an untouched log must pass.  The key file's life (made 0600, loaded back,
 * refused when others may read it) is checked too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esp/audit_anchor.h"
#include "esp/ca.h"
#include "esp/core.h"
#include "esp/util.h"
#include "../dbfixture.h"
#include "../testdir.h"

/* One CA for the whole run (made once: it is the slow part), and the
 * current test's anchor file. */
static char *ca_dir, *other_ca_dir;
static esp_ca *ca, *other_ca;
static unsigned char key[AUDIT_KEY_BYTES];
static char anchors[512];

static int group_setup(void **state)
{
	ca_dir = test_dir_make("audit-ca");
	other_ca_dir = test_dir_make("audit-other-ca");
	if (ca_create(ca_dir, "测试") != CA_OK || ca_open(ca_dir, &ca) != CA_OK ||
	    ca_create(other_ca_dir, "另一个") != CA_OK || ca_open(other_ca_dir, &other_ca) != CA_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	ca_free(ca);
	ca_free(other_ca);
	test_dir_remove(ca_dir);
	test_dir_remove(other_ca_dir);
	free(ca_dir);
	free(other_ca_dir);
	audit_key_forget();
	return 0;
}

/* A fresh store, a fresh key (all entries keyed), no anchors yet. */
static int with_key(void **state, int (*setup)(void **))
{
	static int n;
	if (setup(state) != 0)
		return -1;
	randombytes_buf(key, sizeof key);
	audit_key_set(key, 1);
	snprintf(anchors, sizeof anchors, "%s/anchors-%d", ca_dir, ++n);
	unlink(anchors);
	return 0;
}
static int setup_sqlite_key(void **state)
{
	return with_key(state, setup_sqlite);
}
static int setup_pg_key(void **state)
{
	return with_key(state, setup_pg);
}

/* ---- helpers ------------------------------------------------------------------ */

static const struct actor admin = {
    .account_id = 7, .role = ROLE_ADMIN, .username = "admin", .address = "192.0.2.1"};

/* n entries: seq 1..n. */
static void append_entries(db_conn *c, int n)
{
	for (int i = 1; i <= n; i++) {
		char obj[32], after[32];
		snprintf(obj, sizeof obj, "fee:%d", i);
		snprintf(after, sizeof after, "{\"元\":%d}", 100 * i);
		assert_int_equal(
		    audit_append(c, i % 2 ? &admin : NULL, "fee.set", obj, "{}", after), DB_OK);
	}
}

static enum audit_fault check(db_conn *c, struct audit_check *chk)
{
	return audit_check_anchored(c, anchors, ca_cert_pem(ca), chk);
}

static void exec_ok(db_conn *c, const char *sql)
{
	assert_int_equal(DB_EXEC0(c, sql, NULL), DB_OK);
}

/* What an attacker does after editing an entry: recompute every hash from
 * seq `from` on, with the old unkeyed SHA-256 (with_key NULL) or, to show
 * that the key is what stops it, with the key.  version is what the rows'
 * mac_version is set to. */
static void recompute_chain(db_conn *c, int64_t from, const unsigned char *with_key, int version)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC0(c,
	                          "SELECT seq, at, actor, address, action, object, before_state, "
	                          "after_state, prev_hash, actor_id FROM audit_log ORDER BY seq",
	                          &r),
	                 DB_OK);
	char prev[65] = "";
	for (int i = 0; i < r->nrows; i++) {
		int64_t seq = db_get_int(r, i, 0, 0);
		if (seq < from) {
			db_result *h = NULL;
			assert_int_equal(
			    DB_EXEC(c, "SELECT hash FROM audit_log WHERE seq = $1", &h, P_INT(seq)),
			    DB_OK);
			snprintf(prev, sizeof prev, "%s", db_get(h, 0, 0));
			db_result_free(h);
			continue;
		}
		/* The text both versions cover (audit.c), the keyed one with a tag and
		 * the actor's id in front. */
		struct buf b = {0};
		if (with_key)
			buf_printf(&b, "esp-audit/1|%" PRId64 "|%" PRId64 "|%s|", seq,
			           db_get_int(r, i, 1, 0), db_get(r, i, 9) ? db_get(r, i, 9) : "");
		else
			buf_printf(&b, "%" PRId64 "|%" PRId64 "|", seq, db_get_int(r, i, 1, 0));
		const char *fields[] = {prev,
		                        db_get(r, i, 2),
		                        db_get(r, i, 3),
		                        db_get(r, i, 4),
		                        db_get(r, i, 5),
		                        db_get(r, i, 6),
		                        db_get(r, i, 7)};
		for (size_t k = 0; k < 7; k++)
			buf_printf(&b, "%zu:%s|", strlen(fields[k]), fields[k]);
		char hash[65];
		if (with_key) {
			unsigned char mac[crypto_auth_hmacsha256_BYTES];
			crypto_auth_hmacsha256(mac, (const unsigned char *)b.data, b.len, with_key);
			sodium_bin2hex(hash, sizeof hash, mac, sizeof mac);
		} else {
			sha256_hex(b.data, b.len, hash);
		}
		buf_free(&b);
		assert_int_equal(
		    DB_EXEC(c,
		            "UPDATE audit_log SET prev_hash = $1, hash = $2, mac_version = $3 "
		            "WHERE seq = $4",
		            NULL, P_TEXT(prev), P_TEXT(hash), P_INT(version), P_INT(seq)),
		    DB_OK);
		memcpy(prev, hash, sizeof prev);
	}
	db_result_free(r);
}

static void anchor_ok(db_conn *c, struct audit_anchor *a)
{
	struct audit_check chk;
	assert_int_equal(audit_anchor_write(c, ca, anchors, &chk, a), AUDIT_INTACT);
}

/* ---- the tests ------------------------------------------------------------------ */

static void test_intact_log_passes(void **state)
{
	struct fixture *f = *state;
	struct audit_check chk;
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(chk.entries, 0);
	append_entries(f->c, 5);
	struct audit_anchor a;
	anchor_ok(f->c, &a);
	assert_int_equal(a.seq, 5);
	append_entries(f->c, 2); /* entries after the last anchor are fine */
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(chk.entries, 7);
	assert_int_equal(chk.legacy, 0);
	assert_int_equal(chk.head, 7);
	assert_int_equal(chk.anchors, 1);
	assert_int_equal(chk.anchor_seq, 5);
	anchor_ok(f->c, &a);
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(chk.anchors, 2);
	assert_int_equal(chk.anchor_seq, 7);
	/* Every entry carries a MAC, not a bare hash. */
	db_result *r = NULL;
	assert_int_equal(DB_EXEC0(f->c, "SELECT COUNT(*) FROM audit_log WHERE mac_version = 1", &r),
	                 DB_OK);
	assert_int_equal(db_get_int(r, 0, 0, 0), 7);
	db_result_free(r);
	/* The anchor file's time is what espd schedules by. */
	assert_int_equal(audit_anchor_last_at(anchors), a.at);
}

static void test_edited_middle_entry_fails(void **state)
{
	struct fixture *f = *state;
	append_entries(f->c, 5);
	exec_ok(f->c, "UPDATE audit_log SET after_state = '{\"元\":1}' WHERE seq = 3");
	struct audit_check chk;
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 3);
	assert_int_equal(chk.entries, 2);
	/* Who did it counts too, though the old hash did not cover it. */
	exec_ok(f->c, "UPDATE audit_log SET after_state = '{\"元\":300}' WHERE seq = 3");
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	exec_ok(f->c, "UPDATE audit_log SET actor_id = 8 WHERE seq = 1");
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 1);
	exec_ok(f->c, "UPDATE audit_log SET actor_id = 7 WHERE seq = 1");
	/* A deleted middle entry: the next one no longer links up. */
	exec_ok(f->c, "DELETE FROM audit_log WHERE seq = 2");
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 3);
	int64_t checked = 0;
	assert_int_equal(audit_verify(f->c, &checked), 3);
}

static void test_recomputed_unkeyed_chain_fails(void **state)
{
	struct fixture *f = *state;
	append_entries(f->c, 5);
	exec_ok(f->c, "UPDATE audit_log SET after_state = '{\"元\":1}' WHERE seq = 2");
	/* The old hash has no secret: anyone could recompute it. */
	recompute_chain(f->c, 2, NULL, 1);
	struct audit_check chk;
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 2);
	/* Nor does it help to call the entries old (unkeyed) ones. */
	recompute_chain(f->c, 2, NULL, 0);
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 2);
	/* With the key the chain would hold: the key is what protects it. */
	recompute_chain(f->c, 2, key, 1);
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	/* Another key does not. */
	unsigned char wrong[AUDIT_KEY_BYTES];
	randombytes_buf(wrong, sizeof wrong);
	recompute_chain(f->c, 2, wrong, 1);
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 2);
}

static void test_anchor_catches_rewrite_with_key(void **state)
{
	struct fixture *f = *state;
	append_entries(f->c, 5);
	anchor_ok(f->c, NULL);
	/* Even one holding the key cannot rewrite what an anchor vouches for. */
	exec_ok(f->c, "UPDATE audit_log SET after_state = '{\"元\":1}' WHERE seq = 2");
	recompute_chain(f->c, 2, key, 1);
	struct audit_check chk;
	assert_int_equal(check(f->c, &chk), AUDIT_TRUNCATED);
	assert_int_equal(chk.seq, 5);
	assert_int_equal(chk.anchor_line, 1);
}

static void test_truncation_after_anchor(void **state)
{
	struct fixture *f = *state;
	append_entries(f->c, 6);
	anchor_ok(f->c, NULL);
	exec_ok(f->c, "DELETE FROM audit_log WHERE seq >= 5");
	struct audit_check chk;
	/* What is left still links up: only the anchor tells. */
	assert_int_equal(audit_check_chain(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(check(f->c, &chk), AUDIT_TRUNCATED);
	assert_int_equal(chk.seq, 6);
	assert_int_equal(chk.head, 4);
	assert_int_equal(chk.anchor_line, 1);
	/* New entries in the place of the deleted ones do not hide it. */
	append_entries(f->c, 3);
	assert_int_equal(check(f->c, &chk), AUDIT_TRUNCATED);
	assert_int_equal(chk.seq, 6);
	/* And no anchor is written over a truncated log. */
	struct audit_anchor a;
	assert_int_equal(audit_anchor_write(f->c, ca, anchors, &chk, &a), AUDIT_TRUNCATED);
	char *text = file_read_all(anchors, NULL);
	assert_non_null(text);
	assert_non_null(strchr(text, '\n'));
	assert_null(strchr(strchr(text, '\n') + 1, '\n'));
	free(text);
}

/* Rewrites the anchor file's only line through edit(). */
static void edit_anchor(void (*edit)(char *line))
{
	char *text = file_read_all(anchors, NULL);
	assert_non_null(text);
	edit(text);
	assert_int_equal(file_write_atomic(anchors, text, strlen(text), 0640), 0);
	free(text);
}
static void lower_seq(char *line)
{
	char *p = strstr(line, "seq=5 ");
	assert_non_null(p);
	p[4] = '4';
}
static void flip_signature(char *line)
{
	char *p = strstr(line, " sig=");
	assert_non_null(p);
	p[12] = p[12] == 'A' ? 'B' : 'A';
}
static void flip_mac(char *line)
{
	char *p = strstr(line, " mac=");
	assert_non_null(p);
	p[5] = p[5] == '0' ? '1' : '0';
}

static void test_tampered_anchor_fails(void **state)
{
	struct fixture *f = *state;
	append_entries(f->c, 5);
	anchor_ok(f->c, NULL);
	struct audit_check chk;
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	char *good = file_read_all(anchors, NULL);
	/* Moving the anchor back to cover up a truncation breaks its signature. */
	edit_anchor(lower_seq);
	assert_int_equal(check(f->c, &chk), AUDIT_ANCHOR_BAD);
	assert_int_equal(chk.anchor_line, 1);
	assert_int_equal(file_write_atomic(anchors, good, strlen(good), 0640), 0);
	edit_anchor(flip_signature);
	assert_int_equal(check(f->c, &chk), AUDIT_ANCHOR_BAD);
	assert_int_equal(file_write_atomic(anchors, good, strlen(good), 0640), 0);
	edit_anchor(flip_mac);
	assert_int_equal(check(f->c, &chk), AUDIT_ANCHOR_BAD);
	/* An anchor signed by another CA is not ours. */
	unlink(anchors);
	assert_int_equal(audit_anchor_write(f->c, other_ca, anchors, &chk, NULL), AUDIT_INTACT);
	assert_int_equal(check(f->c, &chk), AUDIT_ANCHOR_BAD);
	/* Nor is a line that is not an anchor at all. */
	assert_int_equal(file_write_atomic(anchors, good, strlen(good), 0640), 0);
	FILE *fp = fopen(anchors, "a");
	assert_non_null(fp);
	fputs("2026-01-01T00:00:00Z seq=9 mac=zz sig=AAAA\n", fp);
	fclose(fp);
	assert_int_equal(check(f->c, &chk), AUDIT_ANCHOR_BAD);
	assert_int_equal(chk.anchor_line, 2);
	assert_int_equal(file_write_atomic(anchors, good, strlen(good), 0640), 0);
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	free(good);
}

/* Entries from before the key (mac_version 0) still verify; a keyed entry
 * cannot be passed off as one of them. */
static void test_entries_older_than_the_key(void **state)
{
	struct fixture *f = *state;
	append_entries(f->c, 3);
	recompute_chain(f->c, 1, NULL, 0); /* as the code before the key wrote them */
	audit_key_set(key, 4);
	struct audit_check chk;
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(chk.legacy, 3);
	append_entries(f->c, 2);
	assert_int_equal(check(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(chk.entries, 5);
	assert_int_equal(chk.legacy, 3);
	/* An old entry edited: found as before. */
	exec_ok(f->c, "UPDATE audit_log SET object = 'fee:9' WHERE seq = 2");
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 2);
	exec_ok(f->c, "UPDATE audit_log SET object = 'fee:2' WHERE seq = 2");
	/* A keyed entry edited and rewritten the old way. */
	exec_ok(f->c, "UPDATE audit_log SET object = 'fee:9' WHERE seq = 4");
	recompute_chain(f->c, 4, NULL, 0);
	assert_int_equal(check(f->c, &chk), AUDIT_BROKEN);
	assert_int_equal(chk.seq, 4);
	/* Without the key, keyed entries cannot be checked: said, not passed. */
	audit_key_forget();
	exec_ok(f->c, "UPDATE audit_log SET mac_version = 1 WHERE seq = 4");
	assert_int_equal(check(f->c, &chk), AUDIT_NO_KEY);
	assert_int_equal(chk.seq, 4);
	/* And nothing is appended without it. */
	assert_int_equal(audit_append(f->c, &admin, "fee.set", "fee:1", "", ""), DB_ERROR);
}

/* An existing store without a key: the key is made (0600) with keyed
 * entries starting after the newest entry; loaded again, it is the same
 * key; a key file others may read, or a malformed one, is refused. */
static void test_key_file(void **state)
{
	struct fixture *f = *state;
	append_entries(f->c, 2);
	recompute_chain(f->c, 1, NULL, 0); /* as the code before the key wrote them */
	char *path = xasprintf("%s/audit-%d.key", ca_dir, (int)getpid());
	unlink(path);
	assert_int_equal(audit_key_open(f->c, path, false), AUDIT_KEY_MISSING);
	assert_false(audit_key_loaded());
	assert_int_equal(audit_key_open(f->c, path, true), AUDIT_KEY_CREATED);
	assert_true(audit_key_loaded());
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *text = file_read_all(path, NULL);
	assert_non_null(strstr(text, "keyed_from = 3\n"));
	sodium_memzero(text, strlen(text));
	free(text);
	append_entries(f->c, 2);
	struct audit_check chk;
	assert_int_equal(audit_check_chain(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(chk.entries, 4);
	assert_int_equal(chk.legacy, 2);
	audit_key_forget();
	assert_int_equal(audit_key_open(f->c, path, true), AUDIT_KEY_LOADED);
	assert_int_equal(audit_check_chain(f->c, &chk), AUDIT_INTACT);
	assert_int_equal(chk.entries, 4);
	/* A second "create" must not replace the key. */
	assert_int_equal(audit_key_open(f->c, path, true), AUDIT_KEY_LOADED);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(audit_key_open(f->c, path, true), AUDIT_KEY_BAD);
	assert_false(audit_key_loaded());
	assert_int_equal(file_write_atomic(path, "key = 00\nkeyed_from = 1\n", 24, 0600), 0);
	assert_int_equal(audit_key_open(f->c, path, true), AUDIT_KEY_BAD);
	unlink(path);
	free(path);
}

/* ---- main ------------------------------------------------------------------------ */

#define ENGINE_TESTS(setup)                                                                        \
	cmocka_unit_test_setup_teardown(test_intact_log_passes, setup, teardown),                  \
	    cmocka_unit_test_setup_teardown(test_edited_middle_entry_fails, setup, teardown),      \
	    cmocka_unit_test_setup_teardown(test_recomputed_unkeyed_chain_fails, setup, teardown), \
	    cmocka_unit_test_setup_teardown(test_anchor_catches_rewrite_with_key, setup,           \
	                                    teardown),                                             \
	    cmocka_unit_test_setup_teardown(test_truncation_after_anchor, setup, teardown),        \
	    cmocka_unit_test_setup_teardown(test_tampered_anchor_fails, setup, teardown),          \
	    cmocka_unit_test_setup_teardown(test_entries_older_than_the_key, setup, teardown),     \
	    cmocka_unit_test_setup_teardown(test_key_file, setup, teardown)

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest sqlite_tests[] = {ENGINE_TESTS(setup_sqlite_key)};
	const struct CMUnitTest pg_tests[] = {ENGINE_TESTS(setup_pg_key)};
	int failed =
	    cmocka_run_group_tests_name("audit sqlite", sqlite_tests, group_setup, group_teardown);
	const char *cluster = getenv("ESP_PG_CLUSTER");
	if (cluster && *cluster)
		failed += cmocka_run_group_tests_name("audit postgresql", pg_tests, group_setup,
		                                      group_teardown);
	else
		printf("PostgreSQL tests not run: ESP_PG_CLUSTER is not set\n");
	return failed ? 1 : 0;
}

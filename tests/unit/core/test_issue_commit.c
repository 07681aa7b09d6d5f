/*
 * Unit tests of the issuance committer (src/core/issue_commit.c) on SQLite
 * and, when ESP_PG_CLUSTER is set, PostgreSQL: the jobs queued while it is
 * held are stored by one transaction; a refusal inside that batch (no such
 * application, another province's RA, the paid sets all issued, a token
 * taken by an earlier job of the same batch) rolls back only itself; a job
 * let go while queued is never stored nor told; a job queued too long and
 * the jobs still queued at a stop are answered busy and never stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp/account.h"
#include "esp/application.h"
#include "esp/issue.h"
#include "../dbfixture.h"
#include "../testdir.h"
#include "appfixture.h"
#include "storetest.h"

/* What the committer's callbacks saw, per job. */
struct owner {
	int suspended, told;
};

static void on_suspend(void *arg)
{
	struct owner *o = arg;
	o->suspended++;
}

static void on_done(void *arg)
{
	struct owner *o = arg;
	__atomic_add_fetch(&o->told, 1, __ATOMIC_SEQ_CST);
}

static void wait_told(struct owner *o, size_t n)
{
	for (int i = 0; i < 3000; i++) {
		size_t told = 0;
		for (size_t k = 0; k < n; k++)
			told += __atomic_load_n(&o[k].told, __ATOMIC_SEQ_CST) > 0;
		if (told == n)
			return;
		usleep(2000);
	}
	fail_msg("the committer did not finish its jobs");
}

static char *csr_pem(void)
{
	/* One P-256 key and CSR for every job, made once with OpenSSL's
	 * command line: the CA takes only the public key from it. */
	static char *pem;
	if (!pem) {
		char *dir = test_dir_make("issue-commit-csr");
		char *cmd =
		    xasprintf("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		              "-nodes -subj /CN=x -keyout %s/k.pem -out %s/r.csr 2>/dev/null",
		              dir, dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
		char *path = xasprintf("%s/r.csr", dir);
		pem = file_read_all(path, NULL);
		assert_non_null(pem);
		free(path);
		test_dir_remove(dir);
		free(dir);
	}
	return pem;
}

static void province(db_conn *c, const char *code)
{
	if (store_count(c, "SELECT COUNT(*) FROM provinces WHERE code = $1", code) == 0)
		assert_int_equal(DB_EXEC(c,
		                         "INSERT INTO provinces (code, name, sort) VALUES ($1, "
		                         "'省' || $1, 99)",
		                         NULL, P_TEXT(code)),
		                 DB_OK);
}

/* An application of an approved 福建 registration, ready to issue `sets`. */
static char *ready_app(db_conn *c, const char *code, int sets)
{
	char *idem = xasprintf("idem-%s", code);
	char *number = fixture_application(c, "enterprise", code, idem, sets, NULL);
	free(idem);
	assert_int_equal(
	    DB_EXEC(c, "UPDATE applications SET state = 'ready_to_issue' WHERE number = $1", NULL,
	            P_TEXT(number)),
	    DB_OK);
	return number;
}

static struct actor ra_of(db_conn *c, const char *username, const char *province_code)
{
	int64_t id = 0;
	province(c, province_code);
	assert_int_equal(account_create(c, username, "签发口令12345", ROLE_RA, "制证员", 0,
	                                province_code, 0, &id),
	                 DB_OK);
	return (struct actor){.account_id = id,
	                      .role = ROLE_RA,
	                      .username = username,
	                      .province_code = province_code,
	                      .address = "127.0.0.1",
	                      .session_method = "token"};
}

struct t {
	esp_ca *ca;
	char *dir;
	struct issue_committer *q;
};

static struct t start(struct fixture *f, int max_wait_ms)
{
	struct t t = {.dir = test_dir_make("issue-commit-ca")};
	assert_int_equal(ca_create(t.dir, "测试"), CA_OK);
	assert_int_equal(ca_open(t.dir, &t.ca), CA_OK);
	const struct issue_committer_limits lim = {
	    .max_queue = 16, .max_batch = 16, .max_wait_ms = max_wait_ms, .store_wait_ms = 2000};
	t.q = issue_committer_start(f->pool, &lim);
	assert_non_null(t.q);
	issue_committer_hold(t.q, true);
	return t;
}

static void stop(struct t *t)
{
	issue_committer_free(t->q);
	ca_free(t->ca);
	test_dir_remove(t->dir);
	free(t->dir);
}

static struct issue_job *job(struct t *t, const struct actor *a, const char *number,
                             const char *token)
{
	enum issue_result res = ISSUE_ERROR;
	enum ca_status cs = CA_OK;
	struct issue_job *j = issue_job_new(t->ca, a, number, csr_pem(), token,
	                                    "http://127.0.0.1/ca/crl", 365, 24, &res, &cs);
	assert_non_null(j);
	return j;
}

static enum issue_result outcome(struct issue_job *j, char **serial)
{
	enum ca_status cs;
	struct issued out;
	bool busy = true;
	enum issue_result res = issue_job_outcome(j, &cs, &out, &busy);
	assert_false(busy);
	if (serial)
		*serial = out.serial ? xstrdup(out.serial) : NULL;
	issued_free(&out);
	return res;
}

static int64_t certs_of(db_conn *c, const char *number)
{
	return store_count(c,
	                   "SELECT COUNT(*) FROM certificates c JOIN applications a ON a.id = "
	                   "c.application_id WHERE a.number = $1",
	                   number);
}

static int64_t events_of(db_conn *c, const char *number)
{
	return store_count(c,
	                   "SELECT COUNT(*) FROM application_events e JOIN applications a ON a.id "
	                   "= e.application_id WHERE a.number = $1 AND e.action = 'issue'",
	                   number);
}

/* Nine jobs queued while the committer is held: one transaction stores them,
 * and each refusal undoes only itself. */
static void test_batch_and_refusals(void **state)
{
	struct fixture *f = *state;
	struct t t = start(f, 60000);
	struct actor ra = ra_of(f->c, "fj_ra", "35");
	struct actor other = ra_of(f->c, "gd_ra", "44");
	char *a = ready_app(f->c, "91350000000000001X", 2); /* two paid keys */
	char *b = ready_app(f->c, "91350000000000002X", 2);
	struct issue_job *j[9] = {
	    job(&t, &ra, a, "TA-1"),             /* 201 */
	    job(&t, &ra, "NO-SUCH-APP", "TX-1"), /* 404 */
	    job(&t, &ra, a, "TA-2"),             /* 201 */
	    job(&t, &ra, a, "TA-3"),             /* 409: both keys issued in this batch */
	    job(&t, &other, b, "TB-1"),          /* 403: another province's RA */
	    job(&t, &ra, b, "TA-1"), /* 409: TA-1 holds a valid certificate since job 0 */
	    job(&t, &ra, b, "TB-2"), /* 201 */
	    job(&t, &ra, a, "TA-1"), /* 200: the same token again, its certificate */
	    job(&t, &ra, b, "TB-3"), /* 201: the last key of b */
	};
	const enum issue_result want[9] = {ISSUE_OK,         ISSUE_NOT_FOUND, ISSUE_OK,
	                                   ISSUE_ALL_ISSUED, ISSUE_FORBIDDEN, ISSUE_TOKEN_IN_USE,
	                                   ISSUE_OK,         ISSUE_EXISTING,  ISSUE_OK};
	struct owner o[9] = {0};
	for (int i = 0; i < 9; i++) {
		assert_true(issue_committer_submit(t.q, j[i], on_suspend, on_done, &o[i]));
		assert_int_equal(o[i].suspended, 1); /* before it could be told */
		assert_int_equal(o[i].told, 0);
	}
	assert_int_equal(certs_of(f->c, a), 0); /* held: nothing stored yet */
	issue_committer_hold(t.q, false);
	wait_told(o, 9);
	char *serial[9] = {0};
	for (int i = 0; i < 9; i++) {
		assert_int_equal(o[i].told, 1);
		assert_int_equal(outcome(j[i], &serial[i]), want[i]);
	}
	assert_non_null(serial[0]);
	assert_string_equal(serial[7], serial[0]); /* the retry gets the same certificate */
	struct issue_commit_stats st;
	issue_committer_stats(t.q, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.jobs, 9);
	assert_int_equal(st.max_batch, 9);
	assert_int_equal(st.busy, 0);
	/* Stored: exactly the 201s, one event each, both applications issued. */
	assert_int_equal(certs_of(f->c, a), 2);
	assert_int_equal(certs_of(f->c, b), 2);
	assert_int_equal(events_of(f->c, a), 2);
	assert_int_equal(events_of(f->c, b), 2);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM applications WHERE state = 'issued' "
	                             "AND number IN ($1, 'x')",
	                             a),
	                 1);
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM certificates WHERE token_serial = $1", "TA-1"),
	    1);
	int64_t checked = 0;
	assert_int_equal(audit_verify(f->c, &checked), 0);
	assert_true(checked >= 4);
	for (int i = 0; i < 9; i++) {
		free(serial[i]);
		issue_job_release(j[i]);
	}
	free(a);
	free(b);
	stop(&t);
}

/* A job that fails after it has written (its certificate inserted, then
 * its event refused by a trigger planted for the test) takes its own
 * statements back with its SAVEPOINT, and only them: the jobs before and
 * after it in the same transaction are stored. */
static void test_failure_after_writes(void **state)
{
	struct fixture *f = *state;
	if (f->pg) {
		assert_int_equal(
		    DB_EXEC0(f->c,
		             "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql "
		             "AS $$ BEGIN IF NEW.note LIKE '%POISON%' THEN RAISE "
		             "EXCEPTION 'poisoned' USING ERRCODE = '23514'; END IF; "
		             "RETURN NEW; END $$",
		             NULL),
		    DB_OK);
		assert_int_equal(
		    DB_EXEC0(f->c,
		             "CREATE TRIGGER poison BEFORE INSERT ON application_events "
		             "FOR EACH ROW EXECUTE FUNCTION poison()",
		             NULL),
		    DB_OK);
	} else {
		assert_int_equal(
		    DB_EXEC0(f->c,
		             "CREATE TRIGGER poison BEFORE INSERT ON application_events "
		             "WHEN NEW.note LIKE '%POISON%' BEGIN SELECT RAISE(ABORT, "
		             "'poisoned'); END",
		             NULL),
		    DB_OK);
	}
	struct t t = start(f, 60000);
	struct actor ra = ra_of(f->c, "fj_ra", "35");
	char *a = ready_app(f->c, "91350000000000005X", 3);
	struct issue_job *j[3] = {job(&t, &ra, a, "TP-1"), job(&t, &ra, a, "POISON-1"),
	                          job(&t, &ra, a, "TP-2")};
	struct owner o[3] = {0};
	for (int i = 0; i < 3; i++)
		assert_true(issue_committer_submit(t.q, j[i], on_suspend, on_done, &o[i]));
	issue_committer_hold(t.q, false);
	wait_told(o, 3);
	assert_int_equal(outcome(j[0], NULL), ISSUE_OK);
	assert_int_equal(outcome(j[1], NULL), ISSUE_ERROR);
	assert_int_equal(outcome(j[2], NULL), ISSUE_OK);
	struct issue_commit_stats st;
	issue_committer_stats(t.q, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.jobs, 3);
	/* Exactly the two answered certificates, each with its event. */
	assert_int_equal(certs_of(f->c, a), 2);
	assert_int_equal(events_of(f->c, a), 2);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM certificates WHERE token_serial = $1",
	                             "POISON-1"),
	                 0);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM applications WHERE state = "
	                             "'ready_to_issue' AND number = $1",
	                             a),
	                 1);
	for (int i = 0; i < 3; i++)
		issue_job_release(j[i]);
	free(a);
	stop(&t);
}

/* A job let go while queued (its connection closed) leaves the queue: it is
 * neither stored nor told; the others are. */
static void test_release_queued(void **state)
{
	struct fixture *f = *state;
	struct t t = start(f, 60000);
	struct actor ra = ra_of(f->c, "fj_ra", "35");
	char *a = ready_app(f->c, "91350000000000003X", 3);
	struct issue_job *j[3] = {job(&t, &ra, a, "TR-1"), job(&t, &ra, a, "TR-2"),
	                          job(&t, &ra, a, "TR-3")};
	struct owner o[3] = {0};
	for (int i = 0; i < 3; i++)
		assert_true(issue_committer_submit(t.q, j[i], on_suspend, on_done, &o[i]));
	issue_job_release(j[1]);
	issue_committer_hold(t.q, false);
	for (int i = 0; i < 3000 && !(__atomic_load_n(&o[0].told, __ATOMIC_SEQ_CST) &&
	                              __atomic_load_n(&o[2].told, __ATOMIC_SEQ_CST));
	     i++)
		usleep(2000);
	assert_int_equal(o[0].told, 1);
	assert_int_equal(o[2].told, 1);
	assert_int_equal(o[1].told, 0);
	assert_int_equal(outcome(j[0], NULL), ISSUE_OK);
	assert_int_equal(outcome(j[2], NULL), ISSUE_OK);
	assert_int_equal(certs_of(f->c, a), 2);
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM certificates WHERE token_serial = $1", "TR-2"),
	    0);
	issue_job_release(j[0]);
	issue_job_release(j[2]);
	free(a);
	stop(&t);
}

static bool told_busy(struct issue_job *j)
{
	enum ca_status cs;
	struct issued out;
	bool busy = false;
	issue_job_outcome(j, &cs, &out, &busy);
	issued_free(&out);
	return busy;
}

/* A job queued longer than max_wait_ms, and the jobs still queued when the
 * committer stops, are answered busy and never stored; a stopped committer
 * takes no more jobs. */
static void test_expired_and_stop(void **state)
{
	struct fixture *f = *state;
	struct t t = start(f, 1);
	struct actor ra = ra_of(f->c, "fj_ra", "35");
	char *a = ready_app(f->c, "91350000000000004X", 3);
	struct issue_job *late = job(&t, &ra, a, "TE-1");
	struct owner o[3] = {0};
	assert_true(issue_committer_submit(t.q, late, on_suspend, on_done, &o[0]));
	usleep(20000);
	issue_committer_hold(t.q, false);
	wait_told(o, 1);
	assert_true(told_busy(late));
	issue_committer_hold(t.q, true);
	struct issue_job *q1 = job(&t, &ra, a, "TE-2"), *q2 = job(&t, &ra, a, "TE-3");
	assert_true(issue_committer_submit(t.q, q1, on_suspend, on_done, &o[1]));
	assert_true(issue_committer_submit(t.q, q2, on_suspend, on_done, &o[2]));
	issue_committer_stop(t.q);
	assert_int_equal(o[1].told, 1);
	assert_int_equal(o[2].told, 1);
	assert_true(told_busy(q1));
	assert_true(told_busy(q2));
	struct issue_job *after = job(&t, &ra, a, "TE-4");
	struct owner none = {0};
	assert_false(issue_committer_submit(t.q, after, on_suspend, on_done, &none));
	assert_int_equal(none.suspended, 0);
	issue_job_release(after); /* never submitted: the caller's */
	assert_int_equal(certs_of(f->c, a), 0);
	struct issue_commit_stats st;
	issue_committer_stats(t.q, &st);
	assert_int_equal(st.busy, 3);
	assert_int_equal(st.refused, 1);
	issue_job_release(late);
	issue_job_release(q1);
	issue_job_release(q2);
	free(a);
	stop(&t);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_batch_and_refusals, setup, teardown),                 \
	    cmocka_unit_test_setup_teardown(test_failure_after_writes, setup, teardown),           \
	    cmocka_unit_test_setup_teardown(test_release_queued, setup, teardown),                 \
	    cmocka_unit_test_setup_teardown(test_expired_and_stop, setup, teardown)

STORE_TEST_MAIN("issue_commit", TESTS)

/*
 * OCSP answers from the store, cached per certificate.
 *
 * A slot of the cache holds one certificate's status as last read and, for
 * the common request (one certificate, no nonce: RFC 5019's lightweight
 * profile, what browsers and GET send), the signed answer itself.  Every
 * request looks at one counter, the store's 'certificates' generation, which
 * the triggers of 014_ocsp.sql raise whenever a certificate's status
 * changes, whoever changes it (this espd, another one, espctl); it is read
 * with the other generations (generations_read), which asks the store only
 * when its commit mark has moved: on SQLite a commit, on PostgreSQL a
 * notification of a generation's change (db_pg_listen.c).  While it
 * stays the same, the slot answers without asking the store or signing.
 * When it moves, the certificate's row is read again; if its own status is
 * unchanged the signed answer is kept, so a revocation elsewhere does not
 * make every certificate's answer be signed again.  An answer is re-signed
 * once half its validity has passed, so none served is close to stale.
 *
 * Serials the store does not know are never cached (a certificate inserted
 * later bumps nothing), nor are answers with a nonce, which are signed per
 * request.  The slot count bounds the memory: a new certificate takes the
 * slot of whatever hashed there before.
 */
#include "esp/generation.h"
#include "esp/ocsp.h"
#include "esp/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SERIAL_MAX = 41 };

struct slot {
	pthread_mutex_t lock;
	char serial[SERIAL_MAX]; /* "" = empty */
	int64_t generation;      /* the store's counter when the status was read */
	struct ocsp_status st;
	unsigned char *der; /* signed answer for a nonce-less single request, or NULL */
	size_t der_len;
	time_t signed_at;
};

struct ocsp_cache {
	esp_ocsp *responder;
	struct slot *slots;
	size_t mask;
	int next_update_seconds;
	uint64_t hits, misses; /* atomic */
};

ocsp_cache *ocsp_cache_new(esp_ocsp *o, size_t slots, int next_update_seconds)
{
	size_t n = 16;
	while (n < slots && n < ((size_t)1 << 24))
		n <<= 1;
	ocsp_cache *c = xcalloc(1, sizeof *c);
	c->responder = o;
	c->slots = xcalloc(n, sizeof *c->slots);
	c->mask = n - 1;
	c->next_update_seconds = next_update_seconds;
	for (size_t i = 0; i < n; i++)
		pthread_mutex_init(&c->slots[i].lock, NULL);
	return c;
}

void ocsp_cache_free(ocsp_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++) {
		free(c->slots[i].der);
		pthread_mutex_destroy(&c->slots[i].lock);
	}
	free(c->slots);
	free(c);
}

void ocsp_cache_stats(const ocsp_cache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
	*misses = __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
}

static struct slot *slot_of(ocsp_cache *c, const char *serial)
{
	/* FNV-1a: serials are random already; this only spreads the hex. */
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = serial; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return &c->slots[h & c->mask];
}

/* The row's status; false on a store error. */
static bool read_status(db_conn *db, const char *serial, struct ocsp_status *st)
{
	db_result *r = NULL;
	if (DB_EXEC(db,
	            "SELECT status, revoked_at, revoke_reason FROM certificates WHERE serial = $1",
	            &r, P_TEXT(serial)) != DB_OK) {
		db_result_free(r);
		return false;
	}
	*st = (struct ocsp_status){.status = OCSP_CERT_UNKNOWN};
	if (r->nrows == 1) {
		bool revoked = strcmp(db_get(r, 0, 0), "revoked") == 0;
		st->status = revoked ? OCSP_CERT_REVOKED : OCSP_CERT_GOOD;
		st->revoked_at = revoked ? (time_t)db_get_int(r, 0, 1, 0) : 0;
		st->reason = revoked ? (int)db_get_int(r, 0, 2, 0) : 0;
	}
	db_result_free(r);
	return true;
}

static bool same_status(const struct ocsp_status *a, const struct ocsp_status *b)
{
	return a->status == b->status && a->revoked_at == b->revoked_at && a->reason == b->reason;
}

static void copy_der(const struct slot *s, unsigned char **der, size_t *len)
{
	*der = xmalloc(s->der_len);
	memcpy(*der, s->der, s->der_len);
	*len = s->der_len;
}

/* The status of serial at generation gen, from its slot or the store.  With
 * want_der, *der gets a copy of the slot's signed answer when it has a
 * fresh one.  false on a store error. */
static bool status_of(ocsp_cache *c, db_conn *db, const char *serial, int64_t gen,
                      struct ocsp_status *st, bool want_der, unsigned char **der, size_t *len)
{
	struct slot *s = slot_of(c, serial);
	pthread_mutex_lock(&s->lock);
	if (strcmp(s->serial, serial) == 0 && s->generation == gen) {
		*st = s->st;
		if (want_der && s->der && time(NULL) - s->signed_at < c->next_update_seconds / 2)
			copy_der(s, der, len);
		pthread_mutex_unlock(&s->lock);
		return true;
	}
	pthread_mutex_unlock(&s->lock);

	/* The store is read without the slot's lock: a slow store must not
	 * hold up the certificates that share the slot.  The generation was
	 * read before the row, so a status kept under it is never older than
	 * the store was at that generation. */
	if (!read_status(db, serial, st))
		return false;
	if (st->status == OCSP_CERT_UNKNOWN)
		return true;
	pthread_mutex_lock(&s->lock);
	if (strcmp(s->serial, serial) != 0) {
		free(s->der);
		s->der = NULL;
		snprintf(s->serial, sizeof s->serial, "%s", serial);
		s->st = *st;
		s->generation = gen;
	} else if (gen >= s->generation) {
		/* A reader that saw an older generation never moves it back. */
		if (!same_status(&s->st, st)) {
			free(s->der);
			s->der = NULL;
			s->st = *st;
		}
		s->generation = gen;
	}
	/* Unchanged status: the answer signed before still says it. */
	if (want_der && s->der && same_status(&s->st, st) && strcmp(s->serial, serial) == 0 &&
	    time(NULL) - s->signed_at < c->next_update_seconds / 2)
		copy_der(s, der, len);
	pthread_mutex_unlock(&s->lock);
	return true;
}

/* Keeps a freshly signed answer in the slot, if the slot still holds the
 * status it was signed for. */
static void keep_der(ocsp_cache *c, const char *serial, const struct ocsp_status *st,
                     const unsigned char *der, size_t len)
{
	struct slot *s = slot_of(c, serial);
	pthread_mutex_lock(&s->lock);
	if (strcmp(s->serial, serial) == 0 && same_status(&s->st, st)) {
		free(s->der);
		s->der = xmalloc(len);
		memcpy(s->der, der, len);
		s->der_len = len;
		s->signed_at = time(NULL);
	}
	pthread_mutex_unlock(&s->lock);
}

static void error_answer(enum ocsp_resp_status status, int http, unsigned char **der, size_t *len,
                         int *http_out)
{
	*http_out = http;
	if (!ocsp_error_answer(status, der, len)) {
		*der = NULL;
		*len = 0;
		*http_out = 500;
	}
}

void ocsp_answer(ocsp_cache *c, db_conn *db, const unsigned char *req, size_t req_len,
                 unsigned char **der, size_t *len, int *http, bool *cache_hit)
{
	*der = NULL;
	*len = 0;
	*cache_hit = false;
	ocsp_query *q = ocsp_query_parse(req, req_len);
	if (!q) {
		error_answer(OCSP_ANSWER_MALFORMED, 400, der, len, http);
		return;
	}
	int64_t gens[GEN_COUNT];
	if (!generations_read(db, gens) || gens[GEN_CERTIFICATES] < 0) {
		ocsp_query_free(q);
		error_answer(OCSP_ANSWER_TRY_LATER, 503, der, len, http);
		return;
	}
	int64_t gen = gens[GEN_CERTIFICATES];
	size_t n = ocsp_query_count(q);
	bool single = n == 1 && !ocsp_query_has_nonce(q);
	struct ocsp_status st[OCSP_MAX_SINGLE];
	for (size_t i = 0; i < n; i++) {
		const char *serial = ocsp_query_serial(c->responder, q, i);
		st[i] = (struct ocsp_status){.status = OCSP_CERT_UNKNOWN};
		if (serial && !status_of(c, db, serial, gen, &st[i], single, der, len)) {
			free(*der);
			*der = NULL;
			ocsp_query_free(q);
			error_answer(OCSP_ANSWER_TRY_LATER, 503, der, len, http);
			return;
		}
	}
	*http = 200;
	if (*der) {
		__atomic_add_fetch(&c->hits, 1, __ATOMIC_RELAXED);
		*cache_hit = true;
		ocsp_query_free(q);
		return;
	}
	__atomic_add_fetch(&c->misses, 1, __ATOMIC_RELAXED);
	if (!ocsp_sign_answer(c->responder, q, st, c->next_update_seconds, der, len)) {
		ocsp_query_free(q);
		error_answer(OCSP_ANSWER_INTERNAL, 500, der, len, http);
		return;
	}
	const char *serial = single ? ocsp_query_serial(c->responder, q, 0) : NULL;
	if (serial && st[0].status != OCSP_CERT_UNKNOWN)
		keep_der(c, serial, &st[0], *der, *len);
	ocsp_query_free(q);
}

char *ocsp_responder_url(const char *ocsp_url, const char *public_url)
{
	if (ocsp_url && *ocsp_url)
		return xstrdup(ocsp_url);
	size_t n = strlen(public_url);
	while (n > 0 && public_url[n - 1] == '/')
		n--;
	return xasprintf("%.*s/ocsp", (int)n, public_url);
}

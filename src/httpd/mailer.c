/*
 * espd's mail worker: one thread that sends the outbox (core/outbox.c) over
 * SMTP with libcurl, and runs the daily job that feeds it (renewal
 * reminders, overdue applications: core/notify.c).
 *
 * One message per SMTP transaction, one recipient each. The row is moved to
 * 'committing' from libcurl's read callback at the end of the body, that is
 * before libcurl sends the final "." (it sends it only after the callback
 * said end-of-data): the one point after which the server may have taken
 * the message. Why that makes each message go at most once and none go
 * silently missing is core/outbox.c's opening comment; docs/mail.md says it
 * for the admin.
 *
 * The worker has its own store connection (a pool of one), so a slow mail
 * server never holds a connection the pages need.
 */
#include "httpd.h"
#include "mailer.h"
#include "esp/notice.h"
#include "esp/notify.h"
#include "esp/outbox.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400

struct mailer {
	struct server *srv;
	db_pool *pool;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	CURL *curl;
	char *password;
	int64_t next_daily;
};

/* ---- the message ---- */

static void put_base64(struct buf *b, const unsigned char *p, size_t n)
{
	size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = xmalloc(cap);
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	buf_puts(b, s);
	free(s);
}

/* RFC 2047 encoded words of at most 45 bytes of UTF-8 each (60 characters
 * of base64), cut between characters, one per folded header line. */
static void put_encoded_header(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, "%s: ", name);
	size_t n = strlen(value), i = 0;
	while (i < n) {
		size_t end = i + 45 < n ? i + 45 : n;
		while (end < n && end > i && ((unsigned char)value[end] & 0xC0) == 0x80)
			end--;
		if (i)
			buf_puts(b, "\r\n ");
		buf_puts(b, "=?UTF-8?B?");
		put_base64(b, (const unsigned char *)value + i, end - i);
		buf_puts(b, "?=");
		i = end;
	}
	buf_puts(b, "\r\n");
}

static char *compose(const struct outbox_msg *m, const char *from, const char *subject,
                     const char *body)
{
	struct buf b = {0};
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	const char *at = strchr(from, '@');
	buf_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", date, from, m->recipient);
	/* Names the row: the admin matches a mail server's log to it. */
	buf_printf(&b, "Message-ID: <esp-outbox-%lld@%s>\r\nX-ESP-Outbox-Id: %lld\r\n",
	           (long long)m->id, at ? at + 1 : "localhost", (long long)m->id);
	put_encoded_header(&b, "Subject", subject);
	buf_puts(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
	             "Content-Transfer-Encoding: base64\r\n\r\n");
	/* The body's own line ends as CRLF, in lines of 57 bytes (76 base64). */
	struct buf text = {0};
	for (const char *p = body; *p; p++) {
		if (*p == '\n' && (p == body || p[-1] != '\r'))
			buf_putc(&text, '\r');
		buf_putc(&text, *p);
	}
	for (size_t i = 0; i < text.len; i += 57) {
		put_base64(&b, (const unsigned char *)text.data + i,
		           text.len - i < 57 ? text.len - i : 57);
		buf_puts(&b, "\r\n");
	}
	buf_free(&text);
	return buf_steal(&b);
}

/* ---- one transaction ---- */

/* A step recorded after the server answered must not be lost to a store
 * that is busy for a moment (SQLite's other writers): a few tries, then the
 * lease decides (a row left committing becomes in doubt, never resent). */
static enum db_status settle(enum db_status (*step)(db_conn *, int64_t, const char *, const char *),
                             db_conn *c, int64_t id, const char *token, const char *what)
{
	enum db_status st = DB_ERROR;
	for (int i = 0; i < 50; i++) {
		st = step(c, id, token, what);
		if (st == DB_OK || st == DB_CONFLICT)
			break;
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return st;
}

struct upload {
	const char *data;
	size_t len, off;
	db_conn *c;
	int64_t id;
	const char *token;
	bool committing; /* the row says so: the "." may go out */
};

static size_t read_body(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t room = size * nmemb, left = u->len - u->off;
	if (left) {
		size_t n = left < room ? left : room;
		memcpy(dst, u->data + u->off, n);
		u->off += n;
		return n;
	}
	/* End of the body: libcurl sends the "." after this returns 0. The
	 * store must say 'committing' first, or the "." must not go at all. */
	if (!u->committing) {
		if (outbox_committing(u->c, u->id, u->token) != DB_OK)
			return CURL_READFUNC_ABORT;
		u->committing = true;
	}
	return 0;
}

static void set_options(struct mailer *m, const char *rcpt_addr, struct curl_slist **rcpt)
{
	struct esp_config *cfg = m->srv->cfg;
	CURL *h = m->curl;
	curl_easy_setopt(h, CURLOPT_URL, config_get(cfg, "smtp_url"));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USE_SSL,
	                 config_get_bool(cfg, "smtp_require_tls") ? (long)CURLUSESSL_ALL
	                                                          : (long)CURLUSESSL_TRY);
	const char *ca = config_get(cfg, "smtp_ca_file");
	if (ca && *ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	const char *user = config_get(cfg, "smtp_username");
	if (user && *user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, m->password ? m->password : "");
	}
	long timeout = config_get_long(cfg, "smtp_timeout_seconds");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout < 15 ? timeout : 15L);
	char *from = xasprintf("<%s>", config_get(cfg, "smtp_from"));
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from); /* libcurl copies it */
	free(from);
	char *to = xasprintf("<%s>", rcpt_addr);
	*rcpt = curl_slist_append(NULL, to);
	free(to);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, *rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
}

/* A header's address: no line breaks, nothing but what an address holds. */
static bool plain_address(const char *s)
{
	if (!*s || !strchr(s, '@'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || strchr("<>()[]\\,;:\"", *s) || *s == 0x7f)
			return false;
	return true;
}

static void send_one(struct mailer *m, db_conn *c, struct outbox_msg *msg, const char *token)
{
	struct esp_config *cfg = m->srv->cfg;
	int max_attempts = (int)config_get_long(cfg, "smtp_max_attempts");
	int64_t retry =
	    outbox_backoff(msg->attempts, (int)config_get_long(cfg, "smtp_retry_seconds"),
	                   (int)config_get_long(cfg, "smtp_retry_max_seconds"));
	char *subject = NULL, *body = NULL;
	if (!plain_address(msg->recipient) ||
	    notice_render(m->srv->tpl, msg->kind, msg->params, m->srv->public_url, &subject,
	                  &body) != 0) {
		outbox_failed(c, msg->id, token, "收件地址或邮件模板无效", true, 0, max_attempts);
		return;
	}
	char *text = compose(msg, config_get(cfg, "smtp_from"), subject, body);
	free(subject);
	free(body);
	struct upload u = {
	    .data = text, .len = strlen(text), .c = c, .id = msg->id, .token = token};
	struct curl_slist *rcpt = NULL;
	set_options(m, msg->recipient, &rcpt);
	curl_easy_setopt(m->curl, CURLOPT_READDATA, &u);
	CURLcode rc = curl_easy_perform(m->curl);
	long code = 0;
	curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	free(text);
	char *why = code
	                ? xasprintf("邮件服务器答复 SMTP %ld（%s）", code, curl_easy_strerror(rc))
	                : xasprintf("未能与邮件服务器完成 SMTP 会话（%s）", curl_easy_strerror(rc));
	if (rc == CURLE_OK) {
		char reply[32];
		snprintf(reply, sizeof reply, "%ld", code);
		if (settle(outbox_sent, c, msg->id, token, reply) != DB_OK)
			log_error("mail %lld: accepted (%ld) but not recorded: it stays in doubt",
			          (long long)msg->id, code);
	} else if (!u.committing || code >= 400) {
		/* The "." never went out, or the server refused the message (the
		 * last reply is its answer to the "."): nothing was taken. */
		outbox_failed(c, msg->id, token, why, code >= 500 && code < 600, retry,
		              max_attempts);
		log_info("mail %lld to %s: %s (attempt %d)", (long long)msg->id, msg->audience, why,
		         msg->attempts);
	} else {
		settle(outbox_in_doubt, c, msg->id, token, why);
		log_error("mail %lld: no reply to the end of the message (%s): held for the admin",
		          (long long)msg->id, why);
	}
	free(why);
}

/* ---- the thread ---- */

static void daily_job(struct mailer *m, db_conn *c)
{
	int64_t now = time_now();
	if (now < m->next_daily)
		return;
	int found = 0;
	if (notify_daily(c, now, m->srv->limits.delivery_days, &found) == DB_OK) {
		m->next_daily = now + DAY;
		log_info("daily notices: %d certificates and applications to tell", found);
	} else {
		m->next_daily = now + 60; /* the store was busy: soon again */
	}
}

static void nap_ms(struct mailer *m, long ms)
{
	for (; ms > 0 && !atomic_load(&m->stop); ms -= 100) {
		struct timespec ts = {0, (ms < 100 ? ms : 100) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void *mailer_thread(void *arg)
{
	struct mailer *m = arg;
	struct esp_config *cfg = m->srv->cfg;
	bool sending = *config_get(cfg, "smtp_url") != '\0';
	long poll = config_get_long(cfg, "mail_poll_ms");
	int lease = (int)config_get_long(cfg, "smtp_lease_seconds");
	while (!atomic_load(&m->stop)) {
		db_conn *c = db_acquire(m->pool);
		daily_job(m, c);
		outbox_expire(c, time_now(), NULL);
		struct outbox_msg msg = {0};
		char *token = random_token(16);
		bool got = sending && outbox_claim(c, time_now(), lease, token, &msg) == DB_OK;
		if (got)
			send_one(m, c, &msg, token);
		outbox_msg_clear(&msg);
		free(token);
		db_release(m->pool, c);
		if (!got)
			nap_ms(m, poll);
	}
	return NULL;
}

struct mailer *mailer_start(struct server *srv)
{
	const char *err = NULL;
	db_pool *pool = db_pool_open(config_get(srv->cfg, "database"), 1, &err);
	if (!pool) {
		log_error("mail worker: store: %s", err ? err : "?");
		return NULL;
	}
	struct mailer *m = xcalloc(1, sizeof *m);
	m->srv = srv;
	m->pool = pool;
	/* Once, before the worker's first handle (libcurl 7.84+ makes it
	 * thread-safe; the listeners are already running). */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m->curl = curl_easy_init();
	const char *pw = config_get(srv->cfg, "smtp_password_file");
	if (pw && *pw) {
		size_t len = 0;
		m->password = file_read_private(pw, 4096, &len);
		if (!m->password)
			log_error(
			    "mail worker: %s unreadable (it must be mode 0600): no SMTP login", pw);
		else
			m->password[strcspn(m->password, "\r\n")] = '\0';
	}
	if (!*config_get(srv->cfg, "smtp_url"))
		log_info("mail worker: no smtp_url: notifications wait in the outbox");
	/* A lease shorter than an exchange lets another espd take a message
	 * this one is still sending: it stays at most once (the "." needs the
	 * lease), but it becomes in doubt for nothing. */
	if (config_get_long(srv->cfg, "smtp_lease_seconds") <=
	    config_get_long(srv->cfg, "smtp_timeout_seconds"))
		log_error(
		    "mail worker: smtp_lease_seconds should be more than smtp_timeout_seconds");
	if (!m->curl || pthread_create(&m->thread, NULL, mailer_thread, m) != 0) {
		log_error("mail worker: could not start");
		mailer_stop(m);
		return NULL;
	}
	m->thread_started = true;
	return m;
}

void mailer_stop(struct mailer *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, true);
	if (m->thread_started)
		pthread_join(m->thread, NULL);
	if (m->curl)
		curl_easy_cleanup(m->curl);
	if (m->password) {
		sodium_memzero(m->password, strlen(m->password));
		free(m->password);
	}
	db_pool_close(m->pool);
	free(m);
}

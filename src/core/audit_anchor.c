/*
 * Anchors of the audit log (esp/audit_anchor.h): signing the chain's head
 * with the issuing CA, appending it to the anchor file, and checking every
 * anchor against the log.  The file is only ever appended to, one write()
 * per line with O_APPEND, so espd's daily anchor and an `espctl audit
 * anchor` at the same moment each land as a whole line.
 */
#include "esp/audit_anchor.h"
#include "esp/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ANCHOR_TAG "esp-audit-anchor/1 "

enum { SIG_MAX = 512, SIG_B64_MAX = 1024, LINE_MAX_LEN = 2048 };

static const char zero_mac[65] = "0000000000000000000000000000000000000000000000000000000000000000";

/* The part of a line the signature covers: time, seq and MAC. */
static int anchor_prefix(char *out, size_t size, const struct audit_anchor *a)
{
	time_t t = (time_t)a->at;
	struct tm tm;
	char when[32];
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -1;
	return snprintf(out, size, "%s seq=%" PRId64 " mac=%s", when, a->seq, a->mac);
}

/* One parsed line; the prefix is the line up to " sig=". */
struct anchor_line {
	struct audit_anchor a;
	char *prefix;    /* points into the line, NUL-terminated in place */
	const char *sig; /* base64 */
};

static bool is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

/* Parses line in place; false when it is not an anchor line. */
static bool anchor_parse(char *line, struct anchor_line *out)
{
	char *sig = strstr(line, " sig=");
	if (!sig)
		return false;
	*sig = '\0';
	out->prefix = line;
	out->sig = sig + 5;
	struct tm tm = {0};
	const char *rest = strptime(line, "%Y-%m-%dT%H:%M:%SZ", &tm);
	long long seq = -1;
	char mac[66] = "";
	int used = 0;
	if (!rest || sscanf(rest, " seq=%lld mac=%65s%n", &seq, mac, &used) != 2 ||
	    rest[used] != '\0' || seq < 0 || !is_hex64(mac))
		return false;
	out->a.at = (int64_t)timegm(&tm);
	out->a.seq = seq;
	memcpy(out->a.mac, mac, sizeof out->a.mac);
	/* The line must be exactly what we would have written, so that the
	 * signature covers all of it but the signature itself. */
	char again[LINE_MAX_LEN];
	return anchor_prefix(again, sizeof again, &out->a) > 0 && strcmp(again, line) == 0;
}

static bool anchor_signature_ok(const struct anchor_line *l, const char *ca_cert_pem)
{
	unsigned char sig[SIG_MAX];
	size_t n = 0;
	if (sodium_base642bin(sig, sizeof sig, l->sig, strlen(l->sig), NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	char *msg = xasprintf(ANCHOR_TAG "%s", l->prefix);
	bool ok = ca_verify_blob(ca_cert_pem, msg, strlen(msg), sig, n);
	free(msg);
	return ok;
}

/* The anchored entry must still be in the (already checked) chain with the
 * MAC the anchor names. */
static enum audit_fault anchor_entry_ok(db_conn *c, const struct audit_anchor *a,
                                        const struct audit_check *chk)
{
	if (a->seq == 0)
		return strcmp(a->mac, zero_mac) == 0 ? AUDIT_INTACT : AUDIT_TRUNCATED;
	if (a->seq > chk->head)
		return AUDIT_TRUNCATED;
	db_result *r = NULL;
	if (DB_EXEC(c, "SELECT hash FROM audit_log WHERE seq = $1", &r, P_INT(a->seq)) != DB_OK) {
		db_result_free(r);
		return AUDIT_ERROR;
	}
	enum audit_fault f =
	    r->nrows == 1 && strcmp(db_get(r, 0, 0), a->mac) == 0 ? AUDIT_INTACT : AUDIT_TRUNCATED;
	db_result_free(r);
	return f;
}

enum audit_fault audit_check_anchored(db_conn *c, const char *path, const char *ca_cert_pem,
                                      struct audit_check *chk)
{
	if (audit_check_chain(c, chk) != AUDIT_INTACT)
		return chk->fault;
	errno = 0;
	char *text = file_read_all(path, NULL);
	if (!text)
		return chk->fault = errno == ENOENT ? AUDIT_INTACT : AUDIT_ERROR;
	int lineno = 0;
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (!*line || *line == '#')
			continue;
		struct anchor_line l = {0};
		enum audit_fault f = AUDIT_ANCHOR_BAD;
		if (anchor_parse(line, &l) && anchor_signature_ok(&l, ca_cert_pem))
			f = anchor_entry_ok(c, &l.a, chk);
		if (f != AUDIT_INTACT) {
			chk->anchor_line = lineno;
			if (f == AUDIT_TRUNCATED)
				chk->seq = l.a.seq;
			free(text);
			return chk->fault = f;
		}
		chk->anchors++;
		chk->anchor_seq = l.a.seq;
	}
	free(text);
	return chk->fault = AUDIT_INTACT;
}

int64_t audit_anchor_last_at(const char *path)
{
	char *text = file_read_all(path, NULL);
	if (!text)
		return 0;
	int64_t last = 0;
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct anchor_line l = {0};
		if (*line && *line != '#' && anchor_parse(line, &l))
			last = l.a.at;
	}
	free(text);
	return last;
}

/* Appends one line with one write(): O_APPEND keeps concurrent lines whole. */
static bool append_line(const char *path, const char *line, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return false;
	ssize_t w;
	do
		w = write(fd, line, len);
	while (w < 0 && errno == EINTR);
	bool ok = w == (ssize_t)len && fsync(fd) == 0;
	return close(fd) == 0 && ok;
}

enum audit_fault audit_anchor_write(db_conn *c, esp_ca *ca, const char *path,
                                    struct audit_check *chk, struct audit_anchor *out)
{
	if (audit_check_anchored(c, path, ca_cert_pem(ca), chk) != AUDIT_INTACT)
		return chk->fault;
	struct audit_anchor a = {.at = time_now(), .seq = chk->head};
	memcpy(a.mac, chk->head ? chk->head_mac : zero_mac, sizeof a.mac);
	char prefix[LINE_MAX_LEN];
	if (anchor_prefix(prefix, sizeof prefix, &a) <= 0)
		return AUDIT_ERROR;
	char *msg = xasprintf(ANCHOR_TAG "%s", prefix);
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	enum ca_status cs = ca_sign_blob(ca, msg, strlen(msg), &sig, &sig_len);
	free(msg);
	if (cs != CA_OK || sig_len > SIG_MAX) {
		free(sig);
		return AUDIT_ERROR;
	}
	char b64[SIG_B64_MAX];
	sodium_bin2base64(b64, sizeof b64, sig, sig_len, sodium_base64_VARIANT_ORIGINAL);
	free(sig);
	char *line = xasprintf("%s sig=%s\n", prefix, b64);
	bool ok = append_line(path, line, strlen(line));
	if (ok)
		log_info("audit anchor written to %s: %.*s", path, (int)strlen(line) - 1, line);
	else
		log_error("audit anchor could not be written to %s: %s", path, strerror(errno));
	free(line);
	if (!ok)
		return AUDIT_ERROR;
	if (out)
		*out = a;
	return AUDIT_INTACT;
}

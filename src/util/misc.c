/* Logging, time, files, random tokens and string helpers. */
#include "esp/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void log_v(const char *level, const char *fmt, va_list ap)
{
	char line[2048];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	n += snprintf(line + n, sizeof line - (size_t)n, "%s ", level);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	/* One write per line so concurrent threads never interleave. */
	size_t len = strlen(line);
	if (len < sizeof line - 1)
		line[len++] = '\n';
	else
		line[sizeof line - 2] = '\n';
	(void)!write(2, line, len);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v("info", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v("error", fmt, ap);
	va_end(ap);
}

int64_t time_now(void)
{
	/* Tests move the clock (the 20-day promise, expiry warnings). */
	static int64_t offset = -1;
	if (offset < 0) {
		const char *f = getenv("ESP_TIME_OFFSET");
		offset = f ? strtoll(f, NULL, 10) : 0;
		if (offset < 0)
			offset = 0;
	}
	return (int64_t)time(NULL) + offset;
}

int64_t time_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define CST_OFFSET (8 * 3600)

char *time_date(struct arena *a, int64_t t)
{
	if (t <= 0)
		return arena_strdup(a, "");
	time_t x = (time_t)(t + CST_OFFSET);
	struct tm tm;
	gmtime_r(&x, &tm);
	return arena_printf(a, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

char *time_datetime(struct arena *a, int64_t t)
{
	if (t <= 0)
		return arena_strdup(a, "");
	time_t x = (time_t)(t + CST_OFFSET);
	struct tm tm;
	gmtime_r(&x, &tm);
	return arena_printf(a, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	                    tm.tm_mday, tm.tm_hour, tm.tm_min);
}

int64_t time_parse_date(const char *s)
{
	int y, m, d;
	char extra;
	if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3)
		return -1;
	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
	time_t t = timegm(&tm);
	struct tm back;
	gmtime_r(&t, &back);
	if (back.tm_mday != d || back.tm_mon != m - 1)
		return -1;
	return (int64_t)t - CST_OFFSET;
}

char *file_read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = {0};
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_put(&b, tmp, n);
	bool err = ferror(f);
	fclose(f);
	if (err) {
		buf_free(&b);
		return NULL;
	}
	if (len)
		*len = b.len;
	return buf_steal(&b);
}

int file_write_atomic(const char *path, const void *data, size_t len, int mode)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			free(tmp);
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

char *random_token(size_t nbytes)
{
	unsigned char raw[64];
	if (nbytes > sizeof raw)
		nbytes = sizeof raw;
	randombytes_buf(raw, nbytes);
	size_t cap = sodium_base64_ENCODED_LEN(nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = xmalloc(cap);
	sodium_bin2base64(out, cap, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	return out;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static size_t ws_len_at(const char *s)
{
	if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		return 1;
	if ((unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] == 0x80)
		return 3;
	return 0;
}

char *str_trim(char *s)
{
	if (!s)
		return s;
	size_t k;
	char *p = s;
	while ((k = ws_len_at(p)))
		p += k;
	if (p != s)
		memmove(s, p, strlen(p) + 1);
	size_t n = strlen(s);
	for (;;) {
		if (n >= 1 && ws_len_at(s + n - 1) == 1) {
			s[--n] = '\0';
		} else if (n >= 3 && ws_len_at(s + n - 3) == 3) {
			n -= 3;
			s[n] = '\0';
		} else {
			break;
		}
	}
	return s;
}

bool str_empty(const char *s) { return !s || !*s; }

/* Logging, time, files, random tokens and string helpers. */
#include "esp/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
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

int64_t time_now_coarse_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define CST_OFFSET (8 * 3600)

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian), by eras
 * of 400 years (146097 days) counted from 0000-03-01. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;                                      /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153; /* [0, 11], March = 0 */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static char *put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" of t in CST, written by hand (this runs
 * for every row of every list).  Years outside 1000-9999 never occur for
 * t > 0 before the year 10000; they go through printf as before. */
static char *format_cst(struct arena *a, int64_t t, bool with_time)
{
	int64_t x = t + CST_OFFSET;
	int64_t days = x / 86400, secs = x % 86400;
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60);
	if (y < 1000 || y > 9999) {
		if (with_time)
			return arena_printf(a, "%04lld-%02d-%02d %02d:%02d", (long long)y, m, d, hh,
			                    mm);
		return arena_printf(a, "%04lld-%02d-%02d", (long long)y, m, d);
	}
	char *out = arena_alloc(a, with_time ? 17 : 11);
	char *p = out;
	p = put2(p, (int)(y / 100));
	p = put2(p, (int)(y % 100));
	*p++ = '-';
	p = put2(p, m);
	*p++ = '-';
	p = put2(p, d);
	if (with_time) {
		*p++ = ' ';
		p = put2(p, hh);
		*p++ = ':';
		p = put2(p, mm);
	}
	*p = '\0';
	return out;
}

char *time_date(struct arena *a, int64_t t)
{
	if (t <= 0)
		return arena_strdup(a, "");
	return format_cst(a, t, false);
}

char *time_datetime(struct arena *a, int64_t t)
{
	if (t <= 0)
		return arena_strdup(a, "");
	return format_cst(a, t, true);
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

/* file_read_max and file_read_private: a private file must be a regular
 * file, not reached through a symbolic link, that only its owner may read. */
static char *read_bounded(const char *path, size_t max, size_t *len, bool private)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (private ? O_NOFOLLOW : 0));
	if (fd < 0)
		return NULL;
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return NULL;
	}
	if (private && (!S_ISREG(sb.st_mode) || (sb.st_mode & 077))) {
		close(fd);
		errno = EACCES;
		return NULL;
	}
	if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	/* A regular file is read into room for its size; anything else (a pipe,
	 * /dev/stdin) grows the buffer as it comes. */
	size_t cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size : 65536;
	char *buf = xmalloc(cap + 1);
	size_t n = 0;
	int err = 0;
	for (;;) {
		if (n == cap) {
			/* Full: one byte more says whether there is more to come. */
			char extra;
			ssize_t r = read(fd, &extra, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				err = r < 0 ? errno : 0;
				break;
			}
			if (cap >= max) {
				err = EFBIG;
				break;
			}
			size_t grown = cap < max / 2 ? (cap < 32 ? 64 : cap * 2) : max;
			if (grown > max)
				grown = max;
			char *bigger = xmalloc(grown + 1);
			memcpy(bigger, buf, n);
			sodium_memzero(buf, n);
			free(buf);
			buf = bigger;
			cap = grown;
			buf[n++] = extra;
			continue;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (err) {
		sodium_memzero(buf, n);
		free(buf);
		errno = err;
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *file_read_max(const char *path, size_t max, size_t *len)
{
	return read_bounded(path, max, len, false);
}

char *file_read_private(const char *path, size_t max, size_t *len)
{
	return read_bounded(path, max, len, true);
}

char *file_read_all(const char *path, size_t *len)
{
	return file_read_max(path, SIZE_MAX / 2, len);
}

bool fd_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

int file_write_new(const char *path, const void *data, size_t len, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return -1;
	bool ok = fd_write_all(fd, data, len) && fsync(fd) == 0;
	int err = ok ? 0 : errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	if (!ok) {
		unlink(path);
		errno = err ? err : EIO;
		return -1;
	}
	return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, int mode)
{
	/* A fresh temporary file (O_EXCL) gets exactly mode, whatever an old
	 * file had: a key is never readable by others, not even for a moment. */
	static atomic_uint counter;
	char *tmp = xasprintf("%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
	int rc = file_write_new(tmp, data, len, mode);
	if (rc == 0 && rename(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		errno = err;
		rc = -1;
	}
	free(tmp);
	return rc;
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

/* SHA-256 through OpenSSL, which uses the CPU's SHA instructions (a
 * session cookie's digest, on every request: 100 ns against libsodium's
 * portable 265 ns here), with the algorithm fetched once and one context
 * per thread, reused: EVP_Digest would look the provider up (and take its
 * locks) on each call. libsodium when OpenSSL cannot give it. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha256_key;

static void sha256_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha256_init(void)
{
	if (pthread_key_create(&sha256_key, sha256_ctx_free) == 0)
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static bool sha256_openssl(const void *data, size_t len, unsigned char md[32])
{
	pthread_once(&sha256_once, sha256_init);
	if (!sha256_md)
		return false;
	EVP_MD_CTX *ctx = pthread_getspecific(sha256_key);
	if (!ctx) {
		ctx = EVP_MD_CTX_new();
		if (!ctx || pthread_setspecific(sha256_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			return false;
		}
	}
	unsigned n = 0;
	return EVP_DigestInit_ex2(ctx, sha256_md, NULL) && EVP_DigestUpdate(ctx, data, len) &&
	       EVP_DigestFinal_ex(ctx, md, &n) && n == 32;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[crypto_hash_sha256_BYTES];
	if (!sha256_openssl(data, len, md))
		crypto_hash_sha256(md, data, len);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static size_t ws_len_at(const char *s)
{
	if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		return 1;
	if ((unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 &&
	    (unsigned char)s[2] == 0x80)
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

bool str_empty(const char *s)
{
	return !s || !*s;
}

uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

uint64_t str_hash64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3u;
	return h;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		/* Runs of ASCII eight bytes at a time. */
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & 0x8080808080808080u)
				break;
			p += 8;
		}
		if (p >= end)
			break;
		unsigned char b = *p;
		if (b < 0x80) {
			p++;
			continue;
		}
		int extra;
		uint32_t cp, min;
		if (b >= 0xC2 && b <= 0xDF) {
			extra = 1;
			cp = b & 0x1F;
			min = 0x80;
		} else if (b >= 0xE0 && b <= 0xEF) {
			extra = 2;
			cp = b & 0x0F;
			min = 0x800;
		} else if (b >= 0xF0 && b <= 0xF4) {
			extra = 3;
			cp = b & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (end - p <= extra)
			return false;
		for (int i = 1; i <= extra; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += extra + 1;
	}
	return true;
}

/*
 * Small things every module needs: allocation that aborts on out-of-memory,
 * a growable byte buffer, a per-request arena, logging and time.
 */
#ifndef ESP_UTIL_H
#define ESP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Allocation: never returns NULL; aborts the process on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable buffer; always NUL-terminated when data != NULL. */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_grow(struct buf *b, size_t extra);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with < > & " ' replaced by entities. */
void buf_put_html(struct buf *b, const char *s, size_t n);
/* Hands the data to the caller (free it) and empties the buffer. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

/* Blocks that many small allocations are carved from, all freed at once:
 * the store under struct arena and under a store result (db.c). Zero is
 * empty. A request above block / 4 bytes gets a block of its own, put
 * behind the current one so that its free room is kept. Aligned as malloc. */
struct mem_block;
struct mem_blocks {
	struct mem_block *head;
};
void *mem_blocks_alloc(struct mem_blocks *m, size_t n, size_t block);
void mem_blocks_free(struct mem_blocks *m);

/* Arena: many small allocations freed at once (one per request). */
struct arena;
struct arena *arena_new(void);
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fn(p) runs when the arena is freed (newest first); returns p. A NULL p
 * registers nothing. */
void *arena_defer(struct arena *a, void (*fn)(void *), void *p);
void arena_free(struct arena *a);

/* Logging to stderr with a time stamp. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int64_t time_now(void);    /* seconds since the epoch (ESP_FAKE_NOW overrides for tests) */
int64_t time_now_us(void); /* monotonic microseconds */
/* The same clock as the kernel last ticked (up to a tick behind, a few ms):
 * for deadlines in seconds, without reading the hardware clock. */
int64_t time_now_coarse_us(void);
/* "YYYY-MM-DD" / "YYYY-MM-DD HH:MM" in China Standard Time (UTC+8); into arena. */
char *time_date(struct arena *a, int64_t t);
char *time_datetime(struct arena *a, int64_t t);
/* Parses "YYYY-MM-DD" (CST midnight); returns -1 when invalid. */
int64_t time_parse_date(const char *s);

/* Reads a whole file; NUL-terminated; *len may be NULL. NULL on error, with
 * errno (ENOENT when there is no such file). */
char *file_read_all(const char *path, size_t *len);
/* The same for a file that must be small (a key, a certificate): more than
 * max bytes is an error (EFBIG). What was read is wiped before an error. */
char *file_read_max(const char *path, size_t max, size_t *len);
/* The same for a secret: also EACCES unless path is a regular file, not a
 * symbolic link, with no access for group or others. Wipe it after use. */
char *file_read_private(const char *path, size_t max, size_t *len);
/* Writes all of data to fd (retrying interrupted writes); false on error. */
bool fd_write_all(int fd, const void *data, size_t len);
/* Creates path, which must not exist (EEXIST) nor be a symbolic link, with
 * mode and data, synced to disk; -1 with errno, leaving nothing behind. */
int file_write_new(const char *path, const void *data, size_t len, int mode);
/* Writes data to path atomically (a fresh temp file with exactly mode +
 * fsync + rename); -1 with errno. */
int file_write_atomic(const char *path, const void *data, size_t len, int mode);

/* Random URL-safe token of nbytes entropy (base64url, no padding); caller frees. */
char *random_token(size_t nbytes);
/* Hex SHA-256 of data into out[65]. */
void sha256_hex(const void *data, size_t len, char out[65]);

/* Trims ASCII and ideographic (U+3000) white space at both ends, in place. */
char *str_trim(char *s);
bool str_empty(const char *s);
/* FNV-1a of a NUL-terminated string: for picking a slot in small in-memory tables. */
uint32_t str_hash(const char *s);
/* The same with 64 bits: for keys that must not collide in practice (SQL texts). */
uint64_t str_hash64(const char *s);
/* True when the n bytes at s are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF): the same rule as jansson's. */
bool utf8_valid(const char *s, size_t n);

#endif

/* Allocation that aborts on out-of-memory, buffers and arenas. */
#include "esp/util.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	fputs("esp: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void buf_grow(struct buf *b, size_t extra)
{
	if (extra > SIZE_MAX / 2 - b->len)
		oom();
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_put(b, &c, 1);
}

/* Formats into a small stack buffer first: most strings fit, so they are
 * formatted once; a longer one is formatted again into its exact room. */
#define PRINTF_STACK 256

/* Formats into the n + 1 bytes room(ctx, n) gives (n the length of the
 * text), through tmp when the text fits there; returns n. */
static size_t format_into(char *(*room)(void *ctx, size_t n), void *ctx, const char *fmt,
                          va_list ap)
{
	char tmp[PRINTF_STACK];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	if (n < 0)
		oom();
	char *d = room(ctx, (size_t)n);
	if ((size_t)n < sizeof tmp)
		memcpy(d, tmp, (size_t)n + 1);
	else
		vsnprintf(d, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return (size_t)n;
}

static char *buf_room(void *ctx, size_t n)
{
	struct buf *b = ctx;
	buf_grow(b, n);
	return b->data + b->len;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	b->len += format_into(buf_room, b, fmt, ap);
	va_end(ap);
}

/* Which bytes buf_put_html replaces: < > & " ' */
static const unsigned char html_special[256] = {
    ['<'] = 1, ['>'] = 1, ['&'] = 1, ['"'] = 1, ['\''] = 1,
};

void buf_put_html(struct buf *b, const char *s, size_t n)
{
	/* Room for the text as it is; entities grow it further when they come. */
	buf_grow(b, n);
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (!html_special[(unsigned char)s[i]])
			continue;
		const char *rep;
		size_t replen;
		switch (s[i]) {
		case '<':
			rep = "&lt;";
			replen = 4;
			break;
		case '>':
			rep = "&gt;";
			replen = 4;
			break;
		case '&':
			rep = "&amp;";
			replen = 5;
			break;
		case '"':
			rep = "&quot;";
			replen = 6;
			break;
		default:
			rep = "&#39;";
			replen = 5;
			break;
		}
		buf_put(b, s + start, i - start);
		buf_put(b, rep, replen);
		start = i + 1;
	}
	buf_put(b, s + start, n - start);
}

char *buf_steal(struct buf *b)
{
	char *d = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- blocks, and the arena made of them ---- */

struct mem_block {
	struct mem_block *next;
	size_t used, cap;
	max_align_t data[];
};

void *mem_blocks_alloc(struct mem_blocks *m, size_t n, size_t block)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct mem_block *b = m->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > block / 4 ? n : block;
		b = xmalloc(sizeof(*b) + cap);
		b->used = 0;
		b->cap = cap;
		if (cap == n && m->head) {
			/* A big value: keep filling the current block. */
			b->next = m->head->next;
			m->head->next = b;
		} else {
			b->next = m->head;
			m->head = b;
		}
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

void mem_blocks_free(struct mem_blocks *m)
{
	struct mem_block *b = m->head;
	while (b) {
		struct mem_block *next = b->next;
		free(b);
		b = next;
	}
	m->head = NULL;
}

/* Something the arena's owner let go of, released when the arena is freed:
 * reference-counted values (JSON) built for the request live exactly as
 * long as the request, and no early return needs its own release list. */
struct arena_cleanup {
	void (*fn)(void *);
	void *p;
	struct arena_cleanup *next;
};

struct arena {
	struct mem_blocks blocks;
	struct arena_cleanup *cleanups; /* newest first: released in reverse order */
};

#define ARENA_BLOCK 8192

/* An arena and its first block are one allocation, and each thread keeps
 * the last one freed for its next arena: a request's arena then costs no
 * malloc and no free (they were a tenth of what espd added to a cached page
 * beyond libmicrohttpd). The spare is freed when its thread ends. */
#define ARENA_HEAD ((sizeof(struct arena) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))
#define ARENA_CHUNK (ARENA_HEAD + sizeof(struct mem_block) + ARENA_BLOCK)

static _Thread_local struct arena *spare_arena;
static _Thread_local bool spare_key_set;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_free(void *unused)
{
	(void)unused;
	free(spare_arena);
	spare_arena = NULL;
}

static void spare_key_make(void)
{
	if (pthread_key_create(&spare_key, spare_free) != 0)
		abort();
}

static struct mem_block *arena_first(struct arena *a)
{
	return (struct mem_block *)(void *)((char *)a + ARENA_HEAD);
}

struct arena *arena_new(void)
{
	struct arena *a = spare_arena;
	spare_arena = NULL;
	if (!a)
		a = xmalloc(ARENA_CHUNK);
	struct mem_block *first = arena_first(a);
	first->next = NULL;
	first->used = 0;
	first->cap = ARENA_BLOCK;
	a->blocks.head = first;
	a->cleanups = NULL;
	return a;
}

void *arena_alloc(struct arena *a, size_t n)
{
	return mem_blocks_alloc(&a->blocks, n, ARENA_BLOCK);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

struct arena_text {
	struct arena *a;
	char *d;
};

static char *arena_room(void *ctx, size_t n)
{
	struct arena_text *t = ctx;
	return t->d = arena_alloc(t->a, n + 1);
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	struct arena_text t = {a, NULL};
	va_list ap;
	va_start(ap, fmt);
	format_into(arena_room, &t, fmt, ap);
	va_end(ap);
	return t.d;
}

void *arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
	if (!p)
		return NULL;
	struct arena_cleanup *c = arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->p = p;
	c->next = a->cleanups;
	a->cleanups = c;
	return p;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	/* The records live in the blocks: run them all before freeing those. */
	for (struct arena_cleanup *c = a->cleanups; c; c = c->next)
		c->fn(c->p);
	struct mem_block *first = arena_first(a);
	for (struct mem_block *b = a->blocks.head, *next; b; b = next) {
		next = b->next;
		if (b != first)
			free(b);
	}
	if (spare_arena) {
		free(a);
		return;
	}
	if (!spare_key_set) {
		/* Only to free the spare when the thread ends (spare_free). */
		pthread_once(&spare_once, spare_key_make);
		pthread_setspecific(spare_key, &spare_key_set);
		spare_key_set = true;
	}
	spare_arena = a;
}

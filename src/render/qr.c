/*
 * QR codes of application numbers (libqrencode): as a module matrix for the
 * PDF form (drawn with cairo in appform.c) and as an SVG for the HTML print
 * view. One encoding setting for both so the two always scan the same.
 */
#include "esp/qr.h"

#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QR_QUIET_ZONE = 4 };

unsigned char *qr_matrix(const char *text, int *width)
{
	if (text == NULL || text[0] == '\0' || width == NULL)
		return NULL;
	/* 8-bit mode, case-sensitive: the number is printed exactly as stored. */
	QRcode *qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	if (qr == NULL)
		return NULL;
	size_t n = (size_t)qr->width * (size_t)qr->width;
	unsigned char *m = malloc(n);
	if (m != NULL) {
		for (size_t i = 0; i < n; i++)
			m[i] = qr->data[i] & 1u;
		*width = qr->width;
	}
	QRcode_free(qr);
	return m;
}

/* A growing string for the SVG text. */
struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n + 1;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

char *qr_svg(const char *text, int module_px)
{
	int w = 0;
	unsigned char *m = qr_matrix(text, &w);
	if (m == NULL)
		return NULL;
	if (module_px < 1)
		module_px = 1;
	if (module_px > 64)
		module_px = 64;

	int side = w + 2 * QR_QUIET_ZONE;
	struct sbuf b = {.cap = 4096};
	b.p = malloc(b.cap);
	if (b.p == NULL) {
		free(m);
		return NULL;
	}
	b.p[0] = '\0';
	sbuf_printf(&b,
	            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" "
	            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	            "shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"申请编号二维码\">"
	            "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	            side * module_px, side * module_px, side, side, side, side);
	/* One subpath per horizontal run of dark modules. */
	for (int y = 0; y < w; y++) {
		for (int x = 0; x < w;) {
			if (!m[y * w + x]) {
				x++;
				continue;
			}
			int run = 1;
			while (x + run < w && m[y * w + x + run])
				run++;
			sbuf_printf(&b, "M%d %dh%dv1h-%dz", x + QR_QUIET_ZONE, y + QR_QUIET_ZONE,
			            run, run);
			x += run;
		}
	}
	sbuf_printf(&b, "\"/></svg>");
	free(m);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/*
 * Nested multipart/mixed parts in form bodies, refused before libmicrohttpd
 * sees them.
 *
 * libmicrohttpd's post processor (0.9.75, and its current code too) enters
 * "nested" mode for a part whose header says Content-Type: multipart/mixed
 * and strdup()s that part's boundary into pp->nested_boundary; the next such
 * part overwrites the pointer without freeing it (postprocessor.c,
 * PP_PerformCheckMultipart). Every multipart/mixed part after the first
 * leaks its boundary, up to the header's length, so one 12 MB body leaked
 * megabytes and a few hundred anonymous requests could exhaust espd's
 * memory (found by tests/fuzz/fuzz_form.c).
 *
 * RFC 7578 (section 4.3) forbids multipart/mixed in form-data, no browser
 * sends it and no ESP form takes it: a body is refused at the first such
 * header line, before the post processor reads it. The post processor ends
 * header lines at CR or LF, and matches "Content-type: " (one space)
 * without regard to case; the match here is the same, so whatever would
 * make it nest is caught. A file whose content holds such a line at a line
 * start (a saved e-mail) is refused as well: ESP takes no such files.
 */
#include "nested_part.h"

#include <string.h>
#include <strings.h>

static const char marker[] = "content-type: multipart/mixed";
#define MARKER_LEN (sizeof marker - 1)

/* A line break followed by the marker, starting at p (len bytes). */
static bool match_at(const char *p, size_t len)
{
	return len >= MARKER_LEN + 1 && (p[0] == '\r' || p[0] == '\n') &&
	       strncasecmp(p + 1, marker, MARKER_LEN) == 0;
}

static bool scan(const char *p, size_t len)
{
	for (size_t i = 0; i + MARKER_LEN + 1 <= len; i++)
		if (match_at(p + i, len - i))
			return true;
	return false;
}

bool nested_part_seen(struct nested_part *s, const char *data, size_t n)
{
	_Static_assert(NESTED_PART_TAIL == MARKER_LEN, "the tail holds a marker less one byte");
	if (s->seen || n == 0)
		return s->seen;
	/* A marker cut between chunks: the previous tail and this chunk's start. */
	char joint[2 * NESTED_PART_TAIL + 1];
	size_t head = n < MARKER_LEN ? n : MARKER_LEN;
	memcpy(joint, s->tail, s->len);
	memcpy(joint + s->len, data, head);
	if (scan(joint, s->len + head) || scan(data, n)) {
		s->seen = true;
		return true;
	}
	/* Keep the last bytes for the next chunk. */
	if (n >= NESTED_PART_TAIL) {
		memcpy(s->tail, data + n - NESTED_PART_TAIL, NESTED_PART_TAIL);
		s->len = NESTED_PART_TAIL;
	} else {
		size_t keep = s->len + n > NESTED_PART_TAIL ? NESTED_PART_TAIL - n : s->len;
		memmove(s->tail, s->tail + s->len - keep, keep);
		memcpy(s->tail + keep, data, n);
		s->len = keep + n;
	}
	return false;
}

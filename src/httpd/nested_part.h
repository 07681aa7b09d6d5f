/* Spots a multipart/mixed part inside a form body (see nested_part.c). */
#ifndef ESPD_NESTED_PART_H
#define ESPD_NESTED_PART_H

#include <stdbool.h>
#include <stddef.h>

/* "\ncontent-type: multipart/mixed" less one byte: what a chunk carries over. */
#define NESTED_PART_TAIL 29

struct nested_part {
	char tail[NESTED_PART_TAIL]; /* the end of the bytes seen so far */
	size_t len;
	bool seen;
};

/* Feeds the next chunk of a multipart body; true once a part header line
 * "Content-Type: multipart/mixed" has been seen, in this chunk or before
 * (case-insensitive, wherever the chunks were cut). Start from {0}. */
bool nested_part_seen(struct nested_part *s, const char *data, size_t n);

#endif

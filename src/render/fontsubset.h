/*
 * Small in-memory copies of the form's fonts (harfbuzz's subsetter), made
 * once at start-up for appform.c: cairo subsets the embedded font anew for
 * every PDF and pays for the size of the font it starts from, so starting
 * from a copy with only the characters a form can print makes PDFs cheap.
 * The copies are memory files behind a private fontconfig configuration.
 */
#ifndef ESP_RENDER_FONTSUBSET_H
#define ESP_RENDER_FONTSUBSET_H

#include <fontconfig/fontconfig.h>
#include <hb.h>
#include <stdbool.h>
#include <stdint.h>

/* Unicode characters (BMP) of a font, one bit each. */
struct font_coverage {
	uint8_t bits[0x10000 / 8];
};

/* The subset copies: [0] regular, [1] bold. */
struct font_subset {
	FcConfig *config; /* finds the two copies only */
	int fd[2];
	struct font_coverage cover[2];
};

/* Makes the copies of face[0] (regular) and face[1] (bold) with the
 * characters of chars[0] and chars[1]; chars[0] is completed with ASCII,
 * Latin-1, punctuation, full-width forms and all of GB 2312 (so it is
 * changed). NULL when a copy or the configuration cannot be made. */
struct font_subset *font_subset_new(hb_face_t *const face[2], hb_set_t *const chars[2]);
void font_subset_free(struct font_subset *fs);

/* Whether every character of the (valid UTF-8) text is in the font. Control
 * characters are never drawn as glyphs. */
bool font_coverage_has_text(const struct font_coverage *c, const char *s);
/* Adds the characters of the (valid UTF-8) text to set. */
void font_collect_text(hb_set_t *set, const char *s);
/* Whether a and b are the same face of the same font file. */
bool font_same_face(hb_face_t *a, hb_face_t *b);

#endif

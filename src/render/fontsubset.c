/*
 * The subset copies of the form's fonts (see fontsubset.h): harfbuzz makes
 * them without subroutines (so cairo's own subset of them stays small) in
 * memory files, and a private fontconfig configuration finds only them.
 * What goes into them is decided by appform.c, which draws sample forms.
 */
#include "fontsubset.h"

#include <glib.h>
#include <hb-subset.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static void coverage_add(struct font_coverage *c, hb_codepoint_t cp)
{
	if (cp < 0x10000)
		c->bits[cp >> 3] |= (uint8_t)(1u << (cp & 7));
}

bool font_coverage_has_text(const struct font_coverage *c, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p != '\0') {
		gunichar cp;
		if (*p < 0x80) {
			cp = *p++;
		} else {
			cp = g_utf8_get_char((const char *)p);
			p = (const unsigned char *)g_utf8_next_char(p);
		}
		if (cp < 0x20)
			continue;
		if (cp >= 0x10000 || !(c->bits[cp >> 3] & (1u << (cp & 7))))
			return false;
	}
	return true;
}

void font_collect_text(hb_set_t *set, const char *s)
{
	for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p))
		hb_set_add(set, g_utf8_get_char(p));
}

/* All characters of GB 2312 (EUC-CN rows 0xA1-0xF7, cells 0xA1-0xFE). */
static void add_gb2312(hb_set_t *set)
{
	iconv_t cd = iconv_open("UTF-32BE", "GB2312");
	if (cd == (iconv_t)-1)
		return;
	for (int row = 0xa1; row <= 0xf7; row++) {
		for (int cell = 0xa1; cell <= 0xfe; cell++) {
			char in[2] = {(char)row, (char)cell};
			unsigned char out[4];
			char *ip = in, *op = (char *)out;
			size_t il = sizeof(in), ol = sizeof(out);
			if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && ol == 0)
				hb_set_add(set, (hb_codepoint_t)out[0] << 24 |
				                    (hb_codepoint_t)out[1] << 16 |
				                    (hb_codepoint_t)out[2] << 8 | out[3]);
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	iconv_close(cd);
}

/* A subset of face with the characters of unicodes, in a memory file; fills
 * cover with what it really has. Returns the file descriptor or -1. */
static int subset_to_memfd(hb_face_t *face, const hb_set_t *unicodes, const char *name,
                           struct font_coverage *cover)
{
	hb_subset_input_t *in = hb_subset_input_create_or_fail();
	if (in == NULL)
		return -1;
	hb_set_union(hb_subset_input_unicode_set(in), unicodes);
	/* Charstrings without subroutines: cairo copies a font's subroutine
	 * indexes whole into each PDF, but only the charstrings of glyphs used. */
	hb_subset_input_set_flags(in, HB_SUBSET_FLAGS_DESUBROUTINIZE);
	/* The layout features stay: 'locl' gives the simplified Chinese forms of
	 * the punctuation (and brings the other locales' forms along, about half
	 * the glyphs; harfbuzz keeps or drops a feature for all languages). */
	hb_face_t *sub = hb_subset_or_fail(face, in);
	hb_subset_input_destroy(in);
	if (sub == NULL)
		return -1;
	hb_blob_t *blob = hb_face_reference_blob(sub);
	unsigned int len = 0;
	const char *data = hb_blob_get_data(blob, &len);
	hb_set_t *have = hb_set_create();
	hb_face_collect_unicodes(sub, have);
	for (hb_codepoint_t cp = HB_SET_VALUE_INVALID; hb_set_next(have, &cp);)
		coverage_add(cover, cp);
	hb_set_destroy(have);

	int fd = len > 0 ? memfd_create(name, MFD_CLOEXEC) : -1;
	for (unsigned int done = 0; fd >= 0 && done < len;) {
		ssize_t n = write(fd, data + done, len - done);
		if (n <= 0) {
			close(fd);
			fd = -1;
		} else {
			done += (unsigned int)n;
		}
	}
	hb_blob_destroy(blob);
	hb_face_destroy(sub);
	return fd;
}

bool font_same_face(hb_face_t *a, hb_face_t *b)
{
	hb_blob_t *x = hb_face_reference_blob(a), *y = hb_face_reference_blob(b);
	bool same = a == b || (hb_blob_get_data(x, NULL) == hb_blob_get_data(y, NULL) &&
	                       hb_face_get_index(a) == hb_face_get_index(b));
	hb_blob_destroy(x);
	hb_blob_destroy(y);
	return same;
}

void font_subset_free(struct font_subset *ff)
{
	if (ff == NULL)
		return;
	if (ff->config != NULL)
		FcConfigDestroy(ff->config);
	for (int i = 0; i < 2; i++)
		if (ff->fd[i] >= 0)
			close(ff->fd[i]);
	free(ff);
}

struct font_subset *font_subset_new(hb_face_t *const face[2], hb_set_t *const chars[2])
{
	hb_set_t *regular = chars[0];
	hb_set_add_range(regular, 0x20, 0x7e);
	hb_set_add_range(regular, 0xa0, 0xff);
	hb_set_add_range(regular, 0x2010, 0x203b); /* dashes, quotes, … (ellipsis) */
	hb_set_add_range(regular, 0x3000, 0x303f); /* CJK punctuation */
	hb_set_add_range(regular, 0xff01, 0xff65); /* full-width forms */
	hb_set_add(regular, 0xfffd);               /* what invalid UTF-8 becomes */
	add_gb2312(regular);

	struct font_subset *ff = calloc(1, sizeof(*ff));
	if (ff == NULL)
		return NULL;
	ff->fd[0] = subset_to_memfd(face[0], chars[0], "esp-appform-regular", &ff->cover[0]);
	ff->fd[1] = subset_to_memfd(face[1], chars[1], "esp-appform-bold", &ff->cover[1]);
	if (ff->fd[0] >= 0 && ff->fd[1] >= 0)
		ff->config = FcConfigCreate();
	/* The bold copy has too few characters for fontconfig to call it Chinese,
	 * and a font's language counts for more than its weight in a match: say it
	 * is Chinese (a form never asks it for characters it lacks, see lay_set in
	 * appform.c). */
	static const char rules[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE fontconfig SYSTEM \"urn:fontconfig:fonts.dtd\">"
	    "<fontconfig><match target=\"scan\">"
	    "<test name=\"weight\" compare=\"more\"><const>medium</const></test>"
	    "<edit name=\"lang\" mode=\"assign\"><langset><string>zh-cn</string></langset></edit>"
	    "</match></fontconfig>";
	bool ok = ff->config != NULL &&
	          FcConfigParseAndLoadFromMemory(ff->config, (const FcChar8 *)rules, FcFalse);
	for (int i = 0; ok && i < 2; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", ff->fd[i]);
		ok = FcConfigAppFontAddFile(ff->config, (const FcChar8 *)path);
	}
	if (!ok) {
		font_subset_free(ff);
		ff = NULL;
	}
	return ff;
}

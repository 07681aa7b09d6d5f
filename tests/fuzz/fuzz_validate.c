/*
 * libFuzzer target for the validators of src/util/validate.c: every
 * validator runs on every input (a NUL-terminated copy of it), and what
 * each accepts must have the shape validate.h promises, so a validator that
 * lets something through that it should not is a finding too, not only one
 * that reads out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/util.h"
#include "esp/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_validate: %s accepted \"%s\"\n", what, s);
	abort();
}

static bool all_in(const char *s, size_t from, size_t to, const char *set)
{
	for (size_t i = from; i < to; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

#define DIGITS "0123456789"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	size_t n = strlen(s);

	bool uscc = validate_uscc(s), org = validate_org_code(s);
	if (uscc && (n != 18 || !all_in(s, 0, 18, DIGITS UPPER) || !all_in(s, 2, 8, DIGITS)))
		broken("validate_uscc", s);
	if (org && !((n == 9 && all_in(s, 0, 9, DIGITS UPPER)) ||
	             (n == 10 && s[8] == '-' && all_in(s, 0, 8, DIGITS UPPER) &&
	              all_in(s, 9, 10, DIGITS UPPER))))
		broken("validate_org_code", s);
	if (validate_unit_code(s) != (uscc || org))
		broken("validate_unit_code (or refused, unlike uscc/org)", s);
	if (validate_id_number(s) &&
	    (n != 18 || !all_in(s, 0, 17, DIGITS) || !all_in(s, 17, 18, DIGITS "X")))
		broken("validate_id_number", s);
	bool mobile = validate_mobile(s), phone = validate_phone(s);
	if (mobile &&
	    !((n == 11 && s[0] == '1' && all_in(s, 1, 2, "3456789") && all_in(s, 2, 11, DIGITS)) ||
	      (n == 14 && strncmp(s, "+861", 4) == 0 && all_in(s, 4, 5, "3456789") &&
	       all_in(s, 5, 14, DIGITS))))
		broken("validate_mobile", s);
	if (mobile && !phone)
		broken("validate_mobile (but validate_phone refused)", s);
	/* What the normaliser keeps is an 11-digit number, and one that was
	 * already one stays itself; a code the shape check takes has that shape. */
	char norm[12];
	bool normalised = validate_normalise_mobile(s, norm);
	if (normalised && (strlen(norm) != 11 || !validate_mobile(norm)))
		broken("validate_normalise_mobile (kept no 11-digit number)", s);
	if (mobile && (!normalised || strcmp(norm, s + (n == 14 ? 3 : 0)) != 0))
		broken("validate_normalise_mobile (changed or refused a valid number)", s);
	if (org && !validate_org_code_shape(s))
		broken("validate_org_code_shape (refused a valid code)", s);
	if (phone && (n < 7 || n > 20 || !all_in(s, 0, n, DIGITS "-+ ") || strchr(s + 1, '+')))
		broken("validate_phone", s);
	if (validate_postcode(s) && (n != 6 || !all_in(s, 0, 6, DIGITS)))
		broken("validate_postcode", s);
	if (validate_email(s)) {
		const char *at = strchr(s, '@');
		if (n > 254 || !at || strchr(at + 1, '@') || at == s || at - s > 64 ||
		    !strchr(at + 1, '.'))
			broken("validate_email", s);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
				broken("validate_email", s);
	}
	if (validate_pin(s)) {
		if (n < 6 || n > 16)
			broken("validate_pin", s);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
				broken("validate_pin", s);
	}
	long u = utf8_length(s);
	if (u != -1) {
		long starts = 0;
		for (size_t i = 0; i < n; i++)
			starts += ((unsigned char)s[i] & 0xC0) != 0x80;
		if (u != starts)
			broken("utf8_length (wrong count)", s);
	}
	if (validate_uscc(NULL) || validate_email(NULL) || utf8_length(NULL) != -1)
		abort();
	free(s);
	return 0;
}

/*
 * Validators for what applicants type into the forms: the check-digit codes of
 * GB 32100 (统一社会信用代码), GB 11714 (组织机构代码) and GB 11643
 * (居民身份证号码), plus mobile and landline numbers, 邮政编码, e-mail
 * addresses, PINs and a UTF-8 length counter.
 *
 * Every validator accepts only the canonical spelling (upper-case letters, no
 * surrounding spaces).  Normalising user input (trimming, upper-casing a typed
 * "x") is the form layer's job, so that what is validated is exactly what is
 * stored and compared later.  Character classes are tested by hand rather than
 * with <ctype.h>, whose answers depend on the process locale.
 */
#include "esp/validate.h"

#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Small character helpers                                                   */

static bool validate_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool validate_is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool validate_is_alpha(char c)
{
	return validate_is_upper(c) || (c >= 'a' && c <= 'z');
}

/* Visible ASCII, i.e. printable without the space. */
static bool validate_is_graph(char c)
{
	return c > ' ' && c <= '~';
}

static bool validate_all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!validate_is_digit(s[i]))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* 统一社会信用代码, GB 32100-2015                                            */

#define USCC_LEN 18

/* The code's alphabet: digits and upper-case letters without I O Z S V, which
 * are too easily confused with 1 0 2 5 U.  A character's value is its index. */
static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static const int uscc_weights[USCC_LEN - 1] = {
	1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
};

/* Value 0..30 of c, or -1 if c is not in the alphabet.  A plain loop rather
 * than strchr(), which would "find" the terminating NUL. */
static int uscc_char_value(char c)
{
	for (int i = 0; uscc_alphabet[i] != '\0'; i++) {
		if (uscc_alphabet[i] == c)
			return i;
	}
	return -1;
}

bool validate_uscc(const char *s)
{
	if (s == NULL || strlen(s) != USCC_LEN)
		return false;
	/* Chars 3-8 are the administrative division code (GB/T 2260). */
	if (!validate_all_digits(s + 2, 6))
		return false;

	int sum = 0;
	for (int i = 0; i < USCC_LEN - 1; i++) {
		int v = uscc_char_value(s[i]);
		if (v < 0)
			return false;
		sum += v * uscc_weights[i];
	}
	/* 31 is prime and no weight is a multiple of it, so any single wrong
	 * character changes the sum modulo 31 and is caught here.  The embedded
	 * organisation code (chars 9-17) carries its own GB 11714 check, but
	 * GB 32100 makes the 18th character the code's only check, so we do not
	 * reject on the inner one. */
	int check = (31 - sum % 31) % 31;
	return s[USCC_LEN - 1] == uscc_alphabet[check];
}

/* ------------------------------------------------------------------------ */
/* 组织机构代码, GB 11714-1997                                               */

#define ORG_BODY_LEN 8

static const int org_weights[ORG_BODY_LEN] = { 3, 7, 9, 10, 5, 8, 4, 2 };

/* Value of a body character: 0-9 are 0..9, A-Z are 10..35; -1 otherwise. */
static int org_char_value(char c)
{
	if (validate_is_digit(c))
		return c - '0';
	if (validate_is_upper(c))
		return c - 'A' + 10;
	return -1;
}

/*
 * Accepts "D2143569X" and "D2143569-X".  The check is upper-case 'X' only: a
 * lower-case 'x' is a typing variant the form layer should upper-case, and
 * accepting it here would let two spellings of one code into the database.
 * Note that mod 11 is weaker than the USCC's mod 31: body values differ by up
 * to 35, so swapping a character for one whose value differs by 11, 22 or 33
 * ('0' for 'B', '5' for 'G'...) goes unnoticed.  Nothing we can do about it.
 */
bool validate_org_code(const char *s)
{
	if (s == NULL)
		return false;
	size_t len = strlen(s);
	if (len == ORG_BODY_LEN + 2) {
		if (s[ORG_BODY_LEN] != '-')
			return false;
	} else if (len != ORG_BODY_LEN + 1) {
		return false;
	}

	int sum = 0;
	for (int i = 0; i < ORG_BODY_LEN; i++) {
		int v = org_char_value(s[i]);
		if (v < 0)
			return false;
		sum += v * org_weights[i];
	}
	int c = 11 - sum % 11;
	char expected = c == 10 ? 'X' : c == 11 ? '0' : (char)('0' + c);
	return s[len - 1] == expected;
}

bool validate_unit_code(const char *s)
{
	return validate_uscc(s) || validate_org_code(s);
}

/* ------------------------------------------------------------------------ */
/* 居民身份证号码, GB 11643-1999                                             */

#define ID_LEN 18

/*
 * Earliest accepted birth year.  The 18-digit number dates from 1999, and the
 * standard's own worked example (440524188001015368) is born in 1880, so a
 * bound of 1900 would reject a number the standard calls valid.  1800 keeps
 * the example and still rejects nonsense years.
 */
#define ID_MIN_YEAR 1800

static const int id_weights[ID_LEN - 1] = {
	7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2,
};

static bool id_is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int id_days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && id_is_leap_year(y))
		return 29;
	return days[m - 1];
}

static int id_parse_digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/*
 * Today as YYYYMMDD in China Standard Time (UTC+8, no DST).  The numbers are
 * Chinese, so "in the future" is judged by the Chinese calendar day whatever
 * the server's TZ is; a server on UTC would otherwise reject a baby born this
 * morning in Beijing until 08:00.
 */
static long id_today_yyyymmdd(void)
{
	time_t now = time(NULL) + 8 * 60 * 60;
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL)
		return 0; /* cannot happen for a sane clock; rejects every date */
	return (tm.tm_year + 1900L) * 10000L + (tm.tm_mon + 1) * 100L + tm.tm_mday;
}

/* s points at the eight digits YYYYMMDD (already known to be digits). */
static bool id_birth_date_ok(const char *s)
{
	int y = id_parse_digits(s, 4);
	int m = id_parse_digits(s + 4, 2);
	int d = id_parse_digits(s + 6, 2);

	if (y < ID_MIN_YEAR || m < 1 || m > 12 || d < 1 || d > id_days_in_month(y, m))
		return false;
	return y * 10000L + m * 100L + d <= id_today_yyyymmdd();
}

bool validate_id_number(const char *s)
{
	if (s == NULL || strlen(s) != ID_LEN)
		return false;
	if (!validate_all_digits(s, ID_LEN - 1))
		return false;
	/* Chars 7-14 are the date of birth. */
	if (!id_birth_date_ok(s + 6))
		return false;

	int sum = 0;
	for (int i = 0; i < ID_LEN - 1; i++)
		sum += (s[i] - '0') * id_weights[i];
	/* Like the org code, only upper-case 'X' (see validate_org_code()).
	 * Digits differ by at most 9 and 11 is prime, so unlike the org code
	 * every single wrong digit is caught. */
	return s[ID_LEN - 1] == "10X98765432"[sum % 11];
}

/* ------------------------------------------------------------------------ */
/* Telephone numbers and postcodes (no check digits)                         */

bool validate_mobile(const char *s)
{
	if (s == NULL)
		return false;
	if (strncmp(s, "+86", 3) == 0)
		s += 3;
	return strlen(s) == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' &&
	       validate_all_digits(s, 11);
}

/*
 * Loose on purpose, because landlines are written in many ways: "0592-1234567",
 * "+86 10 8888 6666", "13812345678".  We require 7-20 characters, a '+' only
 * at the start, a digit at both ends (after the '+'), single '-' or ' '
 * separators between digit groups, and at least 7 digits in all.  Brackets,
 * as in "(010)", and extensions are not accepted.
 */
bool validate_phone(const char *s)
{
	if (s == NULL)
		return false;
	size_t len = strlen(s);
	if (len < 7 || len > 20)
		return false;

	size_t i = s[0] == '+' ? 1 : 0;
	if (!validate_is_digit(s[i]) || !validate_is_digit(s[len - 1]))
		return false;

	int digits = 0;
	for (; i < len; i++) {
		if (validate_is_digit(s[i])) {
			digits++;
		} else if (s[i] == '-' || s[i] == ' ') {
			if (!validate_is_digit(s[i + 1]))
				return false; /* two separators in a row */
		} else {
			return false;
		}
	}
	return digits >= 7;
}

bool validate_postcode(const char *s)
{
	return s != NULL && strlen(s) == 6 && validate_all_digits(s, 6);
}

/* ------------------------------------------------------------------------ */
/* E-mail                                                                    */

#define EMAIL_MAX_LEN 254   /* RFC 5321 path limit minus the angle brackets */
#define EMAIL_LOCAL_MAX 64
#define EMAIL_LABEL_MAX 63

/* RFC 5322 atext: the characters of an unquoted local part besides '.'. */
static bool email_is_atext(char c)
{
	return validate_is_alpha(c) || validate_is_digit(c) ||
	       (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* Dot-atom local part: no quoted strings, no comments, no leading, trailing
 * or doubled dots.  Quoted forms are legal but nobody applying here has one,
 * and they are the usual vehicle for header-injection tricks. */
static bool email_local_ok(const char *s, size_t n)
{
	if (n == 0 || n > EMAIL_LOCAL_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!email_is_atext(s[i])) {
			return false;
		}
	}
	return true;
}

/* Host name with at least two labels of letters, digits and inner hyphens.
 * The last label must not be all digits (that would be an IP address, which
 * we do not accept) and is at least two characters; "xn--" IDN TLDs pass. */
static bool email_domain_ok(const char *s, size_t n)
{
	size_t label_start = 0;
	int labels = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!validate_is_alpha(s[i]) && !validate_is_digit(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		size_t label_len = i - label_start;
		if (label_len == 0 || label_len > EMAIL_LABEL_MAX)
			return false;
		if (s[label_start] == '-' || s[i - 1] == '-')
			return false;
		labels++;
		if (i == n) {
			if (label_len < 2 || validate_all_digits(s + label_start, label_len))
				return false;
		}
		label_start = i + 1;
	}
	return labels >= 2;
}

bool validate_email(const char *s)
{
	if (s == NULL)
		return false;
	size_t len = strlen(s);
	if (len > EMAIL_MAX_LEN)
		return false;
	const char *at = strchr(s, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return false;
	size_t local_len = (size_t)(at - s);
	return email_local_ok(s, local_len) && email_domain_ok(at + 1, len - local_len - 1);
}

/* ------------------------------------------------------------------------ */
/* PINs                                                                      */

/*
 * 6-16 visible ASCII characters.  Space is refused although printable: forms
 * and terminals trim it silently, and a PIN that cannot be typed back the same
 * way locks the token.  Non-ASCII is refused because tokens differ in how
 * they encode it.
 */
bool validate_pin(const char *s)
{
	if (s == NULL)
		return false;
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		if (n >= 16 || !validate_is_graph(s[n]))
			return false;
	}
	return n >= 6;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                     */

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates
 * U+D800-U+DFFF, nothing above U+10FFFF, no stray or missing continuation
 * bytes.  Overlongs and surrogates matter because they let a filter that
 * looks for '/', '<' or NUL be bypassed by a later, laxer decoder.
 */
long utf8_length(const char *s)
{
	if (s == NULL)
		return -1;

	const unsigned char *p = (const unsigned char *)s;
	long count = 0;

	while (*p != '\0') {
		unsigned char b = *p;
		int extra;
		unsigned long cp;
		unsigned long min;

		if (b < 0x80) {
			p++;
			count++;
			continue;
		} else if ((b & 0xE0) == 0xC0) {
			extra = 1;
			cp = b & 0x1F;
			min = 0x80;
		} else if ((b & 0xF0) == 0xE0) {
			extra = 2;
			cp = b & 0x0F;
			min = 0x800;
		} else if ((b & 0xF8) == 0xF0) {
			extra = 3;
			cp = b & 0x07;
			min = 0x10000;
		} else {
			return -1; /* continuation byte out of place, or 0xF8-0xFF */
		}

		/* A NUL terminator fails the continuation test, so we never read
		 * past the end of the string. */
		for (int i = 1; i <= extra; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return -1;

		p += extra + 1;
		count++;
	}
	return count;
}

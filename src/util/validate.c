/*
 * Validators for what applicants type into the forms: the check-digit codes of
 * GB 32100 (统一社会信用代码), GB 11714 (组织机构代码) and GB 11643
 * (居民身份证号码), plus mobile and landline numbers, 邮政编码, e-mail
 * addresses, PINs, a UTF-8 length counter, the check of free text (names,
 * addresses) for controls and invisible characters, and the folding under
 * which two names count as the same.
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

static const int org_weights[ORG_BODY_LEN] = {3, 7, 9, 10, 5, 8, 4, 2};

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

bool validate_org_code_shape(const char *s)
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
	for (int i = 0; i < ORG_BODY_LEN; i++)
		if (org_char_value(s[i]) < 0)
			return false;
	char c = s[len - 1];
	return validate_is_digit(c) || c == 'X';
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
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
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

bool validate_normalise_mobile(const char *s, char out[12])
{
	out[0] = '\0';
	if (s == NULL)
		return false;
	/* Digits only, keeping whether a '+' or "(+86)" said a country code
	 * follows; anything but separators makes it no number. */
	char digits[24];
	size_t n = 0;
	bool plus = false;
	for (const char *p = s; *p; p++) {
		if (validate_is_digit(*p)) {
			if (n == sizeof digits - 1)
				return false;
			digits[n++] = *p;
		} else if (*p == '+' && n == 0 && !plus) {
			plus = true;
		} else if (*p != ' ' && *p != '-' && !((*p == '(' || *p == ')') && n <= 2)) {
			return false;
		}
	}
	digits[n] = '\0';
	const char *d = digits;
	if (n == 13 && strncmp(d, "86", 2) == 0)
		d += 2; /* +86 or 86 */
	else if (n == 15 && !plus && strncmp(d, "0086", 4) == 0)
		d += 4;
	else if (plus && n != 13)
		return false; /* another country's code */
	if (!validate_mobile(d))
		return false;
	memcpy(out, d, 12);
	return true;
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

#define EMAIL_MAX_LEN 254 /* RFC 5321 path limit minus the angle brackets */
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
/* Decodes the code point at *p and advances *p past it; -1 (and *p
 * unchanged) when the bytes there are not strict UTF-8.  *p must not be at
 * the terminating NUL. */
static long utf8_decode(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned char b = *p;
	int extra;
	unsigned long cp;
	unsigned long min;

	if (b < 0x80) {
		*pp = p + 1;
		return b;
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
	/* A NUL terminator fails the continuation test, so we never read past
	 * the end of the string. */
	for (int i = 1; i <= extra; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*pp = p + extra + 1;
	return (long)cp;
}

long utf8_length(const char *s)
{
	if (s == NULL)
		return -1;

	const unsigned char *p = (const unsigned char *)s;
	long count = 0;

	while (*p != '\0') {
		if (utf8_decode(&p) < 0)
			return -1;
		count++;
	}
	return count;
}

/* ------------------------------------------------------------------------ */
/* Free text: names, addresses, reasons                                      */

/* C0 controls, DEL, C1 controls (NEL U+0085 among them) and the line and
 * paragraph separators, which break a line like a control does. */
static bool text_is_control(unsigned long cp, bool multiline)
{
	if (cp < 0x20)
		return !(multiline && (cp == '\n' || cp == '\r' || cp == '\t'));
	return (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

/*
 * Characters that draw nothing, or reorder or join what is around them:
 * with them two names that look the same are different strings, and a name
 * shown in a certificate subject or a list can read as something else
 * ("RLO" U+202E turns the rest of a line around).  Bidi controls, zero-width
 * spaces and joiners, the word joiner and invisible operators, the BOM used
 * as a zero-width no-break space, the Mongolian vowel separator, the soft
 * hyphen, the combining grapheme joiner, the Hangul fillers, the deprecated
 * format characters, the interlinear annotation marks, variation selectors
 * (Chinese input never produces them) and the tag characters.
 */
static bool text_is_invisible(unsigned long cp)
{
	static const unsigned long ranges[][2] = {
	    {0x00AD, 0x00AD}, {0x034F, 0x034F},   {0x061C, 0x061C},   {0x115F, 0x1160},
	    {0x180B, 0x180F}, {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x206F},
	    {0x3164, 0x3164}, {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},   {0xFFA0, 0xFFA0},
	    {0xFFF9, 0xFFFB}, {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
	};
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return true;
	}
	return false;
}

/* Private use (its meaning is a private agreement, so no one else reads the
 * character the same way: some old input methods put rare 汉字 there) and
 * noncharacters (U+FDD0-U+FDEF and the last two of every plane). */
static bool text_is_unassigned(unsigned long cp)
{
	return (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000 || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
	       (cp & 0xFFFE) == 0xFFFE;
}

enum text_fault validate_text(const char *s, bool multiline)
{
	if (s == NULL)
		return TEXT_NOT_UTF8;
	const unsigned char *p = (const unsigned char *)s;
	while (*p != '\0') {
		long cp = utf8_decode(&p);
		if (cp < 0)
			return TEXT_NOT_UTF8;
		if (text_is_control((unsigned long)cp, multiline))
			return TEXT_CONTROL;
		if (text_is_invisible((unsigned long)cp))
			return TEXT_INVISIBLE;
		if (text_is_unassigned((unsigned long)cp))
			return TEXT_UNASSIGNED;
	}
	return TEXT_OK;
}

const char *text_fault_reason(enum text_fault f)
{
	switch (f) {
	case TEXT_OK:
		return "";
	case TEXT_NOT_UTF8:
		return "含有无法识别的字符编码，请重新输入";
	case TEXT_CONTROL:
	case TEXT_INVISIBLE:
		return "含有不可见或控制字符，请删除后重新输入";
	case TEXT_UNASSIGNED:
		return "含有无法识别的字符（私用区字符），请改用标准汉字后重新输入";
	}
	return "含有无效字符";
}

/* The space-like characters a name may carry from a word processor or a
 * full-width input method: compared as one ASCII space. */
static bool fold_is_space(unsigned long cp)
{
	return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x00A0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static size_t fold_put(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

char *text_fold(const char *s, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	bool space = false;      /* a run of spaces seen since the last character */
	bool last_ascii = false; /* the last character written was ASCII */

	while (*p != '\0') {
		long c = utf8_decode(&p);
		if (c < 0) {
			/* Not UTF-8 (never so for validated text): the byte as it is. */
			out[n++] = (char)*p++;
			space = false;
			last_ascii = false;
			continue;
		}
		unsigned long cp = (unsigned long)c;
		if (fold_is_space(cp)) {
			space = true;
			continue;
		}
		if (text_is_invisible(cp) || text_is_control(cp, false))
			continue;
		if (cp >= 0xFF01 && cp <= 0xFF5E)
			cp -= 0xFF01 - 0x21; /* full-width ASCII */
		if (cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		bool ascii = cp < 0x80;
		/* Spaces separate Latin words and numbers only: between 汉字 they
		 * are typing noise ("福州市 交通运输局" is 福州市交通运输局). */
		if (space && last_ascii && ascii)
			out[n++] = ' ';
		space = false;
		n += fold_put(out + n, cp);
		last_ascii = ascii;
	}
	out[n] = '\0';
	return out;
}

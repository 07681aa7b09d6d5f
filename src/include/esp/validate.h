/*
 * Validators for the identifiers applicants type: 统一社会信用代码 (GB 32100),
 * 组织机构代码 (GB 11714), 居民身份证号码 (GB 11643), mobile numbers, 邮政编码,
 * e-mail addresses and PINs.  Each returns true when the input is valid.
 * Then the check of free text and the folding of names for comparison.
 * Inputs are NUL-terminated UTF-8; nothing is allocated; NULL is invalid.
 * Only the canonical spelling passes: upper-case letters (also the check 'X'),
 * no surrounding spaces.  Trimming and upper-casing typed input is the form
 * layer's job, so that the stored value is the one that was validated.
 */
#ifndef ESP_VALIDATE_H
#define ESP_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

/* 18 characters, alphabet 0-9A-Z without I O Z S V, chars 3-8 digits, check digit. */
bool validate_uscc(const char *s);
/* 8 body chars (0-9A-Z) + check char, with or without a '-' before the check:
 * "D2143569-X".  Mod 11 misses substitutions whose values differ by 11, 22, 33. */
bool validate_org_code(const char *s);
/* The shape of an 组织机构代码 whatever its check character: 8 body chars
 * (0-9A-Z), an optional '-', then 0-9 or X.  Tells a mistyped check digit
 * (validate_org_code() false, this true) from something that is no code. */
bool validate_org_code_shape(const char *s);
/* Either of the two above: what a unit may present as its 证件号码. */
bool validate_unit_code(const char *s);
/* 17 digits + check (0-9 or X), chars 7-14 a real date from 1800-01-01 up to
 * today in China Standard Time (1800, not 1900: GB 11643's own example is born
 * in 1880). */
bool validate_id_number(const char *s);
/* 1[3-9] and 9 more digits, optionally preceded by "+86". */
bool validate_mobile(const char *s);
/* A mobile number as people type it ("138 1234 5678", "+86 138-1234-5678",
 * "(+86)13812345678", "0086 13812345678"): spaces, '-' and the country code
 * dropped, the 11 digits written to out.  False, out empty, when what is left
 * is not a validate_mobile() number. */
bool validate_normalise_mobile(const char *s, char out[12]);
/* Landline or mobile: digits, '-', '+', spaces, 7-20 chars; '+' only first,
 * single separators between digits, at least 7 digits. */
bool validate_phone(const char *s);
/* Six digits. */
bool validate_postcode(const char *s);
/* local@domain.tld, at most 254 bytes: an unquoted (dot-atom) local part of at
 * most 64 bytes and an ASCII host name of two or more labels; no IP literals. */
bool validate_email(const char *s);
/* 6-16 printable ASCII characters other than space. */
bool validate_pin(const char *s);
/* Length in Unicode code points of a valid UTF-8 string, or -1 if not valid UTF-8. */
long utf8_length(const char *s);

/* Why validate_text() refuses a string. */
enum text_fault {
	TEXT_OK = 0,
	TEXT_NOT_UTF8,   /* not strict UTF-8 (lone surrogates, overlongs...) */
	TEXT_CONTROL,    /* C0 (but \n \r \t in multi-line text), DEL, C1, U+2028/9 */
	TEXT_INVISIBLE,  /* bidi controls, zero-width and other invisible characters */
	TEXT_UNASSIGNED, /* private use and noncharacters */
};
/* The check of every free-text field (names, addresses, reasons): what is
 * accepted draws as what it is, so that a name reads the same in a list, a
 * PDF and a certificate subject.  Trimming is the form layer's (str_trim). */
enum text_fault validate_text(const char *s, bool multiline);
/* Why, in Chinese, to follow the field's label: "含有不可见或控制字符，请删除后重新输入". */
const char *text_fault_reason(enum text_fault f);
/*
 * The form of a name under which two names are the same one: invisible and
 * control characters dropped, full-width ASCII (U+FF01-U+FF5E) made
 * half-width, A-Z lower-cased, every run of spaces (ASCII, U+3000, U+00A0
 * and the other Unicode spaces) dropped at the ends and next to any
 * non-ASCII character and made one ' ' between two ASCII characters.  No
 * other Unicode normalisation (no NFKC tables).  Writes into out, which
 * needs strlen(s) + 1 bytes (folding never lengthens), and returns out.
 */
char *text_fold(const char *s, char *out);

#endif

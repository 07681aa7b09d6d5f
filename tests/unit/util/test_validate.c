/*
 * Unit tests of src/util/validate.c.  Besides the worked examples, they prove
 * the check-digit claims exhaustively: every single-character substitution of
 * the example USCCs and ID numbers must be rejected, and for the 组织机构代码
 * the exact set of substitutions mod 11 cannot see is pinned down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "esp/validate.h"

static const char *const uscc_examples[] = {
    "91350100M000100Y43",
    "91350200776049653A",
    "913502000728319549",
};

static const char *const id_examples[] = {
    "11010519491231002X",
    "440524188001015368",
};

static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const char id_alphabet[] = "0123456789X";
static const char org_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* ------------------------------------------------------------------------ */
/* Helpers that build codes with a correct check character, so that a test
 * can show a rule other than the checksum rejecting them.  Written from the
 * standards' formulas, independently of the code under test. */

static void uscc_complete(const char body[17], char out[19])
{
	static const int w[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
	int sum = 0;
	for (int i = 0; i < 17; i++) {
		const char *p = strchr(uscc_alphabet, body[i]);
		/* a character outside the alphabet counts as 0: only the other rules matter */
		sum += (p != NULL && body[i] != '\0' ? (int)(p - uscc_alphabet) : 0) * w[i];
	}
	memcpy(out, body, 17);
	out[17] = uscc_alphabet[(31 - sum % 31) % 31];
	out[18] = '\0';
}

static void id_complete(const char body[17], char out[19])
{
	static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	int sum = 0;
	for (int i = 0; i < 17; i++)
		sum += (body[i] - '0') * w[i];
	memcpy(out, body, 17);
	out[17] = "10X98765432"[sum % 11];
	out[18] = '\0';
}

/* Body of 8 chars from 0-9A-Z; returns the GB 11714 check character. */
static char org_check(const char body[8])
{
	static const int w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
	int sum = 0;
	for (int i = 0; i < 8; i++)
		sum += (int)(strchr(org_alphabet, body[i]) - org_alphabet) * w[i];
	int c = 11 - sum % 11;
	return c == 10 ? 'X' : c == 11 ? '0' : (char)('0' + c);
}

/* An ID number of someone born on the given date (YYYYMMDD as 8 chars). */
static void id_born_on(const char *yyyymmdd, char out[19])
{
	char body[18];
	snprintf(body, sizeof body, "110105%.8s002", yyyymmdd);
	id_complete(body, out);
}

/* The date `days` from today in China Standard Time, as YYYYMMDD. */
static void china_date(int days, char out[9])
{
	time_t t = time(NULL) + 8 * 3600 + (time_t)days * 86400;
	struct tm tm;
	assert_non_null(gmtime_r(&t, &tm));
	assert_int_equal(strftime(out, 9, "%Y%m%d", &tm), 8);
}

/* ------------------------------------------------------------------------ */
/* 统一社会信用代码                                                           */

static void test_uscc_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof uscc_examples / sizeof *uscc_examples; i++)
		assert_true(validate_uscc(uscc_examples[i]));
}

/* 31 is prime and no weight is 0 mod 31, so every substitution inside the
 * alphabet changes Σ mod 31; a substituted check character no longer matches
 * the sum.  All 3 × 18 × 30 variants must fail. */
static void test_uscc_every_substitution_rejected(void **state)
{
	(void)state;
	int tried = 0;
	for (size_t e = 0; e < sizeof uscc_examples / sizeof *uscc_examples; e++) {
		for (int pos = 0; pos < 18; pos++) {
			for (const char *c = uscc_alphabet; *c != '\0'; c++) {
				char s[19];
				strcpy(s, uscc_examples[e]);
				if (s[pos] == *c)
					continue;
				s[pos] = *c;
				if (validate_uscc(s))
					fail_msg("accepted %s (position %d of %s)", s, pos + 1,
					         uscc_examples[e]);
				tried++;
			}
		}
	}
	assert_int_equal(tried, 3 * 18 * 30);
}

static void test_uscc_wrong_length(void **state)
{
	(void)state;
	assert_false(validate_uscc(""));
	assert_false(validate_uscc("91350100M000100Y4"));
	assert_false(validate_uscc("91350100M000100Y430"));
	assert_false(validate_uscc(" 91350100M000100Y43"));
	assert_false(validate_uscc("91350100M000100Y43 "));
	assert_false(validate_uscc(NULL));
}

static void test_uscc_lowercase_rejected(void **state)
{
	(void)state;
	assert_false(validate_uscc("91350100m000100y43"));
	assert_false(validate_uscc("91350100M000100y43"));
	assert_false(validate_uscc("91350200776049653a"));
}

/* I O Z S V are outside the alphabet: rejected whatever the check says, in
 * every position, including the check position. */
static void test_uscc_excluded_letters(void **state)
{
	(void)state;
	for (const char *c = "IOZSV"; *c != '\0'; c++) {
		for (int pos = 0; pos < 18; pos++) {
			char s[19];
			strcpy(s, uscc_examples[0]);
			s[pos] = *c;
			assert_false(validate_uscc(s));
		}
	}
}

/* A letter in the division code (chars 3-8) is refused even when the check
 * character is right for it. */
static void test_uscc_division_code_must_be_digits(void **state)
{
	(void)state;
	char s[19];
	for (int pos = 2; pos < 8; pos++) {
		char body[18];
		memcpy(body, "91350100M000100Y4", 18);
		body[pos] = 'A';
		uscc_complete(body, s);
		assert_false(validate_uscc(s));
	}
	/* The helper itself is right: with digits only it reproduces the example. */
	uscc_complete("91350100M000100Y4", s);
	assert_string_equal(s, "91350100M000100Y43");
	/* Letters are fine outside chars 3-8. */
	uscc_complete("Y1350100M000100Y4", s);
	assert_true(validate_uscc(s));
}

/* Every check character, including '0' for a sum that is 0 mod 31, must be
 * reachable and accepted.  The last body weight (28) is invertible mod 31, so
 * running char 17 through the alphabet yields all 31 check characters. */
static void test_uscc_every_check_character(void **state)
{
	(void)state;
	char seen[32] = {0};
	for (const char *c = uscc_alphabet; *c != '\0'; c++) {
		char body[18], s[19];
		memcpy(body, "91350100M000100Y4", 18);
		body[16] = *c;
		uscc_complete(body, s);
		assert_true(validate_uscc(s));
		seen[strchr(uscc_alphabet, s[17]) - uscc_alphabet] = 1;
	}
	for (int i = 0; i < 31; i++)
		assert_true(seen[i]);
}

/* ------------------------------------------------------------------------ */
/* 组织机构代码                                                               */

static void test_org_code_examples(void **state)
{
	(void)state;
	assert_true(validate_org_code("D2143569-X"));
	assert_true(validate_org_code("D2143569X"));
	assert_true(validate_org_code("M000100Y4"));
	assert_true(validate_org_code("M000100Y-4"));
	/* The organisation codes embedded in the USCC examples. */
	assert_true(validate_org_code("77604965-3"));
	assert_true(validate_org_code("07283195-4"));
}

static void test_org_code_malformed(void **state)
{
	(void)state;
	assert_false(validate_org_code(NULL));
	assert_false(validate_org_code(""));
	assert_false(validate_org_code("D2143569-x")); /* lower-case check: documented */
	assert_false(validate_org_code("d2143569-X"));
	assert_false(validate_org_code("D2143569-"));
	assert_false(validate_org_code("D2143569--X"));
	assert_false(validate_org_code("D214356-9X"));
	assert_false(validate_org_code("D2143569 X"));
	assert_false(validate_org_code("D214356X"));
	assert_false(validate_org_code("D21435690X"));
	assert_false(validate_org_code("D2143569-Y"));
	assert_false(validate_org_code("D2143569-0"));
	/* check value 11 is written '0', never "11" or anything else */
	assert_false(validate_org_code("D2143569-11"));
}

/* Mod 11 is weaker than mod 31: body values run 0..35, so a substitution
 * whose value differs by a multiple of 11 leaves Σ mod 11 unchanged and is
 * NOT caught (e.g. "MB00100Y4").  Assert exactly that: rejected iff the
 * difference is not a multiple of 11.  Digit-for-digit errors, the common
 * typing mistake, differ by at most 9 and are always caught. */
static void test_org_code_substitutions(void **state)
{
	(void)state;
	static const char *const examples[] = {"D2143569X", "M000100Y4"};
	int blind = 0;
	for (size_t e = 0; e < 2; e++) {
		for (int pos = 0; pos < 8; pos++) {
			int orig = (int)(strchr(org_alphabet, examples[e][pos]) - org_alphabet);
			for (int v = 0; v < 36; v++) {
				if (v == orig)
					continue;
				char s[10];
				strcpy(s, examples[e]);
				s[pos] = org_alphabet[v];
				bool undetectable = (v - orig) % 11 == 0;
				assert_int_equal(validate_org_code(s), undetectable);
				blind += undetectable;
			}
		}
		/* The check position: only the one right character passes. */
		for (const char *c = id_alphabet; *c != '\0'; c++) {
			char s[10];
			strcpy(s, examples[e]);
			if (s[8] == *c)
				continue;
			s[8] = *c;
			assert_false(validate_org_code(s));
		}
	}
	assert_true(blind > 0);
	assert_true(validate_org_code("MB00100Y4")); /* the documented blind spot */
}

/* All eleven check values, including 10 -> 'X' and 11 -> '0', with and
 * without the hyphen.  The last weight (2) is invertible mod 11, so running
 * the last body char over 0-9A-Z reaches them all. */
static void test_org_code_every_check_character(void **state)
{
	(void)state;
	int seen = 0;
	for (const char *c = org_alphabet; *c != '\0'; c++) {
		char plain[10], dashed[11];
		memcpy(plain, "D2143569", 8);
		plain[7] = *c;
		plain[8] = org_check(plain);
		plain[9] = '\0';
		snprintf(dashed, sizeof dashed, "%.8s-%c", plain, plain[8]);
		assert_true(validate_org_code(plain));
		assert_true(validate_org_code(dashed));
		seen |= 1 << (int)(strchr(id_alphabet, plain[8]) - id_alphabet);
	}
	assert_int_equal(seen, (1 << 11) - 1);
	assert_int_equal(org_check("D2143569"), 'X');
}

static void test_unit_code(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof uscc_examples / sizeof *uscc_examples; i++)
		assert_true(validate_unit_code(uscc_examples[i]));
	assert_true(validate_unit_code("D2143569-X"));
	assert_true(validate_unit_code("M000100Y4"));
	assert_false(validate_unit_code(id_examples[0]));
	assert_false(validate_unit_code("91350100M000100Y44"));
	assert_false(validate_unit_code("D2143569-8"));
	assert_false(validate_unit_code(""));
	assert_false(validate_unit_code(NULL));
}

/* ------------------------------------------------------------------------ */
/* 居民身份证号码                                                             */

static void test_id_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof id_examples / sizeof *id_examples; i++)
		assert_true(validate_id_number(id_examples[i]));
}

/* Weights are all non-zero mod the prime 11 and digits differ by at most 9,
 * so any digit substitution in positions 1-17 changes Σ mod 11 and is caught
 * by the check even where the birth date stays a valid date (e.g. 19491231 ->
 * 19481231); 'X' there is not a digit; a different check character does not
 * match.  All 2 × 18 × 10 variants must fail. */
static void test_id_every_substitution_rejected(void **state)
{
	(void)state;
	int tried = 0;
	for (size_t e = 0; e < sizeof id_examples / sizeof *id_examples; e++) {
		for (int pos = 0; pos < 18; pos++) {
			for (const char *c = id_alphabet; *c != '\0'; c++) {
				char s[19];
				strcpy(s, id_examples[e]);
				if (s[pos] == *c)
					continue;
				s[pos] = *c;
				if (validate_id_number(s))
					fail_msg("accepted %s (position %d of %s)", s, pos + 1,
					         id_examples[e]);
				tried++;
			}
		}
	}
	assert_int_equal(tried, 2 * 18 * 10);
}

/* All eleven check characters are reachable and accepted: the last two
 * weights (4, 2) are invertible mod 11, so varying chars 16-17 covers them. */
static void test_id_every_check_character(void **state)
{
	(void)state;
	int seen = 0;
	for (int n = 0; n < 100; n++) {
		char body[18], s[19];
		memcpy(body, "11010519491231000", 18);
		body[15] = (char)('0' + n / 10);
		body[16] = (char)('0' + n % 10);
		id_complete(body, s);
		assert_true(validate_id_number(s));
		seen |= 1 << (int)(strchr(id_alphabet, s[17]) - id_alphabet);
	}
	assert_int_equal(seen, (1 << 11) - 1);
	char s[19];
	id_complete("11010519491231002", s);
	assert_string_equal(s, id_examples[0]);
}

static void test_id_malformed(void **state)
{
	(void)state;
	assert_false(validate_id_number(NULL));
	assert_false(validate_id_number(""));
	assert_false(validate_id_number("11010519491231002x")); /* lower-case: documented */
	assert_false(validate_id_number("11010519491231002"));
	assert_false(validate_id_number("11010519491231002X0"));
	assert_false(validate_id_number("110105491231002")); /* old 15-digit form */
	assert_false(validate_id_number("1101051949123100X2"));
	assert_false(validate_id_number("11010519491231 02X"));
}

static void test_id_dates(void **state)
{
	(void)state;
	static const struct {
		const char *date;
		bool ok;
	} cases[] = {
	    {"20000229", true},                       /* divisible by 400: leap */
	    {"20240229", true},  {"19000229", false}, /* divisible by 100 only: not leap */
	    {"20230229", false}, {"20230228", true},  {"20240230", false},
	    {"19490431", false}, /* April has 30 days */
	    {"19490430", true},  {"19491232", false}, {"19491300", false},
	    {"19491301", false}, {"19490001", false}, {"19490100", false},
	    {"19000101", true},  {"18000101", true}, /* earliest accepted year, see ID_MIN_YEAR */
	    {"17991231", false}, {"00000101", false}, {"29990101", false}, /* future */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char s[19];
		id_born_on(cases[i].date, s);
		if (validate_id_number(s) != cases[i].ok)
			fail_msg("%s (born %s): expected %s", s, cases[i].date,
			         cases[i].ok ? "valid" : "invalid");
	}
}

/* Today (China time) is the last acceptable birth date.  Run exactly at
 * midnight Beijing time this could straddle the day change; that is a
 * once-a-day window of microseconds. */
static void test_id_future_dates(void **state)
{
	(void)state;
	char date[9], s[19];

	china_date(0, date);
	id_born_on(date, s);
	assert_true(validate_id_number(s));

	china_date(1, date);
	id_born_on(date, s);
	assert_false(validate_id_number(s));

	china_date(366, date);
	id_born_on(date, s);
	assert_false(validate_id_number(s));
}

/* ------------------------------------------------------------------------ */
/* Mobile, phone, postcode                                                   */

static void test_mobile(void **state)
{
	(void)state;
	assert_true(validate_mobile("13812345678"));
	assert_true(validate_mobile("19912345678"));
	assert_true(validate_mobile("+8613812345678"));
	assert_true(validate_mobile("+8615912345678"));

	assert_false(validate_mobile(NULL));
	assert_false(validate_mobile(""));
	assert_false(validate_mobile("+86"));
	assert_false(validate_mobile("12812345678")); /* second digit 2 */
	assert_false(validate_mobile("10812345678"));
	assert_false(validate_mobile("23812345678"));
	assert_false(validate_mobile("1381234567"));   /* 10 digits */
	assert_false(validate_mobile("138123456789")); /* 12 digits */
	assert_false(validate_mobile("+86138123456789"));
	assert_false(validate_mobile("8613812345678")); /* country code without '+' */
	assert_false(validate_mobile("+85213812345678"));
	assert_false(validate_mobile("+86 13812345678"));
	assert_false(validate_mobile("138-1234-5678"));
	assert_false(validate_mobile("1381234567a"));
	assert_false(validate_mobile(" 13812345678"));
	assert_false(validate_mobile("+86+8613812345678"));
}

/* What people type into a mobile field: the stored number is the 11 digits. */
static void test_normalise_mobile(void **state)
{
	(void)state;
	char out[12];
	const char *ok[] = {
	    "13812345678",        "138 1234 5678",       "138-1234-5678",  "+86 138 1234 5678",
	    "+86 13812345678",    "+86-138-1234-5678",   "+8613812345678", "86 138 1234 5678",
	    "0086 138 1234 5678", "(+86) 138 1234 5678",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_true(validate_normalise_mobile(ok[i], out));
		assert_string_equal(out, "13812345678");
	}
	const char *bad[] = {
	    NULL,
	    "",
	    "+86",
	    "138 1234 567",
	    "138 1234 56789",
	    "+852 138 1234 5678",
	    "+1 138 1234 5678",
	    "128 1234 5678",
	    "138.1234.5678",
	    "138 1234 567a",
	    "+86+86 13812345678",
	    "138 1234 5678 +86",
	    "+0086 138 1234 5678",
	    "0592-1234567",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		strcpy(out, "x");
		assert_false(validate_normalise_mobile(bad[i], out));
		assert_string_equal(out, "");
	}
}

/* A code of the right shape with a wrong check character is told apart
 * from something that is no 组织机构代码 at all. */
static void test_org_code_shape(void **state)
{
	(void)state;
	assert_true(validate_org_code_shape("D2143569X"));
	assert_true(validate_org_code_shape("D2143569-X"));
	assert_true(validate_org_code_shape("D21435695")); /* wrong check, right shape */
	assert_false(validate_org_code("D21435695"));
	assert_true(validate_org_code_shape("D2143569-0"));
	assert_false(validate_org_code_shape(NULL));
	assert_false(validate_org_code_shape("D2143569"));
	assert_false(validate_org_code_shape("D2143569-Y"));
	assert_false(validate_org_code_shape("d2143569X"));
	assert_false(validate_org_code_shape("D2143569_X"));
	assert_false(validate_org_code_shape("D21435690X"));
}

static void test_phone(void **state)
{
	(void)state;
	assert_true(validate_phone("0592-1234567"));
	assert_true(validate_phone("010-88886666"));
	assert_true(validate_phone("+86 10 8888 6666"));
	assert_true(validate_phone("+86-592-1234567"));
	assert_true(validate_phone("13812345678"));
	assert_true(validate_phone("1234567"));              /* 7 chars */
	assert_true(validate_phone("12345678901234567890")); /* 20 chars */

	assert_false(validate_phone(NULL));
	assert_false(validate_phone(""));
	assert_false(validate_phone("123456"));
	assert_false(validate_phone("123456789012345678901"));
	assert_false(validate_phone("12-34-5")); /* 7 chars but 5 digits */
	assert_false(validate_phone("0592--1234567"));
	assert_false(validate_phone("0592-1234567-"));
	assert_false(validate_phone("-0592-1234567"));
	assert_false(validate_phone("0592+1234567"));
	assert_false(validate_phone("++861234567"));
	assert_false(validate_phone("(010)88886666"));
	assert_false(validate_phone("0592-123456a"));
	assert_false(validate_phone("0592\t1234567"));
	assert_false(validate_phone("+ 861234567"));
}

static void test_postcode(void **state)
{
	(void)state;
	assert_true(validate_postcode("361000"));
	assert_true(validate_postcode("100000"));
	assert_true(validate_postcode("000000"));

	assert_false(validate_postcode(NULL));
	assert_false(validate_postcode(""));
	assert_false(validate_postcode("36100"));
	assert_false(validate_postcode("3610000"));
	assert_false(validate_postcode("36100a"));
	assert_false(validate_postcode(" 36100"));
	assert_false(validate_postcode("361 00"));
}

/* ------------------------------------------------------------------------ */
/* E-mail                                                                    */

static void test_email_valid(void **state)
{
	(void)state;
	assert_true(validate_email("a@b.cn"));
	assert_true(validate_email("zhang.san@example.com.cn"));
	assert_true(validate_email("first.last+tag@mail.example.org"));
	assert_true(validate_email("a_b-c!#$%&'*/=?^`{|}~@x-y.com"));
	assert_true(validate_email("user@xn--fiqs8s.xn--fiqs8s"));
	assert_true(validate_email("User@Example.COM"));
	assert_true(validate_email("1@123.com"));
}

static void test_email_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "plain",
	    "@b.cn",
	    "a@",
	    "a@@b.cn",
	    "a@b@c.cn",
	    ".a@b.cn",
	    "a.@b.cn",
	    "a..b@c.cn",
	    "a@b",         /* no TLD */
	    "a@localhost", /* one label */
	    "a@b.c",       /* one-letter TLD */
	    "a@1.2.3.4",   /* address literal without brackets */
	    "a@192.168.1.10",
	    "a@example.123", /* all-digit TLD */
	    "a@[1.2.3.4]",
	    "a@.b.cn",
	    "a@b.cn.",
	    "a@b..cn",
	    "a@-b.cn",
	    "a@b-.cn",
	    "a@b_c.cn",
	    "a b@c.cn",
	    "\"a b\"@c.cn", /* quoted local parts are refused */
	    "a<b>@c.cn",
	    "a@b.cn\n",
	    "a\r\nBcc: x@y.cn@c.cn",
	    "张三@example.cn",
	    "a@例子.cn",
	};
	assert_false(validate_email(NULL));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (validate_email(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_email_lengths(void **state)
{
	(void)state;
	char s[300];

	/* Local part: 64 ok, 65 not. */
	memset(s, 'a', 64);
	strcpy(s + 64, "@b.cn");
	assert_true(validate_email(s));
	memset(s, 'a', 65);
	strcpy(s + 65, "@b.cn");
	assert_false(validate_email(s));

	/* Label: 63 ok, 64 not. */
	strcpy(s, "a@");
	memset(s + 2, 'b', 63);
	strcpy(s + 65, ".cn");
	assert_true(validate_email(s));
	memset(s + 2, 'b', 64);
	strcpy(s + 66, ".cn");
	assert_false(validate_email(s));

	/* Whole address: 254 ok, 255 not ("a@" + labels of 49 + "." ...). */
	for (size_t total = 254; total <= 255; total++) {
		strcpy(s, "a@");
		size_t n = 2;
		while (n < total) {
			size_t label = total - n >= 51 ? 49 : total - n - 1;
			if (n > 2)
				s[n++] = '.';
			memset(s + n, 'x', label);
			n += label;
		}
		s[n] = '\0';
		assert_int_equal(strlen(s), total);
		assert_int_equal(validate_email(s), total == 254);
	}
}

/* ------------------------------------------------------------------------ */
/* PIN                                                                       */

static void test_pin(void **state)
{
	(void)state;
	assert_true(validate_pin("123456"));
	assert_true(validate_pin("1234567890abcdef"));
	assert_true(validate_pin("!\"#$%&'()*+,-./:"));
	assert_true(validate_pin("~}|{`_^]\\[@?>=<;"));

	assert_false(validate_pin(NULL));
	assert_false(validate_pin(""));
	assert_false(validate_pin("12345"));
	assert_false(validate_pin("1234567890abcdefg"));
	assert_false(validate_pin("123 456")); /* space: documented */
	assert_false(validate_pin("123456\t"));
	assert_false(validate_pin("123456\x7f"));
	assert_false(validate_pin("密码123456"));
	assert_false(validate_pin("1234567890abcdefghijklmnopqrstuvwxyz"));
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                     */

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_int_equal(utf8_length(""), 0);
	assert_int_equal(utf8_length("abc"), 3);
	assert_int_equal(utf8_length("厦门市"), 3);
	assert_int_equal(utf8_length("a中b"), 3);
	assert_int_equal(utf8_length("\xF0\x9F\x98\x80"), 1); /* U+1F600 */
	/* Boundaries of each sequence length and around the surrogates. */
	assert_int_equal(utf8_length("\x7F"), 1);             /* U+007F */
	assert_int_equal(utf8_length("\xC2\x80"), 1);         /* U+0080 */
	assert_int_equal(utf8_length("\xDF\xBF"), 1);         /* U+07FF */
	assert_int_equal(utf8_length("\xE0\xA0\x80"), 1);     /* U+0800 */
	assert_int_equal(utf8_length("\xED\x9F\xBF"), 1);     /* U+D7FF */
	assert_int_equal(utf8_length("\xEE\x80\x80"), 1);     /* U+E000 */
	assert_int_equal(utf8_length("\xEF\xBF\xBF"), 1);     /* U+FFFF */
	assert_int_equal(utf8_length("\xF0\x90\x80\x80"), 1); /* U+10000 */
	assert_int_equal(utf8_length("\xF4\x8F\xBF\xBF"), 1); /* U+10FFFF */
	assert_int_equal(utf8_length("\xEF\xBB\xBF"
	                             "a"),
	                 2); /* BOM counts */
}

static void test_utf8_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "\x80", /* lone continuation */
	    "a\xBF",
	    "\xC0\x80",                 /* overlong NUL */
	    "\xC0\xAF",                 /* overlong '/' */
	    "\xC1\xBF",                 /* overlong U+007F */
	    "\xE0\x80\xAF",             /* overlong '/' */
	    "\xE0\x9F\xBF",             /* overlong U+07FF */
	    "\xF0\x80\x80\xAF",         /* overlong '/' */
	    "\xF0\x8F\xBF\xBF",         /* overlong U+FFFF */
	    "\xED\xA0\x80",             /* U+D800 */
	    "\xED\xBF\xBF",             /* U+DFFF */
	    "\xED\xA0\xBD\xED\xB8\x80", /* CESU-8 surrogate pair */
	    "\xF4\x90\x80\x80",         /* U+110000 */
	    "\xF5\x80\x80\x80",
	    "\xF8\x88\x80\x80\x80", /* old 5-byte form */
	    "\xF8\x90\x80\x80",     /* 0xF8 is no lead byte, not even for 4 bytes */
	    "\xFC\x84\x80\x80\x80\x80",
	    "\xFE",
	    "\xFF",
	    "\xE4\xB8",     /* truncated 中 at end of string */
	    "\xE4\xB8\x61", /* truncated, 'a' follows */
	    "\xC2",
	    "\xF0\x9F\x98",
	    "\xC2\xC2\x80", /* lead byte where continuation expected */
	    "abc\xE4",
	};
	assert_int_equal(utf8_length(NULL), -1);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (utf8_length(bad[i]) != -1)
			fail_msg("case %zu accepted", i);
	}
}

/* ------------------------------------------------------------------------ */
/* Free text                                                                 */

/* s with the UTF-8 of code point cp inserted in the middle of "福州a" ...
 * "b交通局", so that each class is caught where it hides, not only at an end. */
static const char *with_cp(char *buf, unsigned long cp)
{
	char mid[5];
	size_t n;
	if (cp < 0x80) {
		mid[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		mid[0] = (char)(0xC0 | (cp >> 6));
		mid[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		mid[0] = (char)(0xE0 | (cp >> 12));
		mid[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		mid[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		mid[0] = (char)(0xF0 | (cp >> 18));
		mid[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		mid[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		mid[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	mid[n] = '\0';
	sprintf(buf, "福州a%sb交通局", mid);
	return buf;
}

static void expect_fault(const unsigned long *cps, size_t n, enum text_fault want)
{
	char buf[64];
	for (size_t i = 0; i < n; i++) {
		enum text_fault got = validate_text(with_cp(buf, cps[i]), false);
		if (got != want)
			fail_msg("U+%04lX: fault %d, want %d", cps[i], (int)got, (int)want);
	}
}

static void test_text_accepts_names(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "",
	    "福州市交通运输局",
	    "厦门港务（集团）有限公司",
	    "ABC Logistics Co., Ltd.",
	    "北京市朝阳区建国路88号SOHO现代城A座1201室",
	    "阿卜杜热合曼·买买提",
	    "𠮷野家",
	    "Müller & Söhne",
	    "中国　交通",
	    "电话：0591-87654321",
	    "\xC2\xA0" /* NBSP */,
	    "\xC2\xA0"
	    "a",
	    "\xC2\xA0\xC2\xA1", /* U+00A0, U+00A1: first after C1 */
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		if (validate_text(good[i], false) != TEXT_OK)
			fail_msg("\"%s\" refused", good[i]);
	}
	/* Boundaries next to each refused class pass. */
	static const unsigned long ok[] = {
	    0x20,
	    0x7E,
	    0xA0,
	    0xAE,
	    0x61B,
	    0x61D,
	    0x200A,
	    0x2010,
	    0x2027,
	    0x202F,
	    0x205F,
	    0x2070,
	    0xDFFF0 /* unassigned, not private */,
	    0xD7FF,
	    0xF900,
	    0xFDCF,
	    0xFDF0,
	    0xFE10,
	    0xFEFE,
	    0xFF00,
	    0xFFFD,
	    0x1FFFD,
	    0xEFFFD,
	    0x10000,
	    0x2A6D6,
	};
	char buf[64];
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		if (validate_text(with_cp(buf, ok[i]), false) != TEXT_OK)
			fail_msg("U+%04lX refused", ok[i]);
	}
}

static void test_text_refuses_controls(void **state)
{
	(void)state;
	static const unsigned long c0[] = {0x01, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x1B, 0x1F};
	static const unsigned long del_c1[] = {0x7F, 0x80, 0x85 /* NEL */, 0x9B /* CSI */, 0x9F};
	static const unsigned long separators[] = {0x2028, 0x2029};
	expect_fault(c0, sizeof c0 / sizeof *c0, TEXT_CONTROL);
	expect_fault(del_c1, sizeof del_c1 / sizeof *del_c1, TEXT_CONTROL);
	expect_fault(separators, sizeof separators / sizeof *separators, TEXT_CONTROL);
	/* Multi-line text keeps its line breaks and tabs, and nothing else. */
	assert_int_equal(validate_text("第一行\r\n第二行\n\t第三行", true), TEXT_OK);
	assert_int_equal(validate_text("第一行\r\n第二行", false), TEXT_CONTROL);
	assert_int_equal(validate_text("a\x1b[31m", true), TEXT_CONTROL);
	assert_int_equal(validate_text("a\xC2\x85"
	                               "b",
	                               true),
	                 TEXT_CONTROL);
	assert_int_equal(validate_text("a\x7f", true), TEXT_CONTROL);
}

static void test_text_refuses_bidi(void **state)
{
	(void)state;
	static const unsigned long bidi[] = {
	    0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C,
	    0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069,
	};
	expect_fault(bidi, sizeof bidi / sizeof *bidi, TEXT_INVISIBLE);
	/* The classic: a name that displays reversed after RLO. */
	assert_int_equal(validate_text("交通\xE2\x80\xAE"
	                               "局输运",
	                               false),
	                 TEXT_INVISIBLE);
}

static void test_text_refuses_invisible(void **state)
{
	(void)state;
	static const unsigned long zw[] = {
	    0x00AD, 0x034F, 0x115F,  0x1160,  0x180E,  0x200B,  0x200C,  0x200D, 0x2060,
	    0x2061, 0x2064, 0x206A,  0x206F,  0x3164,  0xFE00,  0xFE0F,  0xFEFF, 0xFFA0,
	    0xFFF9, 0xFFFB, 0x1D173, 0xE0001, 0xE0041, 0xE0100, 0xE01EF,
	};
	expect_fault(zw, sizeof zw / sizeof *zw, TEXT_INVISIBLE);
	assert_int_equal(validate_text("\xEF\xBB\xBF"
	                               "福州",
	                               false),
	                 TEXT_INVISIBLE); /* BOM */
}

static void test_text_refuses_private_and_noncharacters(void **state)
{
	(void)state;
	static const unsigned long pua[] = {
	    0xE000, 0xE5E5, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD,
	    0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF,  0x1FFFE, 0x2FFFF,  0x10FFFF,
	};
	expect_fault(pua, sizeof pua / sizeof *pua, TEXT_UNASSIGNED);
}

static void test_text_refuses_bad_utf8(void **state)
{
	(void)state;
	assert_int_equal(validate_text(NULL, false), TEXT_NOT_UTF8);
	assert_int_equal(validate_text("\xED\xA0\x80", false),
	                 TEXT_NOT_UTF8); /* lone high surrogate */
	assert_int_equal(validate_text("a\xED\xBF\xBF", false),
	                 TEXT_NOT_UTF8); /* lone low surrogate */
	assert_int_equal(validate_text("\xED\xA0\xBD\xED\xB8\x80", false), TEXT_NOT_UTF8);
	assert_int_equal(validate_text("\xC0\xAF", false), TEXT_NOT_UTF8);
	assert_int_equal(validate_text("福\xE5", false), TEXT_NOT_UTF8);
	assert_int_equal(validate_text("\x85", false), TEXT_NOT_UTF8); /* Latin-1 NEL, raw */
}

static void test_text_fault_reason(void **state)
{
	(void)state;
	assert_string_equal(text_fault_reason(TEXT_OK), "");
	assert_string_equal(text_fault_reason(TEXT_INVISIBLE),
	                    "含有不可见或控制字符，请删除后重新输入");
	assert_string_equal(text_fault_reason(TEXT_CONTROL),
	                    "含有不可见或控制字符，请删除后重新输入");
	assert_non_null(strstr(text_fault_reason(TEXT_UNASSIGNED), "私用区"));
	assert_non_null(strstr(text_fault_reason(TEXT_NOT_UTF8), "编码"));
}

static void expect_fold(const char *in, const char *want)
{
	char out[256];
	assert_true(strlen(in) < sizeof out);
	text_fold(in, out);
	if (strcmp(out, want) != 0)
		fail_msg("fold(\"%s\") = \"%s\", want \"%s\"", in, out, want);
	assert_true(strlen(out) <= strlen(in));
}

static void test_text_fold(void **state)
{
	(void)state;
	expect_fold("", "");
	expect_fold("福州市交通运输局", "福州市交通运输局");
	/* Spaces of every width, at the ends and between 汉字, are noise. */
	expect_fold("  福州市交通运输局\t", "福州市交通运输局");
	expect_fold("　福州市　交通运输局　", "福州市交通运输局");
	expect_fold("福州市 \xC2\xA0 交通运输局", "福州市交通运输局");
	expect_fold("福州市\xE2\x80\x83交通运输局", "福州市交通运输局"); /* EM SPACE */
	/* Between Latin words one space stays. */
	expect_fold("ABC  Logistics", "abc logistics");
	expect_fold("ＡＢＣ　Ｌｏｇｉｓｔｉｃｓ", "abc logistics");
	expect_fold("第１２３号（试点）", "第123号(试点)");
	expect_fold("Ｇ２０３ 养护中心", "g203养护中心");
	/* Invisible and control characters vanish. */
	expect_fold("福州\xE2\x80\x8B市\xE2\x80\xAE交通\xC2\x85运输局\xEF\xBB\xBF",
	            "福州市交通运输局");
	expect_fold("a\xC2\xAD"
	            "b",
	            "ab");
	/* Full-width range ends; U+FF5F onwards (white parentheses, half-width
	 * katakana) is left alone. */
	expect_fold("！～", "!~");
	expect_fold("\xEF\xBD\x9F", "\xEF\xBD\x9F");
	/* Invalid bytes pass through. */
	expect_fold("a\xFF"
	            "b",
	            "a\xFF"
	            "b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uscc_examples),
	    cmocka_unit_test(test_uscc_every_substitution_rejected),
	    cmocka_unit_test(test_uscc_every_check_character),
	    cmocka_unit_test(test_uscc_wrong_length),
	    cmocka_unit_test(test_uscc_lowercase_rejected),
	    cmocka_unit_test(test_uscc_excluded_letters),
	    cmocka_unit_test(test_uscc_division_code_must_be_digits),
	    cmocka_unit_test(test_org_code_examples),
	    cmocka_unit_test(test_org_code_malformed),
	    cmocka_unit_test(test_org_code_substitutions),
	    cmocka_unit_test(test_org_code_every_check_character),
	    cmocka_unit_test(test_unit_code),
	    cmocka_unit_test(test_id_examples),
	    cmocka_unit_test(test_id_every_substitution_rejected),
	    cmocka_unit_test(test_id_every_check_character),
	    cmocka_unit_test(test_id_malformed),
	    cmocka_unit_test(test_id_dates),
	    cmocka_unit_test(test_id_future_dates),
	    cmocka_unit_test(test_mobile),
	    cmocka_unit_test(test_normalise_mobile),
	    cmocka_unit_test(test_org_code_shape),
	    cmocka_unit_test(test_phone),
	    cmocka_unit_test(test_postcode),
	    cmocka_unit_test(test_email_valid),
	    cmocka_unit_test(test_email_invalid),
	    cmocka_unit_test(test_email_lengths),
	    cmocka_unit_test(test_pin),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_utf8_invalid),
	    cmocka_unit_test(test_text_accepts_names),
	    cmocka_unit_test(test_text_refuses_controls),
	    cmocka_unit_test(test_text_refuses_bidi),
	    cmocka_unit_test(test_text_refuses_invisible),
	    cmocka_unit_test(test_text_refuses_private_and_noncharacters),
	    cmocka_unit_test(test_text_refuses_bad_utf8),
	    cmocka_unit_test(test_text_fault_reason),
	    cmocka_unit_test(test_text_fold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

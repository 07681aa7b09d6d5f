/*
 * The form token check: logged-in forms carry the session's token,
 * anonymous ones a token equal to the esp_csrf cookie (double submit).
 */
#include "csrf.h"

#include <sodium.h>
#include <string.h>

bool csrf_token_ok(const char *sent, const char *expected)
{
	if (!sent || !expected || !*expected)
		return false;
	size_t n = strlen(sent);
	return n == strlen(expected) && sodium_memcmp(sent, expected, n) == 0;
}

bool csrf_cookie_usable(const char *cookie)
{
	if (!cookie)
		return false;
	size_t n = strlen(cookie);
	return n >= CSRF_COOKIE_MIN && n <= CSRF_COOKIE_MAX;
}

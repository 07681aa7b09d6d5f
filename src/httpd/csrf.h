/*
 * The form token (CSRF) rules (csrf.c): what a posted token must be to be
 * accepted, and which esp_csrf cookie is worth keeping. Pure functions.
 */
#ifndef ESPD_CSRF_H
#define ESPD_CSRF_H

#include <stdbool.h>

/* Lengths of an esp_csrf cookie we accept as ours (random_token(24) makes 32). */
#define CSRF_COOKIE_MIN 20
#define CSRF_COOKIE_MAX 64

/* Whether the token a form sent equals the one expected, in time that does
 * not depend on where they differ; false when either is missing or empty. */
bool csrf_token_ok(const char *sent, const char *expected);

/* Whether an esp_csrf cookie the client sent may serve as the token of
 * anonymous forms (double submit); otherwise a new one is made. */
bool csrf_cookie_usable(const char *cookie);

#endif

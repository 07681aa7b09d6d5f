/* Rows the core's unit tests start from (include after <cmocka.h>): an
 * approved registration in 福建 (35) and an initial application of it, on
 * either engine. Shared by test_issue_commit.c and test_replace.c. */
#ifndef ESP_TEST_APPFIXTURE_H
#define ESP_TEST_APPFIXTURE_H

#include "esp/policy.h"
#include "esp/db.h"

/* Province 35 and its provincial authority when missing, an approved
 * registration of `kind` ("enterprise", ...) with USCC `code`, and an
 * initial application of `sets` keys made by its applicant with the
 * idempotency key `idem`. *holder (when not NULL) becomes the applicant.
 * Returns the application's number (caller frees). */
char *fixture_application(db_conn *c, const char *kind, const char *code, const char *idem,
                          int sets, struct actor *holder);

#endif

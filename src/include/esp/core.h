/*
 * The domain, for callers that want all of it: who acts and what they may
 * do (policy.h), accounts and sessions (account.h), the password rule and
 * password changes (password.h), the authority tree (authority.h), the
 * settings (settings.h), the generations (generation.h), the base data
 * (seed.h) and the audit log (audit.h).  Each source of src/core has its own
 * header; used by espd and espctl alike, every function takes a db_conn and
 * does its own transaction where it writes.
 */
#ifndef ESP_CORE_H
#define ESP_CORE_H

#include "esp/account.h"
#include "esp/audit.h"
#include "esp/authority.h"
#include "esp/db.h"
#include "esp/generation.h"
#include "esp/password.h"
#include "esp/policy.h"
#include "esp/seed.h"
#include "esp/settings.h"
#include "esp/util.h"

#endif

/* How many Argon2id password hashes run at once in this process. */
#ifndef ESP_PWSLOT_H
#define ESP_PWSLOT_H

#include <stdbool.h>

/* slots 0 = no bound (espctl, tests); wait_ms: how long a bounded enter
 * waits for a slot before giving up. */
void pwslot_configure(int slots, int wait_ms);

/* Takes a slot for the calling thread. bounded: give up after the
 * configured wait (false: the caller answers 503); otherwise wait as long as
 * it takes. A thread that already holds one takes it again without waiting
 * (a request holds it around the whole step whose hash it bounds). */
bool pwslot_enter(bool bounded);
void pwslot_leave(void);

#endif

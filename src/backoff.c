/* backoff.c - the retry delays of sources (rules in backoff.h). */
#include "backoff.h"

int64_t sl_backoff_next(int64_t *nominal_ms, int64_t every_ms, int64_t server_ms, uint32_t rnd) {
    int64_t cap = every_ms > SL_BACKOFF_CAP_MS ? every_ms : SL_BACKOFF_CAP_MS;
    int64_t d = *nominal_ms <= 0 ? SL_BACKOFF_BASE_MS : *nominal_ms >= cap / 2 ? cap : *nominal_ms * 2;
    if (d > cap) d = cap;                                    /* rule 2 */
    *nominal_ms = d;
    int64_t wait = d / 2 + (int64_t)((uint64_t)rnd % (uint64_t)(d / 2 + 1));   /* rule 3: [d/2, d] */
    if (server_ms > wait) {
        wait = server_ms;
        /* the next failure doubles from what the server asked, within the cap */
        *nominal_ms = server_ms < cap ? server_ms : cap;
    }
    return wait > 0 ? wait : 1;
}

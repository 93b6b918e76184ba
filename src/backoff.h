/* backoff.h - when a failed source tries again: exponential backoff with jitter,
 * combined with the source's schedule and the server's Retry-After (DESIGN §2.6).
 *
 * The rule, in one place (the sources thread of runner.c applies it):
 *  1. The first retry of a run of failures waits about SL_BACKOFF_BASE_MS; each
 *     further failure doubles the nominal delay.
 *  2. The nominal delay is capped at max(SL_BACKOFF_CAP_MS, the schedule's interval):
 *     a source that keeps failing is never polled more often than its schedule once
 *     backed off, and never more often than every few minutes.
 *  3. The delay actually waited is drawn from [nominal/2, nominal] (jitter: sources
 *     that failed together do not retry together), and is never shorter than what
 *     the server asked for (Retry-After, X-RateLimit-Reset...), even past the cap.
 *  4. A completed poll (records committed, 304, a dead-lettered body) ends the run of
 *     failures: the nominal delay goes back to 0.  A call that only advanced a
 *     transfer in flight is not a completed poll (sl_emit_pending()).
 * Pure functions: no clock, no global state (the caller passes the random number). */
#ifndef SLUICE_BACKOFF_H
#define SLUICE_BACKOFF_H

#include <stdint.h>

#define SL_BACKOFF_BASE_MS 1000
#define SL_BACKOFF_CAP_MS 300000

/* One failure more.  *nominal_ms is the state of the run of failures (0 = none yet);
 * it is updated.  every_ms is the schedule's interval (0 = none), server_ms what the
 * server asked for (-1 = nothing).  Returns the delay to wait, in ms (> 0). */
int64_t sl_backoff_next(int64_t *nominal_ms, int64_t every_ms, int64_t server_ms, uint32_t rnd);

#endif

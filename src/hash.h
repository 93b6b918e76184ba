/* hash.h - a fast 64-bit hash of bytes for in-memory tables (dedup sets, alert keys):
 * 8 bytes at a time with multiply-xorshift mixing and a final avalanche.  Never 0 (0
 * marks an empty slot).  Not for anything an attacker must not collide. */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sl_hash_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline uint64_t sl_hash64(const void *data, size_t n) {
    const char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ sl_hash_mix(w)) * 0xc4ceb9fe1a85ec53ULL;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)(unsigned char)p[i] << (8 * i);
    h = sl_hash_mix((h ^ sl_hash_mix(w ^ 0x2545f4914f6cdd1dULL)) * 0xc4ceb9fe1a85ec53ULL);
    return h ? h : 1;
}

#endif

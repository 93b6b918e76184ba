/* sha1.h - SHA-1 (FIPS 180-4), for name-based UUIDs (RFC 4122 version 5).
 * Not for security: SHA-1 is broken for collision resistance. */
#ifndef SLUICE_SHA1_H
#define SLUICE_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_sha1 {
    uint32_t h[5];
    uint64_t len;          /* bytes hashed so far */
    unsigned char buf[64];
    size_t nbuf;
} sl_sha1_t;

void sl_sha1_init(sl_sha1_t *ctx);
void sl_sha1_update(sl_sha1_t *ctx, const void *data, size_t len);
void sl_sha1_final(sl_sha1_t *ctx, unsigned char out[20]);

#endif

/* sha1.c - SHA-1 (FIPS 180-4) for uuid5(); see sha1.h. */
#include "sha1.h"

#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void sha1_block(uint32_t h[5], const unsigned char *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
        else { f = b ^ c ^ d; k = 0xCA62C1D6; }
        uint32_t t = ROL(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = ROL(b, 30);
        b = a;
        a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void sl_sha1_init(sl_sha1_t *ctx) {
    static const uint32_t init[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(ctx->h, init, sizeof init);
    ctx->len = 0;
    ctx->nbuf = 0;
}

void sl_sha1_update(sl_sha1_t *ctx, const void *data, size_t len) {
    const unsigned char *p = data;
    ctx->len += len;
    if (ctx->nbuf) {
        size_t take = 64 - ctx->nbuf < len ? 64 - ctx->nbuf : len;
        memcpy(ctx->buf + ctx->nbuf, p, take);
        ctx->nbuf += take;
        p += take;
        len -= take;
        if (ctx->nbuf < 64) return;
        sha1_block(ctx->h, ctx->buf);
        ctx->nbuf = 0;
    }
    for (; len >= 64; p += 64, len -= 64) sha1_block(ctx->h, p);
    if (len) memcpy(ctx->buf, p, len);
    ctx->nbuf = len;
}

void sl_sha1_final(sl_sha1_t *ctx, unsigned char out[20]) {
    uint64_t bits = ctx->len * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (ctx->nbuf < 56 ? 56 : 120) - ctx->nbuf;
    for (int i = 0; i < 8; i++) pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    sl_sha1_update(ctx, pad, padlen + 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(ctx->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(ctx->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(ctx->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)ctx->h[i];
    }
}


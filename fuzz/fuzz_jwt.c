
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * libFuzzer target: the JWT parser, ngx_http_notify_authenticate(), with
 * an HS256 key.  The first byte chooses how the rest is used:
 *
 *   even   the Authorization header's value, as sent
 *   odd    "<header JSON>\n<claims JSON>": the target encodes and signs
 *          them with the key, so that the claims' checks are reached too
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_jwt_internal.h"
#include "fuzz_request.h"

#include <openssl/hmac.h>


static u_char  ngx_fuzz_secret[] = "fuzz-secret-fuzz-secret-fuzz-secret!";


static u_char *
ngx_fuzz_b64url(u_char *dst, const u_char *src, size_t len)
{
    static const char  t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t             i;
    uint32_t           v;

    for (i = 0; i + 2 < len; i += 3) {
        v = src[i] << 16 | src[i + 1] << 8 | src[i + 2];
        *dst++ = t[v >> 18 & 63];
        *dst++ = t[v >> 12 & 63];
        *dst++ = t[v >> 6 & 63];
        *dst++ = t[v & 63];
    }

    if (len - i == 1) {
        v = src[i] << 16;
        *dst++ = t[v >> 18 & 63];
        *dst++ = t[v >> 12 & 63];

    } else if (len - i == 2) {
        v = src[i] << 16 | src[i + 1] << 8;
        *dst++ = t[v >> 18 & 63];
        *dst++ = t[v >> 12 & 63];
        *dst++ = t[v >> 6 & 63];
    }

    return dst;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *tok, *p, *nl, mac[EVP_MAX_MD_SIZE];
    unsigned int                  maclen;
    ngx_pool_t                   *pool;
    ngx_str_t                    *aud;
    ngx_table_elt_t              *h;
    ngx_http_request_t           *r;
    ngx_http_notify_req_t        *nr;
    ngx_http_notify_jwt_key_t    *key;
    ngx_http_notify_jwt_conf_t   *jcf;

    if (size == 0) {
        return 0;
    }

    pool = ngx_create_pool(1024, &ngx_fuzz_log);
    r = ngx_fuzz_request(pool, "/fuzz", 0, &nr);

    jcf = ngx_pcalloc(pool, sizeof(ngx_http_notify_jwt_conf_t));
    jcf->keys = ngx_array_create(pool, 2, sizeof(ngx_http_notify_jwt_key_t));
    key = ngx_array_push(jcf->keys);
    ngx_memzero(key, sizeof(ngx_http_notify_jwt_key_t));
    ngx_str_set(&key->kid, "k1");
    key->kty = NGX_HTTP_NOTIFY_JWT_OCT;
    key->secret.data = ngx_fuzz_secret;
    key->secret.len = sizeof(ngx_fuzz_secret) - 1;
    ngx_str_set(&jcf->issuer, "https://issuer.example.org");
    jcf->audiences = ngx_array_create(pool, 1, sizeof(ngx_str_t));
    aud = ngx_array_push(jcf->audiences);
    ngx_str_set(aud, "api://notify-hub");
    jcf->leeway = 60;

    h = ngx_list_push(&r->headers_in.headers);
    ngx_memzero(h, sizeof(ngx_table_elt_t));
    h->hash = 1;
    ngx_str_set(&h->key, "Authorization");
    r->headers_in.authorization = h;

    data++;
    size--;

    if (data[-1] & 1) {
        nl = memchr(data, '\n', size);
        if (nl == NULL) {
            nl = (u_char *) data + size;
        }

        tok = ngx_pnalloc(pool, 4 * size / 3 + 64 + 4);
        p = ngx_fuzz_b64url(tok, data, nl - data);
        *p++ = '.';
        if (nl < data + size) {
            p = ngx_fuzz_b64url(p, nl + 1, data + size - nl - 1);
        }

        HMAC(EVP_sha256(), ngx_fuzz_secret, sizeof(ngx_fuzz_secret) - 1,
             tok, p - tok, mac, &maclen);

        *p++ = '.';
        p = ngx_fuzz_b64url(p, mac, maclen);

        h->value.data = tok;
        h->value.len = p - tok;

    } else {
        h->value.data = ngx_pnalloc(pool, size);
        ngx_memcpy(h->value.data, data, size);
        h->value.len = size;
    }

    (void) ngx_http_notify_authenticate(r, jcf);

    ngx_fuzz_done(nr, pool);

    return 0;
}


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The store's keys of a notification (idempotency, chains), made of the
 * caller's whole identity: two callers never share one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"

#include <openssl/evp.h>


static ngx_int_t ngx_http_notify_key_add(EVP_MD_CTX *md, ngx_str_t *value);


/*
 * A key for the store (idempotency, chains): the SHA-256 of the dialect,
 * the caller's whole identity (the issuer, tenant, sender, object id and
 * subject of its token) and the parts, each value preceded by its length,
 * so that no two callers or lists of parts give the same input.
 */

ngx_int_t
ngx_http_notify_key(ngx_http_notify_req_t *nr, ngx_str_t *parts,
    ngx_uint_t n, u_char *out)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    EVP_MD_CTX                   *md;
    unsigned int                  len;
    ngx_http_notify_principal_t  *p;

    p = nr->auth ? nr->auth->principal : NULL;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
        || ngx_http_notify_key_add(md, &nr->dialect->name) != NGX_OK)
    {
        goto done;
    }

    if (p
        && (ngx_http_notify_key_add(md, &p->issuer) != NGX_OK
            || ngx_http_notify_key_add(md, &p->tenant_id) != NGX_OK
            || ngx_http_notify_key_add(md, &p->sender) != NGX_OK
            || ngx_http_notify_key_add(md, &p->object_id) != NGX_OK
            || ngx_http_notify_key_add(md, &p->subject) != NGX_OK))
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_notify_key_add(md, &parts[i]) != NGX_OK) {
            goto done;
        }
    }

    len = 32;

    if (EVP_DigestFinal_ex(md, out, &len) == 1) {
        rc = NGX_OK;
    }

done:

    EVP_MD_CTX_free(md);

    return rc;
}


/* one value of a key: its length (8 bytes, big-endian), then its bytes */

static ngx_int_t
ngx_http_notify_key_add(EVP_MD_CTX *md, ngx_str_t *value)
{
    uint64_t    n;
    ngx_uint_t  i;
    u_char      len[8];

    n = value->len;

    for (i = 0; i < 8; i++) {
        len[7 - i] = (u_char) (n >> (8 * i));
    }

    if (EVP_DigestUpdate(md, len, 8) != 1
        || (value->len && EVP_DigestUpdate(md, value->data, value->len) != 1))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}

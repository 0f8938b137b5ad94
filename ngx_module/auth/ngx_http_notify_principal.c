
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The caller: the principal made of a verified token's claims, and what it
 * holds (a claim, a role, the caller's user in the directory).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_principal.h"
#include "ngx_http_notify_jwt_internal.h"


static ngx_int_t ngx_http_notify_jwt_claim(ngx_pool_t *pool, json_t *claims,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_notify_jwt_push(ngx_array_t *a, const char *data,
    size_t len);


/*
 * The principal of a verified token's claims; "text" is the payload they
 * were parsed from, in the request pool, kept as the principal's claims.
 */

ngx_int_t
ngx_http_notify_jwt_principal(ngx_http_request_t *r, json_t *claims,
    ngx_str_t *text, time_t expires, ngx_http_notify_principal_t **pp)
{
    u_char                       *s, *last, *start;
    json_t                       *v, *e;
    size_t                        i, n;
    ngx_uint_t                    k;
    ngx_http_notify_principal_t  *p;

    static const char            *app_claims[] = {
        "azp", "appid", "client_id", NULL
    };

    static const char            *user_claims[] = {
        "upn", "preferred_username", "unique_name", NULL
    };

    p = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_principal_t));
    if (p == NULL) {
        return NGX_ERROR;
    }

    /*
     * every claim, as text, for the claims the principal has no field for:
     * the token's payload itself, which lives in the request pool
     */

    p->claims = *text;

    if (ngx_http_notify_jwt_claim(r->pool, claims, "oid", &p->object_id)
        != NGX_OK
        || ngx_http_notify_jwt_claim(r->pool, claims, "tid", &p->tenant_id)
           != NGX_OK
        || ngx_http_notify_jwt_claim(r->pool, claims, "sub", &p->subject)
           != NGX_OK
        || ngx_http_notify_jwt_claim(r->pool, claims, "iss", &p->issuer)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; app_claims[k] != NULL && p->app_id.len == 0; k++) {
        if (ngx_http_notify_jwt_claim(r->pool, claims, app_claims[k],
                                      &p->app_id)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    p->sender = p->app_id.len ? p->app_id : p->subject;

    for (k = 0; user_claims[k] != NULL && p->user_name.len == 0; k++) {
        if (ngx_http_notify_jwt_claim(r->pool, claims, user_claims[k],
                                      &p->user_name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* roles: an array of strings */

    v = json_object_get(claims, "roles");
    n = json_is_array(v) ? json_array_size(v) : 0;

    if (ngx_array_init(&p->roles, r->pool, n ? n : 1, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        e = json_array_get(v, i);

        if (json_is_string(e) && json_string_length(e) > 0
            && ngx_http_notify_jwt_push(&p->roles, json_string_value(e),
                                        json_string_length(e))
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* scp: scopes separated by spaces (an array is taken too) */

    if (ngx_array_init(&p->scopes, r->pool, 4, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    v = json_object_get(claims, "scp");

    if (json_is_string(v)) {
        s = (u_char *) json_string_value(v);
        last = s + json_string_length(v);

        while (s < last) {
            while (s < last && *s == ' ') {
                s++;
            }

            start = s;

            while (s < last && *s != ' ') {
                s++;
            }

            if (s > start
                && ngx_http_notify_jwt_push(&p->scopes, (char *) start,
                                            s - start)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            e = json_array_get(v, i);

            if (json_is_string(e) && json_string_length(e) > 0
                && ngx_http_notify_jwt_push(&p->scopes, json_string_value(e),
                                            json_string_length(e))
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    p->expires = expires;

    *pp = p;

    return NGX_OK;
}


/* a non-empty string claim, copied (NUL-terminated); else left empty */

static ngx_int_t
ngx_http_notify_jwt_claim(ngx_pool_t *pool, json_t *claims, const char *name,
    ngx_str_t *value)
{
    json_t  *v;

    v = json_object_get(claims, name);

    if (!json_is_string(v) || json_string_length(v) == 0) {
        return NGX_OK;
    }

    value->len = json_string_length(v);
    value->data = ngx_pnalloc(pool, value->len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, json_string_value(v), value->len + 1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_jwt_push(ngx_array_t *a, const char *data, size_t len)
{
    ngx_str_t  *s;

    s = ngx_array_push(a);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->len = len;
    s->data = ngx_pnalloc(a->pool, len + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, data, len);
    s->data[len] = '\0';

    return NGX_OK;
}


/*
 * One claim of the verified token: a string as it is; with "any", another
 * value as its compact JSON text, at most as long as the token's claims
 * (only a real number's text can grow beyond them: it is left empty).
 * An empty value when there is no such claim, it is null, or (without
 * "any") it is no string.  NGX_ERROR only for memory.
 */

ngx_int_t
ngx_http_notify_principal_claim(ngx_pool_t *pool,
    ngx_http_notify_principal_t *p, ngx_str_t *name, ngx_uint_t any,
    ngx_str_t *value)
{
    size_t      len;
    json_t     *claims, *v;
    ngx_int_t   rc;

    ngx_str_null(value);

    claims = json_loadb((char *) p->claims.data, p->claims.len, 0, NULL);
    if (claims == NULL) {
        return NGX_ERROR;
    }

    v = json_object_getn(claims, (char *) name->data, name->len);

    if (json_is_string(v)) {
        len = json_string_length(v);

    } else if (any && v != NULL && !json_is_null(v)) {
        len = json_dumpb(v, NULL, 0, NGX_HTTP_NOTIFY_CLAIM_JSON);

        if (len > p->claims.len) {
            len = 0;
        }

    } else {
        len = 0;
    }

    rc = NGX_OK;

    if (len) {
        value->data = ngx_pnalloc(pool, len);

        if (value->data == NULL) {
            rc = NGX_ERROR;

        } else if (json_is_string(v)) {
            ngx_memcpy(value->data, json_string_value(v), len);
            value->len = len;

        } else {
            value->len = json_dumpb(v, (char *) value->data, len,
                                    NGX_HTTP_NOTIFY_CLAIM_JSON);
        }
    }

    json_decref(claims);

    return rc;
}


ngx_int_t
ngx_http_notify_caller_user(ngx_http_notify_directory_t *dir,
    ngx_http_notify_principal_t *p, ngx_str_t *id)
{
    ngx_int_t               rc;
    ngx_http_notify_user_t  u;

    /* the oid never changes: a user id only, as a UPN could be anyone's */

    rc = ngx_http_notify_directory_user_id(dir, &p->object_id, &u);

    /* a name claim can change hands: only ever a user, never a group */

    if (rc != NGX_OK) {
        rc = ngx_http_notify_directory_user(dir, &p->user_name, &u);
    }

    *id = (rc == NGX_OK) ? u.id : p->object_id;

    return rc;
}


ngx_uint_t
ngx_http_notify_has_role(ngx_http_notify_principal_t *p, ngx_array_t *roles)
{
    ngx_str_t   *have, *want;
    ngx_uint_t   i, j;

    if (p == NULL || roles == NULL) {
        return 0;
    }

    have = p->roles.elts;
    want = roles->elts;

    for (i = 0; i < p->roles.nelts; i++) {
        for (j = 0; j < roles->nelts; j++) {
            if (have[i].len == want[j].len
                && ngx_memcmp(have[i].data, want[j].data, have[i].len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}

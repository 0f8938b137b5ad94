
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The module's per-request context and its HTTP answers: the response
 * helpers every endpoint answers with, and request and response headers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_notify_core.h"


ngx_http_notify_ctx_t *
ngx_http_notify_get_ctx(ngx_http_request_t *r)
{
    ngx_http_notify_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_notify_module);
    }

    return ctx;
}


/* the error of the endpoints that speak no dialect (feed, outbox) */

ngx_int_t
ngx_http_notify_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    json_t     *json;
    ngx_int_t   rc;

    json = json_pack("{s:{s:s, s:s}}", "error", "code", code,
                     "message", message);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, status, NULL, json, 0);
    json_decref(json);

    return rc;
}


/*
 * Sends "json" as the whole response.  The text is written straight into
 * a buffer from the request pool, its size known first, so no malloc()ed
 * copy is made; compact, by the module's own writer, else by jansson.
 */

ngx_int_t
ngx_http_notify_send_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, json_t *json, size_t flags)
{
    size_t      len, n;
    u_char     *p;
    ngx_uint_t  own;

    /* compact, in the order of the keys: the module's own writer */
    own = ((flags & ~JSON_COMPACT) == 0 && json_is_object(json));

    if (!(flags & JSON_MAX_INDENT)) {
        flags |= JSON_COMPACT;
    }

    len = own ? ngx_http_notify_json_size(json)
              : json_dumpb(json, NULL, 0, flags);

    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = own ? (size_t) (ngx_http_notify_json_write(p, json) - p)
            : json_dumpb(json, (char *) p, len, flags);

    if (flags & JSON_MAX_INDENT) {
        p[n++] = LF;
    }

    return ngx_http_notify_send_body(r, status, content_type, p, n);
}


/*
 * Every answer of the module starts here.  A body that the route did not
 * read (an early error: no token, no right, no store, no such route) is
 * discarded first, so that it is never taken for the next request of a
 * keep-alive connection.  When it cannot be discarded, the connection is
 * closed after the answer, as nginx does for its own error pages.
 */

ngx_int_t
ngx_http_notify_send_header(ngx_http_request_t *r)
{
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (r->headers_out.status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        /* what is left of a body too large is not read: close */
        r->keepalive = 0;
        r->lingering_close = 1;
    }

    return ngx_http_send_header(r);
}


/* an answer without a body: a status alone */

ngx_int_t
ngx_http_notify_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_int_t  rc;

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_notify_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


/* sends "data" (request pool memory) as the whole response */

ngx_int_t
ngx_http_notify_send_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (content_type == NULL) {
        content_type = "application/json";
    }

    r->headers_out.status = status;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type.len = ngx_strlen(content_type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    rc = ngx_http_notify_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* adds a response header; "value" must live as long as the request */

ngx_int_t
ngx_http_notify_set_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    if (ngx_strcasecmp((u_char *) name, (u_char *) "WWW-Authenticate") == 0) {
        r->headers_out.www_authenticate = h;
    }

    return NGX_OK;
}


/* the bearer challenge of RFC 6750 for a missing or rejected token */

ngx_int_t
ngx_http_notify_set_www_authenticate(ngx_http_request_t *r)
{
    static ngx_str_t  challenge = ngx_string("Bearer error=\"invalid_token\"");

    return ngx_http_notify_set_header(r, "WWW-Authenticate", &challenge);
}


/* the tenant of a request: notify_tenant ("cv"), else the server's name */

ngx_int_t
ngx_http_notify_tenant(ngx_http_request_t *r, ngx_http_complex_value_t *cv,
    ngx_str_t *tenant)
{
    ngx_http_core_srv_conf_t  *cscf;

    if (cv != NULL) {
        return ngx_http_complex_value(r, cv, tenant);
    }

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
    *tenant = cscf->server_name;

    return NGX_OK;
}


/* a header by name (in any case) in a list of headers, in or out */

ngx_table_elt_t *
ngx_http_notify_header(ngx_list_t *headers, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0 && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }

    return NULL;
}

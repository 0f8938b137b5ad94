
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The Activity Center: a caller reads its own feed.
 *
 *   GET  <prefix>                 a page, newest first
 *   GET  <prefix>/count           {"unread": n}
 *   POST <prefix>/<id>/read       marks one read
 *   POST <prefix>/read            {"until": "<id>"}: marks up to it read
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_feed.h"
#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_store.h"


#define NGX_HTTP_NOTIFY_FEED_LIMIT      20
#define NGX_HTTP_NOTIFY_FEED_LIMIT_MAX  100


typedef struct {
    ngx_http_request_t          *request;
    ngx_str_t                    user;
    ngx_http_notify_store_op_t   op;
} ngx_http_notify_feed_req_t;


static ngx_int_t ngx_http_notify_feed_user(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_http_notify_directory_t *directory,
    ngx_http_notify_principal_t *p, ngx_uint_t write, ngx_str_t *user,
    ngx_int_t *rc);
static ngx_int_t ngx_http_notify_feed_list(ngx_http_request_t *r,
    ngx_str_t *user);
static ngx_int_t ngx_http_notify_feed_page(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd);
static void ngx_http_notify_feed_read_done(ngx_http_notify_store_read_t *rd);
static ngx_int_t ngx_http_notify_feed_unread(ngx_http_request_t *r,
    uint64_t unread);
static ngx_int_t ngx_http_notify_feed_count(ngx_http_request_t *r,
    ngx_str_t *user);
static ngx_int_t ngx_http_notify_feed_mark(ngx_http_request_t *r,
    ngx_str_t *user, ngx_str_t *id);
static void ngx_http_notify_feed_until_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_feed_post(ngx_http_notify_feed_req_t *fr);
static void ngx_http_notify_feed_marked(ngx_http_notify_store_op_t *op);


ngx_int_t
ngx_http_notify_feed_handler(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *prefix,
    ngx_http_notify_jwt_conf_t *jwt, ngx_http_notify_directory_t *directory)
{
    u_char                  *last;
    ngx_int_t                rc;
    ngx_str_t                rest, user, id;
    ngx_uint_t               route, methods;
    ngx_http_notify_auth_t  *auth;

    enum { LIST, COUNT, READ_UNTIL, READ_ONE, NONE };

    static ngx_str_t  get = ngx_string("GET, HEAD");
    static ngx_str_t  post = ngx_string("POST");

    if (r != r->main) {
        return NGX_DECLINED;
    }

    /* the route: what follows the location's prefix */

    rest.data = r->uri.data + prefix->len;
    rest.len = r->uri.len - prefix->len;

    if (rest.len && rest.data[rest.len - 1] == '/') {
        rest.len--;
    }

    last = rest.data + rest.len;
    ngx_str_null(&id);

    if (rest.len == 0) {
        route = LIST;

    } else if (rest.len == 6 && ngx_strncmp(rest.data, "/count", 6) == 0) {
        route = COUNT;

    } else if (rest.len == 5 && ngx_strncmp(rest.data, "/read", 5) == 0) {
        route = READ_UNTIL;

    } else if (rest.len > 6 && rest.data[0] == '/'
               && ngx_strncmp(last - 5, "/read", 5) == 0
               && ngx_strlchr(rest.data + 1, last - 5, '/') == NULL)
    {
        route = READ_ONE;
        id.data = rest.data + 1;
        id.len = last - 5 - id.data;

    } else {
        route = NONE;
    }

    ngx_http_notify_metrics_feed(route == LIST ? NGX_HTTP_NOTIFY_FEED_PAGE
                                 : route == COUNT ? NGX_HTTP_NOTIFY_FEED_COUNT
                                 : route == NONE ? NGX_HTTP_NOTIFY_FEED_OTHER
                                 : NGX_HTTP_NOTIFY_FEED_MARK);

    if (route == NONE) {
        return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                          "There is no such resource.");
    }

    methods = (route == LIST || route == COUNT) ? NGX_HTTP_GET|NGX_HTTP_HEAD
                                                : NGX_HTTP_POST;

    if (!(r->method & methods)) {
        if (ngx_http_notify_set_header(r, "Allow",
                                       (methods & NGX_HTTP_POST) ? &post : &get)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_notify_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                          "MethodNotAllowed",
                                          "The method is not allowed here.");
    }

    if (!ngx_http_notify_store_ready()) {
        return ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "ServiceUnavailable",
                                          "The notification store is not"
                                          " available.");
    }

    /* who asks, and whose feed */

    auth = ngx_http_notify_authenticate(r, jwt);
    if (auth == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (auth->error != NGX_HTTP_NOTIFY_AUTH_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: unauthenticated: %V", &auth->reason);

        if (ngx_http_notify_set_www_authenticate(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_notify_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                          "InvalidAuthenticationToken",
                                          auth->error
                                          == NGX_HTTP_NOTIFY_AUTH_NONE
                                          ? "Access token is empty."
                                          : "Access token is not valid.");
    }

    if (ngx_http_notify_feed_user(r, fc, directory, auth->principal,
                                  route == LIST || route == COUNT ? 0 : 1,
                                  &user, &rc)
        != NGX_OK)
    {
        return rc;
    }

    switch (route) {

    case LIST:
        return ngx_http_notify_feed_list(r, &user);

    case COUNT:
        return ngx_http_notify_feed_count(r, &user);

    case READ_ONE:
        return ngx_http_notify_feed_mark(r, &user, &id);

    default: /* READ_UNTIL */
        return ngx_http_notify_feed_mark(r, &user, NULL);
    }
}


/*
 * Whose feed: the caller's own (ngx_http_notify_caller_user(): its user's
 * id, else its object id), or with ?user= any user's, for a caller that
 * holds notify_feed_admin_role to read it, notify_feed_admin_write_role to
 * change it ("write").  When the request is refused, the error is sent and
 * its result is in "rc".
 */

static ngx_int_t
ngx_http_notify_feed_user(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_http_notify_directory_t *directory,
    ngx_http_notify_principal_t *p, ngx_uint_t write, ngx_str_t *user,
    ngx_int_t *rc)
{
    u_char                  *dst, *src;
    ngx_str_t                arg, name, *role;
    ngx_array_t              roles;
    ngx_http_notify_user_t   u;

    if (ngx_http_arg(r, (u_char *) "user", 4, &arg) == NGX_OK) {

        role = write ? &fc->admin_write_role : &fc->admin_role;

        roles.elts = role;
        roles.nelts = 1;

        if (role->len == 0 || !ngx_http_notify_has_role(p, &roles)) {
            *rc = ngx_http_notify_send_error(r, NGX_HTTP_FORBIDDEN,
                                             "Forbidden",
                                             write
                                             ? "Only an administrator may"
                                               " change another user's feed."
                                             : "Only an administrator may"
                                               " read another user's feed.");
            return NGX_DECLINED;
        }

        name.data = ngx_pnalloc(r->pool, arg.len);
        if (name.data == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_ERROR;
        }

        dst = name.data;
        src = arg.data;
        ngx_unescape_uri(&dst, &src, arg.len, 0);
        name.len = dst - name.data;

        if (ngx_http_notify_directory_user(directory, &name, &u) != NGX_OK) {
            *rc = ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND,
                                             "NotFound",
                                             "There is no such user.");
            return NGX_DECLINED;
        }

        *user = u.id;
        return NGX_OK;
    }

    (void) ngx_http_notify_caller_user(directory, p, user);

    if (user->len && user->len <= NGX_HTTP_NOTIFY_USER_MAX) {
        return NGX_OK;
    }

    *rc = ngx_http_notify_send_error(r, NGX_HTTP_FORBIDDEN, "Forbidden",
                                     "The token names no user.");
    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_notify_feed_list(ngx_http_request_t *r, ngx_str_t *user)
{
    ngx_int_t                      n;
    ngx_str_t                      arg;
    ngx_http_notify_feed_query_t  *q;
    ngx_http_notify_store_read_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_store_read_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q = &rd->query;
    q->user = *user;
    q->limit = NGX_HTTP_NOTIFY_FEED_LIMIT;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &arg) == NGX_OK) {
        n = ngx_atoi(arg.data, arg.len);

        if (n < 1 || n > NGX_HTTP_NOTIFY_FEED_LIMIT_MAX) {
            return ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST,
                                              "BadRequest",
                                              "limit must be a number from"
                                              " 1 to 100.");
        }

        q->limit = n;
    }

    if (ngx_http_arg(r, (u_char *) "cursor", 6, &arg) == NGX_OK
        && ngx_http_notify_parse_id(&arg, &q->cursor) != NGX_OK)
    {
        return ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "BadRequest",
                                          "cursor is not a cursor this feed"
                                          " gave.");
    }

    if (ngx_http_arg(r, (u_char *) "unread", 6, &arg) == NGX_OK) {
        if (arg.len == 4 && ngx_strncasecmp(arg.data, (u_char *) "true", 4)
                            == 0)
        {
            q->unread_only = 1;

        } else if (!(arg.len == 5
                     && ngx_strncasecmp(arg.data, (u_char *) "false", 5)
                        == 0))
        {
            return ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST,
                                              "BadRequest",
                                              "unread must be true or"
                                              " false.");
        }
    }

    rd->type = NGX_HTTP_NOTIFY_READ_FEED;

    return ngx_http_notify_store_read_for(r, rd,
                                          ngx_http_notify_feed_read_done);
}


/* the page read: the answer */

static ngx_int_t
ngx_http_notify_feed_page(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd)
{
    u_char                        *body, *p;
    size_t                         len;
    uint64_t                       next, unread;
    ngx_uint_t                     i;
    ngx_array_t                    items;
    ngx_http_notify_feed_entry_t  *e;

    items = rd->items;
    next = rd->next;
    unread = rd->unread;

    /*
     * Each item is the view the store kept (JSON text already), with
     * "read" added: the answer is put around them, no JSON is parsed.
     */

    e = items.elts;

    len = sizeof("{\"items\":[],\"next\":\"\",\"unread\":}") - 1
          + NGX_HTTP_NOTIFY_ID_LEN + NGX_INT64_LEN;

    for (i = 0; i < items.nelts; i++) {
        len += e[i].view.len + sizeof(",\"read\":false,") - 1;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"items\":[", sizeof("{\"items\":[") - 1);

    for (i = 0; i < items.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        /* the object without its closing brace */
        p = ngx_cpymem(p, e[i].view.data, e[i].view.len - 1);

        if (e[i].view.len > 2) {
            *p++ = ',';
        }

        p = e[i].read ? ngx_cpymem(p, "\"read\":true}", 12)
                      : ngx_cpymem(p, "\"read\":false}", 13);
    }

    *p++ = ']';

    if (next) {
        p = ngx_cpymem(p, ",\"next\":\"", sizeof(",\"next\":\"") - 1);
        p = ngx_http_notify_format_id(p, next);
        *p++ = '"';

    } else {
        p = ngx_cpymem(p, ",\"next\":null", sizeof(",\"next\":null") - 1);
    }

    p = ngx_sprintf(p, ",\"unread\":%uL}", unread);

    return ngx_http_notify_send_body(r, NGX_HTTP_OK, NULL, body, p - body);
}


static ngx_int_t
ngx_http_notify_feed_count(ngx_http_request_t *r, ngx_str_t *user)
{
    ngx_http_notify_store_read_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_store_read_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->type = NGX_HTTP_NOTIFY_READ_UNREAD;
    rd->query.user = *user;

    return ngx_http_notify_store_read_for(r, rd,
                                          ngx_http_notify_feed_read_done);
}


static void
ngx_http_notify_feed_read_done(ngx_http_notify_store_read_t *rd)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = rd->data;

    if (rd->rc != NGX_OK) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "ServiceUnavailable",
                                        "The feed could not be read.");

    } else if (rd->type == NGX_HTTP_NOTIFY_READ_FEED) {
        rc = ngx_http_notify_feed_page(r, rd);

    } else {
        rc = ngx_http_notify_feed_unread(r, rd->unread);
    }

    ngx_http_finalize_request(r, rc);
}


/* the count read: the answer */

static ngx_int_t
ngx_http_notify_feed_unread(ngx_http_request_t *r, uint64_t unread)
{
    json_t     *json;
    ngx_int_t   rc;

    json = json_pack("{s:I}", "unread", (json_int_t) unread);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
    json_decref(json);

    return rc;
}


/* marks read: one id, or (id == NULL) up to the id in the body */

static ngx_int_t
ngx_http_notify_feed_mark(ngx_http_request_t *r, ngx_str_t *user,
    ngx_str_t *id)
{
    ngx_int_t                    rc;
    ngx_http_notify_ctx_t       *ctx;
    ngx_http_notify_feed_req_t  *fr;

    fr = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_feed_req_t));
    if (fr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fr->request = r;
    fr->user = *user;
    fr->op.user = *user;

    if (id) {
        if (ngx_http_notify_parse_id(id, &fr->op.seq) != NGX_OK) {
            return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "NotFound",
                                              "There is no such"
                                              " notification in the feed.");
        }

        fr->op.type = NGX_HTTP_NOTIFY_OP_READ_ONE;

        /* no body was read: the request needs a count of its own */
        r->main->count++;

        return ngx_http_notify_feed_post(fr);
    }

    ctx = ngx_http_notify_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->feed = fr;
    fr->op.type = NGX_HTTP_NOTIFY_OP_READ_UNTIL;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_notify_feed_until_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_notify_feed_until_body(ngx_http_request_t *r)
{
    u_char                      *p;
    json_t                      *body, *until;
    ngx_int_t                    rc;
    ngx_str_t                    id;
    ngx_chain_t                 *cl;
    ngx_http_notify_ctx_t       *ctx;
    ngx_http_notify_feed_req_t  *fr;
    u_char                       buf[1024];

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);
    fr = ctx->feed;

    /* a small body: {"until": "<id>"} */

    p = buf;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl; cl = cl->next)
    {
        if (cl->buf->in_file
            || (size_t) (cl->buf->last - cl->buf->pos) > (size_t) (buf
                                                     + sizeof(buf) - p))
        {
            rc = ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "BadRequest",
                                            "The body must be"
                                            " {\"until\": \"<id>\"}.");
            ngx_http_finalize_request(r, rc);
            return;
        }

        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    body = json_loadb((char *) buf, p - buf, 0, NULL);
    until = body ? json_object_get(body, "until") : NULL;

    if (until == NULL || !json_is_string(until)) {
        json_decref(body);
        rc = ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST, "BadRequest",
                                        "The body must be"
                                        " {\"until\": \"<id>\"}.");
        ngx_http_finalize_request(r, rc);
        return;
    }

    id.data = (u_char *) json_string_value(until);
    id.len = json_string_length(until);

    rc = ngx_http_notify_parse_id(&id, &fr->op.seq);
    json_decref(body);

    if (rc != NGX_OK) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                        "There is no such notification in"
                                        " the feed.");
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_notify_feed_post(fr);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_notify_feed_post(ngx_http_notify_feed_req_t *fr)
{
    fr->op.done = ngx_http_notify_feed_marked;
    fr->op.data = fr;
    fr->op.log = fr->request->connection->log;

    ngx_http_notify_store_post(&fr->op);

    return NGX_DONE;
}


static void
ngx_http_notify_feed_marked(ngx_http_notify_store_op_t *op)
{
    json_t                      *json;
    ngx_int_t                    rc;
    ngx_http_request_t          *r;
    ngx_http_notify_feed_req_t  *fr;

    fr = op->data;
    r = fr->request;

    if (op->rc == NGX_ERROR) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "ServiceUnavailable",
                                        "The feed could not be updated.");

    } else if (op->rc == NGX_DECLINED) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                        "There is no such notification in"
                                        " the feed.");

    } else {
        json = json_pack("{s:I}", "unread", (json_int_t) op->unread);

        if (json == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
            json_decref(json);
        }
    }

    ngx_http_finalize_request(r, rc);
}



/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The Activity Center: a caller reads its own feed.
 *
 *   GET    <prefix>               a page, newest first (filters: status,
 *                                 dialect, event)
 *   GET    <prefix>/count         {"unread": n}
 *   GET    <prefix>/counts        {"unread": n, "unseen": n}
 *   POST   <prefix>/<id>/read     marks one read
 *   POST   <prefix>/read          {"until": "<id>"}: marks up to it read
 *   POST   <prefix>/<id>/archive  archives one
 *   POST   <prefix>/read-all      marks all read
 *   POST   <prefix>/seen-all      marks all seen
 *   POST   <prefix>/archive-read  archives all read
 *   DELETE <prefix>/<id>          deletes one from the caller's feed
 *   GET    <prefix>/stream        the feed's changes, live (SSE)
 *   POST   <prefix>/stream/ticket a one-use ticket for the stream
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_feed.h"
#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_store.h"


#define NGX_HTTP_NOTIFY_FEED_LIMIT      20
#define NGX_HTTP_NOTIFY_FEED_LIMIT_MAX  100
#define NGX_HTTP_NOTIFY_FEED_DIALECT_MAX  64     /* bytes of ?dialect= */
#define NGX_HTTP_NOTIFY_FEED_EVENT_MAX    256    /* bytes of ?event= */


typedef struct {
    ngx_http_request_t          *request;
    ngx_str_t                    user;
    ngx_http_notify_store_op_t   op;
} ngx_http_notify_feed_req_t;


static ngx_int_t ngx_http_notify_feed_user(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_http_notify_directory_t *directory,
    ngx_http_notify_principal_t *p, ngx_uint_t write, ngx_str_t *user,
    ngx_int_t *rc);
static ngx_int_t ngx_http_notify_feed_stream_auth(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *user, ngx_int_t *rc);
static ngx_int_t ngx_http_notify_feed_list(ngx_http_request_t *r,
    ngx_str_t *user);
static ngx_int_t ngx_http_notify_feed_page(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd);
static void ngx_http_notify_feed_read_done(ngx_http_notify_store_read_t *rd);
static ngx_int_t ngx_http_notify_feed_unread(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd);
static ngx_int_t ngx_http_notify_feed_filter(ngx_http_request_t *r,
    char *name, size_t max, ngx_str_t *json, ngx_uint_t *given);
static ngx_int_t ngx_http_notify_feed_unescape(ngx_http_request_t *r,
    ngx_str_t *arg, ngx_str_t *value);
static ngx_int_t ngx_http_notify_feed_no_states(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_feed_count(ngx_http_request_t *r,
    ngx_str_t *user, ngx_uint_t unseen);
static ngx_int_t ngx_http_notify_feed_mark(ngx_http_request_t *r,
    ngx_str_t *user, ngx_str_t *id, ngx_http_notify_op_type_e type);
static void ngx_http_notify_feed_until_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_feed_post(ngx_http_notify_feed_req_t *fr);
static void ngx_http_notify_feed_marked(ngx_http_notify_store_op_t *op);


ngx_int_t
ngx_http_notify_feed_handler(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *prefix,
    ngx_http_notify_jwt_conf_t *jwt, ngx_http_notify_directory_t *directory)
{
    u_char                     *last;
    ngx_int_t                   rc;
    ngx_str_t                   rest, user, id, *allow;
    ngx_uint_t                  route, methods, i;
    ngx_http_notify_auth_t     *auth;
    ngx_http_notify_op_type_e   type;

    enum { LIST, COUNT, COUNTS, READ_UNTIL, READ_ONE, ARCHIVE, BULK, ONE,
           STREAM, TICKET, NONE };

    static ngx_str_t  get = ngx_string("GET, HEAD");
    static ngx_str_t  post = ngx_string("POST");
    static ngx_str_t  delete = ngx_string("DELETE");

    static struct {
        ngx_str_t                   name;
        ngx_http_notify_op_type_e   type;
    } bulk[] = {
        { ngx_string("/read-all"), NGX_HTTP_NOTIFY_OP_READ_ALL },
        { ngx_string("/seen-all"), NGX_HTTP_NOTIFY_OP_SEEN_ALL },
        { ngx_string("/archive-read"), NGX_HTTP_NOTIFY_OP_ARCHIVE_READ }
    };

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
    type = NGX_HTTP_NOTIFY_OP_READ_ONE;

    if (rest.len == 0) {
        route = LIST;

    } else if (rest.len == 6 && ngx_strncmp(rest.data, "/count", 6) == 0) {
        route = COUNT;

    } else if (rest.len == 7 && ngx_strncmp(rest.data, "/counts", 7) == 0) {
        route = COUNTS;

    } else if (rest.len == 7 && ngx_strncmp(rest.data, "/stream", 7) == 0) {
        route = STREAM;

    } else if (rest.len == 14
               && ngx_strncmp(rest.data, "/stream/ticket", 14) == 0)
    {
        route = TICKET;

    } else if (rest.len == 5 && ngx_strncmp(rest.data, "/read", 5) == 0) {
        route = READ_UNTIL;

    } else if (rest.len > 6 && rest.data[0] == '/'
               && ngx_strncmp(last - 5, "/read", 5) == 0
               && ngx_strlchr(rest.data + 1, last - 5, '/') == NULL)
    {
        route = READ_ONE;
        id.data = rest.data + 1;
        id.len = last - 5 - id.data;

    } else if (rest.len > 9 && rest.data[0] == '/'
               && ngx_strncmp(last - 8, "/archive", 8) == 0
               && ngx_strlchr(rest.data + 1, last - 8, '/') == NULL)
    {
        route = ARCHIVE;
        type = NGX_HTTP_NOTIFY_OP_ARCHIVE;
        id.data = rest.data + 1;
        id.len = last - 8 - id.data;

    } else {
        route = NONE;

        for (i = 0; i < sizeof(bulk) / sizeof(bulk[0]); i++) {
            if (rest.len == bulk[i].name.len
                && ngx_strncmp(rest.data, bulk[i].name.data, rest.len) == 0)
            {
                route = BULK;
                type = bulk[i].type;
                break;
            }
        }

        /* an item's own path: only DELETE (anything else is not there) */

        if (route == NONE && r->method == NGX_HTTP_DELETE
            && rest.len > 1 && rest.data[0] == '/'
            && ngx_strlchr(rest.data + 1, last, '/') == NULL)
        {
            route = ONE;
            type = NGX_HTTP_NOTIFY_OP_DELETE;
            id.data = rest.data + 1;
            id.len = rest.len - 1;
        }
    }

    ngx_http_notify_metrics_feed(route == LIST ? NGX_HTTP_NOTIFY_FEED_PAGE
                                 : (route == COUNT || route == COUNTS)
                                   ? NGX_HTTP_NOTIFY_FEED_COUNT
                                 : (route == NONE || route == STREAM
                                    || route == TICKET)
                                   ? NGX_HTTP_NOTIFY_FEED_OTHER
                                 : NGX_HTTP_NOTIFY_FEED_MARK);

    if (route == NONE) {
        return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                          "There is no such resource.");
    }

    if (route == LIST || route == COUNT || route == COUNTS
        || route == STREAM)
    {
        methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
        allow = &get;

    } else if (route == ONE) {
        methods = NGX_HTTP_DELETE;
        allow = &delete;

    } else {
        methods = NGX_HTTP_POST;
        allow = &post;
    }

    if (!(r->method & methods)) {
        if (ngx_http_notify_set_header(r, "Allow", allow) != NGX_OK) {
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

    if ((route == COUNTS || route == STREAM || route == TICKET
         || route == BULK || route == ARCHIVE || route == ONE)
        && !ngx_http_notify_store_has_states())
    {
        return ngx_http_notify_feed_no_states(r);
    }

    /* the stream: by a ticket, or its token from a cookie */

    if (route == STREAM) {
        switch (ngx_http_notify_feed_stream_auth(r, fc, &user, &rc)) {

        case NGX_OK:
            return ngx_http_notify_stream_open(r, fc, &user);

        case NGX_DECLINED:
            break;

        default:
            return rc;
        }
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
                                  (methods & NGX_HTTP_GET) ? 0 : 1,
                                  &user, &rc)
        != NGX_OK)
    {
        return rc;
    }

    switch (route) {

    case LIST:
        return ngx_http_notify_feed_list(r, &user);

    case COUNT:
    case COUNTS:
        return ngx_http_notify_feed_count(r, &user, route == COUNTS);

    case READ_UNTIL:
        return ngx_http_notify_feed_mark(r, &user, NULL,
                                         NGX_HTTP_NOTIFY_OP_READ_UNTIL);

    case BULK:
        return ngx_http_notify_feed_mark(r, &user, NULL, type);

    case STREAM:
        return ngx_http_notify_stream_open(r, fc, &user);

    case TICKET:
        return ngx_http_notify_stream_ticket(r, fc, &user);

    default: /* READ_ONE, ARCHIVE, ONE */
        return ngx_http_notify_feed_mark(r, &user, &id, type);
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

        if (ngx_http_notify_feed_unescape(r, &arg, &name) != NGX_OK) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_ERROR;
        }

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


/*
 * How a stream may be opened without Authorization (a browser's
 * EventSource cannot send it): ?ticket= gives the user (NGX_OK); else a
 * token in the cookie of notify_feed_stream_cookie stands for the header,
 * and the caller authenticates as always (NGX_DECLINED).  The cookie is
 * read for the stream only: a GET that changes nothing, so that a cookie
 * sent by another site's form cannot change a feed.  NGX_ABORT: the
 * answer is sent, its result in "rc".
 */

static ngx_int_t
ngx_http_notify_feed_stream_auth(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *user, ngx_int_t *rc)
{
    u_char                     *p;
    ngx_str_t                   arg;
    ngx_table_elt_t            *h;
    ngx_http_variable_value_t  *vv;

    if (ngx_http_arg(r, (u_char *) "ticket", 6, &arg) == NGX_OK) {
        *rc = ngx_http_notify_stream_take(r, &arg, user);

        if (*rc == NGX_OK) {
            return NGX_OK;
        }

        if (*rc == NGX_ERROR
            || ngx_http_notify_set_www_authenticate(r) != NGX_OK)
        {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_ABORT;
        }

        *rc = ngx_http_notify_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                         "InvalidAuthenticationToken",
                                         "The ticket is not valid: unknown,"
                                         " used or expired.");
        return NGX_ABORT;
    }

    if (fc->stream_cookie.len == 0 || r->headers_in.authorization) {
        return NGX_DECLINED;
    }

    vv = ngx_http_get_variable(r, &fc->stream_cookie,
                               ngx_hash_key(fc->stream_cookie.data,
                                            fc->stream_cookie.len));

    if (vv == NULL || vv->not_found || vv->len == 0) {
        return NGX_DECLINED;
    }

    h = ngx_pcalloc(r->pool, sizeof(ngx_table_elt_t));
    p = ngx_pnalloc(r->pool, sizeof("Bearer ") - 1 + vv->len);

    if (h == NULL || p == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ABORT;
    }

    ngx_str_set(&h->key, "Authorization");
    h->value.data = p;
    h->value.len = sizeof("Bearer ") - 1 + vv->len;
    p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, vv->data, vv->len);
    h->hash = 1;

    r->headers_in.authorization = h;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_notify_feed_list(ngx_http_request_t *r, ngx_str_t *user)
{
    ngx_int_t                      n, rc;
    ngx_str_t                      arg;
    ngx_uint_t                     i, states;
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

    /*
     * The filters of the states' version: an answer to a request with
     * one of them shows each item's states and the unseen count too.
     */

    states = 0;

    if (ngx_http_arg(r, (u_char *) "status", 6, &arg) == NGX_OK) {
        static ngx_str_t  status[] = {
            ngx_string("inbox"), ngx_string("unread"), ngx_string("unseen"),
            ngx_string("read"), ngx_string("archived"), ngx_string("all")
        };

        for (i = 0; i < sizeof(status) / sizeof(status[0]); i++) {
            if (arg.len == status[i].len
                && ngx_strncmp(arg.data, status[i].data, arg.len) == 0)
            {
                break;
            }
        }

        if (i == sizeof(status) / sizeof(status[0])) {
            return ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST,
                                              "BadRequest",
                                              "status must be inbox, unread,"
                                              " unseen, read, archived or"
                                              " all.");
        }

        q->status = (ngx_http_notify_feed_status_e) i;
        states = 1;
    }

    rc = ngx_http_notify_feed_filter(r, "dialect",
                                     NGX_HTTP_NOTIFY_FEED_DIALECT_MAX,
                                     &q->dialect, &states);
    if (rc == NGX_OK) {
        rc = ngx_http_notify_feed_filter(r, "event",
                                         NGX_HTTP_NOTIFY_FEED_EVENT_MAX,
                                         &q->event, &states);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "BadRequest",
                                          "dialect and event must be texts"
                                          " in UTF-8, of 1 to 64 and 1 to"
                                          " 256 bytes.");
    }

    if (states && !ngx_http_notify_store_has_states()) {
        return ngx_http_notify_feed_no_states(r);
    }

    rd->type = NGX_HTTP_NOTIFY_READ_FEED;
    rd->counts = states;

    return ngx_http_notify_store_read_for(r, rd,
                                          ngx_http_notify_feed_read_done);
}


/*
 * A store without the feed's states (a backend that has no feed_change
 * and counts): what needs them is not there, and says so.
 */

static ngx_int_t
ngx_http_notify_feed_no_states(ngx_http_request_t *r)
{
    return ngx_http_notify_send_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                                      "NotImplemented",
                                      "This store does not keep the feed's"
                                      " states (seen, archived) yet.");
}


/* the page read: the answer */

static ngx_int_t
ngx_http_notify_feed_page(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd)
{
    u_char                        *body, *p;
    size_t                         len;
    uint64_t                       next, unread, unseen;
    ngx_uint_t                     i, states;
    ngx_array_t                    items;
    ngx_http_notify_feed_entry_t  *e;

    items = rd->items;
    next = rd->next;
    unread = rd->unread;
    unseen = rd->unseen;
    states = rd->counts;

    /*
     * Each item is the view the store kept (JSON text already), with
     * "read" added (and "seen", "archived" in the states' version): the
     * answer is put around them, no JSON is parsed.
     */

    e = items.elts;

    len = sizeof("{\"items\":[],\"next\":\"\",\"unread\":,\"unseen\":}")
          - 1 + NGX_HTTP_NOTIFY_ID_LEN + 2 * NGX_INT64_LEN;

    for (i = 0; i < items.nelts; i++) {
        len += e[i].view.len
               + sizeof(",\"read\":false,\"seen\":false,\"archived\":false,")
               - 1;
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

        p = e[i].read ? ngx_cpymem(p, "\"read\":true", 11)
                      : ngx_cpymem(p, "\"read\":false", 12);

        if (states) {
            p = ngx_sprintf(p, ",\"seen\":%s,\"archived\":%s",
                            e[i].seen ? "true" : "false",
                            e[i].archived ? "true" : "false");
        }

        *p++ = '}';
    }

    *p++ = ']';

    if (next) {
        p = ngx_cpymem(p, ",\"next\":\"", sizeof(",\"next\":\"") - 1);
        p = ngx_http_notify_format_id(p, next);
        *p++ = '"';

    } else {
        p = ngx_cpymem(p, ",\"next\":null", sizeof(",\"next\":null") - 1);
    }

    p = ngx_sprintf(p, ",\"unread\":%uL", unread);

    if (states) {
        p = ngx_sprintf(p, ",\"unseen\":%uL", unseen);
    }

    *p++ = '}';

    return ngx_http_notify_send_body(r, NGX_HTTP_OK, NULL, body, p - body);
}


/*
 * A filter of the list: the argument, unescaped and bounded, as the JSON
 * text of a string (what the kept view holds).  NGX_DECLINED: empty, too
 * long, or not UTF-8.
 */

static ngx_int_t
ngx_http_notify_feed_filter(ngx_http_request_t *r, char *name, size_t max,
    ngx_str_t *json, ngx_uint_t *given)
{
    char       *text;
    json_t     *s;
    ngx_str_t   arg, value;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &arg) != NGX_OK) {
        return NGX_OK;
    }

    *given = 1;

    if (ngx_http_notify_feed_unescape(r, &arg, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    s = NULL;

    if (value.len && value.len <= max) {
        s = json_stringn((char *) value.data, value.len);
    }

    if (s == NULL) {
        return NGX_DECLINED;
    }

    text = json_dumps(s, JSON_ENCODE_ANY|JSON_COMPACT);
    json_decref(s);

    if (text == NULL) {
        return NGX_ERROR;
    }

    json->len = ngx_strlen(text);
    json->data = ngx_pnalloc(r->pool, json->len);

    if (json->data != NULL) {
        ngx_memcpy(json->data, text, json->len);
    }

    free(text);

    return json->data ? NGX_OK : NGX_ERROR;
}


/* an argument's value, percent-decoded, in the request's pool */

static ngx_int_t
ngx_http_notify_feed_unescape(ngx_http_request_t *r, ngx_str_t *arg,
    ngx_str_t *value)
{
    u_char  *dst, *src;

    value->data = ngx_pnalloc(r->pool, arg->len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = arg->data;
    ngx_unescape_uri(&dst, &src, arg->len, 0);
    value->len = dst - value->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_feed_count(ngx_http_request_t *r, ngx_str_t *user,
    ngx_uint_t unseen)
{
    ngx_http_notify_store_read_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_store_read_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->type = unseen ? NGX_HTTP_NOTIFY_READ_COUNTS
                      : NGX_HTTP_NOTIFY_READ_UNREAD;
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
        rc = ngx_http_notify_feed_unread(r, rd);
    }

    ngx_http_finalize_request(r, rc);
}


/* the count read: the answer */

static ngx_int_t
ngx_http_notify_feed_unread(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd)
{
    json_t     *json;
    ngx_int_t   rc;

    json = (rd->type == NGX_HTTP_NOTIFY_READ_COUNTS)
           ? json_pack("{s:I,s:I}", "unread", (json_int_t) rd->unread,
                       "unseen", (json_int_t) rd->unseen)
           : json_pack("{s:I}", "unread", (json_int_t) rd->unread);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
    json_decref(json);

    return rc;
}


/*
 * A change of the feed's states: one id's (READ_ONE, ARCHIVE, DELETE), up
 * to the id in the body (READ_UNTIL), or all of them (the bulk ones)
 */

static ngx_int_t
ngx_http_notify_feed_mark(ngx_http_request_t *r, ngx_str_t *user,
    ngx_str_t *id, ngx_http_notify_op_type_e type)
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
    fr->op.type = type;

    if (type != NGX_HTTP_NOTIFY_OP_READ_UNTIL) {
        if (id && ngx_http_notify_parse_id(id, &fr->op.seq) != NGX_OK) {
            return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "NotFound",
                                              "There is no such"
                                              " notification in the feed.");
        }

        /* a body is not read: it is discarded before the change */

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        /* the request needs a count of its own while the store works */
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

    } else if (op->rc == NGX_DECLINED
               && op->type != NGX_HTTP_NOTIFY_OP_DELETE)
    {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                        "There is no such notification in"
                                        " the feed.");

    } else {
        switch (op->type) {

        case NGX_HTTP_NOTIFY_OP_READ_ONE:
        case NGX_HTTP_NOTIFY_OP_READ_UNTIL:
            json = json_pack("{s:I}", "unread", (json_int_t) op->unread);
            break;

        case NGX_HTTP_NOTIFY_OP_ARCHIVE_READ:
            json = json_pack("{s:I,s:I,s:I}",
                             "archived", (json_int_t) op->count,
                             "unread", (json_int_t) op->unread,
                             "unseen", (json_int_t) op->unseen);
            break;

        case NGX_HTTP_NOTIFY_OP_DELETE:
            /* idempotent: deleted again, it is not there, and that is 200 */
            json = json_pack("{s:b,s:I,s:I}",
                             "deleted", op->rc != NGX_DECLINED,
                             "unread", (json_int_t) op->unread,
                             "unseen", (json_int_t) op->unseen);
            break;

        default:
            json = json_pack("{s:I,s:I}",
                             "unread", (json_int_t) op->unread,
                             "unseen", (json_int_t) op->unseen);
        }

        if (json == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
            json_decref(json);
        }
    }

    ngx_http_finalize_request(r, rc);
}


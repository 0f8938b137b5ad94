
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The one flow every inbound dialect goes through (DESIGN.md):
 *
 *   request -> dialect headers -> method -> authenticate -> role ->
 *   dialect request checks -> read body -> parse + validate ->
 *   authorize -> expand recipients -> commit (group commit, fsync off the
 *   event loop) -> answer in the dialect's contract
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_notify_inbound.h"
#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_subrequest.h"


/* an inbound notification and what the module gave the flow with it */
typedef struct {
    ngx_http_notify_req_t        nr;           /* first: ctx->inbound */
    ngx_http_notify_flow_conf_t  conf;
} ngx_http_notify_flow_t;


static void ngx_http_notify_flow_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_flow_process(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_flow_read_body(ngx_http_notify_req_t *nr);
static void ngx_http_notify_flow_committed(ngx_http_notify_store_op_t *op);
static ngx_int_t ngx_http_notify_flow_error(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_flow_send_answer(ngx_http_notify_req_t *nr);
static void ngx_http_notify_flow_cleanup(void *data);
static ngx_int_t ngx_http_notify_flow_set_allow(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_flow_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt  ngx_http_notify_next_body_filter;


ngx_int_t
ngx_http_notify_flow_handler(ngx_http_request_t *r,
    ngx_http_notify_flow_conf_t *fc)
{
    ngx_int_t                        rc;
    ngx_array_t                     *roles, dflt;
    ngx_pool_cleanup_t              *cln;
    ngx_http_notify_ctx_t           *ctx;
    ngx_http_notify_req_t           *nr;
    ngx_http_notify_flow_t          *flow;
    ngx_http_notify_dialect_t       *d;
    ngx_http_notify_inbound_conf_t  *ic;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    ic = fc->inbound;
    d = ic->dialect;

    ctx = ngx_http_notify_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    flow = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_flow_t));
    if (flow == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    flow->conf = *fc;
    nr = &flow->nr;

    nr->op = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_store_op_t));
    if (nr->op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_notify_flow_cleanup;
    cln->data = nr;

    nr->request = r;
    nr->dialect = d;
    nr->directory = fc->directory;
    nr->conf = ic->conf;
    nr->keys = ic->keys;
    ctx->inbound = nr;

    if (ngx_array_init(&nr->recipients, r->pool, 8, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_notify_store_ready()) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_STORE,
                             NGX_HTTP_SERVICE_UNAVAILABLE,
                             "The notification store is not available.");
        return ngx_http_notify_flow_error(nr);
    }

    if (d->check_headers && d->check_headers(nr) != NGX_OK) {
        return ngx_http_notify_flow_error(nr);
    }

    if (!(r->method & d->methods)) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_METHOD,
                             NGX_HTTP_NOT_ALLOWED,
                             "The method %V is not allowed.",
                             &r->method_name);
        return ngx_http_notify_flow_error(nr);
    }

    nr->auth = ngx_http_notify_authenticate(r, fc->jwt);
    if (nr->auth == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (nr->auth->error != NGX_HTTP_NOTIFY_AUTH_OK) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_AUTH,
                             NGX_HTTP_UNAUTHORIZED, "%V", &nr->auth->reason);
        return ngx_http_notify_flow_error(nr);
    }

    roles = ic->roles;

    if (roles == NULL && d->default_role.len) {
        dflt.elts = &d->default_role;
        dflt.nelts = 1;
        roles = &dflt;
    }

    if (roles && roles->nelts
        && !ngx_http_notify_has_role(nr->auth->principal, roles))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: the caller holds none of the roles required");

        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_FORBIDDEN,
                             NGX_HTTP_FORBIDDEN,
                             "The caller does not hold a required role.");
        return ngx_http_notify_flow_error(nr);
    }

    if (d->check_request && d->check_request(nr) != NGX_OK) {
        return ngx_http_notify_flow_error(nr);
    }

    if (r->headers_in.content_length_n > (off_t) ic->max_body) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_TOO_LARGE,
                             NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             "The request body is larger than %uz bytes.",
                             ic->max_body);
        return ngx_http_notify_flow_error(nr);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_notify_flow_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_notify_flow_body(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_http_notify_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    rc = ngx_http_notify_flow_process(ctx->inbound);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_notify_flow_process(ngx_http_notify_req_t *nr)
{
    json_error_t                 err;
    ngx_http_request_t          *r;
    ngx_http_notify_flow_t      *flow;
    ngx_http_notify_dialect_t   *d;
    ngx_http_notify_store_op_t  *op;

    r = nr->request;
    d = nr->dialect;
    flow = (ngx_http_notify_flow_t *) nr;

    if (ngx_http_notify_flow_read_body(nr) != NGX_OK) {
        return ngx_http_notify_flow_error(nr);
    }

    if (ngx_http_notify_tenant(r, flow->conf.tenant, &nr->tenant) != NGX_OK) {
        (void) ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "notify_tenant could not be evaluated");
        return ngx_http_notify_flow_error(nr);
    }

    /* what the flow knows of the canonical notification; the rest is
       the dialect's */

    nr->note.dialect = d->name;
    nr->note.tenant = nr->tenant;
    nr->note.created = ngx_time();

    if (d->parse(nr) != NGX_OK) {
        return ngx_http_notify_flow_error(nr);
    }

    /* its JSON, as the store will keep it: a failure is the parse's */

    if (ngx_http_notify_note_text(&nr->note, r->pool, &nr->op->text,
                                  &nr->op->view, &err)
        != NGX_OK)
    {
        (void) ngx_http_notify_note_failed(nr, &err);
        return ngx_http_notify_flow_error(nr);
    }

    if (d->authorize && d->authorize(nr) != NGX_OK) {
        return ngx_http_notify_flow_error(nr);
    }

    if (d->expand(nr) != NGX_OK) {
        return ngx_http_notify_flow_error(nr);
    }

    if (d->answer(nr) != NGX_OK) {
        return ngx_http_notify_flow_error(nr);
    }

    if (nr->skip_store) {
        /* the dialect answers without storing anything (nobody to tell) */
        nr->op->answer = nr->answer;
        nr->answer = NULL;

        return ngx_http_notify_flow_send_answer(nr);
    }

    /* commit: the notification, one feed entry per recipient, and the
       delivery in the outbox */

    if (ngx_http_notify_delivery_plan(nr, &flow->conf.delivery_location)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op = nr->op;

    op->type = NGX_HTTP_NOTIFY_OP_PUT;
    op->recipients = nr->recipients.elts;
    op->nrecipients = nr->recipients.nelts;
    op->created = ngx_time();
    op->answer = nr->answer;
    nr->answer = NULL;

    if (nr->has_idem) {
        ngx_memcpy(op->idem, nr->idem, sizeof(op->idem));
        op->has_idem = 1;
    }

    if (nr->has_chain) {
        ngx_memcpy(op->chain, nr->chain, sizeof(op->chain));
        op->has_chain = 1;
    }

    op->done = ngx_http_notify_flow_committed;
    op->data = nr;
    op->log = r->connection->log;

    /*
     * The request stays alive on the count that reading the body took;
     * ngx_http_notify_flow_committed() finalizes it.
     */

    ngx_http_notify_store_post(op);

    return NGX_DONE;
}


static void
ngx_http_notify_flow_committed(ngx_http_notify_store_op_t *op)
{
    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_http_notify_req_t   *nr;
    ngx_http_notify_flow_t  *flow;

    nr = op->data;
    r = nr->request;
    c = r->connection;
    flow = (ngx_http_notify_flow_t *) nr;

    ngx_http_notify_delivery_start(nr, &flow->conf.delivery_location);

    if (op->rc != NGX_OK) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_STORE,
                             NGX_HTTP_SERVICE_UNAVAILABLE,
                             "The notification could not be stored.");
        rc = ngx_http_notify_flow_error(nr);

    } else {
        if (op->duplicate) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "notify: idempotent replay, nothing stored");

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "notify: stored notification %016uxL for"
                          " %ui recipients, %ui groups expanded",
                          op->seq, op->nrecipients, nr->groups.n);
        }

        rc = ngx_http_notify_flow_send_answer(nr);
    }

    ngx_http_finalize_request(r, rc);

    /* this runs from the store's event, not the connection's: the
       delivery subrequest posted above is to be run here */

    ngx_http_run_posted_requests(c);
}


/* the success answer: the dialect's own way, else JSON (or no body) */

static ngx_int_t
ngx_http_notify_flow_send_answer(ngx_http_notify_req_t *nr)
{
    ngx_http_request_t  *r;

    r = nr->request;

    if (nr->dialect->send_answer) {
        return nr->dialect->send_answer(nr, nr->op->answer);
    }

    if (nr->op->answer) {
        return ngx_http_notify_send_json(r, nr->success, NULL, nr->op->answer,
                                         0);
    }

    return ngx_http_notify_send_empty(r, nr->success);
}


/*
 * The body, in one piece: small bodies are in memory, larger ones may be
 * in a temporary file (client_body_buffer_size).
 */

static ngx_int_t
ngx_http_notify_flow_read_body(ngx_http_notify_req_t *nr)
{
    off_t                    len;
    size_t                   max;
    u_char                  *p;
    ssize_t                  n;
    ngx_buf_t               *b;
    ngx_chain_t             *cl;
    ngx_http_request_t      *r;
    ngx_http_notify_ctx_t   *ctx;

    r = nr->request;
    max = ((ngx_http_notify_flow_t *) nr)->conf.inbound->max_body;

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    if (ctx->body_too_large) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_TOO_LARGE,
                                    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "The request body is larger than %uz"
                                    " bytes.", max);
    }

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ngx_str_set(&nr->raw, "");
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > (off_t) max) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_TOO_LARGE,
                                    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "The request body is larger than %uz"
                                    " bytes.", max);
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "Out of memory.");
    }

    nr->raw.data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR,
                                            "The request body could not be"
                                            " read.");
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';
    nr->raw.len = p - nr->raw.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_flow_error(ngx_http_notify_req_t *nr)
{
    ngx_http_request_t  *r;

    r = nr->request;

    if (nr->status == 0) {
        nr->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        nr->error = NGX_HTTP_NOTIFY_ERR_INTERNAL;
    }

    if (nr->status >= NGX_HTTP_INTERNAL_SERVER_ERROR
        && nr->error != NGX_HTTP_NOTIFY_ERR_STORE)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "notify: %V", &nr->message);
    }

    if (nr->error == NGX_HTTP_NOTIFY_ERR_METHOD && !nr->dialect->no_allow
        && ngx_http_notify_flow_set_allow(nr) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return nr->dialect->send_error(nr);
}


static ngx_int_t
ngx_http_notify_flow_set_allow(ngx_http_notify_req_t *nr)
{
    u_char      *p;
    ngx_str_t    allow;
    ngx_uint_t   i;

    static struct {
        ngx_uint_t   method;
        char        *name;
    } methods[] = {
        { NGX_HTTP_GET, "GET" },
        { NGX_HTTP_HEAD, "HEAD" },
        { NGX_HTTP_POST, "POST" },
        { NGX_HTTP_PUT, "PUT" },
        { NGX_HTTP_DELETE, "DELETE" },
        { 0, NULL }
    };

    p = ngx_pnalloc(nr->request->pool, sizeof("GET, HEAD, POST, PUT, DELETE"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    allow.data = p;

    for (i = 0; methods[i].name; i++) {
        if (nr->dialect->methods & methods[i].method) {
            if (p != allow.data) {
                *p++ = ','; *p++ = ' ';
            }

            p = ngx_cpymem(p, methods[i].name, ngx_strlen(methods[i].name));
        }
    }

    allow.len = p - allow.data;

    return ngx_http_notify_set_header(nr->request, "Allow", &allow);
}


static void
ngx_http_notify_flow_cleanup(void *data)
{
    ngx_http_notify_req_t *nr = data;

    json_decref(nr->body);
    ngx_http_notify_note_free(&nr->note);
    json_decref(nr->answer);
    json_decref(nr->unresolved);
    json_decref(nr->fields);
    json_decref(nr->op->answer);
}



ngx_int_t
ngx_http_notify_flow_init(ngx_conf_t *cf)
{
    ngx_http_notify_next_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_notify_flow_body_filter;

    return NGX_OK;
}


/*
 * A notify_inbound body past notify_max_body (a chunked one: a longer
 * Content-Length is answered before reading) ends there: what came is
 * dropped, the body is made to end (the rest is never read), and the flow
 * answers 413 in the dialect's shape; the connection is then closed, with
 * nginx's lingering close, as for nginx's own 413.
 */

static ngx_int_t
ngx_http_notify_flow_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                  max;
    ngx_chain_t            *cl, *last;
    ngx_http_notify_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    if (ctx == NULL || ctx->inbound == NULL) {
        return ngx_http_notify_next_body_filter(r, in);
    }

    if (ctx->body_too_large) {
        /* the end was passed on already */
        return NGX_OK;
    }

    max = ((ngx_http_notify_flow_t *) ctx->inbound)->conf.inbound->max_body;

    for (cl = in; cl; cl = cl->next) {
        ctx->body_seen += ngx_buf_size(cl->buf);
    }

    if (ctx->body_seen <= (off_t) max) {
        return ngx_http_notify_next_body_filter(r, in);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "notify: the request body is larger than notify_max_body"
                  " (%uz), not reading on", max);

    ctx->body_too_large = 1;

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;

        if (cl->buf->in_file) {
            cl->buf->file_pos = cl->buf->file_last;
        }
    }

    /* the body ends here: nothing more is read, the rest stays unread */

    r->request_body->rest = 0;
    r->keepalive = 0;
    r->lingering_close = 1;

    last = ngx_alloc_chain_link(r->pool);
    if (last == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last->buf = ngx_calloc_buf(r->pool);
    if (last->buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last->buf->last_buf = 1;
    last->next = NULL;

    return ngx_http_notify_next_body_filter(r, last);
}

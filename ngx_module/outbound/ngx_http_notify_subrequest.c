
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The first attempt of a delivery: a background subrequest to the
 * internal location of notify_delivery_location (proxy_pass
 * $notify_target_url), made once the notification is durable, so that it
 * runs after the caller has its answer and gets nginx's upstream features.
 * It carries the request the target's dialect rendered, and nothing of
 * the caller's; its answer, read here, goes to the scheduler.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_scheduler.h"
#include "ngx_http_notify_subrequest.h"


static void ngx_http_notify_subrequest_start(ngx_http_notify_req_t *nr,
    ngx_str_t *location, ngx_http_notify_target_t *target, ngx_uint_t entry,
    ngx_http_notify_outbox_put_t *oe);
static void ngx_http_notify_subrequest_abandon(void *data);
static void ngx_http_notify_subrequest_hold(ngx_event_t *ev);
static void ngx_http_notify_subrequest_run(ngx_http_request_t *sr);
static ngx_int_t ngx_http_notify_subrequest_headers(ngx_http_request_t *sr,
    ngx_http_notify_delivery_t *dl);
static ngx_int_t ngx_http_notify_subrequest_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_notify_target_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_notify_delivery_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


/*
 * Not cacheable: a request's subrequests share its variables' values, and
 * each first attempt (one a target) has its own
 */

static ngx_http_variable_t  ngx_http_notify_subrequest_vars[] = {

    { ngx_string("notify_target_url"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, request.url),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("notify_target_authorization"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, authorization),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("notify_target_idempotency_key"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, request.idempotency_key),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("notify_target_body"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, request.body),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("notify_delivery_status"), NULL,
      ngx_http_notify_delivery_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * the first attempts: a background subrequest for each entry planned
 * with one, after the commit
 */

void
ngx_http_notify_delivery_start(ngx_http_notify_req_t *nr, ngx_str_t *location)
{
    ngx_uint_t                     i;
    ngx_http_notify_ctx_t         *ctx;
    ngx_http_notify_outbox_put_t  *oe;

    ctx = ngx_http_get_module_ctx(nr->request, ngx_http_notify_module);

    ngx_str_set(&ctx->delivery_status, "queued");

    if (!nr->op->has_outbox || nr->op->duplicate || nr->op->rc != NGX_OK) {

        if (nr->deliver_now) {
            ngx_http_notify_delivery_unplan(nr);
        }

        if (!nr->op->has_outbox) {
            ngx_str_set(&ctx->delivery_status, "off");

        } else if (nr->op->duplicate) {
            ngx_str_set(&ctx->delivery_status, "duplicate");

        } else {
            ngx_str_null(&ctx->delivery_status);
        }

        return;
    }

    oe = nr->op->entries;

    for (i = 0; i < nr->op->nentries; i++) {
        if (oe[i].held) {
            ngx_http_notify_delivery_unhold(&oe[i]);
        }

        if (oe[i].data == NULL) {
            ngx_http_notify_delivery_arm(0);
            continue;
        }

        ngx_http_notify_subrequest_start(nr, location, oe[i].data, i,
                                         &oe[i]);
    }
}


/* one first attempt: the entry of "target", planned with a place */

static void
ngx_http_notify_subrequest_start(ngx_http_notify_req_t *nr,
    ngx_str_t *location, ngx_http_notify_target_t *target, ngx_uint_t entry,
    ngx_http_notify_outbox_put_t *oe)
{
    ngx_int_t                         rc;
    ngx_buf_t                        *b;
    ngx_str_t                         loc;
    ngx_pool_t                       *pool;
    ngx_pool_cleanup_t               *cln;
    ngx_http_request_t               *r, *sr;
    ngx_http_notify_ctx_t            *ctx, *sctx;
    ngx_http_request_body_t          *rb;
    ngx_http_notify_delivery_t       *dl;
    ngx_http_post_subrequest_t       *ps;
    ngx_http_notify_delivery_conf_t  *tdc;

    r = nr->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);
    tdc = target->delivery;
    dl = NULL;

    /*
     * The attempt has a pool of its own: its outcome is written to the
     * store after the subrequest, when the caller's request may be gone;
     * so is its connection, and the connection's log with it.
     */

    pool = ngx_create_pool(2048, ngx_cycle->log);
    if (pool == NULL) {
        goto failed;
    }

    dl = ngx_pcalloc(pool, sizeof(ngx_http_notify_delivery_t));
    if (dl == NULL) {
        ngx_destroy_pool(pool);
        goto failed;
    }

    dl->pool = pool;
    dl->ctx = ctx;
    dl->target = target;
    dl->started = ngx_current_msec;

    /*
     * The request holds the attempt through a link in its own pool, until
     * the subrequest reports: then the store's answer frees the attempt,
     * and the link is cut.
     */

    cln = ngx_pool_cleanup_add(r->pool, sizeof(void *));
    if (cln == NULL) {
        ngx_destroy_pool(pool);
        dl = NULL;
        goto failed;
    }

    cln->handler = ngx_http_notify_subrequest_abandon;
    dl->owner = cln->data;
    *dl->owner = dl;

    rc = ngx_http_notify_outbound_prepare(dl, target, nr->op->seq,
                                          (uint32_t) entry,
                                          (uint32_t) oe->part, NULL, 0,
                                          &nr->note,
                                          (ngx_str_t *) nr->recipients.elts
                                          + oe->first, oe->n, NULL, 0);

    if (rc == NGX_DECLINED) {

        /* its OAuth2 token went since the plan (a 401 elsewhere) */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: the first attempt of %016uxL waits for an"
                      " OAuth2 token, the outbox retries it", nr->op->seq);

        return;     /* the cleanup of the request gives the attempt up */
    }

    if (rc != NGX_OK) {
        goto failed;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        goto failed;
    }

    ps->handler = ngx_http_notify_subrequest_done;
    ps->data = dl;

    /*
     * All that can fail before the subrequest exists: once made, it runs,
     * and must then have the rendered request and nothing of the caller's
     */

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_ctx_t));
    if (sctx == NULL) {
        goto failed;
    }

    sctx->delivery = dl;

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        goto failed;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        goto failed;
    }

    b->temporary = 1;
    b->start = dl->request.body.data;
    b->pos = dl->request.body.data;
    b->last = dl->request.body.data + dl->request.body.len;
    b->end = b->last;
    b->last_buf = 1;
    b->last_in_chain = 1;

    rb->bufs = ngx_alloc_chain_link(r->pool);
    if (rb->bufs == NULL) {
        goto failed;
    }

    rb->bufs->buf = b;
    rb->bufs->next = NULL;
    rb->buf = b;

    loc = *location;

    if (ngx_http_subrequest(r, &loc, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND
                            |NGX_HTTP_SUBREQUEST_IN_MEMORY)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_http_set_ctx(sr, sctx, ngx_http_notify_module);

    sr->write_event_handler = ngx_http_notify_subrequest_run;

    /* the rendered method, body, headers: nothing of the caller's request */

    sr->method = dl->request.method;
    sr->method_name = dl->request.method_name;
    sr->header_only = 0;
    sr->request_body = rb;

    if (ngx_http_notify_subrequest_headers(sr, dl) != NGX_OK) {
        goto failed;
    }

    /*
     * The caller's connection waits for its subrequest: nginx keeps the
     * main request (r->main->count) until every subrequest is done, and a
     * keep-alive caller's next request is read only then.  The hold is
     * bounded: see ngx_http_notify_subrequest_hold().
     */

    dl->subrequest = sr;
    dl->hold.handler = ngx_http_notify_subrequest_hold;
    dl->hold_conn.fd = (ngx_socket_t) -1;
    dl->hold_conn.data = dl;
    dl->hold.data = &dl->hold_conn;
    dl->hold.log = r->connection->log;

    ngx_add_timer(&dl->hold, tdc->first_timeout);

    ngx_str_set(&ctx->delivery_status, "pending");

    return;

failed:

    /* the entry is in the outbox: the timer takes it once its lease ends */

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "notify: cannot start the delivery subrequest, the outbox"
                  " retries it");

    if (dl == NULL) {
        ngx_http_notify_outbound_release(target);
    }

    /* else the cleanup of the request gives the attempt up */
}


/*
 * The caller's request is freed: if its subrequest never reported (the
 * connection was torn down), the attempt is given up here, and the outbox
 * retries it once its lease ends.
 */

static void
ngx_http_notify_subrequest_abandon(void *data)
{
    ngx_http_notify_delivery_t **link = data;

    if (*link == NULL) {
        return;     /* reported: the store's answer frees it */
    }

    if ((*link)->hold.timer_set) {
        ngx_del_timer(&(*link)->hold);
    }

    ngx_http_notify_outbound_release((*link)->target);
    ngx_destroy_pool((*link)->pool);
}


/*
 * notify_delivery_first_timeout: the first attempt has not reported in
 * time.  While it waits on its upstream (connecting, sending, reading the
 * answer), that wait ends now as if the upstream's own timer had expired
 * (the event's timer, then its handler, as nginx's timers do): the
 * upstream module closes the connection to the downstream and finalizes
 * the subrequest with 504, with no next upstream (its bound is the
 * attempt's, not a peer's), and the caller's connection goes on.  The
 * outcome is a failed attempt, which the timer retries with libcurl.
 * Anywhere else (not yet connecting: a resolver, a delay of the delivery
 * location) it is looked at again after the same time.
 */

static void
ngx_http_notify_subrequest_hold(ngx_event_t *ev)
{
    ngx_event_t                 *wait;
    ngx_connection_t            *c;
    ngx_http_upstream_t         *u;
    ngx_http_notify_delivery_t  *dl;

    c = ev->data;
    dl = c->data;

    u = dl->subrequest->upstream;
    c = (u != NULL) ? u->peer.connection : NULL;
    wait = NULL;

    if (c != NULL) {
        if (c->write->timer_set) {
            wait = c->write;

        } else if (c->read->timer_set) {
            wait = c->read;
        }
    }

    if (wait == NULL) {
        ngx_add_timer(ev, ((ngx_http_notify_delivery_conf_t *)
                           dl->target->delivery)->first_timeout);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "notify: first attempt of %016uxL cut", dl->seq);

    dl->cut = 1;
    u->peer.tries = 1;

    ngx_del_timer(wait);
    wait->timedout = 1;

    /* the subrequest reports from here: "dl" is the store's after it */

    wait->handler(wait);
}


/*
 * The subrequest's first run (nginx's ngx_http_handler() otherwise): the
 * location's handlers make the upstream's request there, and nginx's
 * proxy module logs that request's headers at debug level, the target's
 * credentials (its Authorization, an OAuth2 token, a subscription key)
 * with them: this run has no debug log.
 */

static void
ngx_http_notify_subrequest_run(ngx_http_request_t *sr)
{
    ngx_uint_t         level;
    ngx_connection_t  *c;

    c = sr->connection;
    level = c->log->log_level;

    if (level & NGX_LOG_DEBUG_ALL) {
        c->log->log_level = NGX_LOG_DEBUG;      /* the rest is logged */
    }

    ngx_http_handler(sr);

    /* the connection's log lives in its pool */

    if (!c->destroyed) {
        c->log->log_level = level;
    }
}


static ngx_int_t
ngx_http_notify_subrequest_headers(ngx_http_request_t *sr,
    ngx_http_notify_delivery_t *dl)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_keyval_t     *kv;
    ngx_table_elt_t  *h;

    /*
     * nginx made the subrequest with a copy of the caller's headers_in:
     * all of it goes (its Host, Cookie, X-Forwarded-For, Referer, ... would
     * otherwise reach the delivery location's variables, $http_cookie or
     * $proxy_add_x_forwarded_for), and the rendered headers are all there
     * is, as on the retry path
     */

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, sr->pool, 8,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_length_n = dl->request.body.len;
    sr->headers_in.keep_alive_n = -1;

    kv = dl->request.headers.elts;

    for (i = 0; i < dl->request.headers.nelts + 1; i++) {
        h = ngx_list_push(&sr->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        if (i == dl->request.headers.nelts) {
            ngx_str_set(&h->key, "Content-Length");

            p = ngx_pnalloc(sr->pool, NGX_OFF_T_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            h->value.data = p;
            h->value.len = ngx_sprintf(p, "%uz", dl->request.body.len) - p;
            sr->headers_in.content_length = h;

        } else {
            h->key = kv[i].key;
            h->value = kv[i].value;
        }

        h->lowcase_key = ngx_pnalloc(sr->pool, h->key.len);
        if (h->lowcase_key == NULL) {
            return NGX_ERROR;
        }

        h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif

        /* the headers nginx keeps a pointer to, for $http_user_agent, ... */

        if (h->key.len == sizeof("User-Agent") - 1
            && ngx_strncmp(h->lowcase_key, "user-agent", h->key.len) == 0)
        {
            sr->headers_in.user_agent = h;

        } else if (h->key.len == sizeof("Content-Type") - 1
                   && ngx_strncmp(h->lowcase_key, "content-type", h->key.len)
                      == 0)
        {
            sr->headers_in.content_type = h;

        } else if (h->key.len == sizeof("Authorization") - 1
                   && ngx_strncmp(h->lowcase_key, "authorization",
                                  h->key.len)
                      == 0)
        {
            sr->headers_in.authorization = h;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_subrequest_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc)
{
    ngx_http_notify_delivery_t *dl = data;

    char                             *error;
    ngx_str_t                         body, retry;
    ngx_msec_t                        held;
    ngx_uint_t                        status;
    ngx_table_elt_t                  *h;
    ngx_http_notify_delivery_conf_t  *tdc;

    if (dl->finished) {
        return rc;
    }

    dl->finished = 1;
    ngx_http_notify_outbound_release(dl->target);

    if (dl->hold.timer_set) {
        ngx_del_timer(&dl->hold);
    }

    /* from here on the attempt is the store's: cut the request's link */

    if (dl->owner) {
        *dl->owner = NULL;
        dl->owner = NULL;
    }

    status = r->headers_out.status;

    if (dl->cut
        || rc == NGX_ERROR
        || (rc >= NGX_HTTP_SPECIAL_RESPONSE && r->upstream == NULL))
    {
        status = 0;
    }

    /*
     * answered, but so late that a keep-alive caller waits as long for
     * each notification: the target's next first attempts are the timer's
     */

    tdc = dl->target->delivery;
    held = ngx_current_msec - dl->started;

    if (!dl->cut && status && held > tdc->first_timeout / 5) {
        ngx_http_notify_breaker_slow(ngx_http_notify_outbound_slot(dl->target),
                                     &dl->target->name, held,
                                     r->connection->log);
    }

    ngx_str_null(&body);

    if (r->out && r->out->buf) {
        body.data = r->out->buf->pos;
        body.len = r->out->buf->last - r->out->buf->pos;
    }

    h = ngx_http_notify_header(&r->headers_out.headers, "Retry-After");

    if (h != NULL) {
        retry = h->value;

    } else {
        ngx_str_null(&retry);
    }

    error = dl->cut ? "none within notify_delivery_first_timeout"
                    : "no answer";

    ngx_http_notify_scheduler_outcome(dl, status, &body, &retry,
                                      status ? NULL : error,
                                      r->connection->log);

    dl->ctx = NULL;

    /* the subrequest's own output goes nowhere: it is ours */

    return rc;
}


/* variables */

ngx_int_t
ngx_http_notify_delivery_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_notify_subrequest_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_target_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              *s;
    ngx_http_notify_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    if (ctx == NULL || ctx->delivery == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx->delivery + data);

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_delivery_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_notify_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_notify_module);

    if (ctx == NULL || ctx->delivery_status.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->delivery_status.len;
    v->data = ctx->delivery_status.data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


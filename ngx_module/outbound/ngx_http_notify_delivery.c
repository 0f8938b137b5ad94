
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * Delivery: every accepted notification whose type is on is put in the
 * outbox in the transaction that accepts it.  The first attempt is a
 * background subrequest to the internal location of
 * notify_delivery_location (proxy_pass $notify_target_url), made once the
 * notification is durable, so that it runs after the caller has its
 * answer.  What fails is retried with exponential backoff by a timer in
 * one worker process, with libcurl's multi interface on nginx's event
 * loop, until it is delivered or notify_push_days_before has passed.
 *
 * The request (body, headers) and the reading of the answer are the same
 * functions for both paths.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_notify_delivery.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_store.h"
#include "ngx_http_notify_curl.h"


#define NGX_HTTP_NOTIFY_LEASE  60000    /* msec a first attempt may take */


/* one delivery attempt, on either path */
typedef struct {
    ngx_pool_t                  *pool;       /* NULL: the request's */
    uint64_t                     seq;
    uint32_t                     attempts;
    ngx_str_t                    body;
    ngx_str_t                    url;
    ngx_str_t                    authorization;
    ngx_str_t                    idempotency_key;
    ngx_http_notify_ctx_t       *ctx;        /* the caller's request's, while
                                                its subrequest runs */
    void                       **owner;      /* ditto: the request's link to
                                                this attempt */
    ngx_http_notify_store_op_t   op;
    ngx_http_notify_curl_req_t   curl;
    ngx_array_t                  headers;    /* ngx_keyval_t, for curl */
    unsigned                     finished:1;
} ngx_http_notify_delivery_t;


typedef struct {
    ngx_http_notify_delivery_conf_t  *conf;
    ngx_uint_t                        inflight;
    ngx_event_t                       timer;
    ngx_connection_t                  timer_conn;
    ngx_http_notify_store_op_t        claim;
    unsigned                          claiming:1;
    unsigned                          active:1;
} ngx_http_notify_deliverer_t;


static ngx_int_t ngx_http_notify_delivery_wanted(
    ngx_http_notify_delivery_conf_t *dc, ngx_str_t *event,
    ngx_str_t *tenant);
static ngx_int_t ngx_http_notify_delivery_prepare(
    ngx_http_notify_delivery_t *dl, ngx_pool_t *pool, uint64_t seq,
    const char *note, size_t note_len, json_t *note_json, ngx_str_t *ids,
    ngx_uint_t nids, u_char *packed_ids, size_t packed_len);
static ngx_int_t ngx_http_notify_delivery_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static void ngx_http_notify_delivery_abandon(void *data);
static void ngx_http_notify_delivery_verdict(ngx_http_notify_delivery_t *dl,
    ngx_uint_t status, u_char *body, size_t len, ngx_str_t *retry_after,
    const char *transport_error, ngx_log_t *log);
static void ngx_http_notify_delivery_stored(ngx_http_notify_store_op_t *op);
static void ngx_http_notify_delivery_tick(ngx_event_t *ev);
static void ngx_http_notify_delivery_claimed(ngx_http_notify_store_op_t *op);
static void ngx_http_notify_delivery_curl_done(
    ngx_http_notify_curl_req_t *req);
static void ngx_http_notify_delivery_arm(ngx_msec_t delay);
static ngx_int_t ngx_http_notify_delivery_subrequest_headers(
    ngx_http_request_t *sr, ngx_http_notify_delivery_t *dl);
static void ngx_http_notify_outbox_done(ngx_http_notify_store_op_t *op);
static ngx_int_t ngx_http_notify_target_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_notify_delivery_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_notify_deliverer_t  ngx_http_notify_deliverer;


static ngx_http_variable_t  ngx_http_notify_delivery_vars[] = {

    { ngx_string("notify_target_url"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, url), 0, 0 },

    { ngx_string("notify_target_authorization"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, authorization), 0, 0 },

    { ngx_string("notify_target_idempotency_key"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, idempotency_key), 0, 0 },

    { ngx_string("notify_target_body"), NULL,
      ngx_http_notify_target_variable,
      offsetof(ngx_http_notify_delivery_t, body), 0, 0 },

    { ngx_string("notify_delivery_status"), NULL,
      ngx_http_notify_delivery_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* configuration */

void
ngx_http_notify_delivery_create_conf(ngx_http_notify_delivery_conf_t *dc)
{
    dc->keep = NGX_CONF_UNSET;
    dc->default_on = NGX_CONF_UNSET;
    dc->concurrency = NGX_CONF_UNSET_UINT;
    dc->timeout = NGX_CONF_UNSET_MSEC;
    dc->retry_min = NGX_CONF_UNSET_MSEC;
    dc->retry_max = NGX_CONF_UNSET_MSEC;
}


char *
ngx_http_notify_delivery_init_conf(ngx_conf_t *cf,
    ngx_http_notify_delivery_conf_t *dc)
{
    ngx_conf_init_value(dc->keep, 7 * 86400);
    ngx_conf_init_value(dc->default_on, 1);
    ngx_conf_init_uint_value(dc->concurrency, 64);
    ngx_conf_init_msec_value(dc->timeout, 10000);
    ngx_conf_init_msec_value(dc->retry_min, 1000);
    ngx_conf_init_msec_value(dc->retry_max, 3600000);

    if (dc->url.len
        && ngx_http_notify_valid_http_url((char *) dc->url.data, dc->url.len)
           != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_push_url\" must be an http or https URL,"
                           " not \"%V\"", &dc->url);
        return NGX_CONF_ERROR;
    }

    if (dc->concurrency == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_delivery_concurrency\" must be at"
                           " least 1");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a plain number is days; nginx time units work too ("90s", "2h") */

char *
ngx_http_notify_push_days_before(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t                         n;
    ngx_str_t                        *value;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = (ngx_http_notify_delivery_conf_t *) (p + cmd->offset);

    if (dc->keep != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n != NGX_ERROR) {
        dc->keep = n * 86400;

    } else {
        n = ngx_parse_time(&value[1], 1);
        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" of"
                               " \"notify_push_days_before\": a number of"
                               " days, or a time like \"90s\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        dc->keep = n;
    }

    if (dc->keep <= 0) {
        return "must be more than 0";
    }

    return NGX_CONF_OK;
}


/* notify_push_type <type> on|off [tenant=<name>] */

char *
ngx_http_notify_push_type(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                        *value;
    ngx_uint_t                        i;
    ngx_http_notify_push_flag_t      *f, *flags;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = (ngx_http_notify_delivery_conf_t *) (p + cmd->offset);

    value = cf->args->elts;

    if (dc->flags == NULL) {
        dc->flags = ngx_array_create(cf->pool, 4,
                                     sizeof(ngx_http_notify_push_flag_t));
        if (dc->flags == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    f = ngx_array_push(dc->flags);
    if (f == NULL) {
        return NGX_CONF_ERROR;
    }

    f->type = value[1];
    ngx_str_null(&f->tenant);

    if (ngx_strcmp(value[2].data, "on") == 0) {
        f->on = 1;

    } else if (ngx_strcmp(value[2].data, "off") == 0) {
        f->on = 0;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"notify_push_type\","
                           " it must be \"on\" or \"off\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        if (ngx_strncmp(value[3].data, "tenant=", 7) != 0
            || value[3].len == 7)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of"
                               " \"notify_push_type\", expected"
                               " \"tenant=<name>\"", &value[3]);
            return NGX_CONF_ERROR;
        }

        f->tenant.data = value[3].data + 7;
        f->tenant.len = value[3].len - 7;
    }

    flags = dc->flags->elts;

    for (i = 0; i + 1 < dc->flags->nelts; i++) {
        if (flags[i].type.len == f->type.len
            && ngx_strncmp(flags[i].type.data, f->type.data, f->type.len) == 0
            && flags[i].tenant.len == f->tenant.len
            && ngx_strncmp(flags[i].tenant.data, f->tenant.data,
                           f->tenant.len) == 0)
        {
            return "is duplicate for this type and tenant";
        }
    }

    return NGX_CONF_OK;
}


/* notify_delivery_retry <first delay> <longest delay> */

char *
ngx_http_notify_delivery_retry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                        *value;
    ngx_msec_t                        min, max;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = (ngx_http_notify_delivery_conf_t *) (p + cmd->offset);

    if (dc->retry_min != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    min = ngx_parse_time(&value[1], 0);
    max = ngx_parse_time(&value[2], 0);

    if (min == (ngx_msec_t) NGX_ERROR || max == (ngx_msec_t) NGX_ERROR
        || min == 0 || max < min)
    {
        return "takes two times, the first more than 0 and not more than"
               " the second";
    }

    dc->retry_min = min;
    dc->retry_max = max;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_notify_delivery_wanted(ngx_http_notify_delivery_conf_t *dc,
    ngx_str_t *event, ngx_str_t *tenant)
{
    ngx_int_t                     global;
    ngx_uint_t                    i;
    ngx_http_notify_push_flag_t  *f;

    if (dc->url.len == 0) {
        return 0;
    }

    global = -1;

    if (dc->flags) {
        f = dc->flags->elts;

        for (i = 0; i < dc->flags->nelts; i++) {
            if (f[i].type.len != event->len
                || ngx_strncmp(f[i].type.data, event->data, event->len) != 0)
            {
                continue;
            }

            if (f[i].tenant.len == 0) {
                global = f[i].on;
                continue;
            }

            /* a tenant's flag wins over the global one */

            if (f[i].tenant.len == tenant->len
                && ngx_strncmp(f[i].tenant.data, tenant->data, tenant->len)
                   == 0)
            {
                return f[i].on;
            }
        }
    }

    return global != -1 ? global : dc->default_on;
}


ngx_int_t
ngx_http_notify_delivery_plan(ngx_http_notify_req_t *nr, ngx_str_t *location)
{
    json_t                       *v;
    ngx_str_t                     event, tenant, loc;
    ngx_http_notify_deliverer_t  *dv;

    dv = &ngx_http_notify_deliverer;

    v = json_object_get(nr->note, "event");
    event.data = (u_char *) json_string_value(v);
    event.len = json_string_length(v);

    v = json_object_get(nr->note, "tenant");
    tenant.data = (u_char *) json_string_value(v);
    tenant.len = json_string_length(v);

    if (event.data == NULL) {
        ngx_str_set(&event, "");
    }

    if (tenant.data == NULL) {
        ngx_str_set(&tenant, "");
    }

    if (!ngx_http_notify_delivery_wanted(dv->conf, &event, &tenant)) {
        return NGX_OK;
    }

    nr->op->has_outbox = 1;
    nr->op->expires = ngx_time() + dv->conf->keep;
    nr->op->due = (uint64_t) ngx_time() * 1000;

    loc = *location;

    /* the first attempt now, through a subrequest, if there is room */

    if (loc.len && dv->inflight < dv->conf->concurrency) {
        nr->op->due += NGX_HTTP_NOTIFY_LEASE;
        nr->deliver_now = 1;
        dv->inflight++;
    }

    return NGX_OK;
}


/* the push: the notification, as stored, with its recipients */

static ngx_int_t
ngx_http_notify_delivery_prepare(ngx_http_notify_delivery_t *dl,
    ngx_pool_t *pool, uint64_t seq, const char *note, size_t note_len,
    json_t *note_json, ngx_str_t *ids, ngx_uint_t nids, u_char *packed_ids,
    size_t packed_len)
{
    char                             *text;
    u_char                           *p, *end, *nul;
    json_t                           *json, *rcpt;
    ngx_uint_t                        i;
    ngx_keyval_t                     *kv;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_deliverer.conf;

    dl->seq = seq;

    if (note_json) {
        json = json_deep_copy(note_json);

    } else {
        json = json_loadb(note, note_len, 0, NULL);
    }

    if (json == NULL || !json_is_object(json)) {
        json_decref(json);
        return NGX_ERROR;
    }

    rcpt = json_array();
    if (rcpt == NULL) {
        json_decref(json);
        return NGX_ERROR;
    }

    for (i = 0; i < nids; i++) {
        json_array_append_new(rcpt, json_stringn((char *) ids[i].data,
                                                 ids[i].len));
    }

    if (packed_ids) {
        p = packed_ids;
        end = p + packed_len;

        while (p < end) {
            nul = ngx_strlchr(p, end, '\0');
            if (nul == NULL) {
                nul = end;
            }

            if (nul > p) {
                json_array_append_new(rcpt, json_stringn((char *) p, nul - p));
            }

            p = nul + 1;
        }
    }

    json_object_set_new(json, "recipients", rcpt);

    text = json_dumps(json, JSON_COMPACT);
    json_decref(json);

    if (text == NULL) {
        return NGX_ERROR;
    }

    dl->body.len = ngx_strlen(text);
    dl->body.data = ngx_pnalloc(pool, dl->body.len + 1);

    if (dl->body.data == NULL) {
        free(text);
        return NGX_ERROR;
    }

    ngx_memcpy(dl->body.data, text, dl->body.len + 1);
    free(text);

    dl->url = dc->url;

    if (dc->jwt.len) {
        dl->authorization = dc->jwt;
    }

    /* the same key for every attempt of this notification */

    dl->idempotency_key.data = ngx_pnalloc(pool, sizeof("notify-") - 1
                                                 + NGX_HTTP_NOTIFY_ID_LEN);
    if (dl->idempotency_key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(dl->idempotency_key.data, "notify-", sizeof("notify-") - 1);
    p = ngx_http_notify_format_id(p, seq);
    dl->idempotency_key.len = p - dl->idempotency_key.data;

    /* the headers, as curl wants them (the subrequest sets its own) */

    if (ngx_array_init(&dl->headers, pool, 5, sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    kv = ngx_array_push_n(&dl->headers, 3);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&kv[0].key, "User-Agent");
    ngx_str_set(&kv[0].value, "DataNotifier");
    ngx_str_set(&kv[1].key, "Content-Type");
    ngx_str_set(&kv[1].value, "application/json");
    ngx_str_set(&kv[2].key, "Idempotency-Key");
    kv[2].value = dl->idempotency_key;

    if (dl->authorization.len) {
        kv = ngx_array_push(&dl->headers);
        if (kv == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(&kv->key, "Authorization");
        kv->value = dl->authorization;
    }

    return NGX_OK;
}


/* the first attempt: a background subrequest, after the commit */

void
ngx_http_notify_delivery_start(ngx_http_notify_req_t *nr, ngx_str_t *location)
{
    ngx_buf_t                     *b;
    ngx_str_t                     *ids, loc;
    ngx_pool_t                    *pool;
    ngx_pool_cleanup_t            *cln;
    ngx_uint_t                     i;
    ngx_http_request_t            *r, *sr;
    ngx_http_notify_ctx_t         *ctx, *sctx;
    ngx_http_notify_user_t       **users;
    ngx_http_request_body_t       *rb;
    ngx_http_notify_delivery_t    *dl;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_notify_deliverer_t   *dv;

    r = nr->request;
    dv = &ngx_http_notify_deliverer;
    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);
    dl = NULL;

    ngx_str_set(&ctx->delivery_status, "queued");

    if (!nr->op->has_outbox || nr->op->duplicate || nr->op->rc != NGX_OK) {
        if (nr->deliver_now) {
            dv->inflight--;
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

    if (!nr->deliver_now) {
        ngx_http_notify_delivery_arm(0);
        return;
    }

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

    cln->handler = ngx_http_notify_delivery_abandon;
    dl->owner = cln->data;
    *dl->owner = dl;

    ids = ngx_palloc(r->pool, (nr->recipients.nelts + 1) * sizeof(ngx_str_t));
    if (ids == NULL) {
        goto failed;
    }

    users = nr->recipients.elts;

    for (i = 0; i < nr->recipients.nelts; i++) {
        ids[i] = users[i]->id;
    }

    if (ngx_http_notify_delivery_prepare(dl, dl->pool, nr->op->seq, NULL, 0,
                                         nr->note, ids, nr->recipients.nelts,
                                         NULL, 0)
        != NGX_OK)
    {
        goto failed;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        goto failed;
    }

    ps->handler = ngx_http_notify_delivery_done;
    ps->data = dl;

    loc = *location;

    if (ngx_http_subrequest(r, &loc, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND
                            |NGX_HTTP_SUBREQUEST_IN_MEMORY)
        != NGX_OK)
    {
        goto failed;
    }

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_ctx_t));
    if (sctx == NULL) {
        goto failed;
    }

    sctx->delivery = dl;
    ngx_http_set_ctx(sr, sctx, ngx_http_notify_module);

    /* POST, our body, our headers: nothing of the caller's request */

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->header_only = 0;

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        goto failed;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        goto failed;
    }

    b->temporary = 1;
    b->start = dl->body.data;
    b->pos = dl->body.data;
    b->last = dl->body.data + dl->body.len;
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

    sr->request_body = rb;

    if (ngx_http_notify_delivery_subrequest_headers(sr, dl) != NGX_OK) {
        goto failed;
    }

    ngx_str_set(&ctx->delivery_status, "pending");

    return;

failed:

    /* the entry is in the outbox: the timer takes it once its lease ends */

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "notify: cannot start the delivery subrequest, the outbox"
                  " retries it");

    if (dl == NULL) {
        dv->inflight--;
    }

    /* else the cleanup of the request gives the attempt up */
}


/*
 * The caller's request is freed: if its subrequest never reported (the
 * connection was torn down), the attempt is given up here, and the outbox
 * retries it once its lease ends.
 */

static void
ngx_http_notify_delivery_abandon(void *data)
{
    ngx_http_notify_delivery_t **link = data;

    if (*link == NULL) {
        return;     /* reported: the store's answer frees it */
    }

    ngx_http_notify_deliverer.inflight--;
    ngx_destroy_pool((*link)->pool);
}


static ngx_int_t
ngx_http_notify_delivery_subrequest_headers(ngx_http_request_t *sr,
    ngx_http_notify_delivery_t *dl)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_keyval_t     *kv;
    ngx_table_elt_t  *h;

    if (ngx_list_init(&sr->headers_in.headers, sr->pool, 8,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_type = NULL;
    sr->headers_in.user_agent = NULL;
    sr->headers_in.authorization = NULL;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.chunked = 0;
    sr->headers_in.content_length_n = dl->body.len;

    kv = dl->headers.elts;

    for (i = 0; i < dl->headers.nelts + 1; i++) {
        h = ngx_list_push(&sr->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        if (i == dl->headers.nelts) {
            ngx_str_set(&h->key, "Content-Length");

            p = ngx_pnalloc(sr->pool, NGX_OFF_T_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            h->value.data = p;
            h->value.len = ngx_sprintf(p, "%uz", dl->body.len) - p;
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
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_delivery_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc)
{
    ngx_http_notify_delivery_t *dl = data;

    u_char           *body;
    size_t            len;
    ngx_str_t         retry;
    ngx_uint_t        status;
    ngx_table_elt_t  *h;

    if (dl->finished) {
        return rc;
    }

    dl->finished = 1;
    ngx_http_notify_deliverer.inflight--;

    /* from here on the attempt is the store's: cut the request's link */

    if (dl->owner) {
        *dl->owner = NULL;
        dl->owner = NULL;
    }

    status = r->headers_out.status;

    if (rc == NGX_ERROR || (rc >= NGX_HTTP_SPECIAL_RESPONSE
                            && r->upstream == NULL))
    {
        status = 0;
    }

    body = NULL;
    len = 0;

    if (r->out && r->out->buf) {
        body = r->out->buf->pos;
        len = r->out->buf->last - r->out->buf->pos;
    }

    h = ngx_http_notify_header(&r->headers_out.headers, "Retry-After");

    if (h != NULL) {
        retry = h->value;

    } else {
        ngx_str_null(&retry);
    }

    ngx_http_notify_delivery_verdict(dl, status, body, len, &retry,
                                     status ? NULL : "no answer",
                                     r->connection->log);

    dl->ctx = NULL;

    /* the subrequest's own output goes nowhere: it is ours */

    return rc;
}


/*
 * Delivered: a 2xx and {"Success": true, "Code": "0" (or 0)}.  Anything
 * else is a failed attempt, retried after a backoff (or Retry-After on a
 * 429 or 503).  The outcome goes to the store; "dl" must live until then.
 */

static void
ngx_http_notify_delivery_verdict(ngx_http_notify_delivery_t *dl,
    ngx_uint_t status, u_char *body, size_t len, ngx_str_t *retry_after,
    const char *transport_error, ngx_log_t *log)
{
    json_t                           *json, *success, *code, *message;
    time_t                            t;
    u_char                           *p, *last;
    uint64_t                          delay, now;
    ngx_int_t                         n;
    ngx_uint_t                        ok, i;
    ngx_http_notify_store_op_t       *op;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_deliverer.conf;
    op = &dl->op;

    ngx_memzero(op, sizeof(ngx_http_notify_store_op_t));

    p = op->error;
    last = op->error + sizeof(op->error) - 1;
    ok = 0;

    if (status == 0) {
        p = ngx_slprintf(p, last, "no answer: %s",
                         transport_error ? transport_error : "unknown");

    } else if (status < 200 || status > 299) {
        p = ngx_slprintf(p, last, "HTTP %ui", status);

    } else {
        json = json_loadb((char *) body, len, 0, NULL);

        success = json_object_get(json, "Success");
        code = json_object_get(json, "Code");
        message = json_object_get(json, "Message");

        if (json == NULL || !json_is_object(json)) {
            p = ngx_slprintf(p, last, "HTTP %ui, unreadable answer", status);

        } else if (json_is_true(success)
                   && ((json_is_string(code)
                        && ngx_strcmp(json_string_value(code), "0") == 0)
                       || (json_is_integer(code)
                           && json_integer_value(code) == 0)))
        {
            ok = 1;

        } else {
            p = ngx_slprintf(p, last, "HTTP %ui, Success %s, Code ",
                             status, json_is_true(success) ? "true" : "false");

            if (json_is_string(code)) {
                p = ngx_slprintf(p, last, "\"%s\"", json_string_value(code));

            } else if (json_is_integer(code)) {
                p = ngx_slprintf(p, last, "%L",
                                 (int64_t) json_integer_value(code));

            } else {
                p = ngx_slprintf(p, last, "none");
            }

            if (json_is_string(message)) {
                p = ngx_slprintf(p, last, ", Message \"%s\"",
                                 json_string_value(message));
            }
        }

        json_decref(json);
    }

    *p = '\0';

    op->seq = dl->seq;
    op->log = ngx_cycle->log;
    op->data = dl;
    op->done = ngx_http_notify_delivery_stored;

    if (ok) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "notify: delivered %016uxL (attempt %uD)",
                      dl->seq, dl->attempts + 1);

        if (dl->ctx) {
            ngx_str_set(&dl->ctx->delivery_status, "delivered");
        }

        op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_DONE;
        ngx_http_notify_store_post(op);
        return;
    }

    /* exponential backoff with jitter: min * 2^attempts, at most max */

    delay = dc->retry_min;

    for (i = 0; i < dl->attempts && delay < dc->retry_max; i++) {
        delay *= 2;
    }

    delay = ngx_min(delay, (uint64_t) dc->retry_max);
    delay = delay * (80 + ngx_random() % 41) / 100;

    if ((status == 429 || status == 503) && retry_after->len) {
        n = ngx_atoi(retry_after->data, retry_after->len);

        if (n == NGX_ERROR) {
            t = ngx_parse_http_time(retry_after->data, retry_after->len);
            n = (t == NGX_ERROR) ? NGX_ERROR : t - ngx_time();
        }

        if (n != NGX_ERROR && n >= 0) {
            delay = (uint64_t) n * 1000;
        }
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "notify: delivery of %016uxL failed (attempt %uD): %s;"
                  " next in %uLms", dl->seq, dl->attempts + 1, op->error,
                  delay);

    if (dl->ctx) {
        ngx_str_set(&dl->ctx->delivery_status, "failed");
    }

    now = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;

    op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY;
    op->due = now + delay;

    ngx_http_notify_store_post(op);
}


static void
ngx_http_notify_delivery_stored(ngx_http_notify_store_op_t *op)
{
    ngx_http_notify_delivery_t *dl = op->data;

    if (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY && op->rc == NGX_OK
        && op->nexpired)
    {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "notify: delivery of %016uxL expired after %ui"
                      " attempts, dropped", dl->seq, op->max);
    }

    ngx_destroy_pool(dl->pool);

    ngx_http_notify_delivery_arm(0);
}


/* the retries: a timer in one process */

ngx_int_t
ngx_http_notify_delivery_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_delivery_conf_t *dc)
{
    ngx_http_notify_deliverer_t  *dv;

    dv = &ngx_http_notify_deliverer;

    ngx_memzero(dv, sizeof(ngx_http_notify_deliverer_t));
    dv->conf = dc;

    if (dc->url.len == 0 || !ngx_http_notify_store_ready()) {
        return NGX_OK;
    }

    if (!((ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0)
          || ngx_process == NGX_PROCESS_SINGLE))
    {
        return NGX_OK;
    }

    if (ngx_http_notify_curl_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    dv->active = 1;
    dv->timer_conn.fd = (ngx_socket_t) -1;
    dv->timer.handler = ngx_http_notify_delivery_tick;
    dv->timer.data = &dv->timer_conn;
    dv->timer.log = cycle->log;
    dv->timer.cancelable = 1;

    ngx_add_timer(&dv->timer, 100);

    return NGX_OK;
}


void
ngx_http_notify_delivery_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_deliverer_t  *dv;

    dv = &ngx_http_notify_deliverer;

    if (!dv->active) {
        return;
    }

    if (dv->timer.timer_set) {
        ngx_del_timer(&dv->timer);
    }

    ngx_http_notify_curl_exit_process(cycle);
    ngx_http_notify_store_claim_free(&dv->claim);
    dv->active = 0;
}


/* look again soon ("delay" msec), unless a look is due sooner */

static void
ngx_http_notify_delivery_arm(ngx_msec_t delay)
{
    ngx_http_notify_deliverer_t  *dv;

    dv = &ngx_http_notify_deliverer;

    if (!dv->active || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (dv->timer.timer_set) {
        if (dv->timer.timer.key <= ngx_current_msec + delay) {
            return;
        }

        ngx_del_timer(&dv->timer);
    }

    ngx_add_timer(&dv->timer, delay);
}


static void
ngx_http_notify_delivery_tick(ngx_event_t *ev)
{
    uint64_t                      due, now;
    ngx_http_notify_deliverer_t  *dv;
    ngx_http_notify_store_op_t   *op;

    dv = &ngx_http_notify_deliverer;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (dv->claiming || dv->inflight >= dv->conf->concurrency) {
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    /* a look without writing: is anything due? */

    if (ngx_http_notify_store_next_due(&due, ev->log) != NGX_OK) {
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    now = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;

    if (due == 0 || due > now) {
        ngx_http_notify_delivery_arm(due ? ngx_min(due - now, 1000) : 1000);
        return;
    }

    op = &dv->claim;
    ngx_http_notify_store_claim_free(op);
    ngx_memzero(op, sizeof(ngx_http_notify_store_op_t));

    op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM;
    op->max = dv->conf->concurrency - dv->inflight;
    op->due = dv->conf->timeout + 5000;     /* the lease of an attempt */
    op->done = ngx_http_notify_delivery_claimed;
    op->log = ev->log;

    dv->claiming = 1;

    ngx_http_notify_store_post(op);
}


static void
ngx_http_notify_delivery_claimed(ngx_http_notify_store_op_t *op)
{
    ngx_uint_t                    i;
    ngx_pool_t                   *pool;
    ngx_http_notify_claim_t      *cl;
    ngx_http_notify_delivery_t   *dl;
    ngx_http_notify_deliverer_t  *dv;

    dv = &ngx_http_notify_deliverer;
    dv->claiming = 0;

    if (op->rc != NGX_OK) {
        ngx_http_notify_store_claim_free(op);
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    for (i = 0; i < op->nexpired; i++) {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "notify: delivery of %016uxL expired, dropped",
                      op->expired[i]);
    }

    for (i = 0; i < op->nclaimed; i++) {
        cl = &op->claimed[i];

        pool = ngx_create_pool(2048, ngx_cycle->log);
        if (pool == NULL) {
            break;
        }

        dl = ngx_pcalloc(pool, sizeof(ngx_http_notify_delivery_t));
        if (dl == NULL) {
            ngx_destroy_pool(pool);
            break;
        }

        dl->pool = pool;
        dl->attempts = cl->attempts;

        if (cl->note == NULL
            || ngx_http_notify_delivery_prepare(dl, pool, cl->seq, cl->note,
                                                cl->note_len, NULL, NULL, 0,
                                                cl->recipients,
                                                cl->recipients_len)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, op->log, 0,
                          "notify: the outbox entry %016uxL has no readable"
                          " notification, dropped", cl->seq);

            dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_DROP;
            dl->op.seq = cl->seq;
            dl->op.data = dl;
            dl->op.log = ngx_cycle->log;
            dl->op.done = ngx_http_notify_delivery_stored;
            ngx_http_notify_store_post(&dl->op);
            continue;
        }

        dl->curl.url = dl->url;
        dl->curl.body = dl->body;
        dl->curl.headers = &dl->headers;
        dl->curl.timeout = dv->conf->timeout;
        dl->curl.done = ngx_http_notify_delivery_curl_done;
        dl->curl.data = dl;
        dl->curl.log = ngx_cycle->log;

        if (ngx_http_notify_curl_send(&dl->curl) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, op->log, 0,
                          "notify: cannot start a delivery of %016uxL",
                          cl->seq);
            ngx_destroy_pool(pool);
            continue;
        }

        dv->inflight++;
    }

    ngx_http_notify_store_claim_free(op);

    /* more may be due: look again soon while there is room */

    ngx_http_notify_delivery_arm(op->nclaimed == op->max ? 10 : 500);
}


static void
ngx_http_notify_delivery_curl_done(ngx_http_notify_curl_req_t *req)
{
    ngx_http_notify_delivery_t *dl = req->data;

    ngx_http_notify_deliverer.inflight--;

    ngx_http_notify_delivery_verdict(dl, req->status, req->response.data,
                                     req->response.len, &req->retry_after,
                                     req->error, ngx_cycle->log);
}


/* variables */

ngx_int_t
ngx_http_notify_delivery_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_notify_delivery_vars; v->name.len; v++) {
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


/*
 * notify_outbox: the pending deliveries.
 *
 *   GET    <prefix>                {"items": [...]}
 *   POST   <prefix>/<id>/retry     try it now
 *   DELETE <prefix>/<id>           drop it
 */

ngx_int_t
ngx_http_notify_outbox_handler(ngx_http_request_t *r, ngx_str_t *prefix)
{
    u_char                      *last, *slash;
    json_t                      *items, *json;
    ngx_int_t                    rc;
    ngx_str_t                    rest, id;
    ngx_http_notify_delivery_t  *dl;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!ngx_http_notify_store_ready()) {
        return ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "ServiceUnavailable",
                                            "The store is not available.");
    }

    rest.data = r->uri.data + prefix->len;
    rest.len = r->uri.len - prefix->len;

    if (rest.len && rest.data[rest.len - 1] == '/') {
        rest.len--;
    }

    if (rest.len == 0) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        items = json_array();
        if (items == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_notify_store_outbox(items, 1000, r->connection->log)
            != NGX_OK)
        {
            json_decref(items);
            return ngx_http_notify_send_error(r,
                                                NGX_HTTP_SERVICE_UNAVAILABLE,
                                                "ServiceUnavailable",
                                                "The outbox could not be"
                                                " read.");
        }

        json = json_pack("{s:o}", "items", items);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
        json_decref(json);

        return rc;
    }

    /* /<id> or /<id>/retry */

    last = rest.data + rest.len;
    id.data = rest.data + 1;
    slash = ngx_strlchr(id.data, last, '/');
    id.len = (slash ? slash : last) - id.data;

    dl = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_delivery_t));
    if (dl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rest.data[0] != '/'
        || ngx_http_notify_parse_id(&id, &dl->op.seq) != NGX_OK
        || (slash && !(last - slash == 6
                       && ngx_strncmp(slash, "/retry", 6) == 0)))
    {
        return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                            "There is no such resource.");
    }

    if (slash) {
        if (r->method != NGX_HTTP_POST) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_NOW;

    } else {
        if (r->method != NGX_HTTP_DELETE) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_DROP;
    }

    dl->op.data = r;
    dl->op.log = r->connection->log;
    dl->op.done = ngx_http_notify_outbox_done;

    r->main->count++;

    ngx_http_notify_store_post(&dl->op);

    return NGX_DONE;
}


static void
ngx_http_notify_outbox_done(ngx_http_notify_store_op_t *op)
{
    json_t              *json;
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    u_char               id[NGX_HTTP_NOTIFY_ID_LEN];

    r = op->data;

    if (op->rc == NGX_ERROR) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "ServiceUnavailable",
                                          "The outbox could not be"
                                          " updated.");

    } else if (op->rc == NGX_DECLINED) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                          "There is no such pending"
                                          " delivery.");

    } else {
        (void) ngx_http_notify_format_id(id, op->seq);

        json = json_pack("{s:s%, s:s}", "id", (char *) id,
                         (size_t) NGX_HTTP_NOTIFY_ID_LEN,
                         "state", op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_NOW
                                  ? "retrying" : "dropped");
        if (json == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
            json_decref(json);
        }

        if (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_NOW) {
            ngx_http_notify_delivery_arm(0);
        }
    }

    ngx_http_finalize_request(r, rc);
}

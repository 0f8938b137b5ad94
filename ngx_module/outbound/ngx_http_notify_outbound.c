
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * Outbound: what goes out, and until when.  Every accepted notification
 * whose type is on is put in the outbox in the transaction that accepts
 * it, with the time it expires (notify_push_days_before).  Its first
 * attempt is a background subrequest (ngx_http_notify_subrequest.c) when
 * there is room; what fails is retried by the scheduler
 * (ngx_http_notify_scheduler.c).  Both paths send the same request: the
 * one the target's dialect renders (its outbound half) from the
 * notification and its recipients, made here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_oauth2.h"


typedef struct {
    ngx_http_notify_delivery_conf_t  *conf;
    ngx_uint_t                        inflight;   /* places taken */
} ngx_http_notify_outbound_t;


static ngx_int_t ngx_http_notify_outbound_wanted(
    ngx_http_notify_delivery_conf_t *dc, ngx_str_t *event,
    ngx_str_t *tenant);
static ngx_int_t ngx_http_notify_outbound_recipients(ngx_pool_t *pool,
    ngx_http_notify_note_t *nt, ngx_str_t *ids, ngx_uint_t nids,
    u_char *packed_ids, size_t packed_len);


static ngx_http_notify_outbound_t  ngx_http_notify_outbound;


/* configuration */

void
ngx_http_notify_delivery_create_conf(ngx_http_notify_delivery_conf_t *dc)
{
    dc->keep = NGX_CONF_UNSET;
    dc->default_on = NGX_CONF_UNSET;
    dc->concurrency = NGX_CONF_UNSET_UINT;
    dc->timeout = NGX_CONF_UNSET_MSEC;
    dc->first_timeout = NGX_CONF_UNSET_MSEC;
    ngx_http_notify_breaker_create_conf(&dc->breaker);
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
    ngx_conf_init_msec_value(dc->first_timeout, 500);
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

    if (dc->first_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_delivery_first_timeout\" must be more"
                           " than 0");
        return NGX_CONF_ERROR;
    }

    if (dc->concurrency == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_delivery_concurrency\" must be at"
                           " least 1");
        return NGX_CONF_ERROR;
    }

    /*
     * the one target today: the push contract at notify_push_url (its
     * dialect is set by the caller, which knows the registry)
     */

    ngx_str_set(&dc->target.name, "push");
    dc->target.url = dc->url;
    dc->target.credential = dc->jwt;
    dc->target.delivery = dc;

    if (dc->url.len == 0 && dc->targets == NULL) {
        dc->breaker.failures = 0;
        return NGX_CONF_OK;
    }

    if (ngx_http_notify_breaker_init_conf(cf, &dc->breaker) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_notify_targets_init_conf(cf, dc) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * Until routes: without notify_push_url, the first notify_target is
     * the target every notification goes to.
     */

    if (dc->url.len == 0) {
        dc->target = *(ngx_http_notify_target_t *) dc->targets->elts;
        dc->url = dc->target.url;
        dc->target.index = 0;
    }

    return NGX_CONF_OK;
}


/*
 * notify_push_days_before: how long an entry is tried before it expires;
 * a plain number is days, nginx time units work too ("90s", "2h")
 */

char *
ngx_http_notify_outbound_expiry(ngx_conf_t *cf, ngx_command_t *cmd,
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
ngx_http_notify_outbound_type(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                        *value;
    ngx_uint_t                        i;
    ngx_http_notify_outbound_flag_t  *f, *flags;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = (ngx_http_notify_delivery_conf_t *) (p + cmd->offset);

    value = cf->args->elts;

    if (dc->flags == NULL) {
        dc->flags = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_notify_outbound_flag_t));
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




/* notify_push_type and notify_push_default: is this type pushed? */

static ngx_int_t
ngx_http_notify_outbound_wanted(ngx_http_notify_delivery_conf_t *dc,
    ngx_str_t *event, ngx_str_t *tenant)
{
    ngx_int_t                         global;
    ngx_uint_t                        i;
    ngx_http_notify_outbound_flag_t  *f;

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


/* the worker's delivery state */

void
ngx_http_notify_outbound_init(ngx_http_notify_delivery_conf_t *dc)
{
    ngx_http_notify_outbound.conf = dc;
    ngx_http_notify_outbound.inflight = 0;

    ngx_http_notify_breaker_init_process(&dc->breaker);
}


ngx_http_notify_delivery_conf_t *
ngx_http_notify_outbound_conf(void)
{
    return ngx_http_notify_outbound.conf;
}


ngx_uint_t
ngx_http_notify_outbound_places(void)
{
    ngx_http_notify_outbound_t  *ob;

    ob = &ngx_http_notify_outbound;

    return ob->inflight < ob->conf->concurrency
           ? ob->conf->concurrency - ob->inflight : 0;
}


ngx_int_t
ngx_http_notify_outbound_reserve(void)
{
    if (ngx_http_notify_outbound_places() == 0) {
        return NGX_DECLINED;
    }

    ngx_http_notify_outbound.inflight++;

    return NGX_OK;
}


void
ngx_http_notify_outbound_release(void)
{
    ngx_http_notify_outbound.inflight--;
}


ngx_int_t
ngx_http_notify_delivery_plan(ngx_http_notify_req_t *nr, ngx_str_t *location)
{
    json_t                           *v;
    ngx_str_t                         event, tenant;
    ngx_msec_t                        wait;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_outbound.conf;

    v = nr->note.event;
    event.data = (u_char *) json_string_value(v);
    event.len = json_string_length(v);

    tenant = nr->note.tenant;

    if (event.data == NULL) {
        ngx_str_set(&event, "");
    }

    if (tenant.data == NULL) {
        ngx_str_set(&tenant, "");
    }

    if (!ngx_http_notify_outbound_wanted(dc, &event, &tenant)) {
        return NGX_OK;
    }

    nr->op->has_outbox = 1;
    nr->op->expires = ngx_time() + dc->keep;
    nr->op->due = (uint64_t) ngx_time() * 1000;

    /*
     * the first attempt now, through a subrequest, if there is room, the
     * target's breaker is closed (open, the timer probes it) and, for a
     * target with OAuth2, a token is in the cache (none: the timer fetches
     * one and makes the attempt)
     */

    if (location->len
        && ngx_http_notify_breaker_closed(0)
        && ngx_http_notify_oauth2_ready(&dc->target)
        && ngx_http_notify_outbound_reserve() == NGX_OK)
    {
        if (ngx_http_notify_rate_take(0, 1, &wait) == 0) {
            ngx_http_notify_outbound_release();     /* the timer's */
            return NGX_OK;
        }

        nr->op->due += NGX_HTTP_NOTIFY_LEASE;
        nr->deliver_now = 1;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_notify_outbound_prepare(ngx_http_notify_delivery_t *dl,
    uint64_t seq, const char *note, size_t note_len, json_t *note_json,
    ngx_str_t *ids, ngx_uint_t nids, u_char *packed_ids, size_t packed_len)
{
    u_char                           *p;
    json_t                           *json;
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_keyval_t                     *kv;
    ngx_http_notify_note_t            nt;
    ngx_http_notify_target_t         *target;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_outbound.conf;
    target = &dc->target;

    if (target->dialect->render == NULL) {
        return NGX_ERROR;
    }

    dl->seq = seq;
    dl->target = target;
    dl->request.pool = dl->pool;
    dl->request.authorization = target->credential;

    if (target->oauth2) {
        rc = ngx_http_notify_oauth2_authorization(target, dl->pool,
                                                  &dl->request.authorization,
                                                  &dl->token);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* the same key for every attempt of this notification */

    dl->request.idempotency_key.data = ngx_pnalloc(dl->pool,
                                                   sizeof("notify-") - 1
                                                   + NGX_HTTP_NOTIFY_ID_LEN);
    if (dl->request.idempotency_key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(dl->request.idempotency_key.data, "notify-",
                   sizeof("notify-") - 1);
    p = ngx_http_notify_format_id(p, seq);
    dl->request.idempotency_key.len = p - dl->request.idempotency_key.data;

    /* the canonical notification, as stored, with its recipients */

    json = note_json ? json_incref(note_json)
                     : json_loadb(note, note_len, 0, NULL);

    if (json == NULL || ngx_http_notify_note_load(&nt, json) != NGX_OK) {
        json_decref(json);
        return NGX_ERROR;
    }

    rc = ngx_http_notify_outbound_recipients(dl->pool, &nt, ids, nids,
                                             packed_ids, packed_len);
    if (rc == NGX_OK) {
        rc = target->dialect->render(target, &nt, &dl->request);
    }

    ngx_http_notify_note_free(&nt);
    json_decref(json);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* $notify_target_authorization */

    kv = dl->request.headers.elts;

    for (i = 0; i < dl->request.headers.nelts; i++) {
        if (kv[i].key.len == sizeof("Authorization") - 1
            && ngx_strncasecmp(kv[i].key.data, (u_char *) "Authorization",
                               sizeof("Authorization") - 1)
               == 0)
        {
            dl->authorization = kv[i].value;
            break;
        }
    }

    return NGX_OK;
}


/*
 * The user ids the notification went to: given (the first attempt), or
 * NUL-separated as the outbox keeps them (a retry).
 */

static ngx_int_t
ngx_http_notify_outbound_recipients(ngx_pool_t *pool,
    ngx_http_notify_note_t *nt, ngx_str_t *ids, ngx_uint_t nids,
    u_char *packed_ids, size_t packed_len)
{
    u_char      *p, *end, *nul;
    ngx_str_t   *id;
    ngx_uint_t   n;

    if (packed_ids == NULL) {
        nt->recipients = ids;
        nt->nrecipients = nids;
        return NGX_OK;
    }

    end = packed_ids + packed_len;
    n = 0;

    for (p = packed_ids; p < end; p++) {
        n += (*p == '\0');
    }

    id = ngx_palloc(pool, (n + 1) * sizeof(ngx_str_t));
    if (id == NULL) {
        return NGX_ERROR;
    }

    nt->recipients = id;
    nt->nrecipients = 0;

    for (p = packed_ids; p < end; p = nul + 1) {
        nul = ngx_strlchr(p, end, '\0');
        if (nul == NULL) {
            nul = end;
        }

        if (nul > p) {
            id->data = p;
            id->len = nul - p;
            id++;
            nt->nrecipients++;
        }
    }

    return NGX_OK;
}


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
    ngx_uint_t                        inflight[NGX_HTTP_NOTIFY_BREAKER_TARGETS];
                                                  /* places taken, a
                                                     target */
    ngx_uint_t                        slot[NGX_HTTP_NOTIFY_BREAKER_TARGETS];
                                                  /* its breaker's */
} ngx_http_notify_outbound_t;


static ngx_int_t ngx_http_notify_outbound_wanted(
    ngx_http_notify_delivery_conf_t *dc, ngx_str_t *event,
    ngx_str_t *tenant);
static ngx_int_t ngx_http_notify_outbound_routed(
    ngx_http_notify_delivery_conf_t *dc, ngx_http_notify_target_t *t,
    ngx_str_t *dialect, ngx_str_t *event, ngx_str_t *tenant);
static char *ngx_http_notify_outbound_list(ngx_conf_t *cf,
    ngx_http_notify_delivery_conf_t *dc);
static ngx_uint_t ngx_http_notify_str_eq(ngx_str_t *a, ngx_str_t *b);
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
     * the push target: the push contract at notify_push_url (its dialect
     * is set by the caller, which knows the registry)
     */

    ngx_str_set(&dc->target.name, "push");
    dc->target.url = dc->url;
    dc->target.credential = dc->jwt;
    dc->target.delivery = dc;

    if (dc->url.len == 0 && dc->targets == NULL) {
        dc->breaker.failures = 0;

        if (dc->routes) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"notify_route\" needs a target:"
                               " \"notify_push_url\" or \"notify_target\"");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_http_notify_breaker_init_conf(cf, &dc->breaker) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_notify_targets_init_conf(cf, dc) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_notify_outbound_list(cf, dc);
}


/*
 * Every target, "push" (notify_push_url) first, each with its index; and
 * the routes' targets, by name
 */

static char *
ngx_http_notify_outbound_list(ngx_conf_t *cf,
    ngx_http_notify_delivery_conf_t *dc)
{
    ngx_uint_t                  i, j;
    ngx_http_notify_route_t    *rt;
    ngx_http_notify_target_t   *t, **tp;

    if (ngx_array_init(&dc->all, cf->pool, 4,
                       sizeof(ngx_http_notify_target_t *))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (dc->url.len) {
        tp = ngx_array_push(&dc->all);
        if (tp == NULL) {
            return NGX_CONF_ERROR;
        }

        *tp = &dc->target;
    }

    if (dc->targets) {
        t = dc->targets->elts;

        for (i = 0; i < dc->targets->nelts; i++) {
            tp = ngx_array_push(&dc->all);
            if (tp == NULL) {
                return NGX_CONF_ERROR;
            }

            *tp = &t[i];
        }
    }

    if (dc->all.nelts > NGX_HTTP_NOTIFY_BREAKER_TARGETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "at most %d targets (\"notify_target\" and"
                           " \"notify_push_url\")",
                           NGX_HTTP_NOTIFY_BREAKER_TARGETS);
        return NGX_CONF_ERROR;
    }

    tp = dc->all.elts;

    for (i = 0; i < dc->all.nelts; i++) {
        tp[i]->index = i;
    }

    if (dc->routes == NULL) {
        return NGX_CONF_OK;
    }

    rt = dc->routes->elts;

    for (i = 0; i < dc->routes->nelts; i++) {

        for (j = 0; j < dc->all.nelts; j++) {
            if (ngx_http_notify_str_eq(&tp[j]->name, &rt[i].name)) {
                rt[i].target = tp[j];
                break;
            }
        }

        if (rt[i].target == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"notify_route\" names the unknown target"
                               " \"%V\"", &rt[i].name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_http_notify_str_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_strncmp(a->data, b->data, a->len) == 0;
}


/* notify_route target [dialect=name] [event=type] [tenant=name] [off] */

char *
ngx_http_notify_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                        *value, *field;
    ngx_uint_t                        i;
    ngx_http_notify_route_t          *rt;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = (ngx_http_notify_delivery_conf_t *) (p + cmd->offset);
    value = cf->args->elts;

    if (dc->routes == NULL) {
        dc->routes = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_notify_route_t));
        if (dc->routes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rt = ngx_array_push(dc->routes);
    if (rt == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rt, sizeof(ngx_http_notify_route_t));
    rt->name = value[1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (value[i].len == sizeof("off") - 1
            && ngx_strncmp(value[i].data, "off", sizeof("off") - 1) == 0)
        {
            if (rt->off) {
                return "has \"off\" twice";
            }

            rt->off = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "dialect=", 8) == 0) {
            field = &rt->dialect;
            value[i].data += 8;
            value[i].len -= 8;

        } else if (ngx_strncmp(value[i].data, "event=", 6) == 0) {
            field = &rt->event;
            value[i].data += 6;
            value[i].len -= 6;

        } else if (ngx_strncmp(value[i].data, "tenant=", 7) == 0) {
            field = &rt->tenant;
            value[i].data += 7;
            value[i].len -= 7;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of \"notify_route\","
                               " expected \"dialect=\", \"event=\","
                               " \"tenant=\" or \"off\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (field->data || value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"notify_route\" for \"%V\": each condition"
                               " once, with a value", &rt->name);
            return NGX_CONF_ERROR;
        }

        *field = value[i];
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


/*
 * notify_route: the first route naming the target that matches decides;
 * none matches, it gets nothing; no route names it, it gets everything.
 * The push target of notify_push_url then asks notify_push_type too.
 */

static ngx_int_t
ngx_http_notify_outbound_routed(ngx_http_notify_delivery_conf_t *dc,
    ngx_http_notify_target_t *t, ngx_str_t *dialect, ngx_str_t *event,
    ngx_str_t *tenant)
{
    ngx_uint_t                i, named;
    ngx_http_notify_route_t  *rt;

    named = 0;

    if (dc->routes) {
        rt = dc->routes->elts;

        for (i = 0; i < dc->routes->nelts; i++) {
            if (rt[i].target != t) {
                continue;
            }

            named = 1;

            if ((rt[i].dialect.len == 0
                 || ngx_http_notify_str_eq(&rt[i].dialect, dialect))
                && (rt[i].event.len == 0
                    || ngx_http_notify_str_eq(&rt[i].event, event))
                && (rt[i].tenant.len == 0
                    || ngx_http_notify_str_eq(&rt[i].tenant, tenant)))
            {
                if (rt[i].off) {
                    return 0;
                }

                break;
            }
        }

        if (named && i == dc->routes->nelts) {
            return 0;
        }
    }

    if (t == &dc->target) {
        return ngx_http_notify_outbound_wanted(dc, event, tenant);
    }

    return 1;
}


/* the worker's delivery state */

void
ngx_http_notify_outbound_init(ngx_http_notify_delivery_conf_t *dc)
{
    ngx_uint_t                        i;
    ngx_http_notify_target_t        **tp;
    ngx_http_notify_delivery_conf_t  *tdc;
    ngx_str_t                        *live[NGX_HTTP_NOTIFY_BREAKER_TARGETS];

    ngx_memzero(&ngx_http_notify_outbound,
                sizeof(ngx_http_notify_outbound_t));

    ngx_http_notify_outbound.conf = dc;

    ngx_http_notify_breaker_init_process(&dc->breaker);

    tp = dc->all.elts;

    for (i = 0; i < dc->all.nelts; i++) {
        live[i] = &tp[i]->name;
    }

    for (i = 0; i < dc->all.nelts; i++) {
        tdc = tp[i]->delivery;
        ngx_http_notify_outbound.slot[i] =
            ngx_http_notify_breaker_attach(&tp[i]->name, &tdc->breaker, live,
                                           dc->all.nelts);
    }
}


/* a target of this cycle by its name, or NULL (gone since a reload) */

ngx_http_notify_target_t *
ngx_http_notify_outbound_target(ngx_str_t *name)
{
    ngx_uint_t                        i;
    ngx_http_notify_target_t        **tp;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_outbound.conf;
    tp = dc->all.elts;

    for (i = 0; i < dc->all.nelts; i++) {
        if (ngx_http_notify_str_eq(&tp[i]->name, name)) {
            return tp[i];
        }
    }

    return NULL;
}


ngx_uint_t
ngx_http_notify_outbound_slot(ngx_http_notify_target_t *t)
{
    return ngx_http_notify_outbound.slot[t->index];
}


ngx_http_notify_delivery_conf_t *
ngx_http_notify_outbound_conf(void)
{
    return ngx_http_notify_outbound.conf;
}


ngx_uint_t
ngx_http_notify_outbound_places(ngx_http_notify_target_t *t)
{
    ngx_uint_t                        n;
    ngx_http_notify_delivery_conf_t  *tdc;

    tdc = t->delivery;
    n = ngx_http_notify_outbound.inflight[t->index];

    return n < tdc->concurrency ? tdc->concurrency - n : 0;
}


ngx_int_t
ngx_http_notify_outbound_reserve(ngx_http_notify_target_t *t)
{
    if (ngx_http_notify_outbound_places(t) == 0) {
        return NGX_DECLINED;
    }

    ngx_http_notify_outbound.inflight[t->index]++;

    return NGX_OK;
}


void
ngx_http_notify_outbound_release(ngx_http_notify_target_t *t)
{
    ngx_http_notify_outbound.inflight[t->index]--;
}


ngx_int_t
ngx_http_notify_delivery_plan(ngx_http_notify_req_t *nr, ngx_str_t *location)
{
    json_t                           *v;
    uint64_t                          due;
    ngx_str_t                         event, tenant, dialect;
    ngx_uint_t                        i, n, max, parts, part, nids;
    ngx_msec_t                        wait;
    ngx_http_notify_target_t        **tp, *t;
    ngx_http_notify_outbox_put_t     *oe;
    ngx_http_notify_delivery_conf_t  *dc, *tdc;

    dc = ngx_http_notify_outbound.conf;

    if (dc->all.nelts == 0) {
        return NGX_OK;
    }

    v = nr->note.event;
    event.data = (u_char *) json_string_value(v);
    event.len = json_string_length(v);
    tenant = nr->note.tenant;
    dialect = nr->dialect->name;

    if (event.data == NULL) {
        ngx_str_set(&event, "");
    }

    if (tenant.data == NULL) {
        ngx_str_set(&tenant, "");
    }

    /* the entries: one a routed target, or a part of it */

    nids = nr->recipients.nelts;
    tp = dc->all.elts;
    n = 0;

    for (i = 0; i < dc->all.nelts; i++) {
        if (!ngx_http_notify_outbound_routed(dc, tp[i], &dialect, &event,
                                             &tenant))
        {
            continue;
        }

        max = tp[i]->dialect->max_recipients;
        n += (max && nids > max) ? (nids + max - 1) / max : 1;
    }

    if (n == 0) {
        return NGX_OK;
    }

    oe = ngx_pcalloc(nr->request->pool,
                     n * sizeof(ngx_http_notify_outbox_put_t));
    if (oe == NULL) {
        return NGX_ERROR;
    }

    nr->op->entries = oe;
    nr->op->nentries = n;
    nr->op->has_outbox = 1;

    due = (uint64_t) ngx_time() * 1000;

    for (i = 0; i < dc->all.nelts; i++) {
        t = tp[i];

        if (!ngx_http_notify_outbound_routed(dc, t, &dialect, &event,
                                             &tenant))
        {
            continue;
        }

        tdc = t->delivery;
        max = t->dialect->max_recipients;
        parts = (max && nids > max) ? (nids + max - 1) / max : 1;

        for (part = 0; part < parts; part++) {
            oe->target = t->name;
            oe->part = (parts == 1) ? 0 : part + 1;
            oe->first = (parts == 1) ? 0 : part * max;
            oe->n = (parts == 1) ? nids : ngx_min(max, nids - oe->first);
            oe->expires = ngx_time() + tdc->keep;
            oe->due = due;

            /*
             * the first attempt now, through a subrequest, if the target
             * has room and its breaker is closed (open, the timer probes
             * it) and its rate allows and, for a target with OAuth2, a
             * token is in the cache (none: the timer fetches one and makes
             * the attempt)
             */

            if (location->len
                && ngx_http_notify_breaker_first(
                                         ngx_http_notify_outbound_slot(t))
                && ngx_http_notify_oauth2_ready(t)
                && ngx_http_notify_outbound_reserve(t) == NGX_OK)
            {
                if (ngx_http_notify_rate_take(
                        ngx_http_notify_outbound_slot(t), 1, &wait)
                    == 0)
                {
                    ngx_http_notify_outbound_release(t);  /* the timer's */

                } else {
                    oe->due += NGX_HTTP_NOTIFY_LEASE;
                    oe->data = t;
                    nr->deliver_now = 1;
                }
            }

            oe++;
        }
    }

    return NGX_OK;
}


/* the places of the first attempts planned are given back */

void
ngx_http_notify_delivery_unplan(ngx_http_notify_req_t *nr)
{
    ngx_uint_t                     i;
    ngx_http_notify_outbox_put_t  *oe;

    oe = nr->op->entries;

    for (i = 0; i < nr->op->nentries; i++) {
        if (oe[i].data) {
            ngx_http_notify_outbound_release(oe[i].data);
            oe[i].data = NULL;
        }
    }

    nr->deliver_now = 0;
}


void
ngx_http_notify_delivery_unhold(ngx_http_notify_outbox_put_t *oe)
{
    ngx_http_notify_target_t  *t;

    t = oe->data;

    if (t == NULL) {
        return;
    }

    ngx_http_notify_outbound_release(t);
    ngx_http_notify_rate_give_back(ngx_http_notify_outbound_slot(t), 1);

    oe->data = NULL;
}


ngx_int_t
ngx_http_notify_outbound_prepare(ngx_http_notify_delivery_t *dl,
    ngx_http_notify_target_t *target, uint64_t seq, uint32_t entry,
    uint32_t part, const char *note, size_t note_len,
    ngx_http_notify_note_t *given, ngx_str_t *ids, ngx_uint_t nids,
    u_char *packed_ids, size_t packed_len)
{
    u_char          *p;
    json_t          *json;
    ngx_int_t        rc;
    ngx_uint_t       i;
    ngx_keyval_t    *kv;
    ngx_http_notify_note_t  nt;
    u_char                  id[NGX_HTTP_NOTIFY_ID_LEN];

    if (target->dialect->render == NULL) {
        return NGX_ERROR;
    }

    dl->seq = seq;
    dl->entry = entry;
    dl->part = part;
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

    /*
     * the same key for every attempt of this entry: notify-<id>, and
     * notify-<id>-<part> for a part of the recipients
     */

    dl->request.idempotency_key.data = ngx_pnalloc(dl->pool,
                                                   sizeof("notify-") - 1
                                                   + NGX_HTTP_NOTIFY_ID_LEN
                                                   + 1 + NGX_INT32_LEN);
    if (dl->request.idempotency_key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(dl->request.idempotency_key.data, "notify-",
                   sizeof("notify-") - 1);
    p = ngx_http_notify_format_id(p, seq);

    if (part) {
        p = ngx_sprintf(p, "-%uD", part);
    }

    dl->request.idempotency_key.len = p - dl->request.idempotency_key.data;

    /*
     * The canonical notification with its recipients: the caller's own
     * (the first attempt: the struct its stored text was written from,
     * with its id), else the stored text read back
     */

    json = NULL;

    if (given) {
        nt = *given;
        nt.id.data = id;
        nt.id.len = ngx_http_notify_format_id(id, seq) - id;

    } else {
        json = json_loadb(note, note_len, 0, NULL);

        if (json == NULL || ngx_http_notify_note_load(&nt, json) != NGX_OK) {
            json_decref(json);
            return NGX_ERROR;
        }
    }

    rc = ngx_http_notify_outbound_recipients(dl->pool, &nt, ids, nids,
                                             packed_ids, packed_len);

    if (rc == NGX_OK) {
        rc = target->dialect->render(target, &nt, &dl->request);
    }

    if (json) {
        ngx_http_notify_note_free(&nt);
        json_decref(json);
    }

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

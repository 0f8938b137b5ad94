
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The counters of notify_metrics and their exposition in Prometheus' text
 * format 0.0.4.
 *
 * They live in one shared memory zone, a fixed layout of ngx_atomic_t made
 * once: every worker adds to them with ngx_atomic_fetch_add(), which takes
 * no lock and allocates nothing, and the store's committing thread does
 * too.  A scrape reads each counter on its own, so that two counters read
 * at one scrape may be a few requests apart, which Prometheus' counters
 * allow; a histogram's count is the sum of its buckets, as read.  A reload
 * makes the zone again with the same name and size, and nginx hands the
 * old one over: the counts go on.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_metrics.h"


/* the statuses counted as they are; any other by its class */
static ngx_uint_t  ngx_http_notify_metrics_codes[] = {
    200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 406, 408,
    409, 411, 413, 414, 415, 422, 429, 499, 500, 502, 503, 504
};

#define NGX_HTTP_NOTIFY_METRICS_NCODES                                        \
    (sizeof(ngx_http_notify_metrics_codes) / sizeof(ngx_uint_t))

/* the codes, then "1xx" to "5xx", then "other" */
#define NGX_HTTP_NOTIFY_METRICS_STATUSES  (NGX_HTTP_NOTIFY_METRICS_NCODES + 6)


/* operations in one commit */
static ngx_uint_t  ngx_http_notify_metrics_batch[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024
};

/* a commit's time, microseconds (printed as seconds) */
static ngx_uint_t  ngx_http_notify_metrics_usec[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000
};

#define NGX_HTTP_NOTIFY_METRICS_NBATCH                                        \
    (sizeof(ngx_http_notify_metrics_batch) / sizeof(ngx_uint_t))
#define NGX_HTTP_NOTIFY_METRICS_NUSEC                                         \
    (sizeof(ngx_http_notify_metrics_usec) / sizeof(ngx_uint_t))


/* the zone's layout: the last bucket of a histogram is +Inf */
typedef struct {
    ngx_atomic_t    inbound[NGX_HTTP_NOTIFY_METRICS_DIALECTS]
                           [NGX_HTTP_NOTIFY_METRICS_STATUSES];
    ngx_atomic_t    batch[NGX_HTTP_NOTIFY_METRICS_NBATCH + 1];
    ngx_atomic_t    batch_sum;
    ngx_atomic_t    usec[NGX_HTTP_NOTIFY_METRICS_NUSEC + 1];
    ngx_atomic_t    usec_sum;
    ngx_atomic_t    cache_hits;
    ngx_atomic_t    cache_misses;
    ngx_atomic_t    feed[NGX_HTTP_NOTIFY_FEED_KINDS];
    ngx_atomic_t    deliveries[NGX_HTTP_NOTIFY_METRICS_TARGETS]
                              [NGX_HTTP_NOTIFY_RESULTS];
    ngx_atomic_t    streams;       /* a gauge: added to and taken from */
    ngx_atomic_t    oauth2[NGX_HTTP_NOTIFY_METRICS_TARGETS][2];
                                   /* token fetches: failed, ok */
} ngx_http_notify_metrics_t;


static ngx_int_t ngx_http_notify_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static u_char *ngx_http_notify_metrics_family(u_char *p, const char *name,
    const char *type, const char *help);
static u_char *ngx_http_notify_metrics_one(u_char *p, const char *name,
    const char *type, const char *help, uint64_t value);
static u_char *ngx_http_notify_metrics_seconds(u_char *p, ngx_uint_t usec);
static u_char *ngx_http_notify_metrics_histogram(u_char *p, const char *name,
    ngx_atomic_t *buckets, ngx_uint_t *bounds, ngx_uint_t n,
    ngx_uint_t usec, ngx_atomic_uint_t sum);


static ngx_str_t  ngx_http_notify_metrics_zone_name =
    ngx_string("notify_metrics");

static const char  *ngx_http_notify_feed_kinds[] = {
    "page", "count", "mark", "other"
};

static const char  *ngx_http_notify_results[] = {
    "delivered", "retry", "give_up", "expired"
};


/* this process's view of the zone; NULL: no notify_metrics, no counting */
static ngx_http_notify_metrics_t  *ngx_http_notify_metrics;


/*
 * The zone, made by the first notify_metrics of a configuration (the
 * others get the same).  Its size is the layout's, so that a reload finds
 * the old zone and a build with another layout does not take it.
 */

ngx_shm_zone_t *
ngx_http_notify_metrics_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_notify_metrics_zone_name,
                                     8 * ngx_pagesize
                                     + sizeof(ngx_http_notify_metrics_t),
                                     &ngx_http_notify_metrics_zone_name);
    if (shm_zone == NULL) {
        return NULL;
    }

    shm_zone->init = ngx_http_notify_metrics_init_zone;

    return shm_zone;
}


/*
 * "data" is the zone's data in the configuration before a reload: its
 * counters, which go on.
 */

static ngx_int_t
ngx_http_notify_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_notify_metrics_t  *m;

    if (data) {
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_notify_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    shm_zone->data = m;

    return NGX_OK;
}


/* each process counts in the zone of its own configuration, if any */

void
ngx_http_notify_metrics_init_process(ngx_shm_zone_t *zone)
{
    ngx_http_notify_metrics = zone ? zone->data : NULL;
}


static ngx_uint_t
ngx_http_notify_metrics_status(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_NOTIFY_METRICS_NCODES; i++) {
        if (ngx_http_notify_metrics_codes[i] == status) {
            return i;
        }
    }

    if (status >= 100 && status < 600) {
        return NGX_HTTP_NOTIFY_METRICS_NCODES + status / 100 - 1;
    }

    return NGX_HTTP_NOTIFY_METRICS_NCODES + 5;
}


void
ngx_http_notify_metrics_inbound(ngx_uint_t dialect, ngx_uint_t status)
{
    ngx_http_notify_metrics_t  *m;

    m = ngx_http_notify_metrics;

    if (m == NULL || dialect >= NGX_HTTP_NOTIFY_METRICS_DIALECTS) {
        return;
    }

    (void) ngx_atomic_fetch_add(
                 &m->inbound[dialect][ngx_http_notify_metrics_status(status)],
                 1);
}


/* from the store's committing thread: one batch, committed and synced */

void
ngx_http_notify_metrics_commit(ngx_uint_t batch, uint64_t usec)
{
    ngx_uint_t                  i;
    ngx_http_notify_metrics_t  *m;

    m = ngx_http_notify_metrics;

    if (m == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_NOTIFY_METRICS_NBATCH; i++) {
        if (batch <= ngx_http_notify_metrics_batch[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->batch[i], 1);
    (void) ngx_atomic_fetch_add(&m->batch_sum, batch);

    for (i = 0; i < NGX_HTTP_NOTIFY_METRICS_NUSEC; i++) {
        if (usec <= ngx_http_notify_metrics_usec[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->usec[i], 1);
    (void) ngx_atomic_fetch_add(&m->usec_sum, (ngx_atomic_int_t) usec);
}


void
ngx_http_notify_metrics_token_cache(ngx_uint_t hit)
{
    ngx_http_notify_metrics_t  *m;

    m = ngx_http_notify_metrics;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(hit ? &m->cache_hits : &m->cache_misses, 1);
}


void
ngx_http_notify_metrics_feed(ngx_http_notify_feed_kind_e kind)
{
    ngx_http_notify_metrics_t  *m;

    m = ngx_http_notify_metrics;

    if (m == NULL || kind >= NGX_HTTP_NOTIFY_FEED_KINDS) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->feed[kind], 1);
}


void
ngx_http_notify_metrics_streams(ngx_int_t delta)
{
    ngx_http_notify_metrics_t  *m;

    m = ngx_http_notify_metrics;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->streams, (ngx_atomic_int_t) delta);
}


void
ngx_http_notify_metrics_delivery(ngx_uint_t target,
    ngx_http_notify_result_e result, ngx_uint_t n)
{
    ngx_http_notify_metrics_t  *m;

    m = ngx_http_notify_metrics;

    if (m == NULL || n == 0 || target >= NGX_HTTP_NOTIFY_METRICS_TARGETS
        || result >= NGX_HTTP_NOTIFY_RESULTS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->deliveries[target][result], n);
}


void
ngx_http_notify_metrics_oauth2(ngx_uint_t target, ngx_uint_t ok)
{
    ngx_http_notify_metrics_t  *m;

    m = ngx_http_notify_metrics;

    if (m == NULL || target >= NGX_HTTP_NOTIFY_METRICS_TARGETS) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->oauth2[target][ok ? 1 : 0], 1);
}


/*
 * The exposition.  A line is at most a name, its labels and a number; the
 * help lines are the longest fixed text here.
 */

#define NGX_HTTP_NOTIFY_METRICS_LINE  256


size_t
ngx_http_notify_metrics_size(ngx_http_notify_metrics_scrape_t *s)
{
    size_t      name, lines;
    ngx_uint_t  i;

    name = 0;

    for (i = 0; i < s->ndialects; i++) {
        name = ngx_max(name, s->dialects[i].len);
    }

    for (i = 0; i < s->ntargets; i++) {
        name = ngx_max(name, s->targets[i].len);
    }

    lines = 2 * 11                                     /* HELP, TYPE */
            + s->ndialects * NGX_HTTP_NOTIFY_METRICS_STATUSES
            + NGX_HTTP_NOTIFY_METRICS_NBATCH + 3
            + NGX_HTTP_NOTIFY_METRICS_NUSEC + 3
            + 2 + 2 + NGX_HTTP_NOTIFY_FEED_KINDS
            + s->ntargets * (2 + NGX_HTTP_NOTIFY_RESULTS)
            + 2 + s->ntargets                          /* breakers */
            + 2 + 2 * s->ntargets                      /* OAuth2 */
            + 3                                        /* open streams */
            + 3;                                       /* dead letters */

    return lines * (NGX_HTTP_NOTIFY_METRICS_LINE + name);
}


u_char *
ngx_http_notify_metrics_write(u_char *p, ngx_http_notify_metrics_scrape_t *s)
{
    ngx_uint_t                  i, j, k, c, code;
    ngx_atomic_uint_t           v;
    ngx_http_notify_metrics_t  *m, zero;

    m = ngx_http_notify_metrics;

    if (m == NULL) {
        ngx_memzero(&zero, sizeof(ngx_http_notify_metrics_t));
        m = &zero;
    }

    /* inbound: only the series that have counted */

    p = ngx_http_notify_metrics_family(p, "notify_inbound_requests_total",
            "counter",
            "Requests to notify_inbound locations, by dialect and the"
            " HTTP status answered (a status of no fixed code by its"
            " class).");

    for (i = 0; i < s->ndialects && i < NGX_HTTP_NOTIFY_METRICS_DIALECTS;
         i++)
    {
        for (j = 0; j < NGX_HTTP_NOTIFY_METRICS_STATUSES; j++) {
            v = m->inbound[i][j];

            if (v == 0) {
                continue;
            }

            p = ngx_sprintf(p, "notify_inbound_requests_total"
                            "{dialect=\"%V\",code=\"", &s->dialects[i]);

            if (j < NGX_HTTP_NOTIFY_METRICS_NCODES) {
                p = ngx_sprintf(p, "%ui", ngx_http_notify_metrics_codes[j]);

            } else if (j < NGX_HTTP_NOTIFY_METRICS_STATUSES - 1) {
                code = j - NGX_HTTP_NOTIFY_METRICS_NCODES + 1;
                p = ngx_sprintf(p, "%uixx", code);

            } else {
                p = ngx_cpymem(p, "other", 5);
            }

            p = ngx_sprintf(p, "\"} %uA\n", v);
        }
    }

    /* the store */

    p = ngx_http_notify_metrics_family(p, "notify_store_commit_batch_size",
            "histogram",
            "Operations committed in one write transaction (group"
            " commit).");

    p = ngx_http_notify_metrics_histogram(p,
            "notify_store_commit_batch_size", m->batch,
            ngx_http_notify_metrics_batch, NGX_HTTP_NOTIFY_METRICS_NBATCH, 0,
            m->batch_sum);

    p = ngx_http_notify_metrics_family(p,
            "notify_store_commit_duration_seconds", "histogram",
            "Time of one write transaction, from its first operation to"
            " its sync (fsync included).");

    p = ngx_http_notify_metrics_histogram(p,
            "notify_store_commit_duration_seconds", m->usec,
            ngx_http_notify_metrics_usec, NGX_HTTP_NOTIFY_METRICS_NUSEC, 1,
            m->usec_sum);

    if (s->store && s->map) {
        p = ngx_http_notify_metrics_one(p, "notify_store_map_used_bytes",
                "gauge", "Bytes of the store's map in use, up to its"
                " highest page.", s->map_used);

        p = ngx_http_notify_metrics_one(p, "notify_store_map_free_bytes",
                "gauge", "Bytes of the store's map not yet used.",
                s->map_free);
    }

    /* the token cache */

    p = ngx_http_notify_metrics_one(p, "notify_token_cache_hits_total",
            "counter", "Tokens found verified in notify_jwt_cache.",
            m->cache_hits);

    p = ngx_http_notify_metrics_one(p, "notify_token_cache_misses_total",
            "counter", "Tokens looked up in notify_jwt_cache and not found"
            " (or expired).", m->cache_misses);

    /* the feed */

    p = ngx_http_notify_metrics_family(p, "notify_feed_requests_total",
            "counter",
            "Requests to notify_feed locations, by kind (page, count, mark,"
            " other).");

    for (k = 0; k < NGX_HTTP_NOTIFY_FEED_KINDS; k++) {
        p = ngx_sprintf(p, "notify_feed_requests_total{kind=\"%s\"} %uA\n",
                        ngx_http_notify_feed_kinds[k],
                        (ngx_atomic_uint_t) m->feed[k]);
    }

    p = ngx_http_notify_metrics_one(p, "notify_feed_streams", "gauge",
            "Feed streams (Server-Sent Events) open, in all workers.",
            m->streams);

    /* the targets */

    if (s->store) {
        p = ngx_http_notify_metrics_family(p, "notify_outbox_entries",
                "gauge", "Entries in the outbox waiting for delivery, by"
                " target.");

        for (i = 0; i < s->ntargets; i++) {
            p = ngx_sprintf(p, "notify_outbox_entries{target=\"%V\"} %uL\n",
                            &s->targets[i], s->outbox);
        }

        p = ngx_http_notify_metrics_family(p,
                "notify_outbox_oldest_age_seconds", "gauge",
                "Age of the oldest entry in the outbox, by target (0: none).");

        for (i = 0; i < s->ntargets; i++) {
            p = ngx_sprintf(p, "notify_outbox_oldest_age_seconds"
                            "{target=\"%V\"} %uL\n",
                            &s->targets[i], s->outbox_age);
        }

        p = ngx_http_notify_metrics_one(p, "notify_dead_letters", "gauge",
                "Dead letters kept: outbox entries that expired or were"
                " given up (notify_delivery_dead_letters).", s->dead);
    }

    p = ngx_http_notify_metrics_family(p, "notify_deliveries_total",
            "counter",
            "Delivery outcomes, by target and result (delivered, retry,"
            " give_up, expired).");

    for (i = 0; i < s->ntargets && i < NGX_HTTP_NOTIFY_METRICS_TARGETS; i++) {
        c = s->counter[i];

        for (k = 0; k < NGX_HTTP_NOTIFY_RESULTS; k++) {
            p = ngx_sprintf(p, "notify_deliveries_total"
                            "{target=\"%V\",result=\"%s\"} %uA\n",
                            &s->targets[i], ngx_http_notify_results[k],
                            c < NGX_HTTP_NOTIFY_METRICS_TARGETS
                            ? (ngx_atomic_uint_t) m->deliveries[c][k] : 0);
        }
    }

    if (s->breakers) {
        p = ngx_http_notify_metrics_family(p, "notify_breaker_state",
                "gauge", "The circuit breaker of each target: 0 closed,"
                " 1 open, 2 half-open (probing), 3 disabled (410 Gone).");

        for (i = 0;
             i < s->ntargets && i < NGX_HTTP_NOTIFY_METRICS_TARGETS;
             i++)
        {
            p = ngx_sprintf(p, "notify_breaker_state{target=\"%V\"} %ui\n",
                            &s->targets[i], s->breaker[i]);
        }
    }

    if (s->oauth2) {
        p = ngx_http_notify_metrics_family(p, "notify_oauth2_fetches_total",
                "counter", "OAuth2 token requests to the token endpoint, by"
                " target and result (ok, failed).");

        for (i = 0;
             i < s->ntargets && i < NGX_HTTP_NOTIFY_METRICS_TARGETS;
             i++)
        {
            for (k = 0; k < 2; k++) {
                p = ngx_sprintf(p, "notify_oauth2_fetches_total"
                                "{target=\"%V\",result=\"%s\"} %uA\n",
                                &s->targets[i], k ? "ok" : "failed",
                                s->counter[i]
                                < NGX_HTTP_NOTIFY_METRICS_TARGETS
                                ? (ngx_atomic_uint_t)
                                      m->oauth2[s->counter[i]][k]
                                : 0);
            }
        }
    }

    return p;
}


static u_char *
ngx_http_notify_metrics_family(u_char *p, const char *name, const char *type,
    const char *help)
{
    return ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                       name, help, name, type);
}


/* a metric of one sample, without labels */

static u_char *
ngx_http_notify_metrics_one(u_char *p, const char *name, const char *type,
    const char *help, uint64_t value)
{
    p = ngx_http_notify_metrics_family(p, name, type, help);

    return ngx_sprintf(p, "%s %uL\n", name, value);
}


/*
 * The cumulative buckets, then the sum and the count; "usec": the bounds
 * and the sum are microseconds, written as seconds.
 */

static u_char *
ngx_http_notify_metrics_histogram(u_char *p, const char *name,
    ngx_atomic_t *buckets, ngx_uint_t *bounds, ngx_uint_t n, ngx_uint_t usec,
    ngx_atomic_uint_t sum)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  count;

    count = 0;

    for (i = 0; i <= n; i++) {
        count += buckets[i];

        p = ngx_sprintf(p, "%s_bucket{le=\"", name);

        if (i == n) {
            p = ngx_cpymem(p, "+Inf", 4);

        } else if (usec) {
            p = ngx_http_notify_metrics_seconds(p, bounds[i]);

        } else {
            p = ngx_sprintf(p, "%ui", bounds[i]);
        }

        p = ngx_sprintf(p, "\"} %uA\n", count);
    }

    if (usec) {
        p = ngx_sprintf(p, "%s_sum %uA.%06uA\n", name, sum / 1000000,
                        sum % 1000000);

    } else {
        p = ngx_sprintf(p, "%s_sum %uA\n", name, sum);
    }

    return ngx_sprintf(p, "%s_count %uA\n", name, count);
}


/* a bucket's bound: microseconds as seconds, "0.0025", "1" */

static u_char *
ngx_http_notify_metrics_seconds(u_char *p, ngx_uint_t usec)
{
    p = ngx_sprintf(p, "%ui", usec / 1000000);

    if (usec % 1000000 == 0) {
        return p;
    }

    p = ngx_sprintf(p, ".%06ui", usec % 1000000);

    while (p[-1] == '0') {
        p--;
    }

    return p;
}

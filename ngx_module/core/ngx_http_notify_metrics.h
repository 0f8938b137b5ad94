
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The module's counters (notify_metrics): a fixed layout of atomic
 * counters in one shared memory zone, counted by every worker without a
 * lock, kept across reloads.  Every stage may count; nothing here takes a
 * label value from a caller: labels are indexes into fixed sets.
 */


#ifndef _NGX_HTTP_NOTIFY_METRICS_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* room for the dialects of the registry and the targets, at most */
#define NGX_HTTP_NOTIFY_METRICS_DIALECTS  8
#define NGX_HTTP_NOTIFY_METRICS_TARGETS   16


/* the kinds of feed requests */
typedef enum {
    NGX_HTTP_NOTIFY_FEED_PAGE = 0,
    NGX_HTTP_NOTIFY_FEED_COUNT,
    NGX_HTTP_NOTIFY_FEED_MARK,
    NGX_HTTP_NOTIFY_FEED_OTHER,                /* no such route */
    NGX_HTTP_NOTIFY_FEED_KINDS
} ngx_http_notify_feed_kind_e;


/* what became of a delivery attempt, or of an entry */
typedef enum {
    NGX_HTTP_NOTIFY_RESULT_DELIVERED = 0,
    NGX_HTTP_NOTIFY_RESULT_RETRY,
    NGX_HTTP_NOTIFY_RESULT_GIVE_UP,
    NGX_HTTP_NOTIFY_RESULT_EXPIRED,
    NGX_HTTP_NOTIFY_RESULTS
} ngx_http_notify_result_e;


/* what the exposition asks of the stages at a scrape (the gauges) */
typedef struct {
    ngx_str_t                  *dialects;      /* the registry's names */
    ngx_uint_t                  ndialects;
    ngx_str_t                  *targets;       /* the targets' names */
    ngx_uint_t                  ntargets;
    unsigned                    breakers:1;    /* the targets have them */
    ngx_uint_t                  breaker[NGX_HTTP_NOTIFY_METRICS_TARGETS];
                                               /* 0 closed, 1 open,
                                                  2 half-open,
                                                  3 disabled */
    unsigned                    oauth2:1;      /* the targets fetch
                                                  OAuth2 tokens */
    ngx_uint_t                  counter[NGX_HTTP_NOTIFY_METRICS_TARGETS];
                                               /* each target's delivery
                                                  counters (the "target" of
                                                  _metrics_delivery());
                                                  NGX_HTTP_NOTIFY_METRICS_
                                                  TARGETS: none yet */

    unsigned                    store:1;       /* the rest is known */
    unsigned                    map:1;         /* the store has a map */
    uint64_t                    map_used;      /* bytes */
    uint64_t                    map_free;
    uint64_t                    outbox;        /* entries, all targets */
    uint64_t                    outbox_age;    /* sec, the oldest; 0: none */
    uint64_t                    dead;          /* dead letters kept */
} ngx_http_notify_metrics_scrape_t;


ngx_shm_zone_t *ngx_http_notify_metrics_zone(ngx_conf_t *cf);
void ngx_http_notify_metrics_init_process(ngx_shm_zone_t *zone);

/* counting: nothing happens without a zone (no notify_metrics) */
void ngx_http_notify_metrics_inbound(ngx_uint_t dialect, ngx_uint_t status);
void ngx_http_notify_metrics_commit(ngx_uint_t batch, uint64_t usec);
void ngx_http_notify_metrics_token_cache(ngx_uint_t hit);
void ngx_http_notify_metrics_feed(ngx_http_notify_feed_kind_e kind);
void ngx_http_notify_metrics_streams(ngx_int_t delta);  /* open streams */
void ngx_http_notify_metrics_delivery(ngx_uint_t target,
    ngx_http_notify_result_e result, ngx_uint_t n);
void ngx_http_notify_metrics_oauth2(ngx_uint_t target, ngx_uint_t ok);

/* the exposition: the text's size at most, then the text */
size_t ngx_http_notify_metrics_size(ngx_http_notify_metrics_scrape_t *s);
u_char *ngx_http_notify_metrics_write(u_char *p,
    ngx_http_notify_metrics_scrape_t *s);


#endif /* _NGX_HTTP_NOTIFY_METRICS_H_INCLUDED_ */

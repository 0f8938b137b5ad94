
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The circuit breaker of a target (notify_delivery_breaker), shared by
 * all worker processes: closed, it lets every attempt through; after that
 * many failed attempts in a row it opens, and nothing is attempted, on
 * either path, for the cool-down; then the scheduler's timer makes one
 * attempt, the probe (half-open): delivered closes it, failed opens it
 * again for another cool-down.  A target that answers 410 Gone is disabled:
 * nothing is attempted until an admin enables it again (notify_outbox).
 */


#ifndef _NGX_HTTP_NOTIFY_BREAKER_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_BREAKER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_store.h"


/* targets a zone has room for */
#define NGX_HTTP_NOTIFY_BREAKER_TARGETS  16


typedef enum {
    NGX_HTTP_NOTIFY_BREAKER_CLOSED = 0,
    NGX_HTTP_NOTIFY_BREAKER_OPEN,
    NGX_HTTP_NOTIFY_BREAKER_PROBING,
    NGX_HTTP_NOTIFY_BREAKER_DISABLED
} ngx_http_notify_breaker_state_e;


typedef struct {
    ngx_uint_t                  failures;      /* in a row; 0: never
                                                  open (410 disables) */
    ngx_msec_t                  cooldown;
    uint64_t                    interval;      /* usec between attempts
                                                  (notify_delivery_rate);
                                                  0: no limit */
    uint64_t                    burst;         /* attempts above it */
    ngx_shm_zone_t             *zone;
} ngx_http_notify_breaker_conf_t;


/* a target's breaker, as the outbox admin and the metrics show it */
typedef struct {
    ngx_http_notify_breaker_state_e  state;
    ngx_uint_t                       failures;   /* in a row */
    ngx_uint_t                       opened;     /* times, since start */
    uint64_t                         next_probe; /* msec; when open */
    unsigned                         off:1;      /* no breaker: "off" */
} ngx_http_notify_breaker_info_t;


/* notify_delivery_breaker failures cooldown | off */
char *ngx_http_notify_breaker_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_notify_breaker_create_conf(ngx_http_notify_breaker_conf_t *bc);
char *ngx_http_notify_breaker_init_conf(ngx_conf_t *cf,
    ngx_http_notify_breaker_conf_t *bc);
void ngx_http_notify_breaker_init_process(ngx_http_notify_breaker_conf_t *bc);

/*
 * A target's slot in the zone, by its name ("live": the names of every
 * target of the cycle); the functions below take it as "target"
 */
ngx_uint_t ngx_http_notify_breaker_attach(ngx_str_t *name,
    ngx_http_notify_breaker_conf_t *bc, ngx_str_t **live, ngx_uint_t nlive);

/*
 * a first attempt goes only through a closed breaker, and to a target whose
 * first attempts are not slow
 */
ngx_uint_t ngx_http_notify_breaker_first(ngx_uint_t target);
void ngx_http_notify_breaker_slow(ngx_uint_t target, ngx_str_t *name,
    ngx_msec_t held, ngx_log_t *log);

/*
 * Whether an attempt may be made, changing nothing: NGX_OK (closed),
 * NGX_AGAIN (allow() would let a probe go) or NGX_DECLINED (for "wait"
 * msec more)
 */
ngx_int_t ngx_http_notify_breaker_wait(ngx_uint_t target, ngx_msec_t *wait);

/*
 * The timer's attempts: NGX_OK (closed: any number), NGX_DONE (one, the
 * probe, now the caller's to make or give back) or NGX_DECLINED (open:
 * none, for "wait" msec more).
 */
ngx_int_t ngx_http_notify_breaker_allow(ngx_uint_t target, ngx_str_t *name,
    ngx_msec_t *wait, ngx_log_t *log);
void ngx_http_notify_breaker_unprobe(ngx_uint_t target);

/* an attempt's outcome: the target answered as it should, or not */
void ngx_http_notify_breaker_outcome(ngx_uint_t target, ngx_uint_t ok,
    ngx_str_t *name, ngx_log_t *log);

/*
 * notify_delivery_rate: a token bucket shared by all worker processes
 * (in the breaker's zone).  take: up to "n" attempts now, how many may be
 * made (0: none for "wait" msec); give back what was not made.
 */
char *ngx_http_notify_rate_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_uint_t ngx_http_notify_rate_take(ngx_uint_t target, ngx_uint_t n,
    ngx_msec_t *wait);
void ngx_http_notify_rate_give_back(ngx_uint_t target, ngx_uint_t n);

/* 410 Gone: nothing until enabled again */
void ngx_http_notify_breaker_disable(ngx_uint_t target, ngx_str_t *name,
    ngx_log_t *log);
ngx_int_t ngx_http_notify_breaker_enable(ngx_uint_t target, ngx_str_t *name,
    ngx_log_t *log);

ngx_int_t ngx_http_notify_breaker_info(ngx_uint_t target,
    ngx_http_notify_breaker_info_t *info);
const char *ngx_http_notify_breaker_state_name(
    ngx_http_notify_breaker_info_t *info);


#endif /* _NGX_HTTP_NOTIFY_BREAKER_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * Outbound: what goes out and when it expires.  The delivery directives
 * and their conf, the planning of a notification (is its type on, when
 * does it expire, is there room for a first attempt now) and one delivery
 * attempt, made by the target's dialect (its outbound half), for both
 * paths: the subrequest (ngx_http_notify_subrequest.h) and the scheduler's
 * retries (ngx_http_notify_scheduler.h).
 */


#ifndef _NGX_HTTP_NOTIFY_OUTBOUND_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_OUTBOUND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_store.h"
#include "ngx_http_notify_curl.h"
#include "ngx_http_notify_breaker.h"


/* msec the first attempt (a subrequest) holds its outbox entry */
#define NGX_HTTP_NOTIFY_LEASE  60000


/* notify_push_type: one flag, global (tenant empty) or for one tenant */
typedef struct {
    ngx_str_t                   type;
    ngx_str_t                   tenant;
    ngx_flag_t                  on;
} ngx_http_notify_outbound_flag_t;


/*
 * notify_route target [dialect=name] [event=type] [tenant=name] [off]: the
 * first route naming a target that matches decides whether it gets a
 * notification; a target no route names gets every one
 */
typedef struct {
    ngx_str_t                   name;          /* the target's */
    ngx_http_notify_target_t   *target;
    ngx_str_t                   dialect;       /* empty: any */
    ngx_str_t                   event;
    ngx_str_t                   tenant;
    ngx_flag_t                  off;
} ngx_http_notify_route_t;


typedef struct {
    ngx_str_t                   url;           /* notify_push_url */
    ngx_str_t                   jwt;           /* notify_push_jwt */
    time_t                      keep;          /* notify_push_days_before */
    ngx_flag_t                  default_on;    /* notify_push_default */
    ngx_array_t                *flags;         /* notify_push_type */
    ngx_uint_t                  concurrency;   /* per worker */
    ngx_msec_t                  timeout;       /* one attempt, curl */
    ngx_msec_t                  first_timeout; /* the first attempt's hold
                                                  on its caller */
    ngx_msec_t                  retry_min;     /* backoff */
    ngx_msec_t                  retry_max;
    ngx_http_notify_target_t    target;        /* the push target: the push
                                                  dialect, url, jwt */
    ngx_http_notify_breaker_conf_t  breaker;   /* notify_delivery_breaker */
    ngx_array_t                *targets;       /* notify_target blocks:
                                                  ngx_http_notify_target_t,
                                                  each with its own
                                                  delivery conf */
    ngx_array_t                *routes;        /* notify_route */
    ngx_array_t                 all;           /* every target, "push"
                                                  first: pointers; a
                                                  target's index is its
                                                  place here */
} ngx_http_notify_delivery_conf_t;


/* one delivery attempt, on either path */
typedef struct {
    ngx_pool_t                      *pool;     /* its own */
    uint64_t                         seq;
    uint32_t                         entry;    /* in the notification */
    uint32_t                         part;     /* of its recipients */
    uint32_t                         attempts; /* before this one */
    ngx_http_notify_target_t        *target;
    ngx_http_notify_outbound_req_t   request;  /* as the target's dialect
                                                  renders it */
    ngx_str_t                        authorization;  /* of the request's
                                                        headers */
    uint64_t                         token;    /* the OAuth2 token's
                                                  generation, or 0 */
    ngx_http_notify_ctx_t           *ctx;      /* the caller's request's,
                                                  while its subrequest runs */
    void                           **owner;    /* ditto: the request's link
                                                  to this attempt */
    ngx_http_request_t              *subrequest;  /* the first attempt's */
    ngx_event_t                      hold;     /* its bound, armed while
                                                  it runs */
    ngx_connection_t                 hold_conn;  /* the hold's data, no
                                                    fd */
    ngx_http_notify_store_op_t       op;
    ngx_http_notify_curl_req_t       curl;
    unsigned                         finished:1;
    unsigned                         cut:1;    /* by the hold's bound */
    ngx_msec_t                       started;  /* the first attempt's */
} ngx_http_notify_delivery_t;


/* the directives */
char *ngx_http_notify_outbound_expiry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_outbound_type(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_delivery_retry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
void ngx_http_notify_delivery_create_conf(ngx_http_notify_delivery_conf_t *dc);

/* notify_target name { ... } (ngx_http_notify_target.c) */
char *ngx_http_notify_target_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_targets_init_conf(ngx_conf_t *cf,
    ngx_http_notify_delivery_conf_t *dc);
char *ngx_http_notify_delivery_init_conf(ngx_conf_t *cf,
    ngx_http_notify_delivery_conf_t *dc);

/*
 * A worker's delivery state: the conf of its cycle (init_process gives it)
 * and, for each target, its places for attempts (the target's
 * concurrency), taken by the first attempts and by the timer's alike, and
 * its breaker's slot.
 */
void ngx_http_notify_outbound_init(ngx_http_notify_delivery_conf_t *dc);
ngx_http_notify_delivery_conf_t *ngx_http_notify_outbound_conf(void);
ngx_http_notify_target_t *ngx_http_notify_outbound_target(ngx_str_t *name);
ngx_uint_t ngx_http_notify_outbound_slot(ngx_http_notify_target_t *t);
ngx_uint_t ngx_http_notify_outbound_places(ngx_http_notify_target_t *t);
ngx_int_t ngx_http_notify_outbound_reserve(ngx_http_notify_target_t *t);
void ngx_http_notify_outbound_release(ngx_http_notify_target_t *t);

/*
 * before the commit: the notification's outbox entries, one a routed
 * target and part of its recipients, and which of them have their first
 * attempt now (a place reserved); unplan gives those places back
 */
ngx_int_t ngx_http_notify_delivery_plan(ngx_http_notify_req_t *nr,
    ngx_str_t *location);
void ngx_http_notify_delivery_unplan(ngx_http_notify_req_t *nr);
/* an entry the store held behind an older one of its chain: the place and
   the rate's token of its first attempt are given back */
void ngx_http_notify_delivery_unhold(ngx_http_notify_outbox_put_t *oe);

/*
 * An attempt's request: the notification (its JSON, as text or as an
 * object) with its recipients (as ids, or NUL-separated as the outbox
 * keeps them), rendered for the target in dl->pool.  NGX_DECLINED: the
 * target's OAuth2 token is not in the cache (any more), the entry waits.
 */
ngx_int_t ngx_http_notify_outbound_prepare(ngx_http_notify_delivery_t *dl,
    ngx_http_notify_target_t *target, uint64_t seq, uint32_t entry,
    uint32_t part, const char *note, size_t note_len,
    ngx_http_notify_note_t *given, ngx_str_t *ids, ngx_uint_t nids,
    u_char *packed_ids, size_t packed_len);


#endif /* _NGX_HTTP_NOTIFY_OUTBOUND_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The scheduler: the attempts of one worker process within
 * notify_delivery_concurrency, the outcome of each (judged by the target's
 * dialect, then done, retried after a backoff, or given up), and the
 * timer in one worker process that claims what is due in the outbox and
 * sends it with libcurl.
 */


#ifndef _NGX_HTTP_NOTIFY_SCHEDULER_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_SCHEDULER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_outbound.h"


ngx_int_t ngx_http_notify_delivery_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_delivery_conf_t *dc);
void ngx_http_notify_delivery_exit_process(ngx_cycle_t *cycle);

/* look at the outbox again in "delay" msec, unless a look is due sooner */
void ngx_http_notify_delivery_arm(ngx_msec_t delay);


/*
 * The answer to an attempt ("status" 0: none, see "transport_error"):
 * the outcome goes to the store, which then frees the attempt's pool.
 */
void ngx_http_notify_scheduler_outcome(ngx_http_notify_delivery_t *dl,
    ngx_uint_t status, ngx_str_t *body, ngx_str_t *retry_after,
    const char *transport_error, ngx_log_t *log);


#endif /* _NGX_HTTP_NOTIFY_SCHEDULER_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_DELIVERY_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_DELIVERY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"


/* notify_push_type: one flag, global (tenant empty) or for one tenant */
typedef struct {
    ngx_str_t                   type;
    ngx_str_t                   tenant;
    ngx_flag_t                  on;
} ngx_http_notify_push_flag_t;


typedef struct {
    ngx_str_t                   url;           /* notify_push_url */
    ngx_str_t                   jwt;           /* notify_push_jwt */
    time_t                      keep;          /* notify_push_days_before */
    ngx_flag_t                  default_on;    /* notify_push_default */
    ngx_array_t                *flags;         /* notify_push_type */
    ngx_uint_t                  concurrency;   /* per worker */
    ngx_msec_t                  timeout;       /* one attempt, curl */
    ngx_msec_t                  retry_min;     /* backoff */
    ngx_msec_t                  retry_max;
} ngx_http_notify_delivery_conf_t;


char *ngx_http_notify_push_days_before(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_push_type(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_delivery_retry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_notify_delivery_create_conf(ngx_http_notify_delivery_conf_t *dc);
char *ngx_http_notify_delivery_init_conf(ngx_conf_t *cf,
    ngx_http_notify_delivery_conf_t *dc);
ngx_int_t ngx_http_notify_delivery_add_variables(ngx_conf_t *cf);

ngx_int_t ngx_http_notify_delivery_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_delivery_conf_t *dc);
void ngx_http_notify_delivery_exit_process(ngx_cycle_t *cycle);

/* before the commit: put the notification in the outbox? */
ngx_int_t ngx_http_notify_delivery_plan(ngx_http_notify_req_t *nr,
    ngx_str_t *location);

/* after the commit: the first attempt, as a background subrequest */
void ngx_http_notify_delivery_start(ngx_http_notify_req_t *nr,
    ngx_str_t *location);

/* notify_outbox: the content handler of a location with the prefix */
ngx_int_t ngx_http_notify_outbox_handler(ngx_http_request_t *r,
    ngx_str_t *prefix);


#endif /* _NGX_HTTP_NOTIFY_DELIVERY_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_FEED_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_FEED_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"


/* the feed part of a location's configuration */
typedef struct {
    ngx_str_t                   admin_role;        /* read others' feeds */
    ngx_str_t                   admin_write_role;  /* mark theirs */

    /* the stream (ngx_http_notify_stream.c) */
    ngx_msec_t                  stream_heartbeat;  /* 0: none */
    size_t                      stream_buffer;     /* unsent bytes, most */
    time_t                      stream_ticket;     /* a ticket's life */
    ngx_str_t                   stream_cookie;     /* "cookie_<name>"; empty:
                                                      no cookie is read */
} ngx_http_notify_feed_conf_t;


/* notify_feed: the content handler of a location with the prefix */
ngx_int_t ngx_http_notify_feed_handler(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *prefix,
    ngx_http_notify_jwt_conf_t *jwt, ngx_http_notify_directory_t *directory);


/* the stream: its zone (by the first notify_feed), the master's eventfds,
   each worker's part */
ngx_shm_zone_t *ngx_http_notify_stream_zone(ngx_conf_t *cf,
    ngx_uint_t events);
ngx_int_t ngx_http_notify_stream_init_module(ngx_cycle_t *cycle,
    ngx_uint_t workers);
ngx_int_t ngx_http_notify_stream_init_process(ngx_cycle_t *cycle,
    ngx_shm_zone_t *zone);
void ngx_http_notify_stream_exit_process(ngx_cycle_t *cycle);

/* the feed's routes of the stream, for "user" */
ngx_int_t ngx_http_notify_stream_open(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *user);
ngx_int_t ngx_http_notify_stream_ticket(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *user);
ngx_int_t ngx_http_notify_stream_take(ngx_http_request_t *r,
    ngx_str_t *value, ngx_str_t *user);


#endif /* _NGX_HTTP_NOTIFY_FEED_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_outbox.h"
#include "ngx_http_notify_inbound.h"
#include "ngx_http_notify_feed.h"


#define NGX_HTTP_NOTIFY_VERSION  "0.1.0"



/*
 * The module's configurations, made of the parts each stage declares in its
 * own header: the module reads them and hands each stage its part.
 */

typedef struct {
    time_t                        loaded;      /* when this config was read */
    ngx_http_notify_jwt_conf_t   *jwt;         /* ngx_http_notify_jwt.c */
    ngx_http_notify_directory_t  *directory;   /* NULL: no notify_directory */
    ngx_http_notify_store_conf_t  store;
    ngx_http_notify_delivery_conf_t  delivery;
    ngx_shm_zone_t               *metrics;     /* NULL: no notify_metrics */
    ngx_shm_zone_t               *stream;      /* NULL: no notify_feed */
    ngx_uint_t                    stream_events;
    ngx_uint_t                    feed;        /* a notify_feed is there */
} ngx_http_notify_main_conf_t;


typedef struct {
    ngx_http_complex_value_t   *tenant;        /* NULL: the server's name */
    ngx_str_t                   delivery_location;
} ngx_http_notify_srv_conf_t;


typedef struct {
    ngx_http_handler_pt         handler;       /* content handler, or NULL */
    ngx_uint_t                  status_flags;  /* json_dumps() flags */
    ngx_str_t                   prefix;        /* notify_feed, notify_outbox:
                                                  the location's */
    ngx_http_notify_inbound_conf_t  inbound;
    ngx_http_notify_feed_conf_t     feed;
} ngx_http_notify_loc_conf_t;


#endif /* _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ndk.h>

#include <jansson.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"


#define NGX_HTTP_NOTIFY_VERSION  "0.1.0"



typedef struct {
    time_t                        loaded;      /* when this config was read */
    ngx_http_notify_jwt_conf_t   *jwt;         /* ngx_http_notify_jwt.c */
    ngx_http_notify_directory_t  *directory;   /* NULL: no notify_directory */
    ngx_http_notify_store_conf_t  store;
    ngx_http_notify_delivery_conf_t  delivery;
} ngx_http_notify_main_conf_t;


#define ngx_http_notify_main_conf(r)                                        \
    ((ngx_http_notify_main_conf_t *)                                        \
     ngx_http_get_module_main_conf(r, ngx_http_notify_module))


typedef struct {
    ngx_http_complex_value_t   *tenant;        /* NULL: the server's name */
    ngx_str_t                   delivery_location;
} ngx_http_notify_srv_conf_t;


typedef struct {
    ngx_http_handler_pt         handler;       /* content handler, or NULL */
    ngx_uint_t                  status_flags;  /* json_dumps() flags */

    ngx_http_notify_dialect_t  *dialect;       /* notify_inbound */
    ngx_array_t                *roles;         /* notify_require_role */
    ngx_array_t                *keys;          /* notify_subscription_key */
    size_t                      max_body;      /* notify_max_body */
    ngx_str_t                   feed_admin_role;       /* read others' */
    ngx_str_t                   feed_admin_write_role; /* mark theirs */
    ngx_str_t                   feed_prefix;   /* notify_feed: location */
    ngx_str_t                   gever_actor_claim; /* notify_gever_... */
    ngx_array_t                *push_recipients; /* notify_push_recipients */
    void                       *graph_manifest; /* notify_graph_manifest */
} ngx_http_notify_loc_conf_t;


extern ngx_http_notify_dialect_t  ngx_http_notify_syntphony_dialect;
extern ngx_http_notify_dialect_t  ngx_http_notify_graph_dialect;
extern ngx_http_notify_dialect_t  ngx_http_notify_gever_dialect;
extern ngx_http_notify_dialect_t  ngx_http_notify_push_dialect;

/* "notify_graph_manifest <file>;" (ngx_http_notify_graph.c) */
char *ngx_http_notify_graph_manifest(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* the tenant of a request (ngx_http_notify_module.c) */
ngx_int_t ngx_http_notify_tenant(ngx_http_request_t *r, ngx_str_t *tenant);

/* flow (ngx_http_notify_flow.c) */
ngx_int_t ngx_http_notify_inbound_handler(ngx_http_request_t *r);

/* push (ngx_http_notify_push.c) */
char *ngx_http_notify_push_recipients(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_push_merge(ngx_conf_t *cf,
    ngx_http_notify_loc_conf_t *conf);

char *ngx_http_notify_prefix_handler(ngx_conf_t *cf,
    ngx_http_notify_loc_conf_t *nlcf, ngx_http_handler_pt handler);

/* feed (ngx_http_notify_feed.c) */
ngx_int_t ngx_http_notify_feed_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_ */


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


#define NGX_HTTP_NOTIFY_VERSION  "0.1.0"


typedef struct {
    time_t                      loaded;        /* when this config was read */
} ngx_http_notify_main_conf_t;


typedef struct {
    ngx_http_complex_value_t   *tenant;        /* NULL: the server's name */
} ngx_http_notify_srv_conf_t;


typedef struct {
    ngx_http_handler_pt         handler;       /* content handler, or NULL */
    ngx_uint_t                  status_flags;  /* json_dumps() flags */
} ngx_http_notify_loc_conf_t;


u_char *ngx_http_notify_iso8601(u_char *buf, time_t t);
ngx_int_t ngx_http_notify_tenant(ngx_http_request_t *r, ngx_str_t *tenant);
ngx_int_t ngx_http_notify_send_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, json_t *json, size_t flags);


extern ngx_module_t  ngx_http_notify_module;


#endif /* _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_ */

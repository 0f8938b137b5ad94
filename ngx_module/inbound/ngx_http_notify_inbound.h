
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The inbound stage: the flow every notify_inbound request goes through,
 * its part of a location's configuration, and the registry of dialects.
 */


#ifndef _NGX_HTTP_NOTIFY_INBOUND_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_INBOUND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"


/* the inbound part of a location's configuration */
typedef struct {
    ngx_http_notify_dialect_t  *dialect;       /* notify_inbound */
    ngx_array_t                *roles;         /* notify_require_role */
    ngx_array_t                *keys;          /* notify_subscription_key */
    size_t                      max_body;      /* notify_max_body */
    void                      **dialect_conf;  /* each dialect's part, by
                                                  its index in the registry */
    void                       *conf;          /* the part of "dialect" */
} ngx_http_notify_inbound_conf_t;


/* what the module hands the flow with a request */
typedef struct {
    ngx_http_notify_inbound_conf_t  *inbound;
    ngx_http_notify_jwt_conf_t      *jwt;
    ngx_http_notify_directory_t     *directory;
    ngx_http_complex_value_t        *tenant;       /* notify_tenant, or
                                                      NULL */
    ngx_str_t                        delivery_location;
} ngx_http_notify_flow_conf_t;


/* the registry of dialects (ngx_http_notify_dialects.c) */
ngx_http_notify_dialect_t *ngx_http_notify_dialect(ngx_str_t *name);
ngx_http_notify_dialect_t *ngx_http_notify_dialect_at(ngx_uint_t i);
ngx_command_t *ngx_http_notify_dialects_commands(ngx_conf_t *cf,
    ngx_command_t *own, char *(*set)(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf));
char *ngx_http_notify_dialects_set(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_notify_inbound_conf_t *ic);
ngx_int_t ngx_http_notify_inbound_create_conf(ngx_conf_t *cf,
    ngx_http_notify_inbound_conf_t *ic);
char *ngx_http_notify_inbound_merge_conf(ngx_conf_t *cf,
    ngx_http_notify_inbound_conf_t *prev,
    ngx_http_notify_inbound_conf_t *conf);
char *ngx_http_notify_inbound_check_conf(ngx_conf_t *cf,
    ngx_http_notify_inbound_conf_t *ic,
    ngx_http_notify_directory_t *directory);

/* the flow (ngx_http_notify_flow.c) */
ngx_int_t ngx_http_notify_flow_handler(ngx_http_request_t *r,
    ngx_http_notify_flow_conf_t *fc);
ngx_int_t ngx_http_notify_flow_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_NOTIFY_INBOUND_H_INCLUDED_ */

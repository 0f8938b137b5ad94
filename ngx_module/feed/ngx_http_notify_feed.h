
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
} ngx_http_notify_feed_conf_t;


/* notify_feed: the content handler of a location with the prefix */
ngx_int_t ngx_http_notify_feed_handler(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *prefix,
    ngx_http_notify_jwt_conf_t *jwt, ngx_http_notify_directory_t *directory);


#endif /* _NGX_HTTP_NOTIFY_FEED_H_INCLUDED_ */

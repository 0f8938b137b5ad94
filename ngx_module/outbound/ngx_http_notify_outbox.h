
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_OUTBOX_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_OUTBOX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* notify_outbox: the outbox admin endpoint */
/* notify_outbox: the content handler of a location with the prefix */
ngx_int_t ngx_http_notify_outbox_handler(ngx_http_request_t *r,
    ngx_str_t *prefix);


#endif /* _NGX_HTTP_NOTIFY_OUTBOX_H_INCLUDED_ */

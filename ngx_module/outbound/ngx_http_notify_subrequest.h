
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The first attempt of a delivery: a background subrequest to the
 * location of notify_delivery_location, made once the notification is
 * durable, and the variables that location uses ($notify_target_*) and
 * the access log's $notify_delivery_status.
 */


#ifndef _NGX_HTTP_NOTIFY_SUBREQUEST_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_SUBREQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"


ngx_int_t ngx_http_notify_delivery_add_variables(ngx_conf_t *cf);

/* after the commit: the first attempt, as a background subrequest */
void ngx_http_notify_delivery_start(ngx_http_notify_req_t *nr,
    ngx_str_t *location);


#endif /* _NGX_HTTP_NOTIFY_SUBREQUEST_H_INCLUDED_ */

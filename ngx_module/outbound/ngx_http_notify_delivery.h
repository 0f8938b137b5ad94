
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_DELIVERY_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_DELIVERY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* notify_outbox: the outbox admin endpoint */
char *ngx_http_notify_outbox(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_NOTIFY_DELIVERY_H_INCLUDED_ */

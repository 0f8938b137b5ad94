
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_KEY_FILE_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_KEY_FILE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A directive's slot: the keys of a file, one a line, into the
 * "ngx_array_t *" (of ngx_str_t) at cmd->offset, NGX_CONF_UNSET_PTR until
 * set (notify_subscription_key_file).
 */
char *ngx_http_notify_key_file_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_NOTIFY_KEY_FILE_H_INCLUDED_ */

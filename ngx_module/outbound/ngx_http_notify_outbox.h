
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

/* <prefix>/dead: the dead letters; "rest" what follows "/dead" */
ngx_int_t ngx_http_notify_dead_handler(ngx_http_request_t *r,
    ngx_str_t *rest);

/* an entry's id: "<id>" (entry 0) or "<id>-<n>" */
ngx_int_t ngx_http_notify_outbox_parse_entry(ngx_str_t *id, uint64_t *seq,
    uint32_t *entry);
u_char *ngx_http_notify_outbox_format_entry(u_char *p, uint64_t seq,
    uint32_t entry);


#endif /* _NGX_HTTP_NOTIFY_OUTBOX_H_INCLUDED_ */

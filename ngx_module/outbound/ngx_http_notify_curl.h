
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_CURL_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * libcurl's multi interface driven by nginx's event loop: curl's sockets
 * become nginx connections (level-triggered read and write events), curl's
 * timer an nginx timer.  For outbound work that has no client request to
 * hang a subrequest on (retries from the delivery timer).  One per worker
 * process, made in init_process.
 */

#define NGX_HTTP_NOTIFY_CURL_BODY_MAX  65536


typedef struct ngx_http_notify_curl_req_s  ngx_http_notify_curl_req_t;

typedef void (*ngx_http_notify_curl_done_pt)(ngx_http_notify_curl_req_t *req);


struct ngx_http_notify_curl_req_s {
    /* in: all must stay valid until done(); method and url
       null-terminated */
    ngx_str_t                      method;      /* empty: POST */
    ngx_str_t                      url;
    ngx_str_t                      body;
    ngx_array_t                   *headers;     /* ngx_keyval_t */
    ngx_msec_t                     timeout;
    ngx_http_notify_curl_done_pt   done;
    void                          *data;
    ngx_log_t                     *log;

    /* out, valid during done(), which may free the request */
    ngx_uint_t                     status;      /* 0: no HTTP answer */
    ngx_str_t                      response;    /* at most BODY_MAX bytes */
    ngx_str_t                      retry_after;
    const char                    *error;       /* curl's words, when
                                                   status is 0 */

    /* private */
    ngx_queue_t                    queue;
    void                          *easy;
    void                          *slist;
    u_char                        *buf;
    size_t                         size;
    u_char                         retry[32];
    char                           errbuf[256];
};


ngx_int_t ngx_http_notify_curl_init_process(ngx_cycle_t *cycle);
void ngx_http_notify_curl_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_notify_curl_send(ngx_http_notify_curl_req_t *req);


#endif /* _NGX_HTTP_NOTIFY_CURL_H_INCLUDED_ */

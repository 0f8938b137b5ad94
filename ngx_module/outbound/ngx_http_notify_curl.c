
/*
 * Copyright (C) ngx_http_notify authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_notify_curl.h"

#include <curl/curl.h>


typedef struct {
    CURLM                 *multi;
    ngx_event_t            timer;
    ngx_connection_t       timer_conn;   /* the timer's data: no fd */
    ngx_log_t             *log;
    ngx_queue_t            requests;     /* in flight */
} ngx_http_notify_curl_t;


static int ngx_http_notify_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static int ngx_http_notify_curl_timer(CURLM *multi, long timeout_ms,
    void *userp);
static void ngx_http_notify_curl_event(ngx_event_t *ev);
static void ngx_http_notify_curl_timeout(ngx_event_t *ev);
static void ngx_http_notify_curl_drain(void);
static void ngx_http_notify_curl_finish(ngx_http_notify_curl_req_t *req,
    CURLcode result);
static size_t ngx_http_notify_curl_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static size_t ngx_http_notify_curl_header(char *ptr, size_t size,
    size_t nitems, void *userdata);
static void ngx_http_notify_curl_forget(ngx_connection_t *c);


static ngx_http_notify_curl_t  ngx_http_notify_curl;


ngx_int_t
ngx_http_notify_curl_init_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_curl_t  *nc;

    nc = &ngx_http_notify_curl;

    if (nc->multi) {
        return NGX_OK;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "notify: curl_global_init() failed");
        return NGX_ERROR;
    }

    nc->multi = curl_multi_init();
    if (nc->multi == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "notify: curl_multi_init() failed");
        curl_global_cleanup();
        return NGX_ERROR;
    }

    nc->log = cycle->log;
    ngx_queue_init(&nc->requests);

    nc->timer_conn.fd = (ngx_socket_t) -1;
    nc->timer.handler = ngx_http_notify_curl_timeout;
    nc->timer.data = &nc->timer_conn;
    nc->timer.log = cycle->log;
    nc->timer.cancelable = 1;

    curl_multi_setopt(nc->multi, CURLMOPT_SOCKETFUNCTION,
                      ngx_http_notify_curl_socket);
    curl_multi_setopt(nc->multi, CURLMOPT_SOCKETDATA, nc);
    curl_multi_setopt(nc->multi, CURLMOPT_TIMERFUNCTION,
                      ngx_http_notify_curl_timer);
    curl_multi_setopt(nc->multi, CURLMOPT_TIMERDATA, nc);

    return NGX_OK;
}


void
ngx_http_notify_curl_exit_process(ngx_cycle_t *cycle)
{
    int                          left;
    CURLMsg                     *msg;
    ngx_queue_t                 *q;
    ngx_http_notify_curl_t      *nc;
    ngx_http_notify_curl_req_t  *req;

    nc = &ngx_http_notify_curl;

    if (nc->multi == NULL) {
        return;
    }

    if (nc->timer.timer_set) {
        ngx_del_timer(&nc->timer);
    }

    /* transfers still running are abandoned: the outbox retries them */

    while (!ngx_queue_empty(&nc->requests)) {
        q = ngx_queue_head(&nc->requests);
        ngx_queue_remove(q);

        req = ngx_queue_data(q, ngx_http_notify_curl_req_t, queue);

        curl_multi_remove_handle(nc->multi, req->easy);
        curl_easy_cleanup(req->easy);
        curl_slist_free_all(req->slist);
        free(req->buf);
    }

    while ((msg = curl_multi_info_read(nc->multi, &left))) {
        /* void */
    }

    curl_multi_cleanup(nc->multi);
    nc->multi = NULL;

    curl_global_cleanup();
}


ngx_int_t
ngx_http_notify_curl_send(ngx_http_notify_curl_req_t *req)
{
    CURL                    *easy;
    u_char                  *p;
    ngx_uint_t               i;
    ngx_keyval_t            *h;
    struct curl_slist       *list, *l;
    ngx_http_notify_curl_t  *nc;
    u_char                   line[1024];

    nc = &ngx_http_notify_curl;

    if (nc->multi == NULL) {
        return NGX_ERROR;
    }

    req->status = 0;
    req->error = NULL;
    req->buf = NULL;
    req->size = 0;
    req->errbuf[0] = '\0';
    ngx_str_null(&req->response);
    ngx_str_null(&req->retry_after);

    easy = curl_easy_init();
    if (easy == NULL) {
        return NGX_ERROR;
    }

    list = NULL;

    if (req->headers) {
        h = req->headers->elts;

        for (i = 0; i < req->headers->nelts; i++) {
            p = ngx_snprintf(line, sizeof(line) - 1, "%V: %V",
                             &h[i].key, &h[i].value);
            *p = '\0';

            l = curl_slist_append(list, (char *) line);
            if (l == NULL) {
                goto failed;
            }

            list = l;
        }
    }

    /* no "Expect: 100-continue" round trip */

    l = curl_slist_append(list, "Expect:");
    if (l == NULL) {
        goto failed;
    }

    list = l;

    if (curl_easy_setopt(easy, CURLOPT_URL, (char *) req->url.data)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POST, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t) req->body.len) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body.data)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) req->timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_http_notify_curl_write) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, req) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                            ngx_http_notify_curl_header) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERDATA, req) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PRIVATE, req) != CURLE_OK)
    {
        goto failed;
    }

    /* another method than POST, with the body all the same */

    if (req->method.len
        && !(req->method.len == 4
             && ngx_strncmp(req->method.data, "POST", 4) == 0)
        && curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST,
                            (char *) req->method.data)
           != CURLE_OK)
    {
        goto failed;
    }

    req->easy = easy;
    req->slist = list;

    if (curl_multi_add_handle(nc->multi, easy) != CURLM_OK) {
        goto failed;
    }

    ngx_queue_insert_tail(&nc->requests, &req->queue);

    /* curl asks for a timer of 0 ms: the transfer starts from the loop */

    return NGX_OK;

failed:

    curl_slist_free_all(list);
    curl_easy_cleanup(easy);
    req->easy = NULL;
    req->slist = NULL;

    return NGX_ERROR;
}


/* curl: "watch this socket for that" */

static int
ngx_http_notify_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_http_notify_curl_t *nc = userp;

    ngx_connection_t  *c;

    c = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (c) {
            ngx_http_notify_curl_forget(c);
            curl_multi_assign(nc->multi, s, NULL);
        }

        return 0;
    }

    if (c == NULL) {
        c = ngx_get_connection(s, nc->log);
        if (c == NULL) {
            return -1;
        }

        c->read->handler = ngx_http_notify_curl_event;
        c->write->handler = ngx_http_notify_curl_event;
        c->read->log = nc->log;
        c->write->log = nc->log;
        c->log = nc->log;
        c->data = nc;

        curl_multi_assign(nc->multi, s, c);
    }

    /*
     * Level-triggered: curl does not promise to read a socket dry on each
     * notification, and an edge-triggered event would not come again.
     */

    if (what & CURL_POLL_IN) {
        if (!c->read->active
            && ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK)
        {
            return -1;
        }

    } else if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (what & CURL_POLL_OUT) {
        if (!c->write->active
            && ngx_add_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK)
        {
            return -1;
        }

    } else if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    return 0;
}


/* the socket is curl's again (it closes it): give the connection back */

static void
ngx_http_notify_curl_forget(ngx_connection_t *c)
{
    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);
}


static int
ngx_http_notify_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_http_notify_curl_t *nc = userp;

    if (timeout_ms < 0) {
        if (nc->timer.timer_set) {
            ngx_del_timer(&nc->timer);
        }

        return 0;
    }

    ngx_add_timer(&nc->timer, (ngx_msec_t) timeout_ms);

    return 0;
}


static void
ngx_http_notify_curl_event(ngx_event_t *ev)
{
    int                      running, mask;
    ngx_socket_t             fd;
    ngx_connection_t        *c;
    ngx_http_notify_curl_t  *nc;

    c = ev->data;
    nc = &ngx_http_notify_curl;

    fd = c->fd;
    mask = ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN;

    if (ev->error) {
        mask |= CURL_CSELECT_ERR;
    }

    /* "c" may be given back during the call: do not touch it after */

    curl_multi_socket_action(nc->multi, fd, mask, &running);

    ngx_http_notify_curl_drain();
}


static void
ngx_http_notify_curl_timeout(ngx_event_t *ev)
{
    int  running;

    curl_multi_socket_action(ngx_http_notify_curl.multi, CURL_SOCKET_TIMEOUT,
                             0, &running);

    ngx_http_notify_curl_drain();
}


static void
ngx_http_notify_curl_drain(void)
{
    int                          left;
    CURLMsg                     *msg;
    ngx_http_notify_curl_req_t  *req;

    while ((msg = curl_multi_info_read(ngx_http_notify_curl.multi, &left))) {

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        req = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);

        if (req == NULL) {
            continue;
        }

        ngx_http_notify_curl_finish(req, msg->data.result);
    }
}


static void
ngx_http_notify_curl_finish(ngx_http_notify_curl_req_t *req, CURLcode result)
{
    long                     code;
    CURL                    *easy;
    u_char                  *buf;
    ngx_http_notify_curl_t  *nc;

    nc = &ngx_http_notify_curl;
    easy = req->easy;

    code = 0;

    if (result == CURLE_OK) {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);

    } else {
        req->error = req->errbuf[0] ? req->errbuf : curl_easy_strerror(result);
    }

    req->status = (ngx_uint_t) code;
    req->response.data = req->buf;
    req->response.len = req->size;

    curl_multi_remove_handle(nc->multi, easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(req->slist);

    req->easy = NULL;
    req->slist = NULL;
    ngx_queue_remove(&req->queue);

    /* done() may free "req" (an OAuth2 fetch does) */

    buf = req->buf;
    req->buf = NULL;

    req->done(req);

    free(buf);
}


static size_t
ngx_http_notify_curl_write(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_notify_curl_req_t *req = userdata;

    size_t   n, room;
    u_char  *buf;

    n = size * nmemb;

    if (req->buf == NULL) {
        req->buf = malloc(NGX_HTTP_NOTIFY_CURL_BODY_MAX);
        if (req->buf == NULL) {
            return 0;
        }
    }

    /* more than the limit is read and dropped: the answer is judged by
     * its beginning, and a huge body fails to parse anyway */

    room = NGX_HTTP_NOTIFY_CURL_BODY_MAX - req->size;
    buf = req->buf + req->size;

    ngx_memcpy(buf, ptr, ngx_min(n, room));
    req->size += ngx_min(n, room);

    return n;
}


static size_t
ngx_http_notify_curl_header(char *ptr, size_t size, size_t nitems,
    void *userdata)
{
    ngx_http_notify_curl_req_t *req = userdata;

    size_t   n, len;
    u_char  *p, *last;

    n = size * nitems;

    if (n > 12 && ngx_strncasecmp((u_char *) ptr, (u_char *) "Retry-After:", 12)
                  == 0)
    {
        p = (u_char *) ptr + 12;
        last = (u_char *) ptr + n;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        while (last > p && (last[-1] == CR || last[-1] == LF
                            || last[-1] == ' '))
        {
            last--;
        }

        len = ngx_min((size_t) (last - p), sizeof(req->retry) - 1);
        ngx_memcpy(req->retry, p, len);

        req->retry_after.data = req->retry;
        req->retry_after.len = len;
    }

    return n;
}

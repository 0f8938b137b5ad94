
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The scheduler.  Every attempt of a worker process, on either path,
 * takes a place within notify_delivery_concurrency.  Its answer is judged
 * by the target's dialect (its outbound half): delivered, the entry
 * leaves the outbox; to retry, it is due again after an exponential
 * backoff (or Retry-After on a 429 or 503); given up, it is dropped.  A
 * timer in one worker process looks at the outbox, claims what is due
 * (with a lease, so that no other process takes it meanwhile) and sends
 * it with libcurl's multi interface on nginx's event loop, until it is
 * delivered or expires (notify_push_days_before).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_scheduler.h"
#include "ngx_http_notify_curl.h"
#include "ngx_http_notify_oauth2.h"


typedef struct {
    ngx_event_t                       timer;
    ngx_connection_t                  timer_conn;
    ngx_http_notify_store_op_t        claim;
    ngx_http_notify_store_read_t      look;        /* is anything due? */
    unsigned                          claiming:1;  /* a look or a claim */
    unsigned                          probe:1;     /* the claim is the
                                                      breaker's probe */
    unsigned                          active:1;
} ngx_http_notify_scheduler_t;


static uint64_t ngx_http_notify_scheduler_backoff(
    ngx_http_notify_delivery_conf_t *dc, uint32_t attempts,
    ngx_uint_t status, ngx_str_t *retry_after);
static void ngx_http_notify_scheduler_stored(ngx_http_notify_store_op_t *op);
static void ngx_http_notify_scheduler_tick(ngx_event_t *ev);
static void ngx_http_notify_scheduler_looked(
    ngx_http_notify_store_read_t *rd);
static void ngx_http_notify_scheduler_claimed(ngx_http_notify_store_op_t *op);
static void ngx_http_notify_scheduler_curl_done(
    ngx_http_notify_curl_req_t *req);


static ngx_http_notify_scheduler_t  ngx_http_notify_scheduler;


/*
 * The answer to an attempt.  No answer is a failed attempt; an answer is
 * judged by the target's dialect.  The outcome goes to the store; "dl"
 * must live until then.
 */

void
ngx_http_notify_scheduler_outcome(ngx_http_notify_delivery_t *dl,
    ngx_uint_t status, ngx_str_t *body, ngx_str_t *retry_after,
    const char *transport_error, ngx_log_t *log)
{
    u_char                           *p, *last;
    uint64_t                          delay, now;
    ngx_uint_t                        again;
    ngx_http_notify_verdict_e         verdict;
    ngx_http_notify_store_op_t       *op;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_outbound_conf();
    op = &dl->op;

    ngx_memzero(op, sizeof(ngx_http_notify_store_op_t));

    if (status == 0) {
        p = op->error;
        last = op->error + sizeof(op->error) - 1;

        p = ngx_slprintf(p, last, "no answer: %s",
                         transport_error ? transport_error : "unknown");
        *p = '\0';

        verdict = NGX_HTTP_NOTIFY_RETRY;

    } else {
        verdict = dl->target->dialect->judge(dl->target, status, body,
                                             op->error, sizeof(op->error));
    }

    /*
     * A 401 to an OAuth2 token: the token is dropped (if it is still the
     * cached one) and the entry is tried again at once with the next one,
     * outside of the breaker's count; unless that token was itself
     * fetched after a 401: then the 401 is the target's own refusal.
     */

    again = (status == 401 && dl->token
             && ngx_http_notify_oauth2_rejected(dl->target, dl->token, log));

    if (again) {
        verdict = NGX_HTTP_NOTIFY_RETRY;
    }

    op->seq = dl->seq;
    op->log = ngx_cycle->log;
    op->data = dl;
    op->done = ngx_http_notify_scheduler_stored;

    /*
     * The breaker: an answer the target means, even a refusal, is not a
     * failure; a 429 is neither (the target is there, and says when: its
     * entry waits as asked); 410 Gone disables the target (the entry waits
     * in the outbox).
     */

    if (status == 410) {
        ngx_http_notify_breaker_disable(0, &dl->target->dialect->name, log);
    }

    if (status != 429 && !again) {
        ngx_http_notify_breaker_outcome(0, verdict != NGX_HTTP_NOTIFY_RETRY,
                                        &dl->target->dialect->name, log);
    }

    switch (verdict) {

    case NGX_HTTP_NOTIFY_DELIVERED:
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "notify: delivered %016uxL (attempt %uD)",
                      dl->seq, dl->attempts + 1);

        if (dl->ctx) {
            ngx_str_set(&dl->ctx->delivery_status, "delivered");
        }

        op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_DONE;
        break;

    case NGX_HTTP_NOTIFY_GIVE_UP:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "notify: delivery of %016uxL failed (attempt %uD): %s;"
                      " given up, dropped", dl->seq, dl->attempts + 1,
                      op->error);

        if (dl->ctx) {
            ngx_str_set(&dl->ctx->delivery_status, "failed");
        }

        op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_DROP;
        break;

    default: /* NGX_HTTP_NOTIFY_RETRY */
        delay = again ? 0
                      : ngx_http_notify_scheduler_backoff(dc, dl->attempts,
                                                          status,
                                                          retry_after);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "notify: delivery of %016uxL failed (attempt %uD): %s;"
                      " next in %uLms", dl->seq, dl->attempts + 1, op->error,
                      delay);

        if (dl->ctx) {
            ngx_str_set(&dl->ctx->delivery_status, "failed");
        }

        now = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;

        op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY;
        op->due = now + delay;
    }

    ngx_http_notify_store_post(op);
}


/*
 * When to try again: exponential backoff with jitter, min * 2^attempts,
 * at most max; or as long as a 429 or 503 asks with Retry-After.
 */

static uint64_t
ngx_http_notify_scheduler_backoff(ngx_http_notify_delivery_conf_t *dc,
    uint32_t attempts, ngx_uint_t status, ngx_str_t *retry_after)
{
    time_t      t;
    uint64_t    delay;
    ngx_int_t   n;
    ngx_uint_t  i;

    delay = dc->retry_min;

    for (i = 0; i < attempts && delay < dc->retry_max; i++) {
        delay *= 2;
    }

    delay = ngx_min(delay, (uint64_t) dc->retry_max);
    delay = delay * (80 + ngx_random() % 41) / 100;

    if ((status == 429 || status == 503) && retry_after->len) {
        n = ngx_atoi(retry_after->data, retry_after->len);

        if (n == NGX_ERROR) {
            t = ngx_parse_http_time(retry_after->data, retry_after->len);
            n = (t == NGX_ERROR) ? NGX_ERROR : t - ngx_time();
        }

        if (n != NGX_ERROR && n >= 0) {
            delay = (uint64_t) n * 1000;
        }
    }

    return delay;
}


/*
 * The outcome is in the store.  notify_metrics counts it for the target
 * (the one there is today: index 0).
 */

static void
ngx_http_notify_scheduler_stored(ngx_http_notify_store_op_t *op)
{
    ngx_http_notify_delivery_t *dl = op->data;

    ngx_http_notify_result_e  result;

    if (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY && op->rc == NGX_OK
        && op->nexpired)
    {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "notify: delivery of %016uxL expired after %ui"
                      " attempts, dropped", dl->seq, op->max);
    }

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_OUTBOX_DONE:
        result = NGX_HTTP_NOTIFY_RESULT_DELIVERED;
        break;

    case NGX_HTTP_NOTIFY_OP_OUTBOX_DROP:
        result = NGX_HTTP_NOTIFY_RESULT_GIVE_UP;
        break;

    default: /* NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY */
        result = (op->rc == NGX_OK && op->nexpired)
                 ? NGX_HTTP_NOTIFY_RESULT_EXPIRED
                 : NGX_HTTP_NOTIFY_RESULT_RETRY;
    }

    ngx_http_notify_metrics_delivery(0, result, 1);

    ngx_destroy_pool(dl->pool);

    ngx_http_notify_delivery_arm(0);
}


/* the retries: a timer in one process */

ngx_int_t
ngx_http_notify_delivery_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_delivery_conf_t *dc)
{
    ngx_http_notify_scheduler_t  *dv;

    dv = &ngx_http_notify_scheduler;

    ngx_memzero(dv, sizeof(ngx_http_notify_scheduler_t));
    ngx_http_notify_outbound_init(dc);

    if (dc->url.len == 0 || !ngx_http_notify_store_ready()) {
        return NGX_OK;
    }

    if (!((ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0)
          || ngx_process == NGX_PROCESS_SINGLE))
    {
        return NGX_OK;
    }

    if (ngx_http_notify_curl_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    dv->active = 1;
    dv->timer_conn.fd = (ngx_socket_t) -1;
    dv->timer.handler = ngx_http_notify_scheduler_tick;
    dv->timer.data = &dv->timer_conn;
    dv->timer.log = cycle->log;
    dv->timer.cancelable = 1;

    ngx_add_timer(&dv->timer, 100);

    return NGX_OK;
}


void
ngx_http_notify_delivery_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_scheduler_t  *dv;

    dv = &ngx_http_notify_scheduler;

    if (!dv->active) {
        return;
    }

    if (dv->timer.timer_set) {
        ngx_del_timer(&dv->timer);
    }

    ngx_http_notify_curl_exit_process(cycle);
    ngx_http_notify_oauth2_exit_process();
    ngx_http_notify_store_claim_free(&dv->claim);
    dv->active = 0;
}


/* look again soon ("delay" msec), unless a look is due sooner */

void
ngx_http_notify_delivery_arm(ngx_msec_t delay)
{
    ngx_http_notify_scheduler_t  *dv;

    dv = &ngx_http_notify_scheduler;

    if (!dv->active || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (dv->timer.timer_set) {
        if (dv->timer.timer.key <= ngx_current_msec + delay) {
            return;
        }

        ngx_del_timer(&dv->timer);
    }

    ngx_add_timer(&dv->timer, delay);
}


static void
ngx_http_notify_scheduler_tick(ngx_event_t *ev)
{
    ngx_http_notify_scheduler_t   *dv;
    ngx_http_notify_store_read_t  *rd;

    dv = &ngx_http_notify_scheduler;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (dv->claiming || ngx_http_notify_outbound_places() == 0) {
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    /* a look without writing: is anything due?  (answered now or later) */

    rd = &dv->look;
    ngx_memzero(rd, sizeof(ngx_http_notify_store_read_t));

    rd->type = NGX_HTTP_NOTIFY_READ_NEXT_DUE;
    rd->done = ngx_http_notify_scheduler_looked;
    rd->log = ev->log;

    dv->claiming = 1;

    ngx_http_notify_store_read(rd);
}


static void
ngx_http_notify_scheduler_looked(ngx_http_notify_store_read_t *rd)
{
    uint64_t                          due, now;
    ngx_int_t                         rc;
    ngx_uint_t                        n;
    ngx_msec_t                        wait;
    ngx_http_notify_scheduler_t      *dv;
    ngx_http_notify_store_op_t       *op;
    ngx_http_notify_delivery_conf_t  *dc;

    dv = &ngx_http_notify_scheduler;
    dv->claiming = 0;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (rd->rc != NGX_OK) {
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    due = rd->due;
    now = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;

    if (due == 0 || due > now) {
        ngx_http_notify_delivery_arm(due ? ngx_min(due - now, 1000) : 1000);
        return;
    }

    dc = ngx_http_notify_outbound_conf();

    /*
     * a target with OAuth2: nothing is claimed without its token; the
     * fetch of this process arms the timer when it ends
     */

    if (ngx_http_notify_oauth2_wait(&dc->target, &wait, rd->log) != NGX_OK) {
        ngx_http_notify_delivery_arm(ngx_min(wait, 1000));
        return;
    }

    /* the target's breaker: open, nothing; half-open, one probe */

    rc = ngx_http_notify_breaker_allow(0, &dc->target.dialect->name, &wait,
                                       rd->log);

    if (rc == NGX_DECLINED) {
        ngx_http_notify_delivery_arm(ngx_min(wait, 1000));
        return;
    }

    dv->probe = (rc == NGX_DONE);

    /* notify_delivery_rate: as many as the bucket allows now */

    n = ngx_http_notify_rate_take(0, dv->probe
                                     ? 1 : ngx_http_notify_outbound_places(),
                                  &wait);
    if (n == 0) {
        if (dv->probe) {
            dv->probe = 0;
            ngx_http_notify_breaker_unprobe(0);
        }

        ngx_http_notify_delivery_arm(ngx_min(wait, 1000));
        return;
    }

    op = &dv->claim;
    ngx_http_notify_store_claim_free(op);
    ngx_memzero(op, sizeof(ngx_http_notify_store_op_t));

    op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM;
    op->max = n;
    op->due = dc->timeout + 5000;           /* the lease of an attempt */
    op->done = ngx_http_notify_scheduler_claimed;
    op->log = rd->log;

    dv->claiming = 1;

    ngx_http_notify_store_post(op);
}


static void
ngx_http_notify_scheduler_claimed(ngx_http_notify_store_op_t *op)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, started;
    ngx_pool_t                   *pool;
    ngx_http_notify_claim_t      *cl;
    ngx_http_notify_delivery_t   *dl;
    ngx_http_notify_scheduler_t  *dv;

    dv = &ngx_http_notify_scheduler;
    dv->claiming = 0;
    started = 0;

    if (op->rc != NGX_OK) {
        ngx_http_notify_rate_give_back(0, op->max);

        if (dv->probe) {
            dv->probe = 0;
            ngx_http_notify_breaker_unprobe(0);
        }

        ngx_http_notify_store_claim_free(op);
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    for (i = 0; i < op->nexpired; i++) {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "notify: delivery of %016uxL expired, dropped",
                      op->expired[i]);
    }

    ngx_http_notify_metrics_delivery(0, NGX_HTTP_NOTIFY_RESULT_EXPIRED,
                                     op->nexpired);

    for (i = 0; i < op->nclaimed; i++) {
        cl = &op->claimed[i];

        pool = ngx_create_pool(2048, ngx_cycle->log);
        if (pool == NULL) {
            break;
        }

        dl = ngx_pcalloc(pool, sizeof(ngx_http_notify_delivery_t));
        if (dl == NULL) {
            ngx_destroy_pool(pool);
            break;
        }

        dl->pool = pool;
        dl->attempts = cl->attempts;

        rc = (cl->note == NULL)
             ? NGX_ERROR
             : ngx_http_notify_outbound_prepare(dl, cl->seq, cl->note,
                                                cl->note_len, NULL, NULL, 0,
                                                cl->recipients,
                                                cl->recipients_len);

        if (rc != NGX_OK) {
            if (rc == NGX_DECLINED) {

                /* the target's token went meanwhile (a 401): soon again */

                ngx_cpystrn(dl->op.error, (u_char *) "no OAuth2 token yet",
                            sizeof(dl->op.error));
                dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY;
                dl->op.due = (uint64_t) ngx_time() * 1000 + 1000;

            } else {
                ngx_log_error(NGX_LOG_ERR, op->log, 0,
                              "notify: the outbox entry %016uxL has no"
                              " readable notification, dropped", cl->seq);

                dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_DROP;
            }

            dl->op.seq = cl->seq;
            dl->op.data = dl;
            dl->op.log = ngx_cycle->log;
            dl->op.done = ngx_http_notify_scheduler_stored;
            ngx_http_notify_store_post(&dl->op);
            continue;
        }

        dl->curl.method = dl->request.method_name;
        dl->curl.url = dl->request.url;
        dl->curl.body = dl->request.body;
        dl->curl.headers = &dl->request.headers;
        dl->curl.timeout = ngx_http_notify_outbound_conf()->timeout;
        dl->curl.done = ngx_http_notify_scheduler_curl_done;
        dl->curl.data = dl;
        dl->curl.log = ngx_cycle->log;

        if (ngx_http_notify_curl_send(&dl->curl) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, op->log, 0,
                          "notify: cannot start a delivery of %016uxL",
                          cl->seq);
            ngx_destroy_pool(pool);
            continue;
        }

        (void) ngx_http_notify_outbound_reserve();
        started++;
    }

    ngx_http_notify_rate_give_back(0, op->max - started);

    if (dv->probe) {
        dv->probe = 0;

        if (started == 0) {
            ngx_http_notify_breaker_unprobe(0);
        }
    }

    ngx_http_notify_store_claim_free(op);

    /* more may be due: look again soon while there is room */

    ngx_http_notify_delivery_arm(op->nclaimed == op->max ? 10 : 500);
}


static void
ngx_http_notify_scheduler_curl_done(ngx_http_notify_curl_req_t *req)
{
    ngx_http_notify_delivery_t *dl = req->data;

    ngx_http_notify_outbound_release();

    ngx_http_notify_scheduler_outcome(dl, req->status, &req->response,
                                      &req->retry_after, req->error,
                                      ngx_cycle->log);
}



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
 * delivered or expires (notify_push_days_before).  Every claim asks for
 * every target, one that may not be attempted now with a quota of 0, so
 * that what is past its expiry expires even when no claim reaches it.
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


/*
 * When no target may be attempted, a claim that only expires what is past
 * its expiry runs this often at most (msec)
 */
#define NGX_HTTP_NOTIFY_SCHEDULER_EXPIRE  1000


typedef struct {
    ngx_event_t                       timer;
    ngx_connection_t                  timer_conn;
    ngx_http_notify_store_op_t        claim;
    ngx_http_notify_store_read_t      look;        /* is anything due? */

    /* the claim's targets: each one's quota, its target, whether it is
       its breaker's probe */
    ngx_http_notify_claim_quota_t     quota[NGX_HTTP_NOTIFY_BREAKER_TARGETS];
    ngx_http_notify_target_t         *target[NGX_HTTP_NOTIFY_BREAKER_TARGETS];
    u_char                            probe[NGX_HTTP_NOTIFY_BREAKER_TARGETS];
    ngx_uint_t                        started[NGX_HTTP_NOTIFY_BREAKER_TARGETS];
    ngx_str_t                         names[NGX_HTTP_NOTIFY_BREAKER_TARGETS];

    ngx_msec_t                        expired_at;  /* the last claim */
    ngx_msec_t                        next;        /* its next look, if
                                                      it claims nothing */

    unsigned                          claiming:1;  /* a look or a claim */
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
static void ngx_http_notify_scheduler_unclaim(ngx_http_notify_scheduler_t *dv,
    ngx_uint_t nquota);
static ngx_uint_t ngx_http_notify_scheduler_room(void);
static ngx_uint_t ngx_http_notify_scheduler_share(
    ngx_http_notify_target_t *t, u_char *probe, ngx_msec_t *next,
    ngx_log_t *log);


static ngx_http_notify_scheduler_t  ngx_http_notify_scheduler;


/* dead letters that made room for newer ones (the oldest to die) */

static void
ngx_http_notify_scheduler_dead_bound(ngx_http_notify_store_op_t *op)
{
    if (op->rc == NGX_OK && op->count) {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "notify: %ui oldest dead letters removed: at most %ui"
                      " are kept (notify_delivery_dead_letters)",
                      op->count, ngx_http_notify_store_dead_letters());
    }
}


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
    ngx_uint_t                        slot;
    ngx_http_notify_verdict_e         verdict;
    ngx_http_notify_store_op_t       *op;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = dl->target->delivery;
    slot = ngx_http_notify_outbound_slot(dl->target);
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
    op->entry = dl->entry;
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
        ngx_http_notify_breaker_disable(slot, &dl->target->name, log);
    }

    if (status != 429 && !again) {
        ngx_http_notify_breaker_outcome(slot,
                                        verdict != NGX_HTTP_NOTIFY_RETRY,
                                        &dl->target->name, log);
    }

    switch (verdict) {

    case NGX_HTTP_NOTIFY_DELIVERED:
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "notify: delivered %016uxL (attempt %uD); target"
                      " \"%V\"",
                      dl->seq, dl->attempts + 1, &dl->target->name);

        if (dl->ctx) {
            ngx_str_set(&dl->ctx->delivery_status, "delivered");
        }

        op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_DONE;
        break;

    case NGX_HTTP_NOTIFY_GIVE_UP:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "notify: delivery of %016uxL failed (attempt %uD): %s;"
                      " given up, dropped; target \"%V\"", dl->seq,
                      dl->attempts + 1, op->error, &dl->target->name);

        if (dl->ctx) {
            ngx_str_set(&dl->ctx->delivery_status, "failed");
        }

        op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_DROP;
        op->dead = 1;
        break;

    default: /* NGX_HTTP_NOTIFY_RETRY */
        delay = again ? 0
                      : ngx_http_notify_scheduler_backoff(dc, dl->attempts,
                                                          status,
                                                          retry_after);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "notify: delivery of %016uxL failed (attempt %uD): %s;"
                      " next in %uLms; target \"%V\"", dl->seq,
                      dl->attempts + 1, op->error, delay, &dl->target->name);

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


/* the outcome is in the store; notify_metrics counts it for the target */

static void
ngx_http_notify_scheduler_stored(ngx_http_notify_store_op_t *op)
{
    ngx_http_notify_delivery_t *dl = op->data;

    ngx_http_notify_result_e  result;

    if (op->rc == NGX_OK && op->replaced) {
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "notify: delivery of %016uxL replaced by a newer one"
                      " of its chain while in flight, removed; target"
                      " \"%V\"", dl->seq, &dl->target->name);

    } else if (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY
               && op->rc == NGX_OK && op->nexpired)
    {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "notify: delivery of %016uxL expired after %ui"
                      " attempts, dropped; target \"%V\"", dl->seq, op->max,
                      &dl->target->name);
    }

    ngx_http_notify_scheduler_dead_bound(op);

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

    ngx_http_notify_metrics_delivery(
        ngx_http_notify_outbound_slot(dl->target), result, 1);

    ngx_destroy_pool(dl->pool);

    ngx_http_notify_delivery_arm(0);
}


/* the retries: a timer in one process */

ngx_int_t
ngx_http_notify_delivery_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_delivery_conf_t *dc)
{
    ngx_uint_t                     i;
    ngx_http_notify_target_t     **tp;
    ngx_http_notify_scheduler_t   *dv;

    dv = &ngx_http_notify_scheduler;

    ngx_memzero(dv, sizeof(ngx_http_notify_scheduler_t));
    ngx_http_notify_outbound_init(dc);

    tp = dc->all.elts;

    for (i = 0; i < dc->all.nelts; i++) {
        dv->names[i] = tp[i]->name;
    }

    if (dc->all.nelts == 0 || !ngx_http_notify_store_ready()) {
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

    if (dv->claiming || !ngx_http_notify_scheduler_room()) {
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    /* a look without writing: is anything due?  (answered now or later) */

    rd = &dv->look;
    ngx_memzero(rd, sizeof(ngx_http_notify_store_read_t));

    rd->type = NGX_HTTP_NOTIFY_READ_NEXT_DUE;
    rd->targets = dv->names;
    rd->ntargets = ngx_http_notify_outbound_conf()->all.nelts;
    rd->done = ngx_http_notify_scheduler_looked;
    rd->log = ev->log;

    dv->claiming = 1;

    ngx_http_notify_store_read(rd);
}


static void
ngx_http_notify_scheduler_looked(ngx_http_notify_store_read_t *rd)
{
    uint64_t                          due, now;
    ngx_uint_t                        n, nq, max;
    ngx_msec_t                        next, lease;
    ngx_http_notify_target_t         *t, **tp;
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
    tp = dc->all.elts;

    /*
     * Each target's share of the claim: its places, if its breaker is
     * closed (open, nothing; half-open, one probe) and as many as its
     * rate allows now; the entries of a target gone since a reload are
     * not claimed (they stay, listed, in the outbox).  A target that
     * may not be attempted now is in the claim too, its share 0: the
     * claim expires what of it is past its expiry
     */

    next = 1000;
    lease = 0;
    max = 0;

    for (nq = 0; nq < dc->all.nelts; nq++) {
        t = tp[nq];

        dv->probe[nq] = 0;
        n = ngx_http_notify_scheduler_share(t, &dv->probe[nq], &next,
                                            rd->log);

        dv->quota[nq].target = t->name;
        dv->quota[nq].max = n;
        dv->target[nq] = t;
        dv->started[nq] = 0;
        max += n;

        if (n) {
            lease = ngx_max(lease, ((ngx_http_notify_delivery_conf_t *)
                                    t->delivery)->timeout);
        }
    }

    /*
     * nothing to attempt: only what is past its expiry expires, a look
     * every NGX_HTTP_NOTIFY_SCHEDULER_EXPIRE msec at most
     */

    if (max == 0
        && (ngx_msec_int_t) (ngx_current_msec - dv->expired_at)
           < NGX_HTTP_NOTIFY_SCHEDULER_EXPIRE)
    {
        ngx_http_notify_delivery_arm(next);
        return;
    }

    dv->expired_at = ngx_current_msec;
    dv->next = next;

    op = &dv->claim;

    ngx_http_notify_store_claim_free(op);
    ngx_memzero(op, sizeof(ngx_http_notify_store_op_t));

    op->type = NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM;
    op->quota = dv->quota;
    op->nquota = nq;
    op->max = max;
    op->expire = NGX_HTTP_NOTIFY_EXPIRE_LOOK;

    op->due = lease + 5000;                 /* the lease of an attempt */
    op->done = ngx_http_notify_scheduler_claimed;
    op->log = rd->log;

    dv->claiming = 1;

    ngx_http_notify_store_post(op);
}


/*
 * A target's share of a claim: its places, if its breaker lets it be
 * attempted (*probe: as its half-open breaker's probe, one) and as many
 * as its rate allows now; 0: none now, *next the msec until it may be
 * looked at again if sooner
 */

static ngx_uint_t
ngx_http_notify_scheduler_share(ngx_http_notify_target_t *t, u_char *probe,
    ngx_msec_t *next, ngx_log_t *log)
{
    ngx_int_t   rc;
    ngx_uint_t  n, slot;
    ngx_msec_t  wait;

    slot = ngx_http_notify_outbound_slot(t);

    n = ngx_http_notify_outbound_places(t);
    if (n == 0) {
        return 0;
    }

    /*
     * a target with OAuth2: nothing is claimed without its token; the
     * fetch of this process arms the timer when it ends.  No token is
     * fetched for a target its breaker keeps from being attempted
     */

    if (ngx_http_notify_breaker_wait(slot, &wait) == NGX_DECLINED) {
        *next = ngx_min(*next, wait);
        return 0;
    }

    if (ngx_http_notify_oauth2_wait(t, &wait, log) != NGX_OK) {
        *next = ngx_min(*next, wait);
        return 0;
    }

    rc = ngx_http_notify_breaker_allow(slot, &t->name, &wait, log);

    if (rc == NGX_DECLINED) {
        *next = ngx_min(*next, wait);
        return 0;
    }

    *probe = (rc == NGX_DONE);

    n = ngx_http_notify_rate_take(slot, *probe ? 1 : n, &wait);

    if (n == 0) {
        if (*probe) {
            ngx_http_notify_breaker_unprobe(slot);
            *probe = 0;
        }

        *next = ngx_min(*next, wait);
    }

    return n;
}


/* whether any target has a place for an attempt */

static ngx_uint_t
ngx_http_notify_scheduler_room(void)
{
    ngx_uint_t                        i;
    ngx_http_notify_target_t        **tp;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_outbound_conf();
    tp = dc->all.elts;

    for (i = 0; i < dc->all.nelts; i++) {
        if (ngx_http_notify_outbound_places(tp[i])) {
            return 1;
        }
    }

    return 0;
}


/* what a claim did not use goes back: rates, probes */

static void
ngx_http_notify_scheduler_unclaim(ngx_http_notify_scheduler_t *dv,
    ngx_uint_t nquota)
{
    ngx_uint_t  q, slot;

    for (q = 0; q < nquota; q++) {
        slot = ngx_http_notify_outbound_slot(dv->target[q]);

        ngx_http_notify_rate_give_back(slot,
                                       dv->quota[q].max - dv->started[q]);

        if (dv->probe[q] && dv->started[q] == 0) {
            ngx_http_notify_breaker_unprobe(slot);
        }

        dv->probe[q] = 0;
    }
}


static void
ngx_http_notify_scheduler_claimed(ngx_http_notify_store_op_t *op)
{
    ngx_int_t                         rc;
    ngx_str_t                         name;
    ngx_uint_t                        i, q;
    ngx_pool_t                       *pool;
    ngx_http_notify_claim_t          *cl;
    ngx_http_notify_target_t         *t;
    ngx_http_notify_delivery_t       *dl;
    ngx_http_notify_scheduler_t      *dv;
    ngx_http_notify_delivery_conf_t  *tdc;

    dv = &ngx_http_notify_scheduler;
    dv->claiming = 0;

    if (op->rc != NGX_OK) {
        ngx_http_notify_scheduler_unclaim(dv, op->nquota);
        ngx_http_notify_store_claim_free(op);
        ngx_http_notify_delivery_arm(1000);
        return;
    }

    ngx_http_notify_scheduler_dead_bound(op);

    for (i = 0; i < op->nexpired; i++) {
        t = dv->target[op->expired_quota[i]];

        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "notify: delivery of %016uxL expired, dropped;"
                      " target \"%V\"", op->expired[i], &t->name);

        ngx_http_notify_metrics_delivery(ngx_http_notify_outbound_slot(t),
                                         NGX_HTTP_NOTIFY_RESULT_EXPIRED, 1);
    }

    for (i = 0; i < op->nclaimed; i++) {
        cl = &op->claimed[i];

        name.data = cl->target;
        name.len = cl->target_len;

        for (q = 0; q < op->nquota; q++) {
            if (dv->quota[q].target.len == name.len
                && ngx_strncmp(dv->quota[q].target.data, name.data, name.len)
                   == 0)
            {
                break;
            }
        }

        if (q == op->nquota) {
            continue;       /* not asked for: its lease lets it go */
        }

        t = dv->target[q];
        tdc = t->delivery;

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
        dl->target = t;

        rc = (cl->note == NULL)
             ? NGX_ERROR
             : ngx_http_notify_outbound_prepare(dl, t, cl->seq, cl->entry,
                                                cl->part, cl->note,
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
                              "notify: the outbox entry %016uxL for \"%V\""
                              " has no readable notification, dropped",
                              cl->seq, &t->name);

                dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_DROP;
            }

            dl->op.seq = cl->seq;
            dl->op.entry = cl->entry;
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
        dl->curl.timeout = tdc->timeout;
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

        (void) ngx_http_notify_outbound_reserve(t);
        dv->started[q]++;
    }

    ngx_http_notify_scheduler_unclaim(dv, op->nquota);
    ngx_http_notify_store_claim_free(op);

    /*
     * more may be due: look again soon while there is room; nothing was
     * asked for (only what is past its expiry expired): when a target
     * may be attempted again
     */

    ngx_http_notify_delivery_arm(op->max == 0 ? dv->next
                                 : op->nclaimed == op->max ? 10 : 500);
}


static void
ngx_http_notify_scheduler_curl_done(ngx_http_notify_curl_req_t *req)
{
    ngx_http_notify_delivery_t *dl = req->data;

    ngx_http_notify_outbound_release(dl->target);

    ngx_http_notify_scheduler_outcome(dl, req->status, &req->response,
                                      &req->retry_after, req->error,
                                      ngx_cycle->log);
}


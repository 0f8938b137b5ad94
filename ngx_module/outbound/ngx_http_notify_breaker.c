
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The targets' circuit breakers, in a shared memory zone of their own
 * ("notify_breaker", kept across reloads): one slot of atomics a target,
 * changed without a lock (a compare-and-set decides each change of state,
 * so that one process logs it).  Times are nginx's monotonic msec, the
 * same clock in every process of the machine.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_breaker.h"


/* a probe that never reported (its worker went away) is made again */
#define NGX_HTTP_NOTIFY_BREAKER_PROBE_LOST  NGX_HTTP_NOTIFY_LEASE


typedef struct {
    ngx_atomic_t                name_len;      /* the target's, whose slot
                                                  this is; 0: free */
    u_char                      name[NGX_HTTP_NOTIFY_TARGET_NAME_LEN];
    ngx_atomic_t                tat;           /* usec: the bucket's
                                                  theoretical arrival
                                                  time (GCRA) */
    ngx_atomic_t                state;
    ngx_atomic_t                failures;      /* in a row */
    ngx_atomic_t                opened_at;     /* msec */
    ngx_atomic_t                probe_at;      /* msec */
    ngx_atomic_t                opened;        /* times */
    ngx_atomic_t                slow_until;    /* msec: no first attempt
                                                  before (a slow one) */
} ngx_http_notify_breaker_slot_t;


typedef struct {
    ngx_http_notify_breaker_slot_t  slot[NGX_HTTP_NOTIFY_BREAKER_TARGETS];
} ngx_http_notify_breaker_shm_t;


static ngx_int_t ngx_http_notify_breaker_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_notify_breaker_slot_t *ngx_http_notify_breaker_slot(
    ngx_uint_t target);


static ngx_str_t  ngx_http_notify_breaker_zone_name =
    ngx_string("notify_breaker");

static ngx_http_notify_breaker_shm_t   *ngx_http_notify_breaker_shm;
static ngx_slab_pool_t                 *ngx_http_notify_breaker_shpool;

/* each slot's target's settings, in this process */
static ngx_http_notify_breaker_conf_t
    *ngx_http_notify_breaker_confs[NGX_HTTP_NOTIFY_BREAKER_TARGETS];


/* notify_delivery_breaker failures cooldown | off */

char *
ngx_http_notify_breaker_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t                        n;
    ngx_str_t                       *value;
    ngx_msec_t                       ms;
    ngx_http_notify_breaker_conf_t  *bc;

    bc = (ngx_http_notify_breaker_conf_t *) (p + cmd->offset);

    if (bc->failures != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "off") == 0) {
            bc->failures = 0;
            return NGX_CONF_OK;
        }

        return "takes a number of failures and a time, or \"off\"";
    }

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of failures \"%V\" in \"%V\","
                           " it must be 1 or more", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    ms = ngx_parse_time(&value[2], 0);
    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cool-down \"%V\" in \"%V\", it must be"
                           " a time more than 0", &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    bc->failures = n;
    bc->cooldown = ms;

    return NGX_CONF_OK;
}


void
ngx_http_notify_breaker_create_conf(ngx_http_notify_breaker_conf_t *bc)
{
    bc->failures = NGX_CONF_UNSET_UINT;
    bc->cooldown = NGX_CONF_UNSET_MSEC;
    bc->interval = (uint64_t) NGX_CONF_UNSET;
}


/* notify_delivery_rate <n>r/s | <n>r/m [burst=<n>] */

char *
ngx_http_notify_rate_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    size_t                           len;
    u_char                          *unit;
    ngx_int_t                        n, per, burst;
    ngx_str_t                       *value;
    ngx_http_notify_breaker_conf_t  *bc;

    bc = (ngx_http_notify_breaker_conf_t *) (p + cmd->offset);

    if (bc->interval != (uint64_t) NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    len = value[1].len;
    unit = value[1].data + len - 3;
    per = 0;

    if (len > 3 && ngx_strncmp(unit, "r/s", 3) == 0) {
        per = 1;

    } else if (len > 3 && ngx_strncmp(unit, "r/m", 3) == 0) {
        per = 60;
    }

    n = per ? ngx_atoi(value[1].data, len - 3) : NGX_ERROR;

    if (n == NGX_ERROR || n == 0 || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\" in \"%V\", it must be like"
                           " \"5r/s\" or \"10r/m\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    burst = 0;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "burst=", 6) != 0
            || (burst = ngx_atoi(value[2].data + 6, value[2].len - 6))
               == NGX_ERROR)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\", it"
                               " must be \"burst=<number>\"", &value[2],
                               &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    bc->interval = (uint64_t) per * 1000000 / n;
    bc->burst = burst;

    return NGX_CONF_OK;
}


/* the zone exists when there is a target */

char *
ngx_http_notify_breaker_init_conf(ngx_conf_t *cf,
    ngx_http_notify_breaker_conf_t *bc)
{
    ngx_shm_zone_t  *shm_zone;

    ngx_conf_init_uint_value(bc->failures, 5);
    ngx_conf_init_msec_value(bc->cooldown, 30000);

    if (bc->interval == (uint64_t) NGX_CONF_UNSET) {
        bc->interval = 0;
        bc->burst = 0;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_notify_breaker_zone_name,
                                     8 * ngx_pagesize,
                                     &ngx_http_notify_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_notify_breaker_init_zone;
    bc->zone = shm_zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_notify_breaker_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                *shpool;
    ngx_http_notify_breaker_shm_t  *sh;

    if (data) {
        shm_zone->data = data;      /* a reload: the state goes on */
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_notify_breaker_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


void
ngx_http_notify_breaker_init_process(ngx_http_notify_breaker_conf_t *bc)
{
    ngx_memzero(ngx_http_notify_breaker_confs,
                sizeof(ngx_http_notify_breaker_confs));

    ngx_http_notify_breaker_shm = (bc && bc->zone) ? bc->zone->data : NULL;
    ngx_http_notify_breaker_shpool = (bc && bc->zone)
                          ? (ngx_slab_pool_t *) bc->zone->shm.addr : NULL;
}


/*
 * A target's slot, found by its name, so that its state survives a reload
 * that reorders or removes targets: the slot that has the name, else a
 * free one, else one whose target is none of "live" (gone since a
 * reload: it starts afresh).  NGX_HTTP_NOTIFY_BREAKER_TARGETS: none (no
 * breaker, no rate).
 */

ngx_uint_t
ngx_http_notify_breaker_attach(ngx_str_t *name,
    ngx_http_notify_breaker_conf_t *bc, ngx_str_t **live, ngx_uint_t nlive)
{
    ngx_uint_t                       i, j, found, taken;
    ngx_http_notify_breaker_slot_t  *s;

    if (ngx_http_notify_breaker_shm == NULL || name->len == 0
        || name->len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN)
    {
        return NGX_HTTP_NOTIFY_BREAKER_TARGETS;
    }

    s = ngx_http_notify_breaker_shm->slot;
    found = NGX_HTTP_NOTIFY_BREAKER_TARGETS;

    ngx_shmtx_lock(&ngx_http_notify_breaker_shpool->mutex);

    for (i = 0; i < NGX_HTTP_NOTIFY_BREAKER_TARGETS; i++) {
        if (s[i].name_len == name->len
            && ngx_memcmp(s[i].name, name->data, name->len) == 0)
        {
            found = i;
            goto done;
        }
    }

    for (i = 0; i < NGX_HTTP_NOTIFY_BREAKER_TARGETS; i++) {
        if (s[i].name_len == 0) {
            found = i;
            break;
        }
    }

    for (i = 0;
         found == NGX_HTTP_NOTIFY_BREAKER_TARGETS
         && i < NGX_HTTP_NOTIFY_BREAKER_TARGETS;
         i++)
    {
        taken = 0;

        for (j = 0; j < nlive; j++) {
            if (s[i].name_len == live[j]->len
                && ngx_memcmp(s[i].name, live[j]->data, live[j]->len) == 0)
            {
                taken = 1;
                break;
            }
        }

        if (!taken) {
            found = i;
        }
    }

    if (found < NGX_HTTP_NOTIFY_BREAKER_TARGETS) {
        ngx_memzero(&s[found], sizeof(ngx_http_notify_breaker_slot_t));
        ngx_memcpy(s[found].name, name->data, name->len);
        s[found].name_len = name->len;
    }

done:

    ngx_shmtx_unlock(&ngx_http_notify_breaker_shpool->mutex);

    if (found < NGX_HTTP_NOTIFY_BREAKER_TARGETS) {
        ngx_http_notify_breaker_confs[found] = bc;
    }

    return found;
}


static ngx_http_notify_breaker_slot_t *
ngx_http_notify_breaker_slot(ngx_uint_t target)
{
    if (ngx_http_notify_breaker_shm == NULL
        || target >= NGX_HTTP_NOTIFY_BREAKER_TARGETS
        || ngx_http_notify_breaker_confs[target] == NULL)
    {
        return NULL;
    }

    return &ngx_http_notify_breaker_shm->slot[target];
}


/*
 * A first attempt goes only through a closed breaker, and not while the
 * target's first attempts are slow (see ngx_http_notify_breaker_slow())
 */

ngx_uint_t
ngx_http_notify_breaker_first(ngx_uint_t target)
{
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);

    if (s == NULL) {
        return 1;
    }

    return s->state == NGX_HTTP_NOTIFY_BREAKER_CLOSED
           && (ngx_msec_int_t) (s->slow_until - ngx_current_msec) <= 0;
}


/*
 * A first attempt held its caller's connection for "held" ms, longer than
 * a fifth of its first_timeout, and was answered: the target is reachable
 * but slow, and a keep-alive caller would wait as long for every
 * notification.  For the breaker's cool-down the target's entries get no
 * first attempt; the timer sends them, which holds no caller.  The process
 * that marks it logs it.  Not with "notify_delivery_breaker off".
 */

void
ngx_http_notify_breaker_slow(ngx_uint_t target, ngx_str_t *name,
    ngx_msec_t held, ngx_log_t *log)
{
    ngx_msec_t                       now;
    ngx_atomic_uint_t                until;
    ngx_http_notify_breaker_conf_t  *bc;
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);

    if (s == NULL) {
        return;
    }

    bc = ngx_http_notify_breaker_confs[target];

    if (bc->failures == 0) {
        return;
    }

    now = ngx_current_msec;
    until = s->slow_until;

    if ((ngx_msec_int_t) (until - now) > 0) {
        return;                                 /* marked already */
    }

    if (!ngx_atomic_cmp_set(&s->slow_until, until, now + bc->cooldown)) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "notify: target \"%V\": a first attempt held its caller"
                  " %Mms, more than a fifth of its first_timeout; its first"
                  " attempts are left to the timer for %Mms",
                  name, held, bc->cooldown);
}


/*
 * Whether the target may be attempted, without changing its state: NGX_OK
 * (closed), NGX_AGAIN (a probe may be tried: its cool-down is over, or the
 * last probe is lost) or NGX_DECLINED (disabled, cooling down or probing),
 * with how long to wait in "wait"
 */

ngx_int_t
ngx_http_notify_breaker_wait(ngx_uint_t target, ngx_msec_t *wait)
{
    ngx_msec_t                       now, cooldown;
    ngx_msec_int_t                   elapsed;
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);

    if (s == NULL || s->state == NGX_HTTP_NOTIFY_BREAKER_CLOSED) {
        return NGX_OK;
    }

    now = ngx_current_msec;
    cooldown = ngx_http_notify_breaker_confs[target]->cooldown;
    *wait = 1000;

    if (s->state == NGX_HTTP_NOTIFY_BREAKER_DISABLED) {
        return NGX_DECLINED;
    }

    if (s->state == NGX_HTTP_NOTIFY_BREAKER_OPEN) {
        elapsed = (ngx_msec_int_t) (now - (ngx_msec_t) s->opened_at);

        if (elapsed >= 0 && (ngx_msec_t) elapsed < cooldown) {
            *wait = cooldown - elapsed;
            return NGX_DECLINED;
        }

        return NGX_AGAIN;
    }

    return ((ngx_msec_int_t) (now - (ngx_msec_t) s->probe_at)
            < NGX_HTTP_NOTIFY_BREAKER_PROBE_LOST)
           ? NGX_DECLINED : NGX_AGAIN;
}


ngx_int_t
ngx_http_notify_breaker_allow(ngx_uint_t target, ngx_str_t *name,
    ngx_msec_t *wait, ngx_log_t *log)
{
    ngx_msec_t                       now;
    ngx_int_t                        rc;
    ngx_atomic_uint_t                at;
    ngx_http_notify_breaker_slot_t  *s;

    rc = ngx_http_notify_breaker_wait(target, wait);
    if (rc != NGX_AGAIN) {
        return rc;
    }

    s = ngx_http_notify_breaker_slot(target);
    now = ngx_current_msec;

    if (s->state == NGX_HTTP_NOTIFY_BREAKER_OPEN) {
        s->probe_at = now;

        if (!ngx_atomic_cmp_set(&s->state, NGX_HTTP_NOTIFY_BREAKER_OPEN,
                                NGX_HTTP_NOTIFY_BREAKER_PROBING))
        {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "notify: target \"%V\": breaker half-open, one attempt"
                      " probes it", name);

        return NGX_DONE;
    }

    /* probing: another attempt only if that one was lost */

    at = s->probe_at;

    if ((ngx_msec_int_t) (now - (ngx_msec_t) at)
        < NGX_HTTP_NOTIFY_BREAKER_PROBE_LOST
        || !ngx_atomic_cmp_set(&s->probe_at, at, now))
    {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "notify: target \"%V\": breaker half-open, the probe did"
                  " not report, another one", name);

    return NGX_DONE;
}


/*
 * The rate: GCRA, a token bucket kept as one time.  An attempt may be made
 * while the bucket's time is at most "burst" intervals ahead of now; each
 * attempt moves it one interval on.
 */

ngx_uint_t
ngx_http_notify_rate_take(ngx_uint_t target, ngx_uint_t n, ngx_msec_t *wait)
{
    uint64_t                         now, tat, next, limit, interval;
    ngx_uint_t                       taken;
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);
    interval = s ? ngx_http_notify_breaker_confs[target]->interval : 0;

    if (s == NULL || interval == 0) {
        return n;
    }

    limit = ngx_http_notify_breaker_confs[target]->burst * interval;
    taken = 0;

    while (taken < n) {
        now = (uint64_t) ngx_current_msec * 1000;
        tat = s->tat;
        next = ngx_max(tat, now);

        if (next - now > limit) {
            *wait = (ngx_msec_t) ((next - now - limit) / 1000 + 1);
            break;
        }

        if (ngx_atomic_cmp_set(&s->tat, tat, next + interval)) {
            taken++;
        }
    }

    return taken;
}


void
ngx_http_notify_rate_give_back(ngx_uint_t target, ngx_uint_t n)
{
    uint64_t                         tat, back;
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);

    if (s == NULL || n == 0
        || ngx_http_notify_breaker_confs[target]->interval == 0)
    {
        return;
    }

    back = n * ngx_http_notify_breaker_confs[target]->interval;

    do {
        tat = s->tat;
    } while (!ngx_atomic_cmp_set(&s->tat, tat, tat > back ? tat - back : 0));
}


/* the probe could not be made: the next look makes it */

void
ngx_http_notify_breaker_unprobe(ngx_uint_t target)
{
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);

    if (s != NULL) {
        (void) ngx_atomic_cmp_set(&s->state, NGX_HTTP_NOTIFY_BREAKER_PROBING,
                                  NGX_HTTP_NOTIFY_BREAKER_OPEN);
    }
}


void
ngx_http_notify_breaker_outcome(ngx_uint_t target, ngx_uint_t ok,
    ngx_str_t *name, ngx_log_t *log)
{
    ngx_atomic_uint_t                n, state;
    ngx_http_notify_breaker_conf_t  *bc;
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);
    if (s == NULL) {
        return;
    }

    bc = ngx_http_notify_breaker_confs[target];
    state = s->state;

    if (state == NGX_HTTP_NOTIFY_BREAKER_DISABLED) {
        return;                     /* until an admin enables it */
    }

    if (ok) {
        s->failures = 0;

        if (state != NGX_HTTP_NOTIFY_BREAKER_CLOSED
            && ngx_atomic_cmp_set(&s->state, state,
                                  NGX_HTTP_NOTIFY_BREAKER_CLOSED))
        {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "notify: target \"%V\": breaker closed, the target"
                          " answers again", name);
        }

        return;
    }

    n = ngx_atomic_fetch_add(&s->failures, 1) + 1;

    if (state == NGX_HTTP_NOTIFY_BREAKER_OPEN
        || (state == NGX_HTTP_NOTIFY_BREAKER_CLOSED
            && (bc->failures == 0 || n < bc->failures)))
    {
        return;
    }

    s->opened_at = ngx_current_msec;

    if (!ngx_atomic_cmp_set(&s->state, state, NGX_HTTP_NOTIFY_BREAKER_OPEN)) {
        return;
    }

    (void) ngx_atomic_fetch_add(&s->opened, 1);

    if (state == NGX_HTTP_NOTIFY_BREAKER_PROBING) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "notify: target \"%V\": the probe failed, breaker open"
                      " again; nothing is attempted for %Mms", name,
                      bc->cooldown);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "notify: target \"%V\": breaker open after %uA failed"
                  " attempts in a row; nothing is attempted for %Mms", name,
                  n, bc->cooldown);
}


void
ngx_http_notify_breaker_disable(ngx_uint_t target, ngx_str_t *name,
    ngx_log_t *log)
{
    ngx_atomic_uint_t                state;
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);
    if (s == NULL) {
        return;
    }

    state = s->state;

    if (state != NGX_HTTP_NOTIFY_BREAKER_DISABLED
        && ngx_atomic_cmp_set(&s->state, state,
                              NGX_HTTP_NOTIFY_BREAKER_DISABLED))
    {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "notify: target \"%V\" answered 410 Gone: disabled,"
                      " nothing is attempted until it is enabled again"
                      " (notify_outbox)", name);
    }
}


ngx_int_t
ngx_http_notify_breaker_enable(ngx_uint_t target, ngx_str_t *name,
    ngx_log_t *log)
{
    ngx_http_notify_breaker_slot_t  *s;

    s = ngx_http_notify_breaker_slot(target);
    if (s == NULL) {
        return NGX_DECLINED;
    }

    s->failures = 0;

    if (ngx_atomic_cmp_set(&s->state, NGX_HTTP_NOTIFY_BREAKER_DISABLED,
                           NGX_HTTP_NOTIFY_BREAKER_CLOSED))
    {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "notify: target \"%V\" enabled again", name);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_notify_breaker_info(ngx_uint_t target,
    ngx_http_notify_breaker_info_t *info)
{
    uint64_t                         wall;
    ngx_msec_int_t                   left;
    ngx_http_notify_breaker_slot_t  *s;

    ngx_memzero(info, sizeof(ngx_http_notify_breaker_info_t));

    s = ngx_http_notify_breaker_slot(target);
    if (s == NULL) {
        return NGX_DECLINED;
    }

    info->state = (ngx_http_notify_breaker_state_e) s->state;
    info->off = (ngx_http_notify_breaker_confs[target]->failures == 0);
    info->failures = s->failures;
    info->opened = s->opened;

    if (info->state == NGX_HTTP_NOTIFY_BREAKER_OPEN) {
        left = (ngx_msec_int_t) ((ngx_msec_t) s->opened_at
                             + ngx_http_notify_breaker_confs[target]->cooldown
                             - ngx_current_msec);
        wall = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;
        info->next_probe = wall + (left > 0 ? left : 0);
    }

    return NGX_OK;
}


const char *
ngx_http_notify_breaker_state_name(ngx_http_notify_breaker_info_t *info)
{
    switch (info->state) {

    case NGX_HTTP_NOTIFY_BREAKER_OPEN:
        return "open";

    case NGX_HTTP_NOTIFY_BREAKER_PROBING:
        return "half-open";

    case NGX_HTTP_NOTIFY_BREAKER_DISABLED:
        return "disabled";

    default:
        return info->off ? "off" : "closed";
    }
}

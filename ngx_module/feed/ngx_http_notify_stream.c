
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The live Activity Center: GET <prefix>/stream as Server-Sent Events.
 *
 * Every change of a feed that the store has made durable (a put, a mark,
 * an archive, a delete) becomes an event in a ring in shared memory, one
 * per user it concerns, numbered in order.  The worker that committed it
 * wakes the others: each worker has an eventfd, made by the master before
 * the fork and watched by its worker as an nginx connection; a write to it
 * is the whole cross-worker signal.  A woken worker copies the new events
 * out of the ring and sends each to its own streams of that user (a hash
 * of buckets by user).  Nothing polls the store: an item's text is read
 * once per stream when its event is sent.
 *
 * An event's id is "<epoch>-<n>", the ring's making (milliseconds) and the
 * event's number: a stream that comes back with Last-Event-ID (or
 * ?last_event_id=) is sent the events of its user it missed, from the
 * ring, then the live ones; an id the ring no longer holds (overwritten,
 * or of another ring: a restart) gets "reset", the client reloads.
 *
 * A stream's unsent bytes are bounded (notify_feed_stream_buffer): past
 * the bound it is sent "reset" and closed.  A heartbeat comment keeps
 * proxies from closing an idle stream (notify_feed_stream_heartbeat).
 *
 * Tickets: POST <prefix>/stream/ticket gives an opaque value, good once
 * for notify_feed_stream_ticket seconds, for ?ticket= (a browser's
 * EventSource cannot send Authorization; a token is never put in a URL).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/eventfd.h>
#include <openssl/rand.h>

#include "ngx_http_notify_feed.h"
#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_store.h"


#define NGX_HTTP_NOTIFY_STREAM_WORKERS   64     /* eventfds, at most */
#define NGX_HTTP_NOTIFY_STREAM_TICKETS   1024   /* valid at once, at most */
#define NGX_HTTP_NOTIFY_USER_TICKETS     8      /* a user's, at most */
#define NGX_HTTP_NOTIFY_STREAM_BUCKETS   4096   /* a worker's streams */
#define NGX_HTTP_NOTIFY_STREAM_BATCH     64     /* events copied at once */
#define NGX_HTTP_NOTIFY_STREAM_LOOK      256    /* slots a replay looks at
                                                   in one hold of the lock */
#define NGX_HTTP_NOTIFY_TICKET_LEN       32     /* hex digits */
#define NGX_HTTP_NOTIFY_STREAM_LINGER    5000   /* msec for a last reset */


typedef enum {
    NGX_HTTP_NOTIFY_EV_ITEM = 0,
    NGX_HTTP_NOTIFY_EV_REPLACED,
    NGX_HTTP_NOTIFY_EV_READ,
    NGX_HTTP_NOTIFY_EV_READ_UNTIL,
    NGX_HTTP_NOTIFY_EV_READ_ALL,
    NGX_HTTP_NOTIFY_EV_SEEN_ALL,
    NGX_HTTP_NOTIFY_EV_ARCHIVED,
    NGX_HTTP_NOTIFY_EV_ARCHIVED_READ,
    NGX_HTTP_NOTIFY_EV_DELETED,
    NGX_HTTP_NOTIFY_EV_MISSED,        /* other nodes' events were lost */
    NGX_HTTP_NOTIFY_EV_COUNTS         /* a stream's first counts: never in
                                         the ring */
} ngx_http_notify_stream_ev_e;


/* one event of the ring */
typedef struct {
    uint64_t                     id;          /* 0: never written */
    uint64_t                     seq;         /* the item, if any */
    uint64_t                     unread;
    uint64_t                     unseen;
    u_char                       type;
    u_char                       has_counts;
    u_short                      user_len;
    u_char                       user[NGX_HTTP_NOTIFY_USER_MAX];
} ngx_http_notify_stream_ev_t;


typedef struct {
    u_char                       value[NGX_HTTP_NOTIFY_TICKET_LEN];
    time_t                       expires;     /* 0: free */
    uint64_t                     given;       /* its place in the order
                                                 tickets were given */
    u_short                      user_len;
    u_char                       user[NGX_HTTP_NOTIFY_USER_MAX];
} ngx_http_notify_ticket_t;


/* the zone */
typedef struct {
    uint64_t                     epoch;       /* msec, when it was made */
    uint64_t                     next;        /* the next event's number */
    ngx_uint_t                   size;        /* events in the ring */
    uint64_t                     given;       /* tickets given so far */
    ngx_http_notify_ticket_t     tickets[NGX_HTTP_NOTIFY_STREAM_TICKETS];
    ngx_http_notify_stream_ev_t  ring[1];
} ngx_http_notify_stream_sh_t;


typedef struct ngx_http_notify_stream_wait_s  ngx_http_notify_stream_wait_t;
typedef struct ngx_http_notify_stream_read_s  ngx_http_notify_stream_read_t;


/* an event of a stream that waits for its read, or for one before it */
struct ngx_http_notify_stream_wait_s {
    ngx_http_notify_stream_wait_t  *next;
    ngx_http_notify_stream_ev_t     ev;
};


/* one open stream */
typedef struct {
    ngx_queue_t                  queue;       /* in its bucket */
    ngx_http_request_t          *request;
    ngx_str_t                    user;
    ngx_chain_t                 *busy;        /* malloc()ed, unsent */
    ngx_chain_t                **last_busy;
    ngx_chain_t                 *unsent;      /* not given to the filters */
    size_t                       pending;     /* bytes in busy */
    size_t                       limit;
    ngx_msec_t                   heartbeat;
    ngx_event_t                  beat;
    ngx_connection_t             beat_conn;   /* the beat's data, no fd */

    /* a store whose reads answer later: the events in order */
    ngx_http_notify_stream_wait_t   *wait;
    ngx_http_notify_stream_wait_t  **last_wait;
    size_t                       waiting;     /* bytes in wait */
    ngx_http_notify_stream_read_t   *reading; /* the first one's read */

    unsigned                     closing:1;
} ngx_http_notify_stream_t;


/* a cycle's eventfds, one per worker slot, in the cycle's pool */
typedef struct {
    ngx_int_t                    nfds;
    int                          fds[NGX_HTTP_NOTIFY_STREAM_WORKERS];
} ngx_http_notify_stream_fds_t;


/* the read of a waiting event; it outlives a stream that goes */
struct ngx_http_notify_stream_read_s {
    ngx_http_notify_store_read_t  rd;
    ngx_http_notify_stream_t     *stream;     /* NULL: gone */
};


/* this worker's part */
typedef struct {
    ngx_shm_zone_t              *zone;
    ngx_http_notify_stream_sh_t *sh;
    ngx_slab_pool_t             *shpool;
    uint64_t                     last;        /* events up to it are sent */
    uint64_t                     start;       /* the ring's last event when
                                                 this worker started */
    ngx_connection_t            *wake;        /* this worker's eventfd */
    ngx_event_t                  posted;      /* wake the others */
    ngx_queue_t                 *buckets;
    ngx_uint_t                   open;
} ngx_http_notify_stream_worker_t;


static ngx_int_t ngx_http_notify_stream_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_notify_stream_cleanup_fds(void *data);
static void ngx_http_notify_stream_watch(ngx_http_notify_store_op_t *op);
static void ngx_http_notify_stream_publish(ngx_http_notify_stream_sh_t *sh,
    ngx_str_t *user, ngx_uint_t type, ngx_http_notify_store_op_t *op);
static void ngx_http_notify_stream_post(ngx_event_t *ev);
static void ngx_http_notify_stream_woken(ngx_event_t *ev);
static void ngx_http_notify_stream_catch_up(void);
static ngx_queue_t *ngx_http_notify_stream_bucket(ngx_str_t *user);
static void ngx_http_notify_stream_dispatch(ngx_http_notify_stream_ev_t *ev);
static void ngx_http_notify_stream_dispatch_all(
    ngx_http_notify_stream_ev_t *ev);
static ngx_int_t ngx_http_notify_stream_replay(ngx_http_notify_stream_t *s,
    ngx_str_t *from);
static void ngx_http_notify_stream_event(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev);
static void ngx_http_notify_stream_item(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev, ngx_array_t *items, uint64_t unread,
    uint64_t unseen);
static void ngx_http_notify_stream_change(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev);
static void ngx_http_notify_stream_queue(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev);
static ngx_uint_t ngx_http_notify_stream_needs_read(
    ngx_http_notify_stream_ev_t *ev);
static ngx_http_notify_stream_wait_t *ngx_http_notify_stream_pop(
    ngx_http_notify_stream_t *s);
static void ngx_http_notify_stream_next(ngx_http_notify_stream_t *s);
static void ngx_http_notify_stream_read_done(ngx_http_notify_store_read_t *rd);
static void ngx_http_notify_stream_unqueue(ngx_http_notify_stream_t *s);
static void ngx_http_notify_stream_send(ngx_http_notify_stream_t *s,
    const char *name, uint64_t id, u_char *data, size_t len);
static void ngx_http_notify_stream_counts(ngx_http_notify_stream_t *s,
    uint64_t id, uint64_t unread, uint64_t unseen);
static void ngx_http_notify_stream_first_counts(ngx_http_notify_stream_t *s,
    uint64_t id, uint64_t unread, uint64_t unseen);
static void ngx_http_notify_stream_flush(ngx_http_notify_stream_t *s);
static void ngx_http_notify_stream_wake(ngx_http_notify_stream_t *s);
static void ngx_http_notify_stream_reset(ngx_http_notify_stream_t *s,
    uint64_t id, const char *reason, ngx_uint_t close);
static void ngx_http_notify_stream_write(ngx_http_request_t *r);
static void ngx_http_notify_stream_read(ngx_http_request_t *r);
static void ngx_http_notify_stream_beat(ngx_event_t *ev);
static void ngx_http_notify_stream_cleanup(void *data);
static ngx_int_t ngx_http_notify_stream_last_id(ngx_http_request_t *r,
    ngx_str_t *from);


static ngx_str_t  ngx_http_notify_stream_zone_name =
    ngx_string("notify_feed_stream");

static const char  *ngx_http_notify_stream_names[] = {
    "item", "replaced", "read", "read", "read", "seen", "archived",
    "archived", "deleted", "reset", "counts"
};


/*
 * A worker's eventfds: its cycle's, inherited from the master.  Each cycle
 * has its own, closed with that cycle's pool: a reload's new ones are not
 * touched when the old cycle goes.
 */
static ngx_http_notify_stream_fds_t  *ngx_http_notify_stream_fds;

static ngx_http_notify_stream_worker_t  ngx_http_notify_stream_worker;


/* the zone, made by the first notify_feed of a configuration */

ngx_shm_zone_t *
ngx_http_notify_stream_zone(ngx_conf_t *cf, ngx_uint_t events)
{
    size_t           size;
    ngx_shm_zone_t  *shm_zone;

    size = sizeof(ngx_http_notify_stream_sh_t)
           + events * sizeof(ngx_http_notify_stream_ev_t);

    /* the slab pool's own pages and headers */
    size = ngx_align(size + 8 * ngx_pagesize + size / 8, ngx_pagesize);

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_notify_stream_zone_name,
                                     size, &ngx_http_notify_stream_zone_name);
    if (shm_zone == NULL) {
        return NULL;
    }

    shm_zone->init = ngx_http_notify_stream_init_zone;
    shm_zone->data = (void *) (uintptr_t) events;

    return shm_zone;
}


static ngx_int_t
ngx_http_notify_stream_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_time_t                   *tp;
    ngx_uint_t                    events;
    ngx_slab_pool_t              *shpool;
    ngx_http_notify_stream_sh_t  *sh;

    events = (ngx_uint_t) (uintptr_t) shm_zone->data;

    if (data && ((ngx_http_notify_stream_sh_t *) data)->size == events) {
        /* a reload: the ring goes on */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_notify_stream_sh_t)
                         + events * sizeof(ngx_http_notify_stream_ev_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_time_update();
    tp = ngx_timeofday();

    sh->epoch = (uint64_t) tp->sec * 1000 + tp->msec;
    sh->next = 1;
    sh->size = events;

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/* the master: one eventfd per worker slot, closed with the cycle */

ngx_int_t
ngx_http_notify_stream_init_module(ngx_cycle_t *cycle, ngx_uint_t workers)
{
    int                            fd;
    ngx_uint_t                     i;
    ngx_pool_cleanup_t            *cln;
    ngx_http_notify_stream_fds_t  *set;

    if (workers > NGX_HTTP_NOTIFY_STREAM_WORKERS) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "notify: feed streams reach the first %d workers only",
                      NGX_HTTP_NOTIFY_STREAM_WORKERS);
        workers = NGX_HTTP_NOTIFY_STREAM_WORKERS;
    }

    cln = ngx_pool_cleanup_add(cycle->pool,
                               sizeof(ngx_http_notify_stream_fds_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    set = cln->data;
    set->nfds = 0;

    /* the cleanup closes what was made so far, should this cycle fail */
    cln->handler = ngx_http_notify_stream_cleanup_fds;

    for (i = 0; i < workers; i++) {
        fd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);
        if (fd == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "notify: eventfd() failed");
            return NGX_ERROR;
        }

        set->fds[set->nfds++] = fd;
    }

    return NGX_OK;
}


static void
ngx_http_notify_stream_cleanup_fds(void *data)
{
    ngx_http_notify_stream_fds_t *set = data;

    ngx_int_t  i;

    for (i = 0; i < set->nfds; i++) {
        if (set->fds[i] != -1) {
            (void) close(set->fds[i]);
            set->fds[i] = -1;
        }
    }

    set->nfds = 0;
}


/* a worker: its eventfd watched, the store's changes watched */

ngx_int_t
ngx_http_notify_stream_init_process(ngx_cycle_t *cycle, ngx_shm_zone_t *zone)
{
    ngx_uint_t                        i, slot;
    ngx_connection_t                 *c;
    ngx_pool_cleanup_t               *cln;
    ngx_http_notify_stream_fds_t     *set;
    ngx_http_notify_stream_worker_t  *w;

    w = &ngx_http_notify_stream_worker;
    ngx_memzero(w, sizeof(ngx_http_notify_stream_worker_t));

    /* this cycle's eventfds, made by its init_module */

    ngx_http_notify_stream_fds = NULL;

    for (cln = cycle->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_notify_stream_cleanup_fds) {
            ngx_http_notify_stream_fds = cln->data;
            break;
        }
    }

    if (zone == NULL) {
        return NGX_OK;
    }

    w->zone = zone;
    w->sh = zone->data;
    w->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    w->buckets = ngx_alloc(NGX_HTTP_NOTIFY_STREAM_BUCKETS
                           * sizeof(ngx_queue_t), cycle->log);
    if (w->buckets == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_NOTIFY_STREAM_BUCKETS; i++) {
        ngx_queue_init(&w->buckets[i]);
    }

    ngx_shmtx_lock(&w->shpool->mutex);
    w->last = w->sh->next - 1;
    ngx_shmtx_unlock(&w->shpool->mutex);

    w->start = w->last;

    w->posted.handler = ngx_http_notify_stream_post;
    w->posted.log = cycle->log;
    w->posted.data = w;
    w->posted.cancelable = 1;

    slot = (ngx_process == NGX_PROCESS_WORKER) ? (ngx_uint_t) ngx_worker : 0;

    set = ngx_http_notify_stream_fds;

    if (set && slot < (ngx_uint_t) set->nfds && set->fds[slot] != -1) {
        c = ngx_get_connection(set->fds[slot], cycle->log);
        if (c == NULL) {
            return NGX_ERROR;
        }

        c->read->handler = ngx_http_notify_stream_woken;
        c->read->log = cycle->log;
        c->data = w;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            c->fd = (ngx_socket_t) -1;
            ngx_free_connection(c);
            return NGX_ERROR;
        }

        w->wake = c;

        /* the fd is the connection's now: it closes it */
        set->fds[slot] = -1;
    }

    ngx_http_notify_store_watch(ngx_http_notify_stream_watch);

    return NGX_OK;
}


void
ngx_http_notify_stream_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_stream_worker_t  *w;

    w = &ngx_http_notify_stream_worker;

    if (w->wake) {
        ngx_close_connection(w->wake);
        w->wake = NULL;
    }

    if (w->posted.posted) {
        ngx_delete_posted_event(&w->posted);
    }

    if (w->buckets) {
        ngx_free(w->buckets);
        w->buckets = NULL;
    }

    if (ngx_http_notify_stream_fds) {
        ngx_http_notify_stream_cleanup_fds(ngx_http_notify_stream_fds);
        ngx_http_notify_stream_fds = NULL;
    }
}


/*
 * The store's watch: an operation it made durable, in this worker, before
 * the operation's own handler.  Its events go into the ring, and the
 * workers are woken once for all that this turn of the loop adds.
 */

static void
ngx_http_notify_stream_watch(ngx_http_notify_store_op_t *op)
{
    ngx_uint_t                        i, type;
    ngx_http_notify_stream_sh_t      *sh;
    ngx_http_notify_stream_worker_t  *w;

    w = &ngx_http_notify_stream_worker;
    sh = w->sh;

    if (sh == NULL || op->rc != NGX_OK) {
        return;
    }

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_PUT:
        if (op->duplicate) {
            return;
        }

        type = op->has_chain ? NGX_HTTP_NOTIFY_EV_REPLACED
                             : NGX_HTTP_NOTIFY_EV_ITEM;

        /* the lock is held for one slot at a time, as for other events */

        for (i = 0; i < op->nrecipients; i++) {
            ngx_shmtx_lock(&w->shpool->mutex);
            ngx_http_notify_stream_publish(sh, &op->recipients[i], type, op);
            ngx_shmtx_unlock(&w->shpool->mutex);
        }

        goto wake;

    case NGX_HTTP_NOTIFY_OP_READ_ONE:
        type = NGX_HTTP_NOTIFY_EV_READ;
        break;

    case NGX_HTTP_NOTIFY_OP_READ_UNTIL:
        type = NGX_HTTP_NOTIFY_EV_READ_UNTIL;
        break;

    case NGX_HTTP_NOTIFY_OP_READ_ALL:
        type = NGX_HTTP_NOTIFY_EV_READ_ALL;
        break;

    case NGX_HTTP_NOTIFY_OP_SEEN_ALL:
        type = NGX_HTTP_NOTIFY_EV_SEEN_ALL;
        break;

    case NGX_HTTP_NOTIFY_OP_ARCHIVE:
        type = NGX_HTTP_NOTIFY_EV_ARCHIVED;
        break;

    case NGX_HTTP_NOTIFY_OP_ARCHIVE_READ:
        type = NGX_HTTP_NOTIFY_EV_ARCHIVED_READ;
        break;

    case NGX_HTTP_NOTIFY_OP_DELETE:
        type = NGX_HTTP_NOTIFY_EV_DELETED;
        break;

    case NGX_HTTP_NOTIFY_OP_MISSED:
        /*
         * a process that listens for the first time ("count"): a ring
         * that is new has nothing to miss yet; one that goes on (a
         * reload, a worker made again after a crash) may have, while no
         * process of the node listened
         */

        if (op->count && w->start == 0) {
            return;
        }

        type = NGX_HTTP_NOTIFY_EV_MISSED;
        break;

    default:
        return;
    }

    ngx_shmtx_lock(&w->shpool->mutex);
    ngx_http_notify_stream_publish(sh, &op->user, type, op);
    ngx_shmtx_unlock(&w->shpool->mutex);

wake:

    if (!w->posted.posted) {
        ngx_post_event(&w->posted, &ngx_posted_events);
    }
}


/* with the zone's lock held */

static void
ngx_http_notify_stream_publish(ngx_http_notify_stream_sh_t *sh,
    ngx_str_t *user, ngx_uint_t type, ngx_http_notify_store_op_t *op)
{
    ngx_http_notify_stream_ev_t  *ev;

    /* an event is of one user, but for MISSED, of all */

    if ((user->len == 0 && type != NGX_HTTP_NOTIFY_EV_MISSED)
        || user->len > NGX_HTTP_NOTIFY_USER_MAX)
    {
        return;
    }

    ev = &sh->ring[sh->next % sh->size];

    ev->id = sh->next++;
    ev->seq = op->seq;
    ev->type = (u_char) type;
    ev->has_counts = (op->type != NGX_HTTP_NOTIFY_OP_PUT);
    ev->unread = op->unread;
    ev->unseen = op->unseen;
    ev->user_len = (u_short) user->len;
    ngx_memcpy(ev->user, user->data, user->len);
}


/* the events this turn of the loop added: every worker is told */

static void
ngx_http_notify_stream_post(ngx_event_t *ev)
{
    uint64_t                       one;
    ngx_int_t                      i;
    ngx_http_notify_stream_fds_t  *set;

    one = 1;
    set = ngx_http_notify_stream_fds;

    for (i = 0; set && i < set->nfds; i++) {
        if (set->fds[i] != -1) {
            (void) write(set->fds[i], &one, sizeof(one));
        }
    }

    /* this worker's own streams: at once */

    ngx_http_notify_stream_catch_up();
}


static void
ngx_http_notify_stream_woken(ngx_event_t *ev)
{
    uint64_t           n;
    ngx_connection_t  *c;

    c = ev->data;

    while (read(c->fd, &n, sizeof(n)) == (ssize_t) sizeof(n)) {
        /* void */
    }

    if (ngx_handle_read_event(ev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "notify: the feed streams' wake-up failed");
    }

    ngx_http_notify_stream_catch_up();
}


/* the events since this worker's last, to its streams */

static void
ngx_http_notify_stream_catch_up(void)
{
    uint64_t                          head, from;
    ngx_uint_t                        i, n;
    ngx_http_notify_stream_ev_t       batch[NGX_HTTP_NOTIFY_STREAM_BATCH];
    ngx_http_notify_stream_worker_t  *w;

    w = &ngx_http_notify_stream_worker;

    if (w->sh == NULL) {
        return;
    }

    for ( ;; ) {
        ngx_shmtx_lock(&w->shpool->mutex);

        head = w->sh->next - 1;
        from = w->last + 1;

        if (from + w->sh->size <= head) {
            /* the ring went round: what was missed is not known */
            from = head - w->sh->size + 1;
            n = (ngx_uint_t) -1;

        } else {
            n = 0;
        }

        if (n == 0) {
            for ( /* void */ ; from <= head && n < NGX_HTTP_NOTIFY_STREAM_BATCH;
                 from++)
            {
                batch[n++] = w->sh->ring[from % w->sh->size];
            }
        }

        ngx_shmtx_unlock(&w->shpool->mutex);

        if (n == (ngx_uint_t) -1) {
            /* as if told that events were lost */
            batch[0].id = from - 1;
            batch[0].type = NGX_HTTP_NOTIFY_EV_MISSED;
            batch[0].user_len = 0;

            ngx_http_notify_stream_dispatch_all(&batch[0]);

            w->last = from - 1;
            continue;
        }

        if (n == 0) {
            return;
        }

        w->last = batch[n - 1].id;

        for (i = 0; i < n; i++) {
            ngx_http_notify_stream_dispatch(&batch[i]);
        }
    }
}


static ngx_queue_t *
ngx_http_notify_stream_bucket(ngx_str_t *user)
{
    return &ngx_http_notify_stream_worker.buckets[
               ngx_crc32_short(user->data, user->len)
               % NGX_HTTP_NOTIFY_STREAM_BUCKETS];
}


static void
ngx_http_notify_stream_dispatch(ngx_http_notify_stream_ev_t *ev)
{
    ngx_str_t                  user;
    ngx_queue_t               *bucket, *q, *next;
    ngx_http_notify_stream_t  *s;

    if (ev->type == NGX_HTTP_NOTIFY_EV_MISSED) {
        ngx_http_notify_stream_dispatch_all(ev);
        return;
    }

    user.data = ev->user;
    user.len = ev->user_len;

    bucket = ngx_http_notify_stream_bucket(&user);

    for (q = ngx_queue_head(bucket); q != ngx_queue_sentinel(bucket); q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_notify_stream_t, queue);

        if (s->user.len == user.len
            && ngx_memcmp(s->user.data, user.data, user.len) == 0)
        {
            ngx_http_notify_stream_event(s, ev);
            ngx_http_notify_stream_wake(s);
        }
    }
}


/* an event of no user (MISSED): every stream of this worker */

static void
ngx_http_notify_stream_dispatch_all(ngx_http_notify_stream_ev_t *ev)
{
    ngx_uint_t                 i;
    ngx_queue_t               *bucket, *q, *next;
    ngx_http_notify_stream_t  *s;

    for (i = 0; i < NGX_HTTP_NOTIFY_STREAM_BUCKETS; i++) {
        bucket = &ngx_http_notify_stream_worker.buckets[i];

        for (q = ngx_queue_head(bucket);
             q != ngx_queue_sentinel(bucket);
             q = next)
        {
            next = ngx_queue_next(q);
            s = ngx_queue_data(q, ngx_http_notify_stream_t, queue);

            ngx_http_notify_stream_event(s, ev);
            ngx_http_notify_stream_wake(s);
        }
    }
}


/*
 * GET <prefix>/stream, for "user" (authenticated, or by a ticket): the
 * answer's header, the counts, what the client missed, then live.
 */

ngx_int_t
ngx_http_notify_stream_open(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *user)
{
    ngx_int_t                         rc;
    ngx_str_t                         from;
    ngx_http_cleanup_t               *cln;
    ngx_http_notify_stream_t         *s;
    ngx_http_notify_stream_worker_t  *w;

    static ngx_str_t  no = ngx_string("no");
    static ngx_str_t  no_cache = ngx_string("no-cache");

    w = &ngx_http_notify_stream_worker;

    if (user->len == 0 || user->len > NGX_HTTP_NOTIFY_USER_MAX) {
        return ngx_http_notify_send_error(r, NGX_HTTP_FORBIDDEN, "Forbidden",
                                          "The token names no user.");
    }

    if (w->sh == NULL) {
        return ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "ServiceUnavailable",
                                          "The feed's stream is not"
                                          " available.");
    }

    ngx_http_notify_stream_last_id(r, &from);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    s = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_stream_t));
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s->user.data = ngx_pnalloc(r->pool, user->len);
    if (s->user.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(s->user.data, user->data, user->len);
    s->user.len = user->len;
    s->request = r;
    s->limit = fc->stream_buffer;
    s->heartbeat = fc->stream_heartbeat;
    s->last_busy = &s->busy;
    s->last_wait = &s->wait;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_notify_set_header(r, "X-Accel-Buffering", &no) != NGX_OK
        || ngx_http_notify_set_header(r, "Cache-Control", &no_cache)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    /* the stream holds the request until it ends */

    r->main->count++;

    ngx_queue_insert_tail(ngx_http_notify_stream_bucket(&s->user), &s->queue);
    cln->handler = ngx_http_notify_stream_cleanup;
    cln->data = s;

    w->open++;
    ngx_http_notify_metrics_streams(1);

    r->read_event_handler = ngx_http_notify_stream_read;
    r->write_event_handler = ngx_http_notify_stream_write;

    /* an idle stream is closed when the worker shuts down */
    r->connection->idle = 1;

    s->beat.handler = ngx_http_notify_stream_beat;
    s->beat_conn.fd = (ngx_socket_t) -1;
    s->beat_conn.data = s;
    s->beat.data = &s->beat_conn;
    s->beat.log = r->connection->log;
    s->beat.cancelable = 1;

    if (s->heartbeat) {
        ngx_add_timer(&s->beat, s->heartbeat);
    }

    if (ngx_http_notify_stream_replay(s, from.len ? &from : NULL) != NGX_OK) {
        ngx_http_notify_stream_reset(s, w->last, "the feed could not be read",
                                     1);
    }

    /* the first bytes go from the write handler, as all others */

    ngx_http_notify_stream_wake(s);

    return NGX_DONE;
}


/* the id to resume from: ?last_event_id=, else Last-Event-ID */

static ngx_int_t
ngx_http_notify_stream_last_id(ngx_http_request_t *r, ngx_str_t *from)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "last_event_id", 13, from) == NGX_OK) {
        return NGX_OK;
    }

    ngx_str_null(from);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_DECLINED;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Last-Event-ID") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Last-Event-ID",
                               sizeof("Last-Event-ID") - 1) == 0)
        {
            *from = h[i].value;
            return NGX_OK;
        }
    }
}


/*
 * The start of a stream: "retry", the counts (as of now), then the events
 * of the user after "from" that this worker has sent to its streams
 * already; later ones come as they are dispatched.
 */

static ngx_int_t
ngx_http_notify_stream_replay(ngx_http_notify_stream_t *s, ngx_str_t *from)
{
    u_char                           *dash;
    uint64_t                          epoch, id, unread, unseen, head, oldest;
    ngx_str_t                         part;
    ngx_uint_t                        n, i, looked;
    ngx_http_notify_stream_ev_t      *ev;
    ngx_http_notify_stream_ev_t       batch[NGX_HTTP_NOTIFY_STREAM_BATCH];
    ngx_http_notify_stream_worker_t  *w;

    w = &ngx_http_notify_stream_worker;
    head = w->last;

    ngx_http_notify_stream_send(s, NULL, 0, (u_char *) "retry: 2000\n", 12);

    if (ngx_http_notify_store_reads_now()) {
        if (ngx_http_notify_store_counts(&s->user, &unread, &unseen,
                                         s->request->connection->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        /* read when they are sent (below), in the queue's order */
        unseen = (uint64_t) -1;
        unread = 0;
    }

    if (from == NULL) {
        ngx_http_notify_stream_first_counts(s, head, unread, unseen);
        return NGX_OK;
    }

    /* "<epoch>-<n>" */

    dash = ngx_strlchr(from->data, from->data + from->len, '-');
    epoch = 0;
    id = 0;

    if (dash) {
        part.data = from->data;
        part.len = dash - from->data;
        epoch = (uint64_t) ngx_atoof(part.data, part.len);

        part.data = dash + 1;
        part.len = from->data + from->len - part.data;
        id = (uint64_t) ngx_atoof(part.data, part.len);
    }

    ngx_shmtx_lock(&w->shpool->mutex);
    oldest = (w->sh->next > w->sh->size) ? w->sh->next - w->sh->size : 1;
    ngx_shmtx_unlock(&w->shpool->mutex);

    if (dash == NULL || epoch != w->sh->epoch || (int64_t) id == NGX_ERROR
        || id > head || id + 1 < oldest)
    {
        ngx_http_notify_stream_reset(s, head, "the stream cannot resume"
                                     " from that id", 0);
        ngx_http_notify_stream_first_counts(s, head, unread, unseen);
        return NGX_OK;
    }

    /*
     * the user's events in (id, head], from the ring: the lock is held for
     * NGX_HTTP_NOTIFY_STREAM_LOOK slots looked at, or a batch of the
     * user's, whichever comes first; a slot is copied only if it is the
     * user's
     */

    while (id < head) {
        n = 0;
        looked = 0;

        ngx_shmtx_lock(&w->shpool->mutex);

        if (id + 1 + w->sh->size < w->sh->next) {
            ngx_shmtx_unlock(&w->shpool->mutex);
            ngx_http_notify_stream_reset(s, head, "the stream cannot resume"
                                         " from that id", 0);
            break;
        }

        for ( /* void */ ;
             id < head && n < NGX_HTTP_NOTIFY_STREAM_BATCH
             && looked < NGX_HTTP_NOTIFY_STREAM_LOOK;
             id++, looked++)
        {
            ev = &w->sh->ring[(id + 1) % w->sh->size];

            if ((ev->user_len == s->user.len
                 && ngx_memcmp(ev->user, s->user.data, s->user.len) == 0)
                || ev->type == NGX_HTTP_NOTIFY_EV_MISSED)
            {
                batch[n++] = *ev;
            }
        }

        ngx_shmtx_unlock(&w->shpool->mutex);

        for (i = 0; i < n; i++) {
            ngx_http_notify_stream_event(s, &batch[i]);
        }
    }

    return NGX_OK;
}


/*
 * The counts a stream starts with: read already (LMDB), or to read
 * (unseen (uint64_t) -1): a COUNTS event in the queue
 */

static void
ngx_http_notify_stream_first_counts(ngx_http_notify_stream_t *s,
    uint64_t id, uint64_t unread, uint64_t unseen)
{
    ngx_http_notify_stream_ev_t  ev;

    if (unseen != (uint64_t) -1) {
        ngx_http_notify_stream_counts(s, id, unread, unseen);
        return;
    }

    ev.id = id;
    ev.type = NGX_HTTP_NOTIFY_EV_COUNTS;
    ev.user_len = 0;

    ngx_http_notify_stream_queue(s, &ev);
}


/*
 * One event of the ring, as the stream's text.  A store whose reads
 * answer at once (LMDB) reads an item's text now; with one that answers
 * later (PostgreSQL), the event waits in the stream's queue.
 */

static void
ngx_http_notify_stream_event(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev)
{
    uint64_t                       next, unread, unseen;
    ngx_int_t                      rc;
    ngx_uint_t                     counted;
    ngx_pool_t                    *pool;
    ngx_array_t                    items;
    ngx_http_notify_feed_query_t   q;

    if (s->closing) {
        return;
    }

    if (!ngx_http_notify_store_reads_now()) {
        ngx_http_notify_stream_queue(s, ev);
        return;
    }

    if (ev->type != NGX_HTTP_NOTIFY_EV_ITEM
        && ev->type != NGX_HTTP_NOTIFY_EV_REPLACED)
    {
        ngx_http_notify_stream_change(s, ev);
        return;
    }

    /* the item as a page shows it, with its states, read now */

    ngx_memzero(&q, sizeof(q));
    q.user = s->user;
    q.cursor = ev->seq + 1;
    q.limit = 1;
    q.status = NGX_HTTP_NOTIFY_FEED_ALL;

    /* a pool of the event's own: a long stream does not grow */

    pool = ngx_create_pool(1024, s->request->connection->log);
    if (pool == NULL) {
        ngx_http_notify_stream_reset(s, ev->id, "no memory", 1);
        return;
    }

    rc = ngx_http_notify_store_feed(&q, pool, &items, &next, &unread,
                                    s->request->connection->log);
    if (rc != NGX_OK) {
        ngx_destroy_pool(pool);
        ngx_http_notify_stream_reset(s, ev->id, "the feed could not be"
                                     " read", 1);
        return;
    }

    counted = (ngx_http_notify_store_counts(&s->user, &unread, &unseen,
                                            s->request->connection->log)
               == NGX_OK);

    ngx_http_notify_stream_item(s, ev, &items, counted ? unread : 0,
                                counted ? unseen : (uint64_t) -1);

    ngx_destroy_pool(pool);
}


/*
 * An item (ITEM, REPLACED) as a page shows it, with its states, if it is
 * still in the feed ("items": what a page of one from it gave), then the
 * counts (unseen (uint64_t) -1: not known, none sent)
 */

static void
ngx_http_notify_stream_item(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev, ngx_array_t *items, uint64_t unread,
    uint64_t unseen)
{
    u_char                        *p;
    ngx_http_notify_feed_entry_t  *e;

    e = items->elts;

    if (items->nelts == 1 && e->seq == ev->seq) {
        p = ngx_pnalloc(items->pool, e->view.len
                        + sizeof(",\"read\":false,\"seen\":false,"
                                 "\"archived\":false}"));
        if (p == NULL) {
            ngx_http_notify_stream_reset(s, ev->id, "no memory", 1);
            return;
        }

        ngx_memcpy(p, e->view.data, e->view.len - 1);
        ngx_http_notify_stream_send(s, ngx_http_notify_stream_names[ev->type],
                                    ev->id, p,
                                    ngx_sprintf(p + e->view.len - 1,
                                          "%s\"read\":%s,\"seen\":%s,"
                                          "\"archived\":%s}",
                                          e->view.len > 2 ? "," : "",
                                          e->read ? "true" : "false",
                                          e->seen ? "true" : "false",
                                          e->archived ? "true" : "false")
                                    - p);
    }

    if (unseen != (uint64_t) -1) {
        ngx_http_notify_stream_counts(s, ev->id, unread, unseen);
    }
}


/* an event that carries all it says: a change of states, a loss */

static void
ngx_http_notify_stream_change(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev)
{
    u_char  *p;
    u_char   data[128];

    switch (ev->type) {

    case NGX_HTTP_NOTIFY_EV_MISSED:
        ngx_http_notify_stream_reset(s, ev->id, "events were lost", 0);
        return;

    case NGX_HTTP_NOTIFY_EV_READ_ALL:
    case NGX_HTTP_NOTIFY_EV_SEEN_ALL:
        p = ngx_sprintf(data, "{\"all\":true}");
        break;

    case NGX_HTTP_NOTIFY_EV_ARCHIVED_READ:
        p = ngx_sprintf(data, "{\"read\":true}");
        break;

    case NGX_HTTP_NOTIFY_EV_READ_UNTIL:
        p = ngx_cpymem(data, "{\"until\":\"", sizeof("{\"until\":\"") - 1);
        p = ngx_http_notify_format_id(p, ev->seq);
        p = ngx_cpymem(p, "\"}", 2);
        break;

    default: /* READ, ARCHIVED, DELETED: one item */
        p = ngx_cpymem(data, "{\"id\":\"", sizeof("{\"id\":\"") - 1);
        p = ngx_http_notify_format_id(p, ev->seq);
        p = ngx_cpymem(p, "\"}", 2);
    }

    ngx_http_notify_stream_send(s, ngx_http_notify_stream_names[ev->type],
                                ev->id, data, p - data);

    ngx_http_notify_stream_counts(s, ev->id, ev->unread, ev->unseen);
}


/*
 * The stream's queue, for a store whose reads answer later: an event
 * that needs a read (an item; the first counts) waits for it, and every
 * event after it waits too, so that the stream's order is the ring's.
 * Its bytes count within the stream's bound (notify_feed_stream_buffer).
 */

static ngx_uint_t
ngx_http_notify_stream_needs_read(ngx_http_notify_stream_ev_t *ev)
{
    return ev->type == NGX_HTTP_NOTIFY_EV_ITEM
           || ev->type == NGX_HTTP_NOTIFY_EV_REPLACED
           || ev->type == NGX_HTTP_NOTIFY_EV_COUNTS;
}


static void
ngx_http_notify_stream_queue(ngx_http_notify_stream_t *s,
    ngx_http_notify_stream_ev_t *ev)
{
    ngx_http_notify_stream_wait_t  *wt;

    if (s->closing) {
        return;
    }

    if (s->wait == NULL && !ngx_http_notify_stream_needs_read(ev)) {
        ngx_http_notify_stream_change(s, ev);
        return;
    }

    if (s->pending + s->waiting + sizeof(ngx_http_notify_stream_wait_t)
        > s->limit)
    {
        ngx_http_notify_stream_reset(s, ev->id, "the stream fell behind", 1);
        return;
    }

    wt = ngx_alloc(sizeof(ngx_http_notify_stream_wait_t),
                   s->request->connection->log);
    if (wt == NULL) {
        ngx_http_notify_stream_reset(s, ev->id, "no memory", 1);
        return;
    }

    wt->next = NULL;
    wt->ev = *ev;

    *s->last_wait = wt;
    s->last_wait = &wt->next;
    s->waiting += sizeof(ngx_http_notify_stream_wait_t);

    if (s->reading == NULL) {
        ngx_http_notify_stream_next(s);
    }
}


/* the first waiting event out of the queue */

static ngx_http_notify_stream_wait_t *
ngx_http_notify_stream_pop(ngx_http_notify_stream_t *s)
{
    ngx_http_notify_stream_wait_t  *wt;

    wt = s->wait;
    s->wait = wt->next;
    s->waiting -= sizeof(ngx_http_notify_stream_wait_t);

    if (s->wait == NULL) {
        s->last_wait = &s->wait;
    }

    return wt;
}


/* the events that need no read go out; the next read is asked */

static void
ngx_http_notify_stream_next(ngx_http_notify_stream_t *s)
{
    ngx_pool_t                     *pool;
    ngx_http_notify_stream_ev_t    *ev;
    ngx_http_notify_stream_wait_t  *wt;
    ngx_http_notify_stream_read_t  *sr;
    ngx_http_notify_store_read_t   *rd;

    while (s->wait && !s->closing) {
        ev = &s->wait->ev;

        if (!ngx_http_notify_stream_needs_read(ev)) {
            wt = ngx_http_notify_stream_pop(s);
            ngx_http_notify_stream_change(s, &wt->ev);
            ngx_free(wt);
            continue;
        }

        /*
         * the read is the store's until it answers, whatever becomes of
         * the stream: its memory is its own, in the cycle's log
         */

        pool = ngx_create_pool(1024, ngx_cycle->log);
        if (pool == NULL) {
            ngx_http_notify_stream_reset(s, ev->id, "no memory", 1);
            return;
        }

        sr = ngx_pcalloc(pool, sizeof(ngx_http_notify_stream_read_t));
        if (sr == NULL) {
            ngx_destroy_pool(pool);
            ngx_http_notify_stream_reset(s, ev->id, "no memory", 1);
            return;
        }

        rd = &sr->rd;

        rd->query.user.data = ngx_pnalloc(pool, s->user.len);
        if (rd->query.user.data == NULL) {
            ngx_destroy_pool(pool);
            ngx_http_notify_stream_reset(s, ev->id, "no memory", 1);
            return;
        }

        ngx_memcpy(rd->query.user.data, s->user.data, s->user.len);
        rd->query.user.len = s->user.len;

        if (ev->type == NGX_HTTP_NOTIFY_EV_COUNTS) {
            rd->type = NGX_HTTP_NOTIFY_READ_COUNTS;

        } else {
            /* the item as a page of one shows it, and the counts */
            rd->type = NGX_HTTP_NOTIFY_READ_FEED;
            rd->query.cursor = ev->seq + 1;
            rd->query.limit = 1;
            rd->query.status = NGX_HTTP_NOTIFY_FEED_ALL;
            rd->counts = 1;
        }

        rd->pool = pool;
        rd->done = ngx_http_notify_stream_read_done;
        rd->data = sr;
        rd->log = ngx_cycle->log;

        sr->stream = s;
        s->reading = sr;

        /* "done" may run before this returns */

        ngx_http_notify_store_read(rd);

        return;
    }
}


static void
ngx_http_notify_stream_read_done(ngx_http_notify_store_read_t *rd)
{
    ngx_http_notify_stream_t       *s;
    ngx_http_notify_stream_wait_t  *wt;
    ngx_http_notify_stream_read_t  *sr;

    sr = rd->data;
    s = sr->stream;

    if (s == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "notify: a read for a stream that went: dropped");
        ngx_destroy_pool(rd->pool);
        return;
    }

    s->reading = NULL;
    wt = ngx_http_notify_stream_pop(s);

    if (rd->rc != NGX_OK) {
        ngx_http_notify_stream_reset(s, wt->ev.id, "the feed could not be"
                                     " read", 1);

    } else if (wt->ev.type == NGX_HTTP_NOTIFY_EV_COUNTS) {
        ngx_http_notify_stream_counts(s, wt->ev.id, rd->unread, rd->unseen);

    } else {
        ngx_http_notify_stream_item(s, &wt->ev, &rd->items, rd->unread,
                                    rd->unseen);
    }

    ngx_free(wt);
    ngx_destroy_pool(rd->pool);

    ngx_http_notify_stream_next(s);
    ngx_http_notify_stream_wake(s);
}


/* the queue goes (the stream ends, or is reset and closed) */

static void
ngx_http_notify_stream_unqueue(ngx_http_notify_stream_t *s)
{
    ngx_http_notify_stream_wait_t  *wt, *next;

    for (wt = s->wait; wt; wt = next) {
        next = wt->next;
        ngx_free(wt);
    }

    s->wait = NULL;
    s->last_wait = &s->wait;
    s->waiting = 0;

    if (s->reading) {
        s->reading->stream = NULL;
        s->reading = NULL;
    }
}


static void
ngx_http_notify_stream_counts(ngx_http_notify_stream_t *s, uint64_t id,
    uint64_t unread, uint64_t unseen)
{
    u_char  *p;
    u_char   data[sizeof("{\"unread\":,\"unseen\":}") + 2 * NGX_INT64_LEN];

    p = ngx_sprintf(data, "{\"unread\":%uL,\"unseen\":%uL}", unread, unseen);

    ngx_http_notify_stream_send(s, "counts", id, data, p - data);
}


/*
 * An event's text ("name" NULL: "data" as it is) to the stream's queue of
 * unsent bytes; past its bound, the stream is reset and closed.  The bytes
 * are the stream's own (malloc()ed), freed once sent: a long stream does
 * not grow its request's pool.
 */

static void
ngx_http_notify_stream_send(ngx_http_notify_stream_t *s, const char *name,
    uint64_t id, u_char *data, size_t len)
{
    size_t        size;
    u_char       *p;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (s->closing) {
        return;
    }

    size = name ? sizeof("event: \nid: -\ndata: \n\n") - 1 + ngx_strlen(name)
                  + 2 * NGX_INT64_LEN + len
                : len;

    cl = ngx_alloc(sizeof(ngx_chain_t) + sizeof(ngx_buf_t) + size,
                   s->request->connection->log);
    if (cl == NULL) {
        ngx_http_notify_stream_reset(s, id, "no memory", 1);
        return;
    }

    b = (ngx_buf_t *) (cl + 1);
    ngx_memzero(b, sizeof(ngx_buf_t));

    p = (u_char *) (b + 1);
    b->start = p;
    b->pos = p;

    if (name) {
        p = ngx_sprintf(p, "event: %s\nid: %uL-%uL\ndata: ", name,
                        ngx_http_notify_stream_worker.sh->epoch, id);
        p = ngx_cpymem(p, data, len);
        *p++ = '\n';
        *p++ = '\n';

    } else {
        p = ngx_cpymem(p, data, len);
    }

    b->last = p;
    b->end = p;
    b->memory = 1;
    b->flush = 1;

    cl->buf = b;
    cl->next = NULL;

    *s->last_busy = cl;
    s->last_busy = &cl->next;
    s->pending += b->last - b->pos;

    if (s->unsent == NULL) {
        s->unsent = cl;
    }

    if (s->pending + s->waiting > s->limit) {
        ngx_http_notify_stream_reset(s, id, "the client reads too slowly", 1);
    }
}


/* the stream's queued bytes go out from its write handler, once a turn */

static void
ngx_http_notify_stream_wake(ngx_http_notify_stream_t *s)
{
    ngx_event_t  *wev;

    wev = s->request->connection->write;

    if (!wev->posted) {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


/* the queued bytes to the client; what was sent is freed */

static void
ngx_http_notify_stream_flush(ngx_http_notify_stream_t *s)
{
    ngx_int_t            rc;
    ngx_chain_t         *cl, *out, **ll, *link;
    ngx_http_request_t  *r;

    r = s->request;
    out = NULL;
    ll = &out;

    /* the unsent bytes not yet given to the filters: each once */

    for (cl = s->unsent; cl; cl = cl->next) {
        link = ngx_alloc_chain_link(r->pool);
        if (link == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
            return;
        }

        link->buf = cl->buf;
        link->next = NULL;
        *ll = link;
        ll = &link->next;
    }

    s->unsent = NULL;

    rc = ngx_http_output_filter(r, out);

    /* the filters keep links of their own: these go back to the pool */

    while (out) {
        link = out->next;
        ngx_free_chain(r->pool, out);
        out = link;
    }

    while (s->busy && s->busy->buf->pos == s->busy->buf->last) {
        cl = s->busy;
        s->busy = cl->next;
        ngx_free(cl);
    }

    if (s->busy == NULL) {
        s->last_busy = &s->busy;
    }

    s->pending = 0;

    for (cl = s->busy; cl; cl = cl->next) {
        s->pending += cl->buf->last - cl->buf->pos;
    }

    if (rc == NGX_ERROR
        || (rc == NGX_AGAIN
            && ngx_handle_write_event(r->connection->write, 0) != NGX_OK))
    {
        ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
        return;
    }

    if (s->closing && s->busy == NULL) {
        /* the last event, "reset", was sent */
        ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
    }
}


/*
 * "reset": the client reloads.  With "close", the stream ends: nothing
 * more is queued, and it is closed once the reset is sent, or after
 * NGX_HTTP_NOTIFY_STREAM_LINGER if the client does not read it: its bytes
 * stay within the bound and one event.
 */

static void
ngx_http_notify_stream_reset(ngx_http_notify_stream_t *s, uint64_t id,
    const char *reason, ngx_uint_t close)
{
    u_char  *p;
    u_char   data[128];

    if (s->closing) {
        return;
    }

    p = ngx_snprintf(data, sizeof(data), "{\"reason\":\"%s\"}", reason);

    if (close) {
        /* past the bound, or failing: this is the stream's last event */
        ngx_http_notify_stream_unqueue(s);

        s->limit = (size_t) -1;
        ngx_http_notify_stream_send(s, "reset", id, data, p - data);
        s->closing = 1;

        ngx_add_timer(&s->beat, NGX_HTTP_NOTIFY_STREAM_LINGER);
        ngx_http_notify_stream_wake(s);

        return;
    }

    ngx_http_notify_stream_send(s, "reset", id, data, p - data);
}


static void
ngx_http_notify_stream_write(ngx_http_request_t *r)
{
    ngx_http_cleanup_t  *cln;

    /*
     * A body still being discarded: the handler's NGX_DONE made nginx's
     * discarding the read handler, which leaves reading blocked once done;
     * the stream's own discards it, then watches the client go.
     */

    if (r->discard_body
        && r->read_event_handler == ngx_http_discarded_request_body_handler)
    {
        r->read_event_handler = ngx_http_notify_stream_read;
    }

    for (cln = r->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_notify_stream_cleanup) {
            ngx_http_notify_stream_flush(cln->data);
            return;
        }
    }
}


/*
 * The client's side: the rest of a body sent with the GET is discarded
 * first, within nginx's lingering_time and lingering_timeout; after it,
 * only the client's going is watched.
 */

static void
ngx_http_notify_stream_read(ngx_http_request_t *r)
{
    if (r->discard_body) {
        ngx_http_discarded_request_body_handler(r);

        if (r->discard_body) {
            /* more to come, or the request is being terminated */
            return;
        }

        r->read_event_handler = ngx_http_notify_stream_read;

        if (r->connection->read->timer_set) {
            ngx_del_timer(r->connection->read);
        }
    }

    ngx_http_test_reading(r);
}


static void
ngx_http_notify_stream_beat(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_notify_stream_t  *s;

    c = ev->data;
    s = c->data;
    c = s->request->connection;

    /*
     * A timer, not the connection's handler: a request finalized here is
     * only posted for termination, so the posted requests are run here.
     */

    if (s->closing) {
        /* its last reset was not read in time */
        ngx_http_finalize_request(s->request, NGX_HTTP_CLOSE);
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_add_timer(&s->beat, s->heartbeat);

    ngx_http_notify_stream_send(s, NULL, 0, (u_char *) ": heartbeat\n\n",
                                sizeof(": heartbeat\n\n") - 1);

    /* the stream may end here: "s" is not used after */
    ngx_http_notify_stream_flush(s);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_notify_stream_cleanup(void *data)
{
    ngx_http_notify_stream_t *s = data;

    ngx_chain_t  *cl, *next;

    ngx_queue_remove(&s->queue);

    ngx_http_notify_stream_unqueue(s);

    if (s->beat.timer_set) {
        ngx_del_timer(&s->beat);
    }

    if (s->beat.posted) {
        ngx_delete_posted_event(&s->beat);
    }

    for (cl = s->busy; cl; cl = next) {
        next = cl->next;
        ngx_free(cl);
    }

    s->busy = NULL;

    ngx_http_notify_stream_worker.open--;
    ngx_http_notify_metrics_streams(-1);
}


/* POST <prefix>/stream/ticket: a one-use value for ?ticket= */

ngx_int_t
ngx_http_notify_stream_ticket(ngx_http_request_t *r,
    ngx_http_notify_feed_conf_t *fc, ngx_str_t *user)
{
    u_char                           *p, *out;
    time_t                            now, soonest, own_soonest;
    uint64_t                          own_given;
    ngx_int_t                         rc;
    ngx_uint_t                        i, slot, own, own_slot, found;
    ngx_http_notify_ticket_t         *t;
    ngx_http_notify_stream_worker_t  *w;
    u_char                            rnd[NGX_HTTP_NOTIFY_TICKET_LEN / 2];
    u_char                            body[sizeof("{\"ticket\":\"\","
                                                  "\"expires_in\":}")
                                           + NGX_HTTP_NOTIFY_TICKET_LEN
                                           + NGX_TIME_T_LEN];

    w = &ngx_http_notify_stream_worker;

    if (w->sh == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "ServiceUnavailable",
                                          "No ticket could be made.");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    now = ngx_time();

    ngx_shmtx_lock(&w->shpool->mutex);

    /*
     * A user with NGX_HTTP_NOTIFY_USER_TICKETS valid tickets gets the place
     * of its own that expires first (of those that expire in the same
     * second, the one given first: expiry is in seconds, and many are
     * given in one); else a free or expired slot, else the one that
     * expires soonest: one user cannot take everyone's.
     */

    slot = 0;
    soonest = NGX_MAX_TIME_T_VALUE;
    own = 0;
    own_slot = 0;
    own_soonest = NGX_MAX_TIME_T_VALUE;
    own_given = 0;
    found = 0;

    for (i = 0; i < NGX_HTTP_NOTIFY_STREAM_TICKETS; i++) {
        t = &w->sh->tickets[i];

        if (t->expires <= now) {
            if (!found) {
                slot = i;
                found = 1;
            }

            continue;
        }

        if (t->user_len == user->len
            && ngx_memcmp(t->user, user->data, user->len) == 0)
        {
            own++;

            if (t->expires < own_soonest
                || (t->expires == own_soonest && t->given < own_given))
            {
                own_soonest = t->expires;
                own_given = t->given;
                own_slot = i;
            }
        }

        if (!found && t->expires < soonest) {
            soonest = t->expires;
            slot = i;
        }
    }

    if (own >= NGX_HTTP_NOTIFY_USER_TICKETS) {
        slot = own_slot;
    }

    t = &w->sh->tickets[slot];

    ngx_hex_dump(t->value, rnd, sizeof(rnd));
    t->expires = now + fc->stream_ticket;
    t->given = ++w->sh->given;
    t->user_len = (u_short) user->len;
    ngx_memcpy(t->user, user->data, user->len);

    p = ngx_sprintf(body, "{\"ticket\":\"%*s\",\"expires_in\":%T}",
                    (size_t) NGX_HTTP_NOTIFY_TICKET_LEN, t->value,
                    fc->stream_ticket);

    ngx_shmtx_unlock(&w->shpool->mutex);

    out = ngx_pnalloc(r->pool, p - body);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(out, body, p - body);

    return ngx_http_notify_send_body(r, NGX_HTTP_OK, NULL, out, p - body);
}


/*
 * ?ticket=: the user it was given for, once.  NGX_DECLINED: no such
 * ticket (never given, used, or expired).
 */

ngx_int_t
ngx_http_notify_stream_take(ngx_http_request_t *r, ngx_str_t *value,
    ngx_str_t *user)
{
    time_t                            now;
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_http_notify_ticket_t         *t;
    ngx_http_notify_stream_worker_t  *w;

    w = &ngx_http_notify_stream_worker;

    if (w->sh == NULL || value->len != NGX_HTTP_NOTIFY_TICKET_LEN) {
        return NGX_DECLINED;
    }

    now = ngx_time();
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&w->shpool->mutex);

    for (i = 0; i < NGX_HTTP_NOTIFY_STREAM_TICKETS; i++) {
        t = &w->sh->tickets[i];

        if (t->expires > now
            && ngx_memcmp(t->value, value->data, value->len) == 0)
        {
            user->data = ngx_pnalloc(r->pool, t->user_len);

            if (user->data != NULL) {
                ngx_memcpy(user->data, t->user, t->user_len);
                user->len = t->user_len;
                rc = NGX_OK;

            } else {
                rc = NGX_ERROR;
            }

            t->expires = 0;
            break;
        }
    }

    ngx_shmtx_unlock(&w->shpool->mutex);

    return rc;
}

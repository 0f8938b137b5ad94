
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * What every backend of the store shares: the configuration, the queue of
 * operations and group commit, the thread-pool task (and the commit in the
 * event loop without threads), the guard timer, retention, the errors,
 * and the part of a put that is not the backend's (the idempotent replay,
 * the id in the notification and its answer, the texts kept).  The
 * backend's functions are in its table (ngx_http_notify_store.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_store.h"


#define NGX_HTTP_NOTIFY_PRUNE_MAX   10000   /* notes removed per transaction */


typedef struct {
    ngx_http_notify_store_backend_t  *backend;
    ngx_uint_t                        open;

    /*
     * The queue is shared with the committing thread: it takes what is
     * queued once it holds the backend's writer lock, so that what arrives
     * while another process commits joins this transaction.
     */
    ngx_http_notify_store_op_t       *queue;       /* waiting for a batch */
    ngx_http_notify_store_op_t      **queue_last;
    ngx_http_notify_store_op_t       *batch;       /* being committed */
    ngx_uint_t                        busy;        /* a commit is posted */

    /*
     * Armed while writes are queued or committing: a timer that is not
     * cancelable keeps a gracefully exiting worker (reload) alive until the
     * requests waiting for their commit have their answers.
     */
    ngx_event_t                       guard;
    ngx_connection_t                  guard_conn;  /* timer's data, no fd */

#if (NGX_THREADS)
    ngx_thread_task_t                *task;
    ngx_thread_pool_t                *thread_pool;
    ngx_thread_mutex_t                mutex;       /* queue, queue_last,
                                                      batch */
#endif

    time_t                            retention;
    ngx_event_t                       prune_event;
    ngx_connection_t                  prune_conn;  /* timer's data, no fd */
    ngx_http_notify_store_op_t        prune_op;
    unsigned                          pruning:1;

    uint64_t                          start;       /* submit(): usec */

    ngx_uint_t                        dead_letters;  /* kept at most */
} ngx_http_notify_store_t;


static int ngx_http_notify_store_apply(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_store_put(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_store_commit(void *txn,
    ngx_http_notify_store_op_t *ops);
static void ngx_http_notify_store_thread(void *data, ngx_log_t *log);
static void ngx_http_notify_store_sync(ngx_http_notify_store_op_t *ops);
static int ngx_http_notify_store_cause(int rc);
static uint64_t ngx_http_notify_store_usec(void);
static void ngx_http_notify_store_start(void);
static void ngx_http_notify_store_batch_done(ngx_event_t *ev);
static void ngx_http_notify_store_prune_timer(ngx_event_t *ev);
static void ngx_http_notify_store_guard(ngx_event_t *ev);
static void ngx_http_notify_store_prune_done(ngx_http_notify_store_op_t *op);


static char *ngx_http_notify_store_set_pg(ngx_conf_t *cf,
    ngx_http_notify_store_conf_t *scf);


static ngx_http_notify_store_t  ngx_http_notify_store;

/* the feed's stream, told of each durable write of this worker */
static ngx_http_notify_store_done_pt  ngx_http_notify_store_watcher;


u_char *
ngx_http_notify_format_id(u_char *p, uint64_t seq)
{
    return ngx_sprintf(p, "%016uxL", seq);
}


ngx_int_t
ngx_http_notify_parse_id(ngx_str_t *id, uint64_t *seq)
{
    u_char      c;
    uint64_t    v;
    ngx_uint_t  i;

    if (id->len != NGX_HTTP_NOTIFY_ID_LEN) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < id->len; i++) {
        c = id->data[i];

        if (c >= '0' && c <= '9') {
            v = (v << 4) | (c - '0');

        } else if (c >= 'a' && c <= 'f') {
            v = (v << 4) | (c - 'a' + 10);

        } else {
            return NGX_ERROR;
        }
    }

    if (v == 0) {
        return NGX_ERROR;
    }

    *seq = v;

    return NGX_OK;
}


/* configuration */

char *
ngx_http_notify_store_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    off_t                          size;
    ngx_str_t                     *value, s, name;
    ngx_uint_t                     i;
    ngx_http_notify_store_conf_t  *scf;

    scf = (ngx_http_notify_store_conf_t *) ((char *) conf + cmd->offset);

    if (scf->path.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "postgres://", 11) == 0
        || ngx_strncmp(value[1].data, "postgresql://", 13) == 0)
    {
        return ngx_http_notify_store_set_pg(cf, scf);
    }

    scf->path = value[1];
    scf->backend = &ngx_http_notify_store_lmdb;

    if (ngx_conf_full_name(cf->cycle, &scf->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    scf->name = scf->path;

    ngx_str_null(&name);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            size = ngx_parse_offset(&s);     /* takes "g" too */
            if (size == NGX_ERROR || size < 16384) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_size \"%V\" of notify_store,"
                                   " it must be a size of at least 16k",
                                   &s);
                return NGX_CONF_ERROR;
            }

            scf->max_size = (size_t) size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "thread_pool=", 12) == 0) {
            name.data = value[i].data + 12;
            name.len = value[i].len - 12;

            if (name.len == 0) {
                return "has an empty thread_pool name";
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of notify_store",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

#if (NGX_THREADS)
    scf->thread_pool = ngx_thread_pool_add(cf, name.len ? &name : NULL);
    if (scf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
#else
    if (name.len) {
        return "has thread_pool= but nginx was built without threads";
    }
#endif

    return NGX_CONF_OK;
}


/*
 * notify_store postgres://...: the conninfo is libpq's (a URL, its
 * parameters included), checked here; the log names the store by its
 * server, database and schema, without the password.
 */

static char *
ngx_http_notify_store_set_pg(ngx_conf_t *cf,
    ngx_http_notify_store_conf_t *scf)
{
    u_char      *p;
    ngx_str_t   *value, s;
    ngx_int_t    n;
    ngx_uint_t   i;

    value = cf->args->elts;

    scf->backend = &ngx_http_notify_store_pg;
    scf->path = value[1];
    ngx_str_set(&scf->schema, "notify");
    scf->connections = 2;
    scf->timeout = 10000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "schema=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            for (p = s.data; p < s.data + s.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || *p == '_'
                      || (p > s.data && *p >= '0' && *p <= '9')))
                {
                    break;
                }
            }

            if (s.len == 0 || s.len > 63 || p != s.data + s.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid schema \"%V\" of notify_store,"
                                   " it must be 1 to 63 of a-z, 0-9 and _,"
                                   " not starting with a digit", &s);
                return NGX_CONF_ERROR;
            }

            scf->schema = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "connections=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);

            if (n < 1 || n > 64) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" of notify_store, it must"
                                   " be a number from 1 to 64", &value[i]);
                return NGX_CONF_ERROR;
            }

            scf->connections = (ngx_uint_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            scf->timeout = ngx_parse_time(&s, 0);

            if (scf->timeout == (ngx_msec_t) NGX_ERROR || scf->timeout == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" of notify_store, it must"
                                   " be a time", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of notify_store%s",
                           &value[i],
                           ngx_strncmp(value[i].data, "max_size=", 9) == 0
                           || ngx_strncmp(value[i].data, "thread_pool=", 12)
                              == 0
                           ? ": it is one of the LMDB store" : "");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_notify_store_pg_check(cf, scf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_notify_store_init_conf(ngx_conf_t *cf,
    ngx_http_notify_store_conf_t *scf)
{
    if (scf->max_size == NGX_CONF_UNSET_SIZE) {
        scf->max_size = 1024 * 1024 * 1024;
    }

    if (scf->retention == NGX_CONF_UNSET) {
        scf->retention = 30 * 86400;
    }

    if (scf->dead_letters == NGX_CONF_UNSET_UINT) {
        scf->dead_letters = NGX_HTTP_NOTIFY_DEAD_DEFAULT;
    }

    return NGX_CONF_OK;
}


/* notify_delivery_dead_letters <number> | off */

char *
ngx_http_notify_store_dead_letters_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_int_t                      n;
    ngx_str_t                     *value;
    ngx_http_notify_store_conf_t  *scf;

    scf = (ngx_http_notify_store_conf_t *) ((char *) conf + cmd->offset);

    if (scf->dead_letters != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        scf->dead_letters = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n == 0 || n > NGX_HTTP_NOTIFY_DEAD_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be \"off\" or a number from 1 to %d,"
                           " not \"%V\"", &cmd->name,
                           NGX_HTTP_NOTIFY_DEAD_MAX, &value[1]);
        return NGX_CONF_ERROR;
    }

    scf->dead_letters = (ngx_uint_t) n;

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_notify_store_dead_letters(void)
{
    return ngx_http_notify_store.dead_letters;
}


const char *
ngx_http_notify_store_dead_reason(ngx_uint_t reason)
{
    return (reason == NGX_HTTP_NOTIFY_DEAD_GIVEN_UP) ? "given_up"
                                                      : "expired";
}


/* in the master, before the workers */

ngx_int_t
ngx_http_notify_store_init_module(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf)
{
    if (scf->path.data == NULL || scf->backend->init_module == NULL) {
        return NGX_OK;
    }

    return scf->backend->init_module(cycle, scf);
}


/* in each worker, after fork */

ngx_int_t
ngx_http_notify_store_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf)
{
    int                       rc;
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    if (scf->path.data == NULL) {
        return NGX_OK;
    }

    ngx_memzero(st, sizeof(ngx_http_notify_store_t));
    st->queue_last = &st->queue;
    st->retention = scf->retention;
    st->backend = scf->backend;
    st->dead_letters = scf->dead_letters;

    rc = st->backend->open(cycle, scf);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "notify: cannot open store \"%V\": %s",
                      &scf->name, st->backend->strerror(rc));
        return NGX_ERROR;
    }

    st->open = 1;

#if (NGX_THREADS)
    if (st->backend->submit) {
        goto started;
    }

    st->thread_pool = scf->thread_pool;

    st->task = ngx_thread_task_alloc(cycle->pool, 0);
    if (st->task == NULL) {
        return NGX_ERROR;
    }

    if (ngx_thread_mutex_create(&st->mutex, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    st->task->handler = ngx_http_notify_store_thread;
    st->task->event.handler = ngx_http_notify_store_batch_done;
    st->task->event.data = NULL;
    st->task->event.log = cycle->log;

started:
#endif

    st->guard_conn.fd = (ngx_socket_t) -1;
    st->guard.handler = ngx_http_notify_store_guard;
    st->guard.data = &st->guard_conn;
    st->guard.log = cycle->log;

    /* retention runs in one process: worker 0, or the only one */

    if ((ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0)
        || ngx_process == NGX_PROCESS_SINGLE)
    {
        st->prune_conn.fd = (ngx_socket_t) -1;
        st->prune_event.handler = ngx_http_notify_store_prune_timer;
        st->prune_event.data = &st->prune_conn;
        st->prune_event.log = cycle->log;
        st->prune_event.cancelable = 1;

        ngx_add_timer(&st->prune_event, 1000);
    }

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "notify: store \"%V\" open", &scf->name);

    return NGX_OK;
}


void
ngx_http_notify_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    if (!st->open) {
        return;
    }

    st->backend->close(cycle);
    st->open = 0;

#if (NGX_THREADS)
    if (st->task) {
        (void) ngx_thread_mutex_destroy(&st->mutex, cycle->log);
    }
#endif
}


ngx_uint_t
ngx_http_notify_store_ready(void)
{
    return ngx_http_notify_store.open;
}


void
ngx_http_notify_store_version(const char **name, const char **version)
{
    /* the built-in backend, whether a store is configured or not */

    *name = ngx_http_notify_store_lmdb.name;
    *version = ngx_http_notify_store_lmdb.version();
}


/* the write path: queue, batch, thread, done */

#if (NGX_THREADS)
#define ngx_http_notify_store_lock(st)                                        \
    (void) ngx_thread_mutex_lock(&(st)->mutex, ngx_cycle->log)
#define ngx_http_notify_store_unlock(st)                                      \
    (void) ngx_thread_mutex_unlock(&(st)->mutex, ngx_cycle->log)
#else
#define ngx_http_notify_store_lock(st)
#define ngx_http_notify_store_unlock(st)
#endif


void
ngx_http_notify_store_watch(ngx_http_notify_store_done_pt watch)
{
    ngx_http_notify_store_watcher = watch;
}


void
ngx_http_notify_store_heard(ngx_http_notify_store_op_t *op)
{
    if (ngx_http_notify_store_watcher) {
        ngx_http_notify_store_watcher(op);
    }
}


ngx_uint_t
ngx_http_notify_store_watched(void)
{
    return ngx_http_notify_store_watcher != NULL;
}


void
ngx_http_notify_store_post(ngx_http_notify_store_op_t *op)
{
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    op->next = NULL;

    ngx_http_notify_store_lock(st);
    *st->queue_last = op;
    st->queue_last = &op->next;
    ngx_http_notify_store_unlock(st);

    if (!st->busy) {
        ngx_http_notify_store_start();
    }
}


static void
ngx_http_notify_store_start(void)
{
    ngx_http_notify_store_t      *st;
    ngx_http_notify_store_op_t   *ops, **ll;

    st = &ngx_http_notify_store;

    st->busy = 1;

    if (!st->guard.timer_set) {
        ngx_add_timer(&st->guard, 1000);
    }

    if (st->backend->submit) {

        /*
         * The backend writes the batch itself, and says when it is done.
         * Retention is a batch of its own: neither held up by the writers'
         * lock nor holding it for them.
         */

        ops = st->queue;

        for (ll = &ops->next;
             *ll && ops->type != NGX_HTTP_NOTIFY_OP_PRUNE
             && (*ll)->type != NGX_HTTP_NOTIFY_OP_PRUNE;
             ll = &(*ll)->next)
        { /* void */ }

        st->queue = *ll;
        *ll = NULL;

        if (st->queue == NULL) {
            st->queue_last = &st->queue;
        }

        st->batch = ops;
        st->start = ngx_http_notify_store_usec();

        st->backend->submit(ops);
        return;
    }

#if (NGX_THREADS)
    if (ngx_thread_task_post(st->thread_pool, st->task) == NGX_OK) {
        return;
    }

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                  "notify: cannot post a store task, committing in the"
                  " event loop");
#endif

    /* no threads: commit here, blocking (documented) */

    ngx_http_notify_store_thread(NULL, ngx_cycle->log);

#if (NGX_THREADS)
    ngx_http_notify_store_batch_done(&st->task->event);
#else
    ngx_http_notify_store_batch_done(NULL);
#endif
}


/*
 * Runs in a pool thread: no nginx allocations, no event loop calls.  The
 * batch is what is queued once the backend holds its writer lock.
 */

static void
ngx_http_notify_store_thread(void *data, ngx_log_t *log)
{
    int                               rc;
    void                             *txn;
    uint64_t                          start;
    ngx_uint_t                        n;
    ngx_http_notify_store_t          *st;
    ngx_http_notify_store_op_t       *ops, *op, *next;
    ngx_http_notify_store_backend_t  *be;

    st = &ngx_http_notify_store;
    be = st->backend;

    rc = be->begin(&txn);

    ngx_http_notify_store_lock(st);
    ops = st->queue;
    st->queue = NULL;
    st->queue_last = &st->queue;
    st->batch = ops;
    ngx_http_notify_store_unlock(st);

    if (ops == NULL) {
        if (rc == 0) {
            be->abort(txn);
        }

        return;
    }

    if (rc == 0) {
        start = ngx_http_notify_store_usec();

        rc = ngx_http_notify_store_commit(txn, ops);

        if (rc == 0) {
            ngx_http_notify_store_sync(ops);

            for (n = 0, op = ops; op; op = op->next) {
                n++;
            }

            ngx_http_notify_metrics_commit(n,
                                     ngx_http_notify_store_usec() - start);
            return;
        }
    }

    if (ops->next == NULL) {
        ops->rc = NGX_ERROR;
        ops->err = rc;
        return;
    }

    /*
     * The batch failed as a whole (a full map, a full disk): nothing of it
     * was written.  Try each operation alone, so that one that does not
     * fit does not fail the others.
     */

    for (op = ops; op; op = next) {
        next = op->next;
        op->next = NULL;

        rc = be->begin(&txn);

        if (rc == 0) {
            rc = ngx_http_notify_store_commit(txn, op);
        }

        if (rc != 0) {
            op->rc = NGX_ERROR;
            op->err = rc;
        }

        op->next = next;
    }

    ngx_http_notify_store_sync(ops);
}


/*
 * A clock for the time of a commit, in the committing thread (nginx's
 * cached time is the event loop's): monotonic where there is one.
 */

static uint64_t
ngx_http_notify_store_usec(void)
{
#if (NGX_HAVE_CLOCK_MONOTONIC)
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#else
    struct timeval   tv;

    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000000 + tv.tv_usec;
#endif
}


/*
 * The backend's sync of what was committed, outside its writer lock.
 * Should that fail, what was committed is answered as failed (and never
 * committed again: it is in the store, only its durability is in doubt).
 */

static void
ngx_http_notify_store_sync(ngx_http_notify_store_op_t *ops)
{
    int                          rc;
    ngx_http_notify_store_op_t  *op;

    rc = ngx_http_notify_store.backend->sync();

    if (rc == 0) {
        return;
    }

    for (op = ops; op; op = op->next) {
        if (op->rc == NGX_OK) {
            op->rc = NGX_ERROR;
            op->err = rc;
        }
    }
}


/* applies the operations in the transaction and commits it, or aborts it */

static int
ngx_http_notify_store_commit(void *txn, ngx_http_notify_store_op_t *ops)
{
    int                          rc;
    ngx_http_notify_store_op_t  *op;

    for (op = ops; op; op = op->next) {
        op->rc = NGX_OK;
        op->err = 0;

        rc = ngx_http_notify_store_apply(txn, op);

        if (rc != 0) {
            ngx_http_notify_store.backend->abort(txn);
            return ngx_http_notify_store_cause(rc);
        }
    }

    return ngx_http_notify_store_cause(
                                   ngx_http_notify_store.backend->commit(txn));
}


/*
 * A write that the file system takes only in part is answered EIO by a
 * backend that writes files (LMDB does), and the errno of the write is
 * lost.  A short write to a regular file is the file system running out
 * of room: when the store's file system has less room left than one
 * write of the backend's at most, the cause was that, and is told as
 * ENOSPC.  Any other EIO is an I/O error and stays one; the backend's own
 * codes (MDB_MAP_FULL) are left as they are.  Runs in the committing
 * thread, right after the failing write.
 */

static int
ngx_http_notify_store_cause(int rc)
{
    uint64_t                          avail, write;
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store.backend;

    if (rc != EIO || be->room == NULL) {
        return rc;
    }

    if (be->room(&avail, &write) != NGX_OK) {
        return rc;
    }

    if (avail < write) {
        return NGX_ENOSPC;
    }

    return rc;
}


/* a backend's submit() is done with the batch: in the event loop */

void
ngx_http_notify_store_written(ngx_http_notify_store_op_t *ops)
{
    ngx_uint_t                   n;
    ngx_http_notify_store_op_t  *op;

    for (n = 0, op = ops; op; op = op->next) {
        n++;
    }

    if (n && ops->rc != NGX_ERROR) {
        ngx_http_notify_metrics_commit(n, ngx_http_notify_store_usec()
                                          - ngx_http_notify_store.start);
    }

    ngx_http_notify_store_batch_done(NULL);
}


static void
ngx_http_notify_store_batch_done(ngx_event_t *ev)
{
    ngx_uint_t                   pending;
    ngx_http_notify_store_t     *st;
    ngx_http_notify_store_op_t  *op, *next;

    st = &ngx_http_notify_store;

    ngx_http_notify_store_lock(st);
    op = st->batch;
    st->batch = NULL;
    ngx_http_notify_store_unlock(st);

    st->busy = 0;

#if (NGX_DEBUG)
    {
    ngx_uint_t  n;

    for (n = 0, next = op; next; next = next->next) {
        n++;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "notify: committed %ui operations in one transaction", n);
    }
#endif

    for ( /* void */ ; op; op = next) {
        next = op->next;

        if (op->rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, op->log, 0,
                          "notify: store write failed: %s",
                          st->backend->strerror(op->err));
        }

        if (ngx_http_notify_store_watcher && op->rc != NGX_ERROR) {
            ngx_http_notify_store_watcher(op);
        }

        op->done(op);
    }

    /* a done handler may have posted, and so started, the next commit */

    if (st->busy) {
        return;
    }

    ngx_http_notify_store_lock(st);
    pending = (st->queue != NULL);
    ngx_http_notify_store_unlock(st);

    if (pending) {
        ngx_http_notify_store_start();
        return;
    }

    if (st->guard.timer_set) {
        ngx_del_timer(&st->guard);
    }
}


static void
ngx_http_notify_store_guard(ngx_event_t *ev)
{
    if (ngx_http_notify_store.busy) {
        ngx_add_timer(ev, 1000);
    }
}


static int
ngx_http_notify_store_apply(void *txn, ngx_http_notify_store_op_t *op)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store.backend;

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_PUT:
        return ngx_http_notify_store_put(txn, op);

    case NGX_HTTP_NOTIFY_OP_READ_ONE:
        return be->mark_read(txn, op);

    case NGX_HTTP_NOTIFY_OP_READ_UNTIL:
        return be->mark_read_until(txn, op);

    case NGX_HTTP_NOTIFY_OP_PRUNE:
        return be->prune(txn, op);

    case NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM:
        return be->outbox_claim(txn, op);

    case NGX_HTTP_NOTIFY_OP_SEEN_ALL:
    case NGX_HTTP_NOTIFY_OP_READ_ALL:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE_READ:
    case NGX_HTTP_NOTIFY_OP_DELETE:
        return be->feed_change(txn, op);

    case NGX_HTTP_NOTIFY_OP_DEAD_REPLAY:
    case NGX_HTTP_NOTIFY_OP_DEAD_PURGE:
        return be->dead(txn, op);

    default: /* DONE, RETRY, DROP, NOW */
        return be->outbox_finish(txn, op);
    }
}


/*
 * A put: an idempotent replay gets the first answer again; else the
 * notification gets the next id (in it and in its answer), and the
 * backend writes it with the texts made here: the whole notification,
 * the feed's view of it, and the answer to give a replay.
 */

static int
ngx_http_notify_store_put(void *txn, ngx_http_notify_store_op_t *op)
{
    int                                rc;
    uint64_t                           seq;
    ngx_str_t                          kept;
    ngx_http_notify_store_note_t       note;
    ngx_http_notify_store_backend_t   *be;

    be = ngx_http_notify_store.backend;

    op->duplicate = 0;
    op->replaced = 0;

    if (op->has_idem) {
        rc = be->idempotent(txn, op->idem, &kept);
        if (rc != 0) {
            return rc;
        }

        if (kept.len && ngx_http_notify_store_replay(op, &kept) == NGX_OK) {
            return 0;
        }
    }

    rc = be->next_id(txn, &seq);
    if (rc != 0) {
        return rc;
    }

    rc = ngx_http_notify_store_note_make(op, seq, &note);

    if (rc == 0) {
        rc = be->put(txn, op, &note);
    }

    if (rc == 0) {
        op->seq = seq;
    }

    ngx_http_notify_store_note_free(&note);

    return rc;
}


/* an idempotent replay: the answer kept for the key, parsed */

ngx_int_t
ngx_http_notify_store_replay(ngx_http_notify_store_op_t *op, ngx_str_t *kept)
{
    json_t  *answer;

    answer = json_loadb((char *) kept->data, kept->len, 0, NULL);
    if (answer == NULL) {
        return NGX_DECLINED;
    }

    if (op->answer) {
        json_decref(op->answer);
    }

    op->answer = answer;
    op->duplicate = 1;

    return NGX_OK;
}


/*
 * The notification gets its id, in the texts a backend writes and in its
 * answer: the whole notification and the feed's view of it (written from
 * the canonical notification before the commit, op->text and op->view),
 * and the answer to give a replay, written here.  The note is freed with
 * ngx_http_notify_store_note_free(), whatever this returned.
 */

int
ngx_http_notify_store_note_make(ngx_http_notify_store_op_t *op, uint64_t seq,
    ngx_http_notify_store_note_t *note)
{
    json_t  *id;
    u_char  *answer_text;
    u_char   idbuf[NGX_HTTP_NOTIFY_ID_LEN];

    ngx_memzero(note, sizeof(ngx_http_notify_store_note_t));

    (void) ngx_http_notify_format_id(idbuf, seq);

    /* the texts, written from the canonical notification before the
       commit, get their id in place; so does the answer */

    ngx_http_notify_note_set_id(&op->text, idbuf);
    ngx_http_notify_note_set_id(&op->view, idbuf);

    note->seq = seq;
    note->note = op->text;
    note->view = op->view;

    if (op->answer == NULL) {
        return 0;
    }

    id = json_stringn((char *) idbuf, NGX_HTTP_NOTIFY_ID_LEN);

    if (id == NULL || json_object_set_new(op->answer, "id", id) != 0) {
        return ENOMEM;
    }

    if (!op->has_idem) {
        return 0;
    }

    note->answer.len = ngx_http_notify_json_size(op->answer);

    answer_text = malloc(note->answer.len);
    if (note->answer.len == 0 || answer_text == NULL) {
        free(answer_text);
        note->answer.len = 0;
        return ENOMEM;
    }

    (void) ngx_http_notify_json_write(answer_text, op->answer);

    note->answer.data = answer_text;

    return 0;
}


/* the texts are the request's (its pool); the answer is malloc()ed */

void
ngx_http_notify_store_note_free(ngx_http_notify_store_note_t *note)
{
    free(note->answer.data);

    ngx_memzero(note, sizeof(ngx_http_notify_store_note_t));
}


/* retention: a timer in one process */

static void
ngx_http_notify_store_prune_timer(ngx_event_t *ev)
{
    ngx_http_notify_store_t     *st;
    ngx_http_notify_store_op_t  *op;

    st = &ngx_http_notify_store;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (st->backend->check) {
        st->backend->check(ev->log);
    }

    if (st->pruning) {
        ngx_add_timer(ev, 1000);
        return;
    }

    op = &st->prune_op;
    ngx_memzero(op, sizeof(ngx_http_notify_store_op_t));

    op->type = NGX_HTTP_NOTIFY_OP_PRUNE;
    op->before = ngx_time() - st->retention;
    op->max = NGX_HTTP_NOTIFY_PRUNE_MAX;
    op->done = ngx_http_notify_store_prune_done;
    op->log = ev->log;

    st->pruning = 1;

    ngx_http_notify_store_post(op);
}


static void
ngx_http_notify_store_prune_done(ngx_http_notify_store_op_t *op)
{
    ngx_msec_t                delay;
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;
    st->pruning = 0;

    if (op->rc == NGX_OK && op->seq > 0) {
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "notify: retention removed %uL notifications,"
                      " %ui feed entries and %ui chain links",
                      op->seq, op->count, op->replaced);
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    /* more to do: again soon; else check every 1/8 of the retention */

    if (op->rc == NGX_OK && op->seq >= op->max) {
        delay = 10;

    } else {
        delay = (ngx_msec_t) st->retention * 1000 / 8;
        delay = ngx_max(delay, 500);
        delay = ngx_min(delay, 60000);
    }

    ngx_add_timer(&st->prune_event, delay);
}

/*
 * A claimed entry's notification (NULL: none) and recipients (none when
 * empty), copied with malloc() as ngx_http_notify_store_claim_free()
 * frees them; 0 or ENOMEM (then nothing is kept)
 */

int
ngx_http_notify_store_claim_set(ngx_http_notify_claim_t *cl, u_char *note,
    size_t note_len, u_char *rcpt, size_t rcpt_len)
{
    if (note != NULL) {
        cl->note = malloc(note_len ? note_len : 1);
        if (cl->note == NULL) {
            return ENOMEM;
        }

        ngx_memcpy(cl->note, note, note_len);
        cl->note_len = note_len;
    }

    if (rcpt != NULL && rcpt_len) {
        cl->recipients = malloc(rcpt_len);
        if (cl->recipients == NULL) {
            free(cl->note);             /* not counted: not freed later */
            cl->note = NULL;
            return ENOMEM;
        }

        ngx_memcpy(cl->recipients, rcpt, rcpt_len);
        cl->recipients_len = rcpt_len;
    }

    return 0;
}


void
ngx_http_notify_store_claim_free(ngx_http_notify_store_op_t *op)
{
    ngx_uint_t  i;

    if (op->claimed) {
        for (i = 0; i < op->nclaimed; i++) {
            free(op->claimed[i].note);
            free(op->claimed[i].recipients);
        }

        free(op->claimed);
    }

    free(op->expired);
    free(op->expired_quota);

    op->claimed = NULL;
    op->nclaimed = 0;
    op->expired = NULL;
    op->expired_quota = NULL;
    op->nexpired = 0;
}


/* reads, in the event loop */

static ngx_http_notify_store_backend_t *
ngx_http_notify_store_reader(ngx_log_t *log)
{
    if (!ngx_http_notify_store.open) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "notify: no store configured");
        return NULL;
    }

    return ngx_http_notify_store.backend;
}


/* the reads that answer at once: only a backend without read() has them */

static ngx_http_notify_store_backend_t *
ngx_http_notify_store_reader_now(ngx_log_t *log)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store_reader(log);

    if (be && be->read) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "notify: the %s store reads only through"
                      " ngx_http_notify_store_read()", be->name);
        return NULL;
    }

    return be;
}


ngx_int_t
ngx_http_notify_store_feed(ngx_http_notify_feed_query_t *q, ngx_pool_t *pool,
    ngx_array_t *items, uint64_t *next, uint64_t *unread, ngx_log_t *log)
{
    ngx_uint_t                        n;
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store_reader_now(log);
    if (be == NULL) {
        return NGX_ERROR;
    }

    n = (q->limit && q->limit < NGX_HTTP_NOTIFY_FEED_PAGE_MAX)
        ? q->limit : NGX_HTTP_NOTIFY_FEED_PAGE_MAX;

    if (ngx_array_init(items, pool, n, sizeof(ngx_http_notify_feed_entry_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return be->feed(q, items, next, unread, log);
}


ngx_int_t
ngx_http_notify_store_unread(ngx_str_t *user, uint64_t *unread,
    ngx_log_t *log)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store_reader_now(log);
    if (be == NULL) {
        return NGX_ERROR;
    }

    return be->unread(user, unread, log);
}


ngx_int_t
ngx_http_notify_store_counts(ngx_str_t *user, uint64_t *unread,
    uint64_t *unseen, ngx_log_t *log)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store_reader_now(log);
    if (be == NULL || be->counts == NULL) {
        return NGX_ERROR;
    }

    return be->counts(user, unread, unseen, log);
}


/*
 * The filters of a page.  A kept view begins {"id":"<16 hex>","dialect":
 * <string>,"event":<value>, (one writer, ngx_http_notify_note_text(), in
 * this order, compact): a filter is the JSON text of the string it asks
 * for, compared where the member's value is, without parsing.
 */

ngx_uint_t
ngx_http_notify_store_feed_match(ngx_http_notify_feed_query_t *q,
    ngx_uint_t states, u_char *view, size_t len)
{
    u_char      *p, *last;
    ngx_uint_t   status;

    static u_char  id[] = "{\"id\":\"";
    static u_char  dialect[] = "\",\"dialect\":";
    static u_char  event[] = ",\"event\":";

    status = q->unread_only ? NGX_HTTP_NOTIFY_FEED_UNREAD : q->status;

    switch (status) {

    case NGX_HTTP_NOTIFY_FEED_UNREAD:
        if (states & NGX_HTTP_NOTIFY_STATE_READ) {
            return 0;
        }
        break;

    case NGX_HTTP_NOTIFY_FEED_UNSEEN:
        if (states & NGX_HTTP_NOTIFY_STATE_SEEN) {
            return 0;
        }
        break;

    case NGX_HTTP_NOTIFY_FEED_READ:
        if ((states & (NGX_HTTP_NOTIFY_STATE_READ
                       |NGX_HTTP_NOTIFY_STATE_ARCHIVED))
            != NGX_HTTP_NOTIFY_STATE_READ)
        {
            return 0;
        }
        break;

    case NGX_HTTP_NOTIFY_FEED_ARCHIVED:
        if (!(states & NGX_HTTP_NOTIFY_STATE_ARCHIVED)) {
            return 0;
        }
        break;

    case NGX_HTTP_NOTIFY_FEED_ALL:
        break;

    default: /* INBOX */
        if (states & NGX_HTTP_NOTIFY_STATE_ARCHIVED) {
            return 0;
        }
    }

    if (view == NULL || (q->dialect.len == 0 && q->event.len == 0)) {
        return 1;
    }

    p = view;
    last = view + len;

    if ((size_t) (last - p) < sizeof(id) - 1 + NGX_HTTP_NOTIFY_ID_LEN
                              + sizeof(dialect) - 1
        || ngx_memcmp(p, id, sizeof(id) - 1) != 0)
    {
        return 0;
    }

    p += sizeof(id) - 1 + NGX_HTTP_NOTIFY_ID_LEN;

    if (ngx_memcmp(p, dialect, sizeof(dialect) - 1) != 0) {
        return 0;
    }

    p += sizeof(dialect) - 1;

    if (q->dialect.len
        && ((size_t) (last - p) < q->dialect.len
            || ngx_memcmp(p, q->dialect.data, q->dialect.len) != 0
            || (size_t) (last - p) < q->dialect.len + sizeof(event) - 1
            || ngx_memcmp(p + q->dialect.len, event, sizeof(event) - 1)
               != 0))
    {
        return 0;
    }

    if (q->event.len == 0) {
        return 1;
    }

    /* past the dialect's string: its end is the first unescaped quote */

    if (p == last || *p++ != '"') {
        return 0;
    }

    while (p < last && *p != '"') {
        p += (*p == '\\') ? 2 : 1;
    }

    if (last - p < (ssize_t) (1 + sizeof(event) - 1 + q->event.len + 1)
        || ngx_memcmp(p + 1, event, sizeof(event) - 1) != 0)
    {
        return 0;
    }

    p += 1 + sizeof(event) - 1;

    return ngx_memcmp(p, q->event.data, q->event.len) == 0
           && (p[q->event.len] == ',' || p[q->event.len] == '}');
}


/* the earliest due time in the outbox (msec), 0 when it is empty */

ngx_int_t
ngx_http_notify_store_next_due(uint64_t *due, ngx_str_t *targets,
    ngx_uint_t ntargets, ngx_log_t *log)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store_reader_now(log);
    if (be == NULL) {
        return NGX_ERROR;
    }

    return be->next_due(due, targets, ntargets, log);
}


/* the pending deliveries, for the admin location, oldest id first */

ngx_int_t
ngx_http_notify_store_outbox(ngx_array_t *entries, ngx_uint_t limit,
    ngx_log_t *log)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store_reader_now(log);
    if (be == NULL) {
        return NGX_ERROR;
    }

    return be->outbox(entries, limit, log);
}


/*
 * A read in callback form.  A backend without its own (LMDB reads in the
 * event loop) is answered here at once, by the functions above.
 */

void
ngx_http_notify_store_read(ngx_http_notify_store_read_t *rd)
{
    size_t                            size;
    ngx_uint_t                        n;
    ngx_http_notify_store_backend_t  *be;

    rd->rc = NGX_ERROR;
    rd->next = 0;
    rd->unread = 0;
    rd->unseen = 0;
    rd->due = 0;

    be = ngx_http_notify_store_reader(rd->log);
    if (be == NULL) {
        rd->done(rd);
        return;
    }

    if ((rd->type == NGX_HTTP_NOTIFY_READ_COUNTS || rd->counts)
        && !be->states)
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "notify: the %s store keeps no feed states", be->name);
        rd->done(rd);
        return;
    }

    if (rd->type == NGX_HTTP_NOTIFY_READ_FEED
        || rd->type == NGX_HTTP_NOTIFY_READ_OUTBOX
        || rd->type == NGX_HTTP_NOTIFY_READ_DEAD)
    {
        if (rd->type == NGX_HTTP_NOTIFY_READ_FEED) {
            n = (rd->query.limit
                 && rd->query.limit < NGX_HTTP_NOTIFY_FEED_PAGE_MAX)
                ? rd->query.limit : NGX_HTTP_NOTIFY_FEED_PAGE_MAX;
            size = sizeof(ngx_http_notify_feed_entry_t);

        } else if (rd->type == NGX_HTTP_NOTIFY_READ_DEAD) {
            n = 16;
            size = sizeof(ngx_http_notify_dead_entry_t);

        } else {
            n = 16;
            size = sizeof(ngx_http_notify_outbox_entry_t);
        }

        if (ngx_array_init(&rd->items, rd->pool, n, size) != NGX_OK) {
            rd->done(rd);
            return;
        }
    }

    if (be->read) {
        be->read(rd);
        return;
    }

    switch (rd->type) {

    case NGX_HTTP_NOTIFY_READ_FEED:
        rd->rc = be->feed(&rd->query, &rd->items, &rd->next, &rd->unread,
                          rd->log);

        if (rd->rc == NGX_OK && rd->counts) {
            rd->rc = be->counts(&rd->query.user, &rd->unread, &rd->unseen,
                                rd->log);
        }

        break;

    case NGX_HTTP_NOTIFY_READ_COUNTS:
        rd->rc = be->counts(&rd->query.user, &rd->unread, &rd->unseen,
                            rd->log);
        break;

    case NGX_HTTP_NOTIFY_READ_UNREAD:
        rd->rc = be->unread(&rd->query.user, &rd->unread, rd->log);
        break;

    case NGX_HTTP_NOTIFY_READ_OUTBOX:
        rd->rc = be->outbox(&rd->items, rd->limit, rd->log);
        break;

    case NGX_HTTP_NOTIFY_READ_NEXT_DUE:
        rd->rc = be->next_due(&rd->due, rd->targets, rd->ntargets, rd->log);
        break;

    case NGX_HTTP_NOTIFY_READ_DEAD:
        rd->rc = be->dead_list(&rd->items, rd->targets, rd->after_seq,
                               rd->after_entry, rd->limit, rd->log);
        break;

    default: /* NGX_HTTP_NOTIFY_READ_STATS */
        ngx_memzero(&rd->stats, sizeof(ngx_http_notify_store_stats_t));
        rd->rc = be->stats(&rd->stats, rd->log);
        break;
    }

    rd->done(rd);
}


/*
 * A request's read: "done" may run before this returns or later, so the
 * request counts itself, and "done" finalizes it.
 */

ngx_int_t
ngx_http_notify_store_read_for(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd, ngx_http_notify_store_read_pt done)
{
    rd->pool = r->pool;
    rd->done = done;
    rd->data = r;
    rd->log = r->connection->log;

    r->main->count++;

    ngx_http_notify_store_read(rd);

    return NGX_DONE;
}


ngx_uint_t
ngx_http_notify_store_has_states(void)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store.backend;

    return be != NULL && be->states;
}


ngx_uint_t
ngx_http_notify_store_reads_now(void)
{
    ngx_http_notify_store_backend_t  *be;

    be = ngx_http_notify_store.backend;

    return be != NULL && be->read == NULL && be->counts != NULL;
}


/* notify_metrics, at a scrape */

ngx_int_t
ngx_http_notify_store_stats(ngx_http_notify_store_stats_t *stats,
    ngx_log_t *log)
{
    if (!ngx_http_notify_store.open) {
        return NGX_DECLINED;
    }

    ngx_memzero(stats, sizeof(ngx_http_notify_store_stats_t));

    return ngx_http_notify_store.backend->stats(stats, log);
}

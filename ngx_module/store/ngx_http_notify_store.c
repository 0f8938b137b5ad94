
/*
 * Copyright (C) ngx_http_notify authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_store.h"

#include <lmdb.h>
#include <sys/statvfs.h>


/*
 * Layout of the environment (every number big-endian, so that LMDB's
 * byte order is numeric order):
 *
 *   meta    "seq"                      -> u64 last sequence number given
 *   notes   u64 seq                    -> note header + canonical JSON
 *   rcpt    u64 seq                    -> recipients' ids, NUL-separated
 *   feed    user id, NUL, u64 ~seq     -> u8 flags (newest entry first)
 *   unread  user id                    -> u64 unread entries
 *   marks   user id                    -> u64 read watermark: every entry
 *                                         up to it counts as read
 *   idem    SHA-256 of the key         -> u64 seq + the answer given
 *   chains  chain hash, user id        -> u64 seq of the entry that a
 *                                         newer one of the chain replaces
 *   outbox  u64 seq                    -> ngx_http_notify_outbox_rec_t
 *   due     u64 due msec, u64 seq      -> (empty): the outbox by due time
 */

#define NGX_HTTP_NOTIFY_FEED_READ   0x01

#define NGX_HTTP_NOTIFY_PRUNE_MAX   10000   /* notes removed per transaction */


/*
 * A stored notification: this header, the whole notification as JSON
 * (full_len bytes: what delivery sends), then the part the feed shows
 * (the rest of the value), kept ready so that a page of the feed is put
 * together without parsing JSON.
 */

typedef struct {
    uint64_t                     created;     /* big-endian unix time */
    uint32_t                     full_len;
    u_char                       has_idem;
    u_char                       idem[32];
    u_char                       has_chain;   /* retention drops the */
    u_char                       chain[32];   /* chain's links to it */
} ngx_http_notify_note_hdr_t;


typedef struct {
    MDB_env                     *env;
    MDB_dbi                      meta;
    MDB_dbi                      notes;
    MDB_dbi                      rcpt;
    MDB_dbi                      feed;
    MDB_dbi                      unread;
    MDB_dbi                      marks;
    MDB_dbi                      idem;
    MDB_dbi                      chains;
    MDB_dbi                      outbox;
    MDB_dbi                      due;

    MDB_txn                     *read_txn;    /* reset between uses */

    /*
     * The queue is shared with the committing thread: it takes what is
     * queued once it holds LMDB's writer lock, so that what arrives while
     * another process commits joins this transaction.
     */
    ngx_http_notify_store_op_t  *queue;       /* waiting for a batch */
    ngx_http_notify_store_op_t **queue_last;
    ngx_http_notify_store_op_t  *batch;       /* being committed */
    ngx_uint_t                   busy;        /* a commit is posted */

    /*
     * Armed while writes are queued or committing: a timer that is not
     * cancelable keeps a gracefully exiting worker (reload) alive until the
     * requests waiting for their commit have their answers.
     */
    ngx_event_t                  guard;
    ngx_connection_t             guard_conn;  /* timer's data, no fd */

#if (NGX_THREADS)
    ngx_thread_task_t           *task;
    ngx_thread_pool_t           *thread_pool;
    ngx_thread_mutex_t           mutex;       /* queue, queue_last, batch */
#endif

    time_t                       retention;
    ngx_event_t                  prune_event;
    ngx_connection_t             prune_conn;  /* timer's data, no fd */
    ngx_http_notify_store_op_t   prune_op;
    unsigned                     pruning:1;
} ngx_http_notify_store_t;


static int ngx_http_notify_store_apply(MDB_txn *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_store_put(MDB_txn *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_store_read_one(MDB_txn *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_store_read_until(MDB_txn *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_store_prune(MDB_txn *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_store_chain(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, ngx_str_t *user, uint64_t seq,
    u_char *buf);
static int ngx_http_notify_store_unchain(MDB_txn *txn, u_char *chain,
    ngx_str_t *user, uint64_t seq, u_char *buf);
static int ngx_http_notify_store_count_add(MDB_txn *txn, MDB_val *user,
    int64_t delta, uint64_t *result);
static int ngx_http_notify_outbox_put(MDB_txn *txn, uint64_t seq,
    ngx_http_notify_outbox_rec_t *rec, uint64_t old_due);
static int ngx_http_notify_outbox_del(MDB_txn *txn, uint64_t seq);
static int ngx_http_notify_outbox_update(MDB_txn *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_outbox_claim(MDB_txn *txn,
    ngx_http_notify_store_op_t *op);
static uint64_t ngx_http_notify_store_watermark(MDB_txn *txn, MDB_val *user);
static int ngx_http_notify_store_commit(MDB_txn *txn,
    ngx_http_notify_store_op_t *ops);
static void ngx_http_notify_store_thread(void *data, ngx_log_t *log);
static void ngx_http_notify_store_sync(ngx_http_notify_store_op_t *ops);
static int ngx_http_notify_store_cause(int rc);
static void ngx_http_notify_store_readers(ngx_log_t *log);
static void ngx_http_notify_store_start(void);
static void ngx_http_notify_store_batch_done(ngx_event_t *ev);
static void ngx_http_notify_store_prune_timer(ngx_event_t *ev);
static void ngx_http_notify_store_guard(ngx_event_t *ev);
static void ngx_http_notify_store_prune_done(ngx_http_notify_store_op_t *op);
static MDB_txn *ngx_http_notify_store_read_begin(ngx_log_t *log);
static void ngx_http_notify_store_read_end(MDB_txn *txn);
static u_char *ngx_http_notify_chain_key(u_char *p, u_char *chain,
    ngx_str_t *user);
static u_char *ngx_http_notify_feed_key(u_char *p, ngx_str_t *user,
    uint64_t seq);


static ngx_http_notify_store_t  ngx_http_notify_store;


static ngx_inline void
ngx_http_notify_put_u64(u_char *p, uint64_t v)
{
    ngx_uint_t  i;

    for (i = 0; i < 8; i++) {
        p[7 - i] = (u_char) (v & 0xff);
        v >>= 8;
    }
}


static ngx_inline uint64_t
ngx_http_notify_get_u64(u_char *p)
{
    uint64_t    v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }

    return v;
}


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


/* feed key: user id, NUL, ~seq; "p" has room for user->len + 9 bytes */

/* a chain's link for a user: the chain's SHA-256, then the user id */

static u_char *
ngx_http_notify_chain_key(u_char *p, u_char *chain, ngx_str_t *user)
{
    p = ngx_cpymem(p, chain, 32);
    return ngx_cpymem(p, user->data, user->len);
}


static u_char *
ngx_http_notify_feed_key(u_char *p, ngx_str_t *user, uint64_t seq)
{
    p = ngx_cpymem(p, user->data, user->len);
    *p++ = '\0';
    ngx_http_notify_put_u64(p, ~seq);

    return p + 8;
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

    scf->path = value[1];

    if (ngx_conf_full_name(cf->cycle, &scf->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

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

    return NGX_CONF_OK;
}


/* in the master, before the workers: make the folder for the workers */

ngx_int_t
ngx_http_notify_store_init_module(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf)
{
    u_char           *path;
    ngx_err_t         err;
    ngx_file_info_t   fi;
    ngx_core_conf_t  *ccf;

    if (scf->path.data == NULL) {
        return NGX_OK;
    }

    path = scf->path.data;   /* null-terminated by the conf parser */

    if (ngx_create_dir(path, 0700) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err != NGX_EEXIST) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                          ngx_create_dir_n " \"%s\" failed", path);
            return NGX_ERROR;
        }
    }

    if (geteuid() != 0) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ngx_file_info(path, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_file_info_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    if (fi.st_uid != ccf->user) {
        if (chown((char *) path, ccf->user, -1) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "chown(\"%s\", %d) failed", path, ccf->user);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* in each worker, after fork */

ngx_int_t
ngx_http_notify_store_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf)
{
    int                       rc;
    MDB_txn                  *txn;
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    if (scf->path.data == NULL) {
        return NGX_OK;
    }

    ngx_memzero(st, sizeof(ngx_http_notify_store_t));
    st->queue_last = &st->queue;
    st->retention = scf->retention;

    rc = mdb_env_create(&st->env);
    if (rc != 0) {
        goto failed;
    }

    (void) mdb_env_set_maxdbs(st->env, 16);

    rc = mdb_env_set_mapsize(st->env, scf->max_size);
    if (rc != 0) {
        goto failed;
    }

    /*
     * MDB_NOTLS: read transactions are not tied to the thread that began
     * them (the event loop begins them, pool threads write).
     *
     * MDB_NOMETASYNC: a commit syncs the data pages under the writer lock
     * and leaves its meta page unsynced; the committing thread then syncs
     * it with mdb_env_sync() after the lock is released, while another
     * process may already be committing, and only then is anything
     * answered.  LMDB keeps the database intact either way; what a crash
     * in between can undo was never acknowledged.
     */

    rc = mdb_env_open(st->env, (char *) scf->path.data,
                      MDB_NOTLS|MDB_NOMETASYNC, 0600);
    if (rc != 0) {
        goto failed;
    }

    /* the reader slots of processes that died, e.g. this one's predecessor */

    ngx_http_notify_store_readers(cycle->log);

    rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0) {
        goto failed;
    }

    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0
        || (rc = mdb_dbi_open(txn, "notes", MDB_CREATE, &st->notes)) != 0
        || (rc = mdb_dbi_open(txn, "rcpt", MDB_CREATE, &st->rcpt)) != 0
        || (rc = mdb_dbi_open(txn, "feed", MDB_CREATE, &st->feed)) != 0
        || (rc = mdb_dbi_open(txn, "unread", MDB_CREATE, &st->unread)) != 0
        || (rc = mdb_dbi_open(txn, "marks", MDB_CREATE, &st->marks)) != 0
        || (rc = mdb_dbi_open(txn, "idem", MDB_CREATE, &st->idem)) != 0
        || (rc = mdb_dbi_open(txn, "chains", MDB_CREATE, &st->chains)) != 0
        || (rc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &st->outbox)) != 0
        || (rc = mdb_dbi_open(txn, "due", MDB_CREATE, &st->due)) != 0)
    {
        mdb_txn_abort(txn);
        goto failed;
    }

    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        goto failed;
    }

#if (NGX_THREADS)
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
                  "notify: store \"%V\" open", &scf->path);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "notify: cannot open store \"%V\": %s",
                  &scf->path, mdb_strerror(rc));

    if (st->env) {
        mdb_env_close(st->env);
        st->env = NULL;
    }

    return NGX_ERROR;
}


void
ngx_http_notify_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    if (st->env == NULL) {
        return;
    }

    if (st->read_txn) {
        mdb_txn_abort(st->read_txn);
        st->read_txn = NULL;
    }

    mdb_env_close(st->env);
    st->env = NULL;

#if (NGX_THREADS)
    (void) ngx_thread_mutex_destroy(&st->mutex, cycle->log);
#endif
}


ngx_uint_t
ngx_http_notify_store_ready(void)
{
    return ngx_http_notify_store.env != NULL;
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
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    st->busy = 1;

    if (!st->guard.timer_set) {
        ngx_add_timer(&st->guard, 1000);
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
 * batch is what is queued once the writer lock is held.
 */

static void
ngx_http_notify_store_thread(void *data, ngx_log_t *log)
{
    int                          rc;
    MDB_txn                     *txn;
    ngx_http_notify_store_t     *st;
    ngx_http_notify_store_op_t  *ops, *op, *next;

    st = &ngx_http_notify_store;

    rc = mdb_txn_begin(st->env, NULL, 0, &txn);

    ngx_http_notify_store_lock(st);
    ops = st->queue;
    st->queue = NULL;
    st->queue_last = &st->queue;
    st->batch = ops;
    ngx_http_notify_store_unlock(st);

    if (ops == NULL) {
        if (rc == 0) {
            mdb_txn_abort(txn);
        }

        return;
    }

    if (rc == 0) {
        rc = ngx_http_notify_store_commit(txn, ops);

        if (rc == 0) {
            ngx_http_notify_store_sync(ops);
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

        rc = mdb_txn_begin(st->env, NULL, 0, &txn);

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
 * The meta page of what was committed, to disk, outside the writer lock.
 * Should that fail, what was committed is answered as failed (and never
 * committed again: it is in the store, only its durability is in doubt).
 */

static void
ngx_http_notify_store_sync(ngx_http_notify_store_op_t *ops)
{
    int                          rc;
    ngx_http_notify_store_op_t  *op;

    rc = mdb_env_sync(ngx_http_notify_store.env, 1);

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
ngx_http_notify_store_commit(MDB_txn *txn, ngx_http_notify_store_op_t *ops)
{
    int                          rc;
    ngx_http_notify_store_op_t  *op;

    for (op = ops; op; op = op->next) {
        op->rc = NGX_OK;
        op->err = 0;

        rc = ngx_http_notify_store_apply(txn, op);

        if (rc != 0) {
            mdb_txn_abort(txn);
            return ngx_http_notify_store_cause(rc);
        }
    }

    /* the data pages are synced here; the meta page is left to the caller */

    return ngx_http_notify_store_cause(mdb_txn_commit(txn));
}


/*
 * A write of LMDB's that the file system takes only in part is answered
 * EIO (mdb_page_flush(), mdb_env_write_meta(): "short write, filesystem
 * full?"), and the errno of the write is lost.  A short write to a regular
 * file is the file system running out of room: when the store's file
 * system has less room left than one write of LMDB's at most (64 pages),
 * the cause was that, and is told as ENOSPC.  Any other EIO is an I/O
 * error and stays one; LMDB's own codes (MDB_MAP_FULL) are left as they
 * are.  Runs in the committing thread, right after the failing write.
 */

static int
ngx_http_notify_store_cause(int rc)
{
    MDB_stat          ms;
    struct statvfs    fs;
    mdb_filehandle_t  fd;

    if (rc != EIO) {
        return rc;
    }

    if (mdb_env_get_fd(ngx_http_notify_store.env, &fd) != 0
        || mdb_env_stat(ngx_http_notify_store.env, &ms) != 0
        || fstatvfs(fd, &fs) == -1)
    {
        return rc;
    }

    if ((uint64_t) fs.f_bavail * fs.f_frsize < (uint64_t) 64 * ms.ms_psize) {
        return NGX_ENOSPC;
    }

    return rc;
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
                          mdb_strerror(op->err));
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
ngx_http_notify_store_apply(MDB_txn *txn, ngx_http_notify_store_op_t *op)
{
    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_PUT:
        return ngx_http_notify_store_put(txn, op);

    case NGX_HTTP_NOTIFY_OP_READ_ONE:
        return ngx_http_notify_store_read_one(txn, op);

    case NGX_HTTP_NOTIFY_OP_READ_UNTIL:
        return ngx_http_notify_store_read_until(txn, op);

    case NGX_HTTP_NOTIFY_OP_PRUNE:
        return ngx_http_notify_store_prune(txn, op);

    case NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM:
        return ngx_http_notify_outbox_claim(txn, op);

    default: /* DONE, RETRY, DROP, NOW */
        return ngx_http_notify_outbox_update(txn, op);
    }
}


/* the fields the feed shows: all but the internal ones */

static int
ngx_http_notify_store_put(MDB_txn *txn, ngx_http_notify_store_op_t *op)
{
    int                          rc;
    char                        *text, *pub;
    size_t                       len, tlen, plen;
    u_char                      *p, *buf;
    json_t                      *answer, *id;
    uint64_t                     seq;
    MDB_val                      key, val;
    ngx_uint_t                   i;
    ngx_http_notify_store_t     *st;
    ngx_http_notify_note_hdr_t   hdr;
    u_char                       seqkey[8];
    u_char                       idbuf[NGX_HTTP_NOTIFY_ID_LEN];

    st = &ngx_http_notify_store;

    op->duplicate = 0;
    op->replaced = 0;

    /* an idempotent replay gets the first answer again */

    if (op->has_idem) {
        key.mv_data = op->idem;
        key.mv_size = sizeof(op->idem);

        rc = mdb_get(txn, st->idem, &key, &val);

        if (rc == 0 && val.mv_size > 8) {
            answer = json_loadb((char *) val.mv_data + 8, val.mv_size - 8,
                                0, NULL);
            if (answer != NULL) {
                if (op->answer) {
                    json_decref(op->answer);
                }

                op->answer = answer;
                op->duplicate = 1;
                return 0;
            }
        }

        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    /* the next sequence number */

    key.mv_data = "seq";
    key.mv_size = 3;

    rc = mdb_get(txn, st->meta, &key, &val);

    if (rc == 0 && val.mv_size == 8) {
        seq = ngx_http_notify_get_u64(val.mv_data) + 1;

    } else if (rc == MDB_NOTFOUND) {
        seq = 1;

    } else {
        return rc ? rc : MDB_CORRUPTED;
    }

    ngx_http_notify_put_u64(seqkey, seq);

    val.mv_data = seqkey;
    val.mv_size = 8;

    rc = mdb_put(txn, st->meta, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    (void) ngx_http_notify_format_id(idbuf, seq);

    id = json_stringn((char *) idbuf, NGX_HTTP_NOTIFY_ID_LEN);
    if (id == NULL) {
        return ENOMEM;
    }

    json_object_set(op->note, "id", id);

    if (op->answer) {
        json_object_set(op->answer, "id", id);
    }

    json_decref(id);

    /* the notification: header, JSON, and the feed's part of it */

    if (ngx_http_notify_note_dump(op->note, &text, &pub) != NGX_OK) {
        return ENOMEM;
    }

    tlen = ngx_strlen(text);
    plen = ngx_strlen(pub);

    ngx_memzero(&hdr, sizeof(hdr));
    hdr.full_len = (uint32_t) tlen;
    ngx_http_notify_put_u64((u_char *) &hdr.created,
                            (uint64_t) op->created);
    if (op->has_idem) {
        hdr.has_idem = 1;
        ngx_memcpy(hdr.idem, op->idem, sizeof(hdr.idem));
    }

    if (op->has_chain) {
        hdr.has_chain = 1;
        ngx_memcpy(hdr.chain, op->chain, sizeof(hdr.chain));
    }

    key.mv_data = seqkey;
    key.mv_size = 8;
    val.mv_data = NULL;
    val.mv_size = sizeof(hdr) + tlen + plen;

    rc = mdb_put(txn, st->notes, &key, &val, MDB_RESERVE);
    if (rc != 0) {
        free(text);
        free(pub);
        return rc;
    }

    p = ngx_cpymem(val.mv_data, &hdr, sizeof(hdr));
    p = ngx_cpymem(p, text, tlen);
    ngx_memcpy(p, pub, plen);
    free(text);
    free(pub);

    /* the recipients, and one feed entry each */

    len = 0;
    for (i = 0; i < op->nrecipients; i++) {
        len += op->recipients[i].len + 1;
    }

    val.mv_data = NULL;
    val.mv_size = len;

    rc = mdb_put(txn, st->rcpt, &key, &val, MDB_RESERVE);
    if (rc != 0) {
        return rc;
    }

    p = val.mv_data;
    for (i = 0; i < op->nrecipients; i++) {
        p = ngx_cpymem(p, op->recipients[i].data, op->recipients[i].len);
        *p++ = '\0';
    }

    buf = malloc(NGX_HTTP_NOTIFY_USER_MAX + 9);
    if (buf == NULL) {
        return ENOMEM;
    }

    for (i = 0; i < op->nrecipients; i++) {

        if (op->has_chain) {
            rc = ngx_http_notify_store_chain(txn, op, &op->recipients[i], seq,
                                             buf);
            if (rc != 0) {
                free(buf);
                return rc;
            }
        }

        key.mv_data = buf;
        key.mv_size = ngx_http_notify_feed_key(buf, &op->recipients[i], seq)
                      - buf;

        val.mv_data = "\0";
        val.mv_size = 1;

        rc = mdb_put(txn, st->feed, &key, &val, 0);
        if (rc != 0) {
            free(buf);
            return rc;
        }

        key.mv_data = op->recipients[i].data;
        key.mv_size = op->recipients[i].len;

        rc = ngx_http_notify_store_count_add(txn, &key, 1, NULL);
        if (rc != 0) {
            free(buf);
            return rc;
        }
    }

    free(buf);

    /* the delivery, in the same transaction */

    if (op->has_outbox) {
        ngx_http_notify_outbox_rec_t  rec;

        ngx_memzero(&rec, sizeof(rec));
        rec.due = op->due;
        rec.created = (uint64_t) op->created;
        rec.expires = (uint64_t) op->expires;

        rc = ngx_http_notify_outbox_put(txn, seq, &rec, 0);
        if (rc != 0) {
            return rc;
        }
    }

    /* the idempotency key, with the answer to give again */

    if (op->has_idem && op->answer) {
        text = json_dumps(op->answer, JSON_COMPACT);
        if (text == NULL) {
            return ENOMEM;
        }

        tlen = ngx_strlen(text);

        key.mv_data = op->idem;
        key.mv_size = sizeof(op->idem);
        val.mv_data = NULL;
        val.mv_size = 8 + tlen;

        rc = mdb_put(txn, st->idem, &key, &val, MDB_RESERVE);
        if (rc != 0) {
            free(text);
            return rc;
        }

        ngx_http_notify_put_u64(val.mv_data, seq);
        ngx_memcpy((u_char *) val.mv_data + 8, text, tlen);
        free(text);
    }

    op->seq = seq;

    return 0;
}


/*
 * A notification of a chain replaces the user's entry of the chain's
 * previous one: that entry leaves the feed (and the unread count), and the
 * chain now points at "seq".  "buf" is scratch space for a feed key.
 */

static int
ngx_http_notify_store_chain(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    ngx_str_t *user, uint64_t seq, u_char *buf)
{
    int                       rc;
    u_char                   *ckey;
    uint64_t                  prev;
    MDB_val                   key, val, fkey, fval, ukey;
    ngx_http_notify_store_t  *st;
    u_char                    seqbuf[8];

    st = &ngx_http_notify_store;

    ckey = malloc(sizeof(op->chain) + user->len);
    if (ckey == NULL) {
        return ENOMEM;
    }

    key.mv_data = ckey;
    key.mv_size = ngx_http_notify_chain_key(ckey, op->chain, user) - ckey;

    rc = mdb_get(txn, st->chains, &key, &val);

    if (rc == 0 && val.mv_size == 8) {
        prev = ngx_http_notify_get_u64(val.mv_data);

        fkey.mv_data = buf;
        fkey.mv_size = ngx_http_notify_feed_key(buf, user, prev) - buf;

        rc = mdb_get(txn, st->feed, &fkey, &fval);

        if (rc == 0) {
            ukey.mv_data = user->data;
            ukey.mv_size = user->len;

            if (!(*(u_char *) fval.mv_data & NGX_HTTP_NOTIFY_FEED_READ)
                && prev > ngx_http_notify_store_watermark(txn, &ukey))
            {
                rc = ngx_http_notify_store_count_add(txn, &ukey, -1, NULL);
                if (rc != 0) {
                    goto done;
                }
            }

            rc = mdb_del(txn, st->feed, &fkey, NULL);
            if (rc != 0) {
                goto done;
            }

            /* a delivery of the replaced notification still pending is
               cancelled */

            rc = ngx_http_notify_outbox_del(txn, prev);
            if (rc != 0 && rc != MDB_NOTFOUND) {
                goto done;
            }

            rc = 0;
            op->replaced++;
        }

        if (rc != 0 && rc != MDB_NOTFOUND) {
            goto done;
        }

    } else if (rc != MDB_NOTFOUND && rc != 0) {
        goto done;
    }

    ngx_http_notify_put_u64(seqbuf, seq);

    val.mv_data = seqbuf;
    val.mv_size = 8;

    rc = mdb_put(txn, st->chains, &key, &val, 0);

done:

    free(ckey);

    return rc;
}


/*
 * Retention: the user's link of the chain goes with the notification it
 * points at (a later one of the chain has moved it on: then it stays).
 * "buf" is scratch space for the key.  MDB_NOTFOUND: no such link.
 */

static int
ngx_http_notify_store_unchain(MDB_txn *txn, u_char *chain, ngx_str_t *user,
    uint64_t seq, u_char *buf)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_chain_key(buf, chain, user) - buf;

    rc = mdb_get(txn, ngx_http_notify_store.chains, &key, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != 8 || ngx_http_notify_get_u64(val.mv_data) != seq) {
        return MDB_NOTFOUND;
    }

    return mdb_del(txn, ngx_http_notify_store.chains, &key, NULL);
}


static int
ngx_http_notify_store_count_add(MDB_txn *txn, MDB_val *user, int64_t delta,
    uint64_t *result)
{
    int                       rc;
    u_char                    buf[8];
    int64_t                   n;
    MDB_val                   val;
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    rc = mdb_get(txn, st->unread, user, &val);

    if (rc == 0 && val.mv_size == 8) {
        n = (int64_t) ngx_http_notify_get_u64(val.mv_data);

    } else if (rc == MDB_NOTFOUND) {
        n = 0;

    } else {
        return rc ? rc : MDB_CORRUPTED;
    }

    n += delta;

    if (n < 0) {
        n = 0;
    }

    if (result) {
        *result = (uint64_t) n;
    }

    if (delta == 0) {
        return 0;
    }

    ngx_http_notify_put_u64(buf, (uint64_t) n);

    val.mv_data = buf;
    val.mv_size = 8;

    return mdb_put(txn, st->unread, user, &val, 0);
}


static uint64_t
ngx_http_notify_store_watermark(MDB_txn *txn, MDB_val *user)
{
    MDB_val  val;

    if (mdb_get(txn, ngx_http_notify_store.marks, user, &val) == 0
        && val.mv_size == 8)
    {
        return ngx_http_notify_get_u64(val.mv_data);
    }

    return 0;
}


static int
ngx_http_notify_store_read_one(MDB_txn *txn, ngx_http_notify_store_op_t *op)
{
    int                       rc;
    MDB_val                   key, val, user;
    ngx_http_notify_store_t  *st;
    u_char                    buf[NGX_HTTP_NOTIFY_USER_MAX + 9];

    st = &ngx_http_notify_store;

    user.mv_data = op->user.data;
    user.mv_size = op->user.len;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_feed_key(buf, &op->user, op->seq) - buf;

    rc = mdb_get(txn, st->feed, &key, &val);

    if (rc == MDB_NOTFOUND) {
        op->rc = NGX_DECLINED;
        return ngx_http_notify_store_count_add(txn, &user, 0, &op->unread);
    }

    if (rc != 0) {
        return rc;
    }

    if ((*(u_char *) val.mv_data & NGX_HTTP_NOTIFY_FEED_READ)
        || op->seq <= ngx_http_notify_store_watermark(txn, &user))
    {
        return ngx_http_notify_store_count_add(txn, &user, 0, &op->unread);
    }

    val.mv_data = "\1";
    val.mv_size = 1;

    rc = mdb_put(txn, st->feed, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_notify_store_count_add(txn, &user, -1, &op->unread);
}


static int
ngx_http_notify_store_read_until(MDB_txn *txn, ngx_http_notify_store_op_t *op)
{
    int                       rc;
    int64_t                   flipped;
    uint64_t                  wm, seq;
    MDB_val                   key, val, user;
    MDB_cursor               *cur;
    ngx_http_notify_store_t  *st;
    u_char                    buf[NGX_HTTP_NOTIFY_USER_MAX + 9];
    u_char                    wmbuf[8];

    st = &ngx_http_notify_store;

    user.mv_data = op->user.data;
    user.mv_size = op->user.len;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_feed_key(buf, &op->user, op->seq) - buf;

    rc = mdb_get(txn, st->feed, &key, &val);

    if (rc == MDB_NOTFOUND) {
        op->rc = NGX_DECLINED;
        return ngx_http_notify_store_count_add(txn, &user, 0, &op->unread);
    }

    if (rc != 0) {
        return rc;
    }

    wm = ngx_http_notify_store_watermark(txn, &user);

    if (op->seq <= wm) {
        return ngx_http_notify_store_count_add(txn, &user, 0, &op->unread);
    }

    /* entries from "until" down to the old watermark become read */

    rc = mdb_cursor_open(txn, st->feed, &cur);
    if (rc != 0) {
        return rc;
    }

    flipped = 0;

    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);

    while (rc == 0) {
        if (key.mv_size != op->user.len + 9
            || ngx_memcmp(key.mv_data, op->user.data, op->user.len) != 0
            || ((u_char *) key.mv_data)[op->user.len] != '\0')
        {
            break;
        }

        seq = ~ngx_http_notify_get_u64((u_char *) key.mv_data
                                       + op->user.len + 1);
        if (seq <= wm) {
            break;
        }

        if (!(*(u_char *) val.mv_data & NGX_HTTP_NOTIFY_FEED_READ)) {
            val.mv_data = "\1";
            val.mv_size = 1;

            rc = mdb_cursor_put(cur, &key, &val, MDB_CURRENT);
            if (rc != 0) {
                mdb_cursor_close(cur);
                return rc;
            }

            flipped++;
        }

        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    ngx_http_notify_put_u64(wmbuf, op->seq);

    val.mv_data = wmbuf;
    val.mv_size = 8;

    rc = mdb_put(txn, st->marks, &user, &val, 0);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_notify_store_count_add(txn, &user, -flipped, &op->unread);
}


static int
ngx_http_notify_store_prune(MDB_txn *txn, ngx_http_notify_store_op_t *op)
{
    int                          rc;
    u_char                      *p, *end, *nul;
    uint64_t                     seq;
    MDB_val                      key, val, rkey, rval, fkey, fval, user;
    ngx_str_t                    id;
    MDB_cursor                  *cur;
    ngx_uint_t                   n;
    ngx_http_notify_store_t     *st;
    ngx_http_notify_note_hdr_t   hdr;
    u_char                       buf[NGX_HTTP_NOTIFY_USER_MAX + 32];

    st = &ngx_http_notify_store;

    op->count = 0;
    op->replaced = 0;

    rc = mdb_cursor_open(txn, st->notes, &cur);
    if (rc != 0) {
        return rc;
    }

    n = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && n < NGX_HTTP_NOTIFY_PRUNE_MAX;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (val.mv_size < sizeof(hdr) || key.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }

        ngx_memcpy(&hdr, val.mv_data, sizeof(hdr));

        if ((time_t) ngx_http_notify_get_u64((u_char *) &hdr.created)
            >= op->before)
        {
            break;
        }

        seq = ngx_http_notify_get_u64(key.mv_data);

        /* each recipient's entry, and its unread count */

        rkey = key;

        rc = mdb_get(txn, st->rcpt, &rkey, &rval);

        if (rc == 0) {
            p = rval.mv_data;
            end = p + rval.mv_size;

            while (p < end) {
                nul = ngx_strlchr(p, end, '\0');
                if (nul == NULL) {
                    nul = end;
                }

                id.data = p;
                id.len = nul - p;
                p = nul + 1;

                if (id.len == 0 || id.len > NGX_HTTP_NOTIFY_USER_MAX) {
                    continue;
                }

                if (hdr.has_chain) {
                    rc = ngx_http_notify_store_unchain(txn, hdr.chain, &id,
                                                       seq, buf);
                    if (rc == 0) {
                        op->replaced++;

                    } else if (rc != MDB_NOTFOUND) {
                        goto failed;
                    }
                }

                fkey.mv_data = buf;
                fkey.mv_size = ngx_http_notify_feed_key(buf, &id, seq) - buf;

                if (mdb_get(txn, st->feed, &fkey, &fval) != 0) {
                    continue;
                }

                user.mv_data = id.data;
                user.mv_size = id.len;

                if (!(*(u_char *) fval.mv_data & NGX_HTTP_NOTIFY_FEED_READ)
                    && seq > ngx_http_notify_store_watermark(txn, &user))
                {
                    rc = ngx_http_notify_store_count_add(txn, &user, -1,
                                                         NULL);
                    if (rc != 0) {
                        goto failed;
                    }
                }

                rc = mdb_del(txn, st->feed, &fkey, NULL);
                if (rc != 0) {
                    goto failed;
                }

                op->count++;
            }

            rc = mdb_del(txn, st->rcpt, &rkey, NULL);
            if (rc != 0) {
                goto failed;
            }

        } else if (rc != MDB_NOTFOUND) {
            goto failed;
        }

        if (hdr.has_idem) {
            rkey.mv_data = hdr.idem;
            rkey.mv_size = sizeof(hdr.idem);

            rc = mdb_del(txn, st->idem, &rkey, NULL);
            if (rc != 0 && rc != MDB_NOTFOUND) {
                goto failed;
            }
        }

        rc = ngx_http_notify_outbox_del(txn, seq);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            goto failed;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            goto failed;
        }

        n++;
    }

    mdb_cursor_close(cur);

    op->seq = n;   /* notifications removed */

    return (rc == MDB_NOTFOUND) ? 0 : rc;

failed:

    mdb_cursor_close(cur);
    return rc;
}


/* the outbox */

static void
ngx_http_notify_due_key(u_char *key, uint64_t due, uint64_t seq)
{
    ngx_http_notify_put_u64(key, due);
    ngx_http_notify_put_u64(key + 8, seq);
}


/* writes the entry and its due index; "old_due" (if not 0) is replaced */

static int
ngx_http_notify_outbox_put(MDB_txn *txn, uint64_t seq,
    ngx_http_notify_outbox_rec_t *rec, uint64_t old_due)
{
    int                       rc;
    MDB_val                   key, val;
    ngx_http_notify_store_t  *st;
    u_char                    seqkey[8], duekey[16];

    st = &ngx_http_notify_store;

    if (old_due) {
        ngx_http_notify_due_key(duekey, old_due, seq);
        key.mv_data = duekey;
        key.mv_size = 16;

        rc = mdb_del(txn, st->due, &key, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    ngx_http_notify_put_u64(seqkey, seq);
    key.mv_data = seqkey;
    key.mv_size = 8;
    val.mv_data = rec;
    val.mv_size = sizeof(ngx_http_notify_outbox_rec_t);

    rc = mdb_put(txn, st->outbox, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    ngx_http_notify_due_key(duekey, rec->due, seq);
    key.mv_data = duekey;
    key.mv_size = 16;
    val.mv_data = "";
    val.mv_size = 0;

    return mdb_put(txn, st->due, &key, &val, 0);
}


static int
ngx_http_notify_outbox_get(MDB_txn *txn, uint64_t seq,
    ngx_http_notify_outbox_rec_t *rec)
{
    int       rc;
    MDB_val   key, val;
    u_char    seqkey[8];

    ngx_http_notify_put_u64(seqkey, seq);
    key.mv_data = seqkey;
    key.mv_size = 8;

    rc = mdb_get(txn, ngx_http_notify_store.outbox, &key, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != sizeof(ngx_http_notify_outbox_rec_t)) {
        return MDB_CORRUPTED;
    }

    ngx_memcpy(rec, val.mv_data, sizeof(ngx_http_notify_outbox_rec_t));

    return 0;
}


static int
ngx_http_notify_outbox_del(MDB_txn *txn, uint64_t seq)
{
    int                           rc;
    MDB_val                       key;
    ngx_http_notify_outbox_rec_t  rec;
    u_char                        seqkey[8], duekey[16];

    rc = ngx_http_notify_outbox_get(txn, seq, &rec);
    if (rc != 0) {
        return rc;
    }

    ngx_http_notify_due_key(duekey, rec.due, seq);
    key.mv_data = duekey;
    key.mv_size = 16;

    rc = mdb_del(txn, ngx_http_notify_store.due, &key, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    ngx_http_notify_put_u64(seqkey, seq);
    key.mv_data = seqkey;
    key.mv_size = 8;

    return mdb_del(txn, ngx_http_notify_store.outbox, &key, NULL);
}


static uint64_t
ngx_http_notify_now_msec(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* OUTBOX_DONE, OUTBOX_RETRY, OUTBOX_DROP, OUTBOX_NOW */

static int
ngx_http_notify_outbox_update(MDB_txn *txn, ngx_http_notify_store_op_t *op)
{
    int                           rc;
    uint64_t                      old, now;
    ngx_http_notify_outbox_rec_t  rec;

    op->nexpired = 0;

    rc = ngx_http_notify_outbox_get(txn, op->seq, &rec);

    if (rc == MDB_NOTFOUND) {
        /* dropped, expired, replaced or delivered meanwhile */
        op->rc = NGX_DECLINED;
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_OUTBOX_DONE:
    case NGX_HTTP_NOTIFY_OP_OUTBOX_DROP:
        return ngx_http_notify_outbox_del(txn, op->seq);

    case NGX_HTTP_NOTIFY_OP_OUTBOX_NOW:
        old = rec.due;
        rec.due = ngx_http_notify_now_msec();
        return ngx_http_notify_outbox_put(txn, op->seq, &rec, old);

    default: /* NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY */
        break;
    }

    now = ngx_http_notify_now_msec();

    rec.attempts++;
    ngx_cpystrn(rec.error, op->error, sizeof(rec.error));
    op->max = rec.attempts;

    if (op->due >= rec.expires * 1000 || now >= rec.expires * 1000) {
        op->nexpired = 1;
        return ngx_http_notify_outbox_del(txn, op->seq);
    }

    old = rec.due;
    rec.due = op->due;

    return ngx_http_notify_outbox_put(txn, op->seq, &rec, old);
}


/*
 * Takes up to op->max entries that are due: each is leased (its due time
 * moved to op->due) in this transaction, so that no other worker or
 * process sends it meanwhile, and returned with its notification.  Entries
 * past their expiry are removed and listed in op->expired.
 */

static int
ngx_http_notify_outbox_claim(MDB_txn *txn, ngx_http_notify_store_op_t *op)
{
    int                           rc;
    uint64_t                      due, seq, now;
    MDB_val                       key, val, nkey, nval;
    MDB_cursor                   *cur;
    ngx_http_notify_claim_t      *cl;
    ngx_http_notify_store_t      *st;
    ngx_http_notify_note_hdr_t    hdr;
    ngx_http_notify_outbox_rec_t  rec;
    u_char                        seqkey[8];

    st = &ngx_http_notify_store;
    now = ngx_http_notify_now_msec();

    ngx_http_notify_store_claim_free(op);

    op->claimed = calloc(op->max ? op->max : 1,
                         sizeof(ngx_http_notify_claim_t));
    op->expired = calloc(op->max ? op->max : 1, sizeof(uint64_t));

    if (op->claimed == NULL || op->expired == NULL) {
        return ENOMEM;
    }

    rc = mdb_cursor_open(txn, st->due, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && op->nclaimed < op->max && op->nexpired < op->max;
         rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST))
    {
        if (key.mv_size != 16) {
            rc = MDB_CORRUPTED;
            break;
        }

        due = ngx_http_notify_get_u64(key.mv_data);
        seq = ngx_http_notify_get_u64((u_char *) key.mv_data + 8);

        if (due > now) {
            break;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }

        rc = ngx_http_notify_outbox_get(txn, seq, &rec);

        if (rc == MDB_NOTFOUND) {
            continue;   /* a stale index entry */
        }

        if (rc != 0) {
            break;
        }

        if (now >= rec.expires * 1000) {
            ngx_http_notify_put_u64(seqkey, seq);
            nkey.mv_data = seqkey;
            nkey.mv_size = 8;

            rc = mdb_del(txn, st->outbox, &nkey, NULL);
            if (rc != 0) {
                break;
            }

            op->expired[op->nexpired++] = seq;
            continue;
        }

        /* the lease */

        rec.due = now + op->due;

        rc = ngx_http_notify_outbox_put(txn, seq, &rec, 0);
        if (rc != 0) {
            break;
        }

        cl = &op->claimed[op->nclaimed];
        cl->seq = seq;
        cl->attempts = rec.attempts;

        ngx_http_notify_put_u64(seqkey, seq);
        nkey.mv_data = seqkey;
        nkey.mv_size = 8;

        if (mdb_get(txn, st->notes, &nkey, &nval) == 0
            && nval.mv_size > sizeof(ngx_http_notify_note_hdr_t))
        {
            ngx_memcpy(&hdr, nval.mv_data, sizeof(hdr));

            cl->note_len = ngx_min(hdr.full_len, nval.mv_size
                                   - sizeof(ngx_http_notify_note_hdr_t));
            cl->note = malloc(cl->note_len);

            if (cl->note == NULL) {
                rc = ENOMEM;
                break;
            }

            ngx_memcpy(cl->note, (u_char *) nval.mv_data
                                 + sizeof(ngx_http_notify_note_hdr_t),
                       cl->note_len);
        }

        if (mdb_get(txn, st->rcpt, &nkey, &nval) == 0 && nval.mv_size) {
            cl->recipients = malloc(nval.mv_size);

            if (cl->recipients == NULL) {
                rc = ENOMEM;
                break;
            }

            ngx_memcpy(cl->recipients, nval.mv_data, nval.mv_size);
            cl->recipients_len = nval.mv_size;
        }

        op->nclaimed++;
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND || rc == 0) ? 0 : rc;
}


/* the earliest due time in the outbox (msec), 0 when it is empty */

ngx_int_t
ngx_http_notify_store_next_due(uint64_t *due, ngx_log_t *log)
{
    int          rc;
    MDB_val      key, val;
    MDB_txn     *txn;
    MDB_cursor  *cur;

    *due = 0;

    txn = ngx_http_notify_store_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_cursor_open(txn, ngx_http_notify_store.due, &cur);

    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);

        if (rc == 0 && key.mv_size == 16) {
            *due = ngx_http_notify_get_u64(key.mv_data);
        }

        mdb_cursor_close(cur);
    }

    ngx_http_notify_store_read_end(txn);

    return (rc == 0 || rc == MDB_NOTFOUND) ? NGX_OK : NGX_ERROR;
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

    op->claimed = NULL;
    op->nclaimed = 0;
    op->expired = NULL;
    op->nexpired = 0;
}


/* the pending deliveries, for the admin location */

ngx_int_t
ngx_http_notify_store_outbox(json_t *items, ngx_uint_t limit, ngx_log_t *log)
{
    int                           rc;
    u_char                       *p;
    uint64_t                      seq;
    MDB_val                       key, val;
    MDB_txn                      *txn;
    ngx_uint_t                    n;
    MDB_cursor                   *cur;
    ngx_http_notify_outbox_rec_t  rec;
    u_char                        id[NGX_HTTP_NOTIFY_ID_LEN];
    u_char                        next[sizeof("1970-01-01T00:00:00.000Z")];
    u_char                        created[sizeof("1970-01-01T00:00:00Z")];
    u_char                        expires[sizeof("1970-01-01T00:00:00Z")];

    txn = ngx_http_notify_store_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_cursor_open(txn, ngx_http_notify_store.outbox, &cur);
    if (rc != 0) {
        ngx_http_notify_store_read_end(txn);
        return NGX_ERROR;
    }

    n = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && n < limit;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size != 8
            || val.mv_size != sizeof(ngx_http_notify_outbox_rec_t))
        {
            continue;
        }

        ngx_memcpy(&rec, val.mv_data, sizeof(rec));
        seq = ngx_http_notify_get_u64(key.mv_data);

        (void) ngx_http_notify_format_id(id, seq);

        p = ngx_http_notify_iso8601(next, (time_t) (rec.due / 1000));
        p = ngx_sprintf(p - 1, ".%03uLZ", rec.due % 1000);
        *p = '\0';

        *ngx_http_notify_iso8601(created, (time_t) rec.created) = '\0';
        *ngx_http_notify_iso8601(expires, (time_t) rec.expires) = '\0';

        json_array_append_new(items,
            json_pack("{s:s%, s:i, s:s, s:s, s:s, s:s}",
                      "id", (char *) id, (size_t) NGX_HTTP_NOTIFY_ID_LEN,
                      "attempts", (int) rec.attempts,
                      "next_attempt", (char *) next,
                      "created", (char *) created,
                      "expires", (char *) expires,
                      "last_error", (char *) rec.error));
        n++;
    }

    mdb_cursor_close(cur);
    ngx_http_notify_store_read_end(txn);

    return NGX_OK;
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

    ngx_http_notify_store_readers(ev->log);

    if (st->pruning) {
        ngx_add_timer(ev, 1000);
        return;
    }

    op = &st->prune_op;
    ngx_memzero(op, sizeof(ngx_http_notify_store_op_t));

    op->type = NGX_HTTP_NOTIFY_OP_PRUNE;
    op->before = ngx_time() - st->retention;
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

    if (op->rc == NGX_OK && op->seq == NGX_HTTP_NOTIFY_PRUNE_MAX) {
        delay = 10;

    } else {
        delay = (ngx_msec_t) st->retention * 1000 / 8;
        delay = ngx_max(delay, 500);
        delay = ngx_min(delay, 60000);
    }

    ngx_add_timer(&st->prune_event, delay);
}


/* reads */

/*
 * A process that dies (SIGKILL, a crash) leaves its reader slots taken: a
 * slot inside a read transaction pins that snapshot (the pages freed after
 * it are never reused, and the file grows), and enough of them fill the
 * reader table.  LMDB clears them only when asked, when it finds its
 * writer lock's owner dead, or when no process has the store open (it then
 * starts its lock file afresh); here they are cleared when a worker starts
 * and on the retention timer.
 */

static void
ngx_http_notify_store_readers(ngx_log_t *log)
{
    int  rc, dead;

    dead = 0;

    rc = mdb_reader_check(ngx_http_notify_store.env, &dead);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "notify: store reader check failed: %s",
                      mdb_strerror(rc));
        return;
    }

    if (dead > 0) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "notify: store: cleared %d stale reader slots of"
                      " processes that died", dead);
    }
}


static MDB_txn *
ngx_http_notify_store_read_begin(ngx_log_t *log)
{
    int                       rc;
    ngx_http_notify_store_t  *st;

    st = &ngx_http_notify_store;

    if (st->env == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "notify: no store configured");
        return NULL;
    }

    if (st->read_txn) {
        rc = mdb_txn_renew(st->read_txn);

    } else {
        rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->read_txn);
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "notify: store read failed: %s", mdb_strerror(rc));
        if (st->read_txn) {
            mdb_txn_abort(st->read_txn);
            st->read_txn = NULL;
        }

        return NULL;
    }

    return st->read_txn;
}


static void
ngx_http_notify_store_read_end(MDB_txn *txn)
{
    mdb_txn_reset(txn);
}


ngx_int_t
ngx_http_notify_store_unread(ngx_str_t *user, uint64_t *unread,
    ngx_log_t *log)
{
    int       rc;
    MDB_txn  *txn;
    MDB_val   key;

    txn = ngx_http_notify_store_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    key.mv_data = user->data;
    key.mv_size = user->len;

    rc = ngx_http_notify_store_count_add(txn, &key, 0, unread);

    ngx_http_notify_store_read_end(txn);

    return rc == 0 ? NGX_OK : NGX_ERROR;
}


/*
 * One page of a user's feed, newest first, as the JSON text of an array
 * of items (in "pool"): each item is the notification's stored feed part
 * with "read" added, so no JSON is parsed or built here.  "next" is the
 * cursor for the following page, 0 when there is none; "unread" the
 * user's unread count, from the same read transaction.
 */

ngx_int_t
ngx_http_notify_store_feed(ngx_http_notify_feed_query_t *q, ngx_pool_t *pool,
    ngx_str_t *items, uint64_t *next, uint64_t *unread, ngx_log_t *log)
{
    int                          rc;
    u_char                      *p, *part;
    size_t                       size, len;
    uint64_t                     seq, wm, start;
    MDB_val                      key, val, nkey, nval, user;
    MDB_txn                     *txn;
    ngx_uint_t                   n, i, read;
    MDB_cursor                  *cur;
    ngx_http_notify_store_t     *st;
    ngx_http_notify_note_hdr_t   hdr;
    u_char                       buf[NGX_HTTP_NOTIFY_USER_MAX + 9];
    u_char                       seqkey[8];

    struct {
        u_char                  *data;
        size_t                   len;
        ngx_uint_t               read;
    } page[NGX_HTTP_NOTIFY_FEED_PAGE_MAX];

    st = &ngx_http_notify_store;
    *next = 0;
    *unread = 0;
    ngx_str_set(items, "[]");

    if (q->user.len > NGX_HTTP_NOTIFY_USER_MAX) {
        return NGX_OK;
    }

    txn = ngx_http_notify_store_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    user.mv_data = q->user.data;
    user.mv_size = q->user.len;

    rc = ngx_http_notify_store_count_add(txn, &user, 0, unread);
    if (rc != 0) {
        goto failed;
    }

    wm = ngx_http_notify_store_watermark(txn, &user);

    rc = mdb_cursor_open(txn, st->feed, &cur);
    if (rc != 0) {
        goto failed;
    }

    /* the first entry older than the cursor (~seq grows as seq falls) */

    start = q->cursor ? q->cursor - 1 : (uint64_t) -1;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_feed_key(buf, &q->user, start) - buf;

    n = 0;
    size = 2;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size != q->user.len + 9
            || ngx_memcmp(key.mv_data, q->user.data, q->user.len) != 0
            || ((u_char *) key.mv_data)[q->user.len] != '\0')
        {
            break;
        }

        seq = ~ngx_http_notify_get_u64((u_char *) key.mv_data
                                       + q->user.len + 1);

        read = (seq <= wm)
               || (*(u_char *) val.mv_data & NGX_HTTP_NOTIFY_FEED_READ);

        if (q->unread_only && read) {
            if (seq <= wm) {
                break;   /* all older entries are read too */
            }

            continue;
        }

        if (n == q->limit || n == NGX_HTTP_NOTIFY_FEED_PAGE_MAX) {
            /* there is more: the cursor is the last one given */
            *next = ~ngx_http_notify_get_u64(buf + q->user.len + 1);
            break;
        }

        ngx_http_notify_put_u64(seqkey, seq);
        nkey.mv_data = seqkey;
        nkey.mv_size = 8;

        if (mdb_get(txn, st->notes, &nkey, &nval) != 0
            || nval.mv_size <= sizeof(ngx_http_notify_note_hdr_t))
        {
            continue;
        }

        ngx_memcpy(&hdr, nval.mv_data, sizeof(hdr));

        part = (u_char *) nval.mv_data + sizeof(hdr) + hdr.full_len;
        len = (u_char *) nval.mv_data + nval.mv_size - part;

        if (hdr.full_len > nval.mv_size - sizeof(hdr) || len < 2
            || part[0] != '{' || part[len - 1] != '}')
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "notify: store: notification %016uxL unreadable",
                          seq);
            continue;
        }

        /* valid until the read transaction ends: copied below */

        page[n].data = part;
        page[n].len = len - 1;      /* without the closing brace */
        page[n].read = read;
        size += len + sizeof(",\"read\":false,") - 1;

        /* remember the last key given, for the cursor */
        ngx_http_notify_put_u64(buf + q->user.len + 1, ~seq);

        n++;
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        goto failed;
    }

    if (n) {
        items->data = ngx_pnalloc(pool, size);
        if (items->data == NULL) {
            ngx_http_notify_store_read_end(txn);
            return NGX_ERROR;
        }

        p = items->data;
        *p++ = '[';

        for (i = 0; i < n; i++) {
            if (i) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, page[i].data, page[i].len);

            if (page[i].len > 1) {
                *p++ = ',';
            }

            p = page[i].read ? ngx_cpymem(p, "\"read\":true}", 12)
                             : ngx_cpymem(p, "\"read\":false}", 13);
        }

        *p++ = ']';
        items->len = p - items->data;
    }

    ngx_http_notify_store_read_end(txn);

    return NGX_OK;

failed:

    ngx_http_notify_store_read_end(txn);

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "notify: store read failed: %s", mdb_strerror(rc));

    return NGX_ERROR;
}

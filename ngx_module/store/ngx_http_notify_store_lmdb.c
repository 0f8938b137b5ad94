
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The LMDB backend of the store: one LMDB environment, opened in each
 * worker after fork.  The shared part (ngx_http_notify_store.c) runs its
 * write transactions in a thread of the pool; reads are LMDB read
 * transactions in the event loop, which never wait for the writer.
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
 *   feed    user id, NUL, u64 ~seq     -> u8 flags (newest entry first):
 *                                         NGX_HTTP_NOTIFY_STATE_*
 *   unread  user id                    -> u64 unread entries
 *   marks   user id                    -> u64 read watermark: every entry
 *                                         up to it counts as read
 *   unseen  user id                    -> u64 unseen entries
 *   seen    user id                    -> u64 seen watermark: every entry
 *                                         up to it counts as seen
 *   idem    SHA-256 of the key         -> u64 seq + the answer given
 *   chains  chain hash, user id        -> u64 seq of the entry that a
 *                                         newer one of the chain replaces
 *   outbox.e  u64 seq, u32 entry       -> ngx_http_notify_outbox_rec_t:
 *                                         one a (notification, target,
 *                                         part)
 *   outbox.d  u8 len, target name, u64 due msec, u64 seq, u32 entry
 *                                      -> (empty): each target's entries
 *                                         by due time
 *   outbox.r  u64 seq, u32 entry       -> a part's recipients'
 *                                         ids, NUL-separated (part 0 has
 *                                         the notification's: rcpt); kept
 *                                         while the entry is a dead letter
 *   dead    u64 seq, u32 entry         -> ngx_http_notify_dead_rec_t: an
 *                                         entry that expired or was given
 *                                         up
 *   dead.t  u64 died msec, u64 seq, u32 entry -> (empty): the dead letters
 *                                         in the order they died
 *   outbox.q  chain hash, u8 len, target name, u64 seq, u32 entry
 *                                      -> (empty): a chain's entries for
 *                                         a target, oldest first
 *   outbox.k  u64 seq, u32 entry       -> chain hash, u8 state: the
 *                                         chain of an entry in outbox.q
 *   outbox.x  u8 len, target name, u64 expires sec, u64 seq, u32 entry
 *                                      -> (empty): each target's entries
 *                                         by expiry (built from outbox.e
 *                                         when a store written before it
 *                                         is opened)
 */

#define NGX_HTTP_NOTIFY_FEED_READ   NGX_HTTP_NOTIFY_STATE_READ


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


/*
 * An outbox entry, as kept (host byte order: the file is this machine's):
 * one a (notification, target, part)
 */
typedef struct {
    uint64_t                     due;         /* msec since the epoch */
    uint64_t                     created;     /* sec */
    uint64_t                     expires;     /* sec */
    uint32_t                     attempts;
    uint32_t                     part;        /* 0: all the recipients */
    u_char                       error[204];  /* the last, NUL-ended */
    u_char                       target_len;
    u_char                       target[NGX_HTTP_NOTIFY_TARGET_NAME_LEN];
} ngx_http_notify_outbox_rec_t;


/* an entry of the outbox before targets ("outbox", keyed by the id) */
typedef struct {
    uint64_t                     due;
    uint64_t                     created;
    uint64_t                     expires;
    uint32_t                     attempts;
    u_char                       error[204];
} ngx_http_notify_outbox_v1_t;


#define NGX_HTTP_NOTIFY_DUE_KEY_LEN  (1 + NGX_HTTP_NOTIFY_TARGET_NAME_LEN + 20)

#define NGX_HTTP_NOTIFY_QUEUE_KEY_LEN                                        \
    (32 + 1 + NGX_HTTP_NOTIFY_TARGET_NAME_LEN + 12)

/* an entry's state in its chain's queue (outbox.k) */
#define NGX_HTTP_NOTIFY_LMDB_LEASED    0x01  /* in flight */
#define NGX_HTTP_NOTIFY_LMDB_REPLACED  0x02  /* by a newer one of its chain,
                                                while in flight */


/* a dead letter, as kept (host byte order) */
typedef struct {
    uint64_t                     created;     /* sec */
    uint64_t                     died;        /* msec */
    uint32_t                     attempts;
    uint32_t                     part;
    u_char                       reason;      /* NGX_HTTP_NOTIFY_DEAD_* */
    u_char                       error[204];  /* the last, NUL-ended */
    u_char                       target_len;
    u_char                       target[NGX_HTTP_NOTIFY_TARGET_NAME_LEN];
} ngx_http_notify_dead_rec_t;


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
    MDB_dbi                      outrcpt;
    MDB_dbi                      unseen;
    MDB_dbi                      seen;
    MDB_dbi                      dead;
    MDB_dbi                      dead_time;
    MDB_dbi                      queue;       /* outbox.q */
    MDB_dbi                      queued;      /* outbox.k */
    MDB_dbi                      expiry;      /* outbox.x */

    MDB_txn                     *read_txn;    /* reset between uses */
} ngx_http_notify_lmdb_t;


/* a user's watermarks */
typedef struct {
    uint64_t                     read;
    uint64_t                     seen;
} ngx_http_notify_lmdb_marks_t;


static ngx_int_t ngx_http_notify_lmdb_init_module(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf);
static int ngx_http_notify_lmdb_open(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf);
static void ngx_http_notify_lmdb_close(ngx_cycle_t *cycle);
static void ngx_http_notify_lmdb_readers(ngx_log_t *log);
static const char *ngx_http_notify_lmdb_version(void);
static const char *ngx_http_notify_lmdb_strerror(int err);
static ngx_int_t ngx_http_notify_lmdb_room(uint64_t *avail, uint64_t *write);
static int ngx_http_notify_lmdb_begin(void **txn);
static int ngx_http_notify_lmdb_commit(void *txn);
static void ngx_http_notify_lmdb_abort(void *txn);
static int ngx_http_notify_lmdb_sync(void);
static int ngx_http_notify_lmdb_idempotent(void *txn, u_char *idem,
    ngx_str_t *answer);
static int ngx_http_notify_lmdb_next_id(void *txn, uint64_t *seq);
static int ngx_http_notify_lmdb_put(void *txn,
    ngx_http_notify_store_op_t *op, ngx_http_notify_store_note_t *note);
static int ngx_http_notify_lmdb_read_one(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_lmdb_read_until(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_lmdb_prune(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_lmdb_chain(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, ngx_str_t *user, uint64_t seq,
    u_char *buf);
static int ngx_http_notify_lmdb_unchain(MDB_txn *txn, u_char *chain,
    ngx_str_t *user, uint64_t seq, u_char *buf);
static int ngx_http_notify_lmdb_feed_change(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_lmdb_archive_read(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, ngx_http_notify_lmdb_marks_t *m);
static int ngx_http_notify_lmdb_newest_entry(MDB_txn *txn, ngx_str_t *user,
    MDB_cursor **cur, MDB_val *key, MDB_val *val, u_char *buf);
static int ngx_http_notify_lmdb_newest(MDB_txn *txn, ngx_str_t *user,
    uint64_t *seq);
static ngx_uint_t ngx_http_notify_lmdb_states(ngx_http_notify_lmdb_marks_t *m,
    uint64_t seq, u_char flags);
static void ngx_http_notify_lmdb_marks(MDB_txn *txn, MDB_val *user,
    ngx_http_notify_lmdb_marks_t *m);
static int ngx_http_notify_lmdb_recount(MDB_txn *txn, MDB_val *user,
    ngx_uint_t from, ngx_uint_t to, ngx_http_notify_store_op_t *op);
static int ngx_http_notify_lmdb_counter_add(MDB_txn *txn, MDB_dbi dbi,
    MDB_val *user, int64_t delta, uint64_t *result);
static int ngx_http_notify_lmdb_count_add(MDB_txn *txn, MDB_val *user,
    int64_t delta, uint64_t *result);
static int ngx_http_notify_lmdb_outbox_put(MDB_txn *txn, uint64_t seq,
    uint32_t entry, ngx_http_notify_outbox_rec_t *rec, uint64_t old_due);
static int ngx_http_notify_lmdb_outbox_del(MDB_txn *txn, uint64_t seq,
    uint32_t entry);
static int ngx_http_notify_lmdb_outbox_del_all(MDB_txn *txn, uint64_t seq);
static int ngx_http_notify_lmdb_outbox_add(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, uint64_t seq);
static int ngx_http_notify_lmdb_outbox_upgrade(MDB_txn *txn);
static int ngx_http_notify_lmdb_expiry_build(MDB_txn *txn);
static int ngx_http_notify_lmdb_expiry_key(MDB_txn *txn,
    ngx_http_notify_outbox_rec_t *rec, uint64_t seq, uint32_t entry,
    ngx_uint_t del);
static int ngx_http_notify_lmdb_expire(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, ngx_uint_t q, uint64_t seq,
    uint32_t entry, ngx_http_notify_outbox_rec_t *rec);
static int ngx_http_notify_lmdb_outbox_expire(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, ngx_uint_t q, uint64_t now);
static int ngx_http_notify_lmdb_entry_next(MDB_txn *txn, MDB_dbi dbi,
    uint64_t seq, uint32_t *entry);
static uint64_t ngx_http_notify_now_msec(void);
static int ngx_http_notify_lmdb_outbox_replace(MDB_txn *txn, uint64_t seq);
static int ngx_http_notify_lmdb_queued(MDB_txn *txn, uint64_t seq,
    uint32_t entry, u_char *chain, u_char *state);
static int ngx_http_notify_lmdb_queue_set(MDB_txn *txn, uint64_t seq,
    uint32_t entry, u_char *chain, u_char state);
static int ngx_http_notify_lmdb_queue_head(MDB_txn *txn, u_char *chain,
    u_char *target, size_t len, uint64_t *head);
static int ngx_http_notify_lmdb_unqueue(MDB_txn *txn, uint64_t seq,
    uint32_t entry, ngx_http_notify_outbox_rec_t *rec);
static int ngx_http_notify_lmdb_claim_note(MDB_txn *txn, uint64_t seq,
    ngx_http_notify_outbox_rec_t *rec, MDB_val *ekey,
    ngx_http_notify_claim_t *cl);
static int ngx_http_notify_lmdb_outbox_finish(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_lmdb_dead_chain(MDB_txn *txn, uint64_t seq,
    u_char *chain, ngx_int_t *chained);
static int ngx_http_notify_lmdb_bury(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, uint64_t seq, uint32_t entry,
    ngx_http_notify_outbox_rec_t *rec, ngx_uint_t reason);
static int ngx_http_notify_lmdb_dead_add(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, uint64_t seq, uint32_t entry,
    ngx_http_notify_outbox_rec_t *rec, ngx_uint_t reason);
static int ngx_http_notify_lmdb_dead_del(MDB_txn *txn, uint64_t seq,
    uint32_t entry, ngx_uint_t keep_rcpt);
static int ngx_http_notify_lmdb_dead_del_all(MDB_txn *txn, uint64_t seq);
static int ngx_http_notify_lmdb_dead_purge(MDB_txn *txn, uint64_t seq,
    uint32_t entry);
static int ngx_http_notify_lmdb_outbox_remove(MDB_txn *txn, uint64_t seq,
    uint32_t entry, ngx_http_notify_outbox_rec_t *rec, ngx_uint_t rcpt);
static int ngx_http_notify_lmdb_entry_del(MDB_txn *txn, MDB_dbi dbi,
    uint64_t seq, uint32_t entry, ngx_uint_t rcpt);
static int ngx_http_notify_lmdb_record(MDB_txn *txn, MDB_dbi dbi,
    uint64_t seq, uint32_t entry, void *rec, size_t size);
static int ngx_http_notify_lmdb_del_all(MDB_txn *txn, MDB_dbi dbi,
    uint64_t seq, int (*del)(MDB_txn *txn, uint64_t seq, uint32_t entry));
static int ngx_http_notify_lmdb_dead(void *txn,
    ngx_http_notify_store_op_t *op);
static int ngx_http_notify_lmdb_dead_one(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, uint64_t seq, uint32_t entry,
    ngx_http_notify_dead_rec_t *d);
static ngx_int_t ngx_http_notify_lmdb_dead_list(ngx_array_t *items,
    ngx_str_t *target, uint64_t seq, uint32_t entry, ngx_uint_t limit,
    ngx_log_t *log);
static int ngx_http_notify_lmdb_outbox_claim(void *txn,
    ngx_http_notify_store_op_t *op);
static ngx_int_t ngx_http_notify_lmdb_feed(ngx_http_notify_feed_query_t *q,
    ngx_array_t *items, uint64_t *next, uint64_t *unread, ngx_log_t *log);
static ngx_int_t ngx_http_notify_lmdb_unread(ngx_str_t *user,
    uint64_t *unread, ngx_log_t *log);
static ngx_int_t ngx_http_notify_lmdb_counts(ngx_str_t *user,
    uint64_t *unread, uint64_t *unseen, ngx_log_t *log);
static ngx_int_t ngx_http_notify_lmdb_outbox(ngx_array_t *entries,
    ngx_uint_t limit, ngx_log_t *log);
static ngx_int_t ngx_http_notify_lmdb_stats(
    ngx_http_notify_store_stats_t *stats, ngx_log_t *log);
static ngx_int_t ngx_http_notify_lmdb_next_due(uint64_t *due,
    ngx_str_t *targets, ngx_uint_t ntargets, ngx_log_t *log);
static MDB_txn *ngx_http_notify_lmdb_read_begin(ngx_log_t *log);
static void ngx_http_notify_lmdb_read_end(MDB_txn *txn);
static u_char *ngx_http_notify_chain_key(u_char *p, u_char *chain,
    ngx_str_t *user);
static u_char *ngx_http_notify_feed_key(u_char *p, ngx_str_t *user,
    uint64_t seq);
static ngx_uint_t ngx_http_notify_feed_key_seq(MDB_val *key, ngx_str_t *user,
    uint64_t *seq);


ngx_http_notify_store_backend_t  ngx_http_notify_store_lmdb = {
    "lmdb",
    ngx_http_notify_lmdb_init_module,
    ngx_http_notify_lmdb_open,
    ngx_http_notify_lmdb_close,
    ngx_http_notify_lmdb_readers,
    ngx_http_notify_lmdb_version,
    ngx_http_notify_lmdb_strerror,
    ngx_http_notify_lmdb_room,
    ngx_http_notify_lmdb_begin,
    ngx_http_notify_lmdb_commit,
    ngx_http_notify_lmdb_abort,
    ngx_http_notify_lmdb_sync,
    ngx_http_notify_lmdb_idempotent,
    ngx_http_notify_lmdb_next_id,
    ngx_http_notify_lmdb_put,
    ngx_http_notify_lmdb_read_one,
    ngx_http_notify_lmdb_read_until,
    ngx_http_notify_lmdb_prune,
    ngx_http_notify_lmdb_outbox_claim,
    ngx_http_notify_lmdb_outbox_finish,
    ngx_http_notify_lmdb_feed,
    ngx_http_notify_lmdb_unread,
    ngx_http_notify_lmdb_outbox,
    ngx_http_notify_lmdb_next_due,
    ngx_http_notify_lmdb_stats,
    NULL,                               /* reads answer at once */
    NULL,                               /* a transaction in a thread */
    ngx_http_notify_lmdb_feed_change,
    ngx_http_notify_lmdb_counts,
    1,                                  /* states */
    ngx_http_notify_lmdb_dead,
    ngx_http_notify_lmdb_dead_list
};


static ngx_http_notify_lmdb_t  ngx_http_notify_lmdb;


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


/* a chain's link for a user: the chain's SHA-256, then the user id */

static u_char *
ngx_http_notify_chain_key(u_char *p, u_char *chain, ngx_str_t *user)
{
    p = ngx_cpymem(p, chain, 32);
    return ngx_cpymem(p, user->data, user->len);
}


/* feed key: user id, NUL, ~seq; "p" has room for user->len + 9 bytes */

static u_char *
ngx_http_notify_feed_key(u_char *p, ngx_str_t *user, uint64_t seq)
{
    p = ngx_cpymem(p, user->data, user->len);
    *p++ = '\0';
    ngx_http_notify_put_u64(p, ~seq);

    return p + 8;
}


/* a key of the feed: whether it is the user's, and its entry's id */

static ngx_uint_t
ngx_http_notify_feed_key_seq(MDB_val *key, ngx_str_t *user, uint64_t *seq)
{
    u_char  *p;

    p = key->mv_data;

    if (key->mv_size != user->len + 9
        || ngx_memcmp(p, user->data, user->len) != 0
        || p[user->len] != '\0')
    {
        return 0;
    }

    *seq = ~ngx_http_notify_get_u64(p + user->len + 1);

    return 1;
}


/* in the master, before the workers: make the folder for the workers */

static ngx_int_t
ngx_http_notify_lmdb_init_module(ngx_cycle_t *cycle,
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

static int
ngx_http_notify_lmdb_open(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf)
{
    int                      rc;
    MDB_txn                 *txn;
    ngx_http_notify_lmdb_t  *st;

    st = &ngx_http_notify_lmdb;

    ngx_memzero(st, sizeof(ngx_http_notify_lmdb_t));

    rc = mdb_env_create(&st->env);
    if (rc != 0) {
        goto failed;
    }

    (void) mdb_env_set_maxdbs(st->env, 32);

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

    ngx_http_notify_lmdb_readers(cycle->log);

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
        || (rc = mdb_dbi_open(txn, "outbox.e", MDB_CREATE, &st->outbox))
           != 0
        || (rc = mdb_dbi_open(txn, "outbox.d", MDB_CREATE, &st->due)) != 0
        || (rc = mdb_dbi_open(txn, "outbox.r", MDB_CREATE, &st->outrcpt))
           != 0
        || (rc = mdb_dbi_open(txn, "outbox.x", MDB_CREATE, &st->expiry))
           != 0
        || (rc = ngx_http_notify_lmdb_outbox_upgrade(txn)) != 0
        || (rc = ngx_http_notify_lmdb_expiry_build(txn)) != 0
        || (rc = mdb_dbi_open(txn, "unseen", MDB_CREATE, &st->unseen)) != 0
        || (rc = mdb_dbi_open(txn, "seen", MDB_CREATE, &st->seen)) != 0
        || (rc = mdb_dbi_open(txn, "dead", MDB_CREATE, &st->dead)) != 0
        || (rc = mdb_dbi_open(txn, "dead.t", MDB_CREATE, &st->dead_time))
           != 0
        || (rc = mdb_dbi_open(txn, "outbox.q", MDB_CREATE, &st->queue))
           != 0
        || (rc = mdb_dbi_open(txn, "outbox.k", MDB_CREATE, &st->queued))
           != 0)
    {
        mdb_txn_abort(txn);
        goto failed;
    }

    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        goto failed;
    }

    return 0;

failed:

    if (st->env) {
        mdb_env_close(st->env);
        st->env = NULL;
    }

    return rc;
}


static void
ngx_http_notify_lmdb_close(ngx_cycle_t *cycle)
{
    ngx_http_notify_lmdb_t  *st;

    st = &ngx_http_notify_lmdb;

    if (st->env == NULL) {
        return;
    }

    if (st->read_txn) {
        mdb_txn_abort(st->read_txn);
        st->read_txn = NULL;
    }

    mdb_env_close(st->env);
    st->env = NULL;
}


static const char *
ngx_http_notify_lmdb_version(void)
{
    int            major, minor, patch;
    static u_char  version[NGX_INT_T_LEN * 3 + 3];

    (void) mdb_version(&major, &minor, &patch);
    *ngx_sprintf(version, "%d.%d.%d", major, minor, patch) = '\0';

    return (const char *) version;
}


static const char *
ngx_http_notify_lmdb_strerror(int err)
{
    return mdb_strerror(err);    /* LMDB's codes and errno's */
}


/*
 * LMDB's writes that the file system takes only in part are answered EIO
 * (mdb_page_flush(), mdb_env_write_meta(): "short write, filesystem
 * full?").  One write of LMDB's is 64 pages at most.
 */

static ngx_int_t
ngx_http_notify_lmdb_room(uint64_t *avail, uint64_t *write)
{
    MDB_stat          ms;
    struct statvfs    fs;
    mdb_filehandle_t  fd;

    if (mdb_env_get_fd(ngx_http_notify_lmdb.env, &fd) != 0
        || mdb_env_stat(ngx_http_notify_lmdb.env, &ms) != 0
        || fstatvfs(fd, &fs) == -1)
    {
        return NGX_DECLINED;
    }

    *avail = (uint64_t) fs.f_bavail * fs.f_frsize;
    *write = (uint64_t) 64 * ms.ms_psize;

    return NGX_OK;
}


/* the write transaction, in a pool thread */

static int
ngx_http_notify_lmdb_begin(void **txn)
{
    return mdb_txn_begin(ngx_http_notify_lmdb.env, NULL, 0, (MDB_txn **) txn);
}


/* the data pages are synced here; the meta page by sync() below */

static int
ngx_http_notify_lmdb_commit(void *txn)
{
    return mdb_txn_commit(txn);
}


static void
ngx_http_notify_lmdb_abort(void *txn)
{
    mdb_txn_abort(txn);
}


/*
 * The meta page of what was committed, to disk, outside the writer lock
 * (MDB_NOMETASYNC above).
 */

static int
ngx_http_notify_lmdb_sync(void)
{
    return mdb_env_sync(ngx_http_notify_lmdb.env, 1);
}


/* an idempotent replay gets the first answer again */

static int
ngx_http_notify_lmdb_idempotent(void *txn, u_char *idem, ngx_str_t *answer)
{
    int      rc;
    MDB_val  key, val;

    ngx_str_null(answer);

    key.mv_data = idem;
    key.mv_size = 32;

    rc = mdb_get(txn, ngx_http_notify_lmdb.idem, &key, &val);

    if (rc == 0 && val.mv_size > 8) {
        answer->data = (u_char *) val.mv_data + 8;
        answer->len = val.mv_size - 8;
    }

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


/* the next sequence number */

static int
ngx_http_notify_lmdb_next_id(void *txn, uint64_t *seq)
{
    int      rc;
    MDB_val  key, val;
    u_char   seqkey[8];

    key.mv_data = "seq";
    key.mv_size = 3;

    rc = mdb_get(txn, ngx_http_notify_lmdb.meta, &key, &val);

    if (rc == 0 && val.mv_size == 8) {
        *seq = ngx_http_notify_get_u64(val.mv_data) + 1;

    } else if (rc == MDB_NOTFOUND) {
        *seq = 1;

    } else {
        return rc ? rc : MDB_CORRUPTED;
    }

    ngx_http_notify_put_u64(seqkey, *seq);

    val.mv_data = seqkey;
    val.mv_size = 8;

    return mdb_put(txn, ngx_http_notify_lmdb.meta, &key, &val, 0);
}


/* the notification, its recipients' feed entries, its delivery, its key */

static int
ngx_http_notify_lmdb_put(void *txn, ngx_http_notify_store_op_t *op,
    ngx_http_notify_store_note_t *note)
{
    int                          rc;
    size_t                       len;
    u_char                      *p, *buf;
    uint64_t                     seq;
    MDB_val                      key, val;
    ngx_uint_t                   i;
    ngx_http_notify_lmdb_t      *st;
    ngx_http_notify_note_hdr_t   hdr;
    u_char                       seqkey[8];

    st = &ngx_http_notify_lmdb;
    seq = note->seq;

    ngx_http_notify_put_u64(seqkey, seq);

    /* the notification: header, JSON, and the feed's part of it */

    ngx_memzero(&hdr, sizeof(hdr));
    hdr.full_len = (uint32_t) note->note.len;
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
    val.mv_size = sizeof(hdr) + note->note.len + note->view.len;

    rc = mdb_put(txn, st->notes, &key, &val, MDB_RESERVE);
    if (rc != 0) {
        return rc;
    }

    p = ngx_cpymem(val.mv_data, &hdr, sizeof(hdr));
    p = ngx_cpymem(p, note->note.data, note->note.len);
    ngx_memcpy(p, note->view.data, note->view.len);

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
            rc = ngx_http_notify_lmdb_chain(txn, op, &op->recipients[i], seq,
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

        rc = ngx_http_notify_lmdb_recount(txn, &key,
                                          NGX_HTTP_NOTIFY_STATE_READ
                                          |NGX_HTTP_NOTIFY_STATE_SEEN,
                                          0, NULL);
        if (rc != 0) {
            free(buf);
            return rc;
        }
    }

    free(buf);

    /* the delivery, in the same transaction */

    if (op->has_outbox) {
        rc = ngx_http_notify_lmdb_outbox_add(txn, op, seq);
        if (rc != 0) {
            return rc;
        }
    }

    /* the idempotency key, with the answer to give again */

    if (op->has_idem && note->answer.len) {
        key.mv_data = op->idem;
        key.mv_size = sizeof(op->idem);
        val.mv_data = NULL;
        val.mv_size = 8 + note->answer.len;

        rc = mdb_put(txn, st->idem, &key, &val, MDB_RESERVE);
        if (rc != 0) {
            return rc;
        }

        ngx_http_notify_put_u64(val.mv_data, seq);
        ngx_memcpy((u_char *) val.mv_data + 8, note->answer.data,
                   note->answer.len);
    }

    return 0;
}


/*
 * A notification of a chain replaces the user's entry of the chain's
 * previous one: that entry leaves the feed (and the unread count), and the
 * chain now points at "seq".  "buf" is scratch space for a feed key.
 */

static int
ngx_http_notify_lmdb_chain(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    ngx_str_t *user, uint64_t seq, u_char *buf)
{
    int                            rc;
    u_char                        *ckey;
    uint64_t                       prev;
    MDB_val                        key, val, fkey, fval, ukey;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_lmdb_marks_t   marks;
    u_char                         seqbuf[8];

    st = &ngx_http_notify_lmdb;

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

            ngx_http_notify_lmdb_marks(txn, &ukey, &marks);

            rc = ngx_http_notify_lmdb_recount(txn, &ukey,
                     ngx_http_notify_lmdb_states(&marks, prev,
                                                 *(u_char *) fval.mv_data),
                     NGX_HTTP_NOTIFY_STATE_READ|NGX_HTTP_NOTIFY_STATE_SEEN,
                     NULL);
            if (rc != 0) {
                goto done;
            }

            rc = mdb_del(txn, st->feed, &fkey, NULL);
            if (rc != 0) {
                goto done;
            }

            /* a delivery of the replaced notification still pending is
               cancelled; one in flight is removed when it reports */

            rc = ngx_http_notify_lmdb_outbox_replace(txn, prev);
            if (rc != 0) {
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
ngx_http_notify_lmdb_unchain(MDB_txn *txn, u_char *chain, ngx_str_t *user,
    uint64_t seq, u_char *buf)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_chain_key(buf, chain, user) - buf;

    rc = mdb_get(txn, ngx_http_notify_lmdb.chains, &key, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != 8 || ngx_http_notify_get_u64(val.mv_data) != seq) {
        return MDB_NOTFOUND;
    }

    return mdb_del(txn, ngx_http_notify_lmdb.chains, &key, NULL);
}


/*
 * A user's unread count, changed by delta (0: read only).
 */

static int
ngx_http_notify_lmdb_count_add(MDB_txn *txn, MDB_val *user, int64_t delta,
    uint64_t *result)
{
    return ngx_http_notify_lmdb_counter_add(txn, ngx_http_notify_lmdb.unread,
                                            user, delta, result);
}


/*
 * A counter of the user's, moved by "delta" (never below 0; 0: read
 * only).  A change goes through a cursor, so that the count found is
 * replaced where it is rather than looked for a second time: a
 * notification to a group changes thousands of them in one put.
 */

static int
ngx_http_notify_lmdb_counter_add(MDB_txn *txn, MDB_dbi dbi, MDB_val *user,
    int64_t delta, uint64_t *result)
{
    int           rc;
    u_char        buf[8];
    int64_t       n;
    MDB_val       key, val;
    MDB_cursor   *cur;

    cur = NULL;

    if (delta == 0) {
        rc = mdb_get(txn, dbi, user, &val);

    } else {
        rc = mdb_cursor_open(txn, dbi, &cur);
        if (rc != 0) {
            return rc;
        }

        key = *user;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
    }

    if (rc == 0 && val.mv_size == 8) {
        n = (int64_t) ngx_http_notify_get_u64(val.mv_data);

    } else if (rc == MDB_NOTFOUND) {
        n = 0;

    } else {
        rc = rc ? rc : MDB_CORRUPTED;
        goto done;
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

    rc = mdb_cursor_put(cur, user, &val, rc == 0 ? MDB_CURRENT : 0);

done:

    if (cur) {
        mdb_cursor_close(cur);
    }

    return rc;
}


/*
 * An entry's states went "from" -> "to" (a new entry comes from read and
 * seen to none, one that leaves goes to read and seen): the counters move
 * with them; with "op", op->unread and op->unseen get the counts.
 */

static int
ngx_http_notify_lmdb_recount(MDB_txn *txn, MDB_val *user, ngx_uint_t from,
    ngx_uint_t to, ngx_http_notify_store_op_t *op)
{
    int      rc;
    int64_t  d;

    d = (int64_t) ((from & NGX_HTTP_NOTIFY_STATE_READ) != 0)
        - (int64_t) ((to & NGX_HTTP_NOTIFY_STATE_READ) != 0);

    rc = ngx_http_notify_lmdb_counter_add(txn, ngx_http_notify_lmdb.unread,
                                          user, d, op ? &op->unread : NULL);
    if (rc != 0) {
        return rc;
    }

    d = (int64_t) ((from & NGX_HTTP_NOTIFY_STATE_SEEN) != 0)
        - (int64_t) ((to & NGX_HTTP_NOTIFY_STATE_SEEN) != 0);

    return ngx_http_notify_lmdb_counter_add(txn, ngx_http_notify_lmdb.unseen,
                                            user, d,
                                            op ? &op->unseen : NULL);
}


static uint64_t
ngx_http_notify_lmdb_mark(MDB_txn *txn, MDB_dbi dbi, MDB_val *user)
{
    MDB_val  val;

    if (mdb_get(txn, dbi, user, &val) == 0 && val.mv_size == 8) {
        return ngx_http_notify_get_u64(val.mv_data);
    }

    return 0;
}


static void
ngx_http_notify_lmdb_marks(MDB_txn *txn, MDB_val *user,
    ngx_http_notify_lmdb_marks_t *m)
{
    m->read = ngx_http_notify_lmdb_mark(txn, ngx_http_notify_lmdb.marks, user);
    m->seen = ngx_http_notify_lmdb_mark(txn, ngx_http_notify_lmdb.seen, user);
}


static int
ngx_http_notify_lmdb_set_mark(MDB_txn *txn, MDB_dbi dbi, MDB_val *user,
    uint64_t seq)
{
    MDB_val  val;
    u_char   buf[8];

    ngx_http_notify_put_u64(buf, seq);

    val.mv_data = buf;
    val.mv_size = 8;

    return mdb_put(txn, dbi, user, &val, 0);
}


/* an entry's states: its flags with the watermarks; archived > read > seen */

static ngx_uint_t
ngx_http_notify_lmdb_states(ngx_http_notify_lmdb_marks_t *m, uint64_t seq,
    u_char flags)
{
    ngx_uint_t  s;

    s = flags & (NGX_HTTP_NOTIFY_STATE_READ|NGX_HTTP_NOTIFY_STATE_SEEN
                 |NGX_HTTP_NOTIFY_STATE_ARCHIVED);

    if (seq <= m->read || (s & NGX_HTTP_NOTIFY_STATE_ARCHIVED)) {
        s |= NGX_HTTP_NOTIFY_STATE_READ;
    }

    if (seq <= m->seen || (s & NGX_HTTP_NOTIFY_STATE_READ)) {
        s |= NGX_HTTP_NOTIFY_STATE_SEEN;
    }

    return s;
}


/*
 * One entry gets the states "add" (READ_ONE, ARCHIVE), or leaves the feed
 * (DELETE, "add" 0).  op->rc NGX_DECLINED: the user has no such entry.
 */

static int
ngx_http_notify_lmdb_entry(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    ngx_uint_t add)
{
    int                            rc;
    u_char                         flags;
    MDB_val                        key, val, user;
    ngx_uint_t                     from;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_lmdb_marks_t   marks;
    u_char                         buf[NGX_HTTP_NOTIFY_USER_MAX + 9];

    st = &ngx_http_notify_lmdb;

    if (op->user.len > NGX_HTTP_NOTIFY_USER_MAX) {
        op->rc = NGX_DECLINED;
        return 0;
    }

    user.mv_data = op->user.data;
    user.mv_size = op->user.len;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_feed_key(buf, &op->user, op->seq) - buf;

    rc = mdb_get(txn, st->feed, &key, &val);

    if (rc == MDB_NOTFOUND) {
        op->rc = NGX_DECLINED;
        return ngx_http_notify_lmdb_recount(txn, &user, 0, 0, op);
    }

    if (rc != 0) {
        return rc;
    }

    ngx_http_notify_lmdb_marks(txn, &user, &marks);

    from = ngx_http_notify_lmdb_states(&marks, op->seq,
                                       *(u_char *) val.mv_data);

    if (add == 0) {
        rc = mdb_del(txn, st->feed, &key, NULL);
        if (rc != 0) {
            return rc;
        }

        return ngx_http_notify_lmdb_recount(txn, &user, from,
                                            NGX_HTTP_NOTIFY_STATE_READ
                                            |NGX_HTTP_NOTIFY_STATE_SEEN,
                                            op);
    }

    if ((from & add) == add) {
        return ngx_http_notify_lmdb_recount(txn, &user, 0, 0, op);
    }

    flags = (u_char) ngx_http_notify_lmdb_states(&marks, op->seq,
                                                 (u_char) (from | add));

    val.mv_data = &flags;
    val.mv_size = 1;

    rc = mdb_put(txn, st->feed, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_notify_lmdb_recount(txn, &user, from, flags, op);
}


static int
ngx_http_notify_lmdb_read_one(void *txn, ngx_http_notify_store_op_t *op)
{
    return ngx_http_notify_lmdb_entry(txn, op, NGX_HTTP_NOTIFY_STATE_READ);
}


static int
ngx_http_notify_lmdb_read_until(void *txn, ngx_http_notify_store_op_t *op)
{
    int                            rc;
    u_char                         flags;
    uint64_t                       seq;
    MDB_val                        key, val, user;
    ngx_uint_t                     from;
    MDB_cursor                    *cur;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_lmdb_marks_t   marks;
    u_char                         buf[NGX_HTTP_NOTIFY_USER_MAX + 9];

    st = &ngx_http_notify_lmdb;

    if (op->user.len > NGX_HTTP_NOTIFY_USER_MAX) {
        op->rc = NGX_DECLINED;
        return 0;
    }

    user.mv_data = op->user.data;
    user.mv_size = op->user.len;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_feed_key(buf, &op->user, op->seq) - buf;

    rc = mdb_get(txn, st->feed, &key, &val);

    if (rc == MDB_NOTFOUND) {
        op->rc = NGX_DECLINED;
        return ngx_http_notify_lmdb_recount(txn, &user, 0, 0, op);
    }

    if (rc != 0) {
        return rc;
    }

    ngx_http_notify_lmdb_marks(txn, &user, &marks);

    if (op->seq <= marks.read) {
        return ngx_http_notify_lmdb_recount(txn, &user, 0, 0, op);
    }

    /* entries from "until" down to the old watermark become read */

    rc = mdb_cursor_open(txn, st->feed, &cur);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);

    while (rc == 0) {
        if (!ngx_http_notify_feed_key_seq(&key, &op->user, &seq)) {
            break;
        }
        if (seq <= marks.read) {
            break;
        }

        from = ngx_http_notify_lmdb_states(&marks, seq,
                                           *(u_char *) val.mv_data);

        if (!(from & NGX_HTTP_NOTIFY_STATE_READ)) {
            flags = (u_char) (from | NGX_HTTP_NOTIFY_STATE_READ
                              | NGX_HTTP_NOTIFY_STATE_SEEN);

            val.mv_data = &flags;
            val.mv_size = 1;

            rc = mdb_cursor_put(cur, &key, &val, MDB_CURRENT);
            if (rc == 0) {
                rc = ngx_http_notify_lmdb_recount(txn, &user, from, flags,
                                                  NULL);
            }

            if (rc != 0) {
                mdb_cursor_close(cur);
                return rc;
            }
        }

        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    rc = ngx_http_notify_lmdb_set_mark(txn, st->marks, &user, op->seq);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_notify_lmdb_recount(txn, &user, 0, 0, op);
}


/* the feed's states: see the backend's feed_change in the store's header */

static int
ngx_http_notify_lmdb_feed_change(void *txn, ngx_http_notify_store_op_t *op)
{
    int                            rc;
    uint64_t                       newest;
    MDB_val                        user;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_lmdb_marks_t   marks;

    st = &ngx_http_notify_lmdb;

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_ARCHIVE:
        return ngx_http_notify_lmdb_entry(txn, op,
                                          NGX_HTTP_NOTIFY_STATE_ARCHIVED);

    case NGX_HTTP_NOTIFY_OP_DELETE:
        return ngx_http_notify_lmdb_entry(txn, op, 0);

    default:
        break;
    }

    op->count = 0;

    if (op->user.len > NGX_HTTP_NOTIFY_USER_MAX) {
        return 0;
    }

    user.mv_data = op->user.data;
    user.mv_size = op->user.len;

    ngx_http_notify_lmdb_marks(txn, &user, &marks);

    if (op->type == NGX_HTTP_NOTIFY_OP_ARCHIVE_READ) {
        rc = ngx_http_notify_lmdb_archive_read(txn, op, &marks);
        if (rc != 0) {
            return rc;
        }

        return ngx_http_notify_lmdb_recount(txn, &user, 0, 0, op);
    }

    /*
     * SEEN_ALL, READ_ALL: a watermark at the newest entry; everything up
     * to it is seen (read), so the count is 0
     */

    rc = ngx_http_notify_lmdb_newest(txn, &op->user, &newest);
    if (rc != 0) {
        return rc;
    }

    if (op->type == NGX_HTTP_NOTIFY_OP_READ_ALL && newest > marks.read) {
        rc = ngx_http_notify_lmdb_set_mark(txn, st->marks, &user, newest);
        if (rc != 0) {
            return rc;
        }

        rc = ngx_http_notify_lmdb_count_add(txn, &user, -INT64_MAX, NULL);
        if (rc != 0) {
            return rc;
        }
    }

    if (newest > marks.seen) {
        rc = ngx_http_notify_lmdb_set_mark(txn, st->seen, &user, newest);
        if (rc != 0) {
            return rc;
        }

        rc = ngx_http_notify_lmdb_counter_add(txn, st->unseen, &user,
                                              -INT64_MAX, NULL);
        if (rc != 0) {
            return rc;
        }
    }

    return ngx_http_notify_lmdb_recount(txn, &user, 0, 0, op);
}


/*
 * A cursor of the feed at the user's newest entry (or past the user's
 * entries: the caller checks the key); "buf" holds the key.  On an error
 * other than MDB_NOTFOUND no cursor is left open.
 */

static int
ngx_http_notify_lmdb_newest_entry(MDB_txn *txn, ngx_str_t *user,
    MDB_cursor **cur, MDB_val *key, MDB_val *val, u_char *buf)
{
    int  rc;

    rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.feed, cur);
    if (rc != 0) {
        return rc;
    }

    key->mv_data = buf;
    key->mv_size = ngx_http_notify_feed_key(buf, user, (uint64_t) -1) - buf;

    rc = mdb_cursor_get(*cur, key, val, MDB_SET_RANGE);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_cursor_close(*cur);
    }

    return rc;
}


/* the user's newest entry's id, 0: the feed is empty */

static int
ngx_http_notify_lmdb_newest(MDB_txn *txn, ngx_str_t *user, uint64_t *seq)
{
    int          rc;
    MDB_val      key, val;
    MDB_cursor  *cur;
    u_char       buf[NGX_HTTP_NOTIFY_USER_MAX + 9];

    *seq = 0;

    rc = ngx_http_notify_lmdb_newest_entry(txn, user, &cur, &key, &val, buf);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    if (rc == 0 && !ngx_http_notify_feed_key_seq(&key, user, seq)) {
        *seq = 0;
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


/* every read entry not archived is archived; the counts stay */

static int
ngx_http_notify_lmdb_archive_read(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, ngx_http_notify_lmdb_marks_t *m)
{
    int           rc;
    u_char        flags;
    uint64_t      seq;
    MDB_val       key, val;
    ngx_uint_t    s;
    MDB_cursor   *cur;
    u_char        buf[NGX_HTTP_NOTIFY_USER_MAX + 9];

    rc = ngx_http_notify_lmdb_newest_entry(txn, &op->user, &cur, &key, &val,
                                           buf);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    for ( /* void */ ;
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (!ngx_http_notify_feed_key_seq(&key, &op->user, &seq)) {
            break;
        }

        s = ngx_http_notify_lmdb_states(m, seq, *(u_char *) val.mv_data);

        if ((s & NGX_HTTP_NOTIFY_STATE_ARCHIVED)
            || !(s & NGX_HTTP_NOTIFY_STATE_READ))
        {
            continue;
        }

        flags = (u_char) (s | NGX_HTTP_NOTIFY_STATE_ARCHIVED);

        val.mv_data = &flags;
        val.mv_size = 1;

        rc = mdb_cursor_put(cur, &key, &val, MDB_CURRENT);
        if (rc != 0) {
            break;
        }

        op->count++;
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND || rc == 0) ? 0 : rc;
}


static int
ngx_http_notify_lmdb_prune(void *txn, ngx_http_notify_store_op_t *op)
{
    int                            rc;
    u_char                        *p, *end, *nul;
    uint64_t                       seq;
    MDB_val                        key, val, rkey, rval, fkey, fval, user;
    ngx_str_t                      id;
    MDB_cursor                    *cur;
    ngx_uint_t                     n;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_note_hdr_t     hdr;
    ngx_http_notify_lmdb_marks_t   marks;
    u_char                         buf[NGX_HTTP_NOTIFY_USER_MAX + 32];

    st = &ngx_http_notify_lmdb;

    op->count = 0;
    op->replaced = 0;

    rc = mdb_cursor_open(txn, st->notes, &cur);
    if (rc != 0) {
        return rc;
    }

    n = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && n < op->max;
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
                    rc = ngx_http_notify_lmdb_unchain(txn, hdr.chain, &id,
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

                ngx_http_notify_lmdb_marks(txn, &user, &marks);

                rc = ngx_http_notify_lmdb_recount(txn, &user,
                         ngx_http_notify_lmdb_states(&marks, seq,
                                                 *(u_char *) fval.mv_data),
                         NGX_HTTP_NOTIFY_STATE_READ
                         |NGX_HTTP_NOTIFY_STATE_SEEN,
                         NULL);
                if (rc != 0) {
                    goto failed;
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

        rc = ngx_http_notify_lmdb_outbox_del_all(txn, seq);
        if (rc != 0) {
            goto failed;
        }

        rc = ngx_http_notify_lmdb_dead_del_all(txn, seq);
        if (rc != 0) {
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
ngx_http_notify_entry_key(u_char *key, uint64_t seq, uint32_t entry)
{
    ngx_http_notify_put_u64(key, seq);
    key[8] = (u_char) (entry >> 24);
    key[9] = (u_char) (entry >> 16);
    key[10] = (u_char) (entry >> 8);
    key[11] = (u_char) entry;
}


static uint32_t
ngx_http_notify_entry_of(u_char *key)
{
    return ((uint32_t) key[8] << 24) | ((uint32_t) key[9] << 16)
           | ((uint32_t) key[10] << 8) | key[11];
}


/*
 * The due index's key: the target's name (its length first), the due
 * time, the entry's key; "due" 0 makes the first key of the target's
 */

static size_t
ngx_http_notify_due_key(u_char *key, u_char *target, size_t len,
    uint64_t due, uint64_t seq, uint32_t entry)
{
    key[0] = (u_char) len;
    ngx_memcpy(key + 1, target, len);
    ngx_http_notify_put_u64(key + 1 + len, due);
    ngx_http_notify_entry_key(key + 9 + len, seq, entry);

    return 1 + len + 8 + 12;
}


/* writes the entry and its due index; "old_due" (if not 0) is replaced */

static int
ngx_http_notify_lmdb_outbox_put(MDB_txn *txn, uint64_t seq, uint32_t entry,
    ngx_http_notify_outbox_rec_t *rec, uint64_t old_due)
{
    int                       rc;
    MDB_val                   key, val;
    ngx_http_notify_lmdb_t   *st;
    u_char                    ekey[12];
    u_char                    dkey[NGX_HTTP_NOTIFY_DUE_KEY_LEN];

    st = &ngx_http_notify_lmdb;

    if (old_due) {
        key.mv_data = dkey;
        key.mv_size = ngx_http_notify_due_key(dkey, rec->target,
                                              rec->target_len, old_due, seq,
                                              entry);

        rc = mdb_del(txn, st->due, &key, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    ngx_http_notify_entry_key(ekey, seq, entry);
    key.mv_data = ekey;
    key.mv_size = 12;
    val.mv_data = rec;
    val.mv_size = sizeof(ngx_http_notify_outbox_rec_t);

    rc = mdb_put(txn, st->outbox, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    rc = ngx_http_notify_lmdb_expiry_key(txn, rec, seq, entry, 0);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = dkey;
    key.mv_size = ngx_http_notify_due_key(dkey, rec->target, rec->target_len,
                                          rec->due, seq, entry);
    val.mv_data = "";
    val.mv_size = 0;

    return mdb_put(txn, st->due, &key, &val, 0);
}


/* the value kept under an entry's key (seq, entry) in "dbi" */

static int
ngx_http_notify_lmdb_entry_get(MDB_txn *txn, MDB_dbi dbi, uint64_t seq,
    uint32_t entry, MDB_val *val)
{
    MDB_val  key;
    u_char   ekey[12];

    ngx_http_notify_entry_key(ekey, seq, entry);
    key.mv_data = ekey;
    key.mv_size = 12;

    return mdb_get(txn, dbi, &key, val);
}


static int
ngx_http_notify_lmdb_outbox_get(MDB_txn *txn, uint64_t seq, uint32_t entry,
    ngx_http_notify_outbox_rec_t *rec)
{
    int  rc;

    rc = ngx_http_notify_lmdb_record(txn, ngx_http_notify_lmdb.outbox, seq,
                                     entry, rec, sizeof(*rec));

    if (rc == 0 && rec->target_len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
        return MDB_CORRUPTED;
    }

    return rc;
}


/* the record of (seq, entry) in "dbi", of "size" bytes, copied */

static int
ngx_http_notify_lmdb_record(MDB_txn *txn, MDB_dbi dbi, uint64_t seq,
    uint32_t entry, void *rec, size_t size)
{
    int      rc;
    MDB_val  val;

    rc = ngx_http_notify_lmdb_entry_get(txn, dbi, seq, entry, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != size) {
        return MDB_CORRUPTED;
    }

    ngx_memcpy(rec, val.mv_data, size);

    return 0;
}


/* the entry, its due index and its part's recipients */

static int
ngx_http_notify_lmdb_outbox_del(MDB_txn *txn, uint64_t seq, uint32_t entry)
{
    int                           rc;
    ngx_http_notify_outbox_rec_t  rec;

    rc = ngx_http_notify_lmdb_outbox_get(txn, seq, entry, &rec);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_notify_lmdb_outbox_remove(txn, seq, entry, &rec,
                                              rec.part != 0);
}


/*
 * The entry "rec" and its due index, its part's recipients if "rcpt"; it
 * leaves its chain's queue, whatever took it out of the outbox
 */

static int
ngx_http_notify_lmdb_outbox_remove(MDB_txn *txn, uint64_t seq,
    uint32_t entry, ngx_http_notify_outbox_rec_t *rec, ngx_uint_t rcpt)
{
    int      rc;
    MDB_val  key;
    u_char   dkey[NGX_HTTP_NOTIFY_DUE_KEY_LEN];

    key.mv_data = dkey;
    key.mv_size = ngx_http_notify_due_key(dkey, rec->target, rec->target_len,
                                          rec->due, seq, entry);

    rc = mdb_del(txn, ngx_http_notify_lmdb.due, &key, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    rc = ngx_http_notify_lmdb_expiry_key(txn, rec, seq, entry, 1);
    if (rc != 0) {
        return rc;
    }

    rc = ngx_http_notify_lmdb_entry_del(txn, ngx_http_notify_lmdb.outbox,
                                        seq, entry, rcpt);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_notify_lmdb_unqueue(txn, seq, entry, rec);
}


/* the record of (seq, entry) in "dbi"; its part's recipients if "rcpt" */

static int
ngx_http_notify_lmdb_entry_del(MDB_txn *txn, MDB_dbi dbi, uint64_t seq,
    uint32_t entry, ngx_uint_t rcpt)
{
    int      rc;
    MDB_val  key;
    u_char   ekey[12];

    ngx_http_notify_entry_key(ekey, seq, entry);
    key.mv_data = ekey;
    key.mv_size = 12;

    if (rcpt) {
        rc = mdb_del(txn, ngx_http_notify_lmdb.outrcpt, &key, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    return mdb_del(txn, dbi, &key, NULL);
}


/* every entry of a notification (replaced, or retention); 0 or an error */

static int
ngx_http_notify_lmdb_outbox_del_all(MDB_txn *txn, uint64_t seq)
{
    return ngx_http_notify_lmdb_del_all(txn, ngx_http_notify_lmdb.outbox,
                                        seq, ngx_http_notify_lmdb_outbox_del);
}


/*
 * Each key of a notification's in "dbi" (u64 seq, u32 entry), given to
 * "del", which removes it
 */

static int
ngx_http_notify_lmdb_del_all(MDB_txn *txn, MDB_dbi dbi, uint64_t seq,
    int (*del)(MDB_txn *txn, uint64_t seq, uint32_t entry))
{
    int       rc;
    uint32_t  entry;

    for ( ;; ) {
        entry = 0;

        rc = ngx_http_notify_lmdb_entry_next(txn, dbi, seq, &entry);

        if (rc == MDB_NOTFOUND) {
            return 0;
        }

        if (rc == 0) {
            rc = del(txn, seq, entry);
        }

        if (rc != 0) {
            return rc;
        }
    }
}


/*
 * The first key of a notification's in "dbi" from *entry on;
 * MDB_NOTFOUND: none
 */

static int
ngx_http_notify_lmdb_entry_next(MDB_txn *txn, MDB_dbi dbi, uint64_t seq,
    uint32_t *entry)
{
    int          rc;
    MDB_val      key, val;
    MDB_cursor  *cur;
    u_char       ekey[12];

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        return rc;
    }

    ngx_http_notify_entry_key(ekey, seq, *entry);
    key.mv_data = ekey;
    key.mv_size = 12;

    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);

    if (rc == 0
        && (key.mv_size != 12
            || ngx_http_notify_get_u64(key.mv_data) != seq))
    {
        rc = MDB_NOTFOUND;
    }

    if (rc == 0) {
        *entry = ngx_http_notify_entry_of(key.mv_data);
    }

    mdb_cursor_close(cur);

    return rc;
}


/*
 * A notification replaced by a newer one of its chain: its entries are
 * removed, but for one in flight (leased, the lease not run out): that one
 * is marked replaced, and removed when its attempt reports, whatever the
 * outcome, or when its lease runs out; meanwhile it holds the newer one's
 * entries for its target (ordering per chain).
 */

static int
ngx_http_notify_lmdb_outbox_replace(MDB_txn *txn, uint64_t seq)
{
    int                           rc;
    u_char                        state;
    uint32_t                      entry;
    uint64_t                      now;
    ngx_http_notify_outbox_rec_t  rec;
    u_char                        chain[32];

    now = ngx_http_notify_now_msec();

    for (entry = 0; /* void */; entry++) {

        rc = ngx_http_notify_lmdb_entry_next(txn, ngx_http_notify_lmdb.outbox,
                                              seq, &entry);
        if (rc != 0) {
            return (rc == MDB_NOTFOUND) ? 0 : rc;
        }

        rc = ngx_http_notify_lmdb_queued(txn, seq, entry, chain, &state);

        if (rc == 0 && (state & NGX_HTTP_NOTIFY_LMDB_REPLACED)) {
            continue;
        }

        if (rc == 0 && (state & NGX_HTTP_NOTIFY_LMDB_LEASED)) {
            rc = ngx_http_notify_lmdb_outbox_get(txn, seq, entry, &rec);
            if (rc != 0) {
                return rc;
            }

            if (rec.due > now) {
                rc = ngx_http_notify_lmdb_queue_set(txn, seq, entry, chain,
                                            state
                                            | NGX_HTTP_NOTIFY_LMDB_REPLACED);
                if (rc != 0) {
                    return rc;
                }

                continue;
            }

        } else if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }

        rc = ngx_http_notify_lmdb_outbox_del(txn, seq, entry);
        if (rc != 0) {
            return rc;
        }
    }
}


/*
 * PUT: the notification's entries, one a (target, part); a part other
 * than 0 keeps its own recipients
 */

static int
ngx_http_notify_lmdb_outbox_add(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    uint64_t seq)
{
    int                            rc;
    u_char                        *p;
    size_t                         len;
    uint64_t                       head;
    MDB_val                        key, val;
    ngx_str_t                     *ids;
    ngx_uint_t                     i, j;
    ngx_http_notify_outbox_put_t  *oe;
    ngx_http_notify_outbox_rec_t   rec;
    u_char                         ekey[12];

    for (i = 0; i < op->nentries; i++) {
        oe = &op->entries[i];

        ngx_memzero(&rec, sizeof(rec));
        rec.due = oe->due;
        rec.created = (uint64_t) op->created;
        rec.expires = (uint64_t) oe->expires;
        rec.part = (uint32_t) oe->part;
        rec.target_len = (u_char) ngx_min(oe->target.len,
                                          NGX_HTTP_NOTIFY_TARGET_NAME_LEN);
        ngx_memcpy(rec.target, oe->target.data, rec.target_len);

        if (op->has_chain) {

            /* behind an older entry of its chain for the target: held */

            rc = ngx_http_notify_lmdb_queue_head(txn, op->chain, rec.target,
                                                 rec.target_len, &head);

            if (rc == 0 && head < seq) {
                rec.due = ngx_http_notify_now_msec()
                          + NGX_HTTP_NOTIFY_CHAIN_WAIT;
                oe->held = 1;

            } else if (rc != 0 && rc != MDB_NOTFOUND) {
                return rc;
            }
        }

        rc = ngx_http_notify_lmdb_outbox_put(txn, seq, (uint32_t) i, &rec, 0);
        if (rc != 0) {
            return rc;
        }

        if (op->has_chain) {
            rc = ngx_http_notify_lmdb_queue_set(txn, seq, (uint32_t) i,
                                        op->chain,
                                        (oe->data && !oe->held)
                                        ? NGX_HTTP_NOTIFY_LMDB_LEASED : 0);
            if (rc != 0) {
                return rc;
            }
        }

        if (oe->part == 0) {
            continue;
        }

        ids = op->recipients + oe->first;

        len = 0;
        for (j = 0; j < oe->n; j++) {
            len += ids[j].len + 1;
        }

        ngx_http_notify_entry_key(ekey, seq, (uint32_t) i);
        key.mv_data = ekey;
        key.mv_size = 12;
        val.mv_data = NULL;
        val.mv_size = len;

        rc = mdb_put(txn, ngx_http_notify_lmdb.outrcpt, &key, &val,
                     MDB_RESERVE);
        if (rc != 0) {
            return rc;
        }

        p = val.mv_data;
        for (j = 0; j < oe->n; j++) {
            p = ngx_cpymem(p, ids[j].data, ids[j].len);
            *p++ = '\0';
        }
    }

    return 0;
}


/*
 * Ordering per chain.  Each entry of a notification with a chain is in
 * its chain's queue for its target (outbox.q, oldest first); outbox.k
 * keeps its chain and state.  Only the entries of a queue's oldest
 * notification may be attempted: a newer one's are held (due again after
 * NGX_HTTP_NOTIFY_CHAIN_WAIT at the latest, when a claim looks again) and
 * made due at once when the last older entry leaves the outbox.
 */

static size_t
ngx_http_notify_queue_key(u_char *key, u_char *chain, u_char *target,
    size_t len, uint64_t seq, uint32_t entry)
{
    ngx_memcpy(key, chain, 32);
    key[32] = (u_char) len;
    ngx_memcpy(key + 33, target, len);
    ngx_http_notify_entry_key(key + 33 + len, seq, entry);

    return 33 + len + 12;
}


/* an entry's chain and state; MDB_NOTFOUND: it has no chain */

static int
ngx_http_notify_lmdb_queued(MDB_txn *txn, uint64_t seq, uint32_t entry,
    u_char *chain, u_char *state)
{
    int      rc;
    MDB_val  val;

    rc = ngx_http_notify_lmdb_entry_get(txn, ngx_http_notify_lmdb.queued, seq,
                                        entry, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != 33) {
        return MDB_CORRUPTED;
    }

    ngx_memcpy(chain, val.mv_data, 32);
    *state = ((u_char *) val.mv_data)[32];

    return 0;
}


/* an entry into its chain's queue, or its new state there */

static int
ngx_http_notify_lmdb_queue_set(MDB_txn *txn, uint64_t seq, uint32_t entry,
    u_char *chain, u_char state)
{
    int                            rc;
    MDB_val                        key, val;
    ngx_http_notify_outbox_rec_t   rec;
    u_char                         ekey[12];
    u_char                         data[33];
    u_char                         qkey[NGX_HTTP_NOTIFY_QUEUE_KEY_LEN];

    rc = ngx_http_notify_lmdb_outbox_get(txn, seq, entry, &rec);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = qkey;
    key.mv_size = ngx_http_notify_queue_key(qkey, chain, rec.target,
                                            rec.target_len, seq, entry);
    val.mv_data = "";
    val.mv_size = 0;

    rc = mdb_put(txn, ngx_http_notify_lmdb.queue, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    ngx_memcpy(data, chain, 32);
    data[32] = state;

    ngx_http_notify_entry_key(ekey, seq, entry);
    key.mv_data = ekey;
    key.mv_size = 12;
    val.mv_data = data;
    val.mv_size = 33;

    return mdb_put(txn, ngx_http_notify_lmdb.queued, &key, &val, 0);
}


/*
 * The oldest notification with entries in a chain's queue for a target;
 * MDB_NOTFOUND: none
 */

static int
ngx_http_notify_lmdb_queue_head(MDB_txn *txn, u_char *chain, u_char *target,
    size_t len, uint64_t *head)
{
    int          rc;
    size_t       plen;
    MDB_val      key, val;
    MDB_cursor  *cur;
    u_char       qkey[NGX_HTTP_NOTIFY_QUEUE_KEY_LEN];

    rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.queue, &cur);
    if (rc != 0) {
        return rc;
    }

    plen = 33 + len;
    key.mv_data = qkey;
    key.mv_size = ngx_http_notify_queue_key(qkey, chain, target, len, 0, 0);

    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);

    if (rc == 0) {
        if (key.mv_size == plen + 12
            && ngx_memcmp(key.mv_data, qkey, plen) == 0)
        {
            *head = ngx_http_notify_get_u64((u_char *) key.mv_data + plen);

        } else {
            rc = MDB_NOTFOUND;
        }
    }

    mdb_cursor_close(cur);

    return rc;
}


/*
 * An entry that left the outbox leaves its chain's queue; when no entry
 * as old as it is left there, the entries of the queue's next
 * notification, held until now, are due at once.
 */

static int
ngx_http_notify_lmdb_unqueue(MDB_txn *txn, uint64_t seq, uint32_t entry,
    ngx_http_notify_outbox_rec_t *rec)
{
    int                            rc;
    size_t                         plen;
    u_char                         state;
    uint64_t                       head, now, old;
    MDB_val                        key, val;
    MDB_cursor                    *cur;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_outbox_rec_t   next;
    u_char                         chain[32];
    u_char                         ekey[12];
    u_char                         qkey[NGX_HTTP_NOTIFY_QUEUE_KEY_LEN];

    st = &ngx_http_notify_lmdb;

    rc = ngx_http_notify_lmdb_queued(txn, seq, entry, chain, &state);
    if (rc != 0) {
        return (rc == MDB_NOTFOUND) ? 0 : rc;
    }

    ngx_http_notify_entry_key(ekey, seq, entry);
    key.mv_data = ekey;
    key.mv_size = 12;

    rc = mdb_del(txn, st->queued, &key, NULL);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = qkey;
    key.mv_size = ngx_http_notify_queue_key(qkey, chain, rec->target,
                                            rec->target_len, seq, entry);

    rc = mdb_del(txn, st->queue, &key, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    rc = ngx_http_notify_lmdb_queue_head(txn, chain, rec->target,
                                         rec->target_len, &head);
    if (rc != 0) {
        return (rc == MDB_NOTFOUND) ? 0 : rc;
    }

    if (head <= seq) {
        return 0;           /* an older entry, or one of its own, is left */
    }

    /* the next notification's entries for the target: due now */

    now = ngx_http_notify_now_msec();
    plen = 33 + rec->target_len;

    rc = mdb_cursor_open(txn, st->queue, &cur);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = qkey;
    key.mv_size = ngx_http_notify_queue_key(qkey, chain, rec->target,
                                            rec->target_len, head, 0);

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size != plen + 12
            || ngx_memcmp(key.mv_data, qkey, plen) != 0
            || ngx_http_notify_get_u64((u_char *) key.mv_data + plen)
               != head)
        {
            break;
        }

        entry = ngx_http_notify_entry_of((u_char *) key.mv_data + plen);

        rc = ngx_http_notify_lmdb_outbox_get(txn, head, entry, &next);
        if (rc == MDB_NOTFOUND) {
            continue;
        }

        if (rc != 0) {
            break;
        }

        if (next.due > now) {
            old = next.due;
            next.due = now;

            rc = ngx_http_notify_lmdb_outbox_put(txn, head, entry, &next,
                                                 old);
            if (rc != 0) {
                break;
            }
        }
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


/*
 * The outbox of a store written before targets (one entry a
 * notification, keyed by its id alone, for notify_push_url) becomes the
 * push target's entry 0 of each; in the transaction that opens the store
 */

static int
ngx_http_notify_lmdb_outbox_upgrade(MDB_txn *txn)
{
    int                            rc;
    MDB_dbi                        old, olddue;
    MDB_val                        key, val;
    MDB_cursor                    *cur;
    ngx_http_notify_outbox_rec_t   rec;
    ngx_http_notify_outbox_v1_t    v1;

    rc = mdb_dbi_open(txn, "outbox", 0, &old);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, old, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size != 8 || val.mv_size != sizeof(v1)) {
            continue;
        }

        ngx_memcpy(&v1, val.mv_data, sizeof(v1));

        ngx_memzero(&rec, sizeof(rec));
        rec.due = v1.due;
        rec.created = v1.created;
        rec.expires = v1.expires;
        rec.attempts = v1.attempts;
        ngx_memcpy(rec.error, v1.error, sizeof(rec.error));
        rec.target_len = sizeof("push") - 1;
        ngx_memcpy(rec.target, "push", sizeof("push") - 1);

        rc = ngx_http_notify_lmdb_outbox_put(txn,
                                     ngx_http_notify_get_u64(key.mv_data), 0,
                                     &rec, 0);
        if (rc != 0) {
            mdb_cursor_close(cur);
            return rc;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return rc;
    }

    rc = mdb_drop(txn, old, 1);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_dbi_open(txn, "due", 0, &olddue);
    if (rc == 0) {
        rc = mdb_drop(txn, olddue, 1);
    }

    return (rc == MDB_NOTFOUND) ? 0 : rc;
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
ngx_http_notify_lmdb_outbox_finish(void *txn, ngx_http_notify_store_op_t *op)
{
    int                           rc;
    u_char                        state;
    uint64_t                      old, now;
    ngx_http_notify_outbox_rec_t  rec;
    u_char                        chain[32];

    op->nexpired = 0;

    rc = ngx_http_notify_lmdb_outbox_get(txn, op->seq, op->entry, &rec);

    if (rc == MDB_NOTFOUND) {
        /* dropped, expired, replaced or delivered meanwhile */
        op->rc = NGX_DECLINED;
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    op->count = 0;

    /*
     * an entry of a chain: replaced while in flight, it goes whatever the
     * outcome (never retried); to be retried, it is no longer in flight
     */

    rc = ngx_http_notify_lmdb_queued(txn, op->seq, op->entry, chain, &state);

    if (rc == 0 && (state & NGX_HTTP_NOTIFY_LMDB_REPLACED)
        && op->type != NGX_HTTP_NOTIFY_OP_OUTBOX_NOW)
    {
        op->replaced = 1;
        return ngx_http_notify_lmdb_outbox_del(txn, op->seq, op->entry);
    }

    if (rc == 0 && op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY) {
        rc = ngx_http_notify_lmdb_queue_set(txn, op->seq, op->entry, chain,
                                 state & ~NGX_HTTP_NOTIFY_LMDB_LEASED);
    }

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_OUTBOX_DROP:
        if (op->dead) {
            rec.attempts++;
            ngx_cpystrn(rec.error, op->error, sizeof(rec.error));

            return ngx_http_notify_lmdb_bury(txn, op, op->seq, op->entry,
                                             &rec,
                                             NGX_HTTP_NOTIFY_DEAD_GIVEN_UP);
        }

        /* fall through */

    case NGX_HTTP_NOTIFY_OP_OUTBOX_DONE:
        return ngx_http_notify_lmdb_outbox_del(txn, op->seq, op->entry);

    case NGX_HTTP_NOTIFY_OP_OUTBOX_NOW:
        old = rec.due;
        rec.due = ngx_http_notify_now_msec();
        return ngx_http_notify_lmdb_outbox_put(txn, op->seq, op->entry, &rec,
                                               old);

    default: /* NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY */
        break;
    }

    now = ngx_http_notify_now_msec();

    rec.attempts++;
    ngx_cpystrn(rec.error, op->error, sizeof(rec.error));
    op->max = rec.attempts;

    if (op->due >= rec.expires * 1000 || now >= rec.expires * 1000) {
        op->nexpired = 1;
        return ngx_http_notify_lmdb_bury(txn, op, op->seq, op->entry, &rec,
                                         NGX_HTTP_NOTIFY_DEAD_EXPIRED);
    }

    old = rec.due;
    rec.due = op->due;

    return ngx_http_notify_lmdb_outbox_put(txn, op->seq, op->entry, &rec, old);
}


/*
 * Takes up to op->max entries that are due, of the targets in op->quota,
 * each at most its quota: each is leased (its due time moved op->due on)
 * in this transaction, so that no other worker or process sends it
 * meanwhile, and returned with its notification and recipients.  Entries
 * past their expiry are removed and listed in op->expired: first up to
 * op->expire of each target's by expiry (its quota 0 too), then those the
 * claim meets among the due ones.
 */

static int
ngx_http_notify_lmdb_outbox_claim(void *txn, ngx_http_notify_store_op_t *op)
{
    int                            rc;
    size_t                         plen;
    u_char                         state;
    uint32_t                       entry;
    uint64_t                       due, seq, now, head;
    MDB_val                        key, val, nkey;
    ngx_str_t                     *name;
    ngx_uint_t                     q, taken, n, swept;
    MDB_cursor                    *cur;
    ngx_http_notify_claim_t       *cl;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_outbox_rec_t   rec;
    u_char                         chain[32];
    u_char                         ekey[12];
    u_char                         dkey[NGX_HTTP_NOTIFY_DUE_KEY_LEN];

    st = &ngx_http_notify_lmdb;
    now = ngx_http_notify_now_msec();

    ngx_http_notify_store_claim_free(op);

    op->count = 0;

    n = op->max + op->nquota * op->expire;

    op->claimed = calloc(op->max ? op->max : 1,
                         sizeof(ngx_http_notify_claim_t));
    op->expired = calloc(n ? n : 1, sizeof(uint64_t));
    op->expired_quota = calloc(n ? n : 1, sizeof(uint32_t));

    if (op->claimed == NULL || op->expired == NULL
        || op->expired_quota == NULL)
    {
        return ENOMEM;
    }

    for (q = 0; q < op->nquota; q++) {
        rc = ngx_http_notify_lmdb_outbox_expire(txn, op, q, now);
        if (rc != 0) {
            return rc;
        }
    }

    swept = op->nexpired;

    rc = mdb_cursor_open(txn, st->due, &cur);
    if (rc != 0) {
        return rc;
    }

    for (q = 0; q < op->nquota; q++) {
        name = &op->quota[q].target;

        if (name->len == 0 || name->len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
            continue;
        }

        plen = 1 + name->len;
        taken = 0;

        for ( ;; ) {
            if (taken >= op->quota[q].max || op->nclaimed >= op->max
                || op->nexpired - swept >= op->max)
            {
                rc = 0;
                break;
            }

            key.mv_data = dkey;
            key.mv_size = ngx_http_notify_due_key(dkey, name->data, name->len,
                                                  0, 0, 0);

            rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
            if (rc != 0) {
                break;
            }

            if (key.mv_size != plen + 20
                || ngx_memcmp(key.mv_data, dkey, plen) != 0)
            {
                rc = MDB_NOTFOUND;
                break;
            }

            due = ngx_http_notify_get_u64((u_char *) key.mv_data + plen);
            seq = ngx_http_notify_get_u64((u_char *) key.mv_data + plen + 8);
            entry = ngx_http_notify_entry_of((u_char *) key.mv_data + plen
                                             + 8);

            if (due > now) {
                rc = MDB_NOTFOUND;
                break;
            }

            rc = mdb_cursor_del(cur, 0);
            if (rc != 0) {
                break;
            }

            rc = ngx_http_notify_lmdb_outbox_get(txn, seq, entry, &rec);

            if (rc == MDB_NOTFOUND) {
                continue;   /* a stale index entry */
            }

            if (rc != 0) {
                break;
            }

            ngx_http_notify_entry_key(ekey, seq, entry);
            nkey.mv_data = ekey;
            nkey.mv_size = 12;

            if (now >= rec.expires * 1000) {

                /* its due index is gone already (the cursor's) */

                rc = ngx_http_notify_lmdb_expire(txn, op, q, seq, entry,
                                                 &rec);
                if (rc != 0) {
                    break;
                }

                continue;
            }

            /*
             * an entry of a chain: replaced in flight, its lease ran out
             * (its attempt never reported): it goes; behind an older
             * entry of its chain for the target: held again
             */

            rc = ngx_http_notify_lmdb_queued(txn, seq, entry, chain, &state);

            if (rc == 0 && (state & NGX_HTTP_NOTIFY_LMDB_REPLACED)) {
                rc = ngx_http_notify_lmdb_outbox_del(txn, seq, entry);
                if (rc != 0) {
                    break;
                }

                continue;
            }

            if (rc == 0) {
                rc = ngx_http_notify_lmdb_queue_head(txn, chain, rec.target,
                                                     rec.target_len, &head);

                if (rc == 0 && head < seq) {
                    rec.due = now + NGX_HTTP_NOTIFY_CHAIN_WAIT;

                    rc = ngx_http_notify_lmdb_outbox_put(txn, seq, entry,
                                                         &rec, 0);
                    if (rc != 0) {
                        break;
                    }

                    continue;
                }

                if (rc == 0) {
                    rc = ngx_http_notify_lmdb_queue_set(txn, seq, entry,
                                          chain,
                                          state | NGX_HTTP_NOTIFY_LMDB_LEASED);
                }
            }

            if (rc != 0 && rc != MDB_NOTFOUND) {
                break;
            }

            /* the lease */

            rec.due = now + op->due;

            rc = ngx_http_notify_lmdb_outbox_put(txn, seq, entry, &rec, 0);
            if (rc != 0) {
                break;
            }

            cl = &op->claimed[op->nclaimed];
            cl->seq = seq;
            cl->entry = entry;
            cl->part = rec.part;
            cl->attempts = rec.attempts;
            cl->target_len = rec.target_len;
            ngx_memcpy(cl->target, rec.target, rec.target_len);

            rc = ngx_http_notify_lmdb_claim_note(txn, seq, &rec, &nkey, cl);
            if (rc != 0) {
                break;
            }

            op->nclaimed++;
            taken++;
        }

        if (rc != 0 && rc != MDB_NOTFOUND) {
            break;
        }

        rc = 0;
    }

    mdb_cursor_close(cur);

    return rc;
}


/*
 * An entry past its expiry, found by a claim (of its target, the quota
 * "q"), expires: it leaves the outbox (and its chain's queue, which frees
 * the next of its chain) and is kept as a dead letter, listed in
 * op->expired
 */

static int
ngx_http_notify_lmdb_expire(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    ngx_uint_t q, uint64_t seq, uint32_t entry,
    ngx_http_notify_outbox_rec_t *rec)
{
    int  rc;

    rc = ngx_http_notify_lmdb_bury(txn, op, seq, entry, rec,
                                   NGX_HTTP_NOTIFY_DEAD_EXPIRED);
    if (rc != 0) {
        return rc;
    }

    op->expired_quota[op->nexpired] = (uint32_t) q;
    op->expired[op->nexpired++] = seq;

    return 0;
}


/*
 * The entries of the target op->quota[q] past their expiry, oldest expiry
 * first, op->expire of them looked at, at most: each expires, unless it
 * is in flight (leased: its attempt's outcome expires it) or held behind
 * an older one of its chain for a while (a claim meets it when it is due);
 * an index key whose entry is gone is removed
 */

static int
ngx_http_notify_lmdb_outbox_expire(MDB_txn *txn,
    ngx_http_notify_store_op_t *op, ngx_uint_t q, uint64_t now)
{
    int                            rc;
    size_t                         plen;
    uint32_t                       entry;
    uint64_t                       seq;
    MDB_val                        key, val;
    ngx_str_t                     *name;
    ngx_uint_t                     looked, skip;
    MDB_cursor                    *cur;
    ngx_http_notify_outbox_rec_t   rec;
    u_char                         xkey[NGX_HTTP_NOTIFY_DUE_KEY_LEN];

    name = &op->quota[q].target;

    if (op->expire == 0
        || name->len == 0 || name->len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN)
    {
        return 0;
    }

    rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.expiry, &cur);
    if (rc != 0) {
        return rc;
    }

    plen = ngx_http_notify_due_key(xkey, name->data, name->len, 0, 0, 0)
           - 20;
    skip = 0;

    for (looked = 0; looked < op->expire; looked++) {

        /* from the first key of the target's, or after the one skipped */

        key.mv_data = xkey;
        key.mv_size = plen + 20;

        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);

        if (rc == 0 && skip && key.mv_size == plen + 20
            && ngx_memcmp(key.mv_data, xkey, plen + 20) == 0)
        {
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }

        if (rc != 0) {
            break;
        }

        if (key.mv_size != plen + 20
            || ngx_memcmp(key.mv_data, xkey, plen) != 0
            || ngx_http_notify_get_u64((u_char *) key.mv_data + plen) * 1000
               > now)
        {
            rc = MDB_NOTFOUND;
            break;
        }

        ngx_memcpy(xkey, key.mv_data, key.mv_size);

        seq = ngx_http_notify_get_u64(xkey + plen + 8);
        entry = ngx_http_notify_entry_of(xkey + plen + 8);

        rc = ngx_http_notify_lmdb_outbox_get(txn, seq, entry, &rec);

        if (rc == MDB_NOTFOUND) {
            rc = mdb_cursor_del(cur, 0);
            if (rc != 0) {
                break;
            }

            skip = 0;
            continue;
        }

        if (rc != 0) {
            break;
        }

        if (rec.due > now) {
            skip = 1;
            continue;
        }

        rc = ngx_http_notify_lmdb_expire(txn, op, q, seq, entry, &rec);
        if (rc != 0) {
            break;
        }

        skip = 0;
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


/*
 * The expiry index's key of an entry ("rec" as kept), written or, with
 * "del", removed (one missing is no error: an older module's writes)
 */

static int
ngx_http_notify_lmdb_expiry_key(MDB_txn *txn,
    ngx_http_notify_outbox_rec_t *rec, uint64_t seq, uint32_t entry,
    ngx_uint_t del)
{
    int      rc;
    MDB_val  key, val;
    u_char   xkey[NGX_HTTP_NOTIFY_DUE_KEY_LEN];

    key.mv_data = xkey;
    key.mv_size = ngx_http_notify_due_key(xkey, rec->target, rec->target_len,
                                          rec->expires, seq, entry);

    if (del) {
        rc = mdb_del(txn, ngx_http_notify_lmdb.expiry, &key, NULL);
        return (rc == MDB_NOTFOUND) ? 0 : rc;
    }

    val.mv_data = "";
    val.mv_size = 0;

    rc = mdb_put(txn, ngx_http_notify_lmdb.expiry, &key, &val,
                 MDB_NOOVERWRITE);

    return (rc == MDB_KEYEXIST) ? 0 : rc;
}


/*
 * A store written before the expiry index: the index of its outbox, in
 * the transaction that opens it
 */

static int
ngx_http_notify_lmdb_expiry_build(MDB_txn *txn)
{
    int                            rc;
    MDB_val                        key, val;
    MDB_stat                       ms;
    MDB_cursor                    *cur;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_outbox_rec_t   rec;

    st = &ngx_http_notify_lmdb;

    rc = mdb_stat(txn, st->expiry, &ms);
    if (rc != 0 || ms.ms_entries != 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, st->outbox, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size != 12 || val.mv_size != sizeof(rec)) {
            continue;
        }

        ngx_memcpy(&rec, val.mv_data, sizeof(rec));

        if (rec.target_len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
            continue;
        }

        rc = ngx_http_notify_lmdb_expiry_key(txn, &rec,
                                     ngx_http_notify_get_u64(key.mv_data),
                                     ngx_http_notify_entry_of(key.mv_data), 0);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


/* a claimed entry's notification and recipients (its part's, or all) */

static int
ngx_http_notify_lmdb_claim_note(MDB_txn *txn, uint64_t seq,
    ngx_http_notify_outbox_rec_t *rec, MDB_val *ekey,
    ngx_http_notify_claim_t *cl)
{
    u_char                      *note;
    size_t                       note_len;
    MDB_val                      nkey, nval;
    ngx_http_notify_lmdb_t      *st;
    ngx_http_notify_note_hdr_t   hdr;
    u_char                       seqkey[8];

    st = &ngx_http_notify_lmdb;

    ngx_http_notify_put_u64(seqkey, seq);
    nkey.mv_data = seqkey;
    nkey.mv_size = 8;

    note = NULL;
    note_len = 0;

    if (mdb_get(txn, st->notes, &nkey, &nval) == 0
        && nval.mv_size > sizeof(ngx_http_notify_note_hdr_t))
    {
        ngx_memcpy(&hdr, nval.mv_data, sizeof(ngx_http_notify_note_hdr_t));

        note = (u_char *) nval.mv_data + sizeof(ngx_http_notify_note_hdr_t);
        note_len = ngx_min(hdr.full_len, nval.mv_size
                           - sizeof(ngx_http_notify_note_hdr_t));
    }

    if (mdb_get(txn, rec->part ? st->outrcpt : st->rcpt,
                rec->part ? ekey : &nkey, &nval)
        != 0)
    {
        nval.mv_data = NULL;
        nval.mv_size = 0;
    }

    return ngx_http_notify_store_claim_set(cl, note, note_len, nval.mv_data,
                                           nval.mv_size);
}


/*
 * The earliest due time (msec) of the given targets' entries, 0 when
 * there is none
 */

static ngx_int_t
ngx_http_notify_lmdb_next_due(uint64_t *due, ngx_str_t *targets,
    ngx_uint_t ntargets, ngx_log_t *log)
{
    int          rc;
    size_t       plen;
    uint64_t     d;
    MDB_val      key, val;
    MDB_txn     *txn;
    ngx_uint_t   i;
    MDB_cursor  *cur;
    u_char       dkey[NGX_HTTP_NOTIFY_DUE_KEY_LEN];

    *due = 0;
    cur = NULL;

    txn = ngx_http_notify_lmdb_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.due, &cur);

    if (rc == 0) {
        for (i = 0; i < ntargets; i++) {
            if (targets[i].len == 0
                || targets[i].len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN)
            {
                continue;
            }

            plen = 1 + targets[i].len;
            key.mv_data = dkey;
            key.mv_size = ngx_http_notify_due_key(dkey, targets[i].data,
                                                  targets[i].len, 0, 0, 0);

            rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);

            if (rc == 0 && key.mv_size == plen + 20
                && ngx_memcmp(key.mv_data, dkey, plen) == 0)
            {
                d = ngx_http_notify_get_u64((u_char *) key.mv_data + plen);

                if (*due == 0 || d < *due) {
                    *due = d;
                }
            }

            if (rc != 0 && rc != MDB_NOTFOUND) {
                break;
            }

            rc = 0;
        }
    }

    if (cur) {
        mdb_cursor_close(cur);
    }

    ngx_http_notify_lmdb_read_end(txn);

    return (rc == 0 || rc == MDB_NOTFOUND) ? NGX_OK : NGX_ERROR;
}


/*
 * notify_metrics: the map (its size, and the pages up to the last one
 * used, those on LMDB's free list included), the outbox's entries (the
 * count LMDB keeps) and its oldest (the first key: ids grow with commit
 * order).  Two lookups, whatever the store holds.
 */

static ngx_int_t
ngx_http_notify_lmdb_stats(ngx_http_notify_store_stats_t *stats,
    ngx_log_t *log)
{
    int                           rc;
    MDB_val                       key, val;
    MDB_txn                      *txn;
    MDB_stat                      ms;
    MDB_cursor                   *cur;
    MDB_envinfo                   info;
    ngx_http_notify_outbox_rec_t  rec;

    if (mdb_env_info(ngx_http_notify_lmdb.env, &info) != 0
        || mdb_env_stat(ngx_http_notify_lmdb.env, &ms) != 0)
    {
        return NGX_ERROR;
    }

    stats->map_size = info.me_mapsize;
    stats->map_used = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;

    if (stats->map_used > stats->map_size) {
        stats->map_used = stats->map_size;
    }

    txn = ngx_http_notify_lmdb_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_stat(txn, ngx_http_notify_lmdb.outbox, &ms);

    if (rc == 0) {
        stats->outbox = ms.ms_entries;

        if (mdb_stat(txn, ngx_http_notify_lmdb.dead, &ms) == 0) {
            stats->dead = ms.ms_entries;
        }

        rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.outbox, &cur);
    }

    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);

        if (rc == 0 && val.mv_size == sizeof(ngx_http_notify_outbox_rec_t)) {
            ngx_memcpy(&rec, val.mv_data, sizeof(rec));
            stats->outbox_oldest = (time_t) rec.created;
        }

        mdb_cursor_close(cur);
    }

    ngx_http_notify_lmdb_read_end(txn);

    return (rc == 0 || rc == MDB_NOTFOUND) ? NGX_OK : NGX_ERROR;
}


/* the pending deliveries, for the admin location */

static ngx_int_t
ngx_http_notify_lmdb_outbox(ngx_array_t *entries, ngx_uint_t limit,
    ngx_log_t *log)
{
    int                              rc;
    size_t                           len;
    MDB_val                          key, val;
    MDB_txn                         *txn;
    ngx_uint_t                       n;
    MDB_cursor                      *cur;
    ngx_http_notify_outbox_rec_t     rec;
    ngx_http_notify_outbox_entry_t  *e;

    txn = ngx_http_notify_lmdb_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.outbox, &cur);
    if (rc != 0) {
        ngx_http_notify_lmdb_read_end(txn);
        return NGX_ERROR;
    }

    n = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && n < limit;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size != 12
            || val.mv_size != sizeof(ngx_http_notify_outbox_rec_t))
        {
            continue;
        }

        ngx_memcpy(&rec, val.mv_data, sizeof(rec));
        rec.error[sizeof(rec.error) - 1] = '\0';

        if (rec.target_len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
            continue;
        }

        e = ngx_array_push(entries);
        if (e == NULL) {
            rc = ENOMEM;
            break;
        }

        e->seq = ngx_http_notify_get_u64(key.mv_data);
        e->entry = ngx_http_notify_entry_of(key.mv_data);
        e->part = rec.part;
        e->target.len = rec.target_len;
        e->target.data = ngx_pnalloc(entries->pool, rec.target_len + 1);
        if (e->target.data == NULL) {
            rc = ENOMEM;
            break;
        }

        ngx_memcpy(e->target.data, rec.target, rec.target_len);
        e->target.data[rec.target_len] = '\0';
        e->due = rec.due;
        e->created = (time_t) rec.created;
        e->expires = (time_t) rec.expires;
        e->attempts = rec.attempts;

        len = ngx_strlen(rec.error) + 1;

        e->error = ngx_pnalloc(entries->pool, len);
        if (e->error == NULL) {
            rc = ENOMEM;
            break;
        }

        ngx_memcpy(e->error, rec.error, len);

        n++;
    }

    mdb_cursor_close(cur);
    ngx_http_notify_lmdb_read_end(txn);

    return (rc == ENOMEM) ? NGX_ERROR : NGX_OK;
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
ngx_http_notify_lmdb_readers(ngx_log_t *log)
{
    int  rc, dead;

    dead = 0;

    rc = mdb_reader_check(ngx_http_notify_lmdb.env, &dead);

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
ngx_http_notify_lmdb_read_begin(ngx_log_t *log)
{
    int                       rc;
    ngx_http_notify_lmdb_t   *st;

    st = &ngx_http_notify_lmdb;     /* open: the shared part checks */

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
ngx_http_notify_lmdb_read_end(MDB_txn *txn)
{
    mdb_txn_reset(txn);
}


static ngx_int_t
ngx_http_notify_lmdb_unread(ngx_str_t *user, uint64_t *unread,
    ngx_log_t *log)
{
    uint64_t  unseen;

    return ngx_http_notify_lmdb_counts(user, unread, &unseen, log);
}


static ngx_int_t
ngx_http_notify_lmdb_counts(ngx_str_t *user, uint64_t *unread,
    uint64_t *unseen, ngx_log_t *log)
{
    int       rc;
    MDB_txn  *txn;
    MDB_val   key;

    *unread = 0;
    *unseen = 0;

    if (user->len > NGX_HTTP_NOTIFY_USER_MAX) {
        return NGX_OK;
    }

    txn = ngx_http_notify_lmdb_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    key.mv_data = user->data;
    key.mv_size = user->len;

    rc = ngx_http_notify_lmdb_count_add(txn, &key, 0, unread);

    if (rc == 0) {
        rc = ngx_http_notify_lmdb_counter_add(txn, ngx_http_notify_lmdb.unseen,
                                              &key, 0, unseen);
    }

    ngx_http_notify_lmdb_read_end(txn);

    return rc == 0 ? NGX_OK : NGX_ERROR;
}


/*
 * One page of a user's feed, newest first: each item the notification's
 * kept view (copied to the items' pool) and whether it is read.  "next" is
 * the cursor for the following page, 0 when there is none; "unread" the
 * user's unread count, from the same read transaction.
 */

static ngx_int_t
ngx_http_notify_lmdb_feed(ngx_http_notify_feed_query_t *q, ngx_array_t *items,
    uint64_t *next, uint64_t *unread, ngx_log_t *log)
{
    int                            rc;
    u_char                        *part;
    size_t                         len;
    uint64_t                       seq, start;
    MDB_val                        key, val, nkey, nval, user;
    MDB_txn                       *txn;
    ngx_uint_t                     n, states, status, scanned;
    MDB_cursor                    *cur;
    ngx_http_notify_lmdb_t        *st;
    ngx_http_notify_note_hdr_t     hdr;
    ngx_http_notify_lmdb_marks_t   marks;
    ngx_http_notify_feed_entry_t  *e;
    u_char                         buf[NGX_HTTP_NOTIFY_USER_MAX + 9];
    u_char                         seqkey[8];

    st = &ngx_http_notify_lmdb;
    *next = 0;
    *unread = 0;

    if (q->user.len > NGX_HTTP_NOTIFY_USER_MAX) {
        return NGX_OK;
    }

    txn = ngx_http_notify_lmdb_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    user.mv_data = q->user.data;
    user.mv_size = q->user.len;

    rc = ngx_http_notify_lmdb_count_add(txn, &user, 0, unread);
    if (rc != 0) {
        goto failed;
    }

    ngx_http_notify_lmdb_marks(txn, &user, &marks);

    status = q->unread_only ? NGX_HTTP_NOTIFY_FEED_UNREAD : q->status;

    rc = mdb_cursor_open(txn, st->feed, &cur);
    if (rc != 0) {
        goto failed;
    }

    /* the first entry older than the cursor (~seq grows as seq falls) */

    start = q->cursor ? q->cursor - 1 : (uint64_t) -1;

    key.mv_data = buf;
    key.mv_size = ngx_http_notify_feed_key(buf, &q->user, start) - buf;

    n = 0;
    scanned = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (!ngx_http_notify_feed_key_seq(&key, &q->user, &seq)) {
            break;
        }

        states = ngx_http_notify_lmdb_states(&marks, seq,
                                             *(u_char *) val.mv_data);

        /* all older entries are read (seen) too */

        if ((status == NGX_HTTP_NOTIFY_FEED_UNREAD && seq <= marks.read)
            || (status == NGX_HTTP_NOTIFY_FEED_UNSEEN
                && (seq <= marks.read || seq <= marks.seen)))
        {
            break;
        }

        if (n == q->limit || n == NGX_HTTP_NOTIFY_FEED_PAGE_MAX) {
            /* there is more: the cursor is the last one given */
            *next = ~ngx_http_notify_get_u64(buf + q->user.len + 1);
            break;
        }

        if (scanned++ == NGX_HTTP_NOTIFY_FEED_SCAN_MAX) {
            /* filters skipped too many: the page ends before this one */
            *next = seq + 1;
            break;
        }

        if (status != NGX_HTTP_NOTIFY_FEED_ALL
            && !ngx_http_notify_store_feed_match(q, states, NULL, 0))
        {
            continue;
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

        if ((q->dialect.len || q->event.len)
            && !ngx_http_notify_store_feed_match(q, states, part, len))
        {
            continue;
        }

        /* valid until the read transaction ends: copied */

        e = ngx_array_push(items);
        if (e == NULL) {
            mdb_cursor_close(cur);
            ngx_http_notify_lmdb_read_end(txn);
            return NGX_ERROR;
        }

        e->view.data = ngx_pnalloc(items->pool, len);
        if (e->view.data == NULL) {
            mdb_cursor_close(cur);
            ngx_http_notify_lmdb_read_end(txn);
            return NGX_ERROR;
        }

        ngx_memcpy(e->view.data, part, len);
        e->view.len = len;
        e->seq = seq;
        e->read = (states & NGX_HTTP_NOTIFY_STATE_READ) != 0;
        e->seen = (states & NGX_HTTP_NOTIFY_STATE_SEEN) != 0;
        e->archived = (states & NGX_HTTP_NOTIFY_STATE_ARCHIVED) != 0;

        /* remember the last key given, for the cursor */
        ngx_http_notify_put_u64(buf + q->user.len + 1, ~seq);

        n++;
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        goto failed;
    }

    ngx_http_notify_lmdb_read_end(txn);

    return NGX_OK;

failed:

    ngx_http_notify_lmdb_read_end(txn);

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "notify: store read failed: %s", mdb_strerror(rc));

    return NGX_ERROR;
}


/* dead letters */

static size_t
ngx_http_notify_dead_time_key(u_char *key, uint64_t died, uint64_t seq,
    uint32_t entry)
{
    ngx_http_notify_put_u64(key, died);
    ngx_http_notify_entry_key(key + 8, seq, entry);

    return 20;
}


/*
 * An outbox entry leaves the outbox (its record and due index; "rec" as
 * it is now, its last error in it) and, unless dead letters are off,
 * becomes a dead letter, its part's recipients kept
 */

static int
ngx_http_notify_lmdb_bury(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    uint64_t seq, uint32_t entry, ngx_http_notify_outbox_rec_t *rec,
    ngx_uint_t reason)
{
    int     rc;
    u_char  state;
    u_char  chain[32];

    /* one replaced by a newer one of its chain is not kept */

    rc = ngx_http_notify_lmdb_queued(txn, seq, entry, chain, &state);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    if (ngx_http_notify_store_dead_letters() == 0
        || (rc == 0 && (state & NGX_HTTP_NOTIFY_LMDB_REPLACED)))
    {
        return ngx_http_notify_lmdb_outbox_remove(txn, seq, entry, rec,
                                                  rec->part != 0);
    }

    rc = ngx_http_notify_lmdb_outbox_remove(txn, seq, entry, rec, 0);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_notify_lmdb_dead_add(txn, op, seq, entry, rec, reason);
}


/* the dead letter, then the oldest to die removed beyond the bound */

static int
ngx_http_notify_lmdb_dead_add(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    uint64_t seq, uint32_t entry, ngx_http_notify_outbox_rec_t *rec,
    ngx_uint_t reason)
{
    int                          rc;
    MDB_val                      key, val;
    MDB_stat                     ms;
    ngx_uint_t                   max;
    MDB_cursor                  *cur;
    ngx_http_notify_lmdb_t      *st;
    ngx_http_notify_dead_rec_t   d;
    u_char                       ekey[12], tkey[20];

    st = &ngx_http_notify_lmdb;

    ngx_memzero(&d, sizeof(d));
    d.created = rec->created;
    d.died = ngx_http_notify_now_msec();
    d.attempts = rec->attempts;
    d.part = rec->part;
    d.reason = (u_char) reason;
    ngx_memcpy(d.error, rec->error, sizeof(d.error));
    d.error[sizeof(d.error) - 1] = '\0';
    d.target_len = rec->target_len;
    ngx_memcpy(d.target, rec->target, rec->target_len);

    ngx_http_notify_entry_key(ekey, seq, entry);
    key.mv_data = ekey;
    key.mv_size = 12;
    val.mv_data = &d;
    val.mv_size = sizeof(d);

    rc = mdb_put(txn, st->dead, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = tkey;
    key.mv_size = ngx_http_notify_dead_time_key(tkey, d.died, seq, entry);
    val.mv_data = "";
    val.mv_size = 0;

    rc = mdb_put(txn, st->dead_time, &key, &val, 0);
    if (rc != 0) {
        return rc;
    }

    max = ngx_http_notify_store_dead_letters();

    for ( ;; ) {
        rc = mdb_stat(txn, st->dead, &ms);
        if (rc != 0 || ms.ms_entries <= max) {
            return rc;
        }

        rc = mdb_cursor_open(txn, st->dead_time, &cur);
        if (rc != 0) {
            return rc;
        }

        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);

        if (rc == 0 && key.mv_size != 20) {
            rc = MDB_CORRUPTED;
        }

        if (rc == 0) {
            ngx_memcpy(tkey, key.mv_data, 20);
        }

        mdb_cursor_close(cur);

        if (rc != 0) {
            return (rc == MDB_NOTFOUND) ? 0 : rc;
        }

        rc = ngx_http_notify_lmdb_dead_del(txn,
                                           ngx_http_notify_get_u64(tkey + 8),
                                           ngx_http_notify_entry_of(tkey + 8),
                                           0);
        if (rc == MDB_NOTFOUND) {
            /* a stale index entry */
            key.mv_data = tkey;
            key.mv_size = 20;
            rc = mdb_del(txn, st->dead_time, &key, NULL);
        }

        if (rc != 0) {
            return rc;
        }

        op->count++;
    }
}


static int
ngx_http_notify_lmdb_dead_get(MDB_txn *txn, uint64_t seq, uint32_t entry,
    ngx_http_notify_dead_rec_t *d)
{
    int  rc;

    rc = ngx_http_notify_lmdb_record(txn, ngx_http_notify_lmdb.dead, seq,
                                     entry, d, sizeof(*d));
    if (rc != 0) {
        return rc;
    }

    if (d->target_len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
        return MDB_CORRUPTED;
    }

    d->error[sizeof(d->error) - 1] = '\0';

    return 0;
}


/* a dead letter and its index; its part's recipients too, unless kept */

static int
ngx_http_notify_lmdb_dead_del(MDB_txn *txn, uint64_t seq, uint32_t entry,
    ngx_uint_t keep_rcpt)
{
    int                          rc;
    MDB_val                      key;
    ngx_http_notify_dead_rec_t   d;
    u_char                       tkey[20];

    rc = ngx_http_notify_lmdb_dead_get(txn, seq, entry, &d);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = tkey;
    key.mv_size = ngx_http_notify_dead_time_key(tkey, d.died, seq, entry);

    rc = mdb_del(txn, ngx_http_notify_lmdb.dead_time, &key, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    return ngx_http_notify_lmdb_entry_del(txn, ngx_http_notify_lmdb.dead, seq,
                                          entry, d.part && !keep_rcpt);
}


/* every dead letter of a notification (retention), with its recipients */

static int
ngx_http_notify_lmdb_dead_del_all(MDB_txn *txn, uint64_t seq)
{
    return ngx_http_notify_lmdb_del_all(txn, ngx_http_notify_lmdb.dead, seq,
                                        ngx_http_notify_lmdb_dead_purge);
}


static int
ngx_http_notify_lmdb_dead_purge(MDB_txn *txn, uint64_t seq, uint32_t entry)
{
    return ngx_http_notify_lmdb_dead_del(txn, seq, entry, 0);
}


/*
 * DEAD_REPLAY, DEAD_PURGE: one dead letter, or the first op->max of them
 * (of op->target's)
 */

static int
ngx_http_notify_lmdb_dead(void *txn, ngx_http_notify_store_op_t *op)
{
    int                          rc;
    MDB_val                      key, val;
    uint32_t                     entry;
    uint64_t                     seq;
    ngx_uint_t                   max;
    MDB_cursor                  *cur;
    ngx_http_notify_dead_rec_t   d;
    u_char                       ekey[12];

    op->count = 0;
    op->replaced = 0;

    if (op->seq) {
        rc = ngx_http_notify_lmdb_dead_get(txn, op->seq, op->entry, &d);

        if (rc == MDB_NOTFOUND) {
            op->rc = NGX_DECLINED;
            return 0;
        }

        if (rc != 0) {
            return rc;
        }

        return ngx_http_notify_lmdb_dead_one(txn, op, op->seq, op->entry,
                                             &d);
    }

    max = ngx_min(op->max, NGX_HTTP_NOTIFY_DEAD_BATCH);
    seq = 0;
    entry = 0;

    while (op->count < max) {
        rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.dead, &cur);
        if (rc != 0) {
            return rc;
        }

        ngx_http_notify_entry_key(ekey, seq, entry);
        key.mv_data = ekey;
        key.mv_size = 12;

        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);

        if (rc == 0 && (key.mv_size != 12 || val.mv_size != sizeof(d))) {
            rc = MDB_CORRUPTED;
        }

        if (rc == 0) {
            seq = ngx_http_notify_get_u64(key.mv_data);
            entry = ngx_http_notify_entry_of(key.mv_data);
            ngx_memcpy(&d, val.mv_data, sizeof(d));
            d.error[sizeof(d.error) - 1] = '\0';
        }

        mdb_cursor_close(cur);

        if (rc == MDB_NOTFOUND) {
            return 0;
        }

        if (rc != 0) {
            return rc;
        }

        if (d.target_len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
            return MDB_CORRUPTED;
        }

        if (op->target.len == 0
            || (op->target.len == d.target_len
                && ngx_memcmp(op->target.data, d.target, d.target_len) == 0))
        {
            rc = ngx_http_notify_lmdb_dead_one(txn, op, seq, entry, &d);
            if (rc != 0) {
                return rc;
            }

            if (op->rc != NGX_ABORT && op->rc != NGX_BUSY
                && op->rc != NGX_AGAIN)
            {
                continue;       /* it is gone: the next is at its key */
            }

            op->rc = NGX_OK;
            op->replaced++;
        }

        /* the next key */

        if (entry == 0xffffffff) {
            seq++;
            entry = 0;

        } else {
            entry++;
        }
    }

    return 0;
}


/*
 * One dead letter purged, or replayed: an outbox entry due now, no
 * attempts, expiring after its target's expiry (op->quota); op->rc
 * NGX_ABORT: no such target; NGX_BUSY: replaced; NGX_AGAIN: a newer
 * notification of its chain has an entry for its target in the outbox
 */

static int
ngx_http_notify_lmdb_dead_one(MDB_txn *txn, ngx_http_notify_store_op_t *op,
    uint64_t seq, uint32_t entry, ngx_http_notify_dead_rec_t *d)
{
    int                            rc;
    uint64_t                       head;
    ngx_int_t                      chained;
    ngx_uint_t                     q;
    ngx_http_notify_outbox_rec_t   rec;
    u_char                         chain[32];

    if (op->type == NGX_HTTP_NOTIFY_OP_DEAD_PURGE) {
        rc = ngx_http_notify_lmdb_dead_del(txn, seq, entry, 0);
        if (rc == 0) {
            op->count++;
        }

        return rc;
    }

    for (q = 0; q < op->nquota; q++) {
        if (op->quota[q].target.len == d->target_len
            && ngx_memcmp(op->quota[q].target.data, d->target,
                          d->target_len)
               == 0)
        {
            break;
        }
    }

    if (q == op->nquota) {
        op->rc = NGX_ABORT;
        return 0;
    }

    rc = ngx_http_notify_lmdb_dead_chain(txn, seq, chain, &chained);
    if (rc != 0) {
        return rc;
    }

    if (chained == NGX_BUSY) {
        op->rc = NGX_BUSY;
        return 0;
    }

    ngx_memzero(&rec, sizeof(rec));
    rec.due = ngx_http_notify_now_msec();
    rec.created = d->created;
    rec.expires = rec.due / 1000 + op->quota[q].max;
    rec.part = d->part;
    rec.target_len = d->target_len;
    ngx_memcpy(rec.target, d->target, d->target_len);

    if (chained) {

        /* back into its chain's queue: behind an older entry, held */

        rc = ngx_http_notify_lmdb_queue_head(txn, chain, rec.target,
                                             rec.target_len, &head);

        if (rc == 0 && head < seq) {
            rec.due += NGX_HTTP_NOTIFY_CHAIN_WAIT;

        } else if (rc == 0 && head > seq) {

            /*
             * a newer notification of its chain is in the queue: this
             * one, older, would be its head, and might go while that one
             * is in flight
             */

            op->rc = NGX_AGAIN;
            return 0;

        } else if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    rc = ngx_http_notify_lmdb_outbox_put(txn, seq, entry, &rec, 0);
    if (rc != 0) {
        return rc;
    }

    if (chained) {
        rc = ngx_http_notify_lmdb_queue_set(txn, seq, entry, chain, 0);
        if (rc != 0) {
            return rc;
        }
    }

    rc = ngx_http_notify_lmdb_dead_del(txn, seq, entry, 1);
    if (rc == 0) {
        op->count++;
    }

    return rc;
}


/*
 * The chain of a dead letter's notification, in "chain": *chained 1; 0:
 * it has none; NGX_BUSY: a newer notification of the chain replaced it
 * (the chain's link of one of its recipients points past it), so it is
 * not replayed
 */

static int
ngx_http_notify_lmdb_dead_chain(MDB_txn *txn, uint64_t seq, u_char *chain,
    ngx_int_t *chained)
{
    int                          rc;
    u_char                      *p, *end, *nul, *buf;
    MDB_val                      key, val, rval;
    ngx_str_t                    id;
    ngx_http_notify_lmdb_t      *st;
    ngx_http_notify_note_hdr_t   hdr;
    u_char                       seqkey[8];

    st = &ngx_http_notify_lmdb;
    *chained = 0;

    ngx_http_notify_put_u64(seqkey, seq);
    key.mv_data = seqkey;
    key.mv_size = 8;

    rc = mdb_get(txn, st->notes, &key, &val);
    if (rc != 0) {
        return (rc == MDB_NOTFOUND) ? 0 : rc;
    }

    if (val.mv_size < sizeof(hdr)) {
        return MDB_CORRUPTED;
    }

    ngx_memcpy(&hdr, val.mv_data, sizeof(hdr));

    if (!hdr.has_chain) {
        return 0;
    }

    ngx_memcpy(chain, hdr.chain, 32);
    *chained = 1;

    rc = mdb_get(txn, st->rcpt, &key, &rval);
    if (rc != 0) {
        return (rc == MDB_NOTFOUND) ? 0 : rc;
    }

    buf = malloc(32 + NGX_HTTP_NOTIFY_USER_MAX);
    if (buf == NULL) {
        return ENOMEM;
    }

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

        key.mv_data = buf;
        key.mv_size = ngx_http_notify_chain_key(buf, chain, &id) - buf;

        rc = mdb_get(txn, st->chains, &key, &val);

        if (rc == 0 && val.mv_size == 8
            && ngx_http_notify_get_u64(val.mv_data) > seq)
        {
            *chained = NGX_BUSY;
            break;
        }

        if (rc != 0 && rc != MDB_NOTFOUND) {
            free(buf);
            return rc;
        }
    }

    free(buf);

    return 0;
}


/* the dead letters by id, after (seq, entry), of "target" (NULL: any) */

static ngx_int_t
ngx_http_notify_lmdb_dead_list(ngx_array_t *items, ngx_str_t *target,
    uint64_t seq, uint32_t entry, ngx_uint_t limit, ngx_log_t *log)
{
    int                            rc;
    size_t                         len;
    MDB_val                        key, val;
    MDB_txn                       *txn;
    ngx_uint_t                     n;
    MDB_cursor                    *cur;
    ngx_http_notify_dead_rec_t     d;
    ngx_http_notify_dead_entry_t  *e;
    u_char                         ekey[12];

    txn = ngx_http_notify_lmdb_read_begin(log);
    if (txn == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_cursor_open(txn, ngx_http_notify_lmdb.dead, &cur);
    if (rc != 0) {
        ngx_http_notify_lmdb_read_end(txn);
        return NGX_ERROR;
    }

    /* from the key after (seq, entry) */

    if (seq && entry == 0xffffffff) {
        seq++;
        entry = 0;

    } else if (seq) {
        entry++;
    }

    ngx_http_notify_entry_key(ekey, seq, entry);
    key.mv_data = ekey;
    key.mv_size = 12;

    n = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0 && n < limit;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size != 12 || val.mv_size != sizeof(d)) {
            continue;
        }

        ngx_memcpy(&d, val.mv_data, sizeof(d));
        d.error[sizeof(d.error) - 1] = '\0';

        if (d.target_len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN
            || (target != NULL
                && (target->len != d.target_len
                    || ngx_memcmp(target->data, d.target, d.target_len)
                       != 0)))
        {
            continue;
        }

        e = ngx_array_push(items);
        if (e == NULL) {
            rc = ENOMEM;
            break;
        }

        e->seq = ngx_http_notify_get_u64(key.mv_data);
        e->entry = ngx_http_notify_entry_of(key.mv_data);
        e->part = d.part;
        e->created = (time_t) d.created;
        e->died = d.died;
        e->attempts = d.attempts;
        e->reason = d.reason;

        e->target.len = d.target_len;
        e->target.data = ngx_pnalloc(items->pool, d.target_len + 1);
        len = ngx_strlen(d.error) + 1;
        e->error = ngx_pnalloc(items->pool, len);

        if (e->target.data == NULL || e->error == NULL) {
            rc = ENOMEM;
            break;
        }

        ngx_memcpy(e->target.data, d.target, d.target_len);
        e->target.data[d.target_len] = '\0';
        ngx_memcpy(e->error, d.error, len);

        n++;
    }

    mdb_cursor_close(cur);
    ngx_http_notify_lmdb_read_end(txn);

    return (rc == ENOMEM) ? NGX_ERROR : NGX_OK;
}

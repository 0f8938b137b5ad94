
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_STORE_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_notify_core.h"


/*
 * The store: notifications, one feed entry per recipient, the unread
 * counters, the idempotency index and the outbox.
 *
 * Writes are operations queued in the worker and applied in batches: all
 * the operations that arrived while the previous batch was being committed
 * go into the next write transaction (group commit).  The transaction and
 * its sync run in a thread of nginx's thread pool, so the event loop never
 * waits for the disk; each operation's "done" handler then runs back in
 * the event loop, once what it wrote is durable.  Reads (the feed, the
 * outbox) run in the event loop and never block.
 *
 * What every backend shares (the queue, group commit, the thread-pool
 * task, the guard timer, retention, the errors) is ngx_http_notify_store.c;
 * a backend fills ngx_http_notify_store_backend_t below with its own
 * transactions, keys and records (ngx_http_notify_store_lmdb.c: LMDB).
 * Callers use the functions at the end of this file and the operations;
 * they see no backend's types.
 */


#define NGX_HTTP_NOTIFY_ID_LEN    16    /* an id is 16 hex digits */
#define NGX_HTTP_NOTIFY_FEED_PAGE_MAX  100  /* items in one page, at most */


typedef struct ngx_http_notify_store_op_s  ngx_http_notify_store_op_t;

typedef void (*ngx_http_notify_store_done_pt)(ngx_http_notify_store_op_t *op);


typedef enum {
    NGX_HTTP_NOTIFY_OP_PUT = 0,       /* accept a notification */
    NGX_HTTP_NOTIFY_OP_READ_ONE,      /* mark one feed entry read */
    NGX_HTTP_NOTIFY_OP_READ_UNTIL,    /* mark read up to an id */
    NGX_HTTP_NOTIFY_OP_PRUNE,         /* retention */
    NGX_HTTP_NOTIFY_OP_OUTBOX_DONE,   /* delivered: remove */
    NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY,  /* failed: again later, or expire */
    NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM,  /* take due entries for sending */
    NGX_HTTP_NOTIFY_OP_OUTBOX_DROP,   /* an operator drops one */
    NGX_HTTP_NOTIFY_OP_OUTBOX_NOW,    /* an operator wants it tried now */
    NGX_HTTP_NOTIFY_OP_SEEN_ALL,      /* the feed's states: see */
    NGX_HTTP_NOTIFY_OP_READ_ALL,      /* backend->feed_change() */
    NGX_HTTP_NOTIFY_OP_ARCHIVE,
    NGX_HTTP_NOTIFY_OP_ARCHIVE_READ,
    NGX_HTTP_NOTIFY_OP_DELETE,
    NGX_HTTP_NOTIFY_OP_MISSED,        /* never posted: the watcher is told
                                         that other nodes' changes may
                                         have been missed ("count" 1: by
                                         a process that had not listened
                                         before) */
    NGX_HTTP_NOTIFY_OP_DEAD_REPLAY,   /* dead letters back to the outbox */
    NGX_HTTP_NOTIFY_OP_DEAD_PURGE     /* dead letters removed */
} ngx_http_notify_op_type_e;


/*
 * Dead letters: an outbox entry that expired, or that its target's answer
 * gave up (op->dead on OUTBOX_DROP), is kept as a dead letter in the
 * transaction that removes it from the outbox: its target, part and
 * recipients, attempts, creation, when it died, why, its last error.  At
 * most ngx_http_notify_store_dead_letters() are kept (0: none, the entry
 * is only removed); when there are more, the oldest to die are removed
 * (op->count of the write that added them says how many).  Retention
 * removes a notification's dead letters with it.
 *
 * DEAD_REPLAY and DEAD_PURGE: the dead letter (op->seq, op->entry), or,
 * with op->seq 0, the first op->max of them by id, of the target op->target
 * (empty: of any target).  DEAD_REPLAY: op->quota lists the targets that
 * exist, each one's "max" its expiry in seconds; a dead letter becomes an
 * outbox entry due now, its attempts 0, expiring that long after now.
 * Out: op->count, the dead letters replayed or purged; op->rc NGX_DECLINED:
 * no such dead letter (one asked for); NGX_ABORT: its target is not in
 * op->quota; NGX_BUSY: a newer notification of its chain exists (it was
 * replaced), so it is not replayed (one asked for; all: op->replaced
 * counts those skipped).  A replayed entry of a chain goes back into its
 * chain's queue: held while an older entry of the chain for its target
 * is in the outbox.  NGX_AGAIN: a newer notification of its chain has an
 * entry for its target in the outbox (replayed, this one would be the
 * head of the queue and might go while that one is in flight), so it is
 * not replayed (one asked for; all: op->replaced counts it too).
 */

#define NGX_HTTP_NOTIFY_DEAD_EXPIRED    1
#define NGX_HTTP_NOTIFY_DEAD_GIVEN_UP   2

#define NGX_HTTP_NOTIFY_DEAD_DEFAULT    10000   /* kept, by default */
#define NGX_HTTP_NOTIFY_DEAD_MAX        1000000 /* the directive's bound */
#define NGX_HTTP_NOTIFY_DEAD_BATCH      1000    /* replayed or purged in one
                                                   operation, at most */


/*
 * A feed entry's states.  An entry is read once opened (or marked up to,
 * or all), seen once the caller has looked at its badge; read implies
 * seen, and archived (out of the inbox) implies read.  The counters kept
 * per user: unread (entries not read) and unseen (not seen).
 */
#define NGX_HTTP_NOTIFY_STATE_READ      0x01
#define NGX_HTTP_NOTIFY_STATE_SEEN      0x02
#define NGX_HTTP_NOTIFY_STATE_ARCHIVED  0x04


/* a feed page's filter by state (ngx_http_notify_feed_query_t.status) */
typedef enum {
    NGX_HTTP_NOTIFY_FEED_INBOX = 0,   /* not archived (the default) */
    NGX_HTTP_NOTIFY_FEED_UNREAD,      /* not read */
    NGX_HTTP_NOTIFY_FEED_UNSEEN,      /* not seen */
    NGX_HTTP_NOTIFY_FEED_READ,        /* read, not archived */
    NGX_HTTP_NOTIFY_FEED_ARCHIVED,    /* archived */
    NGX_HTTP_NOTIFY_FEED_ALL          /* every entry */
} ngx_http_notify_feed_status_e;


/* entries a page looks at beyond those it gives, at most (filters) */
#define NGX_HTTP_NOTIFY_FEED_SCAN_MAX  1000


/* a target's name, as an outbox entry keeps it: at most */
#define NGX_HTTP_NOTIFY_TARGET_NAME_LEN  64

/*
 * Ordering per chain: an entry behind an older one of its chain for the
 * same target is held; the older one leaving makes it due at once, and a
 * claim looks at it again after this long (msec) at the latest
 */
#define NGX_HTTP_NOTIFY_CHAIN_WAIT  10000


/*
 * PUT: one outbox entry of the notification, for one target and one part
 * of the recipients (a dialect's max_recipients): its number in the
 * notification (op->entries' index) and the op's recipients from "first",
 * "n" of them; part 0 is the only one (all the recipients).
 */
typedef struct {
    ngx_str_t                       target;      /* its name */
    ngx_uint_t                      part;
    ngx_uint_t                      first;
    ngx_uint_t                      n;
    uint64_t                        due;         /* msec */
    time_t                          expires;
    void                           *data;        /* outbound/'s: its first
                                                    attempt's target, or
                                                    NULL */
    unsigned                        held:1;      /* out: behind an older
                                                    entry of its chain for
                                                    the target: no first
                                                    attempt */
} ngx_http_notify_outbox_put_t;


/*
 * OUTBOX_CLAIM: a target whose due entries may be taken, at most "max" of
 * them (its breaker, rate and places allow that many); the entries of a
 * target not asked for stay where they are
 */
typedef struct {
    ngx_str_t                       target;
    ngx_uint_t                      max;
} ngx_http_notify_claim_quota_t;


/*
 * OUTBOX_CLAIM with op->expire: each target in op->quota, its max 0 too
 * (a target that may not be attempted now: disabled, its breaker open, no
 * token, no rate), has up to op->expire of its entries past their expiry
 * looked at, oldest expiry first, and those not in flight expire (listed
 * in op->expired like those the claim meets among the due ones); the
 * scheduler asks for this many at each look
 */
#define NGX_HTTP_NOTIFY_EXPIRE_LOOK  100


/* an entry taken by OUTBOX_CLAIM, with what is needed to send it */
typedef struct {
    uint64_t                        seq;
    uint32_t                        entry;       /* in the notification */
    uint32_t                        part;
    u_char                          target[NGX_HTTP_NOTIFY_TARGET_NAME_LEN];
    size_t                          target_len;
    uint32_t                        attempts;
    char                           *note;        /* JSON, malloc()ed */
    size_t                          note_len;
    u_char                         *recipients;  /* NUL-separated ids,
                                                    malloc()ed */
    size_t                          recipients_len;
} ngx_http_notify_claim_t;


struct ngx_http_notify_store_op_s {
    ngx_http_notify_store_op_t     *next;
    ngx_http_notify_op_type_e       type;

    /* in: PUT */
    ngx_str_t                       text;        /* its JSON and the feed's
                                                    view, with the id's
                                                    place (note_text()) */
    ngx_str_t                       view;
    ngx_str_t                      *recipients;  /* user ids */
    ngx_uint_t                      nrecipients;
    time_t                          created;
    u_char                          idem[32];    /* SHA-256, if has_idem */
    u_char                          chain[32];   /* SHA-256, if has_chain:
                                                    replaces the recipients'
                                                    entries of the chain */
    unsigned                        has_idem:1;
    unsigned                        has_chain:1;
    unsigned                        has_outbox:1;
    unsigned                        dead:1;      /* OUTBOX_DROP: given up,
                                                    kept as a dead letter */

    /* in: PUT with has_outbox: its entries, one a (target, part) */
    ngx_http_notify_outbox_put_t   *entries;
    ngx_uint_t                      nentries;

    /* in: OUTBOX_DONE, _RETRY, _DROP, _NOW: the entry (op->seq, entry) */
    uint32_t                        entry;

    /* in: OUTBOX_RETRY (due); OUTBOX_CLAIM (lease) */
    uint64_t                        due;         /* msec */
    time_t                          expires;
    u_char                          error[204];  /* OUTBOX_RETRY */
    ngx_uint_t                      max;         /* OUTBOX_CLAIM; PRUNE:
                                                    notifications at most */
    ngx_http_notify_claim_quota_t  *quota;       /* OUTBOX_CLAIM: by target,
                                                    their max adding up to
                                                    "max" */
    ngx_uint_t                      nquota;

    /* out: OUTBOX_CLAIM (malloc()ed arrays, the caller frees them with
       ngx_http_notify_store_claim_free()), OUTBOX_RETRY */
    ngx_http_notify_claim_t        *claimed;
    ngx_uint_t                      nclaimed;
    uint64_t                       *expired;
    uint32_t                       *expired_quota;  /* CLAIM: the target
                                                       of each (its index
                                                       in "quota") */
    ngx_uint_t                      nexpired;

    /* in: READ_ONE, READ_UNTIL; out: PUT (the new id), PRUNE (count) */
    ngx_str_t                       user;
    uint64_t                        seq;

    /* in: PRUNE */
    time_t                          before;

    /* out */
    ngx_int_t                       rc;          /* NGX_OK, NGX_DECLINED
                                                    (not found), NGX_ERROR */
    int                             err;         /* the backend's code: an
                                                    errno or its own */
    unsigned                        duplicate:1; /* PUT: idempotent replay */
    json_t                         *answer;      /* PUT: in: the answer to
                                                    keep (without "id");
                                                    out: the answer to send */
    uint64_t                        unread;      /* READ_*: the new count */
    uint64_t                        unseen;      /* READ_* and the feed's
                                                    states: the new count */
    ngx_uint_t                      count;       /* PRUNE: entries removed;
                                                    ARCHIVE_READ: archived */
    ngx_uint_t                      replaced;    /* PUT: chain entries
                                                    replaced; PRUNE: chain
                                                    links removed;
                                                    OUTBOX_*: 1, the entry
                                                    was replaced in flight
                                                    and is removed */

    ngx_http_notify_store_done_pt   done;
    void                           *data;
    ngx_log_t                      *log;

    /* in: DEAD_REPLAY, DEAD_PURGE: of this target only (empty: any) */
    ngx_str_t                       target;

    /* in: OUTBOX_CLAIM: entries past their expiry looked at, at most, of
       each target in "quota" (NGX_HTTP_NOTIFY_EXPIRE_LOOK; 0: only the
       due ones the claim meets) */
    ngx_uint_t                      expire;
};


typedef struct ngx_http_notify_store_backend_s
    ngx_http_notify_store_backend_t;


typedef struct {
    ngx_str_t                       path;
    size_t                          max_size;
    time_t                          retention;
    ngx_thread_pool_t              *thread_pool;
    ngx_http_notify_store_backend_t  *backend;

    /* what the log names the store by: the folder, or the server and
       the schema (never a password) */
    ngx_str_t                       name;

    /* PostgreSQL: the schema, the connections of a worker, the time a
       query or a connection may take */
    ngx_str_t                       schema;
    ngx_uint_t                      connections;
    ngx_msec_t                      timeout;

    /* notify_delivery_dead_letters: kept at most (0: off) */
    ngx_uint_t                      dead_letters;
} ngx_http_notify_store_conf_t;


/* a feed page, as returned by ngx_http_notify_store_feed() */
typedef struct {
    ngx_str_t                       user;
    uint64_t                        cursor;      /* 0: from the newest */
    ngx_uint_t                      limit;
    unsigned                        unread_only:1;  /* as status UNREAD */

    ngx_http_notify_feed_status_e   status;
    ngx_str_t                       dialect;     /* the JSON text of a
                                                    string; empty: any */
    ngx_str_t                       event;       /* the same, for "event" */
} ngx_http_notify_feed_query_t;


/* one item of a feed page */
typedef struct {
    uint64_t                        seq;
    ngx_str_t                       view;        /* the kept view: a JSON
                                                    object, "{...}" */
    unsigned                        read:1;
    unsigned                        seen:1;
    unsigned                        archived:1;
} ngx_http_notify_feed_entry_t;


/* one pending delivery, as the outbox lists it */
typedef struct {
    uint64_t                        seq;
    uint32_t                        entry;
    uint32_t                        part;
    ngx_str_t                       target;      /* its name */
    uint64_t                        due;         /* msec since the epoch */
    time_t                          created;
    time_t                          expires;
    ngx_uint_t                      attempts;
    u_char                         *error;       /* the last, NUL-ended */
} ngx_http_notify_outbox_entry_t;


/* one dead letter, as the outbox lists them */
typedef struct {
    uint64_t                        seq;
    uint32_t                        entry;
    uint32_t                        part;
    ngx_str_t                       target;
    time_t                          created;
    uint64_t                        died;        /* msec since the epoch */
    ngx_uint_t                      attempts;
    ngx_uint_t                      reason;      /* NGX_HTTP_NOTIFY_DEAD_* */
    u_char                         *error;       /* the last, NUL-ended */
} ngx_http_notify_dead_entry_t;


/* what notify_metrics shows of the store, read at a scrape */
typedef struct {
    uint64_t                        map_size;    /* bytes; 0: no map */
    uint64_t                        map_used;
    uint64_t                        outbox;      /* entries */
    time_t                          outbox_oldest;  /* the oldest entry's
                                                       creation; 0: none */
    uint64_t                        dead;        /* dead letters */
} ngx_http_notify_store_stats_t;


/*
 * A read in callback form: "done" runs when the answer is there, which is
 * before ngx_http_notify_store_read() returns for a backend that reads in
 * the event loop (LMDB), or later, when the query returns, for one that
 * asks a server.  Callers are ready for both: a request counts itself
 * (r->main->count++) before the read and finalizes in "done".
 */

typedef enum {
    NGX_HTTP_NOTIFY_READ_FEED = 0,    /* a page and the unread count */
    NGX_HTTP_NOTIFY_READ_UNREAD,      /* the unread count */
    NGX_HTTP_NOTIFY_READ_OUTBOX,      /* the pending deliveries */
    NGX_HTTP_NOTIFY_READ_NEXT_DUE,    /* the earliest due time */
    NGX_HTTP_NOTIFY_READ_STATS,       /* what notify_metrics shows */
    NGX_HTTP_NOTIFY_READ_COUNTS,      /* the unread and unseen counts */
    NGX_HTTP_NOTIFY_READ_DEAD         /* dead letters */
} ngx_http_notify_read_type_e;


typedef struct ngx_http_notify_store_read_s  ngx_http_notify_store_read_t;

typedef void (*ngx_http_notify_store_read_pt)(
    ngx_http_notify_store_read_t *rd);


struct ngx_http_notify_store_read_s {
    ngx_http_notify_read_type_e     type;

    /* in */
    ngx_http_notify_feed_query_t    query;       /* FEED; UNREAD: its user */
    ngx_uint_t                      limit;       /* OUTBOX: entries at most */
    ngx_pool_t                     *pool;        /* FEED, OUTBOX: of items */
    unsigned                        counts:1;    /* FEED: the unseen count
                                                    too (the feed's states) */
    ngx_str_t                      *targets;     /* NEXT_DUE: of these
                                                    targets' entries; DEAD:
                                                    of this one (NULL:
                                                    any) */
    ngx_uint_t                      ntargets;
    uint64_t                        after_seq;   /* DEAD: those after this */
    uint32_t                        after_entry;

    /* out */
    ngx_int_t                       rc;          /* NGX_OK or NGX_ERROR */
    ngx_array_t                     items;       /* FEED: feed entries;
                                                    OUTBOX: outbox entries;
                                                    DEAD: dead letters, by
                                                    id */
    uint64_t                        next;        /* FEED: the next page's
                                                    cursor, 0: none */
    uint64_t                        unread;      /* FEED, UNREAD, COUNTS */
    uint64_t                        unseen;      /* FEED with counts,
                                                    COUNTS */
    uint64_t                        due;         /* NEXT_DUE: msec, 0: none */
    ngx_http_notify_store_stats_t   stats;       /* STATS (rc NGX_DECLINED:
                                                    none) */

    ngx_http_notify_store_read_pt   done;
    void                           *data;
    ngx_log_t                      *log;
};


/* what a PUT writes, made by the shared part for the backend */
typedef struct {
    uint64_t                        seq;         /* the backend's next_id */
    ngx_str_t                       note;        /* the whole notification:
                                                    what delivery sends */
    ngx_str_t                       view;        /* what the feed shows */
    ngx_str_t                       answer;      /* has_idem: the answer for
                                                    a replay; else empty */
} ngx_http_notify_store_note_t;


/*
 * A backend.  Functions returning int return 0 or an error code: an errno
 * (ENOMEM, EIO, NGX_ENOSPC, ...) or the backend's own, which its strerror
 * names.
 *
 * The write transaction and everything called with "txn" run in a thread
 * of the pool (or in the event loop when nginx has no threads), one at a
 * time in a process; a backend's begin() waits for its writer lock, so
 * that one transaction writes at a time across the processes too.  The
 * shared part takes the queued operations once begin() has returned.
 * commit() makes the transaction's writes visible and atomic; sync() then
 * makes them durable, outside the writer lock where the backend can.  No
 * "done" handler runs, and so nothing is answered, before sync() returned.
 *
 * Reads run in the event loop, and must not wait for a writer.
 */
struct ngx_http_notify_store_backend_s {
    const char                     *name;        /* for notify_status */

    /* the master, before the workers (the folder); may be NULL */
    ngx_int_t  (*init_module)(ngx_cycle_t *cycle,
                              ngx_http_notify_store_conf_t *scf);

    /* each worker: open after fork, close when it exits */
    int        (*open)(ngx_cycle_t *cycle, ngx_http_notify_store_conf_t *scf);
    void       (*close)(ngx_cycle_t *cycle);

    /* on the retention timer, in one process: housekeeping; may be NULL */
    void       (*check)(ngx_log_t *log);

    const char *(*version)(void);                /* the library's */
    const char *(*strerror)(int err);

    /*
     * After a write failed with EIO: the room left where the store is
     * and the most that one write of the backend takes (bytes), so that
     * a full disk is told as NGX_ENOSPC; NGX_DECLINED: not known.  May be
     * NULL.
     */
    ngx_int_t  (*room)(uint64_t *avail, uint64_t *write);

    /* the write transaction */
    int        (*begin)(void **txn);
    int        (*commit)(void *txn);
    void       (*abort)(void *txn);
    int        (*sync)(void);

    /* PUT: the answer kept for op->idem ("answer" empty when there is
       none; valid until the transaction ends), the next id, the put */
    int        (*idempotent)(void *txn, u_char *idem, ngx_str_t *answer);
    int        (*next_id)(void *txn, uint64_t *seq);
    int        (*put)(void *txn, ngx_http_notify_store_op_t *op,
                      ngx_http_notify_store_note_t *note);

    /* READ_ONE, READ_UNTIL (op->rc NGX_DECLINED: no such entry) */
    int        (*mark_read)(void *txn, ngx_http_notify_store_op_t *op);
    int        (*mark_read_until)(void *txn, ngx_http_notify_store_op_t *op);

    /* PRUNE: at most op->max notifications created before op->before */
    int        (*prune)(void *txn, ngx_http_notify_store_op_t *op);

    /* OUTBOX_CLAIM; OUTBOX_DONE, _RETRY, _DROP, _NOW */
    int        (*outbox_claim)(void *txn, ngx_http_notify_store_op_t *op);
    int        (*outbox_finish)(void *txn, ngx_http_notify_store_op_t *op);

    /*
     * reads; feed: a page newest first, from below q->cursor, of the
     * entries that pass ngx_http_notify_store_feed_match() (with their
     * states, the watermarks applied), at most q->limit; it looks at
     * NGX_HTTP_NOTIFY_FEED_SCAN_MAX entries at most, and when it stops
     * there, "next" is the id after the last one it looked at
     */
    ngx_int_t  (*feed)(ngx_http_notify_feed_query_t *q, ngx_array_t *items,
                       uint64_t *next, uint64_t *unread, ngx_log_t *log);
    ngx_int_t  (*unread)(ngx_str_t *user, uint64_t *unread, ngx_log_t *log);
    ngx_int_t  (*outbox)(ngx_array_t *entries, ngx_uint_t limit,
                         ngx_log_t *log);
    ngx_int_t  (*next_due)(uint64_t *due, ngx_str_t *targets,
                           ngx_uint_t ntargets, ngx_log_t *log);

    /* notify_metrics: the map's size and use, the outbox's depth and its
       oldest entry; bounded (no walk of the data) */
    ngx_int_t  (*stats)(ngx_http_notify_store_stats_t *stats,
                        ngx_log_t *log);

    /*
     * The reads in callback form, for a backend that answers later (the
     * items' array is initialized, in rd->pool); NULL: the shared part
     * calls feed, unread, outbox or next_due above and runs rd->done at
     * once.
     */
    void       (*read)(ngx_http_notify_store_read_t *rd);

    /*
     * The writes of a batch, for a backend that writes them itself without
     * the thread pool (a server, asked without blocking): all the
     * operations in one transaction, in order; each op's rc and err set,
     * then ngx_http_notify_store_written() called in the event loop once
     * the transaction committed (or failed).  NULL: begin()...sync() above
     * in a pool thread.
     */
    void       (*submit)(ngx_http_notify_store_op_t *ops);

    /*
     * The feed's states, in the write transaction, for op->user; each
     * leaves op->unread and op->unseen the user's counts after it, and
     * each is idempotent (done again, it changes nothing):
     *
     *   SEEN_ALL      every entry up to the user's newest is seen;
     *   READ_ALL      every entry up to the user's newest is read;
     *   ARCHIVE       the entry op->seq is archived (and so read and seen);
     *                 op->rc NGX_DECLINED: the user has no such entry;
     *   ARCHIVE_READ  every read entry not archived is archived, op->count
     *                 says how many;
     *   DELETE        the entry op->seq leaves the user's feed (the
     *                 notification stays for its other recipients);
     *                 op->rc NGX_DECLINED: there was none.
     *
     * The counters change with the entries' states: an entry that leaves
     * "unread" or "unseen" (by any operation, chain replacement and
     * retention too) takes one off that count.  mark_read and
     * mark_read_until mark read entries seen and set op->unseen too; put
     * counts a new entry unread and unseen.
     */
    int        (*feed_change)(void *txn, ngx_http_notify_store_op_t *op);

    /* reads: the user's kept unread and unseen counts */
    ngx_int_t  (*counts)(ngx_str_t *user, uint64_t *unread,
                         uint64_t *unseen, ngx_log_t *log);

    /*
     * Whether the backend keeps the feed's states: the operations above
     * (by feed_change, or by its submit()), and READ_COUNTS and a page's
     * counts (by counts, or by its read())
     */
    ngx_uint_t   states;

    /*
     * Dead letters: DEAD_REPLAY and DEAD_PURGE in the write transaction
     * (NULL for a backend with submit(), which does them); and the read
     * of a list, at most "limit" by id after (seq, entry), of "target"
     * (NULL: any), for a backend without read()
     */
    int        (*dead)(void *txn, ngx_http_notify_store_op_t *op);
    ngx_int_t  (*dead_list)(ngx_array_t *items, ngx_str_t *target,
                            uint64_t seq, uint32_t entry, ngx_uint_t limit,
                            ngx_log_t *log);
};


extern ngx_http_notify_store_backend_t  ngx_http_notify_store_lmdb;
extern ngx_http_notify_store_backend_t  ngx_http_notify_store_pg;

/* notify_store postgres://...: the conninfo checked, the store's name */
ngx_int_t ngx_http_notify_store_pg_check(ngx_conf_t *cf,
    ngx_http_notify_store_conf_t *scf);


char *ngx_http_notify_store_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_store_init_conf(ngx_conf_t *cf,
    ngx_http_notify_store_conf_t *scf);
ngx_int_t ngx_http_notify_store_init_module(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf);
ngx_int_t ngx_http_notify_store_init_process(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf);
void ngx_http_notify_store_exit_process(ngx_cycle_t *cycle);

ngx_uint_t ngx_http_notify_store_ready(void);

/* notify_status: the built-in backend's name and its library's version */
void ngx_http_notify_store_version(const char **name, const char **version);

/* queue a write; op->done runs in the event loop once it is durable */
void ngx_http_notify_store_post(ngx_http_notify_store_op_t *op);

/*
 * A watcher of this worker's writes: called in the event loop with each
 * operation that the store made durable (op->rc NGX_OK or NGX_DECLINED),
 * before the operation's own "done"; the feed's stream.  One at most.
 */
void ngx_http_notify_store_watch(ngx_http_notify_store_done_pt watch);

/*
 * For a backend shared by several nodes: a change that another node made
 * durable (PUT with its recipients, a feed's state with its user and
 * counts), or OP_MISSED, given to the watcher as if it were this
 * worker's; in the event loop.
 */
void ngx_http_notify_store_heard(ngx_http_notify_store_op_t *op);
/* whether a watcher is set (a backend listens for other nodes only then) */
ngx_uint_t ngx_http_notify_store_watched(void);

/* reads, in the event loop: "items" gets ngx_http_notify_feed_entry_t
   (in "pool"), "entries" ngx_http_notify_outbox_entry_t (in its pool) */
ngx_int_t ngx_http_notify_store_feed(ngx_http_notify_feed_query_t *q,
    ngx_pool_t *pool, ngx_array_t *items, uint64_t *next, uint64_t *unread,
    ngx_log_t *log);
ngx_int_t ngx_http_notify_store_unread(ngx_str_t *user, uint64_t *unread,
    ngx_log_t *log);
ngx_int_t ngx_http_notify_store_counts(ngx_str_t *user, uint64_t *unread,
    uint64_t *unseen, ngx_log_t *log);

/*
 * For a backend's feed(): whether an entry with these states
 * (NGX_HTTP_NOTIFY_STATE_*) and this kept view passes the query's filters
 * (q->status, or q->unread_only; q->dialect, q->event); with "view" NULL,
 * whether its states do.
 */
ngx_uint_t ngx_http_notify_store_feed_match(ngx_http_notify_feed_query_t *q,
    ngx_uint_t states, u_char *view, size_t len);

/*
 * Whether the store keeps the feed's states (seen, archived, the unseen
 * count: the backend's feed_change and counts); the feed answers 501 for
 * what needs them when it does not.
 */
ngx_uint_t ngx_http_notify_store_has_states(void);

/*
 * Whether the store's reads answer at once (ngx_http_notify_store_feed()
 * and ngx_http_notify_store_counts(), synchronous: the feed's stream)
 */
ngx_uint_t ngx_http_notify_store_reads_now(void);

/* a read in callback form: rd->done runs with rd->rc, at once or later */
void ngx_http_notify_store_read(ngx_http_notify_store_read_t *rd);
/* the same for a request, counted until "done" (which finalizes it) runs;
   returns NGX_DONE, for the content handler */
ngx_int_t ngx_http_notify_store_read_for(ngx_http_request_t *r,
    ngx_http_notify_store_read_t *rd, ngx_http_notify_store_read_pt done);

void ngx_http_notify_store_claim_free(ngx_http_notify_store_op_t *op);
int ngx_http_notify_store_claim_set(ngx_http_notify_claim_t *cl,
    u_char *note, size_t note_len, u_char *rcpt, size_t rcpt_len);
ngx_int_t ngx_http_notify_store_next_due(uint64_t *due, ngx_str_t *targets,
    ngx_uint_t ntargets, ngx_log_t *log);
ngx_int_t ngx_http_notify_store_outbox(ngx_array_t *entries,
    ngx_uint_t limit, ngx_log_t *log);
/* NGX_DECLINED: no store open in this process */
ngx_int_t ngx_http_notify_store_stats(ngx_http_notify_store_stats_t *stats,
    ngx_log_t *log);

/*
 * For a backend with submit(): the batch given is written; the part of a
 * put that is no backend's: the replay of a kept answer (0: op->answer is
 * it, op->duplicate set; NGX_DECLINED: "kept" is no answer), and the id in
 * the notification and its answer with the texts to write (the note and
 * its view are the op's, in the request's pool; the answer is malloc()ed,
 * freed with ngx_http_notify_store_note_free()).
 */
void ngx_http_notify_store_written(ngx_http_notify_store_op_t *ops);
ngx_int_t ngx_http_notify_store_replay(ngx_http_notify_store_op_t *op,
    ngx_str_t *kept);
int ngx_http_notify_store_note_make(ngx_http_notify_store_op_t *op,
    uint64_t seq, ngx_http_notify_store_note_t *note);
void ngx_http_notify_store_note_free(ngx_http_notify_store_note_t *note);

/* notify_delivery_dead_letters <number> | off */
char *ngx_http_notify_store_dead_letters_set(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
/* the dead letters kept at most, for a backend's writes (0: none) */
ngx_uint_t ngx_http_notify_store_dead_letters(void);
/* a dead letter's reason, as the outbox lists it */
const char *ngx_http_notify_store_dead_reason(ngx_uint_t reason);

u_char *ngx_http_notify_format_id(u_char *p, uint64_t seq);
ngx_int_t ngx_http_notify_parse_id(ngx_str_t *id, uint64_t *seq);


#endif /* _NGX_HTTP_NOTIFY_STORE_H_INCLUDED_ */

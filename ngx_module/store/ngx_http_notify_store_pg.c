
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The PostgreSQL backend of the store, for several nginx nodes on one
 * database.  libpq never blocks a worker: each worker has a few
 * connections, made with PQconnectStartParams()/PQconnectPoll() and used in
 * pipeline mode, whose sockets are nginx connections on the event loop.
 * Work is a job of one or more stages: a stage's queries are sent at once
 * and end with a sync, whose answer ends the stage.
 *
 * Writes: the shared part hands a whole batch to submit().  A batch of
 * puts is one explicit transaction of two stages: BEGIN and the batch's
 * ids (a row lock on "meta" that every writer of puts takes, so that ids
 * grow with commit order across the nodes), then one function call per
 * operation and COMMIT; a batch without puts is one stage, an implicit
 * transaction.  The "done" handlers run once the server answered COMMIT.
 *
 * Reads are one query each (one snapshot), in the same pool.  The master
 * creates and migrates the schema at start, with a blocking connection,
 * before any worker exists.
 *
 * Events across nodes: a change of a feed is announced with pg_notify()
 * on the schema's channel by the query that makes it, so in its
 * transaction (nothing uncommitted, nothing rolled back is heard).  The
 * payload is small: "<node> <op> <chain> <id> <unread> <unseen> <user>".
 * One worker of a node (the first) has one more connection, which LISTENs
 * there and gives what other nodes made to the store's watcher (the
 * stream's ring); a node knows its own by its node id, made once by the
 * master.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_store.h"

#include <libpq-fe.h>
#include <openssl/rand.h>


#define NGX_HTTP_NOTIFY_PG_VERSION     7       /* the schema this module
                                                  knows */

/* error codes, beyond errno's */
#define NGX_HTTP_NOTIFY_PG_EDOWN       100001  /* no connection */
#define NGX_HTTP_NOTIFY_PG_ESERVER     100002  /* the server's error */
#define NGX_HTTP_NOTIFY_PG_ETIMEDOUT   100003  /* no answer in time */
#define NGX_HTTP_NOTIFY_PG_EPROTO      100004  /* an answer not understood */

#define NGX_HTTP_NOTIFY_PG_BACKOFF_MIN  50     /* msec */
#define NGX_HTTP_NOTIFY_PG_TARGETS      16     /* a claim's, at most */
#define NGX_HTTP_NOTIFY_PG_BACKOFF_MAX  5000
#define NGX_HTTP_NOTIFY_PG_PRUNE_MAX    1000   /* notes removed at once */


/*
 * The schema, "@" standing for its name.  Everything of a store is in one
 * schema; the functions keep the logic of an operation on the server, so
 * that an operation is one call.
 */

static const char  ngx_http_notify_pg_meta[] =
    "CREATE TABLE IF NOT EXISTS @.meta ("
    " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " version integer NOT NULL,"
    " last_seq bigint NOT NULL)";

static const char  ngx_http_notify_pg_v1[] =
    "CREATE TABLE @.notes ("
    " seq bigint PRIMARY KEY, created bigint NOT NULL, note text NOT NULL,"
    " view text NOT NULL, rcpt bytea NOT NULL, chain bytea, idem bytea);"
    "CREATE INDEX ON @.notes (created);"
    "CREATE TABLE @.feed ("
    " user_id text NOT NULL, seq bigint NOT NULL, read boolean NOT NULL,"
    " PRIMARY KEY (user_id, seq));"
    "CREATE INDEX ON @.feed (seq);"
    "CREATE TABLE @.users ("
    " user_id text PRIMARY KEY, unread bigint NOT NULL,"
    " watermark bigint NOT NULL);"
    "CREATE TABLE @.idem ("
    " key bytea PRIMARY KEY, seq bigint NOT NULL, answer text NOT NULL);"
    "CREATE TABLE @.chains ("
    " chain bytea NOT NULL, user_id text NOT NULL, seq bigint NOT NULL,"
    " PRIMARY KEY (chain, user_id));"
    "CREATE TABLE @.outbox ("
    " seq bigint PRIMARY KEY, due bigint NOT NULL, created bigint NOT NULL,"
    " expires bigint NOT NULL, attempts integer NOT NULL,"
    " error text NOT NULL);"
    "CREATE INDEX ON @.outbox (due);"

    /* a put, or the answer kept for its key (the same key earlier in the
       batch) */

    "CREATE FUNCTION @.put(p_seq bigint, p_created bigint, p_note text,"
    " p_view text, p_users text[], p_rcpt bytea, p_chain bytea,"
    " p_idem bytea, p_answer text, p_due bigint, p_expires bigint,"
    " OUT o_replaced integer, OUT o_replay text)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE u text; prev bigint; r boolean; wm bigint; c integer;\n"
    "BEGIN\n"
    " o_replaced := 0;\n"
    " IF p_idem IS NOT NULL THEN\n"
    "  SELECT i.answer INTO o_replay FROM @.idem i WHERE i.key = p_idem;\n"
    "  IF FOUND THEN RETURN; END IF;\n"
    " END IF;\n"
    " INSERT INTO @.notes (seq, created, note, view, rcpt, chain, idem)"
    "  VALUES (p_seq, p_created, p_note, p_view, p_rcpt, p_chain, p_idem);\n"
    " FOREACH u IN ARRAY p_users LOOP\n"
    "  IF p_chain IS NOT NULL THEN\n"
    "   SELECT ch.seq INTO prev FROM @.chains ch"
    "    WHERE ch.chain = p_chain AND ch.user_id = u FOR UPDATE;\n"
    "   IF FOUND THEN\n"
    "    DELETE FROM @.feed f WHERE f.user_id = u AND f.seq = prev"
    "     RETURNING f.read INTO r;\n"
    "    IF FOUND THEN\n"
    "     SELECT us.watermark INTO wm FROM @.users us"
    "      WHERE us.user_id = u;\n"
    "     IF NOT r AND prev > coalesce(wm, 0) THEN\n"
    "      UPDATE @.users us SET unread = greatest(us.unread - 1, 0)"
    "       WHERE us.user_id = u;\n"
    "     END IF;\n"
    "     DELETE FROM @.outbox o WHERE o.seq = prev;\n"
    "     o_replaced := o_replaced + 1;\n"
    "    END IF;\n"
    "    UPDATE @.chains ch SET seq = p_seq"
    "     WHERE ch.chain = p_chain AND ch.user_id = u;\n"
    "   ELSE\n"
    "    INSERT INTO @.chains (chain, user_id, seq)"
    "     VALUES (p_chain, u, p_seq);\n"
    "   END IF;\n"
    "  END IF;\n"
    "  INSERT INTO @.feed (user_id, seq, read) VALUES (u, p_seq, false)"
    "   ON CONFLICT DO NOTHING;\n"
    "  GET DIAGNOSTICS c = ROW_COUNT;\n"
    "  IF c > 0 THEN\n"
    "   INSERT INTO @.users AS us (user_id, unread, watermark)"
    "    VALUES (u, 1, 0) ON CONFLICT (user_id)"
    "    DO UPDATE SET unread = us.unread + 1;\n"
    "  END IF;\n"
    " END LOOP;\n"
    " IF p_due IS NOT NULL THEN\n"
    "  INSERT INTO @.outbox (seq, due, created, expires, attempts, error)"
    "   VALUES (p_seq, p_due, p_created, p_expires, 0, '');\n"
    " END IF;\n"
    " IF p_idem IS NOT NULL AND p_answer IS NOT NULL THEN\n"
    "  INSERT INTO @.idem (key, seq, answer)"
    "   VALUES (p_idem, p_seq, p_answer);\n"
    " END IF;\n"
    "END $$;"

    /* mark one entry read */

    "CREATE FUNCTION @.mark_read(p_user text, p_seq bigint,"
    " OUT o_found boolean, OUT o_unread bigint)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r boolean; wm bigint;\n"
    "BEGIN\n"
    " o_found := false;\n"
    " SELECT f.read INTO r FROM @.feed f"
    "  WHERE f.user_id = p_user AND f.seq = p_seq FOR UPDATE;\n"
    " IF FOUND THEN\n"
    "  o_found := true;\n"
    "  SELECT us.watermark INTO wm FROM @.users us"
    "   WHERE us.user_id = p_user FOR UPDATE;\n"
    "  IF NOT r AND p_seq > coalesce(wm, 0) THEN\n"
    "   UPDATE @.feed f SET read = true"
    "    WHERE f.user_id = p_user AND f.seq = p_seq;\n"
    "   UPDATE @.users us SET unread = greatest(us.unread - 1, 0)"
    "    WHERE us.user_id = p_user;\n"
    "  END IF;\n"
    " END IF;\n"
    " o_unread := coalesce((SELECT us.unread FROM @.users us"
    "  WHERE us.user_id = p_user), 0);\n"
    "END $$;"

    /* mark read up to an entry: the watermark */

    "CREATE FUNCTION @.mark_read_until(p_user text, p_seq bigint,"
    " OUT o_found boolean, OUT o_unread bigint)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE wm bigint; c integer;\n"
    "BEGIN\n"
    " o_found := false;\n"
    " PERFORM 1 FROM @.feed f WHERE f.user_id = p_user AND f.seq = p_seq;\n"
    " IF FOUND THEN\n"
    "  o_found := true;\n"
    "  INSERT INTO @.users (user_id, unread, watermark)"
    "   VALUES (p_user, 0, 0) ON CONFLICT (user_id) DO NOTHING;\n"
    "  SELECT us.watermark INTO wm FROM @.users us"
    "   WHERE us.user_id = p_user FOR UPDATE;\n"
    "  IF p_seq > wm THEN\n"
    "   UPDATE @.feed f SET read = true WHERE f.user_id = p_user"
    "    AND f.seq <= p_seq AND f.seq > wm AND NOT f.read;\n"
    "   GET DIAGNOSTICS c = ROW_COUNT;\n"
    "   UPDATE @.users us SET watermark = p_seq,"
    "    unread = greatest(us.unread - c, 0) WHERE us.user_id = p_user;\n"
    "  END IF;\n"
    " END IF;\n"
    " o_unread := coalesce((SELECT us.unread FROM @.users us"
    "  WHERE us.user_id = p_user), 0);\n"
    "END $$;"

    /* retention: at most p_max notifications, with all that is theirs */

    "CREATE FUNCTION @.prune(p_before bigint, p_max integer,"
    " OUT o_notes integer, OUT o_entries integer, OUT o_links integer)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record; c integer;\n"
    "BEGIN\n"
    " o_notes := 0; o_entries := 0; o_links := 0;\n"
    " FOR r IN SELECT n.seq, n.chain, n.idem FROM @.notes n"
    "  WHERE n.created < p_before ORDER BY n.seq LIMIT p_max"
    "  FOR UPDATE LOOP\n"
    "  IF r.chain IS NOT NULL THEN\n"
    "   DELETE FROM @.chains ch WHERE ch.chain = r.chain"
    "    AND ch.seq = r.seq;\n"
    "   GET DIAGNOSTICS c = ROW_COUNT;\n"
    "   o_links := o_links + c;\n"
    "  END IF;\n"
    "  WITH d AS (DELETE FROM @.feed f WHERE f.seq = r.seq"
    "    RETURNING f.user_id, f.read),"
    "   u AS (UPDATE @.users us SET unread = greatest(us.unread - 1, 0)"
    "    FROM d WHERE us.user_id = d.user_id AND NOT d.read"
    "    AND r.seq > us.watermark RETURNING 1)"
    "  SELECT count(*) INTO c FROM d;\n"
    "  o_entries := o_entries + c;\n"
    "  IF r.idem IS NOT NULL THEN\n"
    "   DELETE FROM @.idem i WHERE i.key = r.idem;\n"
    "  END IF;\n"
    "  DELETE FROM @.outbox o WHERE o.seq = r.seq;\n"
    "  DELETE FROM @.notes n WHERE n.seq = r.seq;\n"
    "  o_notes := o_notes + 1;\n"
    " END LOOP;\n"
    "END $$;"

    /*
     * due entries, leased: another node skips what this one has locked,
     * and takes an entry whose lease ran out
     */

    "CREATE FUNCTION @.claim(p_max integer, p_now bigint, p_lease bigint)"
    " RETURNS TABLE (o_kind integer, o_seq bigint, o_attempts integer,"
    " o_note text, o_rcpt bytea)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    " FOR r IN SELECT o.seq, o.expires, o.attempts FROM @.outbox o"
    "  WHERE o.due <= p_now ORDER BY o.due, o.seq LIMIT p_max"
    "  FOR UPDATE SKIP LOCKED LOOP\n"
    "  o_seq := r.seq; o_attempts := r.attempts;"
    "  o_note := NULL; o_rcpt := NULL;\n"
    "  IF p_now >= r.expires * 1000 THEN\n"
    "   DELETE FROM @.outbox o WHERE o.seq = r.seq;\n"
    "   o_kind := 1;\n"
    "  ELSE\n"
    "   UPDATE @.outbox o SET due = p_now + p_lease WHERE o.seq = r.seq;\n"
    "   SELECT n.note, n.rcpt INTO o_note, o_rcpt FROM @.notes n"
    "    WHERE n.seq = r.seq;\n"
    "   o_kind := 0;\n"
    "  END IF;\n"
    "  RETURN NEXT;\n"
    " END LOOP;\n"
    "END $$;"

    /* an outcome: 0 delivered or dropped, 1 now, 2 again later */

    "CREATE FUNCTION @.finish(p_type integer, p_seq bigint, p_due bigint,"
    " p_error text, p_now bigint, OUT o_found boolean,"
    " OUT o_expired boolean, OUT o_attempts integer)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    " o_found := false; o_expired := false; o_attempts := 0;\n"
    " SELECT o.attempts, o.expires INTO r FROM @.outbox o"
    "  WHERE o.seq = p_seq FOR UPDATE;\n"
    " IF NOT FOUND THEN RETURN; END IF;\n"
    " o_found := true;\n"
    " IF p_type = 0 THEN\n"
    "  DELETE FROM @.outbox o WHERE o.seq = p_seq;\n"
    " ELSIF p_type = 1 THEN\n"
    "  UPDATE @.outbox o SET due = p_now WHERE o.seq = p_seq;\n"
    " ELSE\n"
    "  o_attempts := r.attempts + 1;\n"
    "  IF p_due >= r.expires * 1000 OR p_now >= r.expires * 1000 THEN\n"
    "   DELETE FROM @.outbox o WHERE o.seq = p_seq;\n"
    "   o_expired := true;\n"
    "  ELSE\n"
    "   UPDATE @.outbox o SET attempts = o_attempts, error = p_error,"
    "    due = p_due WHERE o.seq = p_seq;\n"
    "  END IF;\n"
    " END IF;\n"
    "END $$;";


/*
 * The put of version 2 and later: the note, its recipients' feed entries
 * and unread counts, the chain's replacement (what becomes of the replaced
 * notification's outbox entries is "outbox", a statement about "prev"),
 * the idempotency key
 */

#define NGX_HTTP_NOTIFY_PG_PUT(outbox)                                        \
    "CREATE OR REPLACE FUNCTION @.put(p_seq bigint, p_created bigint,"        \
    " p_note text,"                                                           \
    " p_view text, p_users text[], p_rcpt bytea, p_chain bytea,"              \
    " p_idem bytea, p_answer text, p_due bigint, p_expires bigint,"           \
    " OUT o_replaced integer, OUT o_replay text)"                             \
    " LANGUAGE plpgsql AS $$\n"                                               \
    "#variable_conflict use_column\n"                                         \
    "DECLARE u text; prev bigint; r boolean; s boolean; c integer;\n"         \
    "BEGIN\n"                                                                 \
    " o_replaced := 0;\n"                                                     \
    " IF p_idem IS NOT NULL THEN\n"                                           \
    "  SELECT i.answer INTO o_replay FROM @.idem i WHERE i.key = p_idem;\n"   \
    "  IF FOUND THEN RETURN; END IF;\n"                                       \
    " END IF;\n"                                                              \
    " INSERT INTO @.notes (seq, created, note, view, rcpt, chain, idem)"      \
    "  VALUES (p_seq, p_created, p_note, p_view, p_rcpt, p_chain, p_idem);\n" \
    " FOREACH u IN ARRAY p_users LOOP\n"                                      \
    "  IF p_chain IS NOT NULL THEN\n"                                         \
    "   SELECT ch.seq INTO prev FROM @.chains ch"                             \
    "    WHERE ch.chain = p_chain AND ch.user_id = u FOR UPDATE;\n"           \
    "   IF FOUND THEN\n"                                                      \
    "    DELETE FROM @.feed f WHERE f.user_id = u AND f.seq = prev"           \
    "     RETURNING f.read, f.seen INTO r, s;\n"                              \
    "    IF FOUND THEN\n"                                                     \
    "     UPDATE @.users us"                                                  \
    "      SET unread = greatest(us.unread - (NOT r)::integer, 0),"           \
    "      unseen = greatest(us.unseen - (NOT s)::integer, 0)"                \
    "      WHERE us.user_id = u;\n"                                           \
    "     " outbox "\n"                                                       \
    "     o_replaced := o_replaced + 1;\n"                                    \
    "    END IF;\n"                                                           \
    "    UPDATE @.chains ch SET seq = p_seq"                                  \
    "     WHERE ch.chain = p_chain AND ch.user_id = u;\n"                     \
    "   ELSE\n"                                                               \
    "    INSERT INTO @.chains (chain, user_id, seq)"                          \
    "     VALUES (p_chain, u, p_seq);\n"                                      \
    "   END IF;\n"                                                            \
    "  END IF;\n"                                                             \
    "  INSERT INTO @.feed (user_id, seq, read) VALUES (u, p_seq, false)"      \
    "   ON CONFLICT DO NOTHING;\n"                                            \
    "  GET DIAGNOSTICS c = ROW_COUNT;\n"                                      \
    "  IF c > 0 THEN\n"                                                       \
    "   INSERT INTO @.users AS us (user_id, unread, watermark, unseen)"       \
    "    VALUES (u, 1, 0, 1) ON CONFLICT (user_id)"                           \
    "    DO UPDATE SET unread = us.unread + 1, unseen = us.unseen + 1;\n"     \
    "  END IF;\n"                                                             \
    " END LOOP;\n"                                                            \
    " IF p_due IS NOT NULL THEN\n"                                            \
    "  INSERT INTO @.outbox (seq, due, created, expires, attempts, error)"    \
    "   VALUES (p_seq, p_due, p_created, p_expires, 0, '');\n"                \
    " END IF;\n"                                                              \
    " IF p_idem IS NOT NULL AND p_answer IS NOT NULL THEN\n"                  \
    "  INSERT INTO @.idem (key, seq, answer)"                                 \
    "   VALUES (p_idem, p_seq, p_answer);\n"                                  \
    " END IF;\n"                                                              \
    "END $$;"


/*
 * Version 2: the feed's states.  Each entry keeps read, seen and archived
 * itself (the read watermark of version 1 is applied to the entries and
 * no longer used), each user the unread and unseen counts.  The functions
 * that change entries keep both counts.
 */

static const char  ngx_http_notify_pg_v2[] =
    "ALTER TABLE @.feed ADD COLUMN seen boolean NOT NULL DEFAULT false,"
    " ADD COLUMN archived boolean NOT NULL DEFAULT false;"
    "ALTER TABLE @.users ADD COLUMN unseen bigint NOT NULL DEFAULT 0;"
    "UPDATE @.feed f SET read = true FROM @.users us"
    " WHERE us.user_id = f.user_id AND f.seq <= us.watermark"
    " AND NOT f.read;"
    "UPDATE @.feed f SET seen = true WHERE f.read;"
    "UPDATE @.users us SET watermark = 0,"
    " unread = (SELECT count(*) FROM @.feed f"
    "  WHERE f.user_id = us.user_id AND NOT f.read),"
    " unseen = (SELECT count(*) FROM @.feed f"
    "  WHERE f.user_id = us.user_id AND NOT f.seen);"
    "DROP FUNCTION @.put(bigint, bigint, text, text, text[], bytea, bytea,"
    " bytea, text, bigint, bigint);"
    "DROP FUNCTION @.mark_read(text, bigint);"
    "DROP FUNCTION @.mark_read_until(text, bigint);"
    "DROP FUNCTION @.prune(bigint, integer);"

    NGX_HTTP_NOTIFY_PG_PUT("DELETE FROM @.outbox o WHERE o.seq = prev;")

    /* mark one entry read (and so seen) */

    "CREATE FUNCTION @.mark_read(p_user text, p_seq bigint,"
    " OUT o_found boolean, OUT o_unread bigint, OUT o_unseen bigint)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r boolean; s boolean;\n"
    "BEGIN\n"
    " o_found := false;\n"
    " SELECT f.read, f.seen INTO r, s FROM @.feed f"
    "  WHERE f.user_id = p_user AND f.seq = p_seq FOR UPDATE;\n"
    " IF FOUND THEN\n"
    "  o_found := true;\n"
    "  IF NOT r OR NOT s THEN\n"
    "   UPDATE @.feed f SET read = true, seen = true"
    "    WHERE f.user_id = p_user AND f.seq = p_seq;\n"
    "   UPDATE @.users us"
    "    SET unread = greatest(us.unread - (NOT r)::integer, 0),"
    "    unseen = greatest(us.unseen - (NOT s)::integer, 0)"
    "    WHERE us.user_id = p_user;\n"
    "  END IF;\n"
    " END IF;\n"
    " SELECT coalesce(max(us.unread), 0), coalesce(max(us.unseen), 0)"
    "  INTO o_unread, o_unseen FROM @.users us WHERE us.user_id = p_user;\n"
    "END $$;"

    /* mark read (and seen) every entry up to one */

    "CREATE FUNCTION @.mark_read_until(p_user text, p_seq bigint,"
    " OUT o_found boolean, OUT o_unread bigint, OUT o_unseen bigint)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE cr bigint; cs bigint;\n"
    "BEGIN\n"
    " o_found := false;\n"
    " PERFORM 1 FROM @.feed f WHERE f.user_id = p_user AND f.seq = p_seq;\n"
    " IF FOUND THEN\n"
    "  o_found := true;\n"
    "  PERFORM 1 FROM @.users us WHERE us.user_id = p_user FOR UPDATE;\n"
    "  SELECT count(*) FILTER (WHERE NOT f.read),"
    "   count(*) FILTER (WHERE NOT f.seen) INTO cr, cs FROM @.feed f"
    "   WHERE f.user_id = p_user AND f.seq <= p_seq;\n"
    "  IF cr > 0 OR cs > 0 THEN\n"
    "   UPDATE @.feed f SET read = true, seen = true"
    "    WHERE f.user_id = p_user AND f.seq <= p_seq"
    "    AND (NOT f.read OR NOT f.seen);\n"
    "   UPDATE @.users us SET unread = greatest(us.unread - cr, 0),"
    "    unseen = greatest(us.unseen - cs, 0) WHERE us.user_id = p_user;\n"
    "  END IF;\n"
    " END IF;\n"
    " SELECT coalesce(max(us.unread), 0), coalesce(max(us.unseen), 0)"
    "  INTO o_unread, o_unseen FROM @.users us WHERE us.user_id = p_user;\n"
    "END $$;"

    /* retention: at most p_max notifications, with all that is theirs */

    "CREATE FUNCTION @.prune(p_before bigint, p_max integer,"
    " OUT o_notes integer, OUT o_entries integer, OUT o_links integer)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record; c integer;\n"
    "BEGIN\n"
    " o_notes := 0; o_entries := 0; o_links := 0;\n"
    " FOR r IN SELECT n.seq, n.chain, n.idem FROM @.notes n"
    "  WHERE n.created < p_before ORDER BY n.seq LIMIT p_max"
    "  FOR UPDATE LOOP\n"
    "  IF r.chain IS NOT NULL THEN\n"
    "   DELETE FROM @.chains ch WHERE ch.chain = r.chain"
    "    AND ch.seq = r.seq;\n"
    "   GET DIAGNOSTICS c = ROW_COUNT;\n"
    "   o_links := o_links + c;\n"
    "  END IF;\n"
    "  WITH d AS (DELETE FROM @.feed f WHERE f.seq = r.seq"
    "    RETURNING f.user_id, f.read, f.seen),"
    "   u AS (UPDATE @.users us"
    "    SET unread = greatest(us.unread - (NOT d.read)::integer, 0),"
    "    unseen = greatest(us.unseen - (NOT d.seen)::integer, 0)"
    "    FROM d WHERE us.user_id = d.user_id RETURNING 1)"
    "  SELECT count(*) INTO c FROM d;\n"
    "  o_entries := o_entries + c;\n"
    "  IF r.idem IS NOT NULL THEN\n"
    "   DELETE FROM @.idem i WHERE i.key = r.idem;\n"
    "  END IF;\n"
    "  DELETE FROM @.outbox o WHERE o.seq = r.seq;\n"
    "  DELETE FROM @.notes n WHERE n.seq = r.seq;\n"
    "  o_notes := o_notes + 1;\n"
    " END LOOP;\n"
    "END $$;"

    /*
     * the feed's states: 0 all seen, 1 all read, 2 archive one, 3 archive
     * the read ones, 4 delete one; each idempotent
     */

    "CREATE FUNCTION @.feed_change(p_type integer, p_user text,"
    " p_seq bigint, OUT o_found boolean, OUT o_count integer,"
    " OUT o_unread bigint, OUT o_unseen bigint)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r boolean; s boolean;\n"
    "BEGIN\n"
    " o_found := true; o_count := 0;\n"
    " IF p_type = 0 THEN\n"
    "  UPDATE @.feed f SET seen = true"
    "   WHERE f.user_id = p_user AND NOT f.seen;\n"
    "  UPDATE @.users us SET unseen = 0 WHERE us.user_id = p_user;\n"
    " ELSIF p_type = 1 THEN\n"
    "  UPDATE @.feed f SET read = true, seen = true"
    "   WHERE f.user_id = p_user AND (NOT f.read OR NOT f.seen);\n"
    "  UPDATE @.users us SET unread = 0, unseen = 0"
    "   WHERE us.user_id = p_user;\n"
    " ELSIF p_type = 3 THEN\n"
    "  UPDATE @.feed f SET archived = true"
    "   WHERE f.user_id = p_user AND f.read AND NOT f.archived;\n"
    "  GET DIAGNOSTICS o_count = ROW_COUNT;\n"
    " ELSE\n"
    "  SELECT f.read, f.seen INTO r, s FROM @.feed f"
    "   WHERE f.user_id = p_user AND f.seq = p_seq FOR UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "   o_found := false;\n"
    "  ELSE\n"
    "   IF p_type = 2 THEN\n"
    "    UPDATE @.feed f SET read = true, seen = true, archived = true"
    "     WHERE f.user_id = p_user AND f.seq = p_seq;\n"
    "   ELSE\n"
    "    DELETE FROM @.feed f WHERE f.user_id = p_user AND f.seq = p_seq;\n"
    "   END IF;\n"
    "   UPDATE @.users us"
    "    SET unread = greatest(us.unread - (NOT r)::integer, 0),"
    "    unseen = greatest(us.unseen - (NOT s)::integer, 0)"
    "    WHERE us.user_id = p_user;\n"
    "  END IF;\n"
    " END IF;\n"
    " SELECT coalesce(max(us.unread), 0), coalesce(max(us.unseen), 0)"
    "  INTO o_unread, o_unseen FROM @.users us WHERE us.user_id = p_user;\n"
    "END $$;"

    "UPDATE @.meta SET version = 2;";


/*
 * Version 3: targets.  The outbox has one entry a (notification, target,
 * part): its number in the notification, its target's name, its part of
 * the recipients (NULL: all of the notification's); the entries of
 * version 2 are the push target's (notify_push_url) entry 0.  put() adds
 * no entry any more (its p_due is NULL): outbox_add() does, after it, in
 * the same query.
 */

static const char  ngx_http_notify_pg_v3[] =
    "ALTER TABLE @.outbox ADD COLUMN entry integer NOT NULL DEFAULT 0,"
    " ADD COLUMN target text NOT NULL DEFAULT 'push',"
    " ADD COLUMN part integer NOT NULL DEFAULT 0,"
    " ADD COLUMN rcpt bytea;"
    "ALTER TABLE @.outbox DROP CONSTRAINT outbox_pkey;"
    "ALTER TABLE @.outbox ADD PRIMARY KEY (seq, entry);"
    "CREATE INDEX ON @.outbox (target, due);"
    "DROP FUNCTION @.claim(integer, bigint, bigint);"
    "DROP FUNCTION @.finish(integer, bigint, bigint, text, bigint);"

    /* a notification's entries, unless its put was a replay */

    "CREATE FUNCTION @.outbox_add(p_seq bigint, p_created bigint,"
    " p_users text[], p_replay text, p_targets text[], p_parts integer[],"
    " p_firsts integer[], p_counts integer[], p_dues bigint[],"
    " p_expires bigint[]) RETURNS integer"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE i integer; c bytea;\n"
    "BEGIN\n"
    " IF p_replay IS NOT NULL OR p_targets IS NULL THEN RETURN 0; END IF;\n"
    " FOR i IN 1 .. coalesce(array_length(p_targets, 1), 0) LOOP\n"
    "  c := NULL;\n"
    "  IF p_parts[i] > 0 THEN\n"
    "   SELECT string_agg(convert_to(x.u, 'UTF8') || '\\x00'::bytea,"
    "    ''::bytea ORDER BY x.n) INTO c"
    "    FROM unnest(p_users[p_firsts[i] + 1 : p_firsts[i] + p_counts[i]])"
    "    WITH ORDINALITY AS x(u, n);\n"
    "  END IF;\n"
    "  INSERT INTO @.outbox (seq, entry, target, part, rcpt, due, created,"
    "   expires, attempts, error) VALUES (p_seq, i - 1, p_targets[i],"
    "   p_parts[i], c, p_dues[i], p_created, p_expires[i], 0, '');\n"
    " END LOOP;\n"
    " RETURN i;\n"
    "END $$;"

    /*
     * due entries of the targets asked for, each at most its quota,
     * leased: another node skips what this one has locked, and takes an
     * entry whose lease ran out
     */

    "CREATE FUNCTION @.claim(p_targets text[], p_max integer[],"
    " p_now bigint, p_lease bigint)"
    " RETURNS TABLE (o_kind integer, o_seq bigint, o_attempts integer,"
    " o_note text, o_rcpt bytea, o_entry integer, o_part integer,"
    " o_target text, o_quota integer)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record; i integer;\n"
    "BEGIN\n"
    " FOR i IN 1 .. coalesce(array_length(p_targets, 1), 0) LOOP\n"
    "  FOR r IN SELECT o.seq, o.entry, o.part, o.rcpt, o.expires,"
    "   o.attempts FROM @.outbox o"
    "   WHERE o.target = p_targets[i] AND o.due <= p_now"
    "   ORDER BY o.due, o.seq, o.entry LIMIT p_max[i]"
    "   FOR UPDATE SKIP LOCKED LOOP\n"
    "   o_seq := r.seq; o_attempts := r.attempts; o_entry := r.entry;"
    "   o_part := r.part; o_target := p_targets[i]; o_quota := i - 1;"
    "   o_note := NULL; o_rcpt := NULL;\n"
    "   IF p_now >= r.expires * 1000 THEN\n"
    "    DELETE FROM @.outbox o WHERE o.seq = r.seq AND o.entry = r.entry;\n"
    "    o_kind := 1;\n"
    "   ELSE\n"
    "    UPDATE @.outbox o SET due = p_now + p_lease"
    "     WHERE o.seq = r.seq AND o.entry = r.entry;\n"
    "    SELECT n.note, coalesce(r.rcpt, n.rcpt) INTO o_note, o_rcpt"
    "     FROM @.notes n WHERE n.seq = r.seq;\n"
    "    o_kind := 0;\n"
    "   END IF;\n"
    "   RETURN NEXT;\n"
    "  END LOOP;\n"
    " END LOOP;\n"
    "END $$;"

    /* an entry's outcome: 0 delivered or dropped, 1 now, 2 again later */

    "CREATE FUNCTION @.finish(p_type integer, p_seq bigint,"
    " p_entry integer, p_due bigint, p_error text, p_now bigint,"
    " OUT o_found boolean, OUT o_expired boolean, OUT o_attempts integer)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    " o_found := false; o_expired := false; o_attempts := 0;\n"
    " SELECT o.attempts, o.expires INTO r FROM @.outbox o"
    "  WHERE o.seq = p_seq AND o.entry = p_entry FOR UPDATE;\n"
    " IF NOT FOUND THEN RETURN; END IF;\n"
    " o_found := true;\n"
    " IF p_type = 0 THEN\n"
    "  DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    " ELSIF p_type = 1 THEN\n"
    "  UPDATE @.outbox o SET due = p_now"
    "   WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    " ELSE\n"
    "  o_attempts := r.attempts + 1;\n"
    "  IF p_due >= r.expires * 1000 OR p_now >= r.expires * 1000 THEN\n"
    "   DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "   o_expired := true;\n"
    "  ELSE\n"
    "   UPDATE @.outbox o SET attempts = o_attempts, error = p_error,"
    "    due = p_due WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "  END IF;\n"
    " END IF;\n"
    "END $$;"

    "UPDATE @.meta SET version = 3;";


/*
 * Version 4: ordering per chain.  An entry of a notification with a chain
 * keeps it ("chain") and its state (1: in flight, leased; 2: replaced by a
 * newer one of its chain while in flight).  Only the entries of the oldest
 * notification of a chain with entries for a target may be attempted; a
 * newer one's are held (due again after p_wait at the latest, when a claim
 * looks again) and made due at once when the last older entry leaves
 * (unqueue()).  A replaced entry in flight stays until its attempt
 * reports, whatever the outcome, or its lease runs out; put() no longer
 * removes it.
 */

static const char  ngx_http_notify_pg_v4[] =
    "ALTER TABLE @.outbox ADD COLUMN chain bytea,"
    " ADD COLUMN state integer NOT NULL DEFAULT 0;"
    "CREATE INDEX ON @.outbox (chain, target, seq) WHERE chain IS NOT NULL;"
    "DROP FUNCTION @.claim(text[], integer[], bigint, bigint);"
    "DROP FUNCTION @.finish(integer, bigint, integer, bigint, text, bigint);"

    /* an entry of a chain left: the next notification's are due now */

    "CREATE FUNCTION @.unqueue(p_chain bytea, p_target text, p_seq bigint,"
    " p_now bigint) RETURNS void LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE h bigint;\n"
    "BEGIN\n"
    " IF p_chain IS NULL THEN RETURN; END IF;\n"
    " SELECT min(q.seq) INTO h FROM @.outbox q"
    "  WHERE q.chain = p_chain AND q.target = p_target;\n"
    " IF h IS NOT NULL AND h > p_seq THEN\n"
    "  UPDATE @.outbox o SET due = p_now WHERE o.chain = p_chain"
    "   AND o.target = p_target AND o.seq = h AND o.due > p_now;\n"
    " END IF;\n"
    "END $$;"

    /* a replaced notification's entries: gone, but for those in flight */

    "CREATE FUNCTION @.outbox_replace(p_seq bigint) RETURNS void"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record; n bigint;\n"
    "BEGIN\n"
    " n := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;\n"
    " UPDATE @.outbox o SET state = o.state | 2"
    "  WHERE o.seq = p_seq AND o.state & 1 = 1;\n"
    " FOR r IN DELETE FROM @.outbox o WHERE o.seq = p_seq"
    "  AND o.state & 1 = 0 RETURNING o.chain, o.target LOOP\n"
    "  PERFORM @.unqueue(r.chain, r.target, p_seq, n);\n"
    " END LOOP;\n"
    "END $$;"

    NGX_HTTP_NOTIFY_PG_PUT("PERFORM @.outbox_replace(prev);")

    /*
     * after outbox_add() (p_added, its result, only orders the two): the
     * notification's entries in its chain's queues; '1' for each held
     * entry, '0' for the others (NULL: no chain)
     */

    "CREATE FUNCTION @.outbox_chain(p_seq bigint, p_chain bytea,"
    " p_replay text, p_added integer, p_first integer[], p_now bigint,"
    " p_wait bigint) RETURNS text LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record; h bigint; held text;\n"
    "BEGIN\n"
    " IF p_chain IS NULL OR p_replay IS NOT NULL THEN RETURN NULL; END IF;\n"
    " held := '';\n"
    " FOR r IN SELECT o.entry, o.target FROM @.outbox o"
    "  WHERE o.seq = p_seq ORDER BY o.entry LOOP\n"
    "  SELECT min(q.seq) INTO h FROM @.outbox q"
    "   WHERE q.chain = p_chain AND q.target = r.target;\n"
    "  IF h IS NOT NULL AND h < p_seq THEN\n"
    "   UPDATE @.outbox o SET chain = p_chain, state = 0,"
    "    due = p_now + p_wait WHERE o.seq = p_seq AND o.entry = r.entry;\n"
    "   held := held || '1';\n"
    "  ELSE\n"
    "   UPDATE @.outbox o SET chain = p_chain,"
    "    state = CASE WHEN p_first[r.entry + 1] = 1 THEN 1 ELSE 0 END"
    "    WHERE o.seq = p_seq AND o.entry = r.entry;\n"
    "   held := held || '0';\n"
    "  END IF;\n"
    " END LOOP;\n"
    " RETURN held;\n"
    "END $$;"

    /*
     * version 3's claim, and for an entry of a chain: replaced in flight,
     * its lease ran out: removed; behind an older one: held again
     */

    "CREATE FUNCTION @.claim(p_targets text[], p_max integer[],"
    " p_now bigint, p_lease bigint, p_wait bigint)"
    " RETURNS TABLE (o_kind integer, o_seq bigint, o_attempts integer,"
    " o_note text, o_rcpt bytea, o_entry integer, o_part integer,"
    " o_target text, o_quota integer)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record; i integer; h bigint;\n"
    "BEGIN\n"
    " FOR i IN 1 .. coalesce(array_length(p_targets, 1), 0) LOOP\n"
    "  FOR r IN SELECT o.seq, o.entry, o.part, o.rcpt, o.expires,"
    "   o.attempts, o.chain, o.state FROM @.outbox o"
    "   WHERE o.target = p_targets[i] AND o.due <= p_now"
    "   ORDER BY o.due, o.seq, o.entry LIMIT p_max[i]"
    "   FOR UPDATE SKIP LOCKED LOOP\n"
    "   o_seq := r.seq; o_attempts := r.attempts; o_entry := r.entry;"
    "   o_part := r.part; o_target := p_targets[i]; o_quota := i - 1;"
    "   o_note := NULL; o_rcpt := NULL;\n"
    "   IF p_now >= r.expires * 1000 OR r.state & 2 = 2 THEN\n"
    "    DELETE FROM @.outbox o WHERE o.seq = r.seq AND o.entry = r.entry;\n"
    "    PERFORM @.unqueue(r.chain, p_targets[i], r.seq, p_now);\n"
    "    IF r.state & 2 = 2 THEN CONTINUE; END IF;\n"
    "    o_kind := 1;\n"
    "   ELSE\n"
    "    IF r.chain IS NOT NULL THEN\n"
    "     SELECT min(q.seq) INTO h FROM @.outbox q"
    "      WHERE q.chain = r.chain AND q.target = p_targets[i];\n"
    "     IF h < r.seq THEN\n"
    "      UPDATE @.outbox o SET due = p_now + p_wait"
    "       WHERE o.seq = r.seq AND o.entry = r.entry;\n"
    "      CONTINUE;\n"
    "     END IF;\n"
    "    END IF;\n"
    "    UPDATE @.outbox o SET due = p_now + p_lease,"
    "     state = CASE WHEN o.chain IS NULL THEN o.state ELSE o.state | 1 END"
    "     WHERE o.seq = r.seq AND o.entry = r.entry;\n"
    "    SELECT n.note, coalesce(r.rcpt, n.rcpt) INTO o_note, o_rcpt"
    "     FROM @.notes n WHERE n.seq = r.seq;\n"
    "    o_kind := 0;\n"
    "   END IF;\n"
    "   RETURN NEXT;\n"
    "  END LOOP;\n"
    " END LOOP;\n"
    "END $$;"

    /*
     * version 3's finish, and for an entry of a chain: replaced in
     * flight, it goes whatever the outcome (o_replaced); retried, it is no
     * longer in flight; gone, the next one of its chain is due
     */

    "CREATE FUNCTION @.finish(p_type integer, p_seq bigint,"
    " p_entry integer, p_due bigint, p_error text, p_now bigint,"
    " OUT o_found boolean, OUT o_expired boolean, OUT o_attempts integer,"
    " OUT o_replaced boolean)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    " o_found := false; o_expired := false; o_attempts := 0;"
    " o_replaced := false;\n"
    " SELECT o.attempts, o.expires, o.chain, o.state, o.target INTO r"
    "  FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry"
    "  FOR UPDATE;\n"
    " IF NOT FOUND THEN RETURN; END IF;\n"
    " o_found := true;\n"
    " IF r.state & 2 = 2 AND p_type <> 1 THEN\n"
    "  o_replaced := true;\n"
    "  DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "  PERFORM @.unqueue(r.chain, r.target, p_seq, p_now);\n"
    " ELSIF p_type = 0 THEN\n"
    "  DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "  PERFORM @.unqueue(r.chain, r.target, p_seq, p_now);\n"
    " ELSIF p_type = 1 THEN\n"
    "  UPDATE @.outbox o SET due = p_now"
    "   WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    " ELSE\n"
    "  o_attempts := r.attempts + 1;\n"
    "  IF p_due >= r.expires * 1000 OR p_now >= r.expires * 1000 THEN\n"
    "   DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "   PERFORM @.unqueue(r.chain, r.target, p_seq, p_now);\n"
    "   o_expired := true;\n"
    "  ELSE\n"
    "   UPDATE @.outbox o SET attempts = o_attempts, error = p_error,"
    "    due = p_due, state = o.state & ~1"
    "    WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "  END IF;\n"
    " END IF;\n"
    "END $$;"

    "UPDATE @.meta SET version = 4;";


/*
 * The signatures of version 5's claim() and finish(), which version 6 keeps
 * for the functions that take the chain lock
 */

#define NGX_HTTP_NOTIFY_PG_CLAIM5                                             \
    "CREATE FUNCTION @.claim(p_targets text[], p_max integer[],"              \
    " p_now bigint, p_lease bigint, p_wait bigint, p_dead integer)"           \
    " RETURNS TABLE (o_kind integer, o_seq bigint, o_attempts integer,"       \
    " o_note text, o_rcpt bytea, o_entry integer, o_part integer,"            \
    " o_target text, o_quota integer, o_removed integer)"                     \
    " LANGUAGE plpgsql AS $$\n"

#define NGX_HTTP_NOTIFY_PG_FINISH5                                            \
    "CREATE FUNCTION @.finish(p_type integer, p_seq bigint,"                  \
    " p_entry integer, p_due bigint, p_error text, p_now bigint,"             \
    " p_dead integer, OUT o_found boolean, OUT o_expired boolean,"            \
    " OUT o_attempts integer, OUT o_replaced boolean,"                        \
    " OUT o_removed integer)"                                                 \
    " LANGUAGE plpgsql AS $$\n"


/*
 * Dead letters replayed or purged (see version 5's), of version 5 and, with
 * the chain lock (lock) and a check before a replay (newer), of version 6
 * (with one more parameter, param, and one more result, out)
 */

#define NGX_HTTP_NOTIFY_PG_DEAD_CHANGE(param, out, lock, newer)               \
    "CREATE FUNCTION @.dead_change(p_targets text[], p_expires bigint[],"     \
    " p_type integer, p_seq bigint, p_entry integer, p_target text,"          \
    " p_max integer, p_now bigint, p_wait bigint," param                      \
    " OUT o_found boolean,"                                                   \
    " OUT o_gone boolean, OUT o_count integer, OUT o_skipped integer,"        \
    " OUT o_superseded boolean" out ")"                                       \
    " LANGUAGE plpgsql AS $$\n"                                               \
    "#variable_conflict use_column\n"                                         \
    "DECLARE r record; i integer; h bigint;\n"                                \
    "BEGIN\n" lock                                                            \
    " o_found := false; o_gone := false; o_count := 0; o_skipped := 0;"       \
    " o_superseded := false;\n"                                               \
    " FOR r IN SELECT d.seq, d.entry, d.target, d.part, d.rcpt, d.created,"   \
    "  d.chain FROM @.dead d"                                                 \
    "  WHERE (p_seq IS NULL OR (d.seq = p_seq AND d.entry = p_entry))"        \
    "  AND (p_target IS NULL OR d.target = p_target)"                         \
    "  AND (p_type = 2 OR p_seq IS NOT NULL OR d.target = ANY(p_targets))"    \
    "  ORDER BY d.seq, d.entry FOR UPDATE LOOP\n"                             \
    "  EXIT WHEN o_count >= p_max;\n"                                         \
    "  o_found := true;\n"                                                    \
    "  IF p_type = 1 THEN\n"                                                  \
    "   i := array_position(p_targets, r.target);\n"                          \
    "   IF i IS NULL THEN o_gone := true; RETURN; END IF;\n"                  \
    "   IF r.chain IS NOT NULL AND EXISTS (SELECT 1 FROM @.chains ch,"        \
    "    @.notes n, @.ids(n.rcpt) u WHERE n.seq = r.seq"                      \
    "    AND ch.chain = r.chain AND ch.user_id = u AND ch.seq > r.seq) THEN\n"\
    "    o_superseded := true; o_skipped := o_skipped + 1;\n"                 \
    "    IF p_seq IS NOT NULL THEN RETURN; END IF;\n"                         \
    "    CONTINUE;\n"                                                         \
    "   END IF;\n"                                                            \
    "   h := NULL;\n"                                                         \
    "   IF r.chain IS NOT NULL THEN\n"                                        \
    "    SELECT min(q.seq) INTO h FROM @.outbox q"                            \
    "     WHERE q.chain = r.chain AND q.target = r.target;\n"                 \
    "   END IF;\n" newer                                                      \
    "   INSERT INTO @.outbox (seq, entry, target, part, rcpt, due, created,"  \
    "    expires, attempts, error, chain, state) VALUES (r.seq, r.entry,"     \
    "    r.target, r.part, r.rcpt,"                                           \
    "    CASE WHEN h < r.seq THEN p_now + p_wait ELSE p_now END,"             \
    "    r.created, p_now / 1000 + p_expires[i], 0, '', r.chain, 0);\n"       \
    "  END IF;\n"                                                             \
    "  DELETE FROM @.dead d WHERE d.seq = r.seq AND d.entry = r.entry;\n"     \
    "  o_count := o_count + 1;\n"                                             \
    " END LOOP;\n"                                                            \
    " IF p_type = 1 AND p_seq IS NULL THEN\n"                                 \
    "  o_skipped := o_skipped + (SELECT count(*) FROM @.dead d"               \
    "   WHERE (p_target IS NULL OR d.target = p_target)"                      \
    "   AND NOT d.target = ANY(p_targets));\n"                                \
    " END IF;\n"                                                              \
    "END $$;"


/*
 * Version 5: dead letters, on version 4's ordering per chain.  An outbox
 * entry that expires or is given up moves to "dead" (bury(), with its
 * recipients of a part and its chain) in the transaction that takes it out
 * of the outbox, and leaves its chain's queue like any other removal
 * (unqueue()), so that the next of its chain is due; one replaced by a
 * newer one of its chain while in flight is not kept.  At most p_dead are
 * kept, the oldest to die removed first (bury() returns how many).
 * claim() and finish() get an overload with the bound (finish()'s type 3:
 * given up); version 4's stay for the workers of an older module during
 * an upgrade.  Retention removes a notification's dead letters with it
 * (the foreign key's cascade).
 */

static const char  ngx_http_notify_pg_v5[] =
    "CREATE TABLE @.dead ("
    " seq bigint NOT NULL REFERENCES @.notes ON DELETE CASCADE,"
    " entry integer NOT NULL, target text NOT NULL,"
    " part integer NOT NULL, rcpt bytea, created bigint NOT NULL,"
    " died bigint NOT NULL, attempts integer NOT NULL,"
    " reason integer NOT NULL, error text NOT NULL, chain bytea,"
    " PRIMARY KEY (seq, entry));"
    "CREATE INDEX ON @.dead (died, seq, entry);"
    "CREATE INDEX ON @.dead (target, seq, entry);"

    /* the ids of a list of recipients (NUL-separated) */

    "CREATE FUNCTION @.ids(p_rcpt bytea) RETURNS SETOF text"
    " LANGUAGE plpgsql IMMUTABLE AS $$\n"
    "DECLARE i integer; rest bytea;\n"
    "BEGIN\n"
    " rest := p_rcpt;\n"
    " WHILE length(rest) > 0 LOOP\n"
    "  i := position('\\x00'::bytea IN rest);\n"
    "  IF i = 0 THEN i := length(rest) + 1; END IF;\n"
    "  IF i > 1 THEN\n"
    "   RETURN NEXT convert_from(substring(rest FROM 1 FOR i - 1), 'UTF8');\n"
    "  END IF;\n"
    "  rest := substring(rest FROM i + 1);\n"
    " END LOOP;\n"
    "END $$;"

    /* p_attempts, p_error NULL: the entry's own */

    "CREATE FUNCTION @.bury(p_seq bigint, p_entry integer, p_reason integer,"
    " p_attempts integer, p_error text, p_now bigint, p_dead integer)"
    " RETURNS integer LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE c integer; r record;\n"
    "BEGIN\n"
    " DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry"
    "  RETURNING o.* INTO r;\n"
    " IF NOT FOUND THEN RETURN 0; END IF;\n"
    " PERFORM @.unqueue(r.chain, r.target, p_seq, p_now);\n"
    " IF p_dead <= 0 OR r.state & 2 = 2 THEN RETURN 0; END IF;\n"
    " INSERT INTO @.dead (seq, entry, target, part, rcpt, created, died,"
    "  attempts, reason, error, chain) VALUES (r.seq, r.entry, r.target,"
    "  r.part, r.rcpt, r.created, p_now, coalesce(p_attempts, r.attempts),"
    "  p_reason, coalesce(p_error, r.error), r.chain);\n"
    " SELECT count(*) - p_dead INTO c FROM @.dead;\n"
    " IF c <= 0 THEN RETURN 0; END IF;\n"
    " DELETE FROM @.dead x WHERE (x.seq, x.entry) IN (SELECT y.seq, y.entry"
    "  FROM @.dead y ORDER BY y.died, y.seq, y.entry LIMIT c);\n"
    " RETURN c;\n"
    "END $$;"

    /* version 4's claim; an expired entry buried */

    NGX_HTTP_NOTIFY_PG_CLAIM5
    "#variable_conflict use_column\n"
    "DECLARE r record; i integer; h bigint;\n"
    "BEGIN\n"
    " FOR i IN 1 .. coalesce(array_length(p_targets, 1), 0) LOOP\n"
    "  FOR r IN SELECT o.seq, o.entry, o.part, o.rcpt, o.expires,"
    "   o.attempts, o.chain, o.state FROM @.outbox o"
    "   WHERE o.target = p_targets[i] AND o.due <= p_now"
    "   ORDER BY o.due, o.seq, o.entry LIMIT p_max[i]"
    "   FOR UPDATE SKIP LOCKED LOOP\n"
    "   o_seq := r.seq; o_attempts := r.attempts; o_entry := r.entry;"
    "   o_part := r.part; o_target := p_targets[i]; o_quota := i - 1;"
    "   o_note := NULL; o_rcpt := NULL; o_removed := 0;\n"
    "   IF p_now >= r.expires * 1000 OR r.state & 2 = 2 THEN\n"
    "    o_removed := @.bury(r.seq, r.entry, 1, NULL, NULL, p_now, p_dead);\n"
    "    IF r.state & 2 = 2 THEN CONTINUE; END IF;\n"
    "    o_kind := 1;\n"
    "   ELSE\n"
    "    IF r.chain IS NOT NULL THEN\n"
    "     SELECT min(q.seq) INTO h FROM @.outbox q"
    "      WHERE q.chain = r.chain AND q.target = p_targets[i];\n"
    "     IF h < r.seq THEN\n"
    "      UPDATE @.outbox o SET due = p_now + p_wait"
    "       WHERE o.seq = r.seq AND o.entry = r.entry;\n"
    "      CONTINUE;\n"
    "     END IF;\n"
    "    END IF;\n"
    "    UPDATE @.outbox o SET due = p_now + p_lease,"
    "     state = CASE WHEN o.chain IS NULL THEN o.state ELSE o.state | 1 END"
    "     WHERE o.seq = r.seq AND o.entry = r.entry;\n"
    "    SELECT n.note, coalesce(r.rcpt, n.rcpt) INTO o_note, o_rcpt"
    "     FROM @.notes n WHERE n.seq = r.seq;\n"
    "    o_kind := 0;\n"
    "   END IF;\n"
    "   RETURN NEXT;\n"
    "  END LOOP;\n"
    " END LOOP;\n"
    "END $$;"

    /*
     * version 4's finish: 0 delivered or dropped, 1 now, 2 again later,
     * 3 given up; an expired or given up entry buried
     */

    NGX_HTTP_NOTIFY_PG_FINISH5
    "#variable_conflict use_column\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    " o_found := false; o_expired := false; o_attempts := 0;"
    " o_replaced := false; o_removed := 0;\n"
    " SELECT o.attempts, o.expires, o.chain, o.state, o.target INTO r"
    "  FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry"
    "  FOR UPDATE;\n"
    " IF NOT FOUND THEN RETURN; END IF;\n"
    " o_found := true;\n"
    " IF r.state & 2 = 2 AND p_type <> 1 THEN\n"
    "  o_replaced := true;\n"
    "  DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "  PERFORM @.unqueue(r.chain, r.target, p_seq, p_now);\n"
    " ELSIF p_type = 0 THEN\n"
    "  DELETE FROM @.outbox o WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "  PERFORM @.unqueue(r.chain, r.target, p_seq, p_now);\n"
    " ELSIF p_type = 1 THEN\n"
    "  UPDATE @.outbox o SET due = p_now"
    "   WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    " ELSIF p_type = 3 THEN\n"
    "  o_attempts := r.attempts + 1;\n"
    "  o_removed := @.bury(p_seq, p_entry, 2, o_attempts, p_error, p_now,"
    "   p_dead);\n"
    " ELSE\n"
    "  o_attempts := r.attempts + 1;\n"
    "  IF p_due >= r.expires * 1000 OR p_now >= r.expires * 1000 THEN\n"
    "   o_removed := @.bury(p_seq, p_entry, 1, o_attempts, p_error, p_now,"
    "    p_dead);\n"
    "   o_expired := true;\n"
    "  ELSE\n"
    "   UPDATE @.outbox o SET attempts = o_attempts, error = p_error,"
    "    due = p_due, state = o.state & ~1"
    "    WHERE o.seq = p_seq AND o.entry = p_entry;\n"
    "  END IF;\n"
    " END IF;\n"
    "END $$;"

    /*
     * 1 replay, 2 purge: one dead letter (p_seq), or the first p_max (of
     * p_target); a replay is an entry due now, expiring after its
     * target's expiry (p_expires, seconds, by p_targets), back in its
     * chain's queue (held behind an older entry, p_wait); the dead letters
     * of a target not in p_targets stay (o_gone), and so do those of a
     * chain with a newer notification (o_superseded); o_skipped counts both
     */

    NGX_HTTP_NOTIFY_PG_DEAD_CHANGE("", "", "", "")

    "UPDATE @.meta SET version = 5;";


/*
 * Version 6: the chain lock.  A put of a notification with a chain and the
 * removal of the older entry of its chain for a target (delivered, dropped,
 * expired, given up) ran in concurrent transactions: under READ COMMITTED
 * the put saw the older entry, whose removal was not committed yet, and
 * held its own; the removal did not see the put's entry, not committed
 * yet, and made nothing due; the newer notification then waited for its
 * safety re-check.  Now every transaction that looks at or changes a
 * chain's queue, or the dead letters, takes one transaction-scoped
 * advisory lock of the schema first (chain_lock()), so that one of the two
 * sees what the other committed.
 *
 * One lock for all chains rather than one a (chain, target): a batch is
 * one transaction of many operations in the order they were posted, so a
 * worker's batch may take the locks of two chains in one order and
 * another's in the other order, a deadlock; with a single lock there is
 * no order.  And the lock is taken before any row of a chain (or a dead
 * letter) is locked: finish() and claim() before their rows, outbox_chain()
 * and outbox_replace() before the outbox rows a put changes, bury() before
 * a dead letter is removed for the bound, dead_change() first of all; so
 * that no holder of the lock waits for a row that a transaction waiting
 * for the lock holds.  Puts take it after "meta", which only puts take.
 * A notification without a chain takes it only when its entry dies.
 *
 * The functions of version 5 whose callers must now hold the lock are
 * renamed (*_unlocked) and called by new ones of the same signature that
 * take it, so that an older module's workers take it too; unqueue() takes
 * it as well (it holds already, but for version 4's claim() and finish()).
 *
 * A replay of a dead letter of a chain that has a newer notification with
 * an entry for its target in the outbox is refused (dead_change()'s new
 * overload, o_newer): replayed, it would be the head of its queue, and
 * could go while the newer one is in flight.
 */

static const char  ngx_http_notify_pg_v6[] =
    "CREATE FUNCTION @.chain_lock() RETURNS void LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    " PERFORM pg_advisory_xact_lock(hashtext('ngx_http_notify.@ chain'));\n"
    "END $$;"

    "ALTER FUNCTION @.unqueue(bytea, text, bigint, bigint)"
    " RENAME TO unqueue_unlocked;"
    "CREATE FUNCTION @.unqueue(p_chain bytea, p_target text, p_seq bigint,"
    " p_now bigint) RETURNS void LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    " IF p_chain IS NULL THEN RETURN; END IF;\n"
    " PERFORM @.chain_lock();\n"
    " PERFORM @.unqueue_unlocked(p_chain, p_target, p_seq, p_now);\n"
    "END $$;"

    "ALTER FUNCTION @.outbox_replace(bigint) RENAME TO outbox_replace_unlocked;"
    "CREATE FUNCTION @.outbox_replace(p_seq bigint) RETURNS void"
    " LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    " PERFORM @.chain_lock();\n"
    " PERFORM @.outbox_replace_unlocked(p_seq);\n"
    "END $$;"

    "ALTER FUNCTION @.outbox_chain(bigint, bytea, text, integer, integer[],"
    " bigint, bigint) RENAME TO outbox_chain_unlocked;"
    "CREATE FUNCTION @.outbox_chain(p_seq bigint, p_chain bytea,"
    " p_replay text, p_added integer, p_first integer[], p_now bigint,"
    " p_wait bigint) RETURNS text LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    " IF p_chain IS NULL OR p_replay IS NOT NULL THEN RETURN NULL; END IF;\n"
    " PERFORM @.chain_lock();\n"
    " RETURN @.outbox_chain_unlocked(p_seq, p_chain, p_replay, p_added,"
    "  p_first, p_now, p_wait);\n"
    "END $$;"

    "ALTER FUNCTION @.bury(bigint, integer, integer, integer, text, bigint,"
    " integer) RENAME TO bury_unlocked;"
    "CREATE FUNCTION @.bury(p_seq bigint, p_entry integer, p_reason integer,"
    " p_attempts integer, p_error text, p_now bigint, p_dead integer)"
    " RETURNS integer LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    " PERFORM @.chain_lock();\n"
    " RETURN @.bury_unlocked(p_seq, p_entry, p_reason, p_attempts, p_error,"
    "  p_now, p_dead);\n"
    "END $$;"

    /* an entry of a chain: the lock before its row's */

    "ALTER FUNCTION @.finish(integer, bigint, integer, bigint, text, bigint,"
    " integer) RENAME TO finish_unlocked;"
    NGX_HTTP_NOTIFY_PG_FINISH5
    "BEGIN\n"
    " PERFORM @.chain_lock() FROM @.outbox o"
    "  WHERE o.seq = p_seq AND o.entry = p_entry AND o.chain IS NOT NULL;\n"
    " SELECT * INTO o_found, o_expired, o_attempts, o_replaced, o_removed"
    "  FROM @.finish_unlocked(p_type, p_seq, p_entry, p_due, p_error, p_now,"
    "  p_dead);\n"
    "END $$;"

    /* entries of a chain for the targets: the lock before a row's */

    "ALTER FUNCTION @.claim(text[], integer[], bigint, bigint, bigint,"
    " integer) RENAME TO claim_unlocked;"
    NGX_HTTP_NOTIFY_PG_CLAIM5
    "BEGIN\n"
    " IF EXISTS (SELECT 1 FROM @.outbox o WHERE o.chain IS NOT NULL"
    "  AND o.target = ANY(p_targets)) THEN\n"
    "  PERFORM @.chain_lock();\n"
    " END IF;\n"
    " RETURN QUERY SELECT * FROM @.claim_unlocked(p_targets, p_max, p_now,"
    "  p_lease, p_wait, p_dead);\n"
    "END $$;"

    /*
     * version 5's dead_change(), under the lock, and with p_newer: a
     * dead letter of a chain with a newer entry for its target in the
     * outbox is not replayed either (o_newer; o_skipped counts it)
     */

    NGX_HTTP_NOTIFY_PG_DEAD_CHANGE(" p_newer boolean,",
        ", OUT o_newer boolean",
        " PERFORM @.chain_lock(); o_newer := false;\n",
        "   IF p_newer AND h > r.seq THEN\n"
        "    o_newer := true; o_skipped := o_skipped + 1;\n"
        "    IF p_seq IS NOT NULL THEN RETURN; END IF;\n"
        "    CONTINUE;\n"
        "   END IF;\n")

    "UPDATE @.meta SET version = 6;";


/*
 * Version 7: the entries past their expiry of every target of a claim,
 * its quota 0 too (a target that may not be attempted now), expire
 * without a claim of their own: an index by expiry, and a claim() with
 * p_expire that first looks at up to p_expire entries past their expiry
 * of each target, oldest expiry first, and buries those not in flight
 * (due later: leased, or held behind an older one of its chain) as
 * version 5's claim() buries those it meets, then claims as version 6's
 * does (which takes the chain lock).  Version 6's stays for the workers
 * of an older module during an upgrade.  The chain lock (version 6) is
 * taken before the first row past its expiry is locked, as every holder
 * of a row of the outbox that may bury takes it: bury() takes it too.
 */

static const char  ngx_http_notify_pg_v7[] =
    "CREATE INDEX ON @.outbox (target, expires);"

    "CREATE FUNCTION @.claim(p_targets text[], p_max integer[],"
    " p_now bigint, p_lease bigint, p_wait bigint, p_dead integer,"
    " p_expire integer)"
    " RETURNS TABLE (o_kind integer, o_seq bigint, o_attempts integer,"
    " o_note text, o_rcpt bytea, o_entry integer, o_part integer,"
    " o_target text, o_quota integer, o_removed integer)"
    " LANGUAGE plpgsql AS $$\n"
    "#variable_conflict use_column\n"
    "DECLARE r record; i integer;\n"
    "BEGIN\n"
    " IF EXISTS (SELECT 1 FROM @.outbox o WHERE o.target = ANY(p_targets)"
    "  AND o.expires <= p_now / 1000) THEN\n"
    "  PERFORM @.chain_lock();\n"
    " END IF;\n"
    " FOR i IN 1 .. coalesce(array_length(p_targets, 1), 0) LOOP\n"
    "  FOR r IN SELECT o.seq, o.entry, o.part, o.attempts, o.due, o.state"
    "   FROM @.outbox o"
    "   WHERE o.target = p_targets[i] AND o.expires <= p_now / 1000"
    "   ORDER BY o.expires, o.seq, o.entry LIMIT p_expire"
    "   FOR UPDATE SKIP LOCKED LOOP\n"
    "   CONTINUE WHEN r.due > p_now;\n"
    "   o_seq := r.seq; o_attempts := r.attempts; o_entry := r.entry;"
    "   o_part := r.part; o_target := p_targets[i]; o_quota := i - 1;"
    "   o_note := NULL; o_rcpt := NULL; o_kind := 1;\n"
    "   o_removed := @.bury(r.seq, r.entry, 1, NULL, NULL, p_now, p_dead);\n"
    "   CONTINUE WHEN r.state & 2 = 2;\n"
    "   RETURN NEXT;\n"
    "  END LOOP;\n"
    " END LOOP;\n"
    " RETURN QUERY SELECT * FROM @.claim(p_targets, p_max, p_now, p_lease,"
    "  p_wait, p_dead);\n"
    "END $$;"

    "UPDATE @.meta SET version = 7;";


/* the migrations, from each version to the next */

typedef struct {
    int                           from;
    const char                   *sql;
    const char                   *what;
} ngx_http_notify_pg_migration_t;


static const ngx_http_notify_pg_migration_t
    ngx_http_notify_pg_migrations[] =
{
    { 1, ngx_http_notify_pg_v2, "the feed's states" },
    { 2, ngx_http_notify_pg_v3, "targets" },
    { 3, ngx_http_notify_pg_v4, "ordering per chain" },
    { 4, ngx_http_notify_pg_v5, "dead letters" },
    { 5, ngx_http_notify_pg_v6, "the chain lock" },
    { 6, ngx_http_notify_pg_v7, "expiry of entries no claim reaches" }
};


/* the queries of a worker, "@" the schema */

static const char  ngx_http_notify_pg_q_begin[] = "BEGIN";
static const char  ngx_http_notify_pg_q_commit[] = "COMMIT";
static const char  ngx_http_notify_pg_q_rollback[] = "ROLLBACK";
static const char  ngx_http_notify_pg_q_lock[] =
    "SELECT last_seq FROM @.meta FOR UPDATE";
static const char  ngx_http_notify_pg_q_last[] =
    "UPDATE @.meta SET last_seq = $1";
static const char  ngx_http_notify_pg_q_idem[] =
    "SELECT answer FROM @.idem WHERE key = $1";

/*
 * The changes of feeds, each announced to the other nodes in its own
 * transaction ($12, $3, $4: the payload's start, made by
 * ngx_http_notify_pg_announce())
 */
static const char  ngx_http_notify_pg_q_put[] =
    "SELECT p.o_replaced, p.o_replay,"
    " (SELECT count(pg_notify('@', $16 || '0 0 ' || u))"
    "  FROM unnest($5::text[]) u WHERE p.o_replay IS NULL), c"
    " FROM @.put($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL) p,"
    " LATERAL @.outbox_add($1, $2, $5, p.o_replay, $10, $11, $12, $13, $14,"
    " $15) a,"
    " LATERAL @.outbox_chain($1, $7, p.o_replay, a, $17, $18, $19) c";
static const char  ngx_http_notify_pg_q_read[] =
    "SELECT r.o_found, r.o_unread, r.o_unseen,"
    " (SELECT count(*) FROM (SELECT pg_notify('@', $3 || r.o_unread"
    "  || ' ' || r.o_unseen || ' ' || $1) WHERE r.o_found) n)"
    " FROM @.mark_read($1, $2) r";
static const char  ngx_http_notify_pg_q_until[] =
    "SELECT r.o_found, r.o_unread, r.o_unseen,"
    " (SELECT count(*) FROM (SELECT pg_notify('@', $3 || r.o_unread"
    "  || ' ' || r.o_unseen || ' ' || $1) WHERE r.o_found) n)"
    " FROM @.mark_read_until($1, $2) r";
static const char  ngx_http_notify_pg_q_prune[] =
    "SELECT * FROM @.prune($1, $2)";
static const char  ngx_http_notify_pg_q_claim[] =
    "SELECT * FROM @.claim($1, $2, $3, $4, $5, $6, $7)";
static const char  ngx_http_notify_pg_q_finish[] =
    "SELECT * FROM @.finish($1, $2, $3, $4, $5, $6, $7)";
static const char  ngx_http_notify_pg_q_dead_change[] =
    "SELECT * FROM @.dead_change($1, $2, $3, $4, $5, $6, $7, $8, $9, true)";

static const char  ngx_http_notify_pg_q_change[] =
    "SELECT r.o_found, r.o_count, r.o_unread, r.o_unseen,"
    " (SELECT count(*) FROM (SELECT pg_notify('@', $4 || r.o_unread"
    "  || ' ' || r.o_unseen || ' ' || $2) WHERE r.o_found) n)"
    " FROM @.feed_change($1, $2, $3) r";
static const char  ngx_http_notify_pg_q_listen[] = "LISTEN @";

/* a page: the filter by state here, as ngx_http_notify_feed_status_e */
static const char  ngx_http_notify_pg_q_feed[] =
    "SELECT u.unread, u.unseen, p.seq, p.view, p.read, p.seen, p.archived"
    " FROM (SELECT coalesce(max(us.unread), 0) AS unread,"
    "  coalesce(max(us.unseen), 0) AS unseen"
    "  FROM @.users us WHERE us.user_id = $1) u"
    " LEFT JOIN LATERAL (SELECT f.seq, n.view, f.read, f.seen, f.archived"
    "  FROM @.feed f JOIN @.notes n ON n.seq = f.seq"
    "  WHERE f.user_id = $1 AND f.seq < $2"
    "  AND CASE $3::integer WHEN 1 THEN NOT f.read WHEN 2 THEN NOT f.seen"
    "   WHEN 3 THEN f.read AND NOT f.archived WHEN 4 THEN f.archived"
    "   WHEN 5 THEN true ELSE NOT f.archived END"
    "  ORDER BY f.seq DESC LIMIT $4) p ON true"
    " ORDER BY p.seq DESC";
static const char  ngx_http_notify_pg_q_counts[] =
    "SELECT coalesce(max(us.unread), 0), coalesce(max(us.unseen), 0)"
    " FROM @.users us WHERE us.user_id = $1";
static const char  ngx_http_notify_pg_q_unread[] =
    "SELECT coalesce(max(us.unread), 0) FROM @.users us"
    " WHERE us.user_id = $1";
static const char  ngx_http_notify_pg_q_outbox[] =
    "SELECT seq, due, created, expires, attempts, error, entry, part, target"
    " FROM @.outbox ORDER BY seq, entry LIMIT $1";
static const char  ngx_http_notify_pg_q_due[] =
    "SELECT coalesce(min(due), 0) FROM @.outbox WHERE target = ANY($1)";
static const char  ngx_http_notify_pg_q_stats[] =
    "SELECT count(*), coalesce((SELECT created FROM @.outbox"
    " ORDER BY seq LIMIT 1), 0), (SELECT count(*) FROM @.dead)"
    " FROM @.outbox";
static const char  ngx_http_notify_pg_q_dead[] =
    "SELECT seq, entry, part, target, created, died, attempts, reason, error"
    " FROM @.dead WHERE ($1::text IS NULL OR target = $1)"
    " AND (seq, entry) > ($2::bigint, $3::integer)"
    " ORDER BY seq, entry LIMIT $4";


typedef struct ngx_http_notify_pg_job_s   ngx_http_notify_pg_job_t;
typedef struct ngx_http_notify_pg_conn_s  ngx_http_notify_pg_conn_t;


/*
 * A job: its stages' queries, sent by send() (NGX_OK: sent, NGX_DONE:
 * nothing more to send, the job is done; NGX_ERROR), each result of a
 * query given to result() in order, and end() once, with 0 or the error.
 */
struct ngx_http_notify_pg_job_s {
    ngx_queue_t                   queue;        /* waiting for a
                                                   connection */
    ngx_int_t                   (*send)(ngx_http_notify_pg_job_t *job,
                                        PGconn *pg);
    int                         (*result)(ngx_http_notify_pg_job_t *job,
                                          PGresult *res, ngx_uint_t n);
    void                        (*end)(ngx_http_notify_pg_job_t *job,
                                       int err);
    ngx_uint_t                    stage;
    ngx_uint_t                    nresults;     /* of this stage */
    int                           err;
    void                         *data;
};


enum {
    NGX_HTTP_NOTIFY_PG_DOWN = 0,
    NGX_HTTP_NOTIFY_PG_CONNECTING,
    NGX_HTTP_NOTIFY_PG_IDLE,
    NGX_HTTP_NOTIFY_PG_BUSY
};


struct ngx_http_notify_pg_conn_s {
    PGconn                       *pg;
    ngx_connection_t             *c;
    ngx_uint_t                    state;
    ngx_http_notify_pg_job_t     *job;
    ngx_msec_t                    backoff;
    ngx_event_t                   retry;        /* reconnect, after backoff */
    ngx_connection_t              retry_conn;   /* its data, no fd */
    unsigned                      rollback:1;   /* a ROLLBACK is on its way */
    unsigned                      listen:1;     /* the node's LISTEN */
};


typedef struct {
    ngx_http_notify_pg_conn_t    *conns;
    ngx_uint_t                    nconns;
    ngx_queue_t                   waiting;      /* jobs */
    ngx_msec_t                    timeout;
    ngx_log_t                    *log;
    ngx_uint_t                    down;         /* was up, lost since */

    const char                   *keywords[5];
    const char                   *values[5];

    ngx_str_t                     name;
    char                         *q_lock, *q_last, *q_idem, *q_put,
                                 *q_read, *q_until, *q_prune, *q_claim,
                                 *q_finish, *q_feed, *q_unread, *q_outbox,
                                 *q_due, *q_stats, *q_change, *q_counts,
                                 *q_dead, *q_dead_change,
                                 *q_listen;

    /* the other nodes' changes (in the first worker) */
    ngx_http_notify_pg_conn_t     listener;
    ngx_uint_t                    listened;     /* was listening before */

    /* the write batch: one at a time in a worker */
    ngx_http_notify_pg_job_t      batch;
    ngx_http_notify_store_op_t   *ops;
    ngx_http_notify_store_op_t   *op;           /* whose result is next */
    ngx_uint_t                    nputs;
    uint64_t                      first;        /* the batch's first id */

    char                          error[256];   /* the server's last */
} ngx_http_notify_pg_t;


/* parameters of a query: text, or binary for bytea */
typedef struct {
    int                           n;
    const char                   *values[20];
    int                           lengths[20];
    int                           formats[20];
    u_char                        nums[20][NGX_INT64_LEN + 1];
} ngx_http_notify_pg_params_t;


static ngx_int_t ngx_http_notify_pg_init_module(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf);
static ngx_int_t ngx_http_notify_pg_init_failed(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf, ngx_uint_t reload);
static int ngx_http_notify_pg_open(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf);
static void ngx_http_notify_pg_close(ngx_cycle_t *cycle);
static const char *ngx_http_notify_pg_version(void);
static const char *ngx_http_notify_pg_strerror(int err);
static ngx_int_t ngx_http_notify_pg_stats(
    ngx_http_notify_store_stats_t *stats, ngx_log_t *log);
static void ngx_http_notify_pg_read(ngx_http_notify_store_read_t *rd);
static void ngx_http_notify_pg_submit(ngx_http_notify_store_op_t *ops);

static char *ngx_http_notify_pg_sql(ngx_pool_t *pool, const char *tmpl,
    ngx_str_t *schema);
static void ngx_http_notify_pg_notice(void *arg, const char *message);
static void ngx_http_notify_pg_connect(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_retry(ngx_event_t *ev);
static ngx_int_t ngx_http_notify_pg_attach(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_detach(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_fail(ngx_http_notify_pg_conn_t *pc, int err);
static void ngx_http_notify_pg_handler(ngx_event_t *ev);
static void ngx_http_notify_pg_poll(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_results(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_stage_end(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_send(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_flush(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_idle(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_run(ngx_http_notify_pg_job_t *job);
static const char *ngx_http_notify_pg_error(const char *message);
static void ngx_http_notify_pg_conn_init(ngx_cycle_t *cycle,
    ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_conn_close(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_listen(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_listen_read(ngx_http_notify_pg_conn_t *pc);
static void ngx_http_notify_pg_heard(u_char *payload, size_t len);
static u_char *ngx_http_notify_pg_announce(u_char *p,
    ngx_http_notify_store_op_t *op, uint64_t seq);

static ngx_int_t ngx_http_notify_pg_batch_send(ngx_http_notify_pg_job_t *job,
    PGconn *pg);
static int ngx_http_notify_pg_batch_result(ngx_http_notify_pg_job_t *job,
    PGresult *res, ngx_uint_t n);
static void ngx_http_notify_pg_batch_end(ngx_http_notify_pg_job_t *job,
    int err);
static ngx_http_notify_store_op_t *ngx_http_notify_pg_next(
    ngx_http_notify_store_op_t *op, ngx_uint_t stage);
static u_char *ngx_http_notify_pg_names(void *names, size_t stride,
    ngx_uint_t n);
static u_char *ngx_http_notify_pg_numbers(u_char *p, int64_t *v,
    ngx_uint_t n);
static u_char *ngx_http_notify_pg_quota(ngx_http_notify_store_op_t *op,
    ngx_http_notify_pg_params_t *pp);
static u_char *ngx_http_notify_pg_entries(ngx_http_notify_store_op_t *op,
    ngx_http_notify_pg_params_t *pp, u_char **firsts);
static int ngx_http_notify_pg_op_send(ngx_http_notify_store_op_t *op,
    PGconn *pg, uint64_t seq);
static int ngx_http_notify_pg_op_result(ngx_http_notify_store_op_t *op,
    PGresult *res);
static int ngx_http_notify_pg_claimed(ngx_http_notify_store_op_t *op,
    PGresult *res);

static ngx_int_t ngx_http_notify_pg_read_send(ngx_http_notify_pg_job_t *job,
    PGconn *pg);
static int ngx_http_notify_pg_read_result(ngx_http_notify_pg_job_t *job,
    PGresult *res, ngx_uint_t n);
static void ngx_http_notify_pg_read_end(ngx_http_notify_pg_job_t *job,
    int err);
static int ngx_http_notify_pg_dead_items(ngx_http_notify_store_read_t *rd,
    PGresult *res);


ngx_http_notify_store_backend_t  ngx_http_notify_store_pg = {
    "postgres",
    ngx_http_notify_pg_init_module,
    ngx_http_notify_pg_open,
    ngx_http_notify_pg_close,
    NULL,                               /* check */
    ngx_http_notify_pg_version,
    ngx_http_notify_pg_strerror,
    NULL,                               /* room */
    NULL, NULL, NULL, NULL,             /* no transaction in a thread: */
    NULL, NULL, NULL,                   /* submit() writes the batch */
    NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL,             /* reads: read() */
    ngx_http_notify_pg_stats,
    ngx_http_notify_pg_read,
    ngx_http_notify_pg_submit,
    NULL,                               /* the feed's states: by */
    NULL,                               /* submit() and read() */
    1,
    NULL,                               /* dead letters: submit() */
    NULL                                /* and read() */
};


static ngx_http_notify_pg_t  ngx_http_notify_pg;

/* this node, in its announcements: made by the master once, kept across
   reloads, so that old and new workers are one node */
static uint64_t  ngx_http_notify_pg_node;


/* the outbox's clock, as LMDB's: this node's, in msec */

static uint64_t
ngx_http_notify_pg_now(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* the parameters of a query */

static void
ngx_http_notify_pg_num(ngx_http_notify_pg_params_t *pp, int64_t v)
{
    u_char  *s;

    s = pp->nums[pp->n];
    *ngx_sprintf(s, "%L", v) = '\0';

    pp->values[pp->n] = (char *) s;
    pp->lengths[pp->n] = 0;
    pp->formats[pp->n] = 0;
    pp->n++;
}


static void
ngx_http_notify_pg_text(ngx_http_notify_pg_params_t *pp, const char *s)
{
    pp->values[pp->n] = s;             /* NULL: SQL's NULL */
    pp->lengths[pp->n] = 0;
    pp->formats[pp->n] = 0;
    pp->n++;
}


static void
ngx_http_notify_pg_bin(ngx_http_notify_pg_params_t *pp, u_char *data,
    size_t len)
{
    pp->values[pp->n] = (char *) data;  /* NULL: SQL's NULL */
    pp->lengths[pp->n] = (int) len;
    pp->formats[pp->n] = 1;
    pp->n++;
}


static int
ngx_http_notify_pg_query(PGconn *pg, const char *sql,
    ngx_http_notify_pg_params_t *pp)
{
    /* binary results; libpq copies the parameters before it returns */

    if (!PQsendQueryParams(pg, sql, pp ? pp->n : 0, NULL,
                           pp ? pp->values : NULL, pp ? pp->lengths : NULL,
                           pp ? pp->formats : NULL, 1))
    {
        (void) ngx_http_notify_pg_error(PQerrorMessage(pg));
        return NGX_HTTP_NOTIFY_PG_ESERVER;
    }

    return 0;
}


/*
 * Arrays as parameters, in their text form: names (a target's is letters,
 * digits, "-", "_" and "."; quoted all the same), every "stride" bytes
 * from "names"; numbers.  ngx_alloc()ed, NUL-ended.
 */

static u_char *
ngx_http_notify_pg_names(void *names, size_t stride, ngx_uint_t n)
{
    u_char      *buf, *p;
    size_t       len;
    ngx_str_t   *name;
    ngx_uint_t   i;

    len = 3;

    for (i = 0; i < n; i++) {
        name = (ngx_str_t *) ((u_char *) names + i * stride);
        len += name->len + 3;
    }

    buf = ngx_alloc(len, ngx_cycle->log);
    if (buf == NULL) {
        return NULL;
    }

    p = buf;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        name = (ngx_str_t *) ((u_char *) names + i * stride);

        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, name->data, name->len);
        *p++ = '"';
    }

    *p++ = '}';
    *p = '\0';

    return buf;
}


static u_char *
ngx_http_notify_pg_numbers(u_char *p, int64_t *v, ngx_uint_t n)
{
    ngx_uint_t  i;

    *p++ = '{';

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "%L", v[i]);
    }

    *p++ = '}';
    *p++ = '\0';

    return p;
}


/* OUTBOX_CLAIM: the targets and their quotas, $1 and $2 */

static u_char *
ngx_http_notify_pg_quota(ngx_http_notify_store_op_t *op,
    ngx_http_notify_pg_params_t *pp)
{
    u_char      *names, *nums;
    int64_t      v[NGX_HTTP_NOTIFY_PG_TARGETS];
    ngx_uint_t   i, n;

    n = ngx_min(op->nquota, NGX_HTTP_NOTIFY_PG_TARGETS);

    names = ngx_http_notify_pg_names(op->quota,
                                     sizeof(ngx_http_notify_claim_quota_t), n);
    if (names == NULL) {
        return NULL;
    }

    nums = ngx_alloc(ngx_strlen(names) + 1 + 3 + n * (NGX_INT64_LEN + 1),
                     ngx_cycle->log);
    if (nums == NULL) {
        ngx_free(names);
        return NULL;
    }

    /* one buffer for both: the names, then the numbers */

    ngx_memcpy(nums, names, ngx_strlen(names) + 1);
    ngx_free(names);
    names = nums;
    nums += ngx_strlen(names) + 1;

    for (i = 0; i < n; i++) {
        v[i] = (int64_t) op->quota[i].max;
    }

    (void) ngx_http_notify_pg_numbers(nums, v, n);

    ngx_http_notify_pg_text(pp, (char *) names);
    ngx_http_notify_pg_text(pp, (char *) nums);

    return names;
}


/*
 * PUT: the entries, $10 to $15 of outbox_add(): targets, parts, the
 * first recipient and how many of each part, due times, expiries; and in
 * "firsts" (for outbox_chain()) which of them have a first attempt (1)
 */

static u_char *
ngx_http_notify_pg_entries(ngx_http_notify_store_op_t *op,
    ngx_http_notify_pg_params_t *pp, u_char **firsts)
{
    u_char                        *names, *buf, *p;
    size_t                         len, nlen;
    int64_t                       *v;
    ngx_uint_t                     i, k, n;
    ngx_http_notify_outbox_put_t  *oe;

    n = op->nentries;
    oe = op->entries;

    names = ngx_http_notify_pg_names(&oe->target,
                                     sizeof(ngx_http_notify_outbox_put_t), n);
    if (names == NULL) {
        return NULL;
    }

    nlen = ngx_strlen(names) + 1;
    len = nlen + 6 * (3 + n * (NGX_INT64_LEN + 1));

    buf = ngx_alloc(len, ngx_cycle->log);
    v = ngx_alloc((n ? n : 1) * sizeof(int64_t), ngx_cycle->log);

    if (buf == NULL || v == NULL) {
        ngx_free(buf);
        ngx_free(v);
        ngx_free(names);
        return NULL;
    }

    ngx_memcpy(buf, names, nlen);
    ngx_free(names);

    ngx_http_notify_pg_text(pp, (char *) buf);

    p = buf + nlen;

    for (k = 0; k < 6; k++) {
        for (i = 0; i < n; i++) {
            switch (k) {
            case 0:
                v[i] = (int64_t) oe[i].part;
                break;
            case 1:
                v[i] = (int64_t) oe[i].first;
                break;
            case 2:
                v[i] = (int64_t) oe[i].n;
                break;
            case 3:
                v[i] = (int64_t) oe[i].due;
                break;
            case 4:
                v[i] = (int64_t) oe[i].expires;
                break;
            default:
                v[i] = (oe[i].data != NULL);
            }
        }

        if (k < 5) {
            ngx_http_notify_pg_text(pp, (char *) p);

        } else {
            *firsts = p;
        }

        p = ngx_http_notify_pg_numbers(p, v, n);
    }

    ngx_free(v);

    return buf;
}


/* the values of binary results */

static uint64_t
ngx_http_notify_pg_u64(PGresult *res, int row, int col)
{
    u_char      *p;
    uint64_t     v;
    ngx_uint_t   i;

    p = (u_char *) PQgetvalue(res, row, col);

    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8) {
        return 0;
    }

    for (v = 0, i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }

    return v;
}


static uint32_t
ngx_http_notify_pg_u32(PGresult *res, int row, int col)
{
    u_char  *p;

    p = (u_char *) PQgetvalue(res, row, col);

    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 4) {
        return 0;
    }

    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


static ngx_uint_t
ngx_http_notify_pg_bool(PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetlength(res, row, col) == 1
           && *PQgetvalue(res, row, col) != 0;
}


/* configuration: the conninfo is libpq's; the log's name has no secret */

ngx_int_t
ngx_http_notify_store_pg_check(ngx_conf_t *cf,
    ngx_http_notify_store_conf_t *scf)
{
    u_char               *p, *conninfo, *name, *last;
    char                 *err;
    size_t                len;
    const char           *host, *port, *db, *hostaddr;
    PQconninfoOption     *opts, *o;

    conninfo = ngx_pnalloc(cf->pool, scf->path.len + 1);
    if (conninfo == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(conninfo, scf->path.data, scf->path.len + 1);

    err = NULL;
    opts = PQconninfoParse((char *) conninfo, &err);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid PostgreSQL URL of notify_store: %s",
                           err ? err : "out of memory");
        PQfreemem(err);
        return NGX_ERROR;
    }

    host = "";
    port = "";
    db = "";
    hostaddr = "";

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = o->val;

        } else if (ngx_strcmp(o->keyword, "dbname") == 0) {
            db = o->val;
        }
    }

    /*
     * libpq resolves a host name as it connects, blocking the worker: each
     * host is an address or a Unix socket folder, unless hostaddr= gives
     * the addresses (the names then serve TLS's checks only)
     */

    if (*hostaddr == '\0') {
        for (name = (u_char *) host; *name; name = last + (*last == ',')) {
            last = (u_char *) ngx_strchr(name, ',');

            if (last == NULL) {
                last = name + ngx_strlen(name);
            }

            if (last == name || *name == '/' || *name == '@'
                || ngx_inet_addr(name, last - name) != INADDR_NONE)
            {
                continue;
            }

#if (NGX_HAVE_INET6)
            {
            struct in6_addr  a6;

            if (ngx_inet6_addr(name, last - name, a6.s6_addr) == NGX_OK) {
                continue;
            }
            }
#endif

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_store: the PostgreSQL host \"%*s\" is"
                               " a name, which libpq would resolve in the"
                               " worker, blocking it: give an address or a"
                               " Unix socket folder, or the addresses in"
                               " \"hostaddr\"", last - name, name);
            PQconninfoFree(opts);
            return NGX_ERROR;
        }
    }

    len = sizeof("postgres://:/ schema=") - 1 + ngx_strlen(host)
          + ngx_strlen(port) + ngx_strlen(db) + scf->schema.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        PQconninfoFree(opts);
        return NGX_ERROR;
    }

    scf->name.data = p;
    scf->name.len = ngx_sprintf(p, "postgres://%s%s%s/%s schema=%V",
                                host, *port ? ":" : "", port, db,
                                &scf->schema)
                    - p;

    PQconninfoFree(opts);

    /* the conninfo, NUL-ended, for libpq */
    scf->path.data = conninfo;

    return NGX_OK;
}


/* "@" in a query is the schema */

static char *
ngx_http_notify_pg_sql(ngx_pool_t *pool, const char *tmpl, ngx_str_t *schema)
{
    u_char      *sql, *p;
    size_t       len;
    const char  *s;

    len = 1;

    for (s = tmpl; *s; s++) {
        len += (*s == '@') ? schema->len : 1;
    }

    sql = ngx_pnalloc(pool, len);
    if (sql == NULL) {
        return NULL;
    }

    for (p = sql, s = tmpl; *s; s++) {
        if (*s == '@') {
            p = ngx_cpymem(p, schema->data, schema->len);

        } else {
            *p++ = *s;
        }
    }

    *p = '\0';

    return (char *) sql;
}


static void
ngx_http_notify_pg_notice(void *arg, const char *message)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "notify: postgres: %s", message);
}


/*
 * The master, at start and at each reload, before the workers: the schema
 * created, or migrated to the version this module knows, under an
 * advisory lock (nodes starting together), waited for 10 s at most.  A
 * blocking connection, closed before the workers are made.  A failure
 * stops the first start; at a reload nginx would exit with its workers
 * left behind, so it is logged and the reload goes on: the new workers
 * connect when the server is back, as after any loss.
 */

static ngx_int_t
ngx_http_notify_pg_init_module(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf)
{
    int                                    version;
    char                                  *sql;
    PGconn                                *pg;
    ngx_uint_t                             created, level, reload;
    ngx_int_t                              rc;
    PGresult                              *res;
    ngx_uint_t                             i;
    const ngx_http_notify_pg_migration_t  *m;
    const char                            *keywords[3], *values[3], *param;

    static const char  *steps[] = {
        "BEGIN",
        "SET LOCAL lock_timeout = '10s'",
        "SELECT pg_advisory_xact_lock(hashtext('ngx_http_notify.' || $1))",
        "CREATE SCHEMA IF NOT EXISTS @",
        ngx_http_notify_pg_meta,
        "SELECT version FROM @.meta",
        NULL
    };

    if (ngx_test_config) {
        return NGX_OK;
    }

    reload = !ngx_is_init_cycle(cycle->old_cycle);
    level = reload ? NGX_LOG_ERR : NGX_LOG_EMERG;

    while (ngx_http_notify_pg_node == 0) {
        if (RAND_bytes((u_char *) &ngx_http_notify_pg_node,
                       sizeof(uint64_t))
            != 1)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "notify: RAND_bytes() failed");
            return NGX_ERROR;
        }

        /* 63 bits: a positive ngx_int_t, as ngx_hextoi() reads it */
        ngx_http_notify_pg_node &= 0x7fffffffffffffffULL;
    }

    keywords[0] = "connect_timeout";
    values[0] = "10";
    keywords[1] = "dbname";
    values[1] = (char *) scf->path.data;
    keywords[2] = NULL;
    values[2] = NULL;

    pg = PQconnectdbParams(keywords, values, 1);

    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        ngx_log_error(level, cycle->log, 0,
                      "notify: store \"%V\": cannot connect: %s", &scf->name,
                      pg ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        return ngx_http_notify_pg_init_failed(cycle, scf, reload);
    }

    PQsetNoticeProcessor(pg, ngx_http_notify_pg_notice, NULL);

    rc = NGX_ERROR;
    res = NULL;
    version = 0;
    created = 0;
    param = (char *) ngx_http_notify_pg_sql(cycle->pool, "@",
                                            &scf->schema);
    if (param == NULL) {
        goto done;
    }

    for (i = 0; steps[i]; i++) {
        sql = ngx_http_notify_pg_sql(cycle->pool, steps[i], &scf->schema);
        if (sql == NULL) {
            goto done;
        }

        res = PQexecParams(pg, sql, i == 2 ? 1 : 0, NULL, &param, NULL,
                           NULL, 0);

        if (PQresultStatus(res) != PGRES_COMMAND_OK
            && PQresultStatus(res) != PGRES_TUPLES_OK)
        {
            goto failed;
        }

        if (steps[i + 1] == NULL && PQntuples(res) == 1) {
            version = ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                               PQgetlength(res, 0, 0));
        }

        PQclear(res);
        res = NULL;
    }

    if (version > NGX_HTTP_NOTIFY_PG_VERSION) {
        ngx_log_error(level, cycle->log, 0,
                      "notify: store \"%V\": the schema \"%V\" is of"
                      " version %d, newer than this module knows (%d):"
                      " upgrade the module, or name another schema",
                      &scf->name, &scf->schema, version,
                      NGX_HTTP_NOTIFY_PG_VERSION);
        goto done;
    }

    if (version == 0) {

        /* a new schema: version 1 */

        sql = ngx_http_notify_pg_sql(cycle->pool, ngx_http_notify_pg_v1,
                                     &scf->schema);
        if (sql == NULL) {
            goto done;
        }

        res = PQexec(pg, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            goto failed;
        }

        PQclear(res);

        sql = ngx_http_notify_pg_sql(cycle->pool,
                                     "INSERT INTO @.meta (version, last_seq)"
                                     " VALUES (1, 0)", &scf->schema);
        if (sql == NULL) {
            res = NULL;
            goto done;
        }

        res = PQexec(pg, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            goto failed;
        }

        PQclear(res);
        res = NULL;

        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "notify: store \"%V\": schema \"%V\" created"
                      " (version %d)", &scf->name, &scf->schema,
                      NGX_HTTP_NOTIFY_PG_VERSION);

        /* and made the latest by the migrations below */
        version = 1;
        created = 1;
    }

    /* migrations from an older version, one by one */

    for (i = 0; i < sizeof(ngx_http_notify_pg_migrations)
                    / sizeof(ngx_http_notify_pg_migrations[0]); i++)
    {
        m = &ngx_http_notify_pg_migrations[i];

        if (version > m->from) {
            continue;
        }

        sql = ngx_http_notify_pg_sql(cycle->pool, m->sql, &scf->schema);
        if (sql == NULL) {
            goto done;
        }

        res = PQexec(pg, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            goto failed;
        }

        PQclear(res);
        res = NULL;

        if (!created) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "notify: store \"%V\": schema \"%V\" migrated"
                          " to version %d (%s)", &scf->name, &scf->schema,
                          m->from + 1, m->what);
        }
    }

    res = PQexec(pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        goto failed;
    }

    PQclear(res);
    res = NULL;

    rc = NGX_OK;
    goto done;

failed:

    ngx_log_error(level, cycle->log, 0,
                  "notify: store \"%V\": the schema \"%V\" could not be"
                  " made: %s", &scf->name, &scf->schema,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(pg));

done:

    PQclear(res);
    PQfinish(pg);

    if (rc != NGX_OK) {
        return ngx_http_notify_pg_init_failed(cycle, scf, reload);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_pg_init_failed(ngx_cycle_t *cycle,
    ngx_http_notify_store_conf_t *scf, ngx_uint_t reload)
{
    if (!reload) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                  "notify: store \"%V\": the schema was not checked; the"
                  " reload goes on, the workers connect when they can",
                  &scf->name);

    return NGX_OK;
}


/* each worker: its connections, made on the event loop */

static int
ngx_http_notify_pg_open(ngx_cycle_t *cycle, ngx_http_notify_store_conf_t *scf)
{
    u_char                     *p;
    ngx_uint_t                  i;
    ngx_http_notify_pg_t       *st;
    ngx_http_notify_pg_conn_t  *pc;

    st = &ngx_http_notify_pg;

    ngx_memzero(st, sizeof(ngx_http_notify_pg_t));
    ngx_queue_init(&st->waiting);

    st->log = cycle->log;
    st->timeout = scf->timeout;
    st->name = scf->name;
    st->nconns = scf->connections;

    /*
     * The server ends a statement before the client gives up on it (and
     * drops the connection): its locks go with it.  Before "dbname", so
     * that the URL's own "options" are taken instead.
     */

    p = ngx_pnalloc(cycle->pool, sizeof("-c statement_timeout=ms")
                                 + NGX_INT_T_LEN);
    if (p == NULL) {
        return ENOMEM;
    }

    (void) ngx_sprintf(p, "-c statement_timeout=%Mms%Z",
                       scf->timeout - scf->timeout / 10);

    st->keywords[0] = "connect_timeout";
    st->values[0] = "10";
    st->keywords[1] = "options";
    st->values[1] = (char *) p;
    st->keywords[2] = "dbname";
    st->values[2] = (char *) scf->path.data;
    st->keywords[3] = "client_encoding";
    st->values[3] = "UTF8";

#define ngx_http_notify_pg_q(name)                                            \
    st->name = ngx_http_notify_pg_sql(cycle->pool,                            \
                                      ngx_http_notify_pg_##name,              \
                                      &scf->schema);                          \
    if (st->name == NULL) {                                                   \
        return ENOMEM;                                                        \
    }

    ngx_http_notify_pg_q(q_lock);
    ngx_http_notify_pg_q(q_last);
    ngx_http_notify_pg_q(q_idem);
    ngx_http_notify_pg_q(q_put);
    ngx_http_notify_pg_q(q_read);
    ngx_http_notify_pg_q(q_until);
    ngx_http_notify_pg_q(q_prune);
    ngx_http_notify_pg_q(q_claim);
    ngx_http_notify_pg_q(q_finish);
    ngx_http_notify_pg_q(q_feed);
    ngx_http_notify_pg_q(q_unread);
    ngx_http_notify_pg_q(q_outbox);
    ngx_http_notify_pg_q(q_due);
    ngx_http_notify_pg_q(q_stats);
    ngx_http_notify_pg_q(q_change);
    ngx_http_notify_pg_q(q_counts);
    ngx_http_notify_pg_q(q_listen);
    ngx_http_notify_pg_q(q_dead);
    ngx_http_notify_pg_q(q_dead_change);

#undef ngx_http_notify_pg_q

    st->conns = ngx_pcalloc(cycle->pool,
                            st->nconns * sizeof(ngx_http_notify_pg_conn_t));
    if (st->conns == NULL) {
        return ENOMEM;
    }

    for (i = 0; i < st->nconns; i++) {
        pc = &st->conns[i];

        ngx_http_notify_pg_conn_init(cycle, pc);
        ngx_http_notify_pg_connect(pc);
    }

    /*
     * the first worker listens for the other nodes' changes, from the
     * first turn of its loop: by then the stream has said whether it
     * watches the store (no watcher, no listening)
     */

    if (ngx_process == NGX_PROCESS_SINGLE
        || (ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0))
    {
        pc = &st->listener;

        ngx_http_notify_pg_conn_init(cycle, pc);
        pc->listen = 1;

        ngx_add_timer(&pc->retry, 1);
    }

    return 0;
}


static void
ngx_http_notify_pg_conn_init(ngx_cycle_t *cycle,
    ngx_http_notify_pg_conn_t *pc)
{
    pc->backoff = NGX_HTTP_NOTIFY_PG_BACKOFF_MIN;
    pc->retry_conn.fd = (ngx_socket_t) -1;
    pc->retry.handler = ngx_http_notify_pg_retry;
    pc->retry.data = &pc->retry_conn;
    pc->retry.log = cycle->log;
    pc->retry.cancelable = 1;
    pc->retry_conn.data = pc;
}


static void
ngx_http_notify_pg_close(ngx_cycle_t *cycle)
{
    ngx_uint_t             i;
    ngx_http_notify_pg_t  *st;

    st = &ngx_http_notify_pg;

    for (i = 0; i < st->nconns; i++) {
        ngx_http_notify_pg_conn_close(&st->conns[i]);
    }

    ngx_http_notify_pg_conn_close(&st->listener);
}


static void
ngx_http_notify_pg_conn_close(ngx_http_notify_pg_conn_t *pc)
{
    if (pc->retry.timer_set) {
        ngx_del_timer(&pc->retry);
    }

    ngx_http_notify_pg_detach(pc);

    if (pc->pg) {
        PQfinish(pc->pg);
        pc->pg = NULL;
    }

    pc->state = NGX_HTTP_NOTIFY_PG_DOWN;
}


static const char *
ngx_http_notify_pg_version(void)
{
    static char  version[NGX_INT_T_LEN * 2 + 2];
    int          v;

    v = PQlibVersion();

    *ngx_sprintf((u_char *) version, "%d.%d", v / 10000, v % 10000) = '\0';

    return version;
}


static const char *
ngx_http_notify_pg_strerror(int err)
{
    switch (err) {

    case NGX_HTTP_NOTIFY_PG_EDOWN:
        return "PostgreSQL is not reachable";

    case NGX_HTTP_NOTIFY_PG_ESERVER:
        return ngx_http_notify_pg.error[0] ? ngx_http_notify_pg.error
                                           : "PostgreSQL error";

    case NGX_HTTP_NOTIFY_PG_ETIMEDOUT:
        return "PostgreSQL did not answer in time";

    case NGX_HTTP_NOTIFY_PG_EPROTO:
        return "PostgreSQL answered what the store did not expect";

    default:
        return strerror(err);
    }
}


/* notify_metrics: a read (READ_STATS); nothing of it at once */

static ngx_int_t
ngx_http_notify_pg_stats(ngx_http_notify_store_stats_t *stats,
    ngx_log_t *log)
{
    return NGX_DECLINED;
}


/* the connections */

static void
ngx_http_notify_pg_connect(ngx_http_notify_pg_conn_t *pc)
{
    ngx_http_notify_pg_t  *st;

    st = &ngx_http_notify_pg;

    if (pc->listen && !ngx_http_notify_store_watched()) {
        return;
    }

    pc->pg = PQconnectStartParams(st->keywords, st->values, 1);

    if (pc->pg == NULL || PQstatus(pc->pg) == CONNECTION_BAD
        || PQsocket(pc->pg) == -1)
    {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    PQsetNoticeProcessor(pc->pg, ngx_http_notify_pg_notice, NULL);

    pc->state = NGX_HTTP_NOTIFY_PG_CONNECTING;

    if (ngx_http_notify_pg_attach(pc) != NGX_OK) {
        ngx_http_notify_pg_fail(pc, ENOMEM);
        return;
    }

    ngx_add_timer(pc->c->read, st->timeout);

    /* PQconnectStart*() is as if PQconnectPoll() had said "writing" */

    if (ngx_add_event(pc->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
        != NGX_OK)
    {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
    }
}


static void
ngx_http_notify_pg_retry(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_notify_pg_connect(c->data);
}


/* libpq's socket as an nginx connection, read events level-triggered */

static ngx_int_t
ngx_http_notify_pg_attach(ngx_http_notify_pg_conn_t *pc)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(PQsocket(pc->pg), ngx_http_notify_pg.log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = pc;
    c->log = ngx_http_notify_pg.log;
    c->read->handler = ngx_http_notify_pg_handler;
    c->write->handler = ngx_http_notify_pg_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    pc->c = c;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the nginx connection goes; the socket stays libpq's, to close */

static void
ngx_http_notify_pg_detach(ngx_http_notify_pg_conn_t *pc)
{
    ngx_connection_t  *c;

    c = pc->c;

    if (c == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /*
     * libpq has closed the socket (a lost connection, another address) or
     * is about to (PQfinish()): a closed socket leaves epoll by itself
     */

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    pc->c = NULL;
}


/*
 * A connection is lost (or was never made): its job fails, it is made
 * again after a backoff; while no connection is left, jobs fail at once
 * (503), they do not wait.
 */

static void
ngx_http_notify_pg_fail(ngx_http_notify_pg_conn_t *pc, int err)
{
    ngx_uint_t                  i, up;
    ngx_queue_t                *q;
    ngx_http_notify_pg_t       *st;
    ngx_http_notify_pg_job_t   *job;

    st = &ngx_http_notify_pg;

    if (pc->state != NGX_HTTP_NOTIFY_PG_DOWN) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "notify: store \"%V\": %sconnection %s: %s", &st->name,
                      pc->listen ? "LISTEN " : "",
                      pc->state == NGX_HTTP_NOTIFY_PG_CONNECTING
                      ? "failed" : "lost",
                      err == NGX_HTTP_NOTIFY_PG_EDOWN && pc->pg
                      ? ngx_http_notify_pg_error(PQerrorMessage(pc->pg))
                      : ngx_http_notify_pg_strerror(err));
    }

    ngx_http_notify_pg_detach(pc);

    if (pc->pg) {
        PQfinish(pc->pg);
        pc->pg = NULL;
    }

    pc->state = NGX_HTTP_NOTIFY_PG_DOWN;
    pc->rollback = 0;

    job = pc->job;
    pc->job = NULL;

    if (!(ngx_exiting || ngx_quit || ngx_terminate)) {
        ngx_add_timer(&pc->retry, pc->backoff);
        pc->backoff = ngx_min(pc->backoff * 2,
                              NGX_HTTP_NOTIFY_PG_BACKOFF_MAX);
    }

    if (pc->listen) {
        /* no job, and none of the others' business */
        return;
    }

    up = 0;

    for (i = 0; i < st->nconns; i++) {
        if (st->conns[i].state == NGX_HTTP_NOTIFY_PG_IDLE
            || st->conns[i].state == NGX_HTTP_NOTIFY_PG_BUSY)
        {
            up = 1;
        }
    }

    if (!up) {
        st->down = 1;
    }

    if (job) {
        job->end(job, err);
    }

    if (up) {
        return;
    }

    while (!ngx_queue_empty(&st->waiting)) {
        q = ngx_queue_head(&st->waiting);
        ngx_queue_remove(q);

        job = ngx_queue_data(q, ngx_http_notify_pg_job_t, queue);
        job->end(job, NGX_HTTP_NOTIFY_PG_EDOWN);
    }
}


static void
ngx_http_notify_pg_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_notify_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    if (ev->timedout) {
        ev->timedout = 0;
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_ETIMEDOUT);
        return;
    }

    switch (pc->state) {

    case NGX_HTTP_NOTIFY_PG_CONNECTING:
        ngx_http_notify_pg_poll(pc);
        return;

    case NGX_HTTP_NOTIFY_PG_IDLE:
    case NGX_HTTP_NOTIFY_PG_BUSY:
        if (ev->write) {
            ngx_http_notify_pg_flush(pc);
            return;
        }

        if (pc->listen) {
            ngx_http_notify_pg_listen_read(pc);
            return;
        }

        ngx_http_notify_pg_results(pc);
        return;

    default:
        return;
    }
}


static void
ngx_http_notify_pg_poll(ngx_http_notify_pg_conn_t *pc)
{
    ngx_socket_t                 fd;
    ngx_connection_t            *c;
    PostgresPollingStatusType    rc;

    /*
     * libpq may close its socket and open another in this call (another
     * address, TLS or GSS tried again without): often under the same
     * number, which epoll no longer watches.  So the socket leaves epoll
     * while it is open, and whichever socket libpq has after is watched
     * afresh.
     */

    c = pc->c;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    rc = PQconnectPoll(pc->pg);

    if (rc == PGRES_POLLING_FAILED) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    fd = PQsocket(pc->pg);

    if (fd == (ngx_socket_t) -1) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    if (fd != c->fd) {
        ngx_http_notify_pg_detach(pc);

        if (ngx_http_notify_pg_attach(pc) != NGX_OK) {
            ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
            return;
        }

        ngx_add_timer(pc->c->read, ngx_http_notify_pg.timeout);

    } else if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
               != NGX_OK)
    {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    if (rc == PGRES_POLLING_WRITING) {
        if (!pc->c->write->active
            && ngx_add_event(pc->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
               != NGX_OK)
        {
            ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        }

        return;
    }

    if (pc->c->write->active) {
        (void) ngx_del_event(pc->c->write, NGX_WRITE_EVENT, 0);
    }

    if (rc == PGRES_POLLING_READING) {
        return;
    }

    /* PGRES_POLLING_OK */

    if (PQsetnonblocking(pc->pg, 1) != 0
        || (!pc->listen && !PQenterPipelineMode(pc->pg)))
    {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    if (pc->listen) {
        ngx_http_notify_pg_listen(pc);
        return;
    }

    if (ngx_http_notify_pg.down) {
        ngx_log_error(NGX_LOG_NOTICE, pc->c->log, 0,
                      "notify: store \"%V\": connected again",
                      &ngx_http_notify_pg.name);
    }

    ngx_http_notify_pg.down = 0;
    pc->backoff = NGX_HTTP_NOTIFY_PG_BACKOFF_MIN;

    ngx_http_notify_pg_idle(pc);
}


/* a connection is free: the next job that waits, if any */

static void
ngx_http_notify_pg_idle(ngx_http_notify_pg_conn_t *pc)
{
    ngx_queue_t               *q;
    ngx_http_notify_pg_t      *st;
    ngx_http_notify_pg_job_t  *job;

    st = &ngx_http_notify_pg;

    pc->state = NGX_HTTP_NOTIFY_PG_IDLE;
    pc->job = NULL;

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    if (ngx_queue_empty(&st->waiting)) {
        return;
    }

    q = ngx_queue_head(&st->waiting);
    ngx_queue_remove(q);

    job = ngx_queue_data(q, ngx_http_notify_pg_job_t, queue);

    pc->state = NGX_HTTP_NOTIFY_PG_BUSY;
    pc->job = job;
    job->stage = 0;

    ngx_http_notify_pg_send(pc);
}


/* a job: on a free connection, or waiting for one, or failed at once */

static void
ngx_http_notify_pg_run(ngx_http_notify_pg_job_t *job)
{
    ngx_uint_t                  i, wait;
    ngx_http_notify_pg_t       *st;
    ngx_http_notify_pg_conn_t  *pc;

    st = &ngx_http_notify_pg;

    job->stage = 0;
    job->err = 0;
    wait = 0;

    for (i = 0; i < st->nconns; i++) {
        pc = &st->conns[i];

        if (pc->state == NGX_HTTP_NOTIFY_PG_IDLE) {
            pc->state = NGX_HTTP_NOTIFY_PG_BUSY;
            pc->job = job;
            ngx_http_notify_pg_send(pc);
            return;
        }

        if (pc->state == NGX_HTTP_NOTIFY_PG_BUSY
            || (pc->state == NGX_HTTP_NOTIFY_PG_CONNECTING && !st->down))
        {
            wait = 1;
        }
    }

    if (!wait) {
        job->end(job, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    ngx_queue_insert_tail(&st->waiting, &job->queue);
}


/* a stage of the job: its queries, then a sync */

static void
ngx_http_notify_pg_send(ngx_http_notify_pg_conn_t *pc)
{
    ngx_int_t                  rc;
    ngx_http_notify_pg_job_t  *job;

    job = pc->job;
    job->nresults = 0;

    rc = job->send(job, pc->pg);

    if (rc == NGX_DONE) {
        ngx_http_notify_pg_idle(pc);
        job->end(job, 0);
        return;
    }

    if (rc == NGX_ERROR) {
        /* nothing was sent of a failing stage: its error, the connection
           is not trusted further */
        ngx_http_notify_pg_fail(pc, job->err ? job->err
                                             : NGX_HTTP_NOTIFY_PG_ESERVER);
        return;
    }

    if (!PQpipelineSync(pc->pg)) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    ngx_add_timer(pc->c->read, ngx_http_notify_pg.timeout);

    ngx_http_notify_pg_flush(pc);
}


static void
ngx_http_notify_pg_flush(ngx_http_notify_pg_conn_t *pc)
{
    int  rc;

    rc = PQflush(pc->pg);

    if (rc < 0) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    if (rc == 1) {
        if (!pc->c->write->active
            && ngx_add_event(pc->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
               != NGX_OK)
        {
            ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        }

        return;
    }

    if (pc->c->write->active) {
        (void) ngx_del_event(pc->c->write, NGX_WRITE_EVENT, 0);
    }
}


/* what the server answered: the results of the queries, then the sync */

static void
ngx_http_notify_pg_results(ngx_http_notify_pg_conn_t *pc)
{
    int                        err;
    PGresult                  *res;
    ngx_uint_t                 nulls;
    ngx_http_notify_pg_job_t  *job;

    if (!PQconsumeInput(pc->pg)) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    nulls = 0;

    while (!PQisBusy(pc->pg)) {
        res = PQgetResult(pc->pg);

        if (res == NULL) {
            /* the end of one query's results; twice: nothing more now */
            if (++nulls == 2) {
                break;
            }

            continue;
        }

        nulls = 0;
        job = pc->job;

        if (job == NULL) {
            /* an idle connection got something: the server is leaving */
            PQclear(res);
            ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
            return;
        }

        switch (PQresultStatus(res)) {

        case PGRES_PIPELINE_SYNC:
            PQclear(res);
            ngx_http_notify_pg_stage_end(pc);
            return;

        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
            if (job->err == 0 && !pc->rollback) {
                err = job->result(job, res, job->nresults);

                if (err) {
                    job->err = err;
                }
            }

            job->nresults++;
            break;

        case PGRES_PIPELINE_ABORTED:
            break;

        default:
            if (job->err == 0) {
                (void) ngx_http_notify_pg_error(PQresultErrorMessage(res));
                job->err = NGX_HTTP_NOTIFY_PG_ESERVER;
            }

            break;
        }

        PQclear(res);
    }

    if (PQstatus(pc->pg) == CONNECTION_BAD) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
    }
}


/*
 * A stage answered.  A transaction an error left open is rolled back
 * first; then the job's next stage, or its end.
 */

static void
ngx_http_notify_pg_stage_end(ngx_http_notify_pg_conn_t *pc)
{
    ngx_http_notify_pg_job_t  *job;

    job = pc->job;

    if (pc->rollback) {
        pc->rollback = 0;
        ngx_http_notify_pg_idle(pc);
        job->end(job, job->err);
        return;
    }

    if (job->err) {
        if (PQtransactionStatus(pc->pg) != PQTRANS_IDLE) {
            pc->rollback = 1;

            if (ngx_http_notify_pg_query(pc->pg,
                                         ngx_http_notify_pg_q_rollback, NULL)
                != 0
                || !PQpipelineSync(pc->pg))
            {
                ngx_http_notify_pg_fail(pc, job->err);
                return;
            }

            ngx_add_timer(pc->c->read, ngx_http_notify_pg.timeout);
            ngx_http_notify_pg_flush(pc);
            return;
        }

        ngx_http_notify_pg_idle(pc);
        job->end(job, job->err);
        return;
    }

    job->stage++;

    ngx_http_notify_pg_send(pc);
}


/*
 * The node's LISTEN connection (no pipeline): LISTEN, then what other
 * nodes announce.  When it is made again after it was lost, the changes
 * announced meanwhile were missed: the watcher is told (OP_MISSED), and
 * the streams are reset.
 */

static void
ngx_http_notify_pg_listen(ngx_http_notify_pg_conn_t *pc)
{
    pc->state = NGX_HTTP_NOTIFY_PG_BUSY;

    if (!PQsendQuery(pc->pg, ngx_http_notify_pg.q_listen)) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    ngx_add_timer(pc->c->read, ngx_http_notify_pg.timeout);

    ngx_http_notify_pg_flush(pc);
}


static void
ngx_http_notify_pg_listen_read(ngx_http_notify_pg_conn_t *pc)
{
    PGnotify                    *n;
    PGresult                    *res;
    ExecStatusType               status;
    ngx_http_notify_pg_t        *st;
    ngx_http_notify_store_op_t   op;

    st = &ngx_http_notify_pg;

    if (!PQconsumeInput(pc->pg)) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
        return;
    }

    while (!PQisBusy(pc->pg)) {
        res = PQgetResult(pc->pg);

        if (res == NULL) {
            break;
        }

        status = PQresultStatus(res);

        if (status != PGRES_COMMAND_OK) {
            (void) ngx_http_notify_pg_error(PQresultErrorMessage(res));
        }

        PQclear(res);

        if (status != PGRES_COMMAND_OK || pc->state != NGX_HTTP_NOTIFY_PG_BUSY)
        {
            ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_ESERVER);
            return;
        }

        /* LISTEN answered */

        if (pc->c->read->timer_set) {
            ngx_del_timer(pc->c->read);
        }

        pc->state = NGX_HTTP_NOTIFY_PG_IDLE;
        pc->backoff = NGX_HTTP_NOTIFY_PG_BACKOFF_MIN;

        if (st->listened) {
            ngx_log_error(NGX_LOG_NOTICE, pc->c->log, 0,
                          "notify: store \"%V\": listening again, the"
                          " streams are reset", &st->name);
        }

        /* what was announced before is not known (the watcher knows
           whether there was a before: "count", the first time) */

        ngx_memzero(&op, sizeof(ngx_http_notify_store_op_t));
        op.type = NGX_HTTP_NOTIFY_OP_MISSED;
        op.rc = NGX_OK;
        op.count = !st->listened;

        ngx_http_notify_store_heard(&op);

        st->listened = 1;
    }

    for ( ;; ) {
        n = PQnotifies(pc->pg);

        if (n == NULL) {
            break;
        }

        if (!(ngx_exiting || ngx_quit || ngx_terminate)) {
            ngx_http_notify_pg_heard((u_char *) n->extra,
                                     ngx_strlen(n->extra));
        }

        PQfreemem(n);
    }

    if (PQstatus(pc->pg) == CONNECTION_BAD) {
        ngx_http_notify_pg_fail(pc, NGX_HTTP_NOTIFY_PG_EDOWN);
    }
}


/*
 * An announcement's start, NUL-ended: "<node> <op> <chain> <id> " (the
 * query adds the counts and the user)
 */

static u_char *
ngx_http_notify_pg_announce(u_char *p, ngx_http_notify_store_op_t *op,
    uint64_t seq)
{
    return ngx_sprintf(p, "%016xL %ui %ui %uL %Z", ngx_http_notify_pg_node,
                       (ngx_uint_t) op->type, (ngx_uint_t) op->has_chain,
                       seq);
}


/* another node's change, to the watcher; this node's own are not */

static void
ngx_http_notify_pg_heard(u_char *payload, size_t len)
{
    u_char                      *p, *last, *word;
    int64_t                      v[6];
    ngx_uint_t                   i;
    ngx_http_notify_store_op_t   op;

    p = payload;
    last = payload + len;

    for (i = 0; i < 6; i++) {
        word = p;

        while (p < last && *p != ' ') {
            p++;
        }

        if (p == last || p == word) {
            goto invalid;
        }

        v[i] = (i == 0) ? (int64_t) ngx_hextoi(word, p - word)
                        : (int64_t) ngx_atoof(word, p - word);

        if (v[i] < 0) {
            goto invalid;
        }

        p++;
    }

    if ((uint64_t) v[0] == ngx_http_notify_pg_node) {
        return;
    }

    ngx_memzero(&op, sizeof(ngx_http_notify_store_op_t));

    op.type = (ngx_http_notify_op_type_e) v[1];
    op.has_chain = (v[2] != 0);
    op.seq = (uint64_t) v[3];
    op.unread = (uint64_t) v[4];
    op.unseen = (uint64_t) v[5];
    op.user.data = p;
    op.user.len = last - p;
    op.rc = NGX_OK;

    if (op.user.len == 0 || op.user.len > NGX_HTTP_NOTIFY_USER_MAX) {
        goto invalid;
    }

    switch (op.type) {

    case NGX_HTTP_NOTIFY_OP_PUT:
        op.recipients = &op.user;
        op.nrecipients = 1;
        break;

    case NGX_HTTP_NOTIFY_OP_READ_ONE:
    case NGX_HTTP_NOTIFY_OP_READ_UNTIL:
    case NGX_HTTP_NOTIFY_OP_SEEN_ALL:
    case NGX_HTTP_NOTIFY_OP_READ_ALL:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE_READ:
    case NGX_HTTP_NOTIFY_OP_DELETE:
        break;

    default:
        goto invalid;
    }

    ngx_http_notify_store_heard(&op);

    return;

invalid:

    ngx_log_error(NGX_LOG_WARN, ngx_http_notify_pg.log, 0,
                  "notify: store \"%V\": an announcement not understood:"
                  " \"%*s\"", &ngx_http_notify_pg.name,
                  ngx_min(len, 128), payload);
}


/* the server's or libpq's message, kept on one line for the log */

static const char *
ngx_http_notify_pg_error(const char *message)
{
    u_char  *p, *last;

    p = ngx_cpystrn((u_char *) ngx_http_notify_pg.error,
                    (u_char *) message, sizeof(ngx_http_notify_pg.error));

    /* one line for the log */

    last = (u_char *) ngx_http_notify_pg.error;

    while (p > last && (p[-1] == '\n' || p[-1] == ' ')) {
        *--p = '\0';
    }

    for ( /* void */ ; last < p; last++) {
        if (*last == '\n') {
            *last = ' ';
        }
    }

    return ngx_http_notify_pg.error;
}


/*
 * The write batch.  With puts, two stages: BEGIN, the lock of "meta" with
 * the last id given, and the answers kept for the puts' idempotency keys;
 * then the operations (a put whose key has an answer is a replay, and
 * sends nothing), the last id and COMMIT.  So ids are given without gaps,
 * in commit order.  Without puts, one stage: the operations, an implicit
 * transaction.
 */

static void
ngx_http_notify_pg_submit(ngx_http_notify_store_op_t *ops)
{
    ngx_http_notify_pg_t        *st;
    ngx_http_notify_store_op_t  *op;

    st = &ngx_http_notify_pg;

    st->ops = ops;
    st->nputs = 0;
    st->first = 0;

    for (op = ops; op; op = op->next) {
        op->rc = NGX_OK;
        op->err = 0;

        if (op->type == NGX_HTTP_NOTIFY_OP_PUT) {
            op->duplicate = 0;
            op->replaced = 0;
            st->nputs++;
        }
    }

    ngx_memzero(&st->batch, sizeof(ngx_http_notify_pg_job_t));
    st->batch.send = ngx_http_notify_pg_batch_send;
    st->batch.result = ngx_http_notify_pg_batch_result;
    st->batch.end = ngx_http_notify_pg_batch_end;

    ngx_http_notify_pg_run(&st->batch);
}


/* the next operation from "op" on that has a query of the stage */

static ngx_http_notify_store_op_t *
ngx_http_notify_pg_next(ngx_http_notify_store_op_t *op, ngx_uint_t stage)
{
    for ( /* void */ ; op; op = op->next) {

        if (op->type != NGX_HTTP_NOTIFY_OP_PUT) {
            if (stage == 1 || ngx_http_notify_pg.nputs == 0) {
                return op;
            }

            continue;
        }

        if (stage == 0 ? op->has_idem : !op->duplicate) {
            return op;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_notify_pg_batch_send(ngx_http_notify_pg_job_t *job, PGconn *pg)
{
    int                           err;
    uint64_t                      seq;
    ngx_http_notify_pg_t         *st;
    ngx_http_notify_store_op_t   *op;
    ngx_http_notify_pg_params_t   pp;

    st = &ngx_http_notify_pg;

    if (job->stage > (st->nputs ? 1 : 0)) {
        return NGX_DONE;
    }

    if (job->stage == 0 && st->nputs) {
        err = ngx_http_notify_pg_query(pg, ngx_http_notify_pg_q_begin, NULL);

        if (err == 0) {
            err = ngx_http_notify_pg_query(pg, st->q_lock, NULL);
        }

        for (op = ngx_http_notify_pg_next(st->ops, 0);
             op && err == 0;
             op = ngx_http_notify_pg_next(op->next, 0))
        {
            pp.n = 0;
            ngx_http_notify_pg_bin(&pp, op->idem, sizeof(op->idem));

            err = ngx_http_notify_pg_query(pg, st->q_idem, &pp);
        }

        st->op = ngx_http_notify_pg_next(st->ops, 0);
        job->err = err;

        return err ? NGX_ERROR : NGX_OK;
    }

    seq = st->first;

    for (op = ngx_http_notify_pg_next(st->ops, 1);
         op;
         op = ngx_http_notify_pg_next(op->next, 1))
    {
        err = ngx_http_notify_pg_op_send(op, pg, seq);

        if (err) {
            job->err = err;
            return NGX_ERROR;
        }

        if (op->type == NGX_HTTP_NOTIFY_OP_PUT) {
            seq++;
        }
    }

    st->op = ngx_http_notify_pg_next(st->ops, 1);

    if (st->nputs) {
        pp.n = 0;
        ngx_http_notify_pg_num(&pp, (int64_t) seq - 1);

        err = ngx_http_notify_pg_query(pg, st->q_last, &pp);

        if (err == 0) {
            err = ngx_http_notify_pg_query(pg, ngx_http_notify_pg_q_commit,
                                           NULL);
        }

        if (err) {
            job->err = err;
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static int
ngx_http_notify_pg_batch_result(ngx_http_notify_pg_job_t *job, PGresult *res,
    ngx_uint_t n)
{
    int                          err;
    ngx_str_t                    kept;
    ngx_http_notify_pg_t        *st;
    ngx_http_notify_store_op_t  *op;

    st = &ngx_http_notify_pg;

    if (job->stage == 0 && st->nputs) {

        /* BEGIN, the last id, then the answers kept */

        if (n == 0) {
            return 0;
        }

        if (n == 1) {
            if (PQntuples(res) != 1) {
                return NGX_HTTP_NOTIFY_PG_EPROTO;
            }

            st->first = ngx_http_notify_pg_u64(res, 0, 0) + 1;
            return 0;
        }

        op = st->op;

        if (op == NULL) {
            return NGX_HTTP_NOTIFY_PG_EPROTO;
        }

        st->op = ngx_http_notify_pg_next(op->next, 0);

        if (PQntuples(res) == 1) {
            kept.data = (u_char *) PQgetvalue(res, 0, 0);
            kept.len = PQgetlength(res, 0, 0);

            if (ngx_http_notify_store_replay(op, &kept) != NGX_OK) {
                return NGX_HTTP_NOTIFY_PG_EPROTO;
            }
        }

        return 0;
    }

    op = st->op;

    if (op == NULL) {
        return 0;                       /* the last id, COMMIT */
    }

    st->op = ngx_http_notify_pg_next(op->next, 1);

    /*
     * The server commits the stage whatever is made of its answers here:
     * an answer that cannot be read (not the server's error) fails its
     * own operation only, never the batch the server committed.
     */

    err = ngx_http_notify_pg_op_result(op, res);

    if (err) {
        op->rc = NGX_ERROR;
        op->err = err;
    }

    return 0;
}


static void
ngx_http_notify_pg_batch_end(ngx_http_notify_pg_job_t *job, int err)
{
    ngx_http_notify_pg_t        *st;
    ngx_http_notify_store_op_t  *op;

    st = &ngx_http_notify_pg;

    if (err) {
        /* nothing of the batch was written */

        for (op = st->ops; op; op = op->next) {
            op->rc = NGX_ERROR;
            op->err = err;
        }
    }

    op = st->ops;
    st->ops = NULL;
    st->op = NULL;

    ngx_http_notify_store_written(op);
}


/* an operation's query; "seq" is the id of a put */

static int
ngx_http_notify_pg_op_send(ngx_http_notify_store_op_t *op, PGconn *pg,
    uint64_t seq)
{
    int                            err, type;
    u_char                        *users, *rcpt, *p, *entries, *firsts;
    size_t                         ulen, rlen;
    ngx_uint_t                     i, j;
    ngx_http_notify_pg_t          *st;
    ngx_http_notify_pg_params_t    pp;
    ngx_http_notify_store_note_t   note;
    u_char                         ann[NGX_INT64_LEN * 4 + 8];

    st = &ngx_http_notify_pg;
    pp.n = 0;

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_PUT:
        err = ngx_http_notify_store_note_make(op, seq, &note);
        if (err) {
            ngx_http_notify_store_note_free(&note);
            return err;
        }

        /* the recipients: an array of text, and NUL-separated for the
           outbox's claims */

        ulen = 3;
        rlen = 1;

        for (i = 0; i < op->nrecipients; i++) {
            ulen += 2 * op->recipients[i].len + 3;
            rlen += op->recipients[i].len + 1;
        }

        users = ngx_alloc(ulen + rlen, ngx_cycle->log);
        if (users == NULL) {
            ngx_http_notify_store_note_free(&note);
            return ENOMEM;
        }

        p = users;
        *p++ = '{';

        for (i = 0; i < op->nrecipients; i++) {
            if (i) {
                *p++ = ',';
            }

            *p++ = '"';

            for (j = 0; j < op->recipients[i].len; j++) {
                if (op->recipients[i].data[j] == '"'
                    || op->recipients[i].data[j] == '\\')
                {
                    *p++ = '\\';
                }

                *p++ = op->recipients[i].data[j];
            }

            *p++ = '"';
        }

        *p++ = '}';
        *p++ = '\0';

        rcpt = p;

        for (i = 0; i < op->nrecipients; i++) {
            p = ngx_cpymem(p, op->recipients[i].data, op->recipients[i].len);
            *p++ = '\0';
        }

        ngx_http_notify_pg_num(&pp, (int64_t) seq);
        ngx_http_notify_pg_num(&pp, (int64_t) op->created);
        /* the texts are not NUL-ended: sent in binary form (a text's is
           its bytes) */

        ngx_http_notify_pg_bin(&pp, note.note.data, note.note.len);
        ngx_http_notify_pg_bin(&pp, note.view.data, note.view.len);
        ngx_http_notify_pg_text(&pp, (char *) users);
        ngx_http_notify_pg_bin(&pp, rcpt, p - rcpt);
        ngx_http_notify_pg_bin(&pp, op->has_chain ? op->chain : NULL,
                               sizeof(op->chain));
        ngx_http_notify_pg_bin(&pp, op->has_idem ? op->idem : NULL,
                               sizeof(op->idem));
        ngx_http_notify_pg_bin(&pp, note.answer.len ? note.answer.data : NULL,
                               note.answer.len);

        entries = NULL;
        firsts = NULL;

        if (op->has_outbox) {
            entries = ngx_http_notify_pg_entries(op, &pp, &firsts);
            if (entries == NULL) {
                ngx_free(users);
                ngx_http_notify_store_note_free(&note);
                return ENOMEM;
            }

        } else {
            for (i = 0; i < 6; i++) {
                ngx_http_notify_pg_text(&pp, NULL);
            }
        }

        (void) ngx_http_notify_pg_announce(ann, op, seq);
        ngx_http_notify_pg_text(&pp, (char *) ann);

        /* outbox_chain(): the first attempts, now, the wait of a held one */

        ngx_http_notify_pg_text(&pp, (char *) firsts);
        ngx_http_notify_pg_num(&pp, (int64_t) ngx_http_notify_pg_now());
        ngx_http_notify_pg_num(&pp, NGX_HTTP_NOTIFY_CHAIN_WAIT);

        op->seq = seq;

        err = ngx_http_notify_pg_query(pg, st->q_put, &pp);

        ngx_free(entries);
        ngx_free(users);
        ngx_http_notify_store_note_free(&note);

        return err;

    case NGX_HTTP_NOTIFY_OP_READ_ONE:
    case NGX_HTTP_NOTIFY_OP_READ_UNTIL:
        users = ngx_alloc(op->user.len + 1, ngx_cycle->log);
        if (users == NULL) {
            return ENOMEM;
        }

        (void) ngx_cpystrn(users, op->user.data, op->user.len + 1);

        ngx_http_notify_pg_text(&pp, (char *) users);
        ngx_http_notify_pg_num(&pp, (int64_t) op->seq);

        (void) ngx_http_notify_pg_announce(ann, op, op->seq);
        ngx_http_notify_pg_text(&pp, (char *) ann);

        err = ngx_http_notify_pg_query(pg,
                                   op->type == NGX_HTTP_NOTIFY_OP_READ_ONE
                                   ? st->q_read : st->q_until, &pp);
        ngx_free(users);

        return err;

    case NGX_HTTP_NOTIFY_OP_SEEN_ALL:
    case NGX_HTTP_NOTIFY_OP_READ_ALL:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE_READ:
    case NGX_HTTP_NOTIFY_OP_DELETE:
        users = ngx_alloc(op->user.len + 1, ngx_cycle->log);
        if (users == NULL) {
            return ENOMEM;
        }

        (void) ngx_cpystrn(users, op->user.data, op->user.len + 1);

        /* feed_change()'s numbers, in the order of the op types */

        ngx_http_notify_pg_num(&pp, (int64_t) (op->type
                                               - NGX_HTTP_NOTIFY_OP_SEEN_ALL));
        ngx_http_notify_pg_text(&pp, (char *) users);
        ngx_http_notify_pg_num(&pp, (int64_t) op->seq);

        (void) ngx_http_notify_pg_announce(ann, op, op->seq);
        ngx_http_notify_pg_text(&pp, (char *) ann);

        err = ngx_http_notify_pg_query(pg, st->q_change, &pp);
        ngx_free(users);

        return err;

    case NGX_HTTP_NOTIFY_OP_PRUNE:
        /* in smaller transactions: each holds its rows' locks */
        op->max = ngx_min(op->max, NGX_HTTP_NOTIFY_PG_PRUNE_MAX);

        ngx_http_notify_pg_num(&pp, (int64_t) op->before);
        ngx_http_notify_pg_num(&pp, (int64_t) op->max);

        return ngx_http_notify_pg_query(pg, st->q_prune, &pp);

    case NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM:
        users = ngx_http_notify_pg_quota(op, &pp);
        if (users == NULL) {
            return ENOMEM;
        }

        ngx_http_notify_pg_num(&pp, (int64_t) ngx_http_notify_pg_now());
        ngx_http_notify_pg_num(&pp, (int64_t) op->due);
        ngx_http_notify_pg_num(&pp, NGX_HTTP_NOTIFY_CHAIN_WAIT);
        ngx_http_notify_pg_num(&pp,
                               (int64_t) ngx_http_notify_store_dead_letters());
        ngx_http_notify_pg_num(&pp, (int64_t) op->expire);

        err = ngx_http_notify_pg_query(pg, st->q_claim, &pp);
        ngx_free(users);

        return err;

    case NGX_HTTP_NOTIFY_OP_DEAD_REPLAY:
    case NGX_HTTP_NOTIFY_OP_DEAD_PURGE:
        users = ngx_http_notify_pg_quota(op, &pp);
        if (users == NULL) {
            return ENOMEM;
        }

        if (op->target.len) {
            op->target.len = ngx_min(op->target.len,
                                     NGX_HTTP_NOTIFY_TARGET_NAME_LEN);
            (void) ngx_cpystrn(ann, op->target.data, op->target.len + 1);
        }

        ngx_http_notify_pg_num(&pp,
                               op->type == NGX_HTTP_NOTIFY_OP_DEAD_REPLAY
                               ? 1 : 2);

        if (op->seq) {
            ngx_http_notify_pg_num(&pp, (int64_t) op->seq);

        } else {
            ngx_http_notify_pg_text(&pp, NULL);
        }

        ngx_http_notify_pg_num(&pp, (int64_t) op->entry);
        ngx_http_notify_pg_text(&pp, op->target.len ? (char *) ann : NULL);
        ngx_http_notify_pg_num(&pp, op->seq ? 1
                               : (int64_t) ngx_min(op->max,
                                                   NGX_HTTP_NOTIFY_DEAD_BATCH));
        ngx_http_notify_pg_num(&pp, (int64_t) ngx_http_notify_pg_now());
        ngx_http_notify_pg_num(&pp, NGX_HTTP_NOTIFY_CHAIN_WAIT);

        err = ngx_http_notify_pg_query(pg, st->q_dead_change, &pp);
        ngx_free(users);

        return err;

    default: /* DONE, DROP, NOW, RETRY */
        type = (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_NOW) ? 1
               : (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY) ? 2
               : (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_DROP && op->dead) ? 3
               : 0;

        /* the last error, as valid UTF-8 text */

        for (p = op->error; *p; p++) {
            if (*p < 0x20 || *p >= 0x80) {
                *p = '?';
            }
        }

        ngx_http_notify_pg_num(&pp, type);
        ngx_http_notify_pg_num(&pp, (int64_t) op->seq);
        ngx_http_notify_pg_num(&pp, (int64_t) op->entry);
        ngx_http_notify_pg_num(&pp, (int64_t) op->due);
        ngx_http_notify_pg_text(&pp, (char *) op->error);
        ngx_http_notify_pg_num(&pp, (int64_t) ngx_http_notify_pg_now());
        ngx_http_notify_pg_num(&pp,
                               (int64_t) ngx_http_notify_store_dead_letters());

        return ngx_http_notify_pg_query(pg, st->q_finish, &pp);
    }
}


static int
ngx_http_notify_pg_op_result(ngx_http_notify_store_op_t *op, PGresult *res)
{
    u_char      *held;
    ngx_str_t    kept;
    ngx_uint_t   i, n;

    if (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_CLAIM) {
        return ngx_http_notify_pg_claimed(op, res);
    }

    if (PQntuples(res) != 1) {
        return NGX_HTTP_NOTIFY_PG_EPROTO;
    }

    switch (op->type) {

    case NGX_HTTP_NOTIFY_OP_PUT:
        if (!PQgetisnull(res, 0, 1)) {
            kept.data = (u_char *) PQgetvalue(res, 0, 1);
            kept.len = PQgetlength(res, 0, 1);

            op->seq = 0;

            if (ngx_http_notify_store_replay(op, &kept) != NGX_OK) {
                return NGX_HTTP_NOTIFY_PG_EPROTO;
            }

            return 0;
        }

        op->replaced = ngx_http_notify_pg_u32(res, 0, 0);

        /* the entries held behind an older one of their chain */

        if (op->has_outbox && !PQgetisnull(res, 0, 3)) {
            held = (u_char *) PQgetvalue(res, 0, 3);
            n = ngx_min((ngx_uint_t) PQgetlength(res, 0, 3), op->nentries);

            for (i = 0; i < n; i++) {
                op->entries[i].held = (held[i] == '1');
            }
        }

        return 0;

    case NGX_HTTP_NOTIFY_OP_READ_ONE:
    case NGX_HTTP_NOTIFY_OP_READ_UNTIL:
        if (!ngx_http_notify_pg_bool(res, 0, 0)) {
            op->rc = NGX_DECLINED;
        }

        op->unread = ngx_http_notify_pg_u64(res, 0, 1);
        op->unseen = ngx_http_notify_pg_u64(res, 0, 2);
        return 0;

    case NGX_HTTP_NOTIFY_OP_SEEN_ALL:
    case NGX_HTTP_NOTIFY_OP_READ_ALL:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE:
    case NGX_HTTP_NOTIFY_OP_ARCHIVE_READ:
    case NGX_HTTP_NOTIFY_OP_DELETE:
        if (!ngx_http_notify_pg_bool(res, 0, 0)) {
            op->rc = NGX_DECLINED;
        }

        op->count = ngx_http_notify_pg_u32(res, 0, 1);
        op->unread = ngx_http_notify_pg_u64(res, 0, 2);
        op->unseen = ngx_http_notify_pg_u64(res, 0, 3);
        return 0;

    case NGX_HTTP_NOTIFY_OP_PRUNE:
        op->seq = ngx_http_notify_pg_u32(res, 0, 0);
        op->count = ngx_http_notify_pg_u32(res, 0, 1);
        op->replaced = ngx_http_notify_pg_u32(res, 0, 2);
        return 0;

    case NGX_HTTP_NOTIFY_OP_DEAD_REPLAY:
    case NGX_HTTP_NOTIFY_OP_DEAD_PURGE:
        if (op->seq && !ngx_http_notify_pg_bool(res, 0, 0)) {
            op->rc = NGX_DECLINED;

        } else if (op->seq && ngx_http_notify_pg_bool(res, 0, 1)) {
            op->rc = NGX_ABORT;

        } else if (op->seq && ngx_http_notify_pg_bool(res, 0, 4)) {
            op->rc = NGX_BUSY;

        } else if (op->seq && ngx_http_notify_pg_bool(res, 0, 5)) {
            op->rc = NGX_AGAIN;
        }

        op->count = ngx_http_notify_pg_u32(res, 0, 2);
        op->replaced = ngx_http_notify_pg_u32(res, 0, 3);
        return 0;

    default: /* DONE, DROP, NOW, RETRY */
        op->nexpired = 0;
        op->count = 0;

        if (!ngx_http_notify_pg_bool(res, 0, 0)) {
            op->rc = NGX_DECLINED;
            return 0;
        }

        op->count = ngx_http_notify_pg_u32(res, 0, 4);

        if (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_RETRY) {
            op->nexpired = ngx_http_notify_pg_bool(res, 0, 1);
            op->max = ngx_http_notify_pg_u32(res, 0, 2);
        }

        op->replaced = ngx_http_notify_pg_bool(res, 0, 3);

        return 0;
    }
}


/* the claimed entries (malloc()ed, as the scheduler frees them) */

static int
ngx_http_notify_pg_claimed(ngx_http_notify_store_op_t *op, PGresult *res)
{
    int                       i, n;
    u_char                   *note, *rcpt;
    ngx_http_notify_claim_t  *cl;

    ngx_http_notify_store_claim_free(op);

    n = PQntuples(res);

    op->claimed = calloc(n ? n : 1, sizeof(ngx_http_notify_claim_t));
    op->expired = calloc(n ? n : 1, sizeof(uint64_t));
    op->expired_quota = calloc(n ? n : 1, sizeof(uint32_t));

    if (op->claimed == NULL || op->expired == NULL
        || op->expired_quota == NULL)
    {
        return ENOMEM;
    }

    for (i = 0; i < n; i++) {

        if (ngx_http_notify_pg_u32(res, i, 0) == 1) {
            op->count += ngx_http_notify_pg_u32(res, i, 9);
            op->expired_quota[op->nexpired] = ngx_http_notify_pg_u32(res, i,
                                                                     8);
            op->expired[op->nexpired++] = ngx_http_notify_pg_u64(res, i, 1);
            continue;
        }

        cl = &op->claimed[op->nclaimed];
        cl->seq = ngx_http_notify_pg_u64(res, i, 1);
        cl->attempts = ngx_http_notify_pg_u32(res, i, 2);
        cl->entry = ngx_http_notify_pg_u32(res, i, 5);
        cl->part = ngx_http_notify_pg_u32(res, i, 6);
        cl->target_len = ngx_min((size_t) PQgetlength(res, i, 7),
                                 NGX_HTTP_NOTIFY_TARGET_NAME_LEN);
        ngx_memcpy(cl->target, PQgetvalue(res, i, 7), cl->target_len);

        note = PQgetisnull(res, i, 3) ? NULL : (u_char *) PQgetvalue(res, i, 3);
        rcpt = PQgetisnull(res, i, 4) ? NULL : (u_char *) PQgetvalue(res, i, 4);

        if (ngx_http_notify_store_claim_set(cl, note, PQgetlength(res, i, 3),
                                            rcpt, PQgetlength(res, i, 4))
            != 0)
        {
            return ENOMEM;
        }

        op->nclaimed++;
    }

    return 0;
}


/* reads: a job each, one query */

typedef struct {
    ngx_http_notify_pg_job_t        job;
    ngx_http_notify_store_read_t   *rd;
} ngx_http_notify_pg_read_t;


static void
ngx_http_notify_pg_read(ngx_http_notify_store_read_t *rd)
{
    ngx_http_notify_pg_read_t  *pr;

    if ((rd->type == NGX_HTTP_NOTIFY_READ_FEED
         || rd->type == NGX_HTTP_NOTIFY_READ_UNREAD
         || rd->type == NGX_HTTP_NOTIFY_READ_COUNTS)
        && rd->query.user.len > NGX_HTTP_NOTIFY_USER_MAX)
    {
        rd->rc = NGX_OK;                /* no such user: nothing */
        rd->done(rd);
        return;
    }

    pr = ngx_alloc(sizeof(ngx_http_notify_pg_read_t), rd->log);
    if (pr == NULL) {
        rd->done(rd);
        return;
    }

    ngx_memzero(pr, sizeof(ngx_http_notify_pg_read_t));

    pr->rd = rd;
    pr->job.send = ngx_http_notify_pg_read_send;
    pr->job.result = ngx_http_notify_pg_read_result;
    pr->job.end = ngx_http_notify_pg_read_end;
    pr->job.data = pr;

    ngx_http_notify_pg_run(&pr->job);
}


static ngx_int_t
ngx_http_notify_pg_read_send(ngx_http_notify_pg_job_t *job, PGconn *pg)
{
    int                            err;
    u_char                        *names;
    ngx_uint_t                     limit;
    ngx_http_notify_pg_t          *st;
    ngx_http_notify_pg_read_t     *pr;
    ngx_http_notify_store_read_t  *rd;
    ngx_http_notify_pg_params_t    pp;
    u_char                         user[NGX_HTTP_NOTIFY_USER_MAX + 1];

    if (job->stage > 0) {
        return NGX_DONE;
    }

    st = &ngx_http_notify_pg;
    pr = job->data;
    rd = pr->rd;
    pp.n = 0;

    switch (rd->type) {

    case NGX_HTTP_NOTIFY_READ_FEED:
        limit = (rd->query.limit
                 && rd->query.limit < NGX_HTTP_NOTIFY_FEED_PAGE_MAX)
                ? rd->query.limit : NGX_HTTP_NOTIFY_FEED_PAGE_MAX;

        (void) ngx_cpystrn(user, rd->query.user.data,
                           rd->query.user.len + 1);

        /*
         * the filter by state is the query's; one of dialect or event
         * may skip rows, so that as many as a page may look at are read
         */

        if (rd->query.dialect.len || rd->query.event.len) {
            limit = NGX_HTTP_NOTIFY_FEED_SCAN_MAX;
        }

        ngx_http_notify_pg_text(&pp, (char *) user);
        ngx_http_notify_pg_num(&pp, rd->query.cursor
                                    ? (int64_t) rd->query.cursor
                                    : (int64_t) 0x7fffffffffffffffLL);
        ngx_http_notify_pg_num(&pp, rd->query.unread_only
                                    ? NGX_HTTP_NOTIFY_FEED_UNREAD
                                    : rd->query.status);
        ngx_http_notify_pg_num(&pp, (int64_t) limit + 1);

        err = ngx_http_notify_pg_query(pg, st->q_feed, &pp);
        break;

    case NGX_HTTP_NOTIFY_READ_UNREAD:
    case NGX_HTTP_NOTIFY_READ_COUNTS:
        (void) ngx_cpystrn(user, rd->query.user.data,
                           rd->query.user.len + 1);

        ngx_http_notify_pg_text(&pp, (char *) user);

        err = ngx_http_notify_pg_query(pg,
                                   rd->type == NGX_HTTP_NOTIFY_READ_UNREAD
                                   ? st->q_unread : st->q_counts, &pp);
        break;

    case NGX_HTTP_NOTIFY_READ_OUTBOX:
        ngx_http_notify_pg_num(&pp, (int64_t) rd->limit);

        err = ngx_http_notify_pg_query(pg, st->q_outbox, &pp);
        break;

    case NGX_HTTP_NOTIFY_READ_NEXT_DUE:
        names = ngx_http_notify_pg_names(rd->targets, sizeof(ngx_str_t),
                                         rd->ntargets);
        if (names == NULL) {
            err = ENOMEM;
            break;
        }

        ngx_http_notify_pg_text(&pp, (char *) names);

        err = ngx_http_notify_pg_query(pg, st->q_due, &pp);
        ngx_free(names);
        break;

    case NGX_HTTP_NOTIFY_READ_DEAD:
        if (rd->ntargets) {
            (void) ngx_cpystrn(user, rd->targets[0].data,
                               ngx_min(rd->targets[0].len,
                                       NGX_HTTP_NOTIFY_TARGET_NAME_LEN)
                               + 1);
        }

        ngx_http_notify_pg_text(&pp, rd->ntargets ? (char *) user : NULL);
        ngx_http_notify_pg_num(&pp, (int64_t) rd->after_seq);
        ngx_http_notify_pg_num(&pp, (int64_t) rd->after_entry);
        ngx_http_notify_pg_num(&pp, (int64_t) rd->limit);

        err = ngx_http_notify_pg_query(pg, st->q_dead, &pp);
        break;

    default: /* NGX_HTTP_NOTIFY_READ_STATS */
        err = ngx_http_notify_pg_query(pg, st->q_stats, NULL);
        break;
    }

    job->err = err;

    return err ? NGX_ERROR : NGX_OK;
}


static int
ngx_http_notify_pg_read_result(ngx_http_notify_pg_job_t *job, PGresult *res,
    ngx_uint_t n)
{
    int                              i, rows;
    size_t                           len;
    u_char                          *view;
    uint64_t                         seq, last;
    ngx_uint_t                       limit, scanned, states;
    ngx_http_notify_pg_read_t       *pr;
    ngx_http_notify_feed_entry_t    *e;
    ngx_http_notify_store_read_t    *rd;
    ngx_http_notify_outbox_entry_t  *oe;

    pr = job->data;
    rd = pr->rd;
    rows = PQntuples(res);

    switch (rd->type) {

    case NGX_HTTP_NOTIFY_READ_FEED:
        if (rows < 1) {
            return NGX_HTTP_NOTIFY_PG_EPROTO;
        }

        rd->unread = ngx_http_notify_pg_u64(res, 0, 0);

        if (rd->counts) {
            rd->unseen = ngx_http_notify_pg_u64(res, 0, 1);
        }

        limit = (rd->query.limit
                 && rd->query.limit < NGX_HTTP_NOTIFY_FEED_PAGE_MAX)
                ? rd->query.limit : NGX_HTTP_NOTIFY_FEED_PAGE_MAX;

        /* as LMDB's feed(): the same page, the same "next" */

        last = 0;
        scanned = 0;

        for (i = 0; i < rows && !PQgetisnull(res, i, 2); i++) {

            seq = ngx_http_notify_pg_u64(res, i, 2);

            if (rd->items.nelts == limit) {
                /* there is more: the cursor is the last one given */
                rd->next = last;
                break;
            }

            if (scanned++ == NGX_HTTP_NOTIFY_FEED_SCAN_MAX) {
                /* filters skipped too many: the page ends before this */
                rd->next = seq + 1;
                break;
            }

            states = (ngx_http_notify_pg_bool(res, i, 4)
                      ? NGX_HTTP_NOTIFY_STATE_READ : 0)
                     | (ngx_http_notify_pg_bool(res, i, 5)
                        ? NGX_HTTP_NOTIFY_STATE_SEEN : 0)
                     | (ngx_http_notify_pg_bool(res, i, 6)
                        ? NGX_HTTP_NOTIFY_STATE_ARCHIVED : 0);

            view = (u_char *) PQgetvalue(res, i, 3);
            len = PQgetlength(res, i, 3);

            if (len < 2 || view[0] != '{' || view[len - 1] != '}') {
                ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                              "notify: store: notification %016uxL"
                              " unreadable", seq);
                continue;
            }

            if (!ngx_http_notify_store_feed_match(&rd->query, states, view,
                                                  len))
            {
                continue;
            }

            e = ngx_array_push(&rd->items);
            if (e == NULL) {
                return ENOMEM;
            }

            e->view.data = ngx_pnalloc(rd->items.pool, len);
            if (e->view.data == NULL) {
                return ENOMEM;
            }

            ngx_memcpy(e->view.data, view, len);
            e->view.len = len;
            e->seq = seq;
            e->read = (states & NGX_HTTP_NOTIFY_STATE_READ) != 0;
            e->seen = (states & NGX_HTTP_NOTIFY_STATE_SEEN) != 0;
            e->archived = (states & NGX_HTTP_NOTIFY_STATE_ARCHIVED) != 0;

            last = seq;
        }

        return 0;

    case NGX_HTTP_NOTIFY_READ_COUNTS:
        if (rows != 1) {
            return NGX_HTTP_NOTIFY_PG_EPROTO;
        }

        rd->unread = ngx_http_notify_pg_u64(res, 0, 0);
        rd->unseen = ngx_http_notify_pg_u64(res, 0, 1);
        return 0;

    case NGX_HTTP_NOTIFY_READ_UNREAD:
        if (rows != 1) {
            return NGX_HTTP_NOTIFY_PG_EPROTO;
        }

        rd->unread = ngx_http_notify_pg_u64(res, 0, 0);
        return 0;

    case NGX_HTTP_NOTIFY_READ_OUTBOX:
        for (i = 0; i < rows; i++) {
            oe = ngx_array_push(&rd->items);
            if (oe == NULL) {
                return ENOMEM;
            }

            oe->seq = ngx_http_notify_pg_u64(res, i, 0);
            oe->due = ngx_http_notify_pg_u64(res, i, 1);
            oe->created = (time_t) ngx_http_notify_pg_u64(res, i, 2);
            oe->expires = (time_t) ngx_http_notify_pg_u64(res, i, 3);
            oe->attempts = ngx_http_notify_pg_u32(res, i, 4);

            len = PQgetlength(res, i, 5);

            oe->error = ngx_pnalloc(rd->items.pool, len + 1);
            if (oe->error == NULL) {
                return ENOMEM;
            }

            *ngx_cpymem(oe->error, PQgetvalue(res, i, 5), len) = '\0';

            oe->entry = ngx_http_notify_pg_u32(res, i, 6);
            oe->part = ngx_http_notify_pg_u32(res, i, 7);

            len = PQgetlength(res, i, 8);

            oe->target.data = ngx_pnalloc(rd->items.pool, len + 1);
            if (oe->target.data == NULL) {
                return ENOMEM;
            }

            *ngx_cpymem(oe->target.data, PQgetvalue(res, i, 8), len) = '\0';
            oe->target.len = len;
        }

        return 0;

    case NGX_HTTP_NOTIFY_READ_NEXT_DUE:
        if (rows != 1) {
            return NGX_HTTP_NOTIFY_PG_EPROTO;
        }

        rd->due = ngx_http_notify_pg_u64(res, 0, 0);
        return 0;

    default: /* NGX_HTTP_NOTIFY_READ_STATS: no map; the outbox */
        if (rows != 1) {
            return NGX_HTTP_NOTIFY_PG_EPROTO;
        }

        ngx_memzero(&rd->stats, sizeof(ngx_http_notify_store_stats_t));
        rd->stats.outbox = ngx_http_notify_pg_u64(res, 0, 0);
        rd->stats.outbox_oldest = (time_t) ngx_http_notify_pg_u64(res, 0, 1);
        rd->stats.dead = ngx_http_notify_pg_u64(res, 0, 2);
        return 0;

    case NGX_HTTP_NOTIFY_READ_DEAD:
        return ngx_http_notify_pg_dead_items(rd, res);
    }
}


/* READ_DEAD: the dead letters, in rd->items */

static int
ngx_http_notify_pg_dead_items(ngx_http_notify_store_read_t *rd,
    PGresult *res)
{
    int                            i, rows;
    size_t                         len;
    ngx_http_notify_dead_entry_t  *e;

    rows = PQntuples(res);

    for (i = 0; i < rows; i++) {
        e = ngx_array_push(&rd->items);
        if (e == NULL) {
            return ENOMEM;
        }

        e->seq = ngx_http_notify_pg_u64(res, i, 0);
        e->entry = ngx_http_notify_pg_u32(res, i, 1);
        e->part = ngx_http_notify_pg_u32(res, i, 2);

        len = ngx_min((size_t) PQgetlength(res, i, 3),
                      NGX_HTTP_NOTIFY_TARGET_NAME_LEN);

        e->target.data = ngx_pnalloc(rd->items.pool, len + 1);
        if (e->target.data == NULL) {
            return ENOMEM;
        }

        *ngx_cpymem(e->target.data, PQgetvalue(res, i, 3), len) = '\0';
        e->target.len = len;

        e->created = (time_t) ngx_http_notify_pg_u64(res, i, 4);
        e->died = ngx_http_notify_pg_u64(res, i, 5);
        e->attempts = ngx_http_notify_pg_u32(res, i, 6);
        e->reason = ngx_http_notify_pg_u32(res, i, 7);

        len = PQgetlength(res, i, 8);

        e->error = ngx_pnalloc(rd->items.pool, len + 1);
        if (e->error == NULL) {
            return ENOMEM;
        }

        *ngx_cpymem(e->error, PQgetvalue(res, i, 8), len) = '\0';
    }

    return 0;
}


static void
ngx_http_notify_pg_read_end(ngx_http_notify_pg_job_t *job, int err)
{
    ngx_http_notify_pg_read_t     *pr;
    ngx_http_notify_store_read_t  *rd;

    pr = job->data;
    rd = pr->rd;

    ngx_free(pr);

    if (err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "notify: store read failed: %s",
                      ngx_http_notify_pg_strerror(err));
        rd->rc = NGX_ERROR;

    } else {
        rd->rc = NGX_OK;
    }

    rd->done(rd);
}

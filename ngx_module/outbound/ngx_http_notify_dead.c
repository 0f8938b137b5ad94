
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The dead letters of the outbox admin endpoint (notify_outbox): the
 * entries that expired or were given up, kept by the store
 * (notify_delivery_dead_letters), to list, to replay and to purge.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_scheduler.h"
#include "ngx_http_notify_outbox.h"


#define NGX_HTTP_NOTIFY_DEAD_PAGE  1000      /* listed at once, at most */


typedef struct {
    ngx_http_notify_store_op_t     op;
    ngx_str_t                      target;
    ngx_http_request_t            *request;
} ngx_http_notify_dead_ctx_t;


static ngx_int_t ngx_http_notify_dead_list(ngx_http_request_t *r);
static void ngx_http_notify_dead_listed(ngx_http_notify_store_read_t *rd);
static ngx_int_t ngx_http_notify_dead_change(ngx_http_request_t *r,
    ngx_uint_t replay, ngx_str_t *id);
static void ngx_http_notify_dead_done(ngx_http_notify_store_op_t *op);
static ngx_int_t ngx_http_notify_dead_target_arg(ngx_http_request_t *r,
    ngx_str_t *target);
static ngx_int_t ngx_http_notify_dead_not_allowed(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_dead_bad(ngx_http_request_t *r,
    const char *message);


/*
 * <prefix>/dead...: "rest" is what follows "/dead"
 *
 *   GET    /dead[?target=&after=&limit=]  {"items": [...], "next": "<id>"}
 *   POST   /dead/replay[?target=]         {"replayed": n, "skipped": n}
 *   DELETE /dead[?target=]                {"purged": n}
 *   POST   /dead/<entry>/replay           {"id": ..., "state": "retrying"}
 *   DELETE /dead/<entry>                  {"id": ..., "state": "purged"}
 *
 * Replay and purge of all take NGX_HTTP_NOTIFY_DEAD_BATCH at most a
 * request (a caller asks again while the count is that).
 */

ngx_int_t
ngx_http_notify_dead_handler(ngx_http_request_t *r, ngx_str_t *rest)
{
    u_char     *last, *slash;
    ngx_str_t   id;

    if (rest->len == 0) {
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return ngx_http_notify_dead_list(r);
        }

        if (r->method == NGX_HTTP_DELETE) {
            return ngx_http_notify_dead_change(r, 0, NULL);
        }

        return ngx_http_notify_dead_not_allowed(r);
    }

    if (rest->data[0] != '/') {
        return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                          "There is no such resource.");
    }

    if (rest->len == sizeof("/replay") - 1
        && ngx_strncmp(rest->data, "/replay", sizeof("/replay") - 1) == 0)
    {
        if (r->method != NGX_HTTP_POST) {
            return ngx_http_notify_dead_not_allowed(r);
        }

        return ngx_http_notify_dead_change(r, 1, NULL);
    }

    /* /<entry> or /<entry>/replay */

    last = rest->data + rest->len;
    id.data = rest->data + 1;
    slash = ngx_strlchr(id.data, last, '/');
    id.len = (slash ? slash : last) - id.data;

    if (slash && !(last - slash == sizeof("/replay") - 1
                   && ngx_strncmp(slash, "/replay", sizeof("/replay") - 1)
                      == 0))
    {
        return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                          "There is no such resource.");
    }

    if (slash ? r->method != NGX_HTTP_POST : r->method != NGX_HTTP_DELETE) {
        return ngx_http_notify_dead_not_allowed(r);
    }

    return ngx_http_notify_dead_change(r, slash != NULL, &id);
}


/* GET /dead: a page by id, of a target or of all */

static ngx_int_t
ngx_http_notify_dead_list(ngx_http_request_t *r)
{
    ngx_int_t                      n;
    ngx_str_t                      arg, *target;
    ngx_http_notify_store_read_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_store_read_t));
    target = ngx_pcalloc(r->pool, sizeof(ngx_str_t));
    if (rd == NULL || target == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->type = NGX_HTTP_NOTIFY_READ_DEAD;
    rd->limit = NGX_HTTP_NOTIFY_DEAD_PAGE;

    if (ngx_http_notify_dead_target_arg(r, target) != NGX_OK) {
        return ngx_http_notify_dead_bad(r, "The target is not a target's"
                                        " name.");
    }

    if (target->len) {
        rd->targets = target;
        rd->ntargets = 1;
    }

    if (ngx_http_arg(r, (u_char *) "limit", 5, &arg) == NGX_OK) {
        n = ngx_atoi(arg.data, arg.len);

        if (n == NGX_ERROR || n == 0 || n > NGX_HTTP_NOTIFY_DEAD_PAGE) {
            return ngx_http_notify_dead_bad(r, "The limit is a number from"
                                            " 1 to 1000.");
        }

        rd->limit = (ngx_uint_t) n;
    }

    if (ngx_http_arg(r, (u_char *) "after", 5, &arg) == NGX_OK
        && ngx_http_notify_outbox_parse_entry(&arg, &rd->after_seq,
                                              &rd->after_entry)
           != NGX_OK)
    {
        return ngx_http_notify_dead_bad(r, "The cursor is not an entry's"
                                        " id.");
    }

    return ngx_http_notify_store_read_for(r, rd, ngx_http_notify_dead_listed);
}


static void
ngx_http_notify_dead_listed(ngx_http_notify_store_read_t *rd)
{
    u_char                        *p, *end;
    json_t                        *json, *items, *item;
    ngx_int_t                      rc;
    ngx_uint_t                     i;
    ngx_http_request_t            *r;
    ngx_http_notify_dead_entry_t  *e;
    u_char                         sid[NGX_HTTP_NOTIFY_ID_LEN];
    u_char                         eid[NGX_HTTP_NOTIFY_ID_LEN + 1
                                       + NGX_INT32_LEN];
    u_char                         died[sizeof("1970-01-01T00:00:00.000Z")];
    u_char                         created[sizeof("1970-01-01T00:00:00Z")];

    r = rd->data;

    if (rd->rc != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "ServiceUnavailable",
                                       "The dead letters could not be"
                                       " read."));
        return;
    }

    json = json_object();
    items = json_array();

    if (json == NULL || items == NULL
        || json_object_set_new(json, "items", items) != 0)
    {
        json_decref(json);
        json_decref(items);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    e = rd->items.elts;
    end = eid;

    for (i = 0; i < rd->items.nelts; i++) {
        (void) ngx_http_notify_format_id(sid, e[i].seq);
        end = ngx_http_notify_outbox_format_entry(eid, e[i].seq, e[i].entry);

        p = ngx_http_notify_iso8601(died, (time_t) (e[i].died / 1000));
        p = ngx_sprintf(p - 1, ".%03uLZ", e[i].died % 1000);
        *p = '\0';

        *ngx_http_notify_iso8601(created, e[i].created) = '\0';

        item = json_pack("{s:s%, s:s%, s:s%, s:i, s:i, s:s, s:s, s:s, s:s}",
                         "id", (char *) eid, (size_t) (end - eid),
                         "notification", (char *) sid,
                         (size_t) NGX_HTTP_NOTIFY_ID_LEN,
                         "target", (char *) e[i].target.data,
                         e[i].target.len,
                         "part", (int) e[i].part,
                         "attempts", (int) e[i].attempts,
                         "reason",
                         ngx_http_notify_store_dead_reason(e[i].reason),
                         "last_error", (char *) e[i].error,
                         "created", (char *) created,
                         "died", (char *) died);

        /* its target gone since a reload: purgeable, not replayable */

        if (item != NULL
            && ngx_http_notify_outbound_target(&e[i].target) == NULL)
        {
            json_object_set_new(item, "target_gone", json_true());
        }

        if (item == NULL || json_array_append_new(items, item) != 0) {
            json_decref(json);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    /* a full page: the next starts after its last */

    if (rd->items.nelts && rd->items.nelts == rd->limit
        && json_object_set_new(json, "next",
                               json_stringn((char *) eid, end - eid))
           != 0)
    {
        json_decref(json);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
    json_decref(json);

    ngx_http_finalize_request(r, rc);
}


/*
 * Replay or purge: one dead letter ("id"), or the first of them (of the
 * target asked for)
 */

static ngx_int_t
ngx_http_notify_dead_change(ngx_http_request_t *r, ngx_uint_t replay,
    ngx_str_t *id)
{
    ngx_uint_t                        i, n;
    ngx_http_notify_target_t        **tp;
    ngx_http_notify_dead_ctx_t       *dx;
    ngx_http_notify_claim_quota_t    *q;
    ngx_http_notify_delivery_conf_t  *dc, *tdc;

    dx = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_dead_ctx_t));
    if (dx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    dx->request = r;

    if (id != NULL) {
        if (ngx_http_notify_outbox_parse_entry(id, &dx->op.seq,
                                               &dx->op.entry)
            != NGX_OK)
        {
            return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "NotFound",
                                              "There is no such dead"
                                              " letter.");
        }

    } else {
        if (ngx_http_notify_dead_target_arg(r, &dx->target) != NGX_OK) {
            return ngx_http_notify_dead_bad(r, "The target is not a"
                                            " target's name.");
        }

        dx->op.target = dx->target;
        dx->op.max = NGX_HTTP_NOTIFY_DEAD_BATCH;
    }

    if (replay) {
        dx->op.type = NGX_HTTP_NOTIFY_OP_DEAD_REPLAY;

        /* the targets there are, each with its expiry */

        dc = ngx_http_notify_outbound_conf();
        n = (dc != NULL) ? dc->all.nelts : 0;

        q = ngx_pcalloc(r->pool,
                        (n ? n : 1) * sizeof(ngx_http_notify_claim_quota_t));
        if (q == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        tp = (dc != NULL) ? dc->all.elts : NULL;

        for (i = 0; i < n; i++) {
            tdc = tp[i]->delivery;
            q[i].target = tp[i]->name;
            q[i].max = (ngx_uint_t) tdc->keep;
        }

        dx->op.quota = q;
        dx->op.nquota = n;

    } else {
        dx->op.type = NGX_HTTP_NOTIFY_OP_DEAD_PURGE;
    }

    dx->op.data = dx;
    dx->op.log = r->connection->log;
    dx->op.done = ngx_http_notify_dead_done;

    r->main->count++;

    ngx_http_notify_store_post(&dx->op);

    return NGX_DONE;
}


static void
ngx_http_notify_dead_done(ngx_http_notify_store_op_t *op)
{
    u_char                      *end;
    json_t                      *json;
    ngx_int_t                    rc;
    ngx_uint_t                   replay;
    ngx_http_request_t          *r;
    ngx_http_notify_dead_ctx_t  *dx;
    u_char                       id[NGX_HTTP_NOTIFY_ID_LEN + 1
                                    + NGX_INT32_LEN];

    dx = op->data;
    r = dx->request;
    replay = (op->type == NGX_HTTP_NOTIFY_OP_DEAD_REPLAY);

    if (op->rc == NGX_ERROR) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "ServiceUnavailable",
                                        "The dead letters could not be"
                                        " updated.");
        goto done;
    }

    if (op->rc == NGX_DECLINED) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                        "There is no such dead letter.");
        goto done;
    }

    if (op->rc == NGX_ABORT) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_CONFLICT, "TargetGone",
                                        "The dead letter's target is no"
                                        " longer configured; it can only"
                                        " be purged.");
        goto done;
    }

    if (op->rc == NGX_BUSY) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_CONFLICT, "Superseded",
                                        "A newer notification of the dead"
                                        " letter's chain replaced it; it"
                                        " can only be purged.");
        goto done;
    }

    if (op->rc == NGX_AGAIN) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_CONFLICT, "ChainBusy",
                                        "A newer notification of the dead"
                                        " letter's chain is still in the"
                                        " outbox for its target; replay it"
                                        " once that one has left.");
        goto done;
    }

    if (op->seq) {
        end = ngx_http_notify_outbox_format_entry(id, op->seq, op->entry);

        json = json_pack("{s:s%, s:s}", "id", (char *) id,
                         (size_t) (end - id),
                         "state", replay ? "retrying" : "purged");

    } else if (replay) {
        json = json_pack("{s:i, s:i}", "replayed", (int) op->count,
                         "skipped", (int) op->replaced);

    } else {
        json = json_pack("{s:i}", "purged", (int) op->count);
    }

    if (json == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
        json_decref(json);
    }

    if (replay && op->count) {
        ngx_log_error(NGX_LOG_NOTICE, op->log, 0,
                      "notify: %ui dead letters replayed", op->count);

        ngx_http_notify_delivery_arm(0);
    }

done:

    ngx_http_finalize_request(r, rc);
}


/* ?target=<name>: empty when there is none; NGX_ERROR: not a name */

static ngx_int_t
ngx_http_notify_dead_target_arg(ngx_http_request_t *r, ngx_str_t *target)
{
    u_char     *dst, *src;
    ngx_str_t   arg;

    ngx_str_null(target);

    if (ngx_http_arg(r, (u_char *) "target", 6, &arg) != NGX_OK) {
        return NGX_OK;
    }

    if (arg.len == 0 || arg.len > 3 * NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
        return NGX_ERROR;
    }

    target->data = ngx_pnalloc(r->pool, arg.len);
    if (target->data == NULL) {
        return NGX_ERROR;
    }

    dst = target->data;
    src = arg.data;

    ngx_unescape_uri(&dst, &src, arg.len, NGX_UNESCAPE_URI);

    target->len = dst - target->data;

    if (target->len == 0 || target->len > NGX_HTTP_NOTIFY_TARGET_NAME_LEN) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_dead_not_allowed(ngx_http_request_t *r)
{
    return ngx_http_notify_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "MethodNotAllowed",
                                      "The method is not allowed here.");
}


static ngx_int_t
ngx_http_notify_dead_bad(ngx_http_request_t *r, const char *message)
{
    return ngx_http_notify_send_error(r, NGX_HTTP_BAD_REQUEST, "BadRequest",
                                      message);
}


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The outbox admin endpoint (notify_outbox): the pending deliveries, to
 * list, to try now or to drop.  Planning is in ngx_http_notify_outbound.c,
 * the first attempt in ngx_http_notify_subrequest.c, the retries in
 * ngx_http_notify_scheduler.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_store.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_scheduler.h"
#include "ngx_http_notify_outbox.h"


static void ngx_http_notify_outbox_listed(ngx_http_notify_store_read_t *rd);
static ngx_int_t ngx_http_notify_outbox_list(ngx_http_request_t *r,
    ngx_array_t *entries);
static void ngx_http_notify_outbox_done(ngx_http_notify_store_op_t *op);
static ngx_int_t ngx_http_notify_outbox_targets(ngx_http_request_t *r,
    ngx_str_t *rest);
static ngx_uint_t ngx_http_notify_outbox_under(ngx_str_t *rest,
    const char *part);
static ngx_int_t ngx_http_notify_outbox_send(ngx_http_request_t *r,
    const char *key, json_t *array);
static json_t *ngx_http_notify_outbox_target_json(
    ngx_http_notify_target_t *t, ngx_pool_t *pool);


/*
 * notify_outbox: the pending deliveries.
 *
 *   GET    <prefix>                {"items": [...]}
 *   GET    <prefix>/targets        {"targets": [...]}: their breakers
 *   POST   <prefix>/targets/<name>/enable   after a 410 Gone
 *   POST   <prefix>/<entry>/retry  try it now
 *   DELETE <prefix>/<entry>        drop it
 *   ...    <prefix>/dead...        the dead letters (ngx_http_notify_dead.c)
 *
 * An entry is "<id>" (a notification's first, its entry 0) or
 * "<id>-<n>" (its entry n: another target, or another part).
 */

ngx_int_t
ngx_http_notify_outbox_handler(ngx_http_request_t *r, ngx_str_t *prefix)
{
    u_char                        *last, *slash;
    ngx_int_t                      rc;
    ngx_str_t                      rest, id;
    ngx_http_notify_delivery_t    *dl;
    ngx_http_notify_store_read_t  *rd;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!ngx_http_notify_store_ready()) {
        return ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "ServiceUnavailable",
                                            "The store is not available.");
    }

    rest.data = r->uri.data + prefix->len;
    rest.len = r->uri.len - prefix->len;

    if (rest.len && rest.data[rest.len - 1] == '/') {
        rest.len--;
    }

    if (rest.len == 0) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        rd = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_store_read_t));
        if (rd == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rd->type = NGX_HTTP_NOTIFY_READ_OUTBOX;
        rd->limit = 1000;

        return ngx_http_notify_store_read_for(r, rd,
                                              ngx_http_notify_outbox_listed);
    }

    if (ngx_http_notify_outbox_under(&rest, "/targets")) {
        return ngx_http_notify_outbox_targets(r, &rest);
    }

    if (ngx_http_notify_outbox_under(&rest, "/dead")) {
        return ngx_http_notify_dead_handler(r, &rest);
    }

    /* /<id> or /<id>/retry */

    last = rest.data + rest.len;
    id.data = rest.data + 1;
    slash = ngx_strlchr(id.data, last, '/');
    id.len = (slash ? slash : last) - id.data;

    dl = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_delivery_t));
    if (dl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rest.data[0] != '/'
        || ngx_http_notify_outbox_parse_entry(&id, &dl->op.seq, &dl->op.entry)
           != NGX_OK
        || (slash && !(last - slash == 6
                       && ngx_strncmp(slash, "/retry", 6) == 0)))
    {
        return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                            "There is no such resource.");
    }

    if (slash) {
        if (r->method != NGX_HTTP_POST) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_NOW;

    } else {
        if (r->method != NGX_HTTP_DELETE) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        dl->op.type = NGX_HTTP_NOTIFY_OP_OUTBOX_DROP;
    }

    dl->op.data = r;
    dl->op.log = r->connection->log;
    dl->op.done = ngx_http_notify_outbox_done;

    r->main->count++;

    ngx_http_notify_store_post(&dl->op);

    return NGX_DONE;
}


/*
 * Whether "rest" is "part" or under it ("part/..."); if so, "rest" becomes
 * what follows "part"
 */

static ngx_uint_t
ngx_http_notify_outbox_under(ngx_str_t *rest, const char *part)
{
    size_t  len;

    len = ngx_strlen(part);

    if (rest->len < len
        || ngx_strncmp(rest->data, part, len) != 0
        || (rest->len > len && rest->data[len] != '/'))
    {
        return 0;
    }

    rest->data += len;
    rest->len -= len;

    return 1;
}


static void
ngx_http_notify_outbox_listed(ngx_http_notify_store_read_t *rd)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = rd->data;

    if (rd->rc != NGX_OK) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "ServiceUnavailable",
                                        "The outbox could not be read.");

    } else {
        rc = ngx_http_notify_outbox_list(r, &rd->items);
    }

    ngx_http_finalize_request(r, rc);
}


/* the list read: {"items": [...]} */

static ngx_int_t
ngx_http_notify_outbox_list(ngx_http_request_t *r, ngx_array_t *entries)
{
    u_char                          *p, *end;
    json_t                          *items, *item;
    ngx_uint_t                       i;
    ngx_http_notify_outbox_entry_t  *e;
    u_char                           sid[NGX_HTTP_NOTIFY_ID_LEN];
    u_char                           eid[NGX_HTTP_NOTIFY_ID_LEN + 1
                                         + NGX_INT32_LEN];
    u_char                           next[sizeof("1970-01-01T00:00:00.000Z")];
    u_char                           created[sizeof("1970-01-01T00:00:00Z")];
    u_char                           expires[sizeof("1970-01-01T00:00:00Z")];

    items = json_array();
    if (items == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    e = entries->elts;

    for (i = 0; i < entries->nelts; i++) {
        (void) ngx_http_notify_format_id(sid, e[i].seq);
        end = ngx_http_notify_outbox_format_entry(eid, e[i].seq, e[i].entry);

        p = ngx_http_notify_iso8601(next, (time_t) (e[i].due / 1000));
        p = ngx_sprintf(p - 1, ".%03uLZ", e[i].due % 1000);
        *p = '\0';

        *ngx_http_notify_iso8601(created, e[i].created) = '\0';
        *ngx_http_notify_iso8601(expires, e[i].expires) = '\0';

        item = json_pack("{s:s%, s:i, s:s, s:s, s:s, s:s, s:s%, s:s%, s:i}",
                         "id", (char *) eid, (size_t) (end - eid),
                         "attempts", (int) e[i].attempts,
                         "next_attempt", (char *) next,
                         "created", (char *) created,
                         "expires", (char *) expires,
                         "last_error", (char *) e[i].error,
                         "notification", (char *) sid,
                         (size_t) NGX_HTTP_NOTIFY_ID_LEN,
                         "target", (char *) e[i].target.data,
                         e[i].target.len,
                         "part", (int) e[i].part);

        /* an entry of a target gone since a reload: kept, not attempted */

        if (item != NULL
            && ngx_http_notify_outbound_target(&e[i].target) == NULL)
        {
            json_object_set_new(item, "target_gone", json_true());
        }

        if (item == NULL || json_array_append_new(items, item) != 0) {
            json_decref(items);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_notify_outbox_send(r, "items", items);
}


static void
ngx_http_notify_outbox_done(ngx_http_notify_store_op_t *op)
{
    json_t              *json;
    ngx_int_t            rc;
    u_char              *end;
    ngx_http_request_t  *r;
    u_char               id[NGX_HTTP_NOTIFY_ID_LEN + 1 + NGX_INT32_LEN];

    r = op->data;

    if (op->rc == NGX_ERROR) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "ServiceUnavailable",
                                          "The outbox could not be"
                                          " updated.");

    } else if (op->rc == NGX_DECLINED) {
        rc = ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND, "NotFound",
                                          "There is no such pending"
                                          " delivery.");

    } else {
        end = ngx_http_notify_outbox_format_entry(id, op->seq, op->entry);

        json = json_pack("{s:s%, s:s}", "id", (char *) id,
                         (size_t) (end - id),
                         "state", op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_NOW
                                  ? "retrying" : "dropped");
        if (json == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
            json_decref(json);
        }

        if (op->type == NGX_HTTP_NOTIFY_OP_OUTBOX_NOW) {
            ngx_http_notify_delivery_arm(0);
        }
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The targets and their breakers (nothing of their credentials):
 *
 *   GET  /targets      {"targets": [{"name": "push", "dialect": "push",
 *                        "url": "https://...", "breaker": "open",
 *                        "failures": 5, "opened": 1,
 *                        "next_probe": "2026-...Z"}, ...]}
 *   POST /targets/<name>/enable    {"name": "push", "breaker": "closed"}
 */

static ngx_int_t
ngx_http_notify_outbox_targets(ngx_http_request_t *r, ngx_str_t *rest)
{
    json_t                           *targets, *target, *json;
    ngx_int_t                         rc;
    ngx_str_t                         name;
    ngx_uint_t                        i, slot;
    ngx_http_notify_target_t         *t, **tp;
    ngx_http_notify_breaker_info_t    info;
    ngx_http_notify_delivery_conf_t  *dc;

    dc = ngx_http_notify_outbound_conf();

    if (rest->len) {

        /* /<name>/enable */

        t = NULL;

        if (rest->len > 1 + sizeof("/enable") - 1
            && ngx_strncmp(rest->data + rest->len - (sizeof("/enable") - 1),
                           "/enable", sizeof("/enable") - 1)
               == 0)
        {
            name.data = rest->data + 1;
            name.len = rest->len - 1 - (sizeof("/enable") - 1);
            t = ngx_http_notify_outbound_target(&name);
        }

        if (t == NULL) {
            return ngx_http_notify_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "NotFound",
                                              "No such target.");
        }

        if (r->method != NGX_HTTP_POST) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        slot = ngx_http_notify_outbound_slot(t);

        if (ngx_http_notify_breaker_enable(slot, &t->name, r->connection->log)
            == NGX_OK)
        {
            ngx_http_notify_delivery_arm(0);
        }

        (void) ngx_http_notify_breaker_info(slot, &info);

        json = json_pack("{s:s%, s:s}",
                         "name", (char *) t->name.data, t->name.len,
                         "breaker", ngx_http_notify_breaker_state_name(&info));
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
        json_decref(json);

        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    targets = json_array();
    if (targets == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tp = (dc != NULL) ? dc->all.elts : NULL;

    for (i = 0; dc != NULL && i < dc->all.nelts; i++) {
        target = ngx_http_notify_outbox_target_json(tp[i], r->pool);

        if (target == NULL || json_array_append_new(targets, target) != 0) {
            json_decref(targets);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_notify_outbox_send(r, "targets", targets);
}


/* a target as /targets lists it: its URL without user and password */

static json_t *
ngx_http_notify_outbox_target_json(ngx_http_notify_target_t *t,
    ngx_pool_t *pool)
{
    u_char                          *p, *host, *at, *end;
    json_t                          *target;
    ngx_str_t                        url, clean;
    ngx_http_notify_breaker_info_t   info;
    u_char                           next[sizeof("1970-01-01T00:00:00.000Z")];

    url = t->url;
    end = url.data + url.len;

    host = ngx_strlcasestrn(url.data, end, (u_char *) "://", 3 - 1);

    host = (host != NULL) ? host + 3 : url.data;

    for (p = host; p < end && *p != '/' && *p != '?' && *p != '#'; p++) {
        /* the authority */
    }

    at = ngx_strlchr(host, p, '@');

    (void) ngx_http_notify_breaker_info(ngx_http_notify_outbound_slot(t),
                                        &info);

    target = json_pack("{s:s%, s:s%, s:s, s:s, s:i, s:i}",
                       "name", (char *) t->name.data, t->name.len,
                       "dialect", (char *) t->dialect->name.data,
                       t->dialect->name.len,
                       "url", "",
                       "breaker", ngx_http_notify_breaker_state_name(&info),
                       "failures", (int) info.failures,
                       "opened", (int) info.opened);
    if (target == NULL) {
        return NULL;
    }

    if (at != NULL) {
        /* the scheme, then what follows the credentials */

        clean.data = ngx_pnalloc(pool, url.len);
        if (clean.data == NULL) {
            json_decref(target);
            return NULL;
        }

        p = ngx_cpymem(clean.data, url.data, host - url.data);
        p = ngx_cpymem(p, at + 1, end - (at + 1));
        clean.len = p - clean.data;

        url = clean;
    }

    json_object_set_new(target, "url",
                        json_stringn((char *) url.data, url.len));

    if (info.next_probe) {
        p = ngx_http_notify_iso8601(next, (time_t) (info.next_probe / 1000));
        p = ngx_sprintf(p - 1, ".%03uLZ", info.next_probe % 1000);
        *p = '\0';

        json_object_set_new(target, "next_probe", json_string((char *) next));
    }

    return target;
}


/* "<id>" (entry 0) or "<id>-<entry>" */

ngx_int_t
ngx_http_notify_outbox_parse_entry(ngx_str_t *id, uint64_t *seq,
    uint32_t *entry)
{
    ngx_int_t  n;
    ngx_str_t  sid;

    *entry = 0;
    sid = *id;

    if (id->len > NGX_HTTP_NOTIFY_ID_LEN + 1
        && id->data[NGX_HTTP_NOTIFY_ID_LEN] == '-')
    {
        sid.len = NGX_HTTP_NOTIFY_ID_LEN;

        n = ngx_atoi(id->data + NGX_HTTP_NOTIFY_ID_LEN + 1,
                     id->len - NGX_HTTP_NOTIFY_ID_LEN - 1);
        if (n == NGX_ERROR || n == 0 || n > 0x7fffffff) {
            return NGX_ERROR;
        }

        *entry = (uint32_t) n;
    }

    return ngx_http_notify_parse_id(&sid, seq);
}


u_char *
ngx_http_notify_outbox_format_entry(u_char *p, uint64_t seq, uint32_t entry)
{
    p = ngx_http_notify_format_id(p, seq);

    if (entry) {
        p = ngx_sprintf(p, "-%uD", entry);
    }

    return p;
}


/* {"<key>": <array>}, the array the answer's */

static ngx_int_t
ngx_http_notify_outbox_send(ngx_http_request_t *r, const char *key,
    json_t *array)
{
    json_t     *json;
    ngx_int_t   rc;

    json = json_pack("{s:o}", key, array);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json, 0);
    json_decref(json);

    return rc;
}

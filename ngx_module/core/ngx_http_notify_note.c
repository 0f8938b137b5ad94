
/*
 * Copyright (C) ngx_http_notify authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_core.h"


/*
 * The keys of the stored notification, in the order they are written.  The
 * order is part of what the feed shows: a dialect's notifications keep the
 * order they have always had, since a key a dialect doesn't carry is only
 * left out.
 */

typedef enum {
    NGX_HTTP_NOTIFY_NOTE_ID = 0,               /* null until the store */
    NGX_HTTP_NOTIFY_NOTE_TEXT,                 /* ngx_str_t, a string */
    NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL,         /* ngx_str_t, empty: null */
    NGX_HTTP_NOTIFY_NOTE_TIME,                 /* time_t, ISO 8601 */
    NGX_HTTP_NOTIFY_NOTE_VALUE,                /* json_t, always carried */
    NGX_HTTP_NOTIFY_NOTE_OPTIONAL              /* json_t, NULL: left out */
} ngx_http_notify_note_kind_e;


typedef struct {
    const char                   *key;
    ngx_http_notify_note_kind_e   kind;
    size_t                        offset;
    unsigned                      feed:1;      /* the feed shows it */
} ngx_http_notify_note_key_t;


#define ngx_http_notify_note_at(k, type, member, feed)                      \
    { k, NGX_HTTP_NOTIFY_NOTE_##type,                                       \
      offsetof(ngx_http_notify_note_t, member), feed }


static ngx_http_notify_note_key_t  ngx_http_notify_note_keys[] = {
    ngx_http_notify_note_at("id", ID, id, 1),
    ngx_http_notify_note_at("dialect", TEXT, dialect, 1),
    ngx_http_notify_note_at("event", VALUE, event, 1),
    ngx_http_notify_note_at("title", VALUE, title, 1),
    ngx_http_notify_note_at("label", OPTIONAL, label, 1),
    ngx_http_notify_note_at("summary", OPTIONAL, summary, 1),
    ngx_http_notify_note_at("description", OPTIONAL, description, 1),
    ngx_http_notify_note_at("url", VALUE, url, 1),
    ngx_http_notify_note_at("comment", OPTIONAL, comment, 1),
    ngx_http_notify_note_at("notified", OPTIONAL, notified, 1),
    ngx_http_notify_note_at("created", TIME, created, 1),
    ngx_http_notify_note_at("type", OPTIONAL, type, 1),
    ngx_http_notify_note_at("workItemType", OPTIONAL, work_item_type, 1),
    ngx_http_notify_note_at("workItem", OPTIONAL, work_item, 1),
    ngx_http_notify_note_at("sender", TEXT_OR_NULL, sender, 0),
    ngx_http_notify_note_at("tenant", TEXT, tenant, 0),
    ngx_http_notify_note_at("topic", OPTIONAL, topic, 1),
    ngx_http_notify_note_at("chainId", OPTIONAL, chain_id, 1),
    { NULL, NGX_HTTP_NOTIFY_NOTE_ID, 0, 0 }
};


#if (NGX_HTTP_NOTIFY_REFERENCE)

/*
 * The notification as a jansson object, the same as the text of
 * ngx_http_notify_note_text(), with "id" null until the store has given it
 * its number.  The module writes its texts without it: it is built only
 * for scripts/fuzz, the reference its writers are checked against.  On
 * failure, err says why (json_pack_ex's way).
 */

json_t *
ngx_http_notify_note_json(ngx_http_notify_note_t *note, json_error_t *err)
{
    u_char                      *base;
    json_t                      *json, *v;
    ngx_str_t                   *s;
    ngx_http_notify_note_key_t  *k;
    u_char                       created[sizeof("1970-01-01T00:00:00Z")];

    json = json_object();
    if (json == NULL) {
        goto nomem;
    }

    base = (u_char *) note;

    for (k = ngx_http_notify_note_keys; k->key; k++) {

        switch (k->kind) {

        case NGX_HTTP_NOTIFY_NOTE_ID:
            s = (ngx_str_t *) (base + k->offset);
            v = s->len ? json_stringn((char *) s->data, s->len) : json_null();
            break;

        case NGX_HTTP_NOTIFY_NOTE_TEXT:
        case NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL:
            s = (ngx_str_t *) (base + k->offset);

            if (k->kind == NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL && s->len == 0) {
                v = json_null();
                break;
            }

            v = json_stringn(s->len ? (char *) s->data : "", s->len);

            if (v == NULL && s->len) {
                /* a text of the caller's (a tenant from a header, say) */

                json_decref(json);

                if (err) {
                    ngx_memzero(err, sizeof(json_error_t));
                    (void) ngx_sprintf((u_char *) err->text,
                                       "Invalid UTF-8 string in \"%s\"%Z",
                                       k->key);
                }

                return NULL;
            }

            break;

        case NGX_HTTP_NOTIFY_NOTE_TIME:
            *ngx_http_notify_iso8601(created,
                                     *(time_t *) (base + k->offset)) = '\0';
            v = json_string((char *) created);
            break;

        default: /* VALUE, OPTIONAL */
            v = *(json_t **) (base + k->offset);

            if (v == NULL) {
                if (k->kind == NGX_HTTP_NOTIFY_NOTE_OPTIONAL) {
                    continue;
                }

                json_decref(json);

                if (err) {
                    ngx_memzero(err, sizeof(json_error_t));
                    (void) ngx_sprintf((u_char *) err->text,
                                       "no value for \"%s\"%Z", k->key);
                }

                return NULL;
            }

            json_incref(v);
        }

        if (v == NULL || json_object_set_new(json, k->key, v) != 0) {
            json_decref(json);
            goto nomem;
        }
    }

    return json;

nomem:

    if (err) {
        ngx_memzero(err, sizeof(json_error_t));
        (void) ngx_cpystrn((u_char *) err->text, (u_char *) "out of memory",
                           sizeof(err->text));
    }

    return NULL;
}

#endif


/*
 * The two texts the store keeps of a notification, written from the struct
 * in one walk into the pool: all of it (what the outbox delivers) and the
 * feed's part, without what names the sender and the tenant; the bytes of
 * ngx_http_notify_note_json() dumped compact.  "id" comes first in both:
 * zeros until the store writes its number there, in place
 * (ngx_http_notify_note_set_id()).  On failure, err says why, as
 * ngx_http_notify_note_json() says it.
 */

ngx_int_t
ngx_http_notify_note_text(ngx_http_notify_note_t *note, ngx_pool_t *pool,
    ngx_str_t *full, ngx_str_t *view, json_error_t *err)
{
    size_t   size;
    u_char  *p;

    size = ngx_http_notify_note_size(note, err);
    if (size == 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, 2 * size);
    if (p == NULL) {
        ngx_memzero(err, sizeof(json_error_t));
        (void) ngx_cpystrn((u_char *) err->text, (u_char *) "out of memory",
                           sizeof(err->text));
        return NGX_ERROR;
    }

    full->data = p;
    view->data = p + size;

    full->len = ngx_http_notify_note_write(note, full->data, view) - p;

    return NGX_OK;
}


/*
 * The size of the whole text (the feed's part is no longer), and what
 * jansson would not take: 0, and err says why
 */

size_t
ngx_http_notify_note_size(ngx_http_notify_note_t *note, json_error_t *err)
{
    size_t                       size, n;
    u_char                      *base;
    ngx_str_t                   *s;
    ngx_http_notify_note_key_t  *k;

    base = (u_char *) note;

    size = sizeof("{}") - 1;

    for (k = ngx_http_notify_note_keys; k->key; k++) {

        switch (k->kind) {

        case NGX_HTTP_NOTIFY_NOTE_ID:
            n = NGX_HTTP_NOTIFY_NOTE_ID_LEN + 2;
            break;

        case NGX_HTTP_NOTIFY_NOTE_TEXT:
        case NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL:
            s = (ngx_str_t *) (base + k->offset);

            if (k->kind == NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL && s->len == 0) {
                n = sizeof("null") - 1;
                break;
            }

            if (ngx_http_notify_utf8_valid(s->data, s->len) != NGX_OK) {
                /* a text of the caller's (a tenant from a header, say) */
                ngx_memzero(err, sizeof(json_error_t));
                (void) ngx_sprintf((u_char *) err->text,
                                   "Invalid UTF-8 string in \"%s\"%Z",
                                   k->key);
                return 0;
            }

            n = ngx_http_notify_json_text_size(s->data, s->len);
            break;

        case NGX_HTTP_NOTIFY_NOTE_TIME:
            n = sizeof("\"1970-01-01T00:00:00Z\"") - 1;
            break;

        default: /* VALUE, OPTIONAL */
            if (*(json_t **) (base + k->offset) == NULL) {
                if (k->kind == NGX_HTTP_NOTIFY_NOTE_OPTIONAL) {
                    continue;
                }

                ngx_memzero(err, sizeof(json_error_t));
                (void) ngx_sprintf((u_char *) err->text,
                                   "no value for \"%s\"%Z", k->key);
                return 0;
            }

            n = ngx_http_notify_json_size(*(json_t **) (base + k->offset));

            if (n == 0) {
                ngx_memzero(err, sizeof(json_error_t));
                (void) ngx_cpystrn((u_char *) err->text,
                                   (u_char *) "out of memory",
                                   sizeof(err->text));
                return 0;
            }
        }

        /* ,"key": */
        size += ngx_strlen(k->key) + 4 + n;
    }

    return size;
}


/*
 * The whole text at "p" (ngx_http_notify_note_size() bytes at most), and
 * the feed's part into "view" when it is not NULL (its data the buffer);
 * returns the end of the whole text, after its "}".
 */

u_char *
ngx_http_notify_note_write(ngx_http_notify_note_t *note, u_char *p,
    ngx_str_t *view)
{
    u_char                      *base, *v, *start;
    ngx_str_t                   *s;
    ngx_http_notify_note_key_t  *k;

    base = (u_char *) note;
    v = view ? view->data : NULL;

    /* the text, and the feed's keys copied from it */

    *p++ = '{';

    if (v) {
        *v++ = '{';
    }

    for (k = ngx_http_notify_note_keys; k->key; k++) {

        if (k->kind == NGX_HTTP_NOTIFY_NOTE_OPTIONAL
            && *(json_t **) (base + k->offset) == NULL)
        {
            continue;
        }

        start = p;

        if (k != ngx_http_notify_note_keys) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, k->key, ngx_strlen(k->key));
        *p++ = '"';
        *p++ = ':';

        switch (k->kind) {

        case NGX_HTTP_NOTIFY_NOTE_ID:
            s = (ngx_str_t *) (base + k->offset);
            *p++ = '"';

            if (s->len == NGX_HTTP_NOTIFY_NOTE_ID_LEN) {
                p = ngx_cpymem(p, s->data, s->len);

            } else {
                p = ngx_cpymem(p, "0000000000000000",
                               NGX_HTTP_NOTIFY_NOTE_ID_LEN);
            }

            *p++ = '"';
            break;

        case NGX_HTTP_NOTIFY_NOTE_TEXT:
        case NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL:
            s = (ngx_str_t *) (base + k->offset);

            if (k->kind == NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL && s->len == 0) {
                p = ngx_cpymem(p, "null", sizeof("null") - 1);

            } else {
                p = ngx_http_notify_json_text_write(p, s->data, s->len);
            }

            break;

        case NGX_HTTP_NOTIFY_NOTE_TIME:
            *p++ = '"';
            p = ngx_http_notify_iso8601(p, *(time_t *) (base + k->offset));
            *p++ = '"';
            break;

        default: /* VALUE, OPTIONAL */
            p = ngx_http_notify_json_write(p, *(json_t **) (base + k->offset));
        }

        if (v && k->feed) {
            v = ngx_cpymem(v, start, p - start);
        }
    }

    *p++ = '}';

    if (v) {
        *v++ = '}';
        view->len = v - view->data;
    }

    return p;
}


/* the store's number, written in place into a text of note_text() */

void
ngx_http_notify_note_set_id(ngx_str_t *text, u_char *id)
{
    ngx_memcpy(text->data + NGX_HTTP_NOTIFY_NOTE_ID_AT, id,
               NGX_HTTP_NOTIFY_NOTE_ID_LEN);
}


/*
 * The other way: a stored notification (as ngx_http_notify_note_json()
 * wrote it, with its "id") back into the struct, for an outbound half.
 * The strings point into json, which must live as long as the note; the
 * json_t members take references of their own (ngx_http_notify_note_free).
 */

ngx_int_t
ngx_http_notify_note_load(ngx_http_notify_note_t *note, json_t *json)
{
    u_char                      *base;
    json_t                      *v;
    ngx_str_t                   *s;
    ngx_http_notify_note_key_t  *k;

    ngx_memzero(note, sizeof(ngx_http_notify_note_t));

    if (!json_is_object(json)) {
        return NGX_ERROR;
    }

    base = (u_char *) note;

    for (k = ngx_http_notify_note_keys; k->key; k++) {
        v = json_object_get(json, k->key);

        switch (k->kind) {

        case NGX_HTTP_NOTIFY_NOTE_ID:
        case NGX_HTTP_NOTIFY_NOTE_TEXT:
        case NGX_HTTP_NOTIFY_NOTE_TEXT_OR_NULL:
            if (v != NULL && json_is_string(v)) {
                s = (ngx_str_t *) (base + k->offset);
                s->data = (u_char *) json_string_value(v);
                s->len = json_string_length(v);

            } else if (k->kind == NGX_HTTP_NOTIFY_NOTE_TEXT
                       || (v != NULL && !json_is_null(v)))
            {
                goto invalid;
            }

            break;

        case NGX_HTTP_NOTIFY_NOTE_TIME:
            if (v == NULL || !json_is_string(v)
                || ngx_http_notify_parse_iso8601(json_string_value(v),
                                                 json_string_length(v),
                                                 (time_t *) (base + k->offset))
                   != NGX_OK)
            {
                goto invalid;
            }

            break;

        default: /* VALUE, OPTIONAL */
            if (v == NULL && k->kind == NGX_HTTP_NOTIFY_NOTE_VALUE) {
                goto invalid;
            }

            *(json_t **) (base + k->offset) = json_incref(v);
        }
    }

    return NGX_OK;

invalid:

    ngx_http_notify_note_free(note);

    return NGX_ERROR;
}


void
ngx_http_notify_note_free(ngx_http_notify_note_t *note)
{
    u_char                      *base;
    json_t                     **v;
    ngx_http_notify_note_key_t  *k;

    base = (u_char *) note;

    for (k = ngx_http_notify_note_keys; k->key; k++) {
        if (k->kind == NGX_HTTP_NOTIFY_NOTE_VALUE
            || k->kind == NGX_HTTP_NOTIFY_NOTE_OPTIONAL)
        {
            v = (json_t **) (base + k->offset);

            json_decref(*v);
            *v = NULL;
        }
    }
}

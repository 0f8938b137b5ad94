
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * What the dialects' outbound halves share: each renders the canonical
 * notification into its own contract's request, and these are the pieces
 * that are the same in every contract.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_render.h"


static ngx_int_t ngx_http_notify_render_url(
    ngx_http_notify_outbound_req_t *out, ngx_str_t *base, const char *path);


/* the languages a text per language is read in, when one text is wanted */
static const char  *ngx_http_notify_render_languages[] = {
    "en", "de", "fr", NULL
};


/*
 * The target's activity type of the notification's event type: its
 * "activity_type event type" line, else "activity_type default", else the
 * event type itself (empty when the notification has none).
 */

ngx_int_t
ngx_http_notify_render_activity_type(ngx_http_notify_target_t *target,
    ngx_http_notify_note_t *note, ngx_str_t *type)
{
    ngx_str_t      event;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    ngx_str_null(&event);

    if (json_is_string(note->event)) {
        event.data = (u_char *) json_string_value(note->event);
        event.len = json_string_length(note->event);
    }

    if (target->activity_types) {
        kv = target->activity_types->elts;

        for (i = 0; i < target->activity_types->nelts; i++) {
            if (kv[i].key.len == event.len
                && ngx_strncmp(kv[i].key.data, event.data, event.len) == 0)
            {
                *type = kv[i].value;
                return NGX_OK;
            }
        }
    }

    *type = target->default_activity_type.len ? target->default_activity_type
                                              : event;

    return type->len ? NGX_OK : NGX_DECLINED;
}


/*
 * One text of a value that is a text, or a text per language (GEVER's):
 * English, German, French, else the first of its texts.  A new reference,
 * or NULL when there is no text that is not empty.
 */

json_t *
ngx_http_notify_render_text(json_t *value)
{
    json_t       *v;
    const char   *key, **lang;

    if (json_is_string(value)) {
        return json_string_length(value) ? json_incref(value) : NULL;
    }

    if (!json_is_object(value)) {
        return NULL;
    }

    for (lang = ngx_http_notify_render_languages; *lang; lang++) {
        v = json_object_get(value, *lang);

        if (json_is_string(v) && json_string_length(v)) {
            return json_incref(v);
        }
    }

    json_object_foreach(value, key, v) {
        if (json_is_string(v) && json_string_length(v)) {
            return json_incref(v);
        }
    }

    return NULL;
}


/*
 * The notification's text besides its title: its comment (Syntphony's,
 * push's, Graph's preview), else GEVER's summary, else its description.
 */

json_t *
ngx_http_notify_render_comment(ngx_http_notify_note_t *note)
{
    json_t  *text;

    text = ngx_http_notify_render_text(note->comment);

    if (text == NULL) {
        text = ngx_http_notify_render_text(note->summary);
    }

    if (text == NULL) {
        text = ngx_http_notify_render_text(note->description);
    }

    return text;
}


/* the user ids the notification went to, as a JSON array */

json_t *
ngx_http_notify_render_recipients(ngx_http_notify_note_t *note)
{
    json_t      *a;
    ngx_str_t   *id;
    ngx_uint_t   i;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    id = note->recipients;

    for (i = 0; i < note->nrecipients; i++) {
        if (json_array_append_new(a, json_stringn((char *) id[i].data,
                                                  id[i].len))
            != 0)
        {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


/*
 * The body: "json" as compact JSON, in the request's pool: the bytes
 * json_dumps() would write, without its allocations (the first attempt
 * renders one a notification, in the caller's event loop).
 */

ngx_int_t
ngx_http_notify_render_body(ngx_http_notify_outbound_req_t *out,
    json_t *json)
{
    size_t   size;
    u_char  *p;

    size = ngx_http_notify_json_size(json);
    if (size == 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(out->pool, size + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->body.data = p;

    p = ngx_http_notify_json_write(p, json);
    *p = '\0';

    out->body.len = p - out->body.data;

    return NGX_OK;
}


/*
 * The canonical notification as the store keeps it (the bytes of
 * ngx_http_notify_note_json() dumped compact), then "recipients" (the user
 * ids it goes to) and the members of "more" (the dialect's own keys, none
 * of them one of the notification's, which are camelCase; NULL: none),
 * written into the request's pool as "text", without a tree of the
 * notification: the first attempt renders in the caller's event loop.
 */

ngx_int_t
ngx_http_notify_render_note(ngx_http_notify_outbound_req_t *out,
    ngx_http_notify_note_t *note, json_t *more, ngx_str_t *text)
{
    size_t         size, n;
    u_char        *p, *last;
    ngx_str_t     *id;
    ngx_uint_t     i;
    json_error_t   err;

    size = ngx_http_notify_note_size(note, &err);
    if (size == 0) {
        return NGX_ERROR;
    }

    size += sizeof(",\"recipients\":[]") - 1;
    id = note->recipients;

    for (i = 0; i < note->nrecipients; i++) {
        if (ngx_http_notify_utf8_valid(id[i].data, id[i].len) != NGX_OK) {
            return NGX_ERROR;
        }

        size += 1 + ngx_http_notify_json_text_size(id[i].data, id[i].len);
    }

    if (more != NULL && json_object_size(more) == 0) {
        more = NULL;
    }

    if (more) {
        n = ngx_http_notify_json_size(more);
        if (n == 0) {
            return NGX_ERROR;
        }

        size += n;

    } else {
        size++;
    }

    p = ngx_pnalloc(out->pool, size + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;

    /* the notification without its "}" */

    p = ngx_http_notify_note_write(note, p, NULL) - 1;

    p = ngx_cpymem(p, ",\"recipients\":[", sizeof(",\"recipients\":[") - 1);

    for (i = 0; i < note->nrecipients; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_http_notify_json_text_write(p, id[i].data, id[i].len);
    }

    *p++ = ']';

    if (more) {
        /* its members after a "," in place of its "{", and its "}" */

        last = ngx_http_notify_json_write(p, more);
        *p = ',';
        p = last;

    } else {
        *p++ = '}';
    }

    *p = '\0';
    text->len = p - text->data;

    return NGX_OK;
}


/* a POST to the base URL (without its trailing "/") and "path" after it */

static ngx_int_t
ngx_http_notify_render_url(ngx_http_notify_outbound_req_t *out,
    ngx_str_t *base, const char *path)
{
    u_char  *p;
    size_t   len, plen;

    len = base->len;

    while (len && base->data[len - 1] == '/') {
        len--;
    }

    plen = ngx_strlen(path);

    p = ngx_pnalloc(out->pool, len + plen + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->url.data = p;

    p = ngx_cpymem(p, base->data, len);
    p = ngx_cpymem(p, path, plen);
    *p = '\0';

    out->url.len = p - out->url.data;

    out->method = NGX_HTTP_POST;
    ngx_str_set(&out->method_name, "POST");

    return NGX_OK;
}


/* the request's headers, in this order; one whose value is empty is left out */

ngx_int_t
ngx_http_notify_render_headers(ngx_http_notify_outbound_req_t *out,
    ngx_keyval_t *headers, ngx_uint_t n)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (ngx_array_init(&out->headers, out->pool, n, sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (headers[i].value.len == 0) {
            continue;
        }

        kv = ngx_array_push(&out->headers);
        if (kv == NULL) {
            return NGX_ERROR;
        }

        *kv = headers[i];
    }

    return NGX_OK;
}


/*
 * A POST of JSON to the base URL and "path": the body (a reference this
 * takes; NULL: it could not be made), then the headers Content-Type, the
 * "more" of the dialect and Authorization (each left out when empty).
 */

ngx_int_t
ngx_http_notify_render_post(ngx_http_notify_outbound_req_t *out,
    ngx_str_t *base, const char *path, json_t *body, ngx_keyval_t *more,
    ngx_uint_t n)
{
    ngx_int_t     rc;
    ngx_uint_t    i;
    ngx_keyval_t  headers[NGX_HTTP_NOTIFY_RENDER_HEADERS];

    if (body == NULL || n > NGX_HTTP_NOTIFY_RENDER_HEADERS - 2) {
        json_decref(body);
        return NGX_ERROR;
    }

    rc = ngx_http_notify_render_body(out, body);
    json_decref(body);

    if (rc != NGX_OK
        || ngx_http_notify_render_url(out, base, path) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&headers[0].key, "Content-Type");
    ngx_str_set(&headers[0].value, "application/json");

    for (i = 0; i < n; i++) {
        headers[1 + i] = more[i];
    }

    ngx_str_set(&headers[1 + n].key, "Authorization");
    headers[1 + n].value = out->authorization;

    return ngx_http_notify_render_headers(out, headers, n + 2);
}


/* an error body's code (or type) and message: ", code: message" */

u_char *
ngx_http_notify_render_error_pair(u_char *p, u_char *last, json_t *code,
    json_t *message)
{
    if (json_is_string(code)) {
        p = ngx_slprintf(p, last, ", %s", json_string_value(code));
    }

    if (json_is_string(message)) {
        p = ngx_slprintf(p, last, "%s %s", json_is_string(code) ? ":" : ",",
                         json_string_value(message));
    }

    return p;
}


/*
 * An answer judged by a contract that names its success status ("also":
 * another one, or 0).  408, 425, 429 and 5xx are worth another attempt,
 * and so is a 401 of a target with OAuth2 (its token is fetched again);
 * any other answer is final: the request as rendered will never be taken.
 * The reason says the status and what the error body says, in the
 * dialect's words ("error").
 */

ngx_http_notify_verdict_e
ngx_http_notify_render_judge(ngx_http_notify_target_t *target,
    ngx_uint_t status, ngx_uint_t success, ngx_uint_t also, ngx_str_t *body,
    ngx_http_notify_render_error_pt error, u_char *reason, size_t size)
{
    u_char                     *p, *last;
    json_t                     *json;
    ngx_http_notify_verdict_e   verdict;

    if (status == success || (also && status == also)) {
        *reason = '\0';
        return NGX_HTTP_NOTIFY_DELIVERED;
    }

    if (status == 408 || status == 425 || status == 429 || status >= 500
        || (status == 401 && target->oauth2_token_url.len))
    {
        verdict = NGX_HTTP_NOTIFY_RETRY;

    } else {
        verdict = NGX_HTTP_NOTIFY_GIVE_UP;
    }

    p = reason;
    last = reason + size - 1;

    p = ngx_slprintf(p, last, "HTTP %ui", status);

    if (status >= 200 && status < 300) {
        p = ngx_slprintf(p, last, ", not the contract's %ui", success);
    }

    if (error && body->len) {
        json = json_loadb((char *) body->data, body->len, 0, NULL);

        if (json_is_object(json)) {
            p = error(json, p, last);
        }

        json_decref(json);
    }

    *p = '\0';

    return verdict;
}

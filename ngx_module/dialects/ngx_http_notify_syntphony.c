
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The Syntphony dialect: POST .../ActivityCenter/app/setExternalNotification
 * behind an API gateway (subscription key) with an OAuth2 bearer token.
 * Errors are ASP.NET Core problem details (application/problem+json); the
 * gateway's own key errors are {"statusCode": 401, "message": ...}.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_render.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>


static ngx_int_t ngx_http_notify_syntphony_check_headers(
    ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_syntphony_check_request(
    ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_syntphony_parse(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_syntphony_expand(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_syntphony_answer(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_syntphony_send_error(
    ngx_http_notify_req_t *nr);
static json_t *ngx_http_notify_syntphony_string(ngx_http_notify_req_t *nr,
    const char *name, ngx_uint_t required);


static ngx_int_t ngx_http_notify_syntphony_render(
    ngx_http_notify_target_t *target, ngx_http_notify_note_t *note,
    ngx_http_notify_outbound_req_t *out);
static ngx_http_notify_verdict_e ngx_http_notify_syntphony_judge(
    ngx_http_notify_target_t *target, ngx_uint_t status, ngx_str_t *body,
    u_char *reason, size_t size);
static u_char *ngx_http_notify_syntphony_error_text(json_t *json, u_char *p,
    u_char *last);


ngx_http_notify_dialect_t  ngx_http_notify_syntphony_dialect = {
    ngx_string("syntphony"),
    NGX_HTTP_POST,
    ngx_string("access_as_application"),
    ngx_http_notify_syntphony_check_headers,
    ngx_http_notify_syntphony_check_request,
    ngx_http_notify_syntphony_parse,
    NULL,
    ngx_http_notify_syntphony_expand,
    ngx_http_notify_syntphony_answer,
    NULL,
    ngx_http_notify_syntphony_send_error,
    0,
    NULL,                              /* no directives of its own */
    NULL,
    NULL,
    NULL,
    ngx_http_notify_syntphony_render,
    ngx_http_notify_syntphony_judge,
    NULL,
    0
};


/* a body that is not a JSON object: ASP.NET's words, on the field "$" */
static const ngx_http_notify_json_body_t  ngx_http_notify_syntphony_body = {
    NGX_HTTP_NOTIFY_ERR_INVALID,
    NGX_HTTP_BAD_REQUEST,
    "$",
    "%s. Path: $ | LineNumber: %d | BytePositionInLine: %d.",
    "The JSON value could not be converted to"
    " SetExternalNotificationRequest. Path: $.",
    0,
    1
};


/* the API gateway's subscription key, checked before anything else */

static ngx_int_t
ngx_http_notify_syntphony_check_headers(ngx_http_notify_req_t *nr)
{
    ngx_str_t        *keys, key;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    if (nr->keys == NULL) {
        return NGX_OK;
    }

    h = ngx_http_notify_header(&nr->request->headers_in.headers,
                               "Ocp-Apim-Subscription-Key");

    if (h != NULL) {
        key = h->value;

    } else if (ngx_http_arg(nr->request, (u_char *) "subscription-key", 16,
                            &key)
               != NGX_OK)
    {
        ngx_str_null(&key);
    }

    if (key.len == 0) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_KEY_MISSING,
                                    NGX_HTTP_UNAUTHORIZED,
                                    "Access denied due to missing"
                                    " subscription key. Make sure to include"
                                    " subscription key when making requests"
                                    " to an API.");
    }

    keys = nr->keys->elts;

    for (i = 0; i < nr->keys->nelts; i++) {
        if (keys[i].len == key.len
            && CRYPTO_memcmp(keys[i].data, key.data, key.len) == 0)
        {
            return NGX_OK;
        }
    }

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_KEY_INVALID,
                                NGX_HTTP_UNAUTHORIZED,
                                "Access denied due to invalid subscription"
                                " key. Make sure to provide a valid key for"
                                " an active subscription.");
}


/* the media types ASP.NET Core's JSON input formatter takes */

static ngx_int_t
ngx_http_notify_syntphony_check_request(ngx_http_notify_req_t *nr)
{
    ngx_str_t            type;
    ngx_http_request_t  *r;

    r = nr->request;

    if (r->headers_in.content_type != NULL
        && ngx_http_notify_json_media_type(&r->headers_in.content_type->value,
                                           1, &type))
    {
        return NGX_OK;
    }

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_MEDIA_TYPE,
                                NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                "Unsupported Media Type");
}


/* a string field: NULL when absent (or invalid, with the error noted) */

static json_t *
ngx_http_notify_syntphony_string(ngx_http_notify_req_t *nr, const char *name,
    ngx_uint_t required)
{
    json_t  *v;

    v = json_object_get(nr->body, name);

    if (v == NULL || json_is_null(v)) {
        if (required) {
            ngx_http_notify_field_error(nr, name,
                                        "The %s field is required.", name);
        }

        return NULL;
    }

    if (!json_is_string(v)) {
        ngx_http_notify_field_error(nr, name,
                                    "The JSON value could not be converted to"
                                    " System.String. Path: $.%s.", name);
        return NULL;
    }

    if (required && json_string_length(v) == 0) {
        ngx_http_notify_field_error(nr, name,
                                    "The %s field is required.", name);
        return NULL;
    }

    return v;
}


static ngx_int_t
ngx_http_notify_syntphony_parse(ngx_http_notify_req_t *nr)
{
    u_char                        field[32];
    json_t                       *event, *unique, *title, *url, *comment;
    json_t                       *notified, *accounts, *a;
    size_t                        i;
    ngx_str_t                     parts[2];
    ngx_http_notify_principal_t  *p;

    if (nr->raw.len == 0) {
        return ngx_http_notify_field_error(nr, "",
                                           "A non-empty request body is"
                                           " required.");
    }

    if (ngx_http_notify_json_object_body(nr,
                                         &ngx_http_notify_syntphony_body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* every field is checked, so that the answer lists every error */

    event = ngx_http_notify_syntphony_string(nr, "eventId", 1);
    unique = ngx_http_notify_syntphony_string(nr, "uniqueId", 0);
    title = ngx_http_notify_syntphony_string(nr, "title", 1);
    url = ngx_http_notify_syntphony_string(nr, "url", 1);

    if (url && ngx_http_notify_valid_http_url(json_string_value(url),
                                              json_string_length(url))
               != NGX_OK)
    {
        ngx_http_notify_field_error(nr, "url",
                                    "The url field is not a valid"
                                    " fully-qualified http or https URL.");
    }

    notified = json_object_get(nr->body, "notified");

    if (notified && json_is_null(notified)) {
        notified = NULL;
    }

    if (notified
        && (!json_is_string(notified)
            || ngx_http_notify_valid_datetime(json_string_value(notified),
                                              json_string_length(notified))
               != NGX_OK))
    {
        ngx_http_notify_field_error(nr, "notified",
                                    "The JSON value could not be converted to"
                                    " System.DateTime. Path: $.notified.");
    }

    accounts = json_object_get(nr->body, "accounts");

    if (accounts == NULL || json_is_null(accounts)) {
        ngx_http_notify_field_error(nr, "accounts",
                                    "The accounts field is required.");

    } else if (!json_is_array(accounts)) {
        ngx_http_notify_field_error(nr, "accounts",
                                    "The JSON value could not be converted to"
                                    " System.String[]. Path: $.accounts.");

    } else if (json_array_size(accounts) == 0) {
        ngx_http_notify_field_error(nr, "accounts",
                                    "The accounts field must contain at"
                                    " least one account.");

    } else {
        json_array_foreach(accounts, i, a) {
            if (!json_is_string(a) || json_string_length(a) == 0) {
                *ngx_snprintf(field, sizeof(field) - 1, "accounts[%uz]", i)
                    = '\0';
                ngx_http_notify_field_error(nr, (char *) field,
                                            "The %s field must be a"
                                            " non-empty string.", field);
            }
        }
    }

    comment = ngx_http_notify_syntphony_string(nr, "comment", 0);

    if (nr->fields) {
        return NGX_ERROR;
    }

    /* the canonical notification */

    p = nr->auth->principal;

    nr->note.event = json_incref(event);
    nr->note.title = json_incref(title);
    nr->note.url = json_incref(url);
    nr->note.comment = comment ? json_incref(comment) : json_null();
    nr->note.notified = notified ? json_incref(notified) : json_null();
    nr->note.sender = p->sender;

    if (unique) {
        parts[0].data = (u_char *) json_string_value(event);
        parts[0].len = json_string_length(event);
        parts[1].data = (u_char *) json_string_value(unique);
        parts[1].len = json_string_length(unique);

        if (ngx_http_notify_key(nr, parts, 2, nr->idem) != NGX_OK) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "idempotency key failed");
        }

        nr->has_idem = 1;
    }

    return NGX_OK;
}


/* accounts are UPNs of users or groups; a user wins over a group */

static ngx_int_t
ngx_http_notify_syntphony_expand(ngx_http_notify_req_t *nr)
{
    size_t                        i;
    u_char                       *p, *last;
    json_t                       *accounts, *a;
    ngx_int_t                     rc;
    ngx_str_t                     name;
    u_char                        list[512];


    nr->unresolved = json_array();
    if (nr->unresolved == NULL) {
        return NGX_ERROR;
    }

    accounts = json_object_get(nr->body, "accounts");

    json_array_foreach(accounts, i, a) {
        name.data = (u_char *) json_string_value(a);
        name.len = json_string_length(a);

        rc = ngx_http_notify_add_name(nr, nr->directory, &name);

        if (rc == NGX_ERROR) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "out of memory");
        }

        if (rc == NGX_DECLINED || rc == NGX_DONE) {
            json_array_append(nr->unresolved, a);
        }
    }

    if (nr->recipients.nelts) {
        return NGX_OK;
    }

    p = list;
    last = list + sizeof(list) - sizeof("...");

    json_array_foreach(nr->unresolved, i, a) {
        if ((size_t) (last - p) < json_string_length(a) + (i ? 2 : 0)) {
            p = ngx_cpymem(p, "...", 3);
            break;
        }

        p = ngx_slprintf(p, last, "%s%s", i ? ", " : "", json_string_value(a));
    }

    *p = '\0';

    ngx_http_notify_field_error(nr, "accounts",
                                "None of the accounts resolves to an active"
                                " user or group: %s.", list);
    nr->error = NGX_HTTP_NOTIFY_ERR_UNRESOLVED;

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_notify_syntphony_answer(ngx_http_notify_req_t *nr)
{
    nr->answer = json_pack("{s:n, s:I, s:O}",
                           "id",
                           "recipients", (json_int_t) nr->recipients.nelts,
                           "unresolved", nr->unresolved);
    if (nr->answer == NULL) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    nr->success = NGX_HTTP_OK;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_syntphony_send_error(ngx_http_notify_req_t *nr)
{
    u_char              *p;
    json_t              *json;
    ngx_int_t            rc;
    const char          *type, *title;
    ngx_http_request_t  *r;
    u_char               rnd[24], trace[sizeof("00-") + 32 + 1 + 16 + sizeof("-00")];

    r = nr->request;

    if (nr->error == NGX_HTTP_NOTIFY_ERR_KEY_MISSING
        || nr->error == NGX_HTTP_NOTIFY_ERR_KEY_INVALID)
    {
        json = json_pack("{s:i, s:s%}", "statusCode", 401,
                         "message", nr->message.data, nr->message.len);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_notify_send_json(r, nr->status, NULL, json, 0);
        json_decref(json);

        return rc;
    }

    if (nr->error == NGX_HTTP_NOTIFY_ERR_AUTH) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: unauthenticated: %V", &nr->message);

        if (ngx_http_notify_set_www_authenticate(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    switch (nr->status) {

    case NGX_HTTP_BAD_REQUEST:
        type = "https://tools.ietf.org/html/rfc7231#section-6.5.1";
        title = "One or more validation errors occurred.";
        break;

    case NGX_HTTP_UNAUTHORIZED:
        type = "https://tools.ietf.org/html/rfc7235#section-3.1";
        title = "Unauthorized";
        break;

    case NGX_HTTP_FORBIDDEN:
        type = "https://tools.ietf.org/html/rfc7231#section-6.5.3";
        title = "Forbidden";
        break;

    case NGX_HTTP_NOT_ALLOWED:
        type = "https://tools.ietf.org/html/rfc7231#section-6.5.5";
        title = "Method Not Allowed";
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        type = "https://tools.ietf.org/html/rfc7231#section-6.5.11";
        title = "Payload Too Large";
        break;

    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
        type = "https://tools.ietf.org/html/rfc7231#section-6.5.13";
        title = "Unsupported Media Type";
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        type = "https://tools.ietf.org/html/rfc7231#section-6.6.4";
        title = "Service Unavailable";
        break;

    default:
        type = "https://tools.ietf.org/html/rfc7231#section-6.6.1";
        title = "An error occurred while processing your request.";
        break;
    }

    /* W3C trace context, as ASP.NET Core puts it in "traceId" */

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ngx_memzero(rnd, sizeof(rnd));
    }

    p = ngx_cpymem(trace, "00-", 3);
    p = ngx_hex_dump(p, rnd, 16);
    *p++ = '-';
    p = ngx_hex_dump(p, rnd + 16, 8);
    p = ngx_cpymem(p, "-00", 3);
    *p = '\0';

    json = json_pack("{s:s, s:s, s:i, s:s}",
                     "type", type, "title", title, "status", (int) nr->status,
                     "traceId", (char *) trace);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (nr->fields) {
        json_object_set(json, "errors", nr->fields);
    }

    rc = ngx_http_notify_send_json(r, nr->status,
                                   "application/problem+json; charset=utf-8",
                                   json, 0);
    json_decref(json);

    return rc;
}


/*
 * The outbound half: the notification as Syntphony's
 *
 *   POST <url>/ActivityCenter/app/setExternalNotification
 *
 * with the target's activity type as eventId, the notification's id as
 * uniqueId (the same for every attempt, so that a repeated one is known;
 * never the chain id: Syntphony takes eventId and uniqueId as an
 * idempotency key, and would drop the second notification of a chain),
 * one text of its title, its URL, when it happened, its recipients as
 * accounts and its text as comment; the target's subscription key as
 * ocp-apim-subscription-key.
 */

static ngx_int_t
ngx_http_notify_syntphony_render(ngx_http_notify_target_t *target,
    ngx_http_notify_note_t *note, ngx_http_notify_outbound_req_t *out)
{
    json_t        *body, *unique, *accounts;
    ngx_str_t      type;
    ngx_keyval_t   key;

    (void) ngx_http_notify_render_activity_type(target, note, &type);

    unique = ngx_http_notify_json_str(&note->id);

    accounts = ngx_http_notify_render_recipients(note);

    body = json_pack("{s:o, s:o, s:o*, s:O*, s:O*, s:o, s:o*}",
                     "eventId", ngx_http_notify_json_str(&type),
                     "uniqueId", unique,
                     "title", ngx_http_notify_render_text(note->title),
                     "url", json_is_string(note->url) ? note->url : NULL,
                     "notified", json_is_string(note->notified)
                                 ? note->notified : NULL,
                     "accounts", accounts,
                     "comment", ngx_http_notify_render_comment(note));

    ngx_str_set(&key.key, "ocp-apim-subscription-key");
    key.value = target->subscription_key;

    return ngx_http_notify_render_post(out, &target->url,
                                "/ActivityCenter/app/setExternalNotification",
                                body, &key, 1);
}


/* Syntphony's answer: 200 */

static ngx_http_notify_verdict_e
ngx_http_notify_syntphony_judge(ngx_http_notify_target_t *target,
    ngx_uint_t status, ngx_str_t *body, u_char *reason, size_t size)
{
    return ngx_http_notify_render_judge(target, status, NGX_HTTP_OK, 0, body,
                                        ngx_http_notify_syntphony_error_text,
                                        reason, size);
}


/*
 * Problem details (", <title> <field>: <message> ...") or the gateway's
 * {"statusCode": 401, "message": "..."} (", <message>")
 */

static u_char *
ngx_http_notify_syntphony_error_text(json_t *json, u_char *p, u_char *last)
{
    size_t       i;
    json_t      *title, *errors, *messages, *m;
    const char  *field;

    title = json_object_get(json, "title");

    if (!json_is_string(title)) {
        title = json_object_get(json, "message");
    }

    if (json_is_string(title)) {
        p = ngx_slprintf(p, last, ", %s", json_string_value(title));
    }

    errors = json_object_get(json, "errors");

    if (!json_is_object(errors)) {
        return p;
    }

    json_object_foreach(errors, field, messages) {
        json_array_foreach(messages, i, m) {
            if (json_is_string(m)) {
                p = ngx_slprintf(p, last, " %s: %s", field,
                                 json_string_value(m));
            }
        }
    }

    return p;
}


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The GEVER dialect: POST /@external-activities, with a bearer token of a
 * user or of a service account.  The answers are plone.restapi's: JSON
 * objects with sorted keys, errors as {"message": ..., "type": ...}.
 *
 * GEVER's order: the caller is authorized (may it notify these recipients?)
 * before the body is validated, so parse() does both; a validation error
 * lists every bad field at once, as zope.schema's error list.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"


#define NGX_HTTP_NOTIFY_GEVER_PRIVILEGED  "PrivilegedNotificationDispatcher"
#define NGX_HTTP_NOTIFY_GEVER_URL_MAX     255


/* the text of a validation error, grown in the request pool */
typedef struct {
    ngx_pool_t                 *pool;
    u_char                     *start;
    u_char                     *pos;
    u_char                     *end;
    ngx_uint_t                  errors;        /* entries so far */
    unsigned                    nomem:1;
} ngx_http_notify_gever_text_t;


/* the gever part of a location's configuration */
typedef struct {
    ngx_str_t                   actor_claim;   /* notify_gever_actor_claim */
} ngx_http_notify_gever_conf_t;


static void *ngx_http_notify_gever_create_conf(ngx_conf_t *cf);
static char *ngx_http_notify_gever_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_notify_gever_parse(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_gever_authorize(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_gever_validate(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_gever_expand(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_gever_answer(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_gever_send_answer(ngx_http_notify_req_t *nr,
    json_t *answer);
static ngx_int_t ngx_http_notify_gever_send_error(ngx_http_notify_req_t *nr);

static ngx_int_t ngx_http_notify_gever_actor(ngx_http_notify_req_t *nr,
    ngx_str_t *id);
static ngx_uint_t ngx_http_notify_gever_privileged(ngx_http_notify_req_t *nr);
static ngx_uint_t ngx_http_notify_gever_suppressed(ngx_http_request_t *r);
static const char *ngx_http_notify_gever_language(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_gever_not_found(ngx_http_notify_req_t *nr);

static void ngx_http_notify_gever_check_recipients(
    ngx_http_notify_gever_text_t *t, json_t *v);
static void ngx_http_notify_gever_check_url(ngx_http_notify_gever_text_t *t,
    json_t *v);
static void ngx_http_notify_gever_check_text(ngx_http_notify_gever_text_t *t,
    const char *name, json_t *v);
static void ngx_http_notify_gever_entry(ngx_http_notify_gever_text_t *t,
    const char *name);
static void ngx_http_notify_gever_contained(ngx_http_notify_gever_text_t *t,
    ngx_uint_t *n, const char *name);
static void ngx_http_notify_gever_wrong_type(ngx_http_notify_gever_text_t *t,
    json_t *v, const char *type, const char *name);
static void ngx_http_notify_gever_add(ngx_http_notify_gever_text_t *t,
    const void *data, size_t len);
static void ngx_http_notify_gever_repr(ngx_http_notify_gever_text_t *t,
    json_t *v, ngx_uint_t bytes);
static void ngx_http_notify_gever_repr_real(ngx_http_notify_gever_text_t *t,
    double d);
static void ngx_http_notify_gever_repr_string(ngx_http_notify_gever_text_t *t,
    const u_char *s, size_t len, ngx_uint_t bytes);
static ngx_uint_t ngx_http_notify_gever_utf8(const u_char **p,
    const u_char *last);
static ngx_uint_t ngx_http_notify_gever_has_eol(json_t *s);
static ngx_uint_t ngx_http_notify_gever_is_uri(json_t *s);


#define ngx_http_notify_gever_lit(t, s)                                       \
    ngx_http_notify_gever_add(t, s, sizeof(s) - 1)


static ngx_command_t  ngx_http_notify_gever_commands[] = {

    { ngx_string("notify_gever_actor_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_gever_conf_t, actor_claim),
      NULL },

      ngx_null_command
};


ngx_http_notify_dialect_t  ngx_http_notify_gever_dialect = {
    ngx_string("gever"),
    NGX_HTTP_POST,
    ngx_null_string,                 /* any authenticated caller */
    NULL,
    NULL,
    ngx_http_notify_gever_parse,
    NULL,                            /* authorized in parse, see there */
    ngx_http_notify_gever_expand,
    ngx_http_notify_gever_answer,
    ngx_http_notify_gever_send_answer,
    ngx_http_notify_gever_send_error,
    1,                               /* GEVER sends no "Allow" */
    ngx_http_notify_gever_commands,
    ngx_http_notify_gever_create_conf,
    ngx_http_notify_gever_merge_conf,
    NULL,
    NULL,                            /* no outbound half yet */
    NULL,
    0                                /* no limit of recipients */
};


/* a body that is not a JSON object (an empty one is the empty object) */
static const ngx_http_notify_json_body_t  ngx_http_notify_gever_body = {
    NGX_HTTP_NOTIFY_ERR_JSON,
    NGX_HTTP_BAD_REQUEST,
    NULL,
    "The request body is not valid JSON: %s (line %d, column %d).",
    "The request body must be a JSON object.",
    0,
    0
};


/* the fields of the schema, in its order */
static const char  *ngx_http_notify_gever_fields[] = {
    "notification_recipients",
    "resource_url",
    "title",
    "label",
    "summary",
    "description",
    NULL
};


static const char  *ngx_http_notify_gever_languages[] = {
    "de", "fr", "en", NULL
};


/*
 * The body: JSON (empty is {}), then authorization, then validation, then
 * the canonical notification.
 */

static ngx_int_t
ngx_http_notify_gever_parse(ngx_http_notify_req_t *nr)
{
    ngx_str_t   actor;

    if (nr->raw.len == 0) {
        nr->body = json_object();
        if (nr->body == NULL) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "out of memory");
        }

    } else if (ngx_http_notify_json_object_body(nr,
                                                &ngx_http_notify_gever_body)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_notify_gever_authorize(nr) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_notify_gever_validate(nr) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the canonical notification */

    if (ngx_http_notify_gever_actor(nr, &actor) != NGX_OK) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    /* the sender: the caller's own GEVER id, else the token's sender */

    if (actor.len == 0) {
        actor = nr->auth->principal->sender;
    }

    nr->note.event = json_string("external-activity");
    nr->note.title = json_incref(json_object_get(nr->body, "title"));
    nr->note.label = json_incref(json_object_get(nr->body, "label"));
    nr->note.summary = json_incref(json_object_get(nr->body, "summary"));
    nr->note.description = json_incref(json_object_get(nr->body,
                                                       "description"));
    nr->note.url = json_incref(json_object_get(nr->body, "resource_url"));
    nr->note.sender = actor;

    /* all of them validated: a missing one is the module's fault */

    if (nr->note.event == NULL || nr->note.title == NULL
        || nr->note.label == NULL || nr->note.summary == NULL
        || nr->note.description == NULL || nr->note.url == NULL)
    {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "the notification could not be built");
    }

    return NGX_OK;
}


/*
 * Before validation: a caller without the privileged role may only name
 * itself, exactly once.  A missing, null or empty list is left to the
 * validation (which refuses it).
 */

static ngx_int_t
ngx_http_notify_gever_authorize(ngx_http_notify_req_t *nr)
{
    json_t     *list, *one;
    ngx_str_t   own;

    static ngx_str_t  challenge = ngx_string("Bearer"
                                             " error=\"insufficient_scope\"");

    if (ngx_http_notify_gever_privileged(nr)) {
        return NGX_OK;
    }

    list = json_object_get(nr->body, "notification_recipients");

    if (list == NULL || json_is_null(list)
        || (json_is_array(list) && json_array_size(list) == 0))
    {
        return NGX_OK;
    }

    if (ngx_http_notify_gever_actor(nr, &own) != NGX_OK) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    one = json_is_array(list) && json_array_size(list) == 1
          ? json_array_get(list, 0) : NULL;

    if (one && json_is_string(one) && own.len
        && json_string_length(one) == own.len
        && ngx_memcmp(json_string_value(one), own.data, own.len) == 0)
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                  "notify: gever: caller \"%V\" may only notify itself",
                  &own);

    if (ngx_http_notify_set_header(nr->request, "WWW-Authenticate",
                                   &challenge)
        != NGX_OK)
    {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_FORBIDDEN,
                                NGX_HTTP_UNAUTHORIZED,
                                "Insufficient privileges to create external"
                                " activities with notification recipients"
                                " other than yourself.");
}


/*
 * Every field, in the schema's order, then the unknown ones.  The message
 * is the list of (field, error) pairs as GEVER prints it (Python 2 repr).
 */

static ngx_int_t
ngx_http_notify_gever_validate(ngx_http_notify_req_t *nr)
{
    size_t                         klen;
    json_t                        *body, *v;
    ngx_uint_t                     i;
    const char                    *key;
    ngx_http_notify_gever_text_t   t;

    body = nr->body;

    ngx_memzero(&t, sizeof(ngx_http_notify_gever_text_t));
    t.pool = nr->request->pool;

    ngx_http_notify_gever_lit(&t, "[");

    ngx_http_notify_gever_check_recipients(&t,
        json_object_get(body, "notification_recipients"));
    ngx_http_notify_gever_check_url(&t, json_object_get(body, "resource_url"));

    for (i = 2; ngx_http_notify_gever_fields[i]; i++) {
        ngx_http_notify_gever_check_text(&t, ngx_http_notify_gever_fields[i],
            json_object_get(body, ngx_http_notify_gever_fields[i]));
    }

    json_object_keylen_foreach(body, key, klen, v) {
        for (i = 0; ngx_http_notify_gever_fields[i]; i++) {
            if (ngx_strlen(ngx_http_notify_gever_fields[i]) == klen
                && ngx_strncmp(ngx_http_notify_gever_fields[i], key, klen)
                   == 0)
            {
                break;
            }
        }

        if (ngx_http_notify_gever_fields[i]) {
            continue;
        }

        if (t.errors++) {
            ngx_http_notify_gever_lit(&t, ", ");
        }

        ngx_http_notify_gever_lit(&t, "(");
        ngx_http_notify_gever_repr_string(&t, (u_char *) key, klen, 0);
        ngx_http_notify_gever_lit(&t, ", UnknownField(");
        ngx_http_notify_gever_repr_string(&t, (u_char *) key, klen, 0);
        ngx_http_notify_gever_lit(&t, "))");
    }

    if (t.errors == 0) {
        return NGX_OK;
    }

    ngx_http_notify_gever_lit(&t, "]");

    if (t.nomem) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    nr->error = NGX_HTTP_NOTIFY_ERR_INVALID;
    nr->status = NGX_HTTP_BAD_REQUEST;
    nr->message.data = t.start;
    nr->message.len = t.pos - t.start;

    return NGX_ERROR;
}


/* notification_recipients: List(value_type=ASCIILine()), required */

static void
ngx_http_notify_gever_check_recipients(ngx_http_notify_gever_text_t *t,
    json_t *v)
{
    size_t         i, j, len;
    json_t        *e;
    ngx_uint_t     n;
    const u_char  *s;

    static const char  name[] = "notification_recipients";

    if (v == NULL || json_is_null(v)) {
        ngx_http_notify_gever_entry(t, name);
        ngx_http_notify_gever_lit(t, "RequiredMissing('" "notification"
                                     "_recipients'))");
        return;
    }

    if (!json_is_array(v)) {
        ngx_http_notify_gever_wrong_type(t, v, "list", name);
        return;
    }

    if (json_array_size(v) == 0) {
        ngx_http_notify_gever_entry(t, name);
        ngx_http_notify_gever_lit(t, "TooShort([], 1))");
        return;
    }

    n = 0;

    json_array_foreach(v, i, e) {

        if (json_is_null(e)) {
            ngx_http_notify_gever_contained(t, &n, name);
            ngx_http_notify_gever_lit(t, "RequiredMissing('')");
            continue;
        }

        if (!json_is_string(e)) {
            ngx_http_notify_gever_contained(t, &n, name);
            ngx_http_notify_gever_lit(t, "WrongType(");
            ngx_http_notify_gever_repr(t, e, 0);
            ngx_http_notify_gever_lit(t, ", <type 'str'>, '')");
            continue;
        }

        if (ngx_http_notify_gever_has_eol(e)) {
            ngx_http_notify_gever_contained(t, &n, name);
            ngx_http_notify_gever_lit(t, "ConstraintNotSatisfied(");
            ngx_http_notify_gever_repr(t, e, 1);
            ngx_http_notify_gever_lit(t, ")");
            continue;
        }

        s = (const u_char *) json_string_value(e);
        len = json_string_length(e);

        for (j = 0; j < len; j++) {
            if (s[j] >= 0x80) {
                ngx_http_notify_gever_contained(t, &n, name);
                ngx_http_notify_gever_lit(t, "InvalidValue()");
                break;
            }
        }
    }

    if (n) {
        ngx_http_notify_gever_lit(t, "], 'notification_recipients'))");
    }
}


/* resource_url: URI(), required; and at most 255 characters */

static void
ngx_http_notify_gever_check_url(ngx_http_notify_gever_text_t *t, json_t *v)
{
    size_t         n;
    const u_char  *p, *last;

    static const char  name[] = "resource_url";

    if (v == NULL || json_is_null(v)) {
        ngx_http_notify_gever_entry(t, name);
        ngx_http_notify_gever_lit(t, "RequiredMissing('resource_url'))");
        return;
    }

    if (!json_is_string(v)) {
        ngx_http_notify_gever_wrong_type(t, v, "str", name);
        return;
    }

    p = (const u_char *) json_string_value(v);
    last = p + json_string_length(v);

    for (n = 0; p < last; n++) {
        (void) ngx_http_notify_gever_utf8(&p, last);
    }

    if (n > NGX_HTTP_NOTIFY_GEVER_URL_MAX) {
        ngx_http_notify_gever_entry(t, name);
        ngx_http_notify_gever_lit(t, "TooLong(");
        ngx_http_notify_gever_repr(t, v, 1);
        ngx_http_notify_gever_lit(t, ", 255))");
        return;
    }

    if (ngx_http_notify_gever_has_eol(v)) {
        ngx_http_notify_gever_entry(t, name);
        ngx_http_notify_gever_lit(t, "ConstraintNotSatisfied(");
        ngx_http_notify_gever_repr(t, v, 1);
        ngx_http_notify_gever_lit(t, "))");
        return;
    }

    if (!ngx_http_notify_gever_is_uri(v)) {
        ngx_http_notify_gever_entry(t, name);
        ngx_http_notify_gever_lit(t, "InvalidURI(");
        ngx_http_notify_gever_repr(t, v, 1);
        ngx_http_notify_gever_lit(t, "))");
    }
}


/*
 * title, label, summary, description: Dict(key_type=Choice(de, fr, en),
 * value_type=TextLine()), required.  As zope.schema does, the errors of the
 * values come first, then those of the keys.
 */

static void
ngx_http_notify_gever_check_text(ngx_http_notify_gever_text_t *t,
    const char *name, json_t *v)
{
    size_t       klen;
    json_t      *e;
    ngx_uint_t   n, i;
    const char  *key;

    if (v == NULL || json_is_null(v)) {
        ngx_http_notify_gever_entry(t, name);
        ngx_http_notify_gever_lit(t, "RequiredMissing('");
        ngx_http_notify_gever_add(t, name, ngx_strlen(name));
        ngx_http_notify_gever_lit(t, "'))");
        return;
    }

    if (!json_is_object(v)) {
        ngx_http_notify_gever_wrong_type(t, v, "dict", name);
        return;
    }

    n = 0;

    json_object_foreach(v, key, e) {

        if (json_is_null(e)) {
            ngx_http_notify_gever_contained(t, &n, name);
            ngx_http_notify_gever_lit(t, "RequiredMissing('')");

        } else if (!json_is_string(e)) {
            ngx_http_notify_gever_contained(t, &n, name);
            ngx_http_notify_gever_lit(t, "WrongType(");
            ngx_http_notify_gever_repr(t, e, 0);
            ngx_http_notify_gever_lit(t, ", <type 'unicode'>, '')");

        } else if (ngx_http_notify_gever_has_eol(e)) {
            ngx_http_notify_gever_contained(t, &n, name);
            ngx_http_notify_gever_lit(t, "ConstraintNotSatisfied(");
            ngx_http_notify_gever_repr(t, e, 0);
            ngx_http_notify_gever_lit(t, ")");
        }
    }

    json_object_keylen_foreach(v, key, klen, e) {
        for (i = 0; ngx_http_notify_gever_languages[i]; i++) {
            if (klen == 2
                && ngx_strncmp(key, ngx_http_notify_gever_languages[i], 2)
                   == 0)
            {
                break;
            }
        }

        if (ngx_http_notify_gever_languages[i] == NULL) {
            ngx_http_notify_gever_contained(t, &n, name);
            ngx_http_notify_gever_lit(t, "ConstraintNotSatisfied(");
            ngx_http_notify_gever_repr_string(t, (u_char *) key, klen, 0);
            ngx_http_notify_gever_lit(t, ")");
        }
    }

    if (n) {
        ngx_http_notify_gever_lit(t, "], '");
        ngx_http_notify_gever_add(t, name, ngx_strlen(name));
        ngx_http_notify_gever_lit(t, "'))");
    }
}


/* starts one ('field', ...) entry of the list */

static void
ngx_http_notify_gever_entry(ngx_http_notify_gever_text_t *t,
    const char *name)
{
    if (t->errors++) {
        ngx_http_notify_gever_lit(t, ", ");
    }

    ngx_http_notify_gever_lit(t, "('");
    ngx_http_notify_gever_add(t, name, ngx_strlen(name));
    ngx_http_notify_gever_lit(t, "', ");
}


/* one more error inside a field's WrongContainedType([...], 'field') */

static void
ngx_http_notify_gever_contained(ngx_http_notify_gever_text_t *t,
    ngx_uint_t *n, const char *name)
{
    if ((*n)++) {
        ngx_http_notify_gever_lit(t, ", ");
        return;
    }

    ngx_http_notify_gever_entry(t, name);
    ngx_http_notify_gever_lit(t, "WrongContainedType([");
}


static void
ngx_http_notify_gever_wrong_type(ngx_http_notify_gever_text_t *t, json_t *v,
    const char *type, const char *name)
{
    ngx_http_notify_gever_entry(t, name);
    ngx_http_notify_gever_lit(t, "WrongType(");
    ngx_http_notify_gever_repr(t, v, 0);
    ngx_http_notify_gever_lit(t, ", <type '");
    ngx_http_notify_gever_add(t, type, ngx_strlen(type));
    ngx_http_notify_gever_lit(t, "'>, '");
    ngx_http_notify_gever_add(t, name, ngx_strlen(name));
    ngx_http_notify_gever_lit(t, "'))");
}


static void
ngx_http_notify_gever_add(ngx_http_notify_gever_text_t *t, const void *data,
    size_t len)
{
    size_t   size, used;
    u_char  *p;

    if (t->nomem) {
        return;
    }

    if ((size_t) (t->end - t->pos) < len) {
        used = t->pos - t->start;
        size = 2 * (t->end - t->start) + len + 256;

        p = ngx_pnalloc(t->pool, size);
        if (p == NULL) {
            t->nomem = 1;
            return;
        }

        if (used) {
            ngx_memcpy(p, t->start, used);
        }

        if (t->start) {
            ngx_pfree(t->pool, t->start);
        }

        t->start = p;
        t->pos = p + used;
        t->end = p + size;
    }

    t->pos = ngx_cpymem(t->pos, data, len);
}


/*
 * A JSON value as Python 2 prints it after GEVER's json_body(): strings
 * are unicode (u'...'), except where GEVER has made them byte strings
 * ("bytes": the recipients and resource_url).
 */

static void
ngx_http_notify_gever_repr(ngx_http_notify_gever_text_t *t, json_t *v,
    ngx_uint_t bytes)
{
    size_t       i, klen;
    json_t      *e;
    const char  *key;
    u_char       buf[NGX_INT64_LEN];

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        ngx_http_notify_gever_lit(t, "{");
        i = 0;

        json_object_keylen_foreach(v, key, klen, e) {
            if (i++) {
                ngx_http_notify_gever_lit(t, ", ");
            }

            ngx_http_notify_gever_repr_string(t, (u_char *) key, klen, 0);
            ngx_http_notify_gever_lit(t, ": ");
            ngx_http_notify_gever_repr(t, e, 0);
        }

        ngx_http_notify_gever_lit(t, "}");
        break;

    case JSON_ARRAY:
        ngx_http_notify_gever_lit(t, "[");

        json_array_foreach(v, i, e) {
            if (i) {
                ngx_http_notify_gever_lit(t, ", ");
            }

            ngx_http_notify_gever_repr(t, e, 0);
        }

        ngx_http_notify_gever_lit(t, "]");
        break;

    case JSON_STRING:
        ngx_http_notify_gever_repr_string(t,
                                          (u_char *) json_string_value(v),
                                          json_string_length(v), bytes);
        break;

    case JSON_INTEGER:
        ngx_http_notify_gever_add(t, buf,
                                  ngx_sprintf(buf, "%L",
                                              (int64_t) json_integer_value(v))
                                  - buf);
        break;

    case JSON_REAL:
        ngx_http_notify_gever_repr_real(t, json_real_value(v));
        break;

    case JSON_TRUE:
        ngx_http_notify_gever_lit(t, "True");
        break;

    case JSON_FALSE:
        ngx_http_notify_gever_lit(t, "False");
        break;

    default: /* JSON_NULL */
        ngx_http_notify_gever_lit(t, "None");
        break;
    }
}


/*
 * A real as Python's repr: the fewest digits that read back the same,
 * positional from 1e-4 to below 1e16, with ".0" when it looks integral.
 */

static void
ngx_http_notify_gever_repr_real(ngx_http_notify_gever_text_t *t, double d)
{
    int     prec, exp, n;
    char   *e;
    u_char  buf[400];

    for (prec = 1; prec < 17; prec++) {
        snprintf((char *) buf, sizeof(buf), "%.*e", prec - 1, d);

        if (strtod((char *) buf, NULL) == d) {
            break;
        }
    }

    n = snprintf((char *) buf, sizeof(buf), "%.*e", prec - 1, d);

    e = strchr((char *) buf, 'e');
    exp = e ? atoi(e + 1) : 0;

    if (exp >= -4 && exp < 16) {
        n = snprintf((char *) buf, sizeof(buf), "%.*f",
                     prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);

        if (n > 0 && (size_t) n < sizeof(buf) - 2
            && strchr((char *) buf, '.') == NULL)
        {
            buf[n++] = '.';
            buf[n++] = '0';
        }
    }

    if (n > 0 && (size_t) n < sizeof(buf)) {
        ngx_http_notify_gever_add(t, buf, n);
    }
}


static void
ngx_http_notify_gever_repr_string(ngx_http_notify_gever_text_t *t,
    const u_char *s, size_t len, ngx_uint_t bytes)
{
    u_char         quote, *p, buf[16];
    ngx_uint_t     c, single, dbl;
    const u_char  *q, *last;

    last = s + len;
    single = ngx_strlchr((u_char *) s, (u_char *) last, '\'') != NULL;
    dbl = ngx_strlchr((u_char *) s, (u_char *) last, '"') != NULL;
    quote = (single && !dbl) ? '"' : '\'';

    if (!bytes) {
        ngx_http_notify_gever_lit(t, "u");
    }

    ngx_http_notify_gever_add(t, &quote, 1);

    for (q = s; q < last; /* void */ ) {

        if (bytes) {
            c = *q++;

        } else {
            c = ngx_http_notify_gever_utf8(&q, last);
        }

        p = buf;

        if (c == quote || c == '\\') {
            *p++ = '\\';
            *p++ = (u_char) c;

        } else if (c == '\t') {
            p = ngx_cpymem(p, "\\t", 2);

        } else if (c == '\n') {
            p = ngx_cpymem(p, "\\n", 2);

        } else if (c == '\r') {
            p = ngx_cpymem(p, "\\r", 2);

        } else if (c < 0x20 || (c >= 0x7f && c < 0x100)) {
            p = ngx_sprintf(p, "\\x%02xui", c);

        } else if (c >= 0x100 && c < 0x10000) {
            p = ngx_sprintf(p, "\\u%04xui", c);

        } else if (c >= 0x10000) {
            p = ngx_sprintf(p, "\\U%08xui", c);

        } else {
            *p++ = (u_char) c;
        }

        ngx_http_notify_gever_add(t, buf, p - buf);
    }

    ngx_http_notify_gever_add(t, &quote, 1);
}


/* the next code point of a UTF-8 string (jansson's are valid) */

static ngx_uint_t
ngx_http_notify_gever_utf8(const u_char **p, const u_char *last)
{
    size_t      n, i;
    ngx_uint_t  c;

    c = *(*p)++;

    if (c < 0x80) {
        return c;
    }

    if (c >= 0xf0) {
        n = 3;
        c &= 0x07;

    } else if (c >= 0xe0) {
        n = 2;
        c &= 0x0f;

    } else {
        n = 1;
        c &= 0x1f;
    }

    for (i = 0; i < n && *p < last; i++) {
        c = (c << 6) | (*(*p)++ & 0x3f);
    }

    return c;
}


static ngx_uint_t
ngx_http_notify_gever_has_eol(json_t *s)
{
    size_t       i, len;
    const char  *p;

    p = json_string_value(s);
    len = json_string_length(s);

    for (i = 0; i < len; i++) {
        if (p[i] == '\n' || p[i] == '\r') {
            return 1;
        }
    }

    return 0;
}


/* a scheme (letters, digits, "+", "-", "."), ":", then no white space */

static ngx_uint_t
ngx_http_notify_gever_is_uri(json_t *s)
{
    u_char        c;
    size_t        i, len;
    const u_char  *p;

    p = (const u_char *) json_string_value(s);
    len = json_string_length(s);

    for (i = 0; i < len; i++) {
        c = p[i];

        if (c == ':') {
            break;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
        {
            return 0;
        }
    }

    if (i == 0 || i == len) {
        return 0;
    }

    for (i++; i < len; i++) {
        c = p[i];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
            || c == '\v')
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Recipients: an id is a user (object id or UPN), else a group (id or
 * UPN), whose active members are taken; each user once, inactive users
 * never.  An id that is neither is reported, once, in "errors".  The one
 * id of a caller without the privilege is its own (authorize() made sure):
 * it is the caller's user, never a group, and unresolvable without one.
 */

static ngx_int_t
ngx_http_notify_gever_expand(ngx_http_notify_req_t *nr)
{
    size_t                        i;
    json_t                       *list, *id, *seen, *err;
    ngx_int_t                     rc;
    ngx_str_t                     name, caller;
    ngx_uint_t                    self, resolved;
    ngx_http_notify_user_t        user;

    self = !ngx_http_notify_gever_privileged(nr);

    nr->unresolved = json_array();
    seen = json_object();

    if (nr->unresolved == NULL || seen == NULL) {
        json_decref(seen);
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    resolved = 0;
    list = json_object_get(nr->body, "notification_recipients");

    json_array_foreach(list, i, id) {
        name.data = (u_char *) json_string_value(id);
        name.len = json_string_length(id);

        if (self) {
            /* only the caller's own user, never a group */
            rc = NGX_DONE;

            if (ngx_http_notify_caller_user(nr->directory,
                                            nr->auth->principal, &caller)
                == NGX_OK
                && ngx_http_notify_directory_user_id(nr->directory,
                                                     &caller, &user)
                   == NGX_OK)
            {
                rc = ngx_http_notify_add_user(nr, &user);
            }

        } else {
            rc = ngx_http_notify_add_name(nr, nr->directory, &name);
        }

        if (rc != NGX_DONE) {
            resolved = 1;

        } else {
            rc = NGX_OK;

            if (json_object_getn(seen, (char *) name.data, name.len)) {
                continue;
            }

            err = json_pack("{s:s, s:s+#+, s:O}",
                            "type", "unresolvable_actor_id",
                            "msg", "Could not resolve Actor ID '",
                            (char *) name.data, (int) name.len,
                            "' to a group or user",
                            "actor_id", id);

            if (err == NULL
                || json_array_append_new(nr->unresolved, err) != 0
                || json_object_setn(seen, (char *) name.data, name.len,
                                    json_null())
                   != 0)
            {
                rc = NGX_ERROR;
            }
        }

        if (rc == NGX_ERROR) {
            json_decref(seen);
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "out of memory");
        }
    }

    json_decref(seen);

    /*
     * Only when no name resolves is there no activity: names of inactive
     * users (or of groups with none active) make one that notifies nobody.
     */

    if (!resolved) {
        nr->skip_store = 1;
    }

    return NGX_OK;
}


/*
 * 201 {"activity": {...}, "errors": [...]}: the texts in the request's
 * language.  No name resolved: no activity, and nothing is stored.
 */

static ngx_int_t
ngx_http_notify_gever_answer(ngx_http_notify_req_t *nr)
{
    json_t      *activity, *v[3];
    ngx_tm_t     tm;
    ngx_uint_t   i;
    const char  *lang;
    u_char       created[sizeof("1970-01-01T00:00:00+00:00")];

    static const char  *texts[] = { "label", "summary", "title" };

    nr->success = NGX_HTTP_CREATED;

    nr->answer = json_object();
    if (nr->answer == NULL) {
        goto nomem;
    }

    if (json_array_size(nr->unresolved)
        && json_object_set(nr->answer, "errors", nr->unresolved) != 0)
    {
        goto nomem;
    }

    if (nr->skip_store) {
        return NGX_OK;
    }

    lang = ngx_http_notify_gever_language(nr->request);

    for (i = 0; i < 3; i++) {
        v[i] = json_object_get(json_object_get(nr->body, texts[i]), lang);

        if (v[i] == NULL) {
            v[i] = json_null();
        }
    }

    ngx_gmtime(ngx_time(), &tm);

    *ngx_sprintf(created, "%4d-%02d-%02dT%02d:%02d:%02d+00:00",
                 tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                 tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec) = '\0';

    activity = json_pack("{s:s, s:s, s:s, s:O, s:O, s:O}",
                         "actor_id", "__system__",
                         "actor_label", "System",
                         "created", (char *) created,
                         "label", v[0],
                         "summary", v[1],
                         "title", v[2]);

    if (activity == NULL
        || json_object_set_new(nr->answer, "activity", activity) != 0)
    {
        goto nomem;
    }

    if (ngx_http_notify_gever_suppressed(nr->request)) {
        /* recorded, but in nobody's feed */
        ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                      "notify: gever: notifications suppressed");

        nr->recipients.nelts = 0;
    }

    return NGX_OK;

nomem:

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "out of memory");
}


static ngx_int_t
ngx_http_notify_gever_send_answer(ngx_http_notify_req_t *nr, json_t *answer)
{
    if (answer == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the store's id is ours, not GEVER's */
    (void) json_object_del(answer, "id");

    return ngx_http_notify_send_json(nr->request, nr->success,
                                     "application/json", answer,
                                     JSON_SORT_KEYS);
}


static ngx_int_t
ngx_http_notify_gever_send_error(ngx_http_notify_req_t *nr)
{
    json_t              *json;
    ngx_int_t            rc;
    ngx_str_t            message;
    const char          *type;
    ngx_http_request_t  *r;

    r = nr->request;

    if (nr->error == NGX_HTTP_NOTIFY_ERR_METHOD) {
        return ngx_http_notify_gever_not_found(nr);
    }

    message = nr->message;

    if (nr->error == NGX_HTTP_NOTIFY_ERR_AUTH) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: unauthenticated: %V", &nr->message);

        if (ngx_http_notify_set_www_authenticate(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&message, "You are not authorized to access this"
                              " resource.");
    }

    switch (nr->status) {

    case NGX_HTTP_BAD_REQUEST:
        type = "BadRequest";
        break;

    case NGX_HTTP_UNAUTHORIZED:
        type = "Unauthorized";
        break;

    case NGX_HTTP_FORBIDDEN:
        type = "Forbidden";
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        type = "PayloadTooLarge";
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        type = "ServiceUnavailable";
        break;

    default:
        type = "InternalServerError";
        ngx_str_set(&message, "An internal error occurred.");
        nr->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;
    }

    json = json_pack("{s:s%, s:s}",
                     "message", (char *) message.data, message.len,
                     "type", type);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, nr->status, "application/json", json,
                                   JSON_SORT_KEYS);
    json_decref(json);

    return rc;
}


/* any method but POST: 404, as for a path GEVER does not know */

static ngx_int_t
ngx_http_notify_gever_not_found(ngx_http_notify_req_t *nr)
{
    u_char                    *p, *q;
    json_t                    *json;
    ngx_int_t                  rc;
    ngx_str_t                  host, path;
    const char                *scheme;
    ngx_http_request_t        *r;
    ngx_http_core_srv_conf_t  *cscf;

    r = nr->request;

    if (r->headers_in.host) {
        host = r->headers_in.host->value;

    } else {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        host = cscf->server_name;
    }

    scheme = "http";

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        scheme = "https";
    }
#endif

    path = r->unparsed_uri;
    q = ngx_strlchr(path.data, path.data + path.len, '?');
    if (q) {
        path.len = q - path.data;
    }

    p = ngx_pnalloc(r->pool, sizeof("Resource not found: https://") - 1
                             + host.len + path.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q = ngx_sprintf(p, "Resource not found: %s://%V%V", scheme, &host, &path);

    json = json_pack("{s:s%, s:s}", "message", (char *) p, (size_t) (q - p),
                     "type", "NotFound");
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, NGX_HTTP_NOT_FOUND, "application/json",
                                   json, JSON_SORT_KEYS);
    json_decref(json);

    return rc;
}


/*
 * The caller's own GEVER id: the claim of notify_gever_actor_claim, or by
 * default the token's user name (upn, preferred_username, unique_name).
 * Empty when the token has none.
 */

static ngx_int_t
ngx_http_notify_gever_actor(ngx_http_notify_req_t *nr, ngx_str_t *id)
{
    ngx_http_notify_gever_conf_t  *gcf;

    gcf = nr->conf;

    if (gcf->actor_claim.len == 0
        || (gcf->actor_claim.len == sizeof("user_name") - 1
            && ngx_strncmp(gcf->actor_claim.data, "user_name",
                           sizeof("user_name") - 1)
               == 0))
    {
        *id = nr->auth->principal->user_name;
        return NGX_OK;
    }

    return ngx_http_notify_principal_claim(nr->request->pool,
                                           nr->auth->principal,
                                           &gcf->actor_claim, 0, id);
}


static ngx_uint_t
ngx_http_notify_gever_privileged(ngx_http_notify_req_t *nr)
{
    ngx_array_t  roles;

    static ngx_str_t  role = ngx_string(NGX_HTTP_NOTIFY_GEVER_PRIVILEGED);

    ngx_memzero(&roles, sizeof(ngx_array_t));
    roles.elts = &role;
    roles.nelts = 1;

    return ngx_http_notify_has_role(nr->auth->principal, &roles);
}


/* X-GEVER-SuppressNotifications: true, yes, y, t or 1, in any case */

static ngx_uint_t
ngx_http_notify_gever_suppressed(ngx_http_request_t *r)
{
    ngx_str_t         v;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    static ngx_str_t  yes[] = {
        ngx_string("true"), ngx_string("yes"), ngx_string("y"),
        ngx_string("t"), ngx_string("1"), ngx_null_string
    };

    h = ngx_http_notify_header(&r->headers_in.headers, "X-GEVER-SuppressNotifications");
    if (h == NULL) {
        return 0;
    }

    v = h->value;
    ngx_http_notify_trim(&v);

    for (i = 0; yes[i].len; i++) {
        if (yes[i].len == v.len
            && ngx_strncasecmp(v.data, yes[i].data, v.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The answer's language: of the Accept-Language ranges whose primary tag
 * is de, fr or en, the one of the highest quality (the first of equals);
 * de when there is none.
 */

static const char *
ngx_http_notify_gever_language(ngx_http_request_t *r)
{
    u_char           *p, *last, *start, *end, *semi, *s;
    ngx_int_t         q, best_q;
    ngx_uint_t        i, frac;
    const char       *best;
    ngx_table_elt_t  *h;

    best = "de";
    best_q = 0;

    h = ngx_http_notify_header(&r->headers_in.headers, "Accept-Language");
    if (h == NULL) {
        return best;
    }

    p = h->value.data;
    last = p + h->value.len;

    while (p < last) {

        /* one range: "tag[-sub][;q=0.8]" */

        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        start = p;
        p = end + 1;

        while (start < end && (*start == ' ' || *start == '\t')) {
            start++;
        }

        semi = ngx_strlchr(start, end, ';');
        q = 1000;

        if (semi) {
            s = semi + 1;

            while (s < end && (*s == ' ' || *s == '\t')) {
                s++;
            }

            if (end - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
                s += 2;
                q = 0;

                if (s < end && *s == '1') {
                    q = 1000;

                } else if (s < end && *s == '0') {
                    s++;

                    if (s < end && *s == '.') {
                        s++;

                        for (frac = 100; frac && s < end
                                         && *s >= '0' && *s <= '9'; s++)
                        {
                            q += (*s - '0') * frac;
                            frac /= 10;
                        }
                    }
                }
            }

        } else {
            semi = end;
        }

        while (semi > start && (semi[-1] == ' ' || semi[-1] == '\t')) {
            semi--;
        }

        if (q <= best_q) {
            continue;
        }

        if (semi - start < 2 || (semi - start > 2 && start[2] != '-')) {
            continue;
        }

        for (i = 0; ngx_http_notify_gever_languages[i]; i++) {
            if (ngx_strncasecmp(start,
                                (u_char *) ngx_http_notify_gever_languages[i],
                                2)
                == 0)
            {
                best = ngx_http_notify_gever_languages[i];
                best_q = q;
                break;
            }
        }
    }

    return best;
}


static void *
ngx_http_notify_gever_create_conf(ngx_conf_t *cf)
{
    ngx_http_notify_gever_conf_t  *gcf;

    gcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_gever_conf_t));
    if (gcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gcf->actor_claim = { 0, NULL };
     */

    return gcf;
}


static char *
ngx_http_notify_gever_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_notify_gever_conf_t *prev = parent;
    ngx_http_notify_gever_conf_t *conf = child;

    ngx_conf_merge_str_value(conf->actor_claim, prev->actor_claim,
                             "user_name");

    return NGX_CONF_OK;
}

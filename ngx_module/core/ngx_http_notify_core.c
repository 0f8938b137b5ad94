
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * What every stage uses and that knows no stage: time, text, JSON and the
 * validators of the dialects' common field types.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"


static ngx_uint_t ngx_http_notify_utf8_len(u_char *p, u_char *last);
static void ngx_http_notify_utf8_mend(u_char *p, u_char *last);
static ngx_int_t ngx_http_notify_digits(const char *s, size_t n,
    ngx_int_t *v);


u_char *
ngx_http_notify_iso8601(u_char *buf, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* back from what ngx_http_notify_iso8601() writes, and only that */

ngx_int_t
ngx_http_notify_parse_iso8601(const char *s, size_t len, time_t *t)
{
    ngx_int_t  y, mo, d, h, mi, sec, days;

    if (len != sizeof("1970-01-01T00:00:00Z") - 1
        || ngx_http_notify_valid_datetime(s, len) != NGX_OK
        || s[10] != 'T' || s[19] != 'Z')
    {
        return NGX_ERROR;
    }

    (void) ngx_http_notify_digits(s, 4, &y);
    (void) ngx_http_notify_digits(s + 5, 2, &mo);
    (void) ngx_http_notify_digits(s + 8, 2, &d);
    (void) ngx_http_notify_digits(s + 11, 2, &h);
    (void) ngx_http_notify_digits(s + 14, 2, &mi);
    (void) ngx_http_notify_digits(s + 17, 2, &sec);

    /* days since 1970-01-01 of a proleptic Gregorian date, March first */

    if (mo <= 2) {
        y--;
        mo += 12;
    }

    days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (mo - 3) + 2) / 5
           + d - 719469;

    *t = (time_t) days * 86400 + h * 3600 + mi * 60 + sec;

    return NGX_OK;
}


/*
 * The length of the UTF-8 sequence at p, or 0 if none starts there
 * (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), as
 * jansson checks its strings.
 */

static ngx_uint_t
ngx_http_notify_utf8_len(u_char *p, u_char *last)
{
    u_char      lo, hi;
    ngx_uint_t  n, i;

    if (*p < 0x80) {
        return 1;
    }

    /* the length of the sequence, and the range of its second byte */

    lo = 0x80;
    hi = 0xbf;

    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;

    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        lo = (*p == 0xe0) ? 0xa0 : 0x80;
        hi = (*p == 0xed) ? 0x9f : 0xbf;

    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        lo = (*p == 0xf0) ? 0x90 : 0x80;
        hi = (*p == 0xf4) ? 0x8f : 0xbf;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


/*
 * A message may quote what the caller sent (an id of the path, a field)
 * and may have been cut at the end of the buffer: each byte that starts no
 * valid UTF-8 sequence becomes '?', so that every dialect can put the
 * message in JSON.
 */

static void
ngx_http_notify_utf8_mend(u_char *p, u_char *last)
{
    ngx_uint_t  n;

    while (p < last) {
        n = ngx_http_notify_utf8_len(p, last);

        if (n == 0) {
            *p++ = '?';
            continue;
        }

        p += n;
    }
}


/* a text that jansson takes as a string: valid UTF-8 */

ngx_int_t
ngx_http_notify_utf8_valid(u_char *p, size_t len)
{
    u_char      *last;
    ngx_uint_t   n;

    last = p + len;

    while (p < last) {
        n = ngx_http_notify_utf8_len(p, last);

        if (n == 0) {
            return NGX_ERROR;
        }

        p += n;
    }

    return NGX_OK;
}


/* blanks (spaces and tabs) off both ends of a header's value, in place */

void
ngx_http_notify_trim(ngx_str_t *s)
{
    u_char  *p, *last;

    p = s->data;
    last = p + s->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    s->data = p;
    s->len = last - p;
}


/*
 * FNV-1a over the (with "caseless", ASCII-lowercased) bytes, then
 * MurmurHash3's finaliser so that the low bits, which pick the slot of
 * an open-addressing table, depend on every byte.
 */

uint32_t
ngx_http_notify_hash(u_char *p, size_t len, ngx_uint_t caseless)
{
    u_char    c;
    uint32_t  h;

    h = 2166136261u;

    while (len--) {
        c = *p++;

        if (caseless) {
            c = ngx_tolower(c);
        }

        h ^= c;
        h *= 16777619u;
    }

    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;

    return h;
}


/* a string, or null when it is empty (an absent claim): a new reference */

json_t *
ngx_http_notify_json_str(ngx_str_t *s)
{
    if (s->len == 0) {
        return json_null();
    }

    return json_stringn((char *) s->data, s->len);
}


/*
 * A value's JSON text, the bytes json_dumps() writes with JSON_COMPACT
 * (what is stored and answered stays the same), without its allocations
 * and its hash of the containers it has seen: the size first, then the
 * text into a buffer of that size.  The values are trees that jansson
 * parsed or built, so valid UTF-8, and as deep as a body may be.  A real
 * number is left to jansson (its shortest form of a double).  0: a value
 * jansson would not write.
 */

size_t
ngx_http_notify_json_size(json_t *v)
{
    void        *it;
    size_t       size, n;
    ngx_uint_t   i, count;
    u_char       buf[NGX_INT64_LEN];

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        size = 1;

        for (it = json_object_iter(v); it; it = json_object_iter_next(v, it))
        {
            n = ngx_http_notify_json_size(json_object_iter_value(it));
            if (n == 0) {
                return 0;
            }

            size += 2 + n
                    + ngx_http_notify_json_text_size(
                          (u_char *) json_object_iter_key(it),
                          json_object_iter_key_len(it));
        }

        return size + (size == 1);

    case JSON_ARRAY:
        size = 1;
        count = json_array_size(v);

        for (i = 0; i < count; i++) {
            n = ngx_http_notify_json_size(json_array_get(v, i));
            if (n == 0) {
                return 0;
            }

            size += 1 + n;
        }

        return size + (count == 0);

    case JSON_STRING:
        return ngx_http_notify_json_text_size(
                   (u_char *) json_string_value(v), json_string_length(v));

    case JSON_INTEGER:
        return ngx_sprintf(buf, "%L", (int64_t) json_integer_value(v)) - buf;

    case JSON_REAL:
        return json_dumpb(v, NULL, 0, JSON_ENCODE_ANY|JSON_COMPACT);

    case JSON_FALSE:
        return sizeof("false") - 1;

    default: /* JSON_TRUE, JSON_NULL */
        return sizeof("null") - 1;
    }
}


u_char *
ngx_http_notify_json_write(u_char *p, json_t *v)
{
    void        *it;
    size_t       n;
    ngx_uint_t   i, count;

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        *p++ = '{';

        for (it = json_object_iter(v); it; it = json_object_iter_next(v, it))
        {
            if (p[-1] != '{') {
                *p++ = ',';
            }

            p = ngx_http_notify_json_text_write(p,
                                    (u_char *) json_object_iter_key(it),
                                    json_object_iter_key_len(it));
            *p++ = ':';
            p = ngx_http_notify_json_write(p, json_object_iter_value(it));
        }

        *p++ = '}';
        return p;

    case JSON_ARRAY:
        *p++ = '[';
        count = json_array_size(v);

        for (i = 0; i < count; i++) {
            if (i) {
                *p++ = ',';
            }

            p = ngx_http_notify_json_write(p, json_array_get(v, i));
        }

        *p++ = ']';
        return p;

    case JSON_STRING:
        return ngx_http_notify_json_text_write(p,
                                               (u_char *) json_string_value(v),
                                               json_string_length(v));

    case JSON_INTEGER:
        return ngx_sprintf(p, "%L", (int64_t) json_integer_value(v));

    case JSON_REAL:
        n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY|JSON_COMPACT);
        return p + json_dumpb(v, (char *) p, n, JSON_ENCODE_ANY|JSON_COMPACT);

    case JSON_TRUE:
        return ngx_cpymem(p, "true", sizeof("true") - 1);

    case JSON_FALSE:
        return ngx_cpymem(p, "false", sizeof("false") - 1);

    default: /* JSON_NULL */
        return ngx_cpymem(p, "null", sizeof("null") - 1);
    }
}


/* a string: quoted, with '"', '\\' and the control characters escaped */

size_t
ngx_http_notify_json_text_size(u_char *s, size_t len)
{
    size_t   size;
    u_char  *last;

    size = 2 + len;

    for (last = s + len; s < last; s++) {
        if (*s == '"' || *s == '\\') {
            size++;

        } else if (*s < 0x20) {
            size += (*s == '\b' || *s == '\f' || *s == '\n' || *s == '\r'
                     || *s == '\t') ? 1 : 5;
        }
    }

    return size;
}


u_char *
ngx_http_notify_json_text_write(u_char *p, u_char *s, size_t len)
{
    u_char  *last;

    static u_char  hex[] = "0123456789ABCDEF";

    *p++ = '"';

    for (last = s + len; s < last; s++) {

        if (*s >= 0x20 && *s != '"' && *s != '\\') {
            *p++ = *s;
            continue;
        }

        *p++ = '\\';

        switch (*s) {
        case '\b':
            *p++ = 'b';
            break;
        case '\f':
            *p++ = 'f';
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\r':
            *p++ = 'r';
            break;
        case '\t':
            *p++ = 't';
            break;
        case '"':
        case '\\':
            *p++ = *s;
            break;
        default:
            p = ngx_cpymem(p, "u00", 3);
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 0xf];
        }
    }

    *p++ = '"';

    return p;
}


/* validation helpers shared by the dialects */

static ngx_int_t
ngx_http_notify_digits(const char *s, size_t n, ngx_int_t *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NGX_ERROR;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return NGX_OK;
}


/*
 * Is a Content-Type value JSON: application/json, application/<x>+json,
 * and with "text" set text/json too, in any case, parameters and blanks
 * aside?  "type" is set to the media type itself.
 */

ngx_uint_t
ngx_http_notify_json_media_type(ngx_str_t *value, ngx_uint_t text,
    ngx_str_t *type)
{
    u_char  *p, *end;

    p = value->data;

    end = ngx_strlchr(p, p + value->len, ';');
    if (end == NULL) {
        end = p + value->len;
    }

    type->data = p;
    type->len = end - p;

    ngx_http_notify_trim(type);

    p = type->data;
    end = p + type->len;

    if (type->len == 16
        && ngx_strncasecmp(p, (u_char *) "application/json", 16) == 0)
    {
        return 1;
    }

    if (text && type->len == 9
        && ngx_strncasecmp(p, (u_char *) "text/json", 9) == 0)
    {
        return 1;
    }

    return type->len > 17
           && ngx_strncasecmp(p, (u_char *) "application/", 12) == 0
           && ngx_strncasecmp(end - 5, (u_char *) "+json", 5) == 0;
}


/*
 * A request body as JSON.  A body nested deeper than
 * NGX_HTTP_NOTIFY_JSON_DEPTH levels is refused before jansson parses it:
 * stored, it would break every reader of the feed and every downstream.
 * On failure "err" says why, as jansson says it for its own errors.
 */

json_t *
ngx_http_notify_json_load(ngx_str_t *text, size_t flags, json_error_t *err)
{
    u_char      *p, *last;
    ngx_uint_t   depth, line, column, string, escape;

    depth = 0;
    line = 1;
    column = 0;
    string = 0;
    escape = 0;

    last = text->data + text->len;

    for (p = text->data; p < last; p++) {
        column++;

        if (string) {
            if (escape) {
                escape = 0;

            } else if (*p == '\\') {
                escape = 1;

            } else if (*p == '"') {
                string = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            string = 1;
            break;

        case '{':
        case '[':
            if (++depth <= NGX_HTTP_NOTIFY_JSON_DEPTH) {
                break;
            }

            ngx_memzero(err, sizeof(json_error_t));
            err->line = line;
            err->column = column;
            err->position = p - text->data + 1;
            (void) ngx_snprintf((u_char *) err->text, sizeof(err->text) - 1,
                                "nesting deeper than %d levels%Z",
                                NGX_HTTP_NOTIFY_JSON_DEPTH);
            return NULL;

        case '}':
        case ']':
            if (depth) {
                depth--;
            }
            break;

        case LF:
            line++;
            column = 0;
            break;
        }
    }

    return json_loadb((char *) text->data, text->len, flags, err);
}


/*
 * The request body as a JSON object into nr->body, or the dialect's own
 * error (see ngx_http_notify_json_body_t) when it is not JSON or not an
 * object.  An empty body is the dialect's to judge before.
 */

ngx_int_t
ngx_http_notify_json_object_body(ngx_http_notify_req_t *nr,
    const ngx_http_notify_json_body_t *jb)
{
    int           line, column;
    json_error_t  err;

    nr->body = ngx_http_notify_json_load(&nr->raw, jb->flags, &err);

    if (nr->body == NULL) {
        line = err.line;
        column = err.column;

        if (jb->from_zero) {
            line--;
            column = (column > 0) ? column - 1 : 0;
        }

        if (jb->field) {
            return ngx_http_notify_field_error(nr, jb->field, jb->syntax,
                                               err.text, line, column);
        }

        return ngx_http_notify_fail(nr, jb->error, jb->status, jb->syntax,
                                    err.text, line, column);
    }

    if (json_is_object(nr->body)) {
        return NGX_OK;
    }

    if (jb->field) {
        return ngx_http_notify_field_error(nr, jb->field, jb->not_object);
    }

    return ngx_http_notify_fail(nr, jb->error, jb->status, jb->not_object);
}


/*
 * An RFC 3339 / ISO 8601 date-time: YYYY-MM-DD, then optionally
 * "T" (or "t" or a space) hh:mm[:ss[.fraction]] and an optional offset
 * "Z" or +hh:mm (also +hhmm).
 */

ngx_int_t
ngx_http_notify_valid_datetime(const char *s, size_t len)
{
    size_t     i;
    ngx_int_t  y, mo, d, h, mi, sec, mdays;

    static ngx_int_t  days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                 30, 31 };

    if (len < 10
        || ngx_http_notify_digits(s, 4, &y) != NGX_OK || s[4] != '-'
        || ngx_http_notify_digits(s + 5, 2, &mo) != NGX_OK || s[7] != '-'
        || ngx_http_notify_digits(s + 8, 2, &d) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (mo < 1 || mo > 12 || d < 1) {
        return NGX_ERROR;
    }

    mdays = days[mo - 1];

    if (mo == 2 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        mdays = 28;
    }

    if (d > mdays) {
        return NGX_ERROR;
    }

    if (len == 10) {
        return NGX_OK;
    }

    if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || len < 16
        || ngx_http_notify_digits(s + 11, 2, &h) != NGX_OK || s[13] != ':'
        || ngx_http_notify_digits(s + 14, 2, &mi) != NGX_OK
        || h > 23 || mi > 59)
    {
        return NGX_ERROR;
    }

    i = 16;

    if (i < len && s[i] == ':') {
        if (len < 19 || ngx_http_notify_digits(s + 17, 2, &sec) != NGX_OK
            || sec > 60)
        {
            return NGX_ERROR;
        }

        i = 19;

        if (i < len && s[i] == '.') {
            i++;

            if (i == len || s[i] < '0' || s[i] > '9') {
                return NGX_ERROR;
            }

            while (i < len && s[i] >= '0' && s[i] <= '9') {
                i++;
            }
        }
    }

    if (i == len) {
        return NGX_OK;
    }

    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        return NGX_OK;
    }

    if (s[i] != '+' && s[i] != '-') {
        return NGX_ERROR;
    }

    i++;

    if (len - i == 5 && s[i + 2] == ':'
        && ngx_http_notify_digits(s + i, 2, &h) == NGX_OK
        && ngx_http_notify_digits(s + i + 3, 2, &mi) == NGX_OK
        && h < 24 && mi < 60)
    {
        return NGX_OK;
    }

    if (len - i == 4
        && ngx_http_notify_digits(s + i, 2, &h) == NGX_OK
        && ngx_http_notify_digits(s + i + 2, 2, &mi) == NGX_OK
        && h < 24 && mi < 60)
    {
        return NGX_OK;
    }

    return NGX_ERROR;
}


/* an absolute http or https URL with a host and no white space */

ngx_int_t
ngx_http_notify_valid_http_url(const char *s, size_t len)
{
    size_t  i, host;

    if (len > 7 && ngx_strncasecmp((u_char *) s, (u_char *) "http://", 7)
                   == 0)
    {
        i = 7;

    } else if (len > 8
               && ngx_strncasecmp((u_char *) s, (u_char *) "https://", 8)
                  == 0)
    {
        i = 8;

    } else {
        return NGX_ERROR;
    }

    for (host = i; i < len; i++) {
        if ((u_char) s[i] <= 0x20 || s[i] == 0x7f) {
            return NGX_ERROR;
        }

        if (host != (size_t) -1
            && (s[i] == '/' || s[i] == '?' || s[i] == '#'))
        {
            if (i == host) {
                return NGX_ERROR;
            }

            host = (size_t) -1;
        }
    }

    if (host != (size_t) -1 && host == len) {
        return NGX_ERROR;
    }

    if (host != (size_t) -1 && s[host] == ':') {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* sets the error to answer; returns NGX_ERROR to be returned on */

ngx_int_t
ngx_http_notify_fail(ngx_http_notify_req_t *nr, ngx_http_notify_err_e error,
    ngx_uint_t status, const char *fmt, ...)
{
    u_char   *p, buf[1024];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_http_notify_utf8_mend(buf, p);

    nr->error = error;
    nr->status = status;

    nr->message.data = ngx_pstrdup(nr->request->pool,
                                   &(ngx_str_t) { p - buf, buf });
    nr->message.len = nr->message.data ? (size_t) (p - buf) : 0;

    return NGX_ERROR;
}


/* adds one validation message for a field; the answer lists them all */

ngx_int_t
ngx_http_notify_field_error(ngx_http_notify_req_t *nr, const char *field,
    const char *fmt, ...)
{
    u_char   *p, buf[1024];
    json_t   *list;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_http_notify_utf8_mend(buf, p);

    if (nr->fields == NULL) {
        nr->fields = json_object();
        if (nr->fields == NULL) {
            return NGX_ERROR;
        }
    }

    list = json_object_get(nr->fields, field);

    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(nr->fields, field, list)) {
            return NGX_ERROR;
        }
    }

    json_array_append_new(list, json_stringn((char *) buf, p - buf));

    nr->error = NGX_HTTP_NOTIFY_ERR_INVALID;
    nr->status = NGX_HTTP_BAD_REQUEST;
    ngx_str_set(&nr->message, "One or more validation errors occurred.");

    return NGX_ERROR;
}


/*
 * The stored notification could not be put together: jansson's text says
 * why ("Out of memory", "Invalid UTF-8 string", ...).
 */

ngx_int_t
ngx_http_notify_note_failed(ngx_http_notify_req_t *nr, json_error_t *err)
{
    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "the notification could not be built: %s",
                                err->text);
}


/*
 * A directive's slot: its values, each non-empty, into the "ngx_array_t *"
 * (of ngx_str_t) at cmd->offset, NGX_CONF_UNSET_PTR until set
 * (notify_require_role, notify_subscription_key, notify_push_recipients)
 */

char *
ngx_http_notify_conf_set_list_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **list;

    list = (ngx_array_t **) (p + cmd->offset);

    if (*list != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *list = ngx_array_create(cf->pool, cf->args->nelts - 1,
                             sizeof(ngx_str_t));
    if (*list == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0) {
            return "takes no empty value";
        }

        s = ngx_array_push(*list);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The push dialect: the receiving side of a ServiceOptimizer-style push.
 * The sender POSTs a JSON object such as
 *
 *     {"Type": "0", "WorkItemType": "1",
 *      "WorkItem": {"Id": "J-1", "WorkStatus": "Dispatched"}}
 *
 * with "Authorization: <JWT>" (raw, or "Bearer <JWT>") and is answered,
 * whatever happens, with {"Success": <bool>, "Code": "<n>", "Message":
 * "..."} and the HTTP status that tells the truth.  The recipients are not
 * in the push: the location names them (notify_push_recipients).
 *
 * The codes (README.md, "Push: notify_inbound push", has the table):
 *
 *     0  OK                        200
 *     1  authentication            401
 *     2  forbidden (role)          403
 *     3  method not allowed        405
 *     4  body too large            413
 *     5  malformed body            400
 *     6  missing field             400
 *     7  invalid field             400
 *     8  no active recipient       503
 *     9  storage                   503
 *    10  internal error            500
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_render.h"


#define NGX_HTTP_NOTIFY_PUSH_NUMBER_LEN  9     /* digits of a Type */


typedef struct {
    ngx_int_t                   type;
    const char                 *event;
    const char                 *label;
} ngx_http_notify_push_type_t;


/* the problems of a body: all of them in the message, the first's code */
typedef struct {
    ngx_http_notify_err_e       error;
    u_char                     *pos;
    u_char                     *end;
    u_char                      buf[512];
} ngx_http_notify_push_problems_t;


static void *ngx_http_notify_push_create_conf(ngx_conf_t *cf);
static char *ngx_http_notify_push_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_notify_push_check_conf(ngx_conf_t *cf, void *conf,
    ngx_http_notify_directory_t *directory);
static ngx_int_t ngx_http_notify_push_check_request(
    ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_push_parse(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_push_expand(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_push_answer(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_push_send_answer(ngx_http_notify_req_t *nr,
    json_t *answer);
static ngx_int_t ngx_http_notify_push_send_error(ngx_http_notify_req_t *nr);

static void ngx_http_notify_push_problem(ngx_http_notify_push_problems_t *pr,
    ngx_http_notify_err_e error, const char *text);
static ngx_int_t ngx_http_notify_push_number(json_t *v, ngx_int_t *n);
static json_t *ngx_http_notify_push_url(json_t *body, json_t *item);
static json_t *ngx_http_notify_push_title(ngx_http_notify_req_t *nr,
    ngx_http_notify_push_type_t *t, json_t *id, json_t *item);
static ngx_int_t ngx_http_notify_push_idem(ngx_http_notify_req_t *nr,
    u_char *type, json_t *item);
static const char *ngx_http_notify_push_code(ngx_http_notify_req_t *nr);

static ngx_int_t ngx_http_notify_push_render(ngx_http_notify_target_t *target,
    ngx_http_notify_note_t *note, ngx_http_notify_outbound_req_t *out);
static json_t *ngx_http_notify_push_type_of(ngx_http_notify_target_t *target,
    ngx_http_notify_note_t *note);
static json_t *ngx_http_notify_push_item(ngx_http_notify_note_t *note);
static ngx_http_notify_verdict_e ngx_http_notify_push_judge(
    ngx_http_notify_target_t *target, ngx_uint_t status, ngx_str_t *body,
    u_char *reason, size_t size);


/* the push part of a location's configuration */
typedef struct {
    ngx_array_t                *recipients;    /* notify_push_recipients */
} ngx_http_notify_push_conf_t;


static ngx_command_t  ngx_http_notify_push_commands[] = {

    { ngx_string("notify_push_recipients"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_notify_conf_set_list_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_push_conf_t, recipients),
      NULL },

      ngx_null_command
};


ngx_http_notify_dialect_t  ngx_http_notify_push_dialect = {
    ngx_string("push"),
    NGX_HTTP_POST,
    ngx_string(""),                    /* any valid token, unless
                                          notify_require_role */
    NULL,
    ngx_http_notify_push_check_request,
    ngx_http_notify_push_parse,
    NULL,
    ngx_http_notify_push_expand,
    ngx_http_notify_push_answer,
    ngx_http_notify_push_send_answer,
    ngx_http_notify_push_send_error,
    0,
    ngx_http_notify_push_commands,
    ngx_http_notify_push_create_conf,
    ngx_http_notify_push_merge_conf,
    ngx_http_notify_push_check_conf,
    ngx_http_notify_push_render,
    ngx_http_notify_push_judge,
    NULL,
    0
};


/* a body that is not a JSON object */
static const ngx_http_notify_json_body_t  ngx_http_notify_push_body = {
    NGX_HTTP_NOTIFY_ERR_JSON,
    NGX_HTTP_BAD_REQUEST,
    NULL,
    "The request body is not JSON: %s (line %d, column %d).",
    "The request body must be a JSON object.",
    JSON_DECODE_ANY,
    0
};


/*
 * The Type values and the feed's "event" for each.  The event names are
 * stable: notify_push_type flags name them.  A Type not listed here is
 * accepted as "workitem.type.<n>" (a newer sender may know more).
 */

static ngx_http_notify_push_type_t  ngx_http_notify_push_types[] = {
    { 0,  "workitem.created",        "Created" },
    { -1, "workitem.cancelled",      "Cancelled" },
    { 5,  "workitem.status_changed", "Status changed" },
    { 6,  "workitem.reminder",       "Reminder" },
    { 7,  "workitem.confirmed",      "Confirmed" },
    { 8,  "workitem.changed",        "Changed" },
    { 9,  "workitem.rebooked",       "Rebooked" },
    { 2,  "workitem.rebooked",       "Rebooked" },   /* before 13.0 */
    { 0,  NULL, NULL }
};


/*
 * The sender says "Content-Type: application/json".  A request without
 * a Content-Type is read as JSON all the same; one that declares anything
 * but JSON (application/json, text/json, application/<x>+json, with any
 * parameters) is a malformed request.  The User-Agent ("DataNotifier") is
 * not checked: it proves nothing.
 */

static ngx_int_t
ngx_http_notify_push_check_request(ngx_http_notify_req_t *nr)
{
    ngx_str_t            type;
    ngx_http_request_t  *r;

    r = nr->request;

    if (r->headers_in.content_type == NULL
        || ngx_http_notify_json_media_type(&r->headers_in.content_type->value,
                                           1, &type))
    {
        return NGX_OK;
    }

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_MEDIA_TYPE,
                                NGX_HTTP_BAD_REQUEST,
                                "The Content-Type \"%V\" is not JSON; send"
                                " application/json.", &type);
}


static ngx_int_t
ngx_http_notify_push_parse(ngx_http_notify_req_t *nr)
{
    json_t                           *type, *wtype, *item, *id, *title;
    json_t                           *url, *comment;
    ngx_int_t                         tn, wn;
    ngx_http_notify_push_type_t      *t, unknown;
    ngx_http_notify_principal_t      *p;
    ngx_http_notify_push_problems_t   pr;
    u_char                            tbuf[NGX_INT_T_LEN + 1];
    u_char                            wbuf[NGX_INT_T_LEN + 1];
    u_char                            ebuf[sizeof("workitem.type.")
                                           + NGX_INT_T_LEN];

    if (nr->raw.len == 0) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_JSON,
                                    NGX_HTTP_BAD_REQUEST,
                                    "The request body is empty; send a JSON"
                                    " object.");
    }

    if (ngx_http_notify_json_object_body(nr, &ngx_http_notify_push_body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* every field is checked, so that the message lists every problem */

    pr.error = NGX_HTTP_NOTIFY_ERR_NONE;
    pr.pos = pr.buf;
    pr.end = pr.buf + sizeof(pr.buf);

    tn = 0;
    wn = 0;

    type = json_object_get(nr->body, "Type");

    if (type == NULL || json_is_null(type)
        || (json_is_string(type) && json_string_length(type) == 0))
    {
        ngx_http_notify_push_problem(&pr, NGX_HTTP_NOTIFY_ERR_MISSING,
                                     "The Type field is required.");
        type = NULL;

    } else if (ngx_http_notify_push_number(type, &tn) != NGX_OK) {
        ngx_http_notify_push_problem(&pr, NGX_HTTP_NOTIFY_ERR_INVALID,
                                     "The Type field must be a whole"
                                     " number, quoted or not.");
        type = NULL;
    }

    wtype = json_object_get(nr->body, "WorkItemType");

    if (wtype && json_is_null(wtype)) {
        wtype = NULL;
    }

    if (wtype && ngx_http_notify_push_number(wtype, &wn) != NGX_OK) {
        ngx_http_notify_push_problem(&pr, NGX_HTTP_NOTIFY_ERR_INVALID,
                                     "The WorkItemType field must be a whole"
                                     " number, quoted or not.");
        wtype = NULL;
    }

    item = json_object_get(nr->body, "WorkItem");
    id = NULL;

    if (item == NULL || json_is_null(item)) {
        ngx_http_notify_push_problem(&pr, NGX_HTTP_NOTIFY_ERR_MISSING,
                                     "The WorkItem field is required.");

    } else if (!json_is_object(item)) {
        ngx_http_notify_push_problem(&pr, NGX_HTTP_NOTIFY_ERR_INVALID,
                                     "The WorkItem field must be an"
                                     " object.");

    } else {
        id = json_object_get(item, "Id");

        if (id == NULL || json_is_null(id)
            || (json_is_string(id) && json_string_length(id) == 0))
        {
            ngx_http_notify_push_problem(&pr, NGX_HTTP_NOTIFY_ERR_MISSING,
                                         "The WorkItem.Id field is"
                                         " required.");

        } else if (!json_is_string(id) && !json_is_integer(id)) {
            ngx_http_notify_push_problem(&pr, NGX_HTTP_NOTIFY_ERR_INVALID,
                                         "The WorkItem.Id field must be a"
                                         " string or a whole number.");
        }
    }

    if (pr.error != NGX_HTTP_NOTIFY_ERR_NONE) {
        return ngx_http_notify_fail(nr, pr.error, NGX_HTTP_BAD_REQUEST,
                                    "%*s", (size_t) (pr.pos - pr.buf),
                                    pr.buf);
    }

    /* the canonical notification */

    *ngx_sprintf(tbuf, "%i", tn) = '\0';

    if (wtype) {
        *ngx_sprintf(wbuf, "%i", wn) = '\0';
    }

    for (t = ngx_http_notify_push_types; t->event; t++) {
        if (t->type == tn) {
            break;
        }
    }

    if (t->event == NULL) {
        *ngx_sprintf(ebuf, "workitem.type.%i", tn) = '\0';

        unknown.type = tn;
        unknown.event = (char *) ebuf;
        unknown.label = "Updated";
        t = &unknown;
    }

    p = nr->auth->principal;

    title = ngx_http_notify_push_title(nr, t, id, item);
    url = ngx_http_notify_push_url(nr->body, item);

    comment = json_object_get(nr->body, "Comment");

    if (comment && !json_is_string(comment)) {
        comment = NULL;
    }

    if (title == NULL) {
        json_decref(url);
        goto nomem;
    }

    nr->note.event = json_string(t->event);
    nr->note.title = title;
    nr->note.url = url ? url : json_null();
    nr->note.comment = comment ? json_incref(comment) : json_null();
    nr->note.notified = json_null();
    nr->note.type = json_string((char *) tbuf);
    nr->note.work_item_type = wtype ? json_string((char *) wbuf)
                                    : json_null();
    nr->note.work_item = json_incref(item);
    nr->note.sender = p->sender;

    if (nr->note.event == NULL || nr->note.type == NULL
        || nr->note.work_item_type == NULL)
    {
        goto nomem;
    }

    if (ngx_http_notify_push_idem(nr, tbuf, item) != NGX_OK) {
        goto nomem;
    }

    return NGX_OK;

nomem:

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "out of memory");
}


static void
ngx_http_notify_push_problem(ngx_http_notify_push_problems_t *pr,
    ngx_http_notify_err_e error, const char *text)
{
    if (pr->error == NGX_HTTP_NOTIFY_ERR_NONE) {
        pr->error = error;

    } else {
        pr->pos = ngx_slprintf(pr->pos, pr->end, " ");
    }

    pr->pos = ngx_slprintf(pr->pos, pr->end, "%s", text);
}


/* a whole number, as a JSON integer or as a string of digits ("-1") */

static ngx_int_t
ngx_http_notify_push_number(json_t *v, ngx_int_t *n)
{
    size_t       i, len;
    ngx_int_t    value;
    json_int_t   j;
    const char  *s;

    if (json_is_integer(v)) {
        j = json_integer_value(v);

        if (j < -999999999 || j > 999999999) {
            return NGX_ERROR;
        }

        *n = (ngx_int_t) j;
        return NGX_OK;
    }

    if (!json_is_string(v)) {
        return NGX_ERROR;
    }

    s = json_string_value(v);
    len = json_string_length(v);
    i = (len && s[0] == '-') ? 1 : 0;

    if (len == i || len - i > NGX_HTTP_NOTIFY_PUSH_NUMBER_LEN) {
        return NGX_ERROR;
    }

    for (value = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NGX_ERROR;
        }

        value = value * 10 + (s[i] - '0');
    }

    *n = (s[0] == '-') ? -value : value;

    return NGX_OK;
}


/* "Url" of the push, else of the work item, if an http(s) URL; else NULL */

static json_t *
ngx_http_notify_push_url(json_t *body, json_t *item)
{
    json_t  *url;

    url = json_object_get(body, "Url");

    if (url == NULL || !json_is_string(url)) {
        url = json_object_get(item, "Url");
    }

    if (url == NULL || !json_is_string(url)
        || ngx_http_notify_valid_http_url(json_string_value(url),
                                          json_string_length(url))
           != NGX_OK)
    {
        return NULL;
    }

    return json_incref(url);
}


/* "Created: work item J-1", with " (<WorkStatus>)" when there is one */

static json_t *
ngx_http_notify_push_title(ngx_http_notify_req_t *nr,
    ngx_http_notify_push_type_t *t, json_t *id, json_t *item)
{
    size_t       len, slen;
    u_char      *buf, *p;
    json_t      *status, *title;
    const char  *s;

    status = json_object_get(item, "WorkStatus");

    if (status && (!json_is_string(status)
                   || json_string_length(status) == 0))
    {
        status = NULL;
    }

    s = NULL;
    slen = NGX_INT64_LEN;

    if (json_is_string(id)) {
        s = json_string_value(id);
        slen = json_string_length(id);
    }

    len = ngx_strlen(t->label) + sizeof(": work item ") - 1 + slen
          + (status ? sizeof(" ()") - 1 + json_string_length(status) : 0);

    buf = ngx_pnalloc(nr->request->pool, len);
    if (buf == NULL) {
        return NULL;
    }

    p = ngx_sprintf(buf, "%s: work item ", t->label);

    if (s) {
        p = ngx_cpymem(p, s, slen);

    } else {
        p = ngx_sprintf(p, "%L", (int64_t) json_integer_value(id));
    }

    if (status) {
        p = ngx_sprintf(p, " (%*s)", json_string_length(status),
                        json_string_value(status));
    }

    title = json_stringn((char *) buf, p - buf);

    ngx_pfree(nr->request->pool, buf);

    return title;
}


/*
 * A push identical to one already accepted is acknowledged again and
 * stored once: the key is the normalized Type and the work item in a
 * canonical form (sorted keys, compact), from the same caller (in
 * ngx_http_notify_key()), for the same tenant and the same recipients.
 */

static ngx_int_t
ngx_http_notify_push_idem(ngx_http_notify_req_t *nr, u_char *type,
    json_t *item)
{
    char                         *text;
    ngx_int_t                     rc;
    ngx_str_t                    *parts, *names;
    ngx_uint_t                    i, n;
    ngx_http_notify_push_conf_t  *pcf;

    pcf = nr->conf;

    n = pcf->recipients->nelts;
    names = pcf->recipients->elts;

    parts = ngx_palloc(nr->request->pool, (n + 3) * sizeof(ngx_str_t));
    if (parts == NULL) {
        return NGX_ERROR;
    }

    text = json_dumps(item, JSON_SORT_KEYS|JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    parts[0].data = type;
    parts[0].len = ngx_strlen(type);
    parts[1].data = (u_char *) text;
    parts[1].len = ngx_strlen(text);
    parts[2] = nr->tenant;

    for (i = 0; i < n; i++) {
        parts[3 + i] = names[i];
    }

    rc = ngx_http_notify_key(nr, parts, n + 3, nr->idem);

    free(text);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    nr->has_idem = 1;

    return NGX_OK;
}


/*
 * The recipients are the location's notify_push_recipients: users (id
 * or UPN) or groups (their active members).  Every name was found in the
 * directory when the configuration was read; inactive users are skipped.
 */

static ngx_int_t
ngx_http_notify_push_expand(ngx_http_notify_req_t *nr)
{
    ngx_int_t                     rc;
    ngx_str_t                    *names;
    ngx_uint_t                    i;
    ngx_http_notify_push_conf_t  *pcf;

    pcf = nr->conf;
    names = pcf->recipients->elts;

    for (i = 0; i < pcf->recipients->nelts; i++) {
        rc = ngx_http_notify_add_name(nr, nr->directory, &names[i]);

        if (rc == NGX_ERROR) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "out of memory");
        }
    }

    if (nr->recipients.nelts) {
        return NGX_OK;
    }

    /* a configuration problem of the receiver: the sender may retry */

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_UNRESOLVED,
                                NGX_HTTP_SERVICE_UNAVAILABLE,
                                "None of the recipients configured for"
                                " this endpoint is an active user.");
}


static ngx_int_t
ngx_http_notify_push_answer(ngx_http_notify_req_t *nr)
{
    nr->answer = json_pack("{s:b, s:s, s:s}",
                           "Success", 1, "Code", "0", "Message", "OK");
    if (nr->answer == NULL) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    nr->success = NGX_HTTP_OK;

    return NGX_OK;
}


/* the answer kept with the notification (or the first one, again) */

static ngx_int_t
ngx_http_notify_push_send_answer(ngx_http_notify_req_t *nr, json_t *answer)
{
    if (answer == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the store adds the notification's id: not part of the contract */

    json_object_del(answer, "id");

    return ngx_http_notify_send_json(nr->request, NGX_HTTP_OK, NULL, answer,
                                     0);
}


static ngx_int_t
ngx_http_notify_push_send_error(ngx_http_notify_req_t *nr)
{
    json_t              *json;
    ngx_int_t            rc;
    ngx_str_t            message;
    ngx_http_request_t  *r;

    r = nr->request;
    message = nr->message;

    if (nr->error == NGX_HTTP_NOTIFY_ERR_AUTH) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: unauthenticated: %V", &nr->message);

        if (ngx_http_notify_set_www_authenticate(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        switch (nr->auth ? nr->auth->error : NGX_HTTP_NOTIFY_AUTH_NONE) {

        case NGX_HTTP_NOTIFY_AUTH_NONE:
            ngx_str_set(&message, "No token: send \"Authorization: <JWT>\".");
            break;

        case NGX_HTTP_NOTIFY_AUTH_EXPIRED:
            ngx_str_set(&message, "The token has expired or is not valid"
                                  " yet.");
            break;

        default:
            ngx_str_set(&message, "The token is not valid.");
            break;
        }
    }

    if (message.len == 0) {
        ngx_str_set(&message, "The request could not be processed.");
    }

    json = json_pack("{s:b, s:s, s:s%}",
                     "Success", 0,
                     "Code", ngx_http_notify_push_code(nr),
                     "Message", (char *) message.data, message.len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, nr->status, NULL, json, 0);
    json_decref(json);

    return rc;
}


static const char *
ngx_http_notify_push_code(ngx_http_notify_req_t *nr)
{
    switch (nr->error) {

    case NGX_HTTP_NOTIFY_ERR_AUTH:
        return "1";

    case NGX_HTTP_NOTIFY_ERR_FORBIDDEN:
        return "2";

    case NGX_HTTP_NOTIFY_ERR_METHOD:
        return "3";

    case NGX_HTTP_NOTIFY_ERR_TOO_LARGE:
        return "4";

    case NGX_HTTP_NOTIFY_ERR_JSON:
    case NGX_HTTP_NOTIFY_ERR_MEDIA_TYPE:
        return "5";

    case NGX_HTTP_NOTIFY_ERR_MISSING:
        return "6";

    case NGX_HTTP_NOTIFY_ERR_INVALID:
        return "7";

    case NGX_HTTP_NOTIFY_ERR_UNRESOLVED:
        return "8";

    case NGX_HTTP_NOTIFY_ERR_STORE:
        return "9";

    default:
        return "10";
    }
}


static void *
ngx_http_notify_push_create_conf(ngx_conf_t *cf)
{
    ngx_http_notify_push_conf_t  *pcf;

    pcf = ngx_palloc(cf->pool, sizeof(ngx_http_notify_push_conf_t));
    if (pcf == NULL) {
        return NULL;
    }

    pcf->recipients = NGX_CONF_UNSET_PTR;

    return pcf;
}


static char *
ngx_http_notify_push_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_notify_push_conf_t *prev = parent;
    ngx_http_notify_push_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->recipients, prev->recipients, NULL);

    return NGX_CONF_OK;
}


/*
 * Called after the merge of a location with "notify_inbound push" (the
 * directory is loaded by then): it needs recipients, and each must be a
 * user or a group of the directory.
 */

static char *
ngx_http_notify_push_check_conf(ngx_conf_t *cf, void *conf,
    ngx_http_notify_directory_t *directory)
{
    ngx_http_notify_push_conf_t *pcf = conf;

    ngx_str_t   *names;
    ngx_uint_t   i;

    if (pcf->recipients == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_inbound push\" needs"
                           " \"notify_push_recipients\"");
        return NGX_CONF_ERROR;
    }

    names = pcf->recipients->elts;

    for (i = 0; i < pcf->recipients->nelts; i++) {
        if (ngx_http_notify_directory_name(directory, &names[i], NULL, NULL)
            == NGX_HTTP_NOTIFY_DIR_NONE)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"notify_push_recipients\": \"%V\" is no"
                               " user or group of the directory",
                               &names[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * The outbound half: the push a push receiver gets (README.md, "Delivery
 * to a downstream system").  POST to the target's URL, the notification
 * as compact JSON, and
 *
 *     User-Agent: DataNotifier
 *     Content-Type: application/json
 *     Idempotency-Key: <the same for every attempt>
 *     Authorization: <the target's token>      (left out when empty)
 */

static ngx_int_t
ngx_http_notify_push_render(ngx_http_notify_target_t *target,
    ngx_http_notify_note_t *note, ngx_http_notify_outbound_req_t *out)
{
    json_t        *more, *text;
    ngx_int_t      rc;
    ngx_keyval_t   headers[4];

    /*
     * The notification as the hub keeps it, with "recipients", then what
     * a push receiver reads: Type, WorkItemType, WorkItem, Url, Comment.
     */

    more = json_object();
    if (more == NULL) {
        return NGX_ERROR;
    }

    text = ngx_http_notify_render_comment(note);

    if (json_object_set_new(more, "Type",
                            ngx_http_notify_push_type_of(target, note))
           != 0
        || (json_is_string(note->work_item_type)
            && json_object_set(more, "WorkItemType", note->work_item_type)
               != 0)
        || json_object_set_new(more, "WorkItem",
                               ngx_http_notify_push_item(note))
           != 0
        || (json_is_string(note->url)
            && json_object_set(more, "Url", note->url) != 0)
        || (text && json_object_set(more, "Comment", text) != 0))
    {
        json_decref(text);
        json_decref(more);
        return NGX_ERROR;
    }

    json_decref(text);

    rc = ngx_http_notify_render_note(out, note, more, &out->body);
    json_decref(more);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    out->method = NGX_HTTP_POST;
    ngx_str_set(&out->method_name, "POST");
    out->url = target->url;

    ngx_str_set(&headers[0].key, "User-Agent");
    ngx_str_set(&headers[0].value, "DataNotifier");
    ngx_str_set(&headers[1].key, "Content-Type");
    ngx_str_set(&headers[1].value, "application/json");
    ngx_str_set(&headers[2].key, "Idempotency-Key");
    headers[2].value = out->idempotency_key;
    ngx_str_set(&headers[3].key, "Authorization");
    headers[3].value = out->authorization;

    return ngx_http_notify_render_headers(out, headers, 4);
}


/*
 * The push's Type: the target's activity type of the event, as a number
 * (an event of push's own, "workitem.type.<n>", or a whole number), else
 * the Type of a push, else 8 (changed).
 */

static json_t *
ngx_http_notify_push_type_of(ngx_http_notify_target_t *target,
    ngx_http_notify_note_t *note)
{
    json_t                       *v;
    ngx_int_t                     n;
    ngx_str_t                     type;
    ngx_http_notify_push_type_t  *t;

    if (ngx_http_notify_render_activity_type(target, note, &type) == NGX_OK) {

        for (t = ngx_http_notify_push_types; t->event; t++) {
            if (ngx_strlen(t->event) == type.len
                && ngx_strncmp(t->event, type.data, type.len) == 0)
            {
                return json_sprintf("%d", (int) t->type);
            }
        }

        if (type.len > sizeof("workitem.type.") - 1
            && ngx_strncmp(type.data, "workitem.type.",
                           sizeof("workitem.type.") - 1)
               == 0)
        {
            type.data += sizeof("workitem.type.") - 1;
            type.len -= sizeof("workitem.type.") - 1;
        }

        v = json_stringn((char *) type.data, type.len);

        if (v && ngx_http_notify_push_number(v, &n) == NGX_OK) {
            json_decref(v);
            return json_sprintf("%d", (int) n);
        }

        json_decref(v);
    }

    if (json_is_string(note->type)) {
        return json_incref(note->type);
    }

    return json_string("8");
}


/* the push's work item, else {"Id": <the notification's id>, "Title"} */

static json_t *
ngx_http_notify_push_item(ngx_http_notify_note_t *note)
{
    if (json_is_object(note->work_item)) {
        return json_incref(note->work_item);
    }

    return json_pack("{s:o, s:o*}",
                     "Id", ngx_http_notify_json_str(&note->id),
                     "Title", ngx_http_notify_render_text(note->title));
}


/*
 * Delivered: a 2xx and {"Success": true, "Code": "0" (or 0)}.  Anything
 * else is worth another attempt: the reason says the status, and the
 * receiver's Success, Code and Message.
 */

static ngx_http_notify_verdict_e
ngx_http_notify_push_judge(ngx_http_notify_target_t *target,
    ngx_uint_t status, ngx_str_t *body, u_char *reason, size_t size)
{
    u_char                     *p, *last;
    json_t                     *json, *success, *code, *message;
    ngx_http_notify_verdict_e   verdict;

    p = reason;
    last = reason + size - 1;
    verdict = NGX_HTTP_NOTIFY_RETRY;

    if (status < 200 || status > 299) {
        p = ngx_slprintf(p, last, "HTTP %ui", status);
        *p = '\0';

        return verdict;
    }

    json = json_loadb((char *) body->data, body->len, 0, NULL);

    success = json_object_get(json, "Success");
    code = json_object_get(json, "Code");
    message = json_object_get(json, "Message");

    if (json == NULL || !json_is_object(json)) {
        p = ngx_slprintf(p, last, "HTTP %ui, unreadable answer", status);

    } else if (json_is_true(success)
               && ((json_is_string(code)
                    && ngx_strcmp(json_string_value(code), "0") == 0)
                   || (json_is_integer(code)
                       && json_integer_value(code) == 0)))
    {
        verdict = NGX_HTTP_NOTIFY_DELIVERED;

    } else {
        p = ngx_slprintf(p, last, "HTTP %ui, Success %s, Code ",
                         status, json_is_true(success) ? "true" : "false");

        if (json_is_string(code)) {
            p = ngx_slprintf(p, last, "\"%s\"", json_string_value(code));

        } else if (json_is_integer(code)) {
            p = ngx_slprintf(p, last, "%L",
                             (int64_t) json_integer_value(code));

        } else {
            p = ngx_slprintf(p, last, "none");
        }

        if (json_is_string(message)) {
            p = ngx_slprintf(p, last, ", Message \"%s\"",
                             json_string_value(message));
        }
    }

    json_decref(json);

    *p = '\0';

    return verdict;
}


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The core every stage of the module may use: errors, time, JSON, the
 * per-request context and the HTTP answers, the inbound notification and
 * the dialect interface (its inbound half, which the flow drives, and its
 * outbound half, which outbound/ drives for a target).
 * It includes no other header of the module, so that every folder can
 * depend on it and it on none.
 */


#ifndef _NGX_HTTP_NOTIFY_CORE_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_CORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_notify_note.h"


/* how deep a request body may nest (objects and arrays) */
#define NGX_HTTP_NOTIFY_JSON_DEPTH  32

/* the longest user id: the directory refuses longer, the store keys by it */
#define NGX_HTTP_NOTIFY_USER_MAX    256


/* what went wrong, for the dialect to say in its own shape */
typedef enum {
    NGX_HTTP_NOTIFY_ERR_NONE = 0,
    NGX_HTTP_NOTIFY_ERR_KEY_MISSING,           /* subscription key */
    NGX_HTTP_NOTIFY_ERR_KEY_INVALID,
    NGX_HTTP_NOTIFY_ERR_AUTH,                  /* no or bad token */
    NGX_HTTP_NOTIFY_ERR_FORBIDDEN,             /* valid token, no right */
    NGX_HTTP_NOTIFY_ERR_METHOD,
    NGX_HTTP_NOTIFY_ERR_MEDIA_TYPE,
    NGX_HTTP_NOTIFY_ERR_TOO_LARGE,
    NGX_HTTP_NOTIFY_ERR_JSON,                  /* not JSON, not an object */
    NGX_HTTP_NOTIFY_ERR_INVALID,               /* validation, see fields */
    NGX_HTTP_NOTIFY_ERR_MISSING,               /* a required field (400) */
    NGX_HTTP_NOTIFY_ERR_UNRESOLVED,            /* nobody to notify */
    NGX_HTTP_NOTIFY_ERR_NOT_FOUND,
    NGX_HTTP_NOTIFY_ERR_STORE,                 /* 503 */
    NGX_HTTP_NOTIFY_ERR_INTERNAL               /* 500 */
} ngx_http_notify_err_e;


/*
 * the caller's authentication (auth/), an inbound notification and the
 * directory (directory/), which answers by value
 */
typedef struct ngx_http_notify_auth_s       ngx_http_notify_auth_t;
typedef struct ngx_http_notify_req_s        ngx_http_notify_req_t;
typedef struct ngx_http_notify_directory_s  ngx_http_notify_directory_t;

/* the directory (directory/), opaque here */
struct ngx_http_notify_directory_s;


/* the module's per-request context, made on first use */
typedef struct {
    ngx_http_notify_auth_t     *auth;          /* set by authenticate() */
    ngx_http_notify_req_t      *inbound;       /* notify_inbound */
    void                       *feed;          /* notify_feed */
    void                       *delivery;      /* a delivery subrequest's */
    ngx_str_t                   delivery_status;
    off_t                       body_seen;     /* notify_inbound: bytes */
    unsigned                    body_too_large:1;  /* dropped past
                                                      notify_max_body */
} ngx_http_notify_ctx_t;


typedef struct ngx_http_notify_dialect_s  ngx_http_notify_dialect_t;


/*
 * A downstream target (outbound/): a notify_target block, or the push
 * target of notify_push_url ("push").  What its dialect's outbound half
 * reads to render a request is here; how outbound/ schedules it is in
 * "delivery" (outbound/'s own, opaque to the dialects).
 */
typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  index;         /* its breaker's slot */
    ngx_str_t                   dialect_name;
    ngx_http_notify_dialect_t  *dialect;       /* its outbound half */
    ngx_str_t                   url;           /* null-terminated; the base
                                                  URL of the dialects that
                                                  build paths */
    ngx_str_t                   credential;    /* "authorization": the
                                                  Authorization header's
                                                  value, or empty */
    ngx_str_t                   subscription_key;  /* ocp-apim-subscription-
                                                      key, or empty */
    ngx_str_t                   secret;        /* webhook: the key (the
                                                  base64 after "whsec_",
                                                  decoded), or empty */
    ngx_str_t                   oauth2_token_url;  /* "oauth2": client */
    ngx_str_t                   oauth2_client_id;  /*   credentials, or */
    ngx_str_t                   oauth2_secret;     /*   empty url */
    ngx_str_t                   oauth2_scope;
    ngx_array_t                *activity_types;    /* ngx_keyval_t: event
                                                      type -> the target's
                                                      activity type */
    ngx_str_t                   default_activity_type;  /* or empty: the
                                                           event type */
    void                       *delivery;      /* outbound/'s settings */
} ngx_http_notify_target_t;


/* a request to a target, as its dialect renders it (outbound/) */
typedef struct {
    /* in: made by outbound/ */
    ngx_pool_t                 *pool;          /* for what render makes */
    ngx_str_t                   idempotency_key;   /* the same for every
                                                      attempt */
    ngx_str_t                   authorization; /* the Authorization
                                                  header's value now: the
                                                  static credential or an
                                                  OAuth2 token ("Bearer
                                                  ..."); empty: none */

    /* out: made by render() */
    ngx_uint_t                  method;        /* NGX_HTTP_POST, ... */
    ngx_str_t                   method_name;   /* "POST", ... */
    ngx_str_t                   url;           /* null-terminated */
    ngx_array_t                 headers;       /* ngx_keyval_t, in order */
    ngx_str_t                   body;
} ngx_http_notify_outbound_req_t;


/* what a target's answer means, as its dialect judges it */
typedef enum {
    NGX_HTTP_NOTIFY_DELIVERED = 0,
    NGX_HTTP_NOTIFY_RETRY,                     /* try again, after a backoff */
    NGX_HTTP_NOTIFY_GIVE_UP                    /* no attempt can succeed */
} ngx_http_notify_verdict_e;


/*
 * A set of strings (user ids, group ids) with a value each, in the
 * request's pool (directory/ngx_http_notify_recipients.c).  Keys are
 * never empty: an empty key is a free slot.
 */
typedef struct {
    ngx_str_t                   key;
    uint32_t                    hash;
    ngx_int_t                   value;
} ngx_http_notify_set_slot_t;

typedef struct {
    ngx_http_notify_set_slot_t *slots;
    ngx_uint_t                  size;          /* a power of two */
    ngx_uint_t                  n;
} ngx_http_notify_set_t;


/*
 * One inbound notification on its way through the flow.  Lives in the
 * request pool; the JSON objects are freed by the request's cleanup.
 */
struct ngx_http_notify_req_s {
    ngx_http_request_t         *request;
    ngx_http_notify_dialect_t  *dialect;
    ngx_http_notify_auth_t     *auth;
    ngx_str_t                   tenant;        /* notify_tenant, else the
                                                  server's name */
    struct ngx_http_notify_directory_s  *directory;  /* notify_directory */
    void                       *conf;          /* the dialect's part of the
                                                  location's configuration */
    ngx_array_t                *keys;          /* notify_subscription_key,
                                                  or NULL */

    ngx_str_t                   raw;           /* the request body */
    json_t                     *body;          /* parsed, or NULL */
    ngx_http_notify_note_t      note;          /* the canonical notification */
    json_t                     *answer;        /* success answer, no "id" */
    json_t                     *unresolved;    /* array of strings */

    ngx_array_t                 recipients;    /* ngx_str_t: user ids */
    ngx_http_notify_set_t       users;         /* recipients, de-duplicated */
    ngx_http_notify_set_t       groups;        /* group ids expanded */

    u_char                      idem[32];      /* idempotency key */
    u_char                      chain[32];     /* chain key (replacement) */
    unsigned                    has_idem:1;
    unsigned                    has_chain:1;
    unsigned                    skip_store:1;  /* answer, store nothing */
    unsigned                    deliver_now:1; /* a subrequest after commit */

    ngx_http_notify_err_e       error;
    ngx_uint_t                  status;        /* HTTP status to answer */
    ngx_str_t                   message;       /* human text, for errors */
    json_t                      *fields;       /* validation errors:
                                                  {"field": ["msg", ...]} */
    ngx_uint_t                  success;       /* status of a success */

    struct ngx_http_notify_store_op_s  *op;    /* the commit (store/) */

    void                       *data;          /* the dialect's own state */
};


/*
 * A dialect: the functions that make one API, in two halves.
 *
 * The inbound half, which the flow calls in this order: check_headers
 * (before anything else), then the method, the token and the role are
 * checked, then check_request (before the body is read), parse (body to
 * canonical notification, validation), authorize, expand (recipients),
 * answer (the success answer to keep), and once the notification is
 * durable, send_answer (optional: without it, the answer is sent as JSON,
 * or as no body when there is none).  send_error renders any error in the
 * dialect's shape.
 *
 * A dialect brings its own directives: "commands" (ngx_null_command
 * ends them) are location directives whose offsets are in the dialect's
 * own configuration, made by create_loc_conf and merged by
 * merge_loc_conf, as a module's location configuration is; the module
 * collects them (inbound/ngx_http_notify_dialects.c).  check_loc_conf,
 * if any, is called after the merge of a location whose notify_inbound
 * names the dialect, with the directory loaded.
 *
 * The outbound half, which outbound/ calls for a target that speaks the
 * dialect (NULL for a dialect that is no target yet):
 *
 *   render  makes the request to the target from the canonical
 *           notification to deliver (read back from the outbox, with its
 *           id and its recipients): method, URL, headers and body, in
 *           out->pool, with out->idempotency_key where the dialect carries
 *           it.  NGX_OK or NGX_ERROR.
 *
 *   judge   reads the target's answer (an HTTP status, never 0, and the
 *           body, possibly empty): delivered, retry or give up, with the
 *           reason for the log (NUL-ended, at most "size" bytes with the
 *           NUL; empty when delivered).  A transport error (no answer) and
 *           Retry-After are outbound/'s, not the dialect's.
 */
struct ngx_http_notify_dialect_s {
    ngx_str_t                   name;
    ngx_uint_t                  methods;
    ngx_str_t                   default_role;  /* when no notify_require_role */

    ngx_int_t                 (*check_headers)(ngx_http_notify_req_t *nr);
    ngx_int_t                 (*check_request)(ngx_http_notify_req_t *nr);
    ngx_int_t                 (*parse)(ngx_http_notify_req_t *nr);
    ngx_int_t                 (*authorize)(ngx_http_notify_req_t *nr);
    ngx_int_t                 (*expand)(ngx_http_notify_req_t *nr);
    ngx_int_t                 (*answer)(ngx_http_notify_req_t *nr);
    ngx_int_t                 (*send_answer)(ngx_http_notify_req_t *nr,
                                             json_t *answer);
    ngx_int_t                 (*send_error)(ngx_http_notify_req_t *nr);
    unsigned                    no_allow:1;    /* no "Allow" on a 405 */

    ngx_command_t              *commands;      /* or NULL */
    void                     *(*create_loc_conf)(ngx_conf_t *cf);
    char                     *(*merge_loc_conf)(ngx_conf_t *cf, void *prev,
                                                void *conf);
    char                     *(*check_loc_conf)(ngx_conf_t *cf, void *conf,
                                    struct ngx_http_notify_directory_s *dir);

    ngx_int_t                 (*render)(ngx_http_notify_target_t *target,
                                        ngx_http_notify_note_t *note,
                                        ngx_http_notify_outbound_req_t *out);
    ngx_http_notify_verdict_e (*judge)(ngx_http_notify_target_t *target,
                                       ngx_uint_t status, ngx_str_t *body,
                                       u_char *reason, size_t size);

    ngx_uint_t                  max_recipients;  /* of one request as a
                                                    target; 0: no limit */
};


/*
 * How a dialect says that its request body is not a JSON object, in its
 * own words: "syntax" is a format given jansson's text, the line and the
 * column; "not_object" a plain message.  With "field" set, each is a
 * validation error of that field (ngx_http_notify_field_error()), else
 * the notification's error and status (ngx_http_notify_fail()).
 */
typedef struct {
    ngx_http_notify_err_e       error;
    ngx_uint_t                  status;
    const char                 *field;
    const char                 *syntax;
    const char                 *not_object;
    size_t                      flags;         /* jansson's decoding flags */
    unsigned                    from_zero:1;   /* line and column count
                                                  from 0 */
} ngx_http_notify_json_body_t;


/* time, text and JSON (ngx_http_notify_core.c) */
u_char *ngx_http_notify_iso8601(u_char *buf, time_t t);
ngx_int_t ngx_http_notify_parse_iso8601(const char *s, size_t len, time_t *t);
void ngx_http_notify_trim(ngx_str_t *s);
uint32_t ngx_http_notify_hash(u_char *p, size_t len, ngx_uint_t caseless);
json_t *ngx_http_notify_json_str(ngx_str_t *s);
size_t ngx_http_notify_json_size(json_t *v);
u_char *ngx_http_notify_json_write(u_char *p, json_t *v);
size_t ngx_http_notify_json_text_size(u_char *s, size_t len);
u_char *ngx_http_notify_json_text_write(u_char *p, u_char *s, size_t len);
ngx_int_t ngx_http_notify_utf8_valid(u_char *p, size_t len);
json_t *ngx_http_notify_json_load(ngx_str_t *text, size_t flags,
    json_error_t *err);
ngx_int_t ngx_http_notify_json_object_body(ngx_http_notify_req_t *nr,
    const ngx_http_notify_json_body_t *jb);
ngx_uint_t ngx_http_notify_json_media_type(ngx_str_t *value, ngx_uint_t text,
    ngx_str_t *type);
ngx_int_t ngx_http_notify_valid_datetime(const char *s, size_t len);
ngx_int_t ngx_http_notify_valid_http_url(const char *s, size_t len);

/* configuration (ngx_http_notify_core.c) */
char *ngx_http_notify_conf_set_list_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the errors of an inbound notification (ngx_http_notify_core.c) */
ngx_int_t ngx_http_notify_fail(ngx_http_notify_req_t *nr,
    ngx_http_notify_err_e error, ngx_uint_t status, const char *fmt, ...);
ngx_int_t ngx_http_notify_field_error(ngx_http_notify_req_t *nr,
    const char *field, const char *fmt, ...);
ngx_int_t ngx_http_notify_note_failed(ngx_http_notify_req_t *nr,
    json_error_t *err);

/* the context, headers and answers (ngx_http_notify_http.c) */
ngx_http_notify_ctx_t *ngx_http_notify_get_ctx(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_notify_header(ngx_list_t *headers,
    const char *name);
ngx_int_t ngx_http_notify_set_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_notify_set_www_authenticate(ngx_http_request_t *r);
ngx_int_t ngx_http_notify_tenant(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_str_t *tenant);
ngx_int_t ngx_http_notify_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);
ngx_int_t ngx_http_notify_send_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, json_t *json, size_t flags);
ngx_int_t ngx_http_notify_send_header(ngx_http_request_t *r);
ngx_int_t ngx_http_notify_send_empty(ngx_http_request_t *r,
    ngx_uint_t status);
ngx_int_t ngx_http_notify_send_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, u_char *data, size_t len);


extern ngx_module_t  ngx_http_notify_module;


#endif /* _NGX_HTTP_NOTIFY_CORE_H_INCLUDED_ */

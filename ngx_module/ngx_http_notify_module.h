
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ndk.h>

#include <jansson.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_store.h"
#include "ngx_http_notify_delivery.h"


#define NGX_HTTP_NOTIFY_VERSION  "0.1.0"

typedef struct ngx_http_notify_dialect_s  ngx_http_notify_dialect_t;

typedef struct {
    void                       *key;
    ngx_int_t                   value;
} ngx_http_notify_set_slot_t;

typedef struct {
    ngx_http_notify_set_slot_t *slots;
    ngx_uint_t                  size;          /* a power of two */
    ngx_uint_t                  n;
} ngx_http_notify_set_t;


typedef struct {
    time_t                        loaded;      /* when this config was read */
    ngx_http_notify_jwt_conf_t   *jwt;         /* ngx_http_notify_jwt.c */
    ngx_http_notify_directory_t  *directory;   /* NULL: no notify_directory */
    ngx_http_notify_store_conf_t  store;
    ngx_http_notify_delivery_conf_t  delivery;
} ngx_http_notify_main_conf_t;


#define ngx_http_notify_main_conf(r)                                        \
    ((ngx_http_notify_main_conf_t *)                                        \
     ngx_http_get_module_main_conf(r, ngx_http_notify_module))


typedef struct {
    ngx_http_complex_value_t   *tenant;        /* NULL: the server's name */
    ngx_str_t                   delivery_location;
} ngx_http_notify_srv_conf_t;


typedef struct {
    ngx_http_handler_pt         handler;       /* content handler, or NULL */
    ngx_uint_t                  status_flags;  /* json_dumps() flags */

    ngx_http_notify_dialect_t  *dialect;       /* notify_inbound */
    ngx_array_t                *roles;         /* notify_require_role */
    ngx_array_t                *keys;          /* notify_subscription_key */
    size_t                      max_body;      /* notify_max_body */
    ngx_str_t                   feed_admin_role;       /* read others' */
    ngx_str_t                   feed_admin_write_role; /* mark theirs */
    ngx_str_t                   feed_prefix;   /* notify_feed: location */
    ngx_str_t                   gever_actor_claim; /* notify_gever_... */
    ngx_array_t                *push_recipients; /* notify_push_recipients */
    void                       *graph_manifest; /* notify_graph_manifest */
} ngx_http_notify_loc_conf_t;


/*
 * One inbound notification on its way through the flow.  Lives in the
 * request pool; the JSON objects are freed by the request's cleanup.
 */
struct ngx_http_notify_req_s {
    ngx_http_request_t         *request;
    ngx_http_notify_dialect_t  *dialect;
    ngx_http_notify_auth_t     *auth;

    ngx_str_t                   raw;           /* the request body */
    json_t                     *body;          /* parsed, or NULL */
    json_t                     *note;          /* the canonical notification */
    json_t                     *answer;        /* success answer, no "id" */
    json_t                     *unresolved;    /* array of strings */

    ngx_array_t                 recipients;    /* ngx_http_notify_user_t * */
    ngx_http_notify_set_t       users;         /* recipients, de-duplicated */
    ngx_http_notify_set_t       groups;        /* groups expanded */

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

    ngx_http_notify_store_op_t  op;

    void                       *data;          /* the dialect's own state */
};


/*
 * A dialect: the functions that make one inbound API.  The flow calls
 * them in this order: check_headers (before anything else), then the
 * method, the token and the role are checked, then check_request (before
 * the body is read), parse (body to canonical notification, validation),
 * authorize, expand (recipients), answer (the success answer to keep),
 * and once the notification is durable, send_answer (optional: without it,
 * the answer is sent as JSON, or as no body when there is none).
 * send_error renders any error in the dialect's shape.
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
};


extern ngx_http_notify_dialect_t  ngx_http_notify_syntphony_dialect;
extern ngx_http_notify_dialect_t  ngx_http_notify_graph_dialect;
extern ngx_http_notify_dialect_t  ngx_http_notify_gever_dialect;
extern ngx_http_notify_dialect_t  ngx_http_notify_push_dialect;

/* "notify_graph_manifest <file>;" (ngx_http_notify_graph.c) */
char *ngx_http_notify_graph_manifest(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* the tenant of a request (ngx_http_notify_module.c) */
ngx_int_t ngx_http_notify_tenant(ngx_http_request_t *r, ngx_str_t *tenant);

/* flow (ngx_http_notify_flow.c) */
ngx_int_t ngx_http_notify_inbound_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_notify_fail(ngx_http_notify_req_t *nr,
    ngx_http_notify_err_e error, ngx_uint_t status, const char *fmt, ...);
ngx_int_t ngx_http_notify_field_error(ngx_http_notify_req_t *nr,
    const char *field, const char *fmt, ...);
ngx_int_t ngx_http_notify_add_user(ngx_http_notify_req_t *nr,
    ngx_http_notify_user_t *user);
ngx_int_t ngx_http_notify_add_name(ngx_http_notify_req_t *nr,
    ngx_str_t *name);
ngx_int_t ngx_http_notify_add_group(ngx_http_notify_req_t *nr,
    ngx_http_notify_group_t *group);
ngx_int_t ngx_http_notify_key(ngx_http_notify_req_t *nr, ngx_str_t *parts,
    ngx_uint_t n, u_char *out);
ngx_int_t ngx_http_notify_note_failed(ngx_http_notify_req_t *nr,
    json_error_t *err);

/* push (ngx_http_notify_push.c) */
char *ngx_http_notify_push_recipients(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_push_merge(ngx_conf_t *cf,
    ngx_http_notify_loc_conf_t *conf);

char *ngx_http_notify_prefix_handler(ngx_conf_t *cf,
    ngx_http_notify_loc_conf_t *nlcf, ngx_http_handler_pt handler);

/* feed (ngx_http_notify_feed.c) */
ngx_int_t ngx_http_notify_feed_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_NOTIFY_MODULE_H_INCLUDED_ */

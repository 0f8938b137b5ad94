
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_JWT_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_principal.h"


/* why a request is not authenticated (ngx_http_notify_auth_t.error) */
typedef enum {
    NGX_HTTP_NOTIFY_AUTH_OK = 0,
    NGX_HTTP_NOTIFY_AUTH_NONE,         /* no Authorization header/token */
    NGX_HTTP_NOTIFY_AUTH_MALFORMED,    /* not a JWT, bad base64/JSON, >8 KiB */
    NGX_HTTP_NOTIFY_AUTH_EXPIRED,      /* expired or not yet valid */
    NGX_HTTP_NOTIFY_AUTH_INVALID       /* alg, kid, signature, iss, aud */
} ngx_http_notify_auth_error_e;


struct ngx_http_notify_auth_s {
    ngx_http_notify_auth_error_e   error;
    ngx_str_t                      reason;     /* for the log, e.g.
                                                  "token expired" */
    ngx_http_notify_principal_t   *principal;  /* NULL unless error == OK */
};


typedef struct ngx_http_notify_jwt_conf_s  ngx_http_notify_jwt_conf_t;


/* made with the module's main conf, which keeps a pointer to it */
ngx_http_notify_jwt_conf_t *ngx_http_notify_jwt_create_conf(ngx_conf_t *cf);

/*
 * directive handlers: the command's offset is that of the pointer to the
 * JWT conf in the module's main conf; notify_jwt_keys is in
 * ngx_http_notify_jwt_keys.c, notify_jwt_cache in ngx_http_notify_jwt_cache.c
 */
char *ngx_http_notify_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_jwt_issuer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_jwt_leeway(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_notify_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * The directives auth declares itself (set_notify_claim), the null command
 * last, sized so that the module can size its table: the module lists
 * them with its own.  Each command's offset is relative to the pointer to
 * the JWT conf in the module's main conf (NGX_HTTP_MAIN_CONF_OFFSET): the
 * module adds that pointer's offset when it collects them.
 */
extern ngx_command_t  ngx_http_notify_jwt_commands[2];

/*
 * called from the module's init_main_conf: defaults, the cache zone, and
 * set_notify_claim's need of notify_jwt_keys
 */
char *ngx_http_notify_jwt_init_main_conf(ngx_conf_t *cf,
    ngx_http_notify_jwt_conf_t *jcf);

/*
 * $notify_caller, $notify_caller_app, $notify_caller_tenant
 * (ngx_http_notify_principal.c)
 */
ngx_int_t ngx_http_notify_jwt_add_variables(ngx_conf_t *cf,
    ngx_http_notify_jwt_conf_t *jcf);

/*
 * Authenticates the request from its Authorization header ("Bearer <jwt>",
 * or the bare JWT as push senders send it).  Done once per request: the
 * result is kept in the module's request context and returned again.
 * Returns NULL only on an internal error (memory).
 */
ngx_http_notify_auth_t *ngx_http_notify_authenticate(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf);

/*
 * A key for the store (ngx_http_notify_key.c): 32 bytes in "out", of the
 * dialect, the caller's identity and "n" parts
 */
ngx_int_t ngx_http_notify_key(ngx_http_notify_req_t *nr, ngx_str_t *parts,
    ngx_uint_t n, u_char *out);

/* frees the worker's parsed claims (ngx_http_notify_jwt_cache.c) */
void ngx_http_notify_jwt_exit_process(void);


#endif /* _NGX_HTTP_NOTIFY_JWT_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_JWT_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"


/* why a request is not authenticated (ngx_http_notify_auth_t.error) */
typedef enum {
    NGX_HTTP_NOTIFY_AUTH_OK = 0,
    NGX_HTTP_NOTIFY_AUTH_NONE,         /* no Authorization header/token */
    NGX_HTTP_NOTIFY_AUTH_MALFORMED,    /* not a JWT, bad base64/JSON, >8 KiB */
    NGX_HTTP_NOTIFY_AUTH_EXPIRED,      /* expired or not yet valid */
    NGX_HTTP_NOTIFY_AUTH_INVALID       /* alg, kid, signature, iss, aud */
} ngx_http_notify_auth_error_e;


/*
 * The verified caller of a request.  A string claim that is absent, not a
 * string or empty is left empty.  Who the caller is (README: "Who the
 * caller is"): sender is the first of azp, appid, client_id and sub, and
 * may be empty; ngx_http_notify_caller_user() finds the caller's user.
 */
typedef struct {
    ngx_str_t                   app_id;        /* azp, appid, client_id:
                                                  first found */
    ngx_str_t                   sender;        /* app_id, else sub */
    ngx_str_t                   issuer;        /* iss */
    ngx_str_t                   object_id;     /* oid */
    ngx_str_t                   user_name;     /* upn, preferred_username,
                                                  unique_name: first found */
    ngx_str_t                   tenant_id;     /* tid */
    ngx_str_t                   subject;       /* sub */
    ngx_array_t                 roles;         /* ngx_str_t, from "roles" */
    ngx_array_t                 scopes;        /* ngx_str_t, "scp" split */
    time_t                      expires;       /* exp */
    ngx_str_t                   claims;        /* all claims, JSON text */
} ngx_http_notify_principal_t;


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
 * JWT conf in the module's main conf
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

/* called from the module's init_main_conf: defaults, the cache zone */
char *ngx_http_notify_jwt_init_main_conf(ngx_conf_t *cf,
    ngx_http_notify_jwt_conf_t *jcf);

/* $notify_caller, $notify_caller_app, $notify_caller_tenant */
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

/* frees the worker's parsed claims */
void ngx_http_notify_jwt_exit_process(void);

/* one string claim by name (empty when absent or not a string) */
ngx_int_t ngx_http_notify_principal_claim(ngx_pool_t *pool,
    ngx_http_notify_principal_t *p, ngx_str_t *name, ngx_str_t *value);

/*
 * The caller's user in the directory (README: "Who the caller is"): the
 * user whose id is the token's oid, else the user whose id or UPN is its
 * user name; never a group.  NGX_OK: "id" is that user's id; NGX_DECLINED
 * when neither is in the directory: "id" is what else names the caller,
 * the oid, or empty.
 */
ngx_int_t ngx_http_notify_caller_user(ngx_http_notify_directory_t *dir,
    ngx_http_notify_principal_t *p, ngx_str_t *id);

/* does the principal hold one of these roles (ngx_str_t array)? */
ngx_uint_t ngx_http_notify_has_role(ngx_http_notify_principal_t *p,
    ngx_array_t *roles);


#endif /* _NGX_HTTP_NOTIFY_JWT_H_INCLUDED_ */

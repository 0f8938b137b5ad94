
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_PRINCIPAL_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_PRINCIPAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"


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


/* how a claim that is not a string is written (principal_claim, "any") */
#define NGX_HTTP_NOTIFY_CLAIM_JSON  (JSON_COMPACT | JSON_ENCODE_ANY)

/* one claim by name: a string, or with "any" a value's JSON text */
ngx_int_t ngx_http_notify_principal_claim(ngx_pool_t *pool,
    ngx_http_notify_principal_t *p, ngx_str_t *name, ngx_uint_t any,
    ngx_str_t *value);

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


#endif /* _NGX_HTTP_NOTIFY_PRINCIPAL_H_INCLUDED_ */

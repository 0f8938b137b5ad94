
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * What the files of auth/ share and no other folder sees: the JWT conf,
 * the keys, the token cache's calls and the principal's making.
 */


#ifndef _NGX_HTTP_NOTIFY_JWT_INTERNAL_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_JWT_INTERNAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"


#define NGX_HTTP_NOTIFY_JWT_DIGEST_LEN    32
#define NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN  32


typedef enum {
    NGX_HTTP_NOTIFY_JWT_RSA = 0,
    NGX_HTTP_NOTIFY_JWT_EC,
    NGX_HTTP_NOTIFY_JWT_OCT
} ngx_http_notify_jwt_kty_e;


/* a supported JWS algorithm and the only key type it may be checked with */
typedef struct {
    ngx_str_t                     name;
    ngx_http_notify_jwt_kty_e     kty;
} ngx_http_notify_jwt_alg_t;


typedef struct {
    ngx_str_t                     kid;         /* empty: the key has none */
    ngx_http_notify_jwt_kty_e     kty;
    EVP_PKEY                     *pkey;        /* RSA and EC keys */
    ngx_str_t                     secret;      /* oct keys */
} ngx_http_notify_jwt_key_t;


struct ngx_http_notify_jwt_conf_s {
    ngx_array_t                  *keys;        /* ngx_http_notify_jwt_key_t */
    ngx_str_t                     issuer;      /* empty: not checked */
    ngx_array_t                  *audiences;   /* ngx_str_t; NULL: not
                                                  checked */
    time_t                        leeway;
    size_t                        cache_size;  /* 0: off */
    ngx_shm_zone_t               *cache;       /* NULL: no cache */
    u_char                       *claim_file;  /* of the first
                                                  set_notify_claim, or NULL */
    ngx_uint_t                    claim_line;
};


/* the token cache's zone (ngx_http_notify_jwt_cache.c) */
typedef struct ngx_http_notify_jwt_cache_s  ngx_http_notify_jwt_cache_t;


/* the supported algorithms, a null name last (ngx_http_notify_jwt.c) */
extern ngx_http_notify_jwt_alg_t  ngx_http_notify_jwt_algs[];


/* ngx_http_notify_jwt.c */
ngx_int_t ngx_http_notify_jwt_base64url(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_str_t *dst);

/* ngx_http_notify_jwt_cache.c */
char *ngx_http_notify_jwt_cache_init(ngx_conf_t *cf,
    ngx_http_notify_jwt_conf_t *jcf);
ngx_int_t ngx_http_notify_jwt_digest(ngx_http_notify_jwt_cache_t *cache,
    ngx_str_t *token, u_char *digest);
ngx_int_t ngx_http_notify_jwt_cache_get(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, ngx_str_t *payload);
void ngx_http_notify_jwt_cache_set(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, time_t expires,
    ngx_str_t *payload);
json_t *ngx_http_notify_jwt_local_get(u_char *digest);
void ngx_http_notify_jwt_local_set(u_char *digest, json_t *claims);

/* ngx_http_notify_principal.c */
ngx_int_t ngx_http_notify_jwt_principal(ngx_http_request_t *r,
    json_t *claims, ngx_str_t *text, time_t expires,
    ngx_http_notify_principal_t **pp);

/* ngx_http_notify_set_claim.c */
char *ngx_http_notify_set_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_NOTIFY_JWT_INTERNAL_H_INCLUDED_ */

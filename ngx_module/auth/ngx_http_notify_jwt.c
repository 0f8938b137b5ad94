
/*
 * Copyright (C) ngx_http_notify authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_jwt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>


#define NGX_HTTP_NOTIFY_JWT_MAX_LEN       8192
#define NGX_HTTP_NOTIFY_JWT_LEEWAY        60
#define NGX_HTTP_NOTIFY_JWT_CACHE_SIZE    (1024 * 1024)
#define NGX_HTTP_NOTIFY_JWT_DIGEST_LEN    32
#define NGX_HTTP_NOTIFY_JWT_RSA_MIN_BITS  2048
#define NGX_HTTP_NOTIFY_JWT_OCT_MIN_LEN   32
#define NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN  32

/* 9999-12-31T23:59:59Z: later times are clamped to it */
#define NGX_HTTP_NOTIFY_JWT_MAX_TIME      253402300799LL


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


/* the token cache in shared memory */

typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;       /* most recently used first */
    ngx_uint_t                    generation;  /* + 1 on every reload */
} ngx_http_notify_jwt_shctx_t;


typedef struct {
    ngx_http_notify_jwt_shctx_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_uint_t                    generation;  /* this configuration's */
} ngx_http_notify_jwt_cache_t;


typedef struct {
    ngx_rbtree_node_t             node;        /* key: digest's first bytes */
    ngx_queue_t                   queue;
    time_t                        expires;     /* the token's exp */
    u_char                        digest[NGX_HTTP_NOTIFY_JWT_DIGEST_LEN];
    size_t                        len;
    u_char                        data[1];     /* the claims (JSON) */
} ngx_http_notify_jwt_node_t;


struct ngx_http_notify_jwt_conf_s {
    ngx_array_t                  *keys;        /* ngx_http_notify_jwt_key_t */
    ngx_str_t                     issuer;      /* empty: not checked */
    ngx_array_t                  *audiences;   /* ngx_str_t; NULL: not
                                                  checked */
    time_t                        leeway;
    size_t                        cache_size;  /* 0: off */
    ngx_shm_zone_t               *cache;       /* NULL: no cache */
};


static void ngx_http_notify_jwt_cleanup_keys(void *data);
static ngx_int_t ngx_http_notify_jwt_parse_jwks(ngx_conf_t *cf,
    ngx_str_t *file, json_t *root, ngx_array_t *keys);
static ngx_int_t ngx_http_notify_jwt_parse_jwk(ngx_conf_t *cf,
    ngx_str_t *file, size_t n, json_t *jwk, ngx_http_notify_jwt_key_t *key);
static ngx_int_t ngx_http_notify_jwt_jwk_member(ngx_conf_t *cf,
    ngx_str_t *file, size_t n, json_t *jwk, const char *name,
    ngx_str_t *value);
static EVP_PKEY *ngx_http_notify_jwt_rsa_key(ngx_str_t *n, ngx_str_t *e);
static EVP_PKEY *ngx_http_notify_jwt_ec_key(ngx_str_t *x, ngx_str_t *y);

static ngx_int_t ngx_http_notify_jwt_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_notify_jwt_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_notify_jwt_node_t *ngx_http_notify_jwt_cache_find(
    ngx_http_notify_jwt_cache_t *cache, u_char *digest);
static void ngx_http_notify_jwt_cache_delete(
    ngx_http_notify_jwt_cache_t *cache, ngx_http_notify_jwt_node_t *jn);
static ngx_int_t ngx_http_notify_jwt_digest(ngx_http_notify_jwt_cache_t *cache,
    ngx_str_t *token, u_char *digest);
static ngx_int_t ngx_http_notify_jwt_cache_get(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, ngx_str_t *payload);
static void ngx_http_notify_jwt_cache_set(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, time_t expires,
    ngx_str_t *payload);

static ngx_int_t ngx_http_notify_jwt_token(ngx_http_request_t *r,
    ngx_http_notify_auth_t *auth, ngx_str_t *token);
static ngx_int_t ngx_http_notify_jwt_verify(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, ngx_str_t *token,
    ngx_http_notify_auth_t *auth, ngx_str_t *payload);
static ngx_int_t ngx_http_notify_jwt_verify_header(ngx_http_request_t *r,
    ngx_http_notify_auth_t *auth, json_t *header,
    ngx_http_notify_jwt_alg_t **alg, ngx_str_t *kid);
static ngx_int_t ngx_http_notify_jwt_verify_signature(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, ngx_http_notify_auth_t *auth,
    ngx_http_notify_jwt_alg_t *alg, ngx_str_t *kid, ngx_str_t *input,
    ngx_str_t *sig);
static ngx_int_t ngx_http_notify_jwt_verify_key(ngx_http_notify_jwt_key_t *key,
    ngx_str_t *input, ngx_str_t *sig);
static ngx_int_t ngx_http_notify_jwt_verify_pkey(EVP_PKEY *pkey,
    ngx_str_t *input, u_char *sig, size_t len);
static ngx_int_t ngx_http_notify_jwt_check_claims(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, ngx_http_notify_auth_t *auth,
    json_t *claims, time_t *expires);
static ngx_int_t ngx_http_notify_jwt_audience_ok(
    ngx_http_notify_jwt_conf_t *jcf, json_t *aud);
static ngx_int_t ngx_http_notify_jwt_principal(ngx_http_request_t *r,
    json_t *claims, ngx_str_t *text, time_t expires,
    ngx_http_notify_principal_t **pp);
static ngx_int_t ngx_http_notify_jwt_claim(ngx_pool_t *pool, json_t *claims,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_notify_jwt_push(ngx_array_t *a, const char *data,
    size_t len);

static ngx_int_t ngx_http_notify_jwt_base64url(ngx_pool_t *pool,
    u_char *data, size_t len, ngx_str_t *dst);
static time_t ngx_http_notify_jwt_time(json_t *value);
static ngx_int_t ngx_http_notify_jwt_reject(ngx_http_notify_auth_t *auth,
    ngx_http_notify_auth_error_e error, char *reason);
static ngx_int_t ngx_http_notify_jwt_reject_value(ngx_http_request_t *r,
    ngx_http_notify_auth_t *auth, ngx_http_notify_auth_error_e error,
    char *reason, u_char *value, size_t len);

static ngx_int_t ngx_http_notify_jwt_caller_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_notify_jwt_alg_t  ngx_http_notify_jwt_algs[] = {
    { ngx_string("RS256"), NGX_HTTP_NOTIFY_JWT_RSA },
    { ngx_string("ES256"), NGX_HTTP_NOTIFY_JWT_EC },
    { ngx_string("HS256"), NGX_HTTP_NOTIFY_JWT_OCT },
    { ngx_null_string, 0 }
};


/* indexed by ngx_http_notify_jwt_kty_e */
static char  *ngx_http_notify_jwt_kty_names[] = { "RSA", "EC", "oct" };


static ngx_str_t  ngx_http_notify_jwt_zone_name =
    ngx_string("notify_jwt_cache");


/* a variable's data: the conf it authenticates with, and which field */
typedef struct {
    ngx_http_notify_jwt_conf_t  *jcf;
    ngx_uint_t                   field;        /* 0 caller, 1 app, 2 tenant */
} ngx_http_notify_jwt_var_t;


/* their data here is the field */
static ngx_http_variable_t  ngx_http_notify_jwt_vars[] = {

    { ngx_string("notify_caller"), NULL,
      ngx_http_notify_jwt_caller_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("notify_caller_app"), NULL,
      ngx_http_notify_jwt_caller_variable, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("notify_caller_tenant"), NULL,
      ngx_http_notify_jwt_caller_variable, 2,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* configuration */

/* made with the module's main conf, so that every directive finds it */

ngx_http_notify_jwt_conf_t *
ngx_http_notify_jwt_create_conf(ngx_conf_t *cf)
{
    ngx_http_notify_jwt_conf_t  *jcf;

    jcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_jwt_conf_t));
    if (jcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     jcf->keys = NULL;
     *     jcf->issuer = { 0, NULL };
     *     jcf->audiences = NULL;
     *     jcf->cache = NULL;
     */

    jcf->leeway = NGX_CONF_UNSET;
    jcf->cache_size = NGX_CONF_UNSET_SIZE;

    return jcf;
}


char *
ngx_http_notify_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    json_t                      *root;
    ngx_int_t                    rc;
    ngx_str_t                   *value, file;
    ngx_array_t                 *keys;
    json_error_t                 err;
    ngx_file_info_t              fi;
    ngx_pool_cleanup_t          *cln;
    ngx_http_notify_jwt_conf_t  *jcf;

    jcf = *(ngx_http_notify_jwt_conf_t **) ((char *) conf + cmd->offset);

    if (jcf->keys != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(file.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "notify_jwt_keys: cannot open \"%V\"", &file);
        return NGX_CONF_ERROR;
    }

    root = json_load_file((char *) file.data, JSON_REJECT_DUPLICATES, &err);

    if (root == NULL) {
        if (err.line < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: cannot read \"%V\": %s",
                               &file, err.text);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: invalid JSON in \"%V\", "
                               "line %d, column %d: %s",
                               &file, err.line, err.column, err.text);
        }

        return NGX_CONF_ERROR;
    }

    keys = ngx_array_create(cf->pool, 4, sizeof(ngx_http_notify_jwt_key_t));
    if (keys == NULL) {
        json_decref(root);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        json_decref(root);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_notify_jwt_cleanup_keys;
    cln->data = keys;

    rc = ngx_http_notify_jwt_parse_jwks(cf, &file, root, keys);

    json_decref(root);

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    jcf->keys = keys;

    return NGX_CONF_OK;
}


static void
ngx_http_notify_jwt_cleanup_keys(void *data)
{
    ngx_array_t *keys = data;

    ngx_uint_t                  i;
    ngx_http_notify_jwt_key_t  *key;

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (key[i].pkey != NULL) {
            EVP_PKEY_free(key[i].pkey);
            key[i].pkey = NULL;
        }
    }
}


static ngx_int_t
ngx_http_notify_jwt_parse_jwks(ngx_conf_t *cf, ngx_str_t *file, json_t *root,
    ngx_array_t *keys)
{
    size_t                      i, n;
    json_t                     *set, *jwk;
    ngx_int_t                   rc;
    ngx_http_notify_jwt_key_t   key, *k;

    if (!json_is_object(root)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_jwt_keys: \"%V\" is not a JSON object",
                           file);
        return NGX_ERROR;
    }

    set = json_object_get(root, "keys");

    if (set == NULL && json_object_get(root, "kty") != NULL) {
        /* a single JWK rather than a set */
        n = 1;

    } else if (json_is_array(set)) {
        n = json_array_size(set);

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_jwt_keys: \"%V\" has no \"keys\" array",
                           file);
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        jwk = (set == NULL) ? root : json_array_get(set, i);

        rc = ngx_http_notify_jwt_parse_jwk(cf, file, i + 1, jwk, &key);

        if (rc == NGX_DECLINED) {
            continue;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        k = ngx_array_push(keys);
        if (k == NULL) {
            if (key.pkey != NULL) {
                EVP_PKEY_free(key.pkey);
            }

            return NGX_ERROR;
        }

        *k = key;
    }

    if (keys->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_jwt_keys: \"%V\" has no signature keys",
                           file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Reads the n-th JWK of the file.  NGX_DECLINED: a key for another use
 * ("use" other than "sig"), skipped.
 */

static ngx_int_t
ngx_http_notify_jwt_parse_jwk(ngx_conf_t *cf, ngx_str_t *file, size_t n,
    json_t *jwk, ngx_http_notify_jwt_key_t *key)
{
    json_t                     *v;
    ngx_str_t                   kty, s, a, b;
    ngx_http_notify_jwt_alg_t  *alg;

    ngx_memzero(key, sizeof(ngx_http_notify_jwt_key_t));

    if (!json_is_object(jwk)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_jwt_keys: key %uz in \"%V\" is not "
                           "a JSON object", n, file);
        return NGX_ERROR;
    }

    v = json_object_get(jwk, "use");

    if (v != NULL
        && (!json_is_string(v) || ngx_strcmp(json_string_value(v), "sig")))
    {
        return NGX_DECLINED;
    }

    if (ngx_http_notify_jwt_jwk_member(cf, file, n, jwk, "kty", &kty)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_strcmp(kty.data, "RSA") == 0) {
        key->kty = NGX_HTTP_NOTIFY_JWT_RSA;

    } else if (ngx_strcmp(kty.data, "EC") == 0) {
        key->kty = NGX_HTTP_NOTIFY_JWT_EC;

    } else if (ngx_strcmp(kty.data, "oct") == 0) {
        key->kty = NGX_HTTP_NOTIFY_JWT_OCT;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_jwt_keys: key %uz in \"%V\" has "
                           "the unsupported key type \"%V\" (supported: "
                           "RSA, EC, oct)", n, file, &kty);
        return NGX_ERROR;
    }

    v = json_object_get(jwk, "kid");

    if (v != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: key %uz in \"%V\" has "
                               "an invalid \"kid\"", n, file);
            return NGX_ERROR;
        }

        key->kid.len = json_string_length(v);
        key->kid.data = ngx_pnalloc(cf->pool, key->kid.len);
        if (key->kid.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(key->kid.data, json_string_value(v), key->kid.len);
    }

    v = json_object_get(jwk, "alg");

    if (v != NULL) {
        for (alg = ngx_http_notify_jwt_algs; alg->name.len; alg++) {
            if (alg->kty == key->kty) {
                break;
            }
        }

        if (!json_is_string(v)
            || ngx_strcmp(json_string_value(v), alg->name.data) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: key %uz in \"%V\" has "
                               "the unsupported alg \"%s\" for kty \"%V\" "
                               "(supported: %V)", n, file,
                               json_is_string(v) ? json_string_value(v) : "?",
                               &kty, &alg->name);
            return NGX_ERROR;
        }
    }

    switch (key->kty) {

    case NGX_HTTP_NOTIFY_JWT_RSA:

        if (ngx_http_notify_jwt_jwk_member(cf, file, n, jwk, "n", &a)
            != NGX_OK
            || ngx_http_notify_jwt_jwk_member(cf, file, n, jwk, "e", &b)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        key->pkey = ngx_http_notify_jwt_rsa_key(&a, &b);

        if (key->pkey == NULL) {
            ERR_clear_error();
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: key %uz in \"%V\" is not "
                               "a valid RSA public key", n, file);
            return NGX_ERROR;
        }

        if (EVP_PKEY_get_bits(key->pkey) < NGX_HTTP_NOTIFY_JWT_RSA_MIN_BITS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: key %uz in \"%V\" has "
                               "%d bits, RSA keys need at least %d",
                               n, file, EVP_PKEY_get_bits(key->pkey),
                               NGX_HTTP_NOTIFY_JWT_RSA_MIN_BITS);
            EVP_PKEY_free(key->pkey);
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_NOTIFY_JWT_EC:

        if (ngx_http_notify_jwt_jwk_member(cf, file, n, jwk, "crv", &s)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_strcmp(s.data, "P-256") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: key %uz in \"%V\" has "
                               "the unsupported curve \"%V\" (supported: "
                               "P-256)", n, file, &s);
            return NGX_ERROR;
        }

        if (ngx_http_notify_jwt_jwk_member(cf, file, n, jwk, "x", &a)
            != NGX_OK
            || ngx_http_notify_jwt_jwk_member(cf, file, n, jwk, "y", &b)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        key->pkey = ngx_http_notify_jwt_ec_key(&a, &b);

        if (key->pkey == NULL) {
            ERR_clear_error();
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: key %uz in \"%V\" is not "
                               "a valid P-256 public key", n, file);
            return NGX_ERROR;
        }

        break;

    default: /* NGX_HTTP_NOTIFY_JWT_OCT */

        if (ngx_http_notify_jwt_jwk_member(cf, file, n, jwk, "k",
                                           &key->secret)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (key->secret.len < NGX_HTTP_NOTIFY_JWT_OCT_MIN_LEN) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_jwt_keys: key %uz in \"%V\" has "
                               "%uz bytes, oct keys need at least %d",
                               n, file, key->secret.len,
                               NGX_HTTP_NOTIFY_JWT_OCT_MIN_LEN);
            return NGX_ERROR;
        }

        break;
    }

    return NGX_OK;
}


/*
 * A string member of a JWK: "kty" and "crv" as they are (NUL-terminated),
 * the others base64url-decoded.
 */

static ngx_int_t
ngx_http_notify_jwt_jwk_member(ngx_conf_t *cf, ngx_str_t *file, size_t n,
    json_t *jwk, const char *name, ngx_str_t *value)
{
    json_t     *v;
    ngx_int_t   rc;

    v = json_object_get(jwk, name);

    if (!json_is_string(v) || json_string_length(v) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_jwt_keys: key %uz in \"%V\" has no "
                           "\"%s\" string", n, file, name);
        return NGX_ERROR;
    }

    if (ngx_strcmp(name, "kty") == 0 || ngx_strcmp(name, "crv") == 0) {
        value->len = json_string_length(v);
        value->data = ngx_pnalloc(cf->pool, value->len + 1);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(value->data, json_string_value(v), value->len + 1);

        return NGX_OK;
    }

    rc = ngx_http_notify_jwt_base64url(cf->pool,
                                       (u_char *) json_string_value(v),
                                       json_string_length(v), value);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_jwt_keys: key %uz in \"%V\": \"%s\" is "
                           "not base64url", n, file, name);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


static EVP_PKEY *
ngx_http_notify_jwt_rsa_key(ngx_str_t *n, ngx_str_t *e)
{
    BIGNUM          *bn, *be;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    params = NULL;
    ctx = NULL;

    bn = BN_bin2bn(n->data, (int) n->len, NULL);
    be = BN_bin2bn(e->data, (int) e->len, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (bn == NULL || be == NULL || bld == NULL
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
    {
        goto done;
    }

    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        goto done;
    }

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL) {
        goto done;
    }

    if (EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
    }

done:

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);

    return pkey;
}


static EVP_PKEY *
ngx_http_notify_jwt_ec_key(ngx_str_t *x, ngx_str_t *y)
{
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx, *check;
    OSSL_PARAM_BLD  *bld;
    u_char           point[1 + 2 * NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN];

    if (x->len != NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN
        || y->len != NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN)
    {
        return NULL;
    }

    /* an uncompressed point: 0x04 || x || y */

    point[0] = 0x04;
    ngx_memcpy(&point[1], x->data, x->len);
    ngx_memcpy(&point[1 + x->len], y->data, y->len);

    pkey = NULL;
    params = NULL;
    ctx = NULL;
    check = NULL;

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           "prime256v1", 0) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, sizeof(point)) != 1)
    {
        goto done;
    }

    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        goto done;
    }

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL) {
        goto done;
    }

    if (EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
        goto done;
    }

    /* the point must be on the curve */

    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }

done:

    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);

    return pkey;
}


char *
ngx_http_notify_jwt_issuer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                   *value;
    ngx_http_notify_jwt_conf_t  *jcf;

    jcf = *(ngx_http_notify_jwt_conf_t **) ((char *) conf + cmd->offset);

    if (jcf->issuer.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "must not be empty (leave it out to accept any issuer)";
    }

    jcf->issuer = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_notify_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                   *value, *aud;
    ngx_uint_t                   i;
    ngx_http_notify_jwt_conf_t  *jcf;

    jcf = *(ngx_http_notify_jwt_conf_t **) ((char *) conf + cmd->offset);

    if (jcf->audiences != NULL) {
        return "is duplicate";
    }

    jcf->audiences = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                      sizeof(ngx_str_t));
    if (jcf->audiences == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0) {
            return "takes an empty audience";
        }

        aud = ngx_array_push(jcf->audiences);
        if (aud == NULL) {
            return NGX_CONF_ERROR;
        }

        *aud = value[i];
    }

    return NGX_CONF_OK;
}


char *
ngx_http_notify_jwt_leeway(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                    leeway;
    ngx_str_t                   *value;
    ngx_http_notify_jwt_conf_t  *jcf;

    jcf = *(ngx_http_notify_jwt_conf_t **) ((char *) conf + cmd->offset);

    if (jcf->leeway != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    leeway = ngx_parse_time(&value[1], 1);

    if (leeway == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"notify_jwt_leeway\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    jcf->leeway = (time_t) leeway;

    return NGX_CONF_OK;
}


char *
ngx_http_notify_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ssize_t                      size;
    ngx_str_t                   *value;
    ngx_http_notify_jwt_conf_t  *jcf;

    jcf = *(ngx_http_notify_jwt_conf_t **) ((char *) conf + cmd->offset);

    if (jcf->cache_size != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        jcf->cache_size = 0;
        return NGX_CONF_OK;
    }

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"notify_jwt_cache\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_jwt_cache\" of %V is too small, "
                           "it needs at least %uzk",
                           &value[1], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    jcf->cache_size = (size_t) size;

    return NGX_CONF_OK;
}


char *
ngx_http_notify_jwt_init_main_conf(ngx_conf_t *cf,
    ngx_http_notify_jwt_conf_t *jcf)
{
    ngx_shm_zone_t               *shm_zone;
    ngx_http_notify_jwt_cache_t  *cache;

    ngx_conf_init_value(jcf->leeway, NGX_HTTP_NOTIFY_JWT_LEEWAY);
    ngx_conf_init_size_value(jcf->cache_size, NGX_HTTP_NOTIFY_JWT_CACHE_SIZE);

    if (jcf->keys == NULL || jcf->cache_size == 0) {
        return NGX_CONF_OK;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_jwt_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_notify_jwt_zone_name,
                                     jcf->cache_size, &ngx_http_notify_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used",
                           &ngx_http_notify_jwt_zone_name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_notify_jwt_init_zone;
    shm_zone->data = cache;

    jcf->cache = shm_zone;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_notify_jwt_add_variables(ngx_conf_t *cf,
    ngx_http_notify_jwt_conf_t *jcf)
{
    ngx_http_variable_t        *var, *v;
    ngx_http_notify_jwt_var_t  *jv;

    for (v = ngx_http_notify_jwt_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        jv = ngx_palloc(cf->pool, sizeof(ngx_http_notify_jwt_var_t));
        if (jv == NULL) {
            return NGX_ERROR;
        }

        jv->jcf = jcf;
        jv->field = v->data;

        var->get_handler = v->get_handler;
        var->data = (uintptr_t) jv;
    }

    return NGX_OK;
}


/* the token cache */

/*
 * On a reload that keeps the zone's size, the old zone is reused: its
 * entries stay for the old workers, the new configuration gets a new
 * generation, which is part of every entry's digest, so that tokens
 * verified with the old keys, issuer or audience are never taken as
 * verified with the new ones.  Old entries age out of the LRU queue.
 */

static ngx_int_t
ngx_http_notify_jwt_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_notify_jwt_cache_t  *ocache = data;

    size_t                        len;
    ngx_slab_pool_t              *shpool;
    ngx_http_notify_jwt_cache_t  *cache;

    cache = shm_zone->data;

    if (ocache != NULL) {
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;

        ngx_shmtx_lock(&cache->shpool->mutex);
        cache->generation = ++cache->sh->generation;
        ngx_shmtx_unlock(&cache->shpool->mutex);

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->shpool = shpool;
        cache->sh = shpool->data;
        cache->generation = cache->sh->generation;

        return NGX_OK;
    }

    cache->shpool = shpool;

    cache->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_notify_jwt_shctx_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_notify_jwt_rbtree_insert_value);

    ngx_queue_init(&cache->sh->queue);

    len = sizeof(" in notify_jwt_cache zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in notify_jwt_cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is normal: the oldest entries make room */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/* ordered by the node key, then by the whole digest */

static void
ngx_http_notify_jwt_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t           **p;
    ngx_http_notify_jwt_node_t   *jn, *jnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            jn = (ngx_http_notify_jwt_node_t *) node;
            jnt = (ngx_http_notify_jwt_node_t *) temp;

            p = (ngx_memcmp(jn->digest, jnt->digest,
                            NGX_HTTP_NOTIFY_JWT_DIGEST_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* with the zone locked */

static ngx_http_notify_jwt_node_t *
ngx_http_notify_jwt_cache_find(ngx_http_notify_jwt_cache_t *cache,
    u_char *digest)
{
    ngx_int_t                    rc;
    ngx_rbtree_key_t             key;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_notify_jwt_node_t  *jn;

    ngx_memcpy(&key, digest, sizeof(ngx_rbtree_key_t));

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        jn = (ngx_http_notify_jwt_node_t *) node;

        rc = ngx_memcmp(digest, jn->digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN);

        if (rc == 0) {
            return jn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* with the zone locked */

static void
ngx_http_notify_jwt_cache_delete(ngx_http_notify_jwt_cache_t *cache,
    ngx_http_notify_jwt_node_t *jn)
{
    ngx_queue_remove(&jn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, &jn->node);
    ngx_slab_free_locked(cache->shpool, jn);
}


static ngx_int_t
ngx_http_notify_jwt_digest(ngx_http_notify_jwt_cache_t *cache,
    ngx_str_t *token, u_char *digest)
{
    int          ok;
    ngx_uint_t   generation;
    EVP_MD_CTX  *md;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    generation = cache->generation;

    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
         && EVP_DigestUpdate(md, &generation, sizeof(ngx_uint_t)) == 1
         && EVP_DigestUpdate(md, token->data, token->len) == 1
         && EVP_DigestFinal_ex(md, digest, NULL) == 1;

    EVP_MD_CTX_free(md);

    return ok ? NGX_OK : NGX_ERROR;
}


/*
 * NGX_OK: a verified token; its claims are copied to "payload" in the
 * request pool.  NGX_DECLINED: not in the cache, or expired (then dropped).
 */

static ngx_int_t
ngx_http_notify_jwt_cache_get(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, ngx_str_t *payload)
{
    ngx_int_t                     rc;
    ngx_http_notify_jwt_node_t   *jn;
    ngx_http_notify_jwt_cache_t  *cache;

    cache = jcf->cache->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    jn = ngx_http_notify_jwt_cache_find(cache, digest);

    if (jn == NULL) {
        rc = NGX_DECLINED;

    } else if (jn->expires < ngx_time() - jcf->leeway) {
        ngx_http_notify_jwt_cache_delete(cache, jn);
        rc = NGX_DECLINED;

    } else {
        ngx_queue_remove(&jn->queue);
        ngx_queue_insert_head(&cache->sh->queue, &jn->queue);

        payload->len = jn->len;
        payload->data = ngx_pnalloc(r->pool, jn->len);

        if (payload->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(payload->data, jn->data, jn->len);
            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}


static void
ngx_http_notify_jwt_cache_set(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, time_t expires,
    ngx_str_t *payload)
{
    size_t                        size;
    time_t                        now;
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_notify_jwt_node_t   *jn;
    ngx_http_notify_jwt_cache_t  *cache;

    cache = jcf->cache->data;
    now = ngx_time();

    size = offsetof(ngx_http_notify_jwt_node_t, data) + payload->len;

    ngx_shmtx_lock(&cache->shpool->mutex);

    if (ngx_http_notify_jwt_cache_find(cache, digest) != NULL) {
        /* another worker was quicker */
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return;
    }

    /* drop up to two expired entries from the old end */

    for (n = 0; n < 2 && !ngx_queue_empty(&cache->sh->queue); n++) {
        q = ngx_queue_last(&cache->sh->queue);
        jn = ngx_queue_data(q, ngx_http_notify_jwt_node_t, queue);

        if (jn->expires >= now - jcf->leeway) {
            break;
        }

        ngx_http_notify_jwt_cache_delete(cache, jn);
    }

    for ( ;; ) {
        jn = ngx_slab_alloc_locked(cache->shpool, size);

        if (jn != NULL) {
            break;
        }

        if (ngx_queue_empty(&cache->sh->queue)) {
            ngx_shmtx_unlock(&cache->shpool->mutex);

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "notify: jwt cache too small for the token");
            return;
        }

        /* the zone is full: the least recently used entry makes room */

        q = ngx_queue_last(&cache->sh->queue);
        ngx_http_notify_jwt_cache_delete(cache,
                         ngx_queue_data(q, ngx_http_notify_jwt_node_t, queue));

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "notify: jwt cache evicted the oldest entry");
    }

    ngx_memcpy(&jn->node.key, digest, sizeof(ngx_rbtree_key_t));
    ngx_memcpy(jn->digest, digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN);
    jn->expires = expires;
    jn->len = payload->len;
    ngx_memcpy(jn->data, payload->data, payload->len);

    ngx_rbtree_insert(&cache->sh->rbtree, &jn->node);
    ngx_queue_insert_head(&cache->sh->queue, &jn->queue);

    ngx_shmtx_unlock(&cache->shpool->mutex);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "notify: jwt cache store");
}


/*
 * The shared cache decides whether a token is known; each worker keeps the
 * claims of the cached tokens it saw last, already parsed, so that a hit
 * does not parse the payload again.  Slots are chosen by the digest, which
 * holds the configuration's generation, so a reload never finds old
 * entries.  The claims are still checked on every request.
 */

#define NGX_HTTP_NOTIFY_JWT_LOCAL  256

typedef struct {
    u_char                        digest[NGX_HTTP_NOTIFY_JWT_DIGEST_LEN];
    json_t                       *claims;
} ngx_http_notify_jwt_local_t;


static ngx_http_notify_jwt_local_t
    ngx_http_notify_jwt_local[NGX_HTTP_NOTIFY_JWT_LOCAL];


static json_t *
ngx_http_notify_jwt_local_get(u_char *digest)
{
    ngx_http_notify_jwt_local_t  *e;

    e = &ngx_http_notify_jwt_local[digest[0] % NGX_HTTP_NOTIFY_JWT_LOCAL];

    if (e->claims == NULL
        || ngx_memcmp(e->digest, digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN) != 0)
    {
        return NULL;
    }

    return json_incref(e->claims);
}


static void
ngx_http_notify_jwt_local_set(u_char *digest, json_t *claims)
{
    ngx_http_notify_jwt_local_t  *e;

    e = &ngx_http_notify_jwt_local[digest[0] % NGX_HTTP_NOTIFY_JWT_LOCAL];

    if (e->claims == claims) {
        return;
    }

    if (e->claims != NULL) {
        json_decref(e->claims);
    }

    ngx_memcpy(e->digest, digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN);
    e->claims = json_incref(claims);
}


void
ngx_http_notify_jwt_exit_process(void)
{
    ngx_uint_t                    i;
    ngx_http_notify_jwt_local_t  *e;

    for (i = 0; i < NGX_HTTP_NOTIFY_JWT_LOCAL; i++) {
        e = &ngx_http_notify_jwt_local[i];

        if (e->claims != NULL) {
            json_decref(e->claims);
            e->claims = NULL;
        }
    }
}


/* authentication */

ngx_http_notify_auth_t *
ngx_http_notify_authenticate(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf)
{
    json_t                       *claims;
    time_t                        expires;
    ngx_int_t                     rc;
    ngx_str_t                     token, payload;
    ngx_uint_t                    cached;
    json_error_t                  err;
    ngx_http_notify_ctx_t        *ctx;
    ngx_http_notify_auth_t       *auth;
    u_char                        digest[NGX_HTTP_NOTIFY_JWT_DIGEST_LEN];

    ctx = ngx_http_notify_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->auth != NULL) {
        return ctx->auth;
    }

    auth = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_auth_t));
    if (auth == NULL) {
        return NULL;
    }

    if (ngx_http_notify_jwt_token(r, auth, &token) != NGX_OK) {
        goto done;
    }

    if (jcf == NULL || jcf->keys == NULL) {
        (void) ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_INVALID,
                                          "no notify_jwt_keys configured");
        goto done;
    }

    if (token.len > NGX_HTTP_NOTIFY_JWT_MAX_LEN) {
        (void) ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "token longer than 8192 bytes");
        goto done;
    }

    claims = NULL;
    cached = 0;
    expires = 0;

    if (jcf->cache != NULL) {
        if (ngx_http_notify_jwt_digest(jcf->cache->data, &token, digest)
            != NGX_OK)
        {
            return NULL;
        }

        rc = ngx_http_notify_jwt_cache_get(r, jcf, digest, &payload);

        if (rc == NGX_ERROR) {
            return NULL;
        }

        if (rc == NGX_OK) {
            claims = ngx_http_notify_jwt_local_get(digest);

            if (claims == NULL) {
                claims = json_loadb((char *) payload.data, payload.len, 0,
                                    &err);
            }

            if (claims != NULL) {
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "notify: jwt cache hit");
                cached = 1;
            }
        }
    }

    if (claims == NULL) {
        rc = ngx_http_notify_jwt_verify(r, jcf, &token, auth, &payload);

        if (rc == NGX_ERROR) {
            return NULL;
        }

        if (rc == NGX_DECLINED) {
            goto done;
        }

        claims = json_loadb((char *) payload.data, payload.len,
                            JSON_REJECT_DUPLICATES, &err);

        if (!json_is_object(claims)) {
            json_decref(claims);
            (void) ngx_http_notify_jwt_reject(auth,
                                         NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                         "payload is not a JSON object");
            goto done;
        }
    }

    rc = ngx_http_notify_jwt_check_claims(r, jcf, auth, claims, &expires);

    if (rc == NGX_OK) {
        rc = ngx_http_notify_jwt_principal(r, claims, &payload, expires,
                                           &auth->principal);
    }

    if (rc == NGX_OK && jcf->cache != NULL) {
        ngx_http_notify_jwt_local_set(digest, claims);
    }

    json_decref(claims);

    if (rc == NGX_ERROR) {
        return NULL;
    }

    if (rc == NGX_OK) {
        auth->error = NGX_HTTP_NOTIFY_AUTH_OK;
        ngx_str_null(&auth->reason);

        if (jcf->cache != NULL && !cached) {
            ngx_http_notify_jwt_cache_set(r, jcf, digest, expires, &payload);
        }
    }

done:

    if (auth->error == NGX_HTTP_NOTIFY_AUTH_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "notify: authenticated \"%V\"",
                       &auth->principal->subject);

    } else if (auth->error == NGX_HTTP_NOTIFY_AUTH_NONE) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "notify: no token");

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: invalid token: %V", &auth->reason);
    }

    ctx->auth = auth;

    return auth;
}


/*
 * The token from "Authorization: Bearer <jwt>" (the scheme in any case)
 * or from "Authorization: <jwt>".
 */

static ngx_int_t
ngx_http_notify_jwt_token(ngx_http_request_t *r, ngx_http_notify_auth_t *auth,
    ngx_str_t *token)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_NONE,
                                          "no token");
    }

    *token = h->value;
    ngx_http_notify_trim(token);

    p = token->data;
    last = p + token->len;

    if (last - p >= 6
        && ngx_strncasecmp(p, (u_char *) "Bearer", 6) == 0
        && (last - p == 6 || p[6] == ' ' || p[6] == '\t'))
    {
        p += 6;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }
    }

    if (p == last) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_NONE,
                                          "no token");
    }

    token->data = p;
    token->len = last - p;

    for ( /* void */ ; p < last; p++) {
        if (*p == ' ' || *p == '\t') {
            return ngx_http_notify_jwt_reject(auth,
                                         NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                         "unsupported authorization scheme");
        }
    }

    return NGX_OK;
}


/*
 * Checks the token's form, header and signature.  NGX_OK: the signature
 * is good, "payload" holds the decoded claims (not parsed yet).
 * NGX_DECLINED: rejected, auth says why.
 */

static ngx_int_t
ngx_http_notify_jwt_verify(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, ngx_str_t *token,
    ngx_http_notify_auth_t *auth, ngx_str_t *payload)
{
    u_char                     *dot1, *dot2, *last;
    json_t                     *header;
    ngx_int_t                   rc;
    ngx_str_t                   part[3], decoded, sig, input, kid;
    json_error_t                err;
    ngx_http_notify_jwt_alg_t  *alg;

    last = token->data + token->len;

    dot1 = ngx_strlchr(token->data, last, '.');
    dot2 = (dot1 == NULL) ? NULL : ngx_strlchr(dot1 + 1, last, '.');

    if (dot2 == NULL || ngx_strlchr(dot2 + 1, last, '.') != NULL) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                "not a JWT (three base64url parts expected)");
    }

    part[0].data = token->data;
    part[0].len = dot1 - token->data;
    part[1].data = dot1 + 1;
    part[1].len = dot2 - (dot1 + 1);
    part[2].data = dot2 + 1;
    part[2].len = last - (dot2 + 1);

    /* the header */

    alg = NULL;
    ngx_str_null(&kid);

    rc = ngx_http_notify_jwt_base64url(r->pool, part[0].data, part[0].len,
                                       &decoded);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED || decoded.len == 0) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "header is not base64url");
    }

    header = json_loadb((char *) decoded.data, decoded.len,
                        JSON_REJECT_DUPLICATES, &err);

    if (!json_is_object(header)) {
        json_decref(header);
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "header is not a JSON object");
    }

    rc = ngx_http_notify_jwt_verify_header(r, auth, header, &alg, &kid);

    json_decref(header);

    if (rc != NGX_OK) {
        return rc;
    }

    /* the claims and the signature */

    rc = ngx_http_notify_jwt_base64url(r->pool, part[1].data, part[1].len,
                                       payload);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "payload is not base64url");
    }

    rc = ngx_http_notify_jwt_base64url(r->pool, part[2].data, part[2].len,
                                       &sig);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "signature is not base64url");
    }

    if (sig.len == 0) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_INVALID,
                                          "no signature");
    }

    /* what is signed: the first two parts as they are, with the dot */

    input.data = token->data;
    input.len = dot2 - token->data;

    return ngx_http_notify_jwt_verify_signature(r, jcf, auth, alg, &kid,
                                                &input, &sig);
}


static ngx_int_t
ngx_http_notify_jwt_verify_header(ngx_http_request_t *r,
    ngx_http_notify_auth_t *auth, json_t *header,
    ngx_http_notify_jwt_alg_t **alg, ngx_str_t *kid)
{
    json_t                     *v;
    size_t                      len;
    const char                 *s;
    ngx_http_notify_jwt_alg_t  *a;

    v = json_object_get(header, "alg");

    if (!json_is_string(v)) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "no alg in the header");
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len == 4 && ngx_strncasecmp((u_char *) s, (u_char *) "none", 4) == 0) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_INVALID,
                                          "alg none is not allowed");
    }

    for (a = ngx_http_notify_jwt_algs; a->name.len; a++) {
        if (len == a->name.len && ngx_strncmp(s, a->name.data, len) == 0) {
            break;
        }
    }

    if (a->name.len == 0) {
        return ngx_http_notify_jwt_reject_value(r, auth,
                                                NGX_HTTP_NOTIFY_AUTH_INVALID,
                                                "unsupported alg",
                                                (u_char *) s, len);
    }

    /* RFC 7515, 4.1.11: extensions we do not know must be rejected */

    if (json_object_get(header, "crit") != NULL) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_INVALID,
                                          "unsupported crit header");
    }

    v = json_object_get(header, "kid");

    if (v == NULL) {
        ngx_str_null(kid);

    } else if (json_is_string(v) && json_string_length(v) > 0) {
        kid->len = json_string_length(v);
        kid->data = ngx_pnalloc(r->pool, kid->len);
        if (kid->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(kid->data, json_string_value(v), kid->len);

    } else {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "kid is not a string");
    }

    *alg = a;

    return NGX_OK;
}


/*
 * With a kid, only the keys of that kid; without, every key.  Of those,
 * only the keys of the type the algorithm needs are ever tried: an HS256
 * token is never checked against the bytes of an RSA or EC key.
 */

static ngx_int_t
ngx_http_notify_jwt_verify_signature(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, ngx_http_notify_auth_t *auth,
    ngx_http_notify_jwt_alg_t *alg, ngx_str_t *kid, ngx_str_t *input,
    ngx_str_t *sig)
{
    u_char                     *p;
    ngx_int_t                   rc;
    ngx_str_t                   reason;
    ngx_uint_t                  i, tried, other;
    ngx_http_notify_jwt_key_t  *key;
    u_char                      buf[64];

    key = jcf->keys->elts;
    tried = 0;
    other = 0;

    for (i = 0; i < jcf->keys->nelts; i++) {

        if (kid->len
            && (key[i].kid.len != kid->len
                || ngx_memcmp(key[i].kid.data, kid->data, kid->len) != 0))
        {
            continue;
        }

        if (key[i].kty != alg->kty) {
            other++;
            continue;
        }

        tried++;

        rc = ngx_http_notify_jwt_verify_key(&key[i], input, sig);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (tried) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_INVALID,
                                          "bad signature");
    }

    if (kid->len == 0) {
        reason.len = sizeof("no  key for alg ") - 1 + 3 + alg->name.len;
        reason.data = ngx_pnalloc(r->pool, reason.len);
        if (reason.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(reason.data, "no %s key for alg %V",
                        ngx_http_notify_jwt_kty_names[alg->kty], &alg->name);
        reason.len = p - reason.data;

        auth->error = NGX_HTTP_NOTIFY_AUTH_INVALID;
        auth->reason = reason;

        return NGX_DECLINED;
    }

    if (other) {
        /* alg confusion, e.g. HS256 with the kid of an RSA key */
        p = ngx_sprintf(buf, "alg %V does not fit the key%Z", &alg->name);

        return ngx_http_notify_jwt_reject_value(r, auth,
                                                NGX_HTTP_NOTIFY_AUTH_INVALID,
                                                (char *) buf,
                                                kid->data, kid->len);
    }

    return ngx_http_notify_jwt_reject_value(r, auth,
                                            NGX_HTTP_NOTIFY_AUTH_INVALID,
                                            "unknown kid",
                                            kid->data, kid->len);
}


/* NGX_OK: good signature, NGX_DECLINED: bad one, NGX_ERROR: no memory */

static ngx_int_t
ngx_http_notify_jwt_verify_key(ngx_http_notify_jwt_key_t *key,
    ngx_str_t *input, ngx_str_t *sig)
{
    int           len;
    u_char       *p;
    BIGNUM       *br, *bs;
    ngx_int_t     rc;
    ECDSA_SIG    *ecdsa;
    unsigned int  maclen;
    u_char        mac[EVP_MAX_MD_SIZE];
    u_char        der[128];

    switch (key->kty) {

    case NGX_HTTP_NOTIFY_JWT_RSA:
        return ngx_http_notify_jwt_verify_pkey(key->pkey, input, sig->data,
                                               sig->len);

    case NGX_HTTP_NOTIFY_JWT_EC:

        /* JWS has r || s, 32 bytes each; OpenSSL wants DER */

        if (sig->len != 2 * NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN) {
            return NGX_DECLINED;
        }

        ecdsa = ECDSA_SIG_new();
        br = BN_bin2bn(sig->data, NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN, NULL);
        bs = BN_bin2bn(sig->data + NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN,
                       NGX_HTTP_NOTIFY_JWT_EC_COORD_LEN, NULL);

        if (ecdsa == NULL || br == NULL || bs == NULL
            || ECDSA_SIG_set0(ecdsa, br, bs) != 1)
        {
            ECDSA_SIG_free(ecdsa);
            BN_free(br);
            BN_free(bs);
            ERR_clear_error();
            return NGX_ERROR;
        }

        /* br and bs belong to ecdsa now */

        len = i2d_ECDSA_SIG(ecdsa, NULL);

        if (len <= 0 || len > (int) sizeof(der)) {
            ECDSA_SIG_free(ecdsa);
            ERR_clear_error();
            return NGX_DECLINED;
        }

        p = der;
        len = i2d_ECDSA_SIG(ecdsa, &p);

        ECDSA_SIG_free(ecdsa);

        if (len <= 0) {
            ERR_clear_error();
            return NGX_DECLINED;
        }

        return ngx_http_notify_jwt_verify_pkey(key->pkey, input, der,
                                               (size_t) len);

    default: /* NGX_HTTP_NOTIFY_JWT_OCT */

        if (HMAC(EVP_sha256(), key->secret.data, (int) key->secret.len,
                 input->data, input->len, mac, &maclen)
            == NULL)
        {
            ERR_clear_error();
            return NGX_ERROR;
        }

        rc = (sig->len == maclen
              && CRYPTO_memcmp(mac, sig->data, maclen) == 0)
             ? NGX_OK : NGX_DECLINED;

        return rc;
    }
}


static ngx_int_t
ngx_http_notify_jwt_verify_pkey(EVP_PKEY *pkey, ngx_str_t *input, u_char *sig,
    size_t len)
{
    ngx_int_t    rc;
    EVP_MD_CTX  *md;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1
        && EVP_DigestVerify(md, sig, len, input->data, input->len) == 1)
    {
        rc = NGX_OK;

    } else {
        rc = NGX_DECLINED;
        ERR_clear_error();
    }

    EVP_MD_CTX_free(md);

    return rc;
}


/*
 * exp is required: a token that never expires is rejected.  nbf and iat,
 * when present, must not be in the future (both with the leeway).
 */

static ngx_int_t
ngx_http_notify_jwt_check_claims(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, ngx_http_notify_auth_t *auth,
    json_t *claims, time_t *expires)
{
    json_t  *v;
    time_t   now, exp;

    now = ngx_time();

    v = json_object_get(claims, "exp");

    if (v == NULL) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_INVALID,
                                          "no exp claim");
    }

    if (!json_is_number(v)) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                          "exp is not a number");
    }

    exp = ngx_http_notify_jwt_time(v);

    if (exp < now - jcf->leeway) {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_EXPIRED,
                                          "token expired");
    }

    v = json_object_get(claims, "nbf");

    if (v != NULL) {
        if (!json_is_number(v)) {
            return ngx_http_notify_jwt_reject(auth,
                                              NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                              "nbf is not a number");
        }

        if (ngx_http_notify_jwt_time(v) - jcf->leeway > now) {
            return ngx_http_notify_jwt_reject(auth,
                                              NGX_HTTP_NOTIFY_AUTH_EXPIRED,
                                              "token not yet valid (nbf)");
        }
    }

    v = json_object_get(claims, "iat");

    if (v != NULL) {
        if (!json_is_number(v)) {
            return ngx_http_notify_jwt_reject(auth,
                                              NGX_HTTP_NOTIFY_AUTH_MALFORMED,
                                              "iat is not a number");
        }

        if (ngx_http_notify_jwt_time(v) - jcf->leeway > now) {
            return ngx_http_notify_jwt_reject(auth,
                                              NGX_HTTP_NOTIFY_AUTH_EXPIRED,
                                              "token issued in the future "
                                              "(iat)");
        }
    }

    if (jcf->issuer.len) {
        v = json_object_get(claims, "iss");

        if (!json_is_string(v)
            || json_string_length(v) != jcf->issuer.len
            || ngx_memcmp(json_string_value(v), jcf->issuer.data,
                          jcf->issuer.len)
               != 0)
        {
            return ngx_http_notify_jwt_reject(auth,
                                              NGX_HTTP_NOTIFY_AUTH_INVALID,
                                              "wrong issuer");
        }
    }

    if (jcf->audiences != NULL
        && ngx_http_notify_jwt_audience_ok(jcf, json_object_get(claims, "aud"))
           != NGX_OK)
    {
        return ngx_http_notify_jwt_reject(auth, NGX_HTTP_NOTIFY_AUTH_INVALID,
                                          "wrong audience");
    }

    *expires = exp;

    return NGX_OK;
}


/* "aud" is a string or an array of strings; one of them must be ours */

static ngx_int_t
ngx_http_notify_jwt_audience_ok(ngx_http_notify_jwt_conf_t *jcf, json_t *aud)
{
    size_t       i, n;
    json_t      *v;
    ngx_str_t   *a;
    ngx_uint_t   j;

    if (json_is_string(aud)) {
        n = 1;

    } else if (json_is_array(aud)) {
        n = json_array_size(aud);

    } else {
        return NGX_DECLINED;
    }

    a = jcf->audiences->elts;

    for (i = 0; i < n; i++) {
        v = json_is_array(aud) ? json_array_get(aud, i) : aud;

        if (!json_is_string(v)) {
            continue;
        }

        for (j = 0; j < jcf->audiences->nelts; j++) {
            if (json_string_length(v) == a[j].len
                && ngx_memcmp(json_string_value(v), a[j].data, a[j].len) == 0)
            {
                return NGX_OK;
            }
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_notify_jwt_principal(ngx_http_request_t *r, json_t *claims,
    ngx_str_t *text, time_t expires, ngx_http_notify_principal_t **pp)
{
    u_char                       *s, *last, *start;
    json_t                       *v, *e;
    size_t                        i, n;
    ngx_uint_t                    k;
    ngx_http_notify_principal_t  *p;

    static const char            *app_claims[] = {
        "azp", "appid", "client_id", NULL
    };

    static const char            *user_claims[] = {
        "upn", "preferred_username", "unique_name", NULL
    };

    p = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_principal_t));
    if (p == NULL) {
        return NGX_ERROR;
    }

    /*
     * every claim, as text, for the claims the principal has no field for:
     * the token's payload itself, which lives in the request pool
     */

    p->claims = *text;

    if (ngx_http_notify_jwt_claim(r->pool, claims, "oid", &p->object_id)
        != NGX_OK
        || ngx_http_notify_jwt_claim(r->pool, claims, "tid", &p->tenant_id)
           != NGX_OK
        || ngx_http_notify_jwt_claim(r->pool, claims, "sub", &p->subject)
           != NGX_OK
        || ngx_http_notify_jwt_claim(r->pool, claims, "iss", &p->issuer)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; app_claims[k] != NULL && p->app_id.len == 0; k++) {
        if (ngx_http_notify_jwt_claim(r->pool, claims, app_claims[k],
                                      &p->app_id)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    p->sender = p->app_id.len ? p->app_id : p->subject;

    for (k = 0; user_claims[k] != NULL && p->user_name.len == 0; k++) {
        if (ngx_http_notify_jwt_claim(r->pool, claims, user_claims[k],
                                      &p->user_name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* roles: an array of strings */

    v = json_object_get(claims, "roles");
    n = json_is_array(v) ? json_array_size(v) : 0;

    if (ngx_array_init(&p->roles, r->pool, n ? n : 1, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        e = json_array_get(v, i);

        if (json_is_string(e) && json_string_length(e) > 0
            && ngx_http_notify_jwt_push(&p->roles, json_string_value(e),
                                        json_string_length(e))
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* scp: scopes separated by spaces (an array is taken too) */

    if (ngx_array_init(&p->scopes, r->pool, 4, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    v = json_object_get(claims, "scp");

    if (json_is_string(v)) {
        s = (u_char *) json_string_value(v);
        last = s + json_string_length(v);

        while (s < last) {
            while (s < last && *s == ' ') {
                s++;
            }

            start = s;

            while (s < last && *s != ' ') {
                s++;
            }

            if (s > start
                && ngx_http_notify_jwt_push(&p->scopes, (char *) start,
                                            s - start)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            e = json_array_get(v, i);

            if (json_is_string(e) && json_string_length(e) > 0
                && ngx_http_notify_jwt_push(&p->scopes, json_string_value(e),
                                            json_string_length(e))
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    p->expires = expires;

    *pp = p;

    return NGX_OK;
}


/* a non-empty string claim, copied (NUL-terminated); else left empty */

static ngx_int_t
ngx_http_notify_jwt_claim(ngx_pool_t *pool, json_t *claims, const char *name,
    ngx_str_t *value)
{
    json_t  *v;

    v = json_object_get(claims, name);

    if (!json_is_string(v) || json_string_length(v) == 0) {
        return NGX_OK;
    }

    value->len = json_string_length(v);
    value->data = ngx_pnalloc(pool, value->len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, json_string_value(v), value->len + 1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_jwt_push(ngx_array_t *a, const char *data, size_t len)
{
    ngx_str_t  *s;

    s = ngx_array_push(a);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->len = len;
    s->data = ngx_pnalloc(a->pool, len + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, data, len);
    s->data[len] = '\0';

    return NGX_OK;
}


/* one string claim of the verified token; an empty value if none */

ngx_int_t
ngx_http_notify_principal_claim(ngx_pool_t *pool,
    ngx_http_notify_principal_t *p, ngx_str_t *name, ngx_str_t *value)
{
    json_t     *claims, *v;
    ngx_int_t   rc;

    ngx_str_null(value);

    claims = json_loadb((char *) p->claims.data, p->claims.len, 0, NULL);
    if (claims == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;
    v = json_object_getn(claims, (char *) name->data, name->len);

    if (json_is_string(v) && json_string_length(v)) {
        value->len = json_string_length(v);
        value->data = ngx_pnalloc(pool, value->len);

        if (value->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(value->data, json_string_value(v), value->len);
        }
    }

    json_decref(claims);

    return rc;
}


ngx_int_t
ngx_http_notify_caller_user(ngx_http_notify_directory_t *dir,
    ngx_http_notify_principal_t *p, ngx_str_t *id)
{
    ngx_int_t               rc;
    ngx_http_notify_user_t  u;

    /* the oid never changes: a user id only, as a UPN could be anyone's */

    rc = ngx_http_notify_directory_user_id(dir, &p->object_id, &u);

    /* a name claim can change hands: only ever a user, never a group */

    if (rc != NGX_OK) {
        rc = ngx_http_notify_directory_user(dir, &p->user_name, &u);
    }

    *id = (rc == NGX_OK) ? u.id : p->object_id;

    return rc;
}


ngx_uint_t
ngx_http_notify_has_role(ngx_http_notify_principal_t *p, ngx_array_t *roles)
{
    ngx_str_t   *have, *want;
    ngx_uint_t   i, j;

    if (p == NULL || roles == NULL) {
        return 0;
    }

    have = p->roles.elts;
    want = roles->elts;

    for (i = 0; i < p->roles.nelts; i++) {
        for (j = 0; j < roles->nelts; j++) {
            if (have[i].len == want[j].len
                && ngx_memcmp(have[i].data, want[j].data, have[i].len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/* helpers */

/*
 * Strict base64url: the alphabet only, no padding, and canonical, so that
 * one value has one encoding.  A length of 4n + 1 encodes nothing; after
 * 4n + 2 characters the last one carries 4 bits beyond the data, after
 * 4n + 3 it carries 2, and these bits must be zero.  NGX_DECLINED: not
 * base64url, NGX_ERROR: no memory.
 */

static ngx_int_t
ngx_http_notify_jwt_base64url(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_str_t *dst)
{
    u_char     c, v;
    size_t     i;
    ngx_str_t  src;

    /* the bits of the last character beyond the data, by len % 4 */
    static u_char  unused[] = { 0, 0, 0x0f, 0x03 };

    v = 0;

    for (i = 0; i < len; i++) {
        c = data[i];

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '-') {
            v = 62;

        } else if (c == '_') {
            v = 63;

        } else {
            return NGX_DECLINED;
        }
    }

    if (len % 4 == 1 || (v & unused[len % 4])) {
        return NGX_DECLINED;
    }

    dst->data = ngx_pnalloc(pool, ngx_base64_decoded_length(len) + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    src.data = data;
    src.len = len;

    if (ngx_decode_base64url(dst, &src) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a NumericDate, clamped to [0, year 9999] */

static time_t
ngx_http_notify_jwt_time(json_t *value)
{
    double  d;

    d = json_number_value(value);

    if (d <= 0) {
        return 0;
    }

    if (d >= (double) NGX_HTTP_NOTIFY_JWT_MAX_TIME) {
        return (time_t) NGX_HTTP_NOTIFY_JWT_MAX_TIME;
    }

    return (time_t) d;
}


static ngx_int_t
ngx_http_notify_jwt_reject(ngx_http_notify_auth_t *auth,
    ngx_http_notify_auth_error_e error, char *reason)
{
    auth->error = error;
    auth->reason.len = ngx_strlen(reason);
    auth->reason.data = (u_char *) reason;

    return NGX_DECLINED;
}


/*
 * A reason quoting a value from the token: at most 64 characters of it,
 * anything not printable ASCII as '?', so the token cannot forge log lines.
 */

static ngx_int_t
ngx_http_notify_jwt_reject_value(ngx_http_request_t *r,
    ngx_http_notify_auth_t *auth, ngx_http_notify_auth_error_e error,
    char *reason, u_char *value, size_t len)
{
    u_char  *p;
    size_t   i, n;

    n = ngx_min(len, 64);

    p = ngx_pnalloc(r->pool, ngx_strlen(reason) + sizeof(" \"\"...") + n);
    if (p == NULL) {
        return NGX_ERROR;
    }

    auth->error = error;
    auth->reason.data = p;

    p = ngx_sprintf(p, "%s \"", reason);

    for (i = 0; i < n; i++) {
        *p++ = (value[i] >= 0x20 && value[i] < 0x7f && value[i] != '"')
               ? value[i] : '?';
    }

    *p++ = '"';

    if (n < len) {
        p = ngx_cpymem(p, "...", 3);
    }

    auth->reason.len = p - auth->reason.data;

    return NGX_DECLINED;
}


/* variables */

static ngx_int_t
ngx_http_notify_jwt_caller_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_notify_jwt_var_t *jv = (ngx_http_notify_jwt_var_t *) data;

    ngx_str_t                    *s;
    ngx_http_notify_auth_t       *auth;
    ngx_http_notify_principal_t  *p;

    auth = ngx_http_notify_authenticate(r, jv->jcf);
    if (auth == NULL) {
        return NGX_ERROR;
    }

    p = auth->principal;

    if (p == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (jv->field == 1) {
        s = &p->app_id;

    } else if (jv->field == 2) {
        s = &p->tenant_id;

    } else if (p->user_name.len) {
        s = &p->user_name;

    } else if (p->object_id.len) {
        s = &p->object_id;

    } else {
        s = &p->sender;
    }

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}

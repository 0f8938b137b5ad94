
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The keys tokens are verified with: notify_jwt_keys, a JWK set (RSA, EC
 * P-256 and oct keys) read at configuration time.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt_internal.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>


#define NGX_HTTP_NOTIFY_JWT_RSA_MIN_BITS  2048
#define NGX_HTTP_NOTIFY_JWT_OCT_MIN_LEN   32


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

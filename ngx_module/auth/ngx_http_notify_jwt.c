
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * Authentication: the token of a request, its header, signature and
 * claims (expiry, issuer, audience, with the leeway), through the token
 * cache; the JWT conf and its notify_jwt_issuer, notify_jwt_audience and
 * notify_jwt_leeway.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt_internal.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


#define NGX_HTTP_NOTIFY_JWT_MAX_LEN       8192
#define NGX_HTTP_NOTIFY_JWT_LEEWAY        60

/* 9999-12-31T23:59:59Z: later times are clamped to it */
#define NGX_HTTP_NOTIFY_JWT_MAX_TIME      253402300799LL


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

static time_t ngx_http_notify_jwt_time(json_t *value);
static ngx_int_t ngx_http_notify_jwt_reject(ngx_http_notify_auth_t *auth,
    ngx_http_notify_auth_error_e error, char *reason);
static ngx_int_t ngx_http_notify_jwt_reject_value(ngx_http_request_t *r,
    ngx_http_notify_auth_t *auth, ngx_http_notify_auth_error_e error,
    char *reason, u_char *value, size_t len);


ngx_http_notify_jwt_alg_t  ngx_http_notify_jwt_algs[] = {
    { ngx_string("RS256"), NGX_HTTP_NOTIFY_JWT_RSA },
    { ngx_string("ES256"), NGX_HTTP_NOTIFY_JWT_EC },
    { ngx_string("HS256"), NGX_HTTP_NOTIFY_JWT_OCT },
    { ngx_null_string, 0 }
};


/* indexed by ngx_http_notify_jwt_kty_e */
static char  *ngx_http_notify_jwt_kty_names[] = { "RSA", "EC", "oct" };


ngx_command_t  ngx_http_notify_jwt_commands[] = {

    { ngx_string("set_notify_claim"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_SIF_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF
                       |NGX_CONF_TAKE2,
      ngx_http_notify_set_claim,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
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
     *     jcf->claim_file = NULL;
     */

    jcf->leeway = NGX_CONF_UNSET;
    jcf->cache_size = NGX_CONF_UNSET_SIZE;

    return jcf;
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
ngx_http_notify_jwt_init_main_conf(ngx_conf_t *cf,
    ngx_http_notify_jwt_conf_t *jcf)
{
    ngx_conf_init_value(jcf->leeway, NGX_HTTP_NOTIFY_JWT_LEEWAY);

    if (jcf->claim_file != NULL && jcf->keys == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"set_notify_claim\" needs \"notify_jwt_keys\" at "
                      "http level in %s:%ui",
                      jcf->claim_file, jcf->claim_line);
        return NGX_CONF_ERROR;
    }

    return ngx_http_notify_jwt_cache_init(cf, jcf);
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


/* helpers */

/*
 * Strict base64url: the alphabet only, no padding, and canonical, so that
 * one value has one encoding.  A length of 4n + 1 encodes nothing; after
 * 4n + 2 characters the last one carries 4 bits beyond the data, after
 * 4n + 3 it carries 2, and these bits must be zero.  NGX_DECLINED: not
 * base64url, NGX_ERROR: no memory.
 */

ngx_int_t
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


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * set_notify_claim $variable claim: in the rewrite phase, the claim of the
 * request's verified token in a variable, through ngx_devel_kit's
 * ndk_set_var (a rewrite-module code, run in order with "set" and "if").
 * A string claim as it is, any other JSON value as its compact JSON text;
 * an empty value when there is no valid token or no such claim.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ndk.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt_internal.h"


/* how a claim that is not a string is written */
#define NGX_HTTP_NOTIFY_CLAIM_JSON  (JSON_COMPACT | JSON_ENCODE_ANY)


/* the data of one set_notify_claim */
typedef struct {
    ngx_http_notify_jwt_conf_t  *jcf;
    ngx_str_t                    name;         /* the claim */
} ngx_http_notify_set_claim_t;


static ngx_int_t ngx_http_notify_set_claim_value(ngx_http_request_t *r,
    ngx_str_t *val, void *data);


char *
ngx_http_notify_set_claim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                    *value;
    ndk_set_var_t                 filter;
    ngx_http_notify_jwt_conf_t   *jcf;
    ngx_http_notify_set_claim_t  *sc;

    jcf = *(ngx_http_notify_jwt_conf_t **) ((char *) conf + cmd->offset);

    value = cf->args->elts;

    if (value[2].len == 0) {
        return "takes an empty claim name";
    }

    sc = ngx_palloc(cf->pool, sizeof(ngx_http_notify_set_claim_t));
    if (sc == NULL) {
        return NGX_CONF_ERROR;
    }

    sc->jcf = jcf;
    sc->name = value[2];

    /* notify_jwt_keys may come later in http{}: checked at its end */

    if (jcf->claim_file == NULL) {
        jcf->claim_file = cf->conf_file->file.name.data;
        jcf->claim_line = cf->conf_file->line;
    }

    filter.type = NDK_SET_VAR_DATA;
    filter.func = (void *) ngx_http_notify_set_claim_value;
    filter.size = 0;
    filter.data = sc;

    return ndk_set_var_core(cf, &value[1], &filter);
}


/*
 * The claim's value, at most the size of the token's payload (and so of
 * the token): only a real number's JSON text can grow beyond it when
 * written again, and such a value is left empty.  NGX_ERROR only for
 * memory; a request without a valid token gets an empty value.
 */

static ngx_int_t
ngx_http_notify_set_claim_value(ngx_http_request_t *r, ngx_str_t *val,
    void *data)
{
    ngx_http_notify_set_claim_t *sc = data;

    size_t                        len;
    json_t                       *claims, *v;
    ngx_int_t                     rc;
    ngx_http_notify_auth_t       *auth;
    ngx_http_notify_principal_t  *p;

    ngx_str_set(val, "");

    auth = ngx_http_notify_authenticate(r, sc->jcf);
    if (auth == NULL) {
        return NGX_ERROR;
    }

    p = auth->principal;

    if (p == NULL) {
        return NGX_OK;
    }

    claims = json_loadb((char *) p->claims.data, p->claims.len, 0, NULL);
    if (claims == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;
    v = json_object_getn(claims, (char *) sc->name.data, sc->name.len);

    if (v == NULL || json_is_null(v)) {
        len = 0;

    } else if (json_is_string(v)) {
        len = json_string_length(v);

    } else {
        len = json_dumpb(v, NULL, 0, NGX_HTTP_NOTIFY_CLAIM_JSON);

        if (len > p->claims.len) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "notify: claim \"%V\" longer than the token, "
                           "left empty", &sc->name);
            len = 0;
        }
    }

    if (len) {
        val->data = ngx_pnalloc(r->pool, len);

        if (val->data == NULL) {
            rc = NGX_ERROR;

        } else if (json_is_string(v)) {
            ngx_memcpy(val->data, json_string_value(v), len);
            val->len = len;

        } else {
            val->len = json_dumpb(v, (char *) val->data, len,
                                  NGX_HTTP_NOTIFY_CLAIM_JSON);
        }
    }

    json_decref(claims);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "notify: set_notify_claim \"%V\": %uz bytes",
                   &sc->name, val->len);

    return rc;
}

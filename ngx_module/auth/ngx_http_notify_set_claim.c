
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


/* the claim's value (ngx_http_notify_principal_claim()); empty without a
   valid token; NGX_ERROR only for memory */

static ngx_int_t
ngx_http_notify_set_claim_value(ngx_http_request_t *r, ngx_str_t *val,
    void *data)
{
    ngx_http_notify_set_claim_t *sc = data;

    ngx_int_t                rc;
    ngx_http_notify_auth_t  *auth;

    ngx_str_set(val, "");

    auth = ngx_http_notify_authenticate(r, sc->jcf);
    if (auth == NULL) {
        return NGX_ERROR;
    }

    if (auth->principal == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_notify_principal_claim(r->pool, auth->principal, &sc->name,
                                         1, val);

    if (val->data == NULL) {
        ngx_str_set(val, "");
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "notify: set_notify_claim \"%V\": %uz bytes",
                   &sc->name, val->len);

    return rc;
}

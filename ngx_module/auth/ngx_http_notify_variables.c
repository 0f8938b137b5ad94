
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The $notify_caller variables: the caller of the request's verified
 * token, for nginx's configuration (logs, headers, map).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_principal.h"
#include "ngx_http_notify_jwt_internal.h"


static ngx_int_t ngx_http_notify_jwt_caller_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


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


/*
 * Copyright (C) ngx_http_notify authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_module.h"

#include <curl/curl.h>
#include <lmdb.h>


static ngx_int_t ngx_http_notify_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_notify_add_variables(ngx_conf_t *cf);
static void *ngx_http_notify_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_notify_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_notify_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_notify_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_notify_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_notify_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_notify_commands[] = {

    { ngx_string("notify_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_notify_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_tenant"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_notify_srv_conf_t, tenant),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_notify_module_ctx = {
    ngx_http_notify_add_variables,         /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_notify_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_notify_create_srv_conf,       /* create server configuration */
    ngx_http_notify_merge_srv_conf,        /* merge server configuration */

    ngx_http_notify_create_loc_conf,       /* create location configuration */
    ngx_http_notify_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_notify_module = {
    NGX_MODULE_V1,
    &ngx_http_notify_module_ctx,           /* module context */
    ngx_http_notify_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_notify_vars[] = {

    { ngx_string("notify_tenant"), NULL,
      ngx_http_notify_tenant_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_notify_status_handler(ngx_http_request_t *r)
{
    u_char                      *p;
    json_t                      *json;
    ngx_int_t                    rc;
    ngx_str_t                    tenant;
    curl_version_info_data      *curl;
    ngx_http_notify_loc_conf_t  *nlcf;
    ngx_http_notify_main_conf_t *nmcf;
    int                          major, minor, patch;
    u_char                       loaded[sizeof("1970-01-01T00:00:00Z")];
    u_char                       lmdb[NGX_INT_T_LEN * 3 + 3];

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    nmcf = ngx_http_get_module_main_conf(r, ngx_http_notify_module);
    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    if (ngx_http_notify_tenant(r, &tenant) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_notify_iso8601(loaded, nmcf->loaded);
    *p = '\0';

    curl = curl_version_info(CURLVERSION_NOW);

    (void) mdb_version(&major, &minor, &patch);
    p = ngx_sprintf(lmdb, "%d.%d.%d", major, minor, patch);
    *p = '\0';

    json = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s%}",
                     "module", "ngx_http_notify",
                     "version", NGX_HTTP_NOTIFY_VERSION,
                     "nginx", NGINX_VERSION,
                     "jansson", jansson_version_str(),
                     "libcurl", curl->version,
                     "lmdb", (char *) lmdb,
                     "loaded", (char *) loaded,
                     "tenant", (char *) tenant.data, (size_t) tenant.len);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, NGX_HTTP_OK, NULL, json,
                                   nlcf->status_flags);
    json_decref(json);

    return rc;
}


u_char *
ngx_http_notify_iso8601(u_char *buf, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


ngx_int_t
ngx_http_notify_tenant(ngx_http_request_t *r, ngx_str_t *tenant)
{
    ngx_http_notify_srv_conf_t  *nscf;
    ngx_http_core_srv_conf_t    *cscf;

    nscf = ngx_http_get_module_srv_conf(r, ngx_http_notify_module);

    if (nscf->tenant != NULL) {
        return ngx_http_complex_value(r, nscf->tenant, tenant);
    }

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
    *tenant = cscf->server_name;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  tenant;

    if (ngx_http_notify_tenant(r, &tenant) != NGX_OK) {
        return NGX_ERROR;
    }

    v->len = tenant.len;
    v->data = tenant.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Sends "json" as the whole response.  The text is written straight into
 * a buffer from the request pool: json_dumpb() is asked for the size first,
 * so no malloc()ed copy is made.
 */

ngx_int_t
ngx_http_notify_send_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, json_t *json, size_t flags)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    len = json_dumpb(json, NULL, 0, flags);
    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last += json_dumpb(json, (char *) b->pos, len, flags);

    if (flags & JSON_MAX_INDENT) {
        *b->last++ = LF;
    }

    if (content_type == NULL) {
        content_type = "application/json";
    }

    r->headers_out.status = status;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type.len = ngx_strlen(content_type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_notify_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_notify_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_notify_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_main_conf_t));
    if (nmcf == NULL) {
        return NULL;
    }

    nmcf->loaded = ngx_time();

    return nmcf;
}


static void *
ngx_http_notify_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_notify_srv_conf_t  *nscf;

    nscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_srv_conf_t));
    if (nscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     nscf->tenant = NULL;
     */

    return nscf;
}


static char *
ngx_http_notify_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_notify_srv_conf_t *prev = parent;
    ngx_http_notify_srv_conf_t *conf = child;

    if (conf->tenant == NULL) {
        conf->tenant = prev->tenant;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_notify_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_notify_loc_conf_t  *nlcf;

    nlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_loc_conf_t));
    if (nlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     nlcf->handler = NULL;
     */

    nlcf->status_flags = NGX_CONF_UNSET_UINT;

    return nlcf;
}


static char *
ngx_http_notify_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_notify_loc_conf_t *prev = parent;
    ngx_http_notify_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->status_flags, prev->status_flags,
                              JSON_COMPACT);

    return NGX_CONF_OK;
}


static char *
ngx_http_notify_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_notify_loc_conf_t *nlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (nlcf->handler != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "pretty") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of \"notify_status\","
                               " it takes no parameter or \"pretty\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        nlcf->status_flags = JSON_INDENT(2);
    }

    nlcf->handler = ngx_http_notify_status_handler;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_notify_status_handler;

    return NGX_CONF_OK;
}

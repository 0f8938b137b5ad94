
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

static char *ngx_http_notify_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_notify_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_notify_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_notify_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_notify_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_notify_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_notify_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_inbound(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_feed(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_require_role(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_subscription_key_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_command_t *ngx_http_notify_join_commands(void);


static ngx_http_notify_dialect_t  *ngx_http_notify_dialects[] = {
    &ngx_http_notify_syntphony_dialect,
    &ngx_http_notify_graph_dialect,
    &ngx_http_notify_gever_dialect,
    &ngx_http_notify_push_dialect,
    NULL
};


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

    { ngx_string("notify_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_notify_store_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, store),
      NULL },

    { ngx_string("notify_feed_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, store.retention),
      NULL },

    { ngx_string("notify_inbound"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_inbound,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_feed"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_notify_feed,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_feed_admin_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, feed_admin_role),
      NULL },

    { ngx_string("notify_feed_admin_write_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, feed_admin_write_role),
      NULL },

    { ngx_string("notify_require_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_notify_require_role,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_subscription_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_notify_require_role,
      NGX_HTTP_LOC_CONF_OFFSET,
      1,
      NULL },

    { ngx_string("notify_subscription_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_subscription_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_push_recipients"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_notify_push_recipients,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, max_body),
      NULL },

    { ngx_string("notify_graph_manifest"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_graph_manifest,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_gever_actor_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, gever_actor_claim),
      NULL },

    { ngx_string("notify_push_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.url),
      NULL },

    { ngx_string("notify_push_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.jwt),
      NULL },

    { ngx_string("notify_push_days_before"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_push_days_before,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_push_type"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_notify_push_type,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_push_default"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.default_on),
      NULL },

    { ngx_string("notify_delivery_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_notify_srv_conf_t, delivery_location),
      NULL },

    { ngx_string("notify_delivery_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.concurrency),
      NULL },

    { ngx_string("notify_delivery_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.timeout),
      NULL },

    { ngx_string("notify_delivery_retry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_notify_delivery_retry,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_outbox"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_notify_outbox,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_directory"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_directory_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, directory),
      NULL },

    { ngx_string("notify_jwt_keys"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_jwt_keys,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, jwt),
      NULL },

    { ngx_string("notify_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_jwt_issuer,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, jwt),
      NULL },

    { ngx_string("notify_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_notify_jwt_audience,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, jwt),
      NULL },

    { ngx_string("notify_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_jwt_leeway,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, jwt),
      NULL },

    { ngx_string("notify_jwt_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_jwt_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, jwt),
      NULL },

      ngx_null_command
};


/* the table nginx reads: the commands above, then auth's */
static ngx_command_t  ngx_http_notify_all_commands[
    sizeof(ngx_http_notify_commands) / sizeof(ngx_command_t)
    + sizeof(ngx_http_notify_jwt_commands) / sizeof(ngx_command_t) - 1];


static ngx_http_module_t  ngx_http_notify_module_ctx = {
    ngx_http_notify_add_variables,         /* preconfiguration */
    ngx_http_notify_postconfiguration,     /* postconfiguration */

    ngx_http_notify_create_main_conf,      /* create main configuration */
    ngx_http_notify_init_main_conf,        /* init main configuration */

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
    ngx_http_notify_init_module,           /* init module */
    ngx_http_notify_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_notify_exit_process,          /* exit process */
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


static ngx_int_t
ngx_http_notify_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t          *var, *v;
    ngx_http_notify_main_conf_t  *nmcf;

    for (v = ngx_http_notify_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    if (ngx_http_notify_delivery_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the main conf is made before this, at the start of http{} */
    nmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_notify_module);

    return ngx_http_notify_jwt_add_variables(cf, nmcf->jwt);
}


static void *
ngx_http_notify_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_main_conf_t));
    if (nmcf == NULL) {
        return NULL;
    }

    ngx_http_notify_module.commands = ngx_http_notify_join_commands();

    nmcf->loaded = ngx_time();

    nmcf->jwt = ngx_http_notify_jwt_create_conf(cf);
    if (nmcf->jwt == NULL) {
        return NULL;
    }

    nmcf->store.max_size = NGX_CONF_UNSET_SIZE;
    nmcf->store.retention = NGX_CONF_UNSET;
    ngx_http_notify_delivery_create_conf(&nmcf->delivery);

    return nmcf;
}


/*
 * The module's commands and auth's, auth's offsets made relative to the
 * main conf: the table nginx reads from the start of http{}, before its
 * directives are.  Always the same, in static memory.
 */

static ngx_command_t *
ngx_http_notify_join_commands(void)
{
    ngx_uint_t      i, n;
    ngx_command_t  *cmd;

    cmd = ngx_http_notify_all_commands;
    n = sizeof(ngx_http_notify_commands) / sizeof(ngx_command_t) - 1;

    ngx_memcpy(cmd, ngx_http_notify_commands, n * sizeof(ngx_command_t));
    ngx_memcpy(&cmd[n], ngx_http_notify_jwt_commands,
               sizeof(ngx_http_notify_jwt_commands));

    for (i = n; cmd[i].name.len; i++) {
        cmd[i].offset += offsetof(ngx_http_notify_main_conf_t, jwt);
    }

    return cmd;
}


static char *
ngx_http_notify_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_notify_main_conf_t *nmcf = conf;

    if (ngx_http_notify_store_init_conf(cf, &nmcf->store) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_notify_delivery_init_conf(cf, &nmcf->delivery)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (nmcf->delivery.url.len && nmcf->store.path.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_push_url\" needs \"notify_store\" at"
                           " http level");
        return NGX_CONF_ERROR;
    }

    return ngx_http_notify_jwt_init_main_conf(cf, nmcf->jwt);
}


static ngx_http_notify_main_conf_t *
ngx_http_notify_cycle_main_conf(ngx_cycle_t *cycle)
{
    if (ngx_http_module.index >= cycle->modules_n
        || cycle->conf_ctx[ngx_http_module.index] == NULL)
    {
        return NULL;
    }

    return ngx_http_cycle_get_module_main_conf(cycle, ngx_http_notify_module);
}


static ngx_int_t
ngx_http_notify_init_module(ngx_cycle_t *cycle)
{
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_notify_cycle_main_conf(cycle);
    if (nmcf == NULL) {
        return NGX_OK;
    }

    return ngx_http_notify_store_init_module(cycle, &nmcf->store);
}


static ngx_int_t
ngx_http_notify_init_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_notify_cycle_main_conf(cycle);
    if (nmcf == NULL) {
        return NGX_OK;
    }

    if (ngx_http_notify_store_init_process(cycle, &nmcf->store) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_notify_delivery_init_process(cycle, &nmcf->delivery);
}


static void
ngx_http_notify_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_delivery_exit_process(cycle);
    ngx_http_notify_store_exit_process(cycle);
    ngx_http_notify_jwt_exit_process();
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

    ngx_conf_merge_str_value(conf->delivery_location,
                             prev->delivery_location, "");

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
     *     nlcf->dialect = NULL;
     *     nlcf->feed_admin_role = { 0, NULL };
     *     nlcf->feed_admin_write_role = { 0, NULL };
     *     nlcf->feed_prefix = { 0, NULL };
     *     nlcf->gever_actor_claim = { 0, NULL };
     */

    nlcf->status_flags = NGX_CONF_UNSET_UINT;
    nlcf->roles = NGX_CONF_UNSET_PTR;
    nlcf->keys = NGX_CONF_UNSET_PTR;
    nlcf->max_body = NGX_CONF_UNSET_SIZE;
    nlcf->push_recipients = NGX_CONF_UNSET_PTR;
    nlcf->graph_manifest = NGX_CONF_UNSET_PTR;

    return nlcf;
}


static char *
ngx_http_notify_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_notify_loc_conf_t *prev = parent;
    ngx_http_notify_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_notify_main_conf_t  *nmcf;

    ngx_conf_merge_uint_value(conf->status_flags, prev->status_flags,
                              JSON_COMPACT);
    ngx_conf_merge_ptr_value(conf->roles, prev->roles, NULL);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 64 * 1024);
    ngx_conf_merge_ptr_value(conf->push_recipients, prev->push_recipients,
                             NULL);
    ngx_conf_merge_ptr_value(conf->graph_manifest, prev->graph_manifest,
                             NULL);
    ngx_conf_merge_str_value(conf->feed_admin_role, prev->feed_admin_role,
                             "");
    ngx_conf_merge_str_value(conf->feed_admin_write_role,
                             prev->feed_admin_write_role, "");
    ngx_conf_merge_str_value(conf->gever_actor_claim, prev->gever_actor_claim,
                             "user_name");

    if (conf->dialect == NULL && conf->feed_prefix.data == NULL) {
        return NGX_CONF_OK;
    }

    nmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_notify_module);

    if (nmcf->store.path.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" needs \"notify_store\" at http level",
                           conf->dialect ? "notify_inbound"
                           : conf->handler == ngx_http_notify_feed_handler
                           ? "notify_feed" : "notify_outbox");
        return NGX_CONF_ERROR;
    }

    if (conf->dialect && nmcf->directory == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_inbound\" needs \"notify_directory\""
                           " at http level");
        return NGX_CONF_ERROR;
    }

    if (conf->dialect) {
        /*
         * notify_max_body is the limit here, so that a body over it gets
         * the dialect's 413, not nginx's page: nginx's own check is off
         * (the core module's location configurations are merged before
         * ours), and the request body filter below keeps the module from
         * buffering a chunked body past the limit.
         */

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->client_max_body_size = 0;
    }

    if (conf->dialect == &ngx_http_notify_push_dialect
        && ngx_http_notify_push_merge(cf, conf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_http_request_body_filter_pt  ngx_http_notify_next_body_filter;


static ngx_int_t
ngx_http_notify_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_notify_next_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_notify_request_body_filter;

    return NGX_OK;
}


/*
 * A notify_inbound body past notify_max_body (a chunked one: a longer
 * Content-Length is answered before reading) ends there: what came is
 * dropped, the body is made to end (the rest is never read), and the flow
 * answers 413 in the dialect's shape; the connection is then closed, with
 * nginx's lingering close, as for nginx's own 413.
 */

static ngx_int_t
ngx_http_notify_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                 *cl, *last;
    ngx_http_notify_ctx_t       *ctx;
    ngx_http_notify_loc_conf_t  *nlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    if (ctx == NULL || ctx->inbound == NULL) {
        return ngx_http_notify_next_body_filter(r, in);
    }

    if (ctx->body_too_large) {
        /* the end was passed on already */
        return NGX_OK;
    }

    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    for (cl = in; cl; cl = cl->next) {
        ctx->body_seen += ngx_buf_size(cl->buf);
    }

    if (ctx->body_seen <= (off_t) nlcf->max_body) {
        return ngx_http_notify_next_body_filter(r, in);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "notify: the request body is larger than notify_max_body"
                  " (%uz), not reading on", nlcf->max_body);

    ctx->body_too_large = 1;

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;

        if (cl->buf->in_file) {
            cl->buf->file_pos = cl->buf->file_last;
        }
    }

    /* the body ends here: nothing more is read, the rest stays unread */

    r->request_body->rest = 0;
    r->keepalive = 0;
    r->lingering_close = 1;

    last = ngx_alloc_chain_link(r->pool);
    if (last == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last->buf = ngx_calloc_buf(r->pool);
    if (last->buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last->buf->last_buf = 1;
    last->next = NULL;

    return ngx_http_notify_next_body_filter(r, last);
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


static char *
ngx_http_notify_inbound(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_notify_loc_conf_t *nlcf = conf;

    ngx_str_t                   *value;
    ngx_uint_t                   i;
    ngx_http_core_loc_conf_t    *clcf;

    if (nlcf->handler != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; ngx_http_notify_dialects[i]; i++) {
        if (ngx_http_notify_dialects[i]->name.len == value[1].len
            && ngx_strncmp(ngx_http_notify_dialects[i]->name.data,
                           value[1].data, value[1].len) == 0)
        {
            break;
        }
    }

    if (ngx_http_notify_dialects[i] == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown dialect \"%V\" in \"notify_inbound\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    nlcf->dialect = ngx_http_notify_dialects[i];
    nlcf->handler = ngx_http_notify_inbound_handler;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_notify_inbound_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_notify_feed(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_notify_prefix_handler(cf, conf,
                                          ngx_http_notify_feed_handler);
}


/*
 * notify_feed, notify_outbox: the handler of a prefix location, which
 * serves the prefix and what is below it.
 */

char *
ngx_http_notify_prefix_handler(ngx_conf_t *cf,
    ngx_http_notify_loc_conf_t *nlcf, ngx_http_handler_pt handler)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (nlcf->handler != NULL) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_PCRE)
    if (clcf->regex) {
        return "cannot be used in a regex location";
    }
#endif

    if (clcf->named) {
        return "cannot be used in a named location";
    }

    nlcf->feed_prefix = clcf->name;
    nlcf->handler = handler;
    clcf->handler = handler;

    return NGX_CONF_OK;
}


/* notify_require_role and notify_subscription_key (cmd->offset 1) */

static char *
ngx_http_notify_require_role(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_notify_loc_conf_t *nlcf = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **list;

    list = cmd->offset ? &nlcf->keys : &nlcf->roles;

    if (*list != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *list = ngx_array_create(cf->pool, cf->args->nelts - 1,
                             sizeof(ngx_str_t));
    if (*list == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0) {
            return "takes no empty value";
        }

        s = ngx_array_push(*list);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/* one key a line; empty lines and lines starting with "#" are skipped */

static char *
ngx_http_notify_subscription_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_notify_loc_conf_t *nlcf = conf;

    u_char           *p, *end, *eol, *start;
    ssize_t           n;
    ngx_str_t        *value, name, *key;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    if (nlcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name.data);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 1024 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" is not a readable file of at most 1m",
                           name.data);
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (p == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, p, ngx_file_size(&fi), 0);
    ngx_close_file(file.fd);

    if (n != ngx_file_size(&fi)) {
        return NGX_CONF_ERROR;
    }

    nlcf->keys = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (nlcf->keys == NULL) {
        return NGX_CONF_ERROR;
    }

    end = p + n;

    for ( /* void */ ; p < end; p = eol + 1) {
        eol = ngx_strlchr(p, end, LF);
        if (eol == NULL) {
            eol = end;
        }

        start = p;

        while (start < eol && (*start == ' ' || *start == '\t')) {
            start++;
        }

        p = eol;

        while (p > start && (p[-1] == CR || p[-1] == ' ' || p[-1] == '\t')) {
            p--;
        }

        if (p == start || *start == '#') {
            continue;
        }

        key = ngx_array_push(nlcf->keys);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        key->data = start;
        key->len = p - start;
    }

    if (nlcf->keys->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" has no subscription key", name.data);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

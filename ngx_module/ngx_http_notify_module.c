
/*
 * Copyright (C) ngx_http_notify authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_module.h"
#include "ngx_http_notify_scheduler.h"
#include "ngx_http_notify_subrequest.h"
#include "ngx_http_notify_outbox.h"
#include "ngx_http_notify_key_file.h"

#include <curl/curl.h>


static ngx_int_t ngx_http_notify_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_inbound_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_feed_location_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_outbox_location_handler(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_metrics_handler(ngx_http_request_t *r);
static void ngx_http_notify_metrics_read(ngx_http_notify_store_read_t *rd);
static ngx_int_t ngx_http_notify_metrics_answer(ngx_http_request_t *r,
    ngx_http_notify_store_stats_t *ss);
static ngx_int_t ngx_http_notify_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_notify_preconfiguration(ngx_conf_t *cf);
static void ngx_http_notify_commands_cleanup(void *data);
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
static void ngx_http_notify_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_notify_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_inbound(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_feed_cookie(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_conf_num_bounds_t  ngx_http_notify_stream_events_bounds = {
    ngx_conf_check_num_bounds, 64, 1048576
};

static char *ngx_http_notify_feed(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_outbox(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_prefix_handler(ngx_conf_t *cf,
    ngx_http_notify_loc_conf_t *nlcf, ngx_http_handler_pt handler);
static char *ngx_http_notify_dialect_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_command_t *ngx_http_notify_join_commands(void);


/*
 * The module's own directives; each dialect's are added to them before
 * http{} is read (ngx_http_notify_preconfiguration()).
 */

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
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
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
      offsetof(ngx_http_notify_loc_conf_t, feed.admin_role),
      NULL },

    { ngx_string("notify_feed_stream_heartbeat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, feed.stream_heartbeat),
      NULL },

    { ngx_string("notify_feed_stream_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, feed.stream_buffer),
      NULL },

    { ngx_string("notify_feed_stream_ticket"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, feed.stream_ticket),
      NULL },

    { ngx_string("notify_feed_stream_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_feed_cookie,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_feed_stream_events"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, stream_events),
      &ngx_http_notify_stream_events_bounds },

    { ngx_string("notify_feed_admin_write_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, feed.admin_write_role),
      NULL },

    { ngx_string("notify_require_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_notify_conf_set_list_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, inbound.roles),
      NULL },

    { ngx_string("notify_subscription_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_notify_conf_set_list_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, inbound.keys),
      NULL },

    { ngx_string("notify_subscription_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_key_file_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, inbound.keys),
      NULL },

    { ngx_string("notify_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_notify_loc_conf_t, inbound.max_body),
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

    { ngx_string("notify_target"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_notify_target_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery),
      NULL },

    { ngx_string("notify_push_days_before"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_outbound_expiry,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery),
      NULL },

    { ngx_string("notify_push_type"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_notify_outbound_type,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery),
      NULL },

    { ngx_string("notify_route"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_notify_route,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery),
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

    { ngx_string("notify_delivery_breaker"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_notify_breaker_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.breaker),
      NULL },

    { ngx_string("notify_delivery_rate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_notify_rate_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.breaker),
      NULL },

    { ngx_string("notify_delivery_first_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery.first_timeout),
      NULL },

    { ngx_string("notify_delivery_retry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_notify_delivery_retry,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, delivery),
      NULL },

    { ngx_string("notify_delivery_dead_letters"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_store_dead_letters_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_notify_main_conf_t, store),
      NULL },

    { ngx_string("notify_outbox"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_notify_outbox,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("notify_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_notify_metrics,
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
    ngx_http_notify_preconfiguration,      /* preconfiguration */
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
    ngx_http_notify_srv_conf_t  *nscf;
    ngx_http_notify_loc_conf_t  *nlcf;
    ngx_http_notify_main_conf_t *nmcf;
    const char                  *store, *store_version;
    u_char                       loaded[sizeof("1970-01-01T00:00:00Z")];

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    nmcf = ngx_http_get_module_main_conf(r, ngx_http_notify_module);
    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    nscf = ngx_http_get_module_srv_conf(r, ngx_http_notify_module);

    if (ngx_http_notify_tenant(r, nscf->tenant, &tenant) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_notify_iso8601(loaded, nmcf->loaded);
    *p = '\0';

    curl = curl_version_info(CURLVERSION_NOW);

    ngx_http_notify_store_version(&store, &store_version);

    json = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s%}",
                     "module", "ngx_http_notify",
                     "version", NGX_HTTP_NOTIFY_VERSION,
                     "nginx", NGINX_VERSION,
                     "jansson", jansson_version_str(),
                     "libcurl", curl->version,
                     store, store_version,
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


/*
 * The content handlers: each hands its stage the parts of the
 * configurations it needs.
 */

static ngx_int_t
ngx_http_notify_inbound_handler(ngx_http_request_t *r)
{
    ngx_http_notify_flow_conf_t   fc;
    ngx_http_notify_srv_conf_t   *nscf;
    ngx_http_notify_loc_conf_t   *nlcf;
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_get_module_main_conf(r, ngx_http_notify_module);
    nscf = ngx_http_get_module_srv_conf(r, ngx_http_notify_module);
    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    fc.inbound = &nlcf->inbound;
    fc.jwt = nmcf->jwt;
    fc.directory = nmcf->directory;
    fc.tenant = nscf->tenant;
    fc.delivery_location = nscf->delivery_location;

    return ngx_http_notify_flow_handler(r, &fc);
}


static ngx_int_t
ngx_http_notify_feed_location_handler(ngx_http_request_t *r)
{
    ngx_http_notify_loc_conf_t   *nlcf;
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_get_module_main_conf(r, ngx_http_notify_module);
    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    return ngx_http_notify_feed_handler(r, &nlcf->feed, &nlcf->prefix,
                                        nmcf->jwt, nmcf->directory);
}


static ngx_int_t
ngx_http_notify_outbox_location_handler(ngx_http_request_t *r)
{
    ngx_http_notify_loc_conf_t  *nlcf;

    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    return ngx_http_notify_outbox_handler(r, &nlcf->prefix);
}


/*
 * notify_metrics: the counters, and what the store says of itself now
 * (the registry's dialects and the targets name the series).
 */

static ngx_int_t
ngx_http_notify_metrics_handler(ngx_http_request_t *r)
{
    ngx_http_notify_store_read_t  *rd;

    static ngx_str_t  allow = ngx_string("GET, HEAD");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_notify_set_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_NOT_ALLOWED;
    }

    if (!ngx_http_notify_store_ready()) {
        return ngx_http_notify_metrics_answer(r, NULL);
    }

    /* the store's part is a read: answered now or later */

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_store_read_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->type = NGX_HTTP_NOTIFY_READ_STATS;

    return ngx_http_notify_store_read_for(r, rd,
                                          ngx_http_notify_metrics_read);
}


static void
ngx_http_notify_metrics_read(ngx_http_notify_store_read_t *rd)
{
    ngx_http_request_t  *r;

    r = rd->data;

    ngx_http_finalize_request(r, ngx_http_notify_metrics_answer(r,
                                     rd->rc == NGX_OK ? &rd->stats : NULL));
}


/* the scrape's text; "ss" NULL: nothing of the store */

static ngx_int_t
ngx_http_notify_metrics_answer(ngx_http_request_t *r,
    ngx_http_notify_store_stats_t *ss)
{
    u_char                            *p, *text;
    time_t                             now;
    ngx_uint_t                         i, n;
    ngx_str_t                          names[NGX_HTTP_NOTIFY_METRICS_DIALECTS];
    ngx_str_t                          tnames[NGX_HTTP_NOTIFY_METRICS_TARGETS];
    ngx_http_notify_target_t         **tp;
    ngx_http_notify_dialect_t         *d;
    ngx_http_notify_main_conf_t       *nmcf;
    ngx_http_notify_breaker_info_t     bi;
    ngx_http_notify_metrics_scrape_t   s;

    nmcf = ngx_http_get_module_main_conf(r, ngx_http_notify_module);

    ngx_memzero(&s, sizeof(ngx_http_notify_metrics_scrape_t));

    for (i = 0; i < NGX_HTTP_NOTIFY_METRICS_DIALECTS; i++) {
        d = ngx_http_notify_dialect_at(i);
        if (d == NULL) {
            break;
        }

        names[i] = d->name;
    }

    s.dialects = names;
    s.ndialects = i;

    /* every target ("push" first), each with its breaker */

    tp = nmcf->delivery.all.elts;
    n = ngx_min(nmcf->delivery.all.nelts, NGX_HTTP_NOTIFY_METRICS_TARGETS);

    for (i = 0; i < n; i++) {
        tnames[i] = tp[i]->name;

        if (tp[i]->oauth2) {
            s.oauth2 = 1;
        }

        /* its counters are its breaker's slot's: found by name */
        s.counter[i] = ngx_http_notify_outbound_slot(tp[i]);

        if (ngx_http_notify_breaker_info(ngx_http_notify_outbound_slot(tp[i]),
                                         &bi)
            == NGX_OK)
        {
            s.breakers = 1;
            s.breaker[i] = bi.state;
        }
    }

    if (n == 0) {
        /* none configured: the series of notify_push_url's, at 0 */
        ngx_str_set(&tnames[0], "push");
        s.counter[0] = NGX_HTTP_NOTIFY_METRICS_TARGETS;
        n = 1;
    }

    s.targets = tnames;
    s.ntargets = n;

    if (ss) {
        now = ngx_time();

        s.store = 1;
        s.map = (ss->map_size != 0);
        s.map_used = ss->map_used;
        s.map_free = ss->map_size - ss->map_used;
        s.outbox = ss->outbox;
        s.outbox_age = (ss->outbox_oldest && ss->outbox_oldest < now)
                       ? (uint64_t) (now - ss->outbox_oldest) : 0;
        s.dead = ss->dead;
    }

    text = ngx_pnalloc(r->pool, ngx_http_notify_metrics_size(&s));
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_notify_metrics_write(text, &s);

    return ngx_http_notify_send_body(r, NGX_HTTP_OK,
                                     "text/plain; version=0.0.4;"
                                     " charset=utf-8", text, p - text);
}


/*
 * With notify_metrics: a request to a notify_inbound location is counted
 * by its dialect's place in the registry and the status it was answered.
 */

static ngx_int_t
ngx_http_notify_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                   i, status;
    ngx_http_notify_dialect_t   *d;
    ngx_http_notify_loc_conf_t  *nlcf;

    if (r != r->main) {
        return NGX_OK;
    }

    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    if (nlcf->handler != ngx_http_notify_inbound_handler) {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    for (i = 0; /* void */ ; i++) {
        d = ngx_http_notify_dialect_at(i);

        if (d == NULL) {
            break;
        }

        if (d == nlcf->inbound.dialect) {
            ngx_http_notify_metrics_inbound(i, status);
            break;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                    tenant;
    ngx_http_notify_srv_conf_t  *nscf;

    nscf = ngx_http_get_module_srv_conf(r, ngx_http_notify_module);

    if (ngx_http_notify_tenant(r, nscf->tenant, &tenant) != NGX_OK) {
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
 * Before http{} is read: the variables, and the module's directives with
 * every dialect's.  The array of directives lives in the cycle's pool; when
 * the cycle goes (a reload, a configuration that failed), the module's own
 * are put back, so that ngx_module_t never points to freed memory.
 */

static ngx_int_t
ngx_http_notify_preconfiguration(ngx_conf_t *cf)
{
    ngx_command_t                *cmds;
    ngx_pool_cleanup_t           *cln;
    ngx_http_variable_t          *var, *v;
    ngx_http_notify_main_conf_t  *nmcf;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cmds = ngx_http_notify_dialects_commands(cf,
                                             ngx_http_notify_join_commands(),
                                             ngx_http_notify_dialect_set);
    if (cmds == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_notify_commands_cleanup;
    cln->data = cmds;

    ngx_http_notify_module.commands = cmds;

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


static void
ngx_http_notify_commands_cleanup(void *data)
{
    ngx_command_t  *cmds = data;

    if (ngx_http_notify_module.commands == cmds) {
        ngx_http_notify_module.commands = ngx_http_notify_commands;
    }
}


/* a dialect's directive: the dialect's own handler, with its conf part */

static char *
ngx_http_notify_dialect_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_notify_loc_conf_t *nlcf = conf;

    return ngx_http_notify_dialects_set(cf, cmd, &nlcf->inbound);
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

    nmcf->jwt = ngx_http_notify_jwt_create_conf(cf);
    if (nmcf->jwt == NULL) {
        return NULL;
    }

    nmcf->store.max_size = NGX_CONF_UNSET_SIZE;
    nmcf->store.retention = NGX_CONF_UNSET;
    nmcf->store.dead_letters = NGX_CONF_UNSET_UINT;
    nmcf->stream_events = NGX_CONF_UNSET_UINT;
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

    ngx_str_t                  name;
    ngx_uint_t                 i;
    ngx_http_notify_target_t  *t;

    if (ngx_http_notify_store_init_conf(cf, &nmcf->store) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, "push");
    nmcf->delivery.target.dialect = ngx_http_notify_dialect(&name);

    if (nmcf->delivery.targets) {
        t = nmcf->delivery.targets->elts;

        for (i = 0; i < nmcf->delivery.targets->nelts; i++) {
            t[i].dialect = ngx_http_notify_dialect(&t[i].dialect_name);
        }
    }

    if (ngx_http_notify_delivery_init_conf(cf, &nmcf->delivery)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (nmcf->delivery.all.nelts && nmcf->store.path.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_push_url\" or \"notify_target\""
                           " needs \"notify_store\" at http level");
        return NGX_CONF_ERROR;
    }

    /* the feeds' stream: its ring, made where there is a feed */

    ngx_conf_init_uint_value(nmcf->stream_events, 4096);

    if (nmcf->feed) {
        nmcf->stream = ngx_http_notify_stream_zone(cf, nmcf->stream_events);
        if (nmcf->stream == NULL) {
            return NGX_CONF_ERROR;
        }
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
    ngx_core_conf_t              *ccf;
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_notify_cycle_main_conf(cycle);
    if (nmcf == NULL) {
        return NGX_OK;
    }

    if (nmcf->stream) {
        ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                               ngx_core_module);

        if (ngx_http_notify_stream_init_module(cycle,
                                               ccf->worker_processes > 0
                                               ? ccf->worker_processes : 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_notify_store_init_module(cycle, &nmcf->store);
}


static ngx_int_t
ngx_http_notify_init_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_main_conf_t  *nmcf;

    /*
     * The cache manager and loader run init_process too: they serve no
     * request, so they open no store and watch no worker's wake-up.
     */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    nmcf = ngx_http_notify_cycle_main_conf(cycle);

    ngx_http_notify_metrics_init_process(nmcf ? nmcf->metrics : NULL);

    if (nmcf == NULL) {
        return NGX_OK;
    }

    if (ngx_http_notify_store_init_process(cycle, &nmcf->store) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_notify_stream_init_process(cycle, nmcf->stream) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_notify_delivery_init_process(cycle, &nmcf->delivery);
}


static void
ngx_http_notify_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_notify_stream_exit_process(cycle);
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
     *     nlcf->prefix = { 0, NULL };
     *     nlcf->inbound.dialect = NULL;
     *     nlcf->feed.admin_role = { 0, NULL };
     *     nlcf->feed.admin_write_role = { 0, NULL };
     */

    nlcf->status_flags = NGX_CONF_UNSET_UINT;
    nlcf->feed.stream_heartbeat = NGX_CONF_UNSET_MSEC;
    nlcf->feed.stream_buffer = NGX_CONF_UNSET_SIZE;
    nlcf->feed.stream_ticket = NGX_CONF_UNSET;

    if (ngx_http_notify_inbound_create_conf(cf, &nlcf->inbound) != NGX_OK) {
        return NULL;
    }

    return nlcf;
}


static char *
ngx_http_notify_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_notify_loc_conf_t *prev = parent;
    ngx_http_notify_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_notify_main_conf_t  *nmcf;

    /*
     * An "if" or "limit_except" block in a location of the module: nginx
     * runs the location's handler there with the block's conf, which must
     * then say what the location's says (as the proxy module does).
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname && conf->handler == NULL && prev->handler != NULL) {
        conf->handler = prev->handler;
        conf->prefix = prev->prefix;
        conf->inbound.dialect = prev->inbound.dialect;
    }

    ngx_conf_merge_uint_value(conf->status_flags, prev->status_flags,
                              JSON_COMPACT);
    ngx_conf_merge_str_value(conf->feed.admin_role, prev->feed.admin_role,
                             "");
    ngx_conf_merge_str_value(conf->feed.admin_write_role,
                             prev->feed.admin_write_role, "");
    ngx_conf_merge_msec_value(conf->feed.stream_heartbeat,
                              prev->feed.stream_heartbeat, 15000);
    ngx_conf_merge_size_value(conf->feed.stream_buffer,
                              prev->feed.stream_buffer, 65536);
    ngx_conf_merge_sec_value(conf->feed.stream_ticket,
                             prev->feed.stream_ticket, 30);
    ngx_conf_merge_str_value(conf->feed.stream_cookie,
                             prev->feed.stream_cookie, "");

    if (ngx_http_notify_inbound_merge_conf(cf, &prev->inbound, &conf->inbound)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->inbound.dialect == NULL && conf->prefix.data == NULL) {
        return NGX_CONF_OK;
    }

    nmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_notify_module);

    if (nmcf->store.path.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" needs \"notify_store\" at http level",
                           conf->inbound.dialect ? "notify_inbound"
                           : conf->handler
                             == ngx_http_notify_feed_location_handler
                           ? "notify_feed" : "notify_outbox");
        return NGX_CONF_ERROR;
    }

    if (conf->inbound.dialect == NULL) {
        return NGX_CONF_OK;
    }

    if (nmcf->directory == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_inbound\" needs \"notify_directory\""
                           " at http level");
        return NGX_CONF_ERROR;
    }

    return ngx_http_notify_inbound_check_conf(cf, &conf->inbound,
                                              nmcf->directory);
}


static ngx_int_t
ngx_http_notify_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt          *h;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_notify_module);

    if (nmcf->metrics) {
        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

        h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_notify_log_handler;
    }

    return ngx_http_notify_flow_init(cf);
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
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_notify_dialect_t   *d;

    if (nlcf->handler != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    d = ngx_http_notify_dialect(&value[1]);

    if (d == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown dialect \"%V\" in \"notify_inbound\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (d->parse == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "dialect \"%V\" is outbound only: it cannot be"
                           " \"notify_inbound\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    nlcf->inbound.dialect = d;
    nlcf->handler = ngx_http_notify_inbound_handler;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_notify_inbound_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_notify_feed(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_notify_module);
    nmcf->feed = 1;

    return ngx_http_notify_prefix_handler(cf, conf,
                                       ngx_http_notify_feed_location_handler);
}


/* notify_feed_stream_cookie name: read as $cookie_<name> */

static char *
ngx_http_notify_feed_cookie(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_notify_loc_conf_t *nlcf = conf;

    u_char     *p;
    ngx_str_t  *value;

    if (nlcf->feed.stream_cookie.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 64) {
        return "needs a name of 1 to 64 bytes";
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == ';' || *p == '=' || *p == ',') {
            return "is not a cookie's name";
        }
    }

    nlcf->feed.stream_cookie.len = sizeof("cookie_") - 1 + value[1].len;
    nlcf->feed.stream_cookie.data = ngx_pnalloc(cf->pool,
                                                nlcf->feed.stream_cookie.len);
    if (nlcf->feed.stream_cookie.data == NULL) {
        return NGX_CONF_ERROR;
    }

    /* nginx looks $cookie_<name> up by its name in lower case */

    p = ngx_cpymem(nlcf->feed.stream_cookie.data, "cookie_",
                   sizeof("cookie_") - 1);
    ngx_strlow(p, value[1].data, value[1].len);

    return NGX_CONF_OK;
}


static char *
ngx_http_notify_outbox(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_notify_prefix_handler(cf, conf,
                                     ngx_http_notify_outbox_location_handler);
}


/*
 * notify_feed, notify_outbox: the handler of a prefix location, which
 * serves the prefix and what is below it.
 */

static char *
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

    nlcf->prefix = clcf->name;
    nlcf->handler = handler;
    clcf->handler = handler;

    return NGX_CONF_OK;
}


/* notify_metrics: the counters' zone is the module's, one for all */

static char *
ngx_http_notify_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_notify_loc_conf_t *nlcf = conf;

    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_notify_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (nlcf->handler) {
        return "is duplicate";
    }

    if (nmcf->metrics == NULL) {
        nmcf->metrics = ngx_http_notify_metrics_zone(cf);

        if (nmcf->metrics == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    nlcf->handler = ngx_http_notify_metrics_handler;
    clcf->handler = nlcf->handler;

    return NGX_CONF_OK;
}

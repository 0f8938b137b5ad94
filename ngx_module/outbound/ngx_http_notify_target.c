
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * notify_target: a named downstream target at http level, a block of its
 * own directives (the dialect it speaks, where it is, how it is
 * authenticated, how its event types map to its activity types, and its
 * own delivery settings, each defaulting to the notify_delivery_* and
 * notify_push_days_before of the http level).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_key_file.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_oauth2.h"


static char *ngx_http_notify_target_handler(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_notify_target_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_notify_target_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_notify_target_activity_type(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


#define NGX_HTTP_NOTIFY_TARGET_CONF    0      /* offset in the target */
#define NGX_HTTP_NOTIFY_DELIVERY_CONF  1      /* offset in its delivery */


/*
 * The block's directives.  "offset" is in the target, or, for those whose
 * "conf" is NGX_HTTP_NOTIFY_DELIVERY_CONF, in the target's delivery
 * settings (the same slots as the http level's notify_delivery_*).
 */

static ngx_command_t  ngx_http_notify_target_commands[] = {

    { ngx_string("dialect"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_notify_target_t, dialect_name),
      NULL },

    { ngx_string("url"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_notify_target_t, url),
      NULL },

    { ngx_string("authorization"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_notify_target_t, credential),
      NULL },

    { ngx_string("subscription_key_file"),
      NGX_CONF_TAKE1,
      ngx_http_notify_target_file,
      0,
      offsetof(ngx_http_notify_target_t, subscription_key),
      NULL },

    { ngx_string("webhook_secret_file"),
      NGX_CONF_TAKE1,
      ngx_http_notify_target_secret,
      0,
      offsetof(ngx_http_notify_target_t, secret),
      NULL },

    { ngx_string("oauth2_token_url"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_notify_target_t, oauth2_token_url),
      NULL },

    { ngx_string("oauth2_client_id"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_notify_target_t, oauth2_client_id),
      NULL },

    { ngx_string("oauth2_secret_file"),
      NGX_CONF_TAKE1,
      ngx_http_notify_target_file,
      0,
      offsetof(ngx_http_notify_target_t, oauth2_secret),
      NULL },

    { ngx_string("oauth2_scope"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_notify_target_t, oauth2_scope),
      NULL },

    { ngx_string("activity_type"),
      NGX_CONF_TAKE2,
      ngx_http_notify_target_activity_type,
      0,
      0,
      NULL },

    { ngx_string("expire"),
      NGX_CONF_TAKE1,
      ngx_http_notify_outbound_expiry,
      NGX_HTTP_NOTIFY_DELIVERY_CONF,
      0,
      NULL },

    { ngx_string("retry"),
      NGX_CONF_TAKE2,
      ngx_http_notify_delivery_retry,
      NGX_HTTP_NOTIFY_DELIVERY_CONF,
      0,
      NULL },

    { ngx_string("timeout"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_NOTIFY_DELIVERY_CONF,
      offsetof(ngx_http_notify_delivery_conf_t, timeout),
      NULL },

    { ngx_string("first_timeout"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_NOTIFY_DELIVERY_CONF,
      offsetof(ngx_http_notify_delivery_conf_t, first_timeout),
      NULL },

    { ngx_string("concurrency"),
      NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_NOTIFY_DELIVERY_CONF,
      offsetof(ngx_http_notify_delivery_conf_t, concurrency),
      NULL },

    { ngx_string("breaker"),
      NGX_CONF_TAKE12,
      ngx_http_notify_breaker_directive,
      NGX_HTTP_NOTIFY_DELIVERY_CONF,
      offsetof(ngx_http_notify_delivery_conf_t, breaker),
      NULL },

    { ngx_string("rate"),
      NGX_CONF_TAKE12,
      ngx_http_notify_rate_directive,
      NGX_HTTP_NOTIFY_DELIVERY_CONF,
      offsetof(ngx_http_notify_delivery_conf_t, breaker),
      NULL },

      ngx_null_command
};


/* notify_target name { ... } */

char *
ngx_http_notify_target_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char                             *rv;
    u_char                            c;
    ngx_str_t                        *value;
    ngx_uint_t                        i;
    ngx_conf_t                        save;
    ngx_http_notify_target_t         *t;
    ngx_http_notify_delivery_conf_t  *dc, *tdc;

    dc = (ngx_http_notify_delivery_conf_t *) (p + cmd->offset);
    value = cf->args->elts;

    if (dc->targets == NULL) {
        dc->targets = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_notify_target_t));
        if (dc->targets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (value[1].len == 0 || value[1].len > 64) {
        return "needs a name of 1 to 64 characters";
    }

    for (i = 0; i < value[1].len; i++) {
        c = value[1].data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
        {
            return "needs a name of letters, digits, \"-\", \"_\" and \".\"";
        }
    }

    t = dc->targets->elts;

    for (i = 0; i < dc->targets->nelts; i++) {
        if (t[i].name.len == value[1].len
            && ngx_strncmp(t[i].name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate notify_target \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    t = ngx_array_push(dc->targets);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(t, sizeof(ngx_http_notify_target_t));

    t->name = value[1];

    tdc = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_delivery_conf_t));
    if (tdc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_http_notify_delivery_create_conf(tdc);
    t->delivery = tdc;

    save = *cf;
    cf->handler = ngx_http_notify_target_handler;
    cf->handler_conf = (void *) t;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (t->dialect_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_target \"%V\" has no \"dialect\"",
                           &t->name);
        return NGX_CONF_ERROR;
    }

    if (t->url.len == 0
        || ngx_http_notify_valid_http_url((char *) t->url.data, t->url.len)
           != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_target \"%V\" needs a \"url\", http or"
                           " https", &t->name);
        return NGX_CONF_ERROR;
    }

    if (t->oauth2_token_url.len
        && (ngx_http_notify_valid_http_url((char *) t->oauth2_token_url.data,
                                           t->oauth2_token_url.len)
            != NGX_OK
            || t->oauth2_client_id.len == 0 || t->oauth2_secret.len == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_target \"%V\": \"oauth2_token_url\" must"
                           " be an http or https URL, with"
                           " \"oauth2_client_id\" and \"oauth2_secret_file\"",
                           &t->name);
        return NGX_CONF_ERROR;
    }

    if (t->oauth2_token_url.len && t->credential.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_target \"%V\": \"authorization\" and"
                           " \"oauth2_token_url\" exclude each other",
                           &t->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a directive inside the block: looked up in the table above */

static char *
ngx_http_notify_target_handler(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    char  *p;

    char                      *rv;
    ngx_str_t                 *value;
    ngx_uint_t                 nargs;
    ngx_command_t             *cmd;
    ngx_http_notify_target_t  *t;

    t = cf->handler_conf;
    value = cf->args->elts;
    nargs = cf->args->nelts - 1;

    for (cmd = ngx_http_notify_target_commands; cmd->name.len; cmd++) {

        if (cmd->name.len != value[0].len
            || ngx_strncmp(cmd->name.data, value[0].data, value[0].len) != 0)
        {
            continue;
        }

        if (!((nargs == 1 && (cmd->type & NGX_CONF_TAKE1))
              || (nargs == 2 && (cmd->type & NGX_CONF_TAKE2))))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid number of arguments in \"%V\""
                               " of notify_target \"%V\"",
                               &value[0], &t->name);
            return NGX_CONF_ERROR;
        }

        p = (cmd->conf == NGX_HTTP_NOTIFY_DELIVERY_CONF)
            ? t->delivery : (void *) t;

        rv = cmd->set(cf, cmd, p);

        if (rv == NGX_CONF_OK || rv == NGX_CONF_ERROR) {
            return rv;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" of notify_target"
                           " \"%V\" %s", &value[0], &t->name, rv);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in notify_target \"%V\"",
                       &value[0], &t->name);
    return NGX_CONF_ERROR;
}


/* the first line of a file that is not blank nor a comment: a secret */

static char *
ngx_http_notify_target_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char           *rv;
    ngx_str_t      *field, *line;
    ngx_array_t    *lines;
    ngx_command_t   c;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    lines = NGX_CONF_UNSET_PTR;
    c = *cmd;
    c.offset = 0;

    rv = ngx_http_notify_key_file_slot(cf, &c, &lines);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    line = lines->elts;
    *field = line[0];

    return NGX_CONF_OK;
}


/*
 * webhook_secret_file: a Standard Webhooks secret, "whsec_" and the key
 * in base64; the target keeps the key's bytes
 */

static char *
ngx_http_notify_target_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    char       *rv;
    ngx_str_t  *field, text, key;

    field = (ngx_str_t *) (p + cmd->offset);

    rv = ngx_http_notify_target_file(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    text = *field;

    if (text.len > sizeof("whsec_") - 1
        && ngx_strncmp(text.data, "whsec_", sizeof("whsec_") - 1) == 0)
    {
        text.data += sizeof("whsec_") - 1;
        text.len -= sizeof("whsec_") - 1;
    }

    key.data = ngx_pnalloc(cf->pool, ngx_base64_decoded_length(text.len));
    if (key.data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_decode_base64(&key, &text) != NGX_OK || key.len < 16
        || key.len > 64)
    {
        /* never the secret itself in the message */
        return "needs a file whose first line is \"whsec_\" and 16 to 64"
               " bytes in base64";
    }

    *field = key;

    return NGX_CONF_OK;
}


/* activity_type event type | default type */

static char *
ngx_http_notify_target_activity_type(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_notify_target_t *t = conf;

    ngx_str_t     *value;
    ngx_keyval_t  *kv;

    value = cf->args->elts;

    if (value[1].len == sizeof("default") - 1
        && ngx_strncmp(value[1].data, "default", sizeof("default") - 1) == 0)
    {
        if (t->default_activity_type.data) {
            return "is duplicate for \"default\"";
        }

        t->default_activity_type = value[2];
        return NGX_CONF_OK;
    }

    if (t->activity_types == NULL) {
        t->activity_types = ngx_array_create(cf->pool, 4,
                                             sizeof(ngx_keyval_t));
        if (t->activity_types == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    kv = ngx_array_push(t->activity_types);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key = value[1];
    kv->value = value[2];

    return NGX_CONF_OK;
}


/*
 * After the http level is read: each target's dialect (from the registry,
 * by the caller), its delivery settings completed from the http level's,
 * and its breaker's slot (0 is the push target of notify_push_url).
 */

char *
ngx_http_notify_targets_init_conf(ngx_conf_t *cf,
    ngx_http_notify_delivery_conf_t *dc)
{
    char                             *rv;
    ngx_uint_t                        i;
    ngx_http_notify_target_t         *t;
    ngx_http_notify_delivery_conf_t  *tdc;

    if (dc->targets == NULL) {
        return NGX_CONF_OK;
    }

    if (dc->targets->nelts >= NGX_HTTP_NOTIFY_BREAKER_TARGETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "at most %d \"notify_target\" blocks",
                           NGX_HTTP_NOTIFY_BREAKER_TARGETS - 1);
        return NGX_CONF_ERROR;
    }

    t = dc->targets->elts;

    for (i = 0; i < dc->targets->nelts; i++) {
        if (t[i].dialect == NULL || t[i].dialect->render == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_target \"%V\": dialect \"%V\" cannot"
                               " be a target", &t[i].name,
                               &t[i].dialect_name);
            return NGX_CONF_ERROR;
        }

        if (t[i].dialect->check_target) {
            rv = t[i].dialect->check_target(cf, &t[i]);

            if (rv != NGX_CONF_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "notify_target \"%V\": %s", &t[i].name,
                                   rv);
                return NGX_CONF_ERROR;
            }
        }

        if (dc->url.len
            && t[i].name.len == sizeof("push") - 1
            && ngx_strncmp(t[i].name.data, "push", sizeof("push") - 1) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_target \"push\" and notify_push_url"
                               " name the same target");
            return NGX_CONF_ERROR;
        }

        tdc = t[i].delivery;

        if (tdc->keep == NGX_CONF_UNSET) {
            tdc->keep = dc->keep;
        }

        ngx_conf_merge_uint_value(tdc->concurrency, dc->concurrency, 64);
        ngx_conf_merge_msec_value(tdc->timeout, dc->timeout, 10000);
        ngx_conf_merge_msec_value(tdc->first_timeout, dc->first_timeout,
                                  500);

        if (tdc->retry_min == NGX_CONF_UNSET_MSEC) {
            tdc->retry_min = dc->retry_min;
            tdc->retry_max = dc->retry_max;
        }

        if (tdc->breaker.failures == NGX_CONF_UNSET_UINT) {
            tdc->breaker.failures = dc->breaker.failures;
            tdc->breaker.cooldown = dc->breaker.cooldown;
        }

        if (tdc->breaker.interval == (uint64_t) NGX_CONF_UNSET) {
            tdc->breaker.interval = dc->breaker.interval;
            tdc->breaker.burst = dc->breaker.burst;
        }

        if (tdc->first_timeout == 0 || tdc->concurrency == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_target \"%V\": \"first_timeout\" and"
                               " \"concurrency\" must be more than 0",
                               &t[i].name);
            return NGX_CONF_ERROR;
        }

        tdc->url = t[i].url;
        tdc->default_on = 1;

        if (ngx_http_notify_oauth2_init_conf(cf, &t[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}

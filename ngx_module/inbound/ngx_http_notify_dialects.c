
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The registry of dialects: the one list of the dialects notify_inbound
 * knows, and what the module needs of them to configure a location: their
 * directives and their parts of the location's configuration.
 *
 * A dialect is one file in dialects/ and one line in the list below.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_inbound.h"


#define NGX_HTTP_NOTIFY_DIALECTS(dialect)                                     \
    dialect(syntphony)                                                        \
    dialect(graph)                                                            \
    dialect(gever)                                                            \
    dialect(push)                                                             \
    dialect(webhook)


#define ngx_http_notify_dialect_extern(name)                                  \
    extern ngx_http_notify_dialect_t  ngx_http_notify_##name##_dialect;

#define ngx_http_notify_dialect_entry(name)                                   \
    &ngx_http_notify_##name##_dialect,


NGX_HTTP_NOTIFY_DIALECTS(ngx_http_notify_dialect_extern)


static ngx_http_notify_dialect_t  *ngx_http_notify_dialects[] = {
    NGX_HTTP_NOTIFY_DIALECTS(ngx_http_notify_dialect_entry)
    NULL
};


ngx_http_notify_dialect_t *
ngx_http_notify_dialect(ngx_str_t *name)
{
    ngx_uint_t                  i;
    ngx_http_notify_dialect_t  *d;

    for (i = 0; ngx_http_notify_dialects[i]; i++) {
        d = ngx_http_notify_dialects[i];

        if (d->name.len == name->len
            && ngx_strncmp(d->name.data, name->data, name->len) == 0)
        {
            return d;
        }
    }

    return NULL;
}


/* the i-th dialect of the registry, NULL past its end (notify_metrics) */

ngx_http_notify_dialect_t *
ngx_http_notify_dialect_at(ngx_uint_t i)
{
    if (i >= sizeof(ngx_http_notify_dialects) / sizeof(void *) - 1) {
        return NULL;
    }

    return ngx_http_notify_dialects[i];
}


/*
 * The module's directives: its own ("own", ended by ngx_null_command) and
 * every dialect's, each with "set" as its handler, which is to call
 * ngx_http_notify_dialects_set() with the location's inbound part.  The
 * array is in cf->pool, the cycle's.
 */

ngx_command_t *
ngx_http_notify_dialects_commands(ngx_conf_t *cf, ngx_command_t *own,
    char *(*set)(ngx_conf_t *cf, ngx_command_t *cmd, void *conf))
{
    ngx_uint_t      i, n;
    ngx_command_t  *cmds, *c, *dc;

    n = 1;

    for (c = own; c->name.len; c++) {
        n++;
    }

    for (i = 0; ngx_http_notify_dialects[i]; i++) {
        dc = ngx_http_notify_dialects[i]->commands;

        for (c = dc; c && c->name.len; c++) {
            n++;
        }
    }

    cmds = ngx_pcalloc(cf->pool, n * sizeof(ngx_command_t));
    if (cmds == NULL) {
        return NULL;
    }

    n = 0;

    for (c = own; c->name.len; c++) {
        cmds[n++] = *c;
    }

    for (i = 0; ngx_http_notify_dialects[i]; i++) {
        dc = ngx_http_notify_dialects[i]->commands;

        for (c = dc; c && c->name.len; c++) {
            cmds[n] = *c;
            cmds[n].set = set;
            cmds[n].conf = NGX_HTTP_LOC_CONF_OFFSET;
            n++;
        }
    }

    /* the last one is ngx_null_command, zeroed by ngx_pcalloc() */

    return cmds;
}


/* a dialect's directive: its own handler, with the dialect's conf part */

char *
ngx_http_notify_dialects_set(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_notify_inbound_conf_t *ic)
{
    ngx_uint_t      i;
    ngx_command_t  *c;

    for (i = 0; ngx_http_notify_dialects[i]; i++) {

        for (c = ngx_http_notify_dialects[i]->commands;
             c && c->name.len;
             c++)
        {
            if (c->name.len == cmd->name.len
                && ngx_strncmp(c->name.data, cmd->name.data, c->name.len)
                   == 0)
            {
                return c->set(cf, c, ic->dialect_conf[i]);
            }
        }
    }

    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_notify_inbound_create_conf(ngx_conf_t *cf,
    ngx_http_notify_inbound_conf_t *ic)
{
    ngx_uint_t                  i;
    ngx_http_notify_dialect_t  *d;

    /*
     * set by ngx_pcalloc() of the location's configuration:
     *
     *     ic->dialect = NULL;
     */

    ic->roles = NGX_CONF_UNSET_PTR;
    ic->keys = NGX_CONF_UNSET_PTR;
    ic->max_body = NGX_CONF_UNSET_SIZE;

    ic->dialect_conf = ngx_pcalloc(cf->pool,
                                   sizeof(ngx_http_notify_dialects)
                                   - sizeof(ngx_http_notify_dialect_t *));
    if (ic->dialect_conf == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; ngx_http_notify_dialects[i]; i++) {
        d = ngx_http_notify_dialects[i];

        if (d->create_loc_conf == NULL) {
            continue;
        }

        ic->dialect_conf[i] = d->create_loc_conf(cf);
        if (ic->dialect_conf[i] == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


char *
ngx_http_notify_inbound_merge_conf(ngx_conf_t *cf,
    ngx_http_notify_inbound_conf_t *prev, ngx_http_notify_inbound_conf_t *conf)
{
    ngx_uint_t                  i;
    ngx_http_notify_dialect_t  *d;

    ngx_conf_merge_ptr_value(conf->roles, prev->roles, NULL);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 64 * 1024);

    for (i = 0; ngx_http_notify_dialects[i]; i++) {
        d = ngx_http_notify_dialects[i];

        if (d->merge_loc_conf
            && d->merge_loc_conf(cf, prev->dialect_conf[i],
                                 conf->dialect_conf[i])
               != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* a location with notify_inbound, once merged and the directory loaded */

char *
ngx_http_notify_inbound_check_conf(ngx_conf_t *cf,
    ngx_http_notify_inbound_conf_t *ic, ngx_http_notify_directory_t *directory)
{
    ngx_uint_t                  i;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_notify_dialect_t  *d;

    /*
     * notify_max_body is the limit here, so that a body over it gets the
     * dialect's 413, not nginx's page: nginx's own check is off (the core
     * module's location configurations are merged before ours), and the
     * flow's request body filter keeps the module from buffering a chunked
     * body past the limit.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->client_max_body_size = 0;

    for (i = 0; ngx_http_notify_dialects[i]; i++) {
        d = ngx_http_notify_dialects[i];

        if (d != ic->dialect) {
            continue;
        }

        ic->conf = ic->dialect_conf[i];

        if (d->check_loc_conf) {
            return d->check_loc_conf(cf, ic->conf, directory);
        }

        break;
    }

    return NGX_CONF_OK;
}

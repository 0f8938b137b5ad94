
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * A file of keys, one a line, for a directive: empty lines and lines
 * starting with "#" are skipped, blanks around a key are not part of it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_key_file.h"


char *
ngx_http_notify_key_file_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *conf_p = conf;

    u_char           *p, *end, *eol, *start;
    ssize_t           n;
    ngx_str_t        *value, name, *key;
    ngx_file_t        file;
    ngx_array_t     **keys;
    ngx_file_info_t   fi;

    keys = (ngx_array_t **) (conf_p + cmd->offset);

    if (*keys != NGX_CONF_UNSET_PTR) {
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

    *keys = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (*keys == NULL) {
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

        key = ngx_array_push(*keys);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        key->data = start;
        key->len = p - start;
    }

    if ((*keys)->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" has no subscription key", name.data);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

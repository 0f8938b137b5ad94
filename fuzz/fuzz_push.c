
/*
 * Copyright (C) ngx_http_notify authors
 */


/* libFuzzer target: the push dialect's parse-and-validate function */

#include "ngx_http_notify_push.c"
#include "fuzz_request.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char  *rcpt[] = { "u1@example.org", "devs", NULL };

    ngx_pool_t                   *pool;
    ngx_http_notify_push_conf_t  *pcf;

    pool = ngx_create_pool(1024, &ngx_fuzz_log);
    pcf = ngx_fuzz_conf(pool, &ngx_http_notify_push_dialect);

    pcf->recipients = ngx_array_create(pool, 2, sizeof(ngx_str_t));
    ngx_fuzz_strs(pool, pcf->recipients, rcpt);

    ngx_fuzz_parse(pool, &ngx_http_notify_push_dialect, pcf, "/fuzz",
                   size ? data[0] & 3 : 0, data, size);

    return 0;
}

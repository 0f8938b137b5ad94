
/*
 * Copyright (C) ngx_http_notify authors
 */


/* libFuzzer target: the gever dialect's parse-and-validate function */

#include "ngx_http_notify_gever.c"
#include "fuzz_request.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(1024, &ngx_fuzz_log);

    ngx_fuzz_parse(pool, &ngx_http_notify_gever_dialect,
                   ngx_fuzz_conf(pool, &ngx_http_notify_gever_dialect),
                   "/fuzz", size ? data[0] & 3 : 0, data, size);

    return 0;
}


/*
 * Copyright (C) ngx_http_notify authors
 */


/* libFuzzer target: the gever dialect's parse-and-validate function */

#include "ngx_http_notify_gever.c"
#include "fuzz_request.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_pool_t                  *pool;
    ngx_http_notify_req_t       *nr;
    ngx_http_notify_loc_conf_t  *nlcf;

    pool = ngx_create_pool(1024, &ngx_fuzz_log);
    nlcf = ngx_pcalloc(pool, sizeof(ngx_http_notify_loc_conf_t));
    nlcf->max_body = 65536;
    nlcf->dialect = &ngx_http_notify_gever_dialect;
    (void) ngx_fuzz_request(pool, nlcf, "/fuzz", size ? data[0] & 3 : 0, &nr);
    nr->dialect = nlcf->dialect;

    /* the body as read: a copy of its own, exactly its size */
    nr->raw.len = size;
    nr->raw.data = ngx_pnalloc(pool, size);
    ngx_memcpy(nr->raw.data, data, size);

    (void) nr->dialect->parse(nr);

    ngx_fuzz_done(nr, pool);

    return 0;
}

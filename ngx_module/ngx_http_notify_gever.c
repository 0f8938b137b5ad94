
/*
 * Copyright (C) ngx_http_notify authors
 */

/* PLACEHOLDER: the gever dialect is being written. */

#include "ngx_http_notify_module.h"

ngx_http_notify_dialect_t  ngx_http_notify_gever_dialect = {
    ngx_string("gever"), 0, ngx_null_string,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

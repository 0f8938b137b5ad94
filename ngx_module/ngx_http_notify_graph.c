
/*
 * Copyright (C) ngx_http_notify authors
 */

/* PLACEHOLDER: the graph dialect is being written. */

#include "ngx_http_notify_module.h"

ngx_http_notify_dialect_t  ngx_http_notify_graph_dialect = {
    ngx_string("graph"), 0, ngx_null_string,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

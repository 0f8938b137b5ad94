
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * libFuzzer target: the graph dialect's request checks (the route of the
 * path, the permissions) and its parse-and-validate function.  The first
 * byte of the input chooses the route and the kind of caller; the whole
 * input is the body.  The directory is fuzz_request.h's.
 */

#include "ngx_http_notify_graph.c"
#include "fuzz_request.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char  *uris[] = {
        "/v1.0/teams/t-1/sendActivityNotification",
        "/v1.0/users/u-1/teamwork/sendActivityNotification",
        "/v1.0/chats/c-1/sendActivityNotification",
        "/v1.0/teamwork/sendActivityNotificationToRecipients"
    };

    ngx_uint_t                         sel;
    ngx_pool_t                        *pool;
    ngx_http_notify_graph_conf_t      *gcf;
    ngx_http_notify_graph_activity_t  *a;
    ngx_http_notify_graph_manifest_t  *m;

    sel = size ? data[0] : 0;

    pool = ngx_create_pool(1024, &ngx_fuzz_log);
    gcf = ngx_fuzz_conf(pool, &ngx_http_notify_graph_dialect);

    m = ngx_pcalloc(pool, sizeof(ngx_http_notify_graph_manifest_t));
    ngx_str_set(&m->app_name, "Fuzz CI");
    (void) ngx_array_init(&m->activities, pool, 2,
                          sizeof(ngx_http_notify_graph_activity_t));
    a = ngx_array_push(&m->activities);
    ngx_str_set(&a->type, "taskCreated");
    ngx_str_set(&a->template, "{actor} created task {taskId} for you");
    a = ngx_array_push(&m->activities);
    ngx_str_set(&a->type, "buildFailed");
    ngx_str_set(&a->template, "{actor}: build {buildId} failed on {branch}");
    gcf->manifest = m;

    ngx_fuzz_parse(pool, &ngx_http_notify_graph_dialect, gcf, uris[sel & 3],
                   (sel >> 2) & 7, data, size);

    return 0;
}

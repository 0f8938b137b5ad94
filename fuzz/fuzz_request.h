
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * A request as the flow has it when it calls a dialect's parse(): a pool,
 * the dialect's part of the location's configuration, an authenticated
 * caller, the body read.
 * Included by the fuzz targets after the source file they test.
 */


#ifndef _NGX_FUZZ_REQUEST_H_INCLUDED_
#define _NGX_FUZZ_REQUEST_H_INCLUDED_


#include <stdint.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_render.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"
#include "ngx_http_notify_store.h"


void ngx_fuzz_set_time(time_t now);


static ngx_log_t         ngx_fuzz_log;


/*
 * The directory: the real one (directory/), loaded once from this JSON.
 * The caller (u-1) and u-2 are members of the team, its first channel and
 * the chat; the caller's app is installed for both and in the team and
 * the chat, so that the parse goes on past the checks.
 */

static const char  ngx_fuzz_directory_json[] =
    "{\"users\": ["
    "  {\"id\": \"u-1\", \"upn\": \"u1@example.org\", \"displayName\": \"U\","
    "   \"preferredLanguage\": \"en\", \"installedApps\": [\"fuzz-app\"]},"
    "  {\"id\": \"u-2\", \"upn\": \"u2@example.org\","
    "   \"installedApps\": [\"fuzz-app\"]},"
    "  {\"id\": \"u-3\", \"upn\": \"u3@example.org\", \"active\": false}],"
    " \"groups\": ["
    "  {\"id\": \"g-1\", \"upn\": \"g1@example.org\","
    "   \"members\": [\"u-1\", \"u-2\", \"u-3\"]}],"
    " \"teams\": ["
    "  {\"id\": \"t-1\", \"members\": [\"u-1\", \"u-2\"],"
    "   \"installedApps\": [\"fuzz-app\"],"
    "   \"channels\": [{\"id\": \"c-1\"},"
    "                {\"id\": \"c-2\", \"members\": [\"u-3\"]}]}],"
    " \"chats\": ["
    "  {\"id\": \"c-1\", \"members\": [\"u-1\", \"u-2\"],"
    "   \"installedApps\": [\"fuzz-app\"]}]}";


static ngx_http_notify_directory_t *
ngx_fuzz_directory(void)
{
    json_t                              *root;
    ngx_conf_t                           cf;
    static ngx_str_t                     name = ngx_string("fuzz");
    static ngx_pool_t                   *pool;
    static ngx_http_notify_directory_t  *dir;

    if (dir != NULL) {
        return dir;
    }

    /* kept for the process's life, as a configuration's pool would be */
    pool = ngx_create_pool(4096, &ngx_fuzz_log);

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;
    cf.log = &ngx_fuzz_log;

    root = json_loads(ngx_fuzz_directory_json, 0, NULL);
    dir = root ? ngx_http_notify_directory_load(&cf, &name, root) : NULL;
    json_decref(root);

    if (dir == NULL) {
        abort();
    }

    return dir;
}


static ngx_str_t *
ngx_fuzz_strs(ngx_pool_t *pool, ngx_array_t *a, const char **v)
{
    ngx_str_t  *s;

    (void) ngx_array_init(a, pool, 4, sizeof(ngx_str_t));

    for ( /* void */ ; *v; v++) {
        s = ngx_array_push(a);
        s->data = (u_char *) *v;
        s->len = strlen(*v);
    }

    return a->elts;
}


/* flags: 1 privileged roles, 2 delegated (scopes), 4 no content type */

static ngx_http_request_t *
ngx_fuzz_request(ngx_pool_t *pool, const char *uri, ngx_uint_t flags,
    ngx_http_notify_req_t **nrp)
{
    static const char  *roles[] = { "access_as_application",
                                    "PrivilegedNotificationDispatcher",
                                    "TeamsActivity.Send", NULL };
    static const char  *app_roles[] = { "TeamsActivity.Send.Group", NULL };
    static const char  *scopes[] = { "TeamsActivity.Send", NULL };
    static const char  *none[] = { NULL };
    static ngx_str_t    json = ngx_string("application/json");

    ngx_table_elt_t               *ct;
    ngx_http_request_t            *r;
    ngx_http_notify_req_t         *nr;
    ngx_http_notify_principal_t   *p;

    ngx_fuzz_set_time(1795000000);
    ngx_http_notify_module.ctx_index = 0;
    ngx_http_core_module.ctx_index = 1;

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    r->pool = pool;
    r->main = r;
    r->connection = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    r->connection->log = &ngx_fuzz_log;
    r->ctx = ngx_pcalloc(pool, 2 * sizeof(void *));
    r->main_conf = ngx_pcalloc(pool, 2 * sizeof(void *));
    r->srv_conf = ngx_pcalloc(pool, 2 * sizeof(void *));
    r->loc_conf = ngx_pcalloc(pool, 2 * sizeof(void *));
    r->method = NGX_HTTP_POST;
    ngx_str_set(&r->method_name, "POST");
    r->uri.data = (u_char *) uri;
    r->uri.len = strlen(uri);
    (void) ngx_list_init(&r->headers_in.headers, pool, 4,
                         sizeof(ngx_table_elt_t));
    (void) ngx_list_init(&r->headers_out.headers, pool, 4,
                         sizeof(ngx_table_elt_t));

    if (!(flags & 4)) {
        ct = ngx_list_push(&r->headers_in.headers);
        ngx_memzero(ct, sizeof(ngx_table_elt_t));
        ct->hash = 1;
        ngx_str_set(&ct->key, "Content-Type");
        ct->value = json;
        r->headers_in.content_type = ct;
    }

    r->loc_conf[1] = ngx_pcalloc(pool, sizeof(ngx_http_core_loc_conf_t));

    p = ngx_pcalloc(pool, sizeof(ngx_http_notify_principal_t));
    ngx_str_set(&p->app_id, "fuzz-app");
    ngx_str_set(&p->object_id, "u-1");
    ngx_str_set(&p->user_name, "u1@example.org");
    ngx_str_set(&p->tenant_id, "tenant-1");
    ngx_str_set(&p->subject, "fuzz");
    ngx_str_set(&p->claims, "{\"upn\": \"u1@example.org\"}");
    p->expires = 1795003600;
    ngx_fuzz_strs(pool, &p->roles, (flags & 1) ? roles
                                   : (flags & 2) ? none : app_roles);
    ngx_fuzz_strs(pool, &p->scopes, (flags & 2) ? scopes : none);

    nr = ngx_pcalloc(pool, sizeof(ngx_http_notify_req_t));
    nr->request = r;
    nr->directory = ngx_fuzz_directory();
    nr->op = ngx_pcalloc(pool, sizeof(ngx_http_notify_store_op_t));
    ngx_str_set(&nr->tenant, "fuzz-tenant");
    nr->auth = ngx_pcalloc(pool, sizeof(ngx_http_notify_auth_t));
    nr->auth->principal = p;
    (void) ngx_array_init(&nr->recipients, pool, 8, sizeof(ngx_str_t));

    ngx_http_notify_get_ctx(r)->inbound = nr;

    *nrp = nr;

    return r;
}


/* what the flow's cleanup frees */

/*
 * The texts the store keeps, written from the struct, are the bytes that
 * jansson writes of the notification's JSON (with the id the store would
 * put in); the feed's view is the same without "sender" and "tenant".
 * A difference aborts.
 */

static void ngx_fuzz_json_write(json_t *json, ngx_pool_t *pool);
static void ngx_fuzz_render_note(ngx_http_notify_req_t *nr, json_t *json,
    ngx_pool_t *pool);
static void ngx_fuzz_render_check(ngx_http_notify_req_t *nr,
    ngx_http_notify_outbound_req_t *out, json_t *more, json_t *want_json);


static void
ngx_fuzz_note_text(ngx_http_notify_req_t *nr, ngx_pool_t *pool)
{
    char          *want_full, *want_view;
    json_t        *json;
    ngx_str_t      full, view;
    json_error_t   err;

    ngx_str_set(&nr->note.id, "0000000000000000");

    json = ngx_http_notify_note_json(&nr->note, &err);

    if (ngx_http_notify_note_text(&nr->note, pool, &full, &view, &err)
        != NGX_OK)
    {
        if (json != NULL) {
            abort();
        }

        return;
    }

    if (json == NULL) {
        abort();
    }

    ngx_fuzz_render_note(nr, json, pool);

    want_full = json_dumps(json, JSON_COMPACT);
    (void) json_object_del(json, "sender");
    (void) json_object_del(json, "tenant");
    want_view = json_dumps(json, JSON_COMPACT);

    if (want_full == NULL || want_view == NULL
        || full.len != ngx_strlen(want_full)
        || ngx_memcmp(full.data, want_full, full.len) != 0
        || view.len != ngx_strlen(want_view)
        || ngx_memcmp(view.data, want_view, view.len) != 0)
    {
        abort();
    }

    free(want_full);
    free(want_view);
    json_decref(json);
    ngx_str_null(&nr->note.id);
}


/*
 * An outbound body (ngx_http_notify_render_note()): the notification's text
 * with "recipients" and a dialect's keys after it, as jansson would write
 * the notification's object with them set.  "json" is left as it was.
 */

static void
ngx_fuzz_render_note(ngx_http_notify_req_t *nr, json_t *json,
    ngx_pool_t *pool)
{
    json_t                          *copy, *more;
    ngx_http_notify_outbound_req_t   out;

    static ngx_str_t  ids[] = {
        ngx_string("ada@example.org"),
        ngx_string("o\"brien\\\xc3\xa9\x01")
    };

    nr->note.recipients = ids;
    nr->note.nrecipients = 2;

    ngx_memzero(&out, sizeof(ngx_http_notify_outbound_req_t));
    out.pool = pool;

    more = json_pack("{s:s, s:{s:i, s:n}}", "Type", "8",
                     "WorkItem", "Id", 42, "Title");
    copy = json_deep_copy(json);

    if (more == NULL || copy == NULL
        || json_object_set_new(copy, "recipients",
                               json_pack("[s#, s#]",
                                         ids[0].data, (int) ids[0].len,
                                         ids[1].data, (int) ids[1].len))
           != 0
        || json_object_update(copy, more) != 0)
    {
        abort();
    }

    ngx_fuzz_render_check(nr, &out, more, copy);

    /* and with no keys of a dialect's */

    (void) json_object_del(copy, "Type");
    (void) json_object_del(copy, "WorkItem");
    ngx_fuzz_render_check(nr, &out, NULL, copy);

    json_decref(copy);
    json_decref(more);

    nr->note.recipients = NULL;
    nr->note.nrecipients = 0;
}


static void
ngx_fuzz_render_check(ngx_http_notify_req_t *nr,
    ngx_http_notify_outbound_req_t *out, json_t *more, json_t *want_json)
{
    char       *want;
    ngx_str_t   text;

    want = json_dumps(want_json, JSON_COMPACT);

    if (ngx_http_notify_render_note(out, &nr->note, more, &text) != NGX_OK
        || want == NULL
        || text.len != ngx_strlen(want)
        || ngx_memcmp(text.data, want, text.len) != 0)
    {
        abort();
    }

    free(want);
}


/* the writer of answers, on all that a body may hold, as jansson writes */

static void
ngx_fuzz_json_write(json_t *json, ngx_pool_t *pool)
{
    char    *want;
    size_t   len;
    u_char  *p, *last;

    want = json_dumps(json, JSON_COMPACT|JSON_ENCODE_ANY);
    len = ngx_http_notify_json_size(json);

    if (want == NULL || len != ngx_strlen(want)) {
        abort();
    }

    p = ngx_pnalloc(pool, len);
    last = ngx_http_notify_json_write(p, json);

    if ((size_t) (last - p) != len || ngx_memcmp(p, want, len) != 0) {
        abort();
    }

    free(want);
}


static void
ngx_fuzz_done(ngx_http_notify_req_t *nr, ngx_pool_t *pool)
{
    json_decref(nr->body);
    ngx_http_notify_note_free(&nr->note);
    json_decref(nr->answer);
    json_decref(nr->unresolved);
    json_decref(nr->fields);
    json_decref(nr->op->answer);
    ngx_destroy_pool(pool);
}


/*
 * A location's part of the configuration for one dialect, in "pool", as
 * merged with its defaults (or NULL: the dialect has none)
 */

static void *
ngx_fuzz_conf(ngx_pool_t *pool, ngx_http_notify_dialect_t *dialect)
{
    void        *prev, *conf;
    ngx_conf_t   cf;

    if (dialect->create_loc_conf == NULL) {
        return NULL;
    }

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;
    cf.log = &ngx_fuzz_log;

    prev = dialect->create_loc_conf(&cf);
    conf = dialect->create_loc_conf(&cf);

    if (dialect->merge_loc_conf) {
        (void) dialect->merge_loc_conf(&cf, prev, conf);
    }

    return conf;
}


/*
 * One input through the dialect: a request to "uri" by a caller of kind
 * "caller", with the input as its body (a copy of exactly its size), its
 * request checks, then parse-and-validate; then everything is freed.
 */

static void
ngx_fuzz_parse(ngx_pool_t *pool, ngx_http_notify_dialect_t *dialect,
    void *conf, const char *uri, ngx_uint_t caller, const uint8_t *data,
    size_t size)
{
    ngx_http_notify_req_t  *nr;

    (void) ngx_fuzz_request(pool, uri, caller, &nr);
    nr->dialect = dialect;
    nr->conf = conf;

    nr->raw.len = size;
    nr->raw.data = ngx_pnalloc(pool, size);
    ngx_memcpy(nr->raw.data, data, size);

    nr->note.dialect = dialect->name;
    nr->note.tenant = nr->tenant;

    if ((nr->dialect->check_request == NULL
         || nr->dialect->check_request(nr) == NGX_OK)
        && nr->dialect->parse(nr) == NGX_OK)
    {
        ngx_fuzz_note_text(nr, pool);
    }

    if (nr->body != NULL) {
        ngx_fuzz_json_write(nr->body, pool);
    }

    ngx_fuzz_done(nr, pool);
}


#endif /* _NGX_FUZZ_REQUEST_H_INCLUDED_ */

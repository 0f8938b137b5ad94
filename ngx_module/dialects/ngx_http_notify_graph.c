
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The Microsoft Graph dialect: sendActivityNotification in the scope of a
 * team, a user or a chat, and teamwork/sendActivityNotificationToRecipients,
 * as Graph's own clients send them:
 *
 *   POST [...]/teams/{teamId}/sendActivityNotification             204
 *   POST [...]/users/{userId | upn}/teamwork/sendActivityNotification  204
 *   POST [...]/chats/{chatId}/sendActivityNotification             204
 *   POST [...]/teamwork/sendActivityNotificationToRecipients       202
 *
 * with or without a version prefix (/v1.0, /beta, or anything the location
 * puts before), the action also in its namespace-qualified form
 * (microsoft.graph.sendActivityNotification), segments without regard to
 * case.  Errors are Graph's {"error": {"code", "message", "innerError"}},
 * and every answer carries "request-id" and "client-request-id" headers.
 *
 * The activity types and their template texts come from the Teams app
 * manifest of "notify_graph_manifest".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_jwt.h"
#include "ngx_http_notify_directory.h"

#include <openssl/rand.h>


#define NGX_HTTP_NOTIFY_GRAPH_MAX_MEMBERS     10000
#define NGX_HTTP_NOTIFY_GRAPH_MAX_RECIPIENTS  100
#define NGX_HTTP_NOTIFY_GRAPH_PREVIEW         150
#define NGX_HTTP_NOTIFY_GRAPH_MAX_SEGMENTS    16
#define NGX_HTTP_NOTIFY_GRAPH_GUID_LEN        36


typedef enum {
    NGX_HTTP_NOTIFY_GRAPH_TEAM = 0,
    NGX_HTTP_NOTIFY_GRAPH_USER,
    NGX_HTTP_NOTIFY_GRAPH_CHAT,
    NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS
} ngx_http_notify_graph_route_e;


typedef enum {
    NGX_HTTP_NOTIFY_GRAPH_AAD_USER = 0,
    NGX_HTTP_NOTIFY_GRAPH_TEAM_MEMBERS,
    NGX_HTTP_NOTIFY_GRAPH_CHANNEL_MEMBERS,
    NGX_HTTP_NOTIFY_GRAPH_CHAT_MEMBERS
} ngx_http_notify_graph_kind_e;


/* one entry of the manifest's activities.activityTypes */
typedef struct {
    ngx_str_t                       type;
    ngx_str_t                       template;
} ngx_http_notify_graph_activity_t;


typedef struct {
    ngx_str_t                       file;
    ngx_str_t                       app_name;    /* name.short: {actor} */
    ngx_array_t                     activities;  /* of the above */
} ngx_http_notify_graph_manifest_t;


/* the graph part of a location's configuration */
typedef struct {
    ngx_http_notify_graph_manifest_t  *manifest;  /* notify_graph_manifest */
} ngx_http_notify_graph_conf_t;


/* the dialect's state of one request (nr->data) */
typedef struct {
    ngx_http_notify_graph_route_e   route;
    ngx_str_t                       id;          /* team, user or chat of
                                                    the path */
    ngx_http_notify_team_t         *team;
    ngx_http_notify_chat_t         *chat;
    ngx_http_notify_user_t          user;        /* the user of the path */
    ngx_http_notify_user_t          caller;      /* delegated: the caller's
                                                    user, an empty id when
                                                    the directory has none */
    unsigned                        delegated:1;
    unsigned                        rsc:1;       /* app-only, allowed by the
                                                    resource-specific role
                                                    alone */

    /* the body's parts, borrowed from nr->body */
    json_t                         *recipient;
    json_t                         *recipients;

    ngx_str_t                       request_id;
    ngx_str_t                       client_request_id;
    u_char                          guid[NGX_HTTP_NOTIFY_GRAPH_GUID_LEN];
} ngx_http_notify_graph_ctx_t;


static void *ngx_http_notify_graph_create_conf(ngx_conf_t *cf);
static char *ngx_http_notify_graph_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_notify_graph_manifest(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_http_notify_graph_ctx_t *ngx_http_notify_graph_ctx(
    ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_graph_check_request(
    ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_graph_route(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx);
static ngx_int_t ngx_http_notify_graph_permissions(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx);
static ngx_uint_t ngx_http_notify_graph_holds(ngx_array_t *names,
    ngx_str_t *name);
static u_char *ngx_http_notify_graph_list(u_char *buf, size_t size,
    ngx_array_t *names, ngx_int_t rsc);
static ngx_int_t ngx_http_notify_graph_scope(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx);
static ngx_int_t ngx_http_notify_graph_may_notify(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, ngx_http_notify_user_t *user);
static ngx_int_t ngx_http_notify_graph_not_authorized(
    ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_graph_parse(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_graph_json_type(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_graph_parameters(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx);
static ngx_int_t ngx_http_notify_graph_prop(ngx_http_notify_req_t *nr,
    json_t *obj, const char *name, json_type type, ngx_uint_t required,
    const char *where, json_t **out);
static ngx_int_t ngx_http_notify_graph_chain_id(ngx_http_notify_req_t *nr,
    json_t *v, json_int_t *id);
static ngx_int_t ngx_http_notify_graph_template_parameters(
    ngx_http_notify_req_t *nr, json_t *params);
static ngx_int_t ngx_http_notify_graph_topic(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *topic, json_t **url);
static ngx_int_t ngx_http_notify_graph_entity(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *value);
static ngx_int_t ngx_http_notify_graph_recipient(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *rcpt,
    ngx_http_notify_graph_kind_e *kind);
static ngx_int_t ngx_http_notify_graph_title(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *activity, json_t *params,
    ngx_str_t *title);
static ngx_int_t ngx_http_notify_graph_param(json_t *params, ngx_str_t *name,
    ngx_str_t *value);
static size_t ngx_http_notify_graph_cut(const char *s, size_t len,
    size_t chars);
static ngx_int_t ngx_http_notify_graph_expand(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_graph_add(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *rcpt);
static ngx_int_t ngx_http_notify_graph_add_user(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, ngx_http_notify_user_t *user);
static ngx_uint_t ngx_http_notify_graph_caller(
    ngx_http_notify_graph_ctx_t *ctx, ngx_str_t *user_id);
static ngx_int_t ngx_http_notify_graph_add_members(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, ngx_array_t *members,
    ngx_http_notify_channel_t *channel);
static ngx_int_t ngx_http_notify_graph_answer(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_graph_send_answer(ngx_http_notify_req_t *nr,
    json_t *answer);
static ngx_int_t ngx_http_notify_graph_send_error(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_graph_ids(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx);
static ngx_int_t ngx_http_notify_graph_bad(ngx_http_notify_req_t *nr,
    const char *fmt, ...);
static ngx_int_t ngx_http_notify_graph_schema(ngx_http_notify_req_t *nr,
    const char *name);
static ngx_uint_t ngx_http_notify_graph_eq(ngx_str_t *s, const char *lit);
static ngx_uint_t ngx_http_notify_graph_segments(u_char *p, u_char *last,
    ngx_str_t *seg, ngx_uint_t max);
static ngx_int_t ngx_http_notify_graph_unescape(ngx_pool_t *pool,
    ngx_str_t *s);
static char *ngx_http_notify_graph_manifest_error(ngx_conf_t *cf,
    json_t *root, ngx_str_t *name, const char *fmt, ...);
static ngx_int_t ngx_http_notify_graph_pstr(ngx_pool_t *pool, json_t *s,
    ngx_str_t *out);


static ngx_command_t  ngx_http_notify_graph_commands[] = {

    { ngx_string("notify_graph_manifest"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_notify_graph_manifest,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


ngx_http_notify_dialect_t  ngx_http_notify_graph_dialect = {
    ngx_string("graph"),
    NGX_HTTP_POST,
    ngx_null_string,                   /* Graph's own permission rules */
    NULL,
    ngx_http_notify_graph_check_request,
    ngx_http_notify_graph_parse,
    NULL,
    ngx_http_notify_graph_expand,
    ngx_http_notify_graph_answer,
    ngx_http_notify_graph_send_answer,
    ngx_http_notify_graph_send_error,
    0,
    ngx_http_notify_graph_commands,
    ngx_http_notify_graph_create_conf,
    ngx_http_notify_graph_merge_conf,
    NULL,
    NULL,                              /* no outbound half yet */
    NULL,
    0                                /* no limit of recipients */
};


/* Graph says the same of a body of another type, not JSON, no object */

#define NGX_HTTP_NOTIFY_GRAPH_UNREADABLE                                     \
    "Unable to read JSON request payload. Please ensure Content-Type header" \
    " is set and payload is of valid JSON format."

static const ngx_http_notify_json_body_t  ngx_http_notify_graph_body = {
    NGX_HTTP_NOTIFY_ERR_INVALID,
    NGX_HTTP_BAD_REQUEST,
    NULL,
    NGX_HTTP_NOTIFY_GRAPH_UNREADABLE,
    NGX_HTTP_NOTIFY_GRAPH_UNREADABLE,
    0,
    0
};


static ngx_str_t  ngx_http_notify_graph_kinds[] = {
    ngx_string("aadUserNotificationRecipient"),
    ngx_string("teamMembersNotificationRecipient"),
    ngx_string("channelMembersNotificationRecipient"),
    ngx_string("chatMembersNotificationRecipient"),
    ngx_null_string
};


/* what each route is called in messages, and its resource-specific role */

static const char  *ngx_http_notify_graph_scopes[] = {
    "team", "user", "chat", "recipients"
};

static ngx_str_t  ngx_http_notify_graph_rsc[] = {
    ngx_string("TeamsActivity.Send.Group"),
    ngx_string("TeamsActivity.Send.User"),
    ngx_string("TeamsActivity.Send.Chat"),
    ngx_string("TeamsActivity.Send.User")
};


static ngx_http_notify_graph_ctx_t *
ngx_http_notify_graph_ctx(ngx_http_notify_req_t *nr)
{
    ngx_http_notify_graph_ctx_t  *ctx;

    if (nr->data) {
        return nr->data;
    }

    ctx = ngx_pcalloc(nr->request->pool,
                      sizeof(ngx_http_notify_graph_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    nr->data = ctx;

    return ctx;
}


/*
 * After the token: which action of which resource, may the caller use it,
 * and does the resource of the path exist.
 */

static ngx_int_t
ngx_http_notify_graph_check_request(ngx_http_notify_req_t *nr)
{
    ngx_str_t                     id;
    ngx_http_notify_graph_ctx_t  *ctx;
    ngx_http_notify_principal_t  *p;

    ctx = ngx_http_notify_graph_ctx(nr);
    if (ctx == NULL) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    if (ngx_http_notify_graph_route(nr, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_notify_graph_permissions(nr, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    p = nr->auth->principal;

    if (ctx->delegated
        && ngx_http_notify_caller_user(nr->directory, p, &id) == NGX_OK)
    {
        (void) ngx_http_notify_directory_user_id(nr->directory, &id,
                                                 &ctx->caller);
    }

    switch (ctx->route) {

    case NGX_HTTP_NOTIFY_GRAPH_TEAM:
        ctx->team = ngx_http_notify_directory_team(nr->directory, &ctx->id);

        if (ctx->team == NULL) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_NOT_FOUND,
                                        NGX_HTTP_NOT_FOUND,
                                        "No team found with id '%V'.",
                                        &ctx->id);
        }

        break;

    case NGX_HTTP_NOTIFY_GRAPH_CHAT:
        ctx->chat = ngx_http_notify_directory_chat(nr->directory, &ctx->id);

        if (ctx->chat == NULL) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_NOT_FOUND,
                                        NGX_HTTP_NOT_FOUND,
                                        "No chat found with id '%V'.",
                                        &ctx->id);
        }

        break;

    case NGX_HTTP_NOTIFY_GRAPH_USER:
        if (ngx_http_notify_directory_user(nr->directory, &ctx->id,
                                           &ctx->user)
            != NGX_OK)
        {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_NOT_FOUND,
                                        NGX_HTTP_NOT_FOUND,
                                        "No user found with id or user"
                                        " principal name '%V'.", &ctx->id);
        }

        break;

    default:
        break;
    }

    return ngx_http_notify_graph_scope(nr, ctx);
}


/* the route, from the last segments of the (decoded) URI */

static ngx_int_t
ngx_http_notify_graph_route(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx)
{
    u_char              *last;
    ngx_str_t            seg[4], action;
    ngx_http_request_t  *r;

    r = nr->request;
    last = r->uri.data + r->uri.len;

    if (last > r->uri.data && last[-1] == '/') {
        last--;
    }

    /* seg[0] is the last segment, seg[1] the one before, ... */

    ngx_memzero(seg, sizeof(seg));

    (void) ngx_http_notify_graph_segments(r->uri.data, last, seg, 4);

    action = seg[0];

    if (action.len > 16
        && ngx_strncasecmp(action.data, (u_char *) "microsoft.graph.", 16)
           == 0)
    {
        action.data += 16;
        action.len -= 16;
    }

    if (ngx_http_notify_graph_eq(&action,
                                 "sendActivityNotificationToRecipients")
        && ngx_http_notify_graph_eq(&seg[1], "teamwork"))
    {
        ctx->route = NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS;
        return NGX_OK;
    }

    if (ngx_http_notify_graph_eq(&action, "sendActivityNotification")) {

        if (seg[1].len && ngx_http_notify_graph_eq(&seg[2], "teams")) {
            ctx->route = NGX_HTTP_NOTIFY_GRAPH_TEAM;
            ctx->id = seg[1];
            return NGX_OK;
        }

        if (seg[1].len && ngx_http_notify_graph_eq(&seg[2], "chats")) {
            ctx->route = NGX_HTTP_NOTIFY_GRAPH_CHAT;
            ctx->id = seg[1];
            return NGX_OK;
        }

        if (ngx_http_notify_graph_eq(&seg[1], "teamwork")
            && seg[2].len && ngx_http_notify_graph_eq(&seg[3], "users"))
        {
            ctx->route = NGX_HTTP_NOTIFY_GRAPH_USER;
            ctx->id = seg[2];
            return NGX_OK;
        }
    }

    return ngx_http_notify_graph_bad(nr, "Resource not found for the segment"
                                     " '%V'.", &seg[0]);
}


/*
 * App-only tokens (no "scp") need TeamsActivity.Send or the route's
 * resource-specific role; delegated tokens need the scope
 * TeamsActivity.Send.  A refusal lists what the token holds as Graph does:
 * the scopes, or the roles apart from the resource-specific consent grants.
 */

static ngx_int_t
ngx_http_notify_graph_permissions(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx)
{
    u_char                       *p, *g;
    ngx_str_t                    *rsc;
    ngx_array_t                  *have;
    ngx_http_notify_principal_t  *pr;
    u_char                        list[384], grants[384];

    static ngx_str_t  send = ngx_string("TeamsActivity.Send");

    pr = nr->auth->principal;
    ctx->delegated = (pr->scopes.nelts > 0);

    have = ctx->delegated ? &pr->scopes : &pr->roles;
    rsc = &ngx_http_notify_graph_rsc[ctx->route];

    if (ngx_http_notify_graph_holds(have, &send)) {
        return NGX_OK;
    }

    if (!ctx->delegated && ngx_http_notify_graph_holds(have, rsc)) {
        ctx->rsc = 1;
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                  "notify: graph: the caller lacks the permission to send");

    if (ctx->delegated) {
        p = ngx_http_notify_graph_list(list, sizeof(list), have, -1);

        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_FORBIDDEN,
                                    NGX_HTTP_FORBIDDEN,
                                    "Missing scope permissions on the"
                                    " request. API requires one of '%V'."
                                    " Scopes on the request '%*s'.",
                                    &send, (size_t) (p - list), list);
    }

    p = ngx_http_notify_graph_list(list, sizeof(list), have, 0);
    g = ngx_http_notify_graph_list(grants, sizeof(grants), have, 1);

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_FORBIDDEN,
                                NGX_HTTP_FORBIDDEN,
                                "Missing role permissions on the request."
                                " API requires one of '%V, %V'. Roles on the"
                                " request '%*s'. Resource specific consent"
                                " grants on the request '%*s'.", &send, rsc,
                                (size_t) (p - list), list,
                                (size_t) (g - grants), grants);
}


/* roles and scopes are compared exactly */

static ngx_uint_t
ngx_http_notify_graph_holds(ngx_array_t *names, ngx_str_t *name)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    s = names->elts;

    for (i = 0; i < names->nelts; i++) {
        if (s[i].len == name->len
            && ngx_strncmp(s[i].data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * "a, b, c" into buf, "..." when it does not fit; rsc 1: only the
 * resource-specific consent grants (Graph's are named "*.Group", "*.Chat"
 * and "*.User"), 0: all but them, -1: all.
 */

static u_char *
ngx_http_notify_graph_list(u_char *buf, size_t size, ngx_array_t *names,
    ngx_int_t rsc)
{
    u_char      *p, *last;
    size_t       n;
    ngx_str_t   *s;
    ngx_int_t    is;
    ngx_uint_t   i;

    p = buf;
    last = buf + size - sizeof("...");
    s = names->elts;

    for (i = 0; i < names->nelts; i++) {

        if (rsc != -1) {
            is = (s[i].len > 6
                  && ngx_strncmp(s[i].data + s[i].len - 6, ".Group", 6) == 0)
                 || (s[i].len > 5
                     && (ngx_strncmp(s[i].data + s[i].len - 5, ".Chat", 5)
                         == 0
                         || ngx_strncmp(s[i].data + s[i].len - 5, ".User", 5)
                            == 0));

            if (is != rsc) {
                continue;
            }
        }

        n = s[i].len + (p > buf ? 2 : 0);

        if ((size_t) (last - p) < n) {
            p = ngx_cpymem(p, "...", 3);
            break;
        }

        p = ngx_sprintf(p, "%s%V", p > buf ? ", " : "", &s[i]);
    }

    return p;
}


/*
 * Where the caller may notify, once the resource of the path is known.
 * Resource-specific consent holds where the app is installed: an app
 * allowed by the route's resource-specific role alone must be installed
 * in the team, the chat or the user's personal scope of the path (for the
 * bulk action, for each recipient: ngx_http_notify_graph_may_notify()).
 * A delegated call acts for the signed-in user, who must be a member of
 * the team or chat of the path.
 */

static ngx_int_t
ngx_http_notify_graph_scope(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx)
{
    ngx_array_t                  *members;
    ngx_http_notify_apps_t       *apps;
    ngx_http_notify_principal_t  *pr;

    pr = nr->auth->principal;

    switch (ctx->route) {

    case NGX_HTTP_NOTIFY_GRAPH_TEAM:
        members = &ctx->team->members;
        apps = &ctx->team->apps;
        break;

    case NGX_HTTP_NOTIFY_GRAPH_CHAT:
        members = &ctx->chat->members;
        apps = &ctx->chat->apps;
        break;

    case NGX_HTTP_NOTIFY_GRAPH_USER:
        members = NULL;
        apps = &ctx->user.apps;
        break;

    default:
        return NGX_OK;
    }

    if (ctx->delegated) {
        if (members == NULL
            || ngx_http_notify_directory_member(members, &ctx->caller.id))
        {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                      "notify: graph: the caller is not a member of the %s"
                      " \"%V\"", ngx_http_notify_graph_scopes[ctx->route],
                      &ctx->id);

        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_FORBIDDEN,
                                    NGX_HTTP_FORBIDDEN,
                                    "The signed-in user is not a member of"
                                    " the %s '%V'.",
                                    ngx_http_notify_graph_scopes[ctx->route],
                                    &ctx->id);
    }

    if (!ctx->rsc || ngx_http_notify_directory_installed(apps, &pr->app_id)) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                  "notify: graph: the app \"%V\" is not installed %s the %s"
                  " \"%V\"", &pr->app_id,
                  ctx->route == NGX_HTTP_NOTIFY_GRAPH_USER ? "for" : "in",
                  ngx_http_notify_graph_scopes[ctx->route], &ctx->id);

    return ngx_http_notify_graph_not_authorized(nr);
}


/*
 * A user named as a recipient: in the scope of a team or a chat, one of
 * its members when the app holds only the resource-specific role or the
 * call is delegated; in bulk, with the resource-specific role alone, a
 * user the app is installed for.
 */

static ngx_int_t
ngx_http_notify_graph_may_notify(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, ngx_http_notify_user_t *user)
{
    ngx_array_t                  *members;
    ngx_http_notify_principal_t  *pr;

    pr = nr->auth->principal;

    switch (ctx->route) {

    case NGX_HTTP_NOTIFY_GRAPH_TEAM:
    case NGX_HTTP_NOTIFY_GRAPH_CHAT:
        members = (ctx->route == NGX_HTTP_NOTIFY_GRAPH_TEAM)
                  ? &ctx->team->members : &ctx->chat->members;

        if (!(ctx->rsc || ctx->delegated)
            || ngx_http_notify_directory_member(members, &user->id))
        {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                      "notify: graph: the recipient \"%V\" is not a member"
                      " of the %s \"%V\"", &user->id,
                      ngx_http_notify_graph_scopes[ctx->route], &ctx->id);
        break;

    case NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS:
        if (!ctx->rsc
            || ngx_http_notify_directory_installed(&user->apps, &pr->app_id))
        {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                      "notify: graph: the app \"%V\" is not installed for"
                      " the recipient \"%V\"", &pr->app_id, &user->id);
        break;

    default:
        return NGX_OK;
    }

    return ngx_http_notify_graph_not_authorized(nr);
}


/* Graph's answer when the app may not notify in a scope, or a recipient */

static ngx_int_t
ngx_http_notify_graph_not_authorized(ngx_http_notify_req_t *nr)
{
    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_FORBIDDEN,
                                NGX_HTTP_FORBIDDEN,
                                "Application with AAD App Id '%V' is not"
                                " authorized to generate custom text"
                                " notifications about '%V' to the recipient."
                                " Ensure that the expected Teams app is"
                                " installed in the target scope (user, team,"
                                " or chat).", &nr->auth->principal->app_id,
                                &nr->request->uri);
}


static ngx_int_t
ngx_http_notify_graph_parse(ngx_http_notify_req_t *nr)
{
    json_t                            *topic, *activity, *chain, *preview;
    json_t                            *content, *params, *url, *v, *comment;
    size_t                             i;
    json_int_t                         chain_id;
    ngx_str_t                          title, part;
    ngx_uint_t                         route;
    ngx_http_notify_graph_ctx_t       *ctx;
    ngx_http_notify_graph_kind_e       kind;
    ngx_http_notify_principal_t       *p;
    u_char                             num[NGX_INT64_LEN + 1];

    ctx = nr->data;
    route = ctx->route;

    if (nr->raw.len == 0) {
        return ngx_http_notify_graph_bad(nr, "Empty Payload. JSON content"
                                         " expected.");
    }

    if (ngx_http_notify_graph_json_type(nr->request) != NGX_OK) {
        return ngx_http_notify_graph_bad(nr,
                                         NGX_HTTP_NOTIFY_GRAPH_UNREADABLE);
    }

    if (ngx_http_notify_json_object_body(nr, &ngx_http_notify_graph_body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_notify_graph_parameters(nr, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the types, in the order of the parameters' table */

    url = NULL;
    chain = NULL;
    chain_id = 0;
    content = NULL;
    params = NULL;

    if (ngx_http_notify_graph_prop(nr, nr->body, "topic", JSON_OBJECT, 1,
                                   NULL, &topic)
        == NGX_ERROR
        || ngx_http_notify_graph_prop(nr, nr->body, "activityType",
                                      JSON_STRING, 1, NULL, &activity)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    chain = json_object_get(nr->body, "chainId");

    if (chain && json_is_null(chain)) {
        chain = NULL;
    }

    if (chain
        && ngx_http_notify_graph_chain_id(nr, chain, &chain_id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_notify_graph_prop(nr, nr->body, "previewText", JSON_OBJECT,
                                   0, NULL, &preview)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (preview
        && (ngx_http_notify_graph_prop(nr, preview, "content", JSON_STRING, 0,
                                       NULL, &content)
            == NGX_ERROR
            || ngx_http_notify_graph_prop(nr, preview, "contentType",
                                          JSON_STRING, 0, NULL, &v)
               == NGX_ERROR))
    {
        return NGX_ERROR;
    }

    if (ngx_http_notify_graph_prop(nr, nr->body, "templateParameters",
                                   JSON_ARRAY, 0, NULL, &params)
        == NGX_ERROR
        || (params
            && ngx_http_notify_graph_template_parameters(nr, params)
               != NGX_OK)
        || ngx_http_notify_graph_prop(nr, nr->body, "teamsAppId",
                                      JSON_STRING, 0, NULL, &v)
           == NGX_ERROR
        || ngx_http_notify_graph_prop(nr, nr->body, "iconId", JSON_STRING, 0,
                                      NULL, &v)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if ((route == NGX_HTTP_NOTIFY_GRAPH_TEAM
         || route == NGX_HTTP_NOTIFY_GRAPH_CHAT)
        && ngx_http_notify_graph_prop(nr, nr->body, "recipient", JSON_OBJECT,
                                      1, NULL, &ctx->recipient)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (route == NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS
        && ngx_http_notify_graph_prop(nr, nr->body, "recipients", JSON_ARRAY,
                                      1, NULL, &ctx->recipients)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    /* the rules */

    if (ngx_http_notify_graph_topic(nr, ctx, topic, &url) != NGX_OK) {
        return NGX_ERROR;
    }

    if (json_string_length(activity) == 0) {
        return ngx_http_notify_graph_bad(nr, "The activityType must not be"
                                         " empty.");
    }

    if (ctx->recipient
        && ngx_http_notify_graph_recipient(nr, ctx, ctx->recipient, &kind)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->recipients) {
        if (json_array_size(ctx->recipients) == 0
            || json_array_size(ctx->recipients)
               > NGX_HTTP_NOTIFY_GRAPH_MAX_RECIPIENTS)
        {
            return ngx_http_notify_graph_bad(nr, "The recipients must be"
                                    " from 1 to %d recipients.",
                                    NGX_HTTP_NOTIFY_GRAPH_MAX_RECIPIENTS);
        }

        json_array_foreach(ctx->recipients, i, v) {
            if (!json_is_object(v)) {
                return ngx_http_notify_graph_schema(nr, "recipients");
            }

            if (ngx_http_notify_graph_recipient(nr, ctx, v, &kind)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_notify_graph_title(nr, ctx, activity, params, &title)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the canonical notification */

    p = nr->auth->principal;

    comment = content
              ? json_stringn(json_string_value(content),
                             ngx_http_notify_graph_cut(
                                 json_string_value(content),
                                 json_string_length(content),
                                 NGX_HTTP_NOTIFY_GRAPH_PREVIEW))
              : json_null();

    nr->note.event = json_incref(activity);
    nr->note.title = json_stringn((char *) title.data, title.len);
    nr->note.url = json_incref(url);
    nr->note.comment = comment;
    nr->note.notified = json_null();
    nr->note.sender = p->sender;
    nr->note.topic = json_incref(json_object_get(topic, "value"));
    nr->note.chain_id = chain ? json_integer(chain_id) : json_null();

    if (nr->note.title == NULL || nr->note.comment == NULL
        || nr->note.topic == NULL || nr->note.chain_id == NULL)
    {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "the notification could not be built");
    }

    /* the same chainId from the same app replaces the recipient's entry */

    if (chain) {
        part.data = num;
        part.len = ngx_sprintf(num, "%L", (int64_t) chain_id) - num;

        if (ngx_http_notify_key(nr, &part, 1, nr->chain) != NGX_OK) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "chain key failed");
        }

        nr->has_chain = 1;
    }

    return NGX_OK;
}


/* application/json, with or without parameters, or application/...+json */

static ngx_int_t
ngx_http_notify_graph_json_type(ngx_http_request_t *r)
{
    ngx_str_t  type;

    if (r->headers_in.content_type != NULL
        && ngx_http_notify_json_media_type(&r->headers_in.content_type->value,
                                           0, &type))
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* the action's parameters: anything else is an error, as in Graph */

static ngx_int_t
ngx_http_notify_graph_parameters(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx)
{
    json_t      *v;
    ngx_uint_t   i, ok;
    const char  *key;

    static const char  *common[] = {
        "topic", "activityType", "chainId", "previewText",
        "templateParameters", "teamsAppId", "iconId", NULL
    };

    json_object_foreach(nr->body, key, v) {

        if (ngx_strncmp(key, "@odata.", 7) == 0) {
            continue;
        }

        ok = 0;

        for (i = 0; common[i]; i++) {
            if (ngx_strcmp(key, common[i]) == 0) {
                ok = 1;
                break;
            }
        }

        if (ngx_strcmp(key, "recipient") == 0
            && (ctx->route == NGX_HTTP_NOTIFY_GRAPH_TEAM
                || ctx->route == NGX_HTTP_NOTIFY_GRAPH_CHAT))
        {
            ok = 1;
        }

        if (ngx_strcmp(key, "recipients") == 0
            && ctx->route == NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS)
        {
            ok = 1;
        }

        if (!ok) {
            return ngx_http_notify_graph_bad(nr, "The parameter '%s' in the"
                                    " request payload is not a valid"
                                    " parameter for the operation '%s'.", key,
                                    ctx->route
                                    == NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS
                                    ? "sendActivityNotificationToRecipients"
                                    : "sendActivityNotification");
        }
    }

    return NGX_OK;
}


/*
 * A property of a JSON type: NGX_OK and *out when there, NGX_DECLINED and
 * NULL when absent or null (an error when required), NGX_ERROR with the
 * error set when of another type.  "where" names the object for messages.
 */

static ngx_int_t
ngx_http_notify_graph_prop(ngx_http_notify_req_t *nr, json_t *obj,
    const char *name, json_type type, ngx_uint_t required, const char *where,
    json_t **out)
{
    json_t  *v;

    *out = NULL;
    v = json_object_get(obj, name);

    if (v == NULL || json_is_null(v)) {
        if (!required) {
            return NGX_DECLINED;
        }

        if (where) {
            return ngx_http_notify_graph_bad(nr, "The property '%s' of %s is"
                                             " required.", name, where);
        }

        return ngx_http_notify_graph_bad(nr, "The parameter '%s' is"
                                         " required.", name);
    }

    if (json_typeof(v) != type) {
        return ngx_http_notify_graph_schema(nr, name);
    }

    *out = v;

    return NGX_OK;
}


/* Int64: a JSON integer, or its decimal text (IEEE754Compatible) */

static ngx_int_t
ngx_http_notify_graph_chain_id(ngx_http_notify_req_t *nr, json_t *v,
    json_int_t *id)
{
    size_t       i, len;
    uint64_t     n, max;
    ngx_uint_t   neg;
    const char  *s;

    if (json_is_integer(v)) {
        *id = json_integer_value(v);
        return NGX_OK;
    }

    if (!json_is_string(v)) {
        return ngx_http_notify_graph_schema(nr, "chainId");
    }

    s = json_string_value(v);
    len = json_string_length(v);
    neg = (len && s[0] == '-');
    i = neg;
    max = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

    if (i == len || len - i > 19) {
        return ngx_http_notify_graph_schema(nr, "chainId");
    }

    for (n = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9'
            || n > (max - (s[i] - '0')) / 10)
        {
            return ngx_http_notify_graph_schema(nr, "chainId");
        }

        n = n * 10 + (s[i] - '0');
    }

    *id = neg ? (json_int_t) (0 - n) : (json_int_t) n;

    return NGX_OK;
}


/* [{"name": "...", "value": "..."}, ...] */

static ngx_int_t
ngx_http_notify_graph_template_parameters(ngx_http_notify_req_t *nr,
    json_t *params)
{
    size_t   i;
    json_t  *kv, *v;

    json_array_foreach(params, i, kv) {
        if (!json_is_object(kv)) {
            return ngx_http_notify_graph_schema(nr, "templateParameters");
        }

        if (ngx_http_notify_graph_prop(nr, kv, "name", JSON_STRING, 1,
                                       "a template parameter", &v)
            == NGX_ERROR
            || ngx_http_notify_graph_prop(nr, kv, "value", JSON_STRING, 0,
                                          NULL, &v)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * topic: {"source": "entityUrl" | "text", "value", "webUrl"}.  *url is
 * what the feed links to: the webUrl, else the entity URL.
 */

static ngx_int_t
ngx_http_notify_graph_topic(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *topic, json_t **url)
{
    json_t     *source, *value, *web;
    ngx_str_t   s;

    if (ngx_http_notify_graph_prop(nr, topic, "source", JSON_STRING, 1,
                                   "the topic", &source)
        == NGX_ERROR
        || ngx_http_notify_graph_prop(nr, topic, "value", JSON_STRING, 1,
                                      "the topic", &value)
           == NGX_ERROR
        || ngx_http_notify_graph_prop(nr, topic, "webUrl", JSON_STRING, 0,
                                      NULL, &web)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    s.data = (u_char *) json_string_value(source);
    s.len = json_string_length(source);

    if (!ngx_http_notify_graph_eq(&s, "entityUrl")
        && !ngx_http_notify_graph_eq(&s, "text"))
    {
        return ngx_http_notify_graph_schema(nr, "source");
    }

    if (json_string_length(value) == 0) {
        return ngx_http_notify_graph_bad(nr, "The value of the topic must not"
                                         " be empty.");
    }

    if (web
        && ngx_http_notify_valid_http_url(json_string_value(web),
                                          json_string_length(web))
           != NGX_OK)
    {
        return ngx_http_notify_graph_bad(nr, "The webUrl of the topic must be"
                                         " an absolute http or https URL.");
    }

    if (ngx_http_notify_graph_eq(&s, "text")) {
        if (web == NULL) {
            return ngx_http_notify_graph_bad(nr, "The topic needs a webUrl"
                                             " when its source is 'text'.");
        }

        *url = web;
        return NGX_OK;
    }

    if (ngx_http_notify_graph_entity(nr, ctx, value) != NGX_OK) {
        return NGX_ERROR;
    }

    *url = web ? web : value;

    return NGX_OK;
}


/*
 * An entityUrl topic is a Graph URL (any host, version v1.0 or beta) of
 * the team or chat of the path or a child of it (channel, tab, message,
 * reply); for a user, one of the user's installed apps or an app of the
 * catalog; for the bulk action, an app of the catalog.
 */

static ngx_int_t
ngx_http_notify_graph_entity(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *value)
{
    u_char                       *p, *q, *last;
    ngx_str_t                     seg[NGX_HTTP_NOTIFY_GRAPH_MAX_SEGMENTS];
    ngx_str_t                     id;
    ngx_uint_t                    n, i, ok;
    ngx_http_notify_user_t        user;

    p = (u_char *) json_string_value(value);
    last = p + json_string_length(value);
    ok = 0;

    if (ngx_http_notify_valid_http_url((char *) p, last - p) != NGX_OK) {
        goto invalid;
    }

    /* the path, without the query and the fragment */

    p = (u_char *) ngx_strstr(p, "://") + 3;
    p = ngx_strlchr(p, last, '/');

    if (p == NULL) {
        goto invalid;
    }

    for (q = p; q < last; q++) {
        if (*q == '?' || *q == '#') {
            last = q;
            break;
        }
    }

    if (last > p + 1 && last[-1] == '/') {
        last--;
    }

    /* the segments, in order this time */

    n = ngx_http_notify_graph_segments(p + 1, last, seg,
                                       NGX_HTTP_NOTIFY_GRAPH_MAX_SEGMENTS);

    if (n == 0 || n > NGX_HTTP_NOTIFY_GRAPH_MAX_SEGMENTS) {
        goto invalid;
    }

    for (i = 0; i < n / 2; i++) {
        id = seg[i];
        seg[i] = seg[n - 1 - i];
        seg[n - 1 - i] = id;
    }

    for (i = 0; i < n; i++) {
        if (seg[i].len == 0) {
            goto invalid;
        }
    }

    if (!ngx_http_notify_graph_eq(&seg[0], "v1.0")
        && !ngx_http_notify_graph_eq(&seg[0], "beta"))
    {
        goto invalid;
    }

    if (n < 3) {
        goto invalid;
    }

    id = seg[2];

    if (ngx_http_notify_graph_unescape(nr->request->pool, &id) != NGX_OK) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    switch (ctx->route) {

    case NGX_HTTP_NOTIFY_GRAPH_TEAM:
    case NGX_HTTP_NOTIFY_GRAPH_CHAT:
        ok = ngx_http_notify_graph_eq(&seg[1],
                                      ctx->route == NGX_HTTP_NOTIFY_GRAPH_TEAM
                                      ? "teams" : "chats")
             && id.len == ctx->id.len
             && ngx_strncmp(id.data, ctx->id.data, id.len) == 0;
        break;

    case NGX_HTTP_NOTIFY_GRAPH_USER:
        if (ngx_http_notify_graph_eq(&seg[1], "users")) {
            ok = (n == 6
                  && ngx_http_notify_directory_user(nr->directory, &id,
                                                    &user)
                     == NGX_OK
                  && user.id.len == ctx->user.id.len
                  && ngx_memcmp(user.id.data, ctx->user.id.data,
                                user.id.len)
                     == 0
                  && ngx_http_notify_graph_eq(&seg[3], "teamwork")
                  && ngx_http_notify_graph_eq(&seg[4], "installedApps"));
            break;
        }

        /* fall through */

    default:
        ok = (n == 4 && ngx_http_notify_graph_eq(&seg[1], "appCatalogs")
              && ngx_http_notify_graph_eq(&seg[2], "teamsApps"));
        break;
    }

    if (ok) {
        return NGX_OK;
    }

invalid:

    switch (ctx->route) {

    case NGX_HTTP_NOTIFY_GRAPH_TEAM:
    case NGX_HTTP_NOTIFY_GRAPH_CHAT:
        return ngx_http_notify_graph_bad(nr, "The entityUrl of the topic must"
                                         " be the Microsoft Graph URL of the"
                                         " %s of the request or of one of"
                                         " its child resources.",
                                         ngx_http_notify_graph_scopes[
                                             ctx->route]);

    case NGX_HTTP_NOTIFY_GRAPH_USER:
        return ngx_http_notify_graph_bad(nr, "The entityUrl of the topic must"
                                         " be the Microsoft Graph URL of an"
                                         " app installed for the user of the"
                                         " request, or of an app of the"
                                         " Teams app catalog.");

    default:
        return ngx_http_notify_graph_bad(nr, "The entityUrl of the topic must"
                                         " be the Microsoft Graph URL of an"
                                         " app of the Teams app catalog.");
    }
}


/* one recipient: its type, its properties, and whether the route has it */

static ngx_int_t
ngx_http_notify_graph_recipient(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *rcpt,
    ngx_http_notify_graph_kind_e *kind)
{
    json_t      *type, *v;
    ngx_str_t    name, id;
    ngx_uint_t   k, ok;
    const char  *prop;

    if (ngx_http_notify_graph_prop(nr, rcpt, "@odata.type", JSON_STRING, 1,
                                   "a recipient", &type)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    /* "#microsoft.graph.x", "microsoft.graph.x", "Microsoft.Teams...x" */

    name.data = (u_char *) json_string_value(type);
    name.len = json_string_length(type);

    if (name.len && name.data[0] == '#') {
        name.data++;
        name.len--;
    }

    if (name.len > 16
        && ngx_strncasecmp(name.data, (u_char *) "microsoft.graph.", 16) == 0)
    {
        name.data += 16;
        name.len -= 16;

    } else if (name.len > 25
               && ngx_strncasecmp(name.data,
                                  (u_char *) "Microsoft.Teams.GraphSvc.", 25)
                  == 0)
    {
        name.data += 25;
        name.len -= 25;
    }

    for (k = 0; ngx_http_notify_graph_kinds[k].len; k++) {
        if (name.len == ngx_http_notify_graph_kinds[k].len
            && ngx_strncasecmp(name.data, ngx_http_notify_graph_kinds[k].data,
                               name.len)
               == 0)
        {
            break;
        }
    }

    if (ngx_http_notify_graph_kinds[k].len == 0) {
        return ngx_http_notify_graph_bad(nr, "The recipient type '%s' is not"
                                         " supported.",
                                         json_string_value(type));
    }

    *kind = k;

    switch (ctx->route) {

    case NGX_HTTP_NOTIFY_GRAPH_TEAM:
        ok = (k != NGX_HTTP_NOTIFY_GRAPH_CHAT_MEMBERS);
        break;

    case NGX_HTTP_NOTIFY_GRAPH_CHAT:
        ok = (k == NGX_HTTP_NOTIFY_GRAPH_AAD_USER
              || k == NGX_HTTP_NOTIFY_GRAPH_CHAT_MEMBERS);
        break;

    default:
        ok = (k == NGX_HTTP_NOTIFY_GRAPH_AAD_USER);
        break;
    }

    if (!ok && ctx->route == NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS) {
        return ngx_http_notify_graph_bad(nr, "Only recipients of the type"
                                         " 'aadUserNotificationRecipient'"
                                         " can be notified in bulk.");
    }

    if (!ok) {
        return ngx_http_notify_graph_bad(nr, "A recipient of the type '%V'"
                                         " cannot be notified in the scope"
                                         " of a %s.",
                                         &ngx_http_notify_graph_kinds[k],
                                         ngx_http_notify_graph_scopes[
                                             ctx->route]);
    }

    switch (k) {

    case NGX_HTTP_NOTIFY_GRAPH_AAD_USER:
        prop = "userId";
        break;

    case NGX_HTTP_NOTIFY_GRAPH_CHAT_MEMBERS:
        prop = "chatId";
        break;

    default:
        prop = "teamId";
        break;
    }

    if (ngx_http_notify_graph_prop(nr, rcpt, prop, JSON_STRING, 1,
                                   "the recipient", &v)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (json_string_length(v) == 0) {
        return ngx_http_notify_graph_bad(nr, "The property '%s' of the"
                                         " recipient must not be empty.",
                                         prop);
    }

    if (k != NGX_HTTP_NOTIFY_GRAPH_AAD_USER) {
        id.data = (u_char *) json_string_value(v);
        id.len = json_string_length(v);

        if (id.len != ctx->id.len
            || ngx_strncmp(id.data, ctx->id.data, id.len) != 0)
        {
            return ngx_http_notify_graph_bad(nr, "The %s of the recipient"
                                             " must be the %s of the"
                                             " request.", prop,
                                             ngx_http_notify_graph_scopes[
                                                 ctx->route]);
        }
    }

    if (k == NGX_HTTP_NOTIFY_GRAPH_CHANNEL_MEMBERS) {
        if (ngx_http_notify_graph_prop(nr, rcpt, "channelId", JSON_STRING, 1,
                                       "the recipient", &v)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (json_string_length(v) == 0) {
            return ngx_http_notify_graph_bad(nr, "The property 'channelId' of"
                                             " the recipient must not be"
                                             " empty.");
        }
    }

    return NGX_OK;
}


/*
 * The activity's text: the manifest's templateText with "{actor}" (the
 * app's name, or the delegated user's) and the template parameters put
 * in; for the reserved "systemDefault", the parameter systemDefaultText.
 */

static ngx_int_t
ngx_http_notify_graph_title(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *activity, json_t *params,
    ngx_str_t *title)
{
    u_char                            *p, *q, *end, *dst;
    size_t                             len;
    ngx_str_t                          type, name, value, actor;
    ngx_uint_t                         i, pass;
    ngx_http_notify_graph_activity_t  *a, *found;
    ngx_http_notify_graph_manifest_t  *m;
    ngx_http_notify_principal_t       *pr;
    ngx_http_notify_graph_conf_t      *gcf;

    static ngx_str_t  system = ngx_string("systemDefaultText");

    type.data = (u_char *) json_string_value(activity);
    type.len = json_string_length(activity);

    if (type.len == 13
        && ngx_strncmp(type.data, "systemDefault", 13) == 0)
    {
        if (ngx_http_notify_graph_param(params, &system, title) != NGX_OK
            || title->len == 0)
        {
            return ngx_http_notify_graph_bad(nr, "The activityType"
                                             " 'systemDefault' needs the"
                                             " template parameter"
                                             " 'systemDefaultText'.");
        }

        return NGX_OK;
    }

    gcf = nr->conf;
    m = gcf->manifest;
    found = NULL;

    if (m) {
        a = m->activities.elts;

        for (i = 0; i < m->activities.nelts; i++) {
            if (a[i].type.len == type.len
                && ngx_strncmp(a[i].type.data, type.data, type.len) == 0)
            {
                found = &a[i];
                break;
            }
        }
    }

    if (found == NULL) {
        return ngx_http_notify_graph_bad(nr, "The activityType '%V' is not"
                                         " declared in the Teams app"
                                         " manifest (activities"
                                         ".activityTypes).", &type);
    }

    pr = nr->auth->principal;

    if (ctx->delegated) {
        actor = ctx->caller.display_name.len
                ? ctx->caller.display_name
                : (pr->user_name.len ? pr->user_name : pr->object_id);

    } else {
        actor = m->app_name.len ? m->app_name : pr->sender;
    }

    /* twice: the length, then the text */

    len = 0;
    dst = NULL;

    for (pass = 0; pass < 2; pass++) {
        p = found->template.data;
        end = p + found->template.len;

        while (p < end) {
            q = p + 1;

            if (*p == '{') {
                while (q < end
                       && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')
                           || (*q >= '0' && *q <= '9') || *q == '_'
                           || *q == '-' || *q == '.'))
                {
                    q++;
                }

                if (q < end && *q == '}' && q > p + 1) {
                    name.data = p + 1;
                    name.len = q - p - 1;

                    if (name.len == 5 && ngx_strncmp(name.data, "actor", 5)
                                         == 0)
                    {
                        value = actor;

                    } else if (ngx_http_notify_graph_param(params, &name,
                                                           &value)
                               != NGX_OK)
                    {
                        return ngx_http_notify_graph_bad(nr, "The template"
                                         " parameter '%V' of the activityType"
                                         " '%V' is missing.", &name, &type);
                    }

                    if (pass) {
                        dst = ngx_cpymem(dst, value.data, value.len);

                    } else {
                        len += value.len;
                    }

                    p = q + 1;
                    continue;
                }

                q = p + 1;
            }

            if (pass) {
                *dst++ = *p;

            } else {
                len++;
            }

            p = q;
        }

        if (pass == 0) {
            dst = ngx_pnalloc(nr->request->pool, len + 1);
            if (dst == NULL) {
                return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR,
                                            "out of memory");
            }

            title->data = dst;
            title->len = len;
        }
    }

    return NGX_OK;
}


/* a template parameter's value by its name (a null value is empty) */

static ngx_int_t
ngx_http_notify_graph_param(json_t *params, ngx_str_t *name,
    ngx_str_t *value)
{
    size_t   i;
    json_t  *kv, *n, *v;

    json_array_foreach(params, i, kv) {
        n = json_object_get(kv, "name");

        if (json_string_length(n) != name->len
            || ngx_strncmp(json_string_value(n), name->data, name->len) != 0)
        {
            continue;
        }

        v = json_object_get(kv, "value");

        value->data = (u_char *) (json_is_string(v) ? json_string_value(v)
                                                    : "");
        value->len = json_is_string(v) ? json_string_length(v) : 0;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* the bytes of the first "chars" characters of UTF-8 text */

static size_t
ngx_http_notify_graph_cut(const char *s, size_t len, size_t chars)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++) {
        if (((u_char) s[i] & 0xc0) != 0x80) {
            if (n == chars) {
                return i;
            }

            n++;
        }
    }

    return len;
}


static ngx_int_t
ngx_http_notify_graph_expand(ngx_http_notify_req_t *nr)
{
    size_t                        i;
    json_t                       *rcpt;
    ngx_http_notify_graph_ctx_t  *ctx;

    ctx = nr->data;

    switch (ctx->route) {

    case NGX_HTTP_NOTIFY_GRAPH_USER:
        return ngx_http_notify_graph_add_user(nr, ctx, &ctx->user);

    case NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS:
        json_array_foreach(ctx->recipients, i, rcpt) {
            if (ngx_http_notify_graph_add(nr, ctx, rcpt) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;

    default:
        return ngx_http_notify_graph_add(nr, ctx, ctx->recipient);
    }
}


/* one recipient of the body, checked by ngx_http_notify_graph_recipient() */

static ngx_int_t
ngx_http_notify_graph_add(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, json_t *rcpt)
{
    ngx_str_t                     id;
    ngx_http_notify_graph_kind_e  kind;
    ngx_http_notify_user_t        user;
    ngx_http_notify_channel_t    *channel;

    if (ngx_http_notify_graph_recipient(nr, ctx, rcpt, &kind) != NGX_OK) {
        return NGX_ERROR;
    }


    switch (kind) {

    case NGX_HTTP_NOTIFY_GRAPH_AAD_USER:
        id.data = (u_char *) json_string_value(json_object_get(rcpt,
                                                               "userId"));
        id.len = json_string_length(json_object_get(rcpt, "userId"));

        if (ngx_http_notify_directory_user(nr->directory, &id, &user)
            != NGX_OK)
        {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_NOT_FOUND,
                                        NGX_HTTP_NOT_FOUND,
                                        "No user found with id or user"
                                        " principal name '%V'.", &id);
        }

        if (ngx_http_notify_graph_may_notify(nr, ctx, &user) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_notify_graph_add_user(nr, ctx, &user);

    case NGX_HTTP_NOTIFY_GRAPH_CHANNEL_MEMBERS:
        id.data = (u_char *) json_string_value(json_object_get(rcpt,
                                                               "channelId"));
        id.len = json_string_length(json_object_get(rcpt, "channelId"));

        channel = ngx_http_notify_directory_channel(ctx->team, &id);

        if (channel == NULL) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_NOT_FOUND,
                                        NGX_HTTP_NOT_FOUND,
                                        "No channel found with id '%V' in"
                                        " the team '%V'.", &id, &ctx->id);
        }

        return ngx_http_notify_graph_add_members(nr, ctx, &channel->members,
                                                 channel);

    case NGX_HTTP_NOTIFY_GRAPH_CHAT_MEMBERS:
        return ngx_http_notify_graph_add_members(nr, ctx, &ctx->chat->members,
                                                 NULL);

    default: /* NGX_HTTP_NOTIFY_GRAPH_TEAM_MEMBERS */
        return ngx_http_notify_graph_add_members(nr, ctx, &ctx->team->members,
                                                 NULL);
    }
}


/* a user named as the recipient: never the delegated caller */

static ngx_int_t
ngx_http_notify_graph_add_user(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, ngx_http_notify_user_t *user)
{
    if (ngx_http_notify_graph_caller(ctx, &user->id)) {
        return ngx_http_notify_graph_bad(nr, "A delegated caller cannot send"
                                         " an activity notification to"
                                         " themselves.");
    }

    if (ngx_http_notify_add_user(nr, user) == NGX_ERROR) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "out of memory");
    }

    return NGX_OK;
}


/* is it the delegated caller's user (by id: the directory gives values) */

static ngx_uint_t
ngx_http_notify_graph_caller(ngx_http_notify_graph_ctx_t *ctx,
    ngx_str_t *user_id)
{
    return ctx->delegated
           && ctx->caller.id.len
           && ctx->caller.id.len == user_id->len
           && ngx_memcmp(ctx->caller.id.data, user_id->data, user_id->len)
              == 0;
}


/*
 * The members of a team, channel or chat, but not the delegated caller.
 * Graph does not notify the members of a team of more than 10 000: nobody
 * is notified, the answer is still a success, and the log says why.
 */

static ngx_int_t
ngx_http_notify_graph_add_members(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx, ngx_array_t *members,
    ngx_http_notify_channel_t *channel)
{
    ngx_uint_t                i;
    ngx_http_notify_user_t  **users;

    if (members->nelts > NGX_HTTP_NOTIFY_GRAPH_MAX_MEMBERS) {
        if (channel) {
            ngx_log_error(NGX_LOG_WARN, nr->request->connection->log, 0,
                          "notify: graph: the channel \"%V\" of the team"
                          " \"%V\" has %ui members, more than %d: nobody is"
                          " notified", &channel->id, &ctx->id, members->nelts,
                          NGX_HTTP_NOTIFY_GRAPH_MAX_MEMBERS);

        } else {
            ngx_log_error(NGX_LOG_WARN, nr->request->connection->log, 0,
                          "notify: graph: the team \"%V\" has %ui members,"
                          " more than %d: nobody is notified", &ctx->id,
                          members->nelts, NGX_HTTP_NOTIFY_GRAPH_MAX_MEMBERS);
        }

        return NGX_OK;
    }

    users = members->elts;

    for (i = 0; i < members->nelts; i++) {
        if (ngx_http_notify_graph_caller(ctx, &users[i]->id)) {
            continue;
        }

        if (ngx_http_notify_add_user(nr, users[i]) == NGX_ERROR) {
            return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                        NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "out of memory");
        }
    }

    return NGX_OK;
}


/* 204 (202 for the bulk action), no body; nobody to tell: nothing stored */

static ngx_int_t
ngx_http_notify_graph_answer(ngx_http_notify_req_t *nr)
{
    ngx_http_notify_graph_ctx_t  *ctx;

    ctx = nr->data;

    nr->success = (ctx->route == NGX_HTTP_NOTIFY_GRAPH_RECIPIENTS)
                  ? NGX_HTTP_ACCEPTED : NGX_HTTP_NO_CONTENT;

    if (nr->recipients.nelts == 0) {
        ngx_log_error(NGX_LOG_INFO, nr->request->connection->log, 0,
                      "notify: graph: nobody to notify, nothing stored");
        nr->skip_store = 1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_graph_send_answer(ngx_http_notify_req_t *nr, json_t *answer)
{
    ngx_http_request_t           *r;
    ngx_http_notify_graph_ctx_t  *ctx;

    r = nr->request;
    ctx = nr->data;

    if (ngx_http_notify_graph_ids(nr, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_notify_send_empty(r, nr->success);
}


static ngx_int_t
ngx_http_notify_graph_send_error(ngx_http_notify_req_t *nr)
{
    u_char                       *p;
    json_t                       *json;
    ngx_tm_t                      tm;
    ngx_str_t                     message;
    ngx_int_t                     rc;
    const char                   *code;
    ngx_http_request_t           *r;
    ngx_http_notify_graph_ctx_t  *ctx;
    u_char                        date[sizeof("1970-01-01T00:00:00")];

    r = nr->request;

    ctx = ngx_http_notify_graph_ctx(nr);
    if (ctx == NULL || ngx_http_notify_graph_ids(nr, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    message = nr->message;

    switch (nr->status) {

    case NGX_HTTP_BAD_REQUEST:
        code = "BadRequest";
        break;

    case NGX_HTTP_UNAUTHORIZED:
        code = "InvalidAuthenticationToken";

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: unauthenticated: %V", &nr->message);

        switch (nr->auth ? nr->auth->error : NGX_HTTP_NOTIFY_AUTH_NONE) {

        case NGX_HTTP_NOTIFY_AUTH_NONE:
            ngx_str_set(&message, "Access token is empty.");
            break;

        case NGX_HTTP_NOTIFY_AUTH_EXPIRED:
            ngx_str_set(&message,
                        "Access token has expired or is not yet valid.");
            break;

        case NGX_HTTP_NOTIFY_AUTH_MALFORMED:
            ngx_str_set(&message,
                        "CompactToken parsing failed with error code:"
                        " 80049217");
            break;

        default:
            ngx_str_set(&message, "Access token validation failure.");
            break;
        }

        if (ngx_http_notify_set_www_authenticate(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;

    case NGX_HTTP_FORBIDDEN:
        code = "Forbidden";
        break;

    case NGX_HTTP_NOT_FOUND:
        code = "NotFound";
        break;

    case NGX_HTTP_NOT_ALLOWED:
        code = "MethodNotAllowed";
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        code = "RequestEntityTooLarge";
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        code = "ServiceNotAvailable";
        break;

    default:
        code = "InternalServerError";
        ngx_str_set(&message, "An internal server error occurred.");
        break;
    }

    ngx_gmtime(ngx_time(), &tm);

    p = ngx_sprintf(date, "%4d-%02d-%02dT%02d:%02d:%02d",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
    *p = '\0';

    json = json_pack("{s:{s:s, s:s%, s:{s:s, s:s%, s:s%}}}",
                     "error",
                     "code", code,
                     "message", (char *) message.data, message.len,
                     "innerError",
                     "date", (char *) date,
                     "request-id", (char *) ctx->request_id.data,
                     ctx->request_id.len,
                     "client-request-id",
                     (char *) ctx->client_request_id.data,
                     ctx->client_request_id.len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_notify_send_json(r, nr->status, "application/json", json,
                                   0);
    json_decref(json);

    return rc;
}


/*
 * The "request-id" of this answer (a new GUID) and the caller's
 * "client-request-id" (or the request-id), as headers.
 */

static ngx_int_t
ngx_http_notify_graph_ids(ngx_http_notify_req_t *nr,
    ngx_http_notify_graph_ctx_t *ctx)
{
    u_char            *p;
    ngx_uint_t         i;
    ngx_table_elt_t   *h;
    u_char             rnd[16];

    if (ctx->request_id.len == 0) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            return NGX_ERROR;
        }

        rnd[6] = (rnd[6] & 0x0f) | 0x40;      /* version 4 */
        rnd[8] = (rnd[8] & 0x3f) | 0x80;      /* RFC 4122 variant */

        p = ngx_hex_dump(ctx->guid, rnd, 4);
        *p++ = '-';
        p = ngx_hex_dump(p, rnd + 4, 2);
        *p++ = '-';
        p = ngx_hex_dump(p, rnd + 6, 2);
        *p++ = '-';
        p = ngx_hex_dump(p, rnd + 8, 2);
        *p++ = '-';
        (void) ngx_hex_dump(p, rnd + 10, 6);

        ctx->request_id.data = ctx->guid;
        ctx->request_id.len = NGX_HTTP_NOTIFY_GRAPH_GUID_LEN;

        /* the caller's own id, if it is a sane header value */

        ctx->client_request_id = ctx->request_id;

        h = ngx_http_notify_header(&nr->request->headers_in.headers,
                                  "client-request-id");

        if (h && h->value.len && h->value.len <= 256) {
            for (i = 0; i < h->value.len; i++) {
                if (h->value.data[i] < 0x20 || h->value.data[i] > 0x7e) {
                    break;
                }
            }

            if (i == h->value.len) {
                ctx->client_request_id = h->value;
            }
        }
    }

    if (ngx_http_notify_set_header(nr->request, "request-id",
                                   &ctx->request_id)
        != NGX_OK
        || ngx_http_notify_set_header(nr->request, "client-request-id",
                                      &ctx->client_request_id)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_graph_bad(ngx_http_notify_req_t *nr, const char *fmt, ...)
{
    u_char   *p, buf[1024];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INVALID,
                                NGX_HTTP_BAD_REQUEST, "%*s",
                                (size_t) (p - buf), buf);
}


static ngx_int_t
ngx_http_notify_graph_schema(ngx_http_notify_req_t *nr, const char *name)
{
    return ngx_http_notify_graph_bad(nr, "Property %s in payload has a value"
                                     " that does not match schema.", name);
}


static ngx_uint_t
ngx_http_notify_graph_eq(ngx_str_t *s, const char *lit)
{
    size_t  len;

    len = ngx_strlen(lit);

    return s->len == len
           && ngx_strncasecmp(s->data, (u_char *) lit, len) == 0;
}


/*
 * The "/"-separated segments of [p, last), the last one first, at most
 * "max" of them; returns how many there are (max + 1: more than max).
 */

static ngx_uint_t
ngx_http_notify_graph_segments(u_char *p, u_char *last, ngx_str_t *seg,
    ngx_uint_t max)
{
    u_char      *end;
    ngx_uint_t   n;

    if (last == p) {
        return 0;
    }

    for (n = 0; /* void */ ; n++) {
        if (n == max) {
            return max + 1;
        }

        end = last;

        while (last > p && last[-1] != '/') {
            last--;
        }

        seg[n].data = last;
        seg[n].len = end - last;

        if (last == p) {
            return n + 1;
        }

        last--;                             /* the slash */
    }
}


/* %XX in a URL's path segment, into a copy from the pool */

static ngx_int_t
ngx_http_notify_graph_unescape(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *src, *dst, *start;

    if (ngx_strlchr(s->data, s->data + s->len, '%') == NULL) {
        return NGX_OK;
    }

    start = ngx_pnalloc(pool, s->len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    src = s->data;
    dst = start;

    ngx_unescape_uri(&dst, &src, s->len, 0);

    s->data = start;
    s->len = dst - start;

    return NGX_OK;
}


static void *
ngx_http_notify_graph_create_conf(ngx_conf_t *cf)
{
    ngx_http_notify_graph_conf_t  *gcf;

    gcf = ngx_palloc(cf->pool, sizeof(ngx_http_notify_graph_conf_t));
    if (gcf == NULL) {
        return NULL;
    }

    gcf->manifest = NGX_CONF_UNSET_PTR;

    return gcf;
}


static char *
ngx_http_notify_graph_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_notify_graph_conf_t *prev = parent;
    ngx_http_notify_graph_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->manifest, prev->manifest, NULL);

    return NGX_CONF_OK;
}


/*
 * "notify_graph_manifest <file>;": the Teams app manifest, for its
 * activities.activityTypes (type, templateText) and name.short.
 */

static char *
ngx_http_notify_graph_manifest(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_notify_graph_conf_t *gcf = conf;

    size_t                             i, j;
    json_t                            *root, *name, *acts, *types, *t, *v;
    ngx_str_t                         *value, file;
    json_error_t                       err;
    ngx_http_notify_graph_activity_t  *a, *all;
    ngx_http_notify_graph_manifest_t  *m;

    if (gcf->manifest != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    root = json_load_file((char *) file.data, 0, &err);

    if (root == NULL) {
        if (err.line < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_graph_manifest \"%V\": %s", &file,
                               err.text);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_graph_manifest \"%V\": %s at line %d,"
                               " column %d", &file, err.text, err.line,
                               err.column);
        }

        return NGX_CONF_ERROR;
    }

    if (!json_is_object(root)) {
        return ngx_http_notify_graph_manifest_error(cf, root, &file,
                                                    "not a JSON object");
    }

    m = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_graph_manifest_t));
    if (m == NULL) {
        json_decref(root);
        return NGX_CONF_ERROR;
    }

    m->file = file;

    /* name.short: who "{actor}" is in app-only calls */

    name = json_object_get(root, "name");
    v = json_is_object(name) ? json_object_get(name, "short") : NULL;

    if (json_is_string(v)
        && ngx_http_notify_graph_pstr(cf->pool, v, &m->app_name) != NGX_OK)
    {
        json_decref(root);
        return NGX_CONF_ERROR;
    }

    acts = json_object_get(root, "activities");

    if (acts && !json_is_null(acts) && !json_is_object(acts)) {
        return ngx_http_notify_graph_manifest_error(cf, root, &file,
                                             "\"activities\" must be an"
                                             " object");
    }

    types = json_is_object(acts) ? json_object_get(acts, "activityTypes")
                                 : NULL;

    if (types && !json_is_null(types) && !json_is_array(types)) {
        return ngx_http_notify_graph_manifest_error(cf, root, &file,
                                             "\"activities.activityTypes\""
                                             " must be an array");
    }

    if (ngx_array_init(&m->activities, cf->pool,
                       json_is_array(types) && json_array_size(types)
                       ? json_array_size(types) : 1,
                       sizeof(ngx_http_notify_graph_activity_t))
        != NGX_OK)
    {
        json_decref(root);
        return NGX_CONF_ERROR;
    }

    if (!json_is_array(types)) {
        types = NULL;
    }

    json_array_foreach(types, i, t) {
        v = json_is_object(t) ? json_object_get(t, "type") : NULL;

        if (!json_is_string(v) || json_string_length(v) == 0) {
            return ngx_http_notify_graph_manifest_error(cf, root, &file,
                                    "activities.activityTypes[%uz]: \"type\""
                                    " must be a non-empty string", i);
        }

        if (ngx_strcmp(json_string_value(v), "systemDefault") == 0) {
            return ngx_http_notify_graph_manifest_error(cf, root, &file,
                                    "activities.activityTypes[%uz]: the"
                                    " activity type \"systemDefault\" is"
                                    " reserved", i);
        }

        all = m->activities.elts;

        for (j = 0; j < m->activities.nelts; j++) {
            if (all[j].type.len == json_string_length(v)
                && ngx_strncmp(all[j].type.data, json_string_value(v),
                               all[j].type.len)
                   == 0)
            {
                return ngx_http_notify_graph_manifest_error(cf, root, &file,
                                    "activities.activityTypes[%uz]: the"
                                    " activity type \"%s\" is already"
                                    " declared by activities"
                                    ".activityTypes[%uz]", i,
                                    json_string_value(v), j);
            }
        }

        a = ngx_array_push(&m->activities);
        if (a == NULL) {
            json_decref(root);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_notify_graph_pstr(cf->pool, v, &a->type) != NGX_OK) {
            json_decref(root);
            return NGX_CONF_ERROR;
        }

        v = json_object_get(t, "templateText");

        if (!json_is_string(v)) {
            return ngx_http_notify_graph_manifest_error(cf, root, &file,
                                    "activities.activityTypes[%uz]:"
                                    " \"templateText\" must be a string", i);
        }

        if (ngx_http_notify_graph_pstr(cf->pool, v, &a->template)
            != NGX_OK)
        {
            json_decref(root);
            return NGX_CONF_ERROR;
        }
    }

    json_decref(root);

    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "notify: graph manifest \"%V\": %ui activity types",
                  &file, m->activities.nelts);

    gcf->manifest = m;

    return NGX_CONF_OK;
}


static char *
ngx_http_notify_graph_manifest_error(ngx_conf_t *cf, json_t *root,
    ngx_str_t *name, const char *fmt, ...)
{
    u_char   *p, buf[1024];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    json_decref(root);

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "notify_graph_manifest \"%V\":"
                       " %*s", name, (size_t) (p - buf), buf);

    return NGX_CONF_ERROR;
}


/* a copy of a JSON string in the pool */

static ngx_int_t
ngx_http_notify_graph_pstr(ngx_pool_t *pool, json_t *s, ngx_str_t *out)
{
    out->len = json_string_length(s);

    out->data = ngx_pnalloc(pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, json_string_value(s), out->len);
    out->data[out->len] = '\0';

    return NGX_OK;
}

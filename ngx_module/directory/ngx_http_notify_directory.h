
/*
 * Copyright (C) ngx_http_notify authors
 */


#ifndef _NGX_HTTP_NOTIFY_DIRECTORY_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_DIRECTORY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"


/*
 * The directory: who exists.  Loaded from a JSON file at configuration
 * time (notify_directory), kept in the configuration's pool, and so shared
 * read-only by all workers; a reload builds a new one.
 *
 * It answers by value: a user is copied into the caller's structure (its
 * strings are read-only, and live as long as the configuration), groups,
 * teams, channels and chats are read-only views.  Nobody compares what it
 * hands out: users are told apart by their ids, groups by theirs, so that
 * a directory elsewhere could answer the same way.
 */

/* the app ids (AAD App Ids) of the Teams apps installed in a scope */
typedef struct {
    ngx_str_t                  *ids;
    ngx_uint_t                  nids;
} ngx_http_notify_apps_t;


typedef struct {
    ngx_str_t                   id;            /* object id */
    ngx_str_t                   upn;           /* as written in the file */
    ngx_str_t                   display_name;
    ngx_str_t                   language;      /* preferred, may be empty */
    ngx_http_notify_apps_t      apps;          /* personal scope */
    unsigned                    active:1;
} ngx_http_notify_user_t;


typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   upn;           /* mail-like name, may be empty */
    ngx_str_t                   display_name;
    ngx_array_t                 members;       /* ngx_http_notify_user_t *,
                                                  each user once */
} ngx_http_notify_group_t;


typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   display_name;
    ngx_array_t                 members;       /* ngx_http_notify_user_t * */
} ngx_http_notify_channel_t;


typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   display_name;
    ngx_array_t                 members;       /* ngx_http_notify_user_t * */
    ngx_array_t                 channels;      /* ngx_http_notify_channel_t */
    ngx_http_notify_apps_t      apps;
} ngx_http_notify_team_t;


typedef struct {
    ngx_str_t                   id;
    ngx_array_t                 members;       /* ngx_http_notify_user_t * */
    ngx_http_notify_apps_t      apps;
} ngx_http_notify_chat_t;


/* "notify_directory <file>;", conf is ngx_http_notify_main_conf_t */
char *ngx_http_notify_directory_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* a directory from the file's JSON, in cf->pool; NULL when not valid */
ngx_http_notify_directory_t *ngx_http_notify_directory_load(ngx_conf_t *cf,
    ngx_str_t *file, json_t *root);

/* what a name is (ngx_http_notify_directory_name()) */
typedef enum {
    NGX_HTTP_NOTIFY_DIR_NONE = 0,
    NGX_HTTP_NOTIFY_DIR_USER,
    NGX_HTTP_NOTIFY_DIR_GROUP
} ngx_http_notify_dir_name_e;


/*
 * A user by object id, or by UPN (case-insensitive), into "user": NGX_OK,
 * or NGX_DECLINED when unknown.
 */
ngx_int_t ngx_http_notify_directory_user(ngx_http_notify_directory_t *dir,
    ngx_str_t *id_or_upn, ngx_http_notify_user_t *user);
/* by object id only */
ngx_int_t ngx_http_notify_directory_user_id(ngx_http_notify_directory_t *dir,
    ngx_str_t *id, ngx_http_notify_user_t *user);
/*
 * A recipient's name: a user of that id or UPN (into "user"), else a group
 * of that id or UPN ("group" set).  Either may be NULL: only what it is.
 */
ngx_http_notify_dir_name_e ngx_http_notify_directory_name(
    ngx_http_notify_directory_t *dir, ngx_str_t *name,
    ngx_http_notify_user_t *user, const ngx_http_notify_group_t **group);
ngx_http_notify_team_t *ngx_http_notify_directory_team(
    ngx_http_notify_directory_t *dir, ngx_str_t *id);
ngx_http_notify_channel_t *ngx_http_notify_directory_channel(
    ngx_http_notify_team_t *team, ngx_str_t *id);
ngx_http_notify_chat_t *ngx_http_notify_directory_chat(
    ngx_http_notify_directory_t *dir, ngx_str_t *id);

/*
 * Is the user of this id one of the members (of a group, team, channel or
 * chat)?  Never when the id is empty.
 */
ngx_uint_t ngx_http_notify_directory_member(ngx_array_t *members,
    ngx_str_t *user_id);

/* is the app (its AAD App Id, exactly) installed in the scope? */
ngx_uint_t ngx_http_notify_directory_installed(ngx_http_notify_apps_t *apps,
    ngx_str_t *app_id);


/*
 * The recipients of an inbound notification (ngx_http_notify_recipients.c):
 * user ids, each once, in nr->recipients.
 */
ngx_int_t ngx_http_notify_add_user(ngx_http_notify_req_t *nr,
    ngx_http_notify_user_t *user);
ngx_int_t ngx_http_notify_add_group(ngx_http_notify_req_t *nr,
    const ngx_http_notify_group_t *group);
ngx_int_t ngx_http_notify_add_name(ngx_http_notify_req_t *nr,
    ngx_http_notify_directory_t *dir, ngx_str_t *name);


#endif /* _NGX_HTTP_NOTIFY_DIRECTORY_H_INCLUDED_ */


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
    ngx_array_t                 members;       /* ngx_http_notify_user_t * */
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


typedef struct ngx_http_notify_directory_s  ngx_http_notify_directory_t;


/* "notify_directory <file>;", conf is ngx_http_notify_main_conf_t */
char *ngx_http_notify_directory_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* by object id, or by UPN (case-insensitive); NULL when unknown */
ngx_http_notify_user_t *ngx_http_notify_directory_user(
    ngx_http_notify_directory_t *dir, ngx_str_t *id_or_upn);
/* by object id only */
ngx_http_notify_user_t *ngx_http_notify_directory_user_id(
    ngx_http_notify_directory_t *dir, ngx_str_t *id);
ngx_http_notify_group_t *ngx_http_notify_directory_group(
    ngx_http_notify_directory_t *dir, ngx_str_t *id_or_upn);
ngx_http_notify_team_t *ngx_http_notify_directory_team(
    ngx_http_notify_directory_t *dir, ngx_str_t *id);
ngx_http_notify_channel_t *ngx_http_notify_directory_channel(
    ngx_http_notify_team_t *team, ngx_str_t *id);
ngx_http_notify_chat_t *ngx_http_notify_directory_chat(
    ngx_http_notify_directory_t *dir, ngx_str_t *id);

/* is the user one of the members (of a group, team, channel or chat)? */
ngx_uint_t ngx_http_notify_directory_member(ngx_array_t *members,
    ngx_http_notify_user_t *user);

/* is the app (its AAD App Id, exactly) installed in the scope? */
ngx_uint_t ngx_http_notify_directory_installed(ngx_http_notify_apps_t *apps,
    ngx_str_t *app_id);


/* the recipients of an inbound notification (ngx_http_notify_recipients.c) */
ngx_int_t ngx_http_notify_add_user(ngx_http_notify_req_t *nr,
    ngx_http_notify_user_t *user);
ngx_int_t ngx_http_notify_add_group(ngx_http_notify_req_t *nr,
    ngx_http_notify_group_t *group);
ngx_int_t ngx_http_notify_add_name(ngx_http_notify_req_t *nr,
    ngx_http_notify_directory_t *dir, ngx_str_t *name);


#endif /* _NGX_HTTP_NOTIFY_DIRECTORY_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_directory.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif


/*
 * The directory is read once per configuration: the JSON file is parsed
 * with jansson, checked, copied into cf->pool and the jansson tree freed.
 * Look-ups go through small open-addressing hash tables (linear probing,
 * at most half full) that live in the same pool, so after fork every
 * worker shares them read-only.
 */


#define NGX_HTTP_NOTIFY_DIR_WHERE_LEN  80


typedef struct {
    void                         *value;      /* NULL: empty slot */
    uint32_t                      hash;
} ngx_http_notify_dir_slot_t;


typedef struct {
    ngx_http_notify_dir_slot_t   *slots;
    ngx_uint_t                    mask;       /* number of slots - 1 */
    size_t                        offset;     /* of the ngx_str_t key */
    ngx_uint_t                    caseless;   /* ASCII case-insensitive */
} ngx_http_notify_dir_table_t;


/* the public structures come first, so that a pointer to one is both */

typedef struct {
    ngx_http_notify_user_t        user;
    ngx_uint_t                    mark;       /* last members list, at load */
} ngx_http_notify_dir_user_t;


typedef struct {
    ngx_http_notify_team_t        team;
    ngx_http_notify_dir_table_t   channels;   /* by id */
} ngx_http_notify_dir_team_t;


struct ngx_http_notify_directory_s {
    ngx_str_t                     file;

    ngx_http_notify_dir_user_t   *users;
    ngx_uint_t                    nusers;
    ngx_http_notify_group_t      *groups;
    ngx_uint_t                    ngroups;
    ngx_http_notify_dir_team_t   *teams;
    ngx_uint_t                    nteams;
    ngx_http_notify_chat_t       *chats;
    ngx_uint_t                    nchats;

    ngx_http_notify_dir_table_t   user_ids;
    ngx_http_notify_dir_table_t   user_upns;
    ngx_http_notify_dir_table_t   group_ids;
    ngx_http_notify_dir_table_t   group_upns;
    ngx_http_notify_dir_table_t   team_ids;
    ngx_http_notify_dir_table_t   chat_ids;
};


typedef struct {
    ngx_conf_t                   *cf;
    ngx_http_notify_directory_t  *dir;
    ngx_uint_t                    mark;       /* current members list */
} ngx_http_notify_dir_load_t;


static json_t *ngx_http_notify_dir_read(ngx_conf_t *cf, ngx_str_t *file);
static ngx_int_t ngx_http_notify_dir_load(ngx_http_notify_dir_load_t *ld,
    json_t *root);
static ngx_int_t ngx_http_notify_dir_section(ngx_http_notify_dir_load_t *ld,
    json_t *root, const char *name, u_char *where, json_t **section);
static ngx_int_t ngx_http_notify_dir_users(ngx_http_notify_dir_load_t *ld,
    json_t *section);
static ngx_int_t ngx_http_notify_dir_groups(ngx_http_notify_dir_load_t *ld,
    json_t *section);
static ngx_int_t ngx_http_notify_dir_teams(ngx_http_notify_dir_load_t *ld,
    json_t *section);
static ngx_int_t ngx_http_notify_dir_channels(ngx_http_notify_dir_load_t *ld,
    ngx_http_notify_dir_team_t *dt, json_t *entry, u_char *where);
static ngx_int_t ngx_http_notify_dir_chats(ngx_http_notify_dir_load_t *ld,
    json_t *section);
static ngx_int_t ngx_http_notify_dir_members(ngx_http_notify_dir_load_t *ld,
    json_t *entry, u_char *where, ngx_array_t *members);
static ngx_int_t ngx_http_notify_dir_apps(ngx_http_notify_dir_load_t *ld,
    json_t *entry, u_char *where, ngx_http_notify_apps_t *apps);
static ngx_int_t ngx_http_notify_dir_string(ngx_http_notify_dir_load_t *ld,
    json_t *entry, const char *key, u_char *where, ngx_uint_t required,
    ngx_str_t *value);
static ngx_int_t ngx_http_notify_dir_copy(ngx_http_notify_dir_load_t *ld,
    json_t *s, ngx_str_t *value);
static void ngx_cdecl ngx_http_notify_dir_error(
    ngx_http_notify_dir_load_t *ld, const char *fmt, ...);

static ngx_int_t ngx_http_notify_dir_table_init(ngx_conf_t *cf,
    ngx_http_notify_dir_table_t *table, ngx_uint_t n, size_t offset,
    ngx_uint_t caseless);
static void *ngx_http_notify_dir_table_add(ngx_http_notify_dir_table_t *table,
    void *value);
static void *ngx_http_notify_dir_table_find(
    ngx_http_notify_dir_table_t *table, u_char *key, size_t len);
static void *ngx_http_notify_dir_name(ngx_http_notify_dir_table_t *ids,
    ngx_http_notify_dir_table_t *upns, ngx_str_t *id_or_upn);


char *
ngx_http_notify_directory_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    json_t                        *root;
    ngx_str_t                     *value, file;
    ngx_http_notify_directory_t   *dir, **slot;

    slot = (ngx_http_notify_directory_t **) ((char *) conf + cmd->offset);

    if (*slot != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (file.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_directory: empty file name");
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    root = ngx_http_notify_dir_read(cf, &file);
    if (root == NULL) {
        return NGX_CONF_ERROR;
    }

    dir = ngx_http_notify_directory_load(cf, &file, root);

    json_decref(root);

#ifdef __GLIBC__
    /*
     * jansson's tree of a big directory is tens of megabytes, freed in
     * pieces between the pool's blocks: give those pages back to the
     * system rather than have every worker inherit them
     */
    (void) malloc_trim(0);
#endif

    if (dir == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = dir;

    return NGX_CONF_OK;
}


/*
 * A directory from its parsed JSON, in cf->pool; "file" names it in the
 * messages.  NULL when it is not valid (the message is logged).
 */

ngx_http_notify_directory_t *
ngx_http_notify_directory_load(ngx_conf_t *cf, ngx_str_t *file, json_t *root)
{
    ngx_http_notify_dir_load_t    ld;
    ngx_http_notify_directory_t  *dir;

    dir = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_directory_t));
    if (dir == NULL) {
        return NULL;
    }

    dir->file = *file;

    ld.cf = cf;
    ld.dir = dir;
    ld.mark = 0;

    if (ngx_http_notify_dir_load(&ld, root) != NGX_OK) {
        return NULL;
    }

    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "notify: directory \"%V\": %ui users, %ui groups, "
                  "%ui teams, %ui chats",
                  file, dir->nusers, dir->ngroups, dir->nteams, dir->nchats);

    return dir;
}


/*
 * Reads the whole file with nginx's calls (so that errors name the system
 * call and errno as nginx does) and parses it from memory: jansson's own
 * file readers go through stdio or read() a byte at a time.
 */

static json_t *
ngx_http_notify_dir_read(ngx_conf_t *cf, ngx_str_t *file)
{
    u_char           *buf;
    size_t            size, got;
    json_t           *root;
    ssize_t           n;
    ngx_fd_t          fd;
    json_error_t      err;
    ngx_file_info_t   fi;

    fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "notify_directory \"%V\": "
                           ngx_open_file_n " failed", file);
        return NULL;
    }

    root = NULL;
    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "notify_directory \"%V\": "
                           ngx_fd_info_n " failed", file);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_directory \"%V\": not a regular file",
                           file);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    buf = ngx_alloc(size + 1, cf->log);
    if (buf == NULL) {
        goto done;
    }

    for (got = 0; got < size; got += n) {
        n = ngx_read_fd(fd, buf + got, size - got);

        if (n == -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "notify_directory \"%V\": "
                               ngx_read_fd_n " failed", file);
            goto done;
        }

        if (n == 0) {
            /* the file shrank while we read it: parse what we have */
            size = got;
            break;
        }
    }

    root = json_loadb((char *) buf, size, JSON_REJECT_DUPLICATES, &err);

    if (root == NULL) {
        if (err.line > 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_directory \"%V\": line %d, column %d: "
                               "%s", file, err.line, err.column, err.text);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "notify_directory \"%V\": %s", file, err.text);
        }

        goto done;
    }

    if (!json_is_object(root)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "notify_directory \"%V\": the top level must be "
                           "an object", file);
        json_decref(root);
        root = NULL;
    }

done:

    if (buf != NULL) {
        ngx_free(buf);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", file);
    }

    return root;
}


static ngx_int_t
ngx_http_notify_dir_load(ngx_http_notify_dir_load_t *ld, json_t *root)
{
    json_t  *users, *groups, *teams, *chats;

    if (ngx_http_notify_dir_section(ld, root, "users", NULL, &users)
        != NGX_OK
        || ngx_http_notify_dir_section(ld, root, "groups", NULL, &groups)
           != NGX_OK
        || ngx_http_notify_dir_section(ld, root, "teams", NULL, &teams)
           != NGX_OK
        || ngx_http_notify_dir_section(ld, root, "chats", NULL, &chats)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* users first: everything else refers to them */

    if (ngx_http_notify_dir_users(ld, users) != NGX_OK
        || ngx_http_notify_dir_groups(ld, groups) != NGX_OK
        || ngx_http_notify_dir_teams(ld, teams) != NGX_OK
        || ngx_http_notify_dir_chats(ld, chats) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * An array of the top level (where is NULL) or of an entry: absent or
 * null is NULL, an empty one.
 */

static ngx_int_t
ngx_http_notify_dir_section(ngx_http_notify_dir_load_t *ld, json_t *root,
    const char *name, u_char *where, json_t **section)
{
    json_t  *value;

    value = json_object_get(root, name);

    if (value == NULL || json_is_null(value)) {
        *section = NULL;
        return NGX_OK;
    }

    if (!json_is_array(value)) {
        if (where) {
            ngx_http_notify_dir_error(ld, "%s: \"%s\" must be an array",
                                      where, name);

        } else {
            ngx_http_notify_dir_error(ld, "\"%s\" must be an array", name);
        }

        return NGX_ERROR;
    }

    *section = value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_dir_users(ngx_http_notify_dir_load_t *ld, json_t *section)
{
    size_t                        i, n;
    json_t                       *entry, *active;
    ngx_http_notify_user_t       *u;
    ngx_http_notify_directory_t  *dir;
    ngx_http_notify_dir_user_t   *du, *other;
    u_char                        where[NGX_HTTP_NOTIFY_DIR_WHERE_LEN];

    dir = ld->dir;
    n = (section != NULL) ? json_array_size(section) : 0;

    if (ngx_http_notify_dir_table_init(ld->cf, &dir->user_ids, n,
                                       offsetof(ngx_http_notify_user_t, id), 0)
        != NGX_OK
        || ngx_http_notify_dir_table_init(ld->cf, &dir->user_upns, n,
                                       offsetof(ngx_http_notify_user_t, upn), 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (n == 0) {
        return NGX_OK;
    }

    dir->users = ngx_pcalloc(ld->cf->pool,
                             n * sizeof(ngx_http_notify_dir_user_t));
    if (dir->users == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        entry = json_array_get(section, i);
        du = &dir->users[i];
        u = &du->user;

        (void) ngx_sprintf(where, "users[%uz]%Z", i);

        if (!json_is_object(entry)) {
            ngx_http_notify_dir_error(ld, "%s: must be an object", where);
            return NGX_ERROR;
        }

        if (ngx_http_notify_dir_string(ld, entry, "id", where, 1, &u->id)
            != NGX_OK
            || ngx_http_notify_dir_string(ld, entry, "upn", where, 1, &u->upn)
               != NGX_OK
            || ngx_http_notify_dir_string(ld, entry, "displayName", where, 0,
                                          &u->display_name)
               != NGX_OK
            || ngx_http_notify_dir_string(ld, entry, "preferredLanguage",
                                          where, 0, &u->language)
               != NGX_OK
            || ngx_http_notify_dir_apps(ld, entry, where, &u->apps) != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* a user's id is part of the store's keys */

        if (u->id.len > NGX_HTTP_NOTIFY_USER_MAX) {
            ngx_http_notify_dir_error(ld, "%s: \"id\" is longer than %d"
                                      " bytes", where,
                                      NGX_HTTP_NOTIFY_USER_MAX);
            return NGX_ERROR;
        }

        active = json_object_get(entry, "active");

        if (active == NULL || json_is_null(active)) {
            u->active = 1;

        } else if (json_is_boolean(active)) {
            u->active = json_is_true(active) ? 1 : 0;

        } else {
            ngx_http_notify_dir_error(ld, "%s: \"active\" must be true or "
                                      "false", where);
            return NGX_ERROR;
        }

        other = ngx_http_notify_dir_table_add(&dir->user_ids, du);
        if (other != NULL) {
            ngx_http_notify_dir_error(ld, "%s: \"id\" \"%V\" is already used "
                                      "by users[%ui]", where, &u->id,
                                      (ngx_uint_t) (other - dir->users));
            return NGX_ERROR;
        }

        other = ngx_http_notify_dir_table_add(&dir->user_upns, du);
        if (other != NULL) {
            ngx_http_notify_dir_error(ld, "%s: \"upn\" \"%V\" is already used "
                                      "by users[%ui]", where, &u->upn,
                                      (ngx_uint_t) (other - dir->users));
            return NGX_ERROR;
        }

        dir->nusers++;
    }

    /*
     * A look-up tries the ids first, then the UPNs: an id that is another
     * user's UPN would make a name mean two users.
     */

    for (i = 0; i < n; i++) {
        du = &dir->users[i];

        other = ngx_http_notify_dir_table_find(&dir->user_upns,
                                               du->user.id.data,
                                               du->user.id.len);

        if (other != NULL && other != du) {
            (void) ngx_sprintf(where, "users[%uz]%Z", i);
            ngx_http_notify_dir_error(ld, "%s: \"id\" \"%V\" is the \"upn\" "
                                      "of users[%ui]", where, &du->user.id,
                                      (ngx_uint_t) (other - dir->users));
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_dir_groups(ngx_http_notify_dir_load_t *ld, json_t *section)
{
    size_t                        i, n;
    json_t                       *entry;
    ngx_http_notify_group_t      *g, *other;
    ngx_http_notify_directory_t  *dir;
    u_char                        where[NGX_HTTP_NOTIFY_DIR_WHERE_LEN];

    dir = ld->dir;
    n = (section != NULL) ? json_array_size(section) : 0;

    if (ngx_http_notify_dir_table_init(ld->cf, &dir->group_ids, n,
                                       offsetof(ngx_http_notify_group_t, id),
                                       0)
        != NGX_OK
        || ngx_http_notify_dir_table_init(ld->cf, &dir->group_upns, n,
                                       offsetof(ngx_http_notify_group_t, upn),
                                       1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (n == 0) {
        return NGX_OK;
    }

    dir->groups = ngx_pcalloc(ld->cf->pool,
                              n * sizeof(ngx_http_notify_group_t));
    if (dir->groups == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        entry = json_array_get(section, i);
        g = &dir->groups[i];

        (void) ngx_sprintf(where, "groups[%uz]%Z", i);

        if (!json_is_object(entry)) {
            ngx_http_notify_dir_error(ld, "%s: must be an object", where);
            return NGX_ERROR;
        }

        if (ngx_http_notify_dir_string(ld, entry, "id", where, 1, &g->id)
            != NGX_OK
            || ngx_http_notify_dir_string(ld, entry, "upn", where, 0, &g->upn)
               != NGX_OK
            || ngx_http_notify_dir_string(ld, entry, "displayName", where, 0,
                                          &g->display_name)
               != NGX_OK
            || ngx_http_notify_dir_members(ld, entry, where, &g->members)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        other = ngx_http_notify_dir_table_add(&dir->group_ids, g);
        if (other != NULL) {
            ngx_http_notify_dir_error(ld, "%s: \"id\" \"%V\" is already used "
                                      "by groups[%ui]", where, &g->id,
                                      (ngx_uint_t) (other - dir->groups));
            return NGX_ERROR;
        }

        if (g->upn.len == 0) {
            dir->ngroups++;
            continue;
        }

        other = ngx_http_notify_dir_table_add(&dir->group_upns, g);
        if (other != NULL) {
            ngx_http_notify_dir_error(ld, "%s: \"upn\" \"%V\" is already used "
                                      "by groups[%ui]", where, &g->upn,
                                      (ngx_uint_t) (other - dir->groups));
            return NGX_ERROR;
        }

        dir->ngroups++;
    }

    for (i = 0; i < n; i++) {
        g = &dir->groups[i];

        other = ngx_http_notify_dir_table_find(&dir->group_upns,
                                               g->id.data, g->id.len);

        if (other != NULL && other != g) {
            (void) ngx_sprintf(where, "groups[%uz]%Z", i);
            ngx_http_notify_dir_error(ld, "%s: \"id\" \"%V\" is the \"upn\" "
                                      "of groups[%ui]", where, &g->id,
                                      (ngx_uint_t) (other - dir->groups));
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_dir_teams(ngx_http_notify_dir_load_t *ld, json_t *section)
{
    size_t                        i, n;
    json_t                       *entry;
    ngx_http_notify_team_t       *t;
    ngx_http_notify_dir_team_t   *dt, *other;
    ngx_http_notify_directory_t  *dir;
    u_char                        where[NGX_HTTP_NOTIFY_DIR_WHERE_LEN];

    dir = ld->dir;
    n = (section != NULL) ? json_array_size(section) : 0;

    if (ngx_http_notify_dir_table_init(ld->cf, &dir->team_ids, n,
                                       offsetof(ngx_http_notify_team_t, id), 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (n == 0) {
        return NGX_OK;
    }

    dir->teams = ngx_pcalloc(ld->cf->pool,
                             n * sizeof(ngx_http_notify_dir_team_t));
    if (dir->teams == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        entry = json_array_get(section, i);
        dt = &dir->teams[i];
        t = &dt->team;

        (void) ngx_sprintf(where, "teams[%uz]%Z", i);

        if (!json_is_object(entry)) {
            ngx_http_notify_dir_error(ld, "%s: must be an object", where);
            return NGX_ERROR;
        }

        if (ngx_http_notify_dir_string(ld, entry, "id", where, 1, &t->id)
            != NGX_OK
            || ngx_http_notify_dir_string(ld, entry, "displayName", where, 0,
                                          &t->display_name)
               != NGX_OK
            || ngx_http_notify_dir_members(ld, entry, where, &t->members)
               == NGX_ERROR
            || ngx_http_notify_dir_channels(ld, dt, entry, where) != NGX_OK
            || ngx_http_notify_dir_apps(ld, entry, where, &t->apps) != NGX_OK)
        {
            return NGX_ERROR;
        }

        other = ngx_http_notify_dir_table_add(&dir->team_ids, dt);
        if (other != NULL) {
            ngx_http_notify_dir_error(ld, "%s: \"id\" \"%V\" is already used "
                                      "by teams[%ui]", where, &t->id,
                                      (ngx_uint_t) (other - dir->teams));
            return NGX_ERROR;
        }

        dir->nteams++;
    }

    return NGX_OK;
}


/*
 * A channel without "members" is a standard channel: its members are the
 * team's (the array is shared, read-only).
 */

static ngx_int_t
ngx_http_notify_dir_channels(ngx_http_notify_dir_load_t *ld,
    ngx_http_notify_dir_team_t *dt, json_t *entry, u_char *where)
{
    size_t                      i, n;
    json_t                     *section, *channel;
    ngx_int_t                   rc;
    ngx_http_notify_channel_t  *c, *other;
    u_char                      cwhere[NGX_HTTP_NOTIFY_DIR_WHERE_LEN];

    if (ngx_http_notify_dir_section(ld, entry, "channels", where, &section)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    n = (section != NULL) ? json_array_size(section) : 0;

    if (ngx_array_init(&dt->team.channels, ld->cf->pool, n ? n : 1,
                       sizeof(ngx_http_notify_channel_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_notify_dir_table_init(ld->cf, &dt->channels, n,
                                       offsetof(ngx_http_notify_channel_t, id),
                                       0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        channel = json_array_get(section, i);

        /* never grows: n elements were allocated */
        c = ngx_array_push(&dt->team.channels);
        if (c == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(c, sizeof(ngx_http_notify_channel_t));

        (void) ngx_sprintf(cwhere, "%s.channels[%uz]%Z", where, i);

        if (!json_is_object(channel)) {
            ngx_http_notify_dir_error(ld, "%s: must be an object", cwhere);
            return NGX_ERROR;
        }

        if (ngx_http_notify_dir_string(ld, channel, "id", cwhere, 1, &c->id)
            != NGX_OK
            || ngx_http_notify_dir_string(ld, channel, "displayName", cwhere,
                                          0, &c->display_name)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        rc = ngx_http_notify_dir_members(ld, channel, cwhere, &c->members);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            c->members = dt->team.members;
        }

        other = ngx_http_notify_dir_table_add(&dt->channels, c);
        if (other != NULL) {
            ngx_http_notify_dir_error(ld, "%s: \"id\" \"%V\" is already used "
                                      "by %s.channels[%ui]", cwhere, &c->id,
                                      where,
                                      (ngx_uint_t)
                                      (other - (ngx_http_notify_channel_t *)
                                               dt->team.channels.elts));
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_dir_chats(ngx_http_notify_dir_load_t *ld, json_t *section)
{
    size_t                        i, n;
    json_t                       *entry;
    ngx_http_notify_chat_t       *c, *other;
    ngx_http_notify_directory_t  *dir;
    u_char                        where[NGX_HTTP_NOTIFY_DIR_WHERE_LEN];

    dir = ld->dir;
    n = (section != NULL) ? json_array_size(section) : 0;

    if (ngx_http_notify_dir_table_init(ld->cf, &dir->chat_ids, n,
                                       offsetof(ngx_http_notify_chat_t, id), 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (n == 0) {
        return NGX_OK;
    }

    dir->chats = ngx_pcalloc(ld->cf->pool,
                             n * sizeof(ngx_http_notify_chat_t));
    if (dir->chats == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        entry = json_array_get(section, i);
        c = &dir->chats[i];

        (void) ngx_sprintf(where, "chats[%uz]%Z", i);

        if (!json_is_object(entry)) {
            ngx_http_notify_dir_error(ld, "%s: must be an object", where);
            return NGX_ERROR;
        }

        if (ngx_http_notify_dir_string(ld, entry, "id", where, 1, &c->id)
            != NGX_OK
            || ngx_http_notify_dir_members(ld, entry, where, &c->members)
               == NGX_ERROR
            || ngx_http_notify_dir_apps(ld, entry, where, &c->apps) != NGX_OK)
        {
            return NGX_ERROR;
        }

        other = ngx_http_notify_dir_table_add(&dir->chat_ids, c);
        if (other != NULL) {
            ngx_http_notify_dir_error(ld, "%s: \"id\" \"%V\" is already used "
                                      "by chats[%ui]", where, &c->id,
                                      (ngx_uint_t) (other - dir->chats));
            return NGX_ERROR;
        }

        dir->nchats++;
    }

    return NGX_OK;
}


/*
 * Fills "members" from the entry's "members" array of user ids or UPNs;
 * a user listed twice is kept once.  NGX_DECLINED: the entry has none
 * (the array is then initialised empty).
 */

static ngx_int_t
ngx_http_notify_dir_members(ngx_http_notify_dir_load_t *ld, json_t *entry,
    u_char *where, ngx_array_t *members)
{
    size_t                       i, n;
    json_t                      *list, *member;
    ngx_str_t                    name;
    ngx_http_notify_user_t     **p;
    ngx_http_notify_dir_user_t  *du;

    if (ngx_http_notify_dir_section(ld, entry, "members", where, &list)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    n = (list != NULL) ? json_array_size(list) : 0;

    if (ngx_array_init(members, ld->cf->pool, n ? n : 1,
                       sizeof(ngx_http_notify_user_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (list == NULL) {
        return NGX_DECLINED;
    }

    ld->mark++;

    for (i = 0; i < n; i++) {
        member = json_array_get(list, i);

        if (!json_is_string(member) || json_string_length(member) == 0) {
            ngx_http_notify_dir_error(ld, "%s.members[%uz]: must be a "
                                      "non-empty string", where, i);
            return NGX_ERROR;
        }

        name.data = (u_char *) json_string_value(member);
        name.len = json_string_length(member);

        du = ngx_http_notify_dir_name(&ld->dir->user_ids,
                                      &ld->dir->user_upns, &name);

        if (du == NULL) {
            ngx_http_notify_dir_error(ld, "%s.members[%uz]: unknown user "
                                      "\"%V\"", where, i, &name);
            return NGX_ERROR;
        }

        if (du->mark == ld->mark) {
            continue;
        }

        du->mark = ld->mark;

        /* never grows: n elements were allocated */
        p = ngx_array_push(members);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *p = &du->user;
    }

    return NGX_OK;
}


/*
 * Fills "apps" from the entry's "installedApps": the app ids (AAD App Ids)
 * of the Teams apps installed in the scope of the entry (a user's personal
 * scope, a team, a chat).  Absent or null: none.
 */

static ngx_int_t
ngx_http_notify_dir_apps(ngx_http_notify_dir_load_t *ld, json_t *entry,
    u_char *where, ngx_http_notify_apps_t *apps)
{
    size_t   i, n;
    json_t  *list, *app;

    apps->ids = NULL;
    apps->nids = 0;

    if (ngx_http_notify_dir_section(ld, entry, "installedApps", where, &list)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    n = (list != NULL) ? json_array_size(list) : 0;

    if (n == 0) {
        return NGX_OK;
    }

    apps->ids = ngx_palloc(ld->cf->pool, n * sizeof(ngx_str_t));
    if (apps->ids == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        app = json_array_get(list, i);

        if (!json_is_string(app) || json_string_length(app) == 0) {
            ngx_http_notify_dir_error(ld, "%s.installedApps[%uz]: must be a "
                                      "non-empty string", where, i);
            return NGX_ERROR;
        }

        if (ngx_http_notify_dir_copy(ld, app, &apps->ids[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    apps->nids = n;

    return NGX_OK;
}


/*
 * Copies the entry's string "key" into the pool.  Required: a non-empty
 * string.  Optional: a string, or absent or null (empty then).
 */

static ngx_int_t
ngx_http_notify_dir_string(ngx_http_notify_dir_load_t *ld, json_t *entry,
    const char *key, u_char *where, ngx_uint_t required, ngx_str_t *value)
{
    json_t  *s;

    s = json_object_get(entry, key);

    if (required) {
        if (!json_is_string(s) || json_string_length(s) == 0) {
            ngx_http_notify_dir_error(ld, "%s: \"%s\" must be a non-empty "
                                      "string", where, key);
            return NGX_ERROR;
        }

    } else {
        if (s == NULL || json_is_null(s)) {
            ngx_str_null(value);
            return NGX_OK;
        }

        if (!json_is_string(s)) {
            ngx_http_notify_dir_error(ld, "%s: \"%s\" must be a string",
                                      where, key);
            return NGX_ERROR;
        }
    }

    return ngx_http_notify_dir_copy(ld, s, value);
}


/* a JSON string into the pool; an empty one is the null string */

static ngx_int_t
ngx_http_notify_dir_copy(ngx_http_notify_dir_load_t *ld, json_t *s,
    ngx_str_t *value)
{
    size_t  len;

    len = json_string_length(s);

    if (len == 0) {
        ngx_str_null(value);
        return NGX_OK;
    }

    value->data = ngx_pnalloc(ld->cf->pool, len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, json_string_value(s), len);
    value->len = len;

    return NGX_OK;
}


/* "notify_directory "<file>": <message>" with the configuration's place */

static void ngx_cdecl
ngx_http_notify_dir_error(ngx_http_notify_dir_load_t *ld, const char *fmt,
    ...)
{
    u_char   *p;
    va_list   args;
    u_char    buf[NGX_MAX_CONF_ERRSTR];

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_conf_log_error(NGX_LOG_EMERG, ld->cf, 0, "notify_directory \"%V\": %*s",
                       &ld->dir->file, (size_t) (p - buf), buf);
}


ngx_int_t
ngx_http_notify_directory_user(ngx_http_notify_directory_t *dir,
    ngx_str_t *id_or_upn, ngx_http_notify_user_t *user)
{
    ngx_http_notify_dir_user_t  *du;

    if (dir == NULL || id_or_upn->len == 0) {
        return NGX_DECLINED;
    }

    du = ngx_http_notify_dir_name(&dir->user_ids, &dir->user_upns,
                                  id_or_upn);
    if (du == NULL) {
        return NGX_DECLINED;
    }

    *user = du->user;

    return NGX_OK;
}


ngx_int_t
ngx_http_notify_directory_user_id(ngx_http_notify_directory_t *dir,
    ngx_str_t *id, ngx_http_notify_user_t *user)
{
    ngx_http_notify_dir_user_t  *du;

    if (dir == NULL || id->len == 0) {
        return NGX_DECLINED;
    }

    du = ngx_http_notify_dir_table_find(&dir->user_ids, id->data, id->len);
    if (du == NULL) {
        return NGX_DECLINED;
    }

    *user = du->user;

    return NGX_OK;
}


ngx_http_notify_dir_name_e
ngx_http_notify_directory_name(ngx_http_notify_directory_t *dir,
    ngx_str_t *name, ngx_http_notify_user_t *user,
    const ngx_http_notify_group_t **group)
{
    ngx_http_notify_group_t     *g;
    ngx_http_notify_dir_user_t  *du;

    if (dir == NULL || name->len == 0) {
        return NGX_HTTP_NOTIFY_DIR_NONE;
    }

    du = ngx_http_notify_dir_name(&dir->user_ids, &dir->user_upns, name);

    if (du != NULL) {
        if (user) {
            *user = du->user;
        }

        return NGX_HTTP_NOTIFY_DIR_USER;
    }

    g = ngx_http_notify_dir_name(&dir->group_ids, &dir->group_upns, name);

    if (g != NULL) {
        if (group) {
            *group = g;
        }

        return NGX_HTTP_NOTIFY_DIR_GROUP;
    }

    return NGX_HTTP_NOTIFY_DIR_NONE;
}


/*
 * A user or a group by id, else by UPN (case-insensitive): the load made
 * sure that no entry's id is another's UPN, so a name means one entry.
 */

static void *
ngx_http_notify_dir_name(ngx_http_notify_dir_table_t *ids,
    ngx_http_notify_dir_table_t *upns, ngx_str_t *id_or_upn)
{
    void  *entry;

    entry = ngx_http_notify_dir_table_find(ids, id_or_upn->data,
                                           id_or_upn->len);
    if (entry == NULL) {
        entry = ngx_http_notify_dir_table_find(upns, id_or_upn->data,
                                               id_or_upn->len);
    }

    return entry;
}


ngx_http_notify_team_t *
ngx_http_notify_directory_team(ngx_http_notify_directory_t *dir, ngx_str_t *id)
{
    ngx_http_notify_dir_team_t  *dt;

    if (dir == NULL || id->len == 0) {
        return NULL;
    }

    dt = ngx_http_notify_dir_table_find(&dir->team_ids, id->data, id->len);
    if (dt == NULL) {
        return NULL;
    }

    return &dt->team;
}


ngx_http_notify_channel_t *
ngx_http_notify_directory_channel(ngx_http_notify_team_t *team, ngx_str_t *id)
{
    ngx_http_notify_dir_team_t  *dt;

    if (team == NULL || id->len == 0) {
        return NULL;
    }

    /* every team is the first field of an ngx_http_notify_dir_team_t */
    dt = (ngx_http_notify_dir_team_t *) team;

    return ngx_http_notify_dir_table_find(&dt->channels, id->data, id->len);
}


ngx_http_notify_chat_t *
ngx_http_notify_directory_chat(ngx_http_notify_directory_t *dir, ngx_str_t *id)
{
    if (dir == NULL || id->len == 0) {
        return NULL;
    }

    return ngx_http_notify_dir_table_find(&dir->chat_ids, id->data, id->len);
}


/*
 * A team has at most a few tens of thousands of members, and a request
 * asks about one or two of them: a scan, without a table per team.
 */

ngx_uint_t
ngx_http_notify_directory_member(ngx_array_t *members, ngx_str_t *user_id)
{
    ngx_uint_t                i;
    ngx_http_notify_user_t  **users;

    if (user_id->len == 0) {
        return 0;
    }

    users = members->elts;

    for (i = 0; i < members->nelts; i++) {
        if (users[i]->id.len == user_id->len
            && ngx_memcmp(users[i]->id.data, user_id->data, user_id->len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}


ngx_uint_t
ngx_http_notify_directory_installed(ngx_http_notify_apps_t *apps,
    ngx_str_t *app_id)
{
    ngx_uint_t  i;

    if (app_id->len == 0) {
        return 0;
    }

    for (i = 0; i < apps->nids; i++) {
        if (apps->ids[i].len == app_id->len
            && ngx_memcmp(apps->ids[i].data, app_id->data, app_id->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* room for n keys, at most half of the slots used */

static ngx_int_t
ngx_http_notify_dir_table_init(ngx_conf_t *cf,
    ngx_http_notify_dir_table_t *table, ngx_uint_t n, size_t offset,
    ngx_uint_t caseless)
{
    ngx_uint_t  size;

    for (size = 4; size < 2 * n; size <<= 1) {
        /* void */
    }

    table->slots = ngx_pcalloc(cf->pool,
                               size * sizeof(ngx_http_notify_dir_slot_t));
    if (table->slots == NULL) {
        return NGX_ERROR;
    }

    table->mask = size - 1;
    table->offset = offset;
    table->caseless = caseless;

    return NGX_OK;
}


/* NULL when added, or the value that already has the key */

static void *
ngx_http_notify_dir_table_add(ngx_http_notify_dir_table_t *table, void *value)
{
    uint32_t                     hash;
    ngx_str_t                   *key, *k;
    ngx_uint_t                   i;
    ngx_http_notify_dir_slot_t  *slot;

    key = (ngx_str_t *) ((u_char *) value + table->offset);
    hash = ngx_http_notify_hash(key->data, key->len, table->caseless);

    for (i = hash & table->mask; /* void */ ; i = (i + 1) & table->mask) {
        slot = &table->slots[i];

        if (slot->value == NULL) {
            slot->value = value;
            slot->hash = hash;
            return NULL;
        }

        if (slot->hash != hash) {
            continue;
        }

        k = (ngx_str_t *) ((u_char *) slot->value + table->offset);

        if (k->len != key->len) {
            continue;
        }

        if (table->caseless
            ? ngx_strncasecmp(k->data, key->data, key->len) == 0
            : ngx_memcmp(k->data, key->data, key->len) == 0)
        {
            return slot->value;
        }
    }
}


static void *
ngx_http_notify_dir_table_find(ngx_http_notify_dir_table_t *table,
    u_char *key, size_t len)
{
    uint32_t                     hash;
    ngx_str_t                   *k;
    ngx_uint_t                   i;
    ngx_http_notify_dir_slot_t  *slot;

    hash = ngx_http_notify_hash(key, len, table->caseless);

    for (i = hash & table->mask; /* void */ ; i = (i + 1) & table->mask) {
        slot = &table->slots[i];

        if (slot->value == NULL) {
            return NULL;
        }

        if (slot->hash != hash) {
            continue;
        }

        k = (ngx_str_t *) ((u_char *) slot->value + table->offset);

        if (k->len != len) {
            continue;
        }

        /* the stored key first: it has no NUL to stop the comparison */

        if (table->caseless
            ? ngx_strncasecmp(k->data, key, len) == 0
            : ngx_memcmp(k->data, key, len) == 0)
        {
            return slot->value;
        }
    }
}

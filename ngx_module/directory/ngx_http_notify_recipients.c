
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The recipients of an inbound notification, from the directory: users
 * by entry, groups expanded to their active members, names looked up as a
 * user, else a group.  Each user and each group is taken once per request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_directory.h"


static ngx_http_notify_set_slot_t *ngx_http_notify_set_find(ngx_pool_t *pool,
    ngx_http_notify_set_t *set, void *key);


/*
 * A set of pointers (users, groups) with a value each: open addressing,
 * so that a group of 10 000 members costs 10 000 steps, not 10 000
 * squared.  Returns the slot of "key", new ones with a NULL key.
 */

static ngx_http_notify_set_slot_t *
ngx_http_notify_set_find(ngx_pool_t *pool, ngx_http_notify_set_t *set,
    void *key)
{
    ngx_uint_t                   i, size, h;
    ngx_http_notify_set_slot_t  *slots, *slot;

    if ((set->n + 1) * 2 > set->size) {
        size = set->size ? set->size * 2 : 64;

        slots = ngx_pcalloc(pool, size * sizeof(ngx_http_notify_set_slot_t));
        if (slots == NULL) {
            return NULL;
        }

        for (i = 0; i < set->size; i++) {
            if (set->slots[i].key == NULL) {
                continue;
            }

            h = ((uintptr_t) set->slots[i].key >> 4) * 2654435761u;

            while (slots[h & (size - 1)].key) {
                h++;
            }

            slots[h & (size - 1)] = set->slots[i];
        }

        set->slots = slots;
        set->size = size;
    }

    h = ((uintptr_t) key >> 4) * 2654435761u;

    for ( ;; ) {
        slot = &set->slots[h & (set->size - 1)];

        if (slot->key == key || slot->key == NULL) {
            return slot;
        }

        h++;
    }
}


/* Recipients: each user once, inactive users never. */

ngx_int_t
ngx_http_notify_add_user(ngx_http_notify_req_t *nr,
    ngx_http_notify_user_t *user)
{
    ngx_http_notify_user_t      **last;
    ngx_http_notify_set_slot_t   *slot;

    if (!user->active) {
        return NGX_DECLINED;
    }

    slot = ngx_http_notify_set_find(nr->request->pool, &nr->users, user);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    if (slot->key) {
        return NGX_OK;
    }

    slot->key = user;
    nr->users.n++;

    last = ngx_array_push(&nr->recipients);
    if (last == NULL) {
        return NGX_ERROR;
    }

    *last = user;

    return NGX_OK;
}


/*
 * A group's active members; NGX_DECLINED when it has none.  A group is
 * expanded once per request, however often its name comes: the work of a
 * request is bounded by the directory, not by the caller's list.
 */

ngx_int_t
ngx_http_notify_add_group(ngx_http_notify_req_t *nr,
    ngx_http_notify_group_t *group)
{
    ngx_int_t                    rc, found;
    ngx_uint_t                   i;
    ngx_http_notify_user_t     **members;
    ngx_http_notify_set_slot_t  *slot;

    slot = ngx_http_notify_set_find(nr->request->pool, &nr->groups, group);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    if (slot->key) {
        return slot->value;
    }

    found = NGX_DECLINED;
    members = group->members.elts;

    for (i = 0; i < group->members.nelts; i++) {
        rc = ngx_http_notify_add_user(nr, members[i]);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            found = NGX_OK;
        }
    }

    /* the slot is still the group's: adding users grows another set */

    slot->key = group;
    slot->value = found;
    nr->groups.n++;

    return found;
}


/*
 * A recipient by name: a user of that id or UPN, else a group of that id
 * or UPN.  NGX_OK: someone active was added; NGX_DECLINED: the name is
 * known, but nobody active; NGX_DONE: the directory has no such name.
 */

ngx_int_t
ngx_http_notify_add_name(ngx_http_notify_req_t *nr,
    ngx_http_notify_directory_t *dir, ngx_str_t *name)
{
    ngx_http_notify_user_t   *user;
    ngx_http_notify_group_t  *group;

    user = ngx_http_notify_directory_user(dir, name);
    if (user) {
        return ngx_http_notify_add_user(nr, user);
    }

    group = ngx_http_notify_directory_group(dir, name);
    if (group) {
        return ngx_http_notify_add_group(nr, group);
    }

    return NGX_DONE;
}

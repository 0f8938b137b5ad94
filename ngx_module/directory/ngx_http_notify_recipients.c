
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
    ngx_http_notify_set_t *set, const ngx_str_t *key);


/*
 * A set of strings (user ids, group ids) with a value each: open
 * addressing, at most half full, so that a group of 10 000 members costs
 * 10 000 steps, not 10 000 squared.  Returns the slot of "key" (not
 * empty); a new one has an empty key, for the caller to set.  The keys are
 * not copied: the strings live as long as the request, or longer.
 */

static ngx_http_notify_set_slot_t *
ngx_http_notify_set_find(ngx_pool_t *pool, ngx_http_notify_set_t *set,
    const ngx_str_t *key)
{
    uint32_t                     hash;
    ngx_uint_t                   i, size, h;
    ngx_http_notify_set_slot_t  *slots, *slot;

    if ((set->n + 1) * 2 > set->size) {
        size = set->size ? set->size * 2 : 64;

        slots = ngx_pcalloc(pool, size * sizeof(ngx_http_notify_set_slot_t));
        if (slots == NULL) {
            return NULL;
        }

        for (i = 0; i < set->size; i++) {
            if (set->slots[i].key.len == 0) {
                continue;
            }

            for (h = set->slots[i].hash; slots[h & (size - 1)].key.len; h++) {
                /* void */
            }

            slots[h & (size - 1)] = set->slots[i];
        }

        set->slots = slots;
        set->size = size;
    }

    hash = ngx_http_notify_hash(key->data, key->len, 0);

    for (h = hash; /* void */ ; h++) {
        slot = &set->slots[h & (set->size - 1)];

        if (slot->key.len == 0) {
            slot->hash = hash;
            return slot;
        }

        if (slot->hash == hash
            && slot->key.len == key->len
            && ngx_memcmp(slot->key.data, key->data, key->len) == 0)
        {
            return slot;
        }
    }
}


/* Recipients: each user once, by id, inactive users never. */

ngx_int_t
ngx_http_notify_add_user(ngx_http_notify_req_t *nr,
    ngx_http_notify_user_t *user)
{
    ngx_str_t                   *id;
    ngx_http_notify_set_slot_t  *slot;

    if (!user->active || user->id.len == 0) {
        return NGX_DECLINED;
    }

    slot = ngx_http_notify_set_find(nr->request->pool, &nr->users, &user->id);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    if (slot->key.len) {
        return NGX_OK;
    }

    slot->key = user->id;
    nr->users.n++;

    id = ngx_array_push(&nr->recipients);
    if (id == NULL) {
        return NGX_ERROR;
    }

    *id = user->id;

    return NGX_OK;
}


/*
 * A group's active members; NGX_DECLINED when it has none.  A group is
 * expanded once per request (by id), however often its name comes: the
 * work of a request is bounded by the directory, not by the caller's list.
 */

ngx_int_t
ngx_http_notify_add_group(ngx_http_notify_req_t *nr,
    const ngx_http_notify_group_t *group)
{
    ngx_int_t                    rc, found;
    ngx_uint_t                   i;
    ngx_http_notify_user_t     **members;
    ngx_http_notify_set_slot_t  *slot;

    slot = ngx_http_notify_set_find(nr->request->pool, &nr->groups,
                                    &group->id);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    if (slot->key.len) {
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

    slot->key = group->id;
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
    ngx_http_notify_user_t          user;
    const ngx_http_notify_group_t  *group;

    switch (ngx_http_notify_directory_name(dir, name, &user, &group)) {

    case NGX_HTTP_NOTIFY_DIR_USER:
        return ngx_http_notify_add_user(nr, &user);

    case NGX_HTTP_NOTIFY_DIR_GROUP:
        return ngx_http_notify_add_group(nr, group);

    default: /* NGX_HTTP_NOTIFY_DIR_NONE */
        return NGX_DONE;
    }
}

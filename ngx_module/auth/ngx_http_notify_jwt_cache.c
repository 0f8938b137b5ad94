
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The token cache: notify_jwt_cache, a shared-memory zone of the claims of
 * verified tokens by their digest, least recently used first out, and
 * each worker's parsed claims of the tokens it saw last.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_jwt_internal.h"

#include <openssl/evp.h>


#define NGX_HTTP_NOTIFY_JWT_CACHE_SIZE    (1024 * 1024)


/* the token cache in shared memory */

typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;       /* most recently used first */
    ngx_uint_t                    generation;  /* + 1 on every reload */
} ngx_http_notify_jwt_shctx_t;


struct ngx_http_notify_jwt_cache_s {
    ngx_http_notify_jwt_shctx_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_uint_t                    generation;  /* this configuration's */
};


typedef struct {
    ngx_rbtree_node_t             node;        /* key: digest's first bytes */
    ngx_queue_t                   queue;
    time_t                        expires;     /* the token's exp */
    u_char                        digest[NGX_HTTP_NOTIFY_JWT_DIGEST_LEN];
    size_t                        len;
    u_char                        data[1];     /* the claims (JSON) */
} ngx_http_notify_jwt_node_t;


static ngx_int_t ngx_http_notify_jwt_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_notify_jwt_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_notify_jwt_node_t *ngx_http_notify_jwt_cache_find(
    ngx_http_notify_jwt_cache_t *cache, u_char *digest);
static void ngx_http_notify_jwt_cache_delete(
    ngx_http_notify_jwt_cache_t *cache, ngx_http_notify_jwt_node_t *jn);


static ngx_str_t  ngx_http_notify_jwt_zone_name =
    ngx_string("notify_jwt_cache");


char *
ngx_http_notify_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ssize_t                      size;
    ngx_str_t                   *value;
    ngx_http_notify_jwt_conf_t  *jcf;

    jcf = *(ngx_http_notify_jwt_conf_t **) ((char *) conf + cmd->offset);

    if (jcf->cache_size != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        jcf->cache_size = 0;
        return NGX_CONF_OK;
    }

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"notify_jwt_cache\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"notify_jwt_cache\" of %V is too small, "
                           "it needs at least %uzk",
                           &value[1], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    jcf->cache_size = (size_t) size;

    return NGX_CONF_OK;
}


/* the zone, when there are keys to verify tokens with and a size */

char *
ngx_http_notify_jwt_cache_init(ngx_conf_t *cf, ngx_http_notify_jwt_conf_t *jcf)
{
    ngx_shm_zone_t               *shm_zone;
    ngx_http_notify_jwt_cache_t  *cache;

    ngx_conf_init_size_value(jcf->cache_size, NGX_HTTP_NOTIFY_JWT_CACHE_SIZE);

    if (jcf->keys == NULL || jcf->cache_size == 0) {
        return NGX_CONF_OK;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_jwt_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_notify_jwt_zone_name,
                                     jcf->cache_size, &ngx_http_notify_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used",
                           &ngx_http_notify_jwt_zone_name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_notify_jwt_init_zone;
    shm_zone->data = cache;

    jcf->cache = shm_zone;

    return NGX_CONF_OK;
}


/*
 * On a reload that keeps the zone's size, the old zone is reused: its
 * entries stay for the old workers, the new configuration gets a new
 * generation, which is part of every entry's digest, so that tokens
 * verified with the old keys, issuer or audience are never taken as
 * verified with the new ones.  Old entries age out of the LRU queue.
 */

static ngx_int_t
ngx_http_notify_jwt_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_notify_jwt_cache_t  *ocache = data;

    size_t                        len;
    ngx_slab_pool_t              *shpool;
    ngx_http_notify_jwt_cache_t  *cache;

    cache = shm_zone->data;

    if (ocache != NULL) {
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;

        ngx_shmtx_lock(&cache->shpool->mutex);
        cache->generation = ++cache->sh->generation;
        ngx_shmtx_unlock(&cache->shpool->mutex);

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->shpool = shpool;
        cache->sh = shpool->data;
        cache->generation = cache->sh->generation;

        return NGX_OK;
    }

    cache->shpool = shpool;

    cache->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_notify_jwt_shctx_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_notify_jwt_rbtree_insert_value);

    ngx_queue_init(&cache->sh->queue);

    len = sizeof(" in notify_jwt_cache zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in notify_jwt_cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is normal: the oldest entries make room */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/* ordered by the node key, then by the whole digest */

static void
ngx_http_notify_jwt_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t           **p;
    ngx_http_notify_jwt_node_t   *jn, *jnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            jn = (ngx_http_notify_jwt_node_t *) node;
            jnt = (ngx_http_notify_jwt_node_t *) temp;

            p = (ngx_memcmp(jn->digest, jnt->digest,
                            NGX_HTTP_NOTIFY_JWT_DIGEST_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* with the zone locked */

static ngx_http_notify_jwt_node_t *
ngx_http_notify_jwt_cache_find(ngx_http_notify_jwt_cache_t *cache,
    u_char *digest)
{
    ngx_int_t                    rc;
    ngx_rbtree_key_t             key;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_notify_jwt_node_t  *jn;

    ngx_memcpy(&key, digest, sizeof(ngx_rbtree_key_t));

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        jn = (ngx_http_notify_jwt_node_t *) node;

        rc = ngx_memcmp(digest, jn->digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN);

        if (rc == 0) {
            return jn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* with the zone locked */

static void
ngx_http_notify_jwt_cache_delete(ngx_http_notify_jwt_cache_t *cache,
    ngx_http_notify_jwt_node_t *jn)
{
    ngx_queue_remove(&jn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, &jn->node);
    ngx_slab_free_locked(cache->shpool, jn);
}


ngx_int_t
ngx_http_notify_jwt_digest(ngx_http_notify_jwt_cache_t *cache,
    ngx_str_t *token, u_char *digest)
{
    int          ok;
    ngx_uint_t   generation;
    EVP_MD_CTX  *md;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    generation = cache->generation;

    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
         && EVP_DigestUpdate(md, &generation, sizeof(ngx_uint_t)) == 1
         && EVP_DigestUpdate(md, token->data, token->len) == 1
         && EVP_DigestFinal_ex(md, digest, NULL) == 1;

    EVP_MD_CTX_free(md);

    return ok ? NGX_OK : NGX_ERROR;
}


/*
 * NGX_OK: a verified token; its claims are copied to "payload" in the
 * request pool.  NGX_DECLINED: not in the cache, or expired (then dropped).
 */

ngx_int_t
ngx_http_notify_jwt_cache_get(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, ngx_str_t *payload)
{
    ngx_int_t                     rc;
    ngx_http_notify_jwt_node_t   *jn;
    ngx_http_notify_jwt_cache_t  *cache;

    cache = jcf->cache->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    jn = ngx_http_notify_jwt_cache_find(cache, digest);

    if (jn == NULL) {
        rc = NGX_DECLINED;

    } else if (jn->expires < ngx_time() - jcf->leeway) {
        ngx_http_notify_jwt_cache_delete(cache, jn);
        rc = NGX_DECLINED;

    } else {
        ngx_queue_remove(&jn->queue);
        ngx_queue_insert_head(&cache->sh->queue, &jn->queue);

        payload->len = jn->len;
        payload->data = ngx_pnalloc(r->pool, jn->len);

        if (payload->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(payload->data, jn->data, jn->len);
            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    if (rc != NGX_ERROR) {
        ngx_http_notify_metrics_token_cache(rc == NGX_OK);
    }

    return rc;
}


void
ngx_http_notify_jwt_cache_set(ngx_http_request_t *r,
    ngx_http_notify_jwt_conf_t *jcf, u_char *digest, time_t expires,
    ngx_str_t *payload)
{
    size_t                        size;
    time_t                        now;
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_notify_jwt_node_t   *jn;
    ngx_http_notify_jwt_cache_t  *cache;

    cache = jcf->cache->data;
    now = ngx_time();

    size = offsetof(ngx_http_notify_jwt_node_t, data) + payload->len;

    ngx_shmtx_lock(&cache->shpool->mutex);

    if (ngx_http_notify_jwt_cache_find(cache, digest) != NULL) {
        /* another worker was quicker */
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return;
    }

    /* drop up to two expired entries from the old end */

    for (n = 0; n < 2 && !ngx_queue_empty(&cache->sh->queue); n++) {
        q = ngx_queue_last(&cache->sh->queue);
        jn = ngx_queue_data(q, ngx_http_notify_jwt_node_t, queue);

        if (jn->expires >= now - jcf->leeway) {
            break;
        }

        ngx_http_notify_jwt_cache_delete(cache, jn);
    }

    for ( ;; ) {
        jn = ngx_slab_alloc_locked(cache->shpool, size);

        if (jn != NULL) {
            break;
        }

        if (ngx_queue_empty(&cache->sh->queue)) {
            ngx_shmtx_unlock(&cache->shpool->mutex);

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "notify: jwt cache too small for the token");
            return;
        }

        /* the zone is full: the least recently used entry makes room */

        q = ngx_queue_last(&cache->sh->queue);
        ngx_http_notify_jwt_cache_delete(cache,
                         ngx_queue_data(q, ngx_http_notify_jwt_node_t, queue));

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "notify: jwt cache evicted the oldest entry");
    }

    ngx_memcpy(&jn->node.key, digest, sizeof(ngx_rbtree_key_t));
    ngx_memcpy(jn->digest, digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN);
    jn->expires = expires;
    jn->len = payload->len;
    ngx_memcpy(jn->data, payload->data, payload->len);

    ngx_rbtree_insert(&cache->sh->rbtree, &jn->node);
    ngx_queue_insert_head(&cache->sh->queue, &jn->queue);

    ngx_shmtx_unlock(&cache->shpool->mutex);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "notify: jwt cache store");
}


/*
 * The shared cache decides whether a token is known; each worker keeps the
 * claims of the cached tokens it saw last, already parsed, so that a hit
 * does not parse the payload again.  Slots are chosen by the digest, which
 * holds the configuration's generation, so a reload never finds old
 * entries.  The claims are still checked on every request.
 */

#define NGX_HTTP_NOTIFY_JWT_LOCAL  256

typedef struct {
    u_char                        digest[NGX_HTTP_NOTIFY_JWT_DIGEST_LEN];
    json_t                       *claims;
} ngx_http_notify_jwt_local_t;


static ngx_http_notify_jwt_local_t
    ngx_http_notify_jwt_local[NGX_HTTP_NOTIFY_JWT_LOCAL];


json_t *
ngx_http_notify_jwt_local_get(u_char *digest)
{
    ngx_http_notify_jwt_local_t  *e;

    e = &ngx_http_notify_jwt_local[digest[0] % NGX_HTTP_NOTIFY_JWT_LOCAL];

    if (e->claims == NULL
        || ngx_memcmp(e->digest, digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN) != 0)
    {
        return NULL;
    }

    return json_incref(e->claims);
}


void
ngx_http_notify_jwt_local_set(u_char *digest, json_t *claims)
{
    ngx_http_notify_jwt_local_t  *e;

    e = &ngx_http_notify_jwt_local[digest[0] % NGX_HTTP_NOTIFY_JWT_LOCAL];

    if (e->claims == claims) {
        return;
    }

    if (e->claims != NULL) {
        json_decref(e->claims);
    }

    ngx_memcpy(e->digest, digest, NGX_HTTP_NOTIFY_JWT_DIGEST_LEN);
    e->claims = json_incref(claims);
}


void
ngx_http_notify_jwt_exit_process(void)
{
    ngx_uint_t                    i;
    ngx_http_notify_jwt_local_t  *e;

    for (i = 0; i < NGX_HTTP_NOTIFY_JWT_LOCAL; i++) {
        e = &ngx_http_notify_jwt_local[i];

        if (e->claims != NULL) {
            json_decref(e->claims);
            e->claims = NULL;
        }
    }
}

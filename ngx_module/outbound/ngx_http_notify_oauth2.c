
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * OAuth2 client credentials (RFC 6749, 4.4) for the targets that have an
 * oauth2_token_url.  The token request is a form POSTed with libcurl
 * (client_secret_post: the way Entra ID and most identity providers take
 * it); the answer's access_token, token_type (Bearer) and expires_in are
 * kept in the zone "notify_oauth2", one slot for each target and its
 * settings (the key is an MD5 of the target's name, token URL, client id
 * and scope, so that a reload that changes none of them keeps the token).
 *
 * A token is used until min(60 s, a tenth of its life) before it expires.
 * Only the scheduler's process fetches (it has the curl multi handle);
 * the slot's mark "fetching until" keeps it to one fetch at a time among
 * all processes, the old generation's during a reload too.  The secret
 * and the tokens are never logged: the messages name the target only.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_md5.h>

#include <jansson.h>

#include "ngx_http_notify_metrics.h"
#include "ngx_http_notify_curl.h"
#include "ngx_http_notify_outbound.h"
#include "ngx_http_notify_scheduler.h"
#include "ngx_http_notify_oauth2.h"


/* a token is used until this long before it expires, at most */
#define NGX_HTTP_NOTIFY_OAUTH2_MARGIN    60000

/* expires_in: without one, and at most */
#define NGX_HTTP_NOTIFY_OAUTH2_LIFE      300
#define NGX_HTTP_NOTIFY_OAUTH2_LIFE_MAX  86400

/* the longest wait after failed fetches */
#define NGX_HTTP_NOTIFY_OAUTH2_BACKOFF   300000


typedef struct {
    u_char                          key[16];
    ngx_uint_t                      used;
    uint64_t                        touched;       /* msec: last wanted */
    uint64_t                        generation;    /* the token's number */
    uint64_t                        refresh_at;    /* msec: used until */
    uint64_t                        expires_at;    /* msec */
    uint64_t                        fetching;      /* msec: a fetch runs
                                                      until then */
    uint64_t                        next_fetch;    /* msec: not before */
    ngx_uint_t                      failures;      /* fetches, in a row */
    unsigned                        invalidated:1; /* dropped on a 401 */
    unsigned                        after_401:1;   /* this token replaced
                                                      one refused */
    size_t                          len;
    u_char                          token[NGX_HTTP_NOTIFY_OAUTH2_TOKEN_MAX];
} ngx_http_notify_oauth2_slot_t;


typedef struct {
    uint64_t                        generations;
    ngx_http_notify_oauth2_slot_t   slot[NGX_HTTP_NOTIFY_OAUTH2_SLOTS];
} ngx_http_notify_oauth2_shm_t;


/* a target's client, from its configuration */
typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       url;           /* null-terminated */
    ngx_str_t                       form;          /* the request's body */
    u_char                          key[16];
    ngx_msec_t                      timeout;
    ngx_msec_t                      backoff_min;
    ngx_msec_t                      backoff_max;
    ngx_shm_zone_t                 *zone;
} ngx_http_notify_oauth2_t;


/* a fetch of this process */
typedef struct {
    ngx_pool_t                     *pool;
    ngx_http_notify_oauth2_t       *client;
    ngx_uint_t                      index;         /* metrics' target */
    uint64_t                        mark;          /* its "fetching" */
    ngx_array_t                     headers;
    ngx_http_notify_curl_req_t      curl;
    ngx_queue_t                     queue;
} ngx_http_notify_oauth2_fetch_t;


static ngx_int_t ngx_http_notify_oauth2_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static u_char *ngx_http_notify_oauth2_escape(u_char *dst, ngx_str_t *src);
static uint64_t ngx_http_notify_oauth2_now(void);
static ngx_http_notify_oauth2_slot_t *ngx_http_notify_oauth2_slot(
    ngx_http_notify_oauth2_t *oc, ngx_uint_t claim, uint64_t now);
static ngx_int_t ngx_http_notify_oauth2_start(ngx_http_notify_oauth2_t *oc,
    ngx_uint_t index, uint64_t mark, ngx_log_t *log);
static void ngx_http_notify_oauth2_done(ngx_http_notify_curl_req_t *req);
static ngx_int_t ngx_http_notify_oauth2_parse(ngx_http_notify_curl_req_t *req,
    json_t **json, ngx_str_t *token, time_t *life, u_char *error,
    size_t size);
static void ngx_http_notify_oauth2_forget(ngx_http_notify_oauth2_fetch_t *f);


static ngx_str_t  ngx_http_notify_oauth2_zone_name =
    ngx_string("notify_oauth2");

static ngx_queue_t  ngx_http_notify_oauth2_fetches;
static ngx_uint_t   ngx_http_notify_oauth2_fetches_init;


/* configuration */

ngx_int_t
ngx_http_notify_oauth2_init_conf(ngx_conf_t *cf, ngx_http_notify_target_t *t)
{
    size_t                            len;
    u_char                           *p;
    ngx_md5_t                         md5;
    ngx_shm_zone_t                   *zone;
    ngx_http_notify_oauth2_t         *oc;
    ngx_http_notify_delivery_conf_t  *dc;

    if (t->oauth2_token_url.len == 0) {
        return NGX_OK;
    }

    oc = ngx_pcalloc(cf->pool, sizeof(ngx_http_notify_oauth2_t));
    if (oc == NULL) {
        return NGX_ERROR;
    }

    dc = t->delivery;

    oc->name = t->name;
    oc->url = t->oauth2_token_url;
    oc->timeout = dc->timeout;
    oc->backoff_min = dc->retry_min;
    oc->backoff_max = ngx_min(dc->retry_max, NGX_HTTP_NOTIFY_OAUTH2_BACKOFF);

    /* the form, every value escaped */

    len = sizeof("grant_type=client_credentials&client_id=") - 1
          + 3 * t->oauth2_client_id.len
          + sizeof("&client_secret=") - 1 + 3 * t->oauth2_secret.len
          + sizeof("&scope=") - 1 + 3 * t->oauth2_scope.len;

    oc->form.data = ngx_pnalloc(cf->pool, len);
    if (oc->form.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(oc->form.data, "grant_type=client_credentials&client_id=",
                   sizeof("grant_type=client_credentials&client_id=") - 1);
    p = ngx_http_notify_oauth2_escape(p, &t->oauth2_client_id);
    p = ngx_cpymem(p, "&client_secret=", sizeof("&client_secret=") - 1);
    p = ngx_http_notify_oauth2_escape(p, &t->oauth2_secret);

    if (t->oauth2_scope.len) {
        p = ngx_cpymem(p, "&scope=", sizeof("&scope=") - 1);
        p = ngx_http_notify_oauth2_escape(p, &t->oauth2_scope);
    }

    oc->form.len = p - oc->form.data;

    /* the cache's key: what the token is for, not the secret */

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, t->name.data, t->name.len + 1);
    ngx_md5_update(&md5, t->oauth2_token_url.data,
                   t->oauth2_token_url.len + 1);
    ngx_md5_update(&md5, t->oauth2_client_id.data,
                   t->oauth2_client_id.len + 1);
    ngx_md5_update(&md5, t->oauth2_scope.data, t->oauth2_scope.len);
    ngx_md5_final(oc->key, &md5);

    /* one zone for every target's token */

    zone = ngx_shared_memory_add(cf, &ngx_http_notify_oauth2_zone_name,
                                 sizeof(ngx_http_notify_oauth2_shm_t)
                                 + 16 * ngx_pagesize,
                                 &ngx_http_notify_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_notify_oauth2_init_zone;
    oc->zone = zone;

    t->oauth2 = oc;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_oauth2_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t               *shpool;
    ngx_http_notify_oauth2_shm_t  *sh;

    if (data) {
        shm_zone->data = data;      /* a reload: the tokens stay */
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_notify_oauth2_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/*
 * application/x-www-form-urlencoded: all but the unreserved characters of
 * RFC 3986 as %XX, so that "&", "=", "+" and "%" of a secret stay its own
 */

static u_char *
ngx_http_notify_oauth2_escape(u_char *dst, ngx_str_t *src)
{
    u_char      c;
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789ABCDEF";

    for (i = 0; i < src->len; i++) {
        c = src->data[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = hex[c >> 4];
        *dst++ = hex[c & 0xf];
    }

    return dst;
}


/* the slots: wall-clock msec, the same in every process */

static uint64_t
ngx_http_notify_oauth2_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * The target's slot, with the zone locked; "claim": one is taken for it
 * if it has none (a free one, else the one wanted longest ago that no
 * fetch is filling).
 */

static ngx_http_notify_oauth2_slot_t *
ngx_http_notify_oauth2_slot(ngx_http_notify_oauth2_t *oc, ngx_uint_t claim,
    uint64_t now)
{
    ngx_uint_t                      i;
    ngx_http_notify_oauth2_shm_t   *sh;
    ngx_http_notify_oauth2_slot_t  *s, *old;

    sh = oc->zone->data;
    old = NULL;

    for (i = 0; i < NGX_HTTP_NOTIFY_OAUTH2_SLOTS; i++) {
        s = &sh->slot[i];

        if (s->used && ngx_memcmp(s->key, oc->key, 16) == 0) {
            return s;
        }
    }

    if (!claim) {
        return NULL;
    }

    for (i = 0; i < NGX_HTTP_NOTIFY_OAUTH2_SLOTS; i++) {
        s = &sh->slot[i];

        if (!s->used) {
            old = s;
            break;
        }

        if (s->fetching <= now
            && (old == NULL || s->touched < old->touched))
        {
            old = s;
        }
    }

    if (old == NULL) {
        return NULL;
    }

    ngx_memzero(old, offsetof(ngx_http_notify_oauth2_slot_t, token));
    ngx_memcpy(old->key, oc->key, 16);
    old->used = 1;

    return old;
}


ngx_uint_t
ngx_http_notify_oauth2_ready(ngx_http_notify_target_t *t)
{
    uint64_t                        now;
    ngx_uint_t                      ready;
    ngx_slab_pool_t                *shpool;
    ngx_http_notify_oauth2_t       *oc;
    ngx_http_notify_oauth2_slot_t  *s;

    oc = t->oauth2;

    if (oc == NULL) {
        return 1;
    }

    shpool = (ngx_slab_pool_t *) oc->zone->shm.addr;
    now = ngx_http_notify_oauth2_now();

    ngx_shmtx_lock(&shpool->mutex);

    s = ngx_http_notify_oauth2_slot(oc, 0, now);
    ready = (s != NULL && s->len && now < s->refresh_at);

    ngx_shmtx_unlock(&shpool->mutex);

    return ready;
}


ngx_int_t
ngx_http_notify_oauth2_wait(ngx_http_notify_target_t *t, ngx_msec_t *wait,
    ngx_log_t *log)
{
    uint64_t                        now, mark;
    ngx_slab_pool_t                *shpool;
    ngx_http_notify_oauth2_t       *oc;
    ngx_http_notify_oauth2_slot_t  *s;

    oc = t->oauth2;

    if (oc == NULL) {
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) oc->zone->shm.addr;
    now = ngx_http_notify_oauth2_now();
    *wait = 1000;

    ngx_shmtx_lock(&shpool->mutex);

    s = ngx_http_notify_oauth2_slot(oc, 1, now);

    if (s == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_AGAIN;           /* every slot is being fetched */
    }

    s->touched = now;

    if (s->len && now < s->refresh_at) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_OK;
    }

    if (s->fetching > now || s->next_fetch > now) {
        *wait = (ngx_msec_t) (ngx_max(s->fetching, s->next_fetch) - now);
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_AGAIN;
    }

    /* this process fetches: no other until it is done, or given up */

    s->fetching = now + oc->timeout + 1000;
    mark = s->fetching;

    ngx_shmtx_unlock(&shpool->mutex);

    if (ngx_http_notify_oauth2_start(oc, ngx_http_notify_outbound_slot(t),
                                     mark, log)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "notify: target \"%V\": cannot start the OAuth2 token"
                      " request", &oc->name);

        ngx_shmtx_lock(&shpool->mutex);

        s = ngx_http_notify_oauth2_slot(oc, 0, now);

        if (s && s->fetching == mark) {
            s->fetching = 0;
            s->next_fetch = now + oc->backoff_min;
        }

        ngx_shmtx_unlock(&shpool->mutex);

        *wait = oc->backoff_min;
    }

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_notify_oauth2_authorization(ngx_http_notify_target_t *t,
    ngx_pool_t *pool, ngx_str_t *authorization, uint64_t *generation)
{
    u_char                         *p;
    uint64_t                        now;
    ngx_int_t                       rc;
    ngx_slab_pool_t                *shpool;
    ngx_http_notify_oauth2_t       *oc;
    ngx_http_notify_oauth2_slot_t  *s;

    oc = t->oauth2;
    shpool = (ngx_slab_pool_t *) oc->zone->shm.addr;
    now = ngx_http_notify_oauth2_now();
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&shpool->mutex);

    s = ngx_http_notify_oauth2_slot(oc, 0, now);

    /* a token that is due for a refresh is still good until it expires */

    if (s != NULL && s->len && now < s->expires_at) {
        p = ngx_pnalloc(pool, sizeof("Bearer ") - 1 + s->len);

        if (p != NULL) {
            authorization->data = p;
            p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
            p = ngx_cpymem(p, s->token, s->len);
            authorization->len = p - authorization->data;

            *generation = s->generation;
            rc = NGX_OK;

        } else {
            rc = NGX_ERROR;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


ngx_uint_t
ngx_http_notify_oauth2_rejected(ngx_http_notify_target_t *t,
    uint64_t generation, ngx_log_t *log)
{
    uint64_t                        now;
    ngx_slab_pool_t                *shpool;
    ngx_http_notify_oauth2_t       *oc;
    ngx_http_notify_oauth2_slot_t  *s;

    oc = t->oauth2;

    if (oc == NULL || generation == 0) {
        return 0;
    }

    shpool = (ngx_slab_pool_t *) oc->zone->shm.addr;
    now = ngx_http_notify_oauth2_now();

    ngx_shmtx_lock(&shpool->mutex);

    s = ngx_http_notify_oauth2_slot(oc, 0, now);

    if (s == NULL || s->len == 0 || s->generation != generation) {

        /* another token is there, or on its way */

        ngx_shmtx_unlock(&shpool->mutex);
        return 1;
    }

    if (s->after_401) {

        /* a token fetched because of a 401 is refused too */

        ngx_shmtx_unlock(&shpool->mutex);
        return 0;
    }

    s->len = 0;
    s->refresh_at = 0;
    s->expires_at = 0;
    s->invalidated = 1;

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "notify: target \"%V\" refused its OAuth2 token (401),"
                  " another one is fetched", &oc->name);

    return 1;
}


/* the token request */

static ngx_int_t
ngx_http_notify_oauth2_start(ngx_http_notify_oauth2_t *oc, ngx_uint_t index,
    uint64_t mark, ngx_log_t *log)
{
    ngx_pool_t                      *pool;
    ngx_keyval_t                    *h;
    ngx_http_notify_oauth2_fetch_t  *f;

    if (!ngx_http_notify_oauth2_fetches_init) {
        ngx_queue_init(&ngx_http_notify_oauth2_fetches);
        ngx_http_notify_oauth2_fetches_init = 1;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    f = ngx_pcalloc(pool, sizeof(ngx_http_notify_oauth2_fetch_t));
    if (f == NULL) {
        goto failed;
    }

    f->pool = pool;
    f->client = oc;
    f->index = index;
    f->mark = mark;

    if (ngx_array_init(&f->headers, pool, 2, sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        goto failed;
    }

    h = ngx_array_push_n(&f->headers, 2);
    if (h == NULL) {
        goto failed;
    }

    ngx_str_set(&h[0].key, "Content-Type");
    ngx_str_set(&h[0].value, "application/x-www-form-urlencoded");
    ngx_str_set(&h[1].key, "Accept");
    ngx_str_set(&h[1].value, "application/json");

    f->curl.url = oc->url;
    f->curl.body = oc->form;
    f->curl.headers = &f->headers;
    f->curl.timeout = oc->timeout;
    f->curl.done = ngx_http_notify_oauth2_done;
    f->curl.data = f;
    f->curl.log = ngx_cycle->log;

    if (ngx_http_notify_curl_send(&f->curl) != NGX_OK) {
        goto failed;
    }

    ngx_queue_insert_tail(&ngx_http_notify_oauth2_fetches, &f->queue);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "notify: target \"%V\": OAuth2 token requested",
                   &oc->name);

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


static void
ngx_http_notify_oauth2_done(ngx_http_notify_curl_req_t *req)
{
    ngx_http_notify_oauth2_fetch_t *f = req->data;

    time_t                          life;
    json_t                         *json;
    uint64_t                        now, delay, margin;
    ngx_int_t                       rc;
    ngx_str_t                       token;
    ngx_uint_t                      i;
    ngx_slab_pool_t                *shpool;
    ngx_http_notify_oauth2_t       *oc;
    ngx_http_notify_oauth2_shm_t   *sh;
    ngx_http_notify_oauth2_slot_t  *s;
    u_char                          error[128];

    oc = f->client;
    shpool = (ngx_slab_pool_t *) oc->zone->shm.addr;
    sh = oc->zone->data;
    now = ngx_http_notify_oauth2_now();
    json = NULL;
    delay = 0;

    rc = ngx_http_notify_oauth2_parse(req, &json, &token, &life, error,
                                      sizeof(error));

    ngx_shmtx_lock(&shpool->mutex);

    s = ngx_http_notify_oauth2_slot(oc, 0, now);

    if (s != NULL) {
        if (s->fetching == f->mark) {
            s->fetching = 0;
        }

        if (rc == NGX_OK) {
            ngx_memcpy(s->token, token.data, token.len);
            s->len = token.len;
            s->generation = ++sh->generations;
            s->expires_at = now + (uint64_t) life * 1000;

            margin = ngx_min((uint64_t) life * 100,
                             NGX_HTTP_NOTIFY_OAUTH2_MARGIN);
            s->refresh_at = s->expires_at - margin;

            s->failures = 0;
            s->next_fetch = 0;
            s->after_401 = s->invalidated;
            s->invalidated = 0;

        } else {
            s->failures++;

            delay = oc->backoff_min;

            for (i = 1; i < s->failures && delay < oc->backoff_max; i++) {
                delay *= 2;
            }

            delay = ngx_min(delay, (uint64_t) oc->backoff_max);
            s->next_fetch = now + delay;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    json_decref(json);

    if (rc == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "notify: target \"%V\": OAuth2 token fetched, valid"
                      " for %T s", &oc->name, life);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "notify: target \"%V\": OAuth2 token request failed:"
                      " %s; next in %uLms", &oc->name, error, delay);
    }

    ngx_http_notify_metrics_oauth2(f->index, rc == NGX_OK);

    ngx_queue_remove(&f->queue);
    ngx_destroy_pool(f->pool);

    /* the entries that waited for it */

    ngx_http_notify_delivery_arm(0);
}


/*
 * The token endpoint's answer (RFC 6749, 5.1 and 5.2).  "error" gets what
 * went wrong, in words that hold nothing of the answer but an OAuth2
 * error code.
 */

static ngx_int_t
ngx_http_notify_oauth2_parse(ngx_http_notify_curl_req_t *req, json_t **json,
    ngx_str_t *token, time_t *life, u_char *error, size_t size)
{
    u_char      *p, *last, c;
    json_t      *v;
    ngx_int_t    n;
    ngx_uint_t   i;
    const char  *type, *code;

    p = error;
    last = error + size - 1;

    if (req->status == 0) {
        p = ngx_slprintf(p, last, "no answer: %s",
                         req->error ? req->error : "unknown");
        *p = '\0';
        return NGX_ERROR;
    }

    *json = json_loadb((char *) req->response.data, req->response.len, 0,
                       NULL);

    if (req->status < 200 || req->status > 299) {
        p = ngx_slprintf(p, last, "HTTP %ui", req->status);

        /* the error code, if it is one (letters, digits, "_") */

        code = json_string_value(json_object_get(*json, "error"));

        if (code != NULL && ngx_strlen(code) <= 64) {
            for (i = 0; code[i]; i++) {
                c = code[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                      || (c >= '0' && c <= '9') || c == '_'))
                {
                    break;
                }
            }

            if (code[i] == '\0' && i) {
                p = ngx_slprintf(p, last, ", error \"%s\"", code);
            }
        }

        *p = '\0';
        return NGX_ERROR;
    }

    v = json_object_get(*json, "access_token");

    token->data = (u_char *) json_string_value(v);
    token->len = json_string_length(v);

    if (token->data == NULL || token->len == 0) {
        p = ngx_slprintf(p, last, "HTTP %ui without an access_token",
                         req->status);
        *p = '\0';
        return NGX_ERROR;
    }

    if (token->len > NGX_HTTP_NOTIFY_OAUTH2_TOKEN_MAX) {
        p = ngx_slprintf(p, last, "an access_token of more than %d bytes",
                         NGX_HTTP_NOTIFY_OAUTH2_TOKEN_MAX);
        *p = '\0';
        return NGX_ERROR;
    }

    /* it goes in a header: visible ASCII only */

    for (i = 0; i < token->len; i++) {
        if (token->data[i] <= 0x20 || token->data[i] >= 0x7f) {
            p = ngx_slprintf(p, last, "an access_token with characters a"
                             " header cannot carry");
            *p = '\0';
            return NGX_ERROR;
        }
    }

    type = json_string_value(json_object_get(*json, "token_type"));

    if (type != NULL && ngx_strcasecmp((u_char *) type, (u_char *) "Bearer")
                        != 0)
    {
        p = ngx_slprintf(p, last, "a token_type other than Bearer");
        *p = '\0';
        return NGX_ERROR;
    }

    /* expires_in: a number, or a string of one (some endpoints) */

    v = json_object_get(*json, "expires_in");

    if (json_is_integer(v)) {
        n = (ngx_int_t) ngx_min(json_integer_value(v),
                                NGX_HTTP_NOTIFY_OAUTH2_LIFE_MAX);

    } else if (json_is_string(v)) {
        n = ngx_atoi((u_char *) json_string_value(v), json_string_length(v));

    } else if (v == NULL) {
        n = NGX_HTTP_NOTIFY_OAUTH2_LIFE;

    } else {
        n = NGX_ERROR;
    }

    if (n == NGX_ERROR || n <= 0) {
        p = ngx_slprintf(p, last, "an expires_in that is no time to come");
        *p = '\0';
        return NGX_ERROR;
    }

    *life = ngx_min(n, NGX_HTTP_NOTIFY_OAUTH2_LIFE_MAX);
    *p = '\0';

    return NGX_OK;
}


void
ngx_http_notify_oauth2_exit_process(void)
{
    ngx_queue_t                     *q;
    ngx_http_notify_oauth2_fetch_t  *f;

    if (!ngx_http_notify_oauth2_fetches_init) {
        return;
    }

    /* curl has let go of them: another process may fetch at once */

    while (!ngx_queue_empty(&ngx_http_notify_oauth2_fetches)) {
        q = ngx_queue_head(&ngx_http_notify_oauth2_fetches);
        ngx_queue_remove(q);

        f = ngx_queue_data(q, ngx_http_notify_oauth2_fetch_t, queue);

        ngx_http_notify_oauth2_forget(f);
        ngx_destroy_pool(f->pool);
    }
}


static void
ngx_http_notify_oauth2_forget(ngx_http_notify_oauth2_fetch_t *f)
{
    ngx_slab_pool_t                *shpool;
    ngx_http_notify_oauth2_slot_t  *s;

    shpool = (ngx_slab_pool_t *) f->client->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    s = ngx_http_notify_oauth2_slot(f->client, 0, 0);

    if (s != NULL && s->fetching == f->mark) {
        s->fetching = 0;
    }

    ngx_shmtx_unlock(&shpool->mutex);
}

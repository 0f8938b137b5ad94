
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * OAuth2 client credentials for a target (oauth2_token_url,
 * oauth2_client_id, oauth2_secret_file, oauth2_scope of notify_target):
 * an access token fetched from the token endpoint with libcurl on the
 * event loop, and cached for all worker processes in a shared memory zone
 * of its own ("notify_oauth2", kept across reloads) until shortly before
 * it expires.  One fetch at a time for a target, whichever process wants
 * it; a 401 of the target makes one more; a failed fetch waits a backoff.
 */


#ifndef _NGX_HTTP_NOTIFY_OAUTH2_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_OAUTH2_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_core.h"


/* the longest access token kept, in bytes; a longer one is an error */
#define NGX_HTTP_NOTIFY_OAUTH2_TOKEN_MAX  8192

/* tokens the zone has room for (one a target and its settings) */
#define NGX_HTTP_NOTIFY_OAUTH2_SLOTS      16


/* after the http level: a target with oauth2_token_url gets its client */
ngx_int_t ngx_http_notify_oauth2_init_conf(ngx_conf_t *cf,
    ngx_http_notify_target_t *t);

/* a first attempt is made only with a token in the cache now */
ngx_uint_t ngx_http_notify_oauth2_ready(ngx_http_notify_target_t *t);

/*
 * The scheduler, before it claims entries: NGX_OK, there is a token; or
 * NGX_AGAIN, none for "wait" msec at most (a fetch runs, started now or by
 * another process, or the last one failed and the next waits its
 * backoff).  The scheduler is armed again when a fetch of this process
 * ends.
 */
ngx_int_t ngx_http_notify_oauth2_wait(ngx_http_notify_target_t *t,
    ngx_msec_t *wait, ngx_log_t *log);

/*
 * An attempt's Authorization value, "Bearer <token>", in "pool", and the
 * token's generation; NGX_DECLINED: no token (the entry waits for one).
 */
ngx_int_t ngx_http_notify_oauth2_authorization(ngx_http_notify_target_t *t,
    ngx_pool_t *pool, ngx_str_t *authorization, uint64_t *generation);

/*
 * The target answered 401 to a token of "generation": 1 if the attempt is
 * to be made again at once with another token (that token is dropped, or
 * was already), 0 if the 401 is the target's own refusal (the token was
 * itself fetched after a 401): an ordinary failed attempt.
 */
ngx_uint_t ngx_http_notify_oauth2_rejected(ngx_http_notify_target_t *t,
    uint64_t generation, ngx_log_t *log);

/* the process ends: its fetches are abandoned */
void ngx_http_notify_oauth2_exit_process(void);


#endif /* _NGX_HTTP_NOTIFY_OAUTH2_H_INCLUDED_ */

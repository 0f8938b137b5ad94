
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The one flow every inbound dialect goes through (DESIGN.md):
 *
 *   request -> dialect headers -> method -> authenticate -> role ->
 *   dialect request checks -> read body -> parse + validate ->
 *   authorize -> expand recipients -> commit (group commit, fsync off the
 *   event loop) -> answer in the dialect's contract
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_notify_module.h"

#include <openssl/evp.h>


static void ngx_http_notify_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_notify_process(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_read_body(ngx_http_notify_req_t *nr);
static void ngx_http_notify_committed(ngx_http_notify_store_op_t *op);
static ngx_int_t ngx_http_notify_error(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_send_answer(ngx_http_notify_req_t *nr);
static ngx_int_t ngx_http_notify_key_add(EVP_MD_CTX *md, ngx_str_t *value);
static void ngx_http_notify_cleanup(void *data);
static ngx_int_t ngx_http_notify_set_allow(ngx_http_notify_req_t *nr);


ngx_int_t
ngx_http_notify_inbound_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_array_t                 *roles, dflt;
    ngx_pool_cleanup_t          *cln;
    ngx_http_notify_ctx_t       *ctx;
    ngx_http_notify_req_t       *nr;
    ngx_http_notify_dialect_t   *d;
    ngx_http_notify_loc_conf_t  *nlcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);
    d = nlcf->dialect;

    ctx = ngx_http_notify_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nr = ngx_pcalloc(r->pool, sizeof(ngx_http_notify_req_t));
    if (nr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_notify_cleanup;
    cln->data = nr;

    nr->request = r;
    nr->dialect = d;
    ctx->inbound = nr;

    if (ngx_array_init(&nr->recipients, r->pool, 8,
                       sizeof(ngx_http_notify_user_t *))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_notify_store_ready()) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_STORE,
                             NGX_HTTP_SERVICE_UNAVAILABLE,
                             "The notification store is not available.");
        return ngx_http_notify_error(nr);
    }

    if (d->check_headers && d->check_headers(nr) != NGX_OK) {
        return ngx_http_notify_error(nr);
    }

    if (!(r->method & d->methods)) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_METHOD,
                             NGX_HTTP_NOT_ALLOWED,
                             "The method %V is not allowed.",
                             &r->method_name);
        return ngx_http_notify_error(nr);
    }

    nr->auth = ngx_http_notify_authenticate(r,
                                            ngx_http_notify_main_conf(r)->jwt);
    if (nr->auth == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (nr->auth->error != NGX_HTTP_NOTIFY_AUTH_OK) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_AUTH,
                             NGX_HTTP_UNAUTHORIZED, "%V", &nr->auth->reason);
        return ngx_http_notify_error(nr);
    }

    roles = nlcf->roles;

    if (roles == NULL && d->default_role.len) {
        dflt.elts = &d->default_role;
        dflt.nelts = 1;
        roles = &dflt;
    }

    if (roles && roles->nelts
        && !ngx_http_notify_has_role(nr->auth->principal, roles))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "notify: the caller holds none of the roles required");

        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_FORBIDDEN,
                             NGX_HTTP_FORBIDDEN,
                             "The caller does not hold a required role.");
        return ngx_http_notify_error(nr);
    }

    if (d->check_request && d->check_request(nr) != NGX_OK) {
        return ngx_http_notify_error(nr);
    }

    if (r->headers_in.content_length_n > (off_t) nlcf->max_body) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_TOO_LARGE,
                             NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             "The request body is larger than %uz bytes.",
                             nlcf->max_body);
        return ngx_http_notify_error(nr);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_notify_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_notify_body_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_http_notify_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    rc = ngx_http_notify_process(ctx->inbound);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_notify_process(ngx_http_notify_req_t *nr)
{
    ngx_uint_t                   i;
    ngx_str_t                   *ids;
    ngx_http_request_t          *r;
    ngx_http_notify_user_t     **users;
    ngx_http_notify_dialect_t   *d;
    ngx_http_notify_store_op_t  *op;

    r = nr->request;
    d = nr->dialect;

    if (ngx_http_notify_read_body(nr) != NGX_OK) {
        return ngx_http_notify_error(nr);
    }

    if (d->parse(nr) != NGX_OK) {
        return ngx_http_notify_error(nr);
    }

    if (d->authorize && d->authorize(nr) != NGX_OK) {
        return ngx_http_notify_error(nr);
    }

    if (d->expand(nr) != NGX_OK) {
        return ngx_http_notify_error(nr);
    }

    if (d->answer(nr) != NGX_OK) {
        return ngx_http_notify_error(nr);
    }

    if (nr->skip_store) {
        /* the dialect answers without storing anything (nobody to tell) */
        nr->op.answer = nr->answer;
        nr->answer = NULL;

        return ngx_http_notify_send_answer(nr);
    }

    /* commit: the notification, one feed entry per recipient, and the
       delivery in the outbox */

    if (ngx_http_notify_delivery_plan(nr) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ids = ngx_palloc(r->pool, (nr->recipients.nelts + 1) * sizeof(ngx_str_t));
    if (ids == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    users = nr->recipients.elts;

    for (i = 0; i < nr->recipients.nelts; i++) {
        ids[i] = users[i]->id;
    }

    op = &nr->op;

    op->type = NGX_HTTP_NOTIFY_OP_PUT;
    op->note = nr->note;
    op->recipients = ids;
    op->nrecipients = nr->recipients.nelts;
    op->created = ngx_time();
    op->answer = nr->answer;
    nr->answer = NULL;

    if (nr->has_idem) {
        ngx_memcpy(op->idem, nr->idem, sizeof(op->idem));
        op->has_idem = 1;
    }

    if (nr->has_chain) {
        ngx_memcpy(op->chain, nr->chain, sizeof(op->chain));
        op->has_chain = 1;
    }

    op->done = ngx_http_notify_committed;
    op->data = nr;
    op->log = r->connection->log;

    /*
     * The request stays alive on the count that reading the body took;
     * ngx_http_notify_committed() finalizes it.
     */

    ngx_http_notify_store_post(op);

    return NGX_DONE;
}


static void
ngx_http_notify_committed(ngx_http_notify_store_op_t *op)
{
    ngx_int_t               rc;
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_http_notify_req_t  *nr;

    nr = op->data;
    r = nr->request;
    c = r->connection;

    ngx_http_notify_delivery_start(nr);

    if (op->rc != NGX_OK) {
        ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_STORE,
                             NGX_HTTP_SERVICE_UNAVAILABLE,
                             "The notification could not be stored.");
        rc = ngx_http_notify_error(nr);

    } else {
        if (op->duplicate) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "notify: idempotent replay, nothing stored");

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "notify: stored notification %016uxL for"
                          " %ui recipients, %ui groups expanded",
                          op->seq, op->nrecipients, nr->groups.n);
        }

        rc = ngx_http_notify_send_answer(nr);
    }

    ngx_http_finalize_request(r, rc);

    /* this runs from the store's event, not the connection's: the
       delivery subrequest posted above is to be run here */

    ngx_http_run_posted_requests(c);
}


/* the success answer: the dialect's own way, else JSON (or no body) */

static ngx_int_t
ngx_http_notify_send_answer(ngx_http_notify_req_t *nr)
{
    ngx_http_request_t  *r;

    r = nr->request;

    if (nr->dialect->send_answer) {
        return nr->dialect->send_answer(nr, nr->op.answer);
    }

    if (nr->op.answer) {
        return ngx_http_notify_send_json(r, nr->success, NULL, nr->op.answer,
                                         0);
    }

    return ngx_http_notify_send_empty(r, nr->success);
}


/*
 * The body, in one piece: small bodies are in memory, larger ones may be
 * in a temporary file (client_body_buffer_size).
 */

static ngx_int_t
ngx_http_notify_read_body(ngx_http_notify_req_t *nr)
{
    off_t                        len;
    u_char                      *p;
    ssize_t                      n;
    ngx_buf_t                   *b;
    ngx_chain_t                 *cl;
    ngx_http_request_t          *r;
    ngx_http_notify_ctx_t       *ctx;
    ngx_http_notify_loc_conf_t  *nlcf;

    r = nr->request;
    nlcf = ngx_http_get_module_loc_conf(r, ngx_http_notify_module);

    ctx = ngx_http_get_module_ctx(r, ngx_http_notify_module);

    if (ctx->body_too_large) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_TOO_LARGE,
                                    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "The request body is larger than %uz"
                                    " bytes.", nlcf->max_body);
    }

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ngx_str_set(&nr->raw, "");
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > (off_t) nlcf->max_body) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_TOO_LARGE,
                                    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "The request body is larger than %uz"
                                    " bytes.", nlcf->max_body);
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "Out of memory.");
    }

    nr->raw.data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR,
                                            "The request body could not be"
                                            " read.");
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';
    nr->raw.len = p - nr->raw.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_notify_error(ngx_http_notify_req_t *nr)
{
    ngx_http_request_t  *r;

    r = nr->request;

    if (nr->status == 0) {
        nr->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        nr->error = NGX_HTTP_NOTIFY_ERR_INTERNAL;
    }

    if (nr->status >= NGX_HTTP_INTERNAL_SERVER_ERROR
        && nr->error != NGX_HTTP_NOTIFY_ERR_STORE)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "notify: %V", &nr->message);
    }

    if (nr->error == NGX_HTTP_NOTIFY_ERR_METHOD && !nr->dialect->no_allow
        && ngx_http_notify_set_allow(nr) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return nr->dialect->send_error(nr);
}


static ngx_int_t
ngx_http_notify_set_allow(ngx_http_notify_req_t *nr)
{
    u_char      *p;
    ngx_str_t    allow;
    ngx_uint_t   i;

    static struct {
        ngx_uint_t   method;
        char        *name;
    } methods[] = {
        { NGX_HTTP_GET, "GET" },
        { NGX_HTTP_HEAD, "HEAD" },
        { NGX_HTTP_POST, "POST" },
        { NGX_HTTP_PUT, "PUT" },
        { NGX_HTTP_DELETE, "DELETE" },
        { 0, NULL }
    };

    p = ngx_pnalloc(nr->request->pool, sizeof("GET, HEAD, POST, PUT, DELETE"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    allow.data = p;

    for (i = 0; methods[i].name; i++) {
        if (nr->dialect->methods & methods[i].method) {
            if (p != allow.data) {
                *p++ = ','; *p++ = ' ';
            }

            p = ngx_cpymem(p, methods[i].name, ngx_strlen(methods[i].name));
        }
    }

    allow.len = p - allow.data;

    return ngx_http_notify_set_header(nr->request, "Allow", &allow);
}


/* sets the error to answer; returns NGX_ERROR to be returned on */

ngx_int_t
ngx_http_notify_fail(ngx_http_notify_req_t *nr, ngx_http_notify_err_e error,
    ngx_uint_t status, const char *fmt, ...)
{
    u_char   *p, buf[1024];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_http_notify_utf8_mend(buf, p);

    nr->error = error;
    nr->status = status;

    nr->message.data = ngx_pstrdup(nr->request->pool,
                                   &(ngx_str_t) { p - buf, buf });
    nr->message.len = nr->message.data ? (size_t) (p - buf) : 0;

    return NGX_ERROR;
}


/* adds one validation message for a field; the answer lists them all */

ngx_int_t
ngx_http_notify_field_error(ngx_http_notify_req_t *nr, const char *field,
    const char *fmt, ...)
{
    u_char   *p, buf[1024];
    json_t   *list;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_http_notify_utf8_mend(buf, p);

    if (nr->fields == NULL) {
        nr->fields = json_object();
        if (nr->fields == NULL) {
            return NGX_ERROR;
        }
    }

    list = json_object_get(nr->fields, field);

    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(nr->fields, field, list)) {
            return NGX_ERROR;
        }
    }

    json_array_append_new(list, json_stringn((char *) buf, p - buf));

    nr->error = NGX_HTTP_NOTIFY_ERR_INVALID;
    nr->status = NGX_HTTP_BAD_REQUEST;
    ngx_str_set(&nr->message, "One or more validation errors occurred.");

    return NGX_ERROR;
}


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
ngx_http_notify_add_name(ngx_http_notify_req_t *nr, ngx_str_t *name)
{
    ngx_http_notify_user_t       *user;
    ngx_http_notify_group_t      *group;
    ngx_http_notify_main_conf_t  *nmcf;

    nmcf = ngx_http_notify_main_conf(nr->request);

    user = ngx_http_notify_directory_user(nmcf->directory, name);
    if (user) {
        return ngx_http_notify_add_user(nr, user);
    }

    group = ngx_http_notify_directory_group(nmcf->directory, name);
    if (group) {
        return ngx_http_notify_add_group(nr, group);
    }

    return NGX_DONE;
}


/*
 * A key for the store (idempotency, chains): the SHA-256 of the dialect,
 * the caller's whole identity (the issuer, tenant, sender, object id and
 * subject of its token) and the parts, each value preceded by its length,
 * so that no two callers or lists of parts give the same input.
 */

ngx_int_t
ngx_http_notify_key(ngx_http_notify_req_t *nr, ngx_str_t *parts,
    ngx_uint_t n, u_char *out)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    EVP_MD_CTX                   *md;
    unsigned int                  len;
    ngx_http_notify_principal_t  *p;

    p = nr->auth ? nr->auth->principal : NULL;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
        || ngx_http_notify_key_add(md, &nr->dialect->name) != NGX_OK)
    {
        goto done;
    }

    if (p
        && (ngx_http_notify_key_add(md, &p->issuer) != NGX_OK
            || ngx_http_notify_key_add(md, &p->tenant_id) != NGX_OK
            || ngx_http_notify_key_add(md, &p->sender) != NGX_OK
            || ngx_http_notify_key_add(md, &p->object_id) != NGX_OK
            || ngx_http_notify_key_add(md, &p->subject) != NGX_OK))
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_notify_key_add(md, &parts[i]) != NGX_OK) {
            goto done;
        }
    }

    len = 32;

    if (EVP_DigestFinal_ex(md, out, &len) == 1) {
        rc = NGX_OK;
    }

done:

    EVP_MD_CTX_free(md);

    return rc;
}


/* one value of a key: its length (8 bytes, big-endian), then its bytes */

static ngx_int_t
ngx_http_notify_key_add(EVP_MD_CTX *md, ngx_str_t *value)
{
    uint64_t    n;
    ngx_uint_t  i;
    u_char      len[8];

    n = value->len;

    for (i = 0; i < 8; i++) {
        len[7 - i] = (u_char) (n >> (8 * i));
    }

    if (EVP_DigestUpdate(md, len, 8) != 1
        || (value->len && EVP_DigestUpdate(md, value->data, value->len) != 1))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The stored notification could not be put together: jansson's text says
 * why ("Out of memory", "Invalid UTF-8 string", ...).
 */

ngx_int_t
ngx_http_notify_note_failed(ngx_http_notify_req_t *nr, json_error_t *err)
{
    return ngx_http_notify_fail(nr, NGX_HTTP_NOTIFY_ERR_INTERNAL,
                                NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "the notification could not be built: %s",
                                err->text);
}


static void
ngx_http_notify_cleanup(void *data)
{
    ngx_http_notify_req_t *nr = data;

    json_decref(nr->body);
    json_decref(nr->note);
    json_decref(nr->answer);
    json_decref(nr->unresolved);
    json_decref(nr->fields);
    json_decref(nr->op.answer);
}


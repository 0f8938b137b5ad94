
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * What the dialects' outbound halves share (ngx_http_notify_render.c):
 * the target's activity type of an event type, one text of a text that may
 * be per language, the pieces of a rendered request (its body, its URL, its
 * headers) and the judgement of an answer by a contract's success status.
 */


#ifndef _NGX_HTTP_NOTIFY_RENDER_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_RENDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_notify_core.h"


/* at most the headers of ngx_http_notify_render_post(), "more" included */
#define NGX_HTTP_NOTIFY_RENDER_HEADERS  8


/* writes what an error body of the dialect says, after "HTTP <status>" */
typedef u_char *(*ngx_http_notify_render_error_pt)(json_t *json, u_char *p,
    u_char *last);


ngx_int_t ngx_http_notify_render_activity_type(
    ngx_http_notify_target_t *target, ngx_http_notify_note_t *note,
    ngx_str_t *type);
json_t *ngx_http_notify_render_text(json_t *value);
json_t *ngx_http_notify_render_comment(ngx_http_notify_note_t *note);
json_t *ngx_http_notify_render_recipients(ngx_http_notify_note_t *note);
ngx_int_t ngx_http_notify_render_body(ngx_http_notify_outbound_req_t *out,
    json_t *json);
ngx_int_t ngx_http_notify_render_note(ngx_http_notify_outbound_req_t *out,
    ngx_http_notify_note_t *note, json_t *more, ngx_str_t *text);
ngx_int_t ngx_http_notify_render_headers(ngx_http_notify_outbound_req_t *out,
    ngx_keyval_t *headers, ngx_uint_t n);
ngx_int_t ngx_http_notify_render_post(ngx_http_notify_outbound_req_t *out,
    ngx_str_t *base, const char *path, json_t *body, ngx_keyval_t *more,
    ngx_uint_t n);
u_char *ngx_http_notify_render_error_pair(u_char *p, u_char *last,
    json_t *code, json_t *message);
ngx_http_notify_verdict_e ngx_http_notify_render_judge(
    ngx_http_notify_target_t *target, ngx_uint_t status, ngx_uint_t success,
    ngx_uint_t also, ngx_str_t *body, ngx_http_notify_render_error_pt error,
    u_char *reason, size_t size);


#endif /* _NGX_HTTP_NOTIFY_RENDER_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The canonical notification: what every dialect's inbound half fills from
 * its request, and what the store keeps, the feed shows and the outbound
 * halves read.  Its JSON is written in one place (ngx_http_notify_note.c).
 *
 * Each json_t member holds one reference of its own.  A member that is NULL
 * is not carried by the dialect the notification came in, and its key is
 * left out of the JSON; JSON null is carried and empty.
 */


#ifndef _NGX_HTTP_NOTIFY_NOTE_H_INCLUDED_
#define _NGX_HTTP_NOTIFY_NOTE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>


typedef struct {
    ngx_str_t                   id;            /* the store's number: set
                                                  when read back (load) */
    ngx_str_t                   dialect;       /* the inbound dialect */
    json_t                     *event;         /* the event (activity) type */
    json_t                     *title;         /* text, or per language */
    json_t                     *label;         /* per language (GEVER) */
    json_t                     *summary;       /* per language (GEVER) */
    json_t                     *description;   /* per language (GEVER) */
    json_t                     *url;           /* a link, or null */
    json_t                     *comment;       /* a text, or null */
    json_t                     *notified;      /* when it happened, or null */
    time_t                      created;       /* when it was accepted */
    json_t                     *type;          /* push: notification type */
    json_t                     *work_item_type; /* push, or null */
    json_t                     *work_item;     /* push: the work item */
    ngx_str_t                   sender;        /* the calling app or user;
                                                  empty: none (null) */
    ngx_str_t                   tenant;
    json_t                     *topic;         /* Graph: the topic's text */
    json_t                     *chain_id;      /* Graph: chainId, or null */

    ngx_str_t                  *recipients;    /* the user ids it went to,
                                                  for an outbound half: the
                                                  store keeps them beside
                                                  the JSON, not in it */
    ngx_uint_t                  nrecipients;
} ngx_http_notify_note_t;


/* where the texts of ngx_http_notify_note_text() have the id's digits */
#define NGX_HTTP_NOTIFY_NOTE_ID_AT   (sizeof("{\"id\":\"") - 1)
#define NGX_HTTP_NOTIFY_NOTE_ID_LEN  16


#if (NGX_HTTP_NOTIFY_REFERENCE)
json_t *ngx_http_notify_note_json(ngx_http_notify_note_t *note,
    json_error_t *err);
#endif
ngx_int_t ngx_http_notify_note_text(ngx_http_notify_note_t *note,
    ngx_pool_t *pool, ngx_str_t *full, ngx_str_t *view, json_error_t *err);
size_t ngx_http_notify_note_size(ngx_http_notify_note_t *note,
    json_error_t *err);
u_char *ngx_http_notify_note_write(ngx_http_notify_note_t *note, u_char *p,
    ngx_str_t *view);
void ngx_http_notify_note_set_id(ngx_str_t *text, u_char *id);
ngx_int_t ngx_http_notify_note_load(ngx_http_notify_note_t *note,
    json_t *json);
void ngx_http_notify_note_free(ngx_http_notify_note_t *note);


#endif /* _NGX_HTTP_NOTIFY_NOTE_H_INCLUDED_ */


/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The webhook dialect, outbound only: Standard Webhooks
 * (https://www.standardwebhooks.com/).  A POST of
 *
 *   {"type": <activity type>, "timestamp": <when it was accepted>,
 *    "data": <the notification, with its recipients>}
 *
 * to the target's URL, signed: "webhook-id" (the same for every attempt),
 * "webhook-timestamp" (this attempt's, in seconds) and "webhook-signature",
 * "v1," and the base64 of the HMAC-SHA256 of "<id>.<timestamp>.<body>"
 * with the target's secret.  Any 2xx is delivered; 410 Gone gives up (and
 * outbound/ disables the target); anything else is tried again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"
#include "ngx_http_notify_render.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>


static ngx_int_t ngx_http_notify_webhook_render(
    ngx_http_notify_target_t *target, ngx_http_notify_note_t *note,
    ngx_http_notify_outbound_req_t *out);
static ngx_int_t ngx_http_notify_webhook_sign(
    ngx_http_notify_target_t *target, ngx_http_notify_outbound_req_t *out,
    ngx_str_t *timestamp, ngx_str_t *signature);
static ngx_http_notify_verdict_e ngx_http_notify_webhook_judge(
    ngx_http_notify_target_t *target, ngx_uint_t status, ngx_str_t *body,
    u_char *reason, size_t size);
static char *ngx_http_notify_webhook_check_target(ngx_conf_t *cf,
    ngx_http_notify_target_t *target);


ngx_http_notify_dialect_t  ngx_http_notify_webhook_dialect = {
    ngx_string("webhook"),
    NGX_HTTP_POST,
    ngx_null_string,
    NULL,                              /* no inbound half: */
    NULL,                              /* notify_inbound refuses it */
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    0,
    NULL,                              /* no directives of its own */
    NULL,
    NULL,
    NULL,
    ngx_http_notify_webhook_render,
    ngx_http_notify_webhook_judge,
    ngx_http_notify_webhook_check_target,
    0
};


static ngx_int_t
ngx_http_notify_webhook_render(ngx_http_notify_target_t *target,
    ngx_http_notify_note_t *note, ngx_http_notify_outbound_req_t *out)
{
    u_char        *p, *q;
    size_t         size;
    ngx_str_t      type, data, timestamp, signature;
    ngx_keyval_t   headers[6];
    u_char         created[sizeof("1970-01-01T00:00:00Z")];

    (void) ngx_http_notify_render_activity_type(target, note, &type);

    /* {"type":<type or null>,"timestamp":"<created>","data":<note>} */

    if (ngx_http_notify_render_note(out, note, NULL, &data) != NGX_OK
        || ngx_http_notify_utf8_valid(type.data, type.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_http_notify_iso8601(created, note->created);

    size = sizeof("{\"type\":,\"timestamp\":\"\",\"data\":}") - 1
           + (type.len ? ngx_http_notify_json_text_size(type.data, type.len)
                       : sizeof("null") - 1)
           + (p - created) + data.len;

    out->body.data = ngx_pnalloc(out->pool, size + 1);
    if (out->body.data == NULL) {
        return NGX_ERROR;
    }

    q = ngx_cpymem(out->body.data, "{\"type\":", sizeof("{\"type\":") - 1);

    if (type.len) {
        q = ngx_http_notify_json_text_write(q, type.data, type.len);

    } else {
        q = ngx_cpymem(q, "null", sizeof("null") - 1);
    }

    q = ngx_cpymem(q, ",\"timestamp\":\"", sizeof(",\"timestamp\":\"") - 1);
    q = ngx_cpymem(q, created, p - created);
    q = ngx_cpymem(q, "\",\"data\":", sizeof("\",\"data\":") - 1);
    q = ngx_cpymem(q, data.data, data.len);
    *q++ = '}';
    *q = '\0';

    out->body.len = q - out->body.data;

    if (ngx_http_notify_webhook_sign(target, out, &timestamp, &signature)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the URL as it is configured */

    out->method = NGX_HTTP_POST;
    ngx_str_set(&out->method_name, "POST");
    out->url = target->url;

    ngx_str_set(&headers[0].key, "Content-Type");
    ngx_str_set(&headers[0].value, "application/json");
    ngx_str_set(&headers[1].key, "webhook-id");
    headers[1].value = out->idempotency_key;
    ngx_str_set(&headers[2].key, "webhook-timestamp");
    headers[2].value = timestamp;
    ngx_str_set(&headers[3].key, "webhook-signature");
    headers[3].value = signature;
    ngx_str_set(&headers[4].key, "Authorization");
    headers[4].value = out->authorization;

    return ngx_http_notify_render_headers(out, headers, 5);
}


/* this attempt's timestamp, and "v1,<base64 of the HMAC-SHA256>" */

static ngx_int_t
ngx_http_notify_webhook_sign(ngx_http_notify_target_t *target,
    ngx_http_notify_outbound_req_t *out, ngx_str_t *timestamp,
    ngx_str_t *signature)
{
    u_char        *p;
    size_t         len;
    ngx_str_t      mac, b64;
    unsigned int   n;
    u_char         md[EVP_MAX_MD_SIZE];

    timestamp->data = ngx_pnalloc(out->pool, NGX_TIME_T_LEN);
    if (timestamp->data == NULL) {
        return NGX_ERROR;
    }

    timestamp->len = ngx_sprintf(timestamp->data, "%T", ngx_time())
                     - timestamp->data;

    /* "<id>.<timestamp>.<body>" */

    len = out->idempotency_key.len + 1 + timestamp->len + 1 + out->body.len;

    p = ngx_pnalloc(out->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    mac.data = p;
    p = ngx_cpymem(p, out->idempotency_key.data, out->idempotency_key.len);
    *p++ = '.';
    p = ngx_cpymem(p, timestamp->data, timestamp->len);
    *p++ = '.';
    ngx_memcpy(p, out->body.data, out->body.len);

    if (HMAC(EVP_sha256(), target->secret.data, (int) target->secret.len,
             mac.data, len, md, &n)
        == NULL)
    {
        return NGX_ERROR;
    }

    mac.data = md;
    mac.len = n;

    signature->data = ngx_pnalloc(out->pool, sizeof("v1,") - 1
                                             + ngx_base64_encoded_length(n));
    if (signature->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(signature->data, "v1,", sizeof("v1,") - 1);

    b64.data = p;
    ngx_encode_base64(&b64, &mac);

    signature->len = sizeof("v1,") - 1 + b64.len;

    return NGX_OK;
}


/* any 2xx is delivered, 410 Gone is final, anything else is tried again */

static ngx_http_notify_verdict_e
ngx_http_notify_webhook_judge(ngx_http_notify_target_t *target,
    ngx_uint_t status, ngx_str_t *body, u_char *reason, size_t size)
{
    if (status >= 200 && status < 300) {
        *reason = '\0';
        return NGX_HTTP_NOTIFY_DELIVERED;
    }

    *ngx_slprintf(reason, reason + size - 1, "HTTP %ui%s", status,
                  status == 410 ? ", the endpoint is gone" : "")
        = '\0';

    return (status == 410) ? NGX_HTTP_NOTIFY_GIVE_UP
                                     : NGX_HTTP_NOTIFY_RETRY;
}


static char *
ngx_http_notify_webhook_check_target(ngx_conf_t *cf,
    ngx_http_notify_target_t *target)
{
    if (target->secret.len == 0) {
        return "a webhook target needs \"webhook_secret_file\"";
    }

    return NGX_CONF_OK;
}

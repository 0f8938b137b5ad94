
/*
 * Copyright (C) ngx_http_notify authors
 */


/*
 * The few pieces of nginx that the parse-and-validate functions and the
 * JWT parser use, written for the fuzz targets (nginx's own sources are not
 * installed, only its headers).  Every allocation is a malloc() of its own,
 * so that AddressSanitizer sees each one's bounds; a pool frees them all.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_notify_core.h"


typedef struct ngx_fuzz_chunk_s  ngx_fuzz_chunk_t;

struct ngx_fuzz_chunk_s {
    ngx_fuzz_chunk_t  *next;
    void              *data;
};


/* the data nginx has */

static ngx_time_t     ngx_fuzz_time;
volatile ngx_time_t  *ngx_cached_time = &ngx_fuzz_time;
ngx_uint_t            ngx_pagesize = 4096;
ngx_module_t          ngx_http_notify_module;
ngx_module_t          ngx_http_core_module;


void
ngx_fuzz_set_time(time_t now)
{
    ngx_fuzz_time.sec = now;
    ngx_fuzz_time.msec = 0;
}


/* pools */

ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    ngx_pool_t  *p;

    p = calloc(1, sizeof(ngx_pool_t));
    if (p == NULL) {
        return NULL;
    }

    p->log = log;

    return p;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_cleanup_t  *c;
    ngx_fuzz_chunk_t    *ch, *next;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    for (ch = (ngx_fuzz_chunk_t *) pool->d.last; ch; ch = next) {
        next = ch->next;
        free(ch->data);
        free(ch);
    }

    free(pool);
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    ngx_fuzz_chunk_t  *ch;

    ch = malloc(sizeof(ngx_fuzz_chunk_t));
    if (ch == NULL) {
        return NULL;
    }

    ch->data = malloc(size ? size : 1);
    if (ch->data == NULL) {
        free(ch);
        return NULL;
    }

    /* d.last: our list of chunks (nothing else looks at it here) */
    ch->next = (ngx_fuzz_chunk_t *) pool->d.last;
    pool->d.last = (u_char *) ch;

    return ch->data;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);
    if (p) {
        memset(p, 0, size);
    }

    return p;
}


ngx_int_t
ngx_pfree(ngx_pool_t *pool, void *p)
{
    return NGX_DECLINED;    /* freed with the pool */
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = ngx_palloc(p, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = NULL;

    if (size) {
        c->data = ngx_palloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


/* arrays and lists: grown by copying, the old space stays in the pool */

ngx_array_t *
ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_palloc(p, sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (ngx_array_init(a, p, n, size) != NGX_OK) {
        return NULL;
    }

    return a;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *new;

    if (a->nelts == a->nalloc) {
        new = ngx_palloc(a->pool, 2 * (a->nalloc ? a->nalloc : 1) * a->size);
        if (new == NULL) {
            return NULL;
        }

        if (a->nelts) {
            memcpy(new, a->elts, a->nelts * a->size);
        }

        a->elts = new;
        a->nalloc = 2 * (a->nalloc ? a->nalloc : 1);
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


void *
ngx_list_push(ngx_list_t *l)
{
    ngx_list_part_t  *last;

    last = l->last;

    if (last->nelts == l->nalloc) {
        last = ngx_palloc(l->pool, sizeof(ngx_list_part_t));
        if (last == NULL) {
            return NULL;
        }

        last->elts = ngx_palloc(l->pool, l->nalloc * l->size);
        if (last->elts == NULL) {
            return NULL;
        }

        last->nelts = 0;
        last->next = NULL;
        l->last->next = last;
        l->last = last;
    }

    return (u_char *) last->elts + l->size * last->nelts++;
}


/* strings */

u_char *
ngx_pstrdup(ngx_pool_t *pool, ngx_str_t *src)
{
    u_char  *dst;

    dst = ngx_pnalloc(pool, src->len);
    if (dst == NULL) {
        return NULL;
    }

    memcpy(dst, src->data, src->len);

    return dst;
}


ngx_int_t
ngx_strcasecmp(u_char *s1, u_char *s2)
{
    return strcasecmp((char *) s1, (char *) s2);
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    return strncasecmp((char *) s1, (char *) s2, n);
}


u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static const char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


ngx_int_t
ngx_decode_base64url(ngx_str_t *dst, ngx_str_t *src)
{
    size_t     i, n;
    u_char     c, v[4], *d;
    ngx_int_t  k;

    d = dst->data;
    n = 0;

    for (i = 0; i < src->len; i++) {
        c = src->data[i];

        if (c >= 'A' && c <= 'Z') {
            k = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            k = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            k = c - '0' + 52;
        } else if (c == '-') {
            k = 62;
        } else if (c == '_') {
            k = 63;
        } else {
            return NGX_ERROR;
        }

        v[n++] = (u_char) k;

        if (n == 4) {
            *d++ = (u_char) (v[0] << 2 | v[1] >> 4);
            *d++ = (u_char) (v[1] << 4 | v[2] >> 2);
            *d++ = (u_char) (v[2] << 6 | v[3]);
            n = 0;
        }
    }

    if (n == 1) {
        return NGX_ERROR;
    }

    if (n >= 2) {
        *d++ = (u_char) (v[0] << 2 | v[1] >> 4);
    }

    if (n == 3) {
        *d++ = (u_char) (v[1] << 4 | v[2] >> 2);
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


void
ngx_gmtime(time_t t, ngx_tm_t *tp)
{
    struct tm  tm;

    gmtime_r(&t, &tm);

    tp->ngx_tm_sec = tm.tm_sec;
    tp->ngx_tm_min = tm.tm_min;
    tp->ngx_tm_hour = tm.tm_hour;
    tp->ngx_tm_mday = tm.tm_mday;
    tp->ngx_tm_mon = tm.tm_mon + 1;
    tp->ngx_tm_year = tm.tm_year + 1900;
    tp->ngx_tm_wday = tm.tm_wday;
}


/*
 * nginx's printf: the conversions the module uses (%V %s %*s %d %i %ui
 * %uz %z %L %uL %xL %uxL %D %uD %O %T %c %p %f %%), with width and '0'.
 */

u_char *
ngx_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    char        spec[64], out[128];
    u_char     *s;
    size_t      len, slen, width;
    ngx_str_t  *v;
    ngx_uint_t  hex, sign, zero, star;
    int         n;
    uint64_t    u64;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        fmt++;
        zero = 0;
        hex = 0;
        sign = 1;
        star = 0;
        width = 0;
        slen = (size_t) -1;

        for ( ;; ) {
            if (*fmt == '0' && width == 0) {
                zero = 1;
            } else if (*fmt == 'u') {
                sign = 0;
            } else if (*fmt == 'x' || *fmt == 'X') {
                hex = *fmt;
                sign = 0;
            } else if (*fmt == 'm') {
                /* max width: not used here */
            } else if (*fmt == '*') {
                star = 1;
                slen = va_arg(args, size_t);
            } else if (*fmt >= '1' && *fmt <= '9') {
                while (*fmt >= '0' && *fmt <= '9') {
                    width = width * 10 + (*fmt++ - '0');
                }
                continue;
            } else if (*fmt == '.') {
                fmt++;
                while (*fmt >= '0' && *fmt <= '9') {
                    fmt++;
                }
                continue;
            } else {
                break;
            }
            fmt++;
        }

        s = NULL;
        len = 0;

        switch (*fmt) {

        case 'V':
            v = va_arg(args, ngx_str_t *);
            s = v->data;
            len = v->len;
            break;

        case 's':
            s = va_arg(args, u_char *);
            len = (star && slen != (size_t) -1) ? slen : strlen((char *) s);
            break;

        case 'c':
            out[0] = (char) va_arg(args, int);
            s = (u_char *) out;
            len = 1;
            break;

        case 'Z':
            out[0] = '\0';
            s = (u_char *) out;
            len = 1;
            break;

        case 'N':
            out[0] = '\n';
            s = (u_char *) out;
            len = 1;
            break;

        case '%':
            out[0] = '%';
            s = (u_char *) out;
            len = 1;
            break;

        case 'p':
            n = snprintf(out, sizeof(out), "%p", va_arg(args, void *));
            s = (u_char *) out;
            len = n;
            break;

        case 'f':
            n = snprintf(out, sizeof(out), "%f", va_arg(args, double));
            s = (u_char *) out;
            len = n;
            break;

        default:
            break;
        }

        if (s == NULL) {
            /* the integers */

            switch (*fmt) {
            case 'd':
            case 'D':
                u64 = sign ? (uint64_t) (int64_t) va_arg(args, int)
                           : (uint64_t) va_arg(args, unsigned int);
                break;
            case 'i':
            case 'z':
            case 'l':
                u64 = sign ? (uint64_t) (int64_t) va_arg(args, ssize_t)
                           : (uint64_t) va_arg(args, size_t);
                break;
            case 'O':
            case 'T':
            case 'M':
            case 'L':
            case 'A':
                u64 = (uint64_t) va_arg(args, int64_t);
                break;
            default:
                u64 = 0;
                break;
            }

            snprintf(spec, sizeof(spec), "%%%s%zu%s", zero ? "0" : "", width,
                     hex == 'x' ? PRIx64 : hex == 'X' ? PRIX64
                                : sign ? PRId64 : PRIu64);
            n = snprintf(out, sizeof(out), spec, u64);
            s = (u_char *) out;
            len = n;
        }

        if (len > (size_t) (last - buf)) {
            len = last - buf;
        }

        memcpy(buf, s, len);
        buf += len;
        fmt++;
    }

    return buf;
}


u_char *
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}


u_char *
ngx_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, last, fmt, args);
    va_end(args);

    return p;
}


u_char *
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, (void *) -1, fmt, args);
    va_end(args);

    return p;
}


/* the log: formatted (so that the arguments are used), not written */

void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   buf[NGX_MAX_ERROR_STR];
    va_list  args;

    va_start(args, fmt);
    (void) ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);
}

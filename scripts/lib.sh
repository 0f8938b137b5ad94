# Common settings for the scripts in this folder; sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=ngx_http_notify_module

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { say "$*"; exit 1; }

# the folder that scripts/nginx-current builds the current nginx in
current_dir() { printf '%s/nginx-current' "${NOTIFY_BUILD:-$ROOT/build}"; }

# use_nginx NAME: the nginx to build the module for and test it with
#   packaged  Debian's own (/usr/sbin/nginx, nginx-dev's tree), the default;
#             NGX_SRC, NGX_BIN and NDK_SO may point elsewhere
#   current   the current stable nginx that scripts/nginx-current builds
# Exported as NOTIFY_NGINX, so that the scripts this one runs use the same.
env_ngx_src=${NGX_SRC:-}
env_ngx_bin=${NGX_BIN:-}
env_ndk_so=${NDK_SO:-}
env_ndk_dir=${NGX_NDK_DIR:-}

use_nginx() {
    case "$1" in
    packaged)
        NGX_SRC=${env_ngx_src:-/usr/share/nginx/src}
        NGX_BIN=${env_ngx_bin:-/usr/sbin/nginx}
        NDK_SO=${env_ndk_so:-/usr/lib/nginx/modules/ndk_http_module.so}
        NGX_NDK_DIR=$env_ndk_dir
        ;;
    current)
        NGX_SRC=$(current_dir)
        NGX_BIN=$NGX_SRC/objs/nginx
        NDK_SO=$NGX_SRC/objs/ndk_http_module.so
        export NGX_NDK_DIR=$NGX_SRC/ndk
        ;;
    *) die "unknown nginx: $1 (packaged or current)" ;;
    esac
    export NOTIFY_NGINX=$1
}
use_nginx "${NOTIFY_NGINX:-packaged}"

# build folder of a variant: "plain" or "asan" ("current-plain" and
# "current-asan" for the current nginx)
# (NOTIFY_BUILD moves the build folder, e.g. for parallel work)
build_dir() {
    local flavour=

    [ "$NOTIFY_NGINX" = packaged ] || flavour=$NOTIFY_NGINX-
    printf '%s/%s%s' "${NOTIFY_BUILD:-$ROOT/build}" "$flavour" "$1"
}
module_so() { printf '%s/objs/%s.so' "$(build_dir "$1")" "$MODULE"; }

# the ASan runtime that the (uninstrumented) nginx must preload
asan_runtime() { gcc -print-file-name=libasan.so; }

# Common settings for the scripts in this folder; sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NGX_SRC=${NGX_SRC:-/usr/share/nginx/src}
NGX_BIN=${NGX_BIN:-/usr/sbin/nginx}
NDK_SO=${NDK_SO:-/usr/lib/nginx/modules/ndk_http_module.so}
MODULE=ngx_http_notify_module

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { say "$*"; exit 1; }

# build folder of a variant: "plain" or "asan"
# (NOTIFY_BUILD moves the build folder, e.g. for parallel work)
build_dir() { printf '%s/%s' "${NOTIFY_BUILD:-$ROOT/build}" "$1"; }
module_so() { printf '%s/objs/%s.so' "$(build_dir "$1")" "$MODULE"; }

# the ASan runtime that the (uninstrumented) packaged nginx must preload
asan_runtime() { gcc -print-file-name=libasan.so; }

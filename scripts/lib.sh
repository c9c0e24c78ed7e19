# scripts/lib.sh: set-up shared by run.sh and test.sh (sourced, not run).

# Debian packages the build and the tests need.
SWX_PACKAGES="gcc clang libclang-rt-dev meson ninja-build pkg-config libjansson-dev zlib1g-dev check python3 procps curl libnghttp2-dev nghttp2-client python3-h2 libssl-dev openssl testssl.sh libc-ares-dev"

swx_install_packages() {
    local missing=()
    for p in $SWX_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# swx_build DIR [meson options...]: configure once, then build.
swx_build() {
    local dir="$1"
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || {
            cat "$dir.setup.log"
            return 1
        }
        rm -f "$dir.setup.log"
    fi
    ninja -C "$dir"
}

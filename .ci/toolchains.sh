#!/usr/bin/env bash
# .ci/toolchains.sh [PREFIX]  (from .ci/run; by hand: sudo .ci/toolchains.sh)
#
# Installs / extracts everything needed to BUILD and natively RUN small static
# test programs for four libc/arch combos on Debian 12 (bookworm) x86-64:
#
#   glibc i386   : gcc -m32 -static            (gcc-multilib)
#   musl  i386   : $PREFIX/bin/i386-musl-gcc   (Debian musl-dev:i386, extracted privately)
#   glibc x86-64 : gcc -static                 (libc6-dev)
#   musl  x86-64 : musl-gcc -static            (musl-tools)
#
# plus busybox-static:i386 (extracted privately), qemu-user (qemu-i386 /
# qemu-x86_64), strace and file.
#
# Must run as root.  Idempotent: every step checks first and is skipped when
# already done, so a second run takes ~1 s and touches no network.
# i386 packages are NOT installed system-wide: they are fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` under $PREFIX/i386.
# (The only system-wide i386 change is `dpkg --add-architecture i386`, which
#  apt needs in order to see :i386 package indices; ADD_I386_ARCH=0 avoids
#  even that.)
#
# Environment knobs:
#   SKIP_VERIFY=1    skip the final smoke test (build + run a test program for
#                    each combo natively and under qemu, busybox check)
#   ADD_I386_ARCH=0  do not run `dpkg --add-architecture i386`; pass
#                    -o APT::Architectures::=amd64,i386 to apt calls instead
set -euo pipefail

PREFIX="${1:-/opt/zeros-toolchains}"
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
PREFIX="${PREFIX%/}"
case "$PREFIX" in *[[:space:]]*) echo "setup.sh: PREFIX must not contain whitespace (it goes into a gcc specs file)" >&2; exit 2 ;; esac

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# amd64 packages installed system-wide
HOST_PKGS=(gcc libc6-dev gcc-multilib musl-tools strace file qemu-user)
# i386 packages downloaded and unpacked privately into $PREFIX/i386
I386_PKGS=(musl:i386 musl-dev:i386 busybox-static:i386)

log() { printf '[setup %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
[ "$(dpkg --print-architecture)" = amd64 ] || die "host must be amd64"

mkdir -p "$PREFIX"
# Serialise concurrent runs against the same PREFIX.
exec 9>"$PREFIX/.setup.lock"
flock 9

T0=$(date +%s)

# ---------------------------------------------------------------- apt helpers
# ADD_I386_ARCH=1 (default): `dpkg --add-architecture i386` (persistent; apt
#   then always fetches i386 indices too).  No i386 package gets installed.
# ADD_I386_ARCH=0: leave dpkg alone and pass -o APT::Architectures to the
#   update/show/download calls only (the i386 indices vanish again at the
#   next plain `apt-get update`, which is fine: the .debs are kept in $PREFIX).
ARCH_OPTS=()
if [ "${ADD_I386_ARCH:-1}" = 1 ]; then
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        log "dpkg --add-architecture i386"
        dpkg --add-architecture i386
    fi
else
    dpkg --print-foreign-architectures | grep -qx i386 \
        || ARCH_OPTS=(-o APT::Architectures::=amd64 -o APT::Architectures::=i386)
fi

APT_UPDATED=0
apt_update() {
    [ "$APT_UPDATED" = 1 ] && return 0
    log "apt-get update"
    # Do not abort on errors: an unreachable third-party source, or a
    # half-synced index (seen here: bookworm-security binary-i386 Packages.xz
    # 'File has unexpected size', rc=100) must not stop us.  What we really
    # need is checked right after (apt-cache show / apt-get install).
    if ! apt-get "${APT_OPTS[@]}" "${ARCH_OPTS[@]}" update -qq; then
        log "warning: apt-get update reported errors; continuing"
    fi
    APT_UPDATED=1
}

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

ROOT="$PREFIX/i386"           # dpkg-deb -x target ("sysroot")
DEBS="$PREFIX/debs"
MUSL_LIB="$ROOT/usr/lib/i386-linux-musl"
MUSL_INC="$ROOT/usr/include/i386-linux-musl"
BUSYBOX="$ROOT/bin/busybox"

have_i386_pkgs() {
    local p
    for p in "${I386_PKGS[@]}"; do
        [ -e "$ROOT/.extracted-${p%%:*}" ] || return 1
    done
    [ -f "$MUSL_LIB/libc.a" ] && [ -f "$MUSL_LIB/crt1.o" ] && [ -f "$MUSL_INC/stdio.h" ] && [ -x "$BUSYBOX" ]
}

missing=()
for p in "${HOST_PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
need_i386=0; have_i386_pkgs || need_i386=1

# One apt-get update at most, and only when something must be fetched.
# (apt-get download of :i386 needs the i386 indices: after adding the
# architecture an update is mandatory, else 'E: Unable to locate package'.)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_update
elif [ "$need_i386" = 1 ] && ! apt-cache "${ARCH_OPTS[@]}" show musl-dev:i386 >/dev/null 2>&1; then
    apt_update
fi

# ------------------------------------------------ 1. host (amd64) packages
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    # --no-install-recommends: qemu-user would otherwise pull qemu-user-binfmt
    # (binfmt_misc registration, not needed: i386 runs natively and we call
    # qemu-i386 / qemu-x86_64 explicitly).
    apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    for p in "${missing[@]}"; do pkg_installed "$p" || die "failed to install $p"; done
else
    log "host packages already installed"
fi

# ------------------------------------------------ 2. private i386 packages
if [ "$need_i386" = 0 ]; then
    log "i386 packages already extracted in $ROOT"
else
    mkdir -p "$ROOT" "$DEBS"
    apt-cache "${ARCH_OPTS[@]}" show musl-dev:i386 >/dev/null 2>&1 \
        || die "apt does not know musl-dev:i386 (is i386 added and apt-get update OK?)"
    log "apt-get download ${I386_PKGS[*]}"
    # Sandbox user root: the download dir is root-owned (otherwise apt prints
    # a harmless 'Download is performed unsandboxed as root' notice).
    dl() { ( cd "$DEBS" && apt-get "${APT_OPTS[@]}" "${ARCH_OPTS[@]}" -o APT::Sandbox::User=root download -qq "${I386_PKGS[@]}" ); }
    if ! dl; then
        # stale indices (e.g. 404 after a point release): refresh once, retry
        log "download failed; apt-get update and retry"
        APT_UPDATED=0; apt_update; dl || die "apt-get download ${I386_PKGS[*]} failed"
    fi
    for p in "${I386_PKGS[@]}"; do
        name="${p%%:*}"
        # newest matching .deb (older versions may be left from earlier runs)
        deb="$(ls -1t "$DEBS/${name}_"*_i386.deb 2>/dev/null | head -n1 || true)"
        [ -n "$deb" ] || die "download of $p failed"
        log "dpkg-deb -x $(basename "$deb")"
        dpkg-deb -x "$deb" "$ROOT"
        dpkg-deb -f "$deb" Package Version > "$ROOT/.extracted-$name"
    done
    have_i386_pkgs || die "extraction incomplete under $ROOT"
fi

# ------------------------------------------------ 3. i386 musl gcc wrapper
# Debian's musl-gcc.specs (x86-64, from musl-tools) adapted to i386: the
# private include/lib dirs, -m elf_i386 for ld, crt1.o+crtbeginT.o for -static.
# gcc resolves libgcc.a%s / crtbeginT.o%s / include%s through its -m32
# multilib dir (/usr/lib/gcc/x86_64-linux-gnu/12/32/), which is where
# __udivdi3/__divdi3/__umoddi3/__moddi3 (64-bit division on i386) live.
mkdir -p "$PREFIX/bin"
SPECS="$PREFIX/i386-musl-gcc.specs"
cat > "$SPECS.tmp" <<EOF
%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem $MUSL_INC -isystem include%s %(old_cpp_options)

*cc1:
%(cc1_cpu) -nostdinc -isystem $MUSL_INC -isystem include%s

*link_libgcc:
-L$MUSL_LIB -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
%{static|static-pie:%{static-pie:$MUSL_LIB/rcrt1.o;:$MUSL_LIB/crt1.o};!shared:$MUSL_LIB/Scrt1.o} $MUSL_LIB/crti.o %{static:crtbeginT.o%s;shared|static-pie|!no-pie:crtbeginS.o%s;:crtbegin.o%s}

*endfile:
%{static:crtend.o%s;shared|static-pie|!no-pie:crtendS.o%s;:crtend.o%s} $MUSL_LIB/crtn.o

*link:
-m elf_i386 -dynamic-linker /lib/ld-musl-i386.so.1 -nostdlib %{shared:-shared} %{static:-static} %{static-pie:-static -pie --no-dynamic-linker -z text} %{rdynamic:-export-dynamic}

*esp_link:


*esp_options:


*esp_cpp_options:


EOF
mv -f "$SPECS.tmp" "$SPECS"

WRAP="$PREFIX/bin/i386-musl-gcc"
cat > "$WRAP.tmp" <<EOF
#!/bin/sh
# gcc for static i386 programs against musl (Debian musl-dev:i386 unpacked
# in $ROOT).  Always links statically (no ld-musl-i386.so.1 is installed).
exec "\${REALGCC:-gcc}" -m32 -static "\$@" -specs "$SPECS"
EOF
chmod 755 "$WRAP.tmp"; mv -f "$WRAP.tmp" "$WRAP"
ln -sfn "$BUSYBOX" "$PREFIX/bin/busybox-i386"

# ------------------------------------------------ 3b. busybox for x86-64 (private)
# busybox-static:amd64 unpacked beside the i386 one, for the x86-64 comparisons. Best
# effort: without it those tests are skipped, nothing else depends on it.
ROOT64="$PREFIX/amd64"
BUSYBOX64="$ROOT64/bin/busybox"
if [ ! -x "$BUSYBOX64" ]; then
    mkdir -p "$ROOT64" "$DEBS"
    if ( cd "$DEBS" && apt-get "${APT_OPTS[@]}" -o APT::Sandbox::User=root download -qq \
            busybox-static:amd64 ) 2>/dev/null; then
        deb="$(ls -1t "$DEBS"/busybox-static_*_amd64.deb 2>/dev/null | head -n1 || true)"
        [ -n "$deb" ] && dpkg-deb -x "$deb" "$ROOT64" && log "busybox x86-64 in $ROOT64"
    else
        log "busybox-static:amd64 not downloaded: its tests will be skipped"
    fi
fi

# env file for CI steps:  . $PREFIX/env.sh
cat > "$PREFIX/env.sh" <<EOF
# generated by setup.sh
export ZEROS_TOOLCHAINS="$PREFIX"
export ZEROS_I386_ROOT="$ROOT"
export ZEROS_MUSL_I386_LIB="$MUSL_LIB"
export ZEROS_MUSL_I386_INC="$MUSL_INC"
export ZEROS_MUSL_I386_GCC="$WRAP"
export ZEROS_BUSYBOX_I386="$BUSYBOX"
export ZEROS_LIBGCC_I386="$(gcc -m32 -print-libgcc-file-name)"
export PATH="$PREFIX/bin:\$PATH"
EOF

# ------------------------------------------------ 4. smoke test
if [ "${SKIP_VERIFY:-0}" != 1 ]; then
    W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
    cat > "$W/t.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    volatile unsigned long long a = 10000000000ULL, b = 3; /* __udivdi3 on i386 */
    volatile double d = 2.5;
    char *p = malloc(1000);
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("ok %llu %.3f %d %d\n", a / b, d * d, p != NULL, WEXITSTATUS(st));
    return 0;
}
EOF
    want="ok 3333333333 6.250 1 7"
    check() { # name cmd...
        local name="$1"; shift
        local got; got="$("$@" 2>&1)" || die "$name: '$*' failed: $got"
        [ "$got" = "$want" ] || die "$name: got '$got', want '$want'"
        log "verify $name: OK"
    }
    gcc -m32 -static -O2 -o "$W/glibc32" "$W/t.c"
    "$WRAP" -O2 -o "$W/musl32" "$W/t.c"
    gcc -static -O2 -o "$W/glibc64" "$W/t.c"
    musl-gcc -static -O2 -o "$W/musl64" "$W/t.c"
    check "glibc i386 native" "$W/glibc32"
    check "musl i386 native" "$W/musl32"
    check "glibc x86-64 native" "$W/glibc64"
    check "musl x86-64 native" "$W/musl64"
    check "musl i386 qemu-i386" qemu-i386 "$W/musl32"
    check "glibc i386 qemu-i386" qemu-i386 "$W/glibc32"
    check "musl x86-64 qemu-x86_64" qemu-x86_64 "$W/musl64"
    file -b "$W/musl32" | grep -q 'ELF 32-bit LSB executable, Intel 80386.*statically linked' \
        || die "musl i386 binary is not static i386: $(file -b "$W/musl32")"
    bb="$("$BUSYBOX" sh -c 'echo a b | wc -w')"
    [ "$bb" = 2 ] || die "busybox i386: got '$bb'"
    log "verify busybox i386: OK"
    command -v strace >/dev/null || die "strace missing"
fi

T1=$(date +%s)
cat <<EOF

== zeros toolchains ready in $PREFIX ($((T1 - T0)) s) ==
  glibc i386   : gcc -m32 -static -O2 prog.c -o prog [-lm]
  musl  i386   : $WRAP -O2 prog.c -o prog
  glibc x86-64 : gcc -static -O2 prog.c -o prog [-lm]
  musl  x86-64 : musl-gcc -static -O2 prog.c -o prog
  i386 libgcc  : $(gcc -m32 -print-libgcc-file-name)
  musl i386    : inc $MUSL_INC
                 lib $MUSL_LIB
  busybox i386 : $BUSYBOX   (e.g. $BUSYBOX sh -c 'echo a b | wc -w')
  qemu         : $(command -v qemu-i386) , $(command -v qemu-x86_64)
  strace       : $(command -v strace)
  env file     : . $PREFIX/env.sh
EOF

#!/usr/bin/env bash
# The whole test suite: set up and build (scripts/setup.sh), then run every test with
# CTest. With --sanitize, the same tests built with AddressSanitizer and UBSan, in
# build-asan/, without MPI (so that CI also builds and tests what a machine without it
# gets). With --fuzz, the libFuzzer harnesses of fuzz/ (clang), in build-fuzz/: each
# replays its corpus and regressions, then fuzzes for 20 s (fuzz/README.md). With
# --prefix, the kit for a machine without a package registry (scripts/gpu-prefix.sh):
# the prefix made, then mwverify built against it alone in build-prefix/ — in a mount
# namespace where the system's copies of the -dev packages' headers and pkg-config files
# are hidden (pkg-config sees the prefix's files only) — and a few test programs run on
# its libraries, every one of which must load from the prefix (the C library's, libgcc's
# and libstdc++ aside).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prefix" ]; then
  scripts/setup.sh >/dev/null # the packages whose copies get hidden, and a normal build
  dir=build-prefix
  rm -rf "$dir/prefix" "$dir/build"
  mkdir -p "$dir/prefix"
  scripts/gpu-prefix.sh "$dir/gpu-prefix.tar.gz"
  tar -C "$dir/prefix" -xzf "$dir/gpu-prefix.tar.gz"
  # Where mount namespaces are refused (an unprivileged container), the build still sees
  # the prefix's pkg-config files only, and says that the system's headers stay visible.
  ns=(unshare -m --propagation private)
  if [ "${MW_PREFIX_NO_NAMESPACE:-}" = 1 ] || ! "${ns[@]}" true 2>/dev/null; then
    echo "prefix: no mount namespace here: the system's -dev headers stay visible (pkg-config sees the prefix's files only)"
    ns=()
  fi
  exec "${ns[@]}" bash -euo pipefail -c '
    dir=$1 hide=$2
    dev=$(scripts/gpu-prefix.sh --list-dev)
    hidden=0
    for f in $(dpkg -L $dev 2>/dev/null | sort -u); do
      [ "$hide" = 1 ] || break
      case "$f" in /usr/include/*|*/pkgconfig/*.pc|/usr/bin/pkg-config|/usr/bin/pkgconf) ;; *) continue ;; esac
      if [ -f "$f" ] && [ ! -L "$f" ]; then mount --bind /dev/null "$f"; hidden=$((hidden + 1)); fi
    done
    [ "$hide" = 1 ] && echo "prefix: $hidden files of the system'"'"'s -dev packages hidden"
    . scripts/prefix-env.sh "$dir/prefix"
    cmake -S . -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_WITH_MPI=OFF >"$dir/configure.log" ||
      { tail -n 30 "$dir/configure.log"; exit 1; }
    cmake --build "$dir/build" -j"$(nproc)" --target mwverify test_engine test_reports \
      test_cuda_emu mwverify_emu
    ctest --test-dir "$dir/build" --output-on-failure -R "^(engine\.|reports\.|cuda\.emulated\.(primitives|fma)$)"
    bad=0
    for p in "$dir"/build/mwverify "$dir"/build/tests/test_engine "$dir"/build/tests/test_cuda_emu; do
      while read -r name _ path _; do
        case "$name" in linux-vdso*|*ld-linux*|libc.so*|libm.so*|libgcc_s*|libstdc++*|libmvec*|libresolv*|libpthread*|libdl.so*|librt.so*) continue ;; esac
        case "$path" in "$MW_PREFIX"/*) ;; *) echo "prefix: $p loads $name from ${path:-nowhere}"; bad=1 ;; esac
      done < <(ldd "$p" | grep "=>")
    done
    [ "$bad" = 0 ] && echo "prefix: every library of mwverify and its tests loads from $MW_PREFIX"
    exit "$bad"
  ' prefix "$dir" "$((${#ns[@]} > 0))"
fi

only=() # every test, unless the mode picks some
if [ "${1:-}" = "--sanitize" ]; then
  export MW_BUILD_DIR=build-asan
  # without MPI: the build and the tests as they are where no MPI is installed (and Open
  # MPI's own allocations, which it keeps to the end, are not LeakSanitizer's business)
  scripts/setup.sh -DMW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DMW_WITH_MPI=OFF
elif [ "${1:-}" = "--fuzz" ]; then
  export MW_BUILD_DIR=build-fuzz
  CC=clang scripts/setup.sh -DMW_FUZZ=ON
  only=(-L fuzz) # one harness per processor: each fuzzer is one process
else
  export MW_BUILD_DIR=build
  scripts/setup.sh
fi
ctest --test-dir "$MW_BUILD_DIR" --output-on-failure -j"$(nproc)" "${only[@]}"

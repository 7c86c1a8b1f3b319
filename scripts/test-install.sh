#!/usr/bin/env bash
# Install a build of mwverify into a fresh prefix and use it as someone else would: from
# a copy of tests/install/ outside this tree, build a program against libmwverify with
# pkg-config and with CMake's find_package, and a layer plugin against mwverify::plugin;
# run them; check the executable, the library's exports and soname, the install manifest.
#   scripts/test-install.sh [BUILD_DIR]     (default build; already built)
# A sanitizer build (MW_SANITIZE in its CMakeCache.txt) gets its flags on the consumers too:
# the installed library needs the ASan runtime loaded first. Writes only under mktemp -d
# (and the install_manifest.txt that cmake --install leaves in BUILD_DIR).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
cache=$build/CMakeCache.txt
[ -f "$cache" ] || { echo "test-install: $build is not a CMake build directory" >&2; exit 2; }
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n1; }
if [ "$(cache_get MW_FUZZ)" = ON ]; then
  echo "test-install: $build is a fuzz build (MW_FUZZ), which has no install rules" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mwverify-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

cc=$(cache_get CMAKE_C_COMPILER)
cc=${cc:-cc}
san_flags=()
if [ "$(cache_get MW_SANITIZE)" = ON ]; then
  san_flags=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi

step "install $build into a fresh prefix"
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
manifest=$build/install_manifest.txt
[ -s "$manifest" ] || fail "no install manifest, or an empty one ($manifest)"
cp "$manifest" "$tmp/manifest.txt"
while IFS= read -r f || [ -n "$f" ]; do
  case "$f" in "$prefix"/*) ;; *) fail "the manifest names $f, outside the prefix" ;; esac
  [ -e "$f" ] || fail "the manifest names $f, which is not there"
done < "$tmp/manifest.txt"
echo "   $(grep -c '' "$tmp/manifest.txt") files installed"

pc=$(find "$prefix" -name mwverify.pc -path '*/pkgconfig/*' | head -n1)
[ -n "$pc" ] || fail "no mwverify.pc under the prefix"
libdir=$(dirname "$(dirname "$pc")")
lib=$libdir/libmwverify.so
for f in "$prefix/bin/mwverify" "$lib" "$lib.0" "$prefix/include/mwverify/mwverify.h" \
         "$prefix/include/mwverify/mw_plugin.h" "$prefix/include/mwverify/mwverify_version.h" \
         "$libdir/cmake/mwverify/mwverifyConfig.cmake" \
         "$libdir/cmake/mwverify/mwverifyConfigVersion.cmake"; do
  [ -e "$f" ] || fail "$f was not installed"
done
if grep -hv '^ *#' "$libdir"/cmake/mwverify/*.cmake "$pc" | grep -qi cuda; then
  fail "the installed package names CUDA, which its consumers must not need"
fi

step "the executable"
"$prefix/bin/mwverify" --version | tee "$tmp/version.txt"
grep -q "^mwverify $(cache_get CMAKE_PROJECT_VERSION)\$" "$tmp/version.txt" \
  || fail "mwverify --version does not print the project's version"

step "libmwverify's exports and soname"
nm -D --defined-only "$lib" | awk '{print $NF}' | sort > "$tmp/exports.txt"
others=$(grep -Ev '^(mwv_[A-Za-z0-9_]+|_init|_fini)$' "$tmp/exports.txt" || true)
[ -z "$others" ] || fail "libmwverify.so exports more than mwv_*: $(echo $others)"
grep -qx mwv_version "$tmp/exports.txt" || fail "libmwverify.so does not export mwv_version"
grep -qx mwv_plugin_abi_version "$tmp/exports.txt" || fail "libmwverify.so does not export mwv_plugin_abi_version"
echo "   exports: $(echo $(cat "$tmp/exports.txt"))"
readelf -d "$lib" | grep -q 'SONAME.*\[libmwverify\.so\.0\]' || fail "the soname is not libmwverify.so.0"
echo "   soname libmwverify.so.0 -> $(readlink "$lib.0")"

# The consumer, away from this tree: nothing it builds may see the source or build tree.
cp -r "$src/tests/install" "$tmp/consumer"
no_tree() { # FILE...: fail where a path into the source or the build tree shows up
  if grep -qF -e "$src/" -e "$build/" "$@"; then fail "$1 refers to the source or build tree"; fi
}

step "consumer (a): pkg-config and cc"
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion mwverify)" = "$(cache_get CMAKE_PROJECT_VERSION)" ] \
  || fail "pkg-config --modversion mwverify is not the project's version"
read -r -a pc_flags <<< "$(pkg-config --cflags --libs mwverify)"
echo "${pc_flags[*]}" > "$tmp/pc-flags.txt"
no_tree "$tmp/pc-flags.txt"
cmd=("$cc" "${san_flags[@]}" -o "$tmp/consumer-pc" "$tmp/consumer/consumer.c" "${pc_flags[@]}"
     -ldl -Wl,-rpath,"$libdir")
echo "   ${cmd[*]}"
"${cmd[@]}"
"$tmp/consumer-pc"

step "consumer (b) and plugin (c): find_package(mwverify) with CMake"
cflags="${san_flags[*]}"
(cd "$tmp" && env -u CMAKE_PREFIX_PATH cmake -S consumer -B consumer-build \
   -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" \
   -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
   -DCMAKE_BUILD_TYPE=Release > cmake-consumer.log) \
  || { cat "$tmp/cmake-consumer.log"; fail "configuring the consumer"; }
cmake --build "$tmp/consumer-build" > "$tmp/build-consumer.log" \
  || { cat "$tmp/build-consumer.log"; fail "building the consumer"; }
found_dir=$(sed -n 1p "$tmp/consumer-build/found.txt")
found_exe=$(sed -n 2p "$tmp/consumer-build/found.txt")
case "$found_dir" in "$prefix"/*) ;; *) fail "find_package found mwverify in $found_dir, not the prefix" ;; esac
[ "$found_exe" -ef "$prefix/bin/mwverify" ] || fail "MWVERIFY_EXECUTABLE is $found_exe"
no_tree "$tmp/consumer-build/compile_commands.json"
nm -D --defined-only "$tmp/consumer-build/libsmoke_plugin.so" | grep -q ' T mwp_plugin_entry$' \
  || fail "the plugin does not export mwp_plugin_entry"
if readelf -d "$tmp/consumer-build/libsmoke_plugin.so" | grep -q 'NEEDED.*libmwverify'; then
  fail "the plugin links libmwverify; mwverify::plugin must not"
fi
"$tmp/consumer-build/consumer" "$tmp/consumer-build/libsmoke_plugin.so"

echo "test-install: PASS (prefix $prefix, $(grep -c '' "$tmp/manifest.txt") files)"

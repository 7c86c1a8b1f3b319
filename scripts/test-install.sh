#!/usr/bin/env bash
# Install a build of mwverify into a fresh prefix and use it as someone else would: from
# a copy of tests/install/ outside this tree, build a program against libmwverify with
# pkg-config and with CMake's find_package, and a layer plugin against mwverify::plugin;
# run them; check the executable, the library's exports and soname, the install manifest.
# Then the examples as a plugin author's CI would use them: a copy of examples/ alone, built
# with its Makefile (pkg-config) and with its CMakeLists.txt (find_package), checked by the
# installed mwverify (gold, the negative control, silver, and the --out/--baseline/--junit
# workflow; docs/ci-your-layer.md).
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
if [ -e "$build/mwverify-cuda.so" ]; then # built with the CUDA engine
  step "the CUDA engine's module, found by the installed mwverify"
  [ -e "$libdir/mwverify/mwverify-cuda.so" ] || fail "$libdir/mwverify/mwverify-cuda.so was not installed"
  # exit 0 on a machine with a GPU; else one line on the device, never on the module
  if ! "$prefix/bin/mwverify" grad --engine cuda --methods backprop --oracle silver \
       > /dev/null 2> "$tmp/cuda.err"; then
    cat "$tmp/cuda.err"
    grep -q "module\|cannot load" "$tmp/cuda.err" && fail "the installed mwverify cannot load its CUDA engine"
  fi
fi

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

# The examples, as a plugin author's CI builds and checks them: examples/ alone, copied out
# of the tree, built both ways against the prefix, checked by the installed executable.
cp -r "$src/examples" "$tmp/examples"
mwv=$prefix/bin/mwverify
plugin_ok() { # SO: exports the entry point, does not link libmwverify
  nm -D --defined-only "$1" | grep -q ' T mwp_plugin_entry$' || fail "$1 does not export mwp_plugin_entry"
  if readelf -d "$1" | grep -q 'NEEDED.*libmwverify'; then fail "$1 links libmwverify"; fi
}

step "examples (a): make with the Makefile and pkg-config"
cp -r "$tmp/examples" "$tmp/examples-make"
env -u MAKEFLAGS -u MFLAGS PKG_CONFIG_PATH="$libdir/pkgconfig" \
  make -C "$tmp/examples-make" -j2 CC="$cc" CFLAGS="-O2 -g ${san_flags[*]}" \
  LDFLAGS="${san_flags[*]}" > "$tmp/make-examples.log" 2>&1 \
  || { cat "$tmp/make-examples.log"; fail "make in a copy of examples/"; }
no_tree "$tmp/make-examples.log"
for p in actnorm actnorm_faulty inv1x1; do plugin_ok "$tmp/examples-make/$p.so"; done
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$tmp/make-examples.log" | grep -- ' -shared ' | tr -s ' ' \
  | sed 's/^/   /'

step "examples (b): CMake with find_package(mwverify)"
(cd "$tmp" && env -u CMAKE_PREFIX_PATH cmake -S examples -B examples-build \
   -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" \
   -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
   > cmake-examples.log 2>&1) || { cat "$tmp/cmake-examples.log"; fail "configuring examples/"; }
cmake --build "$tmp/examples-build" -j2 > "$tmp/build-examples.log" 2>&1 \
  || { cat "$tmp/build-examples.log"; fail "building examples/"; }
no_tree "$tmp/examples-build/compile_commands.json"
for p in actnorm actnorm_faulty inv1x1; do plugin_ok "$tmp/examples-build/$p.so"; done

# The verdicts, read from --json and --junit with python3's standard library alone.
cat > "$tmp/judge.py" <<'PY'
import json, sys
import xml.etree.ElementTree as ET
mode, path = sys.argv[1], sys.argv[2]
def die(msg):
    sys.exit("%s %s: %s" % (mode, path, msg))
def load(path):
    d = json.load(open(path))
    return d, [r for l in d["layers"] for r in l["rows"]]
if mode == "junit":  # junit FILE.xml [RUN.json]: well-formed; its failures are the run's failing rows
    root = ET.parse(path).getroot()
    cases = list(root.iter("testcase"))
    failed = sorted(c.get("name").rsplit(": ", 1)[1] for c in cases
                    if c.find("failure") is not None or c.find("error") is not None)
    counted = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite"))
    rows = load(sys.argv[3])[1] if len(sys.argv) > 3 else None
    want = sorted(r["check"] for r in rows if not r["pass"]) if rows else []
    if not cases or (rows and len(cases) != len(rows)): die("%d testcases" % len(cases))
    if failed != want or counted != len(failed):
        die("failing testcases %s (%d counted), not %s" % (failed, counted, want))
    print("   %s: %d testcases, %d failures" % (path.rsplit("/", 1)[-1], len(cases), len(failed)))
    sys.exit(0)
d, rows = load(path)
oracles = {r["oracle"] for r in rows}
failing = {r["check"] for r in rows if not r["pass"]}
if not rows: die("no rows")
if mode == "gold":
    if d["ok"] is not True or failing: die("not ok: %s" % sorted(failing))
    if not oracles <= {"gold", "identity"} or "gold" not in oracles: die("oracles %s" % sorted(oracles))
elif mode == "faulty":  # of the operations, the vijp checks alone fail; of the methods (where
    # checked), only those built on vijp may; with another layer's baseline, nothing matches
    if d["ok"] is not False: die("ok, for the negative control")
    ops = {c for c in failing if not c.startswith("method:")}
    if ops != {"vijp_identity", "vijp_exact"} or not failing - ops <= {"method:moonwalk", "method:mixed"}:
        die("the failing checks are %s" % sorted(failing))
    if d["baseline"] is not None and d["regressions"] != 0: die("%d regressions" % d["regressions"])
elif mode == "silver":
    if d["ok"] is not True or failing: die("not ok: %s" % sorted(failing))
    if "gold" in oracles or not {"silver-fd", "silver-f64"} <= oracles: die("oracles %s" % sorted(oracles))
elif mode == "regressed":  # within every threshold, failed by the baseline alone
    bad = [r for r in rows if not r["pass"]]
    if d["ok"] is not False or not bad or d["regressions"] != len(bad): die("%d regressions, %d failing rows" % (d["regressions"], len(bad)))
    if any(not r["check"].endswith(" regressed") or not r["error"] <= r["threshold"] for r in bad):
        die("a failing row is not a regression within its threshold: %s" % sorted(failing))
else:
    die("no such mode")
print("   %s: %d rows, oracles %s%s" % (path.rsplit("/", 1)[-1], len(rows), ", ".join(sorted(oracles)),
      "; failing: " + ", ".join(sorted(failing)) if failing else ""))
PY
judge() { python3 "$tmp/judge.py" "$@" || fail "$2: not as expected"; }
check() { # WANT_RC JSON_OUT ARG...: the installed mwverify's layer check, its exit status
  local want=$1 out=$2 rc=0; shift 2
  "$mwv" layer check "$@" --quiet --json > "$out" 2> "$out.err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$out.err" >&2; fail "mwverify layer check $* exited $rc, not $want"; }
  if grep -qE 'Sanitizer|runtime error:' "$out.err"; then
    cat "$out.err" >&2; fail "a sanitizer report from mwverify layer check $*"
  fi
}

for b in examples-make examples-build; do
  step "layer check (installed mwverify) on the plugins of $b"
  mkdir "$tmp/run-$b"
  check 0 "$tmp/run-$b/actnorm.json" --layer-plugin "$tmp/$b/actnorm.so"
  judge gold "$tmp/run-$b/actnorm.json"
  check 1 "$tmp/run-$b/faulty.json" --layer-plugin "$tmp/$b/actnorm_faulty.so"
  judge faulty "$tmp/run-$b/faulty.json"
  check 0 "$tmp/run-$b/inv1x1.json" --layer-plugin "$tmp/$b/inv1x1.so"
  judge silver "$tmp/run-$b/inv1x1.json"
done

step "the CI workflow: --out a baseline, then --baseline and --junit"
ci=$tmp/ci; mkdir "$ci"
plugins=$tmp/examples-build
check 0 "$ci/out.json" --layer-plugin "$plugins/actnorm.so" --out "$ci/base.h5"
[ -s "$ci/base.h5" ] || fail "--out wrote no base.h5"
check 0 "$ci/again.json" --layer-plugin "$plugins/actnorm.so" --baseline "$ci/base.h5" --junit "$ci/j.xml"
judge gold "$ci/again.json"
judge junit "$ci/j.xml" "$ci/again.json"
# Another layer's baseline: no row matches (rows pair by layer, configuration, dtype and
# check), so nothing regresses; it fails on its own checks.
check 1 "$ci/faulty.json" --layer-plugin "$plugins/actnorm_faulty.so" --baseline "$ci/base.h5" \
  --junit "$ci/jf.xml"
judge faulty "$ci/faulty.json"
judge junit "$ci/jf.xml" "$ci/faulty.json"
step "a regression: actnorm drifted, against the same baseline"
# A real regression: actnorm with e = exp(s)·(1 + 1e-15), within every threshold but its
# float64 forward error more than 4x the baseline's.
mkdir "$ci/drift"
cp "$tmp/examples/plugins/actnorm.c" "$ci/drift/"
sed 's/const REAL e = EXP(s\[ch\]);/const REAL e = EXP(s[ch]) * (REAL)(1 + 1e-15);/' \
  "$tmp/examples/plugins/actnorm.h" > "$ci/drift/actnorm.h"
grep -q '(REAL)(1 + 1e-15)' "$ci/drift/actnorm.h" || fail "examples/plugins/actnorm.h changed: no drift put in"
read -r -a mw_cflags <<< "$(pkg-config --cflags mwverify)"
read -r -a mpfr_libs <<< "$(pkg-config --libs mpfr)"
"$cc" -std=c11 "${san_flags[@]}" -O2 -fPIC -shared "${mw_cflags[@]}" -o "$ci/drift/actnorm.so" \
  "$ci/drift/actnorm.c" "${mpfr_libs[@]}" -lm
check 1 "$ci/drift.json" --layer-plugin "$ci/drift/actnorm.so" --baseline "$ci/base.h5" --junit "$ci/jd.xml"
judge regressed "$ci/drift.json"
judge junit "$ci/jd.xml" "$ci/drift.json"

echo "test-install: PASS (prefix $prefix, $(grep -c '' "$tmp/manifest.txt") files)"

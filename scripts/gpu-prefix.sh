#!/usr/bin/env bash
# The libraries mwverify builds and runs against, as a relocatable prefix for a machine
# that has a compiler but no package registry (the GPU machine: gcc, cmake, nvcc, python3,
# and none of MPFR, GMP, HDF5, Check, OpenBLAS, PLplot, libxml2, jansson, pkg-config).
# Run here, where Debian's registry is reachable; no root needed:
#
#   scripts/gpu-prefix.sh [OUT.tar.gz]      (default build/gpu-prefix.tar.gz)
#
# It downloads the Debian packages (apt-get download: the -dev packages for headers,
# pkg-config files and link-time names, and the shared libraries that mwverify, its tests
# and its benchmarks load, found by ldd on a Debian 12 build: PACKAGES below), unpacks
# them with dpkg -x into one tree (usr/...), makes every pkg-config file and absolute link
# relative to the tree, makes the links Debian's alternatives would (the OpenBLAS build
# behind libblas/libopenblas and cblas.h, hdf5.pc), drops what neither the build nor the
# programs read (documentation, static archives), and packs it. Then, on the other
# machine, scripts/gpu-check.sh finds and uses it (scripts/prefix-env.sh says how);
# `scripts/test.sh --prefix` builds against it alone, the system's copies hidden.
#
# What is not in it: the C library, libgcc and libstdc++ (there with gcc), and CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/gpu-prefix.tar.gz}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

# The -dev packages (headers, .pc, lib*.so) and pkg-config itself.
DEV=(libmpfr-dev libmpfi-dev libmpfi-dev-common libgmp-dev libhdf5-dev libxml2-dev libicu-dev libjansson-dev check
     libsubunit-dev libplplot-dev libopenblas-dev libopenblas-pthread-dev zlib1g-dev
     pkgconf pkgconf-bin libpkgconf3)
# The shared libraries the programs load (ldd of mwverify, tests/* and bench/* on
# Debian 12), less libc6, libgcc-s1 and libstdc++6.
RUNTIME=(libaec0 libbrotli1 libcsirocsa0 libcsironn0 libcurl4 libffi8 libfreetype6
         libgfortran5 libgmp10 libgnutls30 libgssapi-krb5-2 libhdf5-103-1 libhdf5-hl-100
         libhogweed6 libicu72 libidn2-0 libjansson4 libk5crypto3 libkeyutils1 libkrb5-3
         libkrb5support0 libldap-2.5-0 libltdl7 libmpfr6 libmpfi0 libnettle8 libnghttp2-14
         libopenblas0 libopenblas0-pthread libp11-kit0 libplplot17 libpng16-16 libpsl5
         libqhull-r8.0 libqsastime0 libquadmath0 librtmp1 libsasl2-2 libshp2 libssh2-1
         libssl3 libsubunit0 libsz2 libtasn1-6 libunistring2 libxml2 libzstd1 zlib1g
         liblzma5 libbz2-1.0 libcom-err2)

if [ "${1:-}" = "--list-dev" ]; then # for scripts/test.sh --prefix
  echo "${DEV[@]}"
  exit 0
fi
case "${1:-}" in
  -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "gpu-prefix: unknown option $1 (usage: scripts/gpu-prefix.sh [OUT.tar.gz])" >&2; exit 2 ;;
esac
if [ $# -gt 1 ]; then
  echo "gpu-prefix: one output file at most (usage: scripts/gpu-prefix.sh [OUT.tar.gz])" >&2
  exit 2
fi
if ! mkdir -p "$(dirname "$out")" 2>/dev/null || [ ! -w "$(dirname "$out")" ] || [ -d "$out" ]; then
  echo "gpu-prefix: cannot write $out" >&2
  exit 2
fi
for tool in apt-get dpkg tar; do
  command -v "$tool" >/dev/null || { echo "gpu-prefix: $tool not found (this runs on Debian)" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/root"
echo "gpu-prefix: downloading ${#DEV[@]} + ${#RUNTIME[@]} packages"
fetch() { (cd "$work/debs" && apt-get download -qq "${DEV[@]}" "${RUNTIME[@]}" >"$work/apt.log" 2>&1); }
if ! fetch; then # the package lists may be missing: as root, apt-get update once
  if ! { [ "$(id -u)" -eq 0 ] && apt-get update -qq >/dev/null 2>&1 && fetch; }; then
    echo "gpu-prefix: apt-get download failed: $(grep -m1 -E '^E:' "$work/apt.log" || tail -n1 "$work/apt.log")" >&2
    exit 3
  fi
fi
for deb in "$work"/debs/*.deb; do
  dpkg -x "$deb" "$work/root"
done
root=$work/root
lib=usr/lib/x86_64-linux-gnu
# Some packages still put their libraries in /lib (merged into /usr on Debian 12): merged
# here too, the tree is usr/ alone.
for d in lib bin sbin; do
  if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
    mkdir -p "$root/usr/$d"
    cp -a "$root/$d/." "$root/usr/$d/"
    rm -rf "${root:?}/$d"
  fi
done

# What the alternatives system would link (update-alternatives runs in postinst scripts,
# which dpkg -x does not run): OpenBLAS's pthread build, and the serial HDF5.
alt() { # alt LINK TARGET, both relative to the root; the link made relative
  mkdir -p "$root/$(dirname "$1")"
  ln -sfn "$(realpath -m --relative-to="$root/$(dirname "$1")" "$root/$2")" "$root/$1"
}
for n in libblas.so libblas.so.3 libopenblas.so libopenblas.so.0; do
  [ -e "$root/$lib/openblas-pthread/$n" ] && alt "$lib/$n" "$lib/openblas-pthread/$n"
done
alt usr/include/x86_64-linux-gnu/cblas.h usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h
alt usr/include/x86_64-linux-gnu/openblas_config.h \
    usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h
alt "$lib/pkgconfig/hdf5.pc" "$lib/pkgconfig/hdf5-serial.pc"
alt "$lib/pkgconfig/blas.pc" "$lib/openblas-pthread/pkgconfig/blas-openblas.pc"
alt usr/bin/pkg-config usr/bin/pkgconf

# Absolute links inside the tree, relative.
while IFS= read -r -d '' l; do
  t=$(readlink "$l")
  case "$t" in
    /etc/alternatives/*) rm -f "$l" ;; # made above where needed
    /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$root$t")" "$l" ;;
  esac
done < <(find "$root" -type l -print0)

# pkg-config files: every /usr they name, relative to where the file lies.
while IFS= read -r -d '' pc; do
  [ -L "$pc" ] && continue
  up=$(realpath -m --relative-to="$(dirname "$pc")" "$root/usr")
  sed -i -e "s#=/usr\\b#=\${pcfiledir}/$up#g" -e "s#-I/usr/#-I\${pcfiledir}/$up/#g" \
         -e "s#-L/usr/#-L\${pcfiledir}/$up/#g" "$pc"
done < <(find "$root" -name '*.pc' -print0)

# Neither the build nor the programs read these.
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" \
       "$root/usr/share/lintian" "$root/usr/share/bug"
find "$root" -name '*.a' ! -name 'libcheck*.a' -delete
rm -f "$root/$lib"/openblas-pthread/liblapack* # LAPACK: not used
tar -C "$root" -czf "$out.tmp" usr
mv "$out.tmp" "$out"
echo "gpu-prefix: $out ($(du -h "$out" | cut -f1); $(ls "$work/debs" | wc -l) packages)"

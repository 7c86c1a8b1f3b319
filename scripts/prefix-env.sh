# Source this to build and run mwverify against a prefix made by scripts/gpu-prefix.sh and
# unpacked into DIR (its usr/ inside):   . scripts/prefix-env.sh DIR
# pkg-config (the prefix's own pkgconf) then sees the prefix's .pc files and no others,
# CMake finds OpenBLAS, cblas.h and zlib there first, and the programs load its libraries.
mw_prefix_env() {
  local dir
  dir=$(cd "$1" 2>/dev/null && pwd) || { echo "prefix-env: $1: no such directory" >&2; return 2; }
  local usr=$dir/usr lib=$dir/usr/lib/x86_64-linux-gnu
  if [ ! -d "$lib/pkgconfig" ]; then
    echo "prefix-env: $dir is not a prefix from scripts/gpu-prefix.sh (no $lib/pkgconfig)" >&2
    return 2
  fi
  export PATH="$usr/bin:$PATH"
  export PKG_CONFIG="$usr/bin/pkgconf"
  export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$lib/openblas-pthread/pkgconfig:$usr/share/pkgconfig"
  unset PKG_CONFIG_PATH
  export CMAKE_PREFIX_PATH="$usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export CMAKE_LIBRARY_PATH="$lib${CMAKE_LIBRARY_PATH:+:$CMAKE_LIBRARY_PATH}"
  export CMAKE_INCLUDE_PATH="$usr/include/x86_64-linux-gnu:$usr/include${CMAKE_INCLUDE_PATH:+:$CMAKE_INCLUDE_PATH}"
  # Debian's multiarch headers (gmp.h, cblas.h): a compiler looks in its own system's
  # /usr/include/x86_64-linux-gnu, never in the prefix's, and no .pc file names it
  export CPATH="$usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}"
  export LD_LIBRARY_PATH="$lib:$lib/hdf5/serial:$lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export MW_PREFIX="$dir"
}
mw_prefix_env "$@"

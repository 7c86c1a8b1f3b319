#!/usr/bin/env bash
# The whole test suite: set up and build (scripts/setup.sh), then run every test with
# CTest. With --sanitize, the same tests built with AddressSanitizer and UBSan, in
# build-asan/. With --fuzz, the libFuzzer harnesses of fuzz/ (clang), in build-fuzz/: each
# replays its corpus and regressions, then fuzzes for 20 s (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

only=() # every test, unless the mode picks some
if [ "${1:-}" = "--sanitize" ]; then
  export MW_BUILD_DIR=build-asan
  scripts/setup.sh -DMW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
elif [ "${1:-}" = "--fuzz" ]; then
  export MW_BUILD_DIR=build-fuzz
  CC=clang scripts/setup.sh -DMW_FUZZ=ON
  only=(-L fuzz) # one harness per processor: each fuzzer is one process
else
  export MW_BUILD_DIR=build
  scripts/setup.sh
fi
ctest --test-dir "$MW_BUILD_DIR" --output-on-failure -j"$(nproc)" "${only[@]}"

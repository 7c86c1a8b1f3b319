/* What the libFuzzer harnesses of fuzz/ share (fuzz/README.md): a private temporary
 * directory, removed when the fuzzer exits, where the fuzz input becomes the files the
 * readers under test take (they read paths, not buffers), and a stop for broken promises. */
#ifndef MW_FUZZ_UTIL_H
#define MW_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* First thing in LLVMFuzzerInitialize: keep a copy of stderr, which -close_fd_mask
 * closes, for fuzz_fail and fuzz_note (libFuzzer keeps its own copy for its reports). */
void fuzz_init(void);
/* Its descriptor, for reports from a forked child. */
int fuzz_stderr_fd(void);

/* A line on the kept stderr. */
void fuzz_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The directory (made under $TMPDIR or /tmp on the first call). */
const char *fuzz_dir(void);

/* dir/name, in a buffer of the caller's (at least 4096 bytes). */
char *fuzz_path(const char *name, char *path);

/* Write bytes to path, replacing it; aborts when it cannot (a full disk is no finding). */
void fuzz_write(const char *path, const uint8_t *data, size_t size);

/* A reader accepted something it promises to refuse, or refused without saying why:
 * print what and abort, so that libFuzzer keeps the input as a crash. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

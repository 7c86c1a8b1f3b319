/* Helpers of the harnesses (fuzz_util.h). The directory holds only the few names the
 * harnesses write, so removing it at exit is a flat loop. */
#include "fuzz_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[4096];
static FILE *out; /* the kept stderr; stderr itself until fuzz_init */

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[4096 + 256];
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

void fuzz_init(void)
{
    int fd = dup(2);
    out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (out)
        setvbuf(out, NULL, _IOLBF, 0);
}

int fuzz_stderr_fd(void)
{
    return out ? fileno(out) : 2;
}

static void say(const char *fmt, va_list ap)
{
    FILE *f = out ? out : stderr;
    fputs("fuzz: ", f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
}

void fuzz_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

const char *fuzz_dir(void)
{
    if (dir[0])
        return dir;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mwverify-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        fuzz_fail("cannot make a temporary directory %s", dir);
    atexit(remove_dir);
    return dir;
}

char *fuzz_path(const char *name, char *path)
{
    snprintf(path, 4096, "%s/%s", fuzz_dir(), name);
    return path;
}

void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fuzz_fail("cannot write %s", path);
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
    abort();
}

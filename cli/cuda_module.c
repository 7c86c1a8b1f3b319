/* The CUDA engine lives in a module of its own (mwverify-cuda.so, engine/cuda/), loaded
 * the first time a command opens --engine cuda. Linked into mwverify, the CUDA runtime
 * and cuBLAS were mapped and relocated by every start: 0.16 s and 210 MB of resident
 * memory per process on the CPU, which every command, --help included, and every worker
 * process paid for an engine most runs never use. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mw_engine.h"

/* Where the module is: beside the binary (the build tree), then at the place the install
 * put it relative to the binary (MW_CUDA_MODULE_INSTALLED, from CMakeLists.txt). */
static int module_path(const char *rel, char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 1;
    *slash = '\0';
    int w = rel[0] == '/' ? snprintf(out, len, "%s", rel) : snprintf(out, len, "%s/%s", exe, rel);
    return w < 0 || (size_t)w >= len;
}

static int load_cuda(char *msg, size_t msg_len)
{
    static const char *const places[] = {MW_CUDA_MODULE_NAME, MW_CUDA_MODULE_INSTALLED};
    char path[2][PATH_MAX + 64] = {"", ""};
    int at = -1;
    for (int i = 0; i < 2 && at < 0; i++)
        if (module_path(places[i], path[i], sizeof path[i]) == 0 && access(path[i], F_OK) == 0)
            at = i;
    if (at < 0) {
        snprintf(msg, msg_len, "this mwverify was built with the CUDA engine, but its module is "
                 "missing: neither %.300s nor %.300s exists", path[0], path[1]);
        return 1;
    }
    void *h = dlopen(path[at], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(msg, msg_len, "cannot load the CUDA engine %s: %.300s", path[at],
                 why ? why : "dlopen failed");
        return 1;
    }
    const char *const *version = dlsym(h, "mw_cuda_module_version");
    void (*reg)(void);
    *(void **)&reg = dlsym(h, "mw_cuda_register");
    if (!version || !*version || !reg) {
        snprintf(msg, msg_len, "%s is not mwverify's CUDA engine module", path[at]);
        dlclose(h);
        return 1;
    }
    if (strcmp(*version, MW_VERSION) != 0) {
        snprintf(msg, msg_len, "%s is the CUDA engine of mwverify %.40s, this is %s "
                 "(reinstall both together)", path[at], *version, MW_VERSION);
        dlclose(h);
        return 1;
    }
    reg(); /* the handle stays open: the engine's code runs from it until exit */
    return 0;
}

void mw_cli_cuda_module(void)
{
    mw_backend_set_loader(MW_BACKEND_CUDA, load_cuda);
}

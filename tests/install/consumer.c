/* A program of someone else's, built against the installed mwverify (scripts/test-install.sh):
 * the library it runs with must be the one its headers describe. With an argument, the
 * path of a layer plugin built against mwverify::plugin, it loads it and checks its table. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <mwverify/mwverify.h>

int main(int argc, char **argv) {
    int bad = 0;
    char expect[64];
    snprintf(expect, sizeof expect, "%d.%d.%d", MWVERIFY_VERSION_MAJOR, MWVERIFY_VERSION_MINOR,
             MWVERIFY_VERSION_PATCH);
    const char *v = mwv_version();
    if (!v || strcmp(v, MWVERIFY_VERSION) != 0 || strcmp(v, expect) != 0) {
        fprintf(stderr, "consumer: mwv_version() is %s, the headers say %s (%s)\n",
                v ? v : "NULL", MWVERIFY_VERSION, expect);
        bad = 1;
    }
    if (mwv_plugin_abi_version() != MWP_ABI_VERSION) {
        fprintf(stderr, "consumer: mwv_plugin_abi_version() is %d, the headers say %d\n",
                mwv_plugin_abi_version(), MWP_ABI_VERSION);
        bad = 1;
    }
    /* MPFR, which the package requires, is linked and usable. */
    if (!mpfr_get_version() || mpfr_get_version()[0] == '\0') {
        fprintf(stderr, "consumer: mpfr_get_version() is empty\n");
        bad = 1;
    }
    if (argc > 1) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "consumer: dlopen %s: %s\n", argv[1], dlerror());
            return 1;
        }
        const mwp_plugin *(*entry)(void);
        *(void **)&entry = dlsym(h, MWP_ENTRY_SYMBOL);
        const mwp_plugin *p = entry ? entry() : NULL;
        if (!p || p->abi_version != MWP_ABI_VERSION || p->size != sizeof(mwp_plugin) ||
            p->n_layers != 0 || !p->name || strcmp(p->name, "install-smoke") != 0) {
            fprintf(stderr, "consumer: %s: no %s, or not the smoke plugin's table\n", argv[1],
                    MWP_ENTRY_SYMBOL);
            bad = 1;
        }
        dlclose(h);
    }
    if (!bad)
        printf("consumer: libmwverify %s, plugin ABI %d, MPFR %s%s: ok\n", v,
               mwv_plugin_abi_version(), mpfr_get_version(), argc > 1 ? ", plugin loaded" : "");
    return bad;
}

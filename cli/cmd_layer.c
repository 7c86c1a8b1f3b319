/* `mwverify layer list|check`: the layer registry, and each layer's operations checked
 * against the MPFR reference (suite layers under its own name, suites/layer_check.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"

typedef struct list_opts {
    int include_faulty, json;
} list_opts;

static const mw_field list_fields[] = {
    {"include_faulty", MW_FK_BOOL, offsetof(list_opts, include_faulty),
     "also the negative controls: deliberately wrong variants that layer check must catch",
     .opt = "include-faulty"},
    {"json", MW_FK_BOOL, offsetof(list_opts, json), "one JSON object instead of the table",
     .opt = "json"},
    MW_FIELDS_END,
};
static const mw_record list_record = {"list", sizeof(list_opts), list_fields, NULL, NULL};
static const mw_optgroup list_group = {NULL, "options", &list_record, 0};

static int cmd_list(int argc, char **argv)
{
    list_opts o = {0};
    mw_cli cli = {.cmd = "layer list"};
    mw_cli_add(&cli, &list_group, &o);
    int rc = mw_cli_parse(&cli, argc, argv);
    if (rc != MW_EXIT_OK)
        return rc;
    if (cli.help) {
        printf("usage: mwverify layer list [--include-faulty] [--json]\n\n"
               "The layer types of the registry: the couplings a network's body is made of\n"
               "(--coupling of grad, gradcheck and the suites) and the squeeze between a\n"
               "revnet's blocks. Each is checked by mwverify layer check NAME.\n"
               "docs/adding-a-layer.md says how to add one.\n");
        mw_cli_help(stdout, &cli);
        return MW_EXIT_OK;
    }
    if (mw_cli_parse_only)
        return MW_EXIT_OK;
    mw_json j;
    if (o.json) {
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_array_begin(&j, "layers");
    }
    for (size_t i = 0; i < mw_layer_count(); i++) {
        mw_layer_info info;
        mw_layer_info_at(i, &info);
        if (info.fault && !o.include_faulty)
            continue;
        if (o.json) {
            mw_json_object_begin(&j, NULL);
            mw_json_string(&j, "name", info.name);
            mw_json_string(&j, "summary", info.summary);
            mw_json_string(&j, "implements", info.coupling < 0
                                                 ? "squeeze"
                                                 : mw_coupling_name((mw_coupling)info.coupling));
            mw_json_string(&j, "fault", info.fault);
            mw_json_object_end(&j);
        } else {
            printf("%-26s %s\n", info.name, info.summary);
            if (info.fault)
                printf("%-26s   negative control: %s\n", "", info.fault);
        }
    }
    if (o.json) {
        mw_json_array_end(&j);
        mw_json_object_end(&j);
        return mw_json_finish(&j) != 0 ? MW_EXIT_RUNTIME : MW_EXIT_OK;
    }
    return fflush(stdout) != 0 ? MW_EXIT_RUNTIME : MW_EXIT_OK;
}

int mw_cmd_layer(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: mwverify layer <list|check> [options]\n\n"
                   "  list    the layer types of the registry\n"
                   "  check   a layer's operations against the MPFR reference, their\n"
                   "          identities and the methods on a network of it (suite layers,\n"
                   "          printed; a report only with --out)\n\n"
                   "mwverify layer <list|check> --help says more; docs/adding-a-layer.md\n"
                   "says how to add a layer.\n");
        return argc < 1 ? MW_EXIT_USAGE : MW_EXIT_OK;
    }
    if (strcmp(argv[0], "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(argv[0], "check") == 0)
        return mw_cmd_layer_check(argc - 1, argv + 1);
    fprintf(stderr, "mwverify layer: unknown subcommand '%s' (list, check)\n", argv[0]);
    return MW_EXIT_USAGE;
}

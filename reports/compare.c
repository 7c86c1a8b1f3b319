/* Two reports compared number by number (report.h: mw_report_diff). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The metadata that says what was computed: suite, version, configuration, engine and
 * math mode (not when, where, by which command, or which shard). */
static int meta_differ(const mw_report_meta *a, const mw_report_meta *b, char *why, size_t n)
{
    static const struct {
        const char *name;
        size_t off;
    } keys[] = {
        {"suite", offsetof(mw_report_meta, suite)},
        {"mwverify_version", offsetof(mw_report_meta, mwverify_version)},
        {"config", offsetof(mw_report_meta, config_json)},
        {"engine", offsetof(mw_report_meta, engine)},
        {"math_mode", offsetof(mw_report_meta, math_mode)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp((const char *)a + keys[i].off, (const char *)b + keys[i].off) != 0) {
            snprintf(why, n, "report.%s differs", keys[i].name);
            return 1;
        }
    return 0;
}

static int rows_differ(const mw_record *r, const void *a, const void *b, size_t count,
                       const char *what, long index, char *why, size_t n)
{
    char inner[512];
    for (size_t i = 0; i < count; i++)
        if (mw_record_diff(r, (const char *)a + i * r->size, (const char *)b + i * r->size, 1,
                           inner, sizeof inner)) {
            snprintf(why, n, "%s %ld, row %zu: %s", what, index, i, inner);
            return 1;
        }
    return 0;
}

/* A table's rows as a multiset: each of a's rows matches a row of b not matched before
 * (units finish in any order, and each appends its rows when it does). */
static int table_differs(mw_table_id t, const mw_report_table *a, const mw_report_table *b,
                         char *why, size_t n)
{
    const mw_record *r = mw_report_table_record(t);
    if (a->n != b->n) {
        snprintf(why, n, "table %s: %zu rows against %zu", mw_report_table_name(t), a->n, b->n);
        return 1;
    }
    char *used = calloc(b->n ? b->n : 1, 1), inner[512];
    if (!used) {
        snprintf(why, n, "out of memory");
        return 1;
    }
    int differ = 0;
    for (size_t i = 0; i < a->n && !differ; i++) {
        size_t j = 0;
        for (; j < b->n; j++)
            if (!used[j] && !mw_record_diff(r, (const char *)a->rows + i * r->size,
                                            (const char *)b->rows + j * r->size, 1, inner,
                                            sizeof inner))
                break;
        if (j == b->n) {
            snprintf(why, n, "table %s: row %zu of the first has no equal in the second",
                     mw_report_table_name(t), i);
            differ = 1;
        } else {
            used[j] = 1;
        }
    }
    free(used);
    return differ;
}

int mw_report_diff(const mw_report *a, const mw_report *b, char *why, size_t n)
{
    char inner[512];
    if (meta_differ(&a->meta, &b->meta, why, n))
        return 1;
    if (a->n_networks != b->n_networks || a->n_runs != b->n_runs) {
        snprintf(why, n, "%zu networks and %zu runs against %zu and %zu", a->n_networks,
                 a->n_runs, b->n_networks, b->n_runs);
        return 1;
    }
    for (size_t i = 0; i < a->n_networks; i++) {
        const mw_report_network *x = &a->networks[i], *y = &b->networks[i];
        if (mw_record_diff(&mw_network_record, x, y, 1, inner, sizeof inner)) {
            snprintf(why, n, "network %ld: %s", x->index, inner);
            return 1;
        }
        if (x->n_ref_steps != y->n_ref_steps || x->n_ref_epochs != y->n_ref_epochs) {
            snprintf(why, n, "network %ld: reference trajectories of different lengths", x->index);
            return 1;
        }
        if (rows_differ(&mw_step_record, x->ref_steps, y->ref_steps, x->n_ref_steps,
                        "network's reference step", x->index, why, n) ||
            rows_differ(&mw_epoch_record, x->ref_epochs, y->ref_epochs, x->n_ref_epochs,
                        "network's reference epoch", x->index, why, n))
            return 1;
    }
    for (size_t i = 0; i < a->n_runs; i++) {
        const mw_report_run *x = &a->runs[i], *y = &b->runs[i];
        if (mw_record_diff(&mw_run_record, x, y, 1, inner, sizeof inner)) {
            snprintf(why, n, "run %ld: %s", x->index, inner);
            return 1;
        }
        if (x->n_steps != y->n_steps || x->n_epochs != y->n_epochs || x->n_layers != y->n_layers) {
            snprintf(why, n, "run %ld: %zu steps, %zu epochs, %d layers against %zu, %zu, %d",
                     x->index, x->n_steps, x->n_epochs, x->n_layers, y->n_steps, y->n_epochs,
                     y->n_layers);
            return 1;
        }
        const size_t nl = x->n_steps * (size_t)x->n_layers;
        if (rows_differ(&mw_step_record, x->steps, y->steps, x->n_steps, "run", x->index, why, n) ||
            rows_differ(&mw_epoch_record, x->epochs, y->epochs, x->n_epochs, "run", x->index, why,
                        n))
            return 1;
        if (nl && memcmp(x->layer_rel_l2, y->layer_rel_l2, nl * sizeof(double)) != 0) {
            snprintf(why, n, "run %ld: layer_rel_l2 differs", x->index);
            return 1;
        }
    }
    const int timed = strcmp(a->meta.suite, "timing") == 0; /* its tables are measured times */
    for (int t = 0; t < MW_N_TABLES; t++)
        if (!timed && t != MW_TABLE_TIMINGS &&
            table_differs((mw_table_id)t, &a->tables[t], &b->tables[t], why, n))
            return 1;
    return 0;
}

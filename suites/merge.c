/* Shard reports merged into the whole grid's report (suite.h: mw_suite_merge). Every shard
 * computed its units exactly as one process would have (each unit's numbers depend on the
 * configuration and its index alone), so the merge only gathers them, after checking that
 * they are the shards of one run: one configuration, each shard once, none missing, each
 * complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "suite.h"

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return strcmp(a, b) == 0 || (stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
                                 sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

/* The shard's own units not done, and the first of them. */
static long missing_units(const mw_suite_def *def, const mw_suite_config *c, const mw_report *r,
                          long total, long *first)
{
    long n = 0;
    *first = -1;
    for (long u = 0; u < total; u++)
        if (mw_shard_has(r->meta.shard_index, r->meta.shard_count, u) &&
            !mw_suite_unit_done(def, c, r, u) && n++ == 0)
            *first = u;
    return n;
}

/* Every input a complete shard of the first's configuration, each shard once, none
 * missing. */
static mw_status check_shards(const mw_suite_def *def, const mw_suite_config *c,
                              const char *const *in, const mw_report *reps, int n, mw_err *err)
{
    const mw_report_meta *m0 = &reps[0].meta;
    const int count = m0->shard_count;
    for (int i = 0; i < n; i++) {
        const mw_report_meta *m = &reps[i].meta;
        if (m->shard_count == 0)
            return mw_err_set(err, MW_ERR_ARG, "%s: not a shard's report (its suite ran without "
                              "--shard I/N): nothing to merge it with", in[i]);
        if (i && (strcmp(m->suite, m0->suite) != 0 || strcmp(m->config_json, m0->config_json) != 0))
            return mw_err_set(err, MW_ERR_ARG, "%s: written with another configuration than %s "
                              "(`%s` against `%s`): shards of one run only", in[i], in[0],
                              m->command_line, m0->command_line);
        if (i && strcmp(m->mwverify_version, m0->mwverify_version) != 0)
            return mw_err_set(err, MW_ERR_ARG, "%s: written by mwverify %s, %s by %s: shards of "
                              "one mwverify only", in[i], m->mwverify_version, in[0],
                              m0->mwverify_version);
        if (m->shard_count != count || m->units_total != m0->units_total)
            return mw_err_set(err, MW_ERR_ARG, "%s: shard %d/%d, and %s shard %d/%d: shards of "
                              "one split only", in[i], m->shard_index, m->shard_count, in[0],
                              m0->shard_index, count);
        for (int k = 0; k < i; k++)
            if (reps[k].meta.shard_index == m->shard_index)
                return mw_err_set(err, MW_ERR_ARG, "%s and %s: both shard %d/%d (its networks "
                                  "twice): give each shard once", in[k], in[i], m->shard_index,
                                  count);
        for (size_t k = 0; k < reps[i].n_networks; k++) {
            const long u = reps[i].networks[k].index;
            if (u < 0 || u >= m->units_total || !mw_shard_has(m->shard_index, count, u))
                return mw_err_set(err, MW_ERR_FORMAT, "%s: network %ld is not one of shard "
                                  "%d/%d's", in[i], u, m->shard_index, count);
        }
        long first;
        const long left = missing_units(def, c, &reps[i], m->units_total, &first);
        if (left) {
            char again[sizeof m->command_line + 16];
            mw_resume_command(m->command_line, again, sizeof again);
            return mw_err_set(err, MW_ERR_ARG, "%s: shard %d/%d is not finished (%ld of its "
                              "networks are not in it, the first %ld); finish it with `%s`",
                              in[i], m->shard_index, count, left, first, again);
        }
    }
    if (n < count) {
        int k = 1;
        for (; k <= count; k++) {
            int have = 0;
            for (int i = 0; i < n; i++)
                have |= reps[i].meta.shard_index == k;
            if (!have)
                break;
        }
        return mw_err_set(err, MW_ERR_ARG, "shard %d/%d is missing (%d of %d shards given): "
                          "give every shard's report", k, count, n, count);
    }
    if (m0->units_total != mw_suite_n_units(def, c))
        return mw_err_set(err, MW_ERR_FORMAT, "%s: says %ld units, its configuration makes %ld",
                          in[0], m0->units_total, mw_suite_n_units(def, c));
    return MW_OK;
}

/* The whole grid's report, at out: the first shard's metadata, less the shard. */
static mw_status gather(const char *out, const mw_report *reps, int n, mw_report *rep,
                        mw_err *err)
{
    mw_report_meta meta = reps[0].meta;
    meta.shard_index = meta.shard_count = 0;
    meta.units_total = 0;
    meta.updated_utc[0] = '\0';
    for (int i = 1; i < n; i++) {
        if (strcmp(reps[i].meta.created_utc, meta.created_utc) < 0)
            memcpy(meta.created_utc, reps[i].meta.created_utc, sizeof meta.created_utc);
        if (strcmp(reps[i].meta.host, reps[0].meta.host) != 0)
            snprintf(meta.host, sizeof meta.host, "%d hosts: %.80s, ...", n, reps[0].meta.host);
        if (strcmp(reps[i].meta.device, reps[0].meta.device) != 0)
            snprintf(meta.device, sizeof meta.device, "several (shards): %.120s, ...",
                     reps[0].meta.device);
    }
    snprintf(meta.command_line, sizeof meta.command_line, "mwverify report merge of %d shards "
             "of: %.1900s", n, reps[0].meta.command_line);
    mw_status st = mw_report_init(rep, out, &meta, err);
    if (st != MW_OK)
        return st;
    for (int i = 0; i < n; i++) {
        const mw_report *r = &reps[i];
        for (size_t k = 0; k < r->n_networks; k++)
            if (mw_report_set_network(rep, &r->networks[k]) != MW_OK)
                return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < r->n_runs; k++)
            if (mw_report_set_run(rep, &r->runs[k]) != MW_OK)
                return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        for (int t = 0; t < MW_N_TABLES; t++)
            if (r->tables[t].n &&
                mw_report_add_rows(rep, (mw_table_id)t, r->tables[t].rows, r->tables[t].n) != MW_OK)
                return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    return MW_OK;
}

mw_status mw_suite_merge(const char *out, int force, const char *const *in, int n_in,
                         const mw_suite_def **def, mw_suite_config *cfg, mw_report *rep,
                         size_t *failures, mw_err *err)
{
    *failures = 0;
    memset(rep, 0, sizeof *rep);
    if (n_in < 1)
        return mw_err_set(err, MW_ERR_ARG, "no shard reports to merge");
    for (int i = 0; i < n_in; i++)
        if (same_file(out, in[i]))
            return mw_err_set(err, MW_ERR_ARG, "%s: the merged report cannot be one of the "
                              "shards; give it another name", out);
    struct stat sb;
    if (!force && stat(out, &sb) == 0)
        return mw_err_set(err, MW_ERR_ARG, "%s exists; add --force to replace it", out);
    mw_status st = mw_report_check_path(out, 1, 0, err);
    if (st != MW_OK)
        return st;
    mw_report *reps = calloc((size_t)n_in, sizeof *reps);
    if (!reps)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    int loaded = 0;
    for (; loaded < n_in && st == MW_OK; loaded++)
        st = mw_report_load(&reps[loaded], in[loaded], err);
    if (st == MW_OK && !(*def = mw_suite_find(reps[0].meta.suite)))
        st = mw_err_set(err, MW_ERR_FORMAT, "%s: not a suite's report (a gradient dump?)", in[0]);
    if (st == MW_OK && (st = mw_suite_config_from_json(*def, reps[0].meta.config_json, cfg, err)))
        mw_err_prefix(err, "%s", in[0]);
    if (st == MW_OK)
        st = check_shards(*def, cfg, in, reps, n_in, err);
    if (st == MW_OK)
        st = gather(out, reps, n_in, rep, err);
    for (int i = 0; i < loaded; i++)
        mw_report_free(&reps[i]);
    free(reps);
    if (st == MW_OK && (*def)->finish)
        st = (*def)->finish(cfg, rep, err);
    if (st == MW_OK)
        st = mw_report_commit(rep, err);
    if (st != MW_OK) {
        mw_report_free(rep);
        return st;
    }
    *failures = (*def)->failures(cfg, rep) + mw_suite_lost_units(rep, NULL);
    return MW_OK;
}

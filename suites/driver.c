/* The suite driver (suite.h): a report, new or resumed, the units still to do handed to
 * the runner, every result recorded and committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suite.h"

typedef struct driver {
    const mw_suite_job *job;
    const mw_suite_def *def;
    mw_report rep;
    mw_suite_progress prog;
    double t0, last_commit, commit_cost;
} driver;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Commit after every finished unit (gap 0), and the rows of units in progress at most
 * once a second (gap 1); in both cases no more often than ten times a commit's own cost,
 * so that writing stays under a tenth of the time. The last commit always happens. */
static int maybe_commit(driver *d, int last, double gap, char *msg, size_t msg_len)
{
    double t = now(), wait = 10.0 * d->commit_cost > gap ? 10.0 * d->commit_cost : gap;
    if (!d->job->path || (!last && t - d->last_commit < wait))
        return 0;
    if (mw_report_commit(&d->rep, msg, msg_len) != 0)
        return 1;
    d->last_commit = now();
    d->commit_cost = d->last_commit - t;
    return 0;
}

static int on_unit(void *arg, const mw_unit_result *u, char *msg, size_t msg_len)
{
    driver *d = arg;
    if (u->partial) { /* rows of runs in progress: recorded as running, committed lazily */
        if (mw_report_set_network(&d->rep, &u->net) != 0) {
            snprintf(msg, msg_len, "out of memory");
            return 1;
        }
        for (size_t i = 0; i < u->n_runs; i++)
            if (mw_report_set_run(&d->rep, &u->runs[i]) != 0) {
                snprintf(msg, msg_len, "out of memory");
                return 1;
            }
        return maybe_commit(d, 0, 1.0, msg, msg_len);
    }
    if (mw_report_set_network(&d->rep, &u->net) != 0) {
        snprintf(msg, msg_len, "out of memory");
        return 1;
    }
    for (size_t i = 0; i < u->n_runs; i++) {
        if (mw_report_set_run(&d->rep, &u->runs[i]) != 0) {
            snprintf(msg, msg_len, "out of memory");
            return 1;
        }
    }
    d->prog.networks_done++;
    d->prog.runs_done += u->n_runs;
    d->prog.elapsed_s = now() - d->t0;
    d->prog.last = &u->net.spec;
    int last = d->prog.networks_done == d->prog.networks_total;
    if (maybe_commit(d, last, 0.0, msg, msg_len) != 0)
        return 1;
    if (d->job->progress)
        d->job->progress(&d->prog, d->job->progress_arg);
    return 0;
}

/* A unit is done when its network and every one of its runs are in the report, none of
 * them still running. */
static int unit_done(const mw_suite_config *c, const mw_report *r, long u)
{
    const mw_report_network *n = mw_report_network_at(r, u);
    if (!n)
        return 0;
    for (int t = 0; t < c->grid.n_dtypes; t++)
        for (int m = 0; m < MW_N_METHODS; m++) {
            if (!c->grid.want[m])
                continue;
            const mw_report_run *run = mw_report_run_at(r, mw_suite_run_index(c, u, t, (mw_method)m));
            if (!run || strcmp(run->status, "running") == 0)
                return 0;
        }
    return 1;
}

mw_status mw_suite_execute(const mw_suite_job *job, const mw_suite_def *def, mw_report *out,
                           size_t *failed_runs, char *msg, size_t msg_len)
{
    const mw_suite_config *c = job->cfg;
    driver d;
    memset(&d, 0, sizeof d);
    d.job = job;
    d.def = def;
    *failed_runs = 0;
    if (mw_suite_validate(c, msg, msg_len) != 0)
        return MW_ERR_ARG;
    if (job->path && mw_report_check_path(job->path, job->force, job->resume, msg, msg_len) != 0)
        return MW_ERR_ARG;
    mw_report_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.suite, sizeof meta.suite, "%s", def->name);
    snprintf(meta.mwverify_version, sizeof meta.mwverify_version, "%s", MW_VERSION);
    snprintf(meta.command_line, sizeof meta.command_line, "%s", job->command_line);
    if (mw_suite_config_json(c, meta.config_json, sizeof meta.config_json) != 0) {
        snprintf(msg, msg_len, "the configuration is too large to record");
        return MW_ERR_ARG;
    }
    if (c->base.engine != MW_BACKEND_CPU) { /* the device, from a child: workers fork */
        mw_engine_info info;
        if (mw_engine_probe(c->base.engine, c->base.math, MW_F32, &info, msg, msg_len) != 0)
            return MW_ERR_BACKEND;
        snprintf(meta.engine, sizeof meta.engine, "%s", info.backend);
        snprintf(meta.device, sizeof meta.device, "%.60s (compute %d.%d, driver %d, runtime %d, "
                 "%.0f GiB)", info.device, info.cc_major, info.cc_minor, info.driver_version,
                 info.runtime_version, (double)info.mem_total / (1u << 30));
        snprintf(meta.math_mode, sizeof meta.math_mode, "%s",
                 c->base.math == MW_MATH_TF32
                     ? "float32 matrix products on TF32 tensor cores (10-bit mantissas)"
                     : "ieee754 binary32/binary64 as the dtype says; cuBLAS pedantic, no TF32");
    }
    if (job->resume) {
        if (mw_report_load(&d.rep, job->path, msg, msg_len) != 0)
            return MW_ERR_ARG;
        if (strcmp(d.rep.meta.suite, def->name) != 0 ||
            strcmp(d.rep.meta.config_json, meta.config_json) != 0) {
            snprintf(msg, msg_len, "--resume %s: the report was written with another "
                                   "configuration; resume it with the same options as `%s`",
                     job->path, d.rep.meta.command_line);
            mw_report_free(&d.rep);
            return MW_ERR_ARG;
        }
    } else if (mw_report_init(&d.rep, job->path ? job->path : "", &meta, msg, msg_len) != 0) {
        return MW_ERR_ARG;
    }

    long n = mw_suite_n_networks(c);
    long *todo = malloc((size_t)n * sizeof *todo);
    if (!todo) {
        mw_report_free(&d.rep);
        snprintf(msg, msg_len, "out of memory");
        return MW_ERR_NOMEM;
    }
    size_t n_todo = 0;
    for (long u = 0; u < n; u++)
        if (!job->resume || !unit_done(c, &d.rep, u))
            todo[n_todo++] = u;
    d.prog.networks_total = (size_t)n;
    d.prog.networks_done = (size_t)n - n_todo;
    d.prog.runs_total = (size_t)(n * mw_suite_runs_per_network(c));
    d.prog.runs_done = d.prog.networks_done * (size_t)mw_suite_runs_per_network(c);
    d.t0 = d.last_commit = now();

    mw_status st = MW_OK;
    /* the report exists from the start: a new one now, empty but for its metadata */
    if (maybe_commit(&d, 1, 0.0, msg, msg_len) != 0) {
        st = MW_ERR_BACKEND;
    } else if (n_todo > 0) {
        mw_runner r = {c, def->unit, on_unit, &d, todo, n_todo, job->jobs};
        if (mw_runner_run(&r, msg, msg_len) != 0)
            st = MW_ERR_BACKEND;
    }
    if (st == MW_OK && def->finish) { /* what the suite draws from all its units */
        if (def->finish(c, &d.rep, msg, msg_len) != 0 ||
            (job->path && mw_report_commit(&d.rep, msg, msg_len) != 0))
            st = MW_ERR_BACKEND;
    }
    for (size_t i = 0; st == MW_OK && i < d.rep.n_runs; i++)
        *failed_runs += (size_t)def->run_failed(c, &d.rep.runs[i]);
    free(todo);
    if (out && st == MW_OK)
        *out = d.rep;
    else
        mw_report_free(&d.rep);
    return st;
}

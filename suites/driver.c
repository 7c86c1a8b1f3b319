/* The suite driver (suite.h): a report, new or resumed, the units still to do handed to
 * the runner, every result recorded and committed, then the suite's finish and checks. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

typedef struct driver {
    const mw_suite_job *job;
    mw_report rep;
    mw_suite_progress prog;
    double t0, last_commit, commit_cost;
    /* progress by estimated cost: each unit's weight and the part of it done */
    double *weight, *part, total_weight, fraction_at_start;
    long n;
} driver;

static long n_units(const mw_suite_job *job)
{
    return mw_suite_n_units(job->def, job->cfg);
}

static long runs_per_unit(const mw_suite_job *job)
{
    return mw_suite_runs_per_unit(job->def, job->cfg);
}

/* Commit after every finished unit (gap 0), and the rows of units in progress at most
 * once a second (gap 1); in both cases no more often than ten times a commit's own cost,
 * so that writing stays under a tenth of the time. The last commit always happens. */
static mw_status maybe_commit(driver *d, int last, double gap, mw_err *err)
{
    double t = mw_now(), wait = 10.0 * d->commit_cost > gap ? 10.0 * d->commit_cost : gap;
    if (!d->job->path || (!last && t - d->last_commit < wait))
        return MW_OK;
    mw_status st = mw_report_commit(&d->rep, err);
    if (st != MW_OK)
        return st;
    d->last_commit = mw_now();
    d->commit_cost = d->last_commit - t;
    return MW_OK;
}

/* Record a unit's network, runs and rows. */
static mw_status record(driver *d, const mw_unit_result *u, mw_err *err)
{
    mw_report_network net = u->net;
    if (net.status == MW_NET_FAILED && net.spec.width == 0) { /* a unit that failed before it
                                                                 could say what it was */
        if (d->job->def->n_units)
            net.spec = mw_spec_default();
        else
            mw_grid_network(d->job->cfg, u->unit, &net.spec);
    }
    net.index = u->unit;
    if (mw_report_set_network(&d->rep, &net) != MW_OK)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < u->n_runs; i++) {
        mw_report_run run = u->runs[i]; /* its rows stay the unit's: set_run copies them */
        mw_judge_run(d->job->def, d->job->cfg, &net, &run);
        if (mw_report_set_run(&d->rep, &run) != MW_OK)
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    if (u->n_rows && mw_report_add_rows(&d->rep, u->table, u->rows, u->n_rows) != MW_OK)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    return MW_OK;
}

/* The part of the suite's work done, each unit by its weight: what the progress says. */
static double done_fraction(const driver *d)
{
    if (!d->weight || !(d->total_weight > 0.0))
        return d->prog.networks_total
                   ? (double)d->prog.networks_done / (double)d->prog.networks_total
                   : 1.0;
    double done = 0.0;
    for (long u = 0; u < d->n; u++)
        done += d->weight[u] * d->part[u];
    const double f = done / d->total_weight;
    return f < 0.0 ? 0.0 : f > 1.0 ? 1.0 : f;
}

static void tell_progress(driver *d, const mw_spec *last)
{
    if (!d->job->progress)
        return;
    d->prog.elapsed_s = mw_now() - d->t0;
    d->prog.last = last;
    d->prog.fraction = done_fraction(d);
    /* the pace of this run (work a resumed report already held took no time of it) */
    const double now_done = d->prog.fraction - d->fraction_at_start;
    d->prog.eta_s = now_done > 0.0 && d->prog.elapsed_s > 0.0
                        ? d->prog.elapsed_s / now_done * (1.0 - d->prog.fraction)
                        : NAN;
    d->job->progress(&d->prog, d->job->progress_arg);
}

static void set_part(driver *d, long unit, double part)
{
    if (d->part && unit >= 0 && unit < d->n)
        d->part[unit] = part < 0.0 || !(part == part) ? 0.0 : part > 1.0 ? 1.0 : part;
}

static mw_status on_unit(void *arg, const mw_unit_result *u, mw_err *err)
{
    driver *d = arg;
    mw_status st = record(d, u, err);
    if (st != MW_OK)
        return st;
    if (u->partial) { /* rows of runs in progress: recorded as running, committed lazily */
        set_part(d, u->unit, u->progress);
        if ((st = maybe_commit(d, 0, 1.0, err)) == MW_OK)
            tell_progress(d, NULL);
        return st;
    }
    set_part(d, u->unit, 1.0);
    d->prog.networks_done++;
    d->prog.runs_done += u->n_runs;
    int last = d->prog.networks_done == d->prog.networks_total;
    if ((st = maybe_commit(d, last, 0.0, err)) != MW_OK)
        return st;
    tell_progress(d, &u->net.spec);
    return MW_OK;
}

/* Each unit's weight: its estimated cost where the estimate kept one (a unit it could not
 * price weighs the mean of the others), else 1. */
static int weigh_units(driver *d, long n)
{
    d->n = n;
    d->part = calloc((size_t)(n ? n : 1), sizeof *d->part);
    d->weight = calloc((size_t)(n ? n : 1), sizeof *d->weight);
    if (!d->part || !d->weight)
        return 1;
    double sum = 0.0;
    long priced = 0;
    for (long u = 0; u < n && d->job->unit_cost; u++)
        if (d->job->unit_cost[u] > 0.0 && isfinite(d->job->unit_cost[u]))
            sum += d->job->unit_cost[u], priced++;
    const double mean = priced ? sum / (double)priced : 1.0;
    d->total_weight = 0.0;
    for (long u = 0; u < n; u++) {
        const double c = d->job->unit_cost ? d->job->unit_cost[u] : 0.0;
        d->weight[u] = c > 0.0 && isfinite(c) ? c : mean;
        d->total_weight += d->weight[u];
    }
    return 0;
}

/* A unit is done when its network and every one of its runs are in the report, none of
 * them still running. */
int mw_suite_unit_done(const mw_suite_def *def, const mw_suite_config *c, const mw_report *r,
                       long u)
{
    if (!mw_report_network_at(r, u))
        return 0;
    if (mw_suite_runs_per_unit(def, c) == 0)
        return 1;
    for (int t = 0; t < c->grid.n_dtypes; t++)
        for (int m = 0; m < MW_N_METHODS; m++) {
            if (!c->methods.want[m])
                continue;
            const mw_report_run *run = mw_report_run_at(r, mw_grid_run_index(c, u, t, (mw_method)m));
            if (!run || run->status == MW_RUN_RUNNING)
                return 0;
        }
    return 1;
}

size_t mw_suite_lost_units(const mw_report *r, const mw_report_network **first)
{
    size_t lost = 0, k = 0;
    if (first)
        *first = NULL;
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        int runs = 0;
        for (; k < r->n_runs && r->runs[k].network <= n->index; k++)
            runs += r->runs[k].network == n->index;
        if (n->status == MW_NET_FAILED && runs == 0 && lost++ == 0 && first)
            *first = n;
    }
    return lost;
}

/* The report's metadata: the suite, its configuration and where it ran. */
static mw_status metadata(const mw_suite_job *job, mw_report_meta *meta, mw_err *err)
{
    const mw_suite_config *c = job->cfg;
    memset(meta, 0, sizeof *meta);
    snprintf(meta->suite, sizeof meta->suite, "%s", job->def->name);
    snprintf(meta->mwverify_version, sizeof meta->mwverify_version, "%s", MW_VERSION);
    snprintf(meta->command_line, sizeof meta->command_line, "%s", job->command_line);
    if (job->shard_count > 0) {
        meta->shard_index = job->shard_index, meta->shard_count = job->shard_count;
        meta->units_total = n_units(job);
    }
    mw_status st = mw_suite_config_json(job->def, c, meta->config_json,
                                        sizeof meta->config_json, err);
    if (st != MW_OK || c->engine.backend == MW_BACKEND_CPU)
        return st;
    mw_engine_info info; /* the device, from a child: workers fork */
    if ((st = mw_engine_probe(&c->engine, MW_F32, &info, err)) != MW_OK)
        return st;
    snprintf(meta->engine, sizeof meta->engine, "%s", info.backend);
    snprintf(meta->device, sizeof meta->device, "%.60s (compute %d.%d, driver %d, runtime %d, "
             "%.0f GiB)", info.device, info.cc_major, info.cc_minor, info.driver_version,
             info.runtime_version, (double)info.mem_total / (1u << 30));
    snprintf(meta->math_mode, sizeof meta->math_mode, "%s",
             c->engine.math == MW_MATH_TF32
                 ? "float32 matrix products on TF32 tensor cores (10-bit mantissas)"
                 : "ieee754 binary32/binary64 as the dtype says; cuBLAS pedantic, no TF32");
    return MW_OK;
}

/* A new report, or the one to resume (written with the same configuration). */
static mw_status open_report(const mw_suite_job *job, const mw_report_meta *meta, mw_report *r,
                             mw_err *err)
{
    if (!job->resume)
        return mw_report_init(r, job->path ? job->path : "", meta, err);
    mw_status st = mw_report_load(r, job->path, err);
    if (st != MW_OK)
        return MW_ERR_ARG;
    if (strcmp(r->meta.suite, meta->suite) != 0 ||
        strcmp(r->meta.config_json, meta->config_json) != 0) {
        mw_err_set(err, MW_ERR_ARG, "--resume %s: the report was written with another "
                   "configuration; resume it with the same options as `%s`", job->path,
                   r->meta.command_line);
        mw_report_free(r);
        return MW_ERR_ARG;
    }
    if (r->meta.shard_count != meta->shard_count || r->meta.shard_index != meta->shard_index) {
        char was[48] = "the whole grid";
        if (r->meta.shard_count)
            snprintf(was, sizeof was, "shard %d/%d", r->meta.shard_index, r->meta.shard_count);
        mw_err_set(err, MW_ERR_ARG, "--resume %s: the report holds %s; resume it with %s%s",
                   job->path, was, r->meta.shard_count ? "--shard " : "no --shard",
                   r->meta.shard_count ? strchr(was, ' ') + 1 : "");
        mw_report_free(r);
        return MW_ERR_ARG;
    }
    return MW_OK;
}

int mw_shard_has(int index, int count, long u)
{
    return count <= 0 || u % count == index - 1;
}

void mw_resume_command(const char *command_line, char *again, size_t len)
{
    size_t n = 0;
    const char *p = command_line;
    while (*p && n + 1 < len) {
        size_t w = strcspn(p, " ");
        if (!(w == 7 && strncmp(p, "--force", 7) == 0) &&
            !(w == 8 && strncmp(p, "--resume", 8) == 0))
            n += (size_t)snprintf(again + n, len - n, "%s%.*s", n ? " " : "", (int)w, p);
        p += w;
        p += strspn(p, " ");
    }
    snprintf(again + (n < len ? n : len - 1), len - (n < len ? n : len - 1), " --resume");
}

/* Interrupted: what is recorded is committed, and the message says how to go on. */
static mw_status stopped(driver *d, mw_err *err)
{
    const mw_suite_job *job = d->job;
    const char *sig = mw_interrupted() == SIGTERM ? "SIGTERM" : "SIGINT";
    if (!job->path)
        return mw_err_set(err, MW_ERR_INTERRUPTED, "stopped by %s after %zu of %zu networks "
                          "(nothing saved: no --out)", sig, d->prog.networks_done,
                          d->prog.networks_total);
    mw_status st = mw_report_commit(&d->rep, err);
    if (st != MW_OK)
        return mw_err_prefix(err, "stopped by %s, and the last commit failed", sig);
    char again[sizeof d->rep.meta.command_line + 16];
    mw_resume_command(job->command_line, again, sizeof again);
    return mw_err_set(err, MW_ERR_INTERRUPTED, "stopped by %s: %zu of %zu networks are in %s; "
                      "to finish it: %s", sig, d->prog.networks_done, d->prog.networks_total,
                      job->path, again);
}

mw_status mw_suite_run(const mw_suite_job *job, mw_report *out, size_t *failures, mw_err *err)
{
    driver d;
    memset(&d, 0, sizeof d);
    d.job = job;
    *failures = 0;
    mw_report_meta meta;
    mw_status st;
    if (job->path && (st = mw_report_check_path(job->path, job->force, job->resume, err)) != MW_OK)
        return st;
    if ((st = metadata(job, &meta, err)) != MW_OK || (st = open_report(job, &meta, &d.rep, err)))
        return st;

    const long n = n_units(job);
    long *todo = malloc((size_t)(n ? n : 1) * sizeof *todo);
    if (!todo) {
        mw_report_free(&d.rep);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    size_t n_todo = 0;
    if (weigh_units(&d, n) != 0) {
        free(todo), free(d.part), free(d.weight);
        mw_report_free(&d.rep);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    long mine = 0; /* the units of this report: all, or the shard's */
    for (long u = 0; u < n; u++) {
        if (!mw_shard_has(job->shard_index, job->shard_count, u)) {
            d.weight[u] = 0.0; /* another shard's */
            continue;
        }
        mine++;
        if (!job->resume || !mw_suite_unit_done(job->def, job->cfg, &d.rep, u))
            todo[n_todo++] = u;
        else
            d.part[u] = 1.0;
    }
    d.total_weight = 0.0;
    for (long u = 0; u < n; u++)
        d.total_weight += d.weight[u];
    d.prog.networks_total = (size_t)mine;
    d.prog.networks_done = (size_t)mine - n_todo;
    d.prog.runs_total = (size_t)(mine * runs_per_unit(job));
    d.prog.runs_done = d.prog.networks_done * (size_t)runs_per_unit(job);
    d.fraction_at_start = done_fraction(&d);
    if (job->started)
        job->started(job->started_arg, (long)n_todo, n);
    d.t0 = d.last_commit = mw_now();

    /* the report exists from the start: a new one now, empty but for its metadata */
    st = maybe_commit(&d, 1, 0.0, err);
    if (st == MW_OK && n_todo > 0) {
        mw_runner r = {job->cfg, job->def->unit, on_unit, &d, todo, n_todo, job->jobs,
                       job->unit_cost};
        mw_interrupt_defer(1); /* SIGINT, SIGTERM: stop at a safe point (mw_common.h) */
        st = job->run_units ? job->run_units(&r, err) : mw_runner_run(&r, err);
        mw_interrupt_defer(0);
        if (st == MW_ERR_INTERRUPTED)
            st = stopped(&d, err);
    }
    if (st == MW_OK && job->def->finish && job->shard_count == 0) { /* what the suite draws
                                                                     from all its units */
        st = job->def->finish(job->cfg, &d.rep, err);
        if (st == MW_OK && job->path)
            st = mw_report_commit(&d.rep, err);
    }
    if (st == MW_OK)
        *failures = job->def->failures(job->cfg, &d.rep) + mw_suite_lost_units(&d.rep, NULL);
    free(todo), free(d.part), free(d.weight);
    if (out && st == MW_OK)
        *out = d.rep;
    else
        mw_report_free(&d.rep);
    return st;
}

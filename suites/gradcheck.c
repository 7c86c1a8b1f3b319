/* `mwverify gradcheck` (suites.h): a small grid of networks — depth x F activation x
 * output activation — each measured against gold in float32 and float64 by every
 * method. Gold is computed once per network and shared by both dtypes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

mw_gradcheck_request mw_gradcheck_request_default(void)
{
    mw_gradcheck_request r;
    memset(&r, 0, sizeof r);
    r.base = mw_grad_request_default();
    r.base.oracle = MW_ORACLE_GOLD;
    /* a smaller network than grad's default, so that gold on 24 of them takes seconds */
    r.base.spec.width = 8;
    r.base.spec.hidden = 8;
    r.base.spec.batch = 4;
    r.base.spec.classes = 3;
    const int depths[] = {1, 2, 4, 8};
    memcpy(r.depths, depths, sizeof depths);
    r.n_depths = 4;
    r.f_acts[0] = MW_ACT_RELU, r.f_acts[1] = MW_ACT_TANH, r.n_f_acts = 2;
    r.out_acts[0] = MW_ACT_IDENTITY, r.out_acts[1] = MW_ACT_TANH, r.out_acts[2] = MW_ACT_LEAKY;
    r.n_out_acts = 3;
    r.dtypes[0] = MW_F32, r.dtypes[1] = MW_F64, r.n_dtypes = 2;
    r.tol = 1e-11;
    return r;
}

/* A check of one cell: f64 deterministic methods within tol of gold, nothing failed. */
static int cell_failed(const mw_gradcheck_request *req, const mw_gradcheck_cell *cell)
{
    if (cell->case_status != MW_OK)
        return 1;
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *r = &cell->runs.run[m];
        if (r->state == MW_RUN_FAILED)
            return 1;
        if (cell->dtype == MW_F64 && !mw_method_is_stochastic((mw_method)m) &&
            r->state != MW_RUN_NOT_ASKED && r->state != MW_RUN_SKIPPED &&
            !(r->state == MW_RUN_OK && r->vs_oracle.rel_l2 <= req->tol))
            return 1;
    }
    return 0;
}

mw_status mw_gradcheck_run(const mw_gradcheck_request *req, mw_gradcheck_cell **cells_out,
                           size_t *n_cells, mw_grad_case **cases_out, size_t *n_cases,
                           mw_gradcheck_progress progress, void *arg, char *msg, size_t msg_len)
{
    const size_t nc = (size_t)req->n_depths * (size_t)req->n_f_acts * (size_t)req->n_out_acts;
    const size_t total = nc * (size_t)req->n_dtypes;
    *cells_out = NULL, *cases_out = NULL, *n_cells = 0, *n_cases = 0;
    if (nc == 0 || req->n_dtypes == 0) {
        snprintf(msg, msg_len, "the grid is empty");
        return MW_ERR_ARG;
    }
    /* every network of the grid is validated, and gold's cost estimated, before any work */
    double est = 0.0;
    for (int d = 0; d < req->n_depths; d++) {
        mw_spec s = req->base.spec;
        s.depth = req->depths[d];
        s.out_act = MW_ACT_TANH;
        if (mw_spec_validate(&s, msg, msg_len) != 0)
            return MW_ERR_ARG;
        est += (double)(req->n_f_acts * req->n_out_acts) * mw_gold_cost_seconds(&s, &req->base.gold);
    }
    if (req->base.oracle == MW_ORACLE_GOLD && est > req->base.gold_budget_s) {
        snprintf(msg, msg_len,
                 "oracle gold: estimated %.0f s for the grid, over the %.0f s of --gold-budget; "
                 "shrink the grid or raise --gold-budget", est, req->base.gold_budget_s);
        return MW_ERR_ARG;
    }
    mw_gradcheck_cell *cells = calloc(total, sizeof *cells);
    mw_grad_case *cases = calloc(nc, sizeof *cases);
    if (!cells || !cases) {
        free(cells), free(cases);
        snprintf(msg, msg_len, "out of memory");
        return MW_ERR_NOMEM;
    }
    size_t ci = 0, k = 0;
    for (int d = 0; d < req->n_depths; d++)
        for (int fa = 0; fa < req->n_f_acts; fa++)
            for (int oa = 0; oa < req->n_out_acts; oa++, ci++) {
                mw_grad_request r = req->base;
                r.spec.depth = req->depths[d];
                r.spec.f_act = req->f_acts[fa];
                r.spec.out_act = req->out_acts[oa];
                char why[320] = "";
                mw_status cst = mw_grad_case_prepare(&r, &cases[ci], why, sizeof why);
                for (int t = 0; t < req->n_dtypes; t++, k++) {
                    mw_gradcheck_cell *cell = &cells[k];
                    cell->spec = r.spec;
                    cell->dtype = req->dtypes[t];
                    cell->gc = &cases[ci];
                    cell->case_status = cst;
                    snprintf(cell->case_message, sizeof cell->case_message, "%s", why);
                    if (cst == MW_OK) {
                        mw_status st = mw_grad_case_run(&r, &cases[ci], cell->dtype, &cell->runs,
                                                        cell->case_message,
                                                        sizeof cell->case_message);
                        if (st != MW_OK)
                            cell->case_status = st;
                    }
                    cell->failed = cell_failed(req, cell);
                    if (progress)
                        progress(cell, k + 1, total, arg);
                }
            }
    *cells_out = cells, *n_cells = total, *cases_out = cases, *n_cases = nc;
    return MW_OK;
}

void mw_gradcheck_free(mw_gradcheck_cell *cells, size_t n_cells, mw_grad_case *cases,
                       size_t n_cases)
{
    for (size_t i = 0; cells && i < n_cells; i++)
        mw_method_runs_free(&cells[i].runs);
    for (size_t i = 0; cases && i < n_cases; i++)
        mw_grad_case_free(&cases[i]);
    free(cells);
    free(cases);
}

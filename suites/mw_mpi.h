/* Suites across MPI ranks (docs/cluster.md): `mpirun -n N mwverify suite ...` runs one
 * suite on N processes anywhere. Rank 0 keeps the report, as one process does: it hands
 * the units out one at a time, the costliest first, each to the first rank that is free —
 * itself too, through one worker process it forks — and records each result as it
 * arrives, committing as the one-process driver does (so --resume finishes a run cut
 * short). Ranks 1..N-1 compute what they are handed until told to stop. The units are
 * independent, so the report is the one-process report, number for number.
 *
 * Open MPI ends every rank when one dies (its default): rank 0 then stops as on SIGTERM,
 * with what is done committed and the command that finishes it said.
 *
 * Built only where MPI is found (MW_HAVE_MPI); elsewhere every function but the launch
 * checks says it is not there. */
#ifndef MW_MPI_H
#define MW_MPI_H

#include "runner.h"

/* From the environment an MPI launcher sets (Open MPI's OMPI_COMM_WORLD_*, PMI_*, PMIX_*), before
 * any MPI call: the number of processes started together (1 when not so launched), this
 * one's rank among them, and its rank on its node. */
int mw_mpi_launched(void); /* 1 when started by one, even alone (mpirun -n 1) */
int mw_mpi_launched_size(void);
int mw_mpi_launched_rank(void);
int mw_mpi_local_rank(void);

/* Was this mwverify built with MPI? */
int mw_mpi_built(void);

/* MPI_Init, errors returned rather than fatal. MW_ERR_ARG (with how to get it) without
 * MPI in this build; MW_ERR_BACKEND when MPI fails. */
mw_status mw_mpi_init(mw_err *err);
int mw_mpi_rank(void);  /* 0 before init */
int mw_mpi_size(void);  /* 1 before init */

/* Rank 0: every unit of r computed by the ranks and a worker forked here, each result
 * handed to r->done in this process. As mw_runner_run. */
mw_status mw_mpi_run_units(const mw_runner *r, mw_err *err);

/* Ranks 1..N-1: compute the units rank 0 hands out, sending it each result, until it
 * says stop. */
mw_status mw_mpi_serve(const void *cfg, mw_unit_fn compute, mw_err *err);

/* The end of an MPI run: MPI_Finalize when the run ended as it should (exit status 0, or 1
 * for failed checks); else MPI_Abort with the exit status, so that no rank is left
 * waiting (it does not return). MW_OK, or MW_ERR_BACKEND when MPI_Finalize failed. Nothing
 * when MPI was not initialised. */
mw_status mw_mpi_end(int exit_status, mw_err *err);

#endif

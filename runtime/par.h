/*
 * runtime/par.h — the processes of one run: a single process, or the ranks
 * of an MPI job (`mpirun -n N lag run FILE`).
 *
 * Work that is a batch of independent items (ensemble members, training
 * chunks, grid cells) is split over the ranks in contiguous blocks by
 * index; results travel to rank 0 (or to every rank) in rank order, so
 * they are assembled exactly as one process holds them and the output
 * bytes do not depend on the number of ranks.  Everything else runs on
 * every rank alike (replicated), and only rank 0 writes files and prints.
 *
 * Open MPI is loaded with dlopen when the process finds itself started by
 * mpirun or srun (their environment variables), so that a run without MPI
 * never pays for loading it; with one rank, or in a build without MPI,
 * every call below is the serial identity.  MPI is one per process, so
 * this layer's state is the process's (the one exception to "no global
 * state" in the runtime).
 */
#ifndef LAG_PAR_H
#define LAG_PAR_H

#include <stddef.h>

/* Join the MPI job the process was started in, if any (before anything is
 * printed).  On ranks other than 0, stdout goes to /dev/null and stderr
 * to a buffer that is shown only when the rank ends differently from rank
 * 0 (par_end).  Returns 0, or 2 with a message on stderr: started by
 * mpirun with several ranks but built without MPI, or MPI could not be
 * loaded. */
int par_begin(int *argc, char ***argv);

/* Agree on the exit status (rank 0's, or a rank's own failure when rank 0
 * succeeded), show a failing rank's messages, leave MPI.  Returns the
 * status this process exits with. */
int par_end(int status);

int par_rank(void);
int par_size(void);
/* Whether this process writes the run's files and prints (rank 0). */
int par_root(void);

/* The block [lo, hi) of n items that rank r (par_rank() for par_block)
 * takes: contiguous, in rank order, sizes differing by at most one. */
void par_block_of(long n, int r, long *lo, long *hi);
void par_block(long n, long *lo, long *hi);

/* Each rank's `count` doubles (its block of `per` doubles per item, for
 * the blocks of par_block(n)) concatenated in rank order into all: on
 * rank 0 (par_gather) or on every rank (par_allgather).  all holds
 * n * per doubles; on other ranks par_gather's all may be NULL.  mine may
 * be the block's own place in all (then it is not copied). */
void par_gather(const double *mine, long n, int per, double *all);
void par_allgather(const double *mine, long n, int per, double *all);

/* Each rank's counts[rank] doubles concatenated in rank order into all
 * (sum of counts), on every rank; counts are the same on every rank. */
void par_allgatherv(const double *mine, const long *counts, double *all);

/* Variable-size pieces in rank order: each rank's nbytes bytes, and on
 * rank 0 a buffer of them all (freed by the caller with mem_free) and
 * its length.  Other ranks get NULL. */
void *par_gather_bytes(const void *mine, size_t nbytes, size_t *total);

/* Rank 0's nbytes bytes at buf, on every rank. */
void par_bcast(void *buf, size_t nbytes);

/* Sums and maxima over the ranks, on every rank (integers: exact, so the
 * order does not matter). */
long par_sum_long(long x);
int par_max_int(int x);
/* The largest of the ranks' x (NaN when one rank's is NaN). */
double par_max_double(double x);

/* The sum over the ranks of each of n doubles, on every rank, added in
 * rank order (so the same for a given number of ranks; callers that need
 * results independent of it add per-item values in item order instead). */
void par_sum_doubles(double *x, long n);

/* Variable-size pieces in rank order on every rank: each rank's nbytes
 * bytes concatenated into a buffer (freed by the caller with mem_free)
 * and its length. */
void *par_allgather_bytes(const void *mine, size_t nbytes, size_t *total);

#endif

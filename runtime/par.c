/*
 * runtime/par.c — the ranks of an MPI run (see par.h).
 *
 * MPI's functions are looked up in the library (dlopen, RTLD_GLOBAL so
 * that Open MPI's own plugins find its symbols) when mpirun or srun
 * started the process with more than one rank; otherwise nothing is
 * loaded and every operation is the serial identity.  Open MPI's
 * predefined handles (MPI_COMM_WORLD, MPI_DOUBLE, ...) are addresses of
 * objects in the library, so they are looked up too; MPICH's are
 * constants.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/par.h"

#include <config.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/mem.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef HAVE_MPI
#include <dlfcn.h>
#include <mpi.h>

static struct {
    int (*init)(int *, char ***);
    int (*finalize)(void);
    int (*comm_rank)(MPI_Comm, int *);
    int (*comm_size)(MPI_Comm, int *);
    int (*gather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, int, MPI_Comm);
    int (*gatherv)(const void *, int, MPI_Datatype, void *, const int *, const int *, MPI_Datatype, int,
                   MPI_Comm);
    int (*allgather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
    int (*allgatherv)(const void *, int, MPI_Datatype, void *, const int *, const int *, MPI_Datatype,
                      MPI_Comm);
    int (*bcast)(void *, int, MPI_Datatype, int, MPI_Comm);
    int (*allreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);
    MPI_Comm world;
    MPI_Datatype dbl, byte, lng, integer;
    MPI_Op sum, max;
} M;
#endif

static int rank, size = 1, joined;

int par_rank(void)
{
    return rank;
}

int par_size(void)
{
    return size;
}

int par_root(void)
{
    return rank == 0;
}

void par_block_of(long n, int r, long *lo, long *hi)
{
    long q = n / size, m = n % size;
    *lo = r * q + (r < m ? r : m);
    *hi = *lo + q + (r < m);
}

void par_block(long n, long *lo, long *hi)
{
    par_block_of(n, rank, lo, hi);
}

/* The number of ranks the launcher says there are: a positive number, 0
 * when it says nothing (not under a launcher), -1 when it says there are
 * ranks but not how many. */
static int launched_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v) > 0 ? atoi(v) : -1;
    }
    if (getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("OMPI_COMM_WORLD_RANK"))
        return -1;
    return 0;
}

#ifdef HAVE_MPI
static int err_fd = -1;    /* a non-root rank's real stderr (its own goes to a buffer) */
static FILE *err_buf;      /* that buffer */
static int ended;

/* A non-root rank's messages: shown (after a label) when it ends
 * differently from rank 0, or leaves without par_end (an exit on the
 * way: out of memory), never otherwise, so a run prints each message
 * once. */
static void replay(void)
{
    if (!err_buf || err_fd < 0)
        return;
    fflush(stderr);
    long len = ftell(err_buf);
    if (len > 0) {
        char head[64];
        int k = snprintf(head, sizeof head, "lag: rank %d of %d said:\n", rank, size);
        if (write(err_fd, head, (size_t)k) < 0)
            return;
        rewind(err_buf);
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, err_buf)) > 0)
            if (write(err_fd, buf, got) < 0)
                break;
    }
    fclose(err_buf);
    err_buf = NULL;
}

static void at_exit(void)
{
    if (!ended)
        replay();
}

/* A rank killed by a fatal signal (an abort: in a library, or an
 * assertion) would take its kept messages with it, and mpirun says only
 * which rank died: they are written out first, with the signal, by
 * async-signal-safe calls alone (the label made beforehand). */
static int buf_fd = -1;
static char fatal_head[64];
static int fatal_len;

static void on_fatal(int sig)
{
    if (buf_fd >= 0 && err_fd >= 0) {
        const char *name = sig == SIGABRT ? "SIGABRT" : sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS"
                                                                                                     : "SIGFPE";
        off_t len = lseek(buf_fd, 0, SEEK_END);
        const char *tail = len > 0 ? " after saying:\n" : "\n";
        if (write(err_fd, fatal_head, (size_t)fatal_len) >= 0 && write(err_fd, name, strlen(name)) >= 0 &&
            write(err_fd, tail, strlen(tail)) >= 0) {
            char buf[4096];
            ssize_t got;
            off_t at = 0;
            while (at < len && (got = pread(buf_fd, buf, sizeof buf, at)) > 0 && write(err_fd, buf, (size_t)got) == got)
                at += got;
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Stdout to /dev/null, stderr into a temporary buffer: ranks other than 0
 * run the same front end and would print everything again. */
static void quiet_rank(void)
{
    fflush(stdout);
    fflush(stderr);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, 1);
        close(null);
    }
    err_buf = tmpfile();
    if (err_buf) {
        err_fd = dup(2);
        dup2(fileno(err_buf), 2);
        atexit(at_exit);
        mem_on_out_of_memory(at_exit); /* (which leaves by _exit) */
        buf_fd = fileno(err_buf);
        fatal_len = snprintf(fatal_head, sizeof fatal_head, "lag: rank %d of %d died of ", rank, size);
        signal(SIGABRT, on_fatal);
#ifndef __SANITIZE_ADDRESS__ /* the sanitizers report these themselves */
        signal(SIGSEGV, on_fatal);
        signal(SIGBUS, on_fatal);
        signal(SIGFPE, on_fatal);
#endif
    }
}

/* The ranks on one machine share its cores: unless OMP_NUM_THREADS says
 * otherwise, each runs cores / (ranks here) threads (OpenMP's and, set
 * before OpenBLAS is opened, the BLAS's), not one per core each. */
static void share_cores(void)
{
    if (getenv("OMP_NUM_THREADS"))
        return;
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long here = v && atoi(v) > 0 ? atoi(v) : size, cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int k = cpus / here > 1 ? (int)(cpus / here) : 1;
#ifdef _OPENMP
    omp_set_num_threads(k);
#endif
    char text[16];
    snprintf(text, sizeof text, "%d", k);
    setenv("OPENBLAS_NUM_THREADS", text, 0);
}

/* A function or object of the library, and where its address goes. */
typedef struct Symbol {
    void **to;
    const char *name;
} Symbol;

static int lookup(void *h, const Symbol *sym, size_t n, const char *hint, char *why, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (!(*sym[i].to = dlsym(h, sym[i].name))) {
            snprintf(why, len, "%s has no %s%s", LAG_MPI_SONAME, sym[i].name, hint);
            return -1;
        }
    return 0;
}

static int load(char *why, size_t len)
{
    void *h = dlopen(LAG_MPI_SONAME, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        snprintf(why, len, "cannot load %s (%s): install the Debian package openmpi-bin", LAG_MPI_SONAME,
                 dlerror());
        return -1;
    }
    const Symbol fns[] = {
        {(void **)&M.init, "MPI_Init"},           {(void **)&M.finalize, "MPI_Finalize"},
        {(void **)&M.comm_rank, "MPI_Comm_rank"}, {(void **)&M.comm_size, "MPI_Comm_size"},
        {(void **)&M.gather, "MPI_Gather"},       {(void **)&M.gatherv, "MPI_Gatherv"},
        {(void **)&M.allgather, "MPI_Allgather"}, {(void **)&M.allgatherv, "MPI_Allgatherv"},
        {(void **)&M.bcast, "MPI_Bcast"},         {(void **)&M.allreduce, "MPI_Allreduce"},
    };
    if (lookup(h, fns, sizeof fns / sizeof fns[0], "", why, len) != 0)
        return -1;
#ifdef OPEN_MPI
    const Symbol objs[] = {
        {(void **)&M.world, "ompi_mpi_comm_world"}, {(void **)&M.dbl, "ompi_mpi_double"},
        {(void **)&M.byte, "ompi_mpi_byte"},        {(void **)&M.lng, "ompi_mpi_long"},
        {(void **)&M.integer, "ompi_mpi_int"},      {(void **)&M.sum, "ompi_mpi_op_sum"},
        {(void **)&M.max, "ompi_mpi_op_max"},
    };
    if (lookup(h, objs, sizeof objs / sizeof objs[0], " (is it Open MPI?)", why, len) != 0)
        return -1;
#else
    M.world = MPI_COMM_WORLD;
    M.dbl = MPI_DOUBLE;
    M.byte = MPI_BYTE;
    M.lng = MPI_LONG;
    M.integer = MPI_INT;
    M.sum = MPI_SUM;
    M.max = MPI_MAX;
#endif
    return 0;
}
#endif

int par_begin(int *argc, char ***argv)
{
    int n = launched_size();
    if (n == 0 || n == 1)
        return 0; /* one process: nothing to join, nothing loaded */
#ifdef HAVE_MPI
    char why[512];
    if (load(why, sizeof why) != 0) {
        fprintf(stderr, "lag: error: started by an MPI launcher, but %s\n", why);
        return 2;
    }
    M.init(argc, argv);
    M.comm_rank(M.world, &rank);
    M.comm_size(M.world, &size);
    joined = 1;
    if (rank != 0)
        quiet_rank();
    share_cores();
    return 0;
#else
    (void)argc;
    (void)argv;
    fprintf(stderr, "lag: error: started by an MPI launcher with %s ranks, but this lag was built without MPI "
            "(each rank would run the whole job and write the same files): rebuild with ./configure --with-mpi "
            "(Debian packages libopenmpi-dev and openmpi-bin), or run it as one process\n",
            n > 0 ? "several" : "an unknown number of");
    return 2;
#endif
}

int par_end(int status)
{
    if (!joined)
        return status;
#ifdef HAVE_MPI
    int *all = mem_xalloc((size_t)size * sizeof *all);
    M.allgather(&status, 1, M.integer, all, 1, M.integer, M.world);
    /* rank 0's status, or when it succeeded the first rank's failure */
    int final = all[0], root = all[0];
    for (int r = 0; r < size && final == 0; r++)
        final = all[r];
    mem_free(all);
    if (rank != 0 && status != root)
        replay();
    ended = 1;
    M.finalize();
    joined = 0;
    return final;
#else
    return status;
#endif
}

#ifdef HAVE_MPI
/* Counts and displacements (in units of `per` values of `unit` bytes) of
 * the ranks' blocks of n items, as MPI's ints; -1 when they do not fit. */
static int layout(long n, int per, int **counts, int **displs)
{
    *counts = mem_xalloc((size_t)size * sizeof **counts);
    *displs = mem_xalloc((size_t)size * sizeof **displs);
    for (int r = 0; r < size; r++) {
        long lo, hi;
        par_block_of(n, r, &lo, &hi);
        if ((hi - lo) * (long)per > INT_MAX || lo * (long)per > INT_MAX)
            return -1;
        (*counts)[r] = (int)((hi - lo) * per);
        (*displs)[r] = (int)(lo * per);
    }
    return 0;
}

static void too_big(void)
{
    fprintf(stderr, "lag: error: a gather of more than 2^31 values per rank: use more ranks or fewer items\n");
    exit(3);
}
#endif

/* The blocks in rank order into all: on rank 0, or on every rank. */
static void gather(const double *mine, long n, int per, double *all, int everywhere)
{
    long lo, hi;
    par_block(n, &lo, &hi);
    if (!joined) { /* one process: a copy, whoever receives */
        (void)everywhere;
        if (all != mine)
            memcpy(all, mine, (size_t)(hi - lo) * (size_t)per * sizeof *all);
        return;
    }
#ifdef HAVE_MPI
    int *counts, *displs;
    if (layout(n, per, &counts, &displs) != 0)
        too_big();
    /* mine already in its place in all: MPI wants that said (MPI_IN_PLACE) */
    const void *send = (everywhere || rank == 0) && mine == all + displs[rank] ? MPI_IN_PLACE : mine;
    if (everywhere)
        M.allgatherv(send, counts[rank], M.dbl, all, counts, displs, M.dbl, M.world);
    else
        M.gatherv(send, counts[rank], M.dbl, all, counts, displs, M.dbl, 0, M.world);
    mem_free(counts);
    mem_free(displs);
#endif
}

void par_gather(const double *mine, long n, int per, double *all)
{
    gather(mine, n, per, all, 0);
}

void par_allgather(const double *mine, long n, int per, double *all)
{
    gather(mine, n, per, all, 1);
}

void par_allgatherv(const double *mine, const long *counts, double *all)
{
    if (!joined) {
        if (all != mine)
            memcpy(all, mine, (size_t)counts[0] * sizeof *all);
        return;
    }
#ifdef HAVE_MPI
    int *c = mem_xalloc((size_t)size * sizeof *c), *d = mem_xalloc((size_t)size * sizeof *d);
    long at = 0;
    for (int r = 0; r < size; r++) {
        if (counts[r] > INT_MAX || at > INT_MAX)
            too_big();
        c[r] = (int)counts[r];
        d[r] = (int)at;
        at += counts[r];
    }
    const void *send = mine == all + d[rank] ? MPI_IN_PLACE : mine;
    M.allgatherv(send, c[rank], M.dbl, all, c, d, M.dbl, M.world);
    mem_free(c);
    mem_free(d);
#endif
}

void par_bcast(void *buf, size_t nbytes)
{
#ifndef HAVE_MPI
    (void)buf, (void)nbytes;
#else
    if (!joined)
        return;
    char *p = buf;
    while (nbytes > 0) { /* in pieces MPI's int counts can hold */
        int k = nbytes > (size_t)1 << 30 ? 1 << 30 : (int)nbytes;
        M.bcast(p, k, M.byte, 0, M.world);
        p += k;
        nbytes -= (size_t)k;
    }
#endif
}

#ifdef HAVE_MPI
/* x combined over the ranks by op, on every rank (integers only: exact) */
static void reduce(void *x, size_t bytes, MPI_Datatype type, MPI_Op op)
{
    char y[16];
    M.allreduce(x, y, 1, type, op, M.world);
    memcpy(x, y, bytes);
}
#endif

long par_sum_long(long x)
{
#ifdef HAVE_MPI
    if (joined)
        reduce(&x, sizeof x, M.lng, M.sum);
#endif
    return x;
}

int par_max_int(int x)
{
#ifdef HAVE_MPI
    if (joined)
        reduce(&x, sizeof x, M.integer, M.max);
#endif
    return x;
}

double par_max_double(double x)
{
    if (!joined)
        return x;
#ifdef HAVE_MPI
    /* every rank's value, compared here: MPI's MAX need not pass a NaN on */
    double *all = mem_xalloc((size_t)size * sizeof *all), m = -INFINITY;
    M.allgather(&x, 1, M.dbl, all, 1, M.dbl, M.world);
    for (int r = 0; r < size; r++)
        m = isnan(all[r]) || all[r] > m ? all[r] : m;
    mem_free(all);
    return m;
#else
    return x;
#endif
}

void par_sum_doubles(double *x, long n)
{
#ifndef HAVE_MPI
    (void)x, (void)n;
#else
    if (!joined || n <= 0)
        return;
    /* every rank's values on every rank, added in rank order: MPI's own
     * reduction may add them in any order */
    double *all = mem_xalloc((size_t)n * (size_t)size * sizeof *all);
    int *counts = mem_xalloc((size_t)size * sizeof *counts), *displs = mem_xalloc((size_t)size * sizeof *displs);
    if (n > INT_MAX / size)
        too_big();
    for (int r = 0; r < size; r++)
        counts[r] = (int)n, displs[r] = (int)(r * n);
    M.allgatherv(x, (int)n, M.dbl, all, counts, displs, M.dbl, M.world);
    for (long i = 0; i < n; i++) {
        double s = all[i];
        for (int r = 1; r < size; r++)
            s += all[(size_t)r * (size_t)n + (size_t)i];
        x[i] = s;
    }
    mem_free(all);
    mem_free(counts);
    mem_free(displs);
#endif
}

/* Each rank's bytes in rank order: on rank 0 (NULL elsewhere), or on
 * every rank. */
static void *gather_bytes(const void *mine, size_t nbytes, size_t *total, int everywhere)
{
    if (!joined) {
        void *all = mem_xalloc(nbytes + 1);
        memcpy(all, mine, nbytes);
        *total = nbytes;
        return all;
    }
#ifdef HAVE_MPI
    if (nbytes > INT_MAX)
        too_big();
    int mine_n = (int)nbytes;
    const int here = everywhere || rank == 0; /* this rank receives */
    int *counts = here ? mem_xalloc((size_t)size * sizeof *counts) : NULL;
    int *displs = here ? mem_xalloc((size_t)size * sizeof *displs) : NULL;
    if (everywhere)
        M.allgather(&mine_n, 1, M.integer, counts, 1, M.integer, M.world);
    else
        M.gather(&mine_n, 1, M.integer, counts, 1, M.integer, 0, M.world);
    char *all = NULL;
    size_t sum = 0;
    if (here) {
        for (int r = 0; r < size; r++) {
            if (sum > INT_MAX)
                too_big();
            displs[r] = (int)sum;
            sum += (size_t)counts[r];
        }
        all = mem_xalloc(sum + 1);
    }
    if (everywhere)
        M.allgatherv(mine, mine_n, M.byte, all, counts, displs, M.byte, M.world);
    else
        M.gatherv(mine, mine_n, M.byte, all, counts, displs, M.byte, 0, M.world);
    mem_free(counts);
    mem_free(displs);
    *total = sum;
    return all;
#else
    (void)everywhere;
    *total = 0;
    return NULL;
#endif
}

void *par_gather_bytes(const void *mine, size_t nbytes, size_t *total)
{
    return gather_bytes(mine, nbytes, total, 0);
}

void *par_allgather_bytes(const void *mine, size_t nbytes, size_t *total)
{
    return gather_bytes(mine, nbytes, total, 1);
}

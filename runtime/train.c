/*
 * runtime/train.c — the train job (see train.h).
 *
 * Everything random comes from generators seeded by (seed, what, index):
 * the fresh states of step k, the permutation of epoch e, the validation
 * split.  A run resumed from a checkpoint therefore draws exactly what the
 * uninterrupted run would have, and the checkpoint only has to hold the
 * weights, Adam's moments and a few counters.
 *
 * Optimiser: Adam (Kingma and Ba, 2015) with decoupled weight decay
 * (Loshchilov and Hutter, 2019), gradient-norm clipping, linear warm-up
 * then cosine decay to zero.  A step whose loss or gradient is not finite
 * is undone: the weights and moments before the last update are restored
 * and the learning rate is halved.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/train.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "runtime/adjoint.h"
#include "runtime/blas.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/plot.h"
#include "runtime/simulate.h"
#include "runtime/vm.h"
#include "runtime/weights.h"
#include "runtime/par.h"

#ifdef _OPENMP
#include <omp.h>
static int thread_id(void)
{
    return omp_get_thread_num();
}
static int max_threads(void)
{
    return omp_get_max_threads();
}
#else
static int thread_id(void)
{
    return 0;
}
static int max_threads(void)
{
    return 1;
}
#endif

enum { WHAT_STEP = 1, WHAT_EPOCH, WHAT_SPLIT, WHAT_VALID };

/* Samples run through the tape at once.  Small networks: 32, so that a
 * chunk's values and adjoints (16 bytes per register and sample) stay in
 * the caches; when 32 samples would not fit in 2 MB anyway (wide layers),
 * 128, and the wider products run nearer the BLAS's peak (measured: 2 x 500
 * units, 58 ms a step against 81 ms in chunks of 32).  Never a function of
 * the number of threads: the chunks fix the order of the sums. */
int train_chunk_size(const IrProgram *p, int B)
{
    int c = (double)p->nregs * 16 * 32 <= 2e6 ? 32 : 128;
    return B < c ? B : c;
}

void *train_rng_new(void)
{
    gsl_rng *r = mem_fault() ? NULL : gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        mem_out_of_memory(0);
    return r;
}

static gsl_rng *new_rng(void)
{
    return train_rng_new();
}

/* Seed r from (seed, what, k): FNV-1a of the three. */
static void reseed(gsl_rng *r, unsigned long seed, int what, long k)
{
    uint64_t v[3] = {seed, (uint64_t)what, (uint64_t)k};
    uint64_t h = io_fnv1a(v, sizeof v, IO_FNV_INIT);
    gsl_rng_set(r, (unsigned long)(h ^ (h >> 32)));
}

void train_draw_state(const TrainDraw *d, int m, void *rngp, double *y)
{
    gsl_rng *rng = rngp;
    for (int i = 0; i < m; i++)
        y[i] = d[i].kind == DRAW_UNIFORM ? d[i].p1 + (d[i].p2 - d[i].p1) * gsl_rng_uniform(rng)
             : d[i].kind == DRAW_NORMAL  ? d[i].p1 + gsl_ran_gaussian(rng, d[i].p2)
             : d[i].kind == DRAW_EXPR    ? d[i].eval(d[i].expr, rng)
                                         : d[i].p1;
}

int train_inputs(const TrainJob *job)
{
    return job->model->nstate;
}

/* The loss weight of each of count rows (stride values apart) into the
 * row's column train_inputs(job).  Returns 0, or -1 (message in err) at a
 * weight that is negative or not finite. */
static int weigh(const TrainJob *job, Vm *vm, double *rows, int count, int stride, char *err, size_t errlen)
{
    const int ns = train_inputs(job);
    for (int s = 0; s < count; s++) {
        double *y = rows + (size_t)s * (size_t)stride, w = NAN;
        if (vm_run(vm, job->weight, 1, y, stride, 0, job->params, &w, 1) != VM_OK || !(w >= 0) || !isfinite(w)) {
            int len = snprintf(err, errlen, "the loss weight is %g (it must be a finite number >= 0) at", w);
            for (int i = 0; i < ns && len > 0 && (size_t)len < errlen; i++)
                len += snprintf(err + len, errlen - (size_t)len, "%s %s = %.6g", i ? "," : "", job->columns[i], y[i]);
            return -1;
        }
        y[ns] = w;
    }
    return 0;
}

int train_draw(const TrainJob *job, void *rngp, int B, double *states, int stride, double *targets, char *err,
               size_t errlen)
{
    gsl_rng *rng = rngp;
    const int n = job->n, ns = train_inputs(job);
    const IrProgram *progs[2] = {job->source, job->weight};
    Vm *vm = vm_alloc(progs, job->weight ? 2 : 1, 1), *wvm = job->weight && stride > ns ? vm_alloc(progs + 1, 1, 1) : NULL;
    int fails = 0, rc = 0;
    for (int s = 0; s < B;) {
        double *y = states + (size_t)s * (size_t)stride;
        train_draw_state(job->draw, ns, rng, y);
        double *a = targets + (size_t)s * (size_t)n;
        int good = vm_run(vm, job->source, 1, y, stride, 0, job->source_params, a, n) == VM_OK;
        for (int i = 0; i < n && good; i++)
            good = isfinite(a[i]);
        if (good) {
            if (wvm && weigh(job, wvm, y, 1, stride, err, errlen) != 0) {
                rc = -1;
                break;
            }
            s++;
            fails = 0;
        } else if (++fails == 100) {
            snprintf(err, errlen, "100 states in a row drawn for the data have no accelerations "
                     "(singular or non-finite mass matrix): check the data's init ranges");
            rc = -1;
            break;
        }
    }
    vm_free(vm);
    vm_free(wvm);
    return rc;
}

/* What each thread runs a chunk with. */
typedef struct Worker {
    Vm *vm;
    Adjoint *adj;
    double *out, *outbar;     /* chunk x n */
    double **g;               /* gradient views (into cgrad) by tensor slot */
    unsigned char *fresh;     /* by tensor slot: its view not yet written this step (adj_run_fresh) */
    /* the symmetry penalty's (job->penalty): its VM, sweep, outputs and
     * their adjoints (chunk x 2), and gradient views by its own tensors */
    Vm *pvm;
    Adjoint *padj;
    double *pout, *pbar;
    double **pg, *pscratch;
} Worker;

typedef struct Trainer {
    const TrainJob *job;
    TrainResult *res;
    IrProgram *model;
    int n, B, P;              /* coordinates, batch, weights */
    int chunk;                /* samples run through the tape at a time */
    Worker *w;                /* one per thread */
    int nw;
    int nchunks;
    double *cgrad;            /* each chunk's gradient (nchunks x G), summed by a fixed tree (sum_tree) */
    double *cval;             /* each chunk's loss parts (nchunks x 4) */
    long clo, chi;            /* the chunks this rank computes (all of them in one process) */
    long *nodes;              /* the tree's nodes each rank sends, as (lo, hi) pairs (tree_cover) */
    long *nodes_at;           /* rank r's nodes are nodes[2 * nodes_at[r] .. 2 * nodes_at[r + 1]) */
    double *nodes_buf;        /* their sums as they travel: this rank's, then every rank's */
    size_t G;                 /* the program's tensor sizes added up */
    size_t *goff;             /* program tensor slot -> offset in a gradient */
    gsl_rng *rng;
    double **grad;            /* by program tensor slot: the batch's gradient */
    int *slot_of;             /* train tensor -> program slot, or -1 */
    size_t *off;              /* train tensor -> offset in the flat vectors */
    double *m, *v;            /* Adam's moments, P each */
    double *keep;             /* weights, m, v before the last update (3P) */
    double *xs, *ys, *out, *outbar; /* batch buffers */
    /* data */
    int ntrain, nval;
    const double *vs, *vt;    /* validation states and targets */
    double *own_vs, *own_vt;
    int *split;               /* fixed data: training indices then validation */
    int *perm;                /* the current epoch's permutation of the training indices */
    long perm_epoch;
    double scale;             /* RMS of the targets */
    int ns, width;            /* the model's inputs per sample; a batch row's length (+1: the weight) */
    double wbatch;            /* the batch's weights added (B without a weight) */
    double *wfix;             /* fixed data: each sample's loss weight (NULL: all 1) */
    /* schedule and state */
    int step, updates;
    double lr_scale;
} Trainer;

static double schedule(const TrainJob *job, int step)
{
    double w = floor(job->warmup * job->steps);
    if (step < w)
        return (step + 1) / w;
    if (!job->cosine || job->steps - w <= 0)
        return 1;
    return 0.5 * (1 + cos(3.14159265358979323846 * (step - w) / (job->steps - w)));
}

/* The batch of step k into T->xs, T->ys; returns 0 or -1 (message set). */
static int batch(Trainer *T, int k)
{
    const TrainJob *job = T->job;
    const int n = T->n, ns = T->ns, W = T->width;
    if (job->nfixed == 0) {
        reseed(T->rng, job->seed, WHAT_STEP, k);
        if (train_draw(job, T->rng, T->B, T->xs, W, T->ys, T->res->message, sizeof T->res->message) != 0)
            return -1;
        return 0;
    }
    for (int i = 0; i < T->B; i++) {
        long j = (long)k * T->B + i, e = j / T->ntrain;
        if (e != T->perm_epoch) {
            memcpy(T->perm, T->split, (size_t)T->ntrain * sizeof *T->perm);
            reseed(T->rng, job->seed, WHAT_EPOCH, e);
            gsl_ran_shuffle(T->rng, T->perm, (size_t)T->ntrain, sizeof *T->perm);
            T->perm_epoch = e;
        }
        int idx = T->perm[j % T->ntrain];
        memcpy(T->xs + (size_t)i * (size_t)W, job->states + (size_t)idx * (size_t)ns, (size_t)ns * sizeof(double));
        if (T->wfix)
            T->xs[(size_t)i * (size_t)W + (size_t)ns] = T->wfix[idx];
        memcpy(T->ys + (size_t)i * (size_t)n, job->targets + (size_t)idx * (size_t)n, (size_t)n * sizeof(double));
    }
    return 0;
}

/* Run the model on the first B samples of xs; samples it cannot evaluate
 * (singular M, non-finite accelerations) are moved to the end and left
 * out.  Returns how many remain. */
static int forward(const Trainer *T, Worker *W, double *xs, double *ys, int B, long *nbad)
{
    const int n = T->n, n2 = T->width;
    while (B > 0) {
        int bad = -1;
        if (vm_run(W->vm, T->model, B, xs, n2, 0, T->job->params, W->out, n) != VM_OK)
            bad = W->vm->bad_sample;
        for (int s = 0; s < B && bad < 0; s++)
            for (int i = 0; i < n; i++)
                if (!isfinite(W->out[(size_t)s * (size_t)n + (size_t)i]))
                    bad = s;
        if (bad < 0)
            return B;
        ++*nbad;
        B--;
        for (int i = 0; i < n2; i++) {
            double t = xs[(size_t)bad * n2 + i];
            xs[(size_t)bad * n2 + i] = xs[(size_t)B * n2 + i];
            xs[(size_t)B * n2 + i] = t;
        }
        for (int i = 0; i < n; i++) {
            double t = ys[(size_t)bad * n + i];
            ys[(size_t)bad * n + i] = ys[(size_t)B * n + i];
            ys[(size_t)B * n + i] = t;
        }
    }
    return 0;
}

/* The loss over B evaluated samples as a part of a mean over count
 * samples (with a weight: a weighted mean, count the weights' sum), and
 * (outbar != NULL) its derivative with respect to each output. */
static double loss(const Trainer *T, const Worker *W, int B, const double *xs, const double *ys, double *outbar,
                   double *sq, double *ysq, double count)
{
    const int n = T->n;
    const double norm = 1.0 / (count * n * (T->job->l1 ? T->scale : T->scale * T->scale));
    double sum = 0;
    for (size_t o = 0; o < (size_t)B * (size_t)n; o++) {
        double r = W->out[o] - ys[o];
        double w = T->job->weight ? xs[(o / (size_t)n) * (size_t)T->width + (size_t)T->ns] : 1;
        sum += w * (T->job->l1 ? fabs(r) : r * r);
        if (outbar)
            outbar[o] = w * (T->job->l1 ? (double)((r > 0) - (r < 0)) : 2 * r) * norm;
        if (sq) {
            *sq += r * r;
            *ysq += ys[o] * ys[o];
        }
    }
    return sum * norm;
}

/* The samples' weights added (their number without a weight). */
static double weight_sum(const Trainer *T, const double *xs, int B)
{
    if (!T->job->weight)
        return B;
    double sum = 0;
    for (int s = 0; s < B; s++)
        sum += xs[(size_t)s * (size_t)T->width + (size_t)T->ns];
    return sum;
}

/* precision single: the products' float32 weights from the current ones */
static void single_weights(Trainer *T)
{
    if (!T->job->single)
        return;
    ir_tensor_refresh_float(T->model);
    if (T->job->penalty)
        ir_tensor_refresh_float((IrProgram *)T->job->penalty);
}

/* Loss and relative RMS error on the validation set: its chunks in
 * parallel, their sums added in chunk order. */
static void validate(Trainer *T, double *vloss, double *vrel)
{
    single_weights(T);
    const int n = T->n, n2 = T->width;
    const int nc = (T->nval + T->chunk - 1) / T->chunk;
    double *part = mem_xalloc((size_t)nc * 5 * sizeof *part);
    double *xs = mem_xalloc((size_t)T->nval * n2 * sizeof *xs), *ys = mem_xalloc((size_t)T->nval * n * sizeof *ys);
    memcpy(xs, T->vs, (size_t)T->nval * n2 * sizeof *xs);
    memcpy(ys, T->vt, (size_t)T->nval * n * sizeof *ys);
    long clo, chi; /* this rank's chunks; the parts of all of them travel to every rank */
    par_block(nc, &clo, &chi);
#pragma omp parallel for schedule(static) num_threads(T->nw)
    for (int c = (int)clo; c < (int)chi; c++) {
        Worker *W = &T->w[thread_id()];
        int at = c * T->chunk, B = T->nval - at < T->chunk ? T->nval - at : T->chunk;
        long nbad = 0;
        double sq = 0, ysq = 0;
        int b = forward(T, W, xs + (size_t)at * n2, ys + (size_t)at * n, B, &nbad);
        double l = b > 0 ? loss(T, W, b, xs + (size_t)at * n2, ys + (size_t)at * n, NULL, &sq, &ysq, 1) : 0;
        part[5 * c] = l, part[5 * c + 1] = sq, part[5 * c + 2] = ysq;
        part[5 * c + 3] = weight_sum(T, xs + (size_t)at * n2, b);
        part[5 * c + 4] = b;
    }
    par_allgather(part + 5 * clo, nc, 5, part);
    double sum = 0, sq = 0, ysq = 0, count = 0, good = 0;
    for (int c = 0; c < nc; c++)
        sum += part[5 * c], sq += part[5 * c + 1], ysq += part[5 * c + 2], count += part[5 * c + 3],
            good += part[5 * c + 4];
    mem_free(part);
    mem_free(xs);
    mem_free(ys);
    for (int i = 0; i < T->nw; i++)
        vm_forget(T->w[i].vm);
    *vloss = count ? sum / count : NAN;
    if (T->job->target_scale > 0)
        *vrel = good > 0 ? sqrt(sq / (good * n)) / T->scale : NAN;
    else
        *vrel = count && ysq > 0 ? sqrt(sq / ysq) : NAN;
}

/* Flat views of the weights: copy out (dir 0) or in (dir 1). */
static void weights_flat(Trainer *T, double *flat, int in)
{
    for (int k = 0; k < T->job->ntensors; k++) {
        const TrainTensor *t = &T->job->tensors[k];
        size_t sz = (size_t)t->rows * (size_t)t->cols;
        if (in)
            memcpy(t->data, flat + T->off[k], sz * sizeof(double));
        else
            memcpy(flat + T->off[k], t->data, sz * sizeof(double));
    }
}

/* A checkpoint: the weights, Adam's moments, and the counters (step,
 * updates, learning-rate factor, the run's signature as two 32-bit
 * halves), as a weights file. */
static uint64_t hash_doubles(const double *x, size_t n, uint64_t h)
{
    h = io_fnv1a(&n, sizeof n, h);
    return x ? io_fnv1a(x, n * sizeof *x, h) : h;
}

/* A program's instructions, constants and operand lists, field by field
 * (no padding bytes): the model's structure and the data source's
 * equations. */
static uint64_t hash_program(const IrProgram *p, uint64_t h)
{
    if (!p)
        return io_fnv1a("-", 1, h);
    for (int i = 0; i < p->ncode; i++) {
        int32_t f[5] = {p->code[i].op, p->code[i].a, p->code[i].b, p->code[i].c, p->code[i].k};
        h = io_fnv1a(f, sizeof f, h);
    }
    h = hash_doubles(p->konst, (size_t)p->nkonst, h);
    h = io_fnv1a(&p->naux, sizeof p->naux, h);
    if (p->naux > 0)
        h = io_fnv1a(p->aux, (size_t)p->naux * sizeof *p->aux, h);
    int32_t dims[2] = {p->nparams, p->nout};
    return io_fnv1a(dims, sizeof dims, h);
}

/* Everything that changes what training computes: the optimiser's
 * settings, the nets (names and shapes), the model and the data source
 * (their programs and parameter values), the draws of fresh data, the
 * fixed data itself, validation, and the driver's description of the job
 * (the data as written, parameters, structure). */
static uint64_t signature(const TrainJob *job)
{
    uint64_t h = IO_FNV_INIT;
    double v[15] = {job->steps, job->batch, job->lr, job->warmup, job->clip,
                    job->weight_decay, job->cosine, (double)job->seed, job->l1,
                    job->validate, job->nvalidate_fresh, job->n, job->nfixed, job->ntensors, job->single};
    h = io_fnv1a(v, sizeof v, h);
    for (int k = 0; k < job->ntensors; k++) {
        int shape[2] = {job->tensors[k].rows, job->tensors[k].cols};
        h = io_fnv1a(job->tensors[k].name, strlen(job->tensors[k].name) + 1, h);
        h = io_fnv1a(shape, sizeof shape, h);
    }
    h = hash_program(job->model, h);
    h = hash_program(job->weight, h);
    h = hash_doubles(job->params, job->model && job->params ? (size_t)job->model->nparams : 0, h);
    const size_t ns = job->model ? (size_t)train_inputs(job) : 2 * (size_t)job->n;
    if (job->nfixed > 0) {
        size_t n = (size_t)job->n;
        h = hash_doubles(job->states, job->states ? (size_t)job->nfixed * ns : 0, h);
        h = hash_doubles(job->targets, job->targets ? (size_t)job->nfixed * n : 0, h);
    } else {
        for (size_t i = 0; job->draw && i < ns; i++) {
            double d[3] = {job->draw[i].kind, job->draw[i].p1, job->draw[i].p2};
            h = io_fnv1a(d, sizeof d, h);
        }
        h = hash_program(job->source, h);
        h = hash_doubles(job->source_params,
                         job->source && job->source_params ? (size_t)job->source->nparams : 0, h);
    }
    if (job->describe)
        h = io_fnv1a(job->describe, strlen(job->describe) + 1, h);
    return h;
}

static int checkpoint_write(Trainer *T, char *err, size_t errlen)
{
    const TrainJob *job = T->job;
    int nt = 3 * job->ntensors + 1;
    WeightsTensor *w = mem_xalloc((size_t)nt * sizeof *w);
    char **names = mem_xalloc((size_t)nt * sizeof *names);
    for (int k = 0; k < job->ntensors; k++) {
        const TrainTensor *t = &job->tensors[k];
        for (int part = 0; part < 3; part++) {
            const char *pre = part == 0 ? "" : part == 1 ? "adam.m." : "adam.v.";
            size_t len = strlen(pre) + strlen(t->name) + 1;
            names[3 * k + part] = mem_xalloc(len);
            snprintf(names[3 * k + part], len, "%s%s", pre, t->name);
            w[3 * k + part] = (WeightsTensor){names[3 * k + part], t->rows, t->cols,
                                              part == 0 ? t->data : (part == 1 ? T->m : T->v) + T->off[k]};
        }
    }
    uint64_t sig = signature(job);
    /* the counters, the signature, and the precision the products run in
     * (the weights themselves are the optimiser's, in double) */
    double state[6] = {T->step, T->updates, T->lr_scale, (double)(sig >> 32), (double)(sig & 0xffffffffu),
                       job->single ? 32 : 64};
    w[nt - 1] = (WeightsTensor){"train.state", 6, 1, state};
    int rc = weights_write(job->checkpoint, w, nt, err, errlen);
    for (int k = 0; k < 3 * job->ntensors; k++)
        mem_free(names[k]);
    mem_free(names);
    mem_free(w);
    return rc;
}

/* Resume from the checkpoint if there is one for this run: 1 resumed, 0
 * none (or one of another run: warned and ignored), -1 unreadable. */
static int checkpoint_read(Trainer *T)
{
    const TrainJob *job = T->job;
    if (access(job->checkpoint, F_OK) != 0)
        return 0;
    WeightsTensor *w;
    int nt;
    char err[400];
    if (weights_read(job->checkpoint, &w, &nt, err, sizeof err) != 0) {
        snprintf(T->res->message, sizeof T->res->message, "checkpoint: %s", err);
        return -1;
    }
    int ok = nt == 3 * job->ntensors + 1 && strcmp(w[nt - 1].name, "train.state") == 0 &&
             (w[nt - 1].rows == 5 || w[nt - 1].rows == 6);
    /* (a checkpoint of five counters is from before precision: double) */
    const int bits = ok && w[nt - 1].rows == 6 ? (int)w[nt - 1].data[5] : 64;
    if (ok && bits != (job->single ? 32 : 64)) {
        fprintf(stderr, "lag: warning: train %s: '%s' is a checkpoint of a precision %s run and this one is "
                "%s; starting afresh and overwriting it\n", job->job, job->checkpoint,
                bits == 32 ? "single" : "double", job->single ? "single" : "double");
        weights_free(w, nt);
        return 0;
    }
    uint64_t sig = signature(job);
    if (ok) {
        const double *st = w[nt - 1].data;
        ok = st[3] == (double)(sig >> 32) && st[4] == (double)(sig & 0xffffffffu) && st[0] >= 0 &&
             st[0] <= job->steps;
    }
    for (int k = 0; k < job->ntensors && ok; k++)
        for (int part = 0; part < 3 && ok; part++) {
            const WeightsTensor *x = &w[3 * k + part];
            ok = x->rows == job->tensors[k].rows && x->cols == job->tensors[k].cols &&
                 strcmp(x->name + (part ? 7 : 0), job->tensors[k].name) == 0;
        }
    if (!ok) {
        fprintf(stderr, "lag: warning: train %s: '%s' is a checkpoint of another run (other settings or "
                "nets); starting afresh and overwriting it\n", job->job, job->checkpoint);
        weights_free(w, nt);
        return 0;
    }
    for (int k = 0; k < job->ntensors; k++) {
        size_t sz = (size_t)job->tensors[k].rows * (size_t)job->tensors[k].cols;
        memcpy(job->tensors[k].data, w[3 * k].data, sz * sizeof(double));
        memcpy(T->m + T->off[k], w[3 * k + 1].data, sz * sizeof(double));
        memcpy(T->v + T->off[k], w[3 * k + 2].data, sz * sizeof(double));
    }
    T->step = (int)w[nt - 1].data[0];
    T->updates = (int)w[nt - 1].data[1];
    T->lr_scale = w[nt - 1].data[2];
    weights_free(w, nt);
    return 1;
}

/* The symmetry penalty of a chunk's b good states xs (TrainJob.penalty):
 * its part of the loss, its gradient added to g (the chunk's gradient, by
 * the model's slots).  A chunk where dL or L is not finite, or L is zero
 * throughout, adds nothing. */
static double penalty(const Trainer *T, Worker *W, const double *xs, int b, double *g)
{
    const TrainJob *job = T->job;
    const IrProgram *p = job->penalty;
    if (vm_run(W->pvm, p, b, xs, T->width, 0, job->params, W->pout, 2) != VM_OK)
        return 0;
    double s2 = 0;
    for (int s = 0; s < b; s++) {
        double d = W->pout[2 * s], L = W->pout[2 * s + 1];
        if (!isfinite(d) || !isfinite(L))
            return 0;
        s2 += L * L;
    }
    s2 /= b;
    if (!(s2 > 0))
        return 0;
    double sum = 0, k = job->penalty_weight / ((double)T->B * s2);
    for (int s = 0; s < b; s++) {
        double d = W->pout[2 * s];
        sum += d * d;
        W->pbar[2 * s] = 2 * k * d;
        W->pbar[2 * s + 1] = 0; /* <L^2> held constant */
    }
    /* the model's slots; a tensor the accelerations do not use (the output
     * bias of L) is not trained: its gradient goes to scratch */
    size_t off = 0;
    for (int t = 0; t < p->ntensors; t++) {
        W->pg[t] = NULL;
        for (int s = 0; s < T->model->ntensors && !W->pg[t]; s++)
            if (T->model->tensors[s].data == p->tensors[t].data)
                W->pg[t] = g + T->goff[s];
        if (!W->pg[t]) {
            W->pg[t] = W->pscratch + off;
            off += (size_t)p->tensors[t].rows * (size_t)p->tensors[t].cols;
        }
    }
    adj_run(W->padj, W->pvm, p, b, W->pbar, W->pg);
    return k * sum;
}

/* ---------- the gradient's sum over the chunks ----------
 *
 * The chunks' gradients are added by a fixed binary tree over the chunk
 * indices (the node [lo, hi) is its left part, the largest power of two
 * below hi - lo, plus its right part), never in an order that depends on
 * the threads or ranks.  Under MPI each rank computes a contiguous block
 * of chunks, adds up the largest nodes that lie inside its block (a
 * handful: tree_cover), and every rank receives every rank's node sums
 * and finishes the tree above them: the same additions, in the same
 * order, as one process makes, so the weights after K steps are the same
 * bits for 1, 2, 3 or 4 ranks with the same global batch. */

static long tree_mid(long lo, long hi)
{
    long h = 1;
    while (2 * h < hi - lo)
        h *= 2;
    return lo + h;
}

/* The sum of the rows [lo, hi) of the chunk gradients into row lo. */
static void tree_sum(double *rows, size_t G, long lo, long hi)
{
    if (hi - lo < 2)
        return;
    long mid = tree_mid(lo, hi);
    tree_sum(rows, G, lo, mid);
    tree_sum(rows, G, mid, hi);
    double *a = rows + (size_t)lo * G;
    const double *b = rows + (size_t)mid * G;
    for (size_t i = 0; i < G; i++)
        a[i] += b[i];
}

/* The largest nodes of the tree over [lo, hi) inside [a, b), in order,
 * appended to out as (lo, hi) pairs; returns how many were added. */
static long tree_cover(long lo, long hi, long a, long b, long *out)
{
    if (hi <= a || lo >= b || hi <= lo)
        return 0;
    if (a <= lo && hi <= b) {
        out[0] = lo, out[1] = hi;
        return 1;
    }
    long mid = tree_mid(lo, hi), k = tree_cover(lo, mid, a, b, out);
    return k + tree_cover(mid, hi, a, b, out + 2 * k);
}

/* Finish the tree over [lo, hi) above the nodes the ranks sent (whose sums
 * are already in their rows lo). */
static void tree_finish(const Trainer *T, long lo, long hi)
{
    long nn = T->nodes_at[par_size()];
    for (long k = 0; k < nn; k++)
        if (T->nodes[2 * k] == lo && T->nodes[2 * k + 1] == hi)
            return;
    if (hi - lo < 2)
        return;
    long mid = tree_mid(lo, hi);
    tree_finish(T, lo, mid);
    tree_finish(T, mid, hi);
    double *a = T->cgrad + (size_t)lo * T->G;
    const double *b = T->cgrad + (size_t)mid * T->G;
    for (size_t i = 0; i < T->G; i++)
        a[i] += b[i];
}

/* Which chunks this rank computes and the nodes every rank sends. */
static void tree_plan(Trainer *T)
{
    int P = par_size();
    par_block(T->nchunks, &T->clo, &T->chi);
    /* a block of c chunks is covered by at most 2 log2(c) + 2 nodes */
    long cap = 0;
    for (long c = 1; c < T->nchunks; c *= 2)
        cap += 2;
    cap = (cap + 2) * P;
    T->nodes = mem_xalloc((size_t)(2 * cap) * sizeof *T->nodes);
    T->nodes_at = mem_xalloc((size_t)(P + 1) * sizeof *T->nodes_at);
    T->nodes_at[0] = 0;
    for (int r = 0; r < P; r++) {
        long a, b;
        par_block_of(T->nchunks, r, &a, &b);
        T->nodes_at[r + 1] = T->nodes_at[r] + tree_cover(0, T->nchunks, a, b, T->nodes + 2 * T->nodes_at[r]);
    }
    T->nodes_buf = mem_xalloc(((size_t)T->nodes_at[P] * T->G + 1) * sizeof *T->nodes_buf);
}

/* The batch's gradient (into T->grad[0]) and loss parts (T->cval, every
 * chunk's) from the chunks this rank computed. */
static void tree_reduce(Trainer *T)
{
    const int r = par_rank(), P = par_size();
    const size_t G = T->G;
    long mine = T->nodes_at[r + 1] - T->nodes_at[r];
    const long *my = T->nodes + 2 * T->nodes_at[r];
    for (long k = 0; k < mine; k++)
        tree_sum(T->cgrad, G, my[2 * k], my[2 * k + 1]);
    if (P > 1) {
        double *buf = T->nodes_buf + (size_t)T->nodes_at[r] * G;
        for (long k = 0; k < mine; k++)
            memcpy(buf + (size_t)k * G, T->cgrad + (size_t)my[2 * k] * G, G * sizeof *buf);
        long *counts = mem_xalloc((size_t)P * sizeof *counts);
        for (int q = 0; q < P; q++)
            counts[q] = (T->nodes_at[q + 1] - T->nodes_at[q]) * (long)G;
        par_allgatherv(buf, counts, T->nodes_buf);
        mem_free(counts);
        for (long k = 0; k < T->nodes_at[P]; k++)
            memcpy(T->cgrad + (size_t)T->nodes[2 * k] * G, T->nodes_buf + (size_t)k * G, G * sizeof *buf);
        /* the loss parts of every chunk, for the sums in chunk order */
        par_allgather(T->cval + 4 * T->clo, T->nchunks, 4, T->cval);
        tree_finish(T, 0, T->nchunks);
    }
    memcpy(T->grad[0], T->cgrad, G * sizeof *T->grad[0]); /* the root's sum is row 0 */
}

/* One optimisation step at T->step: returns the batch loss (NaN when the
 * step had to be undone). */
static double step(Trainer *T)
{
    const TrainJob *job = T->job;
    const int n = T->n;
    single_weights(T);
    /* the batch a chunk at a time (its registers stay in cache), this
     * rank's chunks in parallel; each chunk's gradient is its own, and
     * they are added by a fixed tree (tree_reduce), so the sum is the same
     * for any number of threads or ranks */
#pragma omp parallel for schedule(static) num_threads(T->nw)
    for (int c = (int)T->clo; c < (int)T->chi; c++) {
        Worker *W = &T->w[thread_id()];
        int at = c * T->chunk, len = T->B - at < T->chunk ? T->B - at : T->chunk;
        double *xs = T->xs + (size_t)at * (size_t)T->width, *ys = T->ys + (size_t)at * n;
        double *g = T->cgrad + (size_t)c * T->G;
        long nbad = 0;
        int b = forward(T, W, xs, ys, len, &nbad);
        double l = 0, pen = 0;
        if (b > 0) {
            for (int k = 0; k < T->model->ntensors; k++)
                W->g[k] = g + T->goff[k];
            l = loss(T, W, b, xs, ys, W->outbar, NULL, NULL, T->wbatch);
            /* the sweep writes the chunk's gradient (the first product or
             * sum into each tensor's part with beta = 0): no zeroing first */
            memset(W->fresh, 1, (size_t)T->model->ntensors);
            adj_run_fresh(W->adj, W->vm, T->model, b, W->outbar, W->g, W->fresh);
            if (job->penalty)
                pen = penalty(T, W, xs, b, g);
        } else
            memset(g, 0, T->G * sizeof *g);
        T->cval[4 * c] = l + pen, T->cval[4 * c + 1] = b, T->cval[4 * c + 2] = (double)nbad;
        T->cval[4 * c + 3] = pen;
    }
    tree_reduce(T); /* the slots' gradients are views into T->grad[0] */
    double l = 0, pen = 0;
    int good = 0;
    for (int c = 0; c < T->nchunks; c++) {
        l += T->cval[4 * c];
        pen += T->cval[4 * c + 3];
        good += (int)T->cval[4 * c + 1];
        T->res->bad_samples += (long)T->cval[4 * c + 2];
    }
    if (good == 0)
        return NAN;
    if (job->penalty)
        T->res->penalty = pen;
    double norm2 = 0;
    for (size_t i = 0; i < T->G; i++)
        norm2 += T->grad[0][i] * T->grad[0][i];
    if (!isfinite(l) || !isfinite(norm2))
        return NAN;
    double c = job->clip > 0 && sqrt(norm2) > job->clip ? job->clip / sqrt(norm2) : 1;
    /* keep what we had, for undoing a step that turns out bad */
    weights_flat(T, T->keep, 0);
    memcpy(T->keep + T->P, T->m, (size_t)T->P * sizeof(double));
    memcpy(T->keep + 2 * (size_t)T->P, T->v, (size_t)T->P * sizeof(double));
    T->updates++;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double lr = job->lr * T->lr_scale * schedule(job, T->step);
    const double c1 = 1 - pow(b1, T->updates), c2 = 1 - pow(b2, T->updates);
    for (int k = 0; k < job->ntensors; k++) {
        const TrainTensor *t = &job->tensors[k];
        const size_t sz = (size_t)t->rows * (size_t)t->cols;
        const double *g = T->slot_of[k] >= 0 ? T->grad[T->slot_of[k]] : NULL;
        double *m = T->m + T->off[k], *v = T->v + T->off[k], *w = t->data;
        for (size_t i = 0; i < sz; i++) {
            double gi = g ? g[i] * c : 0;
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            w[i] -= lr * ((m[i] / c1) / (sqrt(v[i] / c2) + eps) + job->weight_decay * w[i]);
        }
    }
    /* the training VMs multiply by the weights through the BLAS, never
     * through the cached transposes: those are refreshed once, at the end */
    for (int i = 0; i < T->nw; i++) {
        vm_forget(T->w[i].vm);
        if (T->w[i].pvm)
            vm_forget(T->w[i].pvm);
    }
    return l;
}

static void undo(Trainer *T)
{
    weights_flat(T, T->keep, 1);
    memcpy(T->m, T->keep + T->P, (size_t)T->P * sizeof(double));
    memcpy(T->v, T->keep + 2 * (size_t)T->P, (size_t)T->P * sizeof(double));
    for (int i = 0; i < T->nw; i++)
        vm_forget(T->w[i].vm);
}

static void fmt_time(char *buf, size_t len, double s)
{
    if (s < 100)
        snprintf(buf, len, "%.0f s", s);
    else if (s < 6000)
        snprintf(buf, len, "%.0f min", s / 60);
    else
        snprintf(buf, len, "%.1f h", s / 3600);
}

static int draw_curve(const TrainJob *job, const double *at, const double *tr, const double *va, int npts,
                      char *err, size_t errlen)
{
    double *lt = mem_xalloc((size_t)(npts + 1) * sizeof *lt), *lv = mem_xalloc((size_t)(npts + 1) * sizeof *lv);
    for (int i = 0; i < npts; i++) {
        lt[i] = tr[i] > 0 ? log10(tr[i]) : NAN;
        lv[i] = va[i] > 0 ? log10(va[i]) : NAN;
    }
    PlotPanel panel = {.ylabel = "log10 loss", .nseries = 0};
    panel.series[panel.nseries++] = (PlotSeries){job->l1 ? "training (L1 / target RMS)" : "training (MSE / target RMS^2)", lt, 1};
    if (!isnan(va[npts - 1]))
        panel.series[panel.nseries++] = (PlotSeries){"validation", lv, 1};
    char title[256];
    snprintf(title, sizeof title, "train %s: loss", job->job);
    int rc = plot_panels(job->plot, title, "step", at, 1, npts, &panel, 1, err, errlen);
    mem_free(lt);
    mem_free(lv);
    return rc;
}

int train_run(const TrainJob *job, TrainResult *res)
{
    memset(res, 0, sizeof *res);
    res->val_loss = res->val_rel_rms = res->penalty = NAN;
    const double started = sim_clock();
    Trainer T;
    memset(&T, 0, sizeof T);
    T.job = job;
    T.res = res;
    T.model = (IrProgram *)job->model;
    if (job->single) { /* before the VMs and sweeps: their float32 buffers */
        ir_set_single(T.model);
        if (job->penalty)
            ir_set_single((IrProgram *)job->penalty);
    }
    T.n = job->n;
    T.B = job->batch;
    T.lr_scale = 1;
    T.perm_epoch = -1;
    T.ns = train_inputs(job);
    T.width = T.ns + (job->weight ? 1 : 0);
    const int n = T.n, n2 = T.width, ns0 = T.ns;

    /* files written at the end (or on the way) must be writable: found
     * out now, not after the training */
    const char *outs[3] = {job->save, job->checkpoint, job->plot};
    for (int i = 0; i < 3; i++)
        if (outs[i] && io_check_writable(outs[i], res->message, sizeof res->message) != 0)
            return res->status = 4;

    /* data: split a fixed set, or draw the validation states once */
    if (job->nfixed > 0) {
        T.nval = (int)floor(job->validate * job->nfixed);
        T.ntrain = job->nfixed - T.nval;
        if (T.ntrain < 1) {
            snprintf(res->message, sizeof res->message, "no training samples left after holding out %d for validation",
                     T.nval);
            return res->status = 1;
        }
        T.split = mem_xalloc((size_t)job->nfixed * sizeof *T.split);
        T.perm = mem_xalloc((size_t)T.ntrain * sizeof *T.perm);
        for (int i = 0; i < job->nfixed; i++)
            T.split[i] = i;
        T.rng = new_rng();
        reseed(T.rng, job->seed, WHAT_SPLIT, 0);
        gsl_ran_shuffle(T.rng, T.split, (size_t)job->nfixed, sizeof *T.split);
        if (job->weight) {
            /* each sample's loss weight, once */
            double *row = mem_xalloc((size_t)(ns0 + 1) * sizeof *row);
            const IrProgram *wp = job->weight;
            Vm *wvm = vm_alloc(&wp, 1, 1);
            T.wfix = mem_xalloc((size_t)job->nfixed * sizeof *T.wfix);
            int bad = 0;
            for (int i = 0; i < job->nfixed && !bad; i++) {
                memcpy(row, job->states + (size_t)i * ns0, (size_t)ns0 * sizeof *row);
                bad = weigh(job, wvm, row, 1, ns0 + 1, res->message, sizeof res->message) != 0;
                T.wfix[i] = row[ns0];
            }
            vm_free(wvm);
            mem_free(row);
            if (bad) {
                res->status = 3;
                goto out;
            }
        }
        T.own_vs = mem_xalloc(((size_t)T.nval + 1) * n2 * sizeof(double));
        T.own_vt = mem_xalloc(((size_t)T.nval + 1) * n * sizeof(double));
        for (int i = 0; i < T.nval; i++) {
            int idx = T.split[T.ntrain + i];
            memcpy(T.own_vs + (size_t)i * n2, job->states + (size_t)idx * ns0, (size_t)ns0 * sizeof(double));
            if (T.wfix)
                T.own_vs[(size_t)i * n2 + (size_t)ns0] = T.wfix[idx];
            memcpy(T.own_vt + (size_t)i * n, job->targets + (size_t)idx * n, (size_t)n * sizeof(double));
        }
        double ysq = 0;
        for (int i = 0; i < T.ntrain; i++)
            for (int c = 0; c < n; c++) {
                double y = job->targets[(size_t)T.split[i] * n + c];
                ysq += y * y;
            }
        T.scale = sqrt(ysq / ((double)T.ntrain * n));
    } else {
        T.rng = new_rng();
        T.nval = job->nvalidate_fresh;
        /* the scale from 8192 draws (the validation states when there are) */
        int ns = T.nval > 0 ? T.nval : 8192;
        T.own_vs = mem_xalloc((size_t)ns * n2 * sizeof(double));
        T.own_vt = mem_xalloc((size_t)ns * n * sizeof(double));
        reseed(T.rng, job->seed, WHAT_VALID, 0);
        if (train_draw(job, T.rng, ns, T.own_vs, n2, T.own_vt, res->message, sizeof res->message) != 0) {
            res->status = 3;
            goto out;
        }
        double ysq = 0;
        for (size_t o = 0; o < (size_t)ns * n; o++)
            ysq += T.own_vt[o] * T.own_vt[o];
        T.scale = sqrt(ysq / ((double)ns * n));
    }
    T.vs = T.own_vs;
    T.vt = T.own_vt;
    if (job->target_scale > 0)
        T.scale = job->target_scale;
    res->scale = T.scale;
    if (!(T.scale > 0) || !isfinite(T.scale)) {
        snprintf(res->message, sizeof res->message, "the target accelerations are all zero (or not finite): "
                 "there is nothing to fit");
        res->status = 3;
        goto out;
    }

    /* the machinery */
    const IrProgram *mp = T.model;
    T.nw = max_threads();
    T.chunk = train_chunk_size(T.model, T.B);
    T.nchunks = (T.B + T.chunk - 1) / T.chunk;
    if (T.nw > 1)
        blas_threads(1); /* the threads are ours: one chunk each at a time */
    char err[512];
    T.w = mem_xalloc((size_t)T.nw * sizeof *T.w);
    memset(T.w, 0, (size_t)T.nw * sizeof *T.w);
    T.goff = mem_xalloc(((size_t)T.model->ntensors + 1) * sizeof *T.goff);
    for (int k = 0; k < T.model->ntensors; k++) {
        T.goff[k] = T.G;
        T.G += (size_t)T.model->tensors[k].rows * (size_t)T.model->tensors[k].cols;
    }
    for (int i = 0; i < T.nw; i++) {
        Worker *W = &T.w[i];
        W->vm = vm_alloc(&mp, 1, T.chunk);
        W->vm->gemm = 1;
        W->adj = adj_alloc(T.model, T.chunk, err, sizeof err);
        W->out = mem_xalloc((size_t)T.chunk * n * sizeof(double));
        W->outbar = mem_xalloc((size_t)T.chunk * n * sizeof(double));
        W->g = mem_xalloc(((size_t)T.model->ntensors + 1) * sizeof *W->g);
        W->fresh = mem_xalloc((size_t)T.model->ntensors + 1);
        if (job->penalty) {
            const IrProgram *pp = job->penalty;
            W->pvm = vm_alloc(&pp, 1, T.chunk);
            W->pvm->gemm = 1;
            W->pout = mem_xalloc((size_t)T.chunk * 2 * sizeof(double));
            W->pbar = mem_xalloc((size_t)T.chunk * 2 * sizeof(double));
            W->pg = mem_xalloc(((size_t)pp->ntensors + 1) * sizeof *W->pg);
            size_t all = 1;
            for (int t = 0; t < pp->ntensors; t++)
                all += (size_t)pp->tensors[t].rows * (size_t)pp->tensors[t].cols;
            W->pscratch = mem_xalloc(all * sizeof *W->pscratch);
            W->padj = adj_alloc(pp, T.chunk, err, sizeof err);
            if (!W->padj) {
                snprintf(res->message, sizeof res->message, "penalty: %.480s", err);
                res->status = 3;
                goto out;
            }
        }
        if (!W->adj) {
            snprintf(res->message, sizeof res->message, "%s", err);
            res->status = 3;
            goto out;
        }
    }
    T.cgrad = mem_xalloc(((size_t)T.nchunks * T.G + 1) * sizeof *T.cgrad);
    T.cval = mem_xalloc((size_t)T.nchunks * 4 * sizeof *T.cval);
    tree_plan(&T);
    double *gall = mem_xalloc((T.G + 1) * sizeof *gall);
    T.grad = mem_xalloc(((size_t)T.model->ntensors + 1) * sizeof *T.grad);
    T.grad[0] = gall;
    for (int k = 0; k < T.model->ntensors; k++)
        T.grad[k] = gall + T.goff[k];
    T.slot_of = mem_xalloc(((size_t)job->ntensors + 1) * sizeof *T.slot_of);
    T.off = mem_xalloc(((size_t)job->ntensors + 1) * sizeof *T.off);
    size_t P = 0;
    for (int k = 0; k < job->ntensors; k++) {
        T.off[k] = P;
        P += (size_t)job->tensors[k].rows * (size_t)job->tensors[k].cols;
        T.slot_of[k] = -1;
        for (int s = 0; s < T.model->ntensors; s++)
            if (T.model->tensors[s].data == job->tensors[k].data)
                T.slot_of[k] = s;
    }
    T.P = (int)P;
    T.m = mem_xalloc((P + 1) * sizeof(double));
    T.v = mem_xalloc((P + 1) * sizeof(double));
    T.keep = mem_xalloc((3 * P + 1) * sizeof(double));
    memset(T.m, 0, P * sizeof(double));
    memset(T.v, 0, P * sizeof(double));
    T.xs = mem_xalloc((size_t)T.B * n2 * sizeof(double));
    T.ys = mem_xalloc((size_t)T.B * n * sizeof(double));

    if (job->checkpoint) {
        int r = checkpoint_read(&T);
        if (r < 0) {
            res->status = 4;
            goto out;
        }
        if (r > 0) {
            res->resumed_from = T.step;
            if (job->progress)
                fprintf(stderr, "train %s: resuming from step %d (%s)\n", job->job, T.step, job->checkpoint);
        }
    }

    /* the loss curve: the mean training loss and the validation loss at
     * up to 100 points, fewer when validating would cost more than about
     * a tenth of the training (a sample's forward pass is about a third
     * of its training step) */
    int npoints = 100;
    if (T.nval > 0) {
        double affordable = 0.1 * 3.0 * (double)job->steps * T.B / T.nval;
        npoints = affordable < 10 ? 10 : affordable < 100 ? (int)affordable : 100;
    }
    int every_eval = job->steps / npoints > 0 ? job->steps / npoints : 1;
    int maxpts = job->steps / every_eval + 2, npts = 0;
    double *c_at = mem_xalloc((size_t)maxpts * sizeof(double)), *c_tr = mem_xalloc((size_t)maxpts * sizeof(double)),
           *c_va = mem_xalloc((size_t)maxpts * sizeof(double));
    double window = 0, recent = 0;
    int nwin = 0, bad_in_row = 0;
    double opt_time = 0, last_print = 0, vloss = NAN, vrel = NAN;
    const double t_begin = sim_clock();
    while (T.step < job->steps) {
        if (batch(&T, T.step) != 0) {
            res->status = 3;
            break;
        }
        double t0 = sim_clock();
        T.wbatch = weight_sum(&T, T.xs, T.B);
        if (!(T.wbatch > 0)) {
            snprintf(res->message, sizeof res->message, "step %d: every sample of the batch has loss weight 0: "
                     "there is nothing to fit", T.step + 1);
            res->status = 3;
            break;
        }
        double l = step(&T);
        opt_time += sim_clock() - t0;
        if (!isfinite(l)) {
            /* undo the last update, halve the rate, take the next batch */
            if (T.updates > 0)
                undo(&T);
            T.lr_scale *= 0.5;
            res->recoveries++;
            fprintf(stderr, "lag: warning: train %s: step %d: the loss or its gradient is not finite; the last "
                    "update is undone and the learning rate halved (now x%g)\n", job->job, T.step + 1, T.lr_scale);
            if (++bad_in_row == 10) {
                snprintf(res->message, sizeof res->message, "10 steps in a row had a non-finite loss or gradient "
                         "(step %d): lower 'lr', or add a kinetic term to L so that its velocity Hessian stays "
                         "invertible", T.step + 1);
                res->status = 3;
                break;
            }
            T.step++;
            continue;
        }
        bad_in_row = 0;
        T.step++;
        res->samples_per_s += T.B;
        window += l;
        nwin++;
        recent = l;
        if (T.step % every_eval == 0 || T.step == job->steps) {
            if (T.nval > 0)
                validate(&T, &vloss, &vrel);
            c_at[npts] = T.step;
            c_tr[npts] = window / nwin;
            c_va[npts] = vloss;
            npts++;
            if (res->ncurve < 128) {
                double *cv = res->curve[res->ncurve++];
                cv[0] = T.step, cv[1] = sim_clock() - t_begin, cv[2] = window / nwin, cv[3] = vloss, cv[4] = vrel;
            }
            res->train_loss = window / nwin;
            window = 0;
            nwin = 0;
        }
        if (job->checkpoint && job->checkpoint_every > 0 && T.step % job->checkpoint_every == 0 &&
            T.step < job->steps && checkpoint_write(&T, err, sizeof err) != 0) {
            snprintf(res->message, sizeof res->message, "%s", err);
            res->status = 4;
            break;
        }
        double now = sim_clock();
        if (job->progress && (now - last_print > 0.25 || T.step == job->steps)) {
            last_print = now;
            double rate = (T.step - res->resumed_from) / (now - t_begin);
            char left[32];
            fmt_time(left, sizeof left, (job->steps - T.step) / rate);
            /* before the first validation there is no validation figure to show */
            char val[64] = "";
            if (!isnan(vloss))
                snprintf(val, sizeof val, "  validation %.3e (%.2f%% rel. RMS)", vloss, 100 * vrel);
            fprintf(stderr, "\rtrain %s: step %d/%d  loss %.3e%s  %.0f steps/s  %s left  ", job->job, T.step,
                    job->steps, recent, val, rate, left);
        }
    }
    if (job->progress)
        fputc('\n', stderr);
    if (job->single) /* the network trained is the float32 one: keep (and save) its weights */
        for (int k = 0; k < job->ntensors; k++)
            for (size_t i = 0; i < (size_t)job->tensors[k].rows * (size_t)job->tensors[k].cols; i++)
                job->tensors[k].data[i] = (float)job->tensors[k].data[i];
    ir_tensor_refresh(T.model);
    res->steps = T.step;
    res->val_loss = vloss;
    res->val_rel_rms = vrel;
    res->samples_per_s = opt_time > 0 ? res->samples_per_s / opt_time : 0;
    if (res->status == 0 && job->save) {
        WeightsTensor *w = mem_xalloc((size_t)job->ntensors * sizeof *w);
        for (int k = 0; k < job->ntensors; k++)
            w[k] = (WeightsTensor){(char *)job->tensors[k].name, job->tensors[k].rows, job->tensors[k].cols,
                                   job->tensors[k].data};
        if (weights_write_bits(job->save, w, job->ntensors, job->single ? 32 : 64, err, sizeof err) != 0) {
            snprintf(res->message, sizeof res->message, "%s", err);
            res->status = 4;
        }
        mem_free(w);
    }
    if (res->status == 0 && job->checkpoint && par_root())
        remove(job->checkpoint); /* finished: nothing to resume */
    if (res->status == 0 && job->plot && npts > 0 && draw_curve(job, c_at, c_tr, c_va, npts, err, sizeof err) != 0) {
        snprintf(res->message, sizeof res->message, "%s", err);
        res->status = 4;
    }
    mem_free(c_at);
    mem_free(c_tr);
    mem_free(c_va);
out:
    res->wall_s = sim_clock() - started;
    if (T.grad)
        mem_free(T.grad[0]);
    mem_free(T.grad);
    mem_free(T.cgrad);
    mem_free(T.cval);
    mem_free(T.nodes);
    mem_free(T.nodes_at);
    mem_free(T.nodes_buf);
    mem_free(T.goff);
    for (int i = 0; T.w && i < T.nw; i++) {
        vm_free(T.w[i].vm);
        adj_free(T.w[i].adj);
        mem_free(T.w[i].out);
        mem_free(T.w[i].outbar);
        mem_free(T.w[i].g);
        mem_free(T.w[i].fresh);
        vm_free(T.w[i].pvm);
        adj_free(T.w[i].padj);
        mem_free(T.w[i].pout);
        mem_free(T.w[i].pbar);
        mem_free(T.w[i].pg);
        mem_free(T.w[i].pscratch);
    }
    mem_free(T.w);
    mem_free(T.slot_of);
    mem_free(T.off);
    mem_free(T.m);
    mem_free(T.v);
    mem_free(T.keep);
    mem_free(T.xs);
    mem_free(T.ys);
    mem_free(T.own_vs);
    mem_free(T.own_vt);
    mem_free(T.split);
    mem_free(T.perm);
    mem_free(T.wfix);
    if (T.rng)
        gsl_rng_free(T.rng);
    return res->status;
}

int train_json(FILE *out, const TrainJob *job, const TrainResult *res)
{
    sim_json_begin();
    json_t *o = sim_jnew(json_object());
    sim_jset(o, "job", json_string("train"));
    sim_jset(o, "system", json_string(job->job));
    sim_jset(o, "status", json_integer(res->status));
    sim_jset(o, "steps", json_integer(res->steps));
    json_t *l = sim_jnew(json_object());
    sim_jset(l, "train", sim_jreal(res->train_loss));
    sim_jset(l, "validation", isnan(res->val_loss) ? json_null() : sim_jreal(res->val_loss));
    sim_jset(o, "loss", l);
    sim_jset(o, "loss_kind", json_string(job->l1 ? "l1" : "mse"));
    sim_jset(o, "precision", json_string(job->single ? "single" : "double"));
    sim_jset(o, "validation_rel_rms", isnan(res->val_rel_rms) ? json_null() : sim_jreal(res->val_rel_rms));
    if (job->penalty)
        sim_jset(o, "penalty", sim_jreal(res->penalty));
    sim_jset(o, "target_rms", sim_jreal(res->scale));
    sim_jset(o, "samples_per_s", sim_jreal(res->samples_per_s));
    sim_jset(o, "bad_samples", json_integer(res->bad_samples));
    sim_jset(o, "recoveries", json_integer(res->recoveries));
    sim_jset(o, "resumed_from", json_integer(res->resumed_from));
    sim_jset(o, "wall_s", sim_jreal(res->wall_s));
    sim_jset(o, "blas", json_string(blas_backend()));
    json_t *curve = sim_jnew(json_array());
    for (int i = 0; i < res->ncurve; i++) {
        json_t *pt = sim_jnew(json_array());
        for (int k = 0; k < 5; k++)
            sim_japp(pt, isnan(res->curve[i][k]) ? json_null() : sim_jreal(res->curve[i][k]));
        sim_japp(curve, pt);
    }
    sim_jset(o, "curve", curve);
    return sim_json_print(out, o);
}

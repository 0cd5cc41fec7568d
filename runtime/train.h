/*
 * runtime/train.h — the train job: fit the weights of a learned system's
 * networks to observed accelerations.
 *
 * The model is a tape program (lang/lower.h: lower_rhs_tape) whose outputs
 * are the accelerations; its tensors point at the weights being trained.
 * Each step draws a batch, runs the model, takes the loss's gradient with
 * respect to every weight by one reverse sweep (runtime/adjoint.h) and
 * moves the weights by Adam.  The compiler fills a TrainJob; the runtime
 * knows nothing of syntax.
 */
#ifndef LAG_TRAIN_H
#define LAG_TRAIN_H

#include <stdio.h>

#include "runtime/ir.h"

/* A tensor being trained (its data is where the model's tensors point). */
typedef struct TrainTensor {
    const char *name; /* "f.W1", ... */
    int rows, cols;
    double *data;
} TrainTensor;

/* How one state component is drawn: a constant (p1), uniform in [p1, p2),
 * normal (mean p1, standard deviation p2), or by eval(expr, rng), a
 * function of draws from the generator (a gsl_rng) that the compiler
 * supplies (DRAW_EXPR: e.g. 0.99999 tanh(x), x normal). */
typedef enum { DRAW_CONST, DRAW_UNIFORM, DRAW_NORMAL, DRAW_EXPR } DrawKind;
typedef struct TrainDraw {
    DrawKind kind;
    double p1, p2;
    double (*eval)(const void *expr, void *rng);
    const void *expr;
} TrainDraw;

typedef struct TrainJob {
    const char *job;              /* the learned system's name, for messages */
    const IrProgram *model;       /* a tape: inputs (q, q', then any parameters drawn per
                                   * sample: train_inputs), outputs q'' */
    const double *params;         /* model->nparams values */
    int n;                        /* coordinates */
    TrainTensor *tensors;         /* every weight of the system's nets */
    int ntensors;

    /* Data: a fixed set (nfixed > 0) or, with nfixed = 0, fresh states
     * drawn every step from `draw` with targets from `source`. */
    int nfixed;
    const double *states;         /* nfixed x train_inputs(job) */
    const double *targets;        /* nfixed x n */
    const TrainDraw *draw;        /* train_inputs(job) distributions (fresh data) */
    const IrProgram *source;      /* the system whose accelerations are the targets (the
                                   * model's inputs, in the same order) */
    const double *source_params;
    const char *const *columns;   /* train_inputs(job) input names, for messages */

    int l1;                       /* loss: L1 (1) or squared (0), scaled by the targets' RMS */
    double target_scale;          /* > 0: the loss's scale instead of the targets' RMS (loss action:
                                     the data's accelerations, its targets zero), and the relative
                                     error is RMS(out - target) / target_scale */
    /* a per-sample loss weight (or NULL: 1): a program of the model's
     * inputs with one output, >= 0 and finite (else the run stops with a
     * message): the loss is the weighted mean over the batch (each sample's
     * loss times its weight, over the weights' sum), validation's too */
    const IrProgram *weight;
    /* a symmetry penalty (or NULL): a tape with outputs dL (L's change under
     * the symmetry) and L at (q, q'), over the model's weights; the loss
     * gains penalty_weight * sum over the batch of dL^2 / (B <L^2>), <L^2>
     * the mean over the sample's chunk, held constant in the gradient (so
     * that the chunks stay independent) */
    const IrProgram *penalty;
    double penalty_weight;
    int steps, batch;
    double lr, warmup, clip, weight_decay;
    int cosine;                   /* learning-rate schedule: cosine decay (1) or constant */
    int single;                   /* precision single: the model's (and penalty's) layer products in
                                   * float32 (ir_set_single) from float32-rounded weights; the weights
                                   * kept and updated in double by Adam, rounded at the end (saved,
                                   * and kept for later jobs, as float32 values) */
    double validate;              /* held-out fraction of a fixed set */
    int nvalidate_fresh;          /* validation states drawn once for fresh data (0: none) */
    unsigned long seed;

    const char *save;             /* .lagw path, or NULL */
    const char *checkpoint;       /* checkpoint path, or NULL */
    int checkpoint_every;
    const char *plot;             /* loss-curve figure, or NULL */
    int progress;                 /* progress line on stderr */

    /* Text the driver fills with everything else that changes what
     * training computes (the data description as written, the parameters,
     * the model's structure), or NULL: hashed into the checkpoint's
     * signature with every setting above, the draws, the parameter values
     * and the fixed data, so a checkpoint of other data is never resumed. */
    const char *describe;
} TrainJob;

typedef struct TrainResult {
    int status;                   /* 0 ok, 3 numerical failure, 4 I/O error */
    char message[512];
    int steps;                    /* steps taken (including those before a resume) */
    int resumed_from;             /* the checkpoint's step, or 0 */
    double train_loss;            /* mean loss over the last steps */
    double val_loss;              /* loss on the validation set (NaN: none) */
    double val_rel_rms;           /* RMS(a - target) / RMS(target) on it */
    double samples_per_s;         /* training samples per second of optimisation */
    double wall_s;
    long bad_samples;             /* samples left out: singular or non-finite M */
    int recoveries;               /* non-finite steps undone */
    double scale;                 /* the targets' RMS the loss is divided by */
    double penalty;               /* the penalty term of the last step (NaN: none) */
    /* the learning curve, its first 128 points (about 100 are taken):
     * step, seconds since training began, mean training loss since the
     * last point, validation loss and relative RMS error (NaN without
     * validation) */
    double curve[128][5];
    int ncurve;
} TrainResult;

/* How many samples of p run through the tape at once (at most B): 32, or
 * 128 when 32 would not fit in 2 MB anyway (wide layers). */
int train_chunk_size(const IrProgram *p, int B);

/* A new Mersenne Twister (a gsl_rng *, gsl_rng_free it), or the
 * out-of-memory exit: GSL allocates it outside runtime/mem.h, so this
 * checks it and lets fault injection reach it. */
void *train_rng_new(void);

/* One state y (m components) drawn from d with the generator rng (a
 * gsl_rng). */
void train_draw_state(const TrainDraw *d, int m, void *rng, double *y);

/* The model's inputs per sample: 2n, then the parameters drawn per sample. */
int train_inputs(const TrainJob *job);

/* Fill states (B rows, stride values apart, of train_inputs(job) values)
 * and targets (B x n) with fresh draws; a draw whose target cannot be
 * computed (singular M) is drawn again.  With a weight and a stride beyond
 * the inputs, the weight goes into the column after them.  Returns 0, or
 * -1 when 100 draws in a row failed or a weight is bad (message in err). */
int train_draw(const TrainJob *job, void *rng, int B, double *states, int stride, double *targets, char *err,
               size_t errlen);

/* Run the job; returns res->status. */
int train_run(const TrainJob *job, TrainResult *res);

/* One JSON line (LANGUAGE.md §5).  Returns 0, or 4 (with a message on
 * stderr) when it cannot be written. */
int train_json(FILE *out, const TrainJob *job, const TrainResult *res);

#endif

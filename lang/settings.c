/*
 * lang/settings.c — the tables of job settings (see settings.h).
 */
#include "lang/settings.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static const char *const steppers[] = {"rk2", "rk4", "rkf45", "rkck", "rk8pd", "msadams", "rk1imp",
                                       "rk2imp", "rk4imp", "bsimp", "msbdf", "variational"};
static const char *const optimizers[] = {"adam"};
static const char *const schedules[] = {"constant", "cosine"};
static const char *const fit_methods[] = {"lm", "lmaccel", "lbfgs"};
static const char *const precisions[] = {"double", "single"};

#define WORDS(w) w, (int)(sizeof w / sizeof w[0])
#define NONE NULL, 0

/* Rows every job has. */
#define PARAM_ROW                                                                                  \
    {"param", SK_PARAMS, NONE, 0, NAN, "—", "override parameters of the target (given any number of times)"}
#define SEED_ROW(what) {"seed", SK_SEED, NONE, 0, 0, "0", "the seed of " what}
#define OUTPUT_ROW(what) {"output", SK_FILE, NONE, 0, NAN, "—", what}
#define PLOT_ROW(what) {"plot", SK_PLOT, NONE, 0, NAN, "—", what}
#define TOL_ROW(d, text, what) {"tol", SK_POS, NONE, 0, d, text, what}

static const SettingSpec simulate_specs[] = {
    {"init", SK_INIT, NONE, 0, NAN, "0", "initial coordinates and velocities (or momenta p_q, for a system given by H): constants, or uniform(a, b) / normal(m, s) per trajectory, or grid(a, b, n), n values from a to b: the ensemble is every combination of the grids (the first slowest)"},
    {"time", SK_RANGE, NONE, 1, NAN, "—", "the time span a .. b"},
    {"every", SK_POS, NONE, 0, NAN, "(b − a)/1000", "the output interval"},
    {"method", SK_WORD, WORDS(steppers), 0, NAN, "rk8pd", "the GSL stepper, or the symplectic variational integrator"},
    TOL_ROW(1e-8, "1e-8", "the error tolerance per step (absolute and relative)"),
    {"samples", SK_INT1, NONE, 0, 1, "1", "the number of trajectories (an ensemble); with grid(...) in init, the grid's size"},
    OUTPUT_ROW("the CSV file of states, energy and records; a name ending in .h5 writes an HDF5 table instead"),
    PLOT_ROW("a figure of the coordinates, energy and records against time; with 'stop when' and a grid of starts of one or two axes, the time each start takes to stop"),
    {"record", SK_RECORD, NONE, 0, NAN, "—", "extra output columns: expressions of the system, which may use q'' (given any number of times); 'record when EXPR crosses 0' (as 'stop when') lists each crossing in the events and the trajectory goes on"},
    {"stop", SK_STOP, NONE, 0, NAN, "—", "end a trajectory where EXPR (of q, q', the parameters and t) crosses 0: upwards with rising, downwards with falling, either way without; given any number of times, the first crossing ends it, located on the step (its last row and final state are there)"},
    {"events", SK_FILE, NONE, 0, NAN, "—", "the CSV file of the events: a row for each crossing of a 'record when' and each trajectory a 'stop when' ended, with traj, t and the state there"},
    {"param", SK_PARAMS, NONE, 0, NAN, "—", "override parameters of the target (given any number of times); a draw (uniform, normal, or an expression of them) is drawn per trajectory and written as a column"},
    SEED_ROW("the initial-state and parameter draws"),
    {"precision", SK_WORD, WORDS(precisions), 0, NAN, "as trained", "the nets' layer products in float64 or float32 (default: single when a net's weights file was trained in single precision)"},
    {"stabilize", SK_NONNEG, NONE, 0, 0, "0", "a constrained system's Baumgarte rate a: each constraint g(q, t) = 0 held as g'' + 2a g' + a^2 g = 0, each velocity constraint C = 0 as C' + 2a C = 0 (0: g'' = 0, C' = 0; the drift columns show what is left)"},
};

static const SettingSpec train_specs[] = {
    {"data", SK_DATA, NONE, 1, NAN, "—", "a CSV file of q, q', q'', or from a reference system (see 'data from')"},
    {"loss", SK_LOSS, NONE, 0, NAN, "accel l1", "accel l1 / accel mse (over the targets' RMS), or action"},
    {"optimizer", SK_WORD, WORDS(optimizers), 0, NAN, "adam", "Adam, β = (0.9, 0.999), ε = 1e-8"},
    {"lr", SK_POS, NONE, 0, 1e-3, "1e-3", "the learning rate"},
    {"steps", SK_INT1, NONE, 0, 1000, "1000", "optimisation steps"},
    {"batch", SK_INT1, NONE, 0, 256, "256", "samples per step (at most 1e6)"},
    {"validate", SK_FRACTION, NONE, 0, 0.1, "0.1", "the fraction of a fixed set held out (fresh data: 8192 states, 0 for none)"},
    {"save", SK_FILE, NONE, 0, NAN, "—", "the trained weights (.lagw)"},
    {"checkpoint", SK_CHECKPOINT, NONE, 0, NAN, "—", "every N steps, the state of training to SAVE.ckpt (resumed)"},
    {"penalty", SK_PENALTY, NONE, 0, NAN, "—", "λ times the invariance residual of a declared symmetry (of the system, or of its data's) added to the loss"},
    {"weight", SK_SYSEXPR, NONE, 0, NAN, "1", "each sample's loss weight (finite, ≥ 0): an expression of the model's coordinates, velocities and parameters"},
    {"schedule", SK_WORD, WORDS(schedules), 0, NAN, "cosine", "the learning rate after the warm-up: cosine decay to 0, or constant"},
    {"weight_decay", SK_NONNEG, NONE, 0, 0, "0", "decoupled weight decay (AdamW)"},
    {"warmup", SK_FRACTION, NONE, 0, 0.05, "0.05", "the fraction of the steps with a linear warm-up"},
    {"clip", SK_POS, NONE, 0, 1, "1", "the largest gradient norm (all weights together)"},
    OUTPUT_ROW("the learning curve as CSV: step, seconds, train_loss (and val_loss, val_rel_rms)"),
    PLOT_ROW("the training and validation loss against the step"),
    PARAM_ROW,
    SEED_ROW("every draw, shuffle and split"),
    {"precision", SK_WORD, WORDS(precisions), 0, NAN, "double", "the nets' weights rounded to float32 and their layer products in float32 (single), or float64; the loss, the solve of M q'' = f and the optimiser stay double"},
};

static const SettingSpec data_specs[] = {
    {"init", SK_INIT, NONE, 0, NAN, "0", "the distributions states are drawn from: constants, uniform(a, b), normal(m, s)"},
    {"time", SK_RANGE, NONE, 0, NAN, "—", "states along trajectories over a .. b, instead of drawn states"},
    {"every", SK_POS, NONE, 0, NAN, "(b − a)/100", "the interval between states along a trajectory"},
    {"method", SK_WORD, WORDS(steppers), 0, NAN, "rk8pd", "the stepper of the trajectories (an explicit one)"},
    TOL_ROW(1e-8, "1e-8", "the trajectories' error tolerance"),
    {"samples", SK_INT1, NONE, 0, NAN, "—", "a fixed set of N states (or N trajectories with time); without: fresh states every step"},
    {"param", SK_PARAMS, NONE, 0, NAN, "—", "override parameters of the data's system; a draw (uniform, normal, or an expression of them) is drawn per sample and is an input of the model too"},
    {"seed", SK_SEED, NONE, 0, NAN, "the job's", "the seed of the data's draws"},
};

static const SettingSpec compare_specs[] = {
    {"init", SK_INIT, NONE, 0, NAN, "0", "the starts (constants, or uniform(a, b) / normal(m, s) per start); the grid's other components"},
    {"time", SK_RANGE, NONE, 1, NAN, "—", "the time span a .. b"},
    {"every", SK_POS, NONE, 0, NAN, "(b − a)/1000", "the output interval"},
    {"method", SK_WORD, WORDS(steppers), 0, NAN, "rk8pd", "the stepper"},
    TOL_ROW(1e-8, "1e-8", "the error tolerance per step"),
    {"samples", SK_INT1, NONE, 0, 1, "1", "the number of starts (medians and worst cases are reported)"},
    {"grid", SK_GRID, NONE, 0, NAN, "—", "one or two axes q = a .. b : n of a grid of states"},
    {"energy_scale", SK_POS, NONE, 0, NAN, "the size of E_ref at the first start", "what the energy drift is divided by"},
    {"diverge", SK_POS, NONE, 0, 0.1, "0.1", "the state error at which a trajectory has diverged"},
    {"record", SK_STOP, NONE, 0, NAN, "—", "each crossing of EXPR along each model's trajectories, located as simulate's 'record when' (the trajectories go on), and the time of each model's first crossing against the reference's (given any number of times)"},
    OUTPUT_ROW("a prefix: PREFIX_traj.csv, PREFIX_grid.csv, PREFIX_summary.json"),
    PLOT_ROW("a figure of the comparison"),
    PARAM_ROW,
    SEED_ROW("the initial-state draws"),
};

#define VARIATIONAL_ROWS(guess)                                                                    \
    {"points", SK_INT2, NONE, 0, 201, "201", "the number of nodes of the discretisation"},          \
    {"guess", SK_GUESS, NONE, 0, NAN, "a line", guess},                                             \
    {"iterations", SK_INT1, NONE, 0, 100, "100", "the most Newton iterations"},                     \
    TOL_ROW(1e-10, "1e-10", "the convergence tolerance on the KKT residual")

static const SettingSpec solve_specs[] = {
    VARIATIONAL_ROWS("a starting shape: each field as an expression of the domain variable"),
    {"exact", SK_GUESS, NONE, 0, NAN, "—", "a closed form of fields (expressions of the domain variable): the figure adds it and the error, the JSON max_error"},
    OUTPUT_ROW("the CSV file of the solution"),
    PLOT_ROW("a figure of the solution"),
    PARAM_ROW,
    SEED_ROW("any draws"),
};

static const SettingSpec action_specs[] = {
    {"from", SK_AT, NONE, 1, NAN, "—", "the start time and every coordinate there: from T: q = v, ..."},
    {"to", SK_AT, NONE, 1, NAN, "—", "the end time (after the start) and every coordinate there"},
    VARIATIONAL_ROWS("a starting path: coordinates as constants"),
    OUTPUT_ROW("the CSV file of the path"),
    PLOT_ROW("a figure of the path"),
    PARAM_ROW,
    SEED_ROW("any draws"),
};

static const SettingSpec infer_specs[] = {
    {"observe", SK_FILE, NONE, 1, NAN, "—", "the CSV file of observations: the domain variable and any of the fields (and FIELD_sigma)"},
    {"noise", SK_POS, NONE, 0, NAN, "—", "the observations' standard deviation (without it and without FIELD_sigma columns: estimated from the residuals)"},
    VARIATIONAL_ROWS("starting values of the unknowns (u = v), or a starting shape of the fields"),
    {"fit_method", SK_WORD, WORDS(fit_methods), 0, NAN, "lm", "Levenberg–Marquardt, or with geodesic acceleration, or L-BFGS on the misfit (the only one, and the default, when the problem has nets: their weights' gradient from one adjoint solve)"},
    {"regularize", SK_NONNEG, NONE, 0, 0, "0", "λ of the smoothness penalty λ ∫ f''² over the unknown functions (in units of χ²)"},
    {"samples", SK_SEED, NONE, 0, 0, "0", "refits on that many noise realisations drawn from the fitted model (needs a noise level): the spread of the estimates beside the standard errors"},
    {"bounds", SK_BOUNDS, NONE, 0, NAN, "—", "ranges a .. b the unknown scalars stay within (the fit moves them through a + (b − a)(1 + sin u)/2)"},
    {"exact", SK_GUESS, NONE, 0, NAN, "—", "the truth where it is known: unknowns (u = v), unknown functions (f = an expression of the domain variable), drawn beside the estimates"},
    {"fit_iterations", SK_INT1, NONE, 0, 100, "100", "the most iterations of the fit (100 for Levenberg–Marquardt; L-BFGS: 2000 unless given)"},
    {"save", SK_FILE, NONE, 0, NAN, "—", "the fitted weights of the problem's nets (.lagw)"},
    {"fit_tol", SK_POS, NONE, 0, 1e-10, "1e-10", "the fit's tolerance on the relative step and the scaled gradient"},
    OUTPUT_ROW("the CSV of the observations, the fit and the residuals (and FILE_nodes.csv: the fields and unknown functions at the nodes)"),
    PLOT_ROW("a figure of the fit, the residuals and the unknown functions"),
    PARAM_ROW,
    SEED_ROW("any draws"),
};

#define JOB(name, specs) {name, specs, (int)(sizeof specs / sizeof specs[0])}

static const JobSpec jobs[SETTINGS_KINDS] = {
    [JOB_SIMULATE] = JOB("simulate", simulate_specs), [JOB_TRAIN] = JOB("train", train_specs),
    [JOB_COMPARE] = JOB("compare", compare_specs),    [JOB_SOLVE] = JOB("solve", solve_specs),
    [JOB_ACTION] = JOB("action", action_specs),       [JOB_INFER] = JOB("infer", infer_specs),
    [SETTINGS_DATA] = JOB("data from", data_specs),
};

const JobSpec *settings_job(int kind)
{
    assert(kind >= 0 && kind < SETTINGS_KINDS);
    return &jobs[kind];
}

const SettingSpec *settings_find(const JobSpec *j, const char *name)
{
    for (int i = 0; i < j->nspecs; i++)
        if (strcmp(j->specs[i].name, name) == 0)
            return &j->specs[i];
    return NULL;
}

const char *settings_kind_text(const SettingSpec *sp)
{
    switch (sp->kind) {
    case SK_POS: return "a number > 0";
    case SK_NONNEG: return "a number ≥ 0";
    case SK_FRACTION: return "a fraction, 0 ≤ f < 1";
    case SK_INT1: return "a whole number ≥ 1";
    case SK_INT2: return "a whole number ≥ 2";
    case SK_SEED: return "a whole number ≥ 0";
    case SK_RANGE: return "a .. b, a < b";
    case SK_FILE: return "\"file\"";
    case SK_PLOT: return "\"file.svg\", .png or .pdf";
    case SK_WORD: return "a word";
    case SK_INIT: return "q = v, q' = v, ...";
    case SK_PARAMS: return "p = v, ...";
    case SK_RECORD: return "name = expr, ... or when EXPR crosses 0 [rising \\| falling]";
    case SK_GUESS: return "y = expr, ...";
    case SK_GRID: return "q = a .. b : n, ...";
    case SK_AT: return "T: q = v, ...";
    case SK_DATA: return "\"file.csv\" or from Sys { ... }";
    case SK_LOSS: return "accel, accel l1, accel mse or action";
    case SK_CHECKPOINT: return "every N";
    case SK_PENALTY: return "SYMMETRY λ";
    case SK_SYSEXPR: return "an expression of q, q'";
    case SK_BOUNDS: return "u = a .. b, ...";
    case SK_STOP: return "when EXPR crosses 0 [rising \\| falling]";
    }
    return "";
}

void settings_print_table(FILE *out, int kind)
{
    const JobSpec *j = settings_job(kind);
    fprintf(out, "| %s | value | default | meaning |\n|---|---|---|---|\n", j->name);
    for (int i = 0; i < j->nspecs; i++) {
        const SettingSpec *sp = &j->specs[i];
        fprintf(out, "| `%s` | ", sp->name);
        if (sp->kind == SK_WORD)
            for (int w = 0; w < sp->nwords; w++)
                fprintf(out, "%s`%s`", w ? " " : "", sp->words[w]);
        else
            fputs(settings_kind_text(sp), out);
        fprintf(out, " | %s | %s%s |\n", sp->required ? "required" : sp->dflt_text, sp->meaning, "");
    }
}

/* ---------- folded values ---------- */

const Setting *settings_get(const Setting *list, const char *name)
{
    for (const Setting *s = list; s; s = s->next)
        if (s->form != SET_CONT && strcmp(s->head.name, name) == 0)
            return s;
    return NULL;
}

double settings_num(const Setting *list, int kind, const char *name)
{
    const Setting *s = settings_get(list, name);
    if (s)
        return s->v1;
    const SettingSpec *sp = settings_find(settings_job(kind), name);
    assert(sp && !isnan(sp->dflt));
    return sp->dflt;
}

const char *settings_word(const Setting *list, int kind, const char *name)
{
    const Setting *s = settings_get(list, name);
    if (s)
        return s->e1->id.name;
    const SettingSpec *sp = settings_find(settings_job(kind), name);
    assert(sp && sp->kind == SK_WORD);
    return sp->dflt_text;
}

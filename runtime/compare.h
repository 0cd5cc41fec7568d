/*
 * runtime/compare.h — the compare job: a reference system against models
 * with the same coordinates (analytic, learned or hybrid), on trajectories
 * from the same initial states and over a grid of states.
 *
 * The compiler fills a CmpJob with each model's lowered programs; the
 * runtime integrates them (runtime/simulate.h; each start a run of its
 * own), evaluates the grid in batches through the VM, and writes the
 * tables, the figure and the JSON.
 *
 * Per model (the reference's own entry is its self-comparison):
 *   trajectories: the state error |s_m(t) - s_ref(t)| (2-norm over the
 *     coordinates and velocities) at every output time; traj_rmse its RMS
 *     over time; diverge_time the first time it exceeds `diverge`;
 *     energy_drift max_t |E_ref(s_m(t)) - E_ref(s_m(0))| / scale, the
 *     reference's energy along the model's path (scale: energy_scale, or
 *     |E_ref(s(0))|); energy_error_final the same at the span's end only
 *     (the LNN paper's metric, which averages it over the starts:
 *     energy_error_final_mean); own_energy_drift the drift of the model's
 *     own E.
 *     With several samples: the median and the worst over the starts.
 *   grid: |a_m - a_ref| (2-norm over the coordinates) per cell, RMS over
 *     the cell's states (one, or one per sample when the components off
 *     the grid are drawn); accel_rmse_grid the RMS over the cells,
 *     accel_rel_grid sqrt(sum |a_m - a_ref|^2 / sum |a_ref|^2).
 *   gauge: L_m = a L_ref + b fitted by least squares over the grid's
 *     states (gauge_a, gauge_b, gauge_r2); when L_ref is even in the
 *     velocities both are replaced by their even parts
 *     (L(q, q') + L(q, -q'))/2 first, which removes any total derivative
 *     dF(q)/dt = grad F . q' (gauge_even).
 *   occupancy: the reference trajectories' states binned on the grid's
 *     axes; the Spearman rank correlation between a cell's occupancy and
 *     the model's acceleration error there, over the occupied cells.
 *   symmetries (the reference's): how far each model's L is from invariant
 *     and how well its Noether charge is conserved along its own path.
 *   events (`record when EXPR crosses 0`, each model's EXPR of its own
 *     state): every crossing along its trajectories, located as simulate
 *     locates it (the trajectory going on); first_event_dt the median over
 *     the starts and conditions of t_m - t_ref of the first crossing, where
 *     both cross, first_event_dt_worst the largest |t_m - t_ref|, and
 *     first_event_unmatched the (start, condition) pairs where only one of
 *     the two crosses.
 */
#ifndef LAG_COMPARE_H
#define LAG_COMPARE_H

#include <stdio.h>

#include "runtime/ir.h"

typedef struct CmpModel {
    const char *name;
    const IrProgram *rhs;    /* the n accelerations from (q, q') */
    const IrProgram *jac;    /* for implicit steppers (runtime/simulate.h), or NULL */
    int jac_uses_accel;
    const IrProgram *del;    /* the discrete Euler-Lagrange ingredients (method variational), or NULL */
    const IrProgram *energy; /* its own E (one output), or NULL */
    const IrProgram *lagr;   /* its L (one output), or NULL (a system given by accelerations) */
    const double *params;    /* one array for all its programs */
    int energy_conserved;
    double validation;       /* its validation error from a train job of the run (NaN: none) */
    /* per symmetry of the reference (CmpJob.nsyms): L's change under it and
     * the Noether charge of this model's L (one output each; NULL without
     * an L, and the charge NULL for an exchange) */
    const IrProgram *const *sym_dl, *const *sym_q;
    const IrProgram *events; /* the conditions of `record when` (CmpJob.nevents outputs), or NULL */
} CmpModel;

typedef struct CmpAxis {
    int comp;                /* the state component: coordinate i, or velocity n + i */
    double lo, hi;
    int count;               /* >= 2 */
} CmpAxis;

typedef struct CmpJob {
    int nmodels;             /* >= 2; models[0] is the reference */
    const CmpModel *models;
    int n;                   /* coordinates */
    const char *const *columns; /* 2n names: coordinates then velocities */
    int samples;             /* starts, >= 1 */
    const double *y0;        /* samples x 2n initial states (also the grid's other components) */
    int random_rest;         /* the grid's other components are drawn: average over the samples */
    double t0, t1, every;
    const char *method;      /* a GSL stepper name or "variational" */
    double tol;
    double energy_scale;     /* NaN: |E_ref(s(0))| */
    double diverge;          /* the divergence threshold on the state error */
    int nsyms;               /* the reference's symmetries (symmetry NAME: ...) */
    const char *const *sym_names;
    int naxes;               /* 0 (no grid), 1 or 2 */
    CmpAxis axes[2];
    const char *output;      /* prefix of PREFIX_traj.csv, PREFIX_grid.csv, PREFIX_summary.json; or NULL */
    const char *plot;        /* figure path, or NULL */
    int progress;
    /* `record when`: nevents conditions (each model's CmpModel.events), the
     * way each crosses (RK_RISING, ... of runtime/rkbatch.h) and its text */
    int nevents;
    const int *event_dir;
    const char *const *event_text;
} CmpJob;

typedef struct CmpModelResult {
    int status;              /* of its trajectories: 0, or 3 (integration failed: message) */
    char message[1024];
    double energy_drift, energy_drift_worst, own_energy_drift;
    double energy_error_final, energy_error_final_mean; /* |E_ref(s_m(t1)) - E_ref(s_m(0))| / scale:
                                                           the median and the mean over the starts */
    double traj_rmse, traj_rmse_worst;
    double diverge_time, diverge_time_first; /* median and earliest; INFINITY: never */
    double accel_rmse_grid, accel_rel_grid;
    long grid_failures;      /* grid states where its acceleration is not a finite number (a
                                singular mass matrix, a failed evaluation): left out of the maps */
    int peak_cell;           /* the cell of the largest acceleration error (-1: no grid) */
    double grid_accel_s;     /* the time its accelerations over the grid took */
    double occupancy_error_corr;
    int occupied_cells;
    double gauge_a, gauge_b, gauge_r2;
    int gauge_even;
    /* per symmetry: RMS of L's change over RMS of L (over the grid's states,
     * or the reference's path without a grid), and the drift of the charge
     * along the model's own path, max_t |Q(t) - Q(0)| / |Q(0)| (absolute
     * when |Q(0)| < 1e-8), the median over the starts; NaN where undefined */
    double *sym_residual, *sym_charge_drift; /* nsyms each (caller's buffers) */
    /* with events: its crossings, rows (start, t, condition) by start then
     * time (mem_alloc'd by cmp_run: the caller frees), and against the
     * reference's */
    double *events;
    long nevents;
    double first_event_dt, first_event_dt_worst;
    long first_event_unmatched;
} CmpModelResult;

typedef struct CmpResult {
    int status;              /* 0, 3 (the reference's trajectories failed), 4 (I/O) */
    char message[1024];
    CmpModelResult *models;  /* nmodels entries (caller's buffer) */
    double energy_scale;     /* the scale used */
    long grid_cells;
    double wall_s;
} CmpResult;

/* Run the job; returns res->status. */
int cmp_run(const CmpJob *job, CmpResult *res);

/* One JSON line (LANGUAGE.md §5).  Returns 0, or 4. */
int cmp_json(FILE *out, const CmpJob *job, const CmpResult *res);

/* The readable table: a row per model. */
void cmp_table(FILE *out, const CmpJob *job, const CmpResult *res);

#endif

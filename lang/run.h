/*
 * lang/run.h — `lag run`: turn each job of a checked program into the
 * runtime's job descriptions and run them in file order.
 */
#ifndef LAG_RUN_H
#define LAG_RUN_H

#include "lang/front.h"

typedef struct RunOptions {
    int json;            /* one JSON object per job on stdout */
    int quiet;
    int progress;        /* progress on stderr even when it is not a terminal */
    int max_steps;       /* cap on every train job's steps (0: none) */
    int native;          /* compile the lowered programs (runtime/native.h) */
    const char *job;     /* run only the jobs on this system/problem, or NULL */
    const char *outdir;  /* -o DIR, or NULL */
    const char **sets;   /* --set SYS.param=value */
    int nsets;
    double started;      /* when the process started (sim_clock) */
} RunOptions;

/* Returns the exit status (0, 1, 2, 3 or 4); messages go to stderr. */
int run_program(Front *F, const RunOptions *opt);

#endif

/*
 * lang/settings.h — the settings of every job kind, in one table per kind.
 *
 * Each row gives a setting's name, the kind of value it takes, its default
 * and a one-line meaning.  The checker validates settings against these
 * tables and folds their numbers into the AST (Setting.v1, Assign.v, ...);
 * the job drivers (lang/job_*.c) read the folded values or the defaults
 * from here; docs/language.md's settings tables are printed from them and
 * a test compares the two (tests/unit/settings_test.c).
 */
#ifndef LAG_SETTINGS_H
#define LAG_SETTINGS_H

#include <stdio.h>

#include "lang/ast.h"

typedef enum SetKind {
    SK_POS,        /* a constant > 0 */
    SK_NONNEG,     /* a constant >= 0 */
    SK_FRACTION,   /* 0 <= x < 1 */
    SK_INT1,       /* a whole number >= 1 */
    SK_INT2,       /* a whole number >= 2 */
    SK_SEED,       /* a whole number >= 0 */
    SK_RANGE,      /* a .. b with a < b */
    SK_FILE,       /* a file name in quotes */
    SK_PLOT,       /* a file name ending in .svg/.png/.pdf */
    SK_WORD,       /* one of `words` */
    SK_INIT,       /* coords/velocities = constant or random */
    SK_PARAMS,     /* params = constant */
    SK_RECORD,     /* name = system expression */
    SK_GUESS,      /* field = expression of the domain variable, coord = constant */
    SK_GRID,       /* coord = a .. b : n */
    SK_AT,         /* T: coord = constant, ... */
    SK_DATA,       /* "file" or from System { ... } */
    SK_LOSS,       /* accel [l1|mse] | action */
    SK_CHECKPOINT, /* every N */
    SK_PENALTY,    /* SYMMETRY weight: a declared symmetry and a number >= 0 */
    SK_SYSEXPR,    /* an expression of the target system's q, q', parameters and lets */
    SK_BOUNDS,     /* unknown = a .. b, ... */
    SK_STOP        /* when EXPR crosses 0 [rising|falling]: an expression of the target system */
} SetKind;

typedef struct SettingSpec {
    const char *name;
    SetKind kind;
    const char *const *words; /* SK_WORD: the accepted words */
    int nwords;
    int required;
    double dflt;              /* the default of a number (NAN: none, or computed) */
    const char *dflt_text;    /* the default as the docs show it ("—": none) */
    const char *meaning;      /* one line */
} SettingSpec;

/* The settings of `data from System { ... }` in a train job are a job
 * kind of their own. */
enum { SETTINGS_DATA = JOB_INFER + 1, SETTINGS_KINDS };

typedef struct JobSpec {
    const char *name;         /* "simulate", ..., "data from" */
    const SettingSpec *specs;
    int nspecs;
} JobSpec;

const JobSpec *settings_job(int kind);
/* The row called name, or NULL. */
const SettingSpec *settings_find(const JobSpec *j, const char *name);
/* The words of a kind of value, as the docs show them ("a number > 0"). */
const char *settings_kind_text(const SettingSpec *sp);
/* docs/language.md's table for one kind, in Markdown. */
void settings_print_table(FILE *out, int kind);

/* ---------- for the drivers: the checked, folded values ---------- */

/* The setting called name in a list (a job's, or a data block's), or NULL. */
const Setting *settings_get(const Setting *list, const char *name);
/* A number setting's folded value, or its default from the table of kind
 * (which must have one: asserted). */
double settings_num(const Setting *list, int kind, const char *name);
/* A word setting's word, or its default. */
const char *settings_word(const Setting *list, int kind, const char *name);

#endif

/*
 * lang/diag.h — located diagnostics.
 *
 * Every message has the GNU form `FILE:LINE:COL: error: text` (1-based, the
 * column counted in characters), followed by the source line and a caret
 * underlining the offending range, as GCC prints them.  A Diag counts
 * errors and warnings; after DIAG_MAX_ERRORS errors it stops printing and
 * tells the front end to give up.
 */
#ifndef LAG_DIAG_H
#define LAG_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "lang/arena.h"

enum { DIAG_MAX_ERRORS = 20 };

/* A source range: first..last character, both inclusive, 1-based. */
typedef struct Loc {
    int file; /* index into the Diag's source table; -1 = no location */
    int first_line, first_column;
    int last_line, last_column;
} Loc;

typedef struct Source {
    const char *name; /* as the user wrote it (used in messages) */
    const char *text; /* whole contents; may contain NUL bytes */
    size_t len;
} Source;

typedef struct DiagMsg DiagMsg;

typedef struct Diag {
    Arena *arena;
    FILE *out;       /* where messages go, at diag_flush; NULL discards them */
    DiagMsg *msgs;   /* messages held until diag_flush, which sorts them */
    int nmsgs, capmsgs;
    Source *src;     /* table of loaded files */
    int nsrc, capsrc;
    int errors;      /* errors reported so far (including suppressed) */
    int warnings;
    int gave_up;     /* DIAG_MAX_ERRORS reached: the caller should stop */
} Diag;

void diag_init(Diag *d, Arena *a, FILE *out);
void diag_fini(Diag *d); /* flushes, then frees */

/* Print the held messages in source order (file, line, column; ties in
 * the order reported), each error followed by its notes. */
void diag_flush(Diag *d);
int diag_add_source(Diag *d, const char *name, const char *text, size_t len);

void diag_error(Diag *d, Loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, Loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, Loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The candidate closest to `name` by edit distance if it is close enough to
 * be a plausible typo, else NULL. */
/* A relative path written at `at`, as seen from the directory of the file
 * that contains it (allocated in arena a; path itself when absolute). */
const char *diag_beside(const Diag *d, Arena *a, const char *path, Loc at);
const char *diag_suggest(const char *name, const char *const *cands, int n);

#endif

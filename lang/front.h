/*
 * lang/front.h — the front end: load a .lag file (and its imports), parse
 * it and check it.
 *
 * The Parser struct is the state shared by the reentrant Flex scanner and
 * the pure Bison parser of one file.
 */
#ifndef LAG_FRONT_H
#define LAG_FRONT_H

#include <stddef.h>
#include <stdio.h>

#include "lang/arena.h"
#include "lang/ast.h"
#include "lang/diag.h"

enum {
    FRONT_MAX_NAME = 255,      /* longest identifier, in bytes */
    FRONT_MAX_NESTING = 256,   /* deepest ( [ nesting */
    FRONT_MAX_IMPORTS = 1000   /* files loaded through import */
};

typedef struct Parser {
    Arena *arena;
    Diag *diag;
    int file;        /* source index in the Diag */
    Item *items;     /* result: the file's items in order */
    /* Scanner state. */
    int line, column;    /* position of the next character (1-based) */
    int brace_depth;
    int job_depth;       /* brace depth of the innermost job body, or 0 */
    int pending_job;     /* a job keyword was seen; its '{' comes next */
    int paren_depth;
    int last_operand;    /* the last token can end an operand (newline may separate) */
    int last_close;      /* the last token was ')' with primes directly after it: (e)' */
    int aborted;         /* a fatal scanner error: stop quietly */
    int broken;          /* a syntax error inside the item being parsed */
    int lex_error_line;  /* the line of the lexer's last error: the parser says nothing more there */
    int at_setting;      /* the last token may end a setting (',', ';', '{', a newline in a job body) */
    int stop_head;       /* the last token was a setting named `stop` (1) or `record` (2): `when` after it is WHEN */
    char tok[48];        /* text of the last name or number (for messages) */
} Parser;

/* Parse one source (already registered in P->diag as P->file). Returns the
 * number of errors it reported. */
int front_parse(Parser *P, const char *text, size_t len);

/* A loaded program: the root file's items and every imported file's. */
typedef struct Program {
    Item *items;   /* the root file's items */
    Item **files;  /* first item of each loaded file (files[0] = root) */
    const char **paths;
    int nfiles;
} Program;

typedef struct Front {
    Arena *arena;
    Diag diag;
    Program prog;
} Front;

/* Load, parse and check `path`; messages go to `err`.  Returns 0 if the
 * program is valid, 1 on errors in the input, 4 if the file cannot be read.
 * Call front_fini afterwards in every case. */
int front_load(Front *F, const char *path, FILE *err);
void front_fini(Front *F);

/* Like front_load, for text in memory named `name` (imports resolve from
 * the current directory).  Returns 0 or 1. */
int front_load_text(Front *F, const char *name, const char *text, size_t len, FILE *err);

/* Parse and check a buffer as if it were the file `name`; diagnostics go to
 * `err` (NULL discards them).  Returns the number of errors (0 = valid).
 * Never exits, never crashes.  Imports are resolved relative to the
 * current directory. */
int front_check_buffer(const char *name, const char *text, size_t len, FILE *err);
/* The loaded system whose name is nearest to name (a misspelling), or
 * NULL: for "did you mean" in the commands that name a system. */
const char *front_near_system(Front *F, const char *name);

#endif

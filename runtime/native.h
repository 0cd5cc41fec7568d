/*
 * runtime/native.h — compile an IR program to machine code: emit C, build
 * it with the system compiler (cc -O2 -shared -fPIC) into a cache directory
 * keyed by a hash of the source, and load it with dlopen.  The compiled
 * function has the VM's calling convention and computes the same results
 * (the same operations in the same order), so vm_run uses it in place of
 * interpretation when it is attached to the program.
 */
#ifndef LAG_NATIVE_H
#define LAG_NATIVE_H

#include <stddef.h>

#include "runtime/ir.h"

/* The compiled form: returns 0, or 1 + the sample whose SOLVE met a
 * singular or non-finite matrix. */
typedef int (*IrNativeFn)(int B, const double *state, int state_stride, double t,
                          const double *params, double *out, int out_stride);

/* Compile p and attach the function to it (p->native).  Returns 0, or -1
 * with a reason in err (no compiler, compilation failed): the caller warns
 * and the VM interprets as before. */
int native_attach(IrProgram *p, char *err, size_t errlen);

/* Write the C source for p (for tests and debugging). */
int native_source(const IrProgram *p, char **text, size_t *len);

#endif

/*
 * runtime/ffi.c — calling extern C functions through libffi (see
 * ir_extern_eval in ir.h): a call interface per arity, prepared once, and
 * derivatives by nested central differences where the library gives no
 * grad function.
 */
#include <ffi.h>
#include <math.h>
#include <string.h>

#include "runtime/input.h"
#include "runtime/ir.h"

enum { MAX_ARGS = 16 };

static double call(void *fn, int n, const double *x)
{
    /* one call interface per arity, prepared on first use (all arguments
     * and the result are doubles) */
    static ffi_cif cifs[MAX_ARGS + 1];
    static char ready[MAX_ARGS + 1];
    static ffi_type *types[MAX_ARGS];
    if (n < 0 || n > MAX_ARGS)
        return NAN;
    if (!ready[n]) {
        for (int i = 0; i < MAX_ARGS; i++)
            types[i] = &ffi_type_double;
        if (ffi_prep_cif(&cifs[n], FFI_DEFAULT_ABI, (unsigned)n, &ffi_type_double, types) != FFI_OK)
            return NAN;
        ready[n] = 1;
    }
    void *argv[MAX_ARGS];
    double args[MAX_ARGS];
    for (int i = 0; i < n; i++) {
        args[i] = x[i];
        argv[i] = &args[i];
    }
    double r = NAN;
    ffi_call(&cifs[n], FFI_FN(fn), &r, argv);
    return r;
}

/* deriv: 4-bit digits, lowest first, each 1 + the argument differentiated;
 * h = 1e-5 (1 + |x_i|) for a first derivative (error about 1e-10 for a
 * smooth function), coarser for nested ones */
static double eval(const IrExtern *e, uint32_t deriv, const double *x)
{
    if (deriv == 0) {
        if (e->data) {
            const InputFn *f = e->data;
            return input_eval(f->data, f->order, x[0]);
        }
        return call(e->fn, e->nargs, x);
    }
    int i = (int)(deriv & 15u) - 1, depth = 0;
    for (uint32_t d = deriv; d; d >>= 4)
        depth++;
    if (i < 0 || i >= e->nargs)
        return NAN;
    double h = (depth == 1 ? 1e-5 : depth == 2 ? 1e-4 : 1e-3) * (1 + fabs(x[i]));
    double y[MAX_ARGS];
    memcpy(y, x, (size_t)e->nargs * sizeof *y);
    y[i] = x[i] + h;
    double fp = eval(e, deriv >> 4, y);
    y[i] = x[i] - h;
    double fm = eval(e, deriv >> 4, y);
    return (fp - fm) / (2 * h);
}

double ir_extern_eval(const IrExtern *e, const double *x)
{
    return eval(e, e->deriv, x);
}

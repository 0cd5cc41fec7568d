/*
 * runtime/ir.h — the instruction set: the one contract between the
 * compiler (lang/) and the runtime.
 *
 * A program is a linear list of instructions over numbered registers, run
 * for a batch of B samples at once: every register holds B doubles, and
 * each instruction is one tight loop over the batch, so interpretation is
 * paid once per batch.  Inputs are the per-sample state (coordinates, then
 * velocities), the time and the shared parameters; results go to numbered
 * outputs.  The table below is the only place an opcode is defined: the
 * enum, the names, the printer and the verifier are generated from it.
 *
 * Operands: a is the destination register (or output), b and c source
 * registers, k an immediate (constant index, input index, exponent, size).
 * SOLVE takes lists of registers, stored in the program's aux array.
 */
#ifndef LAG_IR_H
#define LAG_IR_H

#include <stdint.h>
#include <stdio.h>

/* X(name, number of register sources, meaning) */
#define IR_OPS(X)                                                                  \
    X(CONST, 0, "r[a] := konst[k]")                                                \
    X(STATE, 0, "r[a] := state[k] (coordinate k, or velocity k - n)")              \
    X(PARAM, 0, "r[a] := param[k]")                                                \
    X(TIME, 0, "r[a] := t")                                                        \
    X(MOV, 1, "r[a] := r[b]")                                                      \
    X(ADD, 2, "r[a] := r[b] + r[c]")                                               \
    X(SUB, 2, "r[a] := r[b] - r[c]")                                               \
    X(MUL, 2, "r[a] := r[b] * r[c]")                                               \
    X(DIV, 2, "r[a] := r[b] / r[c]")                                               \
    X(NEG, 1, "r[a] := -r[b]")                                                     \
    X(SQR, 1, "r[a] := r[b] * r[b]")                                               \
    X(RECIP, 1, "r[a] := 1 / r[b]")                                                \
    X(POWI, 1, "r[a] := r[b] ^ k (k an integer)")                                  \
    X(POW, 2, "r[a] := r[b] ^ r[c]")                                               \
    X(SIN, 1, "r[a] := sin r[b]")                                                  \
    X(COS, 1, "r[a] := cos r[b]")                                                  \
    X(TAN, 1, "r[a] := tan r[b]")                                                  \
    X(ASIN, 1, "r[a] := asin r[b]")                                                \
    X(ACOS, 1, "r[a] := acos r[b]")                                                \
    X(ATAN, 1, "r[a] := atan r[b]")                                                \
    X(SINH, 1, "r[a] := sinh r[b]")                                                \
    X(COSH, 1, "r[a] := cosh r[b]")                                                \
    X(TANH, 1, "r[a] := tanh r[b]")                                                \
    X(EXP, 1, "r[a] := exp r[b]")                                                  \
    X(LOG, 1, "r[a] := log r[b]")                                                  \
    X(SQRT, 1, "r[a] := sqrt r[b]")                                                \
    X(ABS, 1, "r[a] := |r[b]|")                                                    \
    X(SIGN, 1, "r[a] := sign r[b]")                                                \
    X(ATAN2, 2, "r[a] := atan2(r[b], r[c])")                                       \
    X(MIN, 2, "r[a] := min(r[b], r[c])")                                           \
    X(MAX, 2, "r[a] := max(r[b], r[c])")                                           \
    X(SOLVE, 0, "r[aux[a+i]] := (M^-1 f)[i], M[i][j] = r[aux[b+i*k+j]], f[i] = r[aux[c+i]]") \
    X(CALL, 0, "r[a] := extern[k](r[aux[b]], ..., r[aux[b+c-1]])")                \
    X(VLOAD, 0, "r[a+i] := tensor[c][i], i < k (a bias vector)")                   \
    X(VONES, 0, "r[a+i] := 1, i < k")                                              \
    X(VMATVEC, 1, "r[a+i] := sum_j W[i][j] r[b+j], W = tensor[c] (rows x cols)")   \
    X(VMATTVEC, 1, "r[a+j] := sum_i W[i][j] r[b+i], W = tensor[c]")              \
    X(VADD, 2, "r[a+i] := r[b+i] + r[c+i], i < k")                                 \
    X(VMUL, 2, "r[a+i] := r[b+i] * r[c+i], i < k")                                 \
    X(VSCALE, 2, "r[a+i] := r[b] * r[c+i], i < k")                                 \
    X(VACT, 1, "r[a+i] := act_(c>>4)^(order c&15)(r[b+i]), i < k")                 \
    X(VSUM, 1, "r[a] := sum_i r[b+i], i < k, as 8 interleaved partial sums added pairwise") \
    X(OUT, 1, "out[a] := r[b]")

typedef enum IrOp {
#define IR_ENUM(name, nsrc, meaning) IR_##name,
    IR_OPS(IR_ENUM)
#undef IR_ENUM
    IR_NOPS
} IrOp;

typedef struct IrInstr {
    uint16_t op;
    int32_t a, b, c, k;
} IrInstr;

/* An extern C function a program calls (through libffi), or one of its
 * partial derivatives by central differences: deriv's 4-bit digits, lowest
 * first, are 1 + the argument differentiated (0: the value). */
typedef struct IrExtern {
    const char *name;
    void *fn;            /* double fn(double, ...) */
    int nargs;
    uint32_t deriv;
    const void *data;    /* an input's samples (runtime/input.h InputFn), evaluated instead of fn; or NULL */
} IrExtern;

/* A weight matrix or bias vector of a network (cols = 1 for a vector). */
typedef struct IrTensor {
    const char *name;
    int rows, cols;
    const double *data; /* row-major; owned by the caller */
    double *wt;         /* its transpose (cols x rows), the program's: see ir_tensor_refresh */
    float *f, *ft;      /* data and its transpose rounded to float32, when the program is single */
} IrTensor;

/* Activation functions of VACT (the order of SymAct in lang/sym.h). */
typedef enum IrAct { IR_ACT_SOFTPLUS, IR_ACT_TANH, IR_ACT_SIGMOID, IR_ACT_RELU2, IR_ACT_RELU } IrAct;
/* The k-th derivative of an activation at x, k <= 4 (NaN beyond): third
 * derivatives appear in accelerations, the fourth in training's reverse
 * sweep over them (runtime/adjoint.c). */
double ir_act_eval(IrAct act, int k, double x);

/* A program: code, constants and the names of its inputs and outputs. */
typedef struct IrProgram {
    const char *name;    /* e.g. "DoublePendulum.rhs" */
    IrInstr *code;
    int ncode;
    double *konst;       /* constants */
    int nkonst;
    int32_t *aux;        /* register lists (SOLVE and CALL operands) */
    int naux;
    IrExtern *externs;   /* functions CALL uses */
    int nexterns;
    IrTensor *tensors;   /* weights the vector instructions use */
    int ntensors;
    int nregs;           /* registers used (after reuse by liveness) */
    int nprologue;       /* the first nprologue instructions depend only on constants and
                          * parameters: a VM runs them once per parameter set */
    int nstate;          /* per-sample inputs: n coordinates then n velocities */
    int nparams;         /* shared inputs */
    int nout;            /* outputs */
    const char **state_names;
    const char **param_names;
    double *param_values; /* the parameters' defaults */
    const char **out_names;
    int uses_time;       /* whether TIME appears */
    int tape;            /* no register is written twice (lang/lower.h: lower_rhs_tape) */
    int single;          /* layer products (VMATVEC, VMATTVEC) in float32: ir_set_single */
    void *native;        /* compiled form (runtime/native.h), or NULL: the VM interprets */
    void *native_handle; /* its dlopen handle */
} IrProgram;

const char *ir_op_name(IrOp op);
int ir_op_sources(IrOp op);

/* Print in the stable text form `lag ir` shows (and golden tests read). */
void ir_print(FILE *out, const IrProgram *p);

/* Check the program's invariants: operands in range, every register
 * written before it is read, every output written once.  Returns 0, or -1
 * with a message in err. */
int ir_verify(const IrProgram *p, char *err, size_t errlen);

void ir_free(IrProgram *p); /* frees what ir_new allocated; ir_free(NULL) is a no-op */
IrProgram *ir_new(const char *name);
/* Append an instruction; returns its index. */
int ir_emit(IrProgram *p, IrOp op, int a, int b, int c, int k);
int ir_konst(IrProgram *p, double v); /* index of a constant (shared when equal) */
int ir_aux(IrProgram *p, const int *regs, int n); /* store a register list; its index */
int ir_extern(IrProgram *p, const char *name, void *fn, int nargs, uint32_t deriv, const void *data); /* slot */

int ir_tensor(IrProgram *p, const char *name, int rows, int cols, const double *data); /* slot */
/* Recompute the tensors' transposes (and float copies) after their data
 * changed (training). */
void ir_tensor_refresh(IrProgram *p);
/* Make p's layer products float32 (`precision single`): each operand and
 * weight rounded to float32, the terms multiplied and added in float32 in
 * the order of the double products, the result widened to double; every
 * other instruction stays double.  Keeps float copies of the tensors. */
void ir_set_single(IrProgram *p);
/* Only the float copies of the data (not the transposes): what training's
 * products read (runtime/vm.h: gemm), after each update. */
void ir_tensor_refresh_float(IrProgram *p);

/* The lengths of the register spans an instruction writes (a) and reads
 * (b, c): 1 for scalars, the vector length for vector instructions. */
void ir_spans(const IrProgram *p, const IrInstr *x, int *alen, int *blen, int *clen);

/* How many of the products from x on (at most max, all before end) the
 * runtime takes as one pass over their matrix (runtime/matvec.h):
 * consecutive, of x's kind, with x's matrix, and no output overlapping
 * any of their inputs; at least 1. */
int ir_product_group(const IrProgram *p, const IrInstr *x, const IrInstr *end, int max);

/* The largest dimension of p's tensors (*dim, at least 1) and the most
 * elements in one (*elems, at least 1): room for a layer's operands. */
void ir_tensor_extent(const IrProgram *p, size_t *dim, size_t *elems);

/* The value of an extern (or its difference quotient) at x: runtime/ffi.c. */
double ir_extern_eval(const IrExtern *e, const double *x);

#endif

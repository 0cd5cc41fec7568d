/*
 * runtime/ir.c — names, printer, verifier and builder of IR programs (see
 * ir.h); everything per opcode is generated from the IR_OPS table.
 */
#include "runtime/ir.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/act.h"
#include "runtime/mem.h"

static const struct {
    const char *name;
    int nsrc;
    const char *meaning;
} ops[IR_NOPS] = {
#define IR_ROW(name, nsrc, meaning) {#name, nsrc, meaning},
    IR_OPS(IR_ROW)
#undef IR_ROW
};

const char *ir_op_name(IrOp op)
{
    return op < IR_NOPS ? ops[op].name : "?";
}

int ir_op_sources(IrOp op)
{
    return op < IR_NOPS ? ops[op].nsrc : 0;
}

IrProgram *ir_new(const char *name)
{
    IrProgram *p = mem_xalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->name = name;
    return p;
}

void ir_free(IrProgram *p)
{
    if (!p)
        return;
    if (p->native_handle)
        dlclose(p->native_handle);
    mem_free(p->code);
    mem_free(p->konst);
    mem_free(p->aux);
    mem_free(p->externs);
    for (int k = 0; k < p->ntensors; k++) {
        mem_free(p->tensors[k].wt);
        mem_free(p->tensors[k].f);
        mem_free(p->tensors[k].ft);
    }
    mem_free(p->tensors);
    mem_free(p);
}

int ir_emit(IrProgram *p, IrOp op, int a, int b, int c, int k)
{
    if ((p->ncode & (p->ncode - 1)) == 0) { /* grow at powers of two */
        int cap = p->ncode ? 2 * p->ncode : 16;
        p->code = mem_xrealloc(p->code, (size_t)cap * sizeof *p->code);
    }
    p->code[p->ncode] = (IrInstr){(uint16_t)op, a, b, c, k};
    return p->ncode++;
}

int ir_konst(IrProgram *p, double v)
{
    for (int i = 0; i < p->nkonst; i++)
        if (memcmp(&p->konst[i], &v, sizeof v) == 0)
            return i;
    if ((p->nkonst & (p->nkonst - 1)) == 0) {
        int cap = p->nkonst ? 2 * p->nkonst : 16;
        p->konst = mem_xrealloc(p->konst, (size_t)cap * sizeof *p->konst);
    }
    p->konst[p->nkonst] = v;
    return p->nkonst++;
}

int ir_aux(IrProgram *p, const int *regs, int n)
{
    p->aux = mem_xrealloc(p->aux, (size_t)(p->naux + n) * sizeof *p->aux);
    for (int i = 0; i < n; i++)
        p->aux[p->naux + i] = regs[i];
    p->naux += n;
    return p->naux - n;
}

int ir_extern(IrProgram *p, const char *name, void *fn, int nargs, uint32_t deriv, const void *data)
{
    for (int i = 0; i < p->nexterns; i++)
        if (p->externs[i].fn == fn && p->externs[i].data == data && p->externs[i].deriv == deriv &&
            strcmp(p->externs[i].name, name) == 0)
            return i;
    p->externs = mem_xrealloc(p->externs, (size_t)(p->nexterns + 1) * sizeof *p->externs);
    p->externs[p->nexterns] = (IrExtern){name, fn, nargs, deriv, data};
    return p->nexterns++;
}

static void float_copies(IrTensor *w);

int ir_tensor(IrProgram *p, const char *name, int rows, int cols, const double *data)
{
    for (int i = 0; i < p->ntensors; i++)
        if (p->tensors[i].data == data && p->tensors[i].rows == rows && p->tensors[i].cols == cols)
            return i;
    p->tensors = mem_xrealloc(p->tensors, (size_t)(p->ntensors + 1) * sizeof *p->tensors);
    p->tensors[p->ntensors] = (IrTensor){name, rows, cols, data, NULL, NULL, NULL};
    if (rows > 1 && cols > 1 && data)
        p->tensors[p->ntensors].wt = mem_xalloc((size_t)rows * (size_t)cols * sizeof(double));
    p->ntensors++;
    if (p->single)
        float_copies(&p->tensors[p->ntensors - 1]);
    ir_tensor_refresh(p);
    return p->ntensors - 1;
}

void ir_tensor_refresh(IrProgram *p)
{
    for (int k = 0; k < p->ntensors; k++) {
        IrTensor *w = &p->tensors[k];
        const size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
        if (w->wt)
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    w->wt[j * rows + i] = w->data[i * cols + j];
        if (w->f)
            for (size_t i = 0; i < rows * cols; i++)
                w->f[i] = (float)w->data[i];
        if (w->ft)
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    w->ft[j * rows + i] = (float)w->data[i * cols + j];
    }
}

/* A tensor's float copies (the transpose where the double one has it). */
static void float_copies(IrTensor *w)
{
    const size_t n = (size_t)w->rows * (size_t)w->cols;
    if (!w->data || w->f)
        return;
    w->f = mem_xalloc(n * sizeof *w->f);
    if (w->wt)
        w->ft = mem_xalloc(n * sizeof *w->ft);
}

/* Whether [a, a + n) and [b, b + m) share a register. */
static int spans_meet(int a, int n, int b, int m)
{
    return a < b + m && b < a + n;
}

int ir_product_group(const IrProgram *p, const IrInstr *x, const IrInstr *end, int max)
{
    const IrTensor *w = &p->tensors[x->c];
    const int tr = x->op == IR_VMATTVEC, nout = tr ? w->cols : w->rows, nin = tr ? w->rows : w->cols;
    int g = 0;
    for (const IrInstr *z = x; z < end && z->op == x->op && z->c == x->c && g < max; z++, g++) {
        int meet = spans_meet(z->a, nout, z->b, nin);
        for (int h = 0; h < g && !meet; h++)
            meet = spans_meet(z->a, nout, x[h].b, nin) || spans_meet(x[h].a, nout, z->b, nin);
        if (meet)
            break;
    }
    return g > 0 ? g : 1; /* (lowering never writes a product over its operand) */
}

void ir_tensor_extent(const IrProgram *p, size_t *dim, size_t *elems)
{
    *dim = *elems = 1;
    for (int t = 0; t < p->ntensors; t++) {
        const size_t r = (size_t)p->tensors[t].rows, c = (size_t)p->tensors[t].cols;
        *dim = r > *dim ? r : *dim;
        *dim = c > *dim ? c : *dim;
        *elems = r * c > *elems ? r * c : *elems;
    }
}

void ir_tensor_refresh_float(IrProgram *p)
{
    for (int k = 0; k < p->ntensors; k++) {
        IrTensor *w = &p->tensors[k];
        for (size_t i = 0; w->f && i < (size_t)w->rows * (size_t)w->cols; i++)
            w->f[i] = (float)w->data[i];
    }
}

void ir_set_single(IrProgram *p)
{
    p->single = 1;
    for (int k = 0; k < p->ntensors; k++)
        float_copies(&p->tensors[k]);
    ir_tensor_refresh(p);
}

void ir_spans(const IrProgram *p, const IrInstr *x, int *alen, int *blen, int *clen)
{
    *alen = *blen = *clen = 1;
    switch ((IrOp)x->op) {
    case IR_VLOAD:
    case IR_VONES:
        *alen = x->k;
        break;
    case IR_VMATVEC:
        *alen = p->tensors[x->c].rows;
        *blen = p->tensors[x->c].cols;
        break;
    case IR_VMATTVEC:
        *alen = p->tensors[x->c].cols;
        *blen = p->tensors[x->c].rows;
        break;
    case IR_VADD:
    case IR_VMUL:
        *alen = *blen = *clen = x->k;
        break;
    case IR_VSCALE:
        *alen = *clen = x->k;
        break;
    case IR_VACT:
        *alen = *blen = x->k;
        break;
    case IR_VSUM:
        *blen = x->k;
        break;
    default:
        break;
    }
}

/* The activations and their derivatives (runtime side of lang/sym.c's):
 * the formulas of runtime/act.h, as the VM's batch loops use them. */
double ir_act_eval(IrAct act, int k, double x)
{
    return act_value((int)act, k, x);
}

static void print_list(FILE *out, const IrProgram *p, int at, int n)
{
    fputc('[', out);
    for (int i = 0; i < n; i++)
        fprintf(out, "%sr%d", i ? " " : "", p->aux[at + i]);
    fputc(']', out);
}

void ir_print(FILE *out, const IrProgram *p)
{
    fprintf(out, "program %s: %d instructions (%d in the prologue), %d registers, %d constants\n",
            p->name, p->ncode, p->nprologue, p->nregs, p->nkonst);
    fputs("  state:", out);
    for (int i = 0; i < p->nstate; i++)
        fprintf(out, " %d=%s", i, p->state_names ? p->state_names[i] : "?");
    fputs("\n  params:", out);
    for (int i = 0; i < p->nparams; i++)
        fprintf(out, " %d=%s", i, p->param_names ? p->param_names[i] : "?");
    fputs("\n  outputs:", out);
    for (int i = 0; i < p->nout; i++)
        fprintf(out, " %d=%s", i, p->out_names ? p->out_names[i] : "?");
    fputc('\n', out);
    for (int i = 0; i < p->ncode; i++) {
        const IrInstr *x = &p->code[i];
        if (i == p->nprologue && i > 0)
            fputs("  -- per sample:\n", out);
        fprintf(out, "%5d  %-6s%s", i, ir_op_name((IrOp)x->op), strlen(ir_op_name((IrOp)x->op)) >= 6 ? " " : "");
        switch ((IrOp)x->op) {
        case IR_CONST: fprintf(out, "r%d, %.17g\n", x->a, p->konst[x->k]); break;
        case IR_STATE:
            fprintf(out, "r%d, %s\n", x->a, p->state_names ? p->state_names[x->k] : "?");
            break;
        case IR_PARAM:
            fprintf(out, "r%d, %s\n", x->a, p->param_names ? p->param_names[x->k] : "?");
            break;
        case IR_TIME: fprintf(out, "r%d\n", x->a); break;
        case IR_POWI: fprintf(out, "r%d, r%d, %d\n", x->a, x->b, x->k); break;
        case IR_SOLVE:
            print_list(out, p, x->a, x->k);
            fputs(", ", out);
            print_list(out, p, x->b, x->k * x->k);
            fputs(", ", out);
            print_list(out, p, x->c, x->k);
            fputc('\n', out);
            break;
        case IR_OUT:
            fprintf(out, "%s, r%d\n", p->out_names ? p->out_names[x->a] : "?", x->b);
            break;
        case IR_VLOAD:
            fprintf(out, "r%d..r%d, %s\n", x->a, x->a + x->k - 1, p->tensors[x->c].name);
            break;
        case IR_VONES:
            fprintf(out, "r%d..r%d\n", x->a, x->a + x->k - 1);
            break;
        case IR_VMATVEC:
        case IR_VMATTVEC: {
            int al, bl, cl;
            ir_spans(p, x, &al, &bl, &cl);
            fprintf(out, "r%d..r%d, %s, r%d..r%d\n", x->a, x->a + al - 1, p->tensors[x->c].name,
                    x->b, x->b + bl - 1);
            break;
        }
        case IR_VADD:
        case IR_VMUL:
        case IR_VSCALE:
            fprintf(out, "r%d..r%d, r%d%s, r%d..r%d\n", x->a, x->a + x->k - 1, x->b,
                    x->op == IR_VSCALE ? "" : "..", x->c, x->c + x->k - 1);
            break;
        case IR_VACT:
            fprintf(out, "r%d..r%d, act%d'%d, r%d..\n", x->a, x->a + x->k - 1, x->c >> 4, x->c & 15,
                    x->b);
            break;
        case IR_VSUM:
            fprintf(out, "r%d, r%d..r%d\n", x->a, x->b, x->b + x->k - 1);
            break;
        case IR_CALL:
            fprintf(out, "r%d, %s", x->a, p->externs[x->k].name);
            if (p->externs[x->k].deriv)
                fprintf(out, "_d%x", p->externs[x->k].deriv);
            fputs(", ", out);
            print_list(out, p, x->b, x->c);
            fputc('\n', out);
            break;
        default:
            if (ir_op_sources((IrOp)x->op) == 2)
                fprintf(out, "r%d, r%d, r%d\n", x->a, x->b, x->c);
            else
                fprintf(out, "r%d, r%d\n", x->a, x->b);
            break;
        }
    }
}

int ir_verify(const IrProgram *p, char *err, size_t errlen)
{
    char *written = mem_xalloc((size_t)p->nregs + 1);
    char *outs = mem_xalloc((size_t)p->nout + 1);
    memset(written, 0, (size_t)p->nregs + 1);
    memset(outs, 0, (size_t)p->nout + 1);
    int rc = 0;
#define FAIL(...)                                                                  \
    do {                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                        \
        rc = -1;                                                                   \
        goto done;                                                                 \
    } while (0)
#define REG_OK(r) ((r) >= 0 && (r) < p->nregs)
    for (int i = 0; i < p->ncode; i++) {
        const IrInstr *x = &p->code[i];
        if (x->op >= IR_NOPS)
            FAIL("instruction %d: unknown opcode %d", i, x->op);
        IrOp op = (IrOp)x->op;
        int nsrc = ir_op_sources(op);
        if (op == IR_SOLVE) {
            int k = x->k;
            if (k < 1 || x->a < 0 || x->b < 0 || x->c < 0 || x->a + k > p->naux ||
                x->b + k * k > p->naux || x->c + k > p->naux)
                FAIL("instruction %d: SOLVE operand lists out of range", i);
            for (int j = 0; j < k * k + k; j++) {
                int r = j < k * k ? p->aux[x->b + j] : p->aux[x->c + j - k * k];
                if (!REG_OK(r) || !written[r])
                    FAIL("instruction %d: SOLVE reads r%d before it is written", i, r);
            }
            for (int j = 0; j < k; j++) {
                if (!REG_OK(p->aux[x->a + j]))
                    FAIL("instruction %d: SOLVE writes r%d, out of range", i, p->aux[x->a + j]);
                written[p->aux[x->a + j]] = 1;
            }
            continue;
        }
        if (op == IR_CALL) {
            if (x->k < 0 || x->k >= p->nexterns || x->b < 0 || x->c < 0 || x->b + x->c > p->naux ||
                x->c != p->externs[x->k].nargs || !REG_OK(x->a))
                FAIL("instruction %d: CALL operands out of range", i);
            for (int j = 0; j < x->c; j++)
                if (!REG_OK(p->aux[x->b + j]) || !written[p->aux[x->b + j]])
                    FAIL("instruction %d: CALL reads r%d before it is written", i, p->aux[x->b + j]);
            written[x->a] = 1;
            continue;
        }
        if (op == IR_OUT) {
            if (x->a < 0 || x->a >= p->nout || !REG_OK(x->b))
                FAIL("instruction %d: OUT operands out of range", i);
            if (!written[x->b])
                FAIL("instruction %d: OUT reads r%d before it is written", i, x->b);
            if (outs[x->a]++)
                FAIL("instruction %d: output %d written twice", i, x->a);
            continue;
        }
        if (op >= IR_VLOAD && op <= IR_VSUM) {
            if ((op == IR_VLOAD || op == IR_VMATVEC || op == IR_VMATTVEC) &&
                (x->c < 0 || x->c >= p->ntensors))
                FAIL("instruction %d: tensor %d out of range", i, x->c);
            int al, bl, cl;
            ir_spans(p, x, &al, &bl, &cl);
            for (int j = 0; j < bl && nsrc >= 1; j++)
                if (!REG_OK(x->b + j) || !written[x->b + j])
                    FAIL("instruction %d (%s): r%d is out of range or unwritten", i, ir_op_name(op), x->b + j);
            for (int j = 0; j < cl && nsrc >= 2; j++)
                if (!REG_OK(x->c + j) || !written[x->c + j])
                    FAIL("instruction %d (%s): r%d is out of range or unwritten", i, ir_op_name(op), x->c + j);
            if ((op == IR_VMATVEC || op == IR_VMATTVEC) && x->a < x->b + bl && x->b < x->a + al)
                FAIL("instruction %d (%s): r%d..r%d overlaps its operand", i, ir_op_name(op), x->a,
                     x->a + al - 1);
            if (op == IR_VLOAD && (x->k < 1 || x->k > p->tensors[x->c].rows * p->tensors[x->c].cols))
                FAIL("instruction %d: VLOAD of %d values from a tensor of %d", i, x->k,
                     p->tensors[x->c].rows * p->tensors[x->c].cols);
            if (op == IR_VACT && (x->c >> 4) > IR_ACT_RELU)
                FAIL("instruction %d: bad activation code %d", i, x->c);
            for (int j = 0; j < al; j++) {
                if (!REG_OK(x->a + j))
                    FAIL("instruction %d (%s): r%d out of range", i, ir_op_name(op), x->a + j);
                written[x->a + j] = 1;
            }
            continue;
        }
        if ((nsrc >= 1 && (!REG_OK(x->b) || !written[x->b])) ||
            (nsrc >= 2 && (!REG_OK(x->c) || !written[x->c])))
            FAIL("instruction %d (%s): a source register is out of range or unwritten", i,
                 ir_op_name(op));
        if (op == IR_CONST && (x->k < 0 || x->k >= p->nkonst))
            FAIL("instruction %d: constant %d out of range", i, x->k);
        if (op == IR_STATE && (x->k < 0 || x->k >= p->nstate))
            FAIL("instruction %d: state %d out of range", i, x->k);
        if (op == IR_PARAM && (x->k < 0 || x->k >= p->nparams))
            FAIL("instruction %d: parameter %d out of range", i, x->k);
        if (!REG_OK(x->a))
            FAIL("instruction %d: destination r%d out of range", i, x->a);
        written[x->a] = 1;
    }
    for (int o = 0; o < p->nout; o++)
        if (!outs[o])
            FAIL("output %d is never written", o);
done:
#undef FAIL
#undef REG_OK
    mem_free(written);
    mem_free(outs);
    return rc;
}

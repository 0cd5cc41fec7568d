/*
 * runtime/native.c — IR to C to machine code (see native.h).
 *
 * The emitted C is straight-line code over local doubles, one statement
 * per instruction, with the VM's own formulas for POWI and SOLVE, compiled
 * with -ffp-contract=off so no multiply-add is fused: results are the
 * VM's, bit for bit.  A network's program keeps its registers in one
 * array, writes its elementwise instructions as loops of their lengths
 * and calls the VM's own products, activations and sums (emit_vector).
 * Compiled objects are cached by the hash of their source, so a model is
 * compiled once per machine.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/native.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/io.h"
#include "runtime/matvec.h"
#include "runtime/mem.h"
#include "runtime/vm.h"
#include "runtime/vmath.h"

extern char **environ;

/* The VM's helpers, as C text (the same algorithms as runtime/vm.c). */
static const char prelude[] =
    "#include <math.h>\n"
    /* sin, cos, exp, log and pow are the VM's (runtime/vmath.h), set after loading */
    "static double (*mf_[5])(double, double);\n"
    "static void (*mg_)(int, const double *, double *, int);\n"
    "void lag_set_math(int i, void *fn) { if (i < 5) mf_[i] = (double (*)(double, double))fn;"
    " else mg_ = (void (*)(int, const double *, double *, int))fn; }\n"
    "static double sin_(double x) { return mf_[0](x, 0); }\n"
    "static double cos_(double x) { return mf_[1](x, 0); }\n"
    "static double exp_(double x) { return mf_[2](x, 0); }\n"
    "static double log_(double x) { return mf_[3](x, 0); }\n"
    "static double powi_(double b, int n)\n"
    "{\n"
    "    double base = n < 0 ? 1 / b : b, v = 1;\n"
    "    for (unsigned e = (unsigned)(n < 0 ? -n : n); e; e >>= 1, base *= base)\n"
    "        if (e & 1)\n"
    "            v *= base;\n"
    "    return v;\n"
    "}\n"
    "static int solve_(int k, double *A, double *f)\n"
    "{\n"
    "    if (k <= 2) {\n"
    "        double det = k == 1 ? A[0] : A[0] * A[3] - A[1] * A[2];\n"
    "        double scale = k == 1 ? fabs(A[0]) : fmax(fmax(fabs(A[0]), fabs(A[1])), fmax(fabs(A[2]), fabs(A[3])));\n"
    "        if (!isfinite(det) || !(fabs(det) > 1e-13 * scale * (k == 1 ? 1 : scale)))\n"
    "            return -1;\n"
    "        if (k == 1) {\n"
    "            f[0] = f[0] / det;\n"
    "        } else {\n"
    "            double x0 = (A[3] * f[0] - A[1] * f[1]) / det, x1 = (A[0] * f[1] - A[2] * f[0]) / det;\n"
    "            f[0] = x0;\n"
    "            f[1] = x1;\n"
    "        }\n"
    "        return 0;\n"
    "    }\n"
    "    double scale = 0;\n"
    "    for (int i = 0; i < k * k; i++) {\n"
    "        if (!isfinite(A[i]))\n"
    "            return -1;\n"
    "        if (fabs(A[i]) > scale)\n"
    "            scale = fabs(A[i]);\n"
    "    }\n"
    "    for (int c = 0; c < k; c++) {\n"
    "        int piv = c;\n"
    "        for (int r = c + 1; r < k; r++)\n"
    "            if (fabs(A[r * k + c]) > fabs(A[piv * k + c]))\n"
    "                piv = r;\n"
    "        if (!(fabs(A[piv * k + c]) > 1e-13 * scale))\n"
    "            return -1;\n"
    "        if (piv != c) {\n"
    "            for (int j = 0; j < k; j++) {\n"
    "                double t = A[c * k + j];\n"
    "                A[c * k + j] = A[piv * k + j];\n"
    "                A[piv * k + j] = t;\n"
    "            }\n"
    "            double t = f[c];\n"
    "            f[c] = f[piv];\n"
    "            f[piv] = t;\n"
    "        }\n"
    "        for (int r = c + 1; r < k; r++) {\n"
    "            double m = A[r * k + c] / A[c * k + c];\n"
    "            if (m == 0)\n"
    "                continue;\n"
    "            for (int j = c; j < k; j++)\n"
    "                A[r * k + j] -= m * A[c * k + j];\n"
    "            f[r] -= m * f[c];\n"
    "        }\n"
    "    }\n"
    "    for (int i = k - 1; i >= 0; i--) {\n"
    "        double v = f[i];\n"
    "        for (int j = i + 1; j < k; j++)\n"
    "            v -= A[i * k + j] * f[j];\n"
    "        f[i] = v / A[i * k + i];\n"
    "    }\n"
    "    return 0;\n"
    "}\n";

static const char *unary_fn(IrOp op)
{
    switch (op) {
    case IR_SIN: return "sin_";
    case IR_COS: return "cos_";
    case IR_TAN: return "tan";
    case IR_ASIN: return "asin";
    case IR_ACOS: return "acos";
    case IR_ATAN: return "atan";
    case IR_SINH: return "sinh";
    case IR_COSH: return "cosh";
    case IR_TANH: return "tanh";
    case IR_EXP: return "exp_";
    case IR_LOG: return "log_";
    case IR_SQRT: return "sqrt";
    case IR_ABS: return "fabs";
    default: return NULL;
    }
}

/* One instruction as a C statement. */
static void emit_instr(FILE *f, const IrProgram *p, const IrInstr *x)
{
    IrOp op = (IrOp)x->op;
    const char *fn = unary_fn(op);
    fputs("        ", f);
    if (fn) {
        fprintf(f, "r%d = %s(r%d);\n", x->a, fn, x->b);
        return;
    }
    switch (op) {
    case IR_CONST: fprintf(f, "r%d = %a;\n", x->a, p->konst[x->k]); break;
    case IR_STATE: fprintf(f, "r%d = st[%d];\n", x->a, x->k); break;
    case IR_PARAM: fprintf(f, "r%d = params[%d];\n", x->a, x->k); break;
    case IR_TIME: fprintf(f, "r%d = t;\n", x->a); break;
    case IR_MOV: fprintf(f, "r%d = r%d;\n", x->a, x->b); break;
    case IR_ADD: fprintf(f, "r%d = r%d + r%d;\n", x->a, x->b, x->c); break;
    case IR_SUB: fprintf(f, "r%d = r%d - r%d;\n", x->a, x->b, x->c); break;
    case IR_MUL: fprintf(f, "r%d = r%d * r%d;\n", x->a, x->b, x->c); break;
    case IR_DIV: fprintf(f, "r%d = r%d / r%d;\n", x->a, x->b, x->c); break;
    case IR_NEG: fprintf(f, "r%d = -r%d;\n", x->a, x->b); break;
    case IR_SQR: fprintf(f, "r%d = r%d * r%d;\n", x->a, x->b, x->b); break;
    case IR_RECIP: fprintf(f, "r%d = 1 / r%d;\n", x->a, x->b); break;
    case IR_POWI: fprintf(f, "r%d = powi_(r%d, %d);\n", x->a, x->b, x->k); break;
    case IR_POW: fprintf(f, "r%d = mf_[4](r%d, r%d);\n", x->a, x->b, x->c); break;
    case IR_SIGN: fprintf(f, "r%d = (double)((r%d > 0) - (r%d < 0));\n", x->a, x->b, x->b); break;
    case IR_ATAN2: fprintf(f, "r%d = atan2(r%d, r%d);\n", x->a, x->b, x->c); break;
    case IR_MIN: fprintf(f, "r%d = fmin(r%d, r%d);\n", x->a, x->b, x->c); break;
    case IR_MAX: fprintf(f, "r%d = fmax(r%d, r%d);\n", x->a, x->b, x->c); break;
    case IR_SOLVE: {
        int k = x->k;
        fprintf(f, "{\n            double A[%d] = {", k * k);
        for (int j = 0; j < k * k; j++)
            fprintf(f, "%sr%d", j ? ", " : "", p->aux[x->b + j]);
        fprintf(f, "}, f[%d] = {", k);
        for (int j = 0; j < k; j++)
            fprintf(f, "%sr%d", j ? ", " : "", p->aux[x->c + j]);
        fprintf(f, "};\n            if (solve_(%d, A, f) != 0)\n                return 1 + s;\n", k);
        for (int j = 0; j < k; j++)
            fprintf(f, "            r%d = f[%d];\n", p->aux[x->a + j], j);
        fputs("        }\n", f);
        break;
    }
    case IR_OUT: fprintf(f, "o[%d] = r%d;\n", x->a, x->b); break;
    case IR_CALL:
        fprintf(f, "r%d = ((double (*)(", x->a);
        for (int j = 0; j < x->c; j++)
            fprintf(f, "%sdouble", j ? ", " : "");
        fprintf(f, "%s))ext_[%d])(", x->c ? "" : "void", x->k);
        for (int j = 0; j < x->c; j++)
            fprintf(f, "%sr%d", j ? ", " : "", p->aux[x->b + j]);
        fputs(");\n", f);
        break;
    default: fprintf(f, "/* ? */\n"); break;
    }
}

static int has_vector(const IrProgram *p)
{
    for (int i = 0; i < p->ncode; i++)
        if (p->code[i].op >= IR_VLOAD && p->code[i].op <= IR_VSUM)
            return 1;
    return 0;
}

/* What a network's program calls back: the VM's products, activations
 * and sums (runtime/matvec.h, runtime/vm.h), so that a compiled program's
 * values are the VM's, bit for bit. */
static const char vector_prelude[] =
    "static void (*mv_)(int, double *const *, const double *, unsigned long, const double *const *,"
    " unsigned long);\n"
    "static void (*va_)(int, int, const double *, double *, unsigned long);\n"
    "static double (*vs_)(const double *, unsigned long);\n"
    "static void (*vd_)(int, const double *, double *, unsigned long);\n"
    "static void (*mvf_)(int, double *const *, const float *, unsigned long, const double *const *,"
    " unsigned long);\n"
    "void lag_set_vector(int i, void *fn)\n"
    "{\n"
    "    if (i == 0) mv_ = (void (*)(int, double *const *, const double *, unsigned long,"
    " const double *const *, unsigned long))fn;\n"
    "    else if (i == 1) va_ = (void (*)(int, int, const double *, double *, unsigned long))fn;\n"
    "    else if (i == 2) vs_ = (double (*)(const double *, unsigned long))fn;\n"
    "    else if (i == 3) vd_ = (void (*)(int, const double *, double *, unsigned long))fn;\n"
    "    else mvf_ = (void (*)(int, double *const *, const float *, unsigned long, const double *const *,"
    " unsigned long))fn;\n"
    "}\n";

/* A tape's sigmoid rows (see IR_VACT below): input span, length, offset in S_. */
typedef struct Sigmoids {
    int *reg, *len, *off, n, total;
} Sigmoids;

/* Vector instruction i (and, for a product, the products with its matrix
 * that follow it, as the VM takes them: runtime/vm.c) as C over R_, the
 * lengths written out.  Returns the number of instructions done. */
static int emit_vector(FILE *f, const IrProgram *p, int i, Sigmoids *sig)
{
    const IrInstr *x = &p->code[i];
    const int n = x->k;
    switch ((IrOp)x->op) {
    case IR_VLOAD:
        fprintf(f, "        for (int i_ = 0; i_ < %d; i_++) R_[%d + i_] = T_[%d][i_];\n", n, x->a, x->c);
        return 1;
    case IR_VONES:
        fprintf(f, "        for (int i_ = 0; i_ < %d; i_++) R_[%d + i_] = 1;\n", n, x->a);
        return 1;
    case IR_VADD:
    case IR_VMUL:
        fprintf(f, "        for (int i_ = 0; i_ < %d; i_++) R_[%d + i_] = R_[%d + i_] %c R_[%d + i_];\n", n, x->a,
                x->b, x->op == IR_VADD ? '+' : '*', x->c);
        return 1;
    case IR_VSCALE:
        fprintf(f, "        { const double s_ = R_[%d]; for (int i_ = 0; i_ < %d; i_++) R_[%d + i_] = s_ * R_[%d + i_]; }\n",
                x->b, n, x->a, x->c);
        return 1;
    case IR_VACT: {
        const int act = x->c >> 4, k = x->c & 15;
        if (!(p->tape && ((act == IR_ACT_SOFTPLUS && k >= 1) || act == IR_ACT_SIGMOID))) {
            fprintf(f, "        va_(%d, %d, R_ + %d, R_ + %d, %d);\n", act, k, x->b, x->a, n);
            return 1;
        }
        /* a tape's input sigmoid, once per sample for all orders (as the
         * VM's vm_sigmoid_rows): where the first reader of the span is */
        int at = -1;
        for (int j = 0; j < sig->n && at < 0; j++)
            if (sig->reg[j] == x->b && sig->len[j] == n)
                at = sig->off[j];
        if (at < 0) {
            sig->reg = mem_xrealloc(sig->reg, (size_t)(sig->n + 1) * sizeof *sig->reg);
            sig->len = mem_xrealloc(sig->len, (size_t)(sig->n + 1) * sizeof *sig->len);
            sig->off = mem_xrealloc(sig->off, (size_t)(sig->n + 1) * sizeof *sig->off);
            sig->reg[sig->n] = x->b;
            sig->len[sig->n] = n;
            sig->off[sig->n++] = at = sig->total;
            sig->total += n;
            fprintf(f, "        va_(%d, 0, R_ + %d, S_ + %d, %d);\n", IR_ACT_SIGMOID, x->b, at, n);
        }
        fprintf(f, "        vd_(%d, S_ + %d, R_ + %d, %d);\n", act == IR_ACT_SOFTPLUS ? k - 1 : k, at, x->a, n);
        return 1;
    }
    case IR_VSUM:
        fprintf(f, "        R_[%d] = vs_(R_ + %d, %d);\n", x->a, x->b, n);
        return 1;
    case IR_VMATVEC:
    case IR_VMATTVEC: {
        const IrTensor *w = &p->tensors[x->c];
        const int tr = x->op == IR_VMATTVEC, nout = tr ? w->cols : w->rows, nin = tr ? w->rows : w->cols;
        const int g = ir_product_group(p, x, p->code + p->ncode, MATVEC_MAXCOLS);
        fputs("        {\n            double *y_[4] = {", f);
        for (int j = 0; j < g; j++)
            fprintf(f, "%sR_ + %d", j ? ", " : "", x[j].a);
        fputs("};\n            const double *x_[4] = {", f);
        for (int j = 0; j < g; j++)
            fprintf(f, "%sR_ + %d", j ? ", " : "", x[j].b);
        if (p->single) /* float32 products: the tensors' float copies */
            fprintf(f, "};\n            mvf_(%d, y_, %s[%d], %d, x_, %d);\n        }\n", g,
                    tr || !w->ft ? "TF_" : "TFT_", x->c, nout, nin);
        else
            fprintf(f, "};\n            mv_(%d, y_, %s[%d], %d, x_, %d);\n        }\n", g, tr || !w->wt ? "T_" : "TT_",
                    x->c, nout, nin);
        return g;
    }
    default:
        fputs("        /* ? */\n", f);
        return 1;
    }
}

int native_source(const IrProgram *p, char **text, size_t *len)
{
    FILE *f = open_memstream(text, len);
    if (!f)
        return -1;
    fprintf(f, "/* %s, compiled by lag from its IR */\n%s", p->name, prelude);
    /* registers are static: the prologue (what depends only on constants
     * and parameters) runs when the parameter array changes and its values
     * stay, as the VM keeps them in its registers.  A network's program
     * reads and writes spans of them: one array then, rN its Nth element. */
    const int vector = has_vector(p);
    if (vector) {
        fprintf(f, "%s", vector_prelude);
        fprintf(f, "static double R_[%d] __attribute__((aligned(64)));\n", p->nregs > 0 ? p->nregs : 1);
        for (int r = 0; r < p->nregs; r++)
            fprintf(f, "#define r%d R_[%d]\n", r, r);
        const int nt = p->ntensors ? p->ntensors : 1;
        fprintf(f, "static const double *T_[%d], *TT_[%d];\n"
                "void lag_set_tensor(int i, const double *w, const double *wt) { T_[i] = w; TT_[i] = wt; }\n"
                "static const float *TF_[%d], *TFT_[%d];\n"
                "void lag_set_tensor_f(int i, const float *w, const float *wt) { TF_[i] = w; TFT_[i] = wt; }\n",
                nt, nt, nt, nt);
    } else
        for (int r = 0; r < p->nregs; r++)
            fprintf(f, "static double r%d;\n", r);
    fputs("static const double *prepared;\n", f);
    /* extern functions: their addresses are given after loading */
    fprintf(f, "static void *ext_[%d];\nvoid lag_set_ext(int i, void *fn) { ext_[i] = fn; }\n",
            p->nexterns ? p->nexterns : 1);
    /* the function into its own text first: the sigmoid rows it needs are
     * known at its end and declared before it */
    char *btext = NULL;
    size_t blen = 0;
    FILE *bf = open_memstream(&btext, &blen);
    if (!bf) {
        fclose(f);
        free(*text);
        return -1;
    }
    Sigmoids sig = {NULL, NULL, NULL, 0, 0};
    fputs("int lag_fn(int B, const double *state, int ss, double t, const double *params,\n"
          "           double *out, int os)\n{\n    (void)t;\n", bf);
    fputs("    if (params != prepared || !params) {\n", bf);
    for (int i = 0; i < p->nprologue; i++) {
        if (p->code[i].op >= IR_VLOAD && p->code[i].op <= IR_VSUM)
            i += emit_vector(bf, p, i, &sig) - 1;
        else
            emit_instr(bf, p, &p->code[i]);
    }
    fputs("        prepared = params;\n    }\n"
          "    for (int s = 0; s < B; s++) {\n"
          "        const double *st = state + (long)s * ss;\n"
          "        double *o = out + (long)s * os;\n"
          "        (void)st;\n        (void)o;\n", bf);
    for (int i = p->nprologue; i < p->ncode; i++) {
        /* consecutive independent sines (or cosines) as one vector, as
         * the VM does for one sample (runtime/vm.c, trig_group) */
        const IrInstr *x = &p->code[i];
        int g = 0;
        if (x->op == IR_SIN || x->op == IR_COS)
            for (g = 1; g < 4 && i + g < p->ncode && p->code[i + g].op == x->op; g++) {
                int dep = 0;
                for (int j = 0; j < g; j++)
                    dep |= p->code[i + g].b == p->code[i + j].a;
                if (dep)
                    break;
            }
        if (x->op >= IR_VLOAD && x->op <= IR_VSUM) {
            i += emit_vector(bf, p, i, &sig) - 1;
            continue;
        }
        if (g < 2) {
            emit_instr(bf, p, x);
            continue;
        }
        fprintf(bf, "        {\n            double gi_[4] = {");
        for (int j = 0; j < g; j++)
            fprintf(bf, "%sr%d", j ? ", " : "", p->code[i + j].b);
        fprintf(bf, "}, go_[4];\n            mg_(%d, gi_, go_, %d);\n", x->op == IR_SIN ? 0 : 1, g);
        for (int j = 0; j < g; j++)
            fprintf(bf, "            r%d = go_[%d];\n", p->code[i + j].a, j);
        fputs("        }\n", bf);
        i += g - 1;
    }
    fputs("    }\n    return 0;\n}\n", bf);
    int bad = fclose(bf) != 0;
    if (vector)
        fprintf(f, "static double S_[%d];\n", sig.total > 0 ? sig.total : 1);
    if (!bad)
        fwrite(btext, 1, blen, f);
    free(btext);
    mem_free(sig.reg);
    mem_free(sig.len);
    mem_free(sig.off);
    if (fclose(f) != 0 || bad) {
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

/* The cache directory: $LAG_CACHE, $XDG_CACHE_HOME/lag, ~/.cache/lag, or
 * a directory of this user's in $TMPDIR (default /tmp), which others can
 * create first: *shared says so. */
static void cache_dir(char *buf, size_t n, int *shared)
{
    const char *env = getenv("LAG_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    const char *tmpdir = getenv("TMPDIR");
    *shared = 0;
    if (env && *env)
        snprintf(buf, n, "%s", env);
    else if (xdg && *xdg)
        snprintf(buf, n, "%s/lag", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.cache/lag", home);
    else {
        snprintf(buf, n, "%s/lag-cache-%ld", tmpdir && tmpdir[0] == '/' ? tmpdir : "/tmp", (long)getuid());
        *shared = 1;
    }
}

/* Create the cache directory (mode 0700) or accept the one there only
 * when it is a directory of this user's that nobody else can write:
 * libraries in it are loaded into this process.  In a shared place
 * (/tmp) a symbolic link is refused too (lstat).  0, or -1 with a reason. */
static int cache_safe(const char *dir, int shared, char *err, size_t errlen)
{
    int made = shared ? mkdir(dir, 0700) : io_make_dirs(dir, 0700);
    if (made != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the cache directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if ((shared ? lstat(dir, &st) : stat(dir, &st)) != 0) {
        snprintf(err, errlen, "cannot use the cache directory %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *why = NULL;
    char buf[64];
    if (S_ISLNK(st.st_mode))
        why = "it is a symbolic link";
    else if (!S_ISDIR(st.st_mode))
        why = "it is not a directory";
    else if (st.st_uid != getuid()) {
        snprintf(buf, sizeof buf, "it is owned by user %ld, not by you", (long)st.st_uid);
        why = buf;
    } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(buf, sizeof buf, "others can write to it (mode %03o)", (unsigned)(st.st_mode & 0777));
        why = buf;
    }
    if (why) {
        snprintf(err, errlen, "refusing the cache directory %s: %s (a library placed there would be "
                 "loaded; set LAG_CACHE to a directory of your own)", dir, why);
        return -1;
    }
    return 0;
}

/* Words of s split at blanks into argv from *argc (at most max). */
static void split_words(char *s, char **argv, int *argc, int max)
{
    for (char *p = s; *p && *argc < max;) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (!*p)
            break;
        argv[(*argc)++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
}

/* Run the compiler: no shell, the paths as arguments (any byte in them is
 * fine), its output into log.  The exit status (as waitpid), or -1 with
 * errno when it cannot be started. */
static int run_compiler(const char *cc, const char *flags, const char *out, const char *src,
                        const char *log)
{
    char *ccw = mem_xalloc(strlen(cc) + 1), *fw = mem_xalloc(strlen(flags) + 1);
    strcpy(ccw, cc);
    strcpy(fw, flags);
    char *argv[72];
    int argc = 0;
    split_words(ccw, argv, &argc, 32); /* $CC may be "ccache gcc" or "gcc -m64" */
    split_words(fw, argv, &argc, 64);
    argv[argc++] = "-o";
    argv[argc++] = (char *)out;
    argv[argc++] = (char *)src;
    argv[argc++] = "-lm";
    argv[argc] = NULL;
    int rc = -1;
    posix_spawn_file_actions_t fa;
    if (argc > 4 && posix_spawn_file_actions_init(&fa) == 0) {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        pid_t pid;
        int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (e != 0)
            errno = e;
        else {
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            rc = st;
        }
    } else if (argc <= 4)
        errno = EINVAL;
    mem_free(ccw);
    mem_free(fw);
    return rc;
}

int native_attach(IrProgram *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->nexterns; i++)
        if (p->externs[i].data) {
            snprintf(err, errlen, "%s uses the input '%s', which only the VM evaluates for now", p->name,
                     p->externs[i].name);
            return -1;
        }
    for (int i = 0; i < p->nexterns; i++)
        if (p->externs[i].deriv) {
            snprintf(err, errlen, "%s uses a derivative of '%s' by differences, which only the VM "
                     "evaluates", p->name, p->externs[i].name);
            return -1;
        }
    char *src = NULL;
    size_t len = 0;
    if (native_source(p, &src, &len) != 0) {
        snprintf(err, errlen, "cannot generate C for %s", p->name);
        return -1;
    }
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    static const char flags[] = "-O2 -ffp-contract=off -shared -fPIC";
    uint64_t h = io_fnv1a(src, len, io_fnv1a(cc, strlen(cc), io_fnv1a(flags, sizeof flags, IO_FNV_INIT)));
    char dir[2048], so[2300], csrc[2300], tmp[2400], log[2400];
    int shared;
    cache_dir(dir, sizeof dir, &shared);
    int rc = 0;
    if (cache_safe(dir, shared, err, errlen) != 0) {
        rc = -1;
        goto out;
    }
    snprintf(so, sizeof so, "%s/%016llx.so", dir, (unsigned long long)h);
    if (access(so, R_OK) != 0) {
        snprintf(csrc, sizeof csrc, "%s/%016llx.%ld.c", dir, (unsigned long long)h, (long)getpid());
        snprintf(tmp, sizeof tmp, "%s/%016llx.%ld.so", dir, (unsigned long long)h, (long)getpid());
        snprintf(log, sizeof log, "%s/%016llx.%ld.log", dir, (unsigned long long)h, (long)getpid());
        errno = 0;
        FILE *f = fopen(csrc, "w");
        int bad = !f || fwrite(src, 1, len, f) != len;
        if (f && fclose(f) != 0) /* a full disk shows here: never compile half a file */
            bad = 1;
        if (bad) {
            snprintf(err, errlen, "cannot write %s: %s", csrc, strerror(errno ? errno : EIO));
            if (f)
                remove(csrc);
            rc = -1;
            goto out;
        }
        int st = run_compiler(cc, flags, tmp, csrc, log);
        int spawn_errno = errno;
        remove(csrc);
        if (st == -1) {
            snprintf(err, errlen, "cannot run the C compiler '%s': %s", cc, strerror(spawn_errno));
            remove(log);
            rc = -1;
            goto out;
        }
        if (st != 0) {
            snprintf(err, errlen, "the C compiler '%s' failed (exit %d); see %s", cc,
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, log);
            remove(tmp);
            rc = -1;
            goto out;
        }
        remove(log);
        if (rename(tmp, so) != 0) { /* a concurrent run may have won: use its file */
            remove(tmp);
            if (access(so, R_OK) != 0) {
                snprintf(err, errlen, "cannot place %s", so);
                rc = -1;
                goto out;
            }
        }
    }
    void *handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    void *fn = handle ? dlsym(handle, "lag_fn") : NULL;
    if (!fn) {
        snprintf(err, errlen, "cannot load %s: %s", so, dlerror());
        if (handle)
            dlclose(handle);
        rc = -1;
        goto out;
    }
    void (*set_math)(int, void *) = (void (*)(int, void *))dlsym(handle, "lag_set_math");
    for (int i = 0; i < VMATH_NFNS && set_math; i++)
        set_math(i, vmath_entry((VmathFn)i));
    if (set_math)
        set_math(VMATH_NFNS, vmath_group_entry());
    void (*set_vector)(int, void *) = (void (*)(int, void *))dlsym(handle, "lag_set_vector");
    void (*set_tensor)(int, const double *, const double *) =
        (void (*)(int, const double *, const double *))dlsym(handle, "lag_set_tensor");
    if (has_vector(p) && (!set_vector || !set_tensor)) {
        snprintf(err, errlen, "cannot load %s: it has no network entry points", so);
        dlclose(handle);
        rc = -1;
        goto out;
    }
    if (set_vector) {
        set_vector(0, (void *)matvec_cols);
        set_vector(1, (void *)vm_act_row);
        set_vector(2, (void *)vm_vsum);
        set_vector(3, (void *)vm_sigmoid_deriv);
        set_vector(4, (void *)matvec_cols_f);
    }
    void (*set_tensor_f)(int, const float *, const float *) =
        (void (*)(int, const float *, const float *))dlsym(handle, "lag_set_tensor_f");
    for (int i = 0; i < p->ntensors && set_tensor; i++)
        set_tensor(i, p->tensors[i].data, p->tensors[i].wt);
    for (int i = 0; i < p->ntensors && set_tensor_f; i++)
        set_tensor_f(i, p->tensors[i].f, p->tensors[i].ft);
    void (*set_ext)(int, void *) = (void (*)(int, void *))dlsym(handle, "lag_set_ext");
    for (int i = 0; i < p->nexterns && set_ext; i++)
        set_ext(i, p->externs[i].fn);
    p->native = fn;
    p->native_handle = handle;
out:
    free(src);
    return rc;
}

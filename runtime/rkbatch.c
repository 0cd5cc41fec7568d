/*
 * runtime/rkbatch.c — explicit embedded Runge–Kutta over a batch of lanes
 * (see rkbatch.h).
 *
 * Each stage is written as GSL writes it (the same coefficients, the same
 * order of the sums), so a lane's arithmetic is GSL's to the bit:
 *   stage 2:      y + (a21 h) k1
 *   stage j > 2:  y + h (a_j1 k1 + a_j2 k2 + ...)   (zero terms left out)
 *   new y:        y + h (b_1 k1 + ...)
 *   error:        h (e_1 k1 + ...), or h (bhat . k - b . k) for rk8pd
 * The coefficients are those of the papers GSL cites: Fehlberg's 4(5),
 * Cash and Karp (ACM TOMS 16, 1990) and Prince and Dormand's 8(7)
 * (J. Comp. Appl. Math. 7, 1981), in GSL's rational forms.
 *
 * Events: a lane whose step crosses 0 leaves the batch at once (its step
 * kept in the park), and the lanes parked are located together when the
 * batch reaches the output time, their trial steps evaluated as one batch
 * the way a step's stages are.
 */
#include "runtime/rkbatch.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "runtime/mem.h"

typedef struct Term {
    signed char k; /* the stage (0-based) */
    double a;
} Term;

enum { MAXSTAGES = 13, MAXTERMS = 12 };

typedef struct Stage {
    double c;             /* its time: t + c h */
    int nterms;
    Term terms[MAXTERMS]; /* stage 2: one term, written (a21 h) k1 */
} Stage;

struct RkTableau {
    const char *name;
    int stages;
    unsigned order;       /* as gsl_odeiv2_step_order: the exponent of the control */
    Stage st[MAXSTAGES];  /* st[0] is k1 (no terms) */
    int nb;
    Term b[MAXTERMS];     /* the solution's weights */
    int ne;
    Term e[MAXTERMS];     /* the error's weights, or bhat when diff */
    int diff;             /* error = h (bhat . k - b . k) */
};

/* Runge–Kutta–Fehlberg 4(5) */
static const RkTableau rkf45 = {
    "rkf45", 6, 5,
    {
        {0, 0, {{0, 0}}},
        {1.0 / 4.0, 1, {{0, 1.0 / 4.0}}},
        {3.0 / 8.0, 2, {{0, 3.0 / 32.0}, {1, 9.0 / 32.0}}},
        {12.0 / 13.0, 3, {{0, 1932.0 / 2197.0}, {1, -7200.0 / 2197.0}, {2, 7296.0 / 2197.0}}},
        {1.0, 4, {{0, 8341.0 / 4104.0}, {1, -32832.0 / 4104.0}, {2, 29440.0 / 4104.0}, {3, -845.0 / 4104.0}}},
        {1.0 / 2.0, 5,
         {{0, -6080.0 / 20520.0}, {1, 41040.0 / 20520.0}, {2, -28352.0 / 20520.0}, {3, 9295.0 / 20520.0},
          {4, -5643.0 / 20520.0}}},
    },
    5,
    {{0, 902880.0 / 7618050.0}, {2, 3953664.0 / 7618050.0}, {3, 3855735.0 / 7618050.0},
     {4, -1371249.0 / 7618050.0}, {5, 277020.0 / 7618050.0}},
    5,
    {{0, 1.0 / 360.0}, {2, -128.0 / 4275.0}, {3, -2197.0 / 75240.0}, {4, 1.0 / 50.0}, {5, 2.0 / 55.0}},
    0,
};

/* Cash–Karp 4(5) */
static const RkTableau rkck = {
    "rkck", 6, 5,
    {
        {0, 0, {{0, 0}}},
        {1.0 / 5.0, 1, {{0, 1.0 / 5.0}}},
        {0.3, 2, {{0, 3.0 / 40.0}, {1, 9.0 / 40.0}}},
        {3.0 / 5.0, 3, {{0, 0.3}, {1, -0.9}, {2, 1.2}}},
        {1.0, 4, {{0, -11.0 / 54.0}, {1, 2.5}, {2, -70.0 / 27.0}, {3, 35.0 / 27.0}}},
        {7.0 / 8.0, 5,
         {{0, 1631.0 / 55296.0}, {1, 175.0 / 512.0}, {2, 575.0 / 13824.0}, {3, 44275.0 / 110592.0},
          {4, 253.0 / 4096.0}}},
    },
    4,
    {{0, 37.0 / 378.0}, {2, 250.0 / 621.0}, {3, 125.0 / 594.0}, {5, 512.0 / 1771.0}},
    5,
    {{0, 37.0 / 378.0 - 2825.0 / 27648.0}, {2, 250.0 / 621.0 - 18575.0 / 48384.0},
     {3, 125.0 / 594.0 - 13525.0 / 55296.0}, {4, -277.0 / 14336.0}, {5, 512.0 / 1771.0 - 0.25}},
    0,
};

/* Prince–Dormand 8(7) */
static const RkTableau rk8pd = {
    "rk8pd", 13, 8,
    {
        {0, 0, {{0, 0}}},
        {1.0 / 18.0, 1, {{0, 1.0 / 18.0}}},
        {1.0 / 12.0, 2, {{0, 1.0 / 48.0}, {1, 1.0 / 16.0}}},
        {1.0 / 8.0, 2, {{0, 1.0 / 32.0}, {2, 3.0 / 32.0}}},
        {5.0 / 16.0, 3, {{0, 5.0 / 16.0}, {2, -75.0 / 64.0}, {3, 75.0 / 64.0}}},
        {3.0 / 8.0, 3, {{0, 3.0 / 80.0}, {3, 3.0 / 16.0}, {4, 3.0 / 20.0}}},
        {59.0 / 400.0, 4,
         {{0, 29443841.0 / 614563906.0}, {3, 77736538.0 / 692538347.0}, {4, -28693883.0 / 1125000000.0},
          {5, 23124283.0 / 1800000000.0}}},
        {93.0 / 200.0, 5,
         {{0, 16016141.0 / 946692911.0}, {3, 61564180.0 / 158732637.0}, {4, 22789713.0 / 633445777.0},
          {5, 545815736.0 / 2771057229.0}, {6, -180193667.0 / 1043307555.0}}},
        {5490023248.0 / 9719169821.0, 6,
         {{0, 39632708.0 / 573591083.0}, {3, -433636366.0 / 683701615.0}, {4, -421739975.0 / 2616292301.0},
          {5, 100302831.0 / 723423059.0}, {6, 790204164.0 / 839813087.0}, {7, 800635310.0 / 3783071287.0}}},
        {13.0 / 20.0, 7,
         {{0, 246121993.0 / 1340847787.0}, {3, -37695042795.0 / 15268766246.0},
          {4, -309121744.0 / 1061227803.0}, {5, -12992083.0 / 490766935.0}, {6, 6005943493.0 / 2108947869.0},
          {7, 393006217.0 / 1396673457.0}, {8, 123872331.0 / 1001029789.0}}},
        {1201146811.0 / 1299019798.0, 8,
         {{0, -1028468189.0 / 846180014.0}, {3, 8478235783.0 / 508512852.0}, {4, 1311729495.0 / 1432422823.0},
          {5, -10304129995.0 / 1701304382.0}, {6, -48777925059.0 / 3047939560.0},
          {7, 15336726248.0 / 1032824649.0}, {8, -45442868181.0 / 3398467696.0},
          {9, 3065993473.0 / 597172653.0}}},
        {1.0, 9,
         {{0, 185892177.0 / 718116043.0}, {3, -3185094517.0 / 667107341.0}, {4, -477755414.0 / 1098053517.0},
          {5, -703635378.0 / 230739211.0}, {6, 5731566787.0 / 1027545527.0}, {7, 5232866602.0 / 850066563.0},
          {8, -4093664535.0 / 808688257.0}, {9, 3962137247.0 / 1805957418.0}, {10, 65686358.0 / 487910083.0}}},
        {1.0, 10,
         {{0, 403863854.0 / 491063109.0}, {3, -5068492393.0 / 434740067.0}, {4, -411421997.0 / 543043805.0},
          {5, 652783627.0 / 914296604.0}, {6, 11173962825.0 / 925320556.0}, {7, -13158990841.0 / 6184727034.0},
          {8, 3936647629.0 / 1978049680.0}, {9, -160528059.0 / 685178525.0}, {10, 248638103.0 / 1413531060.0},
          {11, 0.0}}},
    },
    9,
    {{0, 14005451.0 / 335480064.0}, {5, -59238493.0 / 1068277825.0}, {6, 181606767.0 / 758867731.0},
     {7, 561292985.0 / 797845732.0}, {8, -1041891430.0 / 1371343529.0}, {9, 760417239.0 / 1151165299.0},
     {10, 118820643.0 / 751138087.0}, {11, -528747749.0 / 2220607170.0}, {12, 1.0 / 4.0}},
    8,
    {{0, 13451932.0 / 455176623.0}, {5, -808719846.0 / 976000145.0}, {6, 1757004468.0 / 5645159321.0},
     {7, 656045339.0 / 265891186.0}, {8, -3867574721.0 / 1518517206.0}, {9, 465885868.0 / 322736535.0},
     {10, 53011238.0 / 667516719.0}, {11, 2.0 / 45.0}},
    1,
};

const RkTableau *rk_tableau(const char *method)
{
    static const RkTableau *const all[] = {&rkf45, &rkck, &rk8pd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, method) == 0)
            return all[i];
    return NULL;
}

/* Lanes that crossed 0 on their last step: each step (its start, the
 * derivative there, its end, the functions at both ends) kept apart from
 * the batch's slots, and the locator's scratch, for up to cap lanes at a
 * time. */
typedef struct RkPark {
    int cap, n;
    int *lane, *slot;          /* cap: the trajectory, and its slot in the batch (out of the live range) */
    double *t, *te;            /* cap: the step's start; the time at the bracket's hi */
    RkLocate *L;               /* cap */
    unsigned char *done;       /* cap: located */
    double *y, *yhi;           /* w x cap by component: the step's start, the state at hi */
    double *k;                 /* stages x w x cap: k1 (from the batch), then a trial's stages */
    double *glo, *ghi;         /* cap x K (by entry): the functions at lo and at hi */
    /* the trial steps of the entries still narrowing, packed: i is entry act[i] */
    int *act;
    double *theta;             /* cap: the trial's step size */
    double *ev, *ets, *ea, *gm; /* w x cap, cap, n x cap, K x cap */
    unsigned char *why, *bad;  /* cap */
    int *row;                  /* cap: the row of b->dirs located on (0: a stop; 1 + k: function k
                                  recorded, the lane in the batch still) */
} RkPark;

static void park_free(RkPark *pk)
{
    if (!pk)
        return;
    mem_free(pk->lane);
    mem_free(pk->slot);
    mem_free(pk->t);
    mem_free(pk->te);
    mem_free(pk->L);
    mem_free(pk->done);
    mem_free(pk->y);
    mem_free(pk->yhi);
    mem_free(pk->k);
    mem_free(pk->glo);
    mem_free(pk->ghi);
    mem_free(pk->act);
    mem_free(pk->theta);
    mem_free(pk->ev);
    mem_free(pk->ets);
    mem_free(pk->ea);
    mem_free(pk->gm);
    mem_free(pk->why);
    mem_free(pk->bad);
    mem_free(pk->row);
    mem_free(pk);
}

RkBatch *rk_new(const RkTableau *tab, int B, int n, int w, const double *y0, double t0, double h0, double tol,
                RkRhs f, void *ctx)
{
    RkBatch *b = mem_xalloc(sizeof *b);
    memset(b, 0, sizeof *b);
    size_t bw = (size_t)B * (size_t)w, bn = (size_t)B * (size_t)n;
    b->tab = tab;
    b->B = B;
    b->n = n;
    b->w = w;
    b->tol = tol;
    b->f = f;
    b->ctx = ctx;
    b->nlive = B;
    b->lane = mem_xalloc((size_t)B * sizeof *b->lane);
    b->y = mem_xalloc(bw * sizeof *b->y);
    b->t = mem_xalloc((size_t)B * sizeof *b->t);
    b->h = mem_xalloc((size_t)B * sizeof *b->h);
    b->h0 = mem_xalloc((size_t)B * sizeof *b->h0);
    b->fin = mem_xalloc((size_t)B);
    b->fail_t = mem_xalloc((size_t)B * sizeof *b->fail_t);
    b->status = mem_xalloc((size_t)B);
    b->which = mem_xalloc((size_t)B * sizeof *b->which);
    b->why = mem_xalloc((size_t)B);
    b->k = mem_xalloc((size_t)tab->stages * bw * sizeof *b->k);
    b->ev = mem_xalloc(bw * sizeof *b->ev);
    b->ea = mem_xalloc((bn + 1) * sizeof *b->ea);
    b->ets = mem_xalloc((size_t)B * sizeof *b->ets);
    b->sum = mem_xalloc((size_t)B * sizeof *b->sum);
    b->rmax = mem_xalloc((size_t)B * sizeof *b->rmax);
    for (int l = 0; l < B; l++) {
        b->lane[l] = l;
        for (int i = 0; i < w; i++)
            b->y[(size_t)i * (size_t)B + (size_t)l] = y0[(size_t)l * (size_t)w + (size_t)i];
        b->t[l] = t0;
        b->h[l] = h0;
        b->status[l] = RK_OK;
        b->which[l] = 0;
    }
    return b;
}

void rk_free(RkBatch *b)
{
    if (!b)
        return;
    mem_free(b->lane);
    mem_free(b->y);
    mem_free(b->t);
    mem_free(b->h);
    mem_free(b->h0);
    mem_free(b->fin);
    mem_free(b->fail_t);
    mem_free(b->status);
    mem_free(b->which);
    mem_free(b->why);
    mem_free(b->k);
    mem_free(b->ev);
    mem_free(b->ea);
    mem_free(b->ets);
    mem_free(b->sum);
    mem_free(b->rmax);
    mem_free(b->gy);
    mem_free(b->gn);
    mem_free(b->event_t);
    mem_free(b->event_k);
    park_free(b->park);
    mem_free(b->dirs);
    mem_free(b->rec);
    mem_free(b);
}

void rk_states(const RkBatch *b, double *y)
{
    for (int p = 0; p < b->B; p++)
        for (int i = 0; i < b->w; i++)
            y[(size_t)b->lane[p] * (size_t)b->w + (size_t)i] = b->y[(size_t)i * (size_t)b->B + (size_t)p];
}

#define SWAP(T, x, y) do { T tmp_ = (x); (x) = (y); (y) = tmp_; } while (0)

/* Exchange slots p and q: a lane's state, time and steps, the first
 * nstages stages, and (with ev) the state being formed in b->ev. */
static void swap_slots(RkBatch *b, int p, int q, int nstages, int ev)
{
    if (p == q)
        return;
    const size_t B = (size_t)b->B, kstride = (size_t)b->w * B;
    for (int i = 0; i < b->w; i++) {
        size_t ip = (size_t)i * B + (size_t)p, iq = (size_t)i * B + (size_t)q;
        SWAP(double, b->y[ip], b->y[iq]);
        for (int j = 0; j < nstages; j++)
            SWAP(double, b->k[(size_t)j * kstride + ip], b->k[(size_t)j * kstride + iq]);
        if (ev)
            SWAP(double, b->ev[ip], b->ev[iq]);
    }
    SWAP(int, b->lane[p], b->lane[q]);
    SWAP(double, b->t[p], b->t[q]);
    SWAP(double, b->h[p], b->h[q]);
    SWAP(double, b->h0[p], b->h0[q]);
    SWAP(unsigned char, b->fin[p], b->fin[q]);
    SWAP(double, b->rmax[p], b->rmax[q]);
    for (int k = 0; k < b->K; k++) {
        SWAP(double, b->gy[(size_t)k * B + (size_t)p], b->gy[(size_t)k * B + (size_t)q]);
        SWAP(double, b->gn[(size_t)k * B + (size_t)p], b->gn[(size_t)k * B + (size_t)q]);
    }
}

/* Evaluate the states of b->ev in slots [0, nb) at b->ets into stage j
 * (q', q'', 0 for the constants, by component); a slot whose
 * accelerations are not finite fails (its lane's status is set). */
static void eval_stage(RkBatch *b, int j, int nb)
{
    const int n = b->n, w = b->w;
    const size_t B = (size_t)b->B;
    if (nb == 0)
        return;
    b->evals += (unsigned long)nb;
    int bad = b->f(b->ctx, nb, b->ev, B, b->ets, b->ea, B, b->why);
    double *k = b->k + (size_t)j * (size_t)w * B;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < nb; p++) {
            k[(size_t)i * B + (size_t)p] = b->ev[(size_t)(n + i) * B + (size_t)p];
            k[(size_t)(n + i) * B + (size_t)p] = b->ea[(size_t)i * B + (size_t)p];
        }
    for (int i = 2 * n; i < w; i++)
        for (int p = 0; p < nb; p++)
            k[(size_t)i * B + (size_t)p] = 0;
    /* not finite: a NaN or infinity anywhere in the slot's accelerations */
    for (int p = 0; p < nb; p++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += b->ea[(size_t)i * B + (size_t)p] * 0.0;
        if (s == 0 && !(bad && b->why[p]))
            continue;
        int l = b->lane[p];
        if (b->status[l] != RK_OK)
            continue;
        int which = 0;
        for (int i = n - 1; i >= 0; i--)
            if (!isfinite(b->ea[(size_t)i * B + (size_t)p]))
                which = i;
        b->status[l] = b->why[p] == 1 ? RK_SINGULAR : b->why[p] == 2 ? RK_NOT_FINITE_M : RK_NOT_FINITE;
        b->which[l] = which;
        b->fail_t[l] = b->t[p];
        b->failed++;
    }
}

/* Slot p's lane leaves the active range [0, *nact) (it is at T), or with
 * dead the live range too (it failed); the last active lane takes its
 * slot, with its nstages stages and its state in ev. */
static void retire(RkBatch *b, int p, int *nact, int dead, int nstages)
{
    swap_slots(b, p, *nact - 1, nstages, 1);
    if (dead) {
        swap_slots(b, *nact - 1, b->nlive - 1, 0, 0);
        b->nlive--;
    }
    (*nact)--;
}

/* The lanes of slots [0, *nact) that failed out of the live range. */
static void drop_failed(RkBatch *b, int *nact, int nstages)
{
    for (int p = 0; p < *nact;)
        if (b->status[b->lane[p]] == RK_OK)
            p++;
        else
            retire(b, p, nact, 1, nstages);
}

enum { FEW = 8 }; /* fewer active lanes than this: lane by lane */

#define VECTORISE __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))

/* sum over the terms of a_q k_q, in their order, for component ip (i B + p)
 * of one lane; stage q at k + q kstride */
VECTORISE static inline double lane_sum(const double *k, size_t kstride, const Term *t, int nt, size_t ip)
{
    double sum = t[0].a * k[(size_t)t[0].k * kstride + ip];
    for (int q = 1; q < nt; q++)
        sum += t[q].a * k[(size_t)t[q].k * kstride + ip];
    return sum;
}

/* The same for component i of the lanes [0, nact), into out: term by
 * term over the lanes, each lane's sum in the same order */
VECTORISE static inline void row_sum(const RkBatch *b, const Term *t, int nt, int i, int nact, double *out)
{
    const size_t B = (size_t)b->B, kstride = (size_t)b->w * B;
    const double *kq = b->k + (size_t)t[0].k * kstride + (size_t)i * B;
    for (int p = 0; p < nact; p++)
        out[p] = t[0].a * kq[p];
    for (int q = 1; q < nt; q++) {
        const double aq = t[q].a;
        kq = b->k + (size_t)t[q].k * kstride + (size_t)i * B;
        for (int p = 0; p < nact; p++)
            out[p] += aq * kq[p];
    }
}

/* a went across 0 to b the way dir says */
static int crosses(double a, double b, int dir)
{
    return dir != RK_NEVER && ((dir >= 0 && a < 0 && b >= 0) || (dir <= 0 && a > 0 && b <= 0));
}

enum { PARK_CAP = 1024 }; /* lanes located together at most */

static void locate(RkBatch *b);

/* The K functions at the end of each active lane's step (in ev): at T
 * for a step onto it, else at t + h, the time the lane would take. */
static void ends_events(RkBatch *b, double T, int nact)
{
    for (int p = 0; p < nact; p++)
        b->ets[p] = b->fin[p] ? T : b->t[p] + b->h0[p];
    b->g(b->gctx, nact, b->ev, (size_t)b->B, b->ets, b->gn, (size_t)b->B, b->why);
}

/* A park entry for the step slot p's lane just took (to T with fin): its
 * start, end, stages and the functions at both ends, the bracket begun;
 * its index (the caller sets its row and slot). */
static size_t park_step(RkBatch *b, int p, double T)
{
    RkPark *pk = b->park;
    if (pk->n == pk->cap)
        locate(b);
    const size_t B = (size_t)b->B, C = (size_t)pk->cap, q = (size_t)pk->n++;
    const int K = b->K;
    pk->lane[q] = b->lane[p];
    pk->t[q] = b->t[p];
    pk->te[q] = b->fin[p] ? T : b->t[p] + b->h0[p];
    pk->done[q] = 0;
    for (int i = 0; i < b->w; i++) {
        pk->y[i * C + q] = b->y[i * B + (size_t)p];
        pk->k[i * C + q] = b->k[i * B + (size_t)p];
        pk->yhi[i * C + q] = b->ev[i * B + (size_t)p];
    }
    for (int j = 0; j < K; j++) {
        pk->glo[q * (size_t)K + (size_t)j] = b->gy[(size_t)j * B + (size_t)p];
        pk->ghi[q * (size_t)K + (size_t)j] = b->gn[(size_t)j * B + (size_t)p];
    }
    rk_locate_begin(&pk->L[q], b->t[p], b->h0[p]);
    return q;
}

/* Slot p's lane crossed on the step it just took (to T with fin): its
 * step goes to the park to be located, the lane out of the batch (its
 * state and time set when it is located).  (While the control looks at
 * the lanes, a lane moved into another's slot takes its k1 along, which
 * the park may need: the retires there move one stage with events.) */
static void park(RkBatch *b, int p, double T, int *nact)
{
    RkPark *pk = b->park;
    const int l = b->lane[p];
    const size_t q = park_step(b, p, T);
    pk->row[q] = 0;
    b->status[l] = RK_EVENT;
    b->stopped++;
    retire(b, p, nact, 1, 1);
    pk->slot[q] = b->nlive; /* where retire put it: dead slots never move */
}

/* Slot p's lane crossed 0 with the recorded function k on the step it
 * just took: the step goes to the park as a stop's would, function k
 * alone to be located, and the lane stays (it takes the step's end). */
static void park_record(RkBatch *b, int p, double T, int k)
{
    RkPark *pk = b->park;
    const size_t q = park_step(b, p, T);
    pk->row[q] = 1 + k;
    pk->slot[q] = -1;
}

/* The dir a park entry is located on. */
static const int *entry_dir(const RkBatch *b, int q)
{
    return b->dirs ? b->dirs + (size_t)b->park->row[q] * (size_t)b->K : b->dir;
}

/* Stage j of the packed trial steps (states in ev at ets): na entries
 * evaluated together, each entry's stage into its own k; an entry that
 * cannot be evaluated is bad (its crossing stays at hi). */
static void trial_eval(RkBatch *b, int j, int na)
{
    RkPark *pk = b->park;
    const int n = b->n, w = b->w;
    const size_t C = (size_t)pk->cap;
    b->evals += (unsigned long)na;
    int bad = b->f(b->ctx, na, pk->ev, C, pk->ets, pk->ea, C, pk->why);
    double *k = pk->k + (size_t)j * (size_t)w * C;
    for (int i = 0; i < na; i++) {
        size_t q = (size_t)pk->act[i];
        int finite = 1;
        for (int c = 0; c < n; c++) {
            k[(size_t)c * C + q] = pk->ev[(size_t)(n + c) * C + (size_t)i];
            k[(size_t)(n + c) * C + q] = pk->ea[(size_t)c * C + (size_t)i];
            finite &= isfinite(pk->ea[(size_t)c * C + (size_t)i]) != 0;
        }
        for (int c = 2 * n; c < w; c++)
            k[(size_t)c * C + q] = 0;
        if (!finite || (bad && pk->why[i]))
            pk->bad[i] = 1;
    }
}

/* Locate the crossing of every parked lane: rounds of trial steps from
 * the steps' starts (each a step as rk_advance takes it, lane by lane in
 * GSL's order), one batch a stage, until every bracket is narrow; then
 * each lane takes the state and time at its bracket's hi. */
static void locate(RkBatch *b)
{
    RkPark *pk = b->park;
    const RkTableau *tab = b->tab;
    const int w = b->w, K = b->K;
    const size_t B = (size_t)b->B, C = (size_t)pk->cap, kstride = (size_t)w * C;
    double g[K + 1];
    for (;;) {
        int na = 0;
        for (int q = 0; q < pk->n; q++) {
            if (pk->done[q])
                continue;
            const size_t at = (size_t)q * (size_t)K;
            double th = rk_locate_next(&pk->L[q], K, pk->glo + at, pk->ghi + at, entry_dir(b, q));
            if (th == 0) {
                pk->done[q] = 1;
                continue;
            }
            pk->theta[na] = th;
            pk->bad[na] = 0;
            pk->act[na++] = q;
        }
        if (na == 0)
            break;
        for (int j = 1; j < tab->stages; j++) {
            const Stage *st = &tab->st[j];
            for (int i = 0; i < na; i++) {
                const size_t q = (size_t)pk->act[i];
                const double h = pk->theta[i];
                if (j == 1) {
                    const double ah = st->terms[0].a * h;
                    for (int c = 0; c < w; c++)
                        pk->ev[(size_t)c * C + (size_t)i] = pk->y[(size_t)c * C + q] + ah * pk->k[(size_t)c * C + q];
                } else
                    for (int c = 0; c < w; c++) {
                        const size_t cq = (size_t)c * C + q;
                        pk->ev[(size_t)c * C + (size_t)i] = pk->y[cq] + h * lane_sum(pk->k, kstride, st->terms,
                                                                                      st->nterms, cq);
                    }
                pk->ets[i] = pk->t[q] + st->c * h;
            }
            trial_eval(b, j, na);
        }
        for (int i = 0; i < na; i++) { /* the trial's end, and the functions there */
            const size_t q = (size_t)pk->act[i];
            const double h = pk->theta[i];
            for (int c = 0; c < w; c++)
                pk->ev[(size_t)c * C + (size_t)i] =
                    pk->y[(size_t)c * C + q] + h * lane_sum(pk->k, kstride, tab->b, tab->nb, (size_t)c * C + q);
            pk->ets[i] = pk->t[q] + h;
        }
        b->g(b->gctx, na, pk->ev, C, pk->ets, pk->gm, C, pk->why);
        for (int i = 0; i < na; i++) {
            const size_t q = (size_t)pk->act[i];
            if (pk->bad[i]) {
                pk->done[q] = 1;
                continue;
            }
            for (int k = 0; k < K; k++)
                g[k] = pk->gm[(size_t)k * C + (size_t)i];
            int side = rk_locate_narrow(&pk->L[q], K, pk->theta[i], pk->glo + q * (size_t)K,
                                        pk->ghi + q * (size_t)K, g, entry_dir(b, (int)q));
            if (side < 0)
                pk->done[q] = 1;
            else if (side) {
                pk->te[q] = pk->ets[i];
                for (int c = 0; c < w; c++)
                    pk->yhi[(size_t)c * C + q] = pk->ev[(size_t)c * C + (size_t)i];
            }
        }
    }
    for (int q = 0; q < pk->n; q++) {
        const int l = pk->lane[q], sl = pk->slot[q];
        if (pk->row[q] > 0) { /* a recorded crossing: listed, the lane goes on */
            if (b->nrec == b->caprec) {
                b->caprec = b->caprec ? 2 * b->caprec : 64;
                b->rec = mem_xrealloc(b->rec, (size_t)b->caprec * (size_t)(3 + w) * sizeof *b->rec);
            }
            double *r = b->rec + (size_t)b->nrec++ * (size_t)(3 + w);
            r[0] = l;
            r[1] = pk->te[q];
            r[2] = pk->row[q] - 1;
            for (int c = 0; c < w; c++)
                r[3 + c] = pk->yhi[(size_t)c * C + (size_t)q];
            continue;
        }
        for (int c = 0; c < w; c++)
            b->y[(size_t)c * B + (size_t)sl] = pk->yhi[(size_t)c * C + (size_t)q];
        b->t[sl] = pk->te[q];
        b->event_t[l] = pk->te[q];
        int k = rk_crossed(K, pk->glo + (size_t)q * (size_t)K, pk->ghi + (size_t)q * (size_t)K, 1, entry_dir(b, q));
        b->event_k[l] = k < 0 ? 0 : k;
    }
    pk->n = 0;
}

/* Compiled for the baseline and for AVX2 (chosen at start, as the VM's
 * batch loops are): the loops over lanes vectorise, each lane's sums still
 * one IEEE operation after another in GSL's order (ISO C: no FMA). */
__attribute__((target_clones("avx2", "default"))) VECTORISE
void rk_advance(RkBatch *b, double T)
{
    const RkTableau *tab = b->tab;
    const int w = b->w, s = tab->stages;
    const size_t B = (size_t)b->B;
    const double tol = b->tol, S = 0.9;
    /* the live lanes short of T to the front */
    int nact = 0;
    for (int p = 0; p < b->nlive; p++)
        if (T - b->t[p] > 0.0) {
            swap_slots(b, p, nact, 0, 0);
            b->h0[nact] = b->h[nact];
            nact++;
        }
    double *sum = b->sum, *rmax = b->rmax;
    while (nact > 0) {
        /* k1 at each lane's state: the derivative where its step starts
         * (for a lane trying again after a rejected step the same values
         * as before, evaluated again rather than kept apart) */
        for (int i = 0; i < w; i++)
            memcpy(b->ev + (size_t)i * B, b->y + (size_t)i * B, (size_t)nact * sizeof *b->ev);
        memcpy(b->ets, b->t, (size_t)nact * sizeof *b->ets);
        eval_stage(b, 0, nact);
        drop_failed(b, &nact, 1);
        /* the step to try: onto T when it would pass it */
        for (int p = 0; p < nact; p++) {
            double dt = T - b->t[p];
            b->fin[p] = dt >= 0.0 && b->h0[p] > dt;
            if (b->fin[p])
                b->h0[p] = dt;
        }
        const double *h0 = b->h0, *t = b->t;
        for (int j = 1; j < s; j++) {
            const Stage *st = &tab->st[j];
            if (nact < FEW) { /* lane by lane: the same sums, without loops of one */
                for (int p = 0; p < nact; p++) {
                    const double h = h0[p];
                    if (j == 1) {
                        const double ah = st->terms[0].a * h;
                        for (int i = 0; i < w; i++) {
                            size_t ip = (size_t)i * B + (size_t)p;
                            b->ev[ip] = b->y[ip] + ah * b->k[ip];
                        }
                    } else
                        for (int i = 0; i < w; i++) {
                            size_t ip = (size_t)i * B + (size_t)p;
                            b->ev[ip] = b->y[ip] + h * lane_sum(b->k, (size_t)w * B, st->terms, st->nterms, ip);
                        }
                    b->ets[p] = t[p] + st->c * h;
                }
                eval_stage(b, j, nact);
                continue;
            }
            for (int i = 0; i < w; i++) {
                const double *y = b->y + (size_t)i * B;
                double *r = b->ev + (size_t)i * B;
                if (j == 1) {
                    const double a = st->terms[0].a, *k1 = b->k + (size_t)i * B;
                    for (int p = 0; p < nact; p++)
                        r[p] = y[p] + a * h0[p] * k1[p];
                    continue;
                }
                row_sum(b, st->terms, st->nterms, i, nact, sum);
                for (int p = 0; p < nact; p++)
                    r[p] = y[p] + h0[p] * sum[p];
            }
            for (int p = 0; p < nact; p++)
                b->ets[p] = t[p] + st->c * h0[p];
            eval_stage(b, j, nact);
        }
        drop_failed(b, &nact, s); /* (failed in a stage: stays where its step began) */
        /* the new states (into ev), their errors, and each lane's control;
         * a step counts as GSL's evolve counts it, whether the control
         * then accepts it or not */
        b->steps += (unsigned long)nact;
        for (int p = 0; p < nact; p++)
            rmax[p] = DBL_MIN;
        for (int p = 0; p < nact && nact < FEW; p++) /* lane by lane, as above */
            for (int i = 0; i < w; i++) {
                size_t ip = (size_t)i * B + (size_t)p;
                double d = lane_sum(b->k, (size_t)w * B, tab->b, tab->nb, ip),
                       e = lane_sum(b->k, (size_t)w * B, tab->e, tab->ne, ip);
                double yn = b->y[ip] + h0[p] * d;
                b->ev[ip] = yn;
                double err = tab->diff ? h0[p] * (e - d) : h0[p] * e;
                double r = fabs(err) / fabs(tol * fabs(yn) + tol);
                rmax[p] = r > rmax[p] ? r : rmax[p];
            }
        for (int i = 0; i < w && nact >= FEW; i++) {
            const double *y = b->y + (size_t)i * B;
            double *yn = b->ev + (size_t)i * B;
            double *e = b->ets; /* (the times are not needed any more) */
            row_sum(b, tab->b, tab->nb, i, nact, sum);
            row_sum(b, tab->e, tab->ne, i, nact, e);
            for (int p = 0; p < nact; p++) {
                yn[p] = y[p] + h0[p] * sum[p];
                double err = tab->diff ? h0[p] * (e[p] - sum[p]) : h0[p] * e[p];
                double r = fabs(err) / fabs(tol * fabs(yn[p]) + tol);
                rmax[p] = r > rmax[p] ? r : rmax[p];
            }
        }
        if (b->K) /* the event functions where each step ends, before the control takes it or not */
            ends_events(b, T, nact);
        for (int p = 0; p < nact;) {
            const double h = b->h0[p];
            double hnew = h;
            if (rmax[p] > 1.1) {
                double r = S / pow(rmax[p], 1.0 / tab->order);
                if (r < 0.2)
                    r = 0.2;
                hnew = r * h;
                /* a smaller step that still moves t: try again from the same k1 */
                double tc = b->fin[p] ? T : b->t[p] + h, tn = tc + hnew;
                if (fabs(hnew) < fabs(h) && tn != tc) {
                    b->h0[p] = hnew;
                    p++;
                } else {
                    int l = b->lane[p];
                    b->status[l] = RK_UNDERFLOW;
                    b->fail_t[l] = b->t[p];
                    b->failed++;
                    retire(b, p, &nact, 1, b->K ? 1 : 0); /* slot p: another lane to look at */
                }
                continue;
            }
            if (rmax[p] < 0.5) {
                double r = S / pow(rmax[p], 1.0 / (tab->order + 1.0));
                if (r > 5.0)
                    r = 5.0;
                if (r < 1.0)
                    r = 1.0;
                hnew = r * h;
            }
            if (b->K) {
                /* recorded crossings first: a stop on the same step retires the lane */
                for (int k = 0; b->dirs && k < b->K; k++)
                    if (b->dirs[(size_t)(1 + k) * (size_t)b->K + (size_t)k] != RK_NEVER &&
                        crosses(b->gy[(size_t)k * B + (size_t)p], b->gn[(size_t)k * B + (size_t)p], b->dir[k]))
                        park_record(b, p, T, k);
                if (rk_crossed(b->K, b->gy + p, b->gn + p, B, b->dirs ? b->dirs : b->dir) >= 0) {
                    park(b, p, T, &nact); /* slot p: another lane to look at */
                    continue;
                }
                for (int k = 0; k < b->K; k++)
                    b->gy[(size_t)k * B + (size_t)p] = b->gn[(size_t)k * B + (size_t)p];
            }
            for (int i = 0; i < w; i++)
                b->y[(size_t)i * B + (size_t)p] = b->ev[(size_t)i * B + (size_t)p];
            b->t[p] = b->fin[p] ? T : b->t[p] + h;
            if (!b->fin[p])
                b->h[p] = hnew;
            b->h0[p] = b->h[p]; /* a new step (if any) starts from h */
            if (T - b->t[p] > 0.0) {
                p++;
                continue;
            }
            retire(b, p, &nact, 0, b->K ? 1 : 0); /* at T; slot p: another lane to look at */
        }
    }
    if (b->K && b->park->n)
        locate(b);
}

/* ---------- events ---------- */

void rk_events(RkBatch *b, int K, const int *dir, RkRhs g, void *ctx)
{
    const size_t B = (size_t)b->B, C = B < PARK_CAP ? B : PARK_CAP, w = (size_t)b->w;
    b->K = K;
    b->dir = dir;
    b->g = g;
    b->gctx = ctx;
    b->gy = mem_xalloc((size_t)K * B * sizeof *b->gy);
    b->gn = mem_xalloc((size_t)K * B * sizeof *b->gn);
    b->event_t = mem_xalloc(B * sizeof *b->event_t);
    b->event_k = mem_xalloc(B * sizeof *b->event_k);
    for (size_t l = 0; l < B; l++) {
        b->event_t[l] = NAN;
        b->event_k[l] = -1;
    }
    RkPark *pk = b->park = mem_xalloc(sizeof *pk);
    memset(pk, 0, sizeof *pk);
    pk->cap = (int)C;
    pk->lane = mem_xalloc(C * sizeof *pk->lane);
    pk->slot = mem_xalloc(C * sizeof *pk->slot);
    pk->t = mem_xalloc(C * sizeof *pk->t);
    pk->te = mem_xalloc(C * sizeof *pk->te);
    pk->L = mem_xalloc(C * sizeof *pk->L);
    pk->done = mem_xalloc(C);
    pk->y = mem_xalloc(w * C * sizeof *pk->y);
    pk->yhi = mem_xalloc(w * C * sizeof *pk->yhi);
    pk->k = mem_xalloc((size_t)b->tab->stages * w * C * sizeof *pk->k);
    pk->glo = mem_xalloc((size_t)K * C * sizeof *pk->glo);
    pk->ghi = mem_xalloc((size_t)K * C * sizeof *pk->ghi);
    pk->act = mem_xalloc(C * sizeof *pk->act);
    pk->theta = mem_xalloc(C * sizeof *pk->theta);
    pk->ev = mem_xalloc(w * C * sizeof *pk->ev);
    pk->ets = mem_xalloc(C * sizeof *pk->ets);
    pk->ea = mem_xalloc(((size_t)b->n * C + 1) * sizeof *pk->ea);
    pk->gm = mem_xalloc((size_t)K * C * sizeof *pk->gm);
    pk->why = mem_xalloc(C);
    pk->bad = mem_xalloc(C);
    pk->row = mem_xalloc(C * sizeof *pk->row);
    if (b->nlive > 0)
        g(ctx, b->nlive, b->y, B, b->t, b->gy, B, b->why);
}

void rk_events_record(RkBatch *b, const unsigned char *record)
{
    const int K = b->K;
    b->dirs = mem_xalloc((size_t)(K + 1) * (size_t)K * sizeof *b->dirs);
    for (int k = 0; k < K; k++) {
        b->dirs[k] = record[k] ? RK_NEVER : b->dir[k];
        for (int j = 0; j < K; j++)
            b->dirs[(size_t)(1 + k) * (size_t)K + (size_t)j] = j == k && record[k] ? b->dir[k] : RK_NEVER;
    }
}

int rk_crossed(int K, const double *g0, const double *g1, size_t stride, const int *dir)
{
    for (int k = 0; k < K; k++)
        if (crosses(g0[(size_t)k * stride], g1[(size_t)k * stride], dir[k]))
            return k;
    return -1;
}

void rk_locate_begin(RkLocate *L, double t, double h)
{
    L->lo = 0;
    L->hi = L->h = h;
    L->tol = 100 * DBL_EPSILON * (fabs(t) + fabs(h)); /* CVODE's: what the time itself resolves, with room */
    L->alpha = 1;
    L->side = 0;
    L->sideprev = -1;
    L->iters = 0;
}

enum { LOCATE_ITERS = 100 }; /* a bound that superlinear convergence never meets */

double rk_locate_next(RkLocate *L, int K, const double *glo, const double *ghi, const int *dir)
{
    if (!(L->hi - L->lo > L->tol) || L->iters >= LOCATE_ITERS)
        return 0;
    /* the function whose crossing the secant puts nearest lo */
    int imax = -1;
    double maxfrac = 0;
    for (int k = 0; k < K; k++)
        if (crosses(glo[k], ghi[k], dir[k])) {
            double frac = fabs(ghi[k] / (ghi[k] - glo[k]));
            if (imax < 0 || frac > maxfrac) {
                maxfrac = frac;
                imax = k;
            }
        }
    if (imax < 0)
        return 0;
    /* the secant, with the end that stayed put twice weighted down */
    if (L->sideprev == L->side)
        L->alpha = L->side == 2 ? 2 * L->alpha : 0.5 * L->alpha;
    else
        L->alpha = 1;
    double lo = L->lo, hi = L->hi, w = hi - lo;
    double theta = hi - w * ghi[imax] / (ghi[imax] - L->alpha * glo[imax]);
    /* at least half the tolerance inside either end (CVODE moves a trial
     * too near an end inward by a fraction of the bracket, at most a
     * fifth, that shrinks with it; half the tolerance at least, so that a
     * root at an end to the last bits is bracketed at once) */
    double frac = fabs(w / L->h) > 0.2 ? 0.2 : 0.5 * fabs(w / L->h), in = frac * w;
    if (in < 0.5 * L->tol)
        in = 0.5 * L->tol;
    if (!(theta - lo >= 0.5 * L->tol))
        theta = lo + in;
    if (!(hi - theta >= 0.5 * L->tol))
        theta = hi - in;
    L->iters++;
    return theta > lo && theta < hi ? theta : 0.5 * (lo + hi);
}

int rk_locate_narrow(RkLocate *L, int K, double theta, double *glo, double *ghi, const double *gm, const int *dir)
{
    /* a function that crosses in the bracket but has no value at the
     * trial says nothing of where: the crossing stays at hi */
    for (int k = 0; k < K; k++)
        if (crosses(glo[k], ghi[k], dir[k]) && isnan(gm[k]))
            return -1;
    L->sideprev = L->side;
    if (rk_crossed(K, glo, gm, 1, dir) >= 0) {
        L->hi = theta;
        memcpy(ghi, gm, (size_t)K * sizeof *ghi);
        L->side = 1;
        return 1;
    }
    L->lo = theta;
    memcpy(glo, gm, (size_t)K * sizeof *glo);
    L->side = 2;
    return 0;
}

/*
 * runtime/figure.c — multi-panel figures of lines, scatter plots and
 * heatmaps through PLplot (see figure.h).
 *
 * The layout is explicit rather than plssub's: one page of ncols x nrows
 * cells of CELL_W x CELL_H device units (pixels for PNG, points for SVG and
 * PDF) under a band for the figure's title, each panel's box placed in its
 * cell with fixed margins for tick labels and axis labels; a heatmap's
 * right margin is wider, for its colour bar.  Text and tick sizes are set
 * in millimetres, so they read the same however many panels there are.
 *
 * As in plot.c, each figure is its own PLplot stream and long series are
 * thinned to at most MAX_POINTS points (every k-th point, plus the ends of
 * every unbroken stretch, so a gap is never bridged); heatmaps finer than
 * MAX_CELLS cells a side are resampled to that (nearest cell), which the
 * eye cannot tell at figure resolution but keeps files small.  PLplot's
 * SVG driver writes every cell and every marker as an element of its own
 * (some 300 bytes each), so SVG gets tighter limits: MAX_SVG_CELLS a side,
 * MAX_SVG_MARKERS markers a series.
 *
 * Tick labels are written by tick_label rather than by PLplot, whose
 * "(x10^k)" beside an axis would collide with the neighbouring panel or the
 * colour bar: a common power of ten, and the offset of a narrow range far
 * from zero, go into the axis label instead ("E + 0.5 (×10^-10)").
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/figure.h"

#include <math.h>
#include "runtime/pl.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/plot.h"
#include "runtime/par.h"

enum {
    MAX_POINTS = 8000,
    MAX_SVG_MARKERS = 2000,
    MAX_CELLS = 400,
    MAX_SVG_CELLS = 100,
    MAX_LINES = 6
};

/* The layout, in device units. */
enum {
    CELL_W = 450, /* a panel's cell */
    CELL_H = 380,
    TITLE_H = 40,  /* the band of the figure's title, when it has one */
    MARGIN_L = 84, /* from the cell's sides to the panel's box */
    MARGIN_R = 24,
    MARGIN_T = 40,
    MARGIN_B = 60,
    MARGIN_R_BAR = 124, /* right of a heatmap's box, for its colour bar */
    BAR_GAP = 10,       /* from the box to the bar */
    BAR_W = 14
};
static const double TEXT_MM = 3.6, TICK_MM = 2.0, MINOR_MM = 1.1, MARKER_MM = 2.4;

/* Scatter markers, one shape per series (a printed grey figure still tells them apart). */
static const char *const marker[MAX_LINES] = {"●", "■", "▲", "◆", "▼", "★"};

/* The palette slot (0-based) of series s: its own colour, else its position. */
static int slot(const FigPanel *pn, int s)
{
    int c = pn->lines[s].colour;
    return c >= 1 && c <= MAX_LINES ? c - 1 : s;
}

/* viridis (van der Walt and Smith, matplotlib) at 11 stops: perceptually
 * uniform, readable in grey and by most colour-blind readers. */
static const double viridis[11][3] = {
    {68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},  {42, 120, 142}, {33, 145, 140},
    {34, 168, 132}, {68, 191, 112}, {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};
/* A blue-white-red diverging map (ColorBrewer's RdBu ends). */
static const double rdbu[5][3] = {
    {33, 102, 172}, {103, 169, 207}, {247, 247, 247}, {239, 138, 98}, {178, 24, 43}};

static const char *text(const char *s)
{
    return s ? s : "";
}

/* Whether v can be drawn on a linear (log = 0) or log10 (log = 1) axis. */
static int drawable(double v, int log)
{
    return isfinite(v) && (!log || v > 0);
}

static double axis_value(double v, int log)
{
    return log ? log10(v) : v;
}

/* Pad [lo, hi] by frac of its width on each side; an empty range is
 * widened so that it still draws. */
static void pad_range(double *lo, double *hi, double frac)
{
    double w = *hi - *lo;
    if (!(w > 0)) {
        w = fabs(*lo) > 0 ? fabs(*lo) * 0.2 : 2;
        *lo -= w / 2;
        *hi += w / 2;
    }
    *lo -= w * frac;
    *hi += w * frac;
}

/* A log axis labels only whole decades: widen a range that holds fewer
 * than two of them out to the decades around it, so it is never unlabelled. */
static void decade_range(double *lo, double *hi)
{
    if (floor(*hi) - ceil(*lo) < 1) {
        *lo = floor(*lo);
        *hi = ceil(*hi);
        if (*hi - *lo < 1)
            *hi = *lo + 1;
    }
}

/* How one axis is ticked and labelled: linear ticks every step (nsub
 * minor ticks between), labelled (value - offset) / 10^exp10 with
 * `decimals` decimals; on a log10 axis, a label every `stride` decades,
 * minor ticks (2..9 in each decade) only while they do not crowd into a
 * smear. */
typedef struct Axis {
    int log, exp10, decimals, stride, nsub, minor;
    double step, offset, span, widest; /* widest: the longest label drawn, in characters */
} Axis;

/* Where a panel goes: its box's width in device units and its height
 * over width, the room from the box's centre to the nearer side of its
 * cell (for the title), the size of a device unit in mm; the finest
 * heatmap and the most markers a series drawn. */
typedef struct Frame {
    double box_w, aspect, room, unit_mm;
    int max_cells, max_markers;
} Frame;

/* The ticks of [lo, hi] (plotted units), about `ticks` of them. */
static Axis axis_ticks(double lo, double hi, int log, int ticks)
{
    Axis a = {.log = log, .span = fabs(hi - lo), .stride = 1, .minor = 1};
    if (log) {
        a.stride = (int)ceil(a.span / 6); /* PLplot ticks every decade */
        a.minor = a.span <= 6;
        return a;
    }
    if (!(a.span > 0 && a.span < HUGE_VAL))
        return a; /* beyond doubles: PLplot's own ticks */
    double raw = a.span / ticks, p = pow(10, floor(log10(raw))), f = raw / p;
    double m = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
    a.step = m * p;
    a.nsub = m == 2 ? 4 : 5;
    /* a narrow range far from zero (an energy conserved to 1e-10) is
     * labelled from an offset, not in digits that all look the same: the
     * roundest number within a span of the middle */
    double big = fmax(fabs(lo), fabs(hi)), mid = (lo + hi) / 2;
    if (big >= 1e4 * a.span) {
        for (double q = pow(10, floor(log10(big)));; q /= 10) {
            a.offset = q * round(mid / q);
            if (fabs(a.offset - mid) <= a.span)
                break;
        }
        big = fmax(fabs(lo - a.offset), fabs(hi - a.offset));
    }
    if (big >= 1e4 || (big > 0 && big < 1e-2))
        a.exp10 = (int)floor(log10(big));
    double mstep = a.step / pow(10, a.exp10);
    a.decimals = mstep >= 1 ? 0 : (int)-floor(log10(mstep) + 1e-9);
    return a;
}

/* The x axis of a box box_mm wide: fewer ticks while their labels, side
 * by side, would run into each other. */
static Axis x_axis(double lo, double hi, int log, double box_mm)
{
    PLFLT def, ht;
    plgchr(&def, &ht);
    for (int ticks = 5;; ticks--) {
        Axis a = axis_ticks(lo, hi, log, ticks);
        if (log || a.step == 0 || ticks == 2)
            return a;
        double big = fmax(fabs(lo - a.offset), fabs(hi - a.offset)) / pow(10, a.exp10);
        int chars = snprintf(NULL, 0, "%.*f", a.decimals, big) + (lo < a.offset);
        if ((a.span / a.step + 1) * (chars + 1) * 0.9 * ht < box_mm)
            return a;
    }
}

/* plslabelfunc's callback; data is the pair of Axis (x, y) being drawn. */
static void tick_label(PLINT axis, PLFLT v, char *label, PLINT length, PLPointer data)
{
    Axis *a = (Axis *)data + (axis == PL_X_AXIS ? 0 : 1);
    double chars;
    if (a->log) {
        long k = lround(v);
        if (k % a->stride != 0) {
            label[0] = 0;
            return;
        }
        snprintf(label, (size_t)length, "10#u%ld#d", k);
        chars = 2 + 0.7 * snprintf(NULL, 0, "%ld", k); /* a superscript is smaller */
    } else {
        double m = (v - a->offset) / pow(10, a->exp10);
        if (fabs(v - a->offset) < 1e-6 * (a->step > 0 ? a->step : a->span))
            m = 0; /* not -0 or 1e-17 for the tick at zero */
        chars = snprintf(label, (size_t)length, "%.*f", a->decimals, m);
    }
    a->widest = fmax(a->widest, chars);
}

/* plbox with the two axes' ticks and tick_label's labels (xopt and yopt
 * without 'l' and 's', which the axes add). */
static void draw_box(const char *xopt, const char *yopt, Axis *ax)
{
    char xo[16], yo[16];
    snprintf(xo, sizeof xo, "%s%s%s", xopt, ax[0].log ? "l" : "", ax[0].minor ? "s" : "");
    snprintf(yo, sizeof yo, "%s%s%s", yopt, ax[1].log ? "l" : "", ax[1].minor ? "s" : "");
    plslabelfunc(tick_label, ax);
    plcol0(1);
    plwidth(1);
    plbox(xo, ax[0].step, ax[0].nsub, yo, ax[1].step, ax[1].nsub);
}

/* An axis label with its axis's offset and power of ten, if any:
 * "E + 0.5 (×10^-10)" for ticks labelled (E + 0.5) / 10^-10. */
static void axis_label(char *buf, size_t len, const char *label, const Axis *a)
{
    int n = snprintf(buf, len, "%s", text(label));
    if (a->offset != 0 && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "%s%s %.15g", n > 0 ? " " : "",
                      a->offset < 0 ? "+" : "−", fabs(a->offset));
    if (a->exp10 != 0 && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "%s(×10#u%d#d)", n > 0 ? " " : "", a->exp10);
}

/* UTF-8 characters, for estimating the width of a text. */
static int utf8_chars(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The panel's title above the box (shrunk to fit its cell), the axis
 * labels below and left of it, clear of the tick labels (ax as draw_box
 * left them; outward: the ticks push the tick labels out). */
static void panel_labels(const FigPanel *pn, const Axis *ax, const Frame *fr, int outward)
{
    char buf[512];
    PLFLT def, ht;
    plgchr(&def, &ht);
    double ticks = outward ? TICK_MM / ht : 0;
    axis_label(buf, sizeof buf, pn->xlabel, &ax[0]);
    plmtex("b", 3.3 + ticks, 0.5, 0.5, buf);
    axis_label(buf, sizeof buf, pn->ylabel, &ax[1]);
    /* a digit is about 0.9 character heights wide */
    plmtex("l", 2.0 + ticks + 0.9 * ax[1].widest, 0.5, 0.5, buf);
    double chars = utf8_chars(text(pn->title)),
           fit = 2 * fr->room * fr->unit_mm / (0.8 * ht * chars);
    double scale = fmax(0.6, fmin(1.1, fit));
    plschr(0, scale);
    plmtex("t", (1.5 + ticks) / scale, 0.5, 0.5, text(pn->title));
    plschr(0, 1.0);
}

static double series_x(const FigLine *l, int i)
{
    return l->x[(size_t)i * (size_t)(l->xstride ? l->xstride : 1)];
}

static double series_y(const FigLine *l, int i)
{
    return l->y[(size_t)i * (size_t)(l->ystride ? l->ystride : 1)];
}

static int point_ok(const FigPanel *pn, const FigLine *l, int i)
{
    return i >= 0 && i < l->n && drawable(series_x(l, i), pn->logx) &&
           drawable(series_y(l, i), pn->logy);
}

/* The i-th value of one of a series' extra arrays (err, lo, hi). */
static double series_at(const FigLine *l, const double *a, int i)
{
    return a[(size_t)i * (size_t)(l->ystride ? l->ystride : 1)];
}

/* FIG_LINES and FIG_SCATTER into the current viewport. */
static void draw_xy(const FigPanel *pn, int scatter, const Frame *fr)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int nmax = 1;
    for (int s = 0; s < pn->nlines; s++) {
        const FigLine *l = &pn->lines[s];
        nmax = l->n > nmax ? l->n : nmax;
        for (int i = 0; i < l->n; i++)
            if (point_ok(pn, l, i)) {
                double x = axis_value(series_x(l, i), pn->logx),
                       y = axis_value(series_y(l, i), pn->logy);
                xlo = fmin(xlo, x);
                xhi = fmax(xhi, x);
                ylo = fmin(ylo, y);
                yhi = fmax(yhi, y);
                /* error bars and bands inside the frame too */
                const double *ext[4] = {l->lo, l->hi, l->err, l->err};
                for (int e = 0; e < 4; e++) {
                    if (!ext[e])
                        continue;
                    double v = series_at(l, ext[e], i);
                    v = e == 2 ? series_y(l, i) - v : e == 3 ? series_y(l, i) + v : v;
                    if (drawable(v, pn->logy)) {
                        ylo = fmin(ylo, axis_value(v, pn->logy));
                        yhi = fmax(yhi, axis_value(v, pn->logy));
                    }
                }
            }
    }
    if (!(xlo <= xhi))
        xlo = 0, xhi = 1, ylo = 0, yhi = 1; /* nothing to draw: empty axes */
    /* curves run edge to edge in x; markers keep clear of the box */
    pad_range(&xlo, &xhi, scatter ? 0.04 : 0);
    pad_range(&ylo, &yhi, 0.05);
    if (pn->logx)
        decade_range(&xlo, &xhi);
    if (pn->logy)
        decade_range(&ylo, &yhi);
    plwind(xlo, xhi, ylo, yhi);
    Axis ax[2] = {x_axis(xlo, xhi, pn->logx, fr->box_w * fr->unit_mm),
                  axis_ticks(ylo, yhi, pn->logy, 6)};
    draw_box("bcnto", "bcntvo", ax);
    panel_labels(pn, ax, fr, 0);

    /* the legend's size, as a fraction of the box, to be placed in the
     * corner where it hides the fewest points */
    int labelled = 0, widest = 0;
    for (int s = 0; s < pn->nlines; s++) {
        labelled |= pn->lines[s].label != NULL;
        int chars = utf8_chars(text(pn->lines[s].label));
        widest = chars > widest ? chars : widest;
    }
    PLFLT def, ht;
    plgchr(&def, &ht);
    double box_mm = fr->box_w * fr->unit_mm;
    double sample = scatter ? 0.04 : 0.1; /* the width of a line's or a marker's sample */
    double leg_w = sample + 0.07 + 0.65 * ht * widest / box_mm,
           leg_h = (1.7 * pn->nlines + 1) * ht / (box_mm * fr->aspect);
    int under[4] = {0, 0, 0, 0}; /* top right, top left, bottom right, bottom left */

    PLFLT *xs = mem_xalloc((size_t)(2 * nmax + 1) * sizeof *xs), *ys = mem_xalloc((size_t)(2 * nmax + 1) * sizeof *ys);
    /* bands first, under everything: a pale polygon lo .. hi per unbroken stretch */
    for (int s = 0; s < pn->nlines; s++) {
        const FigLine *l = &pn->lines[s];
        if (!l->lo || !l->hi)
            continue;
        PLINT r, g, b;
        plgcol0(2 + slot(pn, s), &r, &g, &b);
        plscol0(15, (PLINT)(255 - 0.25 * (255 - r)), (PLINT)(255 - 0.25 * (255 - g)), (PLINT)(255 - 0.25 * (255 - b)));
        plcol0(15);
        int k = 0;
        for (int i = 0; i <= l->n; i++) {
            int ok = i < l->n && drawable(series_x(l, i), pn->logx) && drawable(series_at(l, l->lo, i), pn->logy) &&
                     drawable(series_at(l, l->hi, i), pn->logy);
            if (ok) {
                xs[k] = axis_value(series_x(l, i), pn->logx);
                ys[k] = axis_value(series_at(l, l->hi, i), pn->logy);
                k++;
                continue;
            }
            if (k >= 2) {
                /* back along the lower edge */
                for (int j = 0; j < k; j++) {
                    int src = i - 1 - j;
                    xs[k + j] = axis_value(series_x(l, src), pn->logx);
                    ys[k + j] = axis_value(series_at(l, l->lo, src), pn->logy);
                }
                plfill(2 * k, xs, ys);
            }
            k = 0;
        }
    }
    for (int s = 0; s < pn->nlines; s++) {
        const FigLine *l = &pn->lines[s];
        if (!l->err)
            continue;
        plcol0(2 + slot(pn, s));
        plwidth(1);
        for (int i = 0; i < l->n; i++)
            if (point_ok(pn, l, i) && drawable(series_at(l, l->err, i), 0)) {
                double y = series_y(l, i), e = series_at(l, l->err, i);
                PLFLT x = axis_value(series_x(l, i), pn->logx), y0 = y - e, y1 = y + e;
                if (!drawable(y0, pn->logy) || !drawable(y1, pn->logy))
                    continue;
                y0 = axis_value(y0, pn->logy);
                y1 = axis_value(y1, pn->logy);
                plerry(1, &x, &y0, &y1);
            }
    }
    for (int s = 0; s < pn->nlines; s++) {
        const FigLine *l = &pn->lines[s];
        const int pts = scatter || l->marker;
        int most = pts ? fr->max_markers : MAX_POINTS;
        int step = l->n > most ? (l->n + most - 1) / most : 1, k = 0;
        plcol0(2 + slot(pn, s));
        plwidth(1.5);
        if (pts)
            plschr(l->marker_mm > 0 ? l->marker_mm : MARKER_MM, 1.0);
        for (int i = 0; i <= l->n; i++) {
            if (point_ok(pn, l, i)) {
                if (i % step == 0 || !point_ok(pn, l, i - 1) || !point_ok(pn, l, i + 1)) {
                    xs[k] = axis_value(series_x(l, i), pn->logx);
                    ys[k] = axis_value(series_y(l, i), pn->logy);
                    double fx = (xs[k] - xlo) / (xhi - xlo), fy = (ys[k] - ylo) / (yhi - ylo);
                    int left = fx<leg_w, right = fx> 1 - leg_w,
                        low = fy<leg_h, high = fy> 1 - leg_h;
                    under[0] += high && right;
                    under[1] += high && left;
                    under[2] += low && right;
                    under[3] += low && left;
                    k++;
                }
                continue;
            }
            /* the end of an unbroken stretch: draw it (a lone point as a dot) */
            if (pts)
                plstring(k, xs, ys, marker[slot(pn, s)]);
            else if (k == 1)
                plstring(1, xs, ys, "•");
            else if (k > 1)
                plline(k, xs, ys);
            k = 0;
        }
        if (pts)
            plschr(TEXT_MM, 1.0);
    }
    if (labelled) {
        PLINT opts[MAX_LINES], colors[MAX_LINES], styles[MAX_LINES], text_colors[MAX_LINES],
            nsym[MAX_LINES];
        PLFLT widths[MAX_LINES], scales[MAX_LINES];
        const char *texts[MAX_LINES], *markers[MAX_LINES];
        for (int s = 0; s < pn->nlines; s++) {
            markers[s] = marker[slot(pn, s)];
            opts[s] = scatter || pn->lines[s].marker ? PL_LEGEND_SYMBOL : PL_LEGEND_LINE;
            colors[s] = 2 + slot(pn, s);
            styles[s] = 1;
            widths[s] = 1.5;
            text_colors[s] = 1;
            nsym[s] = 1;
            scales[s] = MARKER_MM / TEXT_MM;
            texts[s] = text(pn->lines[s].label);
        }
        /* the legend goes in the corner with the fewest points near it */
        static const PLINT where[4] = {
            PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
            PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};
        int best = 0;
        for (int c = 1; c < 4; c++)
            if (under[c] < under[best])
                best = c;
        PLFLT lw, lh;
        plwidth(1);
        pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                 where[best] | PL_POSITION_INSIDE, 0.02, 0.03, sample, 0, 1, 1, 0, 0, pn->nlines,
                 opts, 0.8, 0.85, 1.9, 0.0, text_colors, (PLCHAR_MATRIX)texts, NULL, NULL, NULL,
                 NULL, colors, styles, widths, colors, scales, nsym, (PLCHAR_MATRIX)markers);
    }
    mem_free(xs);
    mem_free(ys);
}

/* cmap1 through n stops (RGB 0..255) at positions pos (0 to 1). */
static void set_map(int n, const double (*rgb)[3], const PLFLT *pos)
{
    PLFLT r[11], g[11], b[11];
    for (int i = 0; i < n; i++) {
        r[i] = rgb[i][0] / 255;
        g[i] = rgb[i][1] / 255;
        b[i] = rgb[i][2] / 255;
    }
    plscmap1n(256);
    plscmap1l(1, n, pos, r, g, b, NULL);
}

static void sequential_map(void)
{
    PLFLT pos[11];
    for (int i = 0; i < 11; i++)
        pos[i] = i / 10.0;
    set_map(11, viridis, pos);
}

/* rdbu at t (0..1, white at 0.5), linearly between its stops. */
static void rdbu_at(double t, double rgb[3])
{
    int i = t >= 1 ? 3 : (int)(t * 4);
    double f = t * 4 - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = rdbu[i][c] + f * (rdbu[i + 1][c] - rdbu[i][c]);
}

/* The diverging map over the scale lo..hi: white at 0 and equal
 * magnitudes equally deep on either side, the deepest colour at
 * max(|lo|, |hi|); a scale that does not reach as far on one side shows
 * only the paler part of that side. */
static void diverging_map(double lo, double hi)
{
    double m = fmax(fabs(lo), fabs(hi)), stops[7][3];
    PLFLT pos[7];
    int n = 0;
    rdbu_at(0.5 + 0.5 * lo / m, stops[n]);
    pos[n++] = 0;
    for (int i = 1; i < 4; i++) {
        double p = ((i / 2.0 - 1) * m - lo) / (hi - lo); /* rdbu's stop i, along the scale */
        if (p > 0 && p < 1) {
            memcpy(stops[n], rdbu[i], sizeof stops[n]);
            pos[n++] = p;
        }
    }
    rdbu_at(0.5 + 0.5 * hi / m, stops[n]);
    pos[n++] = 1;
    set_map(n, (const double(*)[3])stops, pos);
}

/* FIG_HEATMAP into the current viewport, its colour bar to the right. */
static void draw_heatmap(const FigPanel *pn, const Frame *fr)
{
    int nx = pn->nx, ny = pn->ny, logz = pn->logz;
    /* the colour scale, in plotted units (log10 z with logz) */
    double lo = INFINITY, hi = -INFINITY, amax = 0;
    for (size_t c = 0; c < (size_t)nx * (size_t)ny; c++)
        if (drawable(pn->z[c], logz)) {
            double v = axis_value(pn->z[c], logz);
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            amax = fmax(amax, fabs(v));
        }
    if (!(lo <= hi))
        lo = 0, hi = 1, amax = 1; /* nothing to draw: an empty panel with a scale */
    if (pn->diverging && isnan(pn->zmin) && isnan(pn->zmax))
        lo = -amax, hi = amax;
    /* a bound that cannot be drawn (NaN, or <= 0 with logz) leaves that end to the data */
    if (drawable(pn->zmin, logz))
        lo = axis_value(pn->zmin, logz);
    if (drawable(pn->zmax, logz))
        hi = axis_value(pn->zmax, logz);
    if (!(hi > lo))
        pad_range(&lo, &hi, 0);
    if (logz)
        decade_range(&lo, &hi);

    /* cell edges: the centres run from x0 to x1 */
    double hx = (pn->x1 - pn->x0) / (nx - 1), hy = (pn->y1 - pn->y0) / (ny - 1);
    double ex0 = pn->x0 - hx / 2, ex1 = pn->x1 + hx / 2, ey0 = pn->y0 - hy / 2,
           ey1 = pn->y1 + hy / 2;
    int mx = nx > fr->max_cells ? fr->max_cells : nx, my = ny > fr->max_cells ? fr->max_cells : ny;
    /* plimagefr maps its (mx+1) x (my+1) points to the corners of mx x my
     * quadrilaterals spanning the extents, each coloured by the value at its
     * lower-left corner: one more row and column (copies, never drawn as
     * their own cells) make every cell its own quadrilateral */
    PLFLT **cell = mem_xalloc((size_t)(mx + 1) * sizeof *cell);
    PLFLT *buf = mem_xalloc((size_t)(mx + 1) * (size_t)(my + 1) * sizeof *buf);
    for (int jx = 0; jx <= mx; jx++) {
        int kx = jx < mx ? jx : mx - 1;
        int ix = mx == nx ? kx : (int)((kx + 0.5) * nx / mx);
        cell[jx] = buf + (size_t)jx * (size_t)(my + 1);
        for (int jy = 0; jy <= my; jy++) {
            int ky = jy < my ? jy : my - 1;
            int iy = my == ny ? ky : (int)((ky + 0.5) * ny / my);
            double v = pn->z[(size_t)iy * (size_t)nx + (size_t)ix];
            cell[jx][jy] = drawable(v, logz) ? axis_value(v, logz) : NAN; /* NaN: never drawn */
        }
    }
    if (pn->diverging)
        diverging_map(lo, hi);
    else
        sequential_map();
    plwind(ex0, ex1, ey0, ey1);
    /* every number is drawn: values beyond the scale take its end colours */
    plimagefr((PLFLT_MATRIX)cell, mx + 1, my + 1, ex0, ex1, ey0, ey1, -HUGE_VAL, HUGE_VAL, lo, hi, NULL,
              NULL);
    mem_free(cell);
    mem_free(buf);
    Axis ax[2] = {x_axis(ex0, ex1, 0, fr->box_w * fr->unit_mm), axis_ticks(ey0, ey1, 0, 6)};
    draw_box("bcinto", "bcintvo", ax); /* ticks outside, clear of the colours */
    panel_labels(pn, ax, fr, 1);

    /* the bar: BAR_GAP right of the box, BAR_W wide, as tall as the box,
     * ticked on its right (its axis is plbox's y axis) */
    ax[1] = axis_ticks(lo, hi, logz, 6);
    PLINT nvalues = 2;
    PLFLT range[2] = {lo, hi}, bw, bh;
    const PLFLT *values[1] = {range};
    char opt[16];
    snprintf(opt, sizeof opt, "bcmtvo%s", logz ? ax[1].minor ? "ls" : "l" : "");
    const char *opts[1] = {opt};
    plcolorbar(&bw, &bh, PL_COLORBAR_IMAGE | PL_COLORBAR_ORIENT_TOP,
               PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, BAR_GAP / fr->box_w,
               0, BAR_W / fr->box_w, 1, 0, 1, 1, 0, 0, 0, 0, 0, NULL, NULL, 1, (PLCHAR_MATRIX)opts,
               &ax[1].step, &ax[1].nsub, &nvalues, (PLFLT_MATRIX)values);
    /* zlabel along the bar beyond its tick labels (plcolorbar's own label
     * would run across the bar's side, taking the width of the text) */
    char label[512];
    PLFLT def, ht;
    plgchr(&def, &ht);
    double beyond_mm = (BAR_GAP / fr->box_w + bw) * fr->box_w * fr->unit_mm;
    axis_label(label, sizeof label, pn->zlabel, &ax[1]);
    plmtex("r", beyond_mm / ht + 1.3, 0.5, 0.5, label);
}

/* What PLplot would abort or crash on, and what figure.h rules out. */
static int check_panel(const char *path, const FigPanel *pn, int p, char *err, size_t errlen)
{
    if (pn->kind == FIG_HEATMAP) {
        if (!pn->z) {
            snprintf(err, errlen, "plot '%s': panel %d: a heatmap without z values", path, p);
            return -1;
        }
        if (pn->nx < 2 || pn->ny < 2) {
            snprintf(err, errlen, "plot '%s': panel %d: a heatmap needs nx, ny >= 2 (got %d x %d)",
                     path, p, pn->nx, pn->ny);
            return -1;
        }
        if (!isfinite(pn->x0) || !isfinite(pn->x1) || !isfinite(pn->y0) || !isfinite(pn->y1) ||
            pn->x0 == pn->x1 || pn->y0 == pn->y1) {
            snprintf(err, errlen,
                     "plot '%s': panel %d: the grid needs finite x0 != x1 and y0 != y1", path, p);
            return -1;
        }
        if (pn->zmin > pn->zmax || isinf(pn->zmin) || isinf(pn->zmax)) {
            snprintf(err, errlen, "plot '%s': panel %d: the colour scale %g..%g is not a range",
                     path, p, pn->zmin, pn->zmax);
            return -1;
        }
        return 0;
    }
    if (pn->kind != FIG_LINES && pn->kind != FIG_SCATTER) {
        snprintf(err, errlen, "plot '%s': panel %d: unknown kind %d", path, p, (int)pn->kind);
        return -1;
    }
    if (pn->nlines < 0 || pn->nlines > MAX_LINES) {
        snprintf(err, errlen, "plot '%s': panel %d: %d series (0 to %d)", path, p, pn->nlines,
                 MAX_LINES);
        return -1;
    }
    for (int s = 0; s < pn->nlines; s++) {
        const FigLine *l = &pn->lines[s];
        if (l->n < 0 || l->xstride < 0 || l->ystride < 0 || (l->n > 0 && (!l->x || !l->y))) {
            snprintf(err, errlen,
                     "plot '%s': panel %d, series %d: no values, or a negative count or stride",
                     path, p, s + 1);
            return -1;
        }
    }
    return 0;
}

int figure_draw(const char *path, const char *title, const FigPanel *panels, int npanels, int ncols,
                char *err, size_t errlen)
{
    if (!par_root())
        return 0; /* rank 0 draws the run's figures (runtime/par.h) */
    const char *dev = plot_device(path);
    if (!dev) {
        snprintf(err, errlen, "plot '%s': the name must end in .png, .svg or .pdf", path);
        return -1;
    }
    if (!panels || npanels < 1 || ncols < 1) {
        snprintf(err, errlen, "plot '%s': %d panels in %d columns: nothing to draw", path, npanels,
                 ncols);
        return -1;
    }
    for (int p = 0; p < npanels; p++)
        if (check_panel(path, &panels[p], p + 1, err, errlen) != 0)
            return -1;
    /* PLplot exits the process when it cannot open its file: find out first */
    if (io_check_writable(path, err, errlen) != 0 || pl_load(err, errlen) != 0)
        return -1;
    char *tmp = io_tmp_path(path);

    /* no empty columns: fewer panels than columns take only what they fill */
    int cols = ncols < npanels ? ncols : npanels, rows = (npanels + cols - 1) / cols;
    int top = title && *title ? TITLE_H : 0, width = cols * CELL_W, height = top + rows * CELL_H;
    int svg = strcmp(dev, "svg") == 0;
    PLINT caller, stream;
    plgstrm(&caller);
    plmkstrm(&stream);
    plsdev(dev);
    plsfnam(tmp);
    plspage(0, 0, width, height, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(1, 0, 0, 0); /* axes and text: black */
    for (int c = 0; c < MAX_LINES; c++)
        plscol0(2 + c, plot_rgb[c][0], plot_rgb[c][1], plot_rgb[c][2]);
    plinit();
    pladv(0);
    PLFLT sx0, sx1, sy0, sy1; /* the page in mm */
    plgspa(&sx0, &sx1, &sy0, &sy1);
    plschr(TEXT_MM, 1.0);
    plsmaj(TICK_MM, 1.0);
    plsmin(MINOR_MM, 1.0);
    if (top) {
        /* centred in its band: plmtex counts inward distances in character heights */
        PLFLT def, ht;
        plvpor(0, 1, 0, 1);
        plcol0(1);
        plschr(0, 1.3);
        plgchr(&def, &ht);
        plmtex("t", -(TITLE_H / 2.0) / height * (sy1 - sy0) / ht, 0.5, 0.5, title);
        plschr(0, 1.0);
    }
    for (int p = 0; p < npanels; p++) {
        const FigPanel *pn = &panels[p];
        int heat = pn->kind == FIG_HEATMAP, right = heat ? MARGIN_R_BAR : MARGIN_R;
        double x0 = (p % cols) * CELL_W,
               y0 = top + (p / cols) * CELL_H; /* the cell, from the top left */
        plvpor((x0 + MARGIN_L) / width, (x0 + CELL_W - right) / width,
               1 - (y0 + CELL_H - MARGIN_B) / height, 1 - (y0 + MARGIN_T) / height);
        int box_w = CELL_W - MARGIN_L - right;
        Frame fr = {box_w,
                    (double)(CELL_H - MARGIN_T - MARGIN_B) / box_w,
                    fmin(MARGIN_L, right) + box_w / 2.0,
                    (sx1 - sx0) / width,
                    svg ? MAX_SVG_CELLS : MAX_CELLS,
                    svg ? MAX_SVG_MARKERS : MAX_POINTS};
        if (heat)
            draw_heatmap(pn, &fr);
        else
            draw_xy(pn, pn->kind == FIG_SCATTER, &fr);
    }
    plend1();
    plsstrm(caller);
    int rc = 0;
    if (access(tmp, F_OK) != 0) {
        snprintf(err, errlen,
                 "plot '%s': PLplot wrote nothing (is the %s driver installed? "
                 "Debian package plplot-driver-cairo)",
                 path, dev);
        rc = -1;
    } else if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot create '%s'", path);
        remove(tmp);
        rc = -1;
    }
    mem_free(tmp);
    return rc;
}

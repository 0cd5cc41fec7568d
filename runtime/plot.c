/*
 * runtime/plot.c — panels of line plots through PLplot (see plot.h).
 *
 * Each figure is its own PLplot stream, so several figures can be drawn in
 * one run.  Long series are thinned to at most MAX_POINTS per line (every
 * k-th point, plus the last), which keeps SVG and PDF files small without
 * changing what the eye sees at figure resolution.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/plot.h"

#include <math.h>
#include "runtime/pl.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/par.h"

enum { MAX_POINTS = 8000 };

const char *plot_device(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    if (strcmp(dot, ".png") == 0)
        return "pngcairo";
    if (strcmp(dot, ".svg") == 0)
        return "svg";
    if (strcmp(dot, ".pdf") == 0)
        return "pdfcairo";
    return NULL;
}

/* cmap0 slots 2..7; plot_panels uses the first four */
const int plot_rgb[6][3] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44},
                            {90, 90, 90},   {255, 127, 14}, {148, 103, 189}};

int plot_panels(const char *path, const char *title, const char *xlabel, const double *x,
                int xstride, int npts, const PlotPanel *panels, int npanels, char *err,
                size_t errlen)
{
    if (!par_root())
        return 0; /* rank 0 draws the run's figures (runtime/par.h) */
    const char *dev = plot_device(path);
    if (!dev) {
        snprintf(err, errlen, "plot '%s': the name must end in .png, .svg or .pdf", path);
        return -1;
    }
    if (npts < 1) {
        snprintf(err, errlen, "plot '%s': nothing to draw", path);
        return -1;
    }
    /* PLplot exits the process when it cannot open its file: find out first */
    if (io_check_writable(path, err, errlen) != 0 || pl_load(err, errlen) != 0)
        return -1;
    size_t tlen = strlen(path) + 40;
    char *tmp = mem_xalloc(tlen);
    const char *dot = strrchr(path, '.');
    snprintf(tmp, tlen, "%.*s.tmp%ld%s", (int)(dot - path), path, (long)getpid(), dot);

    int step = npts > MAX_POINTS ? (npts + MAX_POINTS - 1) / MAX_POINTS : 1;
    int m = (npts - 1) / step + 1 + ((npts - 1) % step ? 1 : 0);
    PLFLT *xs = mem_xalloc((size_t)m * sizeof *xs), *ys = mem_xalloc((size_t)m * sizeof *ys);
    int k = 0;
    for (int i = 0; i < npts; i += step)
        xs[k++] = x[(size_t)i * (size_t)xstride];
    if (k < m)
        xs[k++] = x[(size_t)(npts - 1) * (size_t)xstride];

    PLINT stream;
    plmkstrm(&stream);
    plsdev(dev);
    plsfnam(tmp);
    char geometry[32]; /* the figure grows with its panels */
    snprintf(geometry, sizeof geometry, "1000x%d", npanels <= 2 ? 750 : 150 + 280 * npanels);
    plsetopt("geometry", geometry);
    plscolbg(255, 255, 255);
    plscol0(1, 0, 0, 0); /* axes and text: black */
    for (int c = 0; c < 4; c++)
        plscol0(2 + c, plot_rgb[c][0], plot_rgb[c][1], plot_rgb[c][2]);
    plssub(1, npanels);
    plinit();
    plschr(0, 0.9);
    double xmin = xs[0], xmax = xs[m - 1];
    if (xmax <= xmin)
        xmax = xmin + 1;
    for (int p = 0; p < npanels; p++) {
        const PlotPanel *pn = &panels[p];
        double ymin = INFINITY, ymax = -INFINITY;
        for (int s = 0; s < pn->nseries; s++)
            for (int i = 0; i < npts; i++) {
                double v = pn->series[s].y[(size_t)i * (size_t)pn->series[s].stride];
                if (isfinite(v)) {
                    ymin = fmin(ymin, v);
                    ymax = fmax(ymax, v);
                }
            }
        if (!(ymin <= ymax))
            ymin = -1, ymax = 1;
        double pad = (ymax - ymin) * 0.06;
        if (pad == 0)
            pad = fabs(ymax) > 0 ? fabs(ymax) * 0.1 : 1;
        pladv(0);
        plvpor(0.10, 0.95, 0.16, 0.88);
        plwind(xmin, xmax, ymin - pad, ymax + pad);
        plcol0(1);
        plwidth(1);
        plbox("bcnst", 0, 0, "bcnstv", 0, 0);
        pllab(p == npanels - 1 ? xlabel : "", pn->ylabel, p == 0 ? title : "");
        PLINT opts[4], colors[4], styles[4];
        PLFLT widths[4];
        const char *texts[4];
        for (int s = 0; s < pn->nseries; s++) {
            k = 0;
            for (int i = 0; i < npts; i += step)
                ys[k++] = pn->series[s].y[(size_t)i * (size_t)pn->series[s].stride];
            if (k < m)
                ys[k++] = pn->series[s].y[(size_t)(npts - 1) * (size_t)pn->series[s].stride];
            plcol0(2 + s);
            plwidth(1.5);
            /* the finite runs only (a trajectory that failed has NaN after) */
            for (int i = 0; i < k;) {
                while (i < k && !isfinite(ys[i]))
                    i++;
                int j = i;
                while (j < k && isfinite(ys[j]))
                    j++;
                if (j > i)
                    plline(j - i, xs + i, ys + i);
                i = j;
            }
            opts[s] = PL_LEGEND_LINE;
            colors[s] = 2 + s;
            styles[s] = 1;
            widths[s] = 1.5;
            texts[s] = pn->series[s].label;
        }
        PLFLT lw, lh;
        PLINT text_colors[4] = {1, 1, 1, 1};
        if (pn->nseries > 1 || (pn->nseries == 1 && strcmp(pn->series[0].label, pn->ylabel) != 0))
        pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                 PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.01, 0.02, 0.08, 0, 1,
                 1, 0, 0, pn->nseries, opts, 0.8, 0.8, 2.0, 0.0, text_colors,
                 (PLCHAR_MATRIX)texts, NULL, NULL, NULL, NULL, colors, styles, widths, NULL, NULL,
                 NULL, NULL);
    }
    plend1();
    mem_free(xs);
    mem_free(ys);
    int rc = 0;
    if (access(tmp, F_OK) != 0) {
        snprintf(err, errlen, "plot '%s': PLplot wrote nothing (is the %s driver installed? "
                 "Debian package plplot-driver-cairo)", path, dev);
        rc = -1;
    } else if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot create '%s'", path);
        remove(tmp);
        rc = -1;
    }
    mem_free(tmp);
    return rc;
}

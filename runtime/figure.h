/*
 * runtime/figure.h — multi-panel figures of mixed kinds through PLplot:
 * line plots, scatter plots and heatmaps with colour bars, laid out in a
 * grid of panels (row by row), each panel with its own title and labelled
 * axes.  For comparisons (compare) where runtime/plot.h's one column of
 * line panels sharing an x axis is not enough.
 *
 * The file type follows the name: .png (cairo), .svg, .pdf (cairo).  The
 * figure is drawn under a temporary name and renamed when complete, like
 * plot.h; a path that cannot be written is an error before PLplot starts.
 */
#ifndef LAG_FIGURE_H
#define LAG_FIGURE_H

#include <stddef.h>

typedef enum FigKind {
    FIG_LINES,    /* lines[]: curves y(x) */
    FIG_SCATTER,  /* lines[]: points (x, y), a marker each, no line */
    FIG_HEATMAP   /* z over a regular grid, with a colour bar */
} FigKind;

typedef struct FigLine {
    const char *label;   /* legend text (no legend when every label is NULL) */
    const double *x, *y; /* n values each, with strides xstride, ystride (0 means 1) */
    int n, xstride, ystride;
    int colour;          /* 1..6: that colour (and marker) of the palette, so a series keeps
                            it across panels; 0: by its position in the panel */
    int marker;          /* in a FIG_LINES panel: markers instead of a line (points beside curves) */
    const double *err;   /* or NULL: a vertical error bar y +- err[i] at each point (stride ystride) */
    const double *lo, *hi; /* or NULL: a shaded band lo .. hi under the series (stride ystride) */
    double marker_mm;    /* a marker's size in mm; 0: the usual (small dots for a cloud of points) */
} FigLine;

typedef struct FigPanel {
    FigKind kind;
    const char *title, *xlabel, *ylabel;
    /* FIG_LINES, FIG_SCATTER: up to 6 series; non-finite points are skipped
     * (a line is broken there); with logy (logx) the axis is log10 and
     * values <= 0 are skipped too */
    FigLine lines[6];
    int nlines;
    int logx, logy;
    /* FIG_HEATMAP: z[iy * nx + ix] at the cell centres x0 + ix (x1 - x0)/(nx - 1),
     * y0 + iy (y1 - y0)/(ny - 1) (nx, ny >= 2); non-finite cells are left
     * blank.  The colour scale runs from zmin to zmax (both NaN: the finite
     * data's range; a caller sharing one scale across panels passes the
     * same values to each), log10 with logz (cells <= 0 blank); the colour
     * bar beside the panel is labelled zlabel.  diverging: a blue-white-red
     * map centred on 0 (for signed differences), else a sequential map. */
    const double *z;
    int nx, ny;
    double x0, x1, y0, y1;
    double zmin, zmax;
    const char *zlabel;
    int logz, diverging;
} FigPanel;

/* Draw npanels panels in ncols columns (rows as needed; ncols larger than
 * npanels is reduced to npanels) under one title.  In a heatmap each NaN
 * bound is taken from the data on its own, a bound that cannot be drawn
 * (<= 0 with logz) is ignored, and values outside the scale take its end
 * colours; the diverging map's depth follows |z|, so a lopsided range is
 * paler on its short side.  Returns 0, or -1 with a message in err. */
int figure_draw(const char *path, const char *title, const FigPanel *panels, int npanels, int ncols, char *err,
                size_t errlen);

#endif

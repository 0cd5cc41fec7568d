/*
 * runtime/plot.h — figures through PLplot: a column of panels sharing one
 * x axis, white background, labelled axes, a legend in every panel.
 * The file type follows the name: .png (cairo), .svg, .pdf (cairo).  The
 * figure is drawn under a temporary name and renamed when complete.
 */
#ifndef LAG_PLOT_H
#define LAG_PLOT_H

#include <stddef.h>

typedef struct PlotSeries {
    const char *label;   /* legend text */
    const double *y;     /* npts values, with stride `stride` */
    int stride;
} PlotSeries;

typedef struct PlotPanel {
    const char *ylabel;
    PlotSeries series[4];
    int nseries;
} PlotPanel;

/* The PLplot device for a figure's file name (by its extension: .png,
 * .svg, .pdf), or NULL. */
const char *plot_device(const char *path);
/* The series colours on white, as RGB: blue, red, green, grey, orange,
 * purple (runtime/figure.c uses all six). */
extern const int plot_rgb[6][3];

/* Returns 0, or -1 with a message in err. */
int plot_panels(const char *path, const char *title, const char *xlabel, const double *x,
                int xstride, int npts, const PlotPanel *panels, int npanels, char *err,
                size_t errlen);

#endif

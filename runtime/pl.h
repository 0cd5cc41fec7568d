/*
 * runtime/pl.h — PLplot, loaded when the first figure is drawn.
 *
 * Linking libplplot (and through it freetype, libpng, qhull, shapelib and
 * more) cost every run of the program about 3 ms of start-up, figures or
 * not.  plot.c and figure.c include this header instead of <plplot.h>:
 * PLplot's names (plplot.h maps pladv to c_pladv) become calls through a
 * table of function pointers that pl_load fills, once, from dlopen of the
 * library configure found (LAG_PLPLOT_SONAME).
 */
#ifndef LAG_PL_H
#define LAG_PL_H

#include <stddef.h>

#include <plplot.h>

/* every PLplot function the program calls */
#define LAG_PL_FUNCS(X) \
    X(pladv) X(plbox) X(plcol0) X(plcolorbar) X(plend1) X(plerry) X(plfill) X(plgchr) X(plgcol0) \
    X(plgspa) X(plgstrm) X(plimagefr) X(plinit) X(pllab) X(pllegend) X(plline) X(plmkstrm) \
    X(plmtex) X(plschr) X(plscmap1l) X(plscmap1n) X(plscol0) X(plscolbg) X(plsdev) X(plsetopt) \
    X(plsfnam) X(plslabelfunc) X(plsmaj) X(plsmin) X(plspage) X(plsstrm) X(plssub) X(plstring) \
    X(plvpor) X(plwidth) X(plwind)

typedef struct LagPl {
#define LAG_PL_FIELD(f) __typeof__(c_##f) *f_##f;
    LAG_PL_FUNCS(LAG_PL_FIELD)
#undef LAG_PL_FIELD
} LagPl;

extern LagPl lag_pl;

/* Load PLplot (once): 0, or -1 with a message in err. */
int pl_load(char *err, size_t errlen);

#define c_pladv (*lag_pl.f_pladv)
#define c_plbox (*lag_pl.f_plbox)
#define c_plcol0 (*lag_pl.f_plcol0)
#define c_plcolorbar (*lag_pl.f_plcolorbar)
#define c_plend1 (*lag_pl.f_plend1)
#define c_plerry (*lag_pl.f_plerry)
#define c_plfill (*lag_pl.f_plfill)
#define c_plgchr (*lag_pl.f_plgchr)
#define c_plgcol0 (*lag_pl.f_plgcol0)
#define c_plgspa (*lag_pl.f_plgspa)
#define c_plgstrm (*lag_pl.f_plgstrm)
#define c_plimagefr (*lag_pl.f_plimagefr)
#define c_plinit (*lag_pl.f_plinit)
#define c_pllab (*lag_pl.f_pllab)
#define c_pllegend (*lag_pl.f_pllegend)
#define c_plline (*lag_pl.f_plline)
#define c_plmkstrm (*lag_pl.f_plmkstrm)
#define c_plmtex (*lag_pl.f_plmtex)
#define c_plschr (*lag_pl.f_plschr)
#define c_plscmap1l (*lag_pl.f_plscmap1l)
#define c_plscmap1n (*lag_pl.f_plscmap1n)
#define c_plscol0 (*lag_pl.f_plscol0)
#define c_plscolbg (*lag_pl.f_plscolbg)
#define c_plsdev (*lag_pl.f_plsdev)
#define c_plsetopt (*lag_pl.f_plsetopt)
#define c_plsfnam (*lag_pl.f_plsfnam)
#define c_plslabelfunc (*lag_pl.f_plslabelfunc)
#define c_plsmaj (*lag_pl.f_plsmaj)
#define c_plsmin (*lag_pl.f_plsmin)
#define c_plspage (*lag_pl.f_plspage)
#define c_plsstrm (*lag_pl.f_plsstrm)
#define c_plssub (*lag_pl.f_plssub)
#define c_plstring (*lag_pl.f_plstring)
#define c_plvpor (*lag_pl.f_plvpor)
#define c_plwidth (*lag_pl.f_plwidth)
#define c_plwind (*lag_pl.f_plwind)

#endif

/*
 * runtime/pl.c — PLplot loaded on first use (runtime/pl.h).
 */
#include "runtime/pl.h"

#include <dlfcn.h>
#include <stdio.h>

#include "config.h"

LagPl lag_pl;

int pl_load(char *err, size_t errlen)
{
    static int loaded;
    if (loaded)
        return 0;
    /* global, so that the drivers PLplot loads in turn find its symbols */
    void *h = dlopen(LAG_PLPLOT_SONAME, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        snprintf(err, errlen, "PLplot cannot be loaded (%s): %s", LAG_PLPLOT_SONAME, dlerror());
        return -1;
    }
#define LAG_PL_LOAD(f)                                                                             \
    if (!(*(void **)&lag_pl.f_##f = dlsym(h, "c_" #f))) {                                          \
        snprintf(err, errlen, "PLplot (%s) has no c_%s", LAG_PLPLOT_SONAME, #f);                    \
        return -1;                                                                                 \
    }
    LAG_PL_FUNCS(LAG_PL_LOAD)
#undef LAG_PL_LOAD
    loaded = 1;
    return 0;
}

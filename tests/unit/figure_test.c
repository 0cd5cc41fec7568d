/*
 * tests/unit/figure_test.c — multi-panel figures, runtime/figure.c (TAP).
 *
 * figure-0: tap.h's worst-error helper (as in every unit test).
 * figure-1: one panel of each kind (a heatmap of a known function with NaN
 *           cells, a logz heatmap, a diverging one, lines with a NaN gap
 *           on a log y axis, a scatter plot) in 3 columns, to PNG, SVG
 *           and PDF: the PNG's signature and its IHDR size against the
 *           layout (450 x 380 a panel, 40 for the title), the SVG a whole
 *           document holding every title, label and legend text passed.
 * figure-2: the layouts: 6 panels in 2 columns (4 heatmaps sharing one
 *           scale, lines, scatter); no title (no title band); more columns
 *           than panels (no empty columns).  What is left out, counted in
 *           SVG files against the same figure without it: a heatmap's NaN
 *           cells and, with logz, its cells <= 0 are not drawn (that many
 *           filled cells fewer); a NaN breaks a line, and so does a value
 *           <= 0 on a log axis (two stretches instead of one).
 * figure-3: bad input fails with a message and leaves no file: nx = 1,
 *           z NULL, zmin > zmax, 7 series, 0 panels, 0 columns, an
 *           unknown extension, a directory that does not exist.
 * figure-4: no temporary file is left in the directory.
 *
 * With FIGURE_KEEP=1 in the environment the directory of figures is kept
 * (its path printed as a TAP comment), to look at them.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/figure.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAP_SEED 0xF16E2E5ull
#include "tests/unit/tap.h"

static char dir[64];
/* every file the tests write successfully, no others */
static const char *const made[] = {"f1.png",   "f1.svg",     "f1.pdf",   "f2.png",
                                   "f3.png",   "f4.png",     "hole.svg", "full.svg",
                                   "zero.svg", "nozero.svg", "gaps.svg", "nogaps.svg", "all.svg", "edges.svg"};
enum {
    NMADE = sizeof made / sizeof *made
};

static const char *in_dir(const char *name)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s)
        s[n] = 0;
    if (len)
        *len = n;
    return s;
}

/* A PNG's size from its IHDR chunk (the first, right after the signature);
 * 0 when the file is not a PNG. */
static int png_size(const char *path, unsigned *w, unsigned *h)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    long n;
    unsigned char *s = (unsigned char *)slurp(path, &n);
    int ok = s && n > 33 && memcmp(s, sig, 8) == 0 && memcmp(s + 12, "IHDR", 4) == 0;
    if (ok) {
        *w = (unsigned)s[16] << 24 | (unsigned)s[17] << 16 | (unsigned)s[18] << 8 | s[19];
        *h = (unsigned)s[20] << 24 | (unsigned)s[21] << 16 | (unsigned)s[22] << 8 | s[23];
    }
    free(s);
    return ok;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* The text of every <text> element of an SVG file, decoded (PLplot's
 * driver writes each character as &#xNN;, superscripts as nested
 * <tspan>s), one element a line; NULL unless the file is a whole SVG
 * document: the XML prolog, <svg ...> opened, </svg> last, every <text>
 * closed. */
static char *svg_texts(const char *path)
{
    char *s = slurp(path, NULL);
    if (!s)
        return NULL;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
        s[--len] = 0;
    if (strncmp(s, "<?xml", 5) != 0 || !strstr(s, "<svg") || len < 6 ||
        strcmp(s + len - 6, "</svg>") != 0 || count(s, "<text") == 0 ||
        count(s, "<text") != count(s, "</text>")) {
        free(s);
        return NULL;
    }
    char *out = malloc(len + 1), *o = out;
    for (const char *p = strstr(s, "<text"); p; p = strstr(p, "<text")) {
        const char *end = strstr(p, "</text>");
        p = strchr(p, '>') + 1;
        int depth = 0; /* inside a tag's < > */
        for (; p < end; p++) {
            if (*p == '<' || *p == '>') {
                depth = *p == '<';
            } else if (depth) {
                continue;
            } else if (*p == '&') {
                unsigned c = 0;
                if (sscanf(p, "&#x%x;", &c) == 1 && c < 0x80)
                    *o++ = (char)c;
                else if (strncmp(p, "&amp;", 5) == 0)
                    *o++ = '&';
                else if (strncmp(p, "&lt;", 4) == 0)
                    *o++ = '<';
                else if (strncmp(p, "&gt;", 4) == 0)
                    *o++ = '>';
                else
                    *o++ = '?'; /* beyond ASCII: not needed here */
                p = strchr(p, ';');
            } else if (*p != '\n') {
                *o++ = *p;
            }
        }
        *o++ = '\n';
        p = end;
    }
    *o = 0;
    free(s);
    return out;
}

/* Each of the strings is the whole text of some <text> element. */
static int svg_has(const char *path, const char *const *strings, int n, char *missing, size_t mlen)
{
    char *t = svg_texts(path);
    if (!t) {
        snprintf(missing, mlen, "not a whole SVG document");
        return 0;
    }
    int ok = 1;
    for (int i = 0; ok && i < n; i++) {
        char line[256];
        snprintf(line, sizeof line, "\n%s\n", strings[i]);
        if (strncmp(t, line + 1, strlen(line + 1)) != 0 && !strstr(t, line)) {
            snprintf(missing, mlen, "'%s' missing", strings[i]);
            ok = 0;
        }
    }
    free(t);
    return ok;
}

/* The names in the directory other than the expected ones, as a list. */
static int strays(const char *const *expected, int n, char *list, size_t llen)
{
    DIR *d = opendir(dir);
    int bad = 0;
    list[0] = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int known = 0;
        for (int i = 0; i < n; i++)
            known |= strcmp(e->d_name, expected[i]) == 0;
        if (!known) {
            bad++;
            size_t l = strlen(list);
            snprintf(list + l, llen - l, " %s", e->d_name);
        }
    }
    if (d)
        closedir(d);
    return bad;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---------- the data ---------- */

enum {
    NX = 41,
    NY = 31,
    N = 200,
    NPT = 150
};
static double gauss[NX * NY], decay[NX * NY], dipole[NX * NY];
static double xs[N], ys[2][N], sx[NPT], sy[2][NPT];

static void make_data(void)
{
    for (int iy = 0; iy < NY; iy++)
        for (int ix = 0; ix < NX; ix++) {
            double x = -2 + 4.0 * ix / (NX - 1), y = -1.5 + 3.0 * iy / (NY - 1);
            int c = iy * NX + ix;
            gauss[c] = exp(-(x * x + y * y)) * cos(3 * x);
            /* a hole in the middle of the map: not computed */
            if (abs(ix - NX / 2) <= 3 && abs(iy - NY / 2) <= 2)
                gauss[c] = NAN;
            decay[c] = pow(10, -4 + 3.5 * exp(-(x * x + y * y) / 2)); /* 1e-4 .. 10^-0.5 */
            if (ix == 0 && iy == 0)
                decay[c] = 0; /* blank with logz */
            dipole[c] = x * exp(-(x * x + y * y));
        }
    for (int i = 0; i < N; i++) {
        xs[i] = 10.0 * i / (N - 1);
        ys[0][i] = exp(-xs[i]) + 1e-5;
        ys[1][i] = 1e-3 * (1 + 0.5 * sin(2 * xs[i]));
        if (i >= 80 && i < 90)
            ys[0][i] = NAN; /* a gap */
    }
    ys[1][150] = -1; /* not drawable on a log axis */
    for (int i = 0; i < NPT; i++) {
        sx[i] = uniform(0, 1);
        sy[0][i] = sx[i] + uniform(-0.1, 0.1);
        sy[1][i] = 1 - sx[i] + uniform(-0.1, 0.1);
    }
}

static FigPanel heatmap(const char *title, const double *z, const char *zlabel)
{
    return (FigPanel){.kind = FIG_HEATMAP,
                      .title = title,
                      .xlabel = "position x",
                      .ylabel = "momentum p",
                      .z = z,
                      .nx = NX,
                      .ny = NY,
                      .x0 = -2,
                      .x1 = 2,
                      .y0 = -1.5,
                      .y1 = 1.5,
                      .zmin = NAN,
                      .zmax = NAN,
                      .zlabel = zlabel};
}

static FigPanel lines_panel(void)
{
    return (FigPanel){
        .kind = FIG_LINES,
        .title = "decay of the energy error",
        .xlabel = "time t",
        .ylabel = "error |E - E0|",
        .nlines = 2,
        .logy = 1,
        .lines = {{"RK4 step h", xs, ys[0], N, 1, 1}, {"symplectic h/2", xs, ys[1], N, 1, 1}}};
}

static FigPanel scatter_panel(void)
{
    return (FigPanel){
        .kind = FIG_SCATTER,
        .title = "samples",
        .xlabel = "occupancy",
        .ylabel = "residual",
        .nlines = 2,
        .lines = {{"model A", sx, sy[0], NPT, 1, 1}, {"model B", sx, sy[1], NPT, 1, 1}}};
}

/* ---------- the tests ---------- */

static void figure_1(void)
{
    FigPanel p[5] = {heatmap("gaussian wave packet", gauss, "amplitude psi"),
                     heatmap("error map", decay, "error |a - a_ref|"),
                     heatmap("fit minus reference", dipole, "difference dL"), lines_panel(),
                     scatter_panel()};
    p[1].logz = 1;
    p[2].diverging = 1;
    char err[512] = "";
    const char *title = "comparison of five panels";
    int rc = figure_draw(in_dir("f1.png"), title, p, 5, 3, err, sizeof err);
    ok(rc == 0, "figure-1: five panels to PNG (%s)", rc ? err : "ok");
    unsigned w = 0, h = 0;
    int png = png_size(in_dir("f1.png"), &w, &h);
    ok(png, "figure-1: the PNG starts with the PNG signature and an IHDR chunk");
    ok(w == 3 * 450 && h == 40 + 2 * 380,
       "figure-1: PNG 3 x 2 cells under the title band: %u x %u (1350 x 800)", w, h);

    rc = figure_draw(in_dir("f1.svg"), title, p, 5, 3, err, sizeof err);
    ok(rc == 0, "figure-1: five panels to SVG (%s)", rc ? err : "ok");
    const char *want[] = {title,
                          "gaussian wave packet",
                          "error map",
                          "fit minus reference",
                          "decay of the energy error",
                          "samples",
                          "position x",
                          "momentum p",
                          "time t",
                          "error |E - E0|",
                          "occupancy",
                          "residual",
                          "amplitude psi",
                          "error |a - a_ref|",
                          "difference dL",
                          "RK4 step h",
                          "symplectic h/2",
                          "model A",
                          "model B"};
    char missing[128] = "";
    ok(svg_has(in_dir("f1.svg"), want, (int)(sizeof want / sizeof *want), missing, sizeof missing),
       "figure-1: the SVG is a whole document with every title, axis label, colour bar label and "
       "legend entry as text%s%s",
       *missing ? ": " : "", missing);

    rc = figure_draw(in_dir("f1.pdf"), title, p, 5, 3, err, sizeof err);
    char *pdf = slurp(in_dir("f1.pdf"), NULL);
    ok(rc == 0 && pdf && strncmp(pdf, "%PDF-", 5) == 0, "figure-1: and to PDF (%s)",
       rc ? err : "ok");
    free(pdf);
}

/* How many times what occurs in an SVG file: fill-rule= for each filled
 * shape, stroke="#RRGGBB" for each line (markers and text are filled). */
static int svg_count(const char *path, const char *what)
{
    char *s = slurp(path, NULL);
    int n = s ? count(s, what) : -1;
    free(s);
    return n;
}

static void figure_2(void)
{
    /* four maps on one scale (that of all four), then a line and a scatter panel */
    static double maps[4][NX * NY];
    double lo = INFINITY, hi = -INFINITY;
    for (int m = 0; m < 4; m++)
        for (int c = 0; c < NX * NY; c++) {
            maps[m][c] = (1 + 0.3 * m) * (isnan(gauss[c]) ? dipole[c] : gauss[c]);
            lo = fmin(lo, maps[m][c]);
            hi = fmax(hi, maps[m][c]);
        }
    static const char *names[4] = {"model 1", "model 2", "model 3", "model 4"};
    FigPanel p[6];
    for (int m = 0; m < 4; m++) {
        p[m] = heatmap(names[m], maps[m], "L");
        p[m].zmin = lo;
        p[m].zmax = hi;
    }
    p[4] = lines_panel();
    p[5] = scatter_panel();
    char err[512] = "";
    int rc = figure_draw(in_dir("f2.png"), "four models on one scale", p, 6, 2, err, sizeof err);
    unsigned w = 0, h = 0;
    int png = rc == 0 && png_size(in_dir("f2.png"), &w, &h);
    ok(png && w == 900 && h == 40 + 3 * 380,
       "figure-2: 6 panels in 2 columns: %u x %u (900 x 1180) %s", w, h, rc ? err : "");

    w = h = 0;
    rc = figure_draw(in_dir("f3.png"), NULL, p + 4, 1, 1, err, sizeof err);
    png = rc == 0 && png_size(in_dir("f3.png"), &w, &h);
    ok(png && w == 450 && h == 380,
       "figure-2: one panel, no title: no title band, %u x %u (450 x 380) %s", w, h, rc ? err : "");
    w = h = 0;
    rc = figure_draw(in_dir("f4.png"), "wide", p + 3, 3, 5, err, sizeof err);
    png = rc == 0 && png_size(in_dir("f4.png"), &w, &h);
    ok(png && w == 3 * 450 && h == 40 + 380,
       "figure-2: 3 panels in 5 columns take 3: %u x %u (1350 x 420) %s", w, h, rc ? err : "");

    /* the same map with and without its 7 x 5 hole of NaN cells */
    FigPanel a = heatmap("with a hole", gauss, "psi"), b = a;
    b.z = dipole;
    int ra = figure_draw(in_dir("hole.svg"), "t", &a, 1, 1, err, sizeof err);
    int rb = figure_draw(in_dir("full.svg"), "t", &b, 1, 1, err, sizeof err);
    int fa = svg_count(in_dir("hole.svg"), "fill-rule="),
        fb = svg_count(in_dir("full.svg"), "fill-rule=");
    ok(ra == 0 && rb == 0 && fb - fa == 7 * 5,
       "figure-2: the 35 NaN cells are left blank (%d filled shapes, %d without the hole)", fa, fb);

    /* every cell is its own shape, the last row and column included
     * (plimagefr colours the quadrilaterals between its points: without a
     * padding row and column those two would not be drawn at all, and
     * blanking them would change nothing): blanking them removes their
     * NX + NY - 1 cells (PLplot may split a clipped border cell in two, so
     * a few more shapes may go) */
    static double edged[NX * NY];
    for (int c = 0; c < NX * NY; c++)
        edged[c] = c % NX == NX - 1 || c / NX == NY - 1 ? NAN : dipole[c];
    a = heatmap("full", dipole, "psi");
    b = heatmap("full", edged, "psi");
    a.zmin = b.zmin = -1; /* one scale: the colour bar is the same shapes in both */
    a.zmax = b.zmax = 1;
    ra = figure_draw(in_dir("all.svg"), "t", &a, 1, 1, err, sizeof err);
    rb = figure_draw(in_dir("edges.svg"), "t", &b, 1, 1, err, sizeof err);
    fa = svg_count(in_dir("all.svg"), "fill-rule=");
    fb = svg_count(in_dir("edges.svg"), "fill-rule=");
    ok(ra == 0 && rb == 0 && fa - fb >= NX + NY - 1 && fa - fb <= NX + NY + 7,
       "figure-2: the last row and column are drawn (%d filled shapes, %d without them: %d fewer, want %d)", fa, fb,
       fa - fb, NX + NY - 1);

    /* logz: the one cell at 0 is blank; at 1e-3 it is drawn */
    static double lifted[NX * NY];
    memcpy(lifted, decay, sizeof lifted);
    lifted[0] = 1e-3;
    a = heatmap("zero", decay, "e");
    a.logz = 1;
    b = a;
    b.z = lifted;
    ra = figure_draw(in_dir("zero.svg"), "t", &a, 1, 1, err, sizeof err);
    rb = figure_draw(in_dir("nozero.svg"), "t", &b, 1, 1, err, sizeof err);
    fa = svg_count(in_dir("zero.svg"), "fill-rule=");
    fb = svg_count(in_dir("nozero.svg"), "fill-rule=");
    ok(ra == 0 && rb == 0 && fb - fa == 1,
       "figure-2: with logz the cell at 0 is left blank (%d filled shapes, %d at 1e-3)", fa, fb);

    /* the lines panel (a NaN gap in the blue curve, a -1 in the red one on
     * a log axis) against the same curves without them: one stroke each
     * for the legend's sample, then one per unbroken stretch */
    static double smooth[2][N];
    for (int i = 0; i < N; i++) {
        smooth[0][i] = exp(-xs[i]) + 1e-5;
        smooth[1][i] = 1e-3 * (1 + 0.5 * sin(2 * xs[i]));
    }
    a = lines_panel();
    b = a;
    b.lines[0].y = smooth[0];
    b.lines[1].y = smooth[1];
    ra = figure_draw(in_dir("gaps.svg"), "t", &a, 1, 1, err, sizeof err);
    rb = figure_draw(in_dir("nogaps.svg"), "t", &b, 1, 1, err, sizeof err);
    int blue = svg_count(in_dir("gaps.svg"), "stroke=\"#1F77B4\""),
        red = svg_count(in_dir("gaps.svg"), "stroke=\"#D62728\""),
        blue0 = svg_count(in_dir("nogaps.svg"), "stroke=\"#1F77B4\""),
        red0 = svg_count(in_dir("nogaps.svg"), "stroke=\"#D62728\"");
    ok(ra == 0 && rb == 0 && blue == 3 && red == 3 && blue0 == 2 && red0 == 2,
       "figure-2: the NaN and the value <= 0 on the log axis break their lines: %d and %d strokes "
       "(%d and %d without)",
       blue, red, blue0, red0);
}

/* figure_draw(path, ...) fails with a message holding what, and no file. */
static void fails(const char *name, const char *path, const FigPanel *p, int np, int ncols,
                  const char *what)
{
    char err[512] = "";
    int rc = figure_draw(path, "bad", p, np, ncols, err, sizeof err);
    ok(rc == -1 && strstr(err, what) != NULL && !exists(path), "figure-3: %s: -1, \"%s\"", name,
       err);
}

static void figure_3(void)
{
    FigPanel h = heatmap("h", gauss, "z"), l = lines_panel();
    h.nx = 1;
    fails("nx = 1", in_dir("nx.png"), &h, 1, 1, "nx, ny >= 2");
    h = heatmap("h", NULL, "z");
    fails("z NULL", in_dir("z.png"), &h, 1, 1, "without z");
    h = heatmap("h", gauss, "z");
    h.zmin = 2;
    h.zmax = 1;
    fails("zmin > zmax", in_dir("zr.svg"), &h, 1, 1, "not a range");
    l.nlines = 7;
    fails("7 series", in_dir("l7.png"), &l, 1, 1, "7 series");
    l = lines_panel();
    fails("no panels", in_dir("n0.png"), &l, 0, 1, "nothing to draw");
    fails("no columns", in_dir("c0.png"), &l, 1, 0, "nothing to draw");
    fails("a .txt name", in_dir("f.txt"), &l, 1, 1, ".png, .svg or .pdf");
    fails("a missing directory", "/nonexistent/dir/f.png", &l, 1, 1, "/nonexistent/dir/f.png");
}

static void figure_4(void)
{
    char list[512];
    int n = strays(made, NMADE, list, sizeof list);
    ok(n == 0, "figure-4: nothing but the figures in the directory%s%s", n ? ":" : "", list);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", "/tmp/figure_testXXXXXX");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: cannot create a directory in /tmp\n");
        return 1;
    }
    printf("1..23\n");
    ok(worst_selfcheck(), "figure-0 the worst-error helper latches a NaN or an infinity");
    make_data();
    figure_1();
    figure_2();
    figure_3();
    figure_4();
    const char *keep = getenv("FIGURE_KEEP");
    if (keep && strcmp(keep, "1") == 0) {
        printf("# figures kept in %s\n", dir);
    } else {
        for (int i = 0; i < NMADE; i++)
            remove(in_dir(made[i]));
        rmdir(dir);
    }
    return 0;
}

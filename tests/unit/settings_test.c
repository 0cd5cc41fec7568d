/*
 * tests/unit/settings_test.c — the settings tables of lang/settings.c
 * against docs/language.md (TAP): each job kind's table, printed from the
 * code, must appear in the docs as it is.  `settings_test --print` prints
 * the tables to paste into the docs after a change.
 *
 * Environment: srcdir (the source tree; default .).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/settings.h"

static int test_no;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++test_no);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char buf[4096];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = 2 * (len + got + 1);
            text = realloc(text, cap);
            if (!text)
                abort();
        }
        memcpy(text + len, buf, got);
        len += got;
    }
    fclose(f);
    if (text)
        text[len] = 0;
    return text;
}

static char *table(int kind)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        abort();
    settings_print_table(out, kind);
    fclose(out);
    return text;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        for (int k = 0; k < SETTINGS_KINDS; k++) {
            char *t = table(k);
            printf("%s\n", t);
            free(t);
        }
        return 0;
    }
    const char *srcdir = getenv("srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/language.md", srcdir ? srcdir : ".");
    char *doc = slurp(path);
    if (!doc) {
        printf("Bail out! cannot read %s\n", path);
        return 1;
    }
    printf("1..%d\n", SETTINGS_KINDS + 2);
    for (int k = 0; k < SETTINGS_KINDS; k++) {
        char *t = table(k);
        ok(strstr(doc, t) != NULL, "settings-1.%d the %s settings in docs/language.md are the table's "
           "(regenerate with tests/unit/settings_test --print)", k + 1, settings_job(k)->name);
        free(t);
    }
    /* every default a driver reads as a number is a finite number, and the
     * docs show that number */
    int good = 1;
    for (int k = 0; k < SETTINGS_KINDS; k++) {
        const JobSpec *j = settings_job(k);
        for (int i = 0; i < j->nspecs; i++) {
            const SettingSpec *sp = &j->specs[i];
            if (!isnan(sp->dflt)) {
                char *end;
                double shown = strtod(sp->dflt_text, &end);
                if (!isfinite(sp->dflt) || *end || shown != sp->dflt) {
                    printf("# %s %s: default %g shown as '%s'\n", j->name, sp->name, sp->dflt, sp->dflt_text);
                    good = 0;
                }
            }
            if (sp->required && !isnan(sp->dflt)) {
                printf("# %s %s: required and with a default\n", j->name, sp->name);
                good = 0;
            }
        }
    }
    ok(good, "settings-2.1 numeric defaults are finite and shown as they are");
    /* no setting twice in a table */
    good = 1;
    for (int k = 0; k < SETTINGS_KINDS; k++) {
        const JobSpec *j = settings_job(k);
        for (int a = 0; a < j->nspecs; a++)
            for (int b = a + 1; b < j->nspecs; b++)
                good &= strcmp(j->specs[a].name, j->specs[b].name) != 0;
    }
    ok(good, "settings-2.2 no setting is listed twice for a job kind");
    free(doc);
    return 0;
}

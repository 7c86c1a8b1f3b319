/* Report figures with PLplot (plot.h). PLplot reports fatal errors by calling exit(), and
 * its cairo driver keeps font caches for the life of the process, so the drawing runs in
 * a child process: the library's caller never exits, and a failure comes back as a
 * message through a pipe. */
#include "plot.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mw_engine.h"

int mw_plot_check_out(const char *out, char *msg, size_t msg_len)
{
    const char *dot = strrchr(out, '.');
    if (!dot || (strcmp(dot, ".png") != 0 && strcmp(dot, ".svg") != 0)) {
        snprintf(msg, msg_len, "--out %s: the name must end in .png or .svg", out);
        return 1;
    }
    char *copy = strdup(out);
    if (!copy) {
        snprintf(msg, msg_len, "out of memory");
        return 1;
    }
    const char *dir = dirname(copy);
    struct stat sb;
    int rc = 0;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        rc = snprintf(msg, msg_len, "--out %s: directory %s does not exist", out, dir) > 0;
    else if (access(dir, W_OK) != 0)
        rc = snprintf(msg, msg_len, "--out %s: directory %s is not writable", out, dir) > 0;
    free(copy);
    return rc;
}

/* ---- the data: median rel_l2 per (dtype, method, depth) ---- */

enum { MAX_DEPTHS = 64, N_METHODS = 6 };

static const char *const methods[N_METHODS] = {"backprop",    "forward",  "projforward",
                                               "revbackprop", "moonwalk", "mixed"};

typedef struct series {
    int n;
    double x[MAX_DEPTHS], y[MAX_DEPTHS]; /* log10 depth, log10 median rel_l2 */
} series;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The median over the report's complete runs of (dtype, method) at each of its depths,
 * on log scales. */
static void collect(const mw_report *r, const char *dtype, const char *method, series *s,
                    double *scratch)
{
    int depths[MAX_DEPTHS], nd = 0;
    for (size_t i = 0; i < r->n_networks; i++) {
        int d = r->networks[i].spec.depth, seen = 0;
        for (int k = 0; k < nd; k++)
            seen |= depths[k] == d;
        if (!seen && nd < MAX_DEPTHS)
            depths[nd++] = d;
    }
    qsort(depths, (size_t)nd, sizeof *depths, cmp_int);
    s->n = 0;
    for (int k = 0; k < nd; k++) {
        size_t m = 0;
        for (size_t i = 0; i < r->n_runs; i++) {
            const mw_report_run *run = &r->runs[i];
            const mw_report_network *net = mw_report_network_at(r, run->network);
            const mw_report_step *st = mw_report_last_step(run);
            if (net && st && net->spec.depth == depths[k] && strcmp(run->dtype, dtype) == 0 &&
                strcmp(run->method, method) == 0 && strcmp(run->status, "complete") == 0 &&
                isfinite(st->rel_l2) && st->rel_l2 > 0)
                scratch[m++] = st->rel_l2;
        }
        if (!m)
            continue;
        qsort(scratch, m, sizeof *scratch, cmp_double);
        double med = m % 2 ? scratch[m / 2] : sqrt(scratch[m / 2 - 1] * scratch[m / 2]);
        s->x[s->n] = log10((double)depths[k]);
        s->y[s->n++] = log10(med);
    }
}

/* ---- drawing, in the child ---- */

static int report_fd = -1;

static int on_plplot_exit(PLCHAR_VECTOR message)
{
    if (report_fd >= 0 && message) {
        ssize_t ignored = write(report_fd, message, strlen(message));
        (void)ignored;
    }
    _exit(3); /* before PLplot's own exit, and without the process's exit handlers */
}

/* Labels of the y axis, which runs in log10 units: 1e-8 and so on. */
static void decade_label(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    (void)axis, (void)data;
    snprintf(label, (size_t)length, "1e%.0f", value);
}

/* The depths themselves as labels under a log axis. */
static void depth_labels(double xmin, double xmax, const series all[2][N_METHODS])
{
    double seen[MAX_DEPTHS];
    int n = 0;
    for (int t = 0; t < 2; t++)
        for (int m = 0; m < N_METHODS; m++)
            for (int k = 0; k < all[t][m].n; k++) {
                int dup = 0;
                for (int q = 0; q < n; q++)
                    dup |= seen[q] == all[t][m].x[k];
                if (!dup && n < MAX_DEPTHS)
                    seen[n++] = all[t][m].x[k];
            }
    for (int q = 0; q < n; q++) {
        char label[16];
        snprintf(label, sizeof label, "%.0f", pow(10.0, seen[q]));
        plmtex("b", 1.6, (seen[q] - xmin) / (xmax - xmin), 0.5, label);
    }
}

static void draw(const series all[2][N_METHODS], const char *device, const char *path,
                 double ymin, double ymax, double xmin, double xmax)
{
    /* white page, black ink, one colour per method */
    static const PLINT red[8] = {255, 0, 31, 255, 44, 214, 148, 140};
    static const PLINT green[8] = {255, 0, 119, 127, 160, 39, 103, 86};
    static const PLINT blue[8] = {255, 0, 180, 14, 44, 40, 189, 75};
    static const char *const glyph[N_METHODS] = {"#(840)", "#(841)", "#(842)",
                                                 "#(843)", "#(844)", "#(845)"};
    plsexit(on_plplot_exit);
    plsdev(device);
    plsfnam(path);
    plscmap0(red, green, blue, 8);
    plspage(0.0, 0.0, 1500, 600, 0, 0);
    plssub(2, 1);
    plinit();
    plslabelfunc(decade_label, NULL);
    /* at most about eight labelled decades */
    double ytick = ceil((ymax - ymin) / 8.0);
    for (int t = 0; t < 2; t++) {
        pladv(0);
        plschr(0.0, 0.85);
        plvpor(0.17, t == 0 ? 0.95 : 0.72, 0.16, 0.88);
        plwind(xmin, xmax, ymin, ymax);
        plcol0(1);
        plwidth(1.0);
        plbox("bcst", 0.0, 0, "bcnostv", ytick, (PLINT)ytick);
        depth_labels(xmin, xmax, all);
        plmtex("b", 3.2, 0.5, 0.5, "depth (coupling layers)");
        plmtex("l", 5.0, 0.5, 0.5, "rel_l2 against gold");
        plmtex("t", 1.5, 0.5, 0.5,
               t == 0 ? "float32: median over cells" : "float64: median over cells");
        PLINT opt[N_METHODS], colors[N_METHODS], styles[N_METHODS], numbers[N_METHODS];
        PLFLT widths[N_METHODS], scales[N_METHODS];
        const char *symbols[N_METHODS], *text[N_METHODS];
        for (int m = 0; m < N_METHODS; m++) {
            const series *s = &all[t][m];
            plcol0(2 + m);
            plwidth(2.0);
            if (s->n > 1)
                plline(s->n, s->x, s->y);
            if (s->n > 0)
                plstring(s->n, s->x, s->y, glyph[m]);
            opt[m] = PL_LEGEND_LINE | PL_LEGEND_SYMBOL;
            colors[m] = 2 + m;
            styles[m] = 1;
            widths[m] = 2.0;
            scales[m] = 1.0;
            numbers[m] = 1;
            symbols[m] = glyph[m];
            text[m] = methods[m];
        }
        plcol0(1);
        plwidth(1.0);
        if (t == 1) { /* one legend, right of the second panel */
            PLFLT lw, lh;
            pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                     PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.03, 0.0, 0.06, 0, 1, 1, 0, 0,
                     N_METHODS, opt, 0.8, 0.8, 2.0, 0.0, colors, text, NULL, NULL, NULL, NULL,
                     colors, styles, widths, colors, scales, numbers, symbols);
        }
    }
    plend();
}

int mw_report_plot(const mw_report *r, const char *out, char *msg, size_t msg_len)
{
    static const char *const dtypes[2] = {"f32", "f64"};
    series all[2][N_METHODS];
    double *scratch = malloc((r->n_runs ? r->n_runs : 1) * sizeof *scratch);
    if (!scratch) {
        snprintf(msg, msg_len, "out of memory");
        return 1;
    }
    double ymin = INFINITY, ymax = -INFINITY, xmin = INFINITY, xmax = -INFINITY;
    int points = 0;
    for (int t = 0; t < 2; t++)
        for (int m = 0; m < N_METHODS; m++) {
            collect(r, dtypes[t], methods[m], &all[t][m], scratch);
            for (int k = 0; k < all[t][m].n; k++) {
                ymin = fmin(ymin, all[t][m].y[k]), ymax = fmax(ymax, all[t][m].y[k]);
                xmin = fmin(xmin, all[t][m].x[k]), xmax = fmax(xmax, all[t][m].x[k]);
                points++;
            }
        }
    free(scratch);
    if (points == 0) {
        snprintf(msg, msg_len, "%s has no complete run with an error to plot", r->path);
        return 2;
    }
    /* whole decades on y, a margin on x */
    ymin = floor(ymin) - 0.0, ymax = ceil(ymax) + (ceil(ymax) == ymax ? 1.0 : 0.0);
    double pad = xmax > xmin ? 0.05 * (xmax - xmin) : 0.3;
    xmin -= pad, xmax += pad;

    const char *dot = strrchr(out, '.');
    const char *device = dot && strcmp(dot, ".svg") == 0 ? "svgcairo" : "pngcairo";
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(msg, msg_len, "--out %s: path too long", out);
        return 1;
    }
    int p[2];
    if (pipe(p) != 0) {
        snprintf(msg, msg_len, "cannot create a pipe: %s", strerror(errno));
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        snprintf(msg, msg_len, "cannot fork the plotting process: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        dup2(p[1], 2); /* PLplot's warnings come back as the message */
        draw((const series(*)[N_METHODS])all, device, tmp, ymin, ymax, xmin, xmax);
        _exit(0);
    }
    close(p[1]);
    char said[512] = "";
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof said && (k = read(p[0], said + got, sizeof said - 1 - got)) > 0)
        got += (size_t)k;
    said[got] = '\0';
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    struct stat sb;
    int drawn = WIFEXITED(status) && WEXITSTATUS(status) == 0 && stat(tmp, &sb) == 0 &&
                sb.st_size > 0;
    if (!drawn || rename(tmp, out) != 0) {
        unlink(tmp);
        said[strcspn(said, "\n")] = '\0';
        snprintf(msg, msg_len, "PLplot could not draw %s%s%s", out, said[0] ? ": " : "", said);
        return 1;
    }
    return 0;
}

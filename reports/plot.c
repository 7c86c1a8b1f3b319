/* Report figures with PLplot (plot.h). PLplot reports fatal errors by calling exit(), and
 * its cairo driver keeps font caches for the life of the process, so the drawing runs in
 * a child process: the library's caller never exits, and a failure comes back as a
 * message through a pipe. */
#include "plot.h"
#include "h5util.h"

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

mw_status mw_plot_check_out(const char *out, mw_err *err)
{
    const char *dot = strrchr(out, '.');
    if (!dot || (strcmp(dot, ".png") != 0 && strcmp(dot, ".svg") != 0))
        return mw_err_set(err, MW_ERR_ARG, "--out %s: the name must end in .png or .svg", out);
    char *copy = strdup(out);
    if (!copy)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    const char *dir = dirname(copy);
    struct stat sb;
    mw_status st = MW_OK;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        st = mw_err_set(err, MW_ERR_ARG, "--out %s: directory %s does not exist", out, dir);
    else if (access(dir, W_OK) != 0)
        st = mw_err_set(err, MW_ERR_ARG, "--out %s: directory %s is not writable", out, dir);
    else if (lstat(out, &sb) == 0 && !S_ISREG(sb.st_mode))
        st = mw_err_set(err, MW_ERR_ARG, "--out %s: not a regular file (a symlink, device, pipe "
                        "or directory); a figure replaces only a regular file", out);
    else
        st = h5u_claim("--out", out, err);
    free(copy);
    return st;
}

/* ---- the data: median rel_l2 per (dtype, method, depth) ---- */

enum { MAX_DEPTHS = 64, N_METHODS = MW_N_METHODS };

typedef struct series {
    int n;
    double x[MAX_DEPTHS], y[MAX_DEPTHS]; /* log10 depth, log10 median rel_l2 */
} series;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The median over the report's complete runs of (dtype, method) at each of its depths,
 * on log scales. */
static void collect(const mw_report *r, mw_dtype dtype, mw_method method, series *s,
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
            if (net && st && net->spec.depth == depths[k] && run->dtype == dtype &&
                run->method == method && run->status == MW_RUN_COMPLETE &&
                isfinite(st->vs.rel_l2) && st->vs.rel_l2 > 0)
                scratch[m++] = st->vs.rel_l2;
        }
        if (!m)
            continue;
        qsort(scratch, m, sizeof *scratch, mw_cmp_double);
        double med = m % 2 ? scratch[m / 2] : sqrt(scratch[m / 2 - 1] * scratch[m / 2]);
        s->x[s->n] = log10((double)depths[k]);
        s->y[s->n++] = log10(med);
    }
}

/* ---- drawing, in the child ---- */

/* Labels of the y axis, which runs in log10 units: 1e-8 and so on. */
static void decade_label(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    (void)axis, (void)data;
    snprintf(label, (size_t)length, "1e%.0f", value);
}

static int report_fd = -1;

static const char *const glyph[N_METHODS] = {"#(840)", "#(841)", "#(842)",
                                             "#(843)", "#(844)", "#(845)"};

static int on_plplot_exit(PLCHAR_VECTOR message)
{
    if (report_fd >= 0 && message) {
        ssize_t ignored = write(report_fd, message, strlen(message));
        (void)ignored;
    }
    _exit(3); /* before PLplot's own exit, and without the process's exit handlers */
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

typedef struct gradcheck_args {
    series (*all)[N_METHODS];
    double ymin, ymax, xmin, xmax;
    /* the diagnosis: float32 runs' log10 measured (x) and predicted (y) error, per method */
    int n_diag[N_METHODS];
    double *dx[N_METHODS], *dy[N_METHODS];
    double dmin, dmax;
} gradcheck_args;

/* The page: white, black ink, a colour per method and a pale one for its band. */
static void page(const char *device, const char *path, PLINT width, PLINT height, PLINT nx,
                 PLINT ny)
{
    static const PLINT red[15] = {255, 0, 31, 255, 44, 214, 148, 140,
                                  199, 255, 190, 247, 224, 216, 120};
    static const PLINT green[15] = {255, 0, 119, 127, 160, 39, 103, 86,
                                    219, 221, 230, 200, 208, 204, 120};
    static const PLINT blue[15] = {255, 0, 180, 14, 44, 40, 189, 75,
                                   237, 191, 190, 199, 236, 198, 120};
    plsexit(on_plplot_exit);
    plsdev(device);
    plsfnam(path);
    plscmap0(red, green, blue, 15);
    plspage(0.0, 0.0, width, height, 0, 0);
    plssub(nx, ny);
    plinit();
    plslabelfunc(decade_label, NULL);
}

/* A legend of the methods, right of the current panel; with_reference adds the
 * float64 reference trajectory (grey). */
static void method_legend(int with_reference)
{
    PLINT opt[N_METHODS + 1], colors[N_METHODS + 1], styles[N_METHODS + 1], numbers[N_METHODS + 1];
    PLFLT widths[N_METHODS + 1], scales[N_METHODS + 1];
    const char *symbols[N_METHODS + 1], *text[N_METHODS + 1];
    int n = 0;
    for (int m = 0; m < N_METHODS; m++, n++) {
        opt[n] = PL_LEGEND_LINE | PL_LEGEND_SYMBOL;
        colors[n] = 2 + m, styles[n] = 1, widths[n] = 2.0, scales[n] = 1.0, numbers[n] = 1;
        symbols[n] = glyph[m], text[n] = mw_method_name((mw_method)m);
    }
    if (with_reference) {
        opt[n] = PL_LEGEND_LINE;
        colors[n] = 14, styles[n] = 2, widths[n] = 2.0, scales[n] = 1.0, numbers[n] = 0;
        symbols[n] = "", text[n] = "reference";
        n++;
    }
    PLFLT lw, lh;
    pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.03, 0.0, 0.06, 0, 1, 1, 0, 0, n, opt, 0.8,
             0.8, 2.0, 0.0, colors, text, NULL, NULL, NULL, NULL, colors, styles, widths, colors,
             scales, numbers, symbols);
}

/* Predicted against measured error, log-log, with y = x and a factor of 10 either side. */
static void draw_diagnosis(const gradcheck_args *ga)
{
    const double lo = ga->dmin, hi = ga->dmax;
    pladv(0);
    plschr(0.0, 0.85);
    plvpor(0.17, 0.62, 0.16, 0.88);
    plwind(lo, hi, lo, hi);
    plcol0(1);
    plwidth(1.0);
    const double tick = ceil((hi - lo) / 4.0);
    plbox("bcnost", tick, (PLINT)tick, "bcnostv", tick, (PLINT)tick);
    plmtex("b", 3.2, 0.5, 0.5, "measured rel_l2 against gold");
    plmtex("l", 5.0, 0.5, 0.5, "predicted, without gold");
    plmtex("t", 1.5, 0.5, 0.5, "float32: predicted error");
    PLFLT x[2] = {lo, hi}, y[2];
    for (int band = -1; band <= 1; band++) {
        y[0] = lo + band, y[1] = hi + band;
        pllsty(band ? 2 : 1);
        plcol0(14);
        plline(2, x, y);
    }
    pllsty(1);
    for (int m = 0; m < N_METHODS; m++)
        if (ga->n_diag[m]) {
            plcol0(2 + m);
            plstring(ga->n_diag[m], ga->dx[m], ga->dy[m], glyph[m]);
        }
    plcol0(1);
}

static void draw_gradcheck(const char *device, const char *path, void *argp)
{
    const gradcheck_args *ga = argp;
    const series(*all)[N_METHODS] = (const series(*)[N_METHODS])ga->all;
    double ymin = ga->ymin, ymax = ga->ymax, xmin = ga->xmin, xmax = ga->xmax;
    int diag = 0;
    for (int m = 0; m < N_METHODS; m++)
        diag += ga->n_diag[m];
    page(device, path, diag ? 2100 : 1500, 600, diag ? 3 : 2, 1);
    /* at most about eight labelled decades */
    double ytick = ceil((ymax - ymin) / 8.0);
    for (int t = 0; t < 2; t++) {
        pladv(0);
        plschr(0.0, 0.85);
        plvpor(0.17, t == 0 || diag ? 0.95 : 0.72, 0.16, 0.88);
        plwind(xmin, xmax, ymin, ymax);
        plcol0(1);
        plwidth(1.0);
        plbox("bcst", 0.0, 0, "bcnostv", ytick, (PLINT)ytick);
        depth_labels(xmin, xmax, all);
        plmtex("b", 3.2, 0.5, 0.5, "depth (coupling layers)");
        plmtex("l", 5.0, 0.5, 0.5, "rel_l2 against gold");
        plmtex("t", 1.5, 0.5, 0.5,
               t == 0 ? "float32: median over cells" : "float64: median over cells");
        for (int m = 0; m < N_METHODS; m++) {
            const series *s = &all[t][m];
            plcol0(2 + m);
            plwidth(2.0);
            if (s->n > 1)
                plline(s->n, s->x, s->y);
            if (s->n > 0)
                plstring(s->n, s->x, s->y, glyph[m]);
        }
        plcol0(1);
        plwidth(1.0);
    }
    if (diag)
        draw_diagnosis(ga);
    method_legend(0); /* one legend, right of the last panel */
    plend();
}

/* Whether a figure file is complete: a PNG's chunks run, each within the file, to its IEND
 * chunk at the very end; an SVG ends with its closing tag. */
static mw_status figure_whole(const char *path, int svg, mw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mw_err_set(err, MW_ERR_IO, "cannot read back %s: %s", path, strerror(errno));
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    int whole = 0;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size > 0 && svg) {
        char tail[64] = "";
        long from = size > 32 ? size - 32 : 0;
        size_t k = fseek(f, from, SEEK_SET) == 0 ? fread(tail, 1, sizeof tail - 1, f) : 0;
        tail[k] = '\0';
        whole = strstr(tail, "</svg>") != NULL;
    } else if (size > 8 && fseek(f, 0, SEEK_SET) == 0 && fread(head, 1, 8, f) == 8 &&
               memcmp(head, sig, 8) == 0) {
        long at = 8;
        unsigned char c[8];
        while (at + 12 <= size && fseek(f, at, SEEK_SET) == 0 && fread(c, 1, 8, f) == 8) {
            long len = (long)((unsigned long)c[0] << 24 | (unsigned long)c[1] << 16 |
                              (unsigned long)c[2] << 8 | c[3]);
            if (len < 0 || len > size - at - 12)
                break;
            at += 12 + len;
            if (memcmp(c + 4, "IEND", 4) == 0) {
                whole = at == size;
                break;
            }
        }
    }
    fclose(f);
    return whole ? MW_OK
                 : mw_err_set(err, MW_ERR_IO, "the figure came out incomplete (%ld bytes; a full "
                              "disk?), nothing was replaced", size);
}

/* Draw into a temporary file in a child process, then move it into place once whole. */
static int draw_in_child(const char *out, void (*draw)(const char *, const char *, void *),
                         void *arg, mw_err *err)
{
    const char *dot = strrchr(out, '.');
    const char *device = dot && strcmp(dot, ".svg") == 0 ? "svgcairo" : "pngcairo";
    char tmp[4096];
    mw_status made = h5u_temp_beside(out, tmp, sizeof tmp, err);
    if (made != MW_OK)
        return mw_err_prefix(err, "--out");
    int p[2];
    if (pipe(p) != 0)
        return mw_err_set(err, MW_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return mw_err_set(err, MW_ERR_IO, "cannot fork the plotting process: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        dup2(p[1], 2); /* PLplot's warnings come back as the message */
        draw(device, tmp, arg);
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
    int drawn = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    said[strcspn(said, "\n")] = '\0';
    if (!drawn) {
        unlink(tmp);
        return mw_err_set(err, MW_ERR_IO, "PLplot could not draw %s%s%s", out,
                          said[0] ? ": " : "", said);
    }
    /* PLplot's drivers do not report write errors (a full disk gave a cut PNG and success):
     * the file must be whole before it replaces anything */
    mw_status st = figure_whole(tmp, strcmp(device, "svgcairo") == 0, err);
    if (st != MW_OK) {
        unlink(tmp);
        return mw_err_prefix(err, "%s", out);
    }
    return h5u_finish_temp(out, tmp, err);
}

mw_status mw_plot_gradcheck(const mw_report *r, const char *out, mw_err *err)
{
    series all[2][N_METHODS];
    double *scratch = malloc((r->n_runs ? r->n_runs : 1) * sizeof *scratch);
    if (!scratch)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    double ymin = INFINITY, ymax = -INFINITY, xmin = INFINITY, xmax = -INFINITY;
    int points = 0;
    for (int t = 0; t < 2; t++)
        for (int m = 0; m < N_METHODS; m++) {
            collect(r, (mw_dtype)t, (mw_method)m, &all[t][m], scratch);
            for (int k = 0; k < all[t][m].n; k++) {
                ymin = fmin(ymin, all[t][m].y[k]), ymax = fmax(ymax, all[t][m].y[k]);
                xmin = fmin(xmin, all[t][m].x[k]), xmax = fmax(xmax, all[t][m].x[k]);
                points++;
            }
        }
    free(scratch);
    if (points == 0)
        return mw_err_set(err, MW_ERR_ARG, "%s has no complete run with an error to plot",
                          r->path);
    /* whole decades on y, a margin on x */
    ymin = floor(ymin) - 0.0, ymax = ceil(ymax) + (ceil(ymax) == ymax ? 1.0 : 0.0);
    double pad = xmax > xmin ? 0.05 * (xmax - xmin) : 0.3;
    xmin -= pad, xmax += pad;

    gradcheck_args args = {all, ymin, ymax, xmin, xmax, {0}, {NULL}, {NULL}, INFINITY, -INFINITY};
    mw_status st = MW_OK;
    for (int m = 0; m < N_METHODS && st == MW_OK; m++) {
        args.dx[m] = malloc((r->n_runs + 1) * sizeof(double));
        args.dy[m] = malloc((r->n_runs + 1) * sizeof(double));
        if (!args.dx[m] || !args.dy[m])
            st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < r->n_runs && st == MW_OK; k++) { /* float32 runs diagnosed */
        const mw_report_run *run = &r->runs[k];
        const mw_report_step *s = mw_report_last_step(run);
        const mw_report_network *net = mw_report_network_at(r, run->network);
        if (run->dtype != MW_F32 || run->diag.cls == MW_DIAG_NONE || !s || !net ||
            net->oracle.kind != MW_ORACLE_GOLD || !(s->vs.rel_l2 > 0) ||
            !(run->diag.predicted > 0))
            continue;
        const int m = (int)run->method, i = args.n_diag[m]++;
        args.dx[m][i] = log10(s->vs.rel_l2), args.dy[m][i] = log10(run->diag.predicted);
        args.dmin = fmin(args.dmin, fmin(args.dx[m][i], args.dy[m][i]));
        args.dmax = fmax(args.dmax, fmax(args.dx[m][i], args.dy[m][i]));
    }
    args.dmin = floor(args.dmin), args.dmax = ceil(args.dmax);
    if (args.dmax <= args.dmin)
        args.dmax = args.dmin + 1;
    if (st == MW_OK)
        st = draw_in_child(out, draw_gradcheck, &args, err);
    for (int m = 0; m < N_METHODS; m++)
        free(args.dx[m]), free(args.dy[m]);
    return st;
}

/* ---- stability: error and accuracy against epoch ---- */

enum { MAX_PANELS = 8, MAX_EPOCHS = 512 };

typedef struct band {
    int n;                          /* epochs with data */
    double x[MAX_EPOCHS], mid[MAX_EPOCHS], lo[MAX_EPOCHS], hi[MAX_EPOCHS];
} band;

typedef struct stability_args {
    int panels, epochs;
    char title[MAX_PANELS][96];
    band err[MAX_PANELS][N_METHODS], acc[MAX_PANELS][N_METHODS], ref[MAX_PANELS];
    double ymin, ymax;
} stability_args;

/* Mean (of log10 when logs), minimum and maximum of v[0..n) into b at epoch x. */
static void band_add(band *b, double x, const double *v, int n, int logs)
{
    if (n == 0 || b->n == MAX_EPOCHS)
        return;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        double y = logs ? log10(v[i]) : v[i];
        sum += y, lo = fmin(lo, y), hi = fmax(hi, y);
    }
    b->x[b->n] = x, b->mid[b->n] = sum / n, b->lo[b->n] = lo, b->hi[b->n] = hi;
    b->n++;
}

static void draw_band(const band *b, PLINT line, PLINT pale, PLINT style)
{
    if (b->n > 1) {
        PLFLT px[2 * MAX_EPOCHS], py[2 * MAX_EPOCHS];
        for (int i = 0; i < b->n; i++) {
            px[i] = b->x[i], py[i] = b->hi[i];
            px[2 * b->n - 1 - i] = b->x[i], py[2 * b->n - 1 - i] = b->lo[i];
        }
        plcol0(pale);
        plfill(2 * b->n, px, py);
    }
    plcol0(line);
    plwidth(2.0);
    pllsty(style);
    if (b->n > 1)
        plline(b->n, b->x, b->mid);
    pllsty(1);
}

static void draw_stability(const char *device, const char *path, void *argp)
{
    const stability_args *a = argp;
    /* at most 4 panels across; more go to further pairs of rows */
    const int cols = a->panels < 4 ? a->panels : 4, groups = (a->panels + cols - 1) / cols;
    page(device, path, 520 * cols + 220, 470 * 2 * groups, cols, 2 * groups);
    double ytick = ceil((a->ymax - a->ymin) / 8.0);
    for (int g = 0; g < groups; g++)
        for (int row = 0; row < 2; row++)
            for (int c = 0; c < cols; c++) {
                const int p = g * cols + c;
                pladv(0);
                if (p >= a->panels)
                    continue;
                plschr(0.0, 0.8);
                int last = c == cols - 1 || p == a->panels - 1;
                plvpor(0.21, last ? 0.62 : 0.95, 0.18, 0.86);
                double xmax = a->epochs + 0.5;
                plwind(0.5, xmax, row == 0 ? a->ymin : 0.0, row == 0 ? a->ymax : 1.0);
                plcol0(1);
                plwidth(1.0);
                if (row == 0)
                    plbox("bcnst", 0.0, 0, "bcnostv", ytick, (PLINT)ytick);
                else
                    plbox("bcnst", 0.0, 0, "bcnstv", 0.2, 2);
                plmtex("b", 2.6, 0.5, 0.5, "epoch");
                plmtex("l", 4.2, 0.5, 0.5,
                       row == 0 ? "gradient rel_l2 vs silver" : "held-out accuracy");
                if (row == 0)
                    plmtex("t", 1.5, 0.5, 0.5, a->title[p]);
                if (row == 1) /* under the methods, which follow it closely when they are right */
                    draw_band(&a->ref[p], 14, 0, 2);
                for (int m = 0; m < N_METHODS; m++)
                    draw_band(row == 0 ? &a->err[p][m] : &a->acc[p][m], 2 + m, 8 + m, 1);
                plcol0(1);
                plwidth(1.0);
                if (last)
                    method_legend(row);
            }
    plend();
}

/* Panels by architecture, output activation and depth; per method the epoch means over
 * seeds and F activations of the first dtype present (float32 in the presets), with their
 * range. */
mw_status mw_plot_stability(const mw_report *r, const char *out, mw_err *err)
{
    stability_args *a = calloc(1, sizeof *a);
    double *v = malloc((r->n_runs + r->n_networks + 1) * sizeof *v);
    if (!a || !v) {
        free(a), free(v);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    int dtype = -1;
    for (size_t k = 0; k < r->n_runs && dtype < 0; k++)
        if (r->runs[k].n_epochs)
            dtype = (int)r->runs[k].dtype;
    int keys[MAX_PANELS][3]; /* out act, depth, arch */
    int archs = 0;
    for (size_t i = 0; i < r->n_networks; i++)
        archs |= 1 << (int)r->networks[i].spec.arch;
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_spec *s = &r->networks[i].spec;
        int found = 0;
        for (int p = 0; p < a->panels; p++)
            found |= keys[p][0] == (int)s->out_act && keys[p][1] == s->depth &&
                     keys[p][2] == (int)s->arch;
        if (!found && a->panels < MAX_PANELS) {
            keys[a->panels][0] = (int)s->out_act, keys[a->panels][1] = s->depth;
            keys[a->panels][2] = (int)s->arch;
            snprintf(a->title[a->panels], sizeof a->title[0], "%s%sout-act %s, depth %d (%s)",
                     archs != 1 ? mw_arch_name(s->arch) : "", archs != 1 ? ", " : "",
                     mw_out_act_name(s->out_act), s->depth,
                     dtype >= 0 ? mw_dtype_name((mw_dtype)dtype) : "-");
            a->panels++;
        }
    }
    a->ymin = INFINITY, a->ymax = -INFINITY;
    for (size_t k = 0; k < r->n_runs; k++)
        if (r->runs[k].n_epochs > (size_t)a->epochs)
            a->epochs = (int)r->runs[k].n_epochs;
    if (a->epochs > MAX_EPOCHS)
        a->epochs = MAX_EPOCHS;
    int points = 0;
    for (int p = 0; p < a->panels; p++) {
        for (int e = 0; e < a->epochs; e++) {
            for (int m = 0; m < N_METHODS; m++)
                for (int row = 0; row < 2; row++) {
                    int n = 0;
                    for (size_t k = 0; k < r->n_runs; k++) {
                        const mw_report_run *run = &r->runs[k];
                        const mw_report_network *net = mw_report_network_at(r, run->network);
                        if (!net || (int)net->spec.out_act != keys[p][0] ||
                            net->spec.depth != keys[p][1] || (int)net->spec.arch != keys[p][2] ||
                            (int)run->method != m || (int)run->dtype != dtype ||
                            (size_t)e >= run->n_epochs)
                            continue;
                        double y = row == 0 ? run->epochs[e].rel_l2_mean : run->epochs[e].test_accuracy;
                        if (isfinite(y) && (row == 1 || y > 0))
                            v[n++] = y;
                    }
                    band *b = row == 0 ? &a->err[p][m] : &a->acc[p][m];
                    band_add(b, e + 1, v, n, row == 0);
                    if (row == 0 && n) {
                        points++;
                        a->ymin = fmin(a->ymin, b->lo[b->n - 1]);
                        a->ymax = fmax(a->ymax, b->hi[b->n - 1]);
                    }
                }
            int n = 0;
            for (size_t i = 0; i < r->n_networks; i++) {
                const mw_report_network *net = &r->networks[i];
                if ((int)net->spec.out_act == keys[p][0] && net->spec.depth == keys[p][1] &&
                    (int)net->spec.arch == keys[p][2] && (size_t)e < net->n_ref_epochs && isfinite(net->ref_epochs[e].test_accuracy))
                    v[n++] = net->ref_epochs[e].test_accuracy;
            }
            band_add(&a->ref[p], e + 1, v, n, 0);
        }
    }
    free(v);
    if (points == 0) {
        free(a);
        return mw_err_set(err, MW_ERR_ARG, "%s has no epoch to plot", r->path);
    }
    a->ymin = floor(a->ymin), a->ymax = ceil(a->ymax) + (ceil(a->ymax) == a->ymax ? 1.0 : 0.0);
    mw_status st = draw_in_child(out, draw_stability, a, err);
    free(a);
    return st;
}

/* ---- memory and timing: a quantity against depth, log-log, a panel per setting ---- */

typedef struct scaling_args {
    int panels, timing;
    char title[MAX_PANELS][96];
    series s[MAX_PANELS][N_METHODS];
    double ymin, ymax, xmin, xmax;
} scaling_args;

static void draw_scaling(const char *device, const char *path, void *argp)
{
    const scaling_args *a = argp;
    page(device, path, 520 * a->panels + 220, 600, a->panels, 1);
    double ytick = ceil((a->ymax - a->ymin) / 8.0);
    for (int p = 0; p < a->panels; p++) {
        pladv(0);
        plschr(0.0, 0.8);
        int last = p == a->panels - 1;
        plvpor(0.21, last ? 0.62 : 0.95, 0.16, 0.88);
        plwind(a->xmin, a->xmax, a->ymin, a->ymax);
        plcol0(1);
        plwidth(1.0);
        plbox("bcst", 0.0, 0, "bcnostv", ytick, (PLINT)ytick);
        series both[2][N_METHODS];
        memcpy(both[0], a->s[p], sizeof both[0]);
        memcpy(both[1], a->s[p], sizeof both[1]);
        depth_labels(a->xmin, a->xmax, (const series(*)[N_METHODS])both);
        plmtex("b", 3.2, 0.5, 0.5, "depth (coupling layers)");
        plmtex("l", 4.6, 0.5, 0.5, a->timing ? "seconds per gradient (median)"
                                            : "peak working bytes");
        plmtex("t", 1.5, 0.5, 0.5, a->title[p]);
        for (int m = 0; m < N_METHODS; m++) {
            const series *sr = &a->s[p][m];
            plcol0(2 + m);
            plwidth(2.0);
            if (sr->n > 1)
                plline(sr->n, sr->x, sr->y);
            if (sr->n > 0)
                plstring(sr->n, sr->x, sr->y, glyph[m]);
        }
        plcol0(1);
        plwidth(1.0);
        if (last)
            method_legend(0);
    }
    plend();
}

static mw_status plot_scaling(const mw_report *r, const char *out, int timing, mw_err *err)
{
    scaling_args *a = calloc(1, sizeof *a);
    if (!a)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    a->timing = timing;
    int dtype = -1;
    for (size_t k = 0; k < r->n_runs && dtype < 0; k++)
        if (r->runs[k].n_steps)
            dtype = (int)r->runs[k].dtype;
    char keys[MAX_PANELS][96];
    for (size_t i = 0; i < r->n_networks; i++) {
        char key[96];
        mw_spec_setting(&r->networks[i].spec, key, sizeof key);
        int found = 0;
        for (int p = 0; p < a->panels; p++)
            found |= strcmp(keys[p], key) == 0;
        if (!found && a->panels < MAX_PANELS) {
            snprintf(keys[a->panels], sizeof keys[0], "%s", key);
            snprintf(a->title[a->panels], sizeof a->title[0], "%.80s (%s)", key,
                     dtype >= 0 ? mw_dtype_name((mw_dtype)dtype) : "-");
            a->panels++;
        }
    }
    a->ymin = a->xmin = INFINITY, a->ymax = a->xmax = -INFINITY;
    int points = 0;
    for (int p = 0; p < a->panels; p++)
        for (int m = 0; m < N_METHODS; m++) {
            series *sr = &a->s[p][m];
            for (size_t i = 0; i < r->n_networks && sr->n < MAX_DEPTHS; i++) {
                char key[96];
                mw_spec_setting(&r->networks[i].spec, key, sizeof key);
                if (strcmp(key, keys[p]) != 0)
                    continue;
                for (size_t k = 0; k < r->n_runs; k++) {
                    const mw_report_run *run = &r->runs[k];
                    const mw_report_step *st = mw_report_last_step(run);
                    if (run->network != r->networks[i].index || !st || (int)run->method != m ||
                        (int)run->dtype != dtype || run->status != MW_RUN_COMPLETE)
                        continue;
                    double y = a->timing ? st->seconds : (double)st->peak_bytes;
                    if (!(y > 0) || !isfinite(y))
                        continue;
                    sr->x[sr->n] = log10((double)r->networks[i].spec.depth);
                    sr->y[sr->n++] = log10(y);
                }
            }
            /* in depth order */
            for (int i = 1; i < sr->n; i++)
                for (int j = i; j > 0 && sr->x[j - 1] > sr->x[j]; j--) {
                    double tx = sr->x[j], ty = sr->y[j];
                    sr->x[j] = sr->x[j - 1], sr->y[j] = sr->y[j - 1];
                    sr->x[j - 1] = tx, sr->y[j - 1] = ty;
                }
            for (int k = 0; k < sr->n; k++, points++) {
                a->ymin = fmin(a->ymin, sr->y[k]), a->ymax = fmax(a->ymax, sr->y[k]);
                a->xmin = fmin(a->xmin, sr->x[k]), a->xmax = fmax(a->xmax, sr->x[k]);
            }
        }
    if (points == 0) {
        free(a);
        return mw_err_set(err, MW_ERR_ARG, "%s has no complete run to plot", r->path);
    }
    a->ymin = floor(a->ymin), a->ymax = ceil(a->ymax) + (ceil(a->ymax) == a->ymax ? 1.0 : 0.0);
    double pad = a->xmax > a->xmin ? 0.05 * (a->xmax - a->xmin) : 0.3;
    a->xmin -= pad, a->xmax += pad;
    mw_status st = draw_in_child(out, draw_scaling, a, err);
    free(a);
    return st;
}

mw_status mw_plot_memory(const mw_report *r, const char *out, mw_err *err)
{
    return plot_scaling(r, out, 0, err);
}

mw_status mw_plot_timing(const mw_report *r, const char *out, mw_err *err)
{
    return plot_scaling(r, out, 1, err);
}

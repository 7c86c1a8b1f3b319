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

enum { MAX_DEPTHS = 64, N_METHODS = MW_N_METHODS, MAX_PANELS = 16 };

typedef struct series {
    int n;
    double x[MAX_DEPTHS], y[MAX_DEPTHS]; /* log10 depth, log10 median rel_l2 */
    double lo[MAX_DEPTHS], hi[MAX_DEPTHS]; /* timing: log10 fastest and slowest call */
} series;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The median over the report's complete runs of (arch, dtype, method) at each of its
 * depths, on log scales. */
static void collect(const mw_report *r, mw_arch arch, mw_dtype dtype, mw_method method,
                    series *s, double *scratch)
{
    int depths[MAX_DEPTHS], nd = 0;
    for (size_t i = 0; i < r->n_networks; i++) {
        if (r->networks[i].spec.arch != arch)
            continue;
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
            if (net && st && net->spec.arch == arch && net->spec.depth == depths[k] &&
                run->dtype == dtype &&
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

/* Whole decades around log10 values lo..hi, with a tenth of a decade to spare at each end
 * (a point on a decade is not drawn on the frame). */
static void decades(double *lo, double *hi)
{
    *lo = floor(*lo - 0.1), *hi = ceil(*hi + 0.1);
}

/* ---- drawing, in the child ---- */

/* PLplot's character height follows the page (the cairo drivers scale it with the smaller
 * side): a figure taller than one row of panels sets this below 1 to keep its text the
 * size of a one-row figure's. */
static double text_scale = 1.0;

static void chr(double scale)
{
    plschr(0.0, scale * text_scale);
}

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

/* The depths themselves as labels under a log axis: those of n series. */
static void depth_labels(double xmin, double xmax, const series *all, int n_series)
{
    double seen[MAX_DEPTHS];
    int n = 0;
    for (int m = 0; m < n_series; m++)
        for (int k = 0; k < all[m].n; k++) {
            int dup = 0;
            for (int q = 0; q < n; q++)
                dup |= seen[q] == all[m].x[k];
            if (!dup && n < MAX_DEPTHS)
                seen[n++] = all[m].x[k];
        }
    for (int q = 0; q < n; q++) {
        char label[16];
        snprintf(label, sizeof label, "%.0f", pow(10.0, seen[q]));
        plmtex("b", 1.6, (seen[q] - xmin) / (xmax - xmin), 0.5, label);
    }
}

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
    /* SVG's unit is the point: half the pixels of the PNG gives a page of a screen's size,
     * everything on it in the same proportions */
    const int svg = strcmp(device, "svg") == 0;
    plspage(0.0, 0.0, svg ? width / 2 : width, svg ? height / 2 : height, 0, 0);
    plssub(nx, ny);
    plinit();
    plslabelfunc(decade_label, NULL);
}

/* One legend for the page, along its bottom inside it, drawn by hand in page pixels (W by
 * H, world coordinates) from y down: each method's line and marker as the panels draw them,
 * the reference, and the divergence mark; as many entries a row as the width holds. Its
 * rows; with draw 0 only counted. */
enum { LEGEND_ROW_PX = 34, NOTE_ROW_PX = 30 };
static int page_legend(double W, double H, double y, int with_reference, int with_divergence,
                       int draw)
{
    const char *text[N_METHODS + 2];
    int n = 0, rows = 1;
    for (int m = 0; m < N_METHODS; m++)
        text[n++] = mw_method_name((mw_method)m);
    if (with_reference)
        text[n++] = "reference (float64 backprop)";
    if (with_divergence)
        text[n++] = "diverged: its first step, and runs (why: below)";
    if (draw) {
        plvpor(0.0, 1.0, 0.0, 1.0);
        plwind(0.0, W, 0.0, H);
        chr(0.6);
    }
    double x = 70.0;
    for (int k = 0; k < n; k++) {
        const double w = 90.0 + 15.5 * (double)strlen(text[k]);
        if (x + w > W - 20.0 && x > 70.0)
            x = 70.0, y -= LEGEND_ROW_PX, rows++;
        if (!draw) {
            x += w;
            continue;
        }
        PLFLT lx[2] = {x, x + 50.0}, ly[2] = {y, y}, mx = x + 25.0, my = y;
        if (k < N_METHODS) {
            plcol0(2 + k);
            plwidth(2.0);
            plline(2, lx, ly);
            plstring(1, &mx, &my, glyph[k]);
        } else if (with_reference && k == N_METHODS) {
            plcol0(14);
            plwidth(2.0);
            pllsty(2);
            plline(2, lx, ly);
            pllsty(1);
        } else {
            plcol0(1);
            plstring(1, &mx, &my, "X");
        }
        plcol0(k < N_METHODS ? 2 + k : k == N_METHODS && with_reference ? 14 : 1);
        plptex(x + 60.0, y, 1.0, 0.0, 0.0, text[k]);
        x += w;
    }
    if (draw) {
        plwidth(1.0);
        plcol0(1);
    }
    return rows;
}

typedef struct gradcheck_args {
    series all[2][2][N_METHODS];    /* [arch][dtype][method] */
    int archs, dtypes;              /* which architectures and dtypes the report has (bits) */
    double ymin[2], ymax[2];        /* the deterministic methods' decades, per dtype */
    double pmin, pmax;              /* projforward's */
    double xmin[2], xmax[2];        /* per architecture */
    /* the diagnosis: float32 runs' log10 measured (x) and predicted (y) error, per method */
    int n_diag[N_METHODS];
    double *dx[N_METHODS], *dy[N_METHODS];
    double dmin, dmax;
    /* proof: per architecture the least proved bits (y) at each depth (log10, x) */
    series proved[2];
    double bits;                    /* the working precision, the panel's top */
} gradcheck_args;

/* A panel's frame at page pixels (x0, y0)-(x1, y1) of a W by H page. */
static void frame(double W, double H, double x0, double y0, double x1, double y1, double xmin,
                  double xmax, double ymin, double ymax)
{
    plvpor(x0 / W, x1 / W, y0 / H, y1 / H);
    plwind(xmin, xmax, ymin, ymax);
    chr(0.6);
    plcol0(1);
    plwidth(1.0);
}

/* Predicted against measured error, log-log, with y = x and a factor of 10 either side. */
static void draw_diagnosis(const gradcheck_args *ga)
{
    const double lo = ga->dmin, hi = ga->dmax;
    const double tick = ceil((hi - lo) / 4.0);
    plbox("bcnost", tick, (PLINT)tick, "bcnostv", tick, (PLINT)tick);
    plmtex("b", 3.2, 0.5, 0.5, "measured rel_l2 against gold");
    plmtex("l", 5.0, 0.5, 0.5, "predicted, without gold");
    plmtex("t", 1.2, 0.5, 0.5, "float32: predicted error");
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

/* Panels, left to right: per architecture the deterministic methods' median error against
 * depth in float32 and float64, each architecture on its own depth axis (a revnet's
 * coupling layers are not an mlp's); projforward's error on an axis of its own (an unbiased
 * estimate: its error is its variance, decades above the others); the predicted error
 * against the measured one. The legend under them, inside the page. */
static void draw_gradcheck(const char *device, const char *path, void *argp)
{
    const gradcheck_args *ga = argp;
    int diag = 0, archs = 0, dtypes = 0;
    for (int m = 0; m < N_METHODS; m++)
        diag += ga->n_diag[m];
    for (int a = 0; a < 2; a++)
        archs += (ga->archs >> a) & 1;
    for (int t = 0; t < 2; t++)
        dtypes += (ga->dtypes >> t) & 1;
    /* a row per dtype (float32, float64), an architecture a column; projforward and the
     * diagnosis in the last column, one above the other (two dtypes) or side by side */
    const int proofs = ga->proved[0].n + ga->proved[1].n > 0;
    const int cols = archs + (dtypes == 2 ? 1 : 1 + (diag > 0)) + proofs, rows = dtypes;
    const double panel_px = 560.0, row_px = 520.0, foot_px = 110.0;
    const double W = panel_px * cols + 60.0, H = rows * row_px + foot_px;
    page(device, path, (PLINT)W, (PLINT)H, 1, 1);
    pladv(0);
#define PANEL(col, row) 60.0 + panel_px * (col) + 110.0, H - row_px * ((row) + 1) + 95.0, \
                        60.0 + panel_px * ((col) + 1) - 30.0, H - row_px * (row) - 55.0
    for (int t = 0, row = 0; t < 2; t++) {
        if (!((ga->dtypes >> t) & 1))
            continue;
        const double ytick = ceil((ga->ymax[t] - ga->ymin[t]) / 6.0);
        int col = 0;
        for (int a = 0; a < 2; a++) {
            if (!((ga->archs >> a) & 1))
                continue;
            frame(W, H, PANEL(col, row), ga->xmin[a], ga->xmax[a], ga->ymin[t], ga->ymax[t]);
            col++;
            plbox("bcst", 0.0, 0, "bcnostv", ytick, (PLINT)ytick);
            depth_labels(ga->xmin[a], ga->xmax[a], ga->all[a][t], N_METHODS);
            plmtex("b", 3.2, 0.5, 0.5, "depth (coupling layers)");
            plmtex("l", 5.0, 0.5, 0.5, "rel_l2 against gold (median)");
            char title[64];
            snprintf(title, sizeof title, "%s, %s", mw_arch_name((mw_arch)a),
                     t == 0 ? "float32" : "float64");
            plmtex("t", 1.2, 0.5, 0.5, title);
            for (int m = 0; m < N_METHODS; m++) {
                const series *s = &ga->all[a][t][m];
                if (mw_method_is_stochastic((mw_method)m) || s->n == 0)
                    continue;
                /* a fiftieth of the axis apart: methods that agree sit side by side */
                PLFLT x[MAX_DEPTHS];
                for (int k = 0; k < s->n; k++)
                    x[k] = s->x[k] + (m - 2.5) * 0.02 * (ga->xmax[a] - ga->xmin[a]);
                plcol0(2 + m);
                plwidth(2.0);
                if (s->n > 1)
                    plline(s->n, x, s->y);
                plstring(s->n, x, s->y, glyph[m]);
            }
        }
        row++;
    }
    /* projforward: every architecture and dtype, on its own decades */
    frame(W, H, PANEL(archs, 0), -0.05, 1.05, ga->pmin, ga->pmax);
    plbox("bc", 0.0, 0, "bcnostv", 1.0, 1);
    plmtex("l", 5.0, 0.5, 0.5, "projforward rel_l2 against gold");
    plmtex("t", 1.2, 0.5, 0.5, "projforward: its error is its variance");
    plmtex("b", 1.6, 0.5, 0.5, archs == 2 ? "depths, left to right: mlp, then revnet"
                                          : "depths, left to right");
    if (dtypes == 2)
        plmtex("b", 3.2, 0.5, 0.5, "solid float32, dashed float64");
    for (int a = 0; a < 2; a++)
        for (int t = 0; t < 2; t++) {
            const series *s = &ga->all[a][t][MW_PROJFORWARD];
            if (s->n == 0)
                continue;
            PLFLT x[MAX_DEPTHS];
            for (int k = 0; k < s->n; k++)
                x[k] = archs == 2 ? (s->n > 1 ? (double)k / (s->n - 1) : 0.5) * 0.45 + 0.55 * a
                                  : (s->n > 1 ? (double)k / (s->n - 1) : 0.5);
            plcol0(2 + MW_PROJFORWARD);
            plwidth(2.0);
            pllsty(t == 0 ? 1 : 2);
            if (s->n > 1)
                plline(s->n, x, s->y);
            pllsty(1);
            plstring(s->n, x, s->y, glyph[MW_PROJFORWARD]);
        }
    if (diag) {
        if (dtypes == 2)
            frame(W, H, PANEL(archs, 1), ga->dmin, ga->dmax, ga->dmin, ga->dmax);
        else
            frame(W, H, PANEL(archs + 1, 0), ga->dmin, ga->dmax, ga->dmin, ga->dmax);
        draw_diagnosis(ga);
    }
    if (proofs) { /* the enclosures' widths: bits proved against depth, an architecture each */
        double xmin = INFINITY, xmax = -INFINITY;
        for (int a = 0; a < 2; a++)
            for (int k = 0; k < ga->proved[a].n; k++)
                xmin = fmin(xmin, ga->proved[a].x[k]), xmax = fmax(xmax, ga->proved[a].x[k]);
        const double pad = xmax > xmin ? 0.08 * (xmax - xmin) : 0.3;
        frame(W, H, PANEL(cols - 1, 0), xmin - pad, xmax + pad, 0.0, ga->bits);
        plbox("bcst", 0.0, 0, "bcnstv", 0.0, 0);
        depth_labels(xmin - pad, xmax + pad, ga->proved, 2);
        plmtex("b", 3.2, 0.5, 0.5, "depth (coupling layers)");
        plmtex("l", 5.0, 0.5, 0.5, "bits proved (the least entry)");
        plmtex("t", 1.2, 0.5, 0.5, "proof: the enclosures' widths");
        for (int a = 0; a < 2; a++) {
            const series *s = &ga->proved[a];
            if (s->n == 0)
                continue;
            plcol0(a == 0 ? 1 : 14); /* black, grey: the methods have the colours */
            plwidth(2.0);
            if (s->n > 1)
                plline(s->n, s->x, s->y);
            plstring(s->n, s->x, s->y, a == 0 ? "#(840)" : "#(841)");
            plmtex("b", a == 0 ? 4.8 : 6.4, 0.5, 0.5, a == 0 ? "mlp: circles" : "revnet: squares");
        }
        plcol0(1);
    }
#undef PANEL
    page_legend(W, H, 45.0, 0, 0, 1);
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
    const char *device = dot && strcmp(dot, ".svg") == 0 ? "svg" : "pngcairo";
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
    mw_status st = figure_whole(tmp, strcmp(device, "svg") == 0, err);
    if (st != MW_OK) {
        unlink(tmp);
        return mw_err_prefix(err, "%s", out);
    }
    return h5u_finish_temp(out, tmp, err);
}

mw_status mw_plot_gradcheck(const mw_report *r, const char *out, mw_err *err)
{
    gradcheck_args *ga = calloc(1, sizeof *ga);
    double *scratch = malloc((r->n_runs ? r->n_runs : 1) * sizeof *scratch);
    if (!ga || !scratch) {
        free(ga), free(scratch);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    ga->ymin[0] = ga->ymin[1] = ga->pmin = INFINITY;
    ga->ymax[0] = ga->ymax[1] = ga->pmax = -INFINITY;
    int points = 0;
    for (int a = 0; a < 2; a++) {
        ga->xmin[a] = INFINITY, ga->xmax[a] = -INFINITY;
        for (int t = 0; t < 2; t++)
            for (int m = 0; m < N_METHODS; m++) {
                series *s = &ga->all[a][t][m];
                collect(r, (mw_arch)a, (mw_dtype)t, (mw_method)m, s, scratch);
                const int pf = mw_method_is_stochastic((mw_method)m);
                for (int k = 0; k < s->n; k++) {
                    double *lo = pf ? &ga->pmin : &ga->ymin[t];
                    double *hi = pf ? &ga->pmax : &ga->ymax[t];
                    *lo = fmin(*lo, s->y[k]), *hi = fmax(*hi, s->y[k]);
                    ga->xmin[a] = fmin(ga->xmin[a], s->x[k]);
                    ga->xmax[a] = fmax(ga->xmax[a], s->x[k]);
                    ga->archs |= 1 << a;
                    ga->dtypes |= 1 << t;
                    points++;
                }
            }
        double pad = ga->xmax[a] > ga->xmin[a] ? 0.08 * (ga->xmax[a] - ga->xmin[a]) : 0.3;
        ga->xmin[a] -= pad, ga->xmax[a] += pad;
    }
    free(scratch);
    if (points == 0) {
        free(ga);
        return mw_err_set(err, MW_ERR_ARG, "%s has no complete run with an error to plot",
                          r->path);
    }
    /* whole decades */
    for (int t = 0; t < 2; t++) {
        if (!(ga->ymax[t] >= ga->ymin[t]))
            ga->ymin[t] = -16, ga->ymax[t] = -15;
        decades(&ga->ymin[t], &ga->ymax[t]);
    }
    if (!(ga->pmax >= ga->pmin))
        ga->pmin = 0, ga->pmax = 1;
    decades(&ga->pmin, &ga->pmax);
    ga->dmin = INFINITY, ga->dmax = -INFINITY;
    mw_status st = MW_OK;
    for (int m = 0; m < N_METHODS && st == MW_OK; m++) {
        ga->dx[m] = malloc((r->n_runs + 1) * sizeof(double));
        ga->dy[m] = malloc((r->n_runs + 1) * sizeof(double));
        if (!ga->dx[m] || !ga->dy[m])
            st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < r->n_runs && st == MW_OK; k++) { /* float32 runs diagnosed */
        const mw_report_run *run = &r->runs[k];
        const mw_report_step *s = mw_report_last_step(run);
        const mw_report_network *net = mw_report_network_at(r, run->network);
        if (run->dtype != MW_F32 || run->diag.cls == MW_DIAG_NONE || !s || !net ||
            !mw_oracle_exact(net->oracle.kind) || !(s->vs.rel_l2 > 0) ||
            !(run->diag.predicted > 0))
            continue;
        const int m = (int)run->method, i = ga->n_diag[m]++;
        ga->dx[m][i] = log10(s->vs.rel_l2), ga->dy[m][i] = log10(run->diag.predicted);
        ga->dmin = fmin(ga->dmin, fmin(ga->dx[m][i], ga->dy[m][i]));
        ga->dmax = fmax(ga->dmax, fmax(ga->dx[m][i], ga->dy[m][i]));
    }
    if (!(ga->dmax >= ga->dmin))
        ga->dmin = -8, ga->dmax = -7;
    decades(&ga->dmin, &ga->dmax);
    for (size_t i = 0; i < r->n_networks; i++) { /* proof: the least proved bits per depth */
        const mw_report_network *net = &r->networks[i];
        if (net->oracle.kind != MW_ORACLE_PROOF || !isfinite(net->oracle.proved_bits))
            continue;
        series *s = &ga->proved[net->spec.arch == MW_ARCH_REVNET];
        const double x = log10((double)net->spec.depth);
        int k = 0;
        while (k < s->n && s->x[k] != x)
            k++;
        if (k == s->n) {
            if (s->n == MAX_DEPTHS)
                continue;
            int at = s->n++; /* in depth order */
            while (at > 0 && s->x[at - 1] > x)
                s->x[at] = s->x[at - 1], s->y[at] = s->y[at - 1], at--;
            s->x[at] = x, s->y[at] = net->oracle.proved_bits;
            k = at;
        }
        s->y[k] = fmin(s->y[k], net->oracle.proved_bits);
        ga->bits = fmax(ga->bits, (double)net->oracle.bits);
    }
    if (st == MW_OK)
        st = draw_in_child(out, draw_gradcheck, ga, err);
    for (int m = 0; m < N_METHODS; m++)
        free(ga->dx[m]), free(ga->dy[m]);
    free(ga);
    return st;
}

/* ---- stability: error and accuracy against epoch ---- */

enum { MAX_EPOCHS = 512, MAX_NOTES = 24 };

typedef struct band {
    int n;                          /* epochs with data */
    double x[MAX_EPOCHS], mid[MAX_EPOCHS], lo[MAX_EPOCHS], hi[MAX_EPOCHS];
} band;

/* Where a method's runs of a panel diverged: how many of how many, and the first. */
typedef struct divergence {
    int runs, diverged;
    double x;                       /* the first divergence, in epochs (its step's place) */
    long long step_first, step_last;
} divergence;

/* A panel: one network of the grid (architecture, output activation, depth) over its seeds
 * and F activations, in one dtype. */
typedef struct stab_panel {
    char title[96];
    band err[N_METHODS], acc[N_METHODS], ref;
    divergence div[N_METHODS];
} stab_panel;

typedef struct stability_args {
    int panels, epochs;
    stab_panel *p;
    double ymin, ymax, pmin, pmax;  /* the deterministic methods' and projforward's decades */
    int notes;
    char note[MAX_NOTES][560];      /* each divergence in words, under the panels */
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

/* A method's band (pale: the range over the panel's runs), its mean as a line, and a marker
 * at every epoch, all shifted by dx epochs: methods that agree sit side by side, each with
 * the marker the legend gives it, instead of hiding one another. */
static void draw_band(const band *b, PLINT line, PLINT pale, PLINT style, double dx,
                      const char *marker)
{
    PLFLT px[2 * MAX_EPOCHS], py[2 * MAX_EPOCHS], mx[MAX_EPOCHS];
    for (int i = 0; i < b->n; i++)
        mx[i] = b->x[i] + dx;
    if (b->n > 1 && pale >= 0) {
        for (int i = 0; i < b->n; i++) {
            px[i] = mx[i], py[i] = b->hi[i];
            px[2 * b->n - 1 - i] = mx[i], py[2 * b->n - 1 - i] = b->lo[i];
        }
        plcol0(pale);
        plfill(2 * b->n, px, py);
    }
    plcol0(line);
    plwidth(2.0);
    pllsty(style);
    if (b->n > 1)
        plline(b->n, mx, b->mid);
    pllsty(1);
    if (marker && b->n > 0)
        plstring(b->n, mx, b->mid, marker);
}

/* The methods' x offsets: a twentieth of an epoch apart, centred. */
static double offset(int m, int epochs)
{
    return (m - 2.5) * 0.05 * (epochs > 8 ? epochs / 8.0 : 1.0);
}

/* A divergence on a panel: a dashed line in the method's colour at its first step and an X
 * where it left the axis, with the count beside it ("2/8"). */
static void draw_divergence(const divergence *d, int m, double ylo, double yhi)
{
    if (!d->diverged)
        return;
    PLFLT x[2] = {d->x, d->x}, y[2] = {ylo, yhi};
    plcol0(2 + m);
    plwidth(1.5);
    pllsty(2);
    plline(2, x, y);
    pllsty(1);
    PLFLT px = d->x, py = yhi - 0.06 * (yhi - ylo);
    chr(0.8);
    plstring(1, &px, &py, "X");
    char count[32];
    snprintf(count, sizeof count, " %d/%d", d->diverged, d->runs);
    chr(0.5);
    plptex(px, py, 1.0, 0.0, 0.0, count);
    chr(0.6);
}

static void draw_stability(const char *device, const char *path, void *argp)
{
    const stability_args *a = argp;
    const int cols = a->panels < 4 ? a->panels : 4, groups = (a->panels + cols - 1) / cols;
    /* each group of panels three rows high: the deterministic methods' error, projforward's
     * (an unbiased estimate: its error is its variance, decades above), held-out accuracy;
     * under them the legend and the divergences in words */
    /* at least wide enough for the legend in two rows and the notes in few lines */
    const double group_px = 1000.0, panel_px = 560.0;
    const double W = fmax(panel_px * cols + 60.0, 1300.0);
    const int fit = (int)((W - 100.0) / 12.5); /* note characters a line, 12.5 pixels each */
    int note_lines = 0;
    for (int i = 0; i < a->notes; i++)
        note_lines += ((int)strlen(a->note[i]) + fit - 1) / fit;
    const int legend_rows = page_legend(W, 0.0, 0.0, 1, a->notes > 0, 0);
    const double foot_px = 40.0 + LEGEND_ROW_PX * legend_rows + NOTE_ROW_PX * note_lines + 20.0;
    const double H = group_px * groups + foot_px;
    text_scale = fmin(1.0, 1200.0 / fmin(W, H));
    page(device, path, (PLINT)W, (PLINT)H, 1, 1);
    pladv(0);
    static const double row_top[3] = {0.93, 0.53, 0.28}, row_bottom[3] = {0.60, 0.37, 0.06};
    static const char *const row_label[3] = {"rel_l2 vs silver", "projforward rel_l2",
                                             "held-out accuracy"};
    for (int p = 0; p < a->panels; p++) {
        const stab_panel *sp = &a->p[p];
        const int g = p / cols, c = p % cols;
        const double gy0 = 1.0 - (g + 1) * group_px / H, gh = group_px / H;
        for (int row = 0; row < 3; row++) {
            const double x0 = (60.0 + panel_px * c + 105.0) / W;
            const double x1 = (60.0 + panel_px * (c + 1) - 30.0) / W;
            plvpor(x0, x1, gy0 + row_bottom[row] * gh, gy0 + row_top[row] * gh);
            const double ylo = row == 0 ? a->ymin : row == 1 ? a->pmin : 0.0;
            const double yhi = row == 0 ? a->ymax : row == 1 ? a->pmax : 1.0;
            plwind(0.5, a->epochs + 0.5, ylo, yhi);
            chr(0.6);
            plcol0(1);
            plwidth(1.0);
            if (row == 2)
                plbox("bcnst", 0.0, 0, "bcnstv", 0.2, 2);
            else {
                const double tick = ceil((yhi - ylo) / (row == 0 ? 6.0 : 2.0));
                plbox(row == 0 ? "bcst" : "bcst", 0.0, 0, "bcnostv", tick, (PLINT)tick);
            }
            if (row == 2)
                plmtex("b", 2.6, 0.5, 0.5, "epoch");
            plmtex("l", 5.0, 0.5, 0.5, row_label[row]);
            if (row == 0)
                plmtex("t", 1.2, 0.5, 0.5, sp->title);
            if (row == 2) /* under the methods, which follow it when they are right */
                draw_band(&sp->ref, 14, -1, 2, 0.0, NULL);
            for (int m = 0; m < N_METHODS; m++) {
                const int stochastic = mw_method_is_stochastic((mw_method)m);
                if ((row == 0 && stochastic) || (row == 1 && !stochastic))
                    continue;
                draw_band(row == 2 ? &sp->acc[m] : &sp->err[m], 2 + m, 8 + m, 1,
                          row == 1 ? 0.0 : offset(m, a->epochs), glyph[m]);
                if (row == 0 || (row == 1 && stochastic))
                    draw_divergence(&sp->div[m], m, ylo, yhi);
            }
            plcol0(1);
            plwidth(1.0);
        }
    }
    /* the legend, then each divergence and its cause, wrapped to the page */
    page_legend(W, H, foot_px - 40.0, 1, a->notes > 0, 1);
    chr(0.55);
    plcol0(1);
    double y = foot_px - 40.0 - LEGEND_ROW_PX * legend_rows - 6.0;
    for (int i = 0; i < a->notes; i++)
        for (const char *p = a->note[i]; *p; y -= NOTE_ROW_PX) {
            int len = (int)strlen(p);
            if (len > fit) { /* at the last space that fits */
                len = fit;
                while (len > fit / 2 && p[len] != ' ')
                    len--;
            }
            char line[600];
            snprintf(line, sizeof line, "%s%.*s", p == a->note[i] ? "" : "    ", len, p);
            plptex(70.0, y, 1.0, 0.0, 0.0, line);
            p += len;
            p += strspn(p, " ");
        }
    plend();
}

/* A panel's key: the network of the grid it shows. */
typedef struct panel_key {
    mw_arch arch;
    mw_act out_act;
    int depth;
} panel_key;

static int same_panel(const panel_key *k, const mw_spec *s)
{
    return k->arch == s->arch && k->out_act == s->out_act && k->depth == s->depth;
}

/* Panels by architecture, output activation and depth, every one of the report; per method
 * the epoch means over seeds and F activations of the first dtype present (float32 in the
 * presets), with their range, and where its runs diverged. */
mw_status mw_plot_stability(const mw_report *r, const char *out, mw_err *err)
{
    stability_args *a = calloc(1, sizeof *a);
    panel_key *keys = calloc(r->n_networks + 1, sizeof *keys);
    double *v = malloc((r->n_runs + r->n_networks + 1) * sizeof *v);
    if (a)
        a->p = calloc(r->n_networks + 1, sizeof *a->p);
    if (!a || !keys || !v || !a->p) {
        if (a)
            free(a->p);
        free(a), free(keys), free(v);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    int dtype = -1;
    for (size_t k = 0; k < r->n_runs && dtype < 0; k++)
        if (r->runs[k].n_epochs)
            dtype = (int)r->runs[k].dtype;
    int archs = 0;
    for (size_t i = 0; i < r->n_networks; i++)
        archs |= 1 << (int)r->networks[i].spec.arch;
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_spec *s = &r->networks[i].spec;
        int found = 0;
        for (int p = 0; p < a->panels; p++)
            found |= same_panel(&keys[p], s);
        if (!found) {
            keys[a->panels] = (panel_key){s->arch, s->out_act, s->depth};
            snprintf(a->p[a->panels].title, sizeof a->p[0].title, "%s%sout-act %s, depth %d (%s)",
                     archs != 1 ? mw_arch_name(s->arch) : "", archs != 1 ? ", " : "",
                     mw_out_act_name(s->out_act), s->depth,
                     dtype >= 0 ? mw_dtype_name((mw_dtype)dtype) : "-");
            a->panels++;
        }
    }
    a->ymin = a->pmin = INFINITY, a->ymax = a->pmax = -INFINITY;
    for (size_t k = 0; k < r->n_runs; k++)
        if (r->runs[k].n_epochs > (size_t)a->epochs)
            a->epochs = (int)r->runs[k].n_epochs;
    if (a->epochs > MAX_EPOCHS)
        a->epochs = MAX_EPOCHS;
    int points = 0;
    for (int p = 0; p < a->panels; p++) {
        stab_panel *sp = &a->p[p];
        for (int e = 0; e < a->epochs; e++) {
            for (int m = 0; m < N_METHODS; m++)
                for (int row = 0; row < 2; row++) {
                    int n = 0;
                    for (size_t k = 0; k < r->n_runs; k++) {
                        const mw_report_run *run = &r->runs[k];
                        const mw_report_network *net = mw_report_network_at(r, run->network);
                        if (!net || !same_panel(&keys[p], &net->spec) || (int)run->method != m ||
                            (int)run->dtype != dtype || (size_t)e >= run->n_epochs)
                            continue;
                        double y = row == 0 ? run->epochs[e].rel_l2_mean
                                            : run->epochs[e].test_accuracy;
                        if (isfinite(y) && (row == 1 || y > 0))
                            v[n++] = y;
                    }
                    band *b = row == 0 ? &sp->err[m] : &sp->acc[m];
                    band_add(b, e + 1, v, n, row == 0);
                    if (row == 0 && n) {
                        points++;
                        const int pf = mw_method_is_stochastic((mw_method)m);
                        double *lo = pf ? &a->pmin : &a->ymin, *hi = pf ? &a->pmax : &a->ymax;
                        *lo = fmin(*lo, b->lo[b->n - 1]);
                        *hi = fmax(*hi, b->hi[b->n - 1]);
                    }
                }
            int n = 0;
            for (size_t i = 0; i < r->n_networks; i++) {
                const mw_report_network *net = &r->networks[i];
                if (same_panel(&keys[p], &net->spec) && (size_t)e < net->n_ref_epochs &&
                    isfinite(net->ref_epochs[e].test_accuracy))
                    v[n++] = net->ref_epochs[e].test_accuracy;
            }
            band_add(&sp->ref, e + 1, v, n, 0);
        }
        /* divergences: the first one's place and cause, the count */
        for (int m = 0; m < N_METHODS; m++) {
            divergence *d = &sp->div[m];
            const mw_report_run *first = NULL;
            for (size_t k = 0; k < r->n_runs; k++) {
                const mw_report_run *run = &r->runs[k];
                const mw_report_network *net = mw_report_network_at(r, run->network);
                if (!net || !same_panel(&keys[p], &net->spec) || (int)run->method != m ||
                    (int)run->dtype != dtype)
                    continue;
                d->runs++;
                const mw_report_step *st = mw_report_last_step(run);
                if (run->status != MW_RUN_DIVERGED)
                    continue;
                const long long step = st ? st->step : 0; /* no row: its first step */
                if (!d->diverged++ || step < d->step_first)
                    d->step_first = step, first = run;
                d->step_last = d->diverged == 1 ? step : (step > d->step_last ? step : d->step_last);
            }
            if (!first)
                continue;
            /* its place in epochs: the steps of an epoch from the run's first epoch */
            const double per_epoch = first->n_epochs && first->epochs[0].steps > 0
                                         ? (double)first->epochs[0].steps
                                         : (double)(d->step_first + 1);
            d->x = fmin((double)(d->step_first + 1) / per_epoch, a->epochs + 0.45);
            if (a->notes < MAX_NOTES) {
                char steps[48];
                if (d->step_last > d->step_first)
                    snprintf(steps, sizeof steps, "steps %lld-%lld", d->step_first, d->step_last);
                else
                    snprintf(steps, sizeof steps, "step %lld", d->step_first);
                snprintf(a->note[a->notes++], sizeof a->note[0],
                         "X %s, %s: %d of %d runs diverged (%s); the first: %.280s",
                         mw_method_name((mw_method)m), sp->title, d->diverged, d->runs, steps,
                         first->message[0] ? first->message : "no reason recorded");
            }
        }
    }
    free(v);
    free(keys);
    if (points == 0) {
        free(a->p);
        free(a);
        return mw_err_set(err, MW_ERR_ARG, "%s has no epoch to plot", r->path);
    }
    decades(&a->ymin, &a->ymax);
    if (!(a->pmax >= a->pmin)) /* no projforward: an axis of its own all the same */
        a->pmin = 0.0, a->pmax = 1.0;
    decades(&a->pmin, &a->pmax);
    mw_status st = draw_in_child(out, draw_stability, a, err);
    free(a->p);
    free(a);
    return st;
}

/* ---- memory and timing: a quantity against depth, log-log, a panel per setting ---- */

typedef struct scaling_args {
    int panels, timing;
    char title[MAX_PANELS][96];
    series s[MAX_PANELS][N_METHODS];
    double ymin, ymax, xmin[MAX_PANELS], xmax[MAX_PANELS];
} scaling_args;

static void draw_scaling(const char *device, const char *path, void *argp)
{
    const scaling_args *a = argp;
    const double panel_px = 560.0, W = panel_px * a->panels + 60.0, H = 640.0;
    page(device, path, (PLINT)W, (PLINT)H, 1, 1);
    pladv(0);
    double ytick = ceil((a->ymax - a->ymin) / 8.0);
    for (int p = 0; p < a->panels; p++) {
        const double xmin = a->xmin[p], xmax = a->xmax[p];
        frame(W, H, 60.0 + panel_px * p + 110.0, 140.0, 60.0 + panel_px * (p + 1) - 30.0,
              H - 60.0, xmin, xmax, a->ymin, a->ymax);
        plbox("bcst", 0.0, 0, "bcnostv", ytick, (PLINT)ytick);
        depth_labels(xmin, xmax, a->s[p], N_METHODS);
        plmtex("b", 3.2, 0.5, 0.5, "depth (coupling layers)");
        plmtex("l", 5.0, 0.5, 0.5, a->timing ? "seconds per gradient (median)"
                                            : "peak working bytes");
        plmtex("t", 1.2, 0.5, 0.5, a->title[p]);
        for (int m = 0; m < N_METHODS; m++) {
            const series *sr = &a->s[p][m];
            PLFLT x[MAX_DEPTHS];
            for (int k = 0; k < sr->n; k++) /* methods that agree side by side */
                x[k] = sr->x[k] + (m - 2.5) * 0.012 * (xmax - xmin);
            plcol0(2 + m);
            plwidth(2.0);
            if (sr->n > 1)
                plline(sr->n, x, sr->y);
            if (sr->n > 0)
                plstring(sr->n, x, sr->y, glyph[m]);
            plwidth(1.5);
            for (int k = 0; a->timing && k < sr->n; k++) /* the calls' range */
                if (isfinite(sr->lo[k]) && isfinite(sr->hi[k]))
                    plerry(1, &x[k], &sr->lo[k], &sr->hi[k]);
        }
        plcol0(1);
        plwidth(1.0);
    }
    page_legend(W, H, 45.0, 0, 0, 1);
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
        if (!found && a->panels == MAX_PANELS) { /* said, not dropped */
            free(a);
            return mw_err_set(err, MW_ERR_ARG, "%s has more than %d settings (networks without "
                              "their depth): a figure of so many panels would say nothing; "
                              "`mwverify report export %s --table fits` lists them all",
                              r->path, MAX_PANELS, r->path);
        }
        if (!found) {
            snprintf(keys[a->panels], sizeof keys[0], "%s", key);
            snprintf(a->title[a->panels], sizeof a->title[0], "%.80s (%s)", key,
                     dtype >= 0 ? mw_dtype_name((mw_dtype)dtype) : "-");
            a->panels++;
        }
    }
    a->ymin = INFINITY, a->ymax = -INFINITY;
    for (int p = 0; p < MAX_PANELS; p++)
        a->xmin[p] = INFINITY, a->xmax[p] = -INFINITY;
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
                    sr->lo[sr->n] = sr->hi[sr->n] = NAN;
                    const mw_report_table *tt = &r->tables[MW_TABLE_TIMINGS];
                    for (size_t q = 0; a->timing && q < tt->n; q++) {
                        const mw_report_timing *t = (const mw_report_timing *)tt->rows + q;
                        if (t->run == run->index && t->seconds_min > 0 && t->seconds_max > 0)
                            sr->lo[sr->n] = log10(t->seconds_min),
                            sr->hi[sr->n] = log10(t->seconds_max);
                    }
                    sr->y[sr->n++] = log10(y);
                }
            }
            /* in depth order */
            for (int i = 1; i < sr->n; i++)
                for (int j = i; j > 0 && sr->x[j - 1] > sr->x[j]; j--) {
                    double tx = sr->x[j], ty = sr->y[j], tl = sr->lo[j], th = sr->hi[j];
                    sr->x[j] = sr->x[j - 1], sr->y[j] = sr->y[j - 1];
                    sr->lo[j] = sr->lo[j - 1], sr->hi[j] = sr->hi[j - 1];
                    sr->x[j - 1] = tx, sr->y[j - 1] = ty, sr->lo[j - 1] = tl, sr->hi[j - 1] = th;
                }
            for (int k = 0; k < sr->n; k++, points++) {
                a->ymin = fmin(a->ymin, isfinite(sr->lo[k]) ? sr->lo[k] : sr->y[k]);
                a->ymax = fmax(a->ymax, isfinite(sr->hi[k]) ? sr->hi[k] : sr->y[k]);
                a->xmin[p] = fmin(a->xmin[p], sr->x[k]), a->xmax[p] = fmax(a->xmax[p], sr->x[k]);
            }
        }
    if (points == 0) {
        free(a);
        return mw_err_set(err, MW_ERR_ARG, "%s has no complete run to plot", r->path);
    }
    decades(&a->ymin, &a->ymax);
    for (int p = 0; p < a->panels; p++) {
        double pad = a->xmax[p] > a->xmin[p] ? 0.08 * (a->xmax[p] - a->xmin[p]) : 0.3;
        a->xmin[p] -= pad, a->xmax[p] += pad;
    }
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

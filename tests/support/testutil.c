/* Test helpers (testutil.h). */
#include "testutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "datasets.h"
#include "jsonr.h"

extern char **environ;

static char *slurp(FILE *f)
{
    size_t cap = 4096, n = 0, got;
    char *s = malloc(cap);
    ck_assert(s != NULL);
    rewind(f);
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0)
        if ((n += got) + 1 == cap) {
            s = realloc(s, cap *= 2);
            ck_assert(s != NULL);
        }
    s[n] = '\0';
    return s;
}

tu_run_result tu_run(const char *program, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)program;
    for (; *args; args++) {
        ck_assert_msg(argc < 63, "tu_run: too many arguments for the test's buffer");
        argv[argc++] = (char *)*args;
    }
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    ck_assert(out && err);
    fflush(NULL); /* nothing of ours written twice by the child */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fileno(out), 1);
    posix_spawn_file_actions_adddup2(&fa, fileno(err), 2);
    pid_t pid;
    ck_assert_msg(posix_spawn(&pid, program, &fa, NULL, argv, environ) == 0, "cannot run %s",
                  program);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    posix_spawn_file_actions_destroy(&fa);
    tu_run_result r = {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                       slurp(out), slurp(err)};
    fclose(out), fclose(err);
    return r;
}

void tu_run_free(tu_run_result *r)
{
    free(r->out), free(r->err);
    r->out = r->err = NULL;
}

uint64_t tu_seed(void)
{
    const char *e = getenv("MW_TEST_SEED");
    return e && *e ? strtoull(e, NULL, 10) : 20261201u;
}

mw_spec tu_small_spec(int depth, mw_act f_act, mw_act out_act, int bn, uint64_t seed)
{
    mw_spec s = mw_spec_default();
    s.width = 8;
    s.hidden = 6;
    s.depth = depth;
    s.f_act = f_act;
    s.out_act = out_act;
    s.bn = bn;
    s.batch = 4;
    s.classes = 3;
    s.seed = seed;
    return s;
}

mw_spec tu_small_revnet(int lpb, mw_act f_act, mw_act out_act, int units, int hidden,
                        uint64_t seed)
{
    mw_spec s = mw_spec_revnet_default();
    s.image_h = s.image_w = 4;
    s.blocks = 2;
    s.layers_per_block = lpb;
    s.f_act = f_act;
    s.out_act = out_act;
    s.units = units;
    s.hidden = hidden;
    s.batch = 3;
    s.classes = 3;
    s.seed = seed;
    mw_spec_complete(&s);
    return s;
}

void tu_net_make(tu_net *t, const mw_spec *s, mw_dtype dtype)
{
    tu_net_make_on(t, s, MW_BACKEND_CPU, dtype);
}

void tu_net_make_on(tu_net *t, const mw_spec *s, mw_backend_kind backend, mw_dtype dtype)
{
    char msg[256];
    memset(t, 0, sizeof *t);
    ck_assert_msg(mw_ctx_open(backend, dtype, NULL, &t->ctx, msg, sizeof msg) == MW_OK, "%s", msg);
    mw_status st = mw_net_new(t->ctx, s, &t->net);
    ck_assert_msg(st == MW_OK, "mw_net_new: %s", mw_ctx_message(t->ctx));
    t->P = mw_net_layout(t->net)->total;
    t->N = (size_t)s->batch * (size_t)s->width;
    t->x = malloc(t->N * sizeof *t->x);
    t->labels = malloc((size_t)s->batch * sizeof *t->labels);
    ck_assert(t->x && t->labels);
    mw_synth d = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&d, 0, s->batch, t->x, t->labels);
    st = mw_batch_new(t->ctx, t->net, t->x, t->labels, &t->batch);
    ck_assert_msg(st == MW_OK, "mw_batch_new: %s", mw_ctx_message(t->ctx));
}

void tu_net_free(tu_net *t)
{
    mw_batch_free(t->ctx, t->batch);
    mw_net_free(t->ctx, t->net);
    mw_ctx_free(t->ctx);
    free(t->x);
    free(t->labels);
    memset(t, 0, sizeof *t);
}

mw_status tu_grad(tu_net *t, mw_method m, const mw_grad_opts *o, double *g, mw_grad_info *info,
                  mw_status expect)
{
    mw_tensor gt;
    mw_grad_info local;
    ck_assert(mw_tensor_alloc(t->ctx, t->P, &gt) == MW_OK);
    mw_status st = mw_grad(t->ctx, t->net, t->batch, m, o, &gt, info ? info : &local);
    ck_assert_msg(st == expect, "%s returned '%s' (expected '%s'): %s", mw_method_name(m),
                  mw_status_name(st), mw_status_name(expect), mw_ctx_message(t->ctx));
    if (st == MW_OK || st == MW_ERR_NONFINITE)
        ck_assert(mw_tensor_download(t->ctx, &gt, 0, g, t->P) == MW_OK);
    mw_tensor_free(t->ctx, &gt);
    return st;
}

double tu_rel_l2(const double *a, const double *b, size_t n)
{
    double d2 = 0, b2 = 0;
    for (size_t i = 0; i < n; i++) {
        d2 += (a[i] - b[i]) * (a[i] - b[i]);
        b2 += b[i] * b[i];
    }
    return b2 > 0 ? sqrt(d2 / b2) : sqrt(d2);
}

double tu_max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* ---- golden cases ---- */

static void read_values(const jr_value *arr, double *out, char **text, size_t n,
                        const char *what)
{
    ck_assert_msg(arr && arr->type == JR_ARRAY && arr->n == n, "%s: expected %zu values, got %zu",
                  what, n, arr ? arr->n : (size_t)0);
    for (size_t i = 0; i < n; i++) {
        out[i] = jr_number(&arr->items[i]);
        if (text)
            ck_assert((text[i] = strdup(arr->items[i].text)) != NULL);
    }
}

static mw_act act_of(const jr_value *v, int out)
{
    int a;
    int bad = mw_name_parse(out ? &mw_out_act_names : &mw_act_names, v->text, &a);
    ck_assert_msg(!bad, "unknown activation %s", v->text);
    return (mw_act)a;
}

void tu_golden_load(tu_golden *g, const char *name)
{
    char path[512], err[256];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(path, sizeof path, "%s/%s.json", MW_GOLDEN_DIR, name);
    jr_value *root = jr_parse_file(path, err, sizeof err);
    ck_assert_msg(root, "%s: %s", path, err);
    const jr_value *sp = jr_get(root, "spec");
    ck_assert_msg(sp, "%s: no spec", name);
    mw_spec *s = &g->spec;
    if (strcmp(jr_get(sp, "arch")->text, "revnet") == 0) {
        /* revnet specs have no hidden: conv units keep C/2 channels */
        *s = mw_spec_revnet_default();
        s->channels = (int)jr_number(jr_get(sp, "channels"));
        const jr_value *img = jr_get(sp, "image");
        ck_assert_msg(img && img->n == 2, "%s: image is not [H, W]", name);
        s->image_h = (int)jr_number(&img->items[0]);
        s->image_w = (int)jr_number(&img->items[1]);
        s->blocks = (int)jr_number(jr_get(sp, "blocks"));
        s->layers_per_block = (int)jr_number(jr_get(sp, "layers_per_block"));
        mw_spec_complete(s);
    } else {
        ck_assert_msg(strcmp(jr_get(sp, "arch")->text, "mlp") == 0, "%s: unknown arch", name);
        *s = mw_spec_default();
        s->width = (int)jr_number(jr_get(sp, "width"));
        s->hidden = (int)jr_number(jr_get(sp, "hidden"));
        s->depth = (int)jr_number(jr_get(sp, "depth"));
    }
    s->units = (int)jr_number(jr_get(sp, "units"));
    s->f_act = act_of(jr_get(sp, "f_act"), 0);
    s->out_act = act_of(jr_get(sp, "out_act"), 1);
    s->leaky_slope = jr_number(jr_get(sp, "leaky_slope"));
    s->bn = strcmp(jr_get(sp, "bn")->text, "true") == 0;
    s->bn_eps = jr_number(jr_get(sp, "bn_eps"));
    s->batch = (int)jr_number(jr_get(sp, "batch"));
    s->classes = (int)jr_number(jr_get(sp, "classes"));
    s->init_scale = jr_number(jr_get(sp, "init_scale"));
    char why[256];
    ck_assert_msg(mw_spec_validate(s, why, sizeof why) == 0, "%s: %s", name, why);

    mw_layout lay;
    ck_assert(mw_layout_build(s, &lay) == 0);
    g->P = lay.total;
    g->N = (size_t)s->batch * (size_t)s->width;
    g->theta = malloc(g->P * sizeof(double));
    g->grad = malloc(g->P * sizeof(double));
    g->x = malloc(g->N * sizeof(double));
    g->input_grad = malloc(g->N * sizeof(double));
    g->acts = malloc((size_t)s->depth * g->N * sizeof(double));
    g->labels = malloc((size_t)s->batch * sizeof(int));
    g->grad_text = calloc(g->P, sizeof(char *));
    g->input_grad_text = calloc(g->N, sizeof(char *));
    g->acts_text = calloc((size_t)s->depth * g->N, sizeof(char *));
    ck_assert(g->theta && g->grad && g->x && g->input_grad && g->acts && g->labels &&
              g->grad_text && g->input_grad_text && g->acts_text);

    const jr_value *params = jr_get(root, "params"), *grads = jr_get(root, "grad");
    ck_assert_msg(params->n == (size_t)lay.n_params && grads->n == (size_t)lay.n_params,
                  "%s: %zu parameter tensors in the file, %d in mw_layout", name, params->n,
                  lay.n_params);
    for (int t = 0; t < lay.n_params; t++) {
        const mw_param_info *p = &lay.params[t];
        const jr_value *pv = &params->items[t], *gv = &grads->items[t];
        ck_assert_msg(strcmp(jr_get(pv, "name")->text, p->name) == 0 &&
                          strcmp(jr_get(gv, "name")->text, p->name) == 0,
                      "%s: tensor %d is %s in the file, %s in mw_layout", name, t,
                      jr_get(pv, "name")->text, p->name);
        const jr_value *shape = jr_get(pv, "shape");
        ck_assert_msg(shape->n == (size_t)p->ndim, "%s: %s has %zu dimensions in the file, %d "
                      "in mw_layout", name, p->name, shape->n, p->ndim);
        for (size_t i = 0; i < shape->n; i++)
            ck_assert_msg((int)jr_number(&shape->items[i]) == p->dims[i],
                          "%s: %s has dimension %zu of %d in the file, %d in mw_layout", name,
                          p->name, i, (int)jr_number(&shape->items[i]), p->dims[i]);
        read_values(jr_get(pv, "values"), g->theta + p->offset, NULL, p->count, p->name);
        read_values(jr_get(gv, "values"), g->grad + p->offset, g->grad_text + p->offset, p->count,
                    p->name);
    }
    read_values(jr_get(jr_get(root, "input"), "values"), g->x, NULL, g->N, "input");
    read_values(jr_get(jr_get(root, "input_grad"), "values"), g->input_grad, g->input_grad_text,
                g->N, "input_grad");
    const jr_value *labels = jr_get(root, "labels");
    ck_assert(labels->n == (size_t)s->batch);
    for (int b = 0; b < s->batch; b++)
        g->labels[b] = (int)jr_number(&labels->items[b]);
    g->loss = jr_number(jr_get(root, "loss"));
    ck_assert((g->loss_text = strdup(jr_get(root, "loss")->text)) != NULL);
    const jr_value *acts = jr_get(root, "activations");
    ck_assert(acts->n == (size_t)s->depth);
    /* (layer outputs before any ψ: the same count N of values, in each block's shape) */
    for (int l = 0; l < s->depth; l++)
        read_values(jr_get(&acts->items[l], "values"), g->acts + (size_t)l * g->N,
                    g->acts_text + (size_t)l * g->N, g->N, "activation");
    mw_layout_free(&lay);
    jr_free(root);
}

static void free_texts(char **t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i]);
    free(t);
}

void tu_golden_free(tu_golden *g)
{
    free_texts(g->grad_text, g->P);
    free_texts(g->input_grad_text, g->N);
    free_texts(g->acts_text, (size_t)g->spec.depth * g->N);
    free(g->loss_text);
    free(g->theta);
    free(g->grad);
    free(g->x);
    free(g->input_grad);
    free(g->acts);
    free(g->labels);
    memset(g, 0, sizeof *g);
}

int tu_main(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        fprintf(stderr, "seed: MW_TEST_SEED=%" PRIu64 " reproduces this run\n", tu_seed());
    return failed ? 1 : 0;
}

/* Layer plugins (suites/plugin.h, docs/layer-plugins.md): reading a plugin's table in a
 * child and refusing a bad one with one line; the checks of a good layer on the gold and
 * the silver path, of a faulty twin (caught by the right checks alone), and of plugins
 * that crash, abort, hang or fail (failed rows naming what happened, never a crashed
 * harness); the command line's exit statuses. The plugins are built from examples/plugins/
 * and tests/plugins/ into MW_TEST_PLUGIN_DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "datasets.h"
#include "plugin.h"
#include "report.h"
#include "testutil.h"

static const char *plugin(const char *name)
{
    static char path[8][4096];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", MW_TEST_PLUGIN_DIR, name);
    return p;
}

/* The describe call must fail with MW_ERR_ARG, its one line holding every word of must. */
static void refused(const char *arg, const char *must1, const char *must2)
{
    mw_plugin_desc d;
    mw_err e = {MW_OK, ""};
    ck_assert_msg(mw_plugin_describe(arg, &d, &e) == MW_ERR_ARG, "%s: accepted", arg);
    ck_assert_msg(strstr(e.msg, "--layer-plugin") && strstr(e.msg, must1) &&
                      (!must2 || strstr(e.msg, must2)) && !strchr(e.msg, '\n'),
                  "%s: %s", arg, e.msg);
}

START_TEST(describe)
{
    mw_plugin_desc d;
    mw_err e = {MW_OK, ""};
    ck_assert_msg(mw_plugin_describe(plugin("actnorm.so"), &d, &e) == MW_OK, "%s", e.msg);
    ck_assert(d.n == 1 && !strcmp(d.layers[0].name, "actnorm") && d.layers[0].has_mpfr);
    for (int s = 0; s < MW_PLUGIN_SHAPES; s++) /* log_scale and bias per channel */
        ck_assert(d.layers[0].accepts[s] &&
                  d.layers[0].n_params[s] == 2 * mw_plugin_shapes[s].channels);
    ck_assert(mw_plugin_describe(plugin("inv1x1.so"), &d, &e) == MW_OK && !d.layers[0].has_mpfr);
    ck_assert(mw_plugin_describe(plugin("misbehave.so"), &d, &e) == MW_ERR_ARG); /* refuses-all */
    ck_assert_msg(mw_plugin_describe(plugin("misbehave.so:scale2"), &d, &e) == MW_OK && d.n == 1 &&
                      !strcmp(d.layers[0].name, "scale2"),
                  "%s", e.msg);

    refused(plugin("bad_abi.so"), "ABI version 2", "loads version 1");
    refused(plugin("no_entry.so"), "no mwp_plugin_entry", NULL);
    refused(plugin("null_ops.so"), "layer 'nullvjp'", "f64.vjp is NULL");
    refused(plugin("misbehave.so:refuses-all"), "refuses every shape", "takes no shape at all");
    refused(plugin("misbehave.so:nope"), "no layer named 'nope'", "scale2");
    refused(plugin("no-such.so"), "no such file", NULL);
    refused(MW_TEST_PLUGIN_DIR, "not a regular file", NULL);
    refused(MW_TEST_PLUGIN_DIR "/CMakeFiles/../Makefile", "cannot be loaded as a shared object",
            NULL);
}
END_TEST

/* The rows of one layer checked, in a fresh array. */
static mw_layer_rows check(const char *arg)
{
    mw_plugin_desc d;
    mw_err e = {MW_OK, ""};
    mw_layer_rows rows = {0};
    ck_assert_msg(mw_plugin_describe(arg, &d, &e) == MW_OK, "%s", e.msg);
    ck_assert_msg(mw_plugin_layer_check(&d.layers[0], &rows, &e) == MW_OK, "%s", e.msg);
    ck_assert(rows.n > 0);
    return rows;
}

static size_t count(const mw_layer_rows *r, const char *check, const char *oracle, int pass)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += (!check || !strcmp(r->rows[i].check, check)) &&
             (!oracle || !strcmp(r->rows[i].oracle, oracle)) && r->rows[i].pass == pass;
    return n;
}

START_TEST(checks)
{
    /* gold: every check passes, each against the plugin's MPFR passes or an identity */
    mw_layer_rows r = check(plugin("actnorm.so"));
    ck_assert_uint_eq(count(&r, NULL, NULL, 0), 0);
    ck_assert(count(&r, "vjp_params", "gold", 1) == 4 && count(&r, "inverse", "identity", 1) == 4);
    ck_assert_uint_eq(count(&r, NULL, "silver-fd", 1) + count(&r, NULL, "silver-f64", 1), 0);
    ck_assert_uint_eq(count(&r, "method:moonwalk", "gold", 1), 2);
    ck_assert_uint_eq(count(&r, "method:projforward", "gold", 1), 2);
    mw_layer_rows_free(&r);

    /* the faulty twin: its vijp's log_scale gradient is wrong, and only the vijp checks
     * see it, in both dtypes and both shapes, and the two methods that use vijp */
    r = check(plugin("actnorm_faulty.so"));
    ck_assert_uint_eq(count(&r, "vijp_identity", NULL, 0), 4);
    ck_assert_uint_eq(count(&r, "vijp_exact", NULL, 0), 4);
    ck_assert_uint_eq(count(&r, "method:moonwalk", NULL, 0), 2);
    ck_assert_uint_eq(count(&r, "method:mixed", NULL, 0), 2);
    ck_assert_uint_eq(count(&r, NULL, NULL, 0), 12);
    mw_layer_rows_free(&r);

    /* silver: no MPFR; float64 against differences, float32 against float64 */
    r = check(plugin("inv1x1.so"));
    ck_assert_uint_eq(count(&r, NULL, NULL, 0), 0);
    ck_assert(count(&r, "vjp_input", "silver-fd", 1) == 2 &&
              count(&r, "vjp_input", "silver-f64", 1) == 2 && count(&r, "forward", NULL, 1) == 2);
    ck_assert_uint_eq(count(&r, NULL, "gold", 1), 0);
    ck_assert_uint_eq(count(&r, "method:mixed", "silver", 1), 2); /* float64 backprop */
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(r.rows[i].oracle, "silver-fd"))
            ck_assert(strstr(r.rows[i].note, "Richardson") && r.rows[i].threshold > 0);
    mw_layer_rows_free(&r);
}
END_TEST

/* Every failed row of r holds `what`; the rows of `fine` pass. */
static void failed_with(const mw_layer_rows *r, const char *what, const char *fine)
{
    size_t failed = 0;
    for (size_t i = 0; i < r->n; i++) {
        const mw_layer_check_row *x = &r->rows[i];
        if (!x->pass) {
            failed++;
            ck_assert_msg(strstr(x->note, what), "%s %s: note '%s'", x->check,
                          mw_dtype_name(x->dtype), x->note);
        }
        if (fine && !strcmp(x->check, fine))
            ck_assert_msg(x->pass, "%s failed: %s", fine, x->note);
    }
    ck_assert(failed > 0);
}

START_TEST(misbehaving)
{
    mw_layer_rows r = check(plugin("misbehave.so:segv-forward"));
    failed_with(&r, "SIGSEGV", "jvp");
    ck_assert(strstr(r.rows[0].note, "in forward"));
    mw_layer_rows_free(&r);
    r = check(plugin("misbehave.so:abort-vjp"));
    failed_with(&r, "SIGABRT", "forward");
    mw_layer_rows_free(&r);
    r = check(plugin("misbehave.so:fails-jvp"));
    failed_with(&r, "jvp is not implemented", "vjp_input");
    mw_layer_rows_free(&r);
    setenv("MW_PLUGIN_TIME_LIMIT", "0.5", 1);
    r = check(plugin("misbehave.so:hang-inverse"));
    failed_with(&r, "did not finish in 0.5 s", "forward");
    ck_assert_uint_eq(count(&r, "inverse", NULL, 0), 4);
    for (size_t i = 0; i < r.n; i++) /* the operation named; the methods by their method */
        if (!strcmp(r.rows[i].check, "inverse"))
            ck_assert(strstr(r.rows[i].note, " in inverse ("));
    mw_layer_rows_free(&r);
    unsetenv("MW_PLUGIN_TIME_LIMIT");
}
END_TEST

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(cli)
{
    struct {
        const char *arg;
        int code;
        const char *must;
    } cases[] = {
        {plugin("actnorm.so"), 0, "oracle: the plugin's own MPFR passes"},
        {plugin("inv1x1.so"), 0, "oracle: silver"},
        {plugin("actnorm_faulty.so"), 1, "FAILED: 1 real layer"},
        {plugin("misbehave.so:segv-forward"), 1, "crashed: SIGSEGV"},
        {plugin("bad_abi.so"), 2, "ABI version"},
        {plugin("null_ops.so"), 2, "f64.vjp is NULL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run_result r = tu_run(MW_BINARY, (const char *[]){"layer", "check", "--layer-plugin",
                                                             cases[i].arg, "--quiet", NULL});
        ck_assert_msg(r.code == cases[i].code, "%s: exit %d: %s", cases[i].arg, r.code, r.err);
        ck_assert_msg(strstr(cases[i].code == 2 ? r.err : r.out, cases[i].must), "%s: %s%s",
                      cases[i].arg, r.out, r.err);
        if (cases[i].code == 2)
            ck_assert_msg(lines(r.err) == 1 && !r.out[0], "%s: %s", cases[i].arg, r.err);
        tu_run_free(&r);
    }
    /* the plugin's layers are its own: no registry layer beside them */
    tu_run_result r = tu_run(MW_BINARY, (const char *[]){"layer", "check", "additive",
                                                         "--layer-plugin", plugin("actnorm.so"),
                                                         NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "name no other layer"), "%d %s", r.code, r.err);
    tu_run_free(&r);
}
END_TEST


/* A run of mwverify; its exit status, stdout and stderr in r. */
static tu_run_result run(const char *const *args)
{
    return tu_run(MW_BINARY, args);
}

/* The runs of a report: how many of method m fail their verdict. */
static int failing(const mw_report *r, mw_method m)
{
    int n = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        n += r->runs[i].method == m && r->runs[i].verdict == MW_VERDICT_FAIL;
    return n;
}

/* --layer-plugin on grad, gradcheck and the suites: networks of the plugin's layer, each
 * computed in a child, against gold from the plugin's MPFR passes or silver. */
START_TEST(networks)
{
    char dir[] = "/tmp/mw-test-plugins-XXXXXX", out[600];
    ck_assert(mkdtemp(dir) != NULL);
    const char *tiny[] = {"--width", "8", "--batch", "4", "--classes", "3", "--quiet"};
#define TINY tiny[0], tiny[1], tiny[2], tiny[3], tiny[4], tiny[5], tiny[6]
    /* gold: the reference runs the plugin's MPFR passes, certified by a rerun */
    tu_run_result r = run((const char *[]){"grad", "--layer-plugin", plugin("actnorm.so"),
                                           "--depth", "2", TINY, "--json", NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "\"kind\": \"gold\"") &&
                      strstr(r.out, "\"coupling\": \"plugin\""),
                  "%d %.300s %.300s", r.code, r.out, r.err);
    tu_run_free(&r);
    /* silver without MPFR passes, saying why */
    r = run((const char *[]){"grad", "--layer-plugin", plugin("inv1x1.so"), "--depth", "2", TINY,
                             NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "oracle silver") &&
                      strstr(r.out, "no MPFR passes"),
                  "%d %.300s %.300s", r.code, r.out, r.err);
    tu_run_free(&r);
    /* a crash in the plugin: one line naming the signal, exit 3 */
    r = run((const char *[]){"grad", "--layer-plugin", plugin("misbehave.so:segv-forward"), TINY,
                             NULL});
    ck_assert_msg(r.code == 3 && strstr(r.err, "SIGSEGV") && lines(r.err) == 1, "%d %s", r.code,
                  r.err);
    tu_run_free(&r);
    /* refused before any work: a revnet, --coupling plugin alone, a plugin of several
     * layers without a name */
    const char *const *bad[] = {
        (const char *[]){"grad", "--layer-plugin", plugin("actnorm.so"), "--arch", "revnet", NULL},
        (const char *[]){"grad", "--coupling", "plugin", NULL},
        (const char *[]){"grad", "--layer-plugin", plugin("misbehave.so"), NULL},
        (const char *[]){"gradcheck", "--layer-plugin", plugin("actnorm.so"), "--arch", "revnet",
                         NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run(bad[i]);
        ck_assert_msg(r.code == 2 && lines(r.err) == 1, "case %zu: %d %s", i, r.code, r.err);
        tu_run_free(&r);
    }

    /* gradcheck: the faulty twin fails moonwalk and mixed alone (float64 against --tol; in
     * float32 they are diagnosed method-unstable, which fails only under --fail-on) */
    snprintf(out, sizeof out, "%s/faulty.h5", dir);
    r = run((const char *[]){"gradcheck", "--layer-plugin", plugin("actnorm_faulty.so"), "--arch",
                             "mlp", "--depth", "2", "--seed", "1", TINY, "--out", out, NULL});
    ck_assert_msg(r.code == 1, "%d %s", r.code, r.err);
    tu_run_free(&r);
    mw_report rep;
    mw_err e;
    ck_assert_msg(mw_report_load(&rep, out, &e) == MW_OK, "%s", e.msg);
    ck_assert(rep.n_networks == 1 && rep.networks[0].spec.coupling == MW_COUPLING_PLUGIN &&
              rep.networks[0].spec.plugin_params == 16);
    ck_assert_int_eq(failing(&rep, MW_MOONWALK), 1);
    ck_assert_int_eq(failing(&rep, MW_MIXED), 1);
    ck_assert_int_eq(failing(&rep, MW_BACKPROP) + failing(&rep, MW_FORWARD) +
                         failing(&rep, MW_REVBACKPROP), 0);
    mw_report_free(&rep);

    /* a crashing plugin fails its networks, each in its own child, and the run goes on */
    snprintf(out, sizeof out, "%s/segv.h5", dir);
    r = run((const char *[]){"gradcheck", "--layer-plugin", plugin("misbehave.so:segv-forward"),
                             "--arch", "mlp", "--depth", "1,2", TINY, "--out", out, NULL});
    ck_assert_msg(r.code == 3 && strstr(r.err, "SIGSEGV") && strstr(r.err, "2 of 2 units"),
                  "%d %s", r.code, r.err);
    tu_run_free(&r);
    ck_assert_msg(mw_report_load(&rep, out, &e) == MW_OK, "%s", e.msg);
    ck_assert(rep.n_networks == 2 && rep.networks[1].status == MW_NET_FAILED &&
              strstr(rep.networks[1].message, "SIGSEGV"));
    mw_report_free(&rep);

    /* training: suite stability on a network of the layer */
    r = run((const char *[]){"suite", "stability", "--layer-plugin", plugin("actnorm.so"),
                             "--arch", "mlp", "--depth", "2", "--seed", "1", "--epochs", "1",
                             "--train-samples", "16", "--test-samples", "8", TINY, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "PASSED"), "%d %.300s %.300s", r.code, r.out, r.err);
    tu_run_free(&r);
#undef TINY
    snprintf(out, sizeof out, "rm -rf '%s'", dir);
    ck_assert(system(out) == 0);
}
END_TEST

/* --layer-cmd: layers served by another process over docs/layer-protocol.md. */
static tu_run_result layer_cmd(const char *cmd, const char *json_out)
{
    const char *args[] = {"layer", "check", "--layer-cmd", cmd, "--quiet", json_out ? "--json" : NULL,
                          NULL};
    return run(args);
}

/* The failed rows of a --json layer check: each must name `what`; returns how many. */
static int failed_rows_with(const char *json, const char *what)
{
    int failed = 0;
    for (const char *p = json; (p = strstr(p, "\"pass\": false")); p++) {
        const char *note = strstr(p, "\"note\": \"");
        ck_assert_msg(note && strncmp(note + 9, "", 0) == 0, "no note");
        char buf[400];
        size_t k = 0;
        for (const char *c = note + 9; *c && *c != '"' && k + 1 < sizeof buf; c++) {
            if (*c == '\\' && c[1]) /* a JSON escape: the character itself */
                c++;
            buf[k++] = *c;
        }
        buf[k] = '\0';
        ck_assert_msg(strstr(buf, what), "a failed row's note '%s' lacks '%s'", buf, what);
        failed++;
    }
    return failed;
}

START_TEST(bridge)
{
    setenv("PYTHONPATH", MW_PYTHON_DIR, 1);
    char cmd[1024];
    /* the numpy example passes on the silver path; its faulty twin is caught by the vijp
     * checks and the two methods built on vijp */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/additive_numpy.py", MW_PYTHON_EXAMPLES);
    tu_run_result r = layer_cmd(cmd, "json");
    ck_assert_msg(r.code == 0 && strstr(r.out, "\"silver-fd\"") && !strstr(r.out, "\"gold\""),
                  "%d %.300s %.300s", r.code, r.out, r.err);
    tu_run_free(&r);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/additive_numpy_faulty.py", MW_PYTHON_EXAMPLES);
    r = layer_cmd(cmd, "json");
    ck_assert_msg(r.code == 1, "%d %s", r.code, r.err);
    const char *fc = strstr(r.out, "\"failed_checks\": \"");
    ck_assert(fc != NULL);
    char names[200];
    snprintf(names, sizeof names, "%.199s", fc + 18);
    *strchr(names, '"') = '\0';
    int commas = 0;
    for (const char *c = names; *c; c++)
        commas += *c == ',';
    ck_assert_msg(commas == 3 && strstr(names, "vijp_identity") && strstr(names, "vijp_exact") &&
                      strstr(names, "method:moonwalk") && strstr(names, "method:mixed"),
                  "failed checks: %s", names);
    tu_run_free(&r);

    /* a server that misbehaves: each failure a line naming the request and what came */
    struct {
        const char *mode;
        int code;
        const char *what;
    } cases[] = {
        {"ok", 0, NULL},
        {"shape", 1, "where y f"},
        {"dtype", 1, "\"dtype\":\"f64\""}, /* in a float32 call: "... where y f32 [4, 8] ..." */
        {"die", 1, "the layer's process exited with status 5"},
        {"garbage", 1, "the reply is not a protocol frame"},
        {"hang", 1, "did not finish in 0.5 s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* each group of checks waits this long on the hanging server */
        setenv("MW_PLUGIN_TIME_LIMIT", strcmp(cases[i].mode, "hang") == 0 ? "0.5" : "60", 1);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bad_server.py %s", MW_TEST_PLUGIN_SRC,
                 cases[i].mode);
        r = layer_cmd(cmd, "json");
        ck_assert_msg(r.code == cases[i].code, "%s: exit %d: %s", cases[i].mode, r.code, r.err);
        if (cases[i].what)
            ck_assert_msg(failed_rows_with(r.out, cases[i].what) > 0, "%s", cases[i].mode);
        tu_run_free(&r);
    }
    unsetenv("MW_PLUGIN_TIME_LIMIT");
    /* nothing left running: the hanging servers died with the children that started them */
    int left = 1;
    for (int i = 0; i < 30 && left; i++) { /* the kernel's SIGKILL takes a moment to land */
        left = system("pgrep -f 'bad_server[.]py hang' > /dev/null") == 0; /* [.]: not this shell */
        if (left)
            usleep(100000);
    }
    ck_assert_msg(!left, "a server is still running 3 s after its mwverify ended");
    /* another protocol version, or a command that is no server: one line, exit 2 */
    const char *refused[][2] = {
        {"/usr/bin/python3 " MW_TEST_PLUGIN_SRC "/bad_server.py version", "speaks protocol 2"},
        {"echo garbage", "not a protocol frame"},
        {"sh -c 'exit 3'", "exited with status 3"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = layer_cmd(refused[i][0], NULL);
        ck_assert_msg(r.code == 2 && lines(r.err) == 1 && strstr(r.err, refused[i][1]) &&
                          strstr(r.err, "--layer-cmd"),
                      "%s: %d %s", refused[i][0], r.code, r.err);
        tu_run_free(&r);
    }
    /* a network of a served layer: grad, against silver */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/additive_numpy.py", MW_PYTHON_EXAMPLES);
    r = run((const char *[]){"grad", "--layer-cmd", cmd, "--width", "8", "--depth", "2",
                             "--batch", "4", "--classes", "3", "--quiet", NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "oracle silver"), "%d %.300s %.300s", r.code, r.out, r.err);
    tu_run_free(&r);
}
END_TEST

/* An example served by a Python that has `module`, from $env (default /usr/bin/python3);
 * skipped (exit 77) where that Python lacks it. Every check passes. */
static void python_example(const char *test, const char *env, const char *module,
                           const char *script, const char *install)
{
    const char *py = getenv(env) && getenv(env)[0] ? getenv(env) : "/usr/bin/python3";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import %s' 2> /dev/null", py, module);
    if (system(cmd) != 0) {
        fprintf(stderr, "plugins.%s: skipped: %s has no %s (%s; or name a Python that has it "
                        "in %s)\n", test, py, module, install, env);
        exit(77); /* CTest's skip (SKIP_RETURN_CODE) */
    }
    setenv("PYTHONPATH", MW_PYTHON_DIR, 1);
    snprintf(cmd, sizeof cmd, "'%s' %s/%s", py, MW_PYTHON_EXAMPLES, script);
    tu_run_result r = layer_cmd(cmd, "json");
    ck_assert_msg(r.code == 0 && strstr(r.out, "\"failed\": 0"), "%d %.300s %.300s", r.code, r.out, r.err);
    tu_run_free(&r);
}

/* The PyTorch example through mwverify_layer.torch: forward-mode AD for jvp, autograd for
 * vjp, the vjp of the inverse for vijp; every check passes. */
START_TEST(torch)
{
    python_example("torch", "MW_TEST_TORCH_PYTHON", "torch", "affine_torch.py",
                   "apt-get install python3-torch");
}
END_TEST

/* The JAX example through mwverify_layer.jax: jax.jvp, jax.vjp, the vjp of the inverse for
 * vijp; every check passes. Debian has no jax: a Python with it (pip install "jax[cpu]")
 * is named in MW_TEST_JAX_PYTHON. */
START_TEST(jax)
{
    python_example("jax", "MW_TEST_JAX_PYTHON", "jax", "affine_jax.py", "pip install jax");
}
END_TEST

/* The bridge adds nothing: the numpy additive coupling served over the protocol, with the
 * built-in additive coupling's parameters (one dense unit, tanh, no σ: the same function
 * and the same parameter layout), gives every method's gradient on a 3-layer network as
 * the built-in layer does, to float64's rounding (float32: to float32's). */
START_TEST(crosscheck)
{
    setenv("PYTHONPATH", MW_PYTHON_DIR, 1);
    char cmd[1024], why[400];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/additive_numpy.py", MW_PYTHON_EXAMPLES);
    const mwp_plugin *served = mw_bridge_table(cmd, why, sizeof why);
    ck_assert_msg(served && served->n_layers == 1, "%s", why);
    mw_spec s = mw_spec_default();
    s.width = 8, s.hidden = 4, s.units = 1, s.depth = 3, s.batch = 4, s.classes = 3;
    s.f_act = MW_ACT_TANH, s.out_act = MW_ACT_IDENTITY, s.seed = 5;
    mw_spec sp = s;
    sp.coupling = MW_COUPLING_PLUGIN, sp.plugin_params = 4 * 4 + 4;
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    const size_t P = lay.total, N = (size_t)s.batch * (size_t)s.width;
    mw_layout_free(&lay);
    double *theta = malloc(P * sizeof *theta), *x = malloc(N * sizeof *x), *gb = malloc(P * 8),
           *gp = malloc(P * 8);
    int labels[4];
    ck_assert(theta && x && gb && gp);
    mw_synth d = mw_synth_default(s.width, s.classes, s.seed);
    mw_synth_batch(&d, 0, s.batch, x, labels);
    for (int dt = 0; dt < 2; dt++) {
        mw_ctx *ctx;
        char msg[256];
        ck_assert(mw_ctx_open(MW_BACKEND_CPU, (mw_dtype)dt, NULL, &ctx, msg, sizeof msg) == MW_OK);
        mw_net *nb, *np;
        mw_batch *bb, *bp;
        mw_tensor t = {0};
        ck_assert_msg(mw_net_new(ctx, &s, &nb) == MW_OK, "%s", mw_ctx_message(ctx));
        ck_assert(mw_net_get_params(ctx, nb, theta) == MW_OK);
        ck_assert_msg(mw_net_new_plugin(ctx, &sp, &served->layers[0], &np) == MW_OK &&
                          mw_net_set_params(ctx, np, theta) == MW_OK,
                      "%s", mw_ctx_message(ctx));
        ck_assert(mw_batch_new(ctx, nb, x, labels, &bb) == MW_OK &&
                  mw_batch_new(ctx, np, x, labels, &bp) == MW_OK &&
                  mw_tensor_alloc(ctx, P, &t) == MW_OK);
        for (int m = 0; m < MW_N_METHODS; m++) {
            mw_grad_opts o = mw_grad_opts_default();
            o.rng_seed = 3;
            mw_grad_info gi;
            ck_assert_msg(mw_grad(ctx, nb, bb, (mw_method)m, &o, &t, &gi) == MW_OK &&
                              mw_tensor_download(ctx, &t, 0, gb, P) == MW_OK,
                          "%s", mw_ctx_message(ctx));
            ck_assert_msg(mw_grad(ctx, np, bp, (mw_method)m, &o, &t, &gi) == MW_OK &&
                              mw_tensor_download(ctx, &t, 0, gp, P) == MW_OK,
                          "%s", mw_ctx_message(ctx));
            const double diff = tu_rel_l2(gp, gb, P);
            /* the same function, rounded in another order: a few units of the dtype's u
             * times the network's depth (projforward: the same tangents, the same sum) */
            const double bound = dt == MW_F64 ? 1e-13 : 1e-5;
            ck_assert_msg(diff <= bound, "%s %s: served vs built-in %.3e (bound %.0e)",
                          mw_method_name((mw_method)m), mw_dtype_name((mw_dtype)dt), diff, bound);
            if (getenv("MW_TEST_VERBOSE"))
                fprintf(stderr, "crosscheck %s %s: %.3e\n", mw_method_name((mw_method)m),
                        mw_dtype_name((mw_dtype)dt), diff);
        }
        mw_tensor_free(ctx, &t);
        mw_batch_free(ctx, bb), mw_batch_free(ctx, bp);
        mw_net_free(ctx, nb), mw_net_free(ctx, np);
        mw_ctx_free(ctx);
    }
    free(theta), free(x), free(gb), free(gp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugins");
    TCase *tc = tcase_create("describe");
    tcase_add_test(tc, describe);
    suite_add_tcase(s, tc);
    tc = tcase_create("checks");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, checks);
    tcase_add_test(tc, misbehaving);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, cli);
    suite_add_tcase(s, tc);
    tc = tcase_create("bridge");
    tcase_set_timeout(tc, 290); /* 40 s alone; a loaded machine took 240 */
    tcase_add_test(tc, bridge);
    suite_add_tcase(s, tc);
    tc = tcase_create("crosscheck");
    tcase_add_test(tc, crosscheck);
    suite_add_tcase(s, tc);
    tc = tcase_create("torch");
    tcase_set_timeout(tc, 280);
    tcase_add_test(tc, torch);
    suite_add_tcase(s, tc);
    tc = tcase_create("jax");
    tcase_set_timeout(tc, 280);
    tcase_add_test(tc, jax);
    suite_add_tcase(s, tc);
    tc = tcase_create("networks");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, networks);
    suite_add_tcase(s, tc);
    return tu_main(s);
}

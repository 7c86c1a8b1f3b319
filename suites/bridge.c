/* A layer served by another process (--layer-cmd, docs/layer-protocol.md): the command's
 * layers as a plugin's table (mw_plugin.h), every operation a request over the server's
 * stdin and a reply from its stdout. Runs only where plugins run — in mwverify's children —
 * and each process has a server of its own, started on its first request: a child forked
 * from a process with a server starts another rather than share a conversation. The
 * server dies with the process that started it (PR_SET_PDEATHSIG) and is ended on exit.
 *
 * Everything that comes back is checked before it is used: the frame, the header's JSON
 * (Jansson), the reply's type and id, each buffer's name, dtype and shape. A reply that is
 * not what was asked is MWP_ERR_FAILED with one line naming the request and what came. */
#include "bridge.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_HEADER = 1 << 20, MAX_IO = 6 };

static const char *command;          /* the server's command line */
static pid_t server = -1, owner = -1; /* the server, and the process that started it */
static int to_server = -1, from_server = -1;
static long next_id;
static mwp_layer layers[MW_BRIDGE_MAX_LAYERS];
static char names[MW_BRIDGE_MAX_LAYERS][MW_PLUGIN_NAME_MAX + 1];
static char summaries[MW_BRIDGE_MAX_LAYERS][200];
static size_t roundings_of[MW_BRIDGE_MAX_LAYERS];
static mwp_plugin table;

/* ---- the server process ---- */


static void stop_server(void)
{
    if (server <= 0 || owner != getpid())
        return;
    static const char bye[] = "{\"type\":\"bye\",\"id\":-1}";
    const unsigned char head[8] = {'M', 'W', 'L', 'P', (unsigned char)(sizeof bye - 1), 0, 0, 0};
    if (mw_write_all(to_server, head, sizeof head) == 0) /* best effort: it may be gone */
        (void)mw_write_all(to_server, bye, sizeof bye - 1);
    close(to_server); /* and end of input: a server that reads it exits too */
    close(from_server);
    to_server = from_server = -1;
    for (int i = 0; i < 50; i++) { /* a moment to exit, then no more */
        if (waitpid(server, NULL, WNOHANG) == server) {
            server = -1;
            return;
        }
        usleep(10000);
    }
    kill(server, SIGKILL);
    while (waitpid(server, NULL, 0) < 0 && errno == EINTR) {
    }
    server = -1;
}

static int start_server(char *why, size_t n)
{
    int in[2], out[2];
    if (server > 0 && owner != getpid()) { /* inherited: this process's own, not its parent's */
        close(to_server), close(from_server);
        server = -1, to_server = from_server = -1;
    }
    if (server > 0)
        return 0;
    if (pipe(in) != 0 || pipe(out) != 0) {
        snprintf(why, n, "cannot create pipes for the layer's process: %s", strerror(errno));
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, n, "cannot start the layer's process: %s", strerror(errno));
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return 1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* nothing left running when its user ends */
        dup2(in[0], 0);
        dup2(out[1], 1);
        /* none of this process's other files: a pipe its parent waits on must not stay
         * open in the server */
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        signal(SIGINT, SIG_IGN); /* mwverify decides */
        /* exec: the shell becomes the command, which keeps the parent-death signal (a
         * shell that forked would leave it running when killed) */
        char line[4200];
        snprintf(line, sizeof line, "exec %s", command);
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    signal(SIGPIPE, SIG_IGN); /* a server gone is a failed write, not this process's end */
    server = pid, owner = getpid();
    to_server = in[1], from_server = out[0];
    static int registered;
    if (!registered && atexit(stop_server) == 0)
        registered = 1;
    return 0;
}

/* How the server ended, if it has: "exited with status 1", "killed by SIGKILL". */
static void server_end(char *buf, size_t n)
{
    int ws;
    pid_t got = 0;
    buf[0] = '\0';
    for (int i = 0; server > 0 && i < 40 && (got = waitpid(server, &ws, WNOHANG)) == 0; i++)
        usleep(5000); /* its output closed: it is ending; a moment to say how */
    if (server > 0 && got == server) {
        if (WIFEXITED(ws))
            snprintf(buf, n, "; the layer's process exited with status %d", WEXITSTATUS(ws));
        else if (WIFSIGNALED(ws))
            snprintf(buf, n, "; the layer's process was killed by signal %d", WTERMSIG(ws));
        server = -1;
    }
}

/* ---- frames ---- */

/* 0: all n bytes; 1: end of file or an error first. */
static int read_all(int fd, void *p, size_t n)
{
    return mw_read_upto(fd, p, n) != n;
}

/* An array of a request or a reply. */
typedef struct io {
    const char *name;
    int bits;        /* 32 or 64 */
    int ndim;
    size_t dims[3];
    void *data;      /* the numbers, in the dtype */
} io;

static size_t io_count(const io *a)
{
    size_t n = 1;
    for (int d = 0; d < a->ndim; d++)
        n *= a->dims[d];
    return n;
}

static void io_shape(const io *a, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s %s [", a->name, a->bits == 32 ? "f32" : "f64");
    for (int d = 0; d < a->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%zu", d ? ", " : "", a->dims[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

static json_t *shape_json(const mwp_call *c)
{
    return json_pack("{sI sI sI sI sI}", "batch", (json_int_t)c->batch, "features",
                     (json_int_t)c->features, "channels", (json_int_t)c->channels, "height",
                     (json_int_t)c->height, "width", (json_int_t)c->width);
}

/* Send header (consumed) with the arrays of in. */
static int send_frame(json_t *header, const io *in, int n_in, char *why, size_t n)
{
    json_t *bufs = json_array();
    for (int i = 0; i < n_in; i++) {
        json_t *shape = json_array();
        for (int d = 0; d < in[i].ndim; d++)
            json_array_append_new(shape, json_integer((json_int_t)in[i].dims[d]));
        json_array_append_new(bufs, json_pack("{ss ss so}", "name", in[i].name, "dtype",
                                              in[i].bits == 32 ? "f32" : "f64", "shape", shape));
    }
    json_object_set_new(header, "buffers", bufs);
    char *text = json_dumps(header, JSON_COMPACT);
    json_decref(header);
    if (!text) {
        snprintf(why, n, "out of memory for a request");
        return 1;
    }
    const uint32_t len = (uint32_t)strlen(text);
    const unsigned char head[8] = {'M', 'W', 'L', 'P', (unsigned char)len,
                                   (unsigned char)(len >> 8), (unsigned char)(len >> 16),
                                   (unsigned char)(len >> 24)};
    int bad = mw_write_all(to_server, head, sizeof head) || mw_write_all(to_server, text, len);
    free(text);
    for (int i = 0; i < n_in && !bad; i++)
        bad = mw_write_all(to_server, in[i].data, io_count(&in[i]) * (size_t)(in[i].bits / 8));
    if (bad) {
        const int write_errno = errno;
        /* a process that is no server may have printed and exited before the request
         * went out: what it printed says more than the closed pipe does */
        unsigned char got[8];
        size_t have = 0;
        struct pollfd pf = {from_server, POLLIN, 0};
        while (have < sizeof got && poll(&pf, 1, 200) == 1) {
            ssize_t k = read(from_server, got + have, sizeof got - have);
            if (k <= 0)
                break;
            have += (size_t)k;
        }
        if (have > 0 && (have < 4 || memcmp(got, "MWLP", 4) != 0)) {
            char shown[16] = "";
            for (size_t i = 0; i < have; i++)
                shown[i] = got[i] >= 32 && got[i] < 127 ? (char)got[i] : '.';
            shown[have] = '\0';
            snprintf(why, n, "the layer's process wrote something that is not a protocol frame "
                     "(it began \"%s\"; does it print to stdout?) and took no request", shown);
            return bad;
        }
        char end[96];
        server_end(end, sizeof end);
        snprintf(why, n, "the layer's process does not take requests (%s)%s",
                 strerror(write_errno), end);
    }
    return bad;
}

/* Read a reply to request `id` of `type`; its header in *out (the caller decrefs), and
 * the buffers it must have, exactly, into out_io. */
static int recv_frame(const char *type, long id, json_t **out, io *out_io, int n_out, char *why,
                      size_t n)
{
    unsigned char head[8];
    char end[96];
    *out = NULL;
    if (read_all(from_server, head, sizeof head)) {
        server_end(end, sizeof end);
        snprintf(why, n, "no reply: the layer's process closed its output%s", end);
        return 1;
    }
    if (memcmp(head, "MWLP", 4) != 0) {
        char shown[40] = "";
        for (int i = 0; i < 8; i++)
            snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "%c",
                     head[i] >= 32 && head[i] < 127 ? head[i] : '.');
        snprintf(why, n, "the reply is not a protocol frame (it began \"%s\"; does the layer's "
                 "process print to stdout?)", shown);
        return 1;
    }
    const uint32_t len = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16 |
                         (uint32_t)head[7] << 24;
    if (len == 0 || len > MAX_HEADER) {
        snprintf(why, n, "the reply declares a header of %u bytes (at most %d)", len, MAX_HEADER);
        return 1;
    }
    char *text = malloc(len);
    if (!text || read_all(from_server, text, len)) {
        free(text);
        server_end(end, sizeof end);
        snprintf(why, n, "the reply's header was cut short%s", end);
        return 1;
    }
    json_error_t je;
    json_t *h = json_loadb(text, len, 0, &je);
    free(text);
    if (!h || !json_is_object(h)) {
        json_decref(h);
        snprintf(why, n, "the reply's header is not a JSON object (%.80s)", je.text);
        return 1;
    }
    const char *t = json_string_value(json_object_get(h, "type"));
    json_t *jid = json_object_get(h, "id");
    if (t && strcmp(t, "error") == 0) {
        snprintf(why, n, "the layer's process answered an error: %.160s",
                 json_string_value(json_object_get(h, "msg")) ? json_string_value(json_object_get(h, "msg"))
                                                          : "(no msg)");
        json_decref(h);
        return 1;
    }
    if (!t || strcmp(t, type) != 0 || !json_is_integer(jid) || json_integer_value(jid) != id) {
        snprintf(why, n, "the reply is a '%.20s' of id %lld where a '%s' of id %ld was asked",
                 t ? t : "?", json_is_integer(jid) ? (long long)json_integer_value(jid) : -1LL,
                 type, id);
        json_decref(h);
        return 1;
    }
    json_t *bufs = json_object_get(h, "buffers");
    size_t nb = json_is_array(bufs) ? json_array_size(bufs) : 0;
    const char *status = json_string_value(json_object_get(h, "status"));
    const int expect = status && strcmp(status, "ok") != 0 ? 0 : n_out;
    if (nb != (size_t)expect) {
        snprintf(why, n, "the reply has %zu buffers where %d were asked", nb, expect);
        json_decref(h);
        return 1;
    }
    for (int i = 0; i < expect; i++) {
        json_t *b = json_array_get(bufs, (size_t)i), *shape = json_object_get(b, "shape");
        const char *name = json_string_value(json_object_get(b, "name"));
        const char *dt = json_string_value(json_object_get(b, "dtype"));
        int ok = name && dt && json_is_array(shape) && !strcmp(name, out_io[i].name) &&
                 !strcmp(dt, out_io[i].bits == 32 ? "f32" : "f64") &&
                 json_array_size(shape) == (size_t)out_io[i].ndim;
        for (int d = 0; ok && d < out_io[i].ndim; d++) {
            json_t *v = json_array_get(shape, (size_t)d);
            ok = json_is_integer(v) && json_integer_value(v) == (json_int_t)out_io[i].dims[d];
        }
        if (!ok) {
            char want[96], shape_text[160] = "";
            io_shape(&out_io[i], want, sizeof want);
            char *got = json_dumps(b, JSON_COMPACT);
            snprintf(shape_text, sizeof shape_text, "%s", got ? got : "?");
            free(got);
            snprintf(why, n, "the reply's buffer %d is %.140s where %s was asked", i + 1,
                     shape_text, want);
            json_decref(h);
            return 1;
        }
        if (read_all(from_server, out_io[i].data,
                     io_count(&out_io[i]) * (size_t)(out_io[i].bits / 8))) {
            server_end(end, sizeof end);
            snprintf(why, n, "the reply's buffer '%s' was cut short%s", out_io[i].name, end);
            json_decref(h);
            return 1;
        }
    }
    *out = h;
    return 0;
}

/* ---- the session ---- */

static int hello(char *why, size_t n);
static pid_t greeted = -1; /* the process whose server has said hello */

/* One request and its reply: MWP_OK, or MWP_ERR_FAILED with c->msg naming the request. */
static mwp_status exchange(mwp_call *c, const char *what, json_t *req, const io *in, int n_in,
                           io *out, int n_out, json_t **reply)
{
    char why[400];
    *reply = NULL;
    if (start_server(why, sizeof why) || hello(why, sizeof why)) {
        json_decref(req);
        snprintf(c->msg, sizeof c->msg, "%s%s%.200s", what, what[0] ? " request: " : "", why);
        return MWP_ERR_FAILED;
    }
    const long id = ++next_id;
    const char *type = json_string_value(json_object_get(req, "type"));
    char t[16];
    snprintf(t, sizeof t, "%s", type ? type : "?");
    json_object_set_new(req, "id", json_integer(id));
    if (send_frame(req, in, n_in, why, sizeof why) ||
        recv_frame(t, id, reply, out, n_out, why, sizeof why)) {
        snprintf(c->msg, sizeof c->msg, "%s%s%.200s", what, what[0] ? " request: " : "", why);
        /* the conversation is lost (a reply read in part, or none): the next request
         * starts a server afresh */
        stop_server();
        greeted = -1;
        return MWP_ERR_FAILED;
    }
    return MWP_OK;
}

static size_t n_layers;

static int hello(char *why, size_t n)
{
    if (greeted == getpid())
        return 0;
    json_t *req = json_pack("{ss sI sI}", "type", "hello", "id", (json_int_t)0, "protocol",
                            (json_int_t)MW_BRIDGE_PROTOCOL), *h = NULL;
    next_id = 0;
    if (send_frame(req, NULL, 0, why, n) || recv_frame("hello", 0, &h, NULL, 0, why, n))
        return 1;
    json_t *p = json_object_get(h, "protocol"), *ls = json_object_get(h, "layers");
    int bad = 0;
    if (!json_is_integer(p) || json_integer_value(p) != MW_BRIDGE_PROTOCOL) {
        snprintf(why, n, "the layer's process speaks protocol %lld; this mwverify speaks %d "
                 "(docs/layer-protocol.md)",
                 json_is_integer(p) ? (long long)json_integer_value(p) : -1LL, MW_BRIDGE_PROTOCOL);
        bad = 1;
    } else if (!json_is_array(ls) || json_array_size(ls) < 1 ||
               json_array_size(ls) > MW_BRIDGE_MAX_LAYERS) {
        snprintf(why, n, "the hello names %zu layers (1 to %d)",
                 json_is_array(ls) ? json_array_size(ls) : 0, MW_BRIDGE_MAX_LAYERS);
        bad = 1;
    } else if (n_layers && json_array_size(ls) != n_layers) {
        snprintf(why, n, "the layer's process now serves %zu layers, before %zu",
                 json_array_size(ls), n_layers);
        bad = 1;
    }
    for (size_t i = 0; !bad && i < json_array_size(ls); i++) {
        json_t *l = json_array_get(ls, i), *r = json_object_get(l, "roundings");
        const char *name = json_string_value(json_object_get(l, "name"));
        const char *summary = json_string_value(json_object_get(l, "summary"));
        if (!name || !name[0] || strlen(name) > MW_PLUGIN_NAME_MAX) {
            snprintf(why, n, "the hello's layer %zu has no name of 1 to %d characters", i + 1,
                     MW_PLUGIN_NAME_MAX);
            bad = 1;
        } else if (n_layers && strcmp(names[i], name) != 0) {
            snprintf(why, n, "the layer's process names its layer %zu '%s', before '%s'", i + 1,
                     name, names[i]);
            bad = 1;
        } else {
            snprintf(names[i], sizeof names[i], "%s", name);
            snprintf(summaries[i], sizeof summaries[i], "%.120s [served by: %.60s]",
                     summary ? summary : "", command);
            roundings_of[i] = json_is_integer(r) && json_integer_value(r) > 0 &&
                                      json_integer_value(r) < (1 << 30)
                                  ? (size_t)json_integer_value(r)
                                  : 0;
        }
    }
    if (!bad)
        n_layers = json_array_size(ls), greeted = getpid();
    json_decref(h);
    return bad;
}

/* ---- the layer's functions, for layer k ---- */

static void put_shape(json_t *req, const mwp_call *c)
{
    json_object_set_new(req, "shape", shape_json(c));
    json_object_set_new(req, "index", json_integer(c->index));
}

/* The parameter blocks of layer k at c's shape (describe): accepts, and up to max blocks. */
static mwp_status describe(int k, mwp_call *c, mwp_param_block *blocks, int max, int *nb,
                           size_t *P, size_t *K)
{
    if (K)
        *K = 0;
    json_t *req = json_pack("{ss ss}", "type", "describe", "layer", names[k]), *h;
    put_shape(req, c);
    mwp_status st = exchange(c, "describe", req, NULL, 0, NULL, 0, &h);
    if (st != MWP_OK)
        return st;
    json_t *acc = json_object_get(h, "accepts"), *ps = json_object_get(h, "params");
    *nb = 0, *P = 0;
    if (!json_is_boolean(acc) || !json_is_array(ps)) {
        snprintf(c->msg, sizeof c->msg, "describe request: the reply lacks 'accepts' or 'params'");
        json_decref(h);
        return MWP_ERR_FAILED;
    }
    if (!json_is_true(acc)) {
        const char *w = json_string_value(json_object_get(h, "why"));
        snprintf(c->msg, sizeof c->msg, "%.200s", w ? w : "refused");
        json_decref(h);
        return MWP_ERR_SHAPE;
    }
    json_t *r = json_object_get(h, "roundings");
    if (K && json_is_integer(r) && json_integer_value(r) > 0 && json_integer_value(r) < (1 << 30))
        *K = (size_t)json_integer_value(r);
    for (size_t i = 0; i < json_array_size(ps); i++) {
        json_t *b = json_array_get(ps, i), *cnt = json_object_get(b, "count");
        const char *name = json_string_value(json_object_get(b, "name"));
        if (!name || !json_is_integer(cnt) || json_integer_value(cnt) < 0 ||
            json_integer_value(cnt) > (1 << 30)) {
            snprintf(c->msg, sizeof c->msg, "describe request: parameter block %zu lacks a name "
                     "or a count in 0..2^30", i + 1);
            json_decref(h);
            return MWP_ERR_FAILED;
        }
        if (*nb < max)
            snprintf(blocks[*nb].name, sizeof blocks[*nb].name, "%s", name),
                blocks[*nb].count = (size_t)json_integer_value(cnt);
        (*nb)++;
        *P += (size_t)json_integer_value(cnt);
    }
    json_decref(h);
    return MWP_OK;
}

static mwp_status b_accepts(int k, mwp_call *c)
{
    int nb;
    size_t P;
    return describe(k, c, NULL, 0, &nb, &P, NULL);
}

static size_t b_n_params(int k, const mwp_call *c)
{
    mwp_call cc = *c;
    int nb;
    size_t P;
    return describe(k, &cc, NULL, 0, &nb, &P, NULL) == MWP_OK ? P : 0;
}

static int b_param_blocks(int k, const mwp_call *c, mwp_param_block *blocks, int max)
{
    mwp_call cc = *c;
    int nb;
    size_t P;
    return describe(k, &cc, blocks, max, &nb, &P, NULL) == MWP_OK ? nb : -1;
}

static mwp_status b_init(int k, mwp_call *c, uint64_t seed, double *theta)
{
    size_t P = b_n_params(k, c);
    json_t *req = json_pack("{ss ss sI}", "type", "init", "layer", names[k], "seed",
                            (json_int_t)(seed & 0x7fffffffffffffffull)), *h;
    put_shape(req, c);
    io out = {"theta", 64, 1, {P}, theta};
    mwp_status st = exchange(c, "init", req, NULL, 0, &out, 1, &h);
    json_decref(h);
    return st;
}

/* K for c's shape: the describe reply's, else the hello's, else 0 (mwverify's n + 10). */
static size_t b_roundings(int k, const mwp_call *c)
{
    mwp_call cc = *c;
    int nb;
    size_t P, K;
    if (describe(k, &cc, NULL, 0, &nb, &P, &K) == MWP_OK && K)
        return K;
    return roundings_of[k];
}

/* A call: op in the call's dtype with its inputs and outputs. */
static mwp_status call(int k, mwp_call *c, const char *op, size_t T, io *in, int n_in, io *out,
                       int n_out)
{
    const int bits = c->dtype_bits;
    json_t *req = json_pack("{ss ss ss ss sI}", "type", "call", "layer", names[k], "op", op,
                            "dtype", bits == 32 ? "f32" : "f64", "tangents", (json_int_t)T), *h;
    put_shape(req, c);
    /* the caller names the operation and dtype ("the plugin's forward (float32) said: ") */
    mwp_status st = exchange(c, "", req, in, n_in, out, n_out, &h);
    if (st != MWP_OK)
        return st;
    const char *status = json_string_value(json_object_get(h, "status"));
    const char *msg = json_string_value(json_object_get(h, "msg"));
    if (!status || (strcmp(status, "ok") && strcmp(status, "domain") && strcmp(status, "failed")))
        st = MWP_ERR_FAILED, snprintf(c->msg, sizeof c->msg, "the reply's status is not ok, "
                                      "domain or failed");
    else if (strcmp(status, "ok") != 0)
        st = strcmp(status, "domain") == 0 ? MWP_ERR_DOMAIN : MWP_ERR_FAILED,
        snprintf(c->msg, sizeof c->msg, "%.200s", msg ? msg : status);
    json_decref(h);
    return st;
}

/* The arrays of one operation, in either dtype (real is float or double). */
#define ARR(nm, p, nd, ...) ((io){nm, bits, nd, {__VA_ARGS__}, (void *)(p)})

#define OPS(real, bits_)                                                                          \
    static mwp_status fwd_##bits_(int k, mwp_call *c, const real *theta, const real *x, real *y)  \
    {                                                                                             \
        const int bits = bits_;                                                                   \
        const size_t P = b_n_params(k, c), B = c->batch, n = c->features;                        \
        io in[] = {ARR("theta", theta, 1, P), ARR("x", x, 2, B, n)}, out[] = {ARR("y", y, 2, B, n)}; \
        return call(k, c, "forward", 0, in, 2, out, 1);                                           \
    }                                                                                             \
    static mwp_status inv_##bits_(int k, mwp_call *c, const real *theta, const real *y, real *x)  \
    {                                                                                             \
        const int bits = bits_;                                                                   \
        const size_t P = b_n_params(k, c), B = c->batch, n = c->features;                        \
        io in[] = {ARR("theta", theta, 1, P), ARR("y", y, 2, B, n)}, out[] = {ARR("x", x, 2, B, n)}; \
        return call(k, c, "inverse", 0, in, 2, out, 1);                                           \
    }                                                                                             \
    static mwp_status jvp_##bits_(int k, mwp_call *c, const real *theta, size_t T, const real *x, \
                                  const real *dx, const real *dth, real *y, real *dy)             \
    {                                                                                             \
        const int bits = bits_;                                                                   \
        const size_t P = b_n_params(k, c), B = c->batch, n = c->features;                        \
        real *zx = NULL, *zt = NULL; /* NULL tangents are zeros on the wire */                    \
        if (!dx)                                                                                  \
            dx = zx = calloc(T * B * n + 1, sizeof(real));                                        \
        if (!dth)                                                                                 \
            dth = zt = calloc(T * P + 1, sizeof(real));                                           \
        if (!dx || !dth) {                                                                        \
            free(zx), free(zt);                                                                   \
            snprintf(c->msg, sizeof c->msg, "out of memory");                                     \
            return MWP_ERR_FAILED;                                                                \
        }                                                                                         \
        io in[] = {ARR("theta", theta, 1, P), ARR("x", x, 2, B, n), ARR("dx", dx, 3, T, B, n),    \
                   ARR("dtheta", dth, 2, T, P)};                                                   \
        io out[] = {ARR("y", y, 2, B, n), ARR("dy", dy, 3, T, B, n)};                             \
        mwp_status st = call(k, c, "jvp", T, in, 4, out, 2);                                      \
        free(zx), free(zt);                                                                       \
        return st;                                                                                \
    }                                                                                             \
    static mwp_status vjp_##bits_(int k, mwp_call *c, const real *theta, const real *x,           \
                                  const real *hy, real *hx, real *g)                              \
    {                                                                                             \
        const int bits = bits_;                                                                   \
        const size_t P = b_n_params(k, c), B = c->batch, n = c->features;                        \
        io in[] = {ARR("theta", theta, 1, P), ARR("x", x, 2, B, n), ARR("hy", hy, 2, B, n)};      \
        io out[] = {ARR("hx", hx, 2, B, n), ARR("gtheta", g, 1, P)};                              \
        return call(k, c, "vjp", 0, in, 3, out, 2);                                               \
    }                                                                                             \
    static mwp_status vijp_##bits_(int k, mwp_call *c, const real *theta, const real *x,          \
                                   const real *hx, real *y, real *hy, real *g)                    \
    {                                                                                             \
        const int bits = bits_;                                                                   \
        const size_t P = b_n_params(k, c), B = c->batch, n = c->features;                        \
        io in[] = {ARR("theta", theta, 1, P), ARR("x", x, 2, B, n), ARR("hx", hx, 2, B, n)};      \
        io out[] = {ARR("y", y, 2, B, n), ARR("hy", hy, 2, B, n), ARR("gtheta", g, 1, P)};        \
        return call(k, c, "vijp", 0, in, 3, out, 3);                                              \
    }
OPS(float, 32)
OPS(double, 64)

/* The plugin interface gives an operation no layer of its own: a set of trampolines per
 * layer slot k passes k on. */
#define SLOT(k)                                                                                   \
    static mwp_status acc_##k(mwp_call *c) { return b_accepts(k, c); }                            \
    static size_t np_##k(const mwp_call *c) { return b_n_params(k, c); }                          \
    static int pb_##k(const mwp_call *c, mwp_param_block *b, int m)                               \
    {                                                                                             \
        return b_param_blocks(k, c, b, m);                                                        \
    }                                                                                             \
    static mwp_status init_##k(mwp_call *c, uint64_t s, double *t) { return b_init(k, c, s, t); } \
    static size_t rd_##k(const mwp_call *c) { return b_roundings(k, c); }                         \
    static mwp_status f32f_##k(mwp_call *c, const float *t, const float *x, float *y)            \
    {                                                                                             \
        return fwd_32(k, c, t, x, y);                                                             \
    }                                                                                             \
    static mwp_status f32i_##k(mwp_call *c, const float *t, const float *y, float *x)            \
    {                                                                                             \
        return inv_32(k, c, t, y, x);                                                             \
    }                                                                                             \
    static mwp_status f32j_##k(mwp_call *c, const float *t, size_t T, const float *x,            \
                               const float *dx, const float *dt, float *y, float *dy)             \
    {                                                                                             \
        return jvp_32(k, c, t, T, x, dx, dt, y, dy);                                              \
    }                                                                                             \
    static mwp_status f32v_##k(mwp_call *c, const float *t, const float *x, const float *hy,     \
                               float *hx, float *g)                                               \
    {                                                                                             \
        return vjp_32(k, c, t, x, hy, hx, g);                                                     \
    }                                                                                             \
    static mwp_status f32w_##k(mwp_call *c, const float *t, const float *x, const float *hx,     \
                               float *y, float *hy, float *g)                                     \
    {                                                                                             \
        return vijp_32(k, c, t, x, hx, y, hy, g);                                                 \
    }                                                                                             \
    static mwp_status f64f_##k(mwp_call *c, const double *t, const double *x, double *y)         \
    {                                                                                             \
        return fwd_64(k, c, t, x, y);                                                             \
    }                                                                                             \
    static mwp_status f64i_##k(mwp_call *c, const double *t, const double *y, double *x)         \
    {                                                                                             \
        return inv_64(k, c, t, y, x);                                                             \
    }                                                                                             \
    static mwp_status f64j_##k(mwp_call *c, const double *t, size_t T, const double *x,          \
                               const double *dx, const double *dt, double *y, double *dy)         \
    {                                                                                             \
        return jvp_64(k, c, t, T, x, dx, dt, y, dy);                                              \
    }                                                                                             \
    static mwp_status f64v_##k(mwp_call *c, const double *t, const double *x, const double *hy,  \
                               double *hx, double *g)                                             \
    {                                                                                             \
        return vjp_64(k, c, t, x, hy, hx, g);                                                     \
    }                                                                                             \
    static mwp_status f64w_##k(mwp_call *c, const double *t, const double *x, const double *hx,  \
                               double *y, double *hy, double *g)                                  \
    {                                                                                             \
        return vijp_64(k, c, t, x, hx, y, hy, g);                                                 \
    }
SLOT(0) SLOT(1) SLOT(2) SLOT(3) SLOT(4) SLOT(5) SLOT(6) SLOT(7)

#define FILL(k)                                                                                   \
    layers[k] = (mwp_layer){names[k], summaries[k], 0, acc_##k, np_##k, pb_##k, init_##k, rd_##k, \
                            {f32f_##k, f32i_##k, f32j_##k, f32v_##k, f32w_##k},                   \
                            {f64f_##k, f64i_##k, f64j_##k, f64v_##k, f64w_##k},                   \
                            {NULL, NULL}}

const mwp_plugin *mw_bridge_table(const char *cmd, char *why, size_t n)
{
    command = cmd;
    if (start_server(why, n) || hello(why, n))
        return NULL;
    FILL(0); FILL(1); FILL(2); FILL(3); FILL(4); FILL(5); FILL(6); FILL(7);
    table = (mwp_plugin){MWP_ABI_VERSION, sizeof table, "layer-cmd", "protocol 1", n_layers,
                         layers};
    return &table;
}

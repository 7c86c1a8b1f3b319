"""Serve invertible layers to mwverify over its layer protocol, version 1.

docs/layer-protocol.md in the mwverify repository is the contract. mwverify starts the
script (``--layer-cmd "python3 my_layer.py"``) and speaks to it over its stdin and stdout:

    frame   = b"MWLP" + u32 LE header length + JSON header + raw LE buffers

A layer is a subclass of :class:`Layer`; :func:`serve` answers hello, describe, init, call
and bye for one or more of them until mwverify says bye. Everything that comes back from
the layer's code is checked before it is sent (dtype, shape, type), so a wrong result is a
failed call with a message, never a malformed frame; everything malformed that comes from
mwverify ends the server with one line on stderr and exit status 2.
"""

import json
import os
import re
import struct
import sys
import traceback
from collections import namedtuple

import numpy as np

__all__ = ["Layer", "Shape", "Ctx", "DomainError", "serve", "PROTOCOL"]
__version__ = "0.1.0"

PROTOCOL = 1
MAGIC = b"MWLP"
MAX_HEADER = 1 << 20  # 1 MiB, the protocol's limit on a header
OPS = ("forward", "inverse", "jvp", "vjp", "vijp")
_DTYPES = {"f32": np.dtype("<f4"), "f64": np.dtype("<f8")}
_NAME_RE = re.compile(r"^[a-z0-9_-]{1,31}$")


class DomainError(ArithmeticError):
    """Raise from an operation whose input has no image (an inverse outside the range):
    the reply is status "domain" with the message, not "failed"."""


class _BadFrame(Exception):
    """Malformed input from mwverify: the server says so on stderr and exits 2."""


class _Refuse(Exception):
    """A well-framed request the server cannot serve: an "error" reply."""


class Shape(namedtuple("Shape", "batch features channels height width")):
    """The shape of x: B samples of n = C*H*W features (a dense input is C = n, H = W = 1)."""

    __slots__ = ()

    @property
    def image(self):
        """(B, C, H, W), for reshaping x to PyTorch's image layout."""
        return (self.batch, self.channels, self.height, self.width)

    @property
    def dense(self):
        """True for a dense input (H = W = 1)."""
        return self.height == 1 and self.width == 1


class Ctx:
    """What every operation is called with: the shape (also as ctx.batch, ctx.features,
    ctx.channels, ctx.height, ctx.width), the layer's place in a network (ctx.index,
    1..L; couplings alternate on it), the call's dtype (np.float32 or np.float64), the
    operation's name and, for jvp, the number of tangents T."""

    __slots__ = ("shape", "index", "dtype", "op", "tangents", "n_params")

    def __init__(self, shape, index, dtype, op, tangents, n_params):
        self.shape = shape
        self.index = index
        self.dtype = dtype
        self.op = op
        self.tangents = tangents
        self.n_params = n_params

    batch = property(lambda self: self.shape.batch)
    features = property(lambda self: self.shape.features)
    channels = property(lambda self: self.shape.channels)
    height = property(lambda self: self.shape.height)
    width = property(lambda self: self.shape.width)

    def __repr__(self):
        return "Ctx(%r, index=%d, dtype=%s, op=%s)" % (
            self.shape, self.index, np.dtype(self.dtype).name, self.op)


class Layer:
    """An invertible layer, as mwverify checks it. Subclasses set ``name`` ([a-z0-9_-]+,
    at most 31 characters) and ``summary`` (one line), and define params, init and the five
    operations. Arrays are numpy arrays of the call's dtype, row-major, batch first:

    - forward(theta, x, ctx) -> y                         x, y: [B, n]
    - inverse(theta, y, ctx) -> x                         raise DomainError outside the range
    - jvp(theta, x, dx, dtheta, ctx) -> (y, dy)           dx, dy: [T, B, n]; dtheta: [T, P]
    - vjp(theta, x, hy, ctx) -> (hx, g)                   hx = hy J_x; g = hy J_theta, [P],
                                                          summed over the batch
    - vijp(theta, x, hx, ctx) -> (y, hy, g)               y = f(x), hy = hx J_x^-1,
                                                          g = hy J_theta

    Every result must have the call's dtype and exactly the protocol's shape ([B, n], not
    [B, C, H, W]). A float32 call must compute in float32."""

    name = None
    summary = None

    def roundings(self, shape):
        """How many roundings an output element goes through at most (mw_plugin.h), or None
        for mwverify's default (n + 10). serve() sends it with each describe reply, for that
        shape, and in the hello reply if roundings(None) gives an int (a count that needs no
        shape)."""
        return None

    def accepts(self, shape):
        """(True, "") when the layer takes inputs of this shape, else (False, the rule)."""
        return True, ""

    def params(self, shape, index):
        """The parameter blocks for this shape and place: a list of (name, count)."""
        raise NotImplementedError("%s.params" % type(self).__name__)

    def init(self, shape, index, seed):
        """The initial parameters, float64 [P], a function of the seed alone."""
        raise NotImplementedError("%s.init" % type(self).__name__)

    def forward(self, theta, x, ctx):
        raise NotImplementedError("forward")

    def inverse(self, theta, y, ctx):
        raise NotImplementedError("inverse")

    def jvp(self, theta, x, dx, dtheta, ctx):
        raise NotImplementedError("jvp")

    def vjp(self, theta, x, hy, ctx):
        raise NotImplementedError("vjp")

    def vijp(self, theta, x, hx, ctx):
        raise NotImplementedError("vijp")


# ---- frames -------------------------------------------------------------------------------


class _Derived(Layer):
    """What TorchLayer and JaxLayer share: the name, summary and input view they are given,
    roundings from an int or a function of the shape, and accepts from the given function,
    or else from building the layer for the shape (_build(shape, index) raises ValueError
    for a shape it does not take)."""

    def __init__(self, name, summary, reshape, accepts, roundings):
        if reshape not in ("flat", "image") and not callable(reshape):
            raise ValueError("reshape must be \"flat\", \"image\" or a function of the shape")
        self.name = name
        self.summary = summary
        self.reshape = reshape
        self._accepts = accepts
        self._roundings = roundings

    def roundings(self, shape):
        r = self._roundings
        return r(shape) if callable(r) else r

    def accepts(self, shape):
        if self._accepts is not None:
            return self._accepts(shape)
        try:
            self._build(shape, 1)
        except ValueError as e:
            return False, str(e)
        return True, ""

    def _build(self, shape, index):
        raise NotImplementedError("%s._build" % type(self).__name__)


def _read_exact(stream, n, what):
    data = stream.read(n)
    if data is None or len(data) != n:
        got = 0 if data is None else len(data)
        raise _BadFrame("stdin ended inside a frame: %s cut short (%d of %d bytes)"
                        % (what, got, n))
    return data


def _read_frame(stream):
    """One frame: (header dict, [(name, array)]), or None at a clean end of input."""
    magic = stream.read(4)
    if not magic:
        return None
    if len(magic) != 4:
        raise _BadFrame("stdin ended inside a frame's magic (%d of 4 bytes)" % len(magic))
    if magic != MAGIC:
        raise _BadFrame("bad frame: magic %r, not %r" % (magic, MAGIC))
    (length,) = struct.unpack("<I", _read_exact(stream, 4, "header length"))
    if length > MAX_HEADER:
        raise _BadFrame("bad frame: header of %d bytes, over the limit of %d"
                        % (length, MAX_HEADER))
    raw = _read_exact(stream, length, "header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _BadFrame("bad frame: header is not UTF-8 JSON (%s)" % _one_line(e))
    if not isinstance(header, dict):
        raise _BadFrame("bad frame: header is JSON %s, not an object" % type(header).__name__)
    entries = header.get("buffers", [])
    if not isinstance(entries, list):
        raise _BadFrame("bad frame: \"buffers\" is not a list")
    buffers = []
    for k, e in enumerate(entries):
        if not isinstance(e, dict):
            raise _BadFrame("bad frame: buffer entry %d is not an object" % k)
        name, dt, shape = e.get("name"), e.get("dtype"), e.get("shape")
        if not isinstance(name, str):
            raise _BadFrame("bad frame: buffer entry %d has no string \"name\"" % k)
        if dt not in _DTYPES:
            raise _BadFrame("bad frame: buffer %r has dtype %r, not \"f32\" or \"f64\""
                            % (name, dt))
        if (not isinstance(shape, list) or
                not all(type(d) is int and d >= 0 for d in shape)):
            raise _BadFrame("bad frame: buffer %r has shape %r, not a list of sizes"
                            % (name, shape))
        count = 1
        for d in shape:
            count *= d
        nbytes = count * _DTYPES[dt].itemsize
        if nbytes > (1 << 40):
            raise _BadFrame("bad frame: buffer %r of shape %r is too large" % (name, shape))
        data = bytearray(_read_exact(stream, nbytes, "buffer %r" % name))
        arr = np.frombuffer(data, dtype=_DTYPES[dt]).reshape(shape)
        buffers.append((name, arr.astype(_DTYPES[dt].newbyteorder("="), copy=False)))
    return header, buffers


def _write_frame(stream, header, buffers=()):
    entries, blobs = [], []
    for name, arr in buffers:
        arr = np.ascontiguousarray(arr)
        code = "f32" if arr.dtype == np.float32 else "f64"
        entries.append({"name": name, "dtype": code, "shape": list(arr.shape)})
        blobs.append(arr.astype(_DTYPES[code], copy=False).tobytes())
    if entries:
        header = dict(header, buffers=entries)
    raw = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(raw) > MAX_HEADER:  # only a huge message could do this: cut it
        header = {k: v for k, v in header.items() if k != "msg"}
        header["msg"] = "reply header over 1 MiB"
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    stream.write(MAGIC + struct.pack("<I", len(raw)) + raw + b"".join(blobs))
    stream.flush()


# ---- helpers ------------------------------------------------------------------------------


def _one_line(e):
    """An exception's one-line summary: "TypeError: the message"."""
    text = str(e).strip().splitlines()
    msg = text[0] if text else ""
    s = "%s: %s" % (type(e).__name__, msg) if msg else type(e).__name__
    return s[:240]


def _clip(msg):
    msg = " ".join(str(msg).split())
    return msg[:240]


def _describe_array(a):
    if isinstance(a, np.ndarray):
        return "%s %s" % (a.dtype.name, list(a.shape))
    mod = type(a).__module__
    return "a %s" % (type(a).__name__ if mod == "builtins" else mod + "." + type(a).__name__)


def _int_field(h, key, lo=None):
    v = h.get(key)
    if type(v) is not int or (lo is not None and v < lo):
        raise _Refuse("request field %r is %r, not an integer%s"
                      % (key, v, "" if lo is None else " >= %d" % lo))
    return v


def _shape_field(h):
    s = h.get("shape")
    if not isinstance(s, dict):
        raise _Refuse("request has no \"shape\" object")
    vals = []
    for k in Shape._fields:
        v = s.get(k)
        if type(v) is not int or v < 1:
            raise _Refuse("shape field %r is %r, not a positive integer" % (k, v))
        vals.append(v)
    shape = Shape(*vals)
    if shape.channels * shape.height * shape.width != shape.features:
        raise _Refuse("shape has %d features, not channels * height * width = %dx%dx%d"
                      % (shape.features, shape.channels, shape.height, shape.width))
    return shape


class _Server:
    def __init__(self, layers, out):
        self.layers = {}
        for layer in layers:
            self.layers[layer.name] = layer
        self.order = list(layers)
        self.out = out
        self.said_hello = False
        self.blocks = {}  # (name, shape, index) -> [(name, count)]

    # -- per request

    def layer_of(self, h):
        name = h.get("layer")
        if name not in self.layers:
            raise _Refuse("no layer %r here (this server has %s)"
                          % (name, ", ".join(sorted(self.layers))))
        return self.layers[name]

    def param_blocks(self, layer, shape, index):
        key = (layer.name, shape, index)
        if key not in self.blocks:
            try:
                blocks = layer.params(shape, index)
            except Exception as e:
                traceback.print_exc()
                raise _Refuse("params failed: %s" % _one_line(e))
            out = []
            try:
                for b in blocks:
                    name, count = b
                    if not isinstance(name, str) or not name or len(name) > 31:
                        raise ValueError("block name %r is not a string of 1 to 31 characters"
                                         % (name,))
                    count = int(count) if isinstance(count, (int, np.integer)) else count
                    if type(count) is not int or count < 0:
                        raise ValueError("block %r has count %r" % (name, count))
                    out.append((name, count))
            except (TypeError, ValueError) as e:
                raise _Refuse("params did not return a list of (name, count): %s"
                              % _one_line(e))
            self.blocks[key] = out
        return self.blocks[key]

    def check_accepts(self, layer, shape):
        try:
            res = layer.accepts(shape)
        except Exception as e:
            traceback.print_exc()
            raise _Refuse("accepts failed: %s" % _one_line(e))
        if isinstance(res, bool):
            ok, why = res, ""
        else:
            try:
                ok, why = res
            except (TypeError, ValueError):
                raise _Refuse("accepts returned %s, not (bool, why)" % _describe_array(res))
        return bool(ok), "" if why is None else _clip(why)

    def hello(self, h):
        if self.said_hello:
            raise _Refuse("hello again: hello comes once, first")
        self.said_hello = True
        layers = []
        for layer in self.order:
            entry = {"name": layer.name, "summary": layer.summary}
            try:
                k = layer.roundings(None)
            except Exception:
                k = None  # a count that needs a shape: the protocol has no room for it
            if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > 0:
                entry["roundings"] = int(k)
            layers.append(entry)
        # The reply states our version even when mwverify asked for another: it then ends
        # the session, saying which versions met.
        return {"protocol": PROTOCOL, "layers": layers}, []

    def describe(self, h):
        layer = self.layer_of(h)
        shape = _shape_field(h)
        index = _int_field(h, "index", 1)
        ok, why = self.check_accepts(layer, shape)
        if not ok:
            return {"accepts": False, "why": why or "refused", "params": []}, []
        blocks = self.param_blocks(layer, shape, index)
        reply = {"accepts": True, "why": why,
                 "params": [{"name": n, "count": c} for n, c in blocks]}
        try:
            k = layer.roundings(shape)
        except Exception:
            k = None
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > 0:
            reply["roundings"] = int(k)
        return reply, []

    def accepted_blocks(self, layer, shape, index):
        ok, why = self.check_accepts(layer, shape)
        if not ok:
            raise _Refuse("layer %s does not take shape %s: %s" % (layer.name, tuple(shape), why))
        return self.param_blocks(layer, shape, index)

    def init(self, h):
        layer = self.layer_of(h)
        shape = _shape_field(h)
        index = _int_field(h, "index", 1)
        seed = _int_field(h, "seed", 0)
        P = sum(c for _, c in self.accepted_blocks(layer, shape, index))
        try:
            theta = layer.init(shape, index, seed)
        except Exception as e:
            traceback.print_exc()
            raise _Refuse("init failed: %s" % _one_line(e))
        if not isinstance(theta, np.ndarray) or theta.dtype.kind not in "fiu":
            raise _Refuse("init returned %s, not a float64 array [%d]"
                          % (_describe_array(theta), P))
        if theta.shape != (P,):
            raise _Refuse("init returned %s, not float64 [%d]" % (_describe_array(theta), P))
        return {}, [("theta", theta.astype(np.float64))]

    def call(self, h, buffers):
        layer = self.layer_of(h)
        op = h.get("op")
        if op not in OPS:
            raise _Refuse("unknown op %r (forward, inverse, jvp, vjp, vijp)" % (op,))
        code = h.get("dtype")
        if code not in _DTYPES:
            raise _Refuse("call dtype %r, not \"f32\" or \"f64\"" % (code,))
        dtype = np.float32 if code == "f32" else np.float64
        shape = _shape_field(h)
        index = _int_field(h, "index", 1)
        T = 0
        if op == "jvp" or "tangents" in h:
            T = _int_field(h, "tangents", 0)
        P = sum(c for _, c in self.accepted_blocks(layer, shape, index))
        B, n = shape.batch, shape.features
        want = {
            "forward": [("theta", (P,)), ("x", (B, n))],
            "inverse": [("theta", (P,)), ("y", (B, n))],
            "jvp": [("theta", (P,)), ("x", (B, n)), ("dx", (T, B, n)), ("dtheta", (T, P))],
            "vjp": [("theta", (P,)), ("x", (B, n)), ("hy", (B, n))],
            "vijp": [("theta", (P,)), ("x", (B, n)), ("hx", (B, n))],
        }[op]
        got = [(nm, a.dtype, a.shape) for nm, a in buffers]
        expect = [(nm, np.dtype(dtype), s) for nm, s in want]
        if got != expect:
            fmt = lambda lst: ", ".join("%s %s %s" % (nm, np.dtype(dt).name, list(s))
                                        for nm, dt, s in lst) or "none"
            raise _Refuse("%s %s call takes buffers %s; got %s" % (op, code, fmt(expect), fmt(got)))
        args = [a for _, a in buffers]
        ctx = Ctx(shape, index, dtype, op, T, P)
        outs = {
            "forward": [("y", (B, n))],
            "inverse": [("x", (B, n))],
            "jvp": [("y", (B, n)), ("dy", (T, B, n))],
            "vjp": [("hx", (B, n)), ("gtheta", (P,))],
            "vijp": [("y", (B, n)), ("hy", (B, n)), ("gtheta", (P,))],
        }[op]
        try:
            res = getattr(layer, op)(*args, ctx)
        except DomainError as e:
            return {"status": "domain", "msg": _clip(str(e) or "input outside the domain")}, []
        except Exception as e:
            msg = _clip("%s raised %s" % (op, _one_line(e)))
            traceback.print_exc()
            # mwverify keeps stderr's last line: make it the summary, not the traceback's tail
            sys.stderr.write("mwverify_layer: %s: %s\n" % (layer.name, msg))
            sys.stderr.flush()
            return {"status": "failed", "msg": msg}, []
        if len(outs) == 1:
            res = (res,)
        elif not isinstance(res, (tuple, list)) or len(res) != len(outs):
            what = ("a %d-tuple" % len(res)) if isinstance(res, (tuple, list)) else \
                _describe_array(res)
            return {"status": "failed",
                    "msg": "%s returned %s, not the %d arrays (%s)"
                           % (op, what, len(outs), ", ".join(nm for nm, _ in outs))}, []
        reply = []
        for (nm, s), a in zip(outs, res):
            if (not isinstance(a, np.ndarray) or a.dtype != np.dtype(dtype) or a.shape != s):
                return {"status": "failed",
                        "msg": _clip("%s returned %s%s for a %s call of shape [%d, %d]: "
                                     "wanted %s %s"
                                     % (op, _describe_array(a),
                                        "" if len(outs) == 1 else " as " + nm,
                                        np.dtype(dtype).name, B, n,
                                        np.dtype(dtype).name, list(s)))}, []
            reply.append((nm, a))
        return {"status": "ok", "msg": ""}, reply

    # -- the loop

    def run(self, stream):
        while True:
            frame = _read_frame(stream)
            if frame is None:
                return 0  # mwverify closed our stdin without a bye: it is gone
            h, buffers = frame
            typ, rid = h.get("type"), h.get("id")
            if not isinstance(typ, str) or type(rid) is not int:
                raise _BadFrame("bad request: \"type\" %r and \"id\" %r (a string and an "
                                "integer are needed)" % (typ, rid))
            if typ == "bye":
                return 0
            try:
                if typ != "hello" and not self.said_hello:
                    raise _Refuse("%s before hello" % typ)
                if typ != "call" and buffers:
                    raise _Refuse("a %s request carries no buffers (got %d)" % (typ, len(buffers)))
                if typ == "hello":
                    body, bufs = self.hello(h)
                elif typ == "describe":
                    body, bufs = self.describe(h)
                elif typ == "init":
                    body, bufs = self.init(h)
                elif typ == "call":
                    body, bufs = self.call(h, buffers)
                else:
                    raise _Refuse("unknown request type %r" % typ)
                reply = {"type": typ, "id": rid}
                reply.update(body)
            except _Refuse as e:
                reply, bufs = {"type": "error", "id": rid, "msg": _clip(e)}, []
            _write_frame(self.out, reply, bufs)


def _check_layers(layers):
    if isinstance(layers, (Layer, type)):
        layers = [layers]
    layers = [l() if isinstance(l, type) else l for l in layers]
    if not 1 <= len(layers) <= 16:
        raise ValueError("serve needs 1 to 16 layers, got %d" % len(layers))
    seen = set()
    for l in layers:
        if not isinstance(l, Layer):
            raise TypeError("%r is not a mwverify_layer.Layer" % (l,))
        if not isinstance(l.name, str) or not _NAME_RE.match(l.name):
            raise ValueError("layer name %r: [a-z0-9_-]+, 1 to 31 characters" % (l.name,))
        if l.name in seen:
            raise ValueError("two layers named %r" % l.name)
        seen.add(l.name)
        if not isinstance(l.summary, str) or not l.summary.strip() or "\n" in l.summary:
            raise ValueError("layer %s: summary must be one non-empty line" % l.name)
    return layers


def serve(layers):
    """Serve one layer or a list of them (1 to 16) on stdin/stdout until mwverify says bye,
    then exit 0. A malformed frame from mwverify: one line on stderr, exit 2.

    The protocol's stdout is kept for the frames alone: from here on fd 1 (and so print(),
    sys.stdout and C code writing to stdout) goes to stderr, and stdin reads /dev/null."""
    layers = _check_layers(layers)
    try:
        sys.stdout.flush()
    except Exception:
        pass
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    server = _Server(layers, proto_out)
    code = 0
    try:
        code = server.run(proto_in)
    except _BadFrame as e:
        sys.stderr.write("mwverify_layer: %s\n" % _clip(e))
        code = 2
    except (BrokenPipeError, ConnectionResetError):
        sys.stderr.write("mwverify_layer: stdout closed: mwverify is gone\n")
        code = 2
    try:
        sys.stderr.flush()
    except Exception:
        pass
    sys.exit(code)

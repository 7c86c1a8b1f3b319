"""A layer-protocol server (docs/layer-protocol.md) that misbehaves on purpose, for the
bridge's tests: python3 bad_server.py MODE. Its layer is y = 2x (no parameters); MODE
spoils its forward reply:

  ok       nothing: every check passes
  version  the hello says protocol 2
  shape    forward's y has one row too few
  dtype    forward's y is float64 in a float32 call
  die      the process exits (status 5) on forward
  hang     the process sleeps on forward, for ever
  garbage  forward's reply is text, not a frame

Standard library only: it writes its frames itself."""
import array
import json
import struct
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"
IN, OUT = sys.stdin.buffer, sys.stdout.buffer


def read_exact(n):
    data = IN.read(n)
    if data is None or len(data) < n:
        sys.exit(0)  # mwverify closed our input: the end
    return data


def read_frame():
    head = read_exact(8)
    if head[:4] != b"MWLP":
        sys.stderr.write("bad_server: not a frame\n")
        sys.exit(2)
    (length,) = struct.unpack("<I", head[4:])
    h = json.loads(read_exact(length))
    bufs = []
    for b in h.get("buffers", []):
        count = 1
        for d in b["shape"]:
            count *= d
        code = "f" if b["dtype"] == "f32" else "d"
        a = array.array(code)
        a.frombytes(read_exact(count * a.itemsize))
        bufs.append(a)
    return h, bufs


def write_frame(h, bufs=()):
    text = json.dumps(h).encode()
    OUT.write(b"MWLP" + struct.pack("<I", len(text)) + text)
    for a in bufs:
        OUT.write(a.tobytes())
    OUT.flush()


def buf(name, code, shape, values):
    return {"name": name, "dtype": "f32" if code == "f" else "f64", "shape": shape}, \
        array.array(code, values)


def reply_call(h, bufs):
    code = "f" if h["dtype"] == "f32" else "d"
    s = h["shape"]
    B, n, T = s["batch"], s["features"], h.get("tangents", 0)
    op = h["op"]
    if op == "forward" and MODE != "ok":
        if MODE == "die":
            sys.exit(5)
        if MODE == "hang":
            while True:
                time.sleep(60)
        if MODE == "garbage":
            OUT.write(b"Traceback (most recent call last): oops\n")
            OUT.flush()
            return
        if MODE == "shape":
            spec, a = buf("y", code, [B - 1, n], [2 * v for v in bufs[1][: (B - 1) * n]])
            return write_frame({"type": "call", "id": h["id"], "status": "ok", "msg": "",
                                "buffers": [spec]}, [a])
        if MODE == "dtype":
            spec, a = buf("y", "d", [B, n], [2 * v for v in bufs[1]])
            return write_frame({"type": "call", "id": h["id"], "status": "ok", "msg": "",
                                "buffers": [spec]}, [a])
    if op == "forward":
        out = [buf("y", code, [B, n], [2 * v for v in bufs[1]])]
    elif op == "inverse":
        out = [buf("x", code, [B, n], [v / 2 for v in bufs[1]])]
    elif op == "jvp":
        out = [buf("y", code, [B, n], [2 * v for v in bufs[1]]),
               buf("dy", code, [T, B, n], [2 * v for v in bufs[2]])]
    elif op == "vjp":
        out = [buf("hx", code, [B, n], [2 * v for v in bufs[2]]), buf("gtheta", code, [0], [])]
    else:  # vijp
        out = [buf("y", code, [B, n], [2 * v for v in bufs[1]]),
               buf("hy", code, [B, n], [v / 2 for v in bufs[2]]), buf("gtheta", code, [0], [])]
    write_frame({"type": "call", "id": h["id"], "status": "ok", "msg": "",
                 "buffers": [o[0] for o in out]}, [o[1] for o in out])


while True:
    h, bufs = read_frame()
    t = h["type"]
    if t == "hello":
        write_frame({"type": "hello", "id": h["id"], "protocol": 2 if MODE == "version" else 1,
                     "layers": [{"name": "scale2-" + MODE, "summary": "y = 2x, " + MODE,
                                 "roundings": 2}]})
    elif t == "describe":
        write_frame({"type": "describe", "id": h["id"], "accepts": True, "why": "", "params": []})
    elif t == "init":
        write_frame({"type": "init", "id": h["id"],
                     "buffers": [{"name": "theta", "dtype": "f64", "shape": [0]}]})
    elif t == "call":
        reply_call(h, bufs)
    elif t == "bye":
        sys.exit(0)

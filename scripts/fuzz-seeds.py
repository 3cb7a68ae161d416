#!/usr/bin/env python3
"""Cut the fuzz seed corpora (tests/fuzz/corpus/<target>/) from the shared recordings.

Usage: scripts/fuzz-seeds.py [DATA_DIR]   (default: ../shared/data beside the repository)

A few hundred small seeds per target, none over 64 KiB; the corpora are generated, never
committed (tests/fuzz/.gitignore). Layouts are those the targets in tests/fuzz/fuzz_targets/
document (md: selector byte, a line of symbols, one message per line, `S ` = REST snapshot).
"""
import ast
import gzip
import hashlib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_SEED = 64 << 10

# recording -> md selectors (tests/fuzz/fuzz_targets/common.rs VENUES)
CF = {
    "BINANCE.ws.1.0": [0], "BINANCE_FUTURES.ws.1.0": [1], "OKX.ws.1.0": [3],
    "KRAKEN.ws.48.0": [4], "KRAKEN.ws.49.0": [4], "KRAKEN.ws.50.0": [4],
    "COINBASE.ws.28.0": [6, 7], "BYBIT.ws.25.0": [9], "BYBIT.ws.26.0": [9],
    "UPBIT.ws.62.0": [10], "BITHUMB.ws.1.0": [11, 12], "KUCOIN.ws.1.0": [13],
    "GATEIO.ws.1.0": [14], "BITGET.ws.1.0": [15],
}
NSJSON = {"spot_btcusdt_20240808.gz": 0, "usdm_btcusdt_20240808.gz": 1, "cm_btcusd_perp_20240808.gz": 2}
SYM = re.compile(r"[A-Za-z0-9]{2,12}[-_/][A-Za-z0-9]{2,12}(?:-[A-Za-z0-9]{2,8})?|[A-Z0-9]{6,16}")


def save(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if len(data) > MAX_SEED:
        return
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def payload(p):
    p = p.strip()
    if p.startswith("b'") or p.startswith('b"'):
        try:
            return ast.literal_eval(p)
        except (ValueError, SyntaxError):
            return p.encode()
    return p.encode()


def cryptofeed(path, limit=4000):
    """(symbols, [(snapshot?, bytes)]) of the first `limit` lines."""
    syms, msgs, raw = [], [], []
    with open(path, "r", errors="replace") as f:
        for i, line in enumerate(f):
            if i >= limit:
                break
            raw.append(line)
            if " <- " in line.split(": ", 1)[0]:
                for s in SYM.findall(line.split(": ", 1)[-1]):
                    for v in (s, s.upper()):
                        if v not in syms:
                            syms.append(v)
                continue
            if " <-> " in line:
                continue
            if ": " not in line:
                continue
            head, body = line.split(": ", 1)
            msgs.append((" -> " in head, payload(body)))
    return syms[:8], msgs, raw


def md_seeds(sel, syms, msgs, n=14):
    if not msgs:
        return
    step = max(1, len(msgs) // n)
    for k in range(n):
        i = k * step
        chunk = msgs[i : i + 1 + k % 6]
        body = b"\n".join((b"S " if s else b"") + m for s, m in chunk)
        save("md", bytes([sel]) + " ".join(syms).encode() + b"\n" + body)


def main():
    rec = os.path.join(DATA, "recorded")
    for name, sels in CF.items():
        p = os.path.join(rec, name)
        if not os.path.exists(p):
            continue
        syms, msgs, raw = cryptofeed(p)
        # the REST snapshots recorded beside the stream
        http = os.path.join(rec, name.split(".ws.")[0] + ".http.0.0")
        if os.path.exists(http):
            _, hm, _ = cryptofeed(http, 20)
            msgs = [(True, m) for _, m in hm[:3]] + msgs
        for sel in sels:
            md_seeds(sel, syms, msgs)
        for fmt in (0, 2):
            save("replay_reader", bytes([fmt]) + "".join(raw[:40]).encode())
    for name, sel in NSJSON.items():
        p = os.path.join(DATA, "binance", name)
        if not os.path.exists(p):
            continue
        lines = []
        with gzip.open(p, "rt") as f:
            for i, line in enumerate(f):
                if i >= 3000:
                    break
                lines.append(line)
        msgs = []
        for line in lines:
            body = line.split(" ", 1)[-1].strip().encode()
            msgs.append((body.startswith(b'{"lastUpdateId"'), body))
        sym = "BTCUSD_PERP" if "cm_" in name else "BTCUSDT"
        md_seeds(sel, [sym], msgs, 30)
        # binance_scan: one message each (byte 0: 8 price and 7 quantity decimals; 0xf8: and
        # room for only 2 levels)
        for i in range(0, len(msgs), 100):
            save("binance_scan", bytes([0xF8 if i % 300 == 0 else 0x78]) + msgs[i][1])
        for fmt in (0, 1, 4):
            save("replay_reader", bytes([fmt]) + "".join(lines[i] for i in range(10, 40)).encode())
    # bybit v5 (plain JSON lines)
    p = os.path.join(rec, "bybit_v5_XRPUSDT_ob500_20241201.data")
    if os.path.exists(p):
        with open(p, "rb") as f:
            msgs = [(False, f.readline().strip()) for _ in range(300)]
        md_seeds(8, ["XRPUSDT"], msgs)
    # Binance order answers and user-stream events: the JSON samples in the order-entry tests
    src = open(os.path.join(ROOT, "src", "venues", "binance", "orders.rs")).read()
    src += open(os.path.join(ROOT, "src", "tools", "replay_server", "binance_orders.rs")).read() if os.path.exists(
        os.path.join(ROOT, "src", "tools", "replay_server", "binance_orders.rs")) else ""
    for j in re.findall(r'br?#"(\{.*?\})"#', src, re.S):
        for sel in range(8):
            for status in (200, 400, 418):
                save("binance_orders", bytes([sel]) + status.to_bytes(2, "little") + j.encode())
    # ws_frames: server frames (RFC 6455 §5.2, unmasked) of recorded messages after the valid
    # 101; byte 0 picks the bytes per socket read (1, 7, 64) and the message limit
    def frame(op, body, fin=True):
        n = len(body)
        head = bytes([(0x80 if fin else 0) | op])
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + n.to_bytes(2, "big")
        else:
            head += bytes([127]) + n.to_bytes(8, "big")
        return head + body
    with gzip.open(os.path.join(DATA, "binance", "spot_btcusdt_20240808.gz"), "rt") as f:
        bodies = [next(f).split(" ", 1)[1].strip().encode() for _ in range(40)]
    for k, sel in enumerate((0x00, 0x06, 0x3F, 0x7F)):
        msgs = bodies[k * 10:(k + 1) * 10]
        save("ws_frames", bytes([sel]) + b"".join(frame(1, m) for m in msgs))
        # a ping, a message in three fragments, a binary message, a normal close
        m = msgs[0]
        t = len(m) // 3
        save("ws_frames", bytes([sel]) + frame(9, b"hb") + frame(1, m[:t], False) + frame(0, m[t:2 * t], False)
             + frame(0, m[2 * t:]) + frame(2, m) + frame(8, (1000).to_bytes(2, "big") + b"end"))
    # the whole answer: a refusal, and a 101 with the wrong accept key
    save("ws_frames", bytes([0x80 | 0x3F]) + b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 5\r\n\r\nslow!")
    save("ws_frames", bytes([0x80 | 0x07]) + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: xxx=\r\n\r\n" + frame(1, bodies[0]))
    # configs
    cdir = os.path.join(ROOT, "configs")
    for c in sorted(os.listdir(cdir)):
        save("config", open(os.path.join(cdir, c), "rb").read())
    for t in sorted(os.listdir(OUT)):
        print(f"{t}: {len(os.listdir(os.path.join(OUT, t)))} seeds")


main()

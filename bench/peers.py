"""Replay one Binance recording through cryptofeed's and hftbacktest's own code (bench/peers.sh).

Usage: peers.py cryptofeed <spot .gz>      -> prints a JSON line {"msgs": .., "secs": ..}
       peers.py hftbacktest <usdm .gz> <tick> <lot>
                                          -> {"msgs": .., "convert_secs": .., "rows": ..,
                                              "replay_hashmap_secs": .., "replay_roivector_secs": ..}

cryptofeed 2.4: its Binance feed's own message handler (`Binance.message_handler`: JSON parse
with Decimal prices, book update with the sequence check, ticker and trade objects, callbacks),
offline: the exchange-info request is answered with BTCUSDT and the depth snapshot request with
the recording's own REST snapshot line (its first line). Its Binance feed subscribes aggTrade,
not trade: trade lines are handed over as aggTrade messages (the same fields; `t` renamed `a`).
The lines are read from the .gz into memory before the clock starts.

hftbacktest 2.4: its Binance-futures converter (`data.utils.binancefutures.convert`, Python,
the recording's format: it is its collector's) to binary rows (timed), then its backtester
(Rust core) replaying those rows to the end (`elapse` in 1 s steps) with the hash-map book and
with the ROI-vector book (timed from construction, which reads the .npz, to the end of the
data; and the elapse loop alone).
"""
import asyncio
import gzip
import json
import logging
import sys
import time


def cryptofeed_run(path):
    logging.disable(logging.CRITICAL)
    from cryptofeed.connection import HTTPAsyncConn, HTTPSync
    from cryptofeed.defines import L2_BOOK, TICKER, TRADES
    from cryptofeed.exchanges import Binance

    with gzip.open(path, "rt") as f:
        raw = [l.rstrip("\n") for l in f if l.strip()]
    snapshot = None
    lines = []
    for l in raw:
        ts, msg = l.split(" ", 1)
        if snapshot is None and msg.startswith('{"lastUpdateId"'):
            snapshot = msg
            continue
        if '@trade"' in msg:
            msg = msg.replace('"e":"trade"', '"e":"aggTrade"', 1).replace('"t":', '"a":', 1)
        lines.append((int(ts) / 1e9, msg))
    info = {"symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT",
                         "status": "TRADING", "filters": [{"tickSize": "0.01"}]}]}
    HTTPSync.read = lambda self, *a, **k: info

    async def snap(self, *a, **k):
        return snapshot

    HTTPAsyncConn.read = snap
    counts = {"book": 0, "ticker": 0, "trade": 0}

    async def on_book(b, ts):
        counts["book"] += 1

    async def on_ticker(t, ts):
        counts["ticker"] += 1

    async def on_trade(t, ts):
        counts["trade"] += 1

    feed = Binance(symbols=["BTC-USDT"], channels=[L2_BOOK, TICKER, TRADES],
                   callbacks={L2_BOOK: on_book, TICKER: on_ticker, TRADES: on_trade})

    async def run():
        for ts, msg in lines:
            await feed.message_handler(msg, None, ts)

    t0 = time.perf_counter()
    asyncio.run(run())
    secs = time.perf_counter() - t0
    print(json.dumps({"msgs": len(lines), "secs": secs, "callbacks": counts}))


def hftbacktest_run(path, tick, lot):
    import os
    import tempfile
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest, ROIVectorMarketDepthBacktest
    from hftbacktest.data.utils import binancefutures

    with gzip.open(path, "rt") as f:
        msgs = sum(1 for l in f if '"stream"' in l)
    out = os.path.join(tempfile.mkdtemp(), "usdm.npz")
    t0 = time.perf_counter()
    data = binancefutures.convert(path, output_filename=out, combined_stream=True,
                                  buffer_size=5_000_000)
    convert_secs = time.perf_counter() - t0

    def replay(kind):
        t0 = time.perf_counter()
        asset = (BacktestAsset().data([out]).linear_asset(1.0).constant_order_latency(0, 0)
                 .risk_adverse_queue_model().no_partial_fill_exchange()
                 .trading_value_fee_model(0.0, 0.0).tick_size(tick).lot_size(lot))
        if kind == "roi":
            mid = float(data["px"][len(data) // 2])
            asset = asset.roi_lb(mid * 0.5).roi_ub(mid * 1.5)
            hbt = ROIVectorMarketDepthBacktest([asset])
        else:
            hbt = HashMapMarketDepthBacktest([asset])
        t1 = time.perf_counter()
        steps = 0
        while hbt.elapse(1_000_000_000) == 0:
            steps += 1
        t2 = time.perf_counter()
        hbt.close()
        return t2 - t0, t2 - t1, steps

    hm, hm_loop, steps = replay("hashmap")
    roi, roi_loop, _ = replay("roi")
    print(json.dumps({"msgs": msgs, "rows": int(len(data)), "convert_secs": convert_secs,
                      "replay_hashmap_secs": hm, "replay_hashmap_loop_secs": hm_loop,
                      "replay_roivector_secs": roi, "replay_roivector_loop_secs": roi_loop,
                      "elapse_steps": steps}))


if __name__ == "__main__":
    if sys.argv[1] == "cryptofeed":
        cryptofeed_run(sys.argv[2])
    elif sys.argv[1] == "hftbacktest":
        hftbacktest_run(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("usage: peers.py cryptofeed|hftbacktest FILE ...")

#!/usr/bin/env python3
"""arbot's request signatures against an independent implementation: the ccxt package.

For each request in the table below, ccxt's own `sign()` builds and signs the request with a
fixed clock and nonce; `arbot sign <exchange>` then signs the very same method, path, query
and body with the same credentials, and the signature headers must be equal byte for byte.
JWTs (Upbit, Bithumb v1, Coinbase) are also verified with PyJWT; Coinbase's ES256 token is
randomised, so it is verified with the public key and its claims compared with ccxt's
(`uri`, `sub`, `nbf`, `exp`, `kid`; ccxt writes the older `iss: "coinbase-cloud"` claim set,
arbot the CDP docs' `iss: "cdp"` one).

    check_signatures.py ARBOT_BINARY        # exit 1 on any difference; one line per request

Needs ccxt, PyJWT and cryptography (scripts/check-signatures.sh installs them in .venv-ci/).
The credentials are made up here; nothing is sent anywhere.
"""
import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import ccxt
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

TS_MS = 1_700_000_000_123
UUID = "4e1c2a80-7d3b-4f6e-9a51-0c8b2d7e6f19"
KEY = "arbot-test-key-1"
SECRET = "arbot-test-secret-2-for-hmac-0123456789"
PASSPHRASE = "arbot test pass 3"
KRAKEN_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
CB_KEY = "organizations/11111111-2222-3333-4444-555555555555/apiKeys/66666666-7777-8888-9999-000000000000"
CB_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    .decode()
)

# (exchange, arbot --market, ccxt id, ccxt api, path, method, params, headers to compare)
CASES = [
    ("okx", None, "okx", ["private"], "trade/order", "POST",
     {"instId": "BTC-USDT", "tdMode": "cash", "clOrdId": "arb17", "side": "buy", "ordType": "ioc", "px": "61729.6", "sz": "0.01"},
     ["OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE"]),
    ("okx", None, "okx", ["private"], "trade/order", "POST",
     {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "clOrdId": "arb18", "side": "sell", "ordType": "ioc", "px": "61800", "sz": "3"},
     ["OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP"]),
    ("okx", None, "okx", ["private"], "trade/order", "GET", {"instId": "BTC-USDT", "clOrdId": "arb17"},
     ["OK-ACCESS-SIGN"]),
    ("okx", None, "okx", ["private"], "account/balance", "GET", {"ccy": "BTC,USDT"}, ["OK-ACCESS-SIGN"]),
    ("bybit", "spot", "bybit", ["private"], "v5/order/create", "POST",
     {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "61729.6", "timeInForce": "IOC", "orderLinkId": "arb19"},
     ["X-BAPI-SIGN", "X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"]),
    ("bybit", "linear", "bybit", ["private"], "v5/order/create", "POST",
     {"category": "linear", "symbol": "BTCUSDT", "side": "Sell", "orderType": "Market", "qty": "0.01", "orderLinkId": "arb20"},
     ["X-BAPI-SIGN"]),
    ("bybit", "linear", "bybit", ["private"], "v5/order/realtime", "GET",
     {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "arb20"}, ["X-BAPI-SIGN"]),
    ("kucoin", None, "kucoin", ["private"], "orders", "POST",
     {"clientOid": "arb21", "side": "buy", "symbol": "BTC-USDT", "type": "limit", "price": "61729.6", "size": "0.01", "timeInForce": "IOC"},
     ["KC-API-SIGN", "KC-API-PASSPHRASE", "KC-API-TIMESTAMP"]),
    ("kucoin", None, "kucoin", ["private"], "orders", "GET", {"status": "active", "symbol": "BTC-USDT"},
     ["KC-API-SIGN"]),
    ("gateio", None, "gate", ["private", "spot"], "orders", "POST",
     {"currency_pair": "BTC_USDT", "side": "buy", "type": "limit", "amount": "0.01", "price": "61729.6", "time_in_force": "ioc", "text": "t-arb22"},
     ["SIGN", "Timestamp"]),
    ("gateio", None, "gate", ["private", "spot"], "orders", "GET",
     {"currency_pair": "BTC_USDT", "status": "open"}, ["SIGN"]),
    ("gateio", None, "gate", ["private", "futures"], "{settle}/orders", "POST",
     {"settle": "usdt", "contract": "BTC_USDT", "size": 10, "price": "61729.6", "tif": "ioc"}, ["SIGN"]),
    ("bitget", None, "bitget", ["private", "spot"], "v2/spot/trade/place-order", "POST",
     {"symbol": "BTCUSDT", "side": "buy", "orderType": "limit", "force": "ioc", "price": "61729.6", "size": "0.01", "clientOid": "arb23"},
     ["ACCESS-SIGN", "ACCESS-TIMESTAMP"]),
    ("bitget", None, "bitget", ["private", "spot"], "v2/spot/trade/orderInfo", "GET",
     {"symbol": "BTCUSDT", "clientOid": "arb23"}, ["ACCESS-SIGN"]),
    ("bitget", None, "bitget", ["private", "mix"], "v2/mix/order/place-order", "POST",
     {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "marginMode": "crossed", "marginCoin": "USDT", "side": "sell", "orderType": "market", "size": "0.01", "clientOid": "arb24"},
     ["ACCESS-SIGN"]),
    ("kraken", None, "kraken", ["private"], "AddOrder", "POST",
     {"ordertype": "limit", "pair": "XBTUSD", "price": "37500", "type": "buy", "volume": "1.25", "timeinforce": "IOC"},
     ["API-Sign"]),
    ("kraken", None, "kraken", ["private"], "Balance", "POST", {}, ["API-Sign"]),
    ("upbit", None, "upbit", ["private"], "orders", "POST",
     {"market": "KRW-BTC", "side": "bid", "volume": "0.01", "price": "85000000", "ord_type": "limit", "time_in_force": "ioc", "identifier": "arb25"},
     ["Authorization"]),
    ("upbit", None, "upbit", ["private"], "order", "GET", {"uuid": "9ca023a5-851b-4fec-9f0a-48cd83c2eaae"},
     ["Authorization"]),
    ("upbit", None, "upbit", ["private"], "accounts", "GET", {}, ["Authorization"]),
    ("bithumb", None, "bithumb", ["private"], "v1/orders", "POST",
     {"market": "KRW-BTC", "side": "bid", "volume": "0.01", "price": "85000000", "ord_type": "limit"},
     ["Authorization"]),
    ("bithumb", None, "bithumb", ["private"], "v1/order", "GET", {"uuid": "C0106000032400700021"},
     ["Authorization"]),
    ("bithumb", None, "bithumb", ["private"], "info/balance", "POST", {"currency": "BTC"},
     ["Api-Sign", "Api-Nonce"]),
    ("bithumb", None, "bithumb", ["private"], "trade/place", "POST",
     {"order_currency": "BTC", "payment_currency": "KRW", "units": "0.01", "price": "85000000", "type": "bid"},
     ["Api-Sign"]),
    ("coinbase", None, "coinbase", ["v3", "private"], "brokerage/orders", "POST",
     {"client_order_id": "arb26", "product_id": "BTC-USD", "side": "BUY",
      "order_configuration": {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "61729.60"}}},
     ["Authorization"]),
    ("coinbase", None, "coinbase", ["v3", "private"], "brokerage/accounts", "GET", {}, ["Authorization"]),
]


def fixed(ex):
    """Pin every clock and nonce ccxt reads while signing."""
    ex.milliseconds = lambda *a: TS_MS
    ex.nonce = lambda *a: TS_MS
    ex.seconds = lambda *a: TS_MS // 1000
    ex.incrementing_nonce = lambda *a: TS_MS
    ex.uuid = lambda *a: UUID
    ex.uuid16 = lambda *a: "0123456789abcdef"
    return ex


def creds(exchange):
    if exchange == "kraken":
        return KEY, KRAKEN_SECRET
    if exchange == "coinbase":
        return CB_KEY, CB_PEM
    return KEY, SECRET


def arbot_sign(binary, exchange, market, method, path, query, body, nonce):
    key, secret = creds(exchange)
    up = exchange.upper()
    env = dict(os.environ)
    env[f"ARBOT_{up}_API_KEY"] = key
    env[f"ARBOT_{up}_API_SECRET"] = secret
    env[f"ARBOT_{up}_API_PASSPHRASE"] = PASSPHRASE
    cmd = [binary, "sign", exchange, "--method", method, "--path", path, "--query", query,
           "--body", body, "--timestamp-ms", str(TS_MS)]
    if market:
        cmd += ["--market", market]
    if nonce is not None:
        cmd += ["--nonce", nonce]
    out = subprocess.run(cmd, env=env, capture_output=True)  # bytes: keep the CRLFs
    if out.returncode != 0:
        raise RuntimeError(f"arbot sign failed: {out.stderr.decode().strip()}")
    head, _, sent_body = out.stdout.decode().removesuffix("\n").partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, sent_body


def check_jwt(exchange, ours, theirs):
    """Extra checks on a JWT: PyJWT verifies ours; the claims agree with ccxt's."""
    tok = ours.removeprefix("Bearer ")
    if exchange == "coinbase":
        pub = serialization.load_pem_private_key(CB_PEM.encode(), None).public_key()
        claims = jwt.decode(tok, pub, algorithms=["ES256"], options={"verify_exp": False, "verify_nbf": False})
        hdr = jwt.get_unverified_header(tok)
        t = theirs.removeprefix("Bearer ")
        their = jwt.decode(t, options={"verify_signature": False})
        their_hdr = jwt.get_unverified_header(t)
        for k in ("uri", "sub", "nbf", "exp"):
            if claims[k] != their[k]:
                return f"claim {k}: ours {claims[k]!r} ccxt {their[k]!r}"
        if claims["iss"] != "cdp":
            return f"iss {claims['iss']!r}"
        if (hdr["kid"], hdr["alg"]) != (their_hdr["kid"], their_hdr["alg"]):
            return f"header {hdr} vs ccxt {their_hdr}"
        return None
    claims = jwt.decode(tok, SECRET, algorithms=["HS256"])
    if claims["access_key"] != KEY or claims["nonce"] != UUID:
        return f"claims {claims}"
    return None


def main():
    binary = sys.argv[1]
    failures = 0
    for exchange, market, ccxt_id, api, path, method, params, compare in CASES:
        key, secret = creds(exchange)
        ex = fixed(getattr(ccxt, ccxt_id)({"apiKey": key, "secret": secret, "password": PASSPHRASE}))
        req = ex.sign(path, api, method, dict(params))
        url = urlsplit(req["url"])
        body = req["body"] or ""
        nonce = None
        if exchange in ("upbit", "bithumb") and url.path.startswith(("/v1/", "/v2/")):
            nonce = UUID
        elif exchange == "bithumb":
            nonce = str(TS_MS)
        elif exchange == "coinbase":
            nonce = jwt.get_unverified_header(req["headers"]["Authorization"].removeprefix("Bearer "))["nonce"]
        label = f"{exchange:8} {method:4} {url.path}{'?' + url.query if url.query else ''}"
        try:
            line, ours, sent = arbot_sign(binary, exchange, market, method, url.path, url.query, body, nonce)
        except RuntimeError as e:
            print(f"FAIL {label}: {e}")
            failures += 1
            continue
        diffs = []
        if sent != body:
            diffs.append(f"body sent {sent!r} vs ccxt {body!r}")
        for h in compare:
            theirs = req["headers"].get(h)
            if exchange == "coinbase" and h == "Authorization":
                why = check_jwt(exchange, ours.get(h, ""), theirs)
                if why:
                    diffs.append(why)
                continue
            if ours.get(h) != theirs:
                diffs.append(f"{h}: ours {ours.get(h)!r} ccxt {theirs!r}")
            elif h == "Authorization":
                why = check_jwt(exchange, ours[h], theirs)
                if why:
                    diffs.append(why)
        if diffs:
            failures += 1
            print(f"FAIL {label}: " + "; ".join(diffs))
        else:
            print(f"ok   {label}: {', '.join(compare)} equal")
    print(json.dumps({"requests": len(CASES), "failures": failures, "ccxt": ccxt.__version__, "pyjwt": jwt.__version__}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""statsmodels' Engle-Granger test on kline close prices, one JSON line per window.

Usage: coint_statsmodels.py Y.csv[.gz] X.csv[.gz] FROM:TO [FROM:TO ...]
(FROM inclusive, TO exclusive, open_time in ms; an empty bound means open-ended).
Prints {"from","to","n_obs","hedge_ratio","intercept","t_stat","p_value","lags"} per window:
t_stat and p_value from statsmodels.tsa.stattools.coint(y, x) with its defaults, the lag
count from adfuller on the first-step residuals as coint runs it (regression "n", AIC).
Used by tests/coint_statsmodels.rs, which compares arbot's numbers with these.
"""
import json
import sys
import warnings

import pandas as pd
import statsmodels
import statsmodels.api as sm
from statsmodels.tsa.stattools import adfuller, coint

warnings.simplefilter("ignore")


def main():
    y = pd.read_csv(sys.argv[1])[["open_time", "close"]]
    x = pd.read_csv(sys.argv[2])[["open_time", "close"]]
    m = y.merge(x, on="open_time", suffixes=("_y", "_x")).sort_values("open_time")
    for w in sys.argv[3:]:
        a, b = w.split(":")
        s = m
        if a:
            s = s[s.open_time >= int(a)]
        if b:
            s = s[s.open_time < int(b)]
        yy, xx = s.close_y.to_numpy(), s.close_x.to_numpy()
        t, p, _ = coint(yy, xx)
        ols = sm.OLS(yy, sm.add_constant(xx, prepend=False)).fit()
        lags = adfuller(ols.resid, regression="n", autolag="AIC", result_object=False)[2]
        print(json.dumps({
            "from": int(a) if a else None,
            "to": int(b) if b else None,
            "n_obs": int(len(yy)),
            "hedge_ratio": float(ols.params[0]),
            "intercept": float(ols.params[1]),
            "t_stat": float(t),
            "p_value": float(p),
            "lags": int(lags),
            "statsmodels": statsmodels.__version__,
        }), flush=True)


if __name__ == "__main__":
    main()

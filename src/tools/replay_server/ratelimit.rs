//! Request weight and order-rate limits, as Binance applies them
//! (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api#limits>,
//! <https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info>):
//!
//! - every request adds its endpoint's weight to the IP's window (fixed windows on the
//!   server's clock: the minute `now / 60 000`); every answer says the window's total in
//!   `X-MBX-USED-WEIGHT-1M`. One loopback server is one IP, with one window per market (each
//!   market is its own host on Binance).
//! - every accepted `POST .../order` counts against the account's order windows (spot 10 s
//!   and 1 day, USDⓈ-M 10 s and 1 minute, COIN-M 1 minute) and the answer carries
//!   `X-MBX-ORDER-COUNT-10S` / `-1M` / `-1D`.
//! - over a limit: HTTP 429 with `Retry-After` (seconds to the end of the window) and -1003 /
//!   -1015. A request sent before that `Retry-After` has passed is a violation, answered 429
//!   again; the `violations_before_ban`-th one bans the IP: HTTP 418 with `Retry-After` until
//!   the ban ends, for every request of that market.

use super::exchange::ApiError;
use super::settings::RateLimits;
use super::MarketKind;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, Default)]
struct Ip {
    minute: u64,
    used: u32,
    backoff_until: u64,
    violations: u32,
    ban_until: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Win {
    id: u64,
    n: u32,
}

#[derive(Default)]
struct St {
    ip: [Ip; 3],
    /// (market, account) → windows 10 s, 1 min, 1 day.
    orders: BTreeMap<(usize, usize), [Win; 3]>,
}

/// A refused request: HTTP status (429 / 418), `Retry-After` seconds, the error, and the
/// weight used so far.
#[derive(Debug)]
pub(super) struct Refused {
    pub(super) http: u16,
    pub(super) retry_after: u64,
    pub(super) err: ApiError,
    pub(super) used: u32,
}

/// The limiter of one server.
#[derive(Default)]
pub(super) struct Limiter {
    st: Mutex<St>,
}

const WINDOWS: [(u64, &str, &str); 3] = [
    (10_000, "10S", "10 SECOND"),
    (60_000, "1M", "1 MINUTE"),
    (86_400_000, "1D", "1 DAY"),
];

fn secs_until(t: u64, now: u64) -> u64 {
    (t.saturating_sub(now)).div_ceil(1000).max(1)
}

fn too_much_weight(m: MarketKind, limit: u32) -> ApiError {
    ApiError::new(
        -1003,
        match m {
            MarketKind::Spot => format!(
                "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
            ),
            _ => format!(
                "Too many requests; current limit is {limit} requests per minute. Please use the websocket for live updates to avoid polling the API."
            ),
        },
    )
}

fn banned(m: MarketKind, until: u64) -> ApiError {
    let mut e = ApiError::new(
        -1003,
        match m {
            MarketKind::Spot => format!(
                "Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to avoid bans."
            ),
            _ => format!(
                "Way too many requests; IP banned until {until}. Please use the websocket for live updates to avoid bans."
            ),
        },
    );
    e.http = 418;
    e
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, St> {
        match self.st.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Admit a request of `weight` on market `m` at `now` (ms); the weight used in the
    /// current minute, or why not.
    pub(super) fn admit(
        &self,
        m: MarketKind,
        l: &RateLimits,
        weight: u32,
        now: u64,
    ) -> Result<u32, Refused> {
        let mut st = self.lock();
        let ip = &mut st.ip[m.idx()];
        let minute = now / 60_000;
        if ip.minute != minute {
            ip.minute = minute;
            ip.used = 0;
        }
        if now < ip.ban_until {
            return Err(Refused {
                http: 418,
                retry_after: secs_until(ip.ban_until, now),
                err: banned(m, ip.ban_until),
                used: ip.used,
            });
        }
        if now < ip.backoff_until {
            ip.violations += 1;
            if ip.violations >= l.violations_before_ban.max(1) {
                ip.ban_until = now + l.ban_secs.max(1) * 1000;
                ip.backoff_until = 0;
                ip.violations = 0;
                return Err(Refused {
                    http: 418,
                    retry_after: secs_until(ip.ban_until, now),
                    err: banned(m, ip.ban_until),
                    used: ip.used,
                });
            }
            return Err(Refused {
                http: 429,
                retry_after: secs_until(ip.backoff_until, now),
                err: too_much_weight(m, l.weight_per_minute),
                used: ip.used,
            });
        }
        if l.weight_per_minute > 0 && ip.used.saturating_add(weight) > l.weight_per_minute {
            ip.backoff_until = (minute + 1) * 60_000;
            ip.violations = 0;
            return Err(Refused {
                http: 429,
                retry_after: secs_until(ip.backoff_until, now),
                err: too_much_weight(m, l.weight_per_minute),
                used: ip.used,
            });
        }
        ip.used += weight;
        Ok(ip.used)
    }

    /// Weight used in the current minute.
    pub(super) fn used(&self, m: MarketKind, now: u64) -> u32 {
        let st = self.lock();
        let ip = &st.ip[m.idx()];
        if ip.minute == now / 60_000 {
            ip.used
        } else {
            0
        }
    }

    /// Count an order of `account`; the `X-MBX-ORDER-COUNT-*` headers, or a 429 (-1015).
    pub(super) fn count_order(
        &self,
        m: MarketKind,
        account: usize,
        l: &RateLimits,
        now: u64,
    ) -> Result<Vec<(String, String)>, Refused> {
        let limits = [l.orders_per_10s, l.orders_per_minute, l.orders_per_day];
        let mut st = self.lock();
        let used = st.ip[m.idx()].used;
        let wins = st.orders.entry((m.idx(), account)).or_default();
        for (k, (len, _, _)) in WINDOWS.iter().enumerate() {
            let id = now / len;
            if wins[k].id != id {
                wins[k] = Win { id, n: 0 };
            }
        }
        for (k, (len, _, name)) in WINDOWS.iter().enumerate() {
            if limits[k] > 0 && wins[k].n >= limits[k] {
                let until = (now / len + 1) * len;
                let ip = &mut st.ip[m.idx()];
                ip.backoff_until = ip.backoff_until.max(until);
                ip.violations = 0;
                return Err(Refused {
                    http: 429,
                    retry_after: secs_until(until, now),
                    err: ApiError::new(
                        -1015,
                        format!(
                            "Too many new orders; current limit is {} orders per {name}.",
                            limits[k]
                        ),
                    ),
                    used,
                });
            }
        }
        let mut headers = Vec::new();
        for (k, (_, tag, _)) in WINDOWS.iter().enumerate() {
            if limits[k] > 0 {
                wins[k].n += 1;
                headers.push((format!("X-MBX-ORDER-COUNT-{tag}"), wins[k].n.to_string()));
            }
        }
        Ok(headers)
    }

    /// The 429 fault: as if the limit had been hit, with `Retry-After: secs`.
    pub(super) fn force_backoff(
        &self,
        m: MarketKind,
        l: &RateLimits,
        secs: u64,
        now: u64,
    ) -> Refused {
        let mut st = self.lock();
        let ip = &mut st.ip[m.idx()];
        ip.backoff_until = now + secs.max(1) * 1000;
        ip.violations = 0;
        Refused {
            http: 429,
            retry_after: secs.max(1),
            err: too_much_weight(m, l.weight_per_minute),
            used: ip.used,
        }
    }

    /// The 418 fault: an IP ban of `secs`.
    pub(super) fn force_ban(&self, m: MarketKind, secs: u64, now: u64) -> Refused {
        let mut st = self.lock();
        let ip = &mut st.ip[m.idx()];
        ip.ban_until = now + secs.max(1) * 1000;
        Refused {
            http: 418,
            retry_after: secs.max(1),
            err: banned(m, ip.ban_until),
            used: ip.used,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_window_429_then_ban() {
        let l = RateLimits {
            weight_per_minute: 10,
            violations_before_ban: 2,
            ban_secs: 120,
            ..RateLimits::binance(MarketKind::Spot)
        };
        let lim = Limiter::default();
        let t0 = 1_700_000_080_000; // 40 s into a minute
        assert_eq!(lim.admit(MarketKind::Spot, &l, 4, t0).unwrap(), 4);
        assert_eq!(lim.admit(MarketKind::Spot, &l, 6, t0).unwrap(), 10);
        let r = lim.admit(MarketKind::Spot, &l, 1, t0 + 1).unwrap_err();
        assert_eq!(
            (r.http, r.err.code, r.retry_after, r.used),
            (429, -1003, 20, 10)
        );
        // other markets are other hosts
        assert_eq!(lim.admit(MarketKind::Usdm, &l, 1, t0).unwrap(), 1);
        // not backing off: 429 again, then the ban
        assert_eq!(
            lim.admit(MarketKind::Spot, &l, 1, t0 + 2).unwrap_err().http,
            429
        );
        let r = lim.admit(MarketKind::Spot, &l, 1, t0 + 3).unwrap_err();
        assert_eq!((r.http, r.retry_after), (418, 120));
        assert!(r.err.msg.contains("IP banned until"));
        // still banned in the next minute, free after the ban
        assert_eq!(
            lim.admit(MarketKind::Spot, &l, 1, t0 + 30_000)
                .unwrap_err()
                .http,
            418
        );
        assert_eq!(lim.admit(MarketKind::Spot, &l, 1, t0 + 121_000).unwrap(), 1);
    }

    #[test]
    fn backing_off_after_a_429_is_fine() {
        let l = RateLimits {
            weight_per_minute: 1,
            ..RateLimits::binance(MarketKind::Spot)
        };
        let lim = Limiter::default();
        let t0 = 1_700_000_040_000; // a minute boundary
        lim.admit(MarketKind::Spot, &l, 1, t0).unwrap();
        let r = lim.admit(MarketKind::Spot, &l, 1, t0).unwrap_err();
        assert_eq!(r.retry_after, 60);
        assert_eq!(lim.admit(MarketKind::Spot, &l, 1, t0 + 60_000).unwrap(), 1);
    }

    #[test]
    fn order_windows_and_headers() {
        let l = RateLimits {
            orders_per_10s: 2,
            ..RateLimits::binance(MarketKind::Spot)
        };
        let lim = Limiter::default();
        let t0 = 1_700_000_000_000;
        let h = lim.count_order(MarketKind::Spot, 0, &l, t0).unwrap();
        assert_eq!(
            h,
            vec![
                ("X-MBX-ORDER-COUNT-10S".to_string(), "1".to_string()),
                ("X-MBX-ORDER-COUNT-1D".to_string(), "1".to_string())
            ]
        );
        lim.count_order(MarketKind::Spot, 0, &l, t0 + 1).unwrap();
        let r = lim
            .count_order(MarketKind::Spot, 0, &l, t0 + 2)
            .unwrap_err();
        assert_eq!((r.http, r.err.code), (429, -1015));
        assert!(r.err.msg.contains("2 orders per 10 SECOND"));
        // another account has its own windows
        assert!(lim.count_order(MarketKind::Spot, 1, &l, t0 + 2).is_ok());
        // the next 10 s window
        assert!(lim
            .count_order(MarketKind::Spot, 0, &l, t0 + 10_000)
            .is_ok());
    }
}

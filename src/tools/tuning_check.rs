//! Host tuning check (R7.3) and core maps: what this machine is, and which of the low-latency
//! settings described in `tuning/README.md` are in force. `arbot tuning-check` prints one
//! verdict per item: `OK`, `NOT SET` or `CANNOT CHECK` (never a guessed `OK`), then a summary.
//!
//! Everything is read from `/proc` and `/sys` under a root directory ([`Host::root`]), so the
//! checks run against a fake tree in tests; NIC coalescing needs `ethtool -c`, run through a
//! replaceable function. Nothing here needs root or changes the host (`tuning/apply.sh` does).
//!
//! A core map (`tuning/coremaps/<machine>.toml`, [`CoreMap`]) names the cores of each arbot
//! thread and of the housekeeping work; with one, the checks are made for those cores and the
//! benchmark harness lays its threads out by it ([`CoreMap::apply`]).
#![forbid(unsafe_code)]

use crate::config::Setup;
use crate::types::VenueId;
use crate::wait::WaitKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// CPU lists

/// Parse a kernel CPU list (`0-3,8,10-11`; empty or `(null)` = none). Flags such as
/// `managed_irq,domain,` in `isolcpus=` are skipped.
pub fn parse_cpu_list(s: &str) -> Result<BTreeSet<usize>, String> {
    let mut out = BTreeSet::new();
    let s = s.trim();
    if s.is_empty() || s == "(null)" {
        return Ok(out);
    }
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() || part.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
            continue; // isolcpus flags (domain, managed_irq, nohz)
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b.split(':').next().unwrap_or(b)),
            None => (part, part),
        };
        let a: usize = a
            .trim()
            .parse()
            .map_err(|_| format!("bad CPU list item {part:?}"))?;
        let b: usize = b
            .trim()
            .parse()
            .map_err(|_| format!("bad CPU list item {part:?}"))?;
        if b < a || b > 65_535 {
            return Err(format!("bad CPU range {part:?}"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Parse a hex CPU mask as in `/proc/irq/default_smp_affinity` (`ff`, `00000000,000000ff`).
pub fn parse_cpu_mask(s: &str) -> Result<BTreeSet<usize>, String> {
    let hex: String = s.trim().chars().filter(|c| *c != ',').collect();
    let mut out = BTreeSet::new();
    for (i, c) in hex.chars().rev().enumerate() {
        let d = c
            .to_digit(16)
            .ok_or_else(|| format!("bad CPU mask {s:?}"))?;
        for bit in 0..4 {
            if d & (1 << bit) != 0 {
                out.insert(i * 4 + bit);
            }
        }
    }
    Ok(out)
}

/// Format a CPU set as a kernel CPU list (`0-3,8`); empty → `none`.
pub fn format_cpu_list(s: &BTreeSet<usize>) -> String {
    let v: Vec<usize> = s.iter().copied().collect();
    if v.is_empty() {
        return "none".into();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(",")
}

// ---------------------------------------------------------------------------------------------
// Core maps

/// `tuning/coremaps/<machine>.toml`: the cores of each arbot thread on one machine, and what
/// the tuning scripts isolate. Top-level keys are also read by `tuning/apply.sh` (one
/// `key = "value"` per line).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoreMap {
    /// Description of the machine.
    pub machine: String,
    /// Cores to isolate (`isolcpus`, `nohz_full`, `rcu_nocbs`), kernel CPU-list syntax.
    #[serde(default)]
    pub isolated_cores: String,
    /// Cores for everything else (OS, IRQs, logger, replay reader).
    #[serde(default)]
    pub housekeeping_cores: String,
    /// Network interface of the market-data / order connections (`ens1f0`).
    #[serde(default)]
    pub nic: String,
    /// Cores that take the NIC's interrupts (housekeeping cores on the NIC's NUMA node).
    #[serde(default)]
    pub nic_irq_cores: String,
    /// Explicit 2 MiB huge pages to reserve (0 = none).
    #[serde(default)]
    pub hugepages_2m: u64,
    /// Wait strategy of the hot threads on this machine.
    #[serde(default)]
    pub wait: Option<WaitKind>,
    /// Thread → core.
    #[serde(default)]
    pub threads: CoreMapThreads,
}

/// `[threads]` of a core map.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoreMapThreads {
    /// Feed thread cores: as many as venues = one thread per venue (in venue order); one core =
    /// one thread for all venues; empty = the config's layout, unpinned.
    #[serde(default)]
    pub feeds: Vec<usize>,
    /// Detection thread core.
    #[serde(default)]
    pub detection: Option<usize>,
    /// Execution thread core.
    #[serde(default)]
    pub execution: Option<usize>,
}

impl CoreMap {
    /// Read and check a core map file.
    pub fn load(path: &Path) -> Result<CoreMap, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("core map {}: {e}", path.display()))?;
        let m: CoreMap =
            toml::from_str(&text).map_err(|e| format!("core map {}: {e}", path.display()))?;
        m.validate()
            .map_err(|e| format!("core map {}: {e}", path.display()))?;
        Ok(m)
    }

    /// Consistency: lists parse, hot threads on distinct cores, hot cores not housekeeping.
    pub fn validate(&self) -> Result<(), String> {
        let iso =
            parse_cpu_list(&self.isolated_cores).map_err(|e| format!("isolated_cores: {e}"))?;
        let hk = parse_cpu_list(&self.housekeeping_cores)
            .map_err(|e| format!("housekeeping_cores: {e}"))?;
        let irq = parse_cpu_list(&self.nic_irq_cores).map_err(|e| format!("nic_irq_cores: {e}"))?;
        if let Some(c) = iso.intersection(&hk).next() {
            return Err(format!("core {c} is both isolated and housekeeping"));
        }
        if let Some(c) = irq.intersection(&iso).next() {
            return Err(format!("nic_irq_cores: core {c} is isolated"));
        }
        let mut seen = BTreeSet::new();
        for c in self.hot_list() {
            if !seen.insert(c) {
                return Err(format!("threads: core {c} is given to two hot threads"));
            }
            if hk.contains(&c) {
                return Err(format!("threads: core {c} is a housekeeping core"));
            }
            if !iso.is_empty() && !iso.contains(&c) {
                return Err(format!("threads: core {c} is not in isolated_cores"));
            }
        }
        Ok(())
    }

    fn hot_list(&self) -> Vec<usize> {
        let t = &self.threads;
        t.feeds
            .iter()
            .copied()
            .chain(t.detection)
            .chain(t.execution)
            .collect()
    }

    /// Cores of the hot threads (feeds, detection, execution).
    pub fn hot_cores(&self) -> BTreeSet<usize> {
        self.hot_list().into_iter().collect()
    }

    /// Isolated cores as a set (validated at load).
    pub fn isolated(&self) -> BTreeSet<usize> {
        parse_cpu_list(&self.isolated_cores).unwrap_or_default()
    }

    /// Lay out a run's threads by this map: wait strategy, feed threads (one per venue, one
    /// for all, or round-robin over the given cores), detection and execution cores. Returns
    /// one line per change, for the report.
    pub fn apply(&self, setup: &mut Setup) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(w) = self.wait {
            setup.cfg.threads.wait = w;
            notes.push(format!("wait = {}", w.as_str()));
        }
        let t = &self.threads;
        let nv = setup.venues.len();
        if !t.feeds.is_empty() {
            let venues: Vec<VenueId> = setup.venues.iter().map(|v| v.id).collect();
            let mut feeds: Vec<(String, Vec<VenueId>, Option<usize>)> = Vec::new();
            if t.feeds.len() == 1 {
                feeds.push(("feed-all".into(), venues, Some(t.feeds[0])));
            } else {
                let n = t.feeds.len().min(nv);
                for (k, core) in t.feeds.iter().take(n).enumerate() {
                    let vs: Vec<VenueId> = venues.iter().copied().skip(k).step_by(n).collect();
                    let name = if vs.len() == 1 {
                        format!("feed-{}", setup.venues[vs[0].idx()].name)
                    } else {
                        format!("feed-{k}")
                    };
                    feeds.push((name, vs, Some(*core)));
                }
            }
            for (name, vs, core) in &feeds {
                let names: Vec<&str> = vs
                    .iter()
                    .map(|v| setup.venues[v.idx()].name.as_str())
                    .collect();
                notes.push(format!(
                    "{name} (venues {}) on core {}",
                    names.join(", "),
                    core.map(|c| c.to_string()).unwrap_or_default()
                ));
            }
            setup.feeds = feeds;
        }
        if let Some(c) = t.detection {
            setup.cfg.threads.detection_core = Some(c);
            notes.push(format!("detect on core {c}"));
        }
        if let Some(c) = t.execution {
            setup.cfg.threads.execution_core = Some(c);
            notes.push(format!("exec on core {c}"));
        }
        notes
    }
}

// ---------------------------------------------------------------------------------------------
// Host

/// Runs `ethtool -c IFACE`; returns its output or why it could not.
pub type EthtoolFn = Box<dyn Fn(&str) -> Result<String, String>>;

/// The machine being checked: `/proc` and `/sys` under `root` (`/` for the real host).
pub struct Host {
    /// Root of the file tree (`/`).
    pub root: PathBuf,
    /// `ethtool -c` runner.
    pub ethtool: EthtoolFn,
}

impl Host {
    /// The machine this process runs on.
    pub fn system() -> Host {
        Host {
            root: PathBuf::from("/"),
            ethtool: Box::new(|iface| {
                let out = std::process::Command::new("ethtool")
                    .arg("-c")
                    .arg(iface)
                    .output()
                    .map_err(|e| format!("ethtool not runnable ({e}); install ethtool"))?;
                if out.status.success() {
                    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
                } else {
                    Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
                }
            }),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// Read a file under the root, trimmed.
    pub fn read(&self, rel: &str) -> Result<String, String> {
        std::fs::read_to_string(self.path(rel))
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("{rel}: {e}"))
    }

    fn list_dir(&self, rel: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(rel))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        });
        v
    }

    /// The kernel command line.
    pub fn cmdline(&self) -> String {
        self.read("proc/cmdline").unwrap_or_default()
    }

    /// Value of a kernel parameter on the command line (`isolcpus=...`), last one wins.
    pub fn cmdline_param(&self, key: &str) -> Option<String> {
        let line = self.cmdline();
        let mut found = None;
        for tok in line.split_whitespace() {
            if tok == "--" {
                break; // the rest goes to init
            }
            if let Some(v) = tok.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                found = Some(v.to_string());
            } else if tok == key {
                found = Some(String::new());
            }
        }
        found
    }
}

/// What the machine is.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MachineFacts {
    /// CPU model name (`/proc/cpuinfo`).
    pub cpu_model: String,
    /// Logical CPUs listed in `/proc/cpuinfo`.
    pub logical_cpus: usize,
    /// CPUs this process may run on (`Cpus_allowed_list`).
    pub allowed_cpus: String,
    /// Number of them.
    pub allowed_count: usize,
    /// The CPU reports a hypervisor (a virtual machine).
    pub hypervisor: bool,
    /// Kernel release.
    pub kernel: String,
    /// Isolated CPUs (`/sys/devices/system/cpu/isolated`, else `isolcpus=`).
    pub isolated_cpus: String,
    /// `nohz_full` CPUs.
    pub nohz_full_cpus: String,
    /// Scaling governors in use (distinct), or why unknown.
    pub governor: String,
    /// NUMA nodes.
    pub numa_nodes: usize,
    /// `/proc/loadavg` (1, 5, 15 min) when read.
    pub loadavg: String,
}

impl MachineFacts {
    /// True if figures from this machine should not be taken for colocation figures: a VM,
    /// 4 or fewer CPUs available, or no isolated cores.
    pub fn shared_machine(&self) -> bool {
        self.hypervisor || self.allowed_count <= 4 || self.isolated_cpus == "none"
    }

    /// Why [`MachineFacts::shared_machine`] says so.
    pub fn shared_reasons(&self) -> Vec<String> {
        let mut r = Vec::new();
        if self.hypervisor {
            r.push("virtual machine (hypervisor flag in /proc/cpuinfo)".to_string());
        }
        if self.allowed_count <= 4 {
            r.push(format!("{} CPUs available", self.allowed_count));
        }
        if self.isolated_cpus == "none" {
            r.push("no isolated cores".to_string());
        }
        r
    }
}

/// Read the machine facts.
pub fn facts(h: &Host) -> MachineFacts {
    let cpuinfo = h.read("proc/cpuinfo").unwrap_or_default();
    let mut model = String::new();
    let mut n = 0;
    let mut hyper = false;
    for line in cpuinfo.lines() {
        let (k, v) = match line.split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => continue,
        };
        match k {
            "processor" => n += 1,
            "model name" if model.is_empty() => model = v.to_string(),
            "flags" if v.split_whitespace().any(|f| f == "hypervisor") => hyper = true,
            _ => {}
        }
    }
    let allowed = h
        .read("proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_string())
            })
        })
        .unwrap_or_default();
    let allowed_set = parse_cpu_list(&allowed).unwrap_or_default();
    let isolated = isolated_cpus(h);
    let nohz = nohz_full_cpus(h).unwrap_or_default();
    let govs: BTreeSet<String> = h
        .list_dir("sys/devices/system/cpu")
        .iter()
        .filter(|d| d.starts_with("cpu") && d[3..].parse::<u32>().is_ok())
        .filter_map(|d| {
            h.read(&format!(
                "sys/devices/system/cpu/{d}/cpufreq/scaling_governor"
            ))
            .ok()
        })
        .collect();
    MachineFacts {
        cpu_model: if model.is_empty() {
            "unknown".into()
        } else {
            model
        },
        logical_cpus: n,
        allowed_count: allowed_set.len(),
        allowed_cpus: allowed,
        hypervisor: hyper,
        kernel: h.read("proc/sys/kernel/osrelease").unwrap_or_default(),
        isolated_cpus: format_cpu_list(&isolated),
        nohz_full_cpus: format_cpu_list(&nohz),
        governor: if govs.is_empty() {
            "no cpufreq driver".into()
        } else {
            govs.into_iter().collect::<Vec<_>>().join(",")
        },
        numa_nodes: h
            .list_dir("sys/devices/system/node")
            .iter()
            .filter(|d| d.starts_with("node") && d[4..].parse::<u32>().is_ok())
            .count(),
        loadavg: h
            .read("proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    }
}

fn isolated_cpus(h: &Host) -> BTreeSet<usize> {
    if let Ok(s) = h.read("sys/devices/system/cpu/isolated") {
        return parse_cpu_list(&s).unwrap_or_default();
    }
    h.cmdline_param("isolcpus")
        .and_then(|v| parse_cpu_list(&v).ok())
        .unwrap_or_default()
}

fn nohz_full_cpus(h: &Host) -> Option<BTreeSet<usize>> {
    match h.read("sys/devices/system/cpu/nohz_full") {
        Ok(s) => parse_cpu_list(&s).ok(),
        Err(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Set as recommended.
    #[serde(rename = "OK")]
    Ok,
    /// Not set (the detail says what is there instead).
    #[serde(rename = "NOT SET")]
    NotSet,
    /// Could not be determined from here (the detail says why).
    #[serde(rename = "CANNOT CHECK")]
    CannotCheck,
}

impl Verdict {
    /// Printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::NotSet => "NOT SET",
            Verdict::CannotCheck => "CANNOT CHECK",
        }
    }
}

/// One checked item.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    /// Short name (matches the section of `tuning/README.md`).
    pub name: &'static str,
    /// Verdict.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// Counted in the summary verdict (optional items are reported but do not decide it).
    pub required: bool,
}

fn item(name: &'static str, verdict: Verdict, detail: impl Into<String>) -> Item {
    Item {
        name,
        verdict,
        detail: detail.into(),
        required: true,
    }
}

/// The whole check.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Machine facts.
    pub machine: MachineFacts,
    /// Core map used, if any.
    pub coremap: Option<String>,
    /// Hot cores the checks were made for.
    pub hot_cores: String,
    /// Items.
    pub items: Vec<Item>,
}

impl Report {
    /// (ok, not set, cannot check) over required items.
    pub fn counts(&self) -> (usize, usize, usize) {
        let r = self.items.iter().filter(|i| i.required);
        let c = |v| r.clone().filter(|i| i.verdict == v).count();
        (c(Verdict::Ok), c(Verdict::NotSet), c(Verdict::CannotCheck))
    }

    /// True if every required item is OK and the machine is not a shared VM.
    pub fn tuned(&self) -> bool {
        let (_, ns, cc) = self.counts();
        ns == 0 && cc == 0 && !self.machine.hypervisor
    }

    /// Human-readable report: facts, one line per item, summary.
    pub fn human(&self) -> String {
        let m = &self.machine;
        let mut s = format!(
            "machine: {} — {} logical CPUs, {} usable by this process ({}), {} NUMA node(s), kernel {}{}\n",
            m.cpu_model,
            m.logical_cpus,
            m.allowed_count,
            m.allowed_cpus,
            m.numa_nodes,
            m.kernel,
            if m.hypervisor { ", virtual machine" } else { "" }
        );
        s.push_str(&format!(
            "core map: {}; hot cores checked: {}\n",
            self.coremap
                .as_deref()
                .unwrap_or("none (pass --coremap tuning/coremaps/<machine>.toml)"),
            self.hot_cores
        ));
        for i in &self.items {
            s.push_str(&format!(
                "[{:<12}] {:<21} {}{}\n",
                i.verdict.as_str(),
                i.name,
                i.detail,
                if i.required { "" } else { " (optional)" }
            ));
        }
        let (ok, ns, cc) = self.counts();
        s.push_str(&format!(
            "summary: {ok} OK, {ns} NOT SET, {cc} CANNOT CHECK of {} required items — ",
            ok + ns + cc
        ));
        if self.tuned() {
            s.push_str("this host is tuned for low latency\n");
        } else {
            s.push_str("this host is NOT tuned for low latency");
            let why = m.shared_reasons();
            if !why.is_empty() {
                s.push_str(&format!(
                    " ({}): benchmark figures from it are not colocation numbers",
                    why.join(", ")
                ));
            }
            s.push('\n');
        }
        s
    }
}

/// Run every check. `map` names the hot cores; without one the isolated cores are taken.
pub fn check(h: &Host, map: Option<(&str, &CoreMap)>) -> Report {
    let machine = facts(h);
    let isolated = isolated_cpus(h);
    let hot: BTreeSet<usize> = match map {
        Some((_, m)) if !m.hot_cores().is_empty() => m.hot_cores(),
        Some((_, m)) if !m.isolated().is_empty() => m.isolated(),
        _ => isolated.clone(),
    };
    let online: BTreeSet<usize> = h
        .read("sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(&s).ok())
        .unwrap_or_default();
    let cores_for_checks: BTreeSet<usize> = if hot.is_empty() {
        online.clone()
    } else {
        hot.clone()
    };
    let hot_s = format_cpu_list(&hot);
    let mut items = Vec::new();

    // isolcpus
    items.push(if hot.is_empty() || isolated.is_empty() {
        item(
            "isolcpus",
            Verdict::NotSet,
            format!(
                "no isolated cores (isolated: {}; kernel cmdline isolcpus={})",
                format_cpu_list(&isolated),
                h.cmdline_param("isolcpus")
                    .unwrap_or_else(|| "<absent>".into())
            ),
        )
    } else if hot.is_subset(&isolated) {
        item(
            "isolcpus",
            Verdict::Ok,
            format!(
                "isolated {} ⊇ hot cores {hot_s}",
                format_cpu_list(&isolated)
            ),
        )
    } else {
        let miss: BTreeSet<usize> = hot.difference(&isolated).copied().collect();
        item(
            "isolcpus",
            Verdict::NotSet,
            format!(
                "hot cores {} not isolated (isolated: {})",
                format_cpu_list(&miss),
                format_cpu_list(&isolated)
            ),
        )
    });

    // nohz_full
    let cmd_nohz = h.cmdline_param("nohz_full");
    items.push(match nohz_full_cpus(h) {
        Some(n) if !hot.is_empty() && !n.is_empty() && hot.is_subset(&n) => item(
            "nohz_full",
            Verdict::Ok,
            format!("tickless on {} ⊇ hot cores", format_cpu_list(&n)),
        ),
        Some(n) => item(
            "nohz_full",
            Verdict::NotSet,
            format!(
                "tickless CPUs: {} (hot cores: {hot_s})",
                format_cpu_list(&n)
            ),
        ),
        None if cmd_nohz.is_some() => item(
            "nohz_full",
            Verdict::CannotCheck,
            "nohz_full= is on the command line but /sys/devices/system/cpu/nohz_full is missing (kernel without CONFIG_NO_HZ_FULL ignores it)",
        ),
        None => item(
            "nohz_full",
            Verdict::NotSet,
            "not on the kernel command line (and this kernel has no /sys/devices/system/cpu/nohz_full)",
        ),
    });

    // rcu_nocbs (nohz_full implies it)
    let rcu = h
        .cmdline_param("rcu_nocbs")
        .and_then(|v| parse_cpu_list(&v).ok());
    let nohz_set = nohz_full_cpus(h).unwrap_or_default();
    items.push(match rcu {
        Some(r) if !hot.is_empty() && hot.is_subset(&r) => item(
            "rcu_nocbs",
            Verdict::Ok,
            format!("RCU callbacks offloaded from {}", format_cpu_list(&r)),
        ),
        _ if !hot.is_empty() && !nohz_set.is_empty() && hot.is_subset(&nohz_set) => item(
            "rcu_nocbs",
            Verdict::Ok,
            "implied by nohz_full on the hot cores",
        ),
        Some(r) => item(
            "rcu_nocbs",
            Verdict::NotSet,
            format!(
                "rcu_nocbs={} does not cover hot cores {hot_s}",
                format_cpu_list(&r)
            ),
        ),
        None => item(
            "rcu_nocbs",
            Verdict::NotSet,
            "not on the kernel command line",
        ),
    });

    // IRQ affinity
    items.push(check_irqs(h, &hot));

    // irqbalance
    let running = h.list_dir("proc").iter().any(|p| {
        p.parse::<u32>().is_ok()
            && h.read(&format!("proc/{p}/comm"))
                .map(|c| c == "irqbalance")
                .unwrap_or(false)
    });
    items.push(if !running {
        item("irqbalance", Verdict::Ok, "not running")
    } else {
        let banned = ["etc/default/irqbalance", "etc/sysconfig/irqbalance"]
            .iter()
            .filter_map(|f| h.read(f).ok())
            .flat_map(|t| {
                t.lines()
                    .filter_map(|l| {
                        l.trim()
                            .strip_prefix("IRQBALANCE_BANNED_CPULIST=")
                            .map(|v| v.trim_matches('"').to_string())
                    })
                    .collect::<Vec<_>>()
            })
            .find_map(|v| parse_cpu_list(&v).ok());
        match banned {
            Some(b) if !hot.is_empty() && hot.is_subset(&b) => item(
                "irqbalance",
                Verdict::Ok,
                format!("running, banned from {}", format_cpu_list(&b)),
            ),
            _ => item(
                "irqbalance",
                Verdict::NotSet,
                "running and not banned from the hot cores (it can move IRQs onto them)",
            ),
        }
    });

    // governor
    items.push(check_governor(h, &machine, &cores_for_checks));
    // C-states
    items.push(check_cstates(h, &machine, &cores_for_checks));

    // transparent huge pages
    let sel = |s: &str| -> Option<String> {
        s.split_whitespace()
            .find(|w| w.starts_with('['))
            .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
    };
    items.push(
        match (
            h.read("sys/kernel/mm/transparent_hugepage/enabled"),
            h.read("sys/kernel/mm/transparent_hugepage/defrag"),
        ) {
            (Ok(e), Ok(d)) => {
                let (e, d) = (sel(&e).unwrap_or(e), sel(&d).unwrap_or(d));
                let ok = (e == "never" || e == "madvise") && d != "always";
                item(
                    "transparent_hugepages",
                    if ok { Verdict::Ok } else { Verdict::NotSet },
                    format!(
                        "enabled={e}, defrag={d}{}",
                        if ok {
                            ""
                        } else {
                            " (want enabled=never or madvise, defrag not always: no compaction stalls)"
                        }
                    ),
                )
            }
            (Err(e), _) | (_, Err(e)) => item("transparent_hugepages", Verdict::CannotCheck, e),
        },
    );

    // explicit huge pages
    let meminfo = h.read("proc/meminfo").unwrap_or_default();
    let mi = |k: &str| -> Option<u64> {
        meminfo.lines().find_map(|l| {
            l.strip_prefix(k)
                .and_then(|r| r.trim_start_matches(':').split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
    };
    let mut hp = match (mi("HugePages_Total"), mi("Hugepagesize")) {
        (Some(n), Some(sz)) if n > 0 => item(
            "hugepages",
            Verdict::Ok,
            format!("{n} × {sz} kB reserved"),
        ),
        (Some(_), Some(sz)) => item(
            "hugepages",
            Verdict::NotSet,
            format!("none reserved (page size {sz} kB); arbot does not map hugetlbfs pages yet, so this does not change its figures today"),
        ),
        _ => item("hugepages", Verdict::CannotCheck, "no HugePages_Total in /proc/meminfo"),
    };
    hp.required = false;
    items.push(hp);

    // busy poll
    let bp = h.read("proc/sys/net/core/busy_poll");
    let br = h.read("proc/sys/net/core/busy_read");
    items.push(match (bp, br) {
        (Ok(p), Ok(r)) => {
            let (pv, rv) = (p.parse::<u64>().unwrap_or(0), r.parse::<u64>().unwrap_or(0));
            item(
                "busy_poll",
                if pv > 0 && rv > 0 {
                    Verdict::Ok
                } else {
                    Verdict::NotSet
                },
                format!("net.core.busy_poll={p} µs, net.core.busy_read={r} µs"),
            )
        }
        (Err(e), _) | (_, Err(e)) => item("busy_poll", Verdict::CannotCheck, e),
    });

    // NUMA balancing
    let mut nb = match h.read("proc/sys/kernel/numa_balancing") {
        Ok(v) if v == "0" => item("numa_balancing", Verdict::Ok, "kernel.numa_balancing=0"),
        Ok(v) => item(
            "numa_balancing",
            Verdict::NotSet,
            format!("kernel.numa_balancing={v} (page migrations fault hot memory)"),
        ),
        Err(_) => item(
            "numa_balancing",
            Verdict::Ok,
            "not in this kernel (nothing to turn off)",
        ),
    };
    nb.required = machine.numa_nodes > 1;
    items.push(nb);

    // NIC coalescing
    items.push(check_nic(h, map.map(|(_, m)| m.nic.as_str()).unwrap_or("")));

    // pinning
    items.push(match map {
        None => item(
            "pinning",
            Verdict::CannotCheck,
            "no core map given (--coremap tuning/coremaps/<machine>.toml)",
        ),
        Some((_, m)) if m.hot_cores().is_empty() => item(
            "pinning",
            Verdict::NotSet,
            "the core map pins no thread (polite layout for shared machines)",
        ),
        Some((_, m)) => {
            let allowed = parse_cpu_list(&machine.allowed_cpus).unwrap_or_default();
            let miss: BTreeSet<usize> = m.hot_cores().difference(&allowed).copied().collect();
            if miss.is_empty() {
                item(
                    "pinning",
                    Verdict::Ok,
                    format!("hot cores {} are usable by this process", format_cpu_list(&m.hot_cores())),
                )
            } else {
                item(
                    "pinning",
                    Verdict::NotSet,
                    format!(
                        "cores {} of the core map are not usable here (allowed: {}): those threads would run unpinned",
                        format_cpu_list(&miss),
                        machine.allowed_cpus
                    ),
                )
            }
        }
    });

    Report {
        machine,
        coremap: map.map(|(p, _)| p.to_string()),
        hot_cores: hot_s,
        items,
    }
}

fn check_irqs(h: &Host, hot: &BTreeSet<usize>) -> Item {
    if hot.is_empty() {
        return item(
            "irq_affinity",
            Verdict::NotSet,
            "no isolated/hot cores defined, so no IRQs are kept off them",
        );
    }
    let mut on_hot = Vec::new();
    let mut seen = 0;
    let mut unreadable = 0;
    for d in h.list_dir("proc/irq") {
        if d.parse::<u32>().is_err() {
            continue;
        }
        let eff = h
            .read(&format!("proc/irq/{d}/effective_affinity_list"))
            .or_else(|_| h.read(&format!("proc/irq/{d}/smp_affinity_list")));
        match eff.ok().and_then(|s| parse_cpu_list(&s).ok()) {
            Some(set) => {
                seen += 1;
                if set.intersection(hot).next().is_some() {
                    on_hot.push(d);
                }
            }
            None => unreadable += 1,
        }
    }
    let default = h
        .read("proc/irq/default_smp_affinity")
        .ok()
        .and_then(|s| parse_cpu_mask(&s).ok());
    if seen == 0 {
        return item(
            "irq_affinity",
            Verdict::CannotCheck,
            format!("no readable /proc/irq/*/smp_affinity_list ({unreadable} unreadable)"),
        );
    }
    let default_hot = default
        .as_ref()
        .map(|d| d.intersection(hot).next().is_some())
        .unwrap_or(false);
    if on_hot.is_empty() && !default_hot {
        item(
            "irq_affinity",
            Verdict::Ok,
            format!(
                "none of {seen} IRQs may run on hot cores {}",
                format_cpu_list(hot)
            ),
        )
    } else {
        let mut list = on_hot.clone();
        list.truncate(8);
        item(
            "irq_affinity",
            Verdict::NotSet,
            format!(
                "{} of {seen} IRQs can run on hot cores {} (IRQs {}{}){}",
                on_hot.len(),
                format_cpu_list(hot),
                list.join(","),
                if on_hot.len() > 8 { ",…" } else { "" },
                if default_hot {
                    "; default_smp_affinity includes hot cores"
                } else {
                    ""
                }
            ),
        )
    }
}

fn check_governor(h: &Host, m: &MachineFacts, cores: &BTreeSet<usize>) -> Item {
    let mut govs = Vec::new();
    for c in cores {
        if let Ok(g) = h.read(&format!(
            "sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"
        )) {
            govs.push((*c, g));
        }
    }
    if govs.is_empty() {
        return item(
            "cpu_governor",
            Verdict::CannotCheck,
            if m.hypervisor {
                "no cpufreq driver in this VM: the host sets the frequency"
            } else {
                "no cpufreq driver (frequency set by firmware: check the BIOS power profile)"
            },
        );
    }
    let bad: Vec<String> = govs
        .iter()
        .filter(|(_, g)| g != "performance")
        .map(|(c, g)| format!("cpu{c}={g}"))
        .collect();
    if bad.is_empty() {
        item(
            "cpu_governor",
            Verdict::Ok,
            format!("performance on {} checked cores", govs.len()),
        )
    } else {
        item("cpu_governor", Verdict::NotSet, bad.join(", "))
    }
}

fn check_cstates(h: &Host, m: &MachineFacts, cores: &BTreeSet<usize>) -> Item {
    let max_c = ["intel_idle.max_cstate", "processor.max_cstate"]
        .iter()
        .filter_map(|k| h.cmdline_param(k).and_then(|v| v.parse::<u32>().ok()))
        .min();
    let idle_poll = h.cmdline_param("idle").as_deref() == Some("poll");
    if idle_poll {
        return item(
            "c_states",
            Verdict::Ok,
            "idle=poll on the kernel command line",
        );
    }
    if m.hypervisor {
        return item(
            "c_states",
            Verdict::CannotCheck,
            "virtual machine: the guest's idle states do not show the host's C-states",
        );
    }
    // deep = exit latency above 2 µs and not disabled
    let mut deep = Vec::new();
    let mut any = false;
    for c in cores {
        for s in h.list_dir(&format!("sys/devices/system/cpu/cpu{c}/cpuidle")) {
            if !s.starts_with("state") {
                continue;
            }
            let base = format!("sys/devices/system/cpu/cpu{c}/cpuidle/{s}");
            let lat = h
                .read(&format!("{base}/latency"))
                .ok()
                .and_then(|v| v.parse::<u64>().ok());
            let dis = h.read(&format!("{base}/disable")).ok();
            let name = h.read(&format!("{base}/name")).unwrap_or_default();
            if let (Some(lat), Some(dis)) = (lat, dis) {
                any = true;
                if lat > 2 && dis == "0" {
                    deep.push(format!("cpu{c}:{name}({lat}µs)"));
                }
            }
        }
    }
    if !any {
        return match max_c {
            Some(n) if n <= 1 => item(
                "c_states",
                Verdict::Ok,
                format!("max_cstate={n} on the kernel command line"),
            ),
            _ => item(
                "c_states",
                Verdict::CannotCheck,
                "no cpuidle states visible (no cpuidle driver)",
            ),
        };
    }
    if deep.is_empty() {
        item(
            "c_states",
            Verdict::Ok,
            "no idle state deeper than 2 µs exit latency enabled on the checked cores",
        )
    } else {
        let n = deep.len();
        deep.truncate(6);
        item(
            "c_states",
            Verdict::NotSet,
            format!(
                "{n} deep idle states enabled: {}{}",
                deep.join(", "),
                if n > 6 { ", …" } else { "" }
            ),
        )
    }
}

fn default_route_iface(h: &Host) -> Option<String> {
    let t = h.read("proc/net/route").ok()?;
    t.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 1 && f[1] == "00000000").then(|| f[0].to_string())
    })
}

fn check_nic(h: &Host, nic: &str) -> Item {
    let iface = if nic.is_empty() {
        match default_route_iface(h) {
            Some(i) => i,
            None => {
                return item(
                    "nic_coalescing",
                    Verdict::CannotCheck,
                    "no NIC named in the core map and no default route",
                )
            }
        }
    } else {
        nic.to_string()
    };
    let driver = std::fs::read_link(h.path(&format!("sys/class/net/{iface}/device/driver")))
        .ok()
        .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown driver".into());
    match (h.ethtool)(&iface) {
        Err(e) => item(
            "nic_coalescing",
            Verdict::CannotCheck,
            format!("{iface} ({driver}): ethtool -c: {e}"),
        ),
        Ok(out) => {
            let field = |k: &str| -> Option<String> {
                out.lines().find_map(|l| {
                    let (a, b) = l.split_once(':')?;
                    (a.trim().eq_ignore_ascii_case(k)).then(|| b.trim().to_string())
                })
            };
            let adaptive = out
                .lines()
                .find(|l| l.trim_start().starts_with("Adaptive RX"))
                .map(|l| {
                    l.split_whitespace()
                        .nth(2)
                        .unwrap_or("")
                        .to_ascii_lowercase()
                });
            let rx_usecs = field("rx-usecs");
            match (adaptive.as_deref(), rx_usecs.as_deref()) {
                (_, None) => item(
                    "nic_coalescing",
                    Verdict::CannotCheck,
                    format!("{iface} ({driver}): ethtool -c shows no rx-usecs"),
                ),
                (a, Some(u)) => {
                    let ok = u == "0" && a != Some("on");
                    item(
                        "nic_coalescing",
                        if ok { Verdict::Ok } else { Verdict::NotSet },
                        format!(
                            "{iface} ({driver}): rx-usecs={u}, adaptive-rx={}",
                            a.unwrap_or("n/a")
                        ),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_and_masks() {
        let s = parse_cpu_list("0-3,8,10-11").unwrap();
        assert_eq!(
            s.iter().copied().collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(format_cpu_list(&s), "0-3,8,10-11");
        assert!(parse_cpu_list("(null)").unwrap().is_empty());
        assert!(parse_cpu_list("").unwrap().is_empty());
        assert_eq!(
            format_cpu_list(&parse_cpu_list("managed_irq,domain,2-5").unwrap()),
            "2-5"
        );
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x-1").is_err());
        assert_eq!(format_cpu_list(&parse_cpu_mask("ff").unwrap()), "0-7");
        assert_eq!(
            format_cpu_list(&parse_cpu_mask("00000001,00000003").unwrap()),
            "0-1,32"
        );
        assert!(parse_cpu_mask("zz").is_err());
        assert_eq!(format_cpu_list(&BTreeSet::new()), "none");
    }
}

//! `arbot tuning-check` on fake /proc + /sys trees (a tuned colocated box, an untuned one, a
//! VM), on this real host (no false OK), and the shipped core maps.

mod common;

use arbot::tools::tuning_check::{check, facts, CoreMap, Host, Verdict};
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const COALESCE_OFF: &str =
    "Coalesce parameters for ens1f0:\nAdaptive RX: off  TX: off\nrx-usecs: 0\nrx-frames: 1\n";
const COALESCE_ON: &str =
    "Coalesce parameters for ens1f0:\nAdaptive RX: on  TX: on\nrx-usecs: 50\n";

/// A 16-CPU bare-metal box; `tuned` writes the settings of tuning/README.md for cores 2-9.
fn fake_box(name: &str, tuned: bool) -> Host {
    let r = common::tmp(name);
    let mut cpuinfo = String::new();
    for c in 0..16 {
        cpuinfo.push_str(&format!(
            "processor\t: {c}\nmodel name\t: Intel(R) Xeon(R) Gold 6444Y\nflags\t\t: fpu sse2 avx2\n\n"
        ));
    }
    write(&r, "proc/cpuinfo", &cpuinfo);
    write(
        &r,
        "proc/self/status",
        "Name:\tarbot\nCpus_allowed_list:\t0-15\n",
    );
    write(&r, "proc/sys/kernel/osrelease", "6.8.0-test");
    write(&r, "proc/loadavg", "0.10 0.05 0.01 1/200 1234");
    write(&r, "sys/devices/system/cpu/online", "0-15");
    write(&r, "sys/devices/system/node/node0/cpulist", "0-15");
    let cmd = if tuned {
        "BOOT_IMAGE=/vmlinuz ro isolcpus=managed_irq,domain,2-9 nohz_full=2-9 rcu_nocbs=2-9 intel_idle.max_cstate=1 processor.max_cstate=1 transparent_hugepage=never"
    } else {
        "BOOT_IMAGE=/vmlinuz ro quiet"
    };
    write(&r, "proc/cmdline", cmd);
    write(
        &r,
        "sys/devices/system/cpu/isolated",
        if tuned { "2-9" } else { "" },
    );
    write(
        &r,
        "sys/devices/system/cpu/nohz_full",
        if tuned { "2-9" } else { "(null)" },
    );
    for c in 0..16 {
        let gov = if tuned { "performance" } else { "powersave" };
        write(
            &r,
            &format!("sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"),
            gov,
        );
        for (s, name, lat) in [(0, "POLL", 0), (1, "C1", 2), (2, "C1E", 10), (3, "C6", 170)] {
            let base = format!("sys/devices/system/cpu/cpu{c}/cpuidle/state{s}");
            write(&r, &format!("{base}/name"), name);
            write(&r, &format!("{base}/latency"), &lat.to_string());
            let disabled = tuned && lat > 2;
            write(
                &r,
                &format!("{base}/disable"),
                if disabled { "1" } else { "0" },
            );
        }
    }
    write(
        &r,
        "sys/kernel/mm/transparent_hugepage/enabled",
        if tuned {
            "always madvise [never]"
        } else {
            "[always] madvise never"
        },
    );
    write(
        &r,
        "sys/kernel/mm/transparent_hugepage/defrag",
        if tuned {
            "always defer defer+madvise madvise [never]"
        } else {
            "[always] defer defer+madvise madvise never"
        },
    );
    write(
        &r,
        "proc/meminfo",
        &format!(
            "MemTotal: 1000 kB\nHugePages_Total:    {}\nHugepagesize:       2048 kB\n",
            if tuned { 1024 } else { 0 }
        ),
    );
    write(
        &r,
        "proc/sys/net/core/busy_poll",
        if tuned { "50" } else { "0" },
    );
    write(
        &r,
        "proc/sys/net/core/busy_read",
        if tuned { "50" } else { "0" },
    );
    write(
        &r,
        "proc/sys/kernel/numa_balancing",
        if tuned { "0" } else { "1" },
    );
    write(
        &r,
        "proc/sys/kernel/nmi_watchdog",
        if tuned { "0" } else { "1" },
    );
    write(
        &r,
        "proc/sys/vm/stat_interval",
        if tuned { "10" } else { "1" },
    );
    write(
        &r,
        "proc/sys/vm/nr_hugepages",
        if tuned { "1024" } else { "0" },
    );
    write(
        &r,
        "proc/net/route",
        "Iface\tDestination\tGateway\nens1f0\t00000000\t0100000A\n",
    );
    for irq in [24, 25, 40, 41] {
        let aff = if tuned {
            if irq >= 40 {
                "1"
            } else {
                "0-1,10-15"
            }
        } else {
            "0-15"
        };
        write(&r, &format!("proc/irq/{irq}/smp_affinity_list"), aff);
        write(&r, &format!("proc/irq/{irq}/effective_affinity_list"), aff);
    }
    write(
        &r,
        "proc/irq/default_smp_affinity",
        if tuned { "fc03" } else { "ffff" },
    );
    if !tuned {
        write(&r, "proc/4242/comm", "irqbalance");
    }
    write(&r, "proc/1/comm", "systemd");
    Host {
        root: r,
        ethtool: Box::new(move |iface| {
            assert_eq!(iface, "ens1f0");
            Ok(if tuned { COALESCE_OFF } else { COALESCE_ON }.to_string())
        }),
    }
}

fn colo_map() -> (String, CoreMap) {
    let p = common::root().join("tuning/coremaps/colo-2s.toml");
    (
        p.display().to_string(),
        CoreMap::load(&p).unwrap_or_else(|e| panic!("{e}")),
    )
}

fn verdict(rep: &arbot::tools::tuning_check::Report, name: &str) -> Verdict {
    rep.items
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no item {name}"))
        .verdict
}

const ITEMS: [&str; 14] = [
    "isolcpus",
    "nohz_full",
    "rcu_nocbs",
    "irq_affinity",
    "irqbalance",
    "cpu_governor",
    "c_states",
    "transparent_hugepages",
    "hugepages",
    "busy_poll",
    "numa_balancing",
    "nic_coalescing",
    "pinning",
    "nohz_full",
];

#[test]
fn tuned_box_is_ok_everywhere() {
    let h = fake_box("tuned", true);
    let (p, m) = colo_map();
    let rep = check(&h, Some((&p, &m)));
    for i in &rep.items {
        assert_eq!(i.verdict, Verdict::Ok, "{}: {}", i.name, i.detail);
    }
    for n in ITEMS {
        verdict(&rep, n);
    }
    assert!(rep.tuned());
    assert_eq!(rep.hot_cores, "2-6");
    let text = rep.human();
    assert!(
        text.contains("this host is tuned for low latency"),
        "{text}"
    );
    assert!(text.contains("Gold 6444Y"), "{text}");
    let f = facts(&h);
    assert!(!f.hypervisor);
    assert_eq!((f.logical_cpus, f.allowed_count), (16, 16));
    assert_eq!(f.isolated_cpus, "2-9");
    assert_eq!(f.governor, "performance");
    assert!(!f.shared_machine());
}

#[test]
fn untuned_box_is_not_set_where_it_should_be() {
    let h = fake_box("untuned", false);
    let (p, m) = colo_map();
    let rep = check(&h, Some((&p, &m)));
    for n in [
        "isolcpus",
        "nohz_full",
        "rcu_nocbs",
        "irq_affinity",
        "irqbalance",
        "cpu_governor",
        "c_states",
        "transparent_hugepages",
        "hugepages",
        "busy_poll",
        "numa_balancing",
        "nic_coalescing",
    ] {
        assert_eq!(verdict(&rep, n), Verdict::NotSet, "{n}");
    }
    // the cores exist and are allowed: pinning itself works
    assert_eq!(verdict(&rep, "pinning"), Verdict::Ok);
    assert!(!rep.tuned());
    let det = |n: &str| {
        rep.items
            .iter()
            .find(|i| i.name == n)
            .unwrap()
            .detail
            .clone()
    };
    assert!(
        det("irq_affinity").contains("4 of 4 IRQs"),
        "{}",
        det("irq_affinity")
    );
    assert!(det("cpu_governor").contains("cpu2=powersave"));
    assert!(det("c_states").contains("C6(170µs)"), "{}", det("c_states"));
    assert!(det("nic_coalescing").contains("rx-usecs=50"));
    // without a core map nothing is "hot", so nothing can be OK about isolation
    let rep = check(&h, None);
    assert_eq!(verdict(&rep, "isolcpus"), Verdict::NotSet);
    assert_eq!(verdict(&rep, "irq_affinity"), Verdict::NotSet);
    assert_eq!(verdict(&rep, "pinning"), Verdict::CannotCheck);
}

#[test]
fn partly_tuned_box_names_what_is_missing() {
    let h = fake_box("partial", true);
    // one IRQ still allowed on a hot core, and core 6 no longer isolated
    write(&h.root, "proc/irq/41/effective_affinity_list", "1,5");
    write(&h.root, "sys/devices/system/cpu/isolated", "2-5");
    let (p, m) = colo_map();
    let rep = check(&h, Some((&p, &m)));
    assert_eq!(verdict(&rep, "irq_affinity"), Verdict::NotSet);
    assert_eq!(verdict(&rep, "isolcpus"), Verdict::NotSet);
    let d = &rep
        .items
        .iter()
        .find(|i| i.name == "isolcpus")
        .unwrap()
        .detail;
    assert!(d.contains("hot cores 6 not isolated"), "{d}");
    // a core map with cores this process cannot use
    write(&h.root, "proc/self/status", "Cpus_allowed_list:\t0-3\n");
    let rep = check(&h, Some((&p, &m)));
    assert_eq!(verdict(&rep, "pinning"), Verdict::NotSet);
}

#[test]
fn vm_cannot_check_what_the_hypervisor_owns() {
    let h = fake_box("vm", false);
    write(
        &h.root,
        "proc/cpuinfo",
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu hypervisor\n\nprocessor\t: 1\nflags\t\t: fpu hypervisor\n",
    );
    write(&h.root, "proc/self/status", "Cpus_allowed_list:\t0-1\n");
    for c in 0..16 {
        let _ = std::fs::remove_dir_all(
            h.root
                .join(format!("sys/devices/system/cpu/cpu{c}/cpufreq")),
        );
    }
    let h = Host {
        root: h.root.clone(),
        ethtool: Box::new(|_| Err("Operation not supported".into())),
    };
    let rep = check(&h, None);
    assert_eq!(verdict(&rep, "cpu_governor"), Verdict::CannotCheck);
    assert_eq!(verdict(&rep, "c_states"), Verdict::CannotCheck);
    assert_eq!(verdict(&rep, "nic_coalescing"), Verdict::CannotCheck);
    assert!(rep.machine.hypervisor && rep.machine.shared_machine());
    let text = rep.human();
    assert!(text.contains("not colocation numbers"), "{text}");
}

#[test]
fn this_host_reports_without_false_ok() {
    let h = Host::system();
    let rep = check(&h, None);
    let f = &rep.machine;
    assert!(f.logical_cpus >= 1 && f.allowed_count >= 1, "{f:?}");
    // every OK must be backed by what the files say
    let iso = std::fs::read_to_string("/sys/devices/system/cpu/isolated").unwrap_or_default();
    if iso.trim().is_empty() {
        assert_eq!(verdict(&rep, "isolcpus"), Verdict::NotSet);
        assert_eq!(verdict(&rep, "irq_affinity"), Verdict::NotSet);
        assert!(!rep.tuned());
    }
    if f.hypervisor {
        assert!(!rep.tuned());
        assert!(rep.human().contains("not colocation numbers"));
    }
    let bp = std::fs::read_to_string("/proc/sys/net/core/busy_read").unwrap_or_default();
    if bp.trim() == "0" {
        assert_eq!(verdict(&rep, "busy_poll"), Verdict::NotSet);
    }
    // the CLI prints the same, exits 0, and --strict fails on an untuned host
    let bin = env!("CARGO_BIN_EXE_arbot");
    let out = std::process::Command::new(bin)
        .arg("tuning-check")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("summary:"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with('[')).count(), 13);
    let strict = std::process::Command::new(bin)
        .args(["tuning-check", "--strict", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&strict.stdout).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 13);
    assert_eq!(strict.status.success(), rep.tuned());
    let bad = std::process::Command::new(bin)
        .args(["tuning-check", "--coremap", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent.toml"));
}

#[test]
fn shipped_core_maps_load_and_lay_out_threads() {
    let dir = common::root().join("tuning/coremaps");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            CoreMap::load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3, "core maps in {}", dir.display());
    let (_, colo) = colo_map();
    let mut setup = common::setup("replay.toml");
    let notes = colo.apply(&mut setup);
    assert_eq!(setup.feeds.len(), 3, "{notes:?}");
    for (k, (_, vs, core)) in setup.feeds.iter().enumerate() {
        assert_eq!(vs.len(), 1);
        assert_eq!(*core, Some(2 + k));
    }
    assert_eq!(setup.cfg.threads.detection_core, Some(5));
    assert_eq!(setup.cfg.threads.execution_core, Some(6));
    assert_eq!(setup.cfg.threads.wait, arbot::wait::WaitKind::Spin);
    // round-robin over fewer feed cores than venues
    let ws = CoreMap::load(&dir.join("workstation-8c.toml")).unwrap();
    let mut setup = common::setup("replay.toml");
    ws.apply(&mut setup);
    assert_eq!(setup.feeds.len(), 2);
    assert_eq!(setup.feeds[0].1.len() + setup.feeds[1].1.len(), 3);
    // the VM map keeps the config's layout
    let vm = CoreMap::load(&dir.join("vm-2core.toml")).unwrap();
    let mut setup = common::setup("replay.toml");
    let before = setup.feeds.clone();
    vm.apply(&mut setup);
    assert_eq!(setup.feeds, before);
    assert_eq!(setup.cfg.threads.wait, arbot::wait::WaitKind::SpinYield);
}

#[test]
fn bad_core_maps_are_errors_naming_the_problem() {
    let d = common::tmp("coremap-bad");
    let cases = [
        (
            "machine = \"x\"\nisolated_cores = \"2-4\"\nhousekeeping_cores = \"0-2\"\n",
            "both isolated and housekeeping",
        ),
        (
            "machine = \"x\"\nisolated_cores = \"2-4\"\n[threads]\nfeeds = [2]\ndetection = 2\n",
            "two hot threads",
        ),
        (
            "machine = \"x\"\nisolated_cores = \"2-4\"\n[threads]\nfeeds = [7]\n",
            "not in isolated_cores",
        ),
        (
            "machine = \"x\"\nisolated_cores = \"2-x\"\n",
            "isolated_cores",
        ),
        ("machine = \"x\"\ncores = 3\n", "unknown field"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = d.join(format!("m{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let e = CoreMap::load(&p).unwrap_err();
        assert!(
            e.contains(want) && e.contains(&p.display().to_string()),
            "{e}"
        );
    }
}

fn apply_sh(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("bash")
        .arg(common::root().join("tuning/apply.sh"))
        .args(args)
        .output()
        .expect("bash");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn snapshot(root: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                v.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn apply_script_dry_run_changes_nothing_and_apply_sets_the_tree() {
    let h = fake_box("apply", false);
    let root = h.root.display().to_string();
    let map = common::root().join("tuning/coremaps/colo-2s.toml");
    let map = map.to_str().unwrap();
    let before = snapshot(&h.root);
    let (ok, out) = apply_sh(&["--root", &root, "--coremap", map]);
    assert!(ok, "{out}");
    assert_eq!(
        snapshot(&h.root),
        before,
        "the dry run wrote something:\n{out}"
    );
    for what in [
        "kernel command line: add isolcpus=managed_irq,domain,2-9 nohz_full=2-9 rcu_nocbs=2-9",
        "/proc/irq/24/smp_affinity_list: 0-15 → 0-1,10-31",
        "/proc/irq/default_smp_affinity: ffff → fffffc03",
        "systemctl stop irqbalance",
        "cpu3/cpufreq/scaling_governor: powersave → performance",
        "C-state C6 (exit 170 µs) on cpu2",
        "transparent_hugepage/enabled: always → never",
        "nr_hugepages: 0 → 1024",
        "busy_read: 0 → 50",
        "numa_balancing: 1 → 0",
    ] {
        assert!(out.contains(what), "dry run lacks {what:?}:\n{out}");
    }
    assert!(
        out.contains("summary:") && out.contains("0 changed"),
        "{out}"
    );

    // --apply into the fake tree (never the real host: --root)
    std::fs::create_dir_all(h.root.join("etc/default/grub.d")).unwrap();
    let (ok, out) = apply_sh(&["--apply", "--root", &root, "--coremap", map]);
    assert!(ok, "{out}");
    assert!(!out.contains("[failed]"), "{out}");
    let grub = std::fs::read_to_string(h.root.join("etc/default/grub.d/99-arbot.cfg")).unwrap();
    assert!(
        grub.contains("GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT isolcpus=managed_irq,domain,2-9 nohz_full=2-9"),
        "{grub}"
    );
    let r = |p: &str| {
        std::fs::read_to_string(h.root.join(p))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(r("proc/irq/24/smp_affinity_list"), "0-1,10-31");
    assert_eq!(r("proc/irq/default_smp_affinity"), "fffffc03");
    assert_eq!(
        r("sys/devices/system/cpu/cpu7/cpufreq/scaling_governor"),
        "performance"
    );
    assert_eq!(r("sys/devices/system/cpu/cpu2/cpuidle/state3/disable"), "1");
    assert_eq!(
        r("sys/devices/system/cpu/cpu2/cpuidle/state1/disable"),
        "0",
        "C1 (2 µs) stays"
    );
    assert_eq!(
        r("sys/devices/system/cpu/cpu12/cpuidle/state3/disable"),
        "0",
        "housekeeping cores keep deep states"
    );
    assert_eq!(r("sys/kernel/mm/transparent_hugepage/enabled"), "never");
    assert_eq!(r("proc/sys/vm/nr_hugepages"), "1024");
    assert_eq!(r("proc/sys/net/core/busy_poll"), "50");
    assert!(r("etc/sysctl.d/99-arbot.conf").contains("net.core.busy_read = 50"));
    // the check now agrees for what the script sets at run time (HugePages_Total in
    // /proc/meminfo and effective IRQ affinity are the kernel's answers: not faked here)
    let rep = check(&h, Some(("colo", &colo_map().1)));
    for n in [
        "cpu_governor",
        "c_states",
        "transparent_hugepages",
        "busy_poll",
        "numa_balancing",
    ] {
        assert_eq!(verdict(&rep, n), Verdict::Ok, "{n}");
    }
    // a second run has nothing left to change at run time (the command line needs a reboot)
    let (ok, out) = apply_sh(&["--root", &root, "--coremap", map]);
    assert!(ok, "{out}");
    let would: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("[would change]"))
        .collect();
    assert_eq!(would.len(), 1, "{out}");
    assert!(would[0].contains("kernel command line"), "{out}");
    // bad arguments
    let (ok, out) = apply_sh(&["--frobnicate"]);
    assert!(!ok && out.contains("unknown argument"), "{out}");
    let (ok, out) = apply_sh(&["--coremap", "/nonexistent.toml"]);
    assert!(!ok && out.contains("not found"), "{out}");
}

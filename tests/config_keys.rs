//! A config broken key by key (issue 18, item 4): every error names the key.
//!
//! For every shipped config in `configs/`, every leaf value (tables, arrays of tables, inline
//! tables) is replaced in turn by a value of the wrong type; loading the result must fail, and
//! the message must name the key (its own name, or the name of the table entry it sits in).
//! Then every table gets an unknown key: a typo must not be ignored, and its error names it.

use std::path::{Path, PathBuf};

fn configs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && !p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains("networks")
        })
        .collect();
    v.sort();
    v
}

/// The path of every leaf: a list of (key or index) steps.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn leaves(v: &toml::Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                at.push(Step::Key(k.clone()));
                leaves(x, at, out);
                at.pop();
            }
        }
        toml::Value::Array(a) if a.iter().all(|x| x.is_table()) && !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                at.push(Step::Index(i));
                leaves(x, at, out);
                at.pop();
            }
        }
        _ => out.push(at.clone()),
    }
}

fn get_mut<'a>(v: &'a mut toml::Value, path: &[Step]) -> &'a mut toml::Value {
    path.iter().fold(v, |v, s| match s {
        Step::Key(k) => v.get_mut(k.as_str()).unwrap(),
        Step::Index(i) => v.get_mut(*i).unwrap(),
    })
}

fn wrong_type(v: &toml::Value) -> toml::Value {
    match v {
        toml::Value::String(_) => toml::Value::Table(toml::Table::new()),
        _ => toml::Value::String("not-a-valid-value".into()),
    }
}

fn load(text: &str, label: &str) -> Result<(), String> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = arbot::config::parse(text, label).map_err(|e| e.to_string())?;
    arbot::config::resolve(cfg, base)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn key_names(path: &[Step]) -> Vec<&str> {
    path.iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect()
}

#[test]
fn every_key_of_every_shipped_config_is_named_when_broken() {
    let mut checked = 0;
    let mut unnamed = Vec::new();
    for p in configs() {
        let text = std::fs::read_to_string(&p).unwrap();
        let label = p.file_name().unwrap().to_string_lossy().to_string();
        load(&text, &label).unwrap_or_else(|e| panic!("{label} must load as shipped: {e}"));
        let doc: toml::Value = toml::from_str(&text).unwrap();
        let mut all = Vec::new();
        leaves(&doc, &mut Vec::new(), &mut all);
        for path in all {
            let mut broken = doc.clone();
            let slot = get_mut(&mut broken, &path);
            *slot = wrong_type(slot);
            let names = key_names(&path);
            let leaf = *names.last().unwrap();
            match load(&toml::to_string(&broken).unwrap(), &label) {
                Ok(()) => unnamed.push(format!("{label}: {names:?} accepted a wrong type")),
                Err(e) if e.contains(leaf) => {}
                Err(e) => unnamed.push(format!(
                    "{label}: {names:?}: error does not name `{leaf}`: {e}"
                )),
            }
            checked += 1;
        }
    }
    eprintln!("{checked} keys broken one at a time");
    assert!(checked > 200, "only {checked} keys found");
    assert!(
        unnamed.is_empty(),
        "{} keys:\n{}",
        unnamed.len(),
        unnamed.join("\n")
    );
}

#[test]
fn an_unknown_key_in_any_table_is_an_error_naming_it() {
    let mut unnamed = Vec::new();
    for p in configs() {
        let text = std::fs::read_to_string(&p).unwrap();
        let label = p.file_name().unwrap().to_string_lossy().to_string();
        let doc: toml::Value = toml::from_str(&text).unwrap();
        // every table path (top level included)
        let mut tables: Vec<Vec<Step>> = vec![vec![]];
        fn walk(v: &toml::Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
            match v {
                toml::Value::Table(t) => {
                    for (k, x) in t {
                        at.push(Step::Key(k.clone()));
                        if x.is_table() && k != "balances" {
                            out.push(at.clone());
                        }
                        walk(x, at, out);
                        at.pop();
                    }
                }
                toml::Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        at.push(Step::Index(i));
                        if x.is_table() {
                            out.push(at.clone());
                        }
                        walk(x, at, out);
                        at.pop();
                    }
                }
                _ => {}
            }
        }
        walk(&doc, &mut Vec::new(), &mut tables);
        for path in tables {
            let mut broken = doc.clone();
            let t = get_mut(&mut broken, &path);
            let Some(t) = t.as_table_mut() else { continue };
            // a map keyed by the user's names (venues, per-venue maps) takes any key
            if matches!(key_names(&path).last(), Some(&"venues")) {
                continue;
            }
            t.insert("typo_key_zz".into(), toml::Value::Integer(1));
            match load(&toml::to_string(&broken).unwrap(), &label) {
                Ok(()) => unnamed.push(format!(
                    "{label}: {:?} ignored an unknown key",
                    key_names(&path)
                )),
                Err(e) if e.contains("typo_key_zz") => {}
                Err(e) => unnamed.push(format!("{label}: {:?}: {e}", key_names(&path))),
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "{}:\n{}",
        unnamed.len(),
        unnamed.join("\n")
    );
}

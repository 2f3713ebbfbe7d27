//! Name resolution for `start`/`stop`/`restart`/`status`/`logs`: a program (all its
//! processes), a process (`web:1`; `web:0` also names `web` when numprocs is 1), or `all`.

use std::collections::{BTreeMap, BTreeSet};

/// One process: its program's name and its index.
pub type Target = (String, u32);

/// Resolves every name against `programs` (name → numprocs); the first unknown name is the
/// error, so a request naming one changes nothing.
pub fn resolve(names: &[String], programs: &BTreeMap<String, u32>) -> Result<Vec<Target>, String> {
    let mut out = BTreeSet::new();
    for name in names {
        if name == "all" {
            for (program, &n) in programs {
                out.extend((0..n).map(|i| (program.clone(), i)));
            }
            continue;
        }
        if let Some(&n) = programs.get(name.as_str()) {
            out.extend((0..n).map(|i| (name.clone(), i)));
            continue;
        }
        match parse_process(name, programs) {
            Some(target) => {
                out.insert(target);
            }
            None => return Err(name.clone()),
        }
    }
    Ok(out.into_iter().collect())
}

/// `web:1` → (`web`, 1) when `web` has more than 1 process; `web:0` → (`web`, 0) always.
fn parse_process(name: &str, programs: &BTreeMap<String, u32>) -> Option<Target> {
    let (program, index) = name.rsplit_once(':')?;
    let &n = programs.get(program)?;
    // Digits only: no sign, no spaces, no `web:+1`.
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: u32 = index.parse().ok()?;
    (index < n).then(|| (program.to_owned(), index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs() -> BTreeMap<String, u32> {
        BTreeMap::from([("web".into(), 2), ("db".into(), 1)])
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn programs_processes_and_all() {
        let p = programs();
        assert_eq!(
            resolve(&names(&["web"]), &p).unwrap(),
            [("web".into(), 0), ("web".into(), 1)]
        );
        assert_eq!(
            resolve(&names(&["web:1", "db"]), &p).unwrap(),
            [("db".into(), 0), ("web".into(), 1)]
        );
        assert_eq!(resolve(&names(&["all"]), &p).unwrap().len(), 3);
        assert_eq!(resolve(&names(&["all", "web:0"]), &p).unwrap().len(), 3);
    }

    #[test]
    fn zero_index_names_a_single_process_program() {
        assert_eq!(
            resolve(&names(&["db:0"]), &programs()).unwrap(),
            [("db".into(), 0)]
        );
    }

    #[test]
    fn unknown_names_are_reported() {
        let p = programs();
        for bad in ["nope", "web:2", "db:1", "web:", "web:-1", "web:x", ":0"] {
            assert_eq!(resolve(&names(&["web", bad]), &p), Err(bad.to_owned()));
        }
    }
}

//! Name resolution for every request that takes names (`start`, `stop`, `restart`, `status`,
//! `logs`, `signal`, `pid`): a program (all its processes), a process (`web:1`; `web:0` also
//! names `web` when numprocs is 1), `web:*` (every process of `web`, like supervisorctl's
//! group syntax), or `all`.
//!
//! An unknown name is an error carrying the closest known name, if one is near enough
//! ([`Unknown::suggestion`]), so `stop tikcer` can answer "did you mean `ticker`?".

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One process: its program's name and its index.
pub(crate) type Target = (String, u32);

/// A name that is no program, process, `PROGRAM:*` or `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unknown {
    pub name: String,
    /// The closest known name, when one is within a few edits.
    pub suggestion: Option<String>,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no such program or process: {}", self.name)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

/// Resolves every name against `programs` (name → numprocs); the first unknown name is the
/// error, so a request naming one changes nothing.
pub(crate) fn resolve(
    names: &[String],
    programs: &BTreeMap<String, u32>,
) -> Result<Vec<Target>, Unknown> {
    let mut out = BTreeSet::new();
    for name in names {
        let whole = if name == "all" {
            None
        } else {
            Some(program_of(name).unwrap_or(name))
        };
        match whole {
            None => {
                for (program, &n) in programs {
                    out.extend((0..n).map(|i| (program.clone(), i)));
                }
                continue;
            }
            Some(program) => {
                if let Some(&n) = programs.get(program) {
                    out.extend((0..n).map(|i| (program.to_owned(), i)));
                    continue;
                }
            }
        }
        match parse_process(name, programs) {
            Some(target) => {
                out.insert(target);
            }
            None => {
                return Err(Unknown {
                    name: name.clone(),
                    suggestion: suggest(name, programs),
                });
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// `web:*` → `web`; `None` for any other name.
pub(crate) fn program_of(name: &str) -> Option<&str> {
    name.strip_suffix(":*").filter(|p| !p.is_empty())
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

/// The known name closest to `name`: a program (kept as `web:*` when that was the form
/// asked), a process name, or `all`. Only called on the error path.
fn suggest(name: &str, programs: &BTreeMap<String, u32>) -> Option<String> {
    // `wbe:*` and `wbe:1` are near misses of the program part.
    let (stem, tail) = match name.rsplit_once(':') {
        Some((stem, tail)) if !stem.is_empty() => (stem, Some(tail)),
        _ => (name, None),
    };
    let mut candidates: Vec<String> = programs.keys().cloned().collect();
    if tail.is_none() {
        candidates.push("all".to_owned());
    }
    let best = closest(stem, &candidates)?;
    Some(match tail {
        None => best.to_owned(),
        Some("*") => format!("{best}:*"),
        Some(tail) => match (programs.get(best), index_in(tail)) {
            (Some(&n), Some(i)) if i < n && n > 1 => format!("{best}:{i}"),
            (Some(1), Some(0)) => best.to_owned(),
            // A right program with a wrong index: no nearer name to offer.
            _ if best == stem => return None,
            // The index does not exist there either: name the program.
            _ => best.to_owned(),
        },
    })
    .filter(|s| s != name)
}

/// The process number in what follows the `:` of a name: `1`, or supervisorctl's
/// `web_01` (its default `%(program_name)s_%(process_num)02d`).
fn index_in(tail: &str) -> Option<u32> {
    let digits = tail.rsplit_once('_').map_or(tail, |(_, d)| d);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The candidate within a few edits of `name` (transpositions count once), nearest first.
/// The allowance grows with the name's length, so a long name may differ by more than a
/// short one; a name that is mostly wrong suggests nothing.
fn closest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::osa_distance(&lower, &c.to_lowercase()), c.as_str()))
        .filter(|&(d, c)| {
            let allowed = 2 + c.chars().count() / 8;
            d <= allowed && d < c.chars().count()
        })
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs() -> BTreeMap<String, u32> {
        BTreeMap::from([("web".into(), 2), ("db".into(), 1), ("ticker".into(), 3)])
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
        assert_eq!(resolve(&names(&["all"]), &p).unwrap().len(), 6);
        assert_eq!(resolve(&names(&["all", "web:0"]), &p).unwrap().len(), 6);
    }

    #[test]
    fn star_names_every_process_of_a_program() {
        let p = programs();
        assert_eq!(
            resolve(&names(&["web:*"]), &p).unwrap(),
            [("web".into(), 0), ("web".into(), 1)]
        );
        assert_eq!(resolve(&names(&["db:*"]), &p).unwrap(), [("db".into(), 0)]);
        assert!(resolve(&names(&[":*"]), &p).is_err());
        assert!(resolve(&names(&["nope:*"]), &p).is_err());
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
            assert_eq!(resolve(&names(&["web", bad]), &p).unwrap_err().name, bad);
        }
    }

    #[test]
    fn near_misses_get_did_you_mean() {
        let p = programs();
        let hint = |name: &str| resolve(&names(&[name]), &p).unwrap_err().suggestion;
        assert_eq!(hint("tikcer").as_deref(), Some("ticker"));
        assert_eq!(hint("Ticker").as_deref(), Some("ticker"));
        assert_eq!(hint("wbe").as_deref(), Some("web"));
        assert_eq!(hint("wbe:*").as_deref(), Some("web:*"));
        assert_eq!(hint("tikcer:2").as_deref(), Some("ticker:2"));
        assert_eq!(hint("tikcer:9").as_deref(), Some("ticker"));
        assert_eq!(hint("al").as_deref(), Some("all"));
        assert_eq!(hint("zzzzzzzz"), None);
        // A wrong index on a right program has no nearer name to offer.
        assert_eq!(hint("web:5"), None);
        // supervisorctl's process names.
        assert_eq!(hint("ticker:ticker_01").as_deref(), Some("ticker:1"));
        assert_eq!(hint("db:db_00").as_deref(), Some("db"));
        assert_eq!(hint("web:web_07"), None);
        let message = resolve(&names(&["tikcer"]), &p).unwrap_err().to_string();
        assert_eq!(
            message,
            "no such program or process: tikcer (did you mean `ticker`?)"
        );
    }
}

//! "Did you mean …?" for misspelt names. Only called on the error path.

/// The closest candidate within two edits (or differing only in case), if any.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&lower, c), *c))
        .filter(|&(d, c)| d <= 2 && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_near_names_only() {
        let fields = ["numprocs", "cmd", "umask", "stoptime", "starttime"];
        assert_eq!(closest("numproc", &fields), Some("numprocs"));
        assert_eq!(closest("NUMPROCS", &fields), Some("numprocs"));
        assert_eq!(closest("stoptme", &fields), Some("stoptime"));
        assert_eq!(closest("banana", &fields), None);
        assert_eq!(closest("x", &fields), None);
    }
}

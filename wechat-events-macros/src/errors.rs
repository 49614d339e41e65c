//! Collecting every error of one attribute, so a user sees all of them in
//! one build, and suggesting the closest name for a typo.

/// The errors found so far.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// The candidate closest to `written`, if any is close enough to be a typo.
pub(crate) fn closest<'a>(written: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (distance(&written.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|&(d, c)| d <= (c.chars().count() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let args = ["key", "key_regex", "scene", "priority"];
        assert_eq!(closest("kye", &args), Some("key"));
        assert_eq!(closest("key_regx", &args), Some("key_regex"));
        assert_eq!(closest("prority", &args), Some("priority"));
        assert_eq!(closest("Scene", &args), Some("scene"));
        assert_eq!(closest("colour", &args), None);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("天气", "天"), 1);
    }
}

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

/// Edit distance by characters, counting a swap of neighbours as one edit
/// (optimal string alignment), so `kye` is one edit from `key`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let args = ["key", "key_regex", "scene", "priority"];
        assert_eq!(closest("kye", &args), Some("key"));
        assert_eq!(closest("sceen", &args), Some("scene"));
        assert_eq!(closest("key_regx", &args), Some("key_regex"));
        assert_eq!(closest("prority", &args), Some("priority"));
        assert_eq!(closest("Scene", &args), Some("scene"));
        assert_eq!(closest("colour", &args), None);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("天气", "天"), 1);
    }
}

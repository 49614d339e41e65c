//! Long texts cut into parts WeChat shows: pure functions, no I/O.
//!
//! A text message — passive reply or customer-service message — holds at
//! most [`TEXT_LIMIT`] bytes of UTF-8 (`../shared/protocol.md` §3, §8); a
//! longer one is not shown at all. [`split`] cuts a text into parts that
//! each fit, where a reader expects a break: at a paragraph (a blank
//! line), else at a line end, else after a sentence end (`。！？.!?`),
//! else between two characters. A cut is never inside a character (a Rust
//! `str` has no surrogate halves to tear apart), and — where it costs a few
//! bytes of look-back — never inside an emoji sequence: not before a
//! zero-width joiner, a variation selector, a skin-tone modifier, a
//! combining mark, a keycap or a tag character, not after a zero-width
//! joiner, and not between the two regional indicators of a flag.
//!
//! Every part but the last ends with a hint (say, "reply 继续 for more");
//! the hint is counted inside the limit, on a line of its own
//! ([`hinted`]). Joining the parts without their hints gives back the
//! text exactly ([`unhinted`]).
//!
//! [`first_part`] is the step the others repeat: the service cuts a long
//! reply one part at a time, because whether a part needs the hint (parts
//! wait for the user) or not (the customer-service API carries the next
//! one at once) is decided part by part.
//!
//! ```
//! use wechat_events::split::{split, unhinted, TEXT_LIMIT};
//!
//! let text = "第1句。".repeat(1000); // 10,000 bytes
//! let parts = split(&text, TEXT_LIMIT, "(未完，回复「继续」查看后续)");
//! assert_eq!(parts.len(), 5);
//! assert!(parts.iter().all(|p| p.len() <= TEXT_LIMIT));
//! assert!(parts[0].ends_with("句。\n(未完，回复「继续」查看后续)"));
//! let joined: String = (parts.iter().enumerate())
//!     .map(|(i, p)| if i + 1 < parts.len() { unhinted(p, "(未完，回复「继续」查看后续)") } else { p })
//!     .collect();
//! assert_eq!(joined, text);
//! ```

/// The most bytes of UTF-8 a text message WeChat shows may hold: 2047 for
/// a passive reply (WeChat's 2048 for a customer-service message is not
/// used: one limit for both).
pub const TEXT_LIMIT: usize = 2047;

/// The hint that ends every part but the last while the later parts wait
/// for the user's next push ([`crate::Config::continue_hint`]).
pub const DEFAULT_CONTINUE_HINT: &str = "(未完，回复「继续」查看后续)";

/// The message that asks for the next part of a long reply
/// ([`crate::Config::continue_keyword`]).
pub const DEFAULT_CONTINUE_KEYWORD: &str = "继续";

/// How far back (in bytes) a cut between characters looks for a place
/// outside an emoji sequence before it gives up and cuts where it is.
const CLUSTER_LOOKBACK: usize = 64;

/// Whether `text` must be cut to be shown: over [`TEXT_LIMIT`] bytes.
pub fn too_long(text: &str) -> bool {
    text.len() > TEXT_LIMIT
}

/// The bytes `hint` adds to a part ending in `part`: nothing for an empty
/// hint, else the hint on a line of its own.
fn suffix_len(hint: &str) -> usize {
    if hint.is_empty() {
        0
    } else {
        hint.len() + 1
    }
}

/// `part` with `hint` after it, on a line of its own (nothing added for an
/// empty hint): what a part that is not the last looks like.
///
/// ```
/// use wechat_events::split::hinted;
/// assert_eq!(hinted("第一段。", "(未完)"), "第一段。\n(未完)");
/// assert_eq!(hinted("第一段。\n", "(未完)"), "第一段。\n\n(未完)");
/// assert_eq!(hinted("第一段。", ""), "第一段。");
/// ```
pub fn hinted(part: &str, hint: &str) -> String {
    let mut out = String::with_capacity(part.len() + suffix_len(hint));
    out.push_str(part);
    if !hint.is_empty() {
        out.push('\n');
        out.push_str(hint);
    }
    out
}

/// The inverse of [`hinted`]: `part` without the line break and `hint` it
/// ends with; `part` itself when it does not end so.
///
/// ```
/// use wechat_events::split::{hinted, unhinted};
/// assert_eq!(unhinted(&hinted("a\n", "(未完)"), "(未完)"), "a\n");
/// ```
pub fn unhinted<'a>(part: &'a str, hint: &str) -> &'a str {
    if hint.is_empty() {
        return part;
    }
    (part.strip_suffix(hint))
        .and_then(|body| body.strip_suffix('\n'))
        .unwrap_or(part)
}

/// The length in bytes of the first part of `text` when parts may hold
/// `limit` bytes and every part but the last ends with `hint` (as
/// [`hinted`] adds it): `text.len()` when the whole text fits, else the
/// best cut within `limit` less the hint's room. Always at least one
/// character for a non-empty text.
///
/// ```
/// use wechat_events::split::first_part;
/// let text = format!("{}\n\n{}", "a".repeat(1500), "b".repeat(1500));
/// assert_eq!(first_part(&text, 2047, ""), 1502); // after the blank line
/// assert_eq!(first_part("short", 2047, "(more)"), 5);
/// ```
pub fn first_part(text: &str, limit: usize, hint: &str) -> usize {
    if text.len() <= limit {
        return text.len();
    }
    let budget = limit.saturating_sub(suffix_len(hint)).max(4);
    let window = floor_boundary(text, budget);
    // A break counts only in the window's second half: cutting earlier
    // would make many short parts (one push each, for the user).
    let least = window / 2;
    let head = &text[..window];
    let cut = paragraph_end(head, least)
        .or_else(|| line_end(head, least))
        .or_else(|| sentence_end(head, least))
        .unwrap_or_else(|| cluster_boundary(text, window));
    if cut == 0 {
        // One character (at most 4 bytes) always fits.
        text.chars().next().map_or(0, char::len_utf8)
    } else {
        cut
    }
}

/// Cuts `text` into parts of at most `limit` bytes, every part but the last
/// ending with `hint` (see [`hinted`]). An empty text is one empty part.
pub fn split(text: &str, limit: usize, hint: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let cut = first_part(rest, limit, hint);
        if cut >= rest.len() {
            parts.push(rest.to_owned());
            return parts;
        }
        parts.push(hinted(&rest[..cut], hint));
        rest = &rest[cut..];
    }
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// After the last blank line in `head` ending past `least`.
fn paragraph_end(head: &str, least: usize) -> Option<usize> {
    let at = head.rfind("\n\n")? + 2;
    // Swallow the rest of a run of blank lines that fits.
    let at = at + head[at..].bytes().take_while(|&b| b == b'\n').count();
    (at > least).then_some(at)
}

/// After the last line break in `head` past `least`.
fn line_end(head: &str, least: usize) -> Option<usize> {
    let at = head.rfind('\n')? + 1;
    (at > least).then_some(at)
}

/// After the last sentence end in `head` past `least`: `。！？` (and their
/// half-width forms `！？`), or `.!?` followed by a space or a line break
/// (so `3.14` and `example.com` are not sentence ends), with the closing
/// quotes or brackets right after it.
fn sentence_end(head: &str, least: usize) -> Option<usize> {
    let mut best = None;
    let mut chars = head.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let full = matches!(c, '。' | '！' | '？');
        let ascii = matches!(c, '.' | '!' | '?')
            && chars.peek().is_none_or(|&(_, n)| n == ' ' || n == '\n');
        if !(full || ascii) {
            continue;
        }
        let mut at = end;
        while let Some(&(j, n)) = chars.peek() {
            if matches!(
                n,
                '”' | '’' | '」' | '』' | '）' | ')' | '"' | '\'' | '】' | '》' | ' '
            ) {
                at = j + n.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        if at > least {
            best = Some(at);
        }
    }
    best
}

/// A char boundary at or below `at` that does not cut an emoji sequence
/// (looking back at most [`CLUSTER_LOOKBACK`] bytes; `at` itself past it).
fn cluster_boundary(text: &str, at: usize) -> usize {
    let mut cut = at;
    while at - cut <= CLUSTER_LOOKBACK {
        if cut == 0 {
            break;
        }
        if !inside_cluster(text, cut) {
            return cut;
        }
        cut = floor_boundary(text, cut - 1);
    }
    at
}

/// Whether a cut at `at` (a char boundary inside `text`) falls inside what
/// a reader sees as one symbol.
fn inside_cluster(text: &str, at: usize) -> bool {
    let (before, after) = text.split_at(at);
    let (Some(prev), Some(next)) = (before.chars().next_back(), after.chars().next()) else {
        return false;
    };
    if prev == '\u{200D}' || extends(next) {
        return true;
    }
    if prev == '\r' && next == '\n' {
        return true;
    }
    // Regional indicators pair up into flags, from the start of their run:
    // a cut after an odd number of them splits a flag.
    if is_regional(prev) && is_regional(next) {
        return before.chars().rev().take_while(|&c| is_regional(c)).count() % 2 == 1;
    }
    false
}

/// Characters that belong to the symbol before them.
fn extends(c: char) -> bool {
    matches!(c,
        '\u{200D}'                   // zero-width joiner
        | '\u{FE00}'..='\u{FE0F}'    // variation selectors
        | '\u{E0100}'..='\u{E01EF}'  // variation selectors supplement
        | '\u{1F3FB}'..='\u{1F3FF}'  // skin-tone modifiers
        | '\u{20E3}'                 // combining keycap
        | '\u{E0020}'..='\u{E007F}'  // tag characters (subdivision flags)
        | '\u{0300}'..='\u{036F}'    // combining diacritical marks
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{3099}' | '\u{309A}'    // kana voiced sound marks
    )
}

fn is_regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HINT: &str = DEFAULT_CONTINUE_HINT;

    /// Splits, checks every part's size and hint, and joins them back.
    fn round_trip(text: &str, limit: usize, hint: &str) -> Vec<String> {
        let parts = split(text, limit, hint);
        let last = parts.len() - 1;
        let mut joined = String::new();
        for (i, part) in parts.iter().enumerate() {
            assert!(part.len() <= limit, "part {i} has {} bytes", part.len());
            if i < last {
                assert!(!hint.is_empty() || !part.is_empty(), "an empty part");
                assert!(part.ends_with(hint), "part {i} lacks the hint");
                joined.push_str(unhinted(part, hint));
            } else {
                joined.push_str(part);
            }
        }
        assert_eq!(joined, text, "the parts do not join back");
        parts
    }

    #[test]
    fn chinese_682_fits_683_does_not() {
        let fits = "你".repeat(682);
        assert_eq!(fits.len(), 2046);
        assert_eq!(round_trip(&fits, TEXT_LIMIT, HINT), vec![fits.clone()]);
        let over = "你".repeat(683);
        assert_eq!(over.len(), 2049);
        let parts = round_trip(&over, TEXT_LIMIT, HINT);
        assert_eq!(parts.len(), 2);
        // No break anywhere: cut between characters, the hint inside.
        assert_eq!(
            parts[1],
            "你".repeat(683 - (TEXT_LIMIT - HINT.len() - 1) / 3)
        );
    }

    #[test]
    fn ascii_2047_fits_2048_does_not() {
        let fits = "a".repeat(2047);
        assert_eq!(round_trip(&fits, TEXT_LIMIT, HINT).len(), 1);
        let parts = round_trip(&"a".repeat(2048), TEXT_LIMIT, HINT);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].len(), TEXT_LIMIT, "the first part fills the limit");
        // Without a hint (the API carries the rest): 2047 + 1.
        let parts = round_trip(&"a".repeat(2048), TEXT_LIMIT, "");
        assert_eq!(parts, vec!["a".repeat(2047), "a".to_owned()]);
    }

    #[test]
    fn twenty_thousand_chinese_characters() {
        let text: String = (1..)
            .flat_map(|i| format!("第{i}句。").chars().collect::<Vec<_>>())
            .take(20_000)
            .collect();
        let parts = round_trip(&text, TEXT_LIMIT, HINT);
        // ~40,000 bytes in parts of nearly 2,005 (the limit less the hint).
        let least = text.len().div_ceil(TEXT_LIMIT - HINT.len() - 1);
        assert!(
            (least..=least + 1).contains(&parts.len()),
            "{}",
            parts.len()
        );
        for part in &parts[..parts.len() - 1] {
            // Cut after a sentence, never mid-sentence.
            assert!(unhinted(part, HINT).ends_with('。'), "{part}");
        }
    }

    #[test]
    fn prefers_a_paragraph_then_a_line_then_a_sentence() {
        let a = "a".repeat(1200);
        let text = format!("{a}。b\nc\n\n{}", "d".repeat(1500));
        let parts = round_trip(&text, TEXT_LIMIT, "");
        assert_eq!(parts[0], format!("{a}。b\nc\n\n"));
        let text = format!("{a}。b\nc{}", "d".repeat(1500));
        assert_eq!(round_trip(&text, TEXT_LIMIT, "")[0], format!("{a}。b\n"));
        let text = format!("{a}。b{}", "d".repeat(1500));
        assert_eq!(round_trip(&text, TEXT_LIMIT, "")[0], format!("{a}。"));
        // A decimal point or a domain is no sentence end; "end. " is.
        let text = format!("{a}3.14 x.com{}", "d".repeat(1500));
        assert_eq!(round_trip(&text, TEXT_LIMIT, "")[0].len(), TEXT_LIMIT);
        let text = format!("{a}end. {}", "d".repeat(1500));
        assert_eq!(round_trip(&text, TEXT_LIMIT, "")[0], format!("{a}end. "));
        // Closing quotes stay with their sentence.
        let text = format!("{a}他说：“好。”{}", "d".repeat(1500));
        assert_eq!(
            round_trip(&text, TEXT_LIMIT, "")[0],
            format!("{a}他说：“好。”")
        );
    }

    #[test]
    fn an_early_break_is_not_taken_over_a_full_part() {
        // A paragraph at 100 bytes would make a part of 100 bytes: cut
        // between characters near the limit instead.
        let text = format!("{}\n\n{}", "a".repeat(100), "b".repeat(3000));
        let parts = round_trip(&text, TEXT_LIMIT, "");
        assert_eq!(parts[0].len(), TEXT_LIMIT);
    }

    #[test]
    fn emoji_at_every_cut_point_stay_whole() {
        let emoji = [
            "😀",                                                       // one 4-byte char
            "👍🏽",                                                       // with a skin tone
            "👨‍👩‍👧‍👦",                                                       // a ZWJ family
            "❤️",                                                       // with a variation selector
            "1️⃣",                                                       // a keycap
            "🇨🇳",                                                       // a flag
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}", // tag sequence
        ];
        for e in emoji {
            for pad in 0..=e.len() + 4 {
                for hint in ["", HINT] {
                    let budget = TEXT_LIMIT - if hint.is_empty() { 0 } else { hint.len() + 1 };
                    let lead = "a".repeat(budget - pad);
                    let text = format!("{lead}{e}{e}{}", "z".repeat(2100));
                    let parts = round_trip(&text, TEXT_LIMIT, hint);
                    let first = unhinted(&parts[0], hint);
                    let cut = first.len();
                    // The cut is at the end of a whole emoji.
                    let tail = &text[lead.len()..];
                    let at = cut.saturating_sub(lead.len());
                    assert!(
                        cut <= lead.len()
                            || at.is_multiple_of(e.len())
                            || tail[at..].starts_with('z'),
                        "{e:?} pad {pad}: cut {at} bytes into the emoji"
                    );
                }
            }
        }
    }

    #[test]
    fn a_hinted_part_ending_in_a_line_break_joins_back() {
        let text = format!("{}\n{}", "a".repeat(1500), "b".repeat(1500));
        let parts = round_trip(&text, TEXT_LIMIT, HINT);
        assert_eq!(parts[0], format!("{}\n\n{HINT}", "a".repeat(1500)));
    }

    #[test]
    fn first_part_is_the_step_of_split() {
        let text: String = "第1句。\n".repeat(900);
        let mut rest = text.as_str();
        for part in split(&text, TEXT_LIMIT, HINT) {
            let cut = first_part(rest, TEXT_LIMIT, HINT);
            assert_eq!(unhinted(&part, HINT), &rest[..cut]);
            rest = &rest[cut..];
        }
        assert!(rest.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// For any string, the parts fit and join back (minus hints).
        #[test]
        fn any_text_joins_back(
            text in "(\\PC|\n|。|\\.|!|\u{200D}|\u{FE0F}|🇨|🇳|👍|🏽){0,900}",
            limit in 16usize..300,
            hint in prop::sample::select(vec!["", "(more)", "(未完)"]),
        ) {
            round_trip(&text, limit, hint);
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The same at the real limit, on long texts.
        #[test]
        fn long_texts_join_back(
            text in "(你|a|\n|。|😀|👨‍👩‍👧| ){1500,4000}",
            hint in prop::sample::select(vec!["", DEFAULT_CONTINUE_HINT]),
        ) {
            round_trip(&text, TEXT_LIMIT, hint);
        }
    }
}

//! Reading and writing the XML WeChat speaks, in one place.
//!
//! WeChat's documents are flat `<xml>` roots of leaf elements (sometimes a
//! nested list), their text in CDATA or escaped. Reading turns one into a
//! [`Fields`] tree with quick-xml, strictly about the XML itself: no DTDs,
//! only the five predefined entities, bounded depth and element count,
//! UTF-8 only. Writing goes through quick-xml's escaping, except for the
//! two rules that are WeChat's rather than XML's: text goes in CDATA
//! sections whose `]]>` is split across two sections, and characters XML
//! 1.0 forbids are dropped first (a reply containing them would be refused).
//! The push parser, the reply renderer, the crypto envelope and the
//! simulator all read and write through here.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;

use crate::fields::{self, Fields, Value};

/// Deepest element nesting accepted (the `<xml>` root is depth 1).
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 2048;

/// Why a body is not an acceptable XML document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The body is not valid UTF-8.
    #[error("body is not valid UTF-8 (at byte {0})")]
    InvalidUtf8(usize),
    /// The body is empty or only whitespace.
    #[error("body is empty")]
    Empty,
    /// The document declares a DTD, which WeChat never sends.
    #[error("DOCTYPE declarations are not accepted")]
    Doctype,
    /// Malformed XML, or an entity other than the five predefined ones.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// Nesting deeper than [`MAX_DEPTH`] or more than [`MAX_ELEMENTS`] elements.
    #[error("document too deep or too large")]
    TooComplex,
    /// The root element is not `<xml>`.
    #[error("root element must be <xml>, found <{0}>")]
    Root(String),
}

/// Parses an `<xml>` document into its root's field tree.
pub fn parse_fields(text: &str) -> Result<Fields, XmlError> {
    if let Some(fields) = parse_flat(text) {
        return Ok(fields);
    }
    parse_general(text)
}

/// The shape nearly every push has — `<xml>` holding leaf elements whose
/// text is CDATA or plain characters — read in one pass without
/// quick-xml. `None` for anything else (a declaration, comments, entity
/// references, attributes, nesting, empty-element tags, an error...),
/// which [`parse_general`] then reads or refuses. For the documents it
/// accepts, the result is exactly [`parse_general`]'s (a property test
/// compares the two on generated documents).
fn parse_flat(text: &str) -> Option<Fields> {
    /// `<name>` at the start of `rest`, `name` a letter or `_` then
    /// letters, digits and `_`.
    fn open(rest: &str) -> Option<(&str, &str)> {
        let inner = rest.strip_prefix('<')?;
        let first = *inner.as_bytes().first()?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let len = inner
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))?;
        (inner.as_bytes()[len] == b'>').then(|| (&inner[..len], &inner[len + 1..]))
    }
    fn skip_space(s: &str) -> &str {
        s.trim_start_matches([' ', '\t', '\n', '\r'])
    }

    let (root, mut rest) = open(skip_space(text))?;
    if root != "xml" {
        return None;
    }
    let mut fields = Fields::with_capacity(12);
    loop {
        // Text between the root's elements is not kept (as in
        // `parse_general`); only plain text is accepted here.
        let lt = rest.find('<')?;
        if rest[..lt].contains('&') {
            return None;
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("</xml>") {
            return skip_space(after).is_empty().then_some(fields);
        }
        let (name, after) = open(rest)?;
        rest = after;
        // The element's content: plain text and CDATA sections, up to its
        // end tag.
        let mut value = String::new();
        loop {
            let lt = rest.find('<')?;
            let plain = &rest[..lt];
            if plain.contains('&') {
                return None;
            }
            value.push_str(plain);
            rest = &rest[lt..];
            if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
                let end = cdata.find("]]>")?;
                value.push_str(&cdata[..end]);
                rest = &cdata[end + 3..];
                continue;
            }
            let close = rest
                .strip_prefix("</")?
                .strip_prefix(name)?
                .strip_prefix('>')?;
            rest = close;
            break;
        }
        if fields.len() >= MAX_ELEMENTS - 1 {
            return None;
        }
        fields.push_name(fields::name(name), Value::Text(value));
    }
}

/// Reads any document [`parse_fields`] accepts, with quick-xml.
fn parse_general(text: &str) -> Result<Fields, XmlError> {
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;

    // One frame per open element: its name, its text, its children.
    struct Frame {
        name: Cow<'static, str>,
        text: String,
        children: Fields,
    }
    let mut stack: Vec<Frame> = Vec::with_capacity(4);
    let mut root: Option<Fields> = None;
    let mut elements = 0usize;
    let xml_err = |e: quick_xml::Error| XmlError::Malformed(e.to_string());
    let element_name = |raw: &[u8]| match as_str(text, raw) {
        Ok(name) => fields::name(name),
        Err(_) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
    };

    loop {
        match reader.read_event().map_err(xml_err)? {
            XmlEvent::Start(start) => {
                elements += 1;
                if stack.len() >= MAX_DEPTH || elements > MAX_ELEMENTS {
                    return Err(XmlError::TooComplex);
                }
                let name = element_name(start.name().as_ref());
                if stack.is_empty() {
                    if root.is_some() {
                        return Err(XmlError::Malformed("more than one root element".into()));
                    }
                    if name != "xml" {
                        return Err(XmlError::Root(name.into_owned()));
                    }
                }
                stack.push(Frame {
                    name,
                    text: String::new(),
                    // The root holds a push's fields: a dozen or so.
                    children: if stack.is_empty() {
                        Fields::with_capacity(12)
                    } else {
                        Fields::new()
                    },
                });
            }
            XmlEvent::Empty(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(XmlError::TooComplex);
                }
                let name = element_name(start.name().as_ref());
                match stack.last_mut() {
                    Some(parent) => parent.children.push_name(name, Value::Text(String::new())),
                    None if name == "xml" && root.is_none() => root = Some(Fields::new()),
                    None => return Err(XmlError::Root(name.into_owned())),
                }
            }
            XmlEvent::End(_) => {
                let frame = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => {
                        let value = if frame.children.is_empty() {
                            Value::Text(frame.text)
                        } else {
                            Value::Nested(frame.children)
                        };
                        parent.children.push_name(frame.name, value);
                    }
                    None => root = Some(frame.children),
                }
            }
            XmlEvent::Text(t) => {
                let unescaped = quick_xml::escape::unescape(as_str(text, &t)?)
                    .map_err(|e| XmlError::Malformed(e.to_string()))?;
                let in_root = stack.len() == 1;
                match stack.last_mut() {
                    // The root's own text (the whitespace between its
                    // fields) is never kept: only checked, above.
                    Some(_) if in_root => {}
                    Some(frame) => frame.text.push_str(&unescaped),
                    None if unescaped.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Malformed("text outside the root element".into()))
                    }
                }
            }
            XmlEvent::CData(c) => {
                let frame = stack
                    .last_mut()
                    .ok_or_else(|| XmlError::Malformed("CDATA outside the root element".into()))?;
                frame.text.push_str(as_str(text, &c)?);
            }
            XmlEvent::DocType(_) => return Err(XmlError::Doctype),
            XmlEvent::Decl(_) | XmlEvent::PI(_) | XmlEvent::Comment(_) => {}
            XmlEvent::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unexpected end of document".into()));
    }
    root.ok_or(XmlError::Empty)
}

/// `raw` as a `&str`. The document is a `&str` already and the reader
/// borrows from it, so this is usually no more than `borrowed_str`.
fn as_str<'r>(text: &'r str, raw: &'r [u8]) -> Result<&'r str, XmlError> {
    match borrowed_str(text, raw) {
        Some(s) => Ok(s),
        None => std::str::from_utf8(raw).map_err(|e| XmlError::InvalidUtf8(e.valid_up_to())),
    }
}

/// `bytes` as a `&str`, without validating its UTF-8 again when it is a
/// slice of `text` (the reader borrows from the document): then a check of
/// the two char boundaries is enough. `None` when it is not such a slice.
fn borrowed_str<'t>(text: &'t str, bytes: &[u8]) -> Option<&'t str> {
    let start = (bytes.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    text.get(start..start.checked_add(bytes.len())?)
}

/// Appends `<tag>`.
fn open_tag(out: &mut String, tag: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
}

/// Appends `</tag>`.
fn close_tag(out: &mut String, tag: &str) {
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Appends `<tag>` + `value` as CDATA + `</tag>`.
pub fn cdata_element(out: &mut String, tag: &str, value: &str) {
    open_tag(out, tag);
    push_cdata(out, value);
    close_tag(out, tag);
}

/// `<tag><![CDATA[value]]></tag>` for a value the caller made and knows
/// to be plain ASCII without `]]>` (base64, hex): written without the
/// scans [`cdata_element`] makes (checked in debug builds).
pub(crate) fn ascii_cdata_element(out: &mut String, tag: &str, value: &str) {
    debug_assert!(
        value.bytes().all(|b| b.is_ascii_graphic()) && !value.contains("]]>"),
        "not plain ASCII without ]]>: {value:?}"
    );
    open_tag(out, tag);
    out.push_str("<![CDATA[");
    out.push_str(value);
    out.push_str("]]>");
    close_tag(out, tag);
}

/// Appends `<tag>` holding one CDATA element per `(name, value)`.
pub fn nested_element(out: &mut String, tag: &str, fields: &[(&str, &str)]) {
    open_tag(out, tag);
    for (name, value) in fields {
        cdata_element(out, name, value);
    }
    close_tag(out, tag);
}

/// Appends `<tag>` + `value` as escaped character data + `</tag>`
/// (forbidden characters dropped, then quick-xml's escaping).
pub fn text_element(out: &mut String, tag: &str, value: &str) {
    open_tag(out, tag);
    out.push_str(&quick_xml::escape::escape(&*xml_chars(value)));
    close_tag(out, tag);
}

/// Appends `<tag>` + the decimal `value` + `</tag>`.
pub fn number_element(out: &mut String, tag: &str, value: i64) {
    open_tag(out, tag);
    let _ = write!(out, "{value}");
    close_tag(out, tag);
}

/// Appends `value` as CDATA: characters XML 1.0 forbids (most C0
/// controls, U+FFFE, U+FFFF) are dropped first, then every `]]>` is split
/// across two sections — in that order, so a dropped character can never
/// join the pieces of a terminator.
pub fn push_cdata(out: &mut String, value: &str) {
    let value = xml_chars(value);
    out.push_str("<![CDATA[");
    let mut rest = &*value;
    while let Some(at) = rest.find("]]>") {
        out.push_str(&rest[..at]);
        out.push_str("]]]]><![CDATA[>");
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out.push_str("]]>");
}

/// Whether XML 1.0 allows `c` in a document.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// `s` without the characters XML 1.0 forbids (borrowed when there are none).
pub fn xml_chars(s: &str) -> Cow<'_, str> {
    // Only bytes below 0x20 and the UTF-8 lead byte 0xEF (U+F000..U+FFFF,
    // which holds U+FFFE and U+FFFF) can start a forbidden character: most
    // text is checked byte by byte without decoding it.
    if !s.bytes().any(|b| b < 0x20 || b == 0xEF) || s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_splits_terminators_after_dropping_forbidden_chars() {
        let mut out = String::new();
        push_cdata(&mut out, "a]]\u{1}>b");
        assert_eq!(out, "<![CDATA[a]]]]><![CDATA[>b]]>");
        let fields = parse_fields(&format!("<xml><C>{out}</C></xml>")).unwrap();
        assert_eq!(fields.text("C"), Some("a]]>b"));
    }

    /// The fast path reads what pushes look like (the seed documents
    /// included), so it is the one that runs.
    #[test]
    fn flat_documents_take_the_fast_path() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut seeds = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("seed-") {
                let text = std::fs::read_to_string(&path).unwrap();
                let fast = parse_flat(&text).unwrap_or_else(|| panic!("{name} not flat"));
                assert_eq!(Ok(fast), parse_general(&text), "{name}");
                seeds += 1;
            }
        }
        assert!(seeds >= 6, "seed documents missing from {dir}");
        let text = "<xml>\n <ToUserName><![CDATA[gh_1]]></ToUserName>\n\t<CreateTime>1</CreateTime><Content><![CDATA[a]]]]><![CDATA[>b]]></Content><E></E></xml>\n";
        let fields = parse_flat(text).expect("flat");
        assert_eq!(fields.text("ToUserName"), Some("gh_1"));
        assert_eq!(fields.text("CreateTime"), Some("1"));
        assert_eq!(fields.text("Content"), Some("a]]>b"));
        assert_eq!(fields.text("E"), Some(""));
        assert_eq!(Ok(fields), parse_general(text));
    }

    /// What the fast path leaves to quick-xml.
    #[test]
    fn other_documents_take_the_general_path() {
        for text in [
            "<?xml version=\"1.0\"?><xml><A>1</A></xml>",
            "<xml><A>1 &amp; 2</A></xml>",
            "<xml><A>1</A>&amp;</xml>",
            "<xml><A x=\"1\">1</A></xml>",
            "<xml><A/></xml>",
            "<xml><A><B>1</B></A></xml>",
            "<xml><!-- c --><A>1</A></xml>",
            "<xml><A>1</B></xml>",
            "<xml><A>1</A></xml><xml></xml>",
            "<xml><A>1</A>",
            "<root><A>1</A></root>",
            "<!DOCTYPE xml><xml></xml>",
            "<xml><1A>1</1A></xml>",
            "<xml><A><![CDATA[1</A></xml>",
            "",
        ] {
            assert_eq!(parse_flat(text), None, "{text}");
        }
    }

    proptest::proptest! {
        // About one generated document in twenty is one the fast path reads.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Whatever the fast path reads, quick-xml reads the same.
        #[test]
        fn fast_path_agrees_with_quick_xml(doc in arbitrary_document()) {
            if let Some(fast) = parse_flat(&doc) {
                proptest::prop_assert_eq!(Ok(fast), parse_general(&doc), "{:?}", doc);
            }
        }
    }

    /// Documents near the flat shape: roots of elements whose content mixes
    /// text and CDATA, with pieces of everything else XML has thrown in.
    fn arbitrary_document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let text = prop::collection::vec(
            prop::sample::select(vec![
                "a", "a", "中文", "中文", " ", "\n", "\r\n", "\t", ">", "]]>", "]", "&amp;",
                "&lt;", "&bogus;", "&", "\u{0}", "\u{1}", "=", "\"", "'", "x", "1",
            ]),
            0..4,
        )
        .prop_map(|parts| parts.concat());
        let content = prop::collection::vec(
            (any::<bool>(), text.clone()).prop_map(|(cdata, t)| {
                if cdata {
                    format!("<![CDATA[{t}]]>")
                } else {
                    t.replace('<', "")
                }
            }),
            0..3,
        )
        .prop_map(|parts| parts.concat());
        let name = prop::sample::select(vec![
            "Content",
            "Content",
            "MsgId",
            "A",
            "_x",
            "Encrypt",
            "xml",
            "a1",
            "1a",
            "A b=\"1\"",
            "A/",
            "",
        ]);
        let element = (name, content, prop::bool::weighted(0.9), text.clone()).prop_map(
            |(name, content, matched, between)| {
                let end = if matched {
                    name.split(' ').next().unwrap_or("")
                } else {
                    "B"
                };
                format!("{between}<{name}>{content}</{end}>")
            },
        );
        let junk = prop::sample::select(vec![
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "<!-- c -->",
            "<?pi?>",
            "<!DOCTYPE x>",
            "<B/>",
            "<B>",
            "</xml>",
            "x",
            " ",
        ]);
        (
            prop::sample::select(vec!["", "", "", " ", "\n", "<?xml version=\"1.0\"?>", "x"]),
            prop::sample::select(vec!["xml", "xml", "xml", "xml", "xml", "root", "XML"]),
            prop::collection::vec(element, 0..5),
            junk.clone(),
            junk,
            prop::sample::select(vec!["", "", "", "\n", " \n", "x", "<a/>"]),
            0usize..6,
        )
            .prop_map(|(before, root, elements, junk, junk2, after, at)| {
                let mut inner: Vec<String> = elements;
                let at = at.min(inner.len());
                inner.insert(at, junk.to_owned());
                inner.push(junk2.to_owned());
                format!("{before}<{root}>{}</{root}>{after}", inner.concat())
            })
    }

    #[test]
    fn text_elements_are_escaped() {
        let mut out = String::new();
        text_element(&mut out, "T", "1<2&\u{0}3>");
        assert_eq!(out, "<T>1&lt;2&amp;3&gt;</T>");
        let fields = parse_fields(&format!("<xml>{out}</xml>")).unwrap();
        assert_eq!(fields.text("T"), Some("1<2&3>"));
    }
}

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

    #[test]
    fn text_elements_are_escaped() {
        let mut out = String::new();
        text_element(&mut out, "T", "1<2&\u{0}3>");
        assert_eq!(out, "<T>1&lt;2&amp;3&gt;</T>");
        let fields = parse_fields(&format!("<xml>{out}</xml>")).unwrap();
        assert_eq!(fields.text("T"), Some("1<2&3>"));
    }
}

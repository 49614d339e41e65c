//! The raw field tree of a push, kept beside the typed value.
//!
//! WeChat keeps adding fields and event types. Whatever the typed model
//! does not name is still reachable here, in document order, so an
//! `Unknown` push (or a known one with extra fields) loses nothing.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One element's content: text for a leaf, child elements otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A leaf element's text (CDATA and escaped text, concatenated and unescaped).
    Text(String),
    /// An element with child elements, such as `<ScanCodeInfo>`.
    Nested(Fields),
}

impl Value {
    /// The text of a leaf element; `None` for a nested one.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            Value::Nested(_) => None,
        }
    }

    /// The children of a nested element; `None` for a leaf.
    pub fn as_fields(&self) -> Option<&Fields> {
        match self {
            Value::Nested(f) => Some(f),
            Value::Text(_) => None,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Text(t) => serializer.serialize_str(t),
            Value::Nested(f) => f.serialize(serializer),
        }
    }
}

/// The child elements of one element, in document order; names may repeat
/// (as `<item>` does in lists).
///
/// ```
/// let push = wechat_events::push::parse(
///     b"<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName>\
///       <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>new_thing</Event>\
///       <Info><Level>3</Level></Info></xml>",
/// ).unwrap();
/// assert_eq!(push.fields.text("Event"), Some("new_thing"));
/// let info = push.fields.get("Info").and_then(|v| v.as_fields()).unwrap();
/// assert_eq!(info.text("Level"), Some("3"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields(Vec<(String, Value)>);

impl Fields {
    /// An empty field list.
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    /// Appends a field (used by the parser and by simulators building pushes).
    pub fn push(&mut self, name: impl Into<String>, value: Value) {
        self.0.push((name.into(), value));
    }

    /// The first field called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The text of the first leaf field called `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_text)
    }

    /// Every field called `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// All fields in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Serialized as a map in document order; a repeated name becomes an array.
impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seen: Vec<&str> = Vec::with_capacity(self.0.len());
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in &self.0 {
            if seen.contains(&name.as_str()) {
                continue;
            }
            seen.push(name);
            let values: Vec<&Value> = self.all(name).collect();
            if values.len() == 1 {
                map.serialize_entry(name, value)?;
            } else {
                map.serialize_entry(name, &values)?;
            }
        }
        map.end()
    }
}

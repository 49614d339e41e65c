//! The raw field tree of a push, kept beside the typed value.
//!
//! WeChat keeps adding fields and event types. Whatever the typed model
//! does not name is still reachable here, in document order, so an
//! `Unknown` push (or a known one with extra fields) loses nothing.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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
///
/// Two field lists are equal when they hold the same values under each
/// name, in the same order per name: the relative order of *different*
/// names carries no meaning in WeChat's XML, and the JSON form (a map,
/// repeated names as arrays) does not keep it.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(Name, Value)>);

/// An element name: the names WeChat sends in every push are static
/// strings, so parsing a push allocates only for rarer names.
type Name = Cow<'static, str>;

/// `name` as a [`Name`], without allocating when it is a common one.
pub(crate) fn name(name: &str) -> Name {
    macro_rules! common {
        ($($common:literal)*) => {
            match name {
                $($common => Cow::Borrowed($common),)*
                other => Cow::Owned(other.to_owned()),
            }
        };
    }
    common! {
        "ToUserName" "FromUserName" "CreateTime" "MsgType" "Content" "MsgId" "MsgID"
        "MsgDataId" "Idx" "Event" "EventKey" "Ticket" "Latitude" "Longitude" "Precision"
        "MenuId" "PicUrl" "MediaId" "Format" "Recognition" "ThumbMediaId" "Location_X"
        "Location_Y" "Scale" "Label" "Title" "Description" "Url" "Encrypt" "Status" "item"
    }
}

impl Fields {
    /// An empty field list.
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    /// An empty field list with room for `capacity` fields.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Fields(Vec::with_capacity(capacity))
    }

    /// Appends a field (used by the parser and by simulators building pushes).
    pub fn push(&mut self, name: impl Into<String>, value: Value) {
        self.0.push((Cow::Owned(name.into()), value));
    }

    /// Appends a field under a name that may be static.
    pub(crate) fn push_name(&mut self, name: Name, value: Value) {
        self.0.push((name, value));
    }

    /// The first field called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Removes the first field called `name` and returns its value.
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(at).1)
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
        self.0.iter().map(|(n, v)| (&**n, v))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields grouped by name, in order of each name's first
    /// appearance: the form the JSON has and equality compares.
    fn grouped(&self) -> Vec<(&str, Vec<&Value>)> {
        let mut groups: Vec<(&str, Vec<&Value>)> = Vec::new();
        for (name, value) in &self.0 {
            let name = &**name;
            match groups.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(value),
                None => groups.push((name, vec![value])),
            }
        }
        groups
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        if self.0.len() != other.0.len() {
            return false;
        }
        let mut theirs = other.grouped();
        theirs.sort_by(|a, b| a.0.cmp(b.0));
        let mut ours = self.grouped();
        ours.sort_by(|a, b| a.0.cmp(b.0));
        ours == theirs
    }
}

impl Eq for Fields {}

impl FromIterator<(String, Value)> for Fields {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Fields(
            iter.into_iter()
                .map(|(name, value)| (Cow::Owned(name), value))
                .collect(),
        )
    }
}

/// Serialized as a map in document order, names as sent; a leaf is a
/// string, a nested element a map, and a repeated name an array.
impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let groups = self.grouped();
        let mut map = serializer.serialize_map(Some(groups.len()))?;
        for (name, values) in groups {
            match values.as_slice() {
                [one] => map.serialize_entry(name, one)?,
                many => map.serialize_entry(name, many)?,
            }
        }
        map.end()
    }
}

/// The inverse of the serialized form: strings are leaves, maps nested
/// elements, arrays repeated names.
impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of WeChat field names to strings, maps or arrays")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Fields::new();
                while let Some((name, values)) = map.next_entry::<String, OneOrMany>()? {
                    for value in values.0 {
                        fields.push(name.clone(), value);
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut values = OneOrMany::deserialize(deserializer)?.0;
        match values.len() {
            1 => Ok(values.remove(0)),
            _ => Err(de::Error::custom(
                "a field value is a string or a map, not an array",
            )),
        }
    }
}

/// One JSON value of a field: a string, a map, or an array of those.
struct OneOrMany(Vec<Value>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a map or an array of those")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![Value::Text(v.to_owned())]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![Value::Text(v)]))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OneOrMany, A::Error> {
                let fields = Fields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany(vec![Value::Nested(fields)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<Value>()? {
                    values.push(value);
                }
                Ok(OneOrMany(values))
            }
        }
        deserializer.deserialize_any(V)
    }
}

// ---- reading typed values out of a field list ----------------------------

/// Reads a typed value's fields out of a field list and remembers which
/// names it used, so that [`Reader::rest`] can keep the others.
pub(crate) struct Reader<'a> {
    fields: &'a Fields,
    used: Vec<&'a str>,
}

impl<'a> Reader<'a> {
    /// A reader over `fields` that treats `skip` as already used (the
    /// envelope: `ToUserName`, `MsgType`, ...).
    pub(crate) fn new(fields: &'a Fields, skip: &[&'a str]) -> Self {
        let mut used = Vec::with_capacity(skip.len() + 8);
        used.extend_from_slice(skip);
        Reader { fields, used }
    }

    /// The first present name of `spec`, which may list alternatives
    /// (`"MsgId|MsgID"`) and a path into a wrapper (`"PicList>item"`):
    /// where its values are.
    fn find(&self, spec: &'static str) -> Option<Found<'a>> {
        // Most specs are one plain name: no splitting for those.
        if !spec.bytes().any(|b| b == b'|' || b == b'>') {
            return self.find_name(spec, None);
        }
        spec.split('|').find_map(|alt| match alt.split_once('>') {
            Some((top, inner)) => self.find_name(top, Some(inner)),
            None => self.find_name(alt, None),
        })
    }

    /// The fields called `top` (or the `inner` elements of those), if any.
    fn find_name(&self, top: &str, inner: Option<&'static str>) -> Option<Found<'a>> {
        let (name, _) = self.fields.0.iter().find(|(n, _)| n == top)?;
        Some(Found {
            fields: self.fields,
            name,
            inner,
        })
    }

    fn mark(&mut self, name: &'a str) {
        self.used.push(name);
    }

    /// The fields not used so far.
    pub(crate) fn rest(&self) -> Fields {
        Fields(
            self.fields
                .0
                .iter()
                .filter(|(n, _)| !self.used.contains(&&**n))
                .cloned()
                .collect(),
        )
    }
}

/// Where a spec's values are: every field called `name`, or every `inner`
/// element of those.
struct Found<'a> {
    fields: &'a Fields,
    name: &'a str,
    inner: Option<&'static str>,
}

impl<'a> Found<'a> {
    fn values(&self) -> impl Iterator<Item = &'a Value> + 'a {
        let (fields, name, inner) = (self.fields, self.name, self.inner);
        fields.all(name).flat_map(move |value| {
            let (direct, nested) = match inner {
                None => (Some(value), None),
                Some(inner) => (None, value.as_fields().map(|f| f.all(inner))),
            };
            direct.into_iter().chain(nested.into_iter().flatten())
        })
    }
}

/// A typed value read from a field list: the crate's event, message and
/// nested record types.
pub(crate) trait Record: Sized {
    fn read(reader: &mut Reader<'_>) -> Self;
}

/// A type that can be one field's value.
pub(crate) trait Item: Sized {
    /// The value of one element; `None` when it does not fit (empty, not a
    /// number, not nested). An unfit value is left for `extra`.
    fn item(value: &Value) -> Option<Self>;
}

impl Item for String {
    fn item(value: &Value) -> Option<Self> {
        value.as_text().filter(|t| !t.is_empty()).map(str::to_owned)
    }
}

macro_rules! number_items {
    ($($t:ty),*) => {$(
        impl Item for $t {
            fn item(value: &Value) -> Option<Self> {
                value.as_text().and_then(|t| <$t as FromStr>::from_str(t.trim()).ok())
            }
        }
    )*};
}
number_items!(u8, u32, u64, i32, i64, f64);

impl<T: Record> Item for T {
    fn item(value: &Value) -> Option<Self> {
        value.as_fields().map(|f| T::read(&mut Reader::new(f, &[])))
    }
}

/// How a struct field is taken from the field list by its XML name.
pub(crate) trait Take: Sized {
    fn take(reader: &mut Reader<'_>, spec: &'static str) -> Self;
}

/// A required string: empty when absent.
impl Take for String {
    fn take(reader: &mut Reader<'_>, spec: &'static str) -> Self {
        <Option<String> as Take>::take(reader, spec).unwrap_or_default()
    }
}

/// An optional value: `None` when absent, empty or unfit (an unfit value is
/// kept in `extra`).
impl<T: Item> Take for Option<T> {
    fn take(reader: &mut Reader<'_>, spec: &'static str) -> Self {
        let found = reader.find(spec)?;
        let first = found.values().next()?;
        let item = T::item(first);
        if item.is_some() || first.as_text().is_some_and(str::is_empty) {
            reader.mark(found.name);
        }
        item
    }
}

/// A list: every element of the name (or every `item` of a wrapper), one
/// or many; a list of one item is still a list.
impl<T: Item> Take for Vec<T> {
    fn take(reader: &mut Reader<'_>, spec: &'static str) -> Self {
        let Some(found) = reader.find(spec) else {
            return Vec::new();
        };
        let mut values = 0;
        let items: Vec<T> = found
            .values()
            .inspect(|_| values += 1)
            .filter_map(T::item)
            .collect();
        if items.len() == values {
            reader.mark(found.name);
        }
        items
    }
}

/// A required nested record: its default when absent.
impl<T: Record + Default> Take for T {
    fn take(reader: &mut Reader<'_>, spec: &'static str) -> Self {
        <Option<T> as Take>::take(reader, spec).unwrap_or_default()
    }
}

/// A required number: 0 when absent (kinds whose meaning depends on the
/// number check it before reading).
impl Take for f64 {
    fn take(reader: &mut Reader<'_>, spec: &'static str) -> Self {
        <Option<f64> as Take>::take(reader, spec).unwrap_or_default()
    }
}

/// Defines typed records read from a field list: each field names the
/// element it comes from (`"MsgId|MsgID"`: either spelling; `"PicList>item"`:
/// the `item`s inside `PicList`), and an `extra` field keeps every element
/// the record does not model.
macro_rules! record {
    ($(
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = $xml:literal ),* $(,)?
        }
    )*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
            /// Elements this type does not model, names as sent.
            #[serde(default, skip_serializing_if = "crate::fields::Fields::is_empty")]
            pub extra: crate::fields::Fields,
        }

        impl crate::fields::Record for $name {
            fn read(reader: &mut crate::fields::Reader<'_>) -> Self {
                let mut value = $name {
                    $( $field: crate::fields::Take::take(reader, $xml), )*
                    extra: crate::fields::Fields::new(),
                };
                value.extra = reader.rest();
                value
            }
        }
    )*};
}
pub(crate) use record;

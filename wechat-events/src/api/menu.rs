//! The custom menu (自定义菜单): the buttons whose taps arrive as CLICK,
//! VIEW, `scancode_*`, `pic_*` and `location_select` pushes.
//!
//! A [`Menu`] is data in the shape of WeChat's own JSON (`{"button":[…]}`),
//! so a bot can keep its menu in a TOML or JSON file next to its handlers
//! ([`Menu::from_toml`], [`Menu::from_json`], [`Menu::from_file`]), check
//! it against WeChat's limits ([`Menu::check`]) and against its routes
//! ([`Menu::check_routes`]: a button whose key no handler answers, a key
//! route no button sends), and set it with [`MenuApi::create`].
//!
//! ```toml
//! [[button]]
//! type = "click"
//! name = "计数"
//! key = "COUNT"
//!
//! [[button]]
//! name = "更多"                  # a sub-menu: no type, 1–5 sub-buttons
//! [[button.sub_button]]
//! type = "view"
//! name = "文档"
//! url = "https://docs.rs/wechat-events"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::{ApiClient, ApiError, InvalidRequest};
use crate::kinds::{EventKind, RouteKind};
use crate::router::{Filter, Routes};

const CREATE: &str = "/cgi-bin/menu/create";
const GET: &str = "/cgi-bin/menu/get";
const DELETE: &str = "/cgi-bin/menu/delete";
const ADD_CONDITIONAL: &str = "/cgi-bin/menu/addconditional";
const DEL_CONDITIONAL: &str = "/cgi-bin/menu/delconditional";

/// At most this many top-level buttons.
pub const MAX_BUTTONS: usize = 3;
/// At most this many buttons in a sub-menu.
pub const MAX_SUB_BUTTONS: usize = 5;
/// A top-level button's name is at most this many bytes (UTF-8: a Chinese
/// character is 3).
pub const MAX_NAME_BYTES: usize = 16;
/// A sub-menu button's name is at most this many bytes.
pub const MAX_SUB_NAME_BYTES: usize = 60;
/// A `key` is at most this many bytes.
pub const MAX_KEY_BYTES: usize = 128;
/// A `url` is at most this many bytes.
pub const MAX_URL_BYTES: usize = 1024;

/// WeChat's errcode for "no menu": [`MenuApi::get`] answers it as no menu.
pub const NO_MENU_ERRCODE: i64 = 46003;

/// What a button does: its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ButtonKind {
    /// `click`: a CLICK push with the button's `key`.
    Click,
    /// `view`: opens `url` (a VIEW push follows, its key the URL).
    View,
    /// `scancode_push`: opens the scanner; the client handles the result
    /// (`scancode_push` push).
    ScancodePush,
    /// `scancode_waitmsg`: opens the scanner and waits for the account's
    /// answer (`scancode_waitmsg` push).
    ScancodeWaitmsg,
    /// `pic_sysphoto`: the camera.
    PicSysphoto,
    /// `pic_photo_or_album`: the camera or the album.
    PicPhotoOrAlbum,
    /// `pic_weixin`: WeChat's album.
    PicWeixin,
    /// `location_select`: the location picker.
    LocationSelect,
    /// `media_id`: sends a permanent material (`media_id`); no push.
    MediaId,
    /// `article_id`: sends a published article (`article_id`); no push.
    ArticleId,
    /// `article_view_limited`: opens a published article (`article_id`); no push.
    ArticleViewLimited,
    /// `miniprogram`: opens a mini program page (`appid`, `pagepath`, and
    /// `url` for clients without mini programs).
    Miniprogram,
    /// A type this crate does not know (from `menu/get`); refused by
    /// [`Menu::check`].
    #[serde(other)]
    Unknown,
}

impl ButtonKind {
    /// Every type WeChat documents, as spelled in JSON.
    pub const NAMES: &'static str = "click, view, scancode_push, scancode_waitmsg, pic_sysphoto, \
        pic_photo_or_album, pic_weixin, location_select, media_id, article_id, \
        article_view_limited, miniprogram";

    /// The push a tap sends, if any.
    pub fn event_kind(self) -> Option<EventKind> {
        Some(match self {
            ButtonKind::Click => EventKind::Click,
            ButtonKind::View => EventKind::View,
            ButtonKind::ScancodePush => EventKind::ScancodePush,
            ButtonKind::ScancodeWaitmsg => EventKind::ScancodeWaitmsg,
            ButtonKind::PicSysphoto => EventKind::PicSysphoto,
            ButtonKind::PicPhotoOrAlbum => EventKind::PicPhotoOrAlbum,
            ButtonKind::PicWeixin => EventKind::PicWeixin,
            ButtonKind::LocationSelect => EventKind::LocationSelect,
            ButtonKind::Miniprogram => EventKind::ViewMiniprogram,
            ButtonKind::MediaId
            | ButtonKind::ArticleId
            | ButtonKind::ArticleViewLimited
            | ButtonKind::Unknown => return None,
        })
    }

    /// Whether the button has a `key` its push carries back (and a handler
    /// should answer).
    pub fn has_key(self) -> bool {
        matches!(
            self,
            ButtonKind::Click
                | ButtonKind::ScancodePush
                | ButtonKind::ScancodeWaitmsg
                | ButtonKind::PicSysphoto
                | ButtonKind::PicPhotoOrAlbum
                | ButtonKind::PicWeixin
                | ButtonKind::LocationSelect
        )
    }
}

/// One button: a leaf with a `type`, or a sub-menu (a `name` and
/// `sub_button`). The fields are WeChat's.
///
/// ```
/// use wechat_events::api::{Button, ButtonKind};
/// let more = Button::menu("更多", [
///     Button::click("计数", "COUNT"),
///     Button::new(ButtonKind::ScancodeWaitmsg, "扫一扫").key("SCAN"),
///     Button::view("文档", "https://docs.rs/wechat-events"),
/// ]);
/// assert_eq!(more.sub_button.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Button {
    /// The type; `None` for a sub-menu.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ButtonKind>,
    /// What the button shows.
    pub name: String,
    /// The key its push carries (`click`, `scancode_*`, `pic_*`,
    /// `location_select`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The page (`view`; `miniprogram`'s fallback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A permanent material (`media_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// A published article (`article_id`, `article_view_limited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    /// The mini program (`miniprogram`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The mini program page (`miniprogram`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    /// The sub-menu's buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_button: Vec<Button>,
    /// Any other field, kept as it came (from `menu/get`); a menu file
    /// with one is refused ([`Menu::from_toml`]).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Button {
    /// A leaf button of `kind`; give it its `key`, `url`, ... with the
    /// setters.
    pub fn new(kind: ButtonKind, name: impl Into<String>) -> Self {
        Button {
            kind: Some(kind),
            name: name.into(),
            key: None,
            url: None,
            media_id: None,
            article_id: None,
            appid: None,
            pagepath: None,
            sub_button: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// A `click` button sending `key`.
    pub fn click(name: impl Into<String>, key: impl Into<String>) -> Self {
        Button::new(ButtonKind::Click, name).key(key)
    }

    /// A `view` button opening `url`.
    pub fn view(name: impl Into<String>, url: impl Into<String>) -> Self {
        Button::new(ButtonKind::View, name).url(url)
    }

    /// A sub-menu of `buttons`.
    pub fn menu(name: impl Into<String>, buttons: impl IntoIterator<Item = Button>) -> Self {
        Button {
            kind: None,
            sub_button: buttons.into_iter().collect(),
            ..Button::new(ButtonKind::Click, name)
        }
    }

    /// Sets `key`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Sets `url`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
    /// Sets `media_id`.
    pub fn media_id(mut self, media_id: impl Into<String>) -> Self {
        self.media_id = Some(media_id.into());
        self
    }
    /// Sets `article_id`.
    pub fn article_id(mut self, article_id: impl Into<String>) -> Self {
        self.article_id = Some(article_id.into());
        self
    }
    /// Sets `appid` and `pagepath` (a `miniprogram` button).
    pub fn miniprogram(mut self, appid: impl Into<String>, pagepath: impl Into<String>) -> Self {
        self.appid = Some(appid.into());
        self.pagepath = Some(pagepath.into());
        self
    }

    /// Every leaf button with the path to it (`button[1].sub_button[0]`).
    fn leaves<'a>(&'a self, at: String, out: &mut Vec<(String, &'a Button)>) {
        if self.sub_button.is_empty() {
            out.push((at, self));
        } else {
            for (i, sub) in self.sub_button.iter().enumerate() {
                sub.leaves(format!("{at}.sub_button[{i}]"), out);
            }
        }
    }

    fn check(&self, at: &str, top: bool) -> Result<(), InvalidRequest> {
        let field = |name: &str| format!("{at}.{name}");
        let (max_name, level) = if top {
            (MAX_NAME_BYTES, "a top-level button's name")
        } else {
            (MAX_SUB_NAME_BYTES, "a sub-menu button's name")
        };
        if self.name.trim().is_empty() {
            return Err(InvalidRequest::new(field("name"), "is empty"));
        }
        if self.name.len() > max_name {
            return Err(InvalidRequest::new(
                field("name"),
                format!(
                    "{:?} is {} bytes; {level} is at most {max_name} bytes",
                    self.name,
                    self.name.len()
                ),
            ));
        }
        if let Some((name, _)) = self.extra.iter().next() {
            return Err(InvalidRequest::new(
                field(name),
                "is not a field of a button (type, name, key, url, media_id, article_id, \
                 appid, pagepath, sub_button)",
            ));
        }
        if !self.sub_button.is_empty() || self.kind.is_none() {
            if !top {
                return Err(InvalidRequest::new(
                    field("sub_button"),
                    if self.sub_button.is_empty() {
                        "a sub-menu button needs a type".to_owned()
                    } else {
                        "sub-menus do not nest: a sub-menu's buttons have no sub_button".to_owned()
                    },
                ));
            }
            if let Some(kind) = self.kind {
                return Err(InvalidRequest::new(
                    field("type"),
                    format!(
                        "a button with sub_button opens its sub-menu and has no type (it has {})",
                        kind_name(kind)
                    ),
                ));
            }
            let n = self.sub_button.len();
            if n == 0 {
                return Err(InvalidRequest::new(
                    at.to_owned(),
                    "has neither a type nor sub_button",
                ));
            }
            if n > MAX_SUB_BUTTONS {
                return Err(InvalidRequest::new(
                    field("sub_button"),
                    format!("has {n} buttons; a sub-menu has at most {MAX_SUB_BUTTONS}"),
                ));
            }
            for (i, sub) in self.sub_button.iter().enumerate() {
                sub.check(&format!("{at}.sub_button[{i}]"), false)?;
            }
            return Ok(());
        }
        let kind = self.kind.unwrap_or(ButtonKind::Unknown);
        let need = |name: &str, value: &Option<String>, max: usize| {
            let value = value.as_deref().unwrap_or_default();
            if value.trim().is_empty() {
                return Err(InvalidRequest::new(
                    field(name),
                    format!("a {} button needs a {name}", kind_name(kind)),
                ));
            }
            if value.len() > max {
                return Err(InvalidRequest::new(
                    field(name),
                    format!("is {} bytes; a {name} is at most {max} bytes", value.len()),
                ));
            }
            Ok(())
        };
        match kind {
            k if k.has_key() => need("key", &self.key, MAX_KEY_BYTES),
            ButtonKind::View => need("url", &self.url, MAX_URL_BYTES),
            ButtonKind::MediaId => need("media_id", &self.media_id, usize::MAX),
            ButtonKind::ArticleId | ButtonKind::ArticleViewLimited => {
                need("article_id", &self.article_id, usize::MAX)
            }
            ButtonKind::Miniprogram => {
                need("url", &self.url, MAX_URL_BYTES)?;
                need("appid", &self.appid, usize::MAX)?;
                need("pagepath", &self.pagepath, usize::MAX)
            }
            _ => Err(InvalidRequest::new(
                field("type"),
                format!("is not a type WeChat knows ({})", ButtonKind::NAMES),
            )),
        }
    }
}

fn kind_name(kind: ButtonKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// Who sees a personalised menu ([`MenuApi::add_conditional`]); at least
/// one criterion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MatchRule {
    /// A user tag's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_id: Option<String>,
    /// `1` iOS, `2` Android, `3` others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_platform_type: Option<String>,
    /// The client's language (`zh_CN`, `en`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Any other criterion WeChat takes (`country`, `province`, `city`),
    /// as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl MatchRule {
    /// Users with the tag `tag_id`.
    pub fn tag(tag_id: impl Into<String>) -> Self {
        MatchRule {
            tag_id: Some(tag_id.into()),
            ..MatchRule::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.tag_id.is_none()
            && self.client_platform_type.is_none()
            && self.language.is_none()
            && self.extra.is_empty()
    }
}

/// A menu: up to three buttons, and for a personalised menu its
/// [`MatchRule`].
///
/// ```
/// use wechat_events::api::{Button, Menu};
///
/// let menu = Menu::from_toml(r#"
///     [[button]]
///     type = "click"
///     name = "计数"
///     key = "COUNT"
/// "#)?;
/// assert_eq!(menu, Menu::new([Button::click("计数", "COUNT")]));
/// assert_eq!(
///     serde_json::to_string(&menu)?,
///     r#"{"button":[{"type":"click","name":"计数","key":"COUNT"}]}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Menu {
    /// The top-level buttons.
    pub button: Vec<Button>,
    /// Who sees it, for a personalised menu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matchrule: Option<MatchRule>,
    /// WeChat's id of the menu (from `menu/get`), a number or a string in
    /// WeChat's answers.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "number_or_string"
    )]
    pub menuid: Option<String>,
}

/// Why a menu file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MenuFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML or JSON does not describe a menu (with where).
    #[error("{origin}: {message}")]
    Parse {
        /// The file, or `TOML`/`JSON` for a string.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// The menu reads, but a button has a field no button has.
    #[error("{origin}: {error}")]
    Invalid {
        /// The file.
        origin: String,
        /// What is wrong.
        error: InvalidRequest,
    },
}

impl Menu {
    /// A menu of `buttons`.
    pub fn new(buttons: impl IntoIterator<Item = Button>) -> Self {
        Menu {
            button: buttons.into_iter().collect(),
            matchrule: None,
            menuid: None,
        }
    }

    /// The same menu, personalised for `rule`.
    pub fn matching(mut self, rule: MatchRule) -> Self {
        self.matchrule = Some(rule);
        self
    }

    /// A menu from TOML in the shape of WeChat's JSON (`[[button]]`
    /// tables, `[[button.sub_button]]`). A field no button has (a typo) is
    /// refused; the limits are [`Menu::check`]'s.
    pub fn from_toml(text: &str) -> Result<Menu, MenuFileError> {
        Self::from_toml_in(text, "TOML")
    }

    fn from_toml_in(text: &str, origin: &str) -> Result<Menu, MenuFileError> {
        let menu: Menu = toml::from_str(text).map_err(|e| MenuFileError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        menu.strict(origin)
    }

    /// A menu from JSON: WeChat's `{"button":[…]}`, or what `menu/get`
    /// answers (`{"menu":{"button":[…]},…}`: its default menu), so that a
    /// menu saved with `wechat-admin menu get` can be set again.
    pub fn from_json(text: &str) -> Result<Menu, MenuFileError> {
        Self::from_json_in(text, "JSON")
    }

    fn from_json_in(text: &str, origin: &str) -> Result<Menu, MenuFileError> {
        let parse = |message: String| MenuFileError::Parse {
            origin: origin.to_owned(),
            message,
        };
        let mut value: Value = serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
        if let Some(menu) = value.get_mut("menu") {
            value = menu.take();
        }
        let menu: Menu = serde_json::from_value(value).map_err(|e| parse(e.to_string()))?;
        menu.strict(origin)
    }

    /// A menu from a file: JSON when its name ends in `.json`, else TOML.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Menu, MenuFileError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MenuFileError::Read {
            path: origin.clone(),
            source,
        })?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Self::from_json_in(&text, &origin)
        } else {
            Self::from_toml_in(&text, &origin)
        }
    }

    /// Refuses unknown fields (in a file, typos).
    fn strict(self, origin: &str) -> Result<Menu, MenuFileError> {
        let mut leaves = Vec::new();
        for (i, button) in self.button.iter().enumerate() {
            let at = format!("button[{i}]");
            leaves.push((at.clone(), button));
            button.leaves(at, &mut leaves);
        }
        for (at, button) in leaves {
            if let Some(name) = button.extra.keys().next() {
                return Err(MenuFileError::Invalid {
                    origin: origin.to_owned(),
                    error: InvalidRequest::new(
                        format!("{at}.{name}"),
                        "is not a field of a button (type, name, key, url, media_id, \
                         article_id, appid, pagepath, sub_button)",
                    ),
                });
            }
        }
        Ok(self)
    }

    /// Checks WeChat's limits: 1–3 top-level buttons, 1–5 in a sub-menu,
    /// names of at most 16 bytes (top level) or 60 (sub-menu), keys of at
    /// most 128 bytes, URLs of at most 1024, each type's fields present.
    /// The error names the button and the limit.
    ///
    /// ```
    /// use wechat_events::api::{Button, Menu};
    /// let four = Menu::new((0..4).map(|i| Button::click(format!("b{i}"), format!("K{i}"))));
    /// assert_eq!(
    ///     four.check().unwrap_err().to_string(),
    ///     "button: has 4 buttons; a menu has at most 3 top-level buttons"
    /// );
    /// ```
    pub fn check(&self) -> Result<(), InvalidRequest> {
        let n = self.button.len();
        if n == 0 {
            return Err(InvalidRequest::new(
                "button",
                "is empty; a menu has 1 to 3 top-level buttons (to remove the menu, delete it)",
            ));
        }
        if n > MAX_BUTTONS {
            return Err(InvalidRequest::new(
                "button",
                format!("has {n} buttons; a menu has at most {MAX_BUTTONS} top-level buttons"),
            ));
        }
        for (i, button) in self.button.iter().enumerate() {
            button.check(&format!("button[{i}]"), true)?;
        }
        Ok(())
    }

    /// Every leaf button (not the sub-menus themselves), with where it is
    /// (`button[1].sub_button[0]`).
    pub fn buttons(&self) -> Vec<(String, &Button)> {
        let mut out = Vec::new();
        for (i, button) in self.button.iter().enumerate() {
            button.leaves(format!("button[{i}]"), &mut out);
        }
        out
    }

    /// Checks the menu against the handlers of `routes`: warns of a button
    /// whose key no route answers — no exact `key` route of its push's
    /// kind, no `key_regex` route matching it, and no route of that kind
    /// (or "any event") without a filter; the fallback does not count —
    /// and of an exact `key` route of a menu kind (CLICK, `scancode_*`,
    /// `pic_*`, `location_select`) that no button of that kind sends.
    /// Buttons without a key (`view`, `miniprogram`, `media_id`, ...) need
    /// no handler.
    ///
    /// ```
    /// use wechat_events::api::{Button, Menu};
    /// use wechat_events::{ClickEvent, Router};
    ///
    /// async fn count(_: ClickEvent) -> &'static str { "1" }
    /// async fn help(_: ClickEvent) -> &'static str { "help" }
    /// let routes = Router::new().click("COUNT", count).click("HELP", help).build().unwrap();
    /// let menu = Menu::new([Button::click("计数", "COUNT"), Button::click("慢", "SLOW")]);
    /// let warnings: Vec<String> = menu.check_routes(&routes).iter().map(|w| w.to_string()).collect();
    /// assert_eq!(warnings.len(), 2, "{warnings:?}");
    /// assert!(warnings[0].contains(r#"key "SLOW""#), "{warnings:?}");
    /// assert!(warnings[1].contains(r#"key "HELP""#), "{warnings:?}");
    /// ```
    pub fn check_routes(&self, routes: &Routes) -> Vec<MenuWarning> {
        let mut warnings = Vec::new();
        let buttons = self.buttons();
        let keyed: Vec<(&String, &Button, ButtonKind, EventKind, &str)> = buttons
            .iter()
            .filter_map(|(at, b)| {
                let kind = b.kind.filter(|k| k.has_key())?;
                let event = kind.event_kind()?;
                Some((at, *b, kind, event, b.key.as_deref()?.trim()))
            })
            .collect();
        for &(at, button, kind, event, key) in &keyed {
            let handled = routes
                .table()
                .filter(|r| r.kind != RouteKind::Any && r.kind.covers_event(event))
                .any(|r| match &r.filter {
                    Filter::None => true,
                    Filter::Key(k) => k.trim() == key,
                    Filter::KeyRegex(p) => regex::Regex::new(p).is_ok_and(|re| re.is_match(key)),
                    Filter::Event(name) => EventKind::from_event(name) == event,
                    _ => false,
                });
            if !handled {
                warnings.push(MenuWarning::Unhandled {
                    at: at.clone(),
                    name: button.name.clone(),
                    kind,
                    key: key.to_owned(),
                });
            }
        }
        for route in routes.table() {
            let (RouteKind::Event(event), Filter::Key(key)) = (route.kind, &route.filter) else {
                continue;
            };
            let menu_kind = buttons_of(event);
            if menu_kind.is_none() {
                continue;
            }
            let key = key.trim();
            if !keyed.iter().any(|&(_, _, _, e, k)| e == event && k == key) {
                warnings.push(MenuWarning::NoButton {
                    route: route.name.to_string(),
                    event,
                    key: key.to_owned(),
                });
            }
        }
        warnings
    }
}

/// The button type whose taps send `event`, for the keyed menu events.
fn buttons_of(event: EventKind) -> Option<ButtonKind> {
    Some(match event {
        EventKind::Click => ButtonKind::Click,
        EventKind::ScancodePush => ButtonKind::ScancodePush,
        EventKind::ScancodeWaitmsg => ButtonKind::ScancodeWaitmsg,
        EventKind::PicSysphoto => ButtonKind::PicSysphoto,
        EventKind::PicPhotoOrAlbum => ButtonKind::PicPhotoOrAlbum,
        EventKind::PicWeixin => ButtonKind::PicWeixin,
        EventKind::LocationSelect => ButtonKind::LocationSelect,
        _ => return None,
    })
}

/// What [`Menu::check_routes`] found: worth a warning at start-up, not an
/// error (a menu may be set before its handlers ship, or after).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MenuWarning {
    /// A button's key that no handler answers: its taps would get the
    /// fallback, or `success` and nothing in the chat.
    Unhandled {
        /// Where the button is: `button[1].sub_button[0]`.
        at: String,
        /// Its name.
        name: String,
        /// Its type.
        kind: ButtonKind,
        /// Its key.
        key: String,
    },
    /// An exact key route that no button of the menu sends.
    NoButton {
        /// The route's handler.
        route: String,
        /// The route's event.
        event: EventKind,
        /// The key it waits for.
        key: String,
    },
}

impl fmt::Display for MenuWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MenuWarning::Unhandled {
                at,
                name,
                kind,
                key,
            } => write!(
                f,
                "menu {at} ({name:?}, {}) sends key {key:?}, which no handler answers \
                 (no key route, no matching key_regex, no handler for every {} push)",
                kind_name(*kind),
                kind.event_kind()
                    .and_then(EventKind::event)
                    .unwrap_or("such"),
            ),
            MenuWarning::NoButton { route, event, key } => write!(
                f,
                "route {route} answers {} key {key:?}, which no button of the menu sends",
                event.event().unwrap_or("its event")
            ),
        }
    }
}

/// What `menu/get` answers: the default menu and the personalised ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Menus {
    /// The default menu; `None` when the account has none (errcode 46003).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu: Option<Menu>,
    /// The personalised menus, each with its `matchrule` and `menuid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditionalmenu: Vec<Menu>,
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// The menu calls; see [`ApiClient::menu`].
#[derive(Debug, Clone, Copy)]
pub struct MenuApi<'a> {
    api: &'a ApiClient,
}

impl<'a> MenuApi<'a> {
    pub(crate) fn new(api: &'a ApiClient) -> Self {
        MenuApi { api }
    }

    /// Sets the default menu (`menu/create`), replacing the current one,
    /// after [`Menu::check`]. Its `matchrule`, if any, is not sent: for a
    /// personalised menu, [`MenuApi::add_conditional`].
    ///
    /// ```no_run
    /// # async fn f(api: wechat_events::api::ApiClient) -> Result<(), Box<dyn std::error::Error>> {
    /// use wechat_events::api::Menu;
    /// api.menu().create(&Menu::from_file("examples/menu.toml")?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, menu: &Menu) -> Result<(), ApiError> {
        menu.check()?;
        self.api
            .post_json(CREATE, &json!({ "button": menu.button }))
            .await
            .map(drop)
    }

    /// The menus as WeChat has them (`menu/get`); no menu is
    /// [`Menus::menu`] `None`, not an error.
    pub async fn get(&self) -> Result<Menus, ApiError> {
        match self.api.get_typed(GET, &[]).await {
            Err(ApiError::WeChat {
                errcode: NO_MENU_ERRCODE,
                ..
            }) => Ok(Menus::default()),
            other => other,
        }
    }

    /// Deletes the default menu and every personalised one (`menu/delete`).
    pub async fn delete(&self) -> Result<(), ApiError> {
        self.api.get_json(DELETE, &[]).await.map(drop)
    }

    /// Adds a personalised menu (`menu/addconditional`) for the users its
    /// `matchrule` selects; returns its `menuid`. The menu needs a rule
    /// with at least one criterion, and the account a default menu.
    pub async fn add_conditional(&self, menu: &Menu) -> Result<String, ApiError> {
        menu.check()?;
        let rule = menu
            .matchrule
            .as_ref()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                InvalidRequest::new(
                    "matchrule",
                    "a personalised menu needs a matchrule with at least one criterion \
                     (tag_id, client_platform_type, language, ...)",
                )
            })?;
        #[derive(Deserialize)]
        struct Answer {
            #[serde(deserialize_with = "number_or_string")]
            menuid: Option<String>,
        }
        let body = json!({ "button": menu.button, "matchrule": rule });
        let answer: Answer = super::decode(
            ADD_CONDITIONAL,
            self.api.post_json(ADD_CONDITIONAL, &body).await?,
        )?;
        answer.menuid.ok_or_else(|| ApiError::Decode {
            path: ADD_CONDITIONAL.to_owned(),
            source: <serde_json::Error as serde::de::Error>::missing_field("menuid"),
        })
    }

    /// Deletes the personalised menu `menuid` (`menu/delconditional`).
    pub async fn delete_conditional(&self, menuid: &str) -> Result<(), ApiError> {
        if menuid.trim().is_empty() {
            return Err(InvalidRequest::new("menuid", "is empty").into());
        }
        self.api
            .post_json(DEL_CONDITIONAL, &json!({ "menuid": menuid }))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_button_and_the_limit() {
        let long_sub = "一".repeat(21); // 63 bytes
        let cases = [
            (
                Menu::new([Button::click("一二三四五六", "K")]),
                "button[0].name: \"一二三四五六\" is 18 bytes; a top-level button's name is at most 16 bytes",
            ),
            (
                Menu::new([Button::menu("m", [Button::click(long_sub.as_str(), "K")])]),
                "button[0].sub_button[0].name: ",
            ),
            (
                Menu::new([Button::menu("m", (0..6).map(|i| Button::click("b", format!("K{i}"))))]),
                "button[0].sub_button: has 6 buttons; a sub-menu has at most 5",
            ),
            (
                Menu::new([Button::click("b", "K".repeat(129))]),
                "button[0].key: is 129 bytes; a key is at most 128 bytes",
            ),
            (
                Menu::new([Button::view("b", format!("https://{}", "a".repeat(1020)))]),
                "button[0].url: is 1028 bytes; a url is at most 1024 bytes",
            ),
            (
                Menu::new([Button::new(ButtonKind::Click, "b")]),
                "button[0].key: a click button needs a key",
            ),
            (
                Menu::new([Button::menu("m", [])]),
                "button[0]: has neither a type nor sub_button",
            ),
            (
                Menu::new([Button::menu("m", [Button::menu("n", [Button::click("b", "K")])])]),
                "button[0].sub_button[0].sub_button: sub-menus do not nest",
            ),
            (Menu::new([]), "button: is empty"),
        ];
        for (menu, want) in cases {
            let err = menu.check().unwrap_err().to_string();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        }
        let five = Menu::new([Button::menu(
            "一二三四五",
            (0..5).map(|i| Button::click("二".repeat(20), format!("K{i}"))),
        )]);
        five.check()
            .expect("15 bytes, five buttons of 60 bytes: within the limits");
    }

    #[test]
    fn files_refuse_unknown_fields_and_read_menu_get_answers() {
        let err = Menu::from_toml("[[button]]\ntype = \"click\"\nname = \"a\"\nkye = \"K\"\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "TOML: button[0].kye: is not a field of a button (type, name, key, url, media_id, \
             article_id, appid, pagepath, sub_button)"
        );
        let err = Menu::from_toml("[[button]]\ntype = \"clik\"\nname = \"a\"\n")
            .unwrap()
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("not a type WeChat knows"), "{err}");
        let got = Menu::from_json(
            r#"{"menu":{"button":[{"type":"click","name":"a","key":"K","sub_button":[]}],"menuid":208396993}}"#,
        )
        .unwrap();
        assert_eq!(got.button, [Button::click("a", "K")]);
        assert_eq!(got.menuid.as_deref(), Some("208396993"));
    }
}

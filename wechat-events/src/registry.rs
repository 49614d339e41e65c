//! The handlers the attribute macros register, and how a service picks
//! them up.
//!
//! Each `#[on_event]`, `#[on_message]`, `#[on_text]` or `#[on_fallback]`
//! function submits a [`HandlerDef`] to `inventory`. A router takes them
//! explicitly, by name ([`Router::handler`]), by module
//! ([`Router::registered_in`]) or by tag ([`Router::registered_tagged`]),
//! or all untagged ones at once ([`Router::registered`], what
//! [`WechatService::builder`](crate::WechatService::builder) does unless
//! told [`only`](crate::service::ServiceBuilder::only)).

use crate::router::{Origin, Router};

/// One attribute-macro handler, as its generated code describes it.
#[doc(hidden)]
#[derive(Debug)]
pub struct HandlerDef {
    /// `module_path!()::fn_name`: the route's name in logs (not unique: two
    /// handlers in different function bodies of one module share it; the
    /// `static` holding this definition is the identity).
    pub name: &'static str,
    /// The `tag = "..."` the attribute gave, if any.
    pub tag: Option<&'static str>,
    /// `file!()` of the attribute, for a stable registration order.
    pub file: &'static str,
    /// `line!()` of the attribute.
    pub line: u32,
    /// Adds the handler's route to a router.
    pub register: fn(Router) -> Router,
}

impl HandlerDef {
    pub(crate) fn origin(&'static self) -> Origin {
        Origin::of(self)
    }

    /// Whether the handler is defined in `module` or one of its submodules
    /// (`module` is a path as `module_path!()` spells it).
    fn in_module(&self, module: &str) -> bool {
        let module = module.trim_end_matches("::");
        self.name
            .strip_prefix(module)
            .is_some_and(|rest| rest.starts_with("::"))
    }
}

/// What each attribute submits to inventory.
#[doc(hidden)]
pub struct Registration(pub &'static HandlerDef);

inventory::collect!(Registration);

mod sealed {
    /// Implemented by the attribute macros' generated code only.
    pub trait Sealed {}
}

#[doc(hidden)]
pub use sealed::Sealed;

/// A handler function annotated with `#[on_event]`, `#[on_message]`,
/// `#[on_text]` or `#[on_fallback]`: the attribute defines a type of the
/// function's name that implements this trait, for [`Router::handler`].
///
/// Sealed: only the attributes implement it.
///
/// ```
/// use wechat_events::{on_text, Router, TextMessage};
///
/// #[on_text(keyword = "help")]
/// async fn help(_: TextMessage) -> &'static str { "send any text" }
///
/// // `help` the function is the handler; `help` the type is its registration.
/// let router = Router::new().handler::<help>();
/// assert_eq!(router.infos().count(), 1);
/// ```
pub trait RegisteredHandler: Sealed {
    #[doc(hidden)]
    const DEF: &'static HandlerDef;
}

/// Every attribute handler linked into the binary, in source order (file,
/// then line).
fn all() -> Vec<&'static HandlerDef> {
    let mut defs: Vec<&'static HandlerDef> = inventory::iter::<Registration>
        .into_iter()
        .map(|r| r.0)
        .collect();
    defs.sort_by_key(|d| (d.file, d.line, d.name));
    defs
}

impl Router {
    /// Adds one attribute-macro handler by name; adding it again (or also
    /// through [`Router::registered`]) does nothing.
    ///
    /// This is also how handlers defined in a library crate are added: the
    /// linker may leave a library's registrations out of the binary unless
    /// something refers to them.
    ///
    /// ```ignore
    /// let router = Router::new()
    ///     .handler::<my_bot_handlers::help>()
    ///     .handler::<my_bot_handlers::menu_click>();
    /// ```
    pub fn handler<H: RegisteredHandler>(self) -> Self {
        self.add_registered(H::DEF)
    }

    /// Adds every untagged attribute-macro handler linked into this binary
    /// that is not already here, in source order (file, then line).
    /// [`ServiceBuilder::build`](crate::service::ServiceBuilder::build) calls this
    /// unless the builder was given [`only`](crate::service::ServiceBuilder::only).
    /// Handlers with a `tag` are left to [`Router::registered_tagged`].
    pub fn registered(self) -> Self {
        self.add_all(|d| d.tag.is_none())
    }

    /// Adds every attribute-macro handler defined in `module` or its
    /// submodules (a path as `module_path!()` spells it, e.g.
    /// `"my_bot::shop"`), tagged or not.
    ///
    /// ```
    /// mod shop {
    ///     use wechat_events::{on_text, TextMessage};
    ///     #[on_text(keyword = "价格")]
    ///     pub async fn price(_: TextMessage) -> &'static str { "9.9" }
    /// }
    /// let router = wechat_events::Router::new()
    ///     .registered_in(concat!(module_path!(), "::shop"));
    /// assert_eq!(router.infos().count(), 1);
    /// ```
    pub fn registered_in(self, module: &str) -> Self {
        self.add_all(|d| d.in_module(module))
    }

    /// Adds every attribute-macro handler whose attribute says
    /// `tag = "<tag>"`.
    ///
    /// ```
    /// use wechat_events::{on_text, Router, TextMessage};
    /// #[on_text(keyword = "价格", tag = "shop")]
    /// async fn price(_: TextMessage) -> &'static str { "9.9" }
    /// assert_eq!(Router::new().registered_tagged("shop").infos().count(), 1);
    /// assert_eq!(Router::new().registered().infos().count(), 0);
    /// ```
    pub fn registered_tagged(self, tag: &str) -> Self {
        self.add_all(|d| d.tag == Some(tag))
    }

    fn add_all(mut self, wanted: impl Fn(&HandlerDef) -> bool) -> Self {
        for def in all().into_iter().filter(|d| wanted(d)) {
            self = self.add_registered(def);
        }
        self
    }

    fn add_registered(self, def: &'static HandlerDef) -> Self {
        if self.has_origin(def.origin()) {
            return self;
        }
        (def.register)(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &'static str) -> HandlerDef {
        HandlerDef {
            name,
            tag: None,
            file: "f.rs",
            line: 1,
            register: |r| r,
        }
    }

    #[test]
    fn modules_match_on_path_segments() {
        assert!(def("bot::shop::price").in_module("bot::shop"));
        assert!(def("bot::shop::deep::price").in_module("bot::shop"));
        assert!(def("bot::shop::price").in_module("bot::shop::"));
        assert!(!def("bot::shopping::price").in_module("bot::shop"));
        assert!(!def("bot::price").in_module("bot::shop"));
    }
}

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
//!
//! A handler serves every account of the server unless its attribute
//! scopes it (`account = "brand_a"`, repeatable):
//! [`Router::registered_for_account`] takes the untagged handlers one
//! account serves, and a server refuses to start when a handler names an
//! account it does not configure ([`RouterError::UnknownAccount`]).

use std::collections::BTreeSet;

use crate::router::{Origin, Router, RouterError, Unmatched};

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
    /// The `account = "..."` the attribute gave, in order (each a valid,
    /// distinct account name, checked when compiling); empty: the handler
    /// serves every account.
    pub accounts: &'static [&'static str],
    /// `file!()` of the attribute, for a stable registration order.
    pub file: &'static str,
    /// `line!()` of the attribute.
    pub line: u32,
    /// Adds the handler's route to a router.
    pub register: fn(Router) -> Router,
}

impl HandlerDef {
    pub(crate) fn origin(&'static self) -> Origin {
        Origin::of(self, self.accounts)
    }

    /// Whether the handler serves `account`: it is unscoped, or scoped to
    /// `account` among others.
    fn serves(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.contains(&account)
    }

    /// Whether the handler is defined in `module` or one of its submodules
    /// (`module` is a path as `module_path!()` spells it).
    fn in_module(&self, module: &str) -> bool {
        let module = module.trim_end_matches("::");
        self.name
            .strip_prefix(module)
            .is_some_and(|rest| rest.starts_with("::"))
    }

    /// The module the handler is defined in and every module above it
    /// (`a::b::f` is in `a::b` and `a`).
    fn modules(&self) -> impl Iterator<Item = &'static str> {
        let name = self.name;
        name.match_indices("::").map(move |(at, _)| &name[..at])
    }
}

/// How a router picked attribute handlers, for the error when it picked
/// none.
enum Selection<'a> {
    Tag(&'a str),
    Module(&'a str),
}

impl Selection<'_> {
    /// Whether `def` is selected.
    fn wants(&self, def: &HandlerDef) -> bool {
        match *self {
            Selection::Tag(tag) => def.tag == Some(tag),
            Selection::Module(module) => def.in_module(module),
        }
    }

    /// The selection found nothing among `defs`: what to tell the user,
    /// with the closest tag or module they do have.
    fn unmatched(&self, defs: &[&'static HandlerDef]) -> Unmatched {
        let (selection, has, wanted, known): (_, _, _, BTreeSet<&str>) = match *self {
            Selection::Tag(tag) => (
                format!("registered_tagged({tag:?})"),
                format!("has tag = {tag:?}"),
                tag,
                defs.iter().filter_map(|d| d.tag).collect(),
            ),
            Selection::Module(module) => (
                format!("registered_in({module:?})"),
                format!("is defined in module {module:?} or below"),
                module.trim_end_matches("::"),
                defs.iter().flat_map(|d| d.modules()).collect(),
            ),
        };
        Unmatched {
            selection,
            has,
            suggestion: closest(wanted, known).map(str::to_owned),
        }
    }
}

/// The candidate most like `wanted`, if any is close (Jaro-Winkler
/// similarity of at least 0.8, as clap suggests subcommands); of equally
/// close ones, the first.
pub(crate) fn closest<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .fold(None, |best: Option<(f64, &str)>, candidate| match best {
            Some(best) if best.0 >= candidate.0 => Some(best),
            _ => Some(candidate),
        })
        .map(|(_, c)| c)
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

/// For every attribute handler of `defs` that is scoped to accounts,
/// `(handler name, account)` for each of its accounts, in order.
fn scoped_accounts_of(defs: &[&'static HandlerDef]) -> Vec<(&'static str, &'static str)> {
    defs.iter()
        .flat_map(|d| d.accounts.iter().map(move |&account| (d.name, account)))
        .collect()
}

/// The first attribute handler linked into the binary (in source order)
/// that is scoped to an account not among `configured`, as the error that
/// should stop start-up.
pub(crate) fn unknown_accounts(configured: &[&str]) -> Option<RouterError> {
    unknown_account_of(&all(), configured)
}

fn unknown_account_of(defs: &[&'static HandlerDef], configured: &[&str]) -> Option<RouterError> {
    let (handler, account) = scoped_accounts_of(defs)
        .into_iter()
        .find(|(_, account)| !configured.contains(account))?;
    Some(RouterError::UnknownAccount {
        handler: handler.to_owned(),
        account: account.to_owned(),
        configured: configured.iter().map(|&c| c.to_owned()).collect(),
        suggestion: closest(account, configured.iter().copied()).map(str::to_owned),
    })
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
    ///
    /// Handlers scoped to accounts (`account = "..."`) are added too,
    /// whatever their accounts: a service built for one account of several
    /// then keeps only the handlers that serve it. To select them yourself,
    /// use [`Router::registered_for_account`].
    pub fn registered(self) -> Self {
        self.add_all(|d| d.tag.is_none())
    }

    /// Adds every untagged attribute-macro handler linked into this binary
    /// that serves `account` — unscoped, or scoped to `account` among
    /// others (`account = "..."`) — and is not already here, in source
    /// order. [`Router::registered`] with the other accounts' handlers left
    /// out.
    ///
    /// ```
    /// use wechat_events::{on_text, Router, TextMessage};
    ///
    /// #[on_text(keyword = "帮助")]
    /// async fn help(_: TextMessage) -> &'static str { "help" }
    ///
    /// #[on_text(keyword = "会员", account = "brand_a")]
    /// async fn members(_: TextMessage) -> &'static str { "会员中心" }
    ///
    /// let a = Router::new().registered_for_account("brand_a");
    /// assert_eq!(a.infos().count(), 2);
    /// let b = Router::new().registered_for_account("brand_b");
    /// assert_eq!(b.infos().count(), 1);
    /// // `registered` takes every untagged handler, whatever its accounts.
    /// assert_eq!(Router::new().registered().infos().count(), 2);
    /// ```
    pub fn registered_for_account(self, account: &str) -> Self {
        self.add_all(|d| d.tag.is_none() && d.serves(account))
    }

    /// Adds every attribute-macro handler defined in `module` or its
    /// submodules (a path as `module_path!()` spells it, e.g.
    /// `"my_bot::shop"`), tagged or not. A module with no handler makes
    /// [`Router::build`] fail with [`RouterError::NothingSelected`]
    /// (naming the closest module that has some).
    ///
    /// [`RouterError::NothingSelected`]: crate::router::RouterError::NothingSelected
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
        self.select(Selection::Module(module))
    }

    /// Adds every attribute-macro handler whose attribute says
    /// `tag = "<tag>"`. A tag no handler has makes [`Router::build`] fail
    /// with [`RouterError::NothingSelected`] (naming the closest tag that
    /// handlers have).
    ///
    /// [`RouterError::NothingSelected`]: crate::router::RouterError::NothingSelected
    ///
    /// ```
    /// use wechat_events::{on_text, Router, TextMessage};
    /// #[on_text(keyword = "价格", tag = "shop")]
    /// async fn price(_: TextMessage) -> &'static str { "9.9" }
    /// assert_eq!(Router::new().registered_tagged("shop").infos().count(), 1);
    /// assert_eq!(Router::new().registered().infos().count(), 0);
    /// ```
    pub fn registered_tagged(self, tag: &str) -> Self {
        self.select(Selection::Tag(tag))
    }

    /// Adds the handlers `selection` wants (none already here is added
    /// twice), or records that it wants none.
    fn select(mut self, selection: Selection<'_>) -> Self {
        let defs = all();
        let mut found = false;
        for def in defs.iter().filter(|d| selection.wants(d)) {
            found = true;
            self = self.add_registered(def);
        }
        if found {
            self
        } else {
            let unmatched = selection.unmatched(&defs);
            self.push_unmatched(unmatched)
        }
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
        scoped(name, &[])
    }

    fn scoped(name: &'static str, accounts: &'static [&'static str]) -> HandlerDef {
        HandlerDef {
            name,
            tag: None,
            accounts,
            file: "f.rs",
            line: 1,
            register: |r| r,
        }
    }

    /// `defs`, leaked: the registry works on `&'static` definitions.
    fn statics(defs: Vec<HandlerDef>) -> Vec<&'static HandlerDef> {
        defs.into_iter().map(|d| &*Box::leak(Box::new(d))).collect()
    }

    #[test]
    fn a_handler_serves_its_accounts_or_every_account() {
        assert!(def("bot::help").serves("brand_a"));
        let both = scoped("bot::members", &["brand_a", "brand_b"]);
        assert!(both.serves("brand_a") && both.serves("brand_b"));
        assert!(!both.serves("brand_c"));
        assert!(!both.serves("Brand_a"), "names are compared exactly");
    }

    #[test]
    fn scoped_handlers_name_their_accounts_in_order() {
        let defs = statics(vec![
            scoped("bot::members", &["brand_a", "brand_b"]),
            def("bot::help"),
            scoped("bot::shop::price", &["brand_b"]),
        ]);
        assert_eq!(
            scoped_accounts_of(&defs),
            [
                ("bot::members", "brand_a"),
                ("bot::members", "brand_b"),
                ("bot::shop::price", "brand_b"),
            ]
        );
        // None linked into the library's unit tests.
        assert!(scoped_accounts_of(&all()).is_empty());
        assert!(unknown_accounts(&[]).is_none());
    }

    #[test]
    fn an_unconfigured_account_is_an_error_naming_the_handler() {
        let defs = statics(vec![
            def("bot::help"),
            scoped("bot::members", &["brand_a", "brand_b"]),
            scoped("bot::shop::price", &["brand_c"]),
            scoped("bot::later", &["other"]),
        ]);
        assert_eq!(
            unknown_account_of(&defs, &["brand_a", "brand_b", "brand_c", "other"]),
            None
        );
        let err = unknown_account_of(&defs, &["brand_a", "brand_b"]).expect("brand_c");
        assert_eq!(
            err,
            RouterError::UnknownAccount {
                handler: "bot::shop::price".into(),
                account: "brand_c".into(),
                configured: vec!["brand_a".into(), "brand_b".into()],
                suggestion: Some("brand_a".into()),
            }
        );
        assert_eq!(
            err.to_string(),
            r#"handler bot::shop::price is scoped to account "brand_c" (account = "brand_c"), which is not configured; the accounts are "brand_a", "brand_b"; did you mean "brand_a"?"#
        );
        // The first in source order, and no suggestion when none is close.
        let err = unknown_account_of(&defs, &["brand_c", "shop"]).expect("brand_a");
        assert_eq!(
            err.to_string(),
            r#"handler bot::members is scoped to account "brand_a" (account = "brand_a"), which is not configured; the accounts are "brand_c", "shop"; did you mean "brand_c"?"#
        );
        let err = unknown_account_of(&defs[3..], &["brand_a"]).expect("other");
        assert_eq!(
            err.to_string(),
            r#"handler bot::later is scoped to account "other" (account = "other"), which is not configured; the only account is "brand_a""#
        );
        let err = unknown_account_of(&defs, &[]).expect("no accounts");
        assert!(
            err.to_string()
                .ends_with("which is not configured; no account is configured by name"),
            "{err}"
        );
    }

    #[test]
    fn modules_are_every_prefix() {
        let modules: Vec<&str> = def("bot::shop::price").modules().collect();
        assert_eq!(modules, ["bot", "bot::shop"]);
        assert_eq!(def("price").modules().count(), 0);
    }

    #[test]
    fn the_closest_name_is_suggested() {
        let known = ["shop", "news", "bot::shop", "bot::events::menu"];
        assert_eq!(closest("shpo", known), Some("shop"));
        assert_eq!(closest("Shop", known), Some("shop"));
        assert_eq!(
            closest("bot::event::menu", known),
            Some("bot::events::menu")
        );
        assert_eq!(closest("weather", known), None);
        assert_eq!(closest("no::such::module", known), None);
        assert_eq!(closest("shop", []), None);
        // Of equally close candidates, the first.
        assert_eq!(closest("brand_c", ["brand_a", "brand_b"]), Some("brand_a"));
        assert_eq!(closest("brand_c", ["brand_b", "brand_a"]), Some("brand_b"));
    }

    #[test]
    fn a_selection_of_nothing_fails_the_build() {
        // No attribute handler is linked into the library's unit tests.
        let err = Router::new()
            .registered_tagged("shop")
            .build()
            .expect_err("built");
        assert_eq!(
            err,
            crate::router::RouterError::NothingSelected {
                selection: r#"registered_tagged("shop")"#.into(),
                has: r#"has tag = "shop""#.into(),
                suggestion: None,
            }
        );
        let msg = err.to_string();
        assert!(msg.starts_with(r#"registered_tagged("shop") selects no attribute handler: none in this binary has tag = "shop"; check the spelling"#), "{msg}");
        // Through `merge`, and beside routes that are fine.
        async fn t(_: crate::message::TextMessage) {}
        let err = Router::new()
            .keyword("x", t)
            .merge(Router::new().registered_in("bot::shop::"))
            .build()
            .expect_err("built");
        assert!(
            err.to_string().contains(r#"registered_in("bot::shop::")"#),
            "{err}"
        );
        // `registered` asks for whatever there is: none is fine.
        assert!(Router::new().registered().build().is_ok());
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

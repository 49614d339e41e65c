//! The attributes' arguments: `Click, key = "MENU_1", priority = 2`.
//!
//! Everything that can be checked without types is checked here, with the
//! error on the offending token and a message saying what to write: which
//! argument each attribute takes, literal types, one filter per handler,
//! empty values, regexes (compiled now so a bad pattern never reaches
//! start-up) and account names (by the rule a configured account's `name`
//! follows). The kind itself is resolved by the compiler against the
//! runtime's table, so it is only checked for shape.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Meta, Token, UnOp};

use crate::errors::{closest, Errors};

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attr {
    Event,
    Message,
    Text,
    Fallback,
}

/// Event filters.
const EVENT_ARGS: &[&str] = &["key", "key_regex", "scene", "event"];
/// Text filters.
const TEXT_ARGS: &[&str] = &["keyword", "keywords", "contains", "regex"];
/// What every attribute takes.
const COMMON_ARGS: &[&str] = &["priority", "tag", "account", "crate"];

use crate::kind_tables::{EVENT_KINDS, KEY_KINDS, SCENE_KINDS};

/// The longest account name, as a configured account's `name` allows.
const ACCOUNT_MAX: usize = 32;

impl Attr {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Attr::Event => "on_event",
            Attr::Message => "on_message",
            Attr::Text => "on_text",
            Attr::Fallback => "on_fallback",
        }
    }

    /// Whether the attribute starts with a kind.
    fn takes_kind(self) -> bool {
        matches!(self, Attr::Event | Attr::Message)
    }

    /// The named arguments the attribute takes.
    fn args(self) -> Vec<&'static str> {
        let filters: &[&str] = match self {
            Attr::Event => EVENT_ARGS,
            Attr::Text => TEXT_ARGS,
            Attr::Message | Attr::Fallback => &[],
        };
        filters
            .iter()
            .copied()
            .chain(COMMON_ARGS.iter().copied())
            .collect()
    }

    /// How the attribute's arguments are written, for messages.
    fn usage(self) -> &'static str {
        match self {
            Attr::Event => {
                "`#[on_event(Kind)]`, optionally with one filter (`key = \"...\"`, `key_regex = \"...\"` or `scene = \"...\"`), `priority = N` and `account = \"...\"` (repeatable)"
            }
            Attr::Message => {
                "`#[on_message(Kind)]`, optionally with `priority = N` and `account = \"...\"` (repeatable)"
            }
            Attr::Text => {
                "`#[on_text]`, optionally with one filter (`keyword = \"...\"` (repeatable), `keywords = [\"...\", ...]`, `contains = \"...\"` or `regex = \"...\"`), `priority = N` and `account = \"...\"` (repeatable)"
            }
            Attr::Fallback => {
                "`#[on_fallback]`, optionally with `priority = N` and `account = \"...\"` (repeatable)"
            }
        }
    }
}

/// A route filter, with the literals as written (for spans).
pub(crate) enum Filter {
    None,
    Key(LitStr),
    KeyRegex(LitStr),
    Scene(LitStr),
    /// The raw `Event` name.
    Event(LitStr),
    Keywords(Vec<LitStr>),
    Contains(LitStr),
    Regex(LitStr),
}

/// The parsed arguments.
pub(crate) struct Args {
    /// The kind, for `on_event` / `on_message`.
    pub(crate) kind: Option<Ident>,
    pub(crate) filter: Filter,
    /// The filter argument's name as written, e.g. the `key` of `key = "x"`.
    pub(crate) filter_name: Option<Ident>,
    pub(crate) priority: Option<syn::Expr>,
    /// `tag = "..."`: the handler is served only by routers that ask for it.
    pub(crate) tag: Option<LitStr>,
    /// `account = "..."`, repeatable: the accounts the handler serves (none:
    /// every account).
    pub(crate) accounts: Vec<LitStr>,
    /// `crate = "path"`: where `wechat_events` is, for crates re-exporting it.
    pub(crate) krate: Option<syn::Path>,
    /// Whether a kind was written at all (even a wrong one).
    kind_written: bool,
}

impl Args {
    pub(crate) fn parse(attr: Attr, tokens: proc_macro2::TokenStream, errors: &mut Errors) -> Args {
        let mut args = Args {
            kind: None,
            filter: Filter::None,
            filter_name: None,
            priority: None,
            tag: None,
            accounts: Vec::new(),
            krate: None,
            kind_written: false,
        };
        let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
            Ok(metas) => metas,
            Err(e) => {
                errors.push(syn::Error::new(
                    e.span(),
                    format!("{e}; write {}", attr.usage()),
                ));
                return args;
            }
        };
        for meta in metas {
            args.add(attr, meta, errors);
        }
        if attr.takes_kind() && !args.kind_written {
            let (what, example) = match attr {
                Attr::Event => ("event", "`#[on_event(Click)]` or `#[on_event(Subscribe)]`"),
                _ => (
                    "message",
                    "`#[on_message(Image)]` or `#[on_message(Voice)]`",
                ),
            };
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "`#[{}]` needs the {what} kind first, e.g. {example}",
                    attr.name()
                ),
            ));
        }
        if attr == Attr::Event {
            args.check_filter_fits_kind(errors);
        }
        args
    }

    /// `key`, `key_regex` or `scene` on an event kind that does not carry
    /// what the filter looks at. A kind the table does not know is left to
    /// the compiler, which reports it as an unknown kind.
    fn check_filter_fits_kind(&self, errors: &mut Errors) {
        let (Some(name), Some(kind)) = (&self.filter_name, &self.kind) else {
            return;
        };
        let written = kind.to_string();
        if !EVENT_KINDS.contains(&written.as_str()) {
            return;
        }
        let message = match &self.filter {
            Filter::Key(_) | Filter::KeyRegex(_) if !KEY_KINDS.contains(&written.as_str()) => {
                format!(
                    "`{name}` filters on the EventKey, and `{written}` events carry none: remove `{name}`, or put it on a kind that has one, e.g. `#[on_event(Click, {name} = \"...\")]`"
                )
            }
            Filter::Scene(_) if !SCENE_KINDS.contains(&written.as_str()) => {
                let key = if KEY_KINDS.contains(&written.as_str()) {
                    format!(", or filter `{written}` events on their EventKey with `key = \"...\"`")
                } else {
                    String::new()
                };
                format!(
                    "`scene` filters on a QR-code scene, and `{written}` events carry none: write `#[on_event(Subscribe, scene = \"...\")]` or `#[on_event(Scan, scene = \"...\")]`{key}"
                )
            }
            _ => return,
        };
        errors.push(syn::Error::new_spanned(name, message));
    }

    fn add(&mut self, attr: Attr, meta: Meta, errors: &mut Errors) {
        let name = match meta.path().get_ident() {
            Some(ident) => ident.clone(),
            None => {
                errors.push(syn::Error::new_spanned(
                    meta.path(),
                    format!(
                        "write the kind or argument by its bare name (e.g. `Click`, not a path); `#[{}]` takes {}",
                        attr.name(),
                        attr.usage()
                    ),
                ));
                return;
            }
        };
        let arg = name.to_string();
        let known = attr.args();
        if !known.contains(&arg.as_str()) {
            if let Meta::Path(_) = meta {
                if !is_argument_name(&arg) {
                    return self.set_kind(attr, name, errors);
                }
            }
            return errors.push(unknown_argument(attr, &name, self.kind.as_ref()));
        }
        let value = match meta {
            Meta::NameValue(nv) => nv.value,
            Meta::Path(_) => {
                return errors.push(syn::Error::new_spanned(
                    &name,
                    format!("`{arg}` needs a value: write {}", example(&arg)),
                ))
            }
            Meta::List(list) => {
                return errors.push(syn::Error::new_spanned(
                    list,
                    format!("`{arg}` takes its value after `=`: write {}", example(&arg)),
                ))
            }
        };
        if arg == "account" {
            return self.add_account(&value, errors);
        }
        if arg == "tag" || arg == "crate" {
            let already = if arg == "tag" {
                self.tag.is_some()
            } else {
                self.krate.is_some()
            };
            if already {
                return errors.push(syn::Error::new_spanned(
                    &name,
                    format!("`{arg}` is given twice; keep one"),
                ));
            }
            let Some(lit) = string(&value).filter(|l| !l.value().trim().is_empty()) else {
                return errors.push(syn::Error::new_spanned(
                    &value,
                    format!(
                        "`{arg}` takes a non-empty string literal: write {}",
                        example(&arg)
                    ),
                ));
            };
            if arg == "tag" {
                self.tag = Some(lit);
            } else {
                match lit.parse_with(syn::Path::parse_mod_style) {
                    Ok(path) => self.krate = Some(path),
                    Err(_) => errors.push(syn::Error::new_spanned(
                        &lit,
                        format!(
                            "`crate` takes the path of the re-exported crate: write {}",
                            example(&arg)
                        ),
                    )),
                }
            }
            return;
        }
        if arg == "priority" {
            if self.priority.is_some() {
                return errors.push(syn::Error::new_spanned(
                    &name,
                    "`priority` is given twice; keep one",
                ));
            }
            match priority(&value) {
                Some(()) => self.priority = Some(value),
                None => errors.push(syn::Error::new_spanned(
                    &value,
                    "`priority` takes an integer (an `i32`): `priority = 10`; higher runs first, the default is 0",
                )),
            }
            return;
        }
        let filter = match arg.as_str() {
            "keywords" => match string_list(&value) {
                Some(list) if list.is_empty() => {
                    return errors.push(syn::Error::new_spanned(
                        &value,
                        format!(
                            "`keywords` is empty: list at least one, e.g. {}",
                            example(&arg)
                        ),
                    ))
                }
                Some(list) => Filter::Keywords(list),
                None => {
                    return errors.push(syn::Error::new_spanned(
                        &value,
                        format!(
                            "`keywords` takes a list of string literals: write {}",
                            example(&arg)
                        ),
                    ))
                }
            },
            _ => {
                let Some(lit) = string(&value) else {
                    return errors.push(syn::Error::new_spanned(
                        &value,
                        format!("`{arg}` takes a string literal: write {}", example(&arg)),
                    ));
                };
                match arg.as_str() {
                    "key" => Filter::Key(lit),
                    "key_regex" => Filter::KeyRegex(lit),
                    "scene" => Filter::Scene(lit),
                    "event" => Filter::Event(lit),
                    "keyword" => Filter::Keywords(vec![lit]),
                    "contains" => Filter::Contains(lit),
                    _ => Filter::Regex(lit),
                }
            }
        };
        check_values(&arg, &filter, errors);
        self.set_filter(name, filter, errors);
    }

    /// One `account = "..."`: a valid name, not given before.
    fn add_account(&mut self, value: &Expr, errors: &mut Errors) {
        let Some(lit) = string(value) else {
            return errors.push(syn::Error::new_spanned(
                value,
                format!(
                    "`account` takes a string literal, the name of a configured account: write {}",
                    example("account")
                ),
            ));
        };
        let name = lit.value();
        if let Some(problem) = account_problem(&name) {
            return errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "`account` names a configured account: 1 to {ACCOUNT_MAX} ASCII letters, digits, `_` or `-`, e.g. {}; {name:?} {problem}",
                    example("account")
                ),
            ));
        }
        if self.accounts.iter().any(|a| a.value() == name) {
            return errors.push(syn::Error::new(
                lit.span(),
                format!("account {name:?} is given twice; keep one"),
            ));
        }
        self.accounts.push(lit);
    }

    fn set_kind(&mut self, attr: Attr, kind: Ident, errors: &mut Errors) {
        self.kind_written = true;
        let written = kind.to_string();
        if !attr.takes_kind() {
            let msg = match attr {
                Attr::Text => format!(
                    "`#[on_text]` handles text messages and takes no kind; remove `{written}`: write {}",
                    attr.usage()
                ),
                _ => format!(
                    "`#[on_fallback]` takes no kind: it handles whatever no other handler takes; remove `{written}`"
                ),
            };
            return errors.push(syn::Error::new_spanned(kind, msg));
        }
        if let Some(first) = &self.kind {
            return errors.push(syn::Error::new_spanned(
                &kind,
                format!(
                    "a handler has one kind, and `{first}` is already given: write a second handler for `{written}`"
                ),
            ));
        }
        for suffix in ["Event", "Message"] {
            if let Some(stripped) = written.strip_suffix(suffix).filter(|s| !s.is_empty()) {
                return errors.push(syn::Error::new_spanned(
                    &kind,
                    format!(
                        "write the kind, not its type: `#[{}({stripped})]` (the handler then takes `{written}`)",
                        attr.name()
                    ),
                ));
            }
        }
        // Only a hint for the common slip; the kind tables are the runtime's.
        let message_only = ["Text", "Image", "Voice", "Video", "ShortVideo", "Link"];
        let event_only = ["Subscribe", "Unsubscribe", "Scan", "Click", "View"];
        if attr == Attr::Event && message_only.contains(&written.as_str())
            || attr == Attr::Message && event_only.contains(&written.as_str())
        {
            let (other, what) = match attr {
                Attr::Event => ("on_message", "a message"),
                _ => ("on_event", "an event"),
            };
            return errors.push(syn::Error::new_spanned(
                &kind,
                format!("`{written}` is {what} kind: write `#[{other}({written})]`"),
            ));
        }
        self.kind = Some(kind);
    }

    fn set_filter(&mut self, name: Ident, filter: Filter, errors: &mut Errors) {
        match (&mut self.filter, filter) {
            (Filter::None, filter) => {
                self.filter = filter;
                self.filter_name = Some(name);
            }
            (Filter::Keywords(have), Filter::Keywords(more)) => {
                for lit in more {
                    if have.iter().any(|h| h.value() == lit.value()) {
                        errors.push(syn::Error::new_spanned(
                            &lit,
                            format!("keyword {:?} is listed twice; keep one", lit.value()),
                        ));
                    } else {
                        have.push(lit);
                    }
                }
            }
            (_, _) => {
                let first = self
                    .filter_name
                    .as_ref()
                    .map(Ident::to_string)
                    .unwrap_or_default();
                errors.push(syn::Error::new_spanned(
                    &name,
                    format!(
                        "a handler takes one filter, and `{first}` is already given: write a second handler for `{name}`"
                    ),
                ));
            }
        }
    }
}

fn is_argument_name(arg: &str) -> bool {
    EVENT_ARGS.contains(&arg) || TEXT_ARGS.contains(&arg) || COMMON_ARGS.contains(&arg)
}

/// An argument the attribute does not take: say where it belongs, or what
/// was probably meant.
fn unknown_argument(attr: Attr, name: &Ident, kind: Option<&Ident>) -> syn::Error {
    let arg = name.to_string();
    let msg = if EVENT_ARGS.contains(&arg.as_str()) {
        let by = if arg == "scene" {
            "their QR-code scene"
        } else if arg == "event" {
            "their raw Event name"
        } else {
            "their EventKey"
        };
        let on = match (attr, kind) {
            (Attr::Message, Some(kind)) => format!("`{kind}` is a message kind, which has none"),
            (Attr::Message, None) | (Attr::Text, _) => "messages have none".to_owned(),
            _ => "`#[on_fallback]` takes no filter".to_owned(),
        };
        format!(
            "`{arg}` filters events by {by}, and {on}: match text with `#[on_text(keyword = \"...\")]`, menu clicks with `#[on_event(Click, key = \"...\")]`"
        )
    } else if TEXT_ARGS.contains(&arg.as_str()) {
        match attr {
            Attr::Event => format!(
                "`{arg}` filters text messages: write `#[on_text({arg} = ...)]`; events filter on `key`, `key_regex` or `scene`"
            ),
            Attr::Message => format!(
                "text filters belong to `#[on_text]`: write `#[on_text({arg} = ...)]`"
            ),
            _ => "`#[on_fallback]` takes no filter: it handles whatever no other handler takes".to_owned(),
        }
    } else {
        let known = attr.args();
        let hint = match closest(&arg, &known) {
            Some(best) => format!(": did you mean `{best}`?"),
            None => ".".to_owned(),
        };
        format!(
            "unknown argument `{arg}` for `#[{}]`{hint} The attribute is written {}",
            attr.name(),
            attr.usage()
        )
    };
    syn::Error::new_spanned(name, msg)
}

fn example(arg: &str) -> &'static str {
    match arg {
        "key" => "`key = \"MENU_HELP\"`",
        "key_regex" => "`key_regex = \"^MENU_\"`",
        "scene" => "`scene = \"42\"`",
        "event" => "`event = \"some_new_event\"`",
        "keyword" => "`keyword = \"帮助\"`",
        "keywords" => "`keywords = [\"帮助\", \"help\"]`",
        "contains" => "`contains = \"天气\"`",
        "regex" => "`regex = r\"^天气\\s*(\\S+)$\"`",
        "tag" => "`tag = \"shop\"`",
        "account" => "`account = \"brand_a\"`",
        "crate" => "`crate = \"my_sdk::wechat_events\"`",
        _ => "`priority = 10`",
    }
}

/// What is wrong with `name` as an account name, if anything.
fn account_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    if len == 0 {
        return Some("is empty".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Some(format!("contains {c:?}"));
    }
    if len > ACCOUNT_MAX {
        return Some(format!("has {len} characters"));
    }
    None
}

fn string(value: &Expr) -> Option<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        Expr::Group(g) => string(&g.expr),
        _ => None,
    }
}

fn string_list(value: &Expr) -> Option<Vec<LitStr>> {
    match value {
        Expr::Array(array) => array.elems.iter().map(string).collect(),
        _ => None,
    }
}

/// Whether `value` is an `i32` literal, maybe negated.
fn priority(value: &Expr) -> Option<()> {
    let (lit, negative) = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => (i, false),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => (i, true),
            _ => return None,
        },
        _ => return None,
    };
    if !matches!(lit.suffix(), "" | "i32") {
        return None;
    }
    let n = lit.base10_parse::<i64>().ok()?;
    i32::try_from(if negative { -n } else { n })
        .ok()
        .map(|_| ())
}

/// Values that can never match, and regexes that do not compile.
fn check_values(arg: &str, filter: &Filter, errors: &mut Errors) {
    let lits: &[LitStr] = match filter {
        Filter::Keywords(list) => list,
        Filter::Key(l)
        | Filter::KeyRegex(l)
        | Filter::Scene(l)
        | Filter::Event(l)
        | Filter::Contains(l)
        | Filter::Regex(l) => std::slice::from_ref(l),
        Filter::None => &[],
    };
    for lit in lits {
        let value = lit.value();
        if value.is_empty() && arg != "key_regex" && arg != "regex" {
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "`{arg}` is empty and would never match; write {}",
                    example(arg)
                ),
            ));
        }
    }
    if let Filter::KeyRegex(lit) | Filter::Regex(lit) = filter {
        if let Err(e) = regex::Regex::new(&lit.value()) {
            errors.push(syn::Error::new(
                lit.span(),
                format!("`{arg}` is not a valid regex: {e}"),
            ));
        }
    }
}

//! From an annotated `async fn` to its registration.
//!
//! The function is emitted unchanged (it stays callable, e.g. from unit
//! tests). Beside it come a type of the same name — a braced struct, so it
//! lives only in the type namespace and never shadows the function —
//! implementing
//! `::wechat_events::RegisteredHandler` for explicit registration, and an
//! anonymous `const` block holding the handler's description, its
//! registration function and the `inventory` submission.
//!
//! The registration never asks the compiler whether the function as a
//! whole is a handler: it calls it through one small runtime helper per
//! concern, each emitted with the span of the user's own token, so a wrong
//! event type, an argument that is no extractor or a return type that is no
//! reply fails exactly one bound, on that token, with the runtime's
//! `#[diagnostic::on_unimplemented]` message.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, ReturnType, Type};

use crate::args::{Args, Attr, Filter};
use crate::errors::Errors;

/// Expands one attribute; on error, the item comes back as written with the
/// errors appended, so the rest of the crate still type-checks.
pub(crate) fn expand(attr: Attr, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(attr, args, item.clone()) {
        Ok(expanded) => expanded,
        Err(error) => {
            let mut out = item;
            out.extend(error.into_compile_error());
            out
        }
    }
}

fn try_expand(attr: Attr, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = Args::parse(attr, args, &mut errors);
    let func = match syn::parse2::<ItemFn>(item) {
        Ok(func) => func,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!(
                    "`#[{}]` goes on an `async fn` handler: `async fn name(event: EventType, extractors...) -> impl IntoReply`",
                    attr.name()
                ),
            ));
            errors.finish()?;
            unreachable!("an error was pushed");
        }
    };
    let sig = check_signature(attr, &args, &func, &mut errors);
    errors.finish()?;
    let sig = sig.expect("no errors, so the signature was checked");
    Ok(generate(attr, &args, &func, &sig))
}

/// The parts of the signature the registration needs.
struct Signature<'a> {
    event: &'a Type,
    extractors: Vec<&'a Type>,
    output: Option<&'a Type>,
}

fn check_signature<'a>(
    attr: Attr,
    args: &Args,
    func: &'a ItemFn,
    errors: &mut Errors,
) -> Option<Signature<'a>> {
    let sig = &func.sig;
    let mut failed = false;
    let mut fail = |errors: &mut Errors, e: syn::Error| {
        failed = true;
        errors.push(e);
    };
    for other in &func.attrs {
        let last = other.path().segments.last().map(|s| s.ident.to_string());
        if matches!(
            last.as_deref(),
            Some("on_event" | "on_message" | "on_text" | "on_fallback")
        ) {
            fail(
                errors,
                syn::Error::new_spanned(
                    other,
                    format!(
                        "a function takes one handler attribute, and it already has `#[{}]`: move this one to a second function",
                        attr.name()
                    ),
                ),
            );
        }
    }
    if sig.asyncness.is_none() {
        fail(
            errors,
            syn::Error::new_spanned(
                sig.fn_token,
                format!(
                    "handlers must be `async`: write `async fn {}(...)`",
                    sig.ident
                ),
            ),
        );
    }
    if let Some(constness) = &sig.constness {
        fail(
            errors,
            syn::Error::new_spanned(constness, "a handler cannot be `const`: remove `const`"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        fail(
            errors,
            syn::Error::new_spanned(
                unsafety,
                "a handler cannot be `unsafe`: the router calls it with no way to uphold its contract",
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        fail(
            errors,
            syn::Error::new_spanned(abi, "a handler cannot declare an ABI: remove it"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        fail(
            errors,
            syn::Error::new_spanned(
                &sig.generics,
                "a handler cannot be generic: the router needs one concrete function; use concrete types",
            ),
        );
    }
    if let Some(variadic) = &sig.variadic {
        fail(
            errors,
            syn::Error::new_spanned(variadic, "a handler cannot be variadic"),
        );
    }
    let mut types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => fail(
                errors,
                syn::Error::new_spanned(
                    receiver,
                    "a handler is a free function: remove `self` (share state through `web::Data<T>`)",
                ),
            ),
            FnArg::Typed(pat) => types.push(&*pat.ty),
        }
    }
    let Some((&event, extractors)) = types.split_first() else {
        if sig.inputs.is_empty() {
            fail(
                errors,
                syn::Error::new(
                    sig.paren_token.span.join(),
                    format!(
                        "a handler's first parameter receives the push: write `async fn {}(ev: {}, ...)`",
                        sig.ident,
                        event_type_hint(attr, args)
                    ),
                ),
            );
        }
        return None;
    };
    if extractor_name(event).is_some() {
        fail(errors, extractor_first(attr, args, func, event));
    }
    if !matches!(args.filter, Filter::Regex(_)) {
        for &ty in extractors {
            if is_named(ty, "Captures") {
                fail(errors, captures_without_regex(attr, ty));
            }
        }
    }
    if failed {
        return None;
    }
    Some(Signature {
        event,
        extractors: extractors.to_vec(),
        output: match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some(ty),
        },
    })
}

/// The runtime's extractors, by the last segment of their path
/// (`web::Data<T>` → `Data`); `Option<E>` and `Arc<Push>` are recognised
/// by [`extractor_name`]. Only for the "extractor before the event"
/// message: an extractor of the user's own is still refused (with the
/// event-type message) when it comes first.
const EXTRACTORS: &[&str] = &["Context", "Session", "ApiClient", "Captures", "Data"];

/// The last segment of a plain path type (`web::Data<T>` → `Data<T>`).
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// The first generic type argument of a path segment (`Option<Context>` → `Context`).
fn type_argument(segment: &syn::PathSegment) -> Option<&Type> {
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    }
}

/// Whether `ty` is written as the bare type `name` (any path to it, no
/// generic arguments).
fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == name && s.arguments.is_none())
}

/// The name of the runtime extractor `ty` is, if it is one: `Context`,
/// `web::Data<T>` (→ `Data`), `Option<Session>` (→ `Session`), `Arc<Push>`.
fn extractor_name(ty: &Type) -> Option<String> {
    let segment = last_segment(ty)?;
    let ident = segment.ident.to_string();
    match ident.as_str() {
        "Option" => extractor_name(type_argument(segment)?),
        "Arc" if type_argument(segment).is_some_and(|t| is_named(t, "Push")) => {
            Some("Arc<Push>".to_owned())
        }
        _ if EXTRACTORS.contains(&ident.as_str()) => Some(ident),
        _ => None,
    }
}

/// Whether `ty` looks like a push's typed value (`TextMessage`, `ClickEvent`,
/// `Event`, `Message`, `Push`): the parameter to move first.
fn looks_like_event(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| {
        let ident = s.ident.to_string();
        s.arguments.is_none()
            && (ident.ends_with("Event") || ident.ends_with("Message") || ident == "Push")
    })
}

/// A parameter as the user wrote it (`cx: Context`), from its tokens
/// (`Option < Session >` printed back as `Option<Session>`).
fn written(input: &FnArg) -> String {
    let printed = input.to_token_stream().to_string();
    let mut out = printed;
    for (spaced, tight) in [
        (" : ", ": "),
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
    ] {
        out = out.replace(spaced, tight);
    }
    out
}

/// An extractor in the event's place: the error says which order to write,
/// with the user's own parameters moved (or the event added) first.
fn extractor_first(attr: Attr, args: &Args, func: &ItemFn, first: &Type) -> syn::Error {
    let sig = &func.sig;
    let inputs: Vec<&FnArg> = sig.inputs.iter().collect();
    let event_at = inputs.iter().position(|input| match input {
        FnArg::Typed(pat) => looks_like_event(&pat.ty),
        FnArg::Receiver(_) => false,
    });
    let mut order: Vec<String> = inputs.iter().map(|input| written(input)).collect();
    let fix = match event_at {
        Some(at) => {
            let event = order.remove(at);
            order.insert(0, event);
            "the event comes first, then the extractors in any order"
        }
        None => {
            order.insert(0, format!("ev: {}", event_type_hint(attr, args)));
            "add the event before the extractors"
        }
    };
    let extractor = extractor_name(first).unwrap_or_default();
    syn::Error::new_spanned(
        first,
        format!(
            "`{extractor}` is an extractor, and a handler's first parameter receives the push: {fix}: write `async fn {}({})`",
            sig.ident,
            order.join(", ")
        ),
    )
}

/// `Captures` on a handler without a `regex` filter, which never gets any.
fn captures_without_regex(attr: Attr, ty: &Type) -> syn::Error {
    let fix = match attr {
        Attr::Text => "add a `regex` filter, e.g. `#[on_text(regex = r\"^天气\\s*(\\S+)$\")]`, or remove the parameter",
        _ => "handle the text with `#[on_text(regex = \"...\")]`, or remove the parameter",
    };
    syn::Error::new_spanned(
        ty,
        format!(
            "`Captures` holds the groups of an `#[on_text(regex = \"...\")]` filter, and this handler has none, so it would fail at every push: {fix}"
        ),
    )
}

/// The event type a kind's handler takes, by the runtime's naming
/// convention (`Click` → `ClickEvent`); used only in error messages.
fn event_type_hint(attr: Attr, args: &Args) -> String {
    match (attr, &args.kind) {
        (Attr::Event, Some(kind)) => format!("{kind}Event"),
        (Attr::Message, Some(kind)) => format!("{kind}Message"),
        (Attr::Text, _) => "TextMessage".to_owned(),
        (Attr::Fallback, _) => "Push".to_owned(),
        _ => "<the kind's type>".to_owned(),
    }
}

/// Whether the tokens contain `impl` (an `impl Trait` type, which cannot be
/// written as a type argument).
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

fn generate(attr: Attr, args: &Args, func: &ItemFn, sig: &Signature<'_>) -> TokenStream {
    let vis = &func.vis;
    let name = &func.sig.ident;
    // `crate = "..."` for crates that re-export this one; the runtime's
    // paths are absolute otherwise.
    let krate = match &args.krate {
        Some(path) => quote!(#path),
        None => quote!(::wechat_events),
    };
    // A `#[cfg]` that removes the function removes its registration too.
    let cfgs: Vec<_> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();
    let name_str = name.to_string();
    let attr_name = attr.name();

    // The one place the kind is named: an unknown kind fails here, on the
    // user's token, as "cannot find type `Clik` in module `on_event`" with
    // the compiler's "similar name" suggestion.
    let kind = match (attr, &args.kind) {
        (Attr::Event, Some(kind)) => quote_spanned! {kind.span()=>
            use #krate::__private::kinds::event as on_event;
            type __WechatKind = on_event::#kind;
        },
        (Attr::Message, Some(kind)) => quote_spanned! {kind.span()=>
            use #krate::__private::kinds::message as on_message;
            type __WechatKind = on_message::#kind;
        },
        (Attr::Text, _) => quote!(
            type __WechatKind = #krate::__private::kinds::message::Text;
        ),
        _ => quote!(
            type __WechatKind = #krate::__private::kinds::Fallback;
        ),
    };

    let filter = match &args.filter {
        Filter::None => quote!(),
        Filter::Key(lit) => quote!(.key(#lit)),
        Filter::KeyRegex(lit) => quote!(.key_regex(#lit)),
        Filter::Scene(lit) => quote!(.scene(#lit)),
        Filter::Event(lit) => quote!(.event(#lit)),
        Filter::Keywords(lits) => quote!(.keywords([#(#lits),*])),
        Filter::Contains(lit) => quote!(.contains(#lit)),
        Filter::Regex(lit) => quote!(.regex(#lit)),
    };
    let priority = args.priority.as_ref().map(|p| quote!(.priority(#p)));
    let tag = match &args.tag {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let accounts = &args.accounts;
    let filter_check = filter_check(args, &krate);

    let ev = Ident::new("__wechat_event", Span::mixed_site());
    let parts = Ident::new("__wechat_parts", Span::mixed_site());
    let host = Ident::new("__wechat_host", Span::mixed_site());
    let event_ty = sig.event;
    let event_arg = quote_spanned! {event_ty.span()=>
        #krate::__private::event::<#event_ty, __WechatKind>(#ev)
    };
    // Each extractor type is named once, in a const describing it: a type
    // that is no extractor fails `extractor`'s bound there, on its token.
    let descriptors: Vec<Ident> = (1..=sig.extractors.len())
        .map(|i| format_ident!("__WECHAT_EXTRACTOR_{}", i, span = Span::mixed_site()))
        .collect();
    let arg_names: Vec<Ident> = (1..=sig.extractors.len())
        .map(|i| format_ident!("__wechat_arg{}", i, span = Span::mixed_site()))
        .collect();
    let describe = sig.extractors.iter().zip(&descriptors).map(|(ty, d)| {
        quote_spanned! {ty.span()=>
            const #d: #krate::__private::Extractor<#ty> = #krate::__private::extractor::<#ty>();
        }
    });
    // `Captures` (or any extractor that needs a regex route's captures)
    // without a regex filter would fail at every push: refuse it here.
    let captures_checks = if matches!(args.filter, Filter::Regex(_)) {
        Vec::new()
    } else {
        sig.extractors
            .iter()
            .zip(&descriptors)
            .map(|(ty, d)| {
                let message = syn::LitStr::new(
                    &format!(
                        "`{}` only reaches `#[on_text(regex = \"...\")]` handlers, so this one would fail at every push: add a `regex` filter, or remove the parameter",
                        ty.to_token_stream().to_string().replace(' ', "")
                    ),
                    ty.span(),
                );
                quote_spanned! {ty.span()=>
                    const _: () = if #d.needs_captures { ::core::panic!(#message) };
                }
            })
            .collect()
    };
    let needs_captures = quote!(false #(|| #descriptors.needs_captures)*);
    // Naming the return type as `into_reply`'s type argument puts a "not a
    // reply" error on that type; `impl Trait` cannot be named, but then the
    // function itself already promises a reply.
    let call = quote!(#name(#event_arg #(, #arg_names)*).await);
    let reply = match sig.output {
        Some(ty) if !mentions_impl(ty.to_token_stream()) => quote_spanned! {ty.span()=>
            #krate::__private::into_reply::<#ty>(#call)
        },
        _ => quote_spanned! {name.span()=>
            #krate::__private::into_reply(#call)
        },
    };
    let call_handler = quote_spanned! {name.span()=>
        |#ev, #parts| #krate::__private::boxed(async move {
            let (#(#arg_names,)*) = #krate::__private::extracted(async {
                ::core::result::Result::Ok((#((#descriptors.extract)(&#parts).await?,)*))
            })
            .await?;
            ::core::result::Result::Ok(#reply)
        })
    };

    let doc = format!(
        "Registration of the `#[{attr_name}]` handler `{name_str}()`: pass `{name_str}` to \
         `Router::handler` when the handler lives in a library crate (see `wechat_events::RegisteredHandler`)."
    );

    quote! {
        #func

        #(#cfgs)*
        #[doc = #doc]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}

        #(#cfgs)*
        #[allow(deprecated)]
        const _: () = {
            #kind

            #filter_check

            #(#describe)*

            #(#captures_checks)*

            static __WECHAT_HANDLER: #krate::__private::HandlerDef =
                #krate::__private::HandlerDef {
                    name: ::core::concat!(::core::module_path!(), "::", #name_str),
                    tag: #tag,
                    accounts: &[#(#accounts),*],
                    file: ::core::file!(),
                    line: ::core::line!(),
                    register: __wechat_register,
                };

            #[allow(unused_variables)]
            fn __wechat_prepare(
                #host: &dyn ::core::any::Any,
                #parts: &mut #krate::__private::Parts,
            ) {
                #((#descriptors.prepare)(#host, #parts);)*
            }

            fn __wechat_register(router: #krate::__private::Router) -> #krate::__private::Router {
                #krate::__private::route::<__WechatKind, _>(
                    router,
                    &__WECHAT_HANDLER,
                    #krate::__private::Route::new() #filter #priority,
                    __wechat_prepare,
                    #needs_captures,
                    #call_handler,
                )
            }

            impl #krate::__private::Sealed for #name {}

            impl #krate::__private::RegisteredHandler for #name {
                const DEF: &'static #krate::__private::HandlerDef = &__WECHAT_HANDLER;
            }

            #krate::__private::inventory::submit! {
                #krate::__private::Registration(&__WECHAT_HANDLER)
            }
        };
    }
}

/// For `key`, `key_regex` and `scene`: a compile-time check, against the
/// runtime's own rules, that the kind carries what the filter looks at.
fn filter_check(args: &Args, krate: &TokenStream) -> TokenStream {
    let (Some(arg), Some(kind)) = (&args.filter_name, &args.kind) else {
        return quote!();
    };
    let (check, message) = match &args.filter {
        Filter::Key(_) | Filter::KeyRegex(_) => (
            quote!(allows_key),
            format!(
                "`{arg}` filters on the EventKey, and `{kind}` events carry none: remove `{arg}`, or put it on a kind that has one, e.g. `#[on_event(Click, key = \"...\")]`"
            ),
        ),
        Filter::Scene(_) => (
            quote!(allows_scene),
            format!(
                "`scene` filters on a QR-code scene, and `{kind}` events carry none: remove `scene`, or use it with `Subscribe` or `Scan`"
            ),
        ),
        _ => return quote!(),
    };
    let message = syn::LitStr::new(&message, arg.span());
    let check = quote_spanned!(arg.span()=> #krate::__private::#check);
    quote_spanned! {arg.span()=>
        const _: () = if !#check(<__WechatKind as #krate::__private::Payload>::KIND) {
            ::core::panic!(#message)
        };
    }
}

//! Handler panics, logged once and structured.
//!
//! A panicking handler or extractor is contained — its push is answered
//! `success`, the server keeps serving — and logged with the handler's
//! name, the panic message and where it happened. Rust's default panic
//! hook would also print the message (and maybe a backtrace) to stderr,
//! a second, unstructured report of the same event. So the first service
//! built installs a hook that stays quiet for panics inside handler code
//! (recording their location for the log) and hands every other panic to
//! the hook that was there before.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

thread_local! {
    /// Whether this thread is running handler code right now.
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
    /// Where the last contained panic on this thread happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook (once per process).
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_HANDLER.with(Cell::get) {
                let location = info.location().map(|l| l.to_string());
                LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` as handler code: a panic in it is left to the service's log.
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the flag however `f` ends, unwinding included.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_HANDLER.with(|h| h.set(self.0));
        }
    }
    let _restore = Restore(IN_HANDLER.with(|h| h.replace(true)));
    f()
}

/// Where the last panic contained on this thread happened, once.
pub(crate) fn take_location() -> Option<String> {
    LOCATION.with(|l| l.borrow_mut().take())
}

/// `message`, with where the panic happened when the hook recorded it.
pub(crate) fn with_location(message: String) -> String {
    match take_location() {
        Some(location) => format!("{message} (at {location})"),
        None => message,
    }
}

/// A future whose polls are handler code.
pub(crate) struct Quiet<F>(pub(crate) F);

impl<F: Future + Unpin> Future for Quiet<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let inner = &mut self.0;
        quietly(|| Pin::new(inner).poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_code_records_its_panics_location() {
        install_hook();
        let caught = std::panic::catch_unwind(|| quietly(|| panic!("inside")));
        assert!(caught.is_err());
        let location = take_location().expect("recorded");
        assert!(location.contains("panics.rs"), "{location}");
        assert_eq!(take_location(), None, "taken once");
        assert!(!IN_HANDLER.with(Cell::get), "the flag is restored");
    }
}

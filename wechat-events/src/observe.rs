//! What the service tells whoever watches it: the seams where a push's
//! life is observed, for the Prometheus metrics (feature `metrics`) and
//! the live inspector (feature `inspector`).
//!
//! The service and the lifecycle call an [`Observer`] at the few points
//! where something is known for good: a request refused ([`Refused`]), a
//! try answered ([`TryRecord`]), a later try of a push seen
//! ([`Observer::retried`]), a push's outcome settled ([`PushDone`]), a late
//! reply sent on its way ([`LateSent`]). The observer forwards each to the
//! metrics and the inspector the service was built with. Without either
//! feature it holds nothing and every call compiles to nothing.
//!
//! Every label an observation carries is bounded: the account's configured
//! name (a third-party platform's authorizers observe under the platform's
//! name), a catalog kind, a handler's path, one of the enums below —
//! never an OpenID, a key or free text.

// Without either feature the records are made and dropped unread.
#![cfg_attr(not(any(feature = "metrics", feature = "inspector")), allow(dead_code))]

use std::sync::Arc;
use std::time::Duration;

use crate::dedup::Status;
use crate::push::Push;

/// Why a request was refused, as a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// `signature` or `msg_signature` does not match.
    Signature,
    /// `timestamp` outside the replay window.
    Timestamp,
    /// A signed URL replayed (with another body, or after its push was
    /// forgotten).
    Replay,
    /// Missing or malformed parameters, an unreadable or unparsable body.
    BadRequest,
    /// The body is larger than the limit.
    TooLarge,
    /// The body did not arrive in time.
    Timeout,
    /// A plaintext push in secure mode.
    Mode,
    /// The encrypted body could not be decrypted.
    Decrypt,
    /// The push is for another AppID (or an account that did not
    /// authorize the platform).
    Appid,
    /// Neither GET nor POST.
    Method,
}

impl Reason {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::Signature => "signature",
            Reason::Timestamp => "timestamp",
            Reason::Replay => "replay",
            Reason::BadRequest => "bad_request",
            Reason::TooLarge => "too_large",
            Reason::Timeout => "timeout",
            Reason::Mode => "mode",
            Reason::Decrypt => "decrypt",
            Reason::Appid => "appid",
            Reason::Method => "method",
        }
    }
}

/// What a push came to, once per push (the `outcome` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    /// Answered in time with the handler's reply.
    Replied,
    /// Answered `success`: no handler, or it chose not to reply.
    NoReply,
    /// The handler or an extractor failed, or the handler was cancelled.
    Error,
    /// The handler panicked.
    Panic,
    /// Answered with the slow tip; the handler's reply went out late.
    Late,
}

impl PushOutcome {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PushOutcome::Replied => "replied",
            PushOutcome::NoReply => "no_reply",
            PushOutcome::Error => "error",
            PushOutcome::Panic => "panic",
            PushOutcome::Late => "late",
        }
    }

    /// The outcome of a push answered by a finished handler (or none).
    pub(crate) fn of(status: Status) -> Self {
        match status {
            Status::Replied | Status::PendingReply => PushOutcome::Replied,
            Status::Failed | Status::DeadlineExceeded | Status::Abandoned | Status::Refused => {
                PushOutcome::Error
            }
            Status::Panicked => PushOutcome::Panic,
            Status::NoReply | Status::NoHandler => PushOutcome::NoReply,
        }
    }
}

/// How a late reply went out (the `via` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LateVia {
    /// Sent through the customer-service API.
    Api,
    /// Queued for the user's next push.
    Pending,
    /// Handed to the application's late-reply hook.
    Hook,
    /// Not known to have reached the user: the API call timed out, or an
    /// answer was not ready within WeChat's 5 s of its try.
    Dropped,
}

impl LateVia {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LateVia::Api => "api",
            LateVia::Pending => "pending",
            LateVia::Hook => "hook",
            LateVia::Dropped => "dropped",
        }
    }
}

/// A try answered: one per request that passed every check.
#[cfg_attr(not(feature = "inspector"), allow(dead_code))]
pub(crate) struct TryRecord<'a> {
    /// The push.
    pub(crate) push: &'a Arc<Push>,
    /// The push's XML as received, decrypted (empty unless
    /// [`Observer::wants_documents`]).
    pub(crate) xml: &'a str,
    /// The reply XML sent, before encryption; `None`: `success`.
    pub(crate) reply: Option<&'a str>,
    /// The handler's path (its name in the route table).
    pub(crate) handler: Option<&'a str>,
    /// What the try answered.
    pub(crate) status: Status,
    /// WeChat's try (1..=3), by the time since the push's first sighting.
    pub(crate) try_number: u32,
    /// `false`: a retry that followed another try's claim (a dedup hit).
    pub(crate) claimed: bool,
    /// The try was held open for a later try to answer.
    pub(crate) held: bool,
    /// The push came encrypted.
    pub(crate) encrypted: bool,
    /// From the request's arrival to its answer.
    pub(crate) elapsed: Duration,
}

/// A push's outcome, once per push, when it is known: before its try is
/// answered when the handler finishes in time, after it when the reply is
/// late.
#[cfg_attr(not(feature = "inspector"), allow(dead_code))]
pub(crate) struct PushDone<'a> {
    /// The push.
    pub(crate) push: &'a Push,
    /// The handler that ran, if one did.
    pub(crate) handler: Option<&'a str>,
    /// What it came to.
    pub(crate) outcome: PushOutcome,
    /// The handler's run time, if one ran.
    pub(crate) ran_for: Option<Duration>,
}

/// A late reply on its way.
#[cfg_attr(not(feature = "inspector"), allow(dead_code))]
pub(crate) struct LateSent<'a> {
    /// The push it answers.
    pub(crate) push: &'a Push,
    /// The handler that produced it.
    pub(crate) handler: &'a str,
    /// How it went out.
    pub(crate) via: LateVia,
}

/// A request refused.
#[cfg_attr(not(feature = "inspector"), allow(dead_code))]
pub(crate) struct Refused<'a> {
    /// Why.
    pub(crate) reason: Reason,
    /// The HTTP status answered.
    pub(crate) status: u16,
    /// The refusal's text as answered.
    pub(crate) error: &'a str,
    /// The request's method.
    pub(crate) method: &'a str,
    /// The request's path.
    pub(crate) path: &'a str,
    /// At most the body's first [`BODY_HEAD`] bytes, when it was read.
    pub(crate) body_head: Option<&'a [u8]>,
}

/// How much of a refused request's body an observer is shown.
pub(crate) const BODY_HEAD: usize = 200;

/// Where one service's observations go: its account's metrics and the
/// inspector, whichever it was built with.
#[derive(Clone, Default)]
pub(crate) struct Observer {
    /// The account's configured name: every observation's `account`.
    #[cfg(any(feature = "metrics", feature = "inspector"))]
    account: Arc<str>,
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::AccountMetrics>,
    #[cfg(feature = "inspector")]
    inspector: Option<Arc<dyn Inspect>>,
}

/// What the inspector (`crate::inspector`) is told. A trait here rather
/// than its type: the inspector sits above the service (its send form
/// calls it), which tells it through this module.
#[cfg(feature = "inspector")]
pub(crate) trait Inspect: Send + Sync {
    /// A try answered.
    fn on_try(&self, account: &str, record: &TryRecord<'_>);
    /// A push's outcome settled.
    fn on_push_done(&self, account: &str, record: &PushDone<'_>);
    /// A late reply on its way.
    fn on_late(&self, account: &str, record: &LateSent<'_>);
    /// A request refused.
    fn on_refused(&self, account: Option<&str>, record: &Refused<'_>);
}

impl Observer {
    /// An observer for the account `account` (its configured name).
    // Without either feature the observer has no field: the update is
    // the one that fills the fields of those that are.
    #[cfg_attr(
        not(any(feature = "metrics", feature = "inspector")),
        allow(unused_variables, clippy::needless_update)
    )]
    pub(crate) fn new(account: &str) -> Self {
        Observer {
            #[cfg(any(feature = "metrics", feature = "inspector"))]
            account: account.into(),
            ..Observer::default()
        }
    }

    /// Also counts into `metrics`.
    #[cfg(feature = "metrics")]
    pub(crate) fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics.account(&self.account));
        self
    }

    /// Also shows pushes in `inspector`.
    #[cfg(feature = "inspector")]
    pub(crate) fn with_inspector(mut self, inspector: Arc<dyn Inspect>) -> Self {
        self.inspector = Some(inspector);
        self
    }

    /// The metrics of this observer's account, if any.
    #[cfg(feature = "metrics")]
    pub(crate) fn metrics(&self) -> Option<&crate::metrics::AccountMetrics> {
        self.metrics.as_ref()
    }

    /// Whether observations should carry the documents (the received XML,
    /// a refused body's head): only the inspector shows them.
    #[inline]
    pub(crate) fn wants_documents(&self) -> bool {
        #[cfg(feature = "inspector")]
        if self.inspector.is_some() {
            return true;
        }
        false
    }

    /// A request refused.
    #[inline]
    #[cfg_attr(
        not(any(feature = "metrics", feature = "inspector")),
        allow(unused_variables)
    )]
    pub(crate) fn refused(&self, record: &Refused<'_>) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.refused(record.reason.as_str());
        }
        #[cfg(feature = "inspector")]
        if let Some(inspector) = &self.inspector {
            inspector.on_refused(Some(&self.account), record);
        }
    }

    /// A try answered.
    #[inline]
    #[cfg_attr(
        not(any(feature = "metrics", feature = "inspector")),
        allow(unused_variables)
    )]
    pub(crate) fn tried(&self, record: &TryRecord<'_>) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.answered(record.elapsed);
        }
        #[cfg(feature = "inspector")]
        if let Some(inspector) = &self.inspector {
            inspector.on_try(&self.account, record);
        }
    }

    /// A later try of a push seen: one that found the push claimed, held
    /// open (`held`) or answered with what the push came to.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn retried(&self, held: bool) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.retried(held);
        }
    }

    /// A push's outcome settled.
    #[inline]
    #[cfg_attr(
        not(any(feature = "metrics", feature = "inspector")),
        allow(unused_variables)
    )]
    pub(crate) fn push_done(&self, record: &PushDone<'_>) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.push_done(
                record.push.kind_name(),
                record.outcome.as_str(),
                record.handler,
                record.ran_for,
            );
        }
        #[cfg(feature = "inspector")]
        if let Some(inspector) = &self.inspector {
            inspector.on_push_done(&self.account, record);
        }
    }

    /// A reply lost: its push's answer was not ready within WeChat's 5 s
    /// of the try that was to send it (counted as a late reply `dropped`).
    #[inline]
    pub(crate) fn lost(&self) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.late(LateVia::Dropped.as_str());
        }
    }

    /// A late reply on its way (or known not to be).
    #[inline]
    #[cfg_attr(
        not(any(feature = "metrics", feature = "inspector")),
        allow(unused_variables)
    )]
    pub(crate) fn late(&self, record: &LateSent<'_>) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.late(record.via.as_str());
        }
        #[cfg(feature = "inspector")]
        if let Some(inspector) = &self.inspector {
            inspector.on_late(&self.account, record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_of_statuses() {
        assert_eq!(PushOutcome::of(Status::Replied), PushOutcome::Replied);
        assert_eq!(PushOutcome::of(Status::PendingReply), PushOutcome::Replied);
        assert_eq!(PushOutcome::of(Status::NoHandler), PushOutcome::NoReply);
        assert_eq!(PushOutcome::of(Status::NoReply), PushOutcome::NoReply);
        assert_eq!(PushOutcome::of(Status::Failed), PushOutcome::Error);
        assert_eq!(PushOutcome::of(Status::Panicked), PushOutcome::Panic);
    }

    #[test]
    fn label_values_are_the_documented_ones() {
        let reasons = [
            Reason::Signature,
            Reason::Timestamp,
            Reason::Replay,
            Reason::BadRequest,
            Reason::TooLarge,
            Reason::Timeout,
            Reason::Mode,
            Reason::Decrypt,
            Reason::Appid,
            Reason::Method,
        ]
        .map(Reason::as_str);
        assert_eq!(
            reasons,
            [
                "signature",
                "timestamp",
                "replay",
                "bad_request",
                "too_large",
                "timeout",
                "mode",
                "decrypt",
                "appid",
                "method"
            ]
        );
        let via = [
            LateVia::Api,
            LateVia::Pending,
            LateVia::Hook,
            LateVia::Dropped,
        ];
        assert_eq!(
            via.map(LateVia::as_str),
            ["api", "pending", "hook", "dropped"]
        );
    }
}

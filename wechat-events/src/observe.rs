//! SCRATCH (inspector branch): the record types of the lead's observation
//! seam, copied from the brief so the inspector compiles before the seam
//! lands. Replaced by main's `observe.rs` at the merge.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use crate::push::Push;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    Signature,
    Timestamp,
    Replay,
    BadRequest,
    TooLarge,
    Timeout,
    Mode,
    Decrypt,
    Appid,
    Method,
}

impl Reason {
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    Replied,
    NoReply,
    Error,
    Panic,
    Late,
}

impl PushOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PushOutcome::Replied => "replied",
            PushOutcome::NoReply => "no_reply",
            PushOutcome::Error => "error",
            PushOutcome::Panic => "panic",
            PushOutcome::Late => "late",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LateVia {
    Api,
    Pending,
    Hook,
    Dropped,
}

impl LateVia {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LateVia::Api => "api",
            LateVia::Pending => "pending",
            LateVia::Hook => "hook",
            LateVia::Dropped => "dropped",
        }
    }
}

pub(crate) struct TryRecord<'a> {
    pub(crate) push: &'a Arc<Push>,
    pub(crate) xml: &'a str,
    pub(crate) reply: Option<&'a str>,
    pub(crate) handler: Option<&'a str>,
    pub(crate) status: crate::dedup::Status,
    pub(crate) try_number: u32,
    pub(crate) claimed: bool,
    pub(crate) held: bool,
    pub(crate) encrypted: bool,
    pub(crate) elapsed: Duration,
}

pub(crate) struct PushDone<'a> {
    pub(crate) push: &'a Push,
    pub(crate) handler: Option<&'a str>,
    pub(crate) outcome: PushOutcome,
    pub(crate) ran_for: Option<Duration>,
}

pub(crate) struct LateSent<'a> {
    pub(crate) push: &'a Push,
    pub(crate) handler: &'a str,
    pub(crate) via: LateVia,
}

pub(crate) struct Refused<'a> {
    pub(crate) reason: Reason,
    pub(crate) status: u16,
    pub(crate) error: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) body_head: Option<&'a [u8]>,
}

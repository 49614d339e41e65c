//! One validated [`Config`] for the service, built in code or from the
//! environment.
//!
//! Everything is checked when the config is built, so a bad value stops
//! start-up with a message naming the setting (or the environment
//! variable) instead of surfacing as failed pushes later.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::crypto::AesKey;

/// How pushes are encrypted (消息加解密方式), as chosen in the WeChat console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// 明文模式: plaintext pushes; encryption parameters are ignored.
    #[default]
    Plain,
    /// 兼容模式: both plaintext and encrypted pushes are accepted, each answered in kind.
    Compatible,
    /// 安全模式: only encrypted pushes are accepted.
    Secure,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plain" | "plaintext" | "raw" => Ok(Mode::Plain),
            "compatible" | "compat" => Ok(Mode::Compatible),
            "secure" | "safe" | "aes" => Ok(Mode::Secure),
            other => Err(format!(
                "unknown mode {other:?}: expected plain, compatible or secure"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Plain => "plain",
            Mode::Compatible => "compatible",
            Mode::Secure => "secure",
        })
    }
}

/// A setting that failed validation. The message names the setting, and
/// the environment variable when the value came from one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {setting}: {reason}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting or environment variable, e.g. `WECHAT_TOKEN`.
    pub setting: String,
    /// What is wrong and what to write instead.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

/// Default mount path.
pub const DEFAULT_PATH: &str = "/wechat";
/// The name of an account configured alone, from the environment or in
/// code without [`ConfigBuilder::name`].
pub const DEFAULT_ACCOUNT: &str = "default";
/// Longest accepted account name.
pub const MAX_ACCOUNT_NAME_LEN: usize = 32;
/// Default deadline for a handler's reply.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(4);
/// Default time a push's outcome is remembered for retries.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(30);
/// Shortest accepted TTL: WeChat's three tries, 5 s apart.
pub const MIN_DEDUP_TTL: Duration = Duration::from_secs(15);
/// Default de-duplication budget, in units of 1 KiB
/// ([`crate::dedup::BYTES_PER_ENTRY`]): 32 MiB, some 32,000 recent pushes
/// — a thousand pushes a second for the default TTL. Replay bindings
/// are kept for as many signed URLs.
pub const DEFAULT_DEDUP_CAPACITY: u64 = 32_768;
/// Default largest accepted body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Hard upper bound for the body limit.
pub const MAX_BODY_BYTES_LIMIT: usize = 1024 * 1024;
/// Longest accepted TTL (one day): outcomes are kept for retries, and
/// WeChat's retries span 15 s.
pub const MAX_DEDUP_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Largest accepted dedup capacity.
pub const MAX_DEDUP_CAPACITY: u64 = 1_000_000_000;
/// Default number of handlers allowed to keep running past their deadline.
pub const DEFAULT_MAX_BACKGROUND: usize = 256;
/// Largest accepted background limit.
pub const MAX_BACKGROUND_LIMIT: usize = 1_000_000;
/// Default replay window: a `timestamp` further than this from now is refused.
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(300);
/// Widest accepted replay window.
pub const MAX_REPLAY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Default time background handlers get to finish on shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Longest accepted shutdown grace period.
pub const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(600);
/// Default number of WeChat's tries held open while a slow handler runs.
pub const DEFAULT_WAIT_RETRIES: u8 = 2;
/// Default time a handler may run, from the push's first sighting, before
/// it is cancelled ([`Config::handler_timeout`]).
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(120);
/// The bytes of a typical finished dedup entry (a text echo with its
/// handler's name and the fixed overhead): what the dedup capacity's
/// documented push rate, and so [`Config::binding_capacity`], assume.
pub const TYPICAL_DEDUP_ENTRY_BYTES: u64 = 700;
/// Longest handler time-out accepted (one hour).
pub const MAX_HANDLER_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Narrowest replay window accepted: WeChat's retries carry their first
/// try's `timestamp` for about 15 s, plus clock skew either way.
pub const MIN_REPLAY_WINDOW: Duration = Duration::from_secs(30);
/// Most tries that can be held: WeChat makes three, the last must answer.
pub const MAX_WAIT_RETRIES: u8 = 2;
/// Default time a pending reply waits for its user's next push.
pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(600);
/// Longest accepted pending-reply TTL.
pub const MAX_PENDING_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest accepted continue keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 32;
/// Longest accepted part hint, in bytes of UTF-8: a hint ends every part
/// of a long reply, inside WeChat's 2047 bytes.
pub const MAX_HINT_BYTES: usize = 256;
/// WeChat gives up on an answer after this long.
pub const WECHAT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default first part of every Redis key (see [`ConfigBuilder::redis_prefix`]).
pub const DEFAULT_REDIS_PREFIX: &str = "wechat";
/// Longest accepted Redis key prefix.
pub const MAX_REDIS_PREFIX_LEN: usize = 64;
/// Default life of a user's session after its last use.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest accepted session TTL (30 days).
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The secure-mode settings (消息加解密): the AppID sealed into every
/// encrypted push and the EncodingAESKeys. A config in secure or
/// compatible mode always has them; a plaintext one never does.
#[derive(Clone)]
pub struct Keys {
    appid: String,
    current: AesKey,
    previous: Option<AesKey>,
}

impl Keys {
    /// The AppID encrypted pushes must carry.
    pub fn appid(&self) -> &str {
        &self.appid
    }
    /// The current EncodingAESKey.
    pub fn current(&self) -> &AesKey {
        &self.current
    }
    /// The previous EncodingAESKey, during a rotation.
    pub fn previous(&self) -> Option<&AesKey> {
        self.previous.as_ref()
    }
    /// The keys to try on a push, current first.
    pub fn all(&self) -> impl Iterator<Item = &AesKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("appid", &self.appid)
            .field("current", &"<redacted>")
            .field("previous", &self.previous.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The mode with what it needs: keys exist exactly when they are used.
#[derive(Clone, Debug)]
pub(crate) enum Crypto {
    Plain,
    Compatible(Keys),
    Secure(Keys),
}

/// The service's settings. Build with [`Config::builder`] or [`Config::from_env`].
///
/// ```
/// use std::time::Duration;
/// use wechat_events::{Config, Mode};
/// let config = Config::builder("mytoken")
///     .path("/wx")
///     .deadline(Duration::from_millis(3000))
///     .build()
///     .unwrap();
/// assert_eq!(config.mode(), Mode::Plain);
/// assert_eq!(config.path(), "/wx");
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) name: String,
    /// What the stores key the account's entries by, when not its AppID
    /// or name: a third-party platform's authorizer's AppID.
    pub(crate) stored_as: Option<String>,
    pub(crate) token: String,
    pub(crate) appid: Option<String>,
    pub(crate) crypto: Crypto,
    pub(crate) path: String,
    pub(crate) deadline: Duration,
    pub(crate) dedup_ttl: Duration,
    pub(crate) dedup_capacity: u64,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_background: usize,
    pub(crate) handler_timeout: Duration,
    pub(crate) replay_window: Option<Duration>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) redis_url: Option<String>,
    pub(crate) redis_prefix: String,
    pub(crate) session_ttl: Duration,
    pub(crate) wait_retries: u8,
    pub(crate) slow_tip: Option<String>,
    pub(crate) pending_ttl: Duration,
    pub(crate) continue_keyword: String,
    pub(crate) continue_hint: String,
    pub(crate) api_part_hint: String,
    pub(crate) appsecret: Option<String>,
    pub(crate) api_base: Option<String>,
    pub(crate) state_dir: Option<PathBuf>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("appid", &self.appid)
            .field("crypto", &self.crypto)
            .field("path", &self.path)
            .field("deadline", &self.deadline)
            .field("dedup_ttl", &self.dedup_ttl)
            .field("dedup_capacity", &self.dedup_capacity)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_background", &self.max_background)
            .field("handler_timeout", &self.handler_timeout)
            .field("replay_window", &self.replay_window)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("session_ttl", &self.session_ttl)
            .field("wait_retries", &self.wait_retries)
            .field("slow_tip", &self.slow_tip)
            .field("pending_ttl", &self.pending_ttl)
            .field("continue_keyword", &self.continue_keyword)
            .field("continue_hint", &self.continue_hint)
            .field("api_part_hint", &self.api_part_hint)
            .field("appsecret", &self.appsecret.as_ref().map(|_| "<redacted>"))
            .field("api_base", &self.api_base.as_deref().map(redact_url))
            .field("state_dir", &self.state_dir)
            .finish()
    }
}

impl Config {
    /// Starts a config with the token set in the WeChat console.
    pub fn builder(token: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder {
            name: DEFAULT_ACCOUNT.to_owned(),
            token: token.into(),
            appid: None,
            aes_key: None,
            prev_aes_key: None,
            mode: None,
            path: DEFAULT_PATH.to_owned(),
            deadline: DEFAULT_DEADLINE,
            dedup_ttl: DEFAULT_DEDUP_TTL,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_background: DEFAULT_MAX_BACKGROUND,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            replay_window: Some(DEFAULT_REPLAY_WINDOW),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            redis_url: None,
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            session_ttl: DEFAULT_SESSION_TTL,
            wait_retries: DEFAULT_WAIT_RETRIES,
            slow_tip: None,
            pending_ttl: DEFAULT_PENDING_TTL,
            continue_keyword: crate::split::DEFAULT_CONTINUE_KEYWORD.to_owned(),
            continue_hint: crate::split::DEFAULT_CONTINUE_HINT.to_owned(),
            api_part_hint: String::new(),
            appsecret: None,
            api_base: None,
            state_dir: None,
            names: Names::code(),
        }
    }

    /// Reads the config from the environment:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `WECHAT_TOKEN` | token (required) | — |
    /// | `WECHAT_APPID` | AppID (required for secure/compatible) | — |
    /// | `WECHAT_AES_KEY` | EncodingAESKey, 43 characters | — |
    /// | `WECHAT_PREV_AES_KEY` | the previous EncodingAESKey, during rotation | — |
    /// | `WECHAT_MODE` | `plain`, `compatible` or `secure` | `secure` with a key, else `plain` |
    /// | `WECHAT_PATH` | mount path | `/wechat` |
    /// | `WECHAT_DEADLINE_MS` | reply deadline, ms | `4000` |
    /// | `WECHAT_DEDUP_TTL_S` | how long outcomes are kept for retries, s (15–86400) | `30` |
    /// | `WECHAT_DEDUP_CAPACITY` | memory for remembered outcomes, in KiB (also the number of replay bindings kept) | `32768` |
    /// | `WECHAT_MAX_BODY_BYTES` | largest body accepted | `65536` |
    /// | `WECHAT_MAX_BACKGROUND` | handlers allowed to run on past their deadline (1–1000000) | `256` |
    /// | `WECHAT_REPLAY_WINDOW_S` | how far a `timestamp` may be from now, s (1–86400; `0` = off) | `300` |
    /// | `WECHAT_SHUTDOWN_GRACE_S` | time background handlers get on shutdown, s (0–600) | `10` |
    /// | `WECHAT_REDIS_URL` | Redis shared by every instance (`redis://[:password@]host:port[/db]`); needs the `redis` feature | — (in-memory stores) |
    /// | `WECHAT_REDIS_PREFIX` | first part of every Redis key (1–64 characters, no spaces or braces) | `wechat` |
    /// | `WECHAT_SESSION_TTL_S` | how long a user's session lives after its last use, s (1–2592000) | `86400` |
    /// | `WECHAT_WAIT_RETRIES` | WeChat tries held open while a slow handler runs (0–2) | `2` |
    /// | `WECHAT_SLOW_TIP` | text answering a push whose handler outlived its tries (at most 2047 bytes) | `success` (nothing shown) |
    /// | `WECHAT_PENDING_TTL_S` | how long a late reply waits for the user's next push, s (1–86400) | `600` |
    /// | `WECHAT_CONTINUE_KEYWORD` | the message asking for the next part of a long reply (1–32 characters) | `继续` |
    /// | `WECHAT_CONTINUE_HINT` | ends each part of a long reply while the rest waits for the user (at most 256 bytes) | `(未完，回复「继续」查看后续)` |
    /// | `WECHAT_API_PART_HINT` | ends each part of a long reply the customer-service API sends on (at most 256 bytes) | — (none) |
    /// | `WECHAT_APPSECRET` | AppSecret: late replies go through the customer-service API (needs `WECHAT_APPID` and the `api` feature) | — |
    /// | `WECHAT_API_BASE` | the WeChat API's base URL (a proxy or a stand-in) | `https://api.weixin.qq.com` |
    /// | `WECHAT_STATE_DIR` | directory where pending replies and sessions survive a restart (without Redis); needs the `state` feature | — (in memory) |
    ///
    /// Empty variables count as unset.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], reading variables through `lookup`
    /// (for tests and other configuration sources).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let token = get("WECHAT_TOKEN").ok_or_else(|| {
            ConfigError::new(
                "WECHAT_TOKEN",
                "is not set; use the token from the WeChat console",
            )
        })?;
        let mut b = Config::builder(token);
        b.names = Names::env();
        b.appid = get("WECHAT_APPID");
        b.aes_key = get("WECHAT_AES_KEY");
        b.prev_aes_key = get("WECHAT_PREV_AES_KEY");
        if let Some(mode) = get("WECHAT_MODE") {
            b.mode = Some(
                mode.parse()
                    .map_err(|e| ConfigError::new("WECHAT_MODE", e))?,
            );
        }
        if let Some(path) = get("WECHAT_PATH") {
            b.path = path;
        }
        b.appsecret = get("WECHAT_APPSECRET");
        b.env_settings(&get)?.build()
    }

    /// The account's name: `default` unless given one
    /// ([`ConfigBuilder::name`], or `name` in the accounts file).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What the account's entries in a shared store (Redis, the state
    /// directory) are keyed by: its AppID where it has one, else its
    /// name — so a single account's keys are those it had before
    /// accounts had names (`default` or the AppID).
    pub fn store_account(&self) -> &str {
        match &self.stored_as {
            Some(account) => account,
            None => self.appid().unwrap_or(&self.name),
        }
    }

    /// This config, its stores' entries keyed by `account` (a third-party
    /// platform's authorizer's AppID).
    #[cfg(feature = "api")]
    pub(crate) fn stored_as(mut self, account: &str) -> Config {
        self.stored_as = Some(account.to_owned());
        self
    }
    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }
    /// The AppID, if set.
    pub fn appid(&self) -> Option<&str> {
        self.appid.as_deref()
    }
    /// The encryption mode.
    pub fn mode(&self) -> Mode {
        match self.crypto {
            Crypto::Plain => Mode::Plain,
            Crypto::Compatible(_) => Mode::Compatible,
            Crypto::Secure(_) => Mode::Secure,
        }
    }
    /// The AppID and EncodingAESKeys: `Some` exactly in secure and
    /// compatible mode.
    pub fn keys(&self) -> Option<&Keys> {
        match &self.crypto {
            Crypto::Plain => None,
            Crypto::Compatible(keys) | Crypto::Secure(keys) => Some(keys),
        }
    }
    /// The mount path.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// How long a handler has to produce a reply.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }
    /// How long a push's outcome is remembered for WeChat's retries.
    pub fn dedup_ttl(&self) -> Duration {
        self.dedup_ttl
    }
    /// How many outcomes are remembered.
    pub fn dedup_capacity(&self) -> u64 {
        self.dedup_capacity
    }
    /// The largest body accepted.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }
    /// How many handlers may keep running past their deadline.
    pub fn max_background(&self) -> usize {
        self.max_background
    }
    /// How many replay bindings the in-memory binding store keeps: enough
    /// for the replay window (twice over: a timestamp is good either side
    /// of now) at the push rate the dedup capacity is sized for
    /// (`dedup_capacity` typical entries per `dedup_ttl`, a typical entry
    /// being a text echo of [`TYPICAL_DEDUP_ENTRY_BYTES`]), independently
    /// of the dedup store's own bytes: a binding pushed out early would let
    /// its URL carry a second body, or a forgotten push run again. Memory
    /// is taken only as pushes come (about 200 bytes a binding): with the
    /// defaults, at most ~960,000 bindings, ~190 MB, at a sustained
    /// ~1,600 pushes a second.
    ///
    /// ```
    /// let config = wechat_events::Config::builder("token").build().unwrap();
    /// assert_eq!(config.binding_capacity(), 958_680);
    /// ```
    pub fn binding_capacity(&self) -> u64 {
        let Some(window) = self.replay_window else {
            return 0;
        };
        let entries = self
            .dedup_capacity
            .saturating_mul(crate::dedup::BYTES_PER_ENTRY)
            / TYPICAL_DEDUP_ENTRY_BYTES;
        let per_second = entries as f64 / self.dedup_ttl.as_secs_f64();
        (per_second * 2.0 * window.as_secs_f64()).ceil().max(1.0) as u64
    }
    /// How long a handler may run, counted from the push's first sighting,
    /// before it is cancelled (and logged): a hung handler cannot keep its
    /// place in the background limit, nor hold up a shutdown, forever.
    pub fn handler_timeout(&self) -> Duration {
        self.handler_timeout
    }
    /// How far a request's `timestamp` may be from now; `None` when replay
    /// protection is off.
    pub fn replay_window(&self) -> Option<Duration> {
        self.replay_window
    }
    /// How long background handlers get to finish on shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }
    /// How many of WeChat's tries are held open while a slow handler runs
    /// (0–2); the next try answers by its deadline.
    pub fn wait_retries(&self) -> u8 {
        self.wait_retries
    }
    /// The text answering a push whose handler outlived its tries; `None`
    /// answers `success`.
    pub fn slow_tip(&self) -> Option<&str> {
        self.slow_tip.as_deref()
    }
    /// How long a late reply waits for its user's next push.
    pub fn pending_ttl(&self) -> Duration {
        self.pending_ttl
    }
    /// The message that asks for the next part of a long reply (default
    /// `继续`): while one waits, it is answered with that part only.
    pub fn continue_keyword(&self) -> &str {
        &self.continue_keyword
    }
    /// Ends each part of a long reply while the rest waits for the user's
    /// next push (default [`DEFAULT_CONTINUE_HINT`](crate::split::DEFAULT_CONTINUE_HINT)).
    pub fn continue_hint(&self) -> &str {
        &self.continue_hint
    }
    /// Ends each part of a long reply that the customer-service API
    /// follows with the next (default: nothing).
    pub fn api_part_hint(&self) -> &str {
        &self.api_part_hint
    }
    /// The AppSecret, when late replies go through the customer-service
    /// API.
    pub fn appsecret(&self) -> Option<&str> {
        self.appsecret.as_deref()
    }
    /// The WeChat API's base URL, when not the default.
    pub fn api_base(&self) -> Option<&str> {
        self.api_base.as_deref()
    }
    /// The Redis every instance shares, if set (it may hold a password:
    /// keep it out of logs).
    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url.as_deref()
    }
    /// The first part of every Redis key.
    pub fn redis_prefix(&self) -> &str {
        &self.redis_prefix
    }
    /// How long a user's session lives after its last use.
    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }
    /// The directory where pending replies and sessions survive a
    /// restart, if set (unused when Redis is configured).
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }
}

/// Query parameters whose value [`redact_url`] hides: `unix://` Redis
/// URLs carry their password as `?pass=`.
const SECRET_PARAMS: [&str; 7] = [
    "pass",
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "access_token",
];

/// `url` with its password (if any) replaced by `***`, for logs: the
/// password of `scheme://user:password@host` (a user name without a
/// password is hidden too, in case it is a password written in the wrong
/// place), and the value of a `pass`, `password`, `secret`, `token` (and a
/// few alike) query parameter, as `unix:///run/redis.sock?pass=…` has it. A
/// string that does not parse as a URL is not shown at all.
///
/// ```
/// use wechat_events::config::redact_url;
/// assert_eq!(redact_url("redis://:hunter2@10.0.0.1:6379/0"), "redis://:***@10.0.0.1:6379/0");
/// assert_eq!(redact_url("redis://app:hunter2@10.0.0.1"), "redis://app:***@10.0.0.1");
/// assert_eq!(redact_url("unix:///run/redis.sock?db=1&pass=hunter2"), "unix:///run/redis.sock?db=1&pass=***");
/// assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// ```
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url.trim()) else {
        return "<not a URL>".to_owned();
    };
    if parsed.password().is_some() {
        // Fails only for URLs that cannot have credentials.
        let _ = parsed.set_password(Some("***"));
    } else if !parsed.username().is_empty() {
        let _ = parsed.set_username("***");
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s));
                let v = if secret { "***".into() } else { v };
                (k.into_owned(), v.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Why `name` cannot be an account's name, in words.
pub(crate) fn check_account_name(name: &str) -> Result<(), String> {
    let fine = !name.is_empty()
        && name.len() <= MAX_ACCOUNT_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an account name: write 1 to 32 letters, digits, '_' or '-'"
        ))
    }
}

/// Why `url` cannot be a Redis URL, in words.
fn check_redis_url(url: &str) -> Result<(), String> {
    #[cfg(feature = "redis")]
    {
        ::redis::Client::open(url).map(drop).map_err(|e| {
            format!(
                "{:?} is not a Redis URL this build can use: {e}",
                redact_url(url)
            )
        })
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err(
            "is set, but wechat-events was built without its `redis` feature: enable it \
             (features = [\"redis\"]) or unset the variable"
                .to_owned(),
        )
    }
}

/// Why `dir` cannot be the state directory, in words. It need not exist
/// yet (the service creates it), but what exists of it must be a
/// directory.
fn check_state_dir(dir: &Path) -> Result<(), String> {
    if !cfg!(feature = "state") {
        return Err(
            "is set, but wechat-events was built without its `state` feature: enable it \
             (features = [\"state\"]) or unset the variable"
                .to_owned(),
        );
    }
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} exists and is not a directory", dir.display())),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            // The nearest ancestor that exists must be a directory.
            match dir
                .ancestors()
                .skip(1)
                .find(|a| a.exists() || a.as_os_str().is_empty())
            {
                Some(a) if a.as_os_str().is_empty() || a.is_dir() => Ok(()),
                Some(a) => Err(format!(
                    "{} cannot be created: {} is not a directory",
                    dir.display(),
                    a.display()
                )),
                None => Ok(()),
            }
        }
        Err(e) => Err(format!("{} cannot be read: {e}", dir.display())),
    }
}

/// The account's identity among [`Config::from_env`]'s variables: with an
/// accounts file (`WECHAT_CONFIG`), each account's identity is written in
/// the file, and these variables stop start-up. The others give the
/// defaults of every account.
pub const IDENTITY_VARS: [&str; 7] = [
    "WECHAT_TOKEN",
    "WECHAT_APPID",
    "WECHAT_AES_KEY",
    "WECHAT_PREV_AES_KEY",
    "WECHAT_APPSECRET",
    "WECHAT_PATH",
    "WECHAT_MODE",
];

/// The names settings are reported under: builder methods, env variables
/// or the accounts file's keys.
#[derive(Clone, Copy)]
pub(crate) struct Names {
    name: &'static str,
    token: &'static str,
    appid: &'static str,
    aes_key: &'static str,
    prev_aes_key: &'static str,
    path: &'static str,
    deadline: &'static str,
    dedup_ttl: &'static str,
    dedup_capacity: &'static str,
    max_body_bytes: &'static str,
    max_background: &'static str,
    handler_timeout: &'static str,
    replay_window: &'static str,
    shutdown_grace: &'static str,
    redis_url: &'static str,
    redis_prefix: &'static str,
    session_ttl: &'static str,
    wait_retries: &'static str,
    pending_ttl: &'static str,
    appsecret: &'static str,
    state_dir: &'static str,
    slow_tip: &'static str,
    continue_keyword: &'static str,
    continue_hint: &'static str,
    api_part_hint: &'static str,
}

impl Names {
    fn code() -> Self {
        Names {
            name: "name",
            token: "token",
            appid: "appid",
            aes_key: "aes_key",
            prev_aes_key: "prev_aes_key",
            path: "path",
            deadline: "deadline",
            dedup_ttl: "dedup_ttl",
            dedup_capacity: "dedup_capacity",
            max_body_bytes: "max_body_bytes",
            max_background: "max_background",
            handler_timeout: "handler_timeout",
            replay_window: "replay_window",
            shutdown_grace: "shutdown_grace",
            redis_url: "redis_url",
            redis_prefix: "redis_prefix",
            session_ttl: "session_ttl",
            wait_retries: "wait_retries",
            pending_ttl: "pending_ttl",
            appsecret: "appsecret",
            state_dir: "state_dir",
            slow_tip: "slow_tip",
            continue_keyword: "continue_keyword",
            continue_hint: "continue_hint",
            api_part_hint: "api_part_hint",
        }
    }
    /// The keys of the accounts file ([`crate::accounts`]); the server's
    /// are under `server.`.
    pub(crate) fn file() -> Self {
        Names {
            name: "name",
            token: "token",
            appid: "appid",
            aes_key: "aes_key",
            prev_aes_key: "prev_aes_key",
            path: "path",
            deadline: "deadline_ms",
            dedup_ttl: "dedup_ttl_s",
            dedup_capacity: "dedup_capacity",
            max_body_bytes: "server.max_body_bytes",
            max_background: "server.max_background",
            handler_timeout: "handler_timeout_s",
            replay_window: "replay_window_s",
            shutdown_grace: "server.shutdown_grace_s",
            redis_url: "server.redis_url",
            redis_prefix: "server.redis_prefix",
            session_ttl: "session_ttl_s",
            wait_retries: "wait_retries",
            pending_ttl: "pending_ttl_s",
            appsecret: "app_secret",
            state_dir: "server.state_dir",
            slow_tip: "slow_tip",
            continue_keyword: "continue_keyword",
            continue_hint: "continue_hint",
            api_part_hint: "api_part_hint",
        }
    }

    pub(crate) fn env() -> Self {
        Names {
            name: "name",
            token: "WECHAT_TOKEN",
            appid: "WECHAT_APPID",
            aes_key: "WECHAT_AES_KEY",
            prev_aes_key: "WECHAT_PREV_AES_KEY",
            path: "WECHAT_PATH",
            deadline: "WECHAT_DEADLINE_MS",
            dedup_ttl: "WECHAT_DEDUP_TTL_S",
            dedup_capacity: "WECHAT_DEDUP_CAPACITY",
            max_body_bytes: "WECHAT_MAX_BODY_BYTES",
            max_background: "WECHAT_MAX_BACKGROUND",
            handler_timeout: "WECHAT_HANDLER_TIMEOUT_S",
            replay_window: "WECHAT_REPLAY_WINDOW_S",
            shutdown_grace: "WECHAT_SHUTDOWN_GRACE_S",
            redis_url: "WECHAT_REDIS_URL",
            redis_prefix: "WECHAT_REDIS_PREFIX",
            session_ttl: "WECHAT_SESSION_TTL_S",
            wait_retries: "WECHAT_WAIT_RETRIES",
            pending_ttl: "WECHAT_PENDING_TTL_S",
            appsecret: "WECHAT_APPSECRET",
            state_dir: "WECHAT_STATE_DIR",
            slow_tip: "WECHAT_SLOW_TIP",
            continue_keyword: "WECHAT_CONTINUE_KEYWORD",
            continue_hint: "WECHAT_CONTINUE_HINT",
            api_part_hint: "WECHAT_API_PART_HINT",
        }
    }
}

/// Builder for [`Config`]; see [`Config::builder`].
#[derive(Clone)]
pub struct ConfigBuilder {
    name: String,
    token: String,
    appid: Option<String>,
    aes_key: Option<String>,
    prev_aes_key: Option<String>,
    mode: Option<Mode>,
    path: String,
    deadline: Duration,
    dedup_ttl: Duration,
    dedup_capacity: u64,
    max_body_bytes: usize,
    max_background: usize,
    handler_timeout: Duration,
    replay_window: Option<Duration>,
    shutdown_grace: Duration,
    redis_url: Option<String>,
    redis_prefix: String,
    session_ttl: Duration,
    wait_retries: u8,
    slow_tip: Option<String>,
    pending_ttl: Duration,
    continue_keyword: String,
    continue_hint: String,
    api_part_hint: String,
    appsecret: Option<String>,
    api_base: Option<String>,
    state_dir: Option<PathBuf>,
    names: Names,
}

impl ConfigBuilder {
    /// The account's name (default `default`): 1 to 32 letters, digits,
    /// `_` or `-`. It tells the accounts of one server apart — in logs,
    /// in [`Context::account_name`](crate::Context::account_name), in the
    /// handlers' `account = "..."` scopes, and in the stores' keys when
    /// the account has no AppID.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// The AppID (checked against encrypted pushes).
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = Some(appid.into());
        self
    }
    /// The EncodingAESKey (43 characters). Setting it makes `secure` the default mode.
    pub fn aes_key(mut self, key: impl Into<String>) -> Self {
        self.aes_key = Some(key.into());
        self
    }
    /// The previous EncodingAESKey, tried when the current one cannot decrypt a push.
    pub fn prev_aes_key(mut self, key: impl Into<String>) -> Self {
        self.prev_aes_key = Some(key.into());
        self
    }
    /// The encryption mode (default: `secure` when a key is set, else `plain`).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }
    /// The mount path (default `/wechat`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    /// How long a try that must answer waits for the handler's reply
    /// before answering without it (default 4 s; must be under WeChat's
    /// 5 s). Tries held open ([`ConfigBuilder::wait_retries`]) wait
    /// longer.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }
    /// How long outcomes are kept for retries (default 30 s, at least 15 s).
    pub fn dedup_ttl(mut self, ttl: Duration) -> Self {
        self.dedup_ttl = ttl;
        self
    }
    /// How much memory remembered outcomes take, in units of 1 KiB
    /// (default 32 768, 32 MiB: about as many typical pushes); also how
    /// many replay bindings are kept. Size it for your peak pushes per
    /// TTL: an outcome evicted early lets a late retry run its handler
    /// again.
    pub fn dedup_capacity(mut self, capacity: u64) -> Self {
        self.dedup_capacity = capacity;
        self
    }
    /// The largest body accepted, in bytes (default 64 KiB, at most 1 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
    /// How many handlers may keep running past their deadline (default 256).
    pub fn max_background(mut self, n: usize) -> Self {
        self.max_background = n;
        self
    }
    /// How long a handler may run, from the push's first sighting, before
    /// it is cancelled and logged (default 120 s; at least WeChat's tries'
    /// span, `(wait_retries + 1) × 5 s`, at most an hour).
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }
    /// How far a request's `timestamp` may be from now, either way
    /// (default 300 s, at least 30 s; `None` turns replay protection off,
    /// e.g. to replay recorded pushes). See [`crate::replay`].
    pub fn replay_window(mut self, window: Option<Duration>) -> Self {
        self.replay_window = window;
        self
    }
    /// How long background handlers get to finish when the server shuts
    /// down (default 10 s); see [`WechatService::drain`](crate::WechatService::drain).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }
    /// How many of WeChat's tries are held open while a slow handler
    /// runs (default 2, at most 2). WeChat hangs up each try after 5 s
    /// and tries again, three times in all: holding the first two gives a
    /// handler about 15 s; the last try held answers by its deadline. With
    /// 0, the first try answers by its deadline.
    pub fn wait_retries(mut self, n: u8) -> Self {
        self.wait_retries = n;
        self
    }
    /// The text answering a push whose handler outlived every try it
    /// could hold (e.g. "正在处理，请稍候"); its reply is delivered later.
    /// Default: `success`, the user sees nothing until then.
    pub fn slow_tip(mut self, tip: impl Into<String>) -> Self {
        self.slow_tip = Some(tip.into());
        self
    }
    /// How long a late reply waits for its user's next push (default
    /// 600 s; the user never sees an older one).
    pub fn pending_ttl(mut self, ttl: Duration) -> Self {
        self.pending_ttl = ttl;
        self
    }
    /// The message that asks for the next part of a long reply (default
    /// `继续`; compared with the user's text trimmed). While the rest of a
    /// long reply waits, this message is answered with its next part only.
    pub fn continue_keyword(mut self, keyword: impl Into<String>) -> Self {
        self.continue_keyword = keyword.into();
        self
    }
    /// Ends each part of a long reply while the rest waits for the user
    /// (default `(未完，回复「继续」查看后续)`; at most 256 bytes, counted
    /// inside the part's 2047). Say the keyword in it when you change that.
    pub fn continue_hint(mut self, hint: impl Into<String>) -> Self {
        self.continue_hint = hint.into();
        self
    }
    /// Ends each part of a long reply that the customer-service API
    /// follows with the next one at once (default: nothing).
    pub fn api_part_hint(mut self, hint: impl Into<String>) -> Self {
        self.api_part_hint = hint.into();
        self
    }
    /// The AppSecret: late replies are then sent through the
    /// customer-service message API (needs the AppID and the `api`
    /// feature) instead of waiting for the user's next push.
    pub fn appsecret(mut self, secret: impl Into<String>) -> Self {
        self.appsecret = Some(secret.into());
        self
    }
    /// The WeChat API's base URL (default `https://api.weixin.qq.com`):
    /// a proxy, or a stand-in in tests.
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = Some(base.into());
        self
    }
    /// The Redis every instance of the bot shares (`redis://host:6379`,
    /// `redis://:password@host:6379/2`, `unix:///run/redis.sock`): the
    /// retry de-duplication, replay bindings, sessions and pending replies
    /// live there (see the `redis` module; needs the `redis` feature).
    /// Default: none, every store in memory.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }
    /// The first part of every Redis key (default `wechat`), so that
    /// several bots, or environments, can share one Redis.
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_prefix = prefix.into();
        self
    }
    /// How long a user's [`Session`](crate::session::Session) lives after
    /// its last use (default one day, at most 30 days).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }
    /// A directory of the bot's own where pending replies and sessions
    /// survive a restart, in one embedded database file (see the `state`
    /// module; needs the `state` feature). Created when the service is
    /// built if missing. Unused when Redis is configured, which holds
    /// them instead. Default: none, both in memory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Sets every server and behaviour setting an environment variable
    /// gives (through `get`, which has dropped empty values): all of
    /// [`Config::from_env`]'s variables but the account's identity
    /// ([`IDENTITY_VARS`]). An unparsable number names its variable.
    pub(crate) fn env_settings(
        mut self,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        fn num<T: FromStr>(
            get: &dyn Fn(&str) -> Option<String>,
            name: &str,
        ) -> Result<Option<T>, ConfigError>
        where
            T::Err: fmt::Display,
        {
            get(name)
                .map(|v| {
                    v.trim().parse::<T>().map_err(|e| {
                        ConfigError::new(name, format!("{v:?} is not a valid number: {e}"))
                    })
                })
                .transpose()
        }
        let secs =
            |name: &str| Ok::<_, ConfigError>(num::<u64>(get, name)?.map(Duration::from_secs));
        if let Some(ms) = num::<u64>(get, "WECHAT_DEADLINE_MS")? {
            self.deadline = Duration::from_millis(ms);
        }
        if let Some(ttl) = secs("WECHAT_DEDUP_TTL_S")? {
            self.dedup_ttl = ttl;
        }
        if let Some(n) = num(get, "WECHAT_DEDUP_CAPACITY")? {
            self.dedup_capacity = n;
        }
        if let Some(n) = num(get, "WECHAT_MAX_BODY_BYTES")? {
            self.max_body_bytes = n;
        }
        if let Some(n) = num(get, "WECHAT_MAX_BACKGROUND")? {
            self.max_background = n;
        }
        if let Some(timeout) = secs("WECHAT_HANDLER_TIMEOUT_S")? {
            self.handler_timeout = timeout;
        }
        if let Some(window) = secs("WECHAT_REPLAY_WINDOW_S")? {
            self.replay_window = (!window.is_zero()).then_some(window);
        }
        if let Some(grace) = secs("WECHAT_SHUTDOWN_GRACE_S")? {
            self.shutdown_grace = grace;
        }
        if let Some(url) = get("WECHAT_REDIS_URL") {
            self.redis_url = Some(url);
        }
        if let Some(prefix) = get("WECHAT_REDIS_PREFIX") {
            self.redis_prefix = prefix;
        }
        if let Some(ttl) = secs("WECHAT_SESSION_TTL_S")? {
            self.session_ttl = ttl;
        }
        if let Some(n) = num(get, "WECHAT_WAIT_RETRIES")? {
            self.wait_retries = n;
        }
        if let Some(tip) = get("WECHAT_SLOW_TIP") {
            self.slow_tip = Some(tip);
        }
        if let Some(ttl) = secs("WECHAT_PENDING_TTL_S")? {
            self.pending_ttl = ttl;
        }
        if let Some(keyword) = get("WECHAT_CONTINUE_KEYWORD") {
            self.continue_keyword = keyword;
        }
        if let Some(hint) = get("WECHAT_CONTINUE_HINT") {
            self.continue_hint = hint;
        }
        if let Some(hint) = get("WECHAT_API_PART_HINT") {
            self.api_part_hint = hint;
        }
        if let Some(base) = get("WECHAT_API_BASE") {
            self.api_base = Some(base);
        }
        if let Some(dir) = get("WECHAT_STATE_DIR") {
            self.state_dir = Some(PathBuf::from(dir));
        }
        Ok(self)
    }

    /// Reports the settings' errors under the names `names` gives.
    pub(crate) fn reported_as(mut self, names: Names) -> Self {
        self.names = names;
        self
    }

    /// Validates and builds the config.
    pub fn build(self) -> Result<Config, ConfigError> {
        let n = self.names;
        check_account_name(&self.name).map_err(|reason| ConfigError::new(n.name, reason))?;
        let token = self.token.trim().to_owned();
        if !(3..=32).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(
                n.token,
                "must be 3 to 32 letters or digits, as the WeChat console requires",
            ));
        }
        let key = |name: &str, value: Option<String>| {
            value
                .map(|v| {
                    AesKey::from_encoding_aes_key(v.trim())
                        .map_err(|e| ConfigError::new(name, e.to_string()))
                })
                .transpose()
        };
        let aes_key = key(n.aes_key, self.aes_key)?;
        let prev_aes_key = key(n.prev_aes_key, self.prev_aes_key)?;
        let mode = self.mode.unwrap_or(if aes_key.is_some() {
            Mode::Secure
        } else {
            Mode::Plain
        });
        let appid = self
            .appid
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        if prev_aes_key.is_some() && aes_key.is_none() {
            return Err(ConfigError::new(
                n.prev_aes_key,
                format!("is set but {} is not", n.aes_key),
            ));
        }
        let keys = || -> Result<Keys, ConfigError> {
            let required =
                |name: &str| ConfigError::new(name, format!("is required in {mode} mode"));
            Ok(Keys {
                current: aes_key.clone().ok_or_else(|| required(n.aes_key))?,
                appid: appid.clone().ok_or_else(|| required(n.appid))?,
                previous: prev_aes_key.clone(),
            })
        };
        let crypto = match mode {
            Mode::Plain => Crypto::Plain,
            Mode::Compatible => Crypto::Compatible(keys()?),
            Mode::Secure => Crypto::Secure(keys()?),
        };
        if !self.path.starts_with('/') {
            return Err(ConfigError::new(
                n.path,
                format!("{:?} must start with '/'", self.path),
            ));
        }
        if self.deadline.is_zero() || self.deadline >= WECHAT_TIMEOUT {
            return Err(ConfigError::new(
                n.deadline,
                "must be more than 0 and less than WeChat's 5 s timeout",
            ));
        }
        if self.dedup_ttl < MIN_DEDUP_TTL {
            return Err(ConfigError::new(
                n.dedup_ttl,
                "must be at least 15 s: WeChat's three tries span about 15 s, and a retry \
                 arriving after its outcome expired would run the handler again",
            ));
        }
        if self.dedup_ttl > MAX_DEDUP_TTL {
            return Err(ConfigError::new(
                n.dedup_ttl,
                "must be at most 86400 s (one day); WeChat's retries span 15 s",
            ));
        }
        if self.dedup_capacity == 0 || self.dedup_capacity > MAX_DEDUP_CAPACITY {
            return Err(ConfigError::new(
                n.dedup_capacity,
                "must be between 1 and 1000000000",
            ));
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > MAX_BODY_BYTES_LIMIT {
            return Err(ConfigError::new(
                n.max_body_bytes,
                "must be between 1 and 1048576 (1 MiB)",
            ));
        }
        if self.max_background == 0 || self.max_background > MAX_BACKGROUND_LIMIT {
            return Err(ConfigError::new(
                n.max_background,
                "must be between 1 and 1000000",
            ));
        }
        if self
            .replay_window
            .is_some_and(|w| w < MIN_REPLAY_WINDOW || w > MAX_REPLAY_WINDOW)
        {
            return Err(ConfigError::new(
                n.replay_window,
                "must be between 30 and 86400 s (0 from the environment turns it off): \
                 WeChat's retries carry their first try's timestamp for about 15 s, and a \
                 narrower window would refuse them",
            ));
        }
        if self.shutdown_grace > MAX_SHUTDOWN_GRACE {
            return Err(ConfigError::new(n.shutdown_grace, "must be at most 600 s"));
        }
        let redis_url = self
            .redis_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty());
        if let Some(url) = &redis_url {
            check_redis_url(url).map_err(|reason| ConfigError::new(n.redis_url, reason))?;
        }
        let redis_prefix = self.redis_prefix.trim().to_owned();
        if redis_prefix.is_empty()
            || redis_prefix.len() > MAX_REDIS_PREFIX_LEN
            || redis_prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '{' | '}'))
        {
            return Err(ConfigError::new(
                n.redis_prefix,
                "must be 1 to 64 characters without spaces or braces (braces are Redis \
                 Cluster hash tags, placed by the stores themselves)",
            ));
        }
        if self.session_ttl.is_zero() || self.session_ttl > MAX_SESSION_TTL {
            return Err(ConfigError::new(
                n.session_ttl,
                "must be between 1 and 2592000 s (30 days)",
            ));
        }
        if self.wait_retries > MAX_WAIT_RETRIES {
            return Err(ConfigError::new(
                n.wait_retries,
                "must be 0, 1 or 2: WeChat tries a push three times, and the last try must answer",
            ));
        }
        let span = WECHAT_TIMEOUT * (u32::from(self.wait_retries) + 1);
        if self.handler_timeout < span || self.handler_timeout > MAX_HANDLER_TIMEOUT {
            return Err(ConfigError::new(
                n.handler_timeout,
                format!(
                    "must be between {} s (the span of the tries WeChat makes and the service \
                     holds: (wait_retries + 1) × 5 s) and 3600 s",
                    span.as_secs()
                ),
            ));
        }
        if self.pending_ttl.is_zero() || self.pending_ttl > MAX_PENDING_TTL {
            return Err(ConfigError::new(
                n.pending_ttl,
                "must be between 1 and 86400 s",
            ));
        }
        let appsecret = self
            .appsecret
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        if appsecret.is_some() {
            if !cfg!(feature = "api") {
                return Err(ConfigError::new(
                    n.appsecret,
                    "is set, but wechat-events was built without its `api` feature, which \
                     sends late replies through the customer-service API",
                ));
            }
            if appid.is_none() {
                return Err(ConfigError::new(
                    n.appsecret,
                    format!("is set but {} is not; the API needs both", n.appid),
                ));
            }
        }
        let state_dir = self.state_dir.filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = &state_dir {
            check_state_dir(dir).map_err(|reason| ConfigError::new(n.state_dir, reason))?;
        }
        let slow_tip = self.slow_tip.filter(|t| !t.trim().is_empty());
        if let Some(tip) = slow_tip.as_deref().filter(|t| crate::split::too_long(t)) {
            return Err(ConfigError::new(
                n.slow_tip,
                format!(
                    "is {} bytes of UTF-8; WeChat shows a text reply of at most {} bytes \
                     (about 680 Chinese characters) and nothing of a longer one",
                    tip.len(),
                    crate::split::TEXT_LIMIT
                ),
            ));
        }
        let continue_keyword = self.continue_keyword.trim().to_owned();
        if continue_keyword.is_empty() || continue_keyword.chars().count() > MAX_KEYWORD_CHARS {
            return Err(ConfigError::new(
                n.continue_keyword,
                "must be 1 to 32 characters (the message a user sends for the next part of a \
                 long reply)",
            ));
        }
        for (name, hint) in [
            (n.continue_hint, &self.continue_hint),
            (n.api_part_hint, &self.api_part_hint),
        ] {
            if hint.len() > MAX_HINT_BYTES {
                return Err(ConfigError::new(
                    name,
                    format!(
                        "is {} bytes of UTF-8; a hint ends every part of a long reply, inside \
                         WeChat's {} bytes, and may take at most {MAX_HINT_BYTES}",
                        hint.len(),
                        crate::split::TEXT_LIMIT
                    ),
                ));
            }
        }
        Ok(Config {
            name: self.name,
            stored_as: None,
            token,
            appid,
            crypto,
            path: self.path,
            deadline: self.deadline,
            dedup_ttl: self.dedup_ttl,
            dedup_capacity: self.dedup_capacity,
            max_body_bytes: self.max_body_bytes,
            max_background: self.max_background,
            handler_timeout: self.handler_timeout,
            replay_window: self.replay_window,
            shutdown_grace: self.shutdown_grace,
            redis_url,
            redis_prefix,
            session_ttl: self.session_ttl,
            wait_retries: self.wait_retries,
            slow_tip,
            pending_ttl: self.pending_ttl,
            continue_keyword,
            continue_hint: self.continue_hint,
            api_part_hint: self.api_part_hint,
            appsecret,
            api_base: self.api_base,
            state_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = env(&[("WECHAT_TOKEN", "abc123")]).unwrap();
        assert_eq!(c.mode(), Mode::Plain);
        assert_eq!(c.path(), "/wechat");
        assert_eq!(c.deadline(), Duration::from_secs(4));
        assert_eq!(c.dedup_ttl(), Duration::from_secs(30));
        assert!(c.max_body_bytes() <= 1024 * 1024);
        assert!(!format!("{c:?}").contains("abc123"));
    }

    #[test]
    fn long_reply_settings() {
        let c = env(&[("WECHAT_TOKEN", "abc")]).unwrap();
        assert_eq!(c.continue_keyword(), "继续");
        assert_eq!(c.continue_hint(), "(未完，回复「继续」查看后续)");
        assert_eq!(c.api_part_hint(), "");
        let c = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_CONTINUE_KEYWORD", " 更多 "),
            ("WECHAT_CONTINUE_HINT", "(回复「更多」)"),
            ("WECHAT_API_PART_HINT", "……"),
        ])
        .unwrap();
        assert_eq!(c.continue_keyword(), "更多");
        assert_eq!(c.continue_hint(), "(回复「更多」)");
        assert_eq!(c.api_part_hint(), "……");
        // A slow tip WeChat would not show stops start-up, named.
        let fits = "你".repeat(682);
        let tip = env(&[("WECHAT_TOKEN", "abc"), ("WECHAT_SLOW_TIP", &fits)]).unwrap();
        assert_eq!(tip.slow_tip(), Some(fits.as_str()));
        let over = "你".repeat(683);
        let e = env(&[("WECHAT_TOKEN", "abc"), ("WECHAT_SLOW_TIP", &over)]).unwrap_err();
        assert_eq!(e.setting, "WECHAT_SLOW_TIP");
        assert!(e.to_string().contains("2049 bytes"), "{e}");
        let e = Config::builder("abc").slow_tip(over).build().unwrap_err();
        assert_eq!(e.setting, "slow_tip");
        let long_hint = "x".repeat(MAX_HINT_BYTES + 1);
        for name in ["WECHAT_CONTINUE_HINT", "WECHAT_API_PART_HINT"] {
            let e = env(&[("WECHAT_TOKEN", "abc"), (name, &long_hint)]).unwrap_err();
            assert_eq!(e.setting, name);
        }
        let e = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_CONTINUE_KEYWORD", &"k".repeat(33)),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "WECHAT_CONTINUE_KEYWORD");
    }

    #[test]
    fn slow_handler_settings() {
        let c = env(&[("WECHAT_TOKEN", "abc")]).unwrap();
        assert_eq!(c.wait_retries(), 2);
        assert_eq!(c.slow_tip(), None);
        assert_eq!(c.pending_ttl(), Duration::from_secs(600));
        assert_eq!(c.appsecret(), None);
        let c = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_WAIT_RETRIES", "0"),
            ("WECHAT_SLOW_TIP", "正在处理，请稍候"),
            ("WECHAT_PENDING_TTL_S", "60"),
        ])
        .unwrap();
        assert_eq!(c.wait_retries(), 0);
        assert_eq!(c.slow_tip(), Some("正在处理，请稍候"));
        assert_eq!(c.pending_ttl(), Duration::from_secs(60));
        let e = env(&[("WECHAT_TOKEN", "abc"), ("WECHAT_WAIT_RETRIES", "3")]).unwrap_err();
        assert_eq!(e.setting, "WECHAT_WAIT_RETRIES");
        let e = env(&[("WECHAT_TOKEN", "abc"), ("WECHAT_PENDING_TTL_S", "0")]).unwrap_err();
        assert_eq!(e.setting, "WECHAT_PENDING_TTL_S");
        let e = env(&[("WECHAT_TOKEN", "abc"), ("WECHAT_APPSECRET", "s")]).unwrap_err();
        assert_eq!(e.setting, "WECHAT_APPSECRET");
        let with_secret = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_APPSECRET", "secret123"),
        ]);
        if cfg!(feature = "api") {
            let c = with_secret.unwrap();
            assert_eq!(c.appsecret(), Some("secret123"));
            assert!(!format!("{c:?}").contains("secret123"));
        } else {
            assert!(with_secret
                .unwrap_err()
                .to_string()
                .contains("`api` feature"));
        }
    }

    #[test]
    fn key_makes_secure_the_default() {
        let c = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_AES_KEY", KEY),
            ("WECHAT_APPID", "wx1"),
        ])
        .unwrap();
        assert_eq!(c.mode(), Mode::Secure);
        let c = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_AES_KEY", KEY),
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_MODE", "compatible"),
        ])
        .unwrap();
        assert_eq!(c.mode(), Mode::Compatible);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "WECHAT_TOKEN"),
            (&[("WECHAT_TOKEN", "a b")], "WECHAT_TOKEN"),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_MODE", "fancy")],
                "WECHAT_MODE",
            ),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_MODE", "secure")],
                "WECHAT_AES_KEY",
            ),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_AES_KEY", KEY)],
                "WECHAT_APPID",
            ),
            (
                &[
                    ("WECHAT_TOKEN", "abc"),
                    ("WECHAT_AES_KEY", "short"),
                    ("WECHAT_APPID", "wx"),
                ],
                "WECHAT_AES_KEY",
            ),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_PATH", "wechat")],
                "WECHAT_PATH",
            ),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_DEADLINE_MS", "fast")],
                "WECHAT_DEADLINE_MS",
            ),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_DEADLINE_MS", "5000")],
                "WECHAT_DEADLINE_MS",
            ),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_DEDUP_TTL_S", "-1")],
                "WECHAT_DEDUP_TTL_S",
            ),
            (
                &[
                    ("WECHAT_TOKEN", "abc"),
                    ("WECHAT_MAX_BODY_BYTES", "2000000"),
                ],
                "WECHAT_MAX_BODY_BYTES",
            ),
            (
                &[("WECHAT_TOKEN", "abc"), ("WECHAT_PREV_AES_KEY", KEY)],
                "WECHAT_PREV_AES_KEY",
            ),
        ];
        for (vars, name) in cases {
            let err = env(vars).expect_err(name);
            assert_eq!(err.setting, *name, "{err}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn out_of_range_values_are_errors_not_panics() {
        let cases: &[(&str, &str)] = &[
            ("WECHAT_MAX_BACKGROUND", "99999999999999"),
            ("WECHAT_MAX_BACKGROUND", "0"),
            ("WECHAT_DEDUP_TTL_S", "99999999999"),
            ("WECHAT_DEDUP_TTL_S", "86401"),
            ("WECHAT_DEDUP_CAPACITY", "0"),
            ("WECHAT_DEDUP_CAPACITY", "18446744073709551615"),
            ("WECHAT_DEADLINE_MS", "18446744073709551615"),
            ("WECHAT_MAX_BODY_BYTES", "0"),
            ("WECHAT_REPLAY_WINDOW_S", "86401"),
            ("WECHAT_SHUTDOWN_GRACE_S", "601"),
            ("WECHAT_REDIS_PREFIX", "a{b}"),
            ("WECHAT_REDIS_PREFIX", "two words"),
            ("WECHAT_REDIS_PREFIX", &"p".repeat(65)),
            ("WECHAT_SESSION_TTL_S", "0"),
            ("WECHAT_SESSION_TTL_S", "2592001"),
            ("WECHAT_REDIS_URL", "http://127.0.0.1:6379"),
        ];
        for (name, value) in cases {
            let err = env(&[("WECHAT_TOKEN", "abc"), (name, value)]).expect_err(name);
            assert_eq!(err.setting, *name, "{err}");
        }
        let err = Config::builder("abc")
            .max_background(usize::MAX)
            .build()
            .unwrap_err();
        assert_eq!(err.setting, "max_background", "{err}");
        let err = Config::builder("abc")
            .dedup_ttl(Duration::from_secs(99_999_999_999))
            .build()
            .unwrap_err();
        assert_eq!(err.setting, "dedup_ttl", "{err}");
    }

    #[test]
    fn keys_exist_exactly_outside_plain_mode() {
        let plain = Config::builder("abc").appid("wx1").build().unwrap();
        assert!(plain.keys().is_none());
        let secure = Config::builder("abc")
            .aes_key(KEY)
            .appid("wx1")
            .build()
            .unwrap();
        assert_eq!(secure.keys().map(Keys::appid), Some("wx1"));
        assert_eq!(secure.keys().map(|k| k.all().count()), Some(1));
        let err = Config::builder("abc")
            .mode(Mode::Compatible)
            .appid("wx1")
            .build()
            .unwrap_err();
        assert_eq!(err.setting, "aes_key");
    }

    #[test]
    fn redis_settings() {
        let c = env(&[("WECHAT_TOKEN", "abc")]).unwrap();
        assert_eq!(c.redis_url(), None);
        assert_eq!(c.redis_prefix(), "wechat");
        assert_eq!(c.session_ttl(), Duration::from_secs(86400));
        let c = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_REDIS_PREFIX", "shop:prod"),
            ("WECHAT_SESSION_TTL_S", "60"),
        ])
        .unwrap();
        assert_eq!(c.redis_prefix(), "shop:prod");
        assert_eq!(c.session_ttl(), Duration::from_secs(60));
        let url = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_REDIS_URL", "redis://:hunter2@127.0.0.1:6379/1"),
        ]);
        if cfg!(feature = "redis") {
            let c = url.unwrap();
            assert_eq!(c.redis_url(), Some("redis://:hunter2@127.0.0.1:6379/1"));
            assert!(!format!("{c:?}").contains("hunter2"), "{c:?}");
        } else {
            let err = url.unwrap_err();
            assert_eq!(err.setting, "WECHAT_REDIS_URL");
            assert!(err.reason.contains("`redis` feature"), "{err}");
        }
        let err = Config::builder("abc").redis_prefix("").build().unwrap_err();
        assert_eq!(err.setting, "redis_prefix");
    }

    #[test]
    fn redact_url_hides_every_password_form() {
        for (url, shown) in [
            (
                "redis://:hunter2@10.0.0.1:6379/0",
                "redis://:***@10.0.0.1:6379/0",
            ),
            ("redis://app:hunter2@10.0.0.1", "redis://app:***@10.0.0.1"),
            ("redis://hunter2@10.0.0.1", "redis://***@10.0.0.1"),
            (
                "rediss://:hunter2@cache.example:6380/#insecure",
                "rediss://:***@cache.example:6380/#insecure",
            ),
            ("redis://:p%40ss%3Ahunter2@h", "redis://:***@h"),
            (
                "unix:///run/redis.sock?pass=hunter2",
                "unix:///run/redis.sock?pass=***",
            ),
            (
                "unix:///run/redis.sock?db=2&user=app&PASSWORD=hunter2",
                "unix:///run/redis.sock?db=2&user=app&PASSWORD=***",
            ),
            (
                "redis+unix:///run/redis.sock?pass=hunter2&db=1",
                "redis+unix:///run/redis.sock?pass=***&db=1",
            ),
            ("redis://h/?password=hunter2", "redis://h/?password=***"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:hunter2@@h:6379", "redis://:***@h:6379"),
            ("redis://:hunter2@h:99999", "<not a URL>"),
            ("hunter2", "<not a URL>"),
        ] {
            let redacted = redact_url(url);
            assert_eq!(redacted, shown, "{url}");
            assert!(!redacted.contains("hunter2"), "{url}");
        }
    }

    #[test]
    fn state_dir_setting() {
        let c = env(&[("WECHAT_TOKEN", "abc")]).unwrap();
        assert_eq!(c.state_dir(), None);
        // Need not exist yet: the service creates it.
        let dir = std::env::temp_dir().join("wechat-events-config-test/state");
        let set = env(&[
            ("WECHAT_TOKEN", "abc"),
            ("WECHAT_STATE_DIR", dir.to_str().unwrap()),
        ]);
        if cfg!(feature = "state") {
            assert_eq!(set.unwrap().state_dir(), Some(dir.as_path()));
            assert!(!dir.exists(), "validation creates nothing");
            // A file in the way is refused, naming the variable.
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
            for bad in [manifest.clone(), manifest.join("state")] {
                let err = env(&[
                    ("WECHAT_TOKEN", "abc"),
                    ("WECHAT_STATE_DIR", bad.to_str().unwrap()),
                ])
                .unwrap_err();
                assert_eq!(err.setting, "WECHAT_STATE_DIR", "{err}");
                assert!(err.reason.contains("not a directory"), "{err}");
            }
            let err = Config::builder("abc")
                .state_dir(&manifest)
                .build()
                .unwrap_err();
            assert_eq!(err.setting, "state_dir");
        } else {
            let err = set.unwrap_err();
            assert_eq!(err.setting, "WECHAT_STATE_DIR");
            assert!(err.reason.contains("`state` feature"), "{err}");
        }
    }

    #[test]
    fn builder_errors_name_the_method() {
        let err = Config::builder("abc")
            .deadline(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(err.setting, "deadline");
    }
}

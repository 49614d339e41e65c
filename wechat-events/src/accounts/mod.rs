//! Several Official Accounts in one server: the accounts file
//! (`WECHAT_CONFIG`), and [`WechatAccounts`], one service per account
//! mounted together.
//!
//! WeChat sends no account name with a push, and an encrypted push must
//! be decrypted with its account's key before its `ToUserName` can be
//! read: each account has a path of its own, and the path says which
//! account a push came to. Every account has its own token, keys, stores
//! (retry de-duplication, replay bindings, sessions, pending replies, its
//! API client's access token) and limits; they share the server — its
//! address, Redis, state directory, body limit, background limit and
//! shutdown grace.
//!
//! ```toml
//! [server]                      # optional: the server's settings
//! addr = "0.0.0.0:8080"
//! redis_url = "env:REDIS_URL"   # any secret may be read from a variable
//!
//! [[accounts]]
//! name = "shop"                 # 1–32 letters, digits, '_' or '-'
//! token = "env:SHOP_TOKEN"
//! path = "/wechat/shop"         # the default: /wechat/<name>
//!
//! [[accounts]]
//! name = "news"
//! token = "env:NEWS_TOKEN"
//! appid = "wx0123456789abcdef"
//! aes_key = "env:NEWS_AES_KEY"  # secure mode, the default with a key
//! app_secret = "env:NEWS_APPSECRET"
//! deadline_ms = 3000            # this account's own behaviour settings
//! ```
//!
//! The keys, by table:
//!
//! | `[server]` key | environment default | meaning |
//! |---|---|---|
//! | `addr` | `WECHAT_ADDR` | where the server listens (`host:port`); read by the program that serves, e.g. the quickstart |
//! | `redis_url` | `WECHAT_REDIS_URL` | the Redis every instance shares (secret: `env:VAR` welcome) |
//! | `redis_prefix` | `WECHAT_REDIS_PREFIX` | first part of every Redis key |
//! | `api_base` | `WECHAT_API_BASE` | the WeChat API's base URL |
//! | `max_body_bytes` | `WECHAT_MAX_BODY_BYTES` | largest body accepted |
//! | `max_background` | `WECHAT_MAX_BACKGROUND` | handlers, of all accounts, allowed to run past their deadline |
//! | `shutdown_grace_s` | `WECHAT_SHUTDOWN_GRACE_S` | time handlers get on shutdown |
//! | `state_dir` | `WECHAT_STATE_DIR` | where pending replies and sessions survive a restart (without Redis) |
//!
//! | `[[accounts]]` key | environment default | meaning |
//! |---|---|---|
//! | `name` | — (required) | the account's name: logs, scopes, [`Context::account_name`](crate::Context::account_name) |
//! | `token` | — (required) | the token from the WeChat console (secret) |
//! | `path` | `/wechat/<name>` | where its pushes arrive |
//! | `appid`, `aes_key`, `prev_aes_key`, `mode`, `app_secret` | — | as `WECHAT_APPID`, ... (`aes_key`, `prev_aes_key` and `app_secret` are secrets) |
//! | `deadline_ms` | `WECHAT_DEADLINE_MS` | reply deadline |
//! | `wait_retries` | `WECHAT_WAIT_RETRIES` | WeChat tries held open for a slow handler |
//! | `slow_tip` | `WECHAT_SLOW_TIP` | text answering a push whose handler outlived its tries |
//! | `pending_ttl_s` | `WECHAT_PENDING_TTL_S` | how long a late reply waits for the user's next push |
//! | `replay_window_s` | `WECHAT_REPLAY_WINDOW_S` | how far a `timestamp` may be from now (`0` = off) |
//! | `session_ttl_s` | `WECHAT_SESSION_TTL_S` | how long a session lives after its last use |
//! | `dedup_ttl_s` | `WECHAT_DEDUP_TTL_S` | how long outcomes are kept for retries |
//! | `dedup_capacity` | `WECHAT_DEDUP_CAPACITY` | memory for remembered outcomes, KiB |
//! | `handler_timeout_s` | `WECHAT_HANDLER_TIMEOUT_S` | when a running handler is cancelled |
//! | `continue_keyword` | `WECHAT_CONTINUE_KEYWORD` | the text that asks for the next part of a long reply |
//! | `continue_hint` | `WECHAT_CONTINUE_HINT` | the line ending a part when the rest waits for the user |
//! | `api_part_hint` | `WECHAT_API_PART_HINT` | the line ending a part when the API carries the rest |
//!
//! The environment's server and behaviour variables stay the defaults of
//! the server and every account, the file winning where both are given.
//! An identity variable ([`IDENTITY_VARS`]: `WECHAT_TOKEN`,
//! `WECHAT_APPID`, ...) set beside `WECHAT_CONFIG` is an error: each
//! account's identity is in the file. A secret written `env:VAR` is read
//! from the variable `VAR` (which must be set and not empty), so the file
//! can be committed.
//!
//! Every mistake — a file that does not parse (with its line), an unknown
//! key, a missing token, a bad key, a duplicate name, path or AppID, an
//! unset `env:` variable — is a [`ConfigError`] naming the file, the
//! account and the key.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

mod http;
use tokio::sync::Semaphore;

#[cfg(feature = "api")]
use crate::component::{ComponentConfig, ComponentService};
pub use crate::config::IDENTITY_VARS;
use crate::config::{check_account_name, Config, ConfigBuilder, ConfigError, Names};
use crate::router::Router;
use crate::service::{BuildError, ServiceBuilder, WechatService};

/// The variable naming the accounts file.
pub const CONFIG_VAR: &str = "WECHAT_CONFIG";

/// The accounts one server serves, each a validated [`Config`], and the
/// server's address if one was given.
///
/// From the environment ([`Accounts::from_env`]): the accounts file
/// `WECHAT_CONFIG` names, or without it the one account
/// [`Config::from_env`] reads (named `default`). In code:
/// [`Accounts::new`].
#[derive(Clone, Debug)]
pub struct Accounts {
    configs: Vec<Config>,
    addr: Option<String>,
    file: Option<PathBuf>,
    #[cfg(feature = "api")]
    open_platform: Option<ComponentConfig>,
}

impl Accounts {
    /// The accounts of `configs` (built in code), in order. Their names,
    /// paths and AppIDs must differ, and they must agree on the settings
    /// the server shares (Redis URL and prefix, state directory,
    /// background limit, shutdown grace).
    ///
    /// ```
    /// use wechat_events::{accounts::Accounts, Config};
    /// let shop = Config::builder("shoptoken").name("shop").path("/wechat/shop").build().unwrap();
    /// let news = Config::builder("newstoken").name("news").path("/wechat/news").build().unwrap();
    /// let accounts = Accounts::new([shop, news]).unwrap();
    /// assert_eq!(accounts.names().collect::<Vec<_>>(), ["shop", "news"]);
    /// ```
    pub fn new(configs: impl IntoIterator<Item = Config>) -> Result<Accounts, ConfigError> {
        let configs: Vec<Config> = configs.into_iter().collect();
        check_together(&configs, "")?;
        Ok(Accounts {
            configs,
            addr: None,
            file: None,
            #[cfg(feature = "api")]
            open_platform: None,
        })
    }

    /// The accounts from the environment: those of the file
    /// `WECHAT_CONFIG` names, else the one account of
    /// [`Config::from_env`]. The address is `[server] addr`, else
    /// `WECHAT_ADDR`.
    pub fn from_env() -> Result<Accounts, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Accounts::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Accounts, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(file) = get(CONFIG_VAR) else {
            let config = Config::from_lookup(get)?;
            return Ok(Accounts {
                configs: vec![config],
                addr: get("WECHAT_ADDR"),
                file: None,
                #[cfg(feature = "api")]
                open_platform: None,
            });
        };
        let beside: Vec<&str> = IDENTITY_VARS
            .into_iter()
            .filter(|name| get(name).is_some())
            .collect();
        if !beside.is_empty() {
            return Err(ConfigError::new(
                beside.join(", "),
                format!(
                    "set beside {CONFIG_VAR}: each account's token, AppID, keys, AppSecret, path \
                     and mode belong in the accounts file ({file}); unset {} (a secret can stay \
                     in the environment under another name: token = \"env:SHOP_TOKEN\")",
                    if beside.len() == 1 { "it" } else { "them" }
                ),
            ));
        }
        Self::from_file(file, get)
    }

    /// The accounts of the file at `path`, with the environment (through
    /// `lookup`) giving the defaults and the `env:` secrets.
    pub fn from_file(
        path: impl AsRef<Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Accounts, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                format!("{CONFIG_VAR}={}", path.display()),
                format!("cannot read the accounts file: {e}"),
            )
        })?;
        let mut accounts = Self::from_toml(&text, &path.display().to_string(), lookup)?;
        accounts.file = Some(path.to_owned());
        Ok(accounts)
    }

    /// The accounts of an accounts file's text; `origin` (the file's
    /// name) begins every error's setting.
    ///
    /// ```
    /// use wechat_events::accounts::Accounts;
    /// let text = r#"
    ///     [[accounts]]
    ///     name = "shop"
    ///     token = "env:SHOP_TOKEN"
    /// "#;
    /// let env = |name: &str| (name == "SHOP_TOKEN").then(|| "shoptoken".to_owned());
    /// let accounts = Accounts::from_toml(text, "accounts.toml", env).unwrap();
    /// let shop = accounts.get("shop").unwrap();
    /// assert_eq!(shop.path(), "/wechat/shop");
    /// assert_eq!(shop.token(), "shoptoken");
    ///
    /// let err = Accounts::from_toml(text, "accounts.toml", |_| None).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid configuration: accounts.toml: account \"shop\": token: \
    ///      env:SHOP_TOKEN names the environment variable SHOP_TOKEN, which is not set"
    /// );
    /// ```
    pub fn from_toml(
        text: &str,
        origin: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Accounts, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let file = File::parse(text, origin)?;
        // The environment's defaults, checked alone: a bad one names its
        // variable, not a key of the file.
        Config::builder("environment")
            .reported_as(Names::env())
            .env_settings(&get)?
            .build()?;
        let in_file = |key: &str| format!("{origin}: {key}");
        let server = &file.server;
        let redis_url = server
            .redis_url
            .as_deref()
            .map(|v| {
                secret(v, &get)
                    .map_err(|reason| ConfigError::new(in_file("server.redis_url"), reason))
            })
            .transpose()?;
        let server_builder = |builder: ConfigBuilder| -> Result<ConfigBuilder, ConfigError> {
            let mut b = builder.reported_as(Names::file()).env_settings(&get)?;
            if let Some(url) = &redis_url {
                b = b.redis_url(url);
            }
            if let Some(prefix) = &server.redis_prefix {
                b = b.redis_prefix(prefix);
            }
            if let Some(base) = &server.api_base {
                b = b.api_base(base);
            }
            if let Some(n) = server.max_body_bytes {
                b = b.max_body_bytes(n);
            }
            if let Some(n) = server.max_background {
                b = b.max_background(n);
            }
            if let Some(s) = server.shutdown_grace_s {
                b = b.shutdown_grace(Duration::from_secs(s));
            }
            if let Some(dir) = &server.state_dir {
                b = b.state_dir(dir);
            }
            Ok(b)
        };
        // The server's settings, checked once: their errors name the
        // file, not an account.
        server_builder(Config::builder("environment"))?
            .build()
            .map_err(|e| ConfigError::new(in_file(&e.setting), e.reason))?;
        let open_platform = match file.open_platform {
            Some(table) => Some(open_platform(table, origin, &get, &server_builder)?),
            None => None,
        };
        if file.accounts.is_empty() && open_platform.is_none() {
            return Err(ConfigError::new(
                in_file("accounts"),
                "lists no account: add one [[accounts]] table per account, with its name and \
                 token (or an [open_platform] table)",
            ));
        }
        let mut configs = Vec::with_capacity(file.accounts.len());
        for (i, raw) in file.accounts.into_iter().enumerate() {
            let label = match raw.get("name").and_then(toml::Value::as_str) {
                Some(name) => format!("{origin}: account {name:?}"),
                None => format!("{origin}: accounts[{i}]"),
            };
            let at = |key: &str| format!("{label}: {key}");
            let account: AccountFile = typed(raw, &label)?;
            let name = account
                .name
                .ok_or_else(|| ConfigError::new(at("name"), "is required: the account's name"))?;
            check_account_name(&name).map_err(|reason| ConfigError::new(at("name"), reason))?;
            let secret_at = |key: &str, value: Option<String>| {
                value
                    .map(|v| secret(&v, &get).map_err(|reason| ConfigError::new(at(key), reason)))
                    .transpose()
            };
            let token = secret_at("token", account.token)?.ok_or_else(|| {
                ConfigError::new(
                    at("token"),
                    "is required: the token from the WeChat console (or env:VAR to read it from \
                     a variable)",
                )
            })?;
            let mut b = server_builder(Config::builder(token))?;
            b = b.path(account.path.unwrap_or_else(|| format!("/wechat/{name}")));
            b = b.name(name);
            if let Some(appid) = secret_at("appid", account.appid)? {
                b = b.appid(appid);
            }
            if let Some(key) = secret_at("aes_key", account.aes_key)? {
                b = b.aes_key(key);
            }
            if let Some(key) = secret_at("prev_aes_key", account.prev_aes_key)? {
                b = b.prev_aes_key(key);
            }
            if let Some(secret) = secret_at("app_secret", account.app_secret)? {
                b = b.appsecret(secret);
            }
            if let Some(mode) = account.mode {
                b = b.mode(mode.parse().map_err(|e| ConfigError::new(at("mode"), e))?);
            }
            if let Some(ms) = account.deadline_ms {
                b = b.deadline(Duration::from_millis(ms));
            }
            if let Some(n) = account.wait_retries {
                b = b.wait_retries(n);
            }
            if let Some(tip) = account.slow_tip {
                b = b.slow_tip(tip);
            }
            if let Some(s) = account.pending_ttl_s {
                b = b.pending_ttl(Duration::from_secs(s));
            }
            if let Some(s) = account.replay_window_s {
                b = b.replay_window((s > 0).then(|| Duration::from_secs(s)));
            }
            if let Some(s) = account.session_ttl_s {
                b = b.session_ttl(Duration::from_secs(s));
            }
            if let Some(s) = account.dedup_ttl_s {
                b = b.dedup_ttl(Duration::from_secs(s));
            }
            if let Some(n) = account.dedup_capacity {
                b = b.dedup_capacity(n);
            }
            if let Some(s) = account.handler_timeout_s {
                b = b.handler_timeout(Duration::from_secs(s));
            }
            if let Some(keyword) = account.continue_keyword {
                b = b.continue_keyword(keyword);
            }
            if let Some(hint) = account.continue_hint {
                b = b.continue_hint(hint);
            }
            if let Some(hint) = account.api_part_hint {
                b = b.api_part_hint(hint);
            }
            let config = b
                .build()
                .map_err(|e| ConfigError::new(at(&e.setting), e.reason))?;
            configs.push(config);
        }
        check_together(&configs, &format!("{origin}: "))?;
        #[cfg(feature = "api")]
        if let Some(component) = &open_platform {
            check_open_platform(&configs, component).map_err(|(key, reason)| {
                ConfigError::new(format!("{origin}: [open_platform]: {key}"), reason)
            })?;
        }
        #[cfg(not(feature = "api"))]
        if open_platform.is_some() {
            return Err(ConfigError::new(
                format!("{origin}: [open_platform]"),
                "is set, but wechat-events was built without its `api` feature, which a \
                 third-party platform needs",
            ));
        }
        Ok(Accounts {
            configs,
            addr: file.server.addr.or_else(|| get("WECHAT_ADDR")),
            file: None,
            #[cfg(feature = "api")]
            open_platform,
        })
    }

    /// The accounts' configs, in the file's order.
    pub fn configs(&self) -> &[Config] {
        &self.configs
    }

    /// The config of the account named `name`.
    pub fn get(&self, name: &str) -> Option<&Config> {
        self.configs.iter().find(|c| c.name() == name)
    }

    /// The account a command-line tool's `--account NAME` picks (`name`),
    /// or, without one, the only account; `file` names the accounts file
    /// in the error, which lists the accounts (and suggests the closest
    /// name to a misspelt one).
    ///
    /// ```
    /// use wechat_events::{accounts::Accounts, Config};
    /// let config = |name: &str| Config::builder("token").name(name).path(format!("/{name}")).build().unwrap();
    /// let accounts = Accounts::new([config("shop"), config("news")]).unwrap();
    /// assert_eq!(accounts.pick(Some("news"), "a.toml").unwrap().name(), "news");
    /// assert_eq!(
    ///     accounts.pick(Some("shpo"), "a.toml").unwrap_err().to_string(),
    ///     "a.toml has no account \"shpo\" (did you mean \"shop\"?); its accounts: shop, news"
    /// );
    /// assert!(accounts.pick(None, "a.toml").is_err(), "two accounts: one must be named");
    /// ```
    pub fn pick(&self, name: Option<&str>, file: &str) -> Result<&Config, PickError> {
        let names = || self.names().map(str::to_owned).collect::<Vec<_>>();
        match (name, self.configs.as_slice()) {
            (None, [only]) => Ok(only),
            (None, _) => Err(PickError::Needed {
                file: file.to_owned(),
                names: names(),
            }),
            (Some(name), _) => self.get(name).ok_or_else(|| PickError::Unknown {
                suggestion: crate::registry::closest(name, self.names()).map(str::to_owned),
                file: file.to_owned(),
                name: name.to_owned(),
                names: names(),
            }),
        }
    }

    /// The accounts' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.configs.iter().map(Config::name)
    }

    /// Where the server should listen: `[server] addr`, else
    /// `WECHAT_ADDR`; `None` when neither is given. (The library does not
    /// bind sockets; the program serving the accounts reads this.)
    pub fn addr(&self) -> Option<&str> {
        self.addr.as_deref()
    }

    /// The accounts file they were read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The third-party platform the server also serves (the file's
    /// `[open_platform]`), if any.
    #[cfg(feature = "api")]
    pub fn open_platform(&self) -> Option<&ComponentConfig> {
        self.open_platform.as_ref()
    }

    /// These accounts, and the third-party platform `component` (in code;
    /// see [`crate::component`]).
    #[cfg(feature = "api")]
    pub fn with_open_platform(mut self, component: ComponentConfig) -> Result<Self, ConfigError> {
        check_open_platform(&self.configs, &component)
            .map_err(|(key, reason)| ConfigError::new(format!("open_platform.{key}"), reason))?;
        self.open_platform = Some(component);
        Ok(self)
    }
}

/// The `[open_platform]` table as a component's settings.
#[cfg(feature = "api")]
type Platform = ComponentConfig;
#[cfg(not(feature = "api"))]
type Platform = ();

fn open_platform(
    table: toml::Table,
    origin: &str,
    get: &dyn Fn(&str) -> Option<String>,
    server_builder: &dyn Fn(ConfigBuilder) -> Result<ConfigBuilder, ConfigError>,
) -> Result<Platform, ConfigError> {
    let label = format!("{origin}: [open_platform]");
    let at = |key: &str| format!("{label}: {key}");
    let file: OpenPlatformFile = typed(table, &label)?;
    let secret_at = |key: &str, value: Option<String>| {
        value
            .map(|v| secret(&v, get).map_err(|reason| ConfigError::new(at(key), reason)))
            .transpose()
    };
    let required = |key: &str, value: Option<String>, what: &str| {
        secret_at(key, value)?
            .ok_or_else(|| ConfigError::new(at(key), format!("is required: {what}")))
    };
    let token = required("token", file.token, "the component's token (or env:VAR)")?;
    let appid = required("appid", file.appid, "the component's AppID")?;
    let aes_key = required("aes_key", file.aes_key, "the component's EncodingAESKey")?;
    let app_secret = required("app_secret", file.app_secret, "the component's AppSecret")?;
    let mut b = server_builder(Config::builder(token))?
        .appid(appid)
        .aes_key(aes_key)
        .appsecret(app_secret)
        .mode(crate::Mode::Secure);
    if let Some(key) = secret_at("prev_aes_key", file.prev_aes_key)? {
        b = b.prev_aes_key(key);
    }
    if let Some(name) = &file.name {
        check_account_name(name).map_err(|reason| ConfigError::new(at("name"), reason))?;
    }
    b = b.name(file.name.unwrap_or_else(|| "open_platform".to_owned()));
    b = b.path(
        file.message_path
            .unwrap_or_else(|| "/wechat/open/{appid}".to_owned()),
    );
    let config = b.build().map_err(|e| {
        let key = match e.setting.as_str() {
            "path" => "message_path",
            "app_secret" => "app_secret",
            other => other,
        };
        ConfigError::new(at(key), e.reason)
    })?;
    #[cfg(feature = "api")]
    {
        let strip = |e: ConfigError| {
            let key = e.setting.trim_start_matches("open_platform.").to_owned();
            ConfigError::new(at(&key), e.reason)
        };
        let mut component = ComponentConfig::new(config).map_err(strip)?;
        if let Some(path) = file.auth_path {
            component = component.with_auth_path(path).map_err(strip)?;
        }
        Ok(component)
    }
    #[cfg(not(feature = "api"))]
    {
        let _ = (config, file.auth_path);
        Ok(())
    }
}

/// Checks that the component's paths and name are apart from the
/// accounts': `(key, reason)` of the first clash.
#[cfg(feature = "api")]
fn check_open_platform(
    configs: &[Config],
    component: &ComponentConfig,
) -> Result<(), (&'static str, String)> {
    let pattern = component.message_path();
    let (before, after) = pattern.split_once("{appid}").unwrap_or((pattern, ""));
    for config in configs {
        let path = config.path();
        if path == component.auth_path() {
            return Err((
                "auth_path",
                format!("{path:?} is also account {:?}'s path", config.name()),
            ));
        }
        if path.len() > before.len() + after.len()
            && path.starts_with(before)
            && path.ends_with(after)
            && !path[before.len()..path.len() - after.len()].contains('/')
        {
            return Err((
                "message_path",
                format!(
                    "{pattern:?} would take account {:?}'s path {path:?} for an authorizer's",
                    config.name()
                ),
            ));
        }
        if config.name() == component.config().name() {
            return Err((
                "name",
                format!(
                    "{:?} is also an account's name: give the platform its own",
                    config.name()
                ),
            ));
        }
    }
    if component.auth_path() == component.message_path() {
        return Err(("auth_path", "must differ from the message path".to_owned()));
    }
    Ok(())
}

/// Why [`Accounts::pick`] picked no account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickError {
    /// No name was given, and the file has more accounts than one.
    #[error(
        "{file} has {} accounts: choose one with --account NAME ({})",
        .names.len(),
        .names.join(", ")
    )]
    Needed {
        /// The accounts file.
        file: String,
        /// Its accounts.
        names: Vec<String>,
    },
    /// No account has the name given.
    #[error(
        "{file} has no account {name:?}{}; its accounts: {}",
        .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default(),
        .names.join(", ")
    )]
    Unknown {
        /// The accounts file.
        file: String,
        /// The name given.
        name: String,
        /// The closest account name, if one is close.
        suggestion: Option<String>,
        /// Its accounts.
        names: Vec<String>,
    },
}

/// The value of a secret: `env:VAR` reads the variable `VAR`, anything
/// else is the value itself.
fn secret(value: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let Some(var) = value.trim().strip_prefix("env:") else {
        return Ok(value.to_owned());
    };
    let var = var.trim();
    if var.is_empty() {
        return Err("env: names no variable: write env:VARIABLE_NAME".to_owned());
    }
    get(var)
        .ok_or_else(|| format!("env:{var} names the environment variable {var}, which is not set"))
}

/// Checks that accounts can share one server: names, paths and AppIDs
/// differ; the server's settings agree. An error's setting is
/// `{origin}account "NAME": KEY`.
fn check_together(configs: &[Config], origin: &str) -> Result<(), ConfigError> {
    let fail = |config: &Config, key: &str, reason: String| {
        let setting = format!("{origin}account {:?}: {key}", config.name());
        Err(ConfigError::new(setting, reason))
    };
    let mut names: HashMap<&str, &Config> = HashMap::with_capacity(configs.len());
    let mut paths: HashMap<&str, &Config> = HashMap::new();
    let mut appids: HashMap<&str, &Config> = HashMap::new();
    for config in configs {
        if names.insert(config.name(), config).is_some() {
            return fail(
                config,
                "name",
                format!("{:?} names two accounts: give each its own", config.name()),
            );
        }
        if let Some(first) = paths.insert(config.path(), config) {
            return fail(
                config,
                "path",
                format!(
                    "{:?} is also account {:?}'s path: each account needs a path of its own (the \
                     path tells which account a push came to)",
                    config.path(),
                    first.name()
                ),
            );
        }
        if let Some(appid) = config.appid() {
            if let Some(first) = appids.insert(appid, config) {
                return fail(
                    config,
                    "appid",
                    format!(
                        "{appid:?} is also account {:?}'s AppID: one Official Account is \
                         configured once",
                        first.name()
                    ),
                );
            }
        }
    }
    let Some(first) = configs.first() else {
        return Ok(());
    };
    for config in &configs[1..] {
        let differs = [
            ("redis_url", config.redis_url() != first.redis_url()),
            (
                "redis_prefix",
                config.redis_prefix() != first.redis_prefix(),
            ),
            ("state_dir", config.state_dir() != first.state_dir()),
            (
                "max_background",
                config.max_background() != first.max_background(),
            ),
            (
                "shutdown_grace",
                config.shutdown_grace() != first.shutdown_grace(),
            ),
        ];
        if let Some((key, _)) = differs.into_iter().find(|(_, differs)| *differs) {
            return fail(
                config,
                key,
                format!(
                    "differs from account {:?}'s: the accounts of one server share it",
                    first.name()
                ),
            );
        }
    }
    Ok(())
}

/// The accounts file, as written.
struct File {
    server: ServerFile,
    accounts: Vec<toml::Table>,
    open_platform: Option<toml::Table>,
}

impl File {
    fn parse(text: &str, origin: &str) -> Result<File, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            let reason = e.message().trim().to_owned();
            match line {
                Some(line) => ConfigError::new(format!("{origin}: line {line}"), reason),
                None => ConfigError::new(origin, reason),
            }
        })?;
        let mut server = ServerFile::default();
        let mut accounts = Vec::new();
        let mut open_platform = None;
        for (key, value) in table {
            match (key.as_str(), value) {
                ("server", toml::Value::Table(t)) => {
                    server = typed(t, &format!("{origin}: [server]"))?;
                }
                ("accounts", toml::Value::Array(items)) => {
                    for (i, item) in items.into_iter().enumerate() {
                        match item {
                            toml::Value::Table(t) => accounts.push(t),
                            _ => {
                                return Err(ConfigError::new(
                                    format!("{origin}: accounts[{i}]"),
                                    "is not a table: write each account as [[accounts]]",
                                ))
                            }
                        }
                    }
                }
                ("open_platform", toml::Value::Table(t)) => open_platform = Some(t),
                ("server" | "accounts" | "open_platform", _) => {
                    return Err(ConfigError::new(
                        format!("{origin}: {key}"),
                        "has the wrong shape: write [server] and [open_platform] once, and \
                         [[accounts]] for each account",
                    ))
                }
                (other, _) => {
                    return Err(ConfigError::new(
                        format!("{origin}: {other}"),
                        "is not a key of the accounts file: it has a [server] table, \
                         [[accounts]] tables and an [open_platform] table",
                    ))
                }
            }
        }
        Ok(File {
            server,
            accounts,
            open_platform,
        })
    }
}

/// The keys whose values are secrets (and may be written `env:VAR`).
const SECRET_KEYS: [&str; 5] = [
    "token",
    "aes_key",
    "prev_aes_key",
    "app_secret",
    "redis_url",
];

/// `table` as a `T` (whose every field is optional); an error names the
/// key it is about, after `label`.
fn typed<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    label: &str,
) -> Result<T, ConfigError> {
    match toml::Value::Table(table.clone()).try_into() {
        Ok(typed) => Ok(typed),
        Err(e) => {
            let e: toml::de::Error = e;
            // serde names an unknown key, not a key whose value has the
            // wrong type: the key that fails alone is the one.
            let culprit = table.into_iter().find_map(|(key, value)| {
                let alone = toml::Table::from_iter([(key.clone(), value)]);
                let failed: Result<T, _> = toml::Value::Table(alone).try_into();
                failed.err().map(|e: toml::de::Error| (key, e))
            });
            Err(match culprit {
                // The message would quote the value.
                Some((key, _)) if SECRET_KEYS.contains(&key.as_str()) => ConfigError::new(
                    format!("{label}: {key}"),
                    "must be a string: the value itself, or env:VAR to read it from a variable",
                ),
                Some((key, e)) if !e.message().contains("unknown field") => {
                    ConfigError::new(format!("{label}: {key}"), e.message().trim())
                }
                Some((_, e)) => ConfigError::new(label, e.message().trim()),
                None => ConfigError::new(label, e.message().trim()),
            })
        }
    }
}

/// The `[server]` table.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    addr: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    api_base: Option<String>,
    max_body_bytes: Option<usize>,
    max_background: Option<usize>,
    shutdown_grace_s: Option<u64>,
    state_dir: Option<PathBuf>,
}

/// The `[open_platform]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenPlatformFile {
    name: Option<String>,
    appid: Option<String>,
    app_secret: Option<String>,
    token: Option<String>,
    aes_key: Option<String>,
    prev_aes_key: Option<String>,
    auth_path: Option<String>,
    message_path: Option<String>,
}

/// One `[[accounts]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    name: Option<String>,
    token: Option<String>,
    path: Option<String>,
    appid: Option<String>,
    aes_key: Option<String>,
    prev_aes_key: Option<String>,
    mode: Option<String>,
    app_secret: Option<String>,
    deadline_ms: Option<u64>,
    wait_retries: Option<u8>,
    slow_tip: Option<String>,
    pending_ttl_s: Option<u64>,
    replay_window_s: Option<u64>,
    session_ttl_s: Option<u64>,
    dedup_ttl_s: Option<u64>,
    dedup_capacity: Option<u64>,
    handler_timeout_s: Option<u64>,
    continue_keyword: Option<String>,
    continue_hint: Option<String>,
    api_part_hint: Option<String>,
}

/// One [`WechatService`] per account, mounted together with
/// `App::service`: each account's pushes arrive at its own path, checked
/// with its own token and keys, answered by its handlers, with its own
/// stores. Clone it into each worker's `App`.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use wechat_events::accounts::{Accounts, WechatAccounts};
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let accounts = Accounts::from_env().expect("config"); // WECHAT_CONFIG=accounts.toml
///     let addr = accounts.addr().unwrap_or("127.0.0.1:8080").to_owned();
///     let services = WechatAccounts::builder(accounts).build().expect("routes");
///     HttpServer::new(move || App::new().service(services.clone()))
///         .bind(addr)?
///         .run()
///         .await
/// }
/// ```
#[derive(Clone)]
pub struct WechatAccounts {
    services: Arc<[WechatService]>,
    #[cfg(feature = "api")]
    component: Option<ComponentService>,
}

/// What one account's [`ServiceBuilder`] is given besides its config.
type Configure = Arc<dyn Fn(&Config, ServiceBuilder) -> ServiceBuilder + Send + Sync>;

/// Builder for [`WechatAccounts`]; see [`WechatAccounts::builder`].
pub struct AccountsBuilder {
    accounts: Accounts,
    shared: Router,
    scoped: bool,
    per_account: Vec<(String, Router)>,
    configure: Vec<Configure>,
    #[cfg(feature = "api")]
    auth_hooks: Vec<crate::component::AuthHook>,
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::Metrics>,
    #[cfg(feature = "inspector")]
    inspector: Option<crate::inspector::Inspector>,
}

impl WechatAccounts {
    /// Starts a builder for `accounts`' services. Each serves every
    /// attribute-macro handler in the binary that is untagged and not
    /// scoped to other accounts (`account = "..."`), unless told
    /// [`AccountsBuilder::only`].
    pub fn builder(accounts: Accounts) -> AccountsBuilder {
        AccountsBuilder {
            accounts,
            shared: Router::new(),
            scoped: false,
            per_account: Vec::new(),
            configure: Vec::new(),
            #[cfg(feature = "api")]
            auth_hooks: Vec::new(),
            #[cfg(feature = "metrics")]
            metrics: None,
            #[cfg(feature = "inspector")]
            inspector: None,
        }
    }

    /// Every account's service, in the accounts' order.
    pub fn services(&self) -> &[WechatService] {
        &self.services
    }

    /// The service of the account named `name`.
    pub fn get(&self, name: &str) -> Option<&WechatService> {
        self.services.iter().find(|s| s.config().name() == name)
    }

    /// The third-party platform, when the accounts have one.
    #[cfg(feature = "api")]
    pub fn open_platform(&self) -> Option<&ComponentService> {
        self.component.as_ref()
    }

    /// Drains every account's service at once ([`WechatService::drain`]),
    /// and a third-party platform's authorizers', all within `grace`;
    /// `true` when all finished in time.
    pub async fn drain(&self, grace: Duration) -> bool {
        let drains = self.services.iter().map(|s| s.drain(grace));
        let accounts = futures_util::future::join_all(drains);
        #[cfg(feature = "api")]
        let component = async {
            match &self.component {
                Some(component) => component.drain(grace).await,
                None => true,
            }
        };
        #[cfg(not(feature = "api"))]
        let component = async { true };
        let (accounts, component) = futures_util::future::join(accounts, component).await;
        accounts.into_iter().all(|drained| drained) && component
    }
}

impl fmt::Debug for WechatAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.services.iter().map(|s| s.config().name()))
            .finish()
    }
}

impl AccountsBuilder {
    /// Routes every account serves (may be called several times).
    pub fn router(mut self, router: Router) -> Self {
        self.shared = self.shared.merge(router);
        self
    }

    /// Routes only the account named `account` serves (a third-party
    /// platform's name: all its authorizers). An account that is not
    /// configured stops [`AccountsBuilder::build`].
    pub fn account_router(mut self, account: impl Into<String>, router: Router) -> Self {
        self.per_account.push((account.into(), router));
        self
    }

    /// Serves exactly the routes given (with [`AccountsBuilder::router`],
    /// [`AccountsBuilder::account_router`] and here): attribute handlers
    /// only where a router names them (see
    /// [`ServiceBuilder::only`](crate::service::ServiceBuilder::only)).
    /// An attribute handler scoped to accounts (`account = "..."`) is
    /// still served only by those accounts.
    pub fn only(mut self, router: Router) -> Self {
        self.scoped = true;
        self.shared = self.shared.merge(router);
        self
    }

    /// Gives every account's [`ServiceBuilder`] what `configure` adds
    /// (a late-reply hook, a store of its own, ...), called once per
    /// account with its config (for a third-party platform, once per
    /// authorizer, at its first push).
    pub fn configure(
        mut self,
        configure: impl Fn(&Config, ServiceBuilder) -> ServiceBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure.push(Arc::new(configure));
        self
    }

    /// Counts every account's pushes in `metrics`, each under its name (a
    /// third-party platform's authorizers under the platform's): see
    /// [`ServiceBuilder::metrics`].
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    /// Shows every account's pushes in `inspector`: see
    /// [`ServiceBuilder::inspector`].
    #[cfg(feature = "inspector")]
    pub fn inspector(mut self, inspector: &crate::inspector::Inspector) -> Self {
        self.inspector = Some(inspector.clone());
        self
    }

    /// Runs `hook` after the third-party platform (the accounts file's
    /// `[open_platform]`) handled each authorization event — to record who
    /// authorized, say (see
    /// [`ComponentConfig::on_auth_event`](crate::component::ComponentConfig::on_auth_event)).
    #[cfg(feature = "api")]
    pub fn on_auth_event<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(crate::component::AuthEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.auth_hooks
            .push(Arc::new(move |event| Box::pin(hook(event))));
        self
    }

    /// Builds every account's service (and the third-party platform's).
    /// The accounts share one Redis connection (when configured), one
    /// state directory and one background limit. Stops at the first
    /// error: a handler scoped to an account that is not configured, a
    /// router for such an account, or an account's own build error
    /// (naming the account).
    pub fn build(self) -> Result<WechatAccounts, BuildError> {
        let configs = self.accounts.configs;
        #[cfg(feature = "api")]
        let platform = (self.accounts.open_platform).map(|p| p.with_hooks(self.auth_hooks));
        let names: Vec<&str> = configs.iter().map(Config::name).collect();
        #[cfg(feature = "api")]
        let names = {
            let mut names = names;
            names.extend(platform.as_ref().map(|c| c.config().name()));
            names
        };
        if let Some((account, _)) = self
            .per_account
            .iter()
            .find(|(account, _)| !names.contains(&account.as_str()))
        {
            return Err(BuildError::UnknownAccount {
                what: "AccountsBuilder::account_router".to_owned(),
                account: account.clone(),
                configured: names.iter().map(|n| (*n).to_owned()).collect(),
            });
        }
        if let Some(e) = crate::registry::unknown_accounts(&names) {
            return Err(e.into());
        }
        #[cfg(feature = "api")]
        let server = configs.first().or(platform.as_ref().map(|c| c.config()));
        #[cfg(not(feature = "api"))]
        let server = configs.first();
        let Some(server) = server else {
            return Ok(WechatAccounts {
                services: Arc::from(Vec::new()),
                #[cfg(feature = "api")]
                component: None,
            });
        };
        let background = Arc::new(Semaphore::new(server.max_background()));
        #[cfg(feature = "redis")]
        let redis = crate::redis::RedisBackend::from_config(server).transpose()?;
        // What every account's service is given: its routes, the shared
        // Redis and background limit, the user's additions.
        #[cfg(feature = "metrics")]
        let metrics = self.metrics;
        #[cfg(feature = "inspector")]
        let inspector = self.inspector;
        let prepare = {
            let (shared, scoped) = (self.shared, self.scoped);
            let per_account = self.per_account;
            let configure = self.configure;
            #[cfg(feature = "metrics")]
            let metrics = metrics.clone();
            #[cfg(feature = "inspector")]
            let inspector = inspector.clone();
            let background = background.clone();
            #[cfg(feature = "redis")]
            let redis = redis.clone();
            Arc::new(move |config: &Config, builder: ServiceBuilder| {
                // Attribute handlers scoped to other accounts are not this
                // account's, however they were selected.
                let mut routes = shared.clone().for_account(config.name());
                for (_, router) in per_account.iter().filter(|(a, _)| a == config.name()) {
                    routes = routes.merge(router.clone());
                }
                let mut builder = match scoped {
                    true => builder.only(routes),
                    false => builder.router(routes),
                };
                #[cfg(feature = "redis")]
                if let Some(backend) = &redis {
                    builder = builder.redis(backend.clone());
                }
                builder = builder.shared_background(background.clone());
                #[cfg(feature = "metrics")]
                if let Some(metrics) = &metrics {
                    builder = builder.metrics(metrics);
                }
                #[cfg(feature = "inspector")]
                if let Some(inspector) = &inspector {
                    builder = builder.inspector(inspector);
                }
                for configure in &configure {
                    builder = configure(config, builder);
                }
                builder
            })
        };
        let mut services = Vec::with_capacity(configs.len());
        for config in &configs {
            let builder = prepare(config, WechatService::builder(config.clone()));
            let service = builder.build().map_err(|e| BuildError::Account {
                account: config.name().to_owned(),
                error: Box::new(e),
            })?;
            services.push(service);
        }
        #[cfg(feature = "api")]
        let component = match platform {
            Some(platform) => {
                let config = platform.config().clone();
                let store = component_store(
                    &platform,
                    #[cfg(feature = "redis")]
                    redis.as_ref(),
                )?;
                #[cfg(feature = "redis")]
                let shared = redis.as_ref().map(|backend| {
                    Arc::new(crate::redis::RedisTokens::new(backend))
                        as Arc<dyn crate::api::TokenStore>
                });
                #[cfg(not(feature = "redis"))]
                let shared = None;
                #[allow(unused_mut)]
                let mut observer = crate::observe::Observer::new(config.name());
                #[cfg(feature = "metrics")]
                if let Some(metrics) = &metrics {
                    observer = observer.with_metrics(metrics);
                }
                #[cfg(feature = "inspector")]
                if let Some(inspector) = &inspector {
                    observer = observer.with_inspector(inspector.inspect());
                }
                let prepare = prepare.clone();
                let prepare: crate::component::Prepare =
                    Arc::new(move |builder| prepare(&config, builder));
                Some(ComponentService::build(
                    platform, store, shared, prepare, observer,
                )?)
            }
            None => None,
        };
        Ok(WechatAccounts {
            services: services.into(),
            #[cfg(feature = "api")]
            component,
        })
    }
}

/// Where the third-party platform keeps its ticket and authorizers: Redis,
/// else the state directory, else memory (with a warning).
#[cfg(feature = "api")]
fn component_store(
    platform: &ComponentConfig,
    #[cfg(feature = "redis")] redis: Option<&crate::redis::RedisBackend>,
) -> Result<Arc<dyn crate::component::ComponentStore>, BuildError> {
    let appid = platform.appid();
    #[cfg(feature = "redis")]
    if let Some(backend) = redis {
        return Ok(Arc::new(crate::component::RedisComponentStore::new(
            backend, appid,
        )));
    }
    #[cfg(feature = "state")]
    if let Some(dir) = platform.config().state_dir() {
        let db = crate::state::StateDb::open(dir)?;
        return Ok(Arc::new(crate::component::StateComponentStore::new(
            &db, appid,
        )));
    }
    tracing::warn!(
        component = appid,
        "the third-party platform's ticket and authorizers are kept in memory: a restart \
         loses them (set a Redis URL or a state directory)"
    );
    Ok(Arc::new(crate::component::MemoryComponentStore::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn load(text: &str, pairs: &[(&str, &str)]) -> Result<Accounts, ConfigError> {
        Accounts::from_toml(text, "accounts.toml", env(pairs))
    }

    fn error(text: &str, pairs: &[(&str, &str)]) -> String {
        load(text, pairs).expect_err("loaded").to_string()
    }

    const TWO: &str = r#"
        [server]
        addr = "0.0.0.0:9000"
        redis_prefix = "bots"

        [[accounts]]
        name = "shop"
        token = "env:SHOP_TOKEN"

        [[accounts]]
        name = "news-cn"
        token = "newstoken"
        appid = "wxnews"
        aes_key = "env:NEWS_KEY"
        deadline_ms = 3000
        replay_window_s = 0
        continue_keyword = "更多"
    "#;

    #[test]
    fn a_file_gives_each_account_its_identity_and_settings() {
        let accounts = load(
            TWO,
            &[
                ("SHOP_TOKEN", "shoptoken"),
                ("NEWS_KEY", KEY),
                ("WECHAT_DEADLINE_MS", "2000"),
                ("WECHAT_SLOW_TIP", "稍等"),
            ],
        )
        .expect("accounts");
        assert_eq!(accounts.names().collect::<Vec<_>>(), ["shop", "news-cn"]);
        assert_eq!(accounts.addr(), Some("0.0.0.0:9000"));
        let shop = accounts.get("shop").expect("shop");
        assert_eq!(shop.token(), "shoptoken");
        assert_eq!(shop.path(), "/wechat/shop");
        assert_eq!(shop.mode(), Mode::Plain);
        assert_eq!(shop.store_account(), "shop");
        // The environment's behaviour settings are every account's
        // defaults; the file wins where both are given.
        assert_eq!(shop.deadline(), Duration::from_millis(2000));
        assert_eq!(shop.slow_tip(), Some("稍等"));
        assert_eq!(shop.redis_prefix(), "bots");
        assert!(shop.replay_window().is_some());
        let news = accounts.get("news-cn").expect("news");
        assert_eq!(news.mode(), Mode::Secure);
        assert_eq!(news.store_account(), "wxnews");
        assert_eq!(news.deadline(), Duration::from_millis(3000));
        assert_eq!(news.replay_window(), None);
        assert_eq!(news.continue_keyword(), "更多");
        assert_eq!(shop.continue_keyword(), "继续");
        assert_eq!(news.redis_prefix(), "bots");
    }

    #[test]
    fn without_the_file_the_environment_is_one_default_account() {
        let accounts = Accounts::from_lookup(env(&[
            ("WECHAT_TOKEN", "envtoken"),
            ("WECHAT_ADDR", "127.0.0.1:0"),
        ]))
        .expect("accounts");
        assert_eq!(accounts.names().collect::<Vec<_>>(), ["default"]);
        assert_eq!(accounts.configs()[0].path(), "/wechat");
        assert_eq!(accounts.addr(), Some("127.0.0.1:0"));
        assert_eq!(accounts.file(), None);
    }

    #[test]
    fn identity_variables_beside_the_file_stop_start_up() {
        let err = Accounts::from_lookup(env(&[
            ("WECHAT_CONFIG", "/nonexistent/accounts.toml"),
            ("WECHAT_TOKEN", "envtoken"),
            ("WECHAT_AES_KEY", KEY),
        ]))
        .expect_err("loaded")
        .to_string();
        assert!(
            err.starts_with(
                "invalid configuration: WECHAT_TOKEN, WECHAT_AES_KEY: set beside WECHAT_CONFIG"
            ),
            "{err}"
        );
        assert!(err.contains("belong in the accounts file"), "{err}");
        assert!(!err.contains(KEY), "a secret in the message: {err}");
    }

    #[test]
    fn a_file_that_cannot_be_read_names_it() {
        let err = Accounts::from_lookup(env(&[("WECHAT_CONFIG", "/nonexistent/accounts.toml")]))
            .expect_err("loaded")
            .to_string();
        assert!(
            err.starts_with("invalid configuration: WECHAT_CONFIG=/nonexistent/accounts.toml: cannot read the accounts file"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_does_not_parse_names_its_line() {
        let err = error(
            "[[accounts]]\nname = \"shop\"\ntoken = \"unterminated\n",
            &[],
        );
        assert!(
            err.starts_with("invalid configuration: accounts.toml: line 3: "),
            "{err}"
        );
    }

    #[test]
    fn mistakes_name_the_account_and_the_key() {
        let cases: &[(&str, &str)] = &[
            // An unknown key.
            (
                "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\ntokne = \"x\"",
                "accounts.toml: account \"shop\": unknown field `tokne`",
            ),
            // A missing token.
            (
                "[[accounts]]\nname = \"shop\"",
                "accounts.toml: account \"shop\": token: is required",
            ),
            // A key of the wrong length.
            (
                "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\nappid = \"wx1\"\naes_key = \"short\"",
                "accounts.toml: account \"shop\": aes_key: ",
            ),
            // A value of the wrong type.
            (
                "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\ndeadline_ms = \"3000\"",
                "accounts.toml: account \"shop\": ",
            ),
            // Out of range.
            (
                "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\ndeadline_ms = 9000",
                "accounts.toml: account \"shop\": deadline_ms: must be more than 0",
            ),
            // A bad name.
            (
                "[[accounts]]\nname = \"shop a\"\ntoken = \"shoptoken\"",
                "accounts.toml: account \"shop a\": name: \"shop a\" is not an account name",
            ),
            // No name.
            (
                "[[accounts]]\ntoken = \"shoptoken\"",
                "accounts.toml: accounts[0]: name: is required",
            ),
            // A duplicate name, path, AppID.
            (
                "[[accounts]]\nname = \"a\"\ntoken = \"tok\"\n[[accounts]]\nname = \"a\"\ntoken = \"tok\"\npath = \"/b\"",
                "accounts.toml: account \"a\": name: \"a\" names two accounts",
            ),
            (
                "[[accounts]]\nname = \"a\"\ntoken = \"tok\"\npath = \"/wx\"\n[[accounts]]\nname = \"b\"\ntoken = \"tok\"\npath = \"/wx\"",
                "accounts.toml: account \"b\": path: \"/wx\" is also account \"a\"'s path",
            ),
            (
                "[[accounts]]\nname = \"a\"\ntoken = \"tok\"\nappid = \"wx1\"\n[[accounts]]\nname = \"b\"\ntoken = \"tok\"\nappid = \"wx1\"",
                "accounts.toml: account \"b\": appid: \"wx1\" is also account \"a\"'s AppID",
            ),
            // An unset `env:` secret.
            (
                "[[accounts]]\nname = \"shop\"\ntoken = \"env:SHOP_TOKEN\"",
                "accounts.toml: account \"shop\": token: env:SHOP_TOKEN names the environment variable SHOP_TOKEN, which is not set",
            ),
            // The server's mistakes name the file and the key.
            (
                "[server]\nmax_body_bytes = 0\n[[accounts]]\nname = \"a\"\ntoken = \"tok\"",
                "accounts.toml: server.max_body_bytes: ",
            ),
            (
                "[server]\nlisten = \"x\"\n[[accounts]]\nname = \"a\"\ntoken = \"tok\"",
                "accounts.toml: [server]: unknown field `listen`",
            ),
            (
                "[defaults]\nx = 1\n[[accounts]]\nname = \"a\"\ntoken = \"tok\"",
                "accounts.toml: defaults: is not a key of the accounts file",
            ),
            ("", "accounts.toml: accounts: lists no account"),
        ];
        for (text, wanted) in cases {
            let err = error(text, &[]);
            let wanted = format!("invalid configuration: {wanted}");
            assert!(
                err.starts_with(&wanted),
                "{text:?}:\n  got  {err}\n  want {wanted}"
            );
        }
    }

    #[test]
    fn a_wrongly_typed_value_names_its_key() {
        let err = error(
            "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"\ndeadline_ms = \"3000\"",
            &[],
        );
        assert!(err.contains("deadline_ms"), "{err}");
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_not_quoted() {
        let err = error("[[accounts]]\nname = \"shop\"\ntoken = 9876543210", &[]);
        assert!(
            err.contains("account \"shop\": token: must be a string"),
            "{err}"
        );
        assert!(!err.contains("9876543210"), "{err}");
    }

    #[test]
    fn a_bad_environment_default_names_its_variable() {
        let err = error(
            "[[accounts]]\nname = \"shop\"\ntoken = \"shoptoken\"",
            &[("WECHAT_DEADLINE_MS", "9000")],
        );
        assert!(
            err.starts_with("invalid configuration: WECHAT_DEADLINE_MS: "),
            "{err}"
        );
    }

    #[test]
    fn code_built_accounts_are_checked_together() {
        let config = |name: &str, path: &str| {
            Config::builder("token")
                .name(name)
                .path(path)
                .build()
                .expect("config")
        };
        let err = Accounts::new([config("a", "/x"), config("b", "/x")])
            .expect_err("built")
            .to_string();
        assert!(err.contains("account \"b\": path"), "{err}");
        let other_redis = Config::builder("token")
            .name("c")
            .path("/c")
            .max_background(3)
            .build()
            .expect("config");
        let err = Accounts::new([config("a", "/a"), other_redis])
            .expect_err("built")
            .to_string();
        assert!(
            err.contains("account \"c\": max_background: differs"),
            "{err}"
        );
    }
}

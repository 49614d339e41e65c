//! `wechat-admin`: the WeChat API around the pushes, from the command line.
//!
//! The pushes a bot answers come from things the account creates first: the
//! custom menu (CLICK, VIEW), parameter QR codes (`qrscene_` subscribes,
//! SCAN), uploaded media (image replies), template messages. This sets
//! them up through the typed calls of `wechat_events::api`, checking
//! WeChat's limits before anything is sent.
//!
//! ```text
//! wechat-admin menu set examples/menu.toml
//! wechat-admin menu get
//! wechat-admin qrcode create --scene poster-7 --png poster-7.png
//! wechat-admin qrcode create --scene-id 42 --permanent
//! wechat-admin media upload cat.png --type image
//! wechat-admin user info oUser
//! wechat-admin template send --to oUser --template TEMPLATE_ID --data keyword1=已发货
//! wechat-admin --config accounts.toml --account news menu get
//! ```
//!
//! Credentials: `WECHAT_APPID` and `WECHAT_APPSECRET` (and
//! `WECHAT_API_BASE`, `WECHAT_MP_BASE` for a proxy or a stand-in), or with
//! `--config FILE --account NAME` the account's `appid` and `app_secret`
//! in a server's accounts file, read as the server reads it (`env:`
//! secrets included). With `WECHAT_REDIS_URL` (or the file's
//! `redis_url`) the access token is the one the bot shares through Redis
//! (built with the `redis` feature): the command fetches none of its own
//! while the bot's is valid. Either way it asks WeChat for the "stable"
//! token, which never invalidates the bot's.
//!
//! Exit status: 0 on success; 1 when WeChat refused or could not be
//! reached; 2 for usage and configuration errors, and for a request WeChat
//! would refuse (a menu over its limits, a 65-character scene), caught
//! before sending.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Parser, Subcommand};
use futures_util::TryStreamExt;
use wechat_events::accounts::Accounts;
use wechat_events::api::menu::MenuFileError;
use wechat_events::api::{
    ApiClient, ApiError, Media, MediaFile, MediaType, Menu, QrScene, SubscribeMessage,
    TemplateMessage,
};
use wechat_events::config::ConfigError;

/// Set up what the pushes come from: the menu, parameter QR codes, media,
/// template messages — through WeChat's API.
#[derive(Debug, Parser)]
#[command(name = "wechat-admin", version)]
struct Cli {
    /// An accounts file (as the server's WECHAT_CONFIG names): act as its
    /// account --account, with that account's appid and app_secret.
    /// Replaces WECHAT_APPID and WECHAT_APPSECRET.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// With --config: the account's name in the file; may be left out
    /// when the file has one account.
    #[arg(long, value_name = "NAME", global = true)]
    account: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The custom menu.
    #[command(subcommand)]
    Menu(MenuCommand),
    /// Parameter QR codes.
    #[command(subcommand)]
    Qrcode(QrCommand),
    /// Temporary media.
    #[command(subcommand)]
    Media(MediaCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// Template and subscription messages.
    #[command(subcommand)]
    Template(TemplateCommand),
}

#[derive(Debug, Subcommand)]
enum MenuCommand {
    /// Sets the menu from FILE: TOML (see examples/menu.toml) or JSON
    /// (WeChat's {"button": [...]}, or what `menu get` prints).
    Set {
        /// The menu file (.json for JSON, else TOML).
        file: PathBuf,
    },
    /// Prints the menus as WeChat has them, as JSON.
    Get,
    /// Deletes the menu (and every personalised menu).
    Delete,
}

#[derive(Debug, Subcommand)]
enum QrCommand {
    /// Creates a parameter QR code; prints its ticket, URL and image URL.
    #[command(group(ArgGroup::new("scene_of").required(true).args(["scene", "scene_id"])))]
    Create {
        /// A string scene (1–64 characters), even when it looks like a number.
        #[arg(long)]
        scene: Option<String>,
        /// A numeric scene (1–100000 for a permanent code).
        #[arg(long, value_name = "N")]
        scene_id: Option<u32>,
        /// How long a temporary code lives, in seconds (at most 2592000,
        /// 30 days, the default).
        #[arg(long, value_name = "SECONDS", conflicts_with = "permanent")]
        expire: Option<u64>,
        /// A permanent code (an account has at most 100,000).
        #[arg(long)]
        permanent: bool,
        /// Saves the code's image to FILE.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum MediaCommand {
    /// Uploads FILE as temporary media (kept three days); prints its media_id.
    Upload {
        /// The file; its extension is its format.
        file: PathBuf,
        /// image (≤ 10 MB: bmp, png, jpeg, jpg, gif), voice (≤ 2 MB: amr,
        /// mp3), video (≤ 10 MB: mp4) or thumb (≤ 64 KB: jpg).
        #[arg(long = "type", value_name = "TYPE")]
        media_type: MediaType,
    },
    /// Downloads the temporary media MEDIA_ID to FILE (a video: prints its URL).
    Get {
        /// The media id (a push's MediaId, or an upload's).
        media_id: String,
        /// Where to save it.
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Prints what WeChat says about the user OPENID, as JSON.
    Info {
        /// The user's OpenID.
        openid: String,
    },
    /// Prints every follower's OpenID, one a line.
    List,
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// Sends a template message; prints its msgid (the later
    /// TEMPLATESENDJOBFINISH push carries it as MsgID).
    Send {
        /// The user's OpenID.
        #[arg(long)]
        to: String,
        /// The template's id.
        #[arg(long)]
        template: String,
        /// A field: KEY=VALUE (keyword1=已发货); repeat for each.
        #[arg(long = "data", value_name = "KEY=VALUE", value_parser = key_value, required = true)]
        data: Vec<(String, String)>,
        /// The page the message opens.
        #[arg(long)]
        url: Option<String>,
    },
    /// Sends a subscription message (bizsend).
    Subscribe {
        /// The user's OpenID.
        #[arg(long)]
        to: String,
        /// The template's id.
        #[arg(long)]
        template: String,
        /// A field: KEY=VALUE (thing1=到货); repeat for each.
        #[arg(long = "data", value_name = "KEY=VALUE", value_parser = key_value, required = true)]
        data: Vec<(String, String)>,
        /// The page it opens.
        #[arg(long)]
        page: Option<String>,
    },
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("{0} is not set: give the account's AppID and AppSecret (WECHAT_APPID, WECHAT_APPSECRET), or --config FILE --account NAME")]
    Missing(&'static str),
    #[error(
        "--account {0} names an account of an accounts file: give the file with --config FILE"
    )]
    AccountWithoutConfig(String),
    #[error(
        "--config takes the account's AppID and AppSecret from the accounts file: unset {}",
        .0.join(", ")
    )]
    BesideConfig(Vec<&'static str>),
    #[error("cannot read the accounts file {path} (--config): {source}")]
    ConfigFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Pick(wechat_events::accounts::PickError),
    #[error("account {account:?} of {file} has no {key}: the API needs the account's appid and app_secret")]
    NoCredentials {
        file: String,
        account: String,
        key: &'static str,
    },
    #[error("the menu file: {0}")]
    MenuFile(MenuFileError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[cfg(feature = "redis")]
    #[error("the Redis for the shared token: {0}")]
    Redis(wechat_events::redis::BackendError),
    #[error("{}", chain(.0))]
    Api(ApiError),
}

/// An error and its causes, on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        AdminError::Api(e)
    }
}

impl AdminError {
    /// WeChat's refusals and unreachable APIs exit 1; the rest is usage
    /// and configuration, 2.
    fn exit_code(&self) -> ExitCode {
        match self {
            AdminError::Api(
                ApiError::WeChat { .. }
                | ApiError::Http(_)
                | ApiError::Timeout { .. }
                | ApiError::Decode { .. },
            )
            | AdminError::Write { .. } => ExitCode::FAILURE,
            _ => ExitCode::from(2),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Where the client's settings come from: the variables or an account.
struct Credentials {
    appid: String,
    secret: String,
    api_base: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Credentials {
    fn of(cli: &Cli) -> Result<Credentials, AdminError> {
        match &cli.config {
            Some(file) => Credentials::from_file(file, cli.account.as_deref()),
            None => {
                if let Some(name) = &cli.account {
                    return Err(AdminError::AccountWithoutConfig(name.clone()));
                }
                Ok(Credentials {
                    appid: env("WECHAT_APPID").ok_or(AdminError::Missing("WECHAT_APPID"))?,
                    secret: env("WECHAT_APPSECRET")
                        .ok_or(AdminError::Missing("WECHAT_APPSECRET"))?,
                    api_base: env("WECHAT_API_BASE"),
                    redis_url: env("WECHAT_REDIS_URL"),
                    redis_prefix: env("WECHAT_REDIS_PREFIX"),
                })
            }
        }
    }

    /// The account `account` of the accounts file `file`, read as the
    /// server reads it.
    fn from_file(file: &Path, account: Option<&str>) -> Result<Credentials, AdminError> {
        let beside: Vec<&'static str> = ["WECHAT_APPID", "WECHAT_APPSECRET"]
            .into_iter()
            .filter(|v| env(v).is_some())
            .collect();
        if !beside.is_empty() {
            return Err(AdminError::BesideConfig(beside));
        }
        let text = std::fs::read_to_string(file).map_err(|source| AdminError::ConfigFile {
            path: file.to_owned(),
            source,
        })?;
        let origin = file.display().to_string();
        let accounts = Accounts::from_toml(&text, &origin, |v| std::env::var(v).ok())
            .map_err(AdminError::Config)?;
        let config = accounts.pick(account, &origin).map_err(AdminError::Pick)?;
        let missing = |key| AdminError::NoCredentials {
            file: origin.clone(),
            account: config.name().to_owned(),
            key,
        };
        Ok(Credentials {
            appid: config.appid().ok_or_else(|| missing("appid"))?.to_owned(),
            secret: config
                .appsecret()
                .ok_or_else(|| missing("app_secret"))?
                .to_owned(),
            api_base: config.api_base().map(str::to_owned),
            redis_url: config.redis_url().map(str::to_owned),
            redis_prefix: Some(config.redis_prefix().to_owned()),
        })
    }
}

/// The client, and the Redis backend sharing its token (kept alive as
/// long as the client).
fn client(
    credentials: Credentials,
) -> Result<(ApiClient, Option<Box<dyn std::any::Any>>), AdminError> {
    let mut builder = ApiClient::builder(credentials.appid, credentials.secret);
    if let Some(base) = credentials.api_base {
        builder = builder.base_url(base);
    }
    if let Some(base) = env("WECHAT_MP_BASE") {
        builder = builder.mp_base_url(base);
    }
    #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
    let mut keep: Option<Box<dyn std::any::Any>> = None;
    if let Some(url) = credentials.redis_url {
        #[cfg(feature = "redis")]
        {
            let mut redis = wechat_events::redis::RedisBackend::builder(url);
            if let Some(prefix) = credentials.redis_prefix {
                redis = redis.prefix(prefix);
            }
            let backend = redis.build().map_err(AdminError::Redis)?;
            builder = builder.token_store(wechat_events::redis::RedisTokens::new(&backend));
            keep = Some(Box::new(backend));
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = (url, credentials.redis_prefix);
            eprintln!(
                "note: WECHAT_REDIS_URL is set, but this wechat-admin was built without the \
                 `redis` feature: it fetches a stable token of its own (which does not \
                 invalidate the bot's)"
            );
        }
    }
    Ok((builder.build()?, keep))
}

fn run(cli: Cli) -> Result<(), AdminError> {
    // Local checks first: a bad file or scene needs no credentials.
    let menu = match &cli.command {
        Command::Menu(MenuCommand::Set { file }) => {
            let menu = Menu::from_file(file).map_err(AdminError::MenuFile)?;
            menu.check().map_err(|e| AdminError::Api(e.into()))?;
            Some(menu)
        }
        _ => None,
    };
    let (api, _redis) = client(Credentials::of(&cli)?)?;
    let runtime = actix_rt::System::new();
    runtime.block_on(async move {
        match cli.command {
            Command::Menu(command) => menu_command(&api, command, menu).await,
            Command::Qrcode(QrCommand::Create {
                scene,
                scene_id,
                expire,
                permanent,
                png,
            }) => {
                let scene = match (scene, scene_id) {
                    (Some(s), _) => QrScene::Str(s),
                    (None, Some(id)) => QrScene::Id(id),
                    (None, None) => unreachable!("clap requires one"),
                };
                qrcode(&api, scene, expire, permanent, png.as_deref()).await
            }
            Command::Media(MediaCommand::Upload { file, media_type }) => {
                let file = MediaFile::read(&file)?;
                let uploaded = api.media().upload(media_type, &file).await?;
                println!("media_id: {}", uploaded.media_id);
                println!("type: {}", uploaded.media_type);
                println!("created_at: {}", uploaded.created_at);
                Ok(())
            }
            Command::Media(MediaCommand::Get { media_id, out }) => {
                match api.media().get(&media_id).await? {
                    Media::File(file) => {
                        write(&out, &file.bytes)?;
                        println!(
                            "saved {} ({} bytes, {})",
                            out.display(),
                            file.bytes.len(),
                            file.content_type
                        );
                    }
                    Media::VideoUrl(url) => println!("video_url: {url}"),
                    _ => {}
                }
                Ok(())
            }
            Command::User(UserCommand::Info { openid }) => {
                let info = api.users().info(&openid).await?;
                println!("{}", pretty(&info));
                Ok(())
            }
            Command::User(UserCommand::List) => {
                let users = api.users();
                let mut followers = std::pin::pin!(users.followers());
                while let Some(openid) = followers.try_next().await? {
                    println!("{openid}");
                }
                Ok(())
            }
            Command::Template(TemplateCommand::Send {
                to,
                template,
                data,
                url,
            }) => {
                let mut message = TemplateMessage::new(to, template);
                for (k, v) in data {
                    message = message.data(k, v);
                }
                if let Some(url) = url {
                    message = message.url(url);
                }
                let msgid = api.templates().send(&message).await?;
                println!("msgid: {msgid}");
                Ok(())
            }
            Command::Template(TemplateCommand::Subscribe {
                to,
                template,
                data,
                page,
            }) => {
                let mut message = SubscribeMessage::new(to, template);
                for (k, v) in data {
                    message = message.data(k, v);
                }
                if let Some(page) = page {
                    message = message.page(page);
                }
                api.templates().send_subscribe(&message).await?;
                println!("sent");
                Ok(())
            }
        }
    })
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), AdminError> {
    std::fs::write(path, bytes).map_err(|source| AdminError::Write {
        path: path.to_owned(),
        source,
    })
}

async fn menu_command(
    api: &ApiClient,
    command: MenuCommand,
    menu: Option<Menu>,
) -> Result<(), AdminError> {
    match (command, menu) {
        (MenuCommand::Set { .. }, Some(menu)) => {
            api.menu().create(&menu).await?;
            let buttons = menu.buttons();
            let keys: Vec<&str> = buttons
                .iter()
                .filter_map(|(_, b)| b.key.as_deref())
                .collect();
            println!(
                "menu set: {} top-level buttons, {} buttons; keys: {}",
                menu.button.len(),
                buttons.len(),
                if keys.is_empty() {
                    "none".to_owned()
                } else {
                    keys.join(", ")
                }
            );
        }
        (MenuCommand::Get, _) => {
            let menus = api.menu().get().await?;
            match &menus.menu {
                None => println!("no menu"),
                Some(_) => println!("{}", pretty(&menus)),
            }
        }
        (MenuCommand::Delete, _) => {
            api.menu().delete().await?;
            println!("menu deleted");
        }
        (MenuCommand::Set { .. }, None) => unreachable!("read before"),
    }
    Ok(())
}

async fn qrcode(
    api: &ApiClient,
    scene: QrScene,
    expire: Option<u64>,
    permanent: bool,
    png: Option<&Path>,
) -> Result<(), AdminError> {
    let code = if permanent {
        api.qrcode().permanent(scene).await?
    } else {
        let expire = expire.unwrap_or(wechat_events::api::qrcode::MAX_EXPIRE.as_secs());
        api.qrcode()
            .temporary(scene, Duration::from_secs(expire))
            .await?
    };
    println!("ticket: {}", code.ticket);
    println!("url: {}", code.url);
    println!("image: {}", code.image_url);
    match code.expires_in {
        Some(d) => println!("expires in: {} s", d.as_secs()),
        None => println!("expires: never (permanent)"),
    }
    let scene = code.scene.push_value();
    println!("scene: {scene} (a new follower's subscribe carries EventKey qrscene_{scene}, a follower's SCAN {scene})");
    if let Some(path) = png {
        let image = api.qrcode().image(&code.ticket).await?;
        write(path, &image.bytes)?;
        println!("saved {} ({} bytes)", path.display(), image.bytes.len());
    }
    Ok(())
}

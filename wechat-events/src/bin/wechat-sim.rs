//! `wechat-sim`: play the WeChat server against a bot from the command line.
//!
//! WeChat's own debugger is an online form that cannot be scripted; this
//! sends the same signed (and, with a key, encrypted) requests WeChat sends,
//! and prints what the bot answered the way WeChat would read it. It is a
//! thin shell over `wechat_events::testing`: every protocol step happens
//! there.
//!
//! ```text
//! wechat-sim --token TOKEN text 你好
//! wechat-sim --token TOKEN --aes-key KEY --appid wx… --retries click --key SLOW
//! wechat-sim --config accounts.toml --account news text 你好
//! wechat-sim tour                  # against `cargo run --example quickstart`
//! wechat-sim parse push.xml        # what the crate makes of a push, as JSON
//! ```
//!
//! With `--config FILE --account NAME` the simulator plays WeChat for one
//! account of a server's accounts file (see `wechat_events::accounts`):
//! that account's token, mode, AppID and keys, and its path on `--url`'s
//! host. The file is read the way the server reads it, `env:VAR` secrets
//! included, so the same file (and the same variables) serve both.
//!
//! It also plays WeChat for a third-party platform (a "component", see
//! `wechat_events::component`): with `--component-appid APPID` (its token
//! and key from `--token`, `--aes-key`), or with `--config FILE` whose
//! `[open_platform]` table it reads, every push is signed with the
//! component's token and encrypted with its key for its AppID. `ticket`,
//! `authorized`, `updateauthorized` and `unauthorized` send authorization
//! events to the authorization URL (`/wechat/open/auth`, or the file's
//! `auth_path`), which must answer `success`; every other command, given
//! `--authorizer APPID`, sends that account's push to its message URL
//! (`/wechat/open/APPID`, or the file's `message_path`). Both paths replace
//! `--url`'s. The server checks a push's `ToUserName` against the gh_ id
//! the authorizer's authorization gave it, so give `--to gh_…`.
//!
//! ```text
//! wechat-sim --component-appid wx… --token T --aes-key K ticket TICKET
//! wechat-sim --config accounts.toml authorized --authorizer wxa… --code CODE
//! wechat-sim --config accounts.toml --authorizer wxa… --to gh_… text 你好
//! ```
//!
//! Exit status: 0 when every answer is one WeChat accepts; 1 when an answer
//! is not (status other than 200, later than 5 s, an encrypted reply whose
//! signature does not verify, a malformed reply, an authorization event not
//! answered `success`) or no answer came; 2 for usage errors (an accounts
//! file that does not load among them), and for `parse` of a document that
//! is not a push.

// The doc comments on `Cli` are clap's `--help` text, read by people, not
// rustdoc: `[open_platform]` there is a TOML table, not a link.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use wechat_events::accounts::Accounts;
use wechat_events::component::{DEFAULT_AUTH_PATH, DEFAULT_MESSAGE_PATH};
use wechat_events::config::ConfigError;
use wechat_events::crypto::AesKey;
use wechat_events::testing::{
    Answer, Prepared, Response, SimError, SimPush, Simulator, DEFAULT_ACCOUNT, DEFAULT_OPENID,
};
use wechat_events::Mode;

/// Play the WeChat server against your bot: signed (optionally encrypted)
/// pushes, answers decoded as WeChat reads them.
#[derive(Debug, Parser)]
#[command(name = "wechat-sim", version)]
struct Cli {
    /// The bot's push URL (plain http). With --config or
    /// --component-appid only its scheme, host and port count: the path is
    /// the account's, or the component's authorization or message path.
    #[arg(long, default_value = "http://127.0.0.1:8080/wechat")]
    url: String,
    /// An accounts file (as the server's WECHAT_CONFIG names): play WeChat
    /// for its account --account, with that account's token, mode, AppID,
    /// keys and path; in component mode (--authorizer, an authorization
    /// event, --component-appid, or a file with only [open_platform]) for
    /// its [open_platform] component, at its auth_path and message_path.
    /// Replaces --token, --aes-key, --appid and --compatible.
    /// WECHAT_CONFIG itself is not read: give the file here.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// With --config: the account's name in the file (`name = "..."`);
    /// may be left out when the file has one account. The account's WeChat
    /// id (ToUserName) is --to. Not in component mode.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Component mode: play WeChat for the third-party platform APPID,
    /// whose token and EncodingAESKey are --token and --aes-key (pushes are
    /// always encrypted, for the component's AppID). With --config the
    /// component is the file's [open_platform] table: this may be left out,
    /// or must be its appid.
    #[arg(long, value_name = "APPID")]
    component_appid: Option<String>,
    /// Component mode: the account (its AppID) that authorized the
    /// component. Ordinary pushes go to its message URL
    /// (/wechat/open/APPID, or the file's message_path); the server checks
    /// their ToUserName against the account's gh_ id, so give --to gh_….
    /// Also names the account of authorized, updateauthorized and
    /// unauthorized.
    #[arg(long, value_name = "APPID", global = true)]
    authorizer: Option<String>,
    /// The token configured in the WeChat console; the default is the
    /// quickstart's development token.
    #[arg(
        long,
        env = "WECHAT_TOKEN",
        hide_env_values = true,
        default_value = "devtoken"
    )]
    token: String,
    /// The EncodingAESKey (43 characters): encrypts pushes (secure mode).
    #[arg(long, env = "WECHAT_AES_KEY", hide_env_values = true)]
    aes_key: Option<String>,
    /// The account's AppID, required with --aes-key.
    #[arg(long, env = "WECHAT_APPID")]
    appid: Option<String>,
    /// Compatible mode: encrypted pushes also carry their plaintext fields.
    #[arg(long)]
    compatible: bool,
    /// The user's OpenID (FromUserName and openid).
    #[arg(long, default_value = DEFAULT_OPENID, global = true)]
    from: String,
    /// The account's original id (ToUserName). With --authorizer, the
    /// server refuses (403) a push whose ToUserName is not the authorizer's
    /// gh_ id: give it here.
    #[arg(long, default_value = DEFAULT_ACCOUNT, global = true)]
    to: String,
    /// Print the raw XML sent and received.
    #[arg(long)]
    xml: bool,
    /// Behave like WeChat: 5 s timeout, up to three tries of the same payload.
    #[arg(long)]
    retries: bool,
    /// Without --retries: how long to wait for an answer, in seconds (an
    /// answer after 5 s still fails).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    wait: f64,
    /// With --retries: while an answer says more waits (a long reply's
    /// part ending with the hint, or the note on pending replies), send the
    /// continue keyword again, so a whole long answer can be read here.
    #[arg(long, requires = "retries")]
    drain: bool,
    /// The message that asks for the next part (the service's
    /// WECHAT_CONTINUE_KEYWORD).
    #[arg(long, env = "WECHAT_CONTINUE_KEYWORD", default_value = wechat_events::split::DEFAULT_CONTINUE_KEYWORD)]
    continue_keyword: String,
    /// How a part that is not the last ends (the service's
    /// WECHAT_CONTINUE_HINT).
    #[arg(long, env = "WECHAT_CONTINUE_HINT", default_value = wechat_events::split::DEFAULT_CONTINUE_HINT)]
    continue_hint: String,
    #[command(subcommand)]
    command: Command,
    /// The identity flags given, as written (`--token`) or as the variable
    /// that set them (`WECHAT_TOKEN`): with --config they must be dropped.
    #[arg(skip)]
    identity_given: Vec<&'static str>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The GET handshake WeChat sends when the URL is configured.
    Verify,
    /// The user follows the account (optionally through a QR code scene).
    Subscribe {
        /// The parameter QR code's scene (sent as EventKey qrscene_S).
        #[arg(long)]
        scene: Option<String>,
    },
    /// The user unfollows the account.
    Unsubscribe,
    /// A follower scans a parameter QR code.
    Scan {
        /// The scene value (EventKey).
        #[arg(long)]
        scene: String,
    },
    /// The client reports the user's location (LOCATION event).
    Location {
        /// Latitude.
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude.
        #[arg(long, allow_negative_numbers = true)]
        lng: f64,
        /// Precision.
        #[arg(long, default_value_t = 0.0)]
        precision: f64,
    },
    /// A menu item with a key is clicked (CLICK event).
    Click {
        /// The menu key (EventKey).
        #[arg(long)]
        key: String,
    },
    /// A menu item opening a URL is clicked (VIEW event).
    View {
        /// The URL (EventKey).
        url: String,
        /// MenuId, for personalised menus.
        #[arg(long)]
        menu_id: Option<String>,
    },
    /// The user sends a text message.
    Text {
        /// What the user types.
        content: String,
    },
    /// The user sends a picture.
    Image {
        /// The picture's MediaId.
        #[arg(long)]
        media_id: String,
    },
    /// The user sends a voice clip.
    Voice {
        /// The clip's MediaId.
        #[arg(long)]
        media_id: String,
        /// Format.
        #[arg(long, default_value = "amr")]
        format: String,
        /// Speech recognition result (Recognition).
        #[arg(long)]
        recognition: Option<String>,
    },
    /// The user sends a video (a short video with --short).
    Video {
        /// The video's MediaId.
        #[arg(long)]
        media_id: String,
        /// The cover's ThumbMediaId.
        #[arg(long)]
        thumb_media_id: String,
        /// MsgType shortvideo instead of video.
        #[arg(long)]
        short: bool,
    },
    /// The user sends a link.
    Link {
        /// The link's URL.
        url: String,
        /// Title.
        #[arg(long)]
        title: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The menu's scanner read a code (scancode_push, or scancode_waitmsg
    /// with --waitmsg).
    Scancode {
        /// The menu key (EventKey).
        #[arg(long)]
        key: String,
        /// ScanType: qrcode, barcode, ...
        #[arg(long = "type", default_value = "qrcode")]
        scan_type: String,
        /// Send scancode_waitmsg (the client waits for an answer).
        #[arg(long)]
        waitmsg: bool,
        /// ScanResult: the decoded text.
        result: String,
    },
    /// The menu sent photos (pic_sysphoto, pic_photo_or_album or pic_weixin).
    Pics {
        /// The menu key (EventKey).
        #[arg(long)]
        key: String,
        /// Which menu item type.
        #[arg(long, value_enum, default_value_t = PicSource::Sysphoto)]
        source: PicSource,
        /// One PicMd5Sum per photo.
        #[arg(required = true)]
        md5: Vec<String>,
    },
    /// The menu's location picker chose a place (location_select).
    LocationSelect {
        /// The menu key (EventKey).
        #[arg(long)]
        key: String,
        /// Latitude (Location_X).
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude (Location_Y).
        #[arg(long, allow_negative_numbers = true)]
        lng: f64,
        /// Map zoom (Scale).
        #[arg(long, default_value_t = 15)]
        scale: u32,
        /// The address (Label).
        #[arg(long)]
        label: String,
        /// The place's name (Poiname).
        #[arg(long, default_value = "")]
        poiname: String,
    },
    /// Print a push's XML from FILE ("-" for stdin) as JSON, the way this
    /// crate parses it; with --aes-key/--appid (or an account's keys, with
    /// --config) an encrypted body is decrypted first. Sends nothing.
    Parse {
        /// The XML file; stdin when absent or "-".
        file: Option<PathBuf>,
    },
    /// Send any XML document from FILE ("-" for stdin), signed and, with a
    /// key, encrypted.
    Raw {
        /// The XML file.
        file: PathBuf,
    },
    /// The six sample events (subscribe, subscribe by QR code, SCAN, LOCATION, CLICK, VIEW) and a text message, as a transcript.
    Tour,
    /// Component mode: WeChat's component_verify_ticket (pushed every 10
    /// minutes), to the authorization URL.
    Ticket {
        /// ComponentVerifyTicket.
        ticket: String,
    },
    /// Component mode: the account --authorizer authorized the component
    /// (an authorization event, to the authorization URL).
    Authorized(Authorization),
    /// Component mode: the account --authorizer changed what it authorized.
    Updateauthorized(Authorization),
    /// Component mode: the account --authorizer withdrew its authorization.
    Unauthorized,
}

/// The fields of `authorized` and `updateauthorized`.
#[derive(Debug, clap::Args)]
struct Authorization {
    /// AuthorizationCode: what the server exchanges with api_query_auth.
    #[arg(long)]
    code: String,
    /// PreAuthCode: the pre-authorization code the account used.
    #[arg(long, value_name = "CODE")]
    pre_auth_code: Option<String>,
}

impl Command {
    /// The authorization event's `InfoType`, if the command sends one.
    fn info_type(&self) -> Option<&'static str> {
        match self {
            Command::Ticket { .. } => Some("component_verify_ticket"),
            Command::Authorized(_) => Some("authorized"),
            Command::Updateauthorized(_) => Some("updateauthorized"),
            Command::Unauthorized => Some("unauthorized"),
            _ => None,
        }
    }

    /// The subcommand as typed, for messages.
    fn name(&self) -> &'static str {
        match self {
            Command::Ticket { .. } => "ticket",
            other => other.info_type().unwrap_or("this command"),
        }
    }
}

/// The three `pic_*` menu events.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PicSource {
    /// pic_sysphoto: the camera.
    Sysphoto,
    /// pic_photo_or_album: the camera or the album.
    PhotoOrAlbum,
    /// pic_weixin: WeChat's album.
    Weixin,
}

impl PicSource {
    fn event(self) -> &'static str {
        match self {
            PicSource::Sysphoto => "pic_sysphoto",
            PicSource::PhotoOrAlbum => "pic_photo_or_album",
            PicSource::Weixin => "pic_weixin",
        }
    }
}

/// Why the simulator could not run at all.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0} (from --aes-key / WECHAT_AES_KEY)")]
    Key(SimError),
    #[error("--aes-key (WECHAT_AES_KEY) needs --appid (WECHAT_APPID): the AppID is sealed into every encrypted push")]
    AppIdMissing,
    #[error("--compatible needs --aes-key: compatible mode is about encrypted pushes")]
    CompatibleWithoutKey,
    #[error("--wait must be a positive number of seconds, got {0}")]
    Wait(f64),
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the document is encrypted (<Encrypt>): give --aes-key and --appid (WECHAT_AES_KEY, WECHAT_APPID)")]
    EncryptedWithoutKey,
    #[error("cannot decrypt the push: {0}")]
    Decrypt(wechat_events::crypto::CryptoError),
    #[error("not a WeChat push: {0}")]
    Parse(wechat_events::push::ParseError),
    #[error(
        "--account {0} names an account of an accounts file: give the file with --config FILE \
         (the account's WeChat id, ToUserName, is --to)"
    )]
    AccountWithoutConfig(String),
    #[error(
        "--config takes the account's token, mode, AppID and keys from the accounts file: {}",
        beside_config(.0)
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
    #[error(
        "the document is encrypted (<Encrypt>), but account {0:?} is in plaintext mode: its \
         accounts file gives it no aes_key"
    )]
    EncryptedForPlainAccount(String),
    #[error(
        "--url {url}: {source}; with --config or --component-appid, give a URL such as \
         http://127.0.0.1:8080 (its path becomes the account's, or the component's)"
    )]
    Url {
        url: String,
        source: url::ParseError,
    },
    #[error(
        "--authorizer names an account that authorized a third-party platform: give the \
         platform with --component-appid APPID (its token and key with --token, --aes-key), or \
         --config FILE with an [open_platform] table"
    )]
    AuthorizerWithoutComponent,
    #[error(
        "`{0}` sends a third-party platform's authorization event: give the platform with \
         --component-appid APPID (its token and key with --token, --aes-key), or --config FILE \
         with an [open_platform] table"
    )]
    EventWithoutComponent(&'static str),
    #[error(
        "{file} has no [open_platform] table: {why} needs a third-party platform's AppID, token \
         and key"
    )]
    NoOpenPlatform { file: String, why: String },
    #[error(
        "--account {0} names an account of an accounts file, but in component mode the \
         simulator plays WeChat for a third-party platform (--component-appid, or the file's \
         [open_platform]): drop --account (the account that authorized the component is \
         --authorizer)"
    )]
    AccountInComponentMode(String),
    #[error(
        "--component-appid {given} is not the component of {file}, whose [open_platform] appid \
         is {appid} (with --config, --component-appid may be left out)"
    )]
    OtherComponent {
        given: String,
        file: String,
        appid: String,
    },
    #[error(
        "--component-appid needs --aes-key (WECHAT_AES_KEY): a third-party platform's pushes \
         are always encrypted, with its EncodingAESKey"
    )]
    ComponentWithoutKey,
    #[error(
        "--component-appid: a third-party platform's pushes are encrypted for its own AppID, in \
         secure mode: {}",
        beside_config(.0)
    )]
    BesideComponent(Vec<&'static str>),
    #[error(
        "a third-party platform's pushes go to the message URL of an account that authorized \
         it: give --authorizer APPID (and --to, that account's gh_ id)"
    )]
    AuthorizerNeeded,
    #[error("`{0}` is about an account that authorized the component: give --authorizer APPID")]
    EventNeedsAuthorizer(&'static str),
    #[error("`ticket` is the component's own event, about no account: drop --authorizer")]
    TicketWithAuthorizer,
    #[error("--authorizer {0:?} is not an AppID (letters and digits, such as wx0123456789abcdef)")]
    BadAuthorizer(String),
}

impl CliError {
    /// Usage errors (and documents that are not pushes) exit 2.
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Key(_) | CliError::File { .. } => ExitCode::FAILURE,
            CliError::AppIdMissing
            | CliError::CompatibleWithoutKey
            | CliError::Wait(_)
            | CliError::EncryptedWithoutKey
            | CliError::Decrypt(_)
            | CliError::Parse(_)
            | CliError::AccountWithoutConfig(_)
            | CliError::BesideConfig(_)
            | CliError::ConfigFile { .. }
            | CliError::Config(_)
            | CliError::Pick(_)
            | CliError::EncryptedForPlainAccount(_)
            | CliError::Url { .. }
            | CliError::AuthorizerWithoutComponent
            | CliError::EventWithoutComponent(_)
            | CliError::NoOpenPlatform { .. }
            | CliError::AccountInComponentMode(_)
            | CliError::OtherComponent { .. }
            | CliError::ComponentWithoutKey
            | CliError::BesideComponent(_)
            | CliError::AuthorizerNeeded
            | CliError::EventNeedsAuthorizer(_)
            | CliError::TicketWithAuthorizer
            | CliError::BadAuthorizer(_) => ExitCode::from(2),
        }
    }
}

/// What to do about identity flags given beside `--config`: drop the
/// flags, unset the variables.
fn beside_config(given: &[&str]) -> String {
    let (flags, vars): (Vec<&str>, Vec<&str>) = given.iter().partition(|g| g.starts_with("--"));
    let mut todo = Vec::new();
    if !flags.is_empty() {
        todo.push(format!("drop {}", flags.join(", ")));
    }
    if !vars.is_empty() {
        todo.push(format!("unset {}", vars.join(", ")));
    }
    todo.join("; ")
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.identity_given = identity_given(&matches);
    let result = match &cli.command {
        Command::Parse { file } => parse(&cli, file.as_ref()).map(|()| true),
        _ => run(cli),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// The identity flags given on the command line or through their
/// variables (defaults do not count).
fn identity_given(matches: &clap::ArgMatches) -> Vec<&'static str> {
    let flags = [
        ("token", "--token", "WECHAT_TOKEN"),
        ("aes_key", "--aes-key", "WECHAT_AES_KEY"),
        ("appid", "--appid", "WECHAT_APPID"),
        ("compatible", "--compatible", "--compatible"),
    ];
    flags
        .into_iter()
        .filter_map(|(id, flag, var)| match matches.value_source(id) {
            Some(ValueSource::CommandLine) => Some(flag),
            Some(ValueSource::EnvVariable) => Some(var),
            _ => None,
        })
        .collect()
}

/// Whom the simulator plays WeChat for: where pushes go, and how they are
/// signed and encrypted.
struct Identity {
    url: String,
    token: String,
    secure: Option<Secure>,
    /// The account's name, when the identity is an accounts file's.
    account: Option<String>,
    /// In component mode: the third-party platform.
    component: Option<Component>,
}

/// A third-party platform the simulator plays WeChat for.
struct Component {
    appid: String,
    /// The authorizer pushes are for (`--authorizer`).
    authorizer: Option<String>,
}

/// A third-party platform's two paths.
struct ComponentPaths<'a> {
    auth: &'a str,
    /// With `{appid}`.
    message: &'a str,
}

/// Secure or compatible mode.
struct Secure {
    appid: String,
    /// The EncodingAESKeys, current first (pushes are encrypted with it;
    /// `parse` tries them all, as the server does).
    keys: Vec<AesKey>,
    compatible: bool,
}

impl Identity {
    /// The identity the flags describe (`--token`, `--aes-key`, ...), or
    /// with `--config`, the one of the accounts file's account.
    fn of(cli: &Cli) -> Result<Identity, CliError> {
        match &cli.config {
            Some(file) => Identity::from_file(cli, file),
            None => Identity::from_flags(cli),
        }
    }

    fn from_flags(cli: &Cli) -> Result<Identity, CliError> {
        let component = present(&cli.component_appid);
        match (&cli.account, component) {
            (Some(name), Some(_)) => return Err(CliError::AccountInComponentMode(name.clone())),
            (Some(name), None) => return Err(CliError::AccountWithoutConfig(name.clone())),
            (None, Some(appid)) => return Identity::component_from_flags(cli, appid),
            (None, None) => {}
        }
        if cli.authorizer.is_some() {
            return Err(CliError::AuthorizerWithoutComponent);
        }
        if cli.command.info_type().is_some() {
            return Err(CliError::EventWithoutComponent(cli.command.name()));
        }
        let secure = match (present(&cli.aes_key), present(&cli.appid)) {
            (Some(key), Some(appid)) => Some(Secure {
                appid,
                keys: vec![AesKey::from_encoding_aes_key(&key)
                    .map_err(|e| CliError::Key(SimError::Key(e)))?],
                compatible: cli.compatible,
            }),
            (Some(_), None) => return Err(CliError::AppIdMissing),
            (None, _) if cli.compatible => return Err(CliError::CompatibleWithoutKey),
            (None, _) => None,
        };
        Ok(Identity {
            url: cli.url.clone(),
            token: cli.token.trim().to_owned(),
            secure,
            account: None,
            component: None,
        })
    }

    /// `--component-appid APPID` with `--token` and `--aes-key`, at the
    /// default paths.
    fn component_from_flags(cli: &Cli, appid: String) -> Result<Identity, CliError> {
        let beside: Vec<&'static str> = cli
            .identity_given
            .iter()
            .copied()
            .filter(|g| matches!(*g, "--appid" | "WECHAT_APPID" | "--compatible"))
            .collect();
        if !beside.is_empty() {
            return Err(CliError::BesideComponent(beside));
        }
        let key = present(&cli.aes_key).ok_or(CliError::ComponentWithoutKey)?;
        let key =
            AesKey::from_encoding_aes_key(&key).map_err(|e| CliError::Key(SimError::Key(e)))?;
        let paths = ComponentPaths {
            auth: DEFAULT_AUTH_PATH,
            message: DEFAULT_MESSAGE_PATH,
        };
        Ok(Identity {
            url: component_url(cli, &paths)?,
            token: cli.token.trim().to_owned(),
            secure: Some(Secure {
                appid: appid.clone(),
                keys: vec![key],
                compatible: false,
            }),
            account: None,
            component: Some(Component {
                appid,
                authorizer: present(&cli.authorizer),
            }),
        })
    }

    /// The account `--account` of the accounts file `file`, read as the
    /// server reads it (`env:` secrets from this process's environment).
    fn from_file(cli: &Cli, file: &Path) -> Result<Identity, CliError> {
        if !cli.identity_given.is_empty() {
            return Err(CliError::BesideConfig(cli.identity_given.clone()));
        }
        // Read here rather than by `Accounts::from_file`, whose error
        // names the server's WECHAT_CONFIG, which this run did not use.
        let text = std::fs::read_to_string(file).map_err(|source| CliError::ConfigFile {
            path: file.to_owned(),
            source,
        })?;
        let origin = file.display().to_string();
        let accounts = Accounts::from_toml(&text, &origin, |v| std::env::var(v).ok())
            .map_err(CliError::Config)?;
        // Component mode: asked for, or the file's only identity.
        let why = match (&cli.component_appid, &cli.authorizer) {
            (Some(_), _) => Some("--component-appid".to_owned()),
            (None, Some(_)) => Some("--authorizer".to_owned()),
            (None, None) => cli
                .command
                .info_type()
                .map(|_| format!("`{}`", cli.command.name())),
        };
        let only_component = accounts.configs().is_empty() && accounts.open_platform().is_some();
        if why.is_some() || (only_component && cli.account.is_none()) {
            if let Some(name) = &cli.account {
                return Err(CliError::AccountInComponentMode(name.clone()));
            }
            let Some(platform) = accounts.open_platform() else {
                return Err(CliError::NoOpenPlatform {
                    file: origin,
                    why: why.unwrap_or_default(),
                });
            };
            if let Some(given) = present(&cli.component_appid) {
                if given != platform.appid() {
                    return Err(CliError::OtherComponent {
                        given,
                        file: origin,
                        appid: platform.appid().to_owned(),
                    });
                }
            }
            let paths = ComponentPaths {
                auth: platform.auth_path(),
                message: platform.message_path(),
            };
            let config = platform.config();
            return Ok(Identity {
                url: component_url(cli, &paths)?,
                token: config.token().to_owned(),
                secure: config.keys().map(|keys| Secure {
                    appid: keys.appid().to_owned(),
                    keys: keys.all().cloned().collect(),
                    compatible: false,
                }),
                account: None,
                component: Some(Component {
                    appid: platform.appid().to_owned(),
                    authorizer: present(&cli.authorizer),
                }),
            });
        }
        let config = (accounts.pick(cli.account.as_deref(), &origin)).map_err(CliError::Pick)?;
        let secure = config.keys().map(|keys| Secure {
            appid: keys.appid().to_owned(),
            keys: keys.all().cloned().collect(),
            compatible: config.mode() == Mode::Compatible,
        });
        Ok(Identity {
            url: with_path(&cli.url, config.path())?,
            token: config.token().to_owned(),
            secure,
            account: Some(config.name().to_owned()),
            component: None,
        })
    }

    fn mode(&self) -> &'static str {
        match &self.secure {
            None => "plaintext",
            Some(Secure {
                compatible: true, ..
            }) => "compatible mode",
            Some(_) => "secure mode",
        }
    }
}

/// A flag's value, trimmed, when it is not blank.
fn present(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `url` with its path replaced by `path`.
fn with_path(url: &str, path: &str) -> Result<String, CliError> {
    let mut parsed = url::Url::parse(url).map_err(|source| CliError::Url {
        url: url.to_owned(),
        source,
    })?;
    parsed.set_path(path);
    Ok(parsed.into())
}

/// Where the command goes in component mode: an authorization event to
/// the authorization path, a push to `--authorizer`'s message path
/// (`parse` sends nothing: `--url` as given).
fn component_url(cli: &Cli, paths: &ComponentPaths<'_>) -> Result<String, CliError> {
    let authorizer = match cli.authorizer.as_deref().map(str::trim) {
        Some(appid) if appid.is_empty() || !appid.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            return Err(CliError::BadAuthorizer(appid.to_owned()))
        }
        other => other,
    };
    let path = match (&cli.command, authorizer) {
        (Command::Parse { .. }, _) => return Ok(cli.url.clone()),
        (Command::Ticket { .. }, Some(_)) => return Err(CliError::TicketWithAuthorizer),
        (Command::Ticket { .. }, None) => paths.auth.to_owned(),
        (command, None) if command.info_type().is_some() => {
            return Err(CliError::EventNeedsAuthorizer(command.name()))
        }
        (command, Some(_)) if command.info_type().is_some() => paths.auth.to_owned(),
        (_, None) => return Err(CliError::AuthorizerNeeded),
        (_, Some(appid)) => paths.message.replace("{appid}", appid),
    };
    with_path(&cli.url, &path)
}

/// `parse`: prints the push as JSON (the shape documented on `Push`).
fn parse(cli: &Cli, file: Option<&PathBuf>) -> Result<(), CliError> {
    // An accounts file is read whatever the document: a mistake in
    // --config or --account is reported even for a plaintext push. The
    // flags' key is only needed, and checked, for an encrypted one.
    let from_file = match (&cli.config, &cli.account) {
        (None, None) => None,
        _ => Some(Identity::of(cli)?),
    };
    let stdin = PathBuf::from("-");
    let mut xml = read(file.unwrap_or(&stdin))?;
    if xml.contains("<Encrypt>") {
        let identity = match from_file {
            Some(identity) => identity,
            None => Identity::of(cli)?,
        };
        let Some(secure) = identity.secure else {
            return Err(match identity.account {
                Some(name) => CliError::EncryptedForPlainAccount(name),
                None => CliError::EncryptedWithoutKey,
            });
        };
        use wechat_events::crypto;
        let encrypt = crypto::extract_encrypt(&xml).map_err(CliError::Decrypt)?;
        let mut first_error = None;
        for key in &secure.keys {
            match crypto::decrypt(key, &encrypt, Some(&secure.appid)) {
                Ok(decrypted) => {
                    xml = decrypted.message;
                    first_error = None;
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(CliError::Decrypt(e));
        }
    }
    let push = wechat_events::push::parse(xml.as_bytes()).map_err(CliError::Parse)?;
    let json = serde_json::to_string_pretty(&push).expect("a push always serializes");
    println!("{json}");
    Ok(())
}

/// Runs the command; `Ok(false)` when an answer was not acceptable.
fn run(cli: Cli) -> Result<bool, CliError> {
    let identity = Identity::of(&cli)?;
    let sim = simulator(&cli, &identity)?;
    let outgoing = outgoing(&cli.command, identity.component.as_ref())?;
    let runtime = actix_rt::System::new();
    Ok(runtime.block_on(async {
        let account = match &identity.account {
            Some(name) => format!("account {name:?}, "),
            None => String::new(),
        };
        match (&identity.component, &outgoing) {
            (Some(component), Outgoing::AuthEvent { .. }) => println!(
                "WeChat → {} (component {}, authorization event, {})",
                identity.url,
                component.appid,
                identity.mode()
            ),
            (Some(component), _) => println!(
                "WeChat → {} (component {}, authorizer {}, {}, user {} → account {})",
                identity.url,
                component.appid,
                component.authorizer.as_deref().unwrap_or("-"),
                identity.mode(),
                cli.from,
                cli.to
            ),
            (None, _) => println!(
                "WeChat → {} ({account}{}, user {} → account {})",
                identity.url,
                identity.mode(),
                cli.from,
                cli.to
            ),
        }
        let pushes = match &outgoing {
            Outgoing::Handshake => {
                let prepared = sim.prepare_handshake();
                return exchange(&cli, &identity, &sim, &prepared, "", None).await.0;
            }
            Outgoing::AuthEvent { push, description } => {
                let prepared = sim.prepare(push);
                return exchange(&cli, &identity, &sim, &prepared, "", Some(description))
                    .await
                    .0;
            }
            Outgoing::Pushes(pushes) => pushes,
        };
        let total = pushes.len();
        let mut good = 0;
        for (i, push) in pushes.iter().enumerate() {
            let step = if total > 1 {
                println!();
                format!("[{}/{total}] ", i + 1)
            } else {
                String::new()
            };
            let (accepted, mut text) =
                exchange(&cli, &identity, &sim, &sim.prepare(push), &step, None).await;
            let mut all = accepted;
            // --drain: ask for what waits until nothing does.
            let mut asked = 0;
            while cli.drain && all && text.as_deref().is_some_and(|t| waits(&cli, t)) && asked < 100
            {
                asked += 1;
                println!();
                let more = SimPush::text(cli.continue_keyword.clone());
                let step = format!("{step}[{} {asked}] ", cli.continue_keyword);
                (all, text) =
                    exchange(&cli, &identity, &sim, &sim.prepare(&more), &step, None).await;
            }
            if all {
                good += 1;
            }
        }
        if total > 1 {
            println!("\n{good} of {total} answers accepted");
        }
        good == total
    }))
}

fn simulator(cli: &Cli, identity: &Identity) -> Result<Simulator, CliError> {
    if !(cli.wait > 0.0 && cli.wait.is_finite()) {
        return Err(CliError::Wait(cli.wait));
    }
    let timeout = if cli.retries {
        wechat_events::config::WECHAT_TIMEOUT
    } else {
        Duration::from_secs_f64(cli.wait)
    };
    let mut sim = Simulator::new(identity.token.as_str())
        .openid(&cli.from)
        .account(&cli.to)
        .timeout(timeout);
    if let Some(secure) = &identity.secure {
        if let Some(key) = secure.keys.first() {
            // The simulator takes the console's 43 characters.
            let encoding_aes_key = STANDARD_NO_PAD.encode(key.as_bytes());
            sim = sim
                .secure(&encoding_aes_key, secure.appid.as_str())
                .map_err(CliError::Key)?;
        }
        if secure.compatible {
            sim = sim.compatible();
        }
    }
    Ok(sim)
}

/// What a command sends.
enum Outgoing {
    /// The GET handshake.
    Handshake,
    /// Pushes, answered as WeChat reads answers.
    Pushes(Vec<SimPush>),
    /// A third-party platform's authorization event, to be answered
    /// `success`; `description` says what it is (without its secrets).
    AuthEvent { push: SimPush, description: String },
}

/// What `command` sends (as `component`, for its authorization events).
fn outgoing(command: &Command, component: Option<&Component>) -> Result<Outgoing, CliError> {
    if let Some(info_type) = command.info_type() {
        let component = component.ok_or_else(|| CliError::EventWithoutComponent(command.name()))?;
        return auth_event(command, info_type, component)
            .map(|(push, description)| Outgoing::AuthEvent { push, description });
    }
    let push = match command {
        Command::Verify => return Ok(Outgoing::Handshake),
        Command::Tour => return Ok(Outgoing::Pushes(tour())),
        Command::Subscribe { scene: None } => SimPush::subscribe(),
        Command::Subscribe { scene: Some(s) } => SimPush::subscribe_scene(s),
        Command::Unsubscribe => SimPush::unsubscribe(),
        Command::Scan { scene } => SimPush::scan(scene),
        Command::Location {
            lat,
            lng,
            precision,
        } => SimPush::location_event(*lat, *lng, *precision),
        Command::Click { key } => SimPush::click(key),
        Command::View { url, menu_id: None } => SimPush::view(url),
        Command::View {
            url,
            menu_id: Some(id),
        } => SimPush::view_menu(url, id),
        Command::Text { content } => SimPush::text(content),
        Command::Image { media_id } => SimPush::image(media_id),
        Command::Voice {
            media_id,
            format,
            recognition,
        } => {
            let voice = match recognition {
                Some(r) => SimPush::voice_recognized(media_id, r),
                None => SimPush::voice(media_id),
            };
            voice.field("Format", format)
        }
        Command::Video {
            media_id,
            thumb_media_id,
            short: false,
        } => SimPush::video(media_id, thumb_media_id),
        Command::Video {
            media_id,
            thumb_media_id,
            short: true,
        } => SimPush::shortvideo(media_id, thumb_media_id),
        Command::Link {
            url,
            title,
            description,
        } => SimPush::link(title, description, url),
        Command::Scancode {
            key,
            scan_type,
            waitmsg,
            result,
        } => SimPush::scancode(*waitmsg, key, scan_type, result),
        Command::Pics { key, source, md5 } => SimPush::pics(source.event(), key, md5),
        Command::LocationSelect {
            key,
            lat,
            lng,
            scale,
            label,
            poiname,
        } => SimPush::location_select(key, *lat, *lng, *scale, label, poiname),
        Command::Parse { .. } => unreachable!("parse sends nothing"),
        Command::Raw { file } => SimPush::raw(read(file)?),
        Command::Ticket { .. }
        | Command::Authorized(_)
        | Command::Updateauthorized(_)
        | Command::Unauthorized => unreachable!("authorization events are built above"),
    };
    Ok(Outgoing::Pushes(vec![push]))
}

/// The authorization event `command` sends (protocol.md §9): the
/// decrypted document WeChat POSTs to the authorization URL, and its
/// description.
fn auth_event(
    command: &Command,
    info_type: &str,
    component: &Component,
) -> Result<(SimPush, String), CliError> {
    use wechat_events::xml::{cdata_element, number_element};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .try_into()
        .unwrap_or(i64::MAX);
    let mut xml = String::from("<xml>");
    cdata_element(&mut xml, "AppId", &component.appid);
    number_element(&mut xml, "CreateTime", now);
    cdata_element(&mut xml, "InfoType", info_type);
    let authorizer = || {
        component
            .authorizer
            .as_deref()
            .map(str::trim)
            .ok_or(CliError::EventNeedsAuthorizer(command.name()))
    };
    let description = match command {
        Command::Ticket { ticket } => {
            cdata_element(&mut xml, "ComponentVerifyTicket", ticket);
            info_type.to_owned()
        }
        Command::Authorized(auth) | Command::Updateauthorized(auth) => {
            let authorizer = authorizer()?;
            cdata_element(&mut xml, "AuthorizerAppid", authorizer);
            cdata_element(&mut xml, "AuthorizationCode", &auth.code);
            // WeChat's codes last an hour.
            number_element(&mut xml, "AuthorizationCodeExpiredTime", now + 3600);
            if let Some(pre_auth_code) = &auth.pre_auth_code {
                cdata_element(&mut xml, "PreAuthCode", pre_auth_code);
            }
            format!("{info_type} {authorizer}")
        }
        Command::Unauthorized => {
            let authorizer = authorizer()?;
            cdata_element(&mut xml, "AuthorizerAppid", authorizer);
            format!("{info_type} {authorizer}")
        }
        _ => unreachable!("not an authorization event"),
    };
    xml.push_str("</xml>");
    Ok((SimPush::raw(xml), description))
}

fn read(path: &PathBuf) -> Result<String, CliError> {
    let error = |source| CliError::File {
        path: path.clone(),
        source,
    };
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).map_err(error);
    }
    std::fs::read_to_string(path).map_err(error)
}

/// The six sample events (subscribe, subscribe by QR code, SCAN, LOCATION, CLICK, VIEW), then a text asking for the location
/// the LOCATION event reported.
fn tour() -> Vec<SimPush> {
    vec![
        SimPush::subscribe(),
        SimPush::subscribe_scene("123123"),
        SimPush::scan("SCENE_VALUE"),
        SimPush::location_event(23.137466, 113.352425, 119.385040),
        SimPush::click("EVENTKEY"),
        SimPush::view("www.qq.com"),
        SimPush::text("位置"),
    ]
}

/// Whether an answer's `text` says more waits for the user: it ends with
/// the continue hint, or carries the note on pending replies.
fn waits(cli: &Cli, text: &str) -> bool {
    let note = wechat_events::pending::MORE_NOTE;
    let note_head = note.split('N').next().unwrap_or(note);
    (!cli.continue_hint.is_empty() && text.ends_with(cli.continue_hint.as_str()))
        || text.contains(note_head)
}

/// Delivers one request and prints the exchange, its line prefixed with
/// `step`; whether WeChat would accept the answer, and its text if it is
/// a text reply.
async fn exchange(
    cli: &Cli,
    identity: &Identity,
    sim: &Simulator,
    prepared: &Prepared,
    step: &str,
    auth_event: Option<&str>,
) -> (bool, Option<String>) {
    println!(
        "{step}→ {}{}",
        auth_event.unwrap_or(prepared.description()),
        if prepared.is_encrypted() {
            " (encrypted)"
        } else {
            ""
        }
    );
    if cli.xml && !prepared.xml().is_empty() {
        println!("  push: {}", prepared.xml());
        if prepared.is_encrypted() {
            println!("  sent: {}", prepared.body());
        }
    }
    let delivered = if cli.retries {
        sim.deliver_with_retries(identity.url.as_str(), prepared)
            .await
            .map(|retried| {
                for (i, failure) in retried.failures.iter().enumerate() {
                    println!("  try {}: {failure}", i + 1);
                }
                retried.response
            })
    } else {
        sim.deliver(identity.url.as_str(), prepared).await
    };
    match delivered {
        Ok(response) => (
            report(cli, &response, auth_event.is_some()),
            response.text().map(str::to_owned),
        ),
        Err(e) => {
            println!("✗ {e}");
            (false, None)
        }
    }
}

/// Prints the answer; whether WeChat would accept it (an authorization
/// event must be answered `success`).
fn report(cli: &Cli, response: &Response, auth_event: bool) -> bool {
    println!("← {} in {}", response.status, elapsed(response.elapsed));
    if cli.xml {
        println!("  received: {}", response.body_text());
        if let Ok(Answer::Replied(received)) = &response.answer {
            if received.encrypted {
                println!("  decrypted: {}", received.xml);
            }
        }
    }
    match response.check() {
        Ok(Answer::Success) if auth_event => {
            println!("  success");
            true
        }
        Ok(answer) if auth_event => {
            println!("  {answer}");
            println!("✗ WeChat wants `success` as the answer to an authorization event");
            false
        }
        Ok(answer) => {
            println!("  {answer}");
            true
        }
        Err(e) => {
            if let Ok(answer) = &response.answer {
                println!("  {answer}");
            }
            println!("✗ {e}");
            false
        }
    }
}

fn elapsed(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use wechat_events::testing::SimKind;

    use super::Cli;

    /// Every subcommand that sends one push is a kind of the simulator's
    /// table (`SimKind`, which the inspector's send form offers), with
    /// the same fields: the two cannot drift apart.
    #[test]
    fn push_subcommands_are_the_simulators_kinds() {
        let not_one_push = [
            "verify",
            "tour",
            "parse",
            "ticket",
            "authorized",
            "updateauthorized",
            "unauthorized",
        ];
        let mut checked = 0;
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            if not_one_push.contains(&name) {
                continue;
            }
            let kind = SimKind::find(name)
                .unwrap_or_else(|| panic!("`wechat-sim {name}` is not in SimKind::all()"));
            let mut options: Vec<&str> = sub.get_arguments().map(|a| a.get_id().as_str()).collect();
            let mut fields: Vec<&str> = kind.fields.iter().map(|f| f.name).collect();
            options.sort_unstable();
            fields.sort_unstable();
            // `raw` reads its document from a file; the form takes the text.
            if name == "raw" {
                assert_eq!((options, fields), (vec!["file"], vec!["xml"]));
            } else {
                assert_eq!(
                    options, fields,
                    "`wechat-sim {name}`'s options and its SimKind's fields"
                );
            }
            checked += 1;
        }
        assert!(checked >= 14, "only {checked} push subcommands found");
    }
}

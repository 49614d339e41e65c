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
//! Exit status: 0 when every answer is one WeChat accepts; 1 when an answer
//! is not (status other than 200, later than 5 s, an encrypted reply whose
//! signature does not verify, a malformed reply) or no answer came; 2 for
//! usage errors (an accounts file that does not load among them), and for
//! `parse` of a document that is not a push.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use wechat_events::accounts::Accounts;
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
    /// The bot's push URL (plain http). With --config only its scheme, host
    /// and port count: the path is the account's.
    #[arg(long, default_value = "http://127.0.0.1:8080/wechat")]
    url: String,
    /// An accounts file (as the server's WECHAT_CONFIG names): play WeChat
    /// for its account --account, with that account's token, mode, AppID,
    /// keys and path. Replaces --token, --aes-key, --appid and --compatible.
    /// WECHAT_CONFIG itself is not read: give the file here.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// With --config: the account's name in the file (`name = "..."`);
    /// may be left out when the file has one account. The account's WeChat
    /// id (ToUserName) is --to.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
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
    #[arg(long, default_value = DEFAULT_OPENID)]
    from: String,
    /// The account's original id (ToUserName).
    #[arg(long, default_value = DEFAULT_ACCOUNT)]
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
    #[error(
        "{file} has {} accounts: choose one with --account NAME ({})",
        .names.len(),
        .names.join(", ")
    )]
    AccountNeeded { file: String, names: Vec<String> },
    #[error(
        "{file} has no account {name:?}{}; its accounts: {}",
        .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default(),
        .names.join(", ")
    )]
    UnknownAccount {
        file: String,
        name: String,
        suggestion: Option<String>,
        names: Vec<String>,
    },
    #[error(
        "the document is encrypted (<Encrypt>), but account {0:?} is in plaintext mode: its \
         accounts file gives it no aes_key"
    )]
    EncryptedForPlainAccount(String),
    #[error(
        "--url {url}: {source}; with --config, give a URL such as http://127.0.0.1:8080 (its \
         path becomes the account's)"
    )]
    Url {
        url: String,
        source: url::ParseError,
    },
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
            | CliError::AccountNeeded { .. }
            | CliError::UnknownAccount { .. }
            | CliError::EncryptedForPlainAccount(_)
            | CliError::Url { .. } => ExitCode::from(2),
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
        if let Some(name) = &cli.account {
            return Err(CliError::AccountWithoutConfig(name.clone()));
        }
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
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
        let names = || accounts.names().map(str::to_owned).collect::<Vec<_>>();
        let config = match (&cli.account, accounts.configs()) {
            (None, [only]) => only,
            (None, _) => {
                return Err(CliError::AccountNeeded {
                    file: origin,
                    names: names(),
                })
            }
            (Some(name), _) => accounts.get(name).ok_or_else(|| CliError::UnknownAccount {
                suggestion: closest(name, accounts.names()).map(str::to_owned),
                file: origin.clone(),
                name: name.clone(),
                names: names(),
            })?,
        };
        let mut url = url::Url::parse(&cli.url).map_err(|source| CliError::Url {
            url: cli.url.clone(),
            source,
        })?;
        url.set_path(config.path());
        let secure = config.keys().map(|keys| Secure {
            appid: keys.appid().to_owned(),
            keys: keys.all().cloned().collect(),
            compatible: config.mode() == Mode::Compatible,
        });
        Ok(Identity {
            url: url.into(),
            token: config.token().to_owned(),
            secure,
            account: Some(config.name().to_owned()),
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

/// The name most like `wanted`, if one is close (Jaro-Winkler similarity
/// of at least 0.8, as clap suggests subcommands).
fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|name| (strsim::jaro_winkler(wanted, name), name))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
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
    let pushes = pushes(&cli.command)?;
    let runtime = actix_rt::System::new();
    Ok(runtime.block_on(async {
        let account = match &identity.account {
            Some(name) => format!("account {name:?}, "),
            None => String::new(),
        };
        println!(
            "WeChat → {} ({account}{}, user {} → account {})",
            identity.url,
            identity.mode(),
            cli.from,
            cli.to
        );
        let Some(pushes) = pushes else {
            return exchange(&cli, &identity, &sim, &sim.prepare_handshake(), "")
                .await
                .0;
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
                exchange(&cli, &identity, &sim, &sim.prepare(push), &step).await;
            let mut all = accepted;
            // --drain: ask for what waits until nothing does.
            let mut asked = 0;
            while cli.drain && all && text.as_deref().is_some_and(|t| waits(&cli, t)) && asked < 100
            {
                asked += 1;
                println!();
                let more = SimPush::text(cli.continue_keyword.clone());
                let step = format!("{step}[{} {asked}] ", cli.continue_keyword);
                (all, text) = exchange(&cli, &identity, &sim, &sim.prepare(&more), &step).await;
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

/// The pushes a command sends; `None` for the handshake.
fn pushes(command: &Command) -> Result<Option<Vec<SimPush>>, CliError> {
    let push = match command {
        Command::Verify => return Ok(None),
        Command::Tour => return Ok(Some(tour())),
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
    };
    Ok(Some(vec![push]))
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
) -> (bool, Option<String>) {
    println!(
        "{step}→ {}{}",
        prepared.description(),
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
        Ok(response) => (report(cli, &response), response.text().map(str::to_owned)),
        Err(e) => {
            println!("✗ {e}");
            (false, None)
        }
    }
}

fn report(cli: &Cli, response: &Response) -> bool {
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

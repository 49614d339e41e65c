//! Several accounts in one server, through real HTTP: two plaintext
//! accounts and a secure one, read from an accounts file, mounted together
//! with `WechatAccounts` on a `TestServer`. Each is answered by its own and
//! the shared handlers only, refuses the others' signatures and keys, and
//! keeps its own dedup, sessions and pending replies for one OpenID.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::AES_KEY;
use tokio::sync::watch;
use wechat_events::session::SessionError;
use wechat_events::testing::{SimPush, Simulator, TestServer};
use wechat_events::{
    on_event, on_text, Accounts, ClickEvent, Config, Context, Mode, Reply, Router, Session,
    TextMessage, WechatAccounts,
};

/// Scoped to two of the three accounts.
#[on_text(keyword = "会员", account = "shop", account = "staff")]
async fn members(_: TextMessage, cx: Context) -> String {
    format!("{} members", cx.account_name())
}

/// Scoped to one.
#[on_event(Click, key = "NEWS", account = "news")]
async fn news_menu(_: ClickEvent) -> &'static str {
    "news menu"
}

/// Two plaintext accounts and a secure one; every secret from a variable.
const FILE: &str = r#"
    [[accounts]]
    name = "shop"
    token = "env:SHOP_TOKEN"
    deadline_ms = 300
    wait_retries = 0

    [[accounts]]
    name = "news"
    token = "env:NEWS_TOKEN"
    path = "/wx/news"
    deadline_ms = 300
    wait_retries = 0

    [[accounts]]
    name = "staff"
    token = "env:STAFF_TOKEN"
    appid = "wx2c2769f8efd9abc2"
    aes_key = "env:STAFF_AES_KEY"
    deadline_ms = 300
    wait_retries = 0
"#;

fn accounts() -> Accounts {
    let env: HashMap<&str, &str> = HashMap::from([
        ("SHOP_TOKEN", "shoptoken"),
        ("NEWS_TOKEN", "newstoken"),
        ("STAFF_TOKEN", "stafftoken"),
        ("STAFF_AES_KEY", AES_KEY),
    ]);
    Accounts::from_toml(FILE, "accounts.toml", |name| {
        env.get(name).map(|v| (*v).to_owned())
    })
    .expect("accounts")
}

/// What the handlers saw, per account.
#[derive(Default)]
struct Seen {
    runs: Mutex<HashMap<String, usize>>,
}

impl Seen {
    fn run(&self, account: &str) {
        *self
            .runs
            .lock()
            .unwrap()
            .entry(account.to_owned())
            .or_default() += 1;
    }
    fn runs(&self, account: &str) -> usize {
        self.runs.lock().unwrap().get(account).copied().unwrap_or(0)
    }
}

/// The slow handlers wait until the test opens this.
struct Gate(watch::Sender<bool>);

/// The server with every account, and the test's views of it.
struct Bot {
    server: TestServer,
    services: WechatAccounts,
    accounts: Accounts,
    seen: Arc<Seen>,
    gate: Arc<Gate>,
}

impl Bot {
    fn start() -> Bot {
        let seen = Arc::new(Seen::default());
        let gate = Arc::new(Gate(watch::channel(false).0));
        let accounts = accounts();
        // Shared by every account: an echo naming the account, a run
        // counter, sessions, a slow handler.
        let shared = {
            let seen = seen.clone();
            let gate = gate.clone();
            Router::new()
                .keyword(
                    "记",
                    |_: TextMessage, cx: Context, session: Session| async move {
                        session.set("who", &cx.account_name()).await?;
                        Ok::<_, SessionError>("记下了")
                    },
                )
                .keyword("读", |_: TextMessage, session: Session| async move {
                    let who: Option<String> = session.get("who").await?;
                    Ok::<_, SessionError>(who.unwrap_or_else(|| "nobody".to_owned()))
                })
                .keyword("数", move |_: TextMessage, cx: Context| {
                    let seen = seen.clone();
                    async move {
                        seen.run(cx.account_name());
                        format!("{} counted", cx.account_name())
                    }
                })
                .keyword("慢", move |_: TextMessage, cx: Context| {
                    let mut open = gate.0.subscribe();
                    async move {
                        let _ = open.wait_for(|open| *open).await;
                        format!("late {}", cx.account_name())
                    }
                })
                .on(|msg: TextMessage, cx: Context| async move {
                    format!("{}: {}", cx.account_name(), msg.content)
                })
                // The attribute handlers above, each for its accounts.
                .registered()
        };
        let services = WechatAccounts::builder(accounts.clone())
            .only(shared)
            .account_router(
                "shop",
                Router::new().keyword_reply("价格", Reply::text("shop price")),
            )
            .account_router(
                "staff",
                Router::new().keyword_reply("价格", Reply::text("staff price")),
            )
            .build()
            .expect("services");
        let mounted = services.clone();
        let server = TestServer::without_service()
            .configure(move |cfg| {
                cfg.service(mounted.clone());
            })
            .start();
        Bot {
            server,
            services,
            accounts,
            seen,
            gate,
        }
    }

    fn config(&self, account: &str) -> &Config {
        self.accounts.get(account).expect("configured")
    }

    fn url(&self, account: &str) -> String {
        self.server.url_for(self.config(account).path())
    }

    /// WeChat, for `account`.
    fn sim(&self, account: &str) -> Simulator {
        Simulator::for_config(self.config(account))
    }

    /// Sends `push` to `account` as WeChat would for it, and returns the
    /// answer's text.
    async fn ask(&self, account: &str, push: SimPush) -> String {
        let answer = self
            .sim(account)
            .deliver(
                self.url(account).as_str(),
                &self.sim(account).prepare(&push),
            )
            .await
            .unwrap_or_else(|e| panic!("{account}: {e}"));
        answer.text().unwrap_or("").to_owned()
    }

    /// The status `account`'s path answers a push `sim` prepared.
    async fn status(&self, account: &str, sim: &Simulator, push: SimPush) -> u16 {
        let response = sim
            .send(self.url(account).as_str(), &push)
            .await
            .expect("sent");
        response.status.as_u16()
    }
}

#[actix_rt::test]
async fn each_account_is_answered_by_its_own_and_the_shared_handlers() {
    let bot = Bot::start();
    assert_eq!(bot.config("staff").mode(), Mode::Secure);
    assert_eq!(bot.ask("shop", SimPush::text("价格")).await, "shop price");
    assert_eq!(bot.ask("staff", SimPush::text("价格")).await, "staff price");
    // news has no 价格 of its own: the shared echo answers.
    assert_eq!(bot.ask("news", SimPush::text("价格")).await, "news: 价格");
    for account in ["shop", "news", "staff"] {
        assert_eq!(
            bot.ask(account, SimPush::text("hi")).await,
            format!("{account}: hi")
        );
    }
    // Attribute handlers scoped to accounts answer only there.
    assert_eq!(bot.ask("shop", SimPush::text("会员")).await, "shop members");
    assert_eq!(
        bot.ask("staff", SimPush::text("会员")).await,
        "staff members"
    );
    assert_eq!(bot.ask("news", SimPush::text("会员")).await, "news: 会员");
    assert_eq!(bot.ask("news", SimPush::click("NEWS")).await, "news menu");
    assert_eq!(bot.ask("shop", SimPush::click("NEWS")).await, "");
    // The secure account's pushes went encrypted, and came back so.
    assert!(bot.sim("staff").prepare(&SimPush::text("x")).is_encrypted());
    bot.server.stop().await;
}

#[actix_rt::test]
async fn each_account_refuses_the_others_signatures_and_keys() {
    let bot = Bot::start();
    // Signed with shop's token, sent to news and staff: 403.
    let shop = bot.sim("shop");
    assert_eq!(bot.status("news", &shop, SimPush::text("x")).await, 403);
    assert_eq!(bot.status("shop", &shop, SimPush::text("x")).await, 200);
    // Encrypted with staff's key but signed with news's token.
    let forged = Simulator::new("newstoken")
        .secure(AES_KEY, "wx2c2769f8efd9abc2")
        .expect("sim");
    assert_eq!(bot.status("staff", &forged, SimPush::text("x")).await, 403);
    // Staff's token and key, but a frame naming another AppID.
    let other_appid = Simulator::new("stafftoken")
        .secure(AES_KEY, "wx0000000000000000")
        .expect("sim");
    assert_eq!(
        bot.status("staff", &other_appid, SimPush::text("x")).await,
        403
    );
    // Staff is in secure mode: its token alone, in plaintext, is refused.
    let plaintext = Simulator::new("stafftoken");
    assert_eq!(
        bot.status("staff", &plaintext, SimPush::text("x")).await,
        400
    );
    // A path no account has.
    let lost = shop
        .send(
            bot.server.url_for("/wechat/nobody").as_str(),
            &SimPush::text("x"),
        )
        .await
        .expect("sent");
    assert_eq!(lost.status.as_u16(), 404);
    bot.server.stop().await;
}

#[actix_rt::test]
async fn one_openid_with_one_msgid_is_a_push_per_account() {
    let bot = Bot::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let same = || {
        SimPush::text("数")
            .from("o_same")
            .create_time(now)
            .msg_id(424242)
    };
    for account in ["shop", "news", "staff"] {
        assert_eq!(bot.ask(account, same()).await, format!("{account} counted"));
    }
    // WeChat's retry of shop's push is shop's de-duplicated try.
    assert_eq!(bot.ask("shop", same()).await, "shop counted");
    for account in ["shop", "news", "staff"] {
        assert_eq!(bot.seen.runs(account), 1, "{account}");
    }
    let stats = |account: &str| bot.services.get(account).expect("service").stats().runs;
    assert_eq!((stats("shop"), stats("news"), stats("staff")), (1, 1, 1));
    bot.server.stop().await;
}

#[actix_rt::test]
async fn sessions_are_kept_apart() {
    let bot = Bot::start();
    let user = |text: &str| SimPush::text(text).from("o_both");
    for account in ["shop", "news", "staff"] {
        assert_eq!(bot.ask(account, user("读")).await, "nobody", "{account}");
    }
    assert_eq!(bot.ask("shop", user("记")).await, "记下了");
    assert_eq!(bot.ask("shop", user("读")).await, "shop");
    assert_eq!(bot.ask("news", user("读")).await, "nobody");
    assert_eq!(bot.ask("news", user("记")).await, "记下了");
    assert_eq!(bot.ask("news", user("读")).await, "news");
    assert_eq!(bot.ask("shop", user("读")).await, "shop");
    assert_eq!(bot.ask("staff", user("读")).await, "nobody");
    // The service's own view agrees.
    let shop = bot.services.get("shop").expect("shop");
    let who: Option<String> = shop.session("o_both").get("who").await.expect("session");
    assert_eq!(who.as_deref(), Some("shop"));
    bot.server.stop().await;
}

#[actix_rt::test]
async fn pending_replies_are_kept_apart() {
    let bot = Bot::start();
    let user = |text: &str| SimPush::text(text).from("o_late");
    // One slow push per account: each answers `success` by its deadline,
    // and its reply waits as the user's pending reply, in its account.
    for account in ["shop", "news"] {
        assert_eq!(bot.ask(account, user("慢")).await, "");
    }
    bot.gate.0.send_replace(true);
    let delivered = |account: &str| {
        bot.services
            .get(account)
            .expect("service")
            .stats()
            .late_delivered
    };
    for _ in 0..1000 {
        if delivered("shop") == 1 && delivered("news") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!((delivered("shop"), delivered("news")), (1, 1));
    // The user's next push to each account carries that account's late
    // reply and no other: staff has none. (Queued by a task of its own
    // after the count: asked again until it shows.)
    assert_eq!(bot.ask("staff", user("hi")).await, "staff: hi");
    for account in ["shop", "news"] {
        let mine = format!("late {account}");
        let mut answer = String::new();
        for _ in 0..100 {
            answer = bot.ask(account, user("hi")).await;
            if answer.contains("late") {
                break;
            }
        }
        assert_eq!(answer, format!("{mine}\n\n{account}: hi"), "{account}");
    }
    bot.server.stop().await;
}

/// A config built in code without a name is the account `default`.
/// (Built alone: this binary's scoped handlers name the three accounts of
/// the file, which a server of `default` only would refuse.)
#[actix_rt::test]
async fn a_code_built_account_is_named_default() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let config = Config::builder("codetoken").build().expect("config");
    assert_eq!(config.name(), "default");
    let service = wechat_events::WechatService::builder(config.clone())
        .only(Router::new().on(|_: TextMessage, cx: Context| async move {
            RUNS.fetch_add(1, Ordering::SeqCst);
            cx.account_name().to_owned()
        }))
        .build()
        .expect("service");
    let server = TestServer::builder(service).start();
    let sim = Simulator::for_config(&config);
    let answer = sim
        .send(server.url(), &SimPush::text("x"))
        .await
        .expect("answered");
    assert_eq!(answer.text(), Some("default"));
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    // And a server of `default` only refuses this binary's handlers scoped
    // to accounts it does not have.
    let err = WechatAccounts::builder(Accounts::new([config]).expect("accounts"))
        .build()
        .expect_err("built")
        .to_string();
    assert!(
        err.contains(r#"handler accounts::members is scoped to account "shop""#),
        "{err}"
    );
    server.stop().await;
}

#[test]
fn routes_for_an_account_that_is_not_configured_stop_the_build() {
    let err = WechatAccounts::builder(accounts())
        .account_router("shpo", Router::new().keyword_reply("x", Reply::text("y")))
        .build()
        .expect_err("built")
        .to_string();
    assert!(
        err.contains(r#"names account "shpo", which is not configured; the accounts are "shop", "news", "staff""#),
        "{err}"
    );
}

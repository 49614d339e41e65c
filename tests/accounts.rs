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

/// Waits until `done` holds, as work the server finishes on tasks of its
/// own becomes visible (checked every 5 ms, for at most 5 s; the caller's
/// assertion says what was missing).
async fn settled(done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
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
    settled(|| delivered("shop") == 1 && delivered("news") == 1).await;
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

// ---- a third-party platform beside the accounts -------------------------

mod open_platform {
    use super::*;
    use wechat_events::api::ApiClient;
    use wechat_events::testing::{ComponentStandIn, COMPONENT_APPID, COMPONENT_SECRET};

    const COMPONENT_TOKEN: &str = "componenttoken";
    const AUTHORIZER: &str = "wxauthorizer1";
    const TEST_ACCOUNT: &str = "wx570bc396a51b8ff8";

    /// The accounts file with an `[open_platform]` table, its API the
    /// stand-in.
    fn accounts(wechat: &ComponentStandIn) -> Accounts {
        let file = format!(
            r#"
            [server]
            api_base = "{base}"

            [open_platform]
            appid = "{COMPONENT_APPID}"
            app_secret = "env:COMPONENT_SECRET"
            token = "{COMPONENT_TOKEN}"
            aes_key = "env:COMPONENT_KEY"
            {rest}
            "#,
            base = wechat.base_url(),
            rest = FILE
        );
        let env: HashMap<&str, &str> = HashMap::from([
            ("SHOP_TOKEN", "shoptoken"),
            ("NEWS_TOKEN", "newstoken"),
            ("STAFF_TOKEN", "stafftoken"),
            ("STAFF_AES_KEY", AES_KEY),
            ("COMPONENT_SECRET", COMPONENT_SECRET),
            ("COMPONENT_KEY", AES_KEY),
            // The environment's defaults reach the platform's authorizers:
            // their first try answers by a short deadline.
            ("WECHAT_WAIT_RETRIES", "0"),
            ("WECHAT_DEADLINE_MS", "300"),
        ]);
        Accounts::from_toml(&file, "accounts.toml", |name| {
            env.get(name).map(|v| (*v).to_owned())
        })
        .expect("accounts")
    }

    struct Platform {
        server: TestServer,
        services: WechatAccounts,
        wechat: ComponentStandIn,
        gate: Arc<Gate>,
        /// What the user's authorization hook saw.
        hooked: Arc<Mutex<Vec<String>>>,
    }

    impl Platform {
        fn start() -> Platform {
            let wechat = ComponentStandIn::start();
            let gate = Arc::new(Gate(watch::channel(false).0));
            let slow_gate = gate.clone();
            let router = Router::new()
                .keyword("慢", move |_: TextMessage, cx: Context| {
                    let mut open = slow_gate.0.subscribe();
                    async move {
                        let _ = open.wait_for(|open| *open).await;
                        format!("late {}", cx.authorizer().unwrap_or("-"))
                    }
                })
                .keyword("api", |_: TextMessage, api: ApiClient| async move {
                    api.appid().to_owned()
                })
                .on(|msg: TextMessage, cx: Context| async move {
                    format!(
                        "{}|{}|{}",
                        cx.account_name(),
                        cx.authorizer().unwrap_or("-"),
                        msg.content
                    )
                })
                .registered();
            let hooked = Arc::new(Mutex::new(Vec::new()));
            let seen = hooked.clone();
            let services = WechatAccounts::builder(accounts(&wechat))
                .only(router)
                // Routes for the platform's accounts only.
                .account_router(
                    "open_platform",
                    Router::new().keyword_reply("平台", Reply::text("platform only")),
                )
                .on_auth_event(move |event| {
                    let seen = seen.clone();
                    async move {
                        let who = event.authorizer_appid().unwrap_or("-").to_owned();
                        seen.lock()
                            .unwrap()
                            .push(format!("{} {who}", event.info_type()));
                    }
                })
                .build()
                .expect("services");
            let mounted = services.clone();
            let server = TestServer::without_service()
                .configure(move |cfg| {
                    cfg.service(mounted.clone());
                })
                .start();
            Platform {
                server,
                services,
                wechat,
                gate,
                hooked,
            }
        }

        fn component(&self) -> &wechat_events::component::ComponentService {
            self.services.open_platform().expect("a platform")
        }

        /// WeChat, as the component's pushes come: signed with its token,
        /// encrypted with its key, frame AppID its own.
        fn sim(&self) -> Simulator {
            Simulator::for_config(self.component().config().config())
        }

        /// Sends an authorization event; the answer's status and body.
        async fn auth_event(&self, info_type: &str, fields: &str) -> (u16, String) {
            let xml = format!(
                "<xml><AppId><![CDATA[{COMPONENT_APPID}]]></AppId><CreateTime>{}</CreateTime>\
                 <InfoType><![CDATA[{info_type}]]></InfoType>{fields}</xml>",
                common::now()
            );
            let url = self.server.url_for("/wechat/open/auth");
            let response = self
                .sim()
                .send(url.as_str(), &SimPush::raw(xml))
                .await
                .expect("answered");
            (response.status.as_u16(), response.body_text())
        }

        async fn authorize(&self, appid: &str, info_type: &str) -> (u16, String) {
            let code = self.wechat.authorization_code(appid);
            let fields = format!(
                "<AuthorizerAppid>{appid}</AuthorizerAppid><AuthorizationCode>{code}</AuthorizationCode>\
                 <AuthorizationCodeExpiredTime>{}</AuthorizationCodeExpiredTime>",
                common::now() + 3600
            );
            self.auth_event(info_type, &fields).await
        }

        /// A push for the authorizer `appid` at its message URL.
        async fn push(
            &self,
            appid: &str,
            to: &str,
            push: SimPush,
        ) -> wechat_events::testing::Response {
            let url = self.server.url_for(&format!("/wechat/open/{appid}"));
            self.sim()
                .account(to)
                .send(url.as_str(), &push)
                .await
                .expect("answered")
        }
    }

    #[actix_rt::test]
    async fn a_ticket_then_an_authorization_then_the_authorizers_pushes() {
        let p = Platform::start();
        // No ticket yet: the component's token is an error, and WeChat is
        // asked once to push one.
        let client = p.component().client();
        assert!(client.component_token().await.is_err());
        assert!(client.component_token().await.is_err());
        assert_eq!(p.wechat.calls_to("api_start_push_ticket"), 1);
        // The ticket push is kept; the token is fetched with it, once.
        let ticket = p.wechat.new_ticket();
        let (status, body) = p
            .auth_event(
                "component_verify_ticket",
                &format!("<ComponentVerifyTicket>{ticket}</ComponentVerifyTicket>"),
            )
            .await;
        assert_eq!((status, body.as_str()), (200, "success"));
        let token = client.component_token().await.expect("a component token");
        assert_eq!(client.component_token().await.expect("cached"), token);
        assert_eq!(p.wechat.calls_to("api_component_token"), 1);

        // Before it authorizes, the account's pushes are refused.
        let gh = format!("gh_{AUTHORIZER}");
        assert_eq!(
            p.push(AUTHORIZER, &gh, SimPush::text("hi")).await.status,
            403
        );
        // `authorized`: the code exchanged once, even when WeChat retries.
        let code = p.wechat.authorization_code(AUTHORIZER);
        let fields = format!(
            "<AuthorizerAppid>{AUTHORIZER}</AuthorizerAppid><AuthorizationCode>{code}</AuthorizationCode>"
        );
        assert_eq!(p.auth_event("authorized", &fields).await.0, 200);
        assert_eq!(p.auth_event("authorized", &fields).await.0, 200);
        assert_eq!(p.wechat.calls_to("api_query_auth"), 1);
        assert_eq!(p.wechat.calls_to("api_get_authorizer_info"), 1);
        let kept = client.store().authorizer(AUTHORIZER).await.expect("store");
        let kept = kept.expect("kept");
        assert_eq!(kept.user_name.as_deref(), Some(gh.as_str()));

        // Its pushes: answered by the shared handlers, encrypted with the
        // component's key; the context names the authorizer.
        let answer = p.push(AUTHORIZER, &gh, SimPush::text("hi")).await;
        assert_eq!(
            answer.text(),
            Some(format!("open_platform|{AUTHORIZER}|hi").as_str())
        );
        // Routes scoped to the platform answer its accounts, not the others.
        let answer = p.push(AUTHORIZER, &gh, SimPush::text("平台")).await;
        assert_eq!(answer.text(), Some("platform only"));
        // Its handlers' ApiClient is the authorizer's.
        let answer = p.push(AUTHORIZER, &gh, SimPush::text("api")).await;
        assert_eq!(answer.text(), Some(AUTHORIZER));
        // A push addressed to another account than its path names.
        assert_eq!(
            p.push(AUTHORIZER, "gh_other", SimPush::text("hi"))
                .await
                .status,
            403
        );
        // A path no account authorized, and one that is no AppID.
        assert_eq!(
            p.push("wxnobody", "gh_wxnobody", SimPush::text("hi"))
                .await
                .status,
            403
        );
        assert_eq!(p.push("wx%20x", &gh, SimPush::text("hi")).await.status, 403);

        // A late reply goes out with the authorizer's token.
        assert_eq!(
            p.push(AUTHORIZER, &gh, SimPush::text("慢")).await.text(),
            None
        );
        p.gate.0.send_replace(true);
        settled(|| !p.wechat.custom_messages().is_empty()).await;
        let sent = p.wechat.custom_messages();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, AUTHORIZER);
        assert_eq!(sent[0].1["text"]["content"], format!("late {AUTHORIZER}"));
        // (That token came from the stored refresh token, which WeChat
        // rotated: the store has the new one.)
        let kept = client
            .store()
            .authorizer(AUTHORIZER)
            .await
            .expect("store")
            .expect("kept");
        assert_eq!(Some(kept.refresh_token), p.wechat.refresh_token(AUTHORIZER));

        // `updateauthorized` exchanges its new code; `unauthorized` drops
        // the account, whose pushes are refused again.
        assert_eq!(p.authorize(AUTHORIZER, "updateauthorized").await.0, 200);
        assert_eq!(p.wechat.calls_to("api_query_auth"), 2);
        let kept = client
            .store()
            .authorizer(AUTHORIZER)
            .await
            .expect("store")
            .expect("kept");
        assert_eq!(Some(kept.refresh_token), p.wechat.refresh_token(AUTHORIZER));
        let fields = format!("<AuthorizerAppid>{AUTHORIZER}</AuthorizerAppid>");
        assert_eq!(p.auth_event("unauthorized", &fields).await.0, 200);
        assert_eq!(client.store().authorizer(AUTHORIZER).await, Ok(None));
        assert_eq!(
            p.push(AUTHORIZER, &gh, SimPush::text("hi")).await.status,
            403
        );
        // The user's hook saw every event, after the library (on a task
        // of its own: waited for).
        let wanted = [
            "component_verify_ticket -".to_owned(),
            format!("authorized {AUTHORIZER}"),
            format!("authorized {AUTHORIZER}"),
            format!("updateauthorized {AUTHORIZER}"),
            format!("unauthorized {AUTHORIZER}"),
        ];
        settled(|| p.hooked.lock().unwrap().len() == wanted.len()).await;
        // (Each on a task of its own: in any order.)
        let mut hooked = p.hooked.lock().unwrap().clone();
        hooked.sort();
        let mut wanted = wanted.to_vec();
        wanted.sort();
        assert_eq!(hooked, wanted);

        // The server's own accounts are still there, beside it.
        let shop = accounts(&p.wechat);
        let shop = shop.get("shop").expect("shop");
        let answer = Simulator::for_config(shop)
            .send(
                p.server.url_for("/wechat/shop").as_str(),
                &SimPush::text("x"),
            )
            .await
            .expect("answered");
        assert_eq!(answer.text(), Some("shop|-|x"));
        let answer = Simulator::for_config(shop)
            .send(
                p.server.url_for("/wechat/shop").as_str(),
                &SimPush::text("平台"),
            )
            .await
            .expect("answered");
        assert_eq!(answer.text(), Some("shop|-|平台"));
        p.server.stop().await;
    }

    #[actix_rt::test]
    async fn forged_pushes_are_refused_at_both_urls() {
        let p = Platform::start();
        let forged = Simulator::new("wrongtoken")
            .secure(AES_KEY, COMPONENT_APPID)
            .expect("sim");
        let auth = p.server.url_for("/wechat/open/auth");
        let xml = format!(
            "<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>1</CreateTime>\
             <InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>x</ComponentVerifyTicket></xml>"
        );
        let response = forged.send(auth.as_str(), &SimPush::raw(xml.clone())).await;
        assert_eq!(response.expect("answered").status.as_u16(), 403);
        let message = p.server.url_for(&format!("/wechat/open/{TEST_ACCOUNT}"));
        let response = forged.send(message.as_str(), &SimPush::text("x")).await;
        assert_eq!(response.expect("answered").status.as_u16(), 403);
        // Another AppID in the frame: refused too.
        let other = Simulator::new(COMPONENT_TOKEN)
            .secure(AES_KEY, "wxsomeoneelse")
            .expect("sim");
        let response = other.send(auth.as_str(), &SimPush::raw(xml)).await;
        assert_eq!(response.expect("answered").status.as_u16(), 403);
        // Nothing was kept.
        assert_eq!(p.component().client().store().ticket().await, Ok(None));
        p.server.stop().await;
    }

    #[actix_rt::test]
    async fn the_release_test_passes_by_itself() {
        let p = Platform::start();
        let ticket = p.wechat.new_ticket();
        p.auth_event(
            "component_verify_ticket",
            &format!("<ComponentVerifyTicket>{ticket}</ComponentVerifyTicket>"),
        )
        .await;
        // An event: `<Event>from_callback`.
        let answer = p
            .push(
                TEST_ACCOUNT,
                "gh_3c884a361561",
                SimPush::location_event(23.1, 113.3, 10.0),
            )
            .await;
        assert_eq!(answer.text(), Some("LOCATIONfrom_callback"));
        // The fixed text.
        let answer = p
            .push(
                TEST_ACCOUNT,
                "gh_3c884a361561",
                SimPush::text("TESTCOMPONENT_MSG_TYPE_TEXT"),
            )
            .await;
        assert_eq!(answer.text(), Some("TESTCOMPONENT_MSG_TYPE_TEXT_callback"));
        // QUERY_AUTH_CODE: an empty answer now, then the code exchanged and
        // `$code_from_api` sent with the token it returned.
        let code = p.wechat.authorization_code(TEST_ACCOUNT);
        let answer = p
            .push(
                TEST_ACCOUNT,
                "gh_3c884a361561",
                SimPush::text(format!("QUERY_AUTH_CODE:{code}")).from("o_tester"),
            )
            .await;
        assert_eq!((answer.status.as_u16(), answer.text()), (200, None));
        settled(|| !p.wechat.custom_messages().is_empty()).await;
        let sent = p.wechat.custom_messages();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, TEST_ACCOUNT);
        assert_eq!(sent[0].1["touser"], "o_tester");
        assert_eq!(sent[0].1["text"]["content"], format!("{code}_from_api"));
        p.server.stop().await;
    }

    #[actix_rt::test]
    async fn an_authorization_link_carries_a_fresh_pre_auth_code() {
        let p = Platform::start();
        let ticket = p.wechat.new_ticket();
        p.auth_event(
            "component_verify_ticket",
            &format!("<ComponentVerifyTicket>{ticket}</ComponentVerifyTicket>"),
        )
        .await;
        let url = p
            .component()
            .client()
            .authorization_url("https://saas.example.com/authorized", 1)
            .await
            .expect("a link");
        assert!(
            url.starts_with(&format!(
                "https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid={COMPONENT_APPID}&pre_auth_code=preauthcode%40%40%40"
            )),
            "{url}"
        );
        assert!(
            url.ends_with("&redirect_uri=https%3A%2F%2Fsaas.example.com%2Fauthorized&auth_type=1"),
            "{url}"
        );
        p.server.stop().await;
    }
}

//! The push catalog: one fixture per kind (tests/fixtures/catalog), each
//! parsed and compared field by field with the JSON written beside it,
//! deserialized back to an equal value, and routed to its kind's handler.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use wechat_events::fields::Value;
use wechat_events::kinds::*;
use wechat_events::push::{parse, Body};
use wechat_events::router::RouterError;
use wechat_events::*;

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog")
}

/// Every catalog fixture: its name, the parsed push, and the expected body.
fn fixtures() -> Vec<(String, Push, serde_json::Value)> {
    let mut names: Vec<PathBuf> = fs::read_dir(catalog_dir())
        .expect("catalog fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|xml| {
            let name = xml.file_stem().unwrap().to_string_lossy().into_owned();
            let push = parse(&fs::read(&xml).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let expected = fs::read_to_string(xml.with_extension("json"))
                .unwrap_or_else(|e| panic!("{name}.json: {e}"));
            let expected =
                serde_json::from_str(&expected).unwrap_or_else(|e| panic!("{name}.json: {e}"));
            (name, push, expected)
        })
        .collect()
}

#[test]
fn every_fixture_parses_to_the_expected_fields() {
    for (name, push, expected) in fixtures() {
        assert_eq!(push.to_user, "gh_6b3a1f0c9d2e", "{name}");
        assert_eq!(push.from_user, "oF3PcsnsrMiJzEwalZZbAfWQpxCI", "{name}");
        assert_eq!(push.create_time, 1718000000, "{name}");
        let body = serde_json::to_value(&push.body).unwrap();
        assert_eq!(
            body,
            expected,
            "{name}: parsed\n{}\nexpected\n{}",
            serde_json::to_string_pretty(&body).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap()
        );
        // The expected JSON, read on its own, is the same typed value.
        let from_json: Body =
            serde_json::from_value(expected).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(from_json, push.body, "{name}");
    }
}

#[test]
fn every_push_round_trips_through_json() {
    let seeds = [
        "seed-click.xml",
        "seed-location.xml",
        "seed-scan.xml",
        "seed-subscribe-qrscene.xml",
        "seed-subscribe.xml",
        "seed-view.xml",
    ];
    let seed_pushes = seeds.iter().map(|s| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(s);
        (s.to_string(), parse(&fs::read(path).unwrap()).unwrap())
    });
    let catalog = fixtures().into_iter().map(|(n, p, _)| (n, p));
    for (name, push) in catalog.chain(seed_pushes) {
        let json = serde_json::to_string(&push).unwrap();
        let back: Push =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}\n{json}"));
        assert_eq!(back, push, "{name}: {json}");
        // The documented top-level shape.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for key in [
            "to_user_name",
            "from_user_name",
            "create_time",
            "msg_type",
            "body",
            "fields",
        ] {
            assert!(value.get(key).is_some(), "{name}: no {key} in {json}");
        }
    }
}

#[test]
fn every_kind_has_a_fixture() {
    let mut events = BTreeSet::new();
    let mut messages = BTreeSet::new();
    for (_, push, _) in fixtures() {
        match &push.body {
            Body::Event(e) => events.insert(e.kind()),
            Body::Message(m) => messages.insert(m.kind()),
        };
    }
    let seed = [
        EventKind::Subscribe,
        EventKind::Unsubscribe,
        EventKind::Scan,
        EventKind::Location,
        EventKind::View,
    ];
    for k in EventKind::ALL.iter().filter(|k| !seed.contains(k)) {
        assert!(events.contains(k), "no catalog fixture for {k:?}");
    }
    for k in MessageKind::ALL {
        assert!(messages.contains(k), "no catalog fixture for {k:?}");
    }
}

fn fixture(name: &str) -> Push {
    let path = catalog_dir().join(format!("{name}.xml"));
    parse(&fs::read(&path).unwrap()).unwrap()
}

#[test]
fn lists_of_one_are_lists_and_nested_lists_of_several_keep_their_order() {
    let Some(Event::PicSysphoto(one)) = fixture("pic_sysphoto").event().cloned() else {
        panic!()
    };
    assert_eq!(one.send_pics_info.pic_list.len(), 1);
    let Some(Event::PicPhotoOrAlbum(three)) = fixture("pic_photo_or_album").event().cloned() else {
        panic!()
    };
    assert_eq!(three.send_pics_info.count, Some(3));
    assert_eq!(
        three.send_pics_info.pic_list[2].pic_md5_sum,
        "0c9a5e9d1f2b3a4c5d6e7f8091a2b3c4"
    );
    let Some(Event::SubscribeMsgChange(change)) =
        fixture("subscribe_msg_change_event").event().cloned()
    else {
        panic!()
    };
    assert_eq!(change.list.len(), 1);
    assert_eq!(change.list[0].subscribe_status_string, "reject");
    let Some(Event::MassSendJobFinish(mass)) = fixture("masssendjobfinish").event().cloned() else {
        panic!()
    };
    let check = mass.copyright_check_result.expect("copyright check");
    assert_eq!(check.result_list.len(), 2);
    assert_eq!(
        check.result_list[1].original_article_url.as_deref(),
        Some("https://mp.weixin.qq.com/s/原文二")
    );
    assert_eq!(mass.article_url_result.expect("urls").result_list.len(), 1);
    let Some(Event::PublishJobFinish(failed)) = fixture("publishjobfinish_failed").event().cloned()
    else {
        panic!()
    };
    assert_eq!(failed.publish_event_info.fail_idx, [1, 3]);
    assert!(failed.publish_event_info.article_detail.is_none());
}

#[test]
fn quirks_are_handled_once() {
    // MsgID and MsgId, and an Event in the other case.
    for name in ["templatesendjobfinish", "templatesendjobfinish_msgid"] {
        let push = fixture(name);
        let Some(Event::TemplateSendJobFinish(job)) = push.event() else {
            panic!("{name}: {:?}", push.body)
        };
        assert!(job.msg_id.is_some(), "{name}");
        assert!(job.extra.is_empty(), "{name}: {:?}", job.extra);
    }
    assert_eq!(
        fixture("voice").message().and_then(Message::msg_id),
        Some(24618251346374292)
    );
    // An empty Recognition is None.
    let Some(Message::Voice(voice)) = fixture("voice").message().cloned() else {
        panic!()
    };
    assert_eq!(voice.recognition, None);
    // MsgType compared without regard to case.
    let upper = parse(
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>\
         <MsgType>Text</MsgType><Content>大写</Content><MsgId>5</MsgId></xml>"
            .as_bytes(),
    )
    .unwrap();
    assert!(matches!(upper.message(), Some(Message::Text(t)) if t.content == "大写"));
    // A typed value keeps the elements it does not model.
    let click = fixture("click_with_extra");
    let Some(Event::Click(c)) = click.event() else {
        panic!("{:?}", click.body)
    };
    assert_eq!(c.key, "今日推荐");
    let ext = c
        .extra
        .get("Extension")
        .and_then(Value::as_fields)
        .expect("Extension kept");
    assert_eq!(ext.all("Flags").count(), 2);
    // A number that is not a number is kept, not lost.
    let odd = parse(
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>\
         <MsgType>event</MsgType><Event>annual_renew</Event><ExpiredTime>明年</ExpiredTime></xml>"
            .as_bytes(),
    )
    .unwrap();
    let Some(Event::AnnualRenew(renew)) = odd.event() else {
        panic!("{:?}", odd.body)
    };
    assert_eq!(renew.expired_time, None);
    assert_eq!(renew.extra.text("ExpiredTime"), Some("明年"));
    // A product-scan subscribe says so in its type.
    let Some(Event::SubscribeScanProduct(p)) = fixture("subscribe_scan_product").event().cloned()
    else {
        panic!()
    };
    assert_eq!(
        (p.source(), p.key_standard(), p.key_str()),
        ("scanbarcode", "ean13", "6901481810012")
    );
    // Unknown keeps everything.
    let unknown = fixture("unknown_event");
    let Some(Event::Unknown(u)) = unknown.event() else {
        panic!()
    };
    assert_eq!(u.fields.text("nickname"), Some("新名字"));
}

// ---- routing ----------------------------------------------------------------

macro_rules! route_every_kind {
    ($($ty:ident),* $(,)?) => {{
        let mut router = Router::new();
        $(
            router = router.route(Route::new().name(stringify!($ty)), |_: $ty| async {});
        )*
        router
    }};
}

#[test]
fn every_typed_kind_routes_to_its_builder_handler() {
    let router = route_every_kind!(
        ScancodePushEvent,
        ScancodeWaitmsgEvent,
        PicSysphotoEvent,
        PicPhotoOrAlbumEvent,
        PicWeixinEvent,
        LocationSelectEvent,
        ViewMiniprogramEvent,
        TemplateSendJobFinishEvent,
        MassSendJobFinishEvent,
        PublishJobFinishEvent,
        SubscribeMsgPopupEvent,
        SubscribeMsgChangeEvent,
        SubscribeMsgSentEvent,
        KfCreateSessionEvent,
        KfCloseSessionEvent,
        KfSwitchSessionEvent,
        QualificationVerifySuccessEvent,
        QualificationVerifyFailEvent,
        NamingVerifySuccessEvent,
        NamingVerifyFailEvent,
        AnnualRenewEvent,
        VerifyExpiredEvent,
        CardPassCheckEvent,
        CardNotPassCheckEvent,
        UserGetCardEvent,
        UserGiftingCardEvent,
        UserDelCardEvent,
        UserConsumeCardEvent,
        UserPayFromPayCellEvent,
        UserViewCardEvent,
        UserEnterSessionFromCardEvent,
        UpdateMemberCardEvent,
        CardSkuRemindEvent,
        CardPayOrderEvent,
        SubmitMembercardUserInfoEvent,
        MerchantOrderEvent,
        PoiCheckNotifyEvent,
        WifiConnectedEvent,
        ShakearoundUserShakeEvent,
        UserScanProductEvent,
        UserScanProductEnterSessionEvent,
        UserScanProductAsyncEvent,
        UserScanProductVerifyActionEvent,
        UserAuthorizationRevokeEvent,
        UserInfoModifiedEvent,
        UserEnterTempsessionEvent,
        SubscribeScanProductEvent,
        ClickEvent,
        UnknownEvent,
        TextMessage,
        ImageMessage,
        VoiceMessage,
        VideoMessage,
        ShortVideoMessage,
        LocationMessage,
        LinkMessage,
        MiniProgramPageMessage,
        UnknownMessage,
    );
    let routes = router.build().unwrap();
    for (name, push, _) in fixtures() {
        let expected = match &push.body {
            Body::Event(e) => format!("{:?}Event", e.kind()),
            Body::Message(m) => format!("{:?}Message", m.kind()),
        };
        assert_eq!(routes.handler_for(&push), Some(expected.as_str()), "{name}");
    }
}

#[test]
fn keys_and_raw_event_names_filter_routes() {
    async fn any(_: Event) {}
    let routes = Router::new()
        .route(
            Route::new().key("SCAN_WAIT").name("wait key"),
            |_: ScancodeWaitmsgEvent| async {},
        )
        .route(
            Route::new().key_regex("^pages/").name("mini page"),
            |_: ViewMiniprogramEvent| async {},
        )
        .route(
            Route::new().event("WXA_NICKNAME_AUDIT").name("by name"),
            |_: UnknownEvent| async {},
        )
        .route(
            Route::new()
                .event("TemplateSendJobFinish")
                .name("job by name"),
            any,
        )
        .build()
        .unwrap();
    assert_eq!(
        routes.handler_for(&fixture("scancode_waitmsg")),
        Some("wait key")
    );
    assert_eq!(routes.handler_for(&fixture("scancode_push")), None);
    assert_eq!(
        routes.handler_for(&fixture("view_miniprogram")),
        Some("mini page")
    );
    assert_eq!(
        routes.handler_for(&fixture("unknown_event")),
        Some("by name")
    );
    assert_eq!(
        routes.handler_for(&fixture("templatesendjobfinish")),
        Some("job by name")
    );
    assert_eq!(routes.handler_for(&fixture("masssendjobfinish")), None);
    // A raw name that a typed kind owns never reaches an Unknown route:
    // refused when the router is built.
    let err = Router::new()
        .route(
            Route::new().event("scancode_push"),
            |_: UnknownEvent| async {},
        )
        .build()
        .unwrap_err();
    assert!(matches!(err, RouterError::FilterNotAllowed { .. }), "{err}");
    // Nor does a name filter fit a message.
    let err = Router::new()
        .route(Route::new().event("x"), |_: TextMessage| async {})
        .build()
        .unwrap_err();
    assert!(matches!(err, RouterError::FilterNotAllowed { .. }), "{err}");
}

#[on_event(ScancodeWaitmsg, key = "SCAN_WAIT")]
async fn waitmsg(ev: ScancodeWaitmsgEvent) -> String {
    format!("扫码结果: {}", ev.scan_code_info.scan_result)
}

#[on_event(PublishJobFinish)]
async fn published(_: PublishJobFinishEvent) {}

#[on_event(Unknown, event = "wxa_nickname_audit")]
async fn nickname_audit(_: UnknownEvent) {}

#[on_event(Any, event = "kf_close_session")]
async fn kf_closed(_: Event) {}

#[on_message(MiniProgramPage)]
async fn mini(_: MiniProgramPageMessage) {}

#[test]
fn attribute_handlers_route_catalog_kinds() {
    let routes = Router::new()
        .handler::<waitmsg>()
        .handler::<published>()
        .handler::<nickname_audit>()
        .handler::<kf_closed>()
        .handler::<mini>()
        .build()
        .unwrap();
    let name = |fixture_name: &str| {
        routes
            .handler_for(&fixture(fixture_name))
            .map(|n| n.rsplit("::").next().unwrap().to_owned())
    };
    assert_eq!(name("scancode_waitmsg").as_deref(), Some("waitmsg"));
    assert_eq!(name("publishjobfinish").as_deref(), Some("published"));
    assert_eq!(name("unknown_event").as_deref(), Some("nickname_audit"));
    assert_eq!(name("kf_close_session").as_deref(), Some("kf_closed"));
    assert_eq!(name("kf_create_session"), None);
    assert_eq!(name("miniprogrampage").as_deref(), Some("mini"));
}

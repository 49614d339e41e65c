//! Events WeChat pushes when a user acts or a job finishes (接收事件推送):
//! following, scanning, the menu, template and mass sends, subscription
//! messages, customer service, verification, cards, stores, beacons and
//! product codes.
//!
//! Each event is its own struct so a handler's signature says what it
//! handles. Fields are named after WeChat's elements in snake_case
//! (`ScanCodeInfo` → `scan_code_info`, `PicMd5Sum` → `pic_md5_sum`),
//! numbers are numbers, and a repeated element is a `Vec` however many
//! items came. Every struct keeps the elements it does not model in
//! `extra`, and an `Event` value nobody models becomes [`UnknownEvent`]
//! with every raw field kept.
//!
//! The structs (and the enum) are `#[non_exhaustive]`: WeChat adds
//! elements, and modeling one is not a breaking change. Outside this crate
//! they cannot be written as struct literals; a test that calls a handler
//! directly starts from `Default` and sets the fields it needs (or sends a
//! real push with the `testing` simulator):
//!
//! ```
//! use wechat_events::ClickEvent;
//!
//! async fn menu(click: ClickEvent) -> String { format!("点击菜单 {}", click.key) }
//!
//! let mut click = ClickEvent::default();
//! click.key = "V1001_TODAY_MUSIC".into();
//! # let reply = futures_util::FutureExt::now_or_never(menu(click)).unwrap();
//! # assert_eq!(reply, "点击菜单 V1001_TODAY_MUSIC");
//! ```
//!
//! The root of the crate re-exports [`Event`] and every event struct; the
//! types nested in them ([`ScanCodeInfo`], [`SendPicsInfo`], [`Beacon`],
//! ...) are only here.
//!
//! ```compile_fail,E0639
//! let click = wechat_events::ClickEvent { key: String::new(), extra: Default::default() };
//! ```
//!
//! ```compile_fail,E0432
//! use wechat_events::ScanCodeInfo; // `wechat_events::event::ScanCodeInfo`
//! ```

use serde::{Deserialize, Serialize};

use crate::fields::{record, Fields, Reader, Record};
use crate::kinds::EventKind;

macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident($ty:ident) = $json:literal,)*) => {
        /// A parsed event push (`MsgType` `event`).
        ///
        /// In JSON, an object whose `type` is the `Event` value in lower
        /// case (`subscribe_scan_product` for a product-scan subscribe,
        /// `unknown` for the rest), beside the event's own fields.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        #[non_exhaustive]
        pub enum Event {
            $(
                $(#[$doc])*
                #[serde(rename = $json)]
                $variant($ty),
            )*
            /// An `Event` not modeled here.
            #[serde(rename = "unknown")]
            Unknown(UnknownEvent),
        }

        impl Event {
            /// This event's `type` in JSON: the `Event` value in lower
            /// case, `unknown` for an event not modeled here.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => $json,)*
                    Event::Unknown(_) => "unknown",
                }
            }

            /// This event's kind.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant(_) => EventKind::$variant,)*
                    Event::Unknown(_) => EventKind::Unknown,
                }
            }
        }
    };
}

events! {
    /// The user followed the account.
    Subscribe(SubscribeEvent) = "subscribe",
    /// The user unfollowed the account.
    Unsubscribe(UnsubscribeEvent) = "unsubscribe",
    /// A follower scanned a parameter QR code.
    Scan(ScanEvent) = "scan",
    /// The user's client reported its location.
    Location(LocationEvent) = "location",
    /// The user clicked a menu item that pulls a message.
    Click(ClickEvent) = "click",
    /// The user clicked a menu item that opens a URL.
    View(ViewEvent) = "view",
    /// `scancode_push`.
    ScancodePush(ScancodePushEvent) = "scancode_push",
    /// `scancode_waitmsg`.
    ScancodeWaitmsg(ScancodeWaitmsgEvent) = "scancode_waitmsg",
    /// `pic_sysphoto`.
    PicSysphoto(PicSysphotoEvent) = "pic_sysphoto",
    /// `pic_photo_or_album`.
    PicPhotoOrAlbum(PicPhotoOrAlbumEvent) = "pic_photo_or_album",
    /// `pic_weixin`.
    PicWeixin(PicWeixinEvent) = "pic_weixin",
    /// `location_select`.
    LocationSelect(LocationSelectEvent) = "location_select",
    /// `view_miniprogram`.
    ViewMiniprogram(ViewMiniprogramEvent) = "view_miniprogram",
    /// `TEMPLATESENDJOBFINISH`.
    TemplateSendJobFinish(TemplateSendJobFinishEvent) = "templatesendjobfinish",
    /// `MASSSENDJOBFINISH`.
    MassSendJobFinish(MassSendJobFinishEvent) = "masssendjobfinish",
    /// `PUBLISHJOBFINISH`.
    PublishJobFinish(PublishJobFinishEvent) = "publishjobfinish",
    /// `subscribe_msg_popup_event`.
    SubscribeMsgPopup(SubscribeMsgPopupEvent) = "subscribe_msg_popup_event",
    /// `subscribe_msg_change_event`.
    SubscribeMsgChange(SubscribeMsgChangeEvent) = "subscribe_msg_change_event",
    /// `subscribe_msg_sent_event`.
    SubscribeMsgSent(SubscribeMsgSentEvent) = "subscribe_msg_sent_event",
    /// `kf_create_session`.
    KfCreateSession(KfCreateSessionEvent) = "kf_create_session",
    /// `kf_close_session`.
    KfCloseSession(KfCloseSessionEvent) = "kf_close_session",
    /// `kf_switch_session`.
    KfSwitchSession(KfSwitchSessionEvent) = "kf_switch_session",
    /// `qualification_verify_success`.
    QualificationVerifySuccess(QualificationVerifySuccessEvent) = "qualification_verify_success",
    /// `qualification_verify_fail`.
    QualificationVerifyFail(QualificationVerifyFailEvent) = "qualification_verify_fail",
    /// `naming_verify_success`.
    NamingVerifySuccess(NamingVerifySuccessEvent) = "naming_verify_success",
    /// `naming_verify_fail`.
    NamingVerifyFail(NamingVerifyFailEvent) = "naming_verify_fail",
    /// `annual_renew`.
    AnnualRenew(AnnualRenewEvent) = "annual_renew",
    /// `verify_expired`.
    VerifyExpired(VerifyExpiredEvent) = "verify_expired",
    /// `card_pass_check`.
    CardPassCheck(CardPassCheckEvent) = "card_pass_check",
    /// `card_not_pass_check`.
    CardNotPassCheck(CardNotPassCheckEvent) = "card_not_pass_check",
    /// `user_get_card`.
    UserGetCard(UserGetCardEvent) = "user_get_card",
    /// `user_gifting_card`.
    UserGiftingCard(UserGiftingCardEvent) = "user_gifting_card",
    /// `user_del_card`.
    UserDelCard(UserDelCardEvent) = "user_del_card",
    /// `user_consume_card`.
    UserConsumeCard(UserConsumeCardEvent) = "user_consume_card",
    /// `user_pay_from_pay_cell`.
    UserPayFromPayCell(UserPayFromPayCellEvent) = "user_pay_from_pay_cell",
    /// `user_view_card`.
    UserViewCard(UserViewCardEvent) = "user_view_card",
    /// `user_enter_session_from_card`.
    UserEnterSessionFromCard(UserEnterSessionFromCardEvent) = "user_enter_session_from_card",
    /// `update_member_card`.
    UpdateMemberCard(UpdateMemberCardEvent) = "update_member_card",
    /// `card_sku_remind`.
    CardSkuRemind(CardSkuRemindEvent) = "card_sku_remind",
    /// `card_pay_order`.
    CardPayOrder(CardPayOrderEvent) = "card_pay_order",
    /// `submit_membercard_user_info`.
    SubmitMembercardUserInfo(SubmitMembercardUserInfoEvent) = "submit_membercard_user_info",
    /// `merchant_order`.
    MerchantOrder(MerchantOrderEvent) = "merchant_order",
    /// `poi_check_notify`.
    PoiCheckNotify(PoiCheckNotifyEvent) = "poi_check_notify",
    /// `WifiConnected`.
    WifiConnected(WifiConnectedEvent) = "wificonnected",
    /// `ShakearoundUserShake`.
    ShakearoundUserShake(ShakearoundUserShakeEvent) = "shakearoundusershake",
    /// `user_scan_product`.
    UserScanProduct(UserScanProductEvent) = "user_scan_product",
    /// `user_scan_product_enter_session`.
    UserScanProductEnterSession(UserScanProductEnterSessionEvent) = "user_scan_product_enter_session",
    /// `user_scan_product_async`.
    UserScanProductAsync(UserScanProductAsyncEvent) = "user_scan_product_async",
    /// `user_scan_product_verify_action`.
    UserScanProductVerifyAction(UserScanProductVerifyActionEvent) = "user_scan_product_verify_action",
    /// `user_authorization_revoke`.
    UserAuthorizationRevoke(UserAuthorizationRevokeEvent) = "user_authorization_revoke",
    /// `user_info_modified`.
    UserInfoModified(UserInfoModifiedEvent) = "user_info_modified",
    /// `user_enter_tempsession`.
    UserEnterTempsession(UserEnterTempsessionEvent) = "user_enter_tempsession",
    /// A `subscribe` from a scanned product (`EventKey` `scanbarcode|...`
    /// or `scanimage|...`).
    SubscribeScanProduct(SubscribeScanProductEvent) = "subscribe_scan_product",
}

impl Event {
    /// The raw `EventKey`, if the event has one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Event::Subscribe(e) => e.event_key.as_deref(),
            Event::Scan(e) => Some(&e.scene),
            Event::Click(e) => Some(&e.key),
            Event::View(e) => Some(&e.url),
            Event::ScancodePush(e) => Some(&e.event_key),
            Event::ScancodeWaitmsg(e) => Some(&e.event_key),
            Event::PicSysphoto(e) => Some(&e.event_key),
            Event::PicPhotoOrAlbum(e) => Some(&e.event_key),
            Event::PicWeixin(e) => Some(&e.event_key),
            Event::LocationSelect(e) => Some(&e.event_key),
            Event::ViewMiniprogram(e) => Some(&e.event_key),
            Event::SubscribeScanProduct(e) => Some(&e.event_key),
            Event::Unknown(e) => e.event_key.as_deref(),
            _ => None,
        }
    }

    /// The QR-code scene value: `qrscene_` stripped for subscribe, the
    /// `EventKey` for SCAN; surrounding whitespace trimmed for both.
    pub fn scene(&self) -> Option<&str> {
        match self {
            Event::Subscribe(e) => e.scene.as_deref(),
            Event::Scan(e) => Some(e.scene.trim()),
            _ => None,
        }
    }
}

// ---- the six original events (subscribe, unsubscribe, SCAN, LOCATION, CLICK, VIEW) ---------------------------------------

/// `subscribe`: the user followed the account, perhaps by scanning a
/// parameter QR code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubscribeEvent {
    /// The scene value when the user subscribed through a parameter QR code
    /// (the `EventKey` with its `qrscene_` prefix and any surrounding
    /// whitespace removed); derived, not an element of its own.
    pub scene: Option<String>,
    /// `Ticket` of that QR code.
    pub ticket: Option<String>,
    /// The raw `EventKey`, if any (empty keys are `None`).
    pub event_key: Option<String>,
    /// Elements this type does not model, names as sent.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
}

/// `unsubscribe`: the user unfollowed. Replies are not shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnsubscribeEvent {
    /// Elements this type does not model (an empty `EventKey`, say).
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
}

/// `SCAN`: a follower scanned a parameter QR code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanEvent {
    /// The `EventKey`: the scene id (a 32-bit number) or scene string.
    #[serde(rename = "event_key")]
    pub scene: String,
    /// `Ticket` of the QR code.
    pub ticket: Option<String>,
    /// Elements this type does not model, names as sent.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
}

/// `LOCATION`: the client reported where the user is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LocationEvent {
    /// `Latitude`.
    pub latitude: f64,
    /// `Longitude`.
    pub longitude: f64,
    /// `Precision`.
    pub precision: f64,
    /// Elements this type does not model, names as sent.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
}

/// `CLICK`: a menu item with a key was clicked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClickEvent {
    /// `EventKey`: the key given to the menu item.
    #[serde(rename = "event_key")]
    pub key: String,
    /// Elements this type does not model, names as sent.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
}

/// `VIEW`: a menu item that opens a URL was clicked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ViewEvent {
    /// `EventKey`: the URL.
    #[serde(rename = "event_key")]
    pub url: String,
    /// `MenuId`, present for personalised menus.
    pub menu_id: Option<String>,
    /// Elements this type does not model, names as sent.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
}

/// An event not modeled here (or whose fields did not fit the model);
/// every raw field is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// The `Event` value as sent.
    pub event: String,
    /// `EventKey`, if any.
    pub event_key: Option<String>,
    /// Every field of the push.
    pub fields: Fields,
}

// ---- menu events ------------------------------------------------------------

record! {
    /// `scancode_push`: the user scanned a code with the menu's scanner; the
    /// client handled the result (opened the URL, showed the text).
    pub struct ScancodePushEvent {
        /// `EventKey`: the menu item's key.
        event_key: String = "EventKey",
        /// `ScanCodeInfo`: what was scanned.
        scan_code_info: ScanCodeInfo = "ScanCodeInfo",
    }

    /// `scancode_waitmsg`: the user scanned a code with the menu's scanner
    /// and waits for the account's answer ("消息接收中").
    pub struct ScancodeWaitmsgEvent {
        /// `EventKey`: the menu item's key.
        event_key: String = "EventKey",
        /// `ScanCodeInfo`: what was scanned.
        scan_code_info: ScanCodeInfo = "ScanCodeInfo",
    }

    /// `ScanCodeInfo` of the scancode events.
    pub struct ScanCodeInfo {
        /// `ScanType`: `qrcode`, `barcode`, ...
        scan_type: String = "ScanType",
        /// `ScanResult`: the decoded text (a bar code is `EAN_13,6901234567892`).
        scan_result: String = "ScanResult",
    }

    /// `pic_sysphoto`: the user took photos with the camera from the menu.
    pub struct PicSysphotoEvent {
        /// `EventKey`: the menu item's key.
        event_key: String = "EventKey",
        /// `SendPicsInfo`: the photos.
        send_pics_info: SendPicsInfo = "SendPicsInfo",
    }

    /// `pic_photo_or_album`: the user took or picked photos from the menu.
    pub struct PicPhotoOrAlbumEvent {
        /// `EventKey`: the menu item's key.
        event_key: String = "EventKey",
        /// `SendPicsInfo`: the photos.
        send_pics_info: SendPicsInfo = "SendPicsInfo",
    }

    /// `pic_weixin`: the user picked photos from WeChat's album.
    pub struct PicWeixinEvent {
        /// `EventKey`: the menu item's key.
        event_key: String = "EventKey",
        /// `SendPicsInfo`: the photos.
        send_pics_info: SendPicsInfo = "SendPicsInfo",
    }

    /// `SendPicsInfo` of the `pic_*` events.
    pub struct SendPicsInfo {
        /// `Count`: how many photos.
        count: Option<u32> = "Count",
        /// `PicList`: one entry per `item`.
        pic_list: Vec<PicItem> = "PicList>item",
    }

    /// One `item` of a `PicList`.
    pub struct PicItem {
        /// `PicMd5Sum`: the photo's MD5.
        pic_md5_sum: String = "PicMd5Sum",
    }

    /// `location_select`: the user picked a place with the menu's location
    /// picker.
    pub struct LocationSelectEvent {
        /// `EventKey`: the menu item's key.
        event_key: String = "EventKey",
        /// `SendLocationInfo`: the place.
        send_location_info: SendLocationInfo = "SendLocationInfo",
    }

    /// `SendLocationInfo` of `location_select`.
    pub struct SendLocationInfo {
        /// `Location_X`: latitude.
        location_x: Option<f64> = "Location_X",
        /// `Location_Y`: longitude.
        location_y: Option<f64> = "Location_Y",
        /// `Scale`: the map's zoom level.
        scale: Option<f64> = "Scale",
        /// `Label`: the address.
        label: String = "Label",
        /// `Poiname`: the place's name, when it is a known place.
        poiname: Option<String> = "Poiname",
    }

    /// `view_miniprogram`: a menu item opened a mini program page.
    pub struct ViewMiniprogramEvent {
        /// `EventKey`: the page path.
        event_key: String = "EventKey",
        /// `MenuId`, present for personalised menus.
        menu_id: Option<String> = "MenuId",
    }
}

// ---- job-finish events --------------------------------------------------------

record! {
    /// `TEMPLATESENDJOBFINISH`: the outcome of a template message.
    pub struct TemplateSendJobFinishEvent {
        /// `MsgID` (or `MsgId`): the template message's id.
        msg_id: Option<u64> = "MsgID|MsgId",
        /// `Status`: `success`, `failed:user block`, `failed: system failed`.
        status: String = "Status",
    }

    /// `MASSSENDJOBFINISH`: the outcome of a mass send.
    pub struct MassSendJobFinishEvent {
        /// `MsgID` (or `MsgId`): the mass send's id.
        msg_id: Option<u64> = "MsgID|MsgId",
        /// `Status`: `send success`, `send fail`, `err(num)`.
        status: String = "Status",
        /// `TotalCount`: followers targeted.
        total_count: Option<u64> = "TotalCount",
        /// `FilterCount`: followers left after filtering.
        filter_count: Option<u64> = "FilterCount",
        /// `SentCount`: sent successfully.
        sent_count: Option<u64> = "SentCount",
        /// `ErrorCount`: failed.
        error_count: Option<u64> = "ErrorCount",
        /// `ArticleUrlResult`: the articles' URLs.
        article_url_result: Option<ArticleUrlResult> = "ArticleUrlResult",
        /// `CopyrightCheckResult`: the originality check.
        copyright_check_result: Option<CopyrightCheckResult> = "CopyrightCheckResult",
    }

    /// `ArticleUrlResult` of a mass send.
    pub struct ArticleUrlResult {
        /// `Count`.
        count: Option<u32> = "Count",
        /// `ResultList`: one entry per `item`.
        result_list: Vec<ArticleUrlItem> = "ResultList>item",
    }

    /// One `item` of an `ArticleUrlResult`.
    pub struct ArticleUrlItem {
        /// `ArticleIdx`: the article's position, from 1.
        article_idx: Option<u32> = "ArticleIdx",
        /// `ArticleUrl`.
        article_url: String = "ArticleUrl",
    }

    /// `CopyrightCheckResult` of a mass send.
    pub struct CopyrightCheckResult {
        /// `Count`.
        count: Option<u32> = "Count",
        /// `ResultList`: one entry per `item`.
        result_list: Vec<CopyrightCheckItem> = "ResultList>item",
        /// `CheckState`: 1 could be sent, 2 reprinted, 3 refused.
        check_state: Option<i32> = "CheckState",
    }

    /// One `item` of a `CopyrightCheckResult`.
    pub struct CopyrightCheckItem {
        /// `ArticleIdx`.
        article_idx: Option<u32> = "ArticleIdx",
        /// `UserDeclareState`.
        user_declare_state: Option<i32> = "UserDeclareState",
        /// `AuditState`.
        audit_state: Option<i32> = "AuditState",
        /// `OriginalArticleUrl`.
        original_article_url: Option<String> = "OriginalArticleUrl",
        /// `OriginalArticleType`.
        original_article_type: Option<i32> = "OriginalArticleType",
        /// `CanReprint`.
        can_reprint: Option<i32> = "CanReprint",
        /// `NeedReplaceContent`.
        need_replace_content: Option<i32> = "NeedReplaceContent",
        /// `NeedShowReprintSource`.
        need_show_reprint_source: Option<i32> = "NeedShowReprintSource",
    }

    /// `PUBLISHJOBFINISH`: the outcome of a publishing job.
    pub struct PublishJobFinishEvent {
        /// `PublishEventInfo`.
        publish_event_info: PublishEventInfo = "PublishEventInfo",
    }

    /// `PublishEventInfo` of `PUBLISHJOBFINISH`.
    pub struct PublishEventInfo {
        /// `publish_id`.
        publish_id: Option<u64> = "publish_id",
        /// `publish_status`: 0 success, 1 publishing, 2 original fail, 3
        /// routine fail, 4 audit refused, 5 deleted, 6 banned.
        publish_status: Option<i32> = "publish_status",
        /// `article_id`, on success.
        article_id: Option<String> = "article_id",
        /// `article_detail`, on success.
        article_detail: Option<ArticleDetail> = "article_detail",
        /// `fail_idx`: the articles that failed, from 1 (repeated element).
        fail_idx: Vec<u32> = "fail_idx",
    }

    /// `article_detail` of a `PublishEventInfo`.
    pub struct ArticleDetail {
        /// `count`.
        count: Option<u32> = "count",
        /// `item`: one per article (repeated element).
        item: Vec<ArticleDetailItem> = "item",
    }

    /// One `item` of an `article_detail`.
    pub struct ArticleDetailItem {
        /// `idx`: the article's position, from 1.
        idx: Option<u32> = "idx",
        /// `article_url`.
        article_url: String = "article_url",
    }
}

// ---- subscription messages ---------------------------------------------------

record! {
    /// `subscribe_msg_popup_event`: the user answered a subscription popup;
    /// one `List` per template.
    pub struct SubscribeMsgPopupEvent {
        /// The `List` items inside `SubscribeMsgPopupEvent`.
        list: Vec<SubscribeMsgPopupItem> = "SubscribeMsgPopupEvent>List",
    }

    /// One `List` of `subscribe_msg_popup_event`.
    pub struct SubscribeMsgPopupItem {
        /// `TemplateId`.
        template_id: String = "TemplateId",
        /// `SubscribeStatusString`: `accept` or `reject`.
        subscribe_status_string: String = "SubscribeStatusString",
        /// `PopupScene`: 1 from a menu, 2 from an article, 3 from a message.
        popup_scene: Option<u32> = "PopupScene",
    }

    /// `subscribe_msg_change_event`: the user changed subscriptions in the
    /// settings.
    pub struct SubscribeMsgChangeEvent {
        /// The `List` items inside `SubscribeMsgChangeEvent`.
        list: Vec<SubscribeMsgChangeItem> = "SubscribeMsgChangeEvent>List",
    }

    /// One `List` of `subscribe_msg_change_event`.
    pub struct SubscribeMsgChangeItem {
        /// `TemplateId`.
        template_id: String = "TemplateId",
        /// `SubscribeStatusString`: `reject` when the user unsubscribed.
        subscribe_status_string: String = "SubscribeStatusString",
    }

    /// `subscribe_msg_sent_event`: subscription messages were sent.
    pub struct SubscribeMsgSentEvent {
        /// The `List` items inside `SubscribeMsgSentEvent`.
        list: Vec<SubscribeMsgSentItem> = "SubscribeMsgSentEvent>List",
    }

    /// One `List` of `subscribe_msg_sent_event`.
    pub struct SubscribeMsgSentItem {
        /// `TemplateId`.
        template_id: String = "TemplateId",
        /// `MsgID` (or `MsgId`).
        msg_id: Option<u64> = "MsgID|MsgId",
        /// `ErrorCode`: 0 on success.
        error_code: Option<i64> = "ErrorCode",
        /// `ErrorStatus`: `success`, `fail:user refuse`, ...
        error_status: String = "ErrorStatus",
    }
}

// ---- customer service ------------------------------------------------------------

record! {
    /// `kf_create_session`: an agent took a session.
    pub struct KfCreateSessionEvent {
        /// `KfAccount`: the agent (`name@account`).
        kf_account: String = "KfAccount",
    }

    /// `kf_close_session`: an agent closed a session.
    pub struct KfCloseSessionEvent {
        /// `KfAccount`: the agent.
        kf_account: String = "KfAccount",
    }

    /// `kf_switch_session`: a session moved to another agent.
    pub struct KfSwitchSessionEvent {
        /// `FromKfAccount`.
        from_kf_account: String = "FromKfAccount",
        /// `ToKfAccount`.
        to_kf_account: String = "ToKfAccount",
    }
}

// ---- verification ------------------------------------------------------------------

record! {
    /// `qualification_verify_success`: the qualification was verified.
    pub struct QualificationVerifySuccessEvent {
        /// `ExpiredTime`: unix seconds.
        expired_time: Option<i64> = "ExpiredTime",
    }

    /// `qualification_verify_fail`: the qualification was refused.
    pub struct QualificationVerifyFailEvent {
        /// `FailTime`: unix seconds.
        fail_time: Option<i64> = "FailTime",
        /// `FailReason`.
        fail_reason: String = "FailReason",
    }

    /// `naming_verify_success`: the name was verified.
    pub struct NamingVerifySuccessEvent {
        /// `ExpiredTime`: unix seconds.
        expired_time: Option<i64> = "ExpiredTime",
    }

    /// `naming_verify_fail`: the name was refused.
    pub struct NamingVerifyFailEvent {
        /// `FailTime`: unix seconds.
        fail_time: Option<i64> = "FailTime",
        /// `FailReason`.
        fail_reason: String = "FailReason",
    }

    /// `annual_renew`: the yearly verification is due.
    pub struct AnnualRenewEvent {
        /// `ExpiredTime`: unix seconds.
        expired_time: Option<i64> = "ExpiredTime",
    }

    /// `verify_expired`: the verification lapsed.
    pub struct VerifyExpiredEvent {
        /// `ExpiredTime`: unix seconds.
        expired_time: Option<i64> = "ExpiredTime",
    }
}

// ---- cards -------------------------------------------------------------------------

record! {
    /// `card_pass_check`: a card passed review.
    pub struct CardPassCheckEvent {
        /// `CardId`.
        card_id: String = "CardId",
    }

    /// `card_not_pass_check`: a card failed review.
    pub struct CardNotPassCheckEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `RefuseReason`.
        refuse_reason: Option<String> = "RefuseReason",
    }

    /// `user_get_card`: a user received a card.
    pub struct UserGetCardEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `IsGiveByFriend`: 1 when a friend gave it.
        is_give_by_friend: Option<u8> = "IsGiveByFriend",
        /// `FriendUserName`: the giver's OpenID.
        friend_user_name: Option<String> = "FriendUserName",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
        /// `OldUserCardCode`: the code before a gift.
        old_user_card_code: Option<String> = "OldUserCardCode",
        /// `OuterId`: the scene value of the card's QR code.
        outer_id: Option<i64> = "OuterId",
        /// `OuterStr`: the channel value of the link.
        outer_str: Option<String> = "OuterStr",
        /// `IsRestoreMemberCard`: 1 when a deleted member card was restored.
        is_restore_member_card: Option<u8> = "IsRestoreMemberCard",
        /// `IsRecommendByFriend`.
        is_recommend_by_friend: Option<u8> = "IsRecommendByFriend",
        /// `UnionId`.
        union_id: Option<String> = "UnionId",
    }

    /// `user_gifting_card`: a user gave a card to a friend.
    pub struct UserGiftingCardEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
        /// `IsReturnBack`: 1 when the gift came back.
        is_return_back: Option<u8> = "IsReturnBack",
        /// `FriendUserName`: the receiver's OpenID.
        friend_user_name: Option<String> = "FriendUserName",
        /// `IsChatRoom`: 1 when given in a group chat.
        is_chat_room: Option<u8> = "IsChatRoom",
    }

    /// `user_del_card`: a user deleted a card.
    pub struct UserDelCardEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
    }

    /// `user_consume_card`: a card was redeemed.
    pub struct UserConsumeCardEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
        /// `ConsumeSource`: `FROM_API`, `FROM_MOBILE_HELPER`, ...
        consume_source: Option<String> = "ConsumeSource",
        /// `LocationName`: the store.
        location_name: Option<String> = "LocationName",
        /// `StaffOpenId`: the staff member who redeemed it.
        staff_open_id: Option<String> = "StaffOpenId",
        /// `VerifyCode`.
        verify_code: Option<String> = "VerifyCode",
        /// `RemarkAmount`.
        remark_amount: Option<String> = "RemarkAmount",
        /// `OuterStr`.
        outer_str: Option<String> = "OuterStr",
    }

    /// `user_pay_from_pay_cell`: a user paid through the card's pay cell.
    pub struct UserPayFromPayCellEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
        /// `TransId`: the payment's transaction id.
        trans_id: Option<String> = "TransId",
        /// `LocationId`: the store.
        location_id: Option<i64> = "LocationId",
        /// `Fee`: paid, in fen.
        fee: Option<i64> = "Fee",
        /// `OriginalFee`: before discounts, in fen.
        original_fee: Option<i64> = "OriginalFee",
    }

    /// `user_view_card`: a user opened a member card.
    pub struct UserViewCardEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
        /// `OuterStr`.
        outer_str: Option<String> = "OuterStr",
    }

    /// `user_enter_session_from_card`: a user entered the chat from a card.
    pub struct UserEnterSessionFromCardEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
    }

    /// `update_member_card`: a member card's bonus or balance changed.
    pub struct UpdateMemberCardEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
        /// `ModifyBonus`: the change of points.
        modify_bonus: Option<i64> = "ModifyBonus",
        /// `ModifyBalance`: the change of balance, in fen.
        modify_balance: Option<i64> = "ModifyBalance",
    }

    /// `card_sku_remind`: a card's stock runs low.
    pub struct CardSkuRemindEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `Detail`: the warning.
        detail: Option<String> = "Detail",
    }

    /// `card_pay_order`: a card coin order changed.
    pub struct CardPayOrderEvent {
        /// `OrderId`.
        order_id: String = "OrderId",
        /// `Status`: `ORDER_STATUS_WAITING`, `ORDER_STATUS_SUCC`, ...
        status: Option<String> = "Status",
        /// `CreateOrderTime`: unix seconds.
        create_order_time: Option<i64> = "CreateOrderTime",
        /// `PayFinishTime`: unix seconds.
        pay_finish_time: Option<i64> = "PayFinishTime",
        /// `Desc`.
        desc: Option<String> = "Desc",
        /// `FreeCoinCount`.
        free_coin_count: Option<i64> = "FreeCoinCount",
        /// `PayCoinCount`.
        pay_coin_count: Option<i64> = "PayCoinCount",
        /// `RefundFreeCoinCount`.
        refund_free_coin_count: Option<i64> = "RefundFreeCoinCount",
        /// `RefundPayCoinCount`.
        refund_pay_coin_count: Option<i64> = "RefundPayCoinCount",
        /// `OrderType`.
        order_type: Option<String> = "OrderType",
        /// `Memo`.
        memo: Option<String> = "Memo",
        /// `ReceiptInfo`.
        receipt_info: Option<String> = "ReceiptInfo",
    }

    /// `submit_membercard_user_info`: a user filled in member information.
    pub struct SubmitMembercardUserInfoEvent {
        /// `CardId`.
        card_id: String = "CardId",
        /// `UserCardCode`.
        user_card_code: String = "UserCardCode",
    }
}

// ---- stores, Wi-Fi, beacons, products, authorization ------------------------------

record! {
    /// `merchant_order`: an order of the WeChat store was paid.
    pub struct MerchantOrderEvent {
        /// `OrderId`.
        order_id: String = "OrderId",
        /// `OrderStatus`: 2 paid.
        order_status: Option<i32> = "OrderStatus",
        /// `ProductId`.
        product_id: Option<String> = "ProductId",
        /// `SkuInfo`: `attr:value;...`.
        sku_info: Option<String> = "SkuInfo",
    }

    /// `poi_check_notify`: a store location was reviewed.
    pub struct PoiCheckNotifyEvent {
        /// `UniqId`: the id given when the store was created.
        uniq_id: Option<String> = "UniqId",
        /// `PoiId`: WeChat's id of the store.
        poi_id: Option<String> = "PoiId",
        /// `Result`: `succ` or `fail`.
        result: Option<String> = "Result",
        /// `Msg`: why it failed.
        msg: Option<String> = "Msg",
    }

    /// `WifiConnected`: a user connected to the account's Wi-Fi.
    pub struct WifiConnectedEvent {
        /// `ConnectTime`: unix seconds.
        connect_time: Option<i64> = "ConnectTime",
        /// `ExpireTime`: unix seconds.
        expire_time: Option<i64> = "ExpireTime",
        /// `VendorId`.
        vendor_id: Option<String> = "VendorId",
        /// `ShopId`: the store.
        shop_id: Option<String> = "ShopId",
        /// `PlaceId`: the store, as older pushes call it.
        place_id: Option<String> = "PlaceId",
        /// `DeviceNo`: the access point's BSSID.
        device_no: Option<String> = "DeviceNo",
    }

    /// `ShakearoundUserShake`: a user shook the phone near beacons.
    pub struct ShakearoundUserShakeEvent {
        /// `ChosenBeacon`: the nearest beacon.
        chosen_beacon: Option<Beacon> = "ChosenBeacon",
        /// `AroundBeacons`: one entry per `AroundBeacon`.
        around_beacons: Vec<Beacon> = "AroundBeacons>AroundBeacon",
    }

    /// A beacon of `ShakearoundUserShake`.
    pub struct Beacon {
        /// `Uuid`.
        uuid: String = "Uuid",
        /// `Major`.
        major: Option<u32> = "Major",
        /// `Minor`.
        minor: Option<u32> = "Minor",
        /// `Distance`: metres.
        distance: Option<f64> = "Distance",
    }

    /// `user_scan_product`: a user opened a product page by scanning its code.
    pub struct UserScanProductEvent {
        /// `KeyStandard`: the code standard (`ean13`, `qrcode`, ...).
        key_standard: String = "KeyStandard",
        /// `KeyStr`: the code.
        key_str: String = "KeyStr",
        /// `Country`.
        country: Option<String> = "Country",
        /// `Province`.
        province: Option<String> = "Province",
        /// `City`.
        city: Option<String> = "City",
        /// `Sex`: 1 male, 2 female, 0 unknown.
        sex: Option<u8> = "Sex",
        /// `Scene`: 1 scanned, 2 opened otherwise.
        scene: Option<u32> = "Scene",
        /// `ExtInfo`: the value set when the code was made.
        ext_info: Option<String> = "ExtInfo",
    }

    /// `user_scan_product_enter_session`: a user entered the chat from a
    /// product page.
    pub struct UserScanProductEnterSessionEvent {
        /// `KeyStandard`.
        key_standard: String = "KeyStandard",
        /// `KeyStr`.
        key_str: String = "KeyStr",
        /// `ExtInfo`.
        ext_info: Option<String> = "ExtInfo",
    }

    /// `user_scan_product_async`: where a product scan happened, reported
    /// later.
    pub struct UserScanProductAsyncEvent {
        /// `KeyStandard`.
        key_standard: String = "KeyStandard",
        /// `KeyStr`.
        key_str: String = "KeyStr",
        /// `ExtInfo`.
        ext_info: Option<String> = "ExtInfo",
        /// `RegionCode`: the administrative region.
        region_code: Option<String> = "RegionCode",
    }

    /// `user_scan_product_verify_action`: a product's review result.
    pub struct UserScanProductVerifyActionEvent {
        /// `KeyStandard`.
        key_standard: String = "KeyStandard",
        /// `KeyStr`.
        key_str: String = "KeyStr",
        /// `Result`: `verify_ok` or `verify_not_pass`.
        result: Option<String> = "Result",
        /// `ReasonMsg`: why it failed.
        reason_msg: Option<String> = "ReasonMsg",
    }

    /// `user_authorization_revoke`: a user revoked the account's access to
    /// some of their information.
    pub struct UserAuthorizationRevokeEvent {
        /// `OpenID`.
        open_id: String = "OpenID",
        /// `AppID`.
        app_id: String = "AppID|AppId",
        /// `RevokeInfo`: the revoked items, comma-separated.
        revoke_info: Option<String> = "RevokeInfo",
    }

    /// `user_info_modified`: an authorized user changed their information.
    pub struct UserInfoModifiedEvent {
        /// `OpenID`.
        open_id: String = "OpenID",
        /// `AppID`.
        app_id: String = "AppID|AppId",
    }

    /// `user_enter_tempsession`: a user entered a temporary session (from a
    /// mini program's contact button).
    pub struct UserEnterTempsessionEvent {
        /// `SessionFrom`: the value the page set.
        session_from: Option<String> = "SessionFrom",
    }

    /// A `subscribe` whose `EventKey` is `scanbarcode|<standard>|<code>` or
    /// `scanimage|<standard>|<code>`: the user followed the account from a
    /// scanned product. `#[on_event(Subscribe)]` does not see it.
    pub struct SubscribeScanProductEvent {
        /// `EventKey`, as sent.
        event_key: String = "EventKey",
    }
}

impl SubscribeScanProductEvent {
    fn part(&self, n: usize) -> &str {
        self.event_key.trim().split('|').nth(n).unwrap_or_default()
    }

    /// How the product was scanned: `scanbarcode` or `scanimage`.
    pub fn source(&self) -> &str {
        self.part(0)
    }

    /// The code standard (`ean13`, `qrcode`, ...).
    pub fn key_standard(&self) -> &str {
        self.part(1)
    }

    /// The product's code.
    pub fn key_str(&self) -> &str {
        self.part(2)
    }
}

/// The envelope every event has: never part of a typed value's `extra`.
const ENVELOPE: &[&str] = &[
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Event",
];

/// Whether an `EventKey` marks a product-scan subscribe (surrounding
/// whitespace aside, as for the `Event` name).
fn is_product_scan(key: &str) -> bool {
    let key = key.trim_start();
    key.starts_with("scanbarcode|") || key.starts_with("scanimage|")
}

macro_rules! read_typed {
    ($kind:expr, $reader:expr, $unknown:expr; $($variant:ident),* $(,)?) => {
        match $kind {
            $(EventKind::$variant => Event::$variant(Record::read($reader)),)*
            _ => $unknown,
        }
    };
}

/// Calls `$m!` with every kind read by [`Record`] (all but the seed six).
macro_rules! catalog {
    ($m:ident $(, $($pre:tt)*)?) => {
        $m!($($($pre)*;)?
            ScancodePush, ScancodeWaitmsg, PicSysphoto, PicPhotoOrAlbum, PicWeixin,
            LocationSelect, ViewMiniprogram, TemplateSendJobFinish, MassSendJobFinish,
            PublishJobFinish, SubscribeMsgPopup, SubscribeMsgChange, SubscribeMsgSent,
            KfCreateSession, KfCloseSession, KfSwitchSession, QualificationVerifySuccess,
            QualificationVerifyFail, NamingVerifySuccess, NamingVerifyFail, AnnualRenew,
            VerifyExpired, CardPassCheck, CardNotPassCheck, UserGetCard, UserGiftingCard,
            UserDelCard, UserConsumeCard, UserPayFromPayCell, UserViewCard,
            UserEnterSessionFromCard, UpdateMemberCard, CardSkuRemind, CardPayOrder,
            SubmitMembercardUserInfo, MerchantOrder, PoiCheckNotify, WifiConnected,
            ShakearoundUserShake, UserScanProduct, UserScanProductEnterSession,
            UserScanProductAsync, UserScanProductVerifyAction, UserAuthorizationRevoke,
            UserInfoModified, UserEnterTempsession, SubscribeScanProduct
        )
    };
}

impl Event {
    /// The elements the typed value does not model (every field for
    /// [`UnknownEvent`]).
    pub fn extra(&self) -> &Fields {
        macro_rules! arms {
            ($($variant:ident),*) => {
                match self {
                    $(Event::$variant(e) => &e.extra,)*
                    Event::Subscribe(e) => &e.extra,
                    Event::Unsubscribe(e) => &e.extra,
                    Event::Scan(e) => &e.extra,
                    Event::Location(e) => &e.extra,
                    Event::Click(e) => &e.extra,
                    Event::View(e) => &e.extra,
                    Event::Unknown(e) => &e.fields,
                }
            };
        }
        catalog!(arms)
    }
}

pub(crate) fn from_fields(event: &str, f: &Fields) -> Event {
    let opt = |name: &str| f.text(name).filter(|v| !v.is_empty()).map(str::to_owned);
    let s = |name: &str| f.text(name).unwrap_or_default().to_owned();
    let num = |name: &str| f.text(name).and_then(|v| v.trim().parse::<f64>().ok());
    let unknown = || {
        Event::Unknown(UnknownEvent {
            event: event.to_owned(),
            event_key: opt("EventKey"),
            fields: f.clone(),
        })
    };
    // The elements the seed six model, besides the envelope.
    let extra = |modeled: &[&str]| {
        let mut skip = ENVELOPE.to_vec();
        skip.extend_from_slice(modeled);
        Reader::new(f, &skip).rest()
    };
    let mut kind = EventKind::from_event(event);
    if kind == EventKind::Subscribe && f.text("EventKey").is_some_and(is_product_scan) {
        kind = EventKind::SubscribeScanProduct;
    }
    match kind {
        EventKind::Subscribe => {
            let event_key = opt("EventKey");
            Event::Subscribe(SubscribeEvent {
                scene: event_key
                    .as_deref()
                    .and_then(|k| k.trim().strip_prefix("qrscene_"))
                    .map(str::to_owned),
                ticket: opt("Ticket"),
                event_key,
                extra: extra(&["EventKey", "Ticket"]),
            })
        }
        EventKind::Unsubscribe => Event::Unsubscribe(UnsubscribeEvent { extra: extra(&[]) }),
        EventKind::Scan => Event::Scan(ScanEvent {
            scene: s("EventKey"),
            ticket: opt("Ticket"),
            extra: extra(&["EventKey", "Ticket"]),
        }),
        EventKind::Location => match (num("Latitude"), num("Longitude")) {
            (Some(latitude), Some(longitude)) => Event::Location(LocationEvent {
                latitude,
                longitude,
                precision: num("Precision").unwrap_or(0.0),
                extra: extra(&["Latitude", "Longitude", "Precision"]),
            }),
            _ => unknown(),
        },
        EventKind::Click => Event::Click(ClickEvent {
            key: s("EventKey"),
            extra: extra(&["EventKey"]),
        }),
        EventKind::View => Event::View(ViewEvent {
            url: s("EventKey"),
            menu_id: opt("MenuId"),
            extra: extra(&["EventKey", "MenuId"]),
        }),
        kind => {
            let reader = &mut Reader::new(f, ENVELOPE);
            catalog!(read_typed, kind, reader, unknown())
        }
    }
}

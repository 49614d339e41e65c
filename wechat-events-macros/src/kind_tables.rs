//! The event kinds `#[on_event]` takes and the filters each allows: copies
//! of the runtime's `EventKind` tables, so that a filter on the wrong kind
//! is a plain error on the filter's token. A file of its own, with no
//! dependency, so that `tests/kind_tables.rs` (kept out of the package,
//! which has no `wechat-events` to compare with) can include it and check
//! it against the runtime.

/// Every event kind `#[on_event]` takes, and which of them carry an
/// `EventKey` (`key`, `key_regex`) or a QR-code scene (`scene`): the
/// runtime's `EventKind::has_key` / `has_scene` plus `Any`, copied so that
/// a filter on the wrong kind is a plain error on the filter's token.
/// `tests/kind_tables.rs` keeps the copies equal to the runtime's.
pub(crate) const EVENT_KINDS: &[&str] = &[
    "Subscribe",
    "Unsubscribe",
    "Scan",
    "Location",
    "Click",
    "View",
    "ScancodePush",
    "ScancodeWaitmsg",
    "PicSysphoto",
    "PicPhotoOrAlbum",
    "PicWeixin",
    "LocationSelect",
    "ViewMiniprogram",
    "TemplateSendJobFinish",
    "MassSendJobFinish",
    "PublishJobFinish",
    "SubscribeMsgPopup",
    "SubscribeMsgChange",
    "SubscribeMsgSent",
    "KfCreateSession",
    "KfCloseSession",
    "KfSwitchSession",
    "QualificationVerifySuccess",
    "QualificationVerifyFail",
    "NamingVerifySuccess",
    "NamingVerifyFail",
    "AnnualRenew",
    "VerifyExpired",
    "CardPassCheck",
    "CardNotPassCheck",
    "UserGetCard",
    "UserGiftingCard",
    "UserDelCard",
    "UserConsumeCard",
    "UserPayFromPayCell",
    "UserViewCard",
    "UserEnterSessionFromCard",
    "UpdateMemberCard",
    "CardSkuRemind",
    "CardPayOrder",
    "SubmitMembercardUserInfo",
    "MerchantOrder",
    "PoiCheckNotify",
    "WifiConnected",
    "ShakearoundUserShake",
    "UserScanProduct",
    "UserScanProductEnterSession",
    "UserScanProductAsync",
    "UserScanProductVerifyAction",
    "UserAuthorizationRevoke",
    "UserInfoModified",
    "UserEnterTempsession",
    "SubscribeScanProduct",
    "Unknown",
    "Any",
];
/// The event kinds with an `EventKey`.
pub(crate) const KEY_KINDS: &[&str] = &[
    "Subscribe",
    "Scan",
    "Click",
    "View",
    "ScancodePush",
    "ScancodeWaitmsg",
    "PicSysphoto",
    "PicPhotoOrAlbum",
    "PicWeixin",
    "LocationSelect",
    "ViewMiniprogram",
    "SubscribeScanProduct",
    "Unknown",
    "Any",
];
/// The event kinds with a QR-code scene.
pub(crate) const SCENE_KINDS: &[&str] = &["Subscribe", "Scan", "Any"];

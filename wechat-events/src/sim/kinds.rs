//! The pushes [`SimPush`] builds, by name: one table for every place that
//! picks a kind by its name and fills its fields from text — the
//! inspector's send form, and (checked by its tests) `wechat-sim`'s
//! subcommands, whose names and options are the table's.

use std::fmt;

use super::SimPush;

/// A field of a [`SimKind`]: its name (as `wechat-sim` spells the option,
/// with `_`), an example value, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimField {
    /// The field's name.
    pub name: &'static str,
    /// The value used when none is given (empty: none).
    pub default: &'static str,
    /// What the field is, for forms.
    pub help: &'static str,
    /// A yes/no field (`true`, `false`).
    pub flag: bool,
}

/// A push the simulator knows, by name, with the fields it is built from.
///
/// ```
/// use wechat_events::testing::SimKind;
///
/// let click = SimKind::find("click").unwrap();
/// let push = click.build(&|name| (name == "key").then_some("COUNT")).unwrap();
/// assert_eq!(push.to_string(), "CLICK COUNT");
/// assert!(SimKind::all().iter().any(|k| k.name == "location-select"));
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct SimKind {
    /// The kind's name: `wechat-sim`'s subcommand.
    pub name: &'static str,
    /// What it is.
    pub summary: &'static str,
    /// Its fields.
    pub fields: &'static [SimField],
    make: fn(&Fields<'_, '_>) -> Result<SimPush, String>,
}

impl fmt::Debug for SimKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimKind")
            .field("name", &self.name)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl SimKind {
    /// Every kind, in the order a form lists them.
    pub fn all() -> &'static [SimKind] {
        KINDS
    }

    /// The kind named `name`.
    pub fn find(name: &str) -> Option<&'static SimKind> {
        KINDS.iter().find(|k| k.name == name)
    }

    /// Builds the push from the fields' values: `values(name)` gives a
    /// field's value (`None` or empty: the field's default). An error
    /// names the field whose value is unusable.
    pub fn build<'a>(
        &self,
        values: &'a dyn Fn(&str) -> Option<&'a str>,
    ) -> Result<SimPush, String> {
        (self.make)(&Fields { kind: self, values })
    }
}

/// A kind's fields as given, defaults filled in.
struct Fields<'k, 'v> {
    kind: &'k SimKind,
    values: &'v dyn Fn(&str) -> Option<&'v str>,
}

impl Fields<'_, '_> {
    fn text(&self, name: &str) -> String {
        match (self.values)(name).map(str::trim) {
            Some(value) if !value.is_empty() => value.to_owned(),
            _ => (self.kind.fields.iter())
                .find(|f| f.name == name)
                .map_or_else(String::new, |f| f.default.to_owned()),
        }
    }

    /// A field's value, `None` when empty.
    fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, String> {
        let text = self.text(name);
        text.parse()
            .map_err(|_| format!("{name}: {text:?} is not a number"))
    }

    fn flag(&self, name: &str) -> Result<bool, String> {
        match self.text(name).as_str() {
            "true" | "1" | "on" | "yes" => Ok(true),
            "false" | "0" | "off" | "no" | "" => Ok(false),
            other => Err(format!("{name}: {other:?} is not true or false")),
        }
    }
}

const fn field(name: &'static str, default: &'static str, help: &'static str) -> SimField {
    SimField {
        name,
        default,
        help,
        flag: false,
    }
}

const fn flag(name: &'static str, help: &'static str) -> SimField {
    SimField {
        name,
        default: "false",
        help,
        flag: true,
    }
}

const LAT: SimField = field("lat", "23.137466", "latitude");
const LNG: SimField = field("lng", "113.352425", "longitude");
const KEY: SimField = field("key", "EVENTKEY", "the menu key (EventKey)");

static KINDS: &[SimKind] = &[
    SimKind {
        name: "text",
        summary: "the user sends a text message",
        fields: &[field("content", "你好", "what the user types")],
        make: |f| Ok(SimPush::text(f.text("content"))),
    },
    SimKind {
        name: "subscribe",
        summary: "the user follows the account (optionally through a QR code scene)",
        fields: &[field("scene", "", "the parameter QR code's scene (EventKey qrscene_S)")],
        make: |f| {
            Ok(match f.optional("scene") {
                Some(scene) => SimPush::subscribe_scene(scene),
                None => SimPush::subscribe(),
            })
        },
    },
    SimKind {
        name: "unsubscribe",
        summary: "the user unfollows the account",
        fields: &[],
        make: |_| Ok(SimPush::unsubscribe()),
    },
    SimKind {
        name: "scan",
        summary: "a follower scans a parameter QR code",
        fields: &[field("scene", "SCENE_VALUE", "the scene value (EventKey)")],
        make: |f| Ok(SimPush::scan(f.text("scene"))),
    },
    SimKind {
        name: "location",
        summary: "the client reports the user's location (LOCATION event)",
        fields: &[LAT, LNG, field("precision", "0", "precision")],
        make: |f| {
            Ok(SimPush::location_event(
                f.number("lat")?,
                f.number("lng")?,
                f.number("precision")?,
            ))
        },
    },
    SimKind {
        name: "click",
        summary: "a menu item with a key is clicked (CLICK event)",
        fields: &[KEY],
        make: |f| Ok(SimPush::click(f.text("key"))),
    },
    SimKind {
        name: "view",
        summary: "a menu item opening a URL is clicked (VIEW event)",
        fields: &[
            field("url", "https://www.qq.com", "the URL (EventKey)"),
            field("menu_id", "", "MenuId, for personalised menus"),
        ],
        make: |f| {
            Ok(match f.optional("menu_id") {
                Some(id) => SimPush::view_menu(f.text("url"), id),
                None => SimPush::view(f.text("url")),
            })
        },
    },
    SimKind {
        name: "image",
        summary: "the user sends a picture",
        fields: &[field("media_id", "MEDIA_ID", "the picture's MediaId")],
        make: |f| Ok(SimPush::image(f.text("media_id"))),
    },
    SimKind {
        name: "voice",
        summary: "the user sends a voice clip",
        fields: &[
            field("media_id", "MEDIA_ID", "the clip's MediaId"),
            field("format", "amr", "Format"),
            field("recognition", "", "speech recognition result (Recognition)"),
        ],
        make: |f| {
            let voice = match f.optional("recognition") {
                Some(r) => SimPush::voice_recognized(f.text("media_id"), r),
                None => SimPush::voice(f.text("media_id")),
            };
            Ok(voice.field("Format", f.text("format")))
        },
    },
    SimKind {
        name: "video",
        summary: "the user sends a video (a short video with short)",
        fields: &[
            field("media_id", "MEDIA_ID", "the video's MediaId"),
            field("thumb_media_id", "THUMB_MEDIA_ID", "the cover's ThumbMediaId"),
            flag("short", "MsgType shortvideo instead of video"),
        ],
        make: |f| {
            let (media, thumb) = (f.text("media_id"), f.text("thumb_media_id"));
            Ok(match f.flag("short")? {
                true => SimPush::shortvideo(media, thumb),
                false => SimPush::video(media, thumb),
            })
        },
    },
    SimKind {
        name: "link",
        summary: "the user sends a link",
        fields: &[
            field("url", "https://example.com", "the link's URL"),
            field("title", "标题", "Title"),
            field("description", "", "Description"),
        ],
        make: |f| {
            Ok(SimPush::link(
                f.text("title"),
                f.text("description"),
                f.text("url"),
            ))
        },
    },
    SimKind {
        name: "scancode",
        summary: "the menu's scanner read a code (scancode_push, or scancode_waitmsg)",
        fields: &[
            KEY,
            field("scan_type", "qrcode", "ScanType: qrcode, barcode, ..."),
            flag("waitmsg", "send scancode_waitmsg (the client waits for an answer)"),
            field("result", "https://example.com", "ScanResult: the decoded text"),
        ],
        make: |f| {
            Ok(SimPush::scancode(
                f.flag("waitmsg")?,
                f.text("key"),
                f.text("scan_type"),
                f.text("result"),
            ))
        },
    },
    SimKind {
        name: "pics",
        summary: "the menu sent photos (pic_sysphoto, pic_photo_or_album or pic_weixin)",
        fields: &[
            KEY,
            field("source", "sysphoto", "sysphoto, photo-or-album or weixin"),
            field(
                "md5",
                "1b5f7c23b5bf75682a53e7b6d163e185",
                "one PicMd5Sum per photo, separated by spaces",
            ),
        ],
        make: |f| {
            let event = match f.text("source").as_str() {
                "sysphoto" => "pic_sysphoto",
                "photo-or-album" => "pic_photo_or_album",
                "weixin" => "pic_weixin",
                other => {
                    return Err(format!(
                        "source: {other:?} is not sysphoto, photo-or-album or weixin"
                    ))
                }
            };
            let md5s = f.text("md5");
            Ok(SimPush::pics(event, f.text("key"), md5s.split_whitespace()))
        },
    },
    SimKind {
        name: "location-select",
        summary: "the menu's location picker chose a place (location_select)",
        fields: &[
            KEY,
            LAT,
            LNG,
            field("scale", "15", "map zoom (Scale)"),
            field("label", "广州市海珠区", "the address (Label)"),
            field("poiname", "", "the place's name (Poiname)"),
        ],
        make: |f| {
            Ok(SimPush::location_select(
                f.text("key"),
                f.number("lat")?,
                f.number("lng")?,
                f.number("scale")?,
                f.text("label"),
                f.text("poiname"),
            ))
        },
    },
    SimKind {
        name: "template-send-job-finish",
        summary: "a template message was delivered (TEMPLATESENDJOBFINISH)",
        fields: &[
            field("msg_id", "200163836", "the template message's MsgID"),
            field("status", "success", "Status: success, failed:user block, ..."),
        ],
        make: |f| {
            Ok(SimPush::template_send_job_finish(
                f.number("msg_id")?,
                f.text("status"),
            ))
        },
    },
    SimKind {
        name: "mini-program-page",
        summary: "the user sends a mini program card (miniprogrampage)",
        fields: &[
            field("app_id", "wx1234567890abcdef", "the mini program's AppId"),
            field("title", "小程序", "Title"),
            field("page_path", "pages/index/index", "PagePath"),
        ],
        make: |f| {
            Ok(SimPush::mini_program_page(
                f.text("app_id"),
                f.text("title"),
                f.text("page_path"),
            ))
        },
    },
    SimKind {
        name: "raw",
        summary: "any XML document, sent as given",
        fields: &[field(
            "xml",
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[o_sim_user]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[raw]]></Content><MsgId>1</MsgId></xml>",
            "the document",
        )],
        make: |f| Ok(SimPush::raw(f.text("xml"))),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::parse;

    /// Every kind builds from its defaults alone into a push this crate
    /// parses.
    #[test]
    fn every_kind_builds_a_push_from_its_defaults() {
        for kind in SimKind::all() {
            let push = kind
                .build(&|_| None)
                .unwrap_or_else(|e| panic!("{}: {e}", kind.name));
            let xml = push.to_xml("gh", "o", 1, 2);
            parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}: {xml}", kind.name));
        }
    }

    #[test]
    fn given_values_replace_the_defaults_and_bad_ones_are_named() {
        let kind = SimKind::find("location-select").expect("kind");
        let push = kind
            .build(&|name| match name {
                "lat" => Some("1.5"),
                "poiname" => Some("地点"),
                _ => None,
            })
            .expect("push");
        let xml = push.to_xml("gh", "o", 1, 0);
        assert!(xml.contains("<Location_X>1.5</Location_X>"), "{xml}");
        assert!(xml.contains("<Poiname><![CDATA[地点]]></Poiname>"), "{xml}");
        let err = kind
            .build(&|name| (name == "scale").then_some("big"))
            .unwrap_err();
        assert_eq!(err, "scale: \"big\" is not a number");
        let video = SimKind::find("video").expect("kind");
        let short = video.build(&|n| (n == "short").then_some("true")).unwrap();
        assert!(short.to_xml("gh", "o", 1, 0).contains("[shortvideo]"));
        assert!(video.build(&|n| (n == "short").then_some("maybe")).is_err());
        let pics = SimKind::find("pics").expect("kind");
        let two = pics.build(&|n| (n == "md5").then_some("a  b")).unwrap();
        assert!(two.to_xml("gh", "o", 1, 0).contains("<Count>2</Count>"));
        assert!(pics.build(&|n| (n == "source").then_some("x")).is_err());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = SimKind::all().iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SimKind::all().len());
    }
}

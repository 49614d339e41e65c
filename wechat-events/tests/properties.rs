//! Property tests for the parser's and the renderer's invariants:
//!
//! - any bytes → `parse` returns a push or a typed `ParseError`, never
//!   panics (raw bytes, and XML-shaped token soup that gets deeper);
//! - every reply kind round-trips: `Reply::parse_xml(render(x))` is `x`
//!   with the characters XML 1.0 forbids removed — for arbitrary Unicode,
//!   `]]>` and control characters included.

use proptest::prelude::*;
use wechat_events::dedup::dedup_key;
use wechat_events::push::{parse, ParseError};
use wechat_events::reply::parse_reply;
use wechat_events::{Article, Music, Reply};

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Pieces of XML, pushes and troublemakers, to join into documents.
fn xml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<xml>".to_owned()),
        Just("</xml>".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("]]>".to_owned()),
        Just("<!DOCTYPE xml [<!ENTITY e \"x\">]>".to_owned()),
        Just("&amp;&lt;&#x1;&#0;&#xD800;&e;".to_owned()),
        Just("<?xml version=\"1.0\"?>".to_owned()),
        Just("<!-- c -->".to_owned()),
        Just("<MsgType>event</MsgType><Event>CLICK</Event>".to_owned()),
        Just("<MsgType>text</MsgType><MsgId>1</MsgId>".to_owned()),
        Just("<ToUserName>gh</ToUserName><FromUserName>o</FromUserName>".to_owned()),
        Just("<CreateTime>1700000000</CreateTime>".to_owned()),
        "<[A-Za-z_]{1,10}( a=\"[^\"]{0,4}\")?/?>",
        "</[A-Za-z_]{1,10}>",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn any_bytes_parse_or_fail_typed(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let result: Result<_, ParseError> = parse(&bytes);
        if let Ok(push) = result {
            dedup_key(&push);
        }
    }

    #[test]
    fn xml_token_soup_parses_or_fails_typed(
        pieces in proptest::collection::vec(xml_piece(), 0..48),
    ) {
        let text = pieces.concat();
        let result: Result<_, ParseError> = parse(text.as_bytes());
        if let Ok(push) = result {
            dedup_key(&push);
        }
        let _ = parse_reply(&text);
        let _ = wechat_events::crypto::extract_envelope(&text);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..cases() })]

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(depth in 0usize..5000) {
        let text = format!("<xml>{}{}</xml>", "<a>".repeat(depth), "</a>".repeat(depth));
        let _ = parse(text.as_bytes());
    }
}

/// The characters XML 1.0 can carry (what render keeps).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

fn clean(s: &str) -> String {
    s.chars().filter(|&c| is_xml_char(c)).collect()
}

/// Text that stresses the renderer: arbitrary Unicode mixed with CDATA
/// terminators, brackets, controls and the non-characters XML forbids.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        2 => "[a-z 你好]{1,4}",
        1 => Just("]]>".to_owned()),
        1 => Just("]]".to_owned()),
        1 => Just(">".to_owned()),
        1 => Just("<![CDATA[".to_owned()),
        1 => Just("&amp;<x>".to_owned()),
        1 => prop_oneof![
            Just('\0'), Just('\u{1}'), Just('\u{8}'), Just('\u{b}'), Just('\u{1b}'),
            Just('\u{7f}'), Just('\u{85}'), Just('\u{fffe}'), Just('\u{ffff}'),
            Just('\t'), Just('\n'), Just('\r'),
        ].prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// Text with at least one visible character that survives rendering (the
/// fields a reply must not leave blank).
fn required_text() -> impl Strategy<Value = String> {
    (text(), "[a-zA-Z0-9_-]{1,8}", text()).prop_map(|(a, b, c)| format!("{a}{b}{c}"))
}

fn article() -> impl Strategy<Value = Article> {
    (text(), text(), text(), text()).prop_map(|(title, description, pic_url, url)| {
        Article::new(title, url)
            .description(description)
            .pic_url(pic_url)
    })
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        text().prop_map(Reply::text),
        required_text().prop_map(Reply::image),
        required_text().prop_map(Reply::voice),
        (
            required_text(),
            proptest::option::of(text()),
            proptest::option::of(text())
        )
            .prop_map(|(media_id, title, description)| Reply::Video {
                media_id,
                title,
                description,
            }),
        (text(), text(), text(), text(), text()).prop_map(
            |(title, description, music_url, hq_music_url, thumb_media_id)| {
                Reply::music(
                    Music::new(music_url, thumb_media_id)
                        .title(title)
                        .description(description)
                        .hq_music_url(hq_music_url),
                )
            }
        ),
        proptest::collection::vec(article(), 0..10).prop_map(Reply::news),
        Just(Reply::transfer_customer_service()),
        text().prop_map(Reply::transfer_to),
    ]
}

/// What the reply reads back as: forbidden characters gone, empty optional
/// fields absent, news capped at `MAX_ARTICLES`; `None` when it renders to
/// nothing (`success`).
fn expected(reply: &Reply) -> Option<Reply> {
    let optional = |s: &Option<String>| s.as_deref().map(clean).filter(|s| !s.is_empty());
    let article = |a: &Article| {
        Article::new(clean(&a.title), clean(&a.url))
            .description(clean(&a.description))
            .pic_url(clean(&a.pic_url))
    };
    Some(match reply {
        Reply::Text { content } => {
            let content = clean(content);
            if content.is_empty() {
                return None;
            }
            Reply::text(content)
        }
        Reply::Image { media_id } => Reply::image(clean(media_id)),
        Reply::Voice { media_id } => Reply::voice(clean(media_id)),
        Reply::Video {
            media_id,
            title,
            description,
        } => Reply::Video {
            media_id: clean(media_id),
            title: optional(title),
            description: optional(description),
        },
        Reply::Music(m) => Reply::music(
            Music::new(clean(&m.music_url), clean(&m.thumb_media_id))
                .title(clean(&m.title))
                .description(clean(&m.description))
                .hq_music_url(clean(&m.hq_music_url)),
        ),
        Reply::News(articles) if articles.is_empty() => return None,
        Reply::News(articles) => Reply::news(
            articles
                .iter()
                .take(wechat_events::reply::MAX_ARTICLES)
                .map(article),
        ),
        Reply::TransferCustomerService { kf_account } => Reply::TransferCustomerService {
            kf_account: optional(kf_account),
        },
        other => other.clone(),
    })
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn every_reply_kind_round_trips(
        reply in reply(),
        to in required_text(),
        from in required_text(),
        time in any::<i64>(),
    ) {
        let rendered = reply.render(&to, &from, time);
        match (expected(&reply), rendered) {
            (None, None) => {}
            (Some(want), Some(xml)) => {
                let parsed = parse_reply(&xml)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
                prop_assert_eq!(&parsed.reply, &want, "{}", xml);
                prop_assert_eq!(Reply::parse_xml(&xml).ok(), Some(want));
                prop_assert_eq!(parsed.to_user, clean(&to));
                prop_assert_eq!(parsed.from_user, clean(&from));
                prop_assert_eq!(parsed.create_time, time);
            }
            (want, got) => prop_assert!(false, "expected {:?}, rendered {:?}", want, got),
        }
    }
}

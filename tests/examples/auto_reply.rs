//! `examples/auto_reply.rs`: the console-style table, answered.

use wechat_events::testing::SimPush;
use wechat_events::{Article, Reply};

use crate::common::*;

/// The shipped table.
fn table() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/auto_reply.toml");
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[actix_rt::test]
async fn the_table_answers_like_the_console() {
    let table = table();
    let bot = Quickstart::example("auto_reply", &[("AUTO_REPLY_FILE", table.as_str())]);
    let sim = sim();
    let answer = |push| send(&sim, &bot.url, push);
    assert_eq!(
        answer(SimPush::subscribe()).await.text(),
        Some("欢迎关注！回复「价格」看价目表，「地址」看门店。")
    );
    let price = "招牌拉面 28 元，小菜 8 元起。";
    // Exact (全匹配): the whole message only.
    assert_eq!(answer(SimPush::text("价格")).await.text(), Some(price));
    // Contains (半匹配): anywhere in the message.
    assert_eq!(
        answer(SimPush::text("拉面多少钱？")).await.text(),
        Some(price)
    );
    // "价格表" is not exactly 价格, and contains no rule's keyword.
    let default = "收到，我们会尽快回复你。回复「帮助」看可用的关键词。";
    assert_eq!(answer(SimPush::text("价格表")).await.text(), Some(default));
    assert_eq!(
        answer(SimPush::text("help")).await.text(),
        Some("可用的关键词：价格、多少钱、地址、二维码")
    );
    let news = answer(SimPush::text("你们店在哪里")).await;
    assert_eq!(
        news.reply(),
        Some(&Reply::news([Article::new(
            "门店地址",
            "https://example.com/shop"
        )
        .description("广州市天河区珠江新城 1 号")
        .pic_url("https://example.com/shop.jpg")]))
    );
    let image = answer(SimPush::text("二维码")).await;
    assert_eq!(
        image.reply(),
        Some(&Reply::image("MEDIA_ID_OF_THE_QR_CODE"))
    );
    // Any other message gets the default reply; an event does not.
    assert_eq!(answer(SimPush::image("M1")).await.text(), Some(default));
    assert!(answer(SimPush::click("MENU")).await.is_no_reply());
}

#[test]
fn a_mistake_in_the_table_stops_start_up_naming_the_rule() {
    let dir = tempfile::tempdir().expect("dir");
    for (what, text, wanted) in [
        (
            "unknown reply type",
            "[[rules]]\nname = \"价格\"\nkeywords = [{ text = \"价格\", match = \"exact\" }]\nreply = { type = \"gif\", media_id = \"x\" }\n",
            "unknown variant `gif`",
        ),
        (
            "no keywords",
            "[[rules]]\nname = \"空\"\nkeywords = []\nreply = { type = \"text\", content = \"x\" }\n",
            "rule \"空\" has no keywords",
        ),
        (
            "a keyword twice",
            "[[rules]]\nname = \"a\"\nkeywords = [{ text = \"价格\", match = \"exact\" }]\nreply = { type = \"text\", content = \"x\" }\n\
             [[rules]]\nname = \"b\"\nkeywords = [{ text = \"价格\", match = \"exact\" }]\nreply = { type = \"text\", content = \"y\" }\n",
            "rule \"b\": keyword \"价格\" is also an earlier rule's",
        ),
    ] {
        let file = dir.path().join("replies.toml");
        std::fs::write(&file, text).expect("write");
        let out = std::process::Command::new(example_binary("auto_reply"))
            .env_clear()
            .env("WECHAT_TOKEN", TOKEN)
            .env("AUTO_REPLY_FILE", &file)
            .output()
            .expect("run auto_reply");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(wanted), "{what}: {stderr}");
        assert!(stderr.contains("replies.toml"), "{what}: {stderr}");
    }
}

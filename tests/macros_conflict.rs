//! Two attribute handlers claiming the same keyword, in different modules:
//! building the service must fail and name both functions. This file is
//! its own test binary so the conflicting pair poisons no other test.

use wechat_events::router::RouterError;
use wechat_events::service::BuildError;
use wechat_events::{Config, Router, WechatService};

mod a {
    use wechat_events::{on_text, TextMessage};

    #[on_text(keyword = "帮助", keyword = "help")]
    pub async fn help(_: TextMessage) -> &'static str {
        "a"
    }
}

mod b {
    pub mod nested {
        use wechat_events::{on_text, TextMessage};

        // Shares "help" with `a::help`; different function, same keyword.
        #[on_text(keywords = ["help", "?"])]
        pub async fn also_help(_: TextMessage) -> &'static str {
            "b"
        }
    }
}

fn config() -> Config {
    Config::builder("token").build().expect("config")
}

#[test]
fn build_stops_on_a_keyword_claimed_twice_and_names_both_handlers() {
    let err = match WechatService::builder(config()).build() {
        Ok(_) => panic!("the conflicting handlers were accepted"),
        Err(err) => err,
    };
    let BuildError::Router(RouterError::Conflict {
        kind,
        what,
        first,
        second,
    }) = &err
    else {
        panic!("expected a conflict, got {err}");
    };
    assert_eq!(kind, "message Text");
    assert_eq!(what, "keyword \"help\"");
    let mut both = [first.as_str(), second.as_str()];
    both.sort_unstable();
    assert_eq!(
        both,
        [
            "macros_conflict::a::help",
            "macros_conflict::b::nested::also_help"
        ]
    );
    let message = err.to_string();
    assert!(
        message.contains("macros_conflict::a::help")
            && message.contains("macros_conflict::b::nested::also_help"),
        "{message}"
    );
}

#[test]
fn new_reports_it_too_and_explicit_registration_alone_is_fine() {
    assert!(matches!(
        WechatService::new(config(), Router::new()),
        Err(BuildError::Router(RouterError::Conflict { .. }))
    ));
    // Each handler on its own builds.
    assert!(Router::new().handler::<a::help>().build().is_ok());
    assert!(Router::new()
        .handler::<b::nested::also_help>()
        .build()
        .is_ok());
    // Together, explicitly, they conflict the same way.
    let explicit = Router::new()
        .handler::<a::help>()
        .handler::<b::nested::also_help>()
        .build();
    assert!(matches!(explicit, Err(RouterError::Conflict { .. })));
}

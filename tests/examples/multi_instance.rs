//! `examples/multi-instance/`: two quickstarts sharing the Redis at
//! 127.0.0.1:6379 (`WECHAT_TEST_REDIS_URL`), under a key prefix of this
//! run's own. Without that Redis the test skips, saying why — under
//! `CI=true` it fails.

use wechat_events::testing::SimPush;

use crate::common::*;

/// Deletes the run's keys when the test ends, passed or failed.
struct Keys {
    url: String,
    prefix: String,
}

impl Drop for Keys {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("*{}*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

#[actix_rt::test]
async fn retry_on_the_other_instance_is_answered_once() {
    let Some(url) = test_redis().await else {
        return;
    };
    let keys = Keys {
        prefix: format!("wetest-mi-{}-{:x}", std::process::id(), unique()),
        url,
    };
    let env = [
        ("WECHAT_REDIS_URL", keys.url.as_str()),
        ("WECHAT_REDIS_PREFIX", keys.prefix.as_str()),
    ];
    let (a, b) = (Quickstart::start(&env), Quickstart::start(&env));
    let sim = sim();
    // The COUNT menu item counts per instance: what it answers tells
    // which instance ran the handler, and how often.
    let click = sim.prepare(&SimPush::click("COUNT").create_time(now()));
    let first = sim.deliver(a.url.as_str(), &click).await.expect("answered");
    assert_eq!(first.text(), Some("1"));
    // WeChat's retry, byte for byte, reaches the other instance: it is
    // answered with the first try's reply, and its handler does not run.
    let retry = sim.deliver(b.url.as_str(), &click).await.expect("answered");
    assert_eq!(retry.text(), Some("1"));
    let next = SimPush::click("COUNT").create_time(now() + 1);
    assert_eq!(
        send(&sim, &b.url, next).await.text(),
        Some("1"),
        "the retry ran on the second instance"
    );
    // The de-duplication went through this run's keys in Redis.
    let client = redis::Client::open(keys.url.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let dedup: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{}:*}}:dedup:*", keys.prefix))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    assert_eq!(dedup.len(), 2, "{dedup:?}");
}

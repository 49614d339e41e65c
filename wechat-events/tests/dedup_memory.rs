//! Measures what one `MemoryStore` entry costs in heap bytes, with a
//! counting global allocator, and checks the documented figure
//! (`dedup::ENTRY_OVERHEAD_BYTES`) still covers it; and what one replay
//! binding costs.
//!
//! One test only: the allocator counts the whole process, so nothing else
//! may allocate while it measures. Run it with `--nocapture` to see the
//! figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use wechat_events::dedup::{Claim, DedupStore, MemoryStore, Outcome, Status, ENTRY_OVERHEAD_BYTES};
use wechat_events::replay::{self, Binding, BindingStore, MemoryBindings};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Entries per measurement; `DEDUP_MEMORY_N` overrides it.
fn entries() -> usize {
    std::env::var("DEDUP_MEMORY_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

/// A key as long as a real one: account, OpenID, time, event, key.
fn key(i: usize) -> String {
    format!("e|gh_0123456789ab|oUser0123456789abcdefghijklm|17{i:08}|CLICK|MENU_KEY")
}

#[actix_rt::test]
async fn bytes_per_entry_stay_within_the_documented_overhead() {
    let n = entries();
    let key_len = key(0).len();
    let store = MemoryStore::with_max_bytes(u64::MAX / 2, Duration::from_secs(600));
    // Warm up whatever the store allocates once.
    let warm = store.claim("warm".into()).await;
    drop(warm);
    store.run_pending_tasks().await;

    // Completed entries with no reply (answered `success`).
    let before = LIVE.load(Ordering::SeqCst);
    for i in 0..n {
        let Claim::First(ticket) = store.claim(key(i)).await else {
            panic!("fresh key")
        };
        let (complete, outcome) = ticket.into_parts();
        complete(Outcome {
            reply: None,
            handler: None,
            status: Status::NoReply,
        });
        outcome.await;
    }
    store.run_pending_tasks().await;
    let completed = (LIVE.load(Ordering::SeqCst) - before) as f64 / n as f64;
    assert_eq!(store.len(), n as u64 + 1);

    // In-flight claims (the ticket's channel and closure included).
    let before = LIVE.load(Ordering::SeqCst);
    let mut tickets = Vec::with_capacity(n);
    for i in n..2 * n {
        let Claim::First(ticket) = store.claim(key(i)).await else {
            panic!("fresh key")
        };
        tickets.push(ticket);
    }
    store.run_pending_tasks().await;
    let in_flight = (LIVE.load(Ordering::SeqCst) - before) as f64 / n as f64;

    // The store keeps a fingerprint of the key, not the key: the figures
    // are whole entries, whatever the key's length.
    println!(
        "dedup entry ({n} entries, {key_len}-byte keys): completed {completed:.0} B each; \
         in flight {in_flight:.0} B each (ticket included); \
         documented overhead {ENTRY_OVERHEAD_BYTES} B",
    );
    assert!(
        completed <= ENTRY_OVERHEAD_BYTES as f64,
        "a completed entry costs {completed:.0} B: update ENTRY_OVERHEAD_BYTES"
    );
    assert!(
        completed >= ENTRY_OVERHEAD_BYTES as f64 / 2.0,
        "a completed entry costs only {completed:.0} B: ENTRY_OVERHEAD_BYTES overstates it"
    );
    drop(tickets);

    // Replay bindings, for `replay`'s module docs.
    let bindings = MemoryBindings::new(u64::MAX / 2, Duration::from_secs(600));
    let digest = replay::body_digest(b"<xml/>");
    bindings
        .bind(replay::binding_key(&"0".repeat(40), "1", "warm"), digest)
        .await;
    let before = LIVE.load(Ordering::SeqCst);
    for i in 0..n {
        let key = replay::binding_key(&format!("{i:040x}"), "1700000000", "1234567890");
        assert_eq!(bindings.bind(key, digest).await, Binding::New);
    }
    let binding = (LIVE.load(Ordering::SeqCst) - before) as f64 / n as f64;
    println!("replay binding ({n} entries): {binding:.0} B each");
    assert!(
        binding <= 200.0,
        "a binding costs {binding:.0} B: update the figure in replay's docs"
    );
}

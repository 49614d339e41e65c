//! A bounded, expiring map for the per-push stores (dedup claims and
//! replay bindings): every entry lives for the same TTL, the oldest go
//! first, and the bytes it holds are bounded.
//!
//! Both stores are touched by every push, and a general-purpose cache
//! (moka, which the stores were first built on) did far more per push than
//! they need: lock-free tables with epoch-based reclamation, frequency
//! sketches, per-entry timer bookkeeping, lazy write logs. Under load those
//! were about 40 % of the service's CPU (BENCHMARKS.md). What the stores
//! need is simpler, because their entries are written in time order and
//! all expire after the same TTL:
//!
//! - **insertion order is expiry order**, so one queue per shard, oldest
//!   at the front, finds both the expired entries and the victims when the
//!   byte budget is exceeded — first in, first out, which for a dedup store
//!   is exactly right: the newest pushes are the ones WeChat is about to
//!   retry;
//! - **every operation is one short critical section** on one of a few
//!   shards (a `Mutex` each, picked by the key's hash), so a claim is
//!   atomic — it cannot be cancelled half-way — and no lock is global;
//! - **nothing runs in the background**: expired and excess entries are
//!   dropped by the insertion that finds them at the front of the queue.
//!
//! An entry may be **pinned** ([`ExpiringMap::get_or_insert_pinned`]: a
//! dedup claim whose handler is running): it has no record in the queue,
//! so neither the TTL nor the byte budget can take it out — the budget
//! evicts the unpinned entries around it instead — until it is unpinned
//! ([`ExpiringMap::unpin`]: the claim completed), which gives it a record
//! at the back of the queue and starts its TTL. The number of pinned
//! entries is bounded by the work actually in flight, not by the map.
//!
//! An entry replaced (an expired or abandoned dedup claim claimed anew)
//! moves to the back of the queue; its old place in the queue is left
//! behind as a stale record and skipped when it reaches the front. An
//! entry unpinned gets a fresh record at the back.
//!
//! The map keeps a 128-bit fingerprint of each key ([`Key`]), not the key:
//! an entry owns no heap memory for it, a lookup compares two words, and
//! evicting an entry frees nothing it did not have to (the entries are
//! dropped by whichever worker inserts next into their shard, so a key
//! string would mostly be freed on another thread than the one that
//! allocated it).

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

// tokio's clock, so that tests on a paused clock see entries expire; it
// is the system's monotonic clock otherwise.
use tokio::time::Instant;

use hashbrown::HashTable;

/// Most shards a map splits into: enough that two workers rarely meet on
/// one lock, few enough that each shard's queue stays close to the whole
/// map's order.
const MAX_SHARDS: u64 = 16;

/// Least number of typical entries per shard: a small map is one shard, so
/// its eviction order is exactly first in, first out.
const MIN_SHARD_ENTRIES: u64 = 256;

/// A map from string keys (kept as their [`Key`]s) to `V`, each entry
/// kept for the TTL after it was inserted (or last replaced), the oldest
/// dropped first when the entries' weights exceed the budget.
pub(crate) struct ExpiringMap<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    hasher: foldhash::fast::RandomState,
    /// Seeds the second half of each key's fingerprint: SipHash, keyed at
    /// random, so that no two keys share a fingerprint except by a chance
    /// of about 2^-64 per pair even if foldhash's half coincides.
    check: std::hash::RandomState,
    ttl: Duration,
}

/// A key's fingerprint: what the map holds and compares instead of the
/// key. Two hashes of the key under independent random seeds: `hash`
/// (foldhash) places it, `check` (SipHash) tells apart keys that share
/// `hash`. Made by [`ExpiringMap::key`], valid for that map only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    hash: u64,
    check: u64,
}

struct Shard<V> {
    table: HashTable<Entry<V>>,
    /// Insertion order; the front is the oldest record. A record whose
    /// entry was replaced or removed since is stale.
    order: VecDeque<Record>,
    /// The sum of the live entries' weights.
    weight: u64,
    budget: u64,
    /// Tells this shard's records apart.
    next_id: u64,
}

struct Entry<V> {
    key: Key,
    /// The id of this entry's one live record in the queue (none while
    /// pinned).
    id: u64,
    /// Whether the entry is pinned: no record, no expiry, no eviction.
    pinned: bool,
    inserted: Instant,
    weight: u64,
    value: V,
}

struct Record {
    hash: u64,
    id: u64,
    inserted: Instant,
}

impl<V> ExpiringMap<V> {
    /// A map whose entries weigh at most `budget` in all, each kept for
    /// `ttl`; `typical` is a typical entry's weight (it sets how many
    /// shards the budget is split into).
    pub(crate) fn new(budget: u64, ttl: Duration, typical: u64) -> Self {
        let shards = (budget / typical.max(1) / MIN_SHARD_ENTRIES).clamp(1, MAX_SHARDS);
        let per_shard = budget / shards;
        ExpiringMap {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        table: HashTable::new(),
                        order: VecDeque::new(),
                        weight: 0,
                        budget: per_shard,
                        next_id: 0,
                    })
                })
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
            check: std::hash::RandomState::new(),
            ttl,
        }
    }

    /// `key`'s fingerprint in this map.
    pub(crate) fn key(&self, key: &str) -> Key {
        Key {
            hash: self.hasher.hash_one(key),
            check: self.check.hash_one(key),
        }
    }

    /// Looks `key` up. If it holds a live entry and `keep` answers
    /// `Some(r)` for its value, returns `r` and changes nothing. Otherwise
    /// (no entry, an expired one, or `keep` answers `None`) inserts
    /// `make()`'s value with its weight, at the back of the queue, and
    /// returns `None`. Either way in one critical section.
    pub(crate) fn get_or_insert<R>(
        &self,
        key: Key,
        keep: impl FnOnce(&V) -> Option<R>,
        make: impl FnOnce() -> (V, u64),
    ) -> Option<R> {
        self.insert(key, |v, _| keep(v), make, false)
    }

    /// [`ExpiringMap::get_or_insert`], `keep` also told how long ago the
    /// live entry was inserted (or unpinned).
    pub(crate) fn get_or_insert_aged<R>(
        &self,
        key: Key,
        keep: impl FnOnce(&V, Duration) -> Option<R>,
        make: impl FnOnce() -> (V, u64),
    ) -> Option<R> {
        self.insert(key, keep, make, false)
    }

    /// [`ExpiringMap::get_or_insert`], but the value `make` gives is
    /// pinned: kept, whatever the TTL and the budget, until
    /// [`ExpiringMap::unpin`] (or a later `get_or_insert` whose `keep`
    /// declines it) replaces it.
    pub(crate) fn get_or_insert_pinned<R>(
        &self,
        key: Key,
        keep: impl FnOnce(&V) -> Option<R>,
        make: impl FnOnce() -> (V, u64),
    ) -> Option<R> {
        self.insert(key, |v, _| keep(v), make, true)
    }

    fn insert<R>(
        &self,
        key: Key,
        keep: impl FnOnce(&V, Duration) -> Option<R>,
        make: impl FnOnce() -> (V, u64),
        pinned: bool,
    ) -> Option<R> {
        let hash = key.hash;
        let now = Instant::now();
        let mut shard = self.shard(hash);
        let shard = &mut *shard;
        let id = shard.next_id;
        shard.next_id += 1;
        match shard.table.find_mut(hash, |e| e.key == key) {
            Some(entry) => {
                if entry.live(now, self.ttl) {
                    let age = now.saturating_duration_since(entry.inserted);
                    if let Some(kept) = keep(&entry.value, age) {
                        return Some(kept);
                    }
                }
                let (value, weight) = make();
                shard.weight = shard.weight - entry.weight + weight;
                *entry = Entry {
                    key,
                    id,
                    pinned,
                    inserted: now,
                    weight,
                    value,
                };
            }
            None => {
                let (value, weight) = make();
                shard.weight += weight;
                shard.table.insert_unique(
                    hash,
                    Entry {
                        key,
                        id,
                        pinned,
                        inserted: now,
                        weight,
                        value,
                    },
                    |e| e.key.hash,
                );
            }
        }
        if !pinned {
            shard.order.push_back(Record {
                hash,
                id,
                inserted: now,
            });
        }
        shard.evict(now, self.ttl);
        None
    }

    /// Unpins `key`'s pinned entry, in one critical section: `change` gets
    /// its value and answers its new weight, or `None` when it is not the
    /// entry the caller pinned (left as it is). An unpinned entry goes to
    /// the back of the queue, its TTL counting from now; if its weight
    /// takes the map over the budget, the oldest unpinned entries go.
    /// `false` when there is no pinned entry or `change` declined it.
    pub(crate) fn unpin(&self, key: Key, change: impl FnOnce(&mut V) -> Option<u64>) -> bool {
        let now = Instant::now();
        let mut shard = self.shard(key.hash);
        let shard = &mut *shard;
        let id = shard.next_id;
        let Some(entry) = (shard.table)
            .find_mut(key.hash, |e| e.key == key)
            .filter(|e| e.pinned)
        else {
            return false;
        };
        let Some(weight) = change(&mut entry.value) else {
            return false;
        };
        shard.next_id += 1;
        shard.weight = shard.weight - entry.weight + weight;
        entry.weight = weight;
        entry.pinned = false;
        entry.id = id;
        entry.inserted = now;
        shard.order.push_back(Record {
            hash: key.hash,
            id,
            inserted: now,
        });
        shard.evict(now, self.ttl);
        true
    }

    /// The number of pinned entries.
    #[cfg(test)]
    pub(crate) fn pinned(&self) -> usize {
        (self.shards.iter())
            .map(|s| lock(s).table.iter().filter(|e| e.pinned).count())
            .sum()
    }

    /// Removes `key`'s entry, as an early eviction would.
    #[cfg(test)]
    pub(crate) fn remove(&self, key: Key) {
        let hash = key.hash;
        let mut shard = self.shard(hash);
        if let Ok(found) = shard.table.find_entry(hash, |e| e.key == key) {
            let (entry, _) = found.remove();
            shard.weight -= entry.weight;
        }
    }

    /// Drops every expired entry now (insertions do it as they go).
    pub(crate) fn purge_expired(&self) {
        let now = Instant::now();
        for shard in self.shards.iter() {
            lock(shard).evict(now, self.ttl);
        }
    }

    /// The number of entries held, expired ones not yet dropped included.
    pub(crate) fn len(&self) -> u64 {
        self.shards.iter().map(|s| lock(s).table.len() as u64).sum()
    }

    /// The sum of the entries' weights.
    pub(crate) fn weight(&self) -> u64 {
        self.shards.iter().map(|s| lock(s).weight).sum()
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard<V>> {
        // Bits 20..52 of the hash pick the shard: the table inside uses the
        // low bits for its buckets and the top seven for its tags.
        let n = self.shards.len() as u64;
        let index = (((hash >> 20) & 0xffff_ffff) * n) >> 32;
        lock(&self.shards[index as usize])
    }
}

/// A poisoned shard is still consistent: every critical section leaves the
/// table, queue and weight in agreement before it runs user code (`keep`,
/// `make`), and a panic there unwinds before any change.
fn lock<V>(shard: &Mutex<Shard<V>>) -> MutexGuard<'_, Shard<V>> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<V> Entry<V> {
    /// Pinned, or younger than the TTL.
    fn live(&self, now: Instant, ttl: Duration) -> bool {
        self.pinned || now.duration_since(self.inserted) < ttl
    }
}

impl<V> Shard<V> {
    /// Drops records from the front, with their entries, while they are
    /// expired or the live entries weigh more than the budget (a stale
    /// record there goes without an entry); then sweeps out the stale
    /// records behind when they have piled up.
    fn evict(&mut self, now: Instant, ttl: Duration) {
        while let Some(front) = self.order.front() {
            let expired = now.duration_since(front.inserted) >= ttl;
            if !expired && self.weight <= self.budget {
                break;
            }
            let Some(Record { hash, id, .. }) = self.order.pop_front() else {
                break;
            };
            if let Ok(found) = self.table.find_entry(hash, |e| e.id == id) {
                let (entry, _) = found.remove();
                self.weight -= entry.weight;
            }
        }
        // Stale records (of entries replaced since) behind a live one wait
        // for it to leave; when they outnumber the live ones, sweep them
        // out. Amortised, this is a constant cost per insertion.
        if self.order.len() > 2 * self.table.len() + 64 {
            let table = &self.table;
            self.order
                .retain(|r| table.find(r.hash, |e| e.id == r.id).is_some());
            if self.order.capacity() > 4 * self.order.len() + 64 {
                self.order.shrink_to(2 * self.order.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(map: &ExpiringMap<u32>, key: &str, value: u32, weight: u64) -> Option<u32> {
        map.get_or_insert(map.key(key), |v| Some(*v), || (value, weight))
    }

    #[test]
    fn an_entry_is_found_until_it_expires() {
        let map = ExpiringMap::new(1 << 20, Duration::from_millis(200), 1);
        assert_eq!(insert(&map, "a", 1, 1), None, "a new key is inserted");
        assert_eq!(insert(&map, "a", 2, 1), Some(1), "a live key is found");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(insert(&map, "a", 3, 1), None, "an expired key is replaced");
        assert_eq!(insert(&map, "a", 4, 1), Some(3));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn expired_entries_are_dropped_by_later_insertions_and_by_purge() {
        let map = ExpiringMap::new(1 << 20, Duration::from_millis(100), 1 << 20);
        for i in 0..100 {
            insert(&map, &format!("old{i}"), i, 10);
        }
        std::thread::sleep(Duration::from_millis(150));
        insert(&map, "new", 0, 10);
        assert_eq!(map.len(), 1, "the insertion dropped what had expired");
        assert_eq!(map.weight(), 10);
        std::thread::sleep(Duration::from_millis(150));
        map.purge_expired();
        assert_eq!(map.len(), 0);
        assert_eq!(map.weight(), 0);
    }

    #[test]
    fn at_capacity_the_oldest_go_first_and_every_new_key_is_kept() {
        // One shard (a small budget): exactly first in, first out.
        let map = ExpiringMap::new(1000, Duration::from_secs(60), 10);
        for i in 0..10_000u32 {
            let key = format!("k{i}");
            assert_eq!(insert(&map, &key, i, 10), None, "key {i} is new");
            assert_eq!(insert(&map, &key, 0, 10), Some(i), "key {i} is kept");
            assert!(map.weight() <= 1000);
        }
        assert_eq!(map.len(), 100);
        for i in 9_900..10_000u32 {
            assert_eq!(
                insert(&map, &format!("k{i}"), 0, 10),
                Some(i),
                "the newest 100 remain"
            );
        }
        assert_eq!(insert(&map, "k9899", 7, 10), None, "the next oldest went");
    }

    #[test]
    fn a_sharded_map_keeps_the_newest_keys_within_its_budget() {
        let budget = 16 * MIN_SHARD_ENTRIES * 100;
        let map = ExpiringMap::new(budget, Duration::from_secs(60), 100);
        assert_eq!(map.shards.len(), 16);
        let n = 200_000u32;
        for i in 0..n {
            insert(&map, &format!("key{i}"), i, 100);
        }
        assert!(map.weight() <= budget);
        // Each shard keeps its own newest: the newest tenth of what fits is
        // kept everywhere, whatever the shards' uneven shares.
        let fits = (budget / 100) as u32;
        for i in n - fits / 10..n {
            assert_eq!(insert(&map, &format!("key{i}"), 0, 100), Some(i));
        }
    }

    #[test]
    fn replacing_moves_an_entry_to_the_back_with_its_new_weight() {
        let map = ExpiringMap::new(100, Duration::from_secs(60), 1);
        insert(&map, "a", 1, 10);
        insert(&map, "b", 2, 10);
        // `keep` declines: "a" is replaced, heavier, and is now the newest.
        assert_eq!(
            map.get_or_insert(map.key("a"), |_| None::<u32>, || (3, 50)),
            None
        );
        assert_eq!(map.weight(), 60);
        insert(&map, "c", 4, 45); // 105 > 100: the oldest live entry, "b", goes
        assert_eq!(map.len(), 2);
        assert_eq!(map.weight(), 95);
        assert_eq!(insert(&map, "a", 0, 1), Some(3));
        assert_eq!(insert(&map, "b", 5, 1), None, "b was evicted");
    }

    #[test]
    fn an_entry_heavier_than_the_budget_is_not_kept() {
        let map = ExpiringMap::new(100, Duration::from_secs(60), 1);
        insert(&map, "small", 1, 10);
        insert(&map, "huge", 2, 1000);
        assert_eq!(map.len(), 0);
        assert_eq!(map.weight(), 0);
    }

    #[test]
    fn the_queue_does_not_grow_with_replacements() {
        let map = ExpiringMap::new(1000, Duration::from_secs(60), 10);
        for i in 0..100_000u32 {
            map.get_or_insert(map.key("same"), |_| None::<u32>, || (i, 10));
            insert(&map, &format!("k{}", i % 50), i, 10);
        }
        let shard = lock(&map.shards[0]);
        assert!(shard.order.len() <= 200, "{} records", shard.order.len());
    }

    #[test]
    fn racing_threads_insert_each_key_exactly_once() {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::sync::Barrier;

        let map = ExpiringMap::new(1 << 30, Duration::from_secs(60), 100);
        assert!(map.shards.len() > 1, "the race spans shards");
        let inserted = AtomicU32::new(0);
        let threads = 8;
        let keys = 5_000u32;
        let start = Barrier::new(threads);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    start.wait();
                    for k in 0..keys {
                        let first = map
                            .get_or_insert(map.key(&format!("key{k}")), |_| Some(()), || (k, 100))
                            .is_none();
                        if first {
                            inserted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(
            inserted.load(Ordering::Relaxed),
            keys,
            "one first insertion per key"
        );
        assert_eq!(map.len(), u64::from(keys));
        assert_eq!(map.weight(), u64::from(keys) * 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pinned_entry_outlives_the_budget_and_the_ttl_until_unpinned() {
        let map = ExpiringMap::new(100, Duration::from_millis(100), 1);
        assert_eq!(
            map.get_or_insert_pinned(map.key("running"), |v| Some(*v), || (7, 10)),
            None
        );
        // Ten times the budget of newer entries, and past the TTL.
        for i in 0..100 {
            insert(&map, &format!("k{i}"), i, 10);
        }
        tokio::time::advance(Duration::from_millis(150)).await;
        insert(&map, "later", 1, 10);
        assert!(map.weight() <= 100);
        assert_eq!(map.pinned(), 1);
        assert_eq!(insert(&map, "running", 0, 10), Some(7), "still there");
        // Unpinned: its TTL starts now, and the budget can take it.
        assert!(map.unpin(map.key("running"), |v| {
            *v = 8;
            Some(20)
        }));
        assert!(!map.unpin(map.key("running"), |_| Some(1)), "pinned once");
        assert_eq!(map.pinned(), 0);
        assert_eq!(insert(&map, "running", 0, 10), Some(8));
        tokio::time::advance(Duration::from_millis(150)).await;
        assert_eq!(insert(&map, "running", 9, 10), None, "expired after unpin");
    }

    #[test]
    fn unpin_touches_only_the_callers_pinned_entry() {
        let map = ExpiringMap::new(1000, Duration::from_secs(60), 1);
        map.get_or_insert_pinned(map.key("a"), |_| None::<u32>, || (1, 10));
        assert!(!map.unpin(map.key("a"), |v| (*v == 2).then_some(10)));
        assert!(map.unpin(map.key("a"), |v| (*v == 1).then_some(10)));
        insert(&map, "b", 1, 10);
        assert!(!map.unpin(map.key("b"), |_| Some(1)), "b is not pinned");
    }

    #[test]
    fn a_panic_in_make_leaves_the_map_usable() {
        let map = ExpiringMap::new(1 << 20, Duration::from_secs(60), 1);
        insert(&map, "a", 1, 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map.get_or_insert(map.key("b"), |_| None::<u32>, || panic!("boom"))
        }));
        assert!(panicked.is_err());
        assert_eq!(insert(&map, "a", 0, 1), Some(1));
        assert_eq!(insert(&map, "b", 2, 1), None);
        assert_eq!(map.len(), 2);
    }
}

//! Benchmark (not a test) of the one-use set: memory per account at 10⁶ accounts and
//! check-and-insert throughput, each against a naive peer measured in the same run: a
//! `Mutex<HashSet<String>>` of the raw `env:client_id:user_id` strings (what research/paypal.md
//! suggests storing, and what we deliberately do not keep).
//!
//! Run: `cargo bench --bench one_use_set`

use paypal_auth_evidence::binding::Environment;
use paypal_auth_vm::accounts::OneUseSet;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const N: usize = 1_000_000;

fn user_id(i: usize) -> String {
    format!("https://www.paypal.com/webapps/auth/identity/user/{i:043}")
}

fn main() {
    let ids: Vec<String> = (0..N).map(user_id).collect();

    // Ours.
    let before = LIVE.load(Ordering::Relaxed);
    let set = OneUseSet::with_key([7; 32], N);
    let start = Instant::now();
    for id in &ids {
        let key = set.account_key(Environment::Live, "client", id);
        if let Ok(r) = set.reserve(key) {
            r.commit();
        }
    }
    let ours_secs = start.elapsed().as_secs_f64();
    let ours_bytes = LIVE.load(Ordering::Relaxed) - before;

    // Peer: raw strings.
    let before = LIVE.load(Ordering::Relaxed);
    let peer: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let start = Instant::now();
    for id in &ids {
        let key = format!("live:client:{id}");
        let mut guard = peer.lock().unwrap();
        if !guard.contains(&key) {
            guard.insert(key);
        }
    }
    let peer_secs = start.elapsed().as_secs_f64();
    let peer_bytes = LIVE.load(Ordering::Relaxed) - before;

    // Repeated accounts (the refusal path).
    let start = Instant::now();
    let mut refused = 0;
    for id in ids.iter().take(200_000) {
        if set.reserve(set.account_key(Environment::Live, "client", id)).is_err() {
            refused += 1;
        }
    }
    let refuse_rate = 200_000.0 / start.elapsed().as_secs_f64();
    assert_eq!(refused, 200_000);

    println!("one-use set, {N} accounts (single thread):");
    println!("  ours (HMAC-SHA256 -> 16-byte key in a HashSet): {:.1} bytes/account, {:.0} check-and-insert/s", ours_bytes as f64 / N as f64, N as f64 / ours_secs);
    println!("  peer (raw env:client:user_id strings):         {:.1} bytes/account, {:.0} check-and-insert/s", peer_bytes as f64 / N as f64, N as f64 / peer_secs);
    println!("  ratio ours/peer: memory {:.2}x, throughput {:.2}x", ours_bytes as f64 / peer_bytes as f64, peer_secs / ours_secs);
    println!("  refusals of already-used accounts: {refuse_rate:.0}/s");
}

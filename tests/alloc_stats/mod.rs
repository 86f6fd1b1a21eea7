//! A counting global allocator for the tests that check what hostile input
//! makes a process allocate: the bytes each thread allocates
//! ([`allocated_by`]) and the largest single allocation of the whole
//! process ([`largest`], which sees threads a test does not control).
//! Include it with `mod alloc_stats;`: it installs itself as the test
//! binary's global allocator.
#![allow(
    dead_code,
    reason = "each integration test binary includes this module and uses a different part of it"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts and forwards to the system allocator.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn count(size: usize) {
    let _ = ALLOCATED.try_with(|a| a.set(a.get() + size));
    LARGEST.fetch_max(size, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator; the counters are a
// const-initialised thread-local `Cell` and an atomic, neither allocates.
#[allow(
    unsafe_code,
    reason = "a global allocator implements the unsafe GlobalAlloc trait; this one only counts and forwards to System"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated by this thread while running `f`.
pub fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

/// The largest single allocation (or reallocation) of the process so far.
pub fn largest() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

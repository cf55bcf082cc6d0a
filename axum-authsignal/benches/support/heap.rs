//! A global allocator that counts what is allocated now, for the benches that measure
//! memory (`store_memory`, `soak`): bytes *requested*, so a steady count means no heap
//! growth, whatever the allocator's own caches and fragmentation do to the RSS.
//!
//! A bench includes it with `#[path]` and installs it:
//! `#[global_allocator] static ALLOCATOR: Counting = Counting;`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts the bytes and blocks currently allocated; the work is [`System`]'s.
pub struct Counting;

pub static BYTES: AtomicIsize = AtomicIsize::new(0);
pub static BLOCKS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters are plain atomics and never touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed through to `System`.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`: `ptr` and `layout` come from a matching allocation.
        unsafe { System.dealloc(ptr, layout) };
        BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

/// The bytes and blocks allocated now.
pub fn allocated() -> (isize, isize) {
    (BYTES.load(Ordering::SeqCst), BLOCKS.load(Ordering::SeqCst))
}

//! `AudioSender::push*` must never allocate: a counting global allocator watches the calling
//! thread while it pushes (the worker thread allocates freely and is not counted).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use fsdd_core::{Engine, EngineConfig, Model};

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // try_with: thread-locals may be gone while a thread is torn down.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_allocation();
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(|a| a.get())
}

#[test]
fn pushing_audio_never_allocates_even_when_the_ring_overflows() {
    // Any contract-shaped model will do: this is about the audio side only.
    let model = Arc::new(Model::from_bytes(&common::linear_model("N", 64, 10, 8, 3)).unwrap());
    let (engine, mut sender, mut detections) =
        Engine::start(model, EngineConfig { ring_seconds: 0.05, ..EngineConfig::new(48_000) }).unwrap();
    let mut rng = common::Rng::new(5);
    let block: Vec<f32> = common::noise(512, 0.1, &mut rng);
    let mut nasty = block.clone();
    nasty[3] = f32::NAN;
    nasty[4] = f32::INFINITY;
    nasty[5] = 1e-40; // subnormal
    let stereo_planar = [block.clone(), nasty.clone()];
    let interleaved: Vec<f32> = block.iter().zip(&nasty).flat_map(|(a, b)| [*a, *b]).collect();

    let mut accepted = 0;
    let allocations = allocations_during(|| {
        // 200 blocks of 512 at 48 kHz = 2.1 s into a 50 ms ring: most of it overflows.
        for i in 0..200 {
            accepted += match i % 3 {
                0 => sender.push(&nasty),
                1 => sender.push_planar(&stereo_planar),
                _ => sender.push_interleaved(&interleaved, 2),
            };
            let _ = detections.pop();
        }
    });
    assert_eq!(allocations, 0, "push allocated {allocations} times");
    assert!(sender.dropped() > 0, "the small ring should have overflowed");
    assert_eq!(accepted as u64 + sender.dropped(), 200 * 512);
    assert!(engine.wait_until_drained(Duration::from_secs(10)));
    assert_eq!(engine.live().dropped, sender.dropped());
}

//! CPU use of the UI thread (drawing + event handling) and of the whole process, for the header
//! and for measuring what redrawing costs.

use std::time::Instant;

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on every Linux.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    if rc == 0 { ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9 } else { 0.0 }
}

/// CPU time of the calling thread, seconds.
pub fn thread_cpu_s() -> f64 {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process, seconds.
pub fn process_cpu_s() -> f64 {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Percent of one core used since the previous sample.
pub struct CpuMeter {
    wall: Instant,
    thread: f64,
    process: f64,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuMeter {
    /// Create it on the thread whose use it should measure.
    pub fn new() -> Self {
        Self { wall: Instant::now(), thread: thread_cpu_s(), process: process_cpu_s() }
    }

    /// (this thread %, whole process %) since the last call.
    pub fn sample(&mut self) -> (f32, f32) {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let (thread, process) = (thread_cpu_s(), process_cpu_s());
        let out = (((thread - self.thread) / wall * 100.0) as f32, ((process - self.process) / wall * 100.0) as f32);
        *self = Self { wall: Instant::now(), thread, process };
        out
    }
}

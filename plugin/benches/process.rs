//! What the plugin costs a host, measured on the built plugin hosted over CLAP (the same
//! minimal clack-host as the tests), 48 kHz stereo, FSDD speech with pauses as input:
//!
//! - `process_48k_stereo/{64,512}`: one `process()` call (real-time mode) per iteration; the
//!   time includes the host-side buffer/event wrapping of the test host. Audio-thread budget:
//!   < 0.5% of a core = < 6.7 us per 64-frame block, < 53 us per 512-frame block.
//! - `worker_cpu_per_audio_second_48k`: CPU time the recogniser's worker thread
//!   (`fsdd-recognizer`, read from /proc/self/task/*/schedstat) spends per second of input.
//!   The "time" criterion reports IS the CPU share: 30 ms per second = 3% of a core (budget).
//!
//! `cargo bench -p fsdd-plugin` builds the plugin library with the bench's own profile first.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const RATE: u32 = 48_000;

fn speech_stream() -> TestStream {
    // 30 test utterances with pauses: about 35 s of audio, looped.
    build_stream(&test_utterances(10), RATE, Layout::Stereo, 1)
}

/// Copies consecutive blocks of a looping stream into the host's input buffers.
struct Feeder<'a> {
    stream: &'a TestStream,
    offset: usize,
}

impl Feeder<'_> {
    fn fill(&mut self, input: &mut [Vec<f32>], frames: usize) {
        let len = self.stream.channels[0].len();
        if self.offset + frames > len {
            self.offset = 0;
        }
        for (c, buf) in input.iter_mut().enumerate() {
            buf[..frames].copy_from_slice(&self.stream.channels[c][self.offset..self.offset + frames]);
        }
        self.offset += frames;
    }
}

fn process_cost(c: &mut Criterion) {
    let stream = speech_stream();
    let mut group = c.benchmark_group("process_48k_stereo");
    group.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for block in [64usize, 512] {
        group.throughput(Throughput::Elements(block as u64));
        group.bench_function(BenchmarkId::from_parameter(block), |b| {
            let config =
                HostConfig { sample_rate: RATE as f64, layout: Layout::Stereo, max_block: 512, offline: false };
            let mut plugin = HostedPlugin::new(config, None);
            let mut feeder = Feeder { stream: &stream, offset: 0 };
            let mut input = vec![vec![0.0f32; 512]; 2];
            let mut output = input.clone();
            let mut midi = Vec::with_capacity(1024);
            // The benchmark calls process() far faster than real time. Before the worker's
            // 4 s ring could fill (a full ring makes process() cheaper: samples are dropped,
            // not copied), the engine is restarted outside the timed region.
            let mut fed_since_restart = 0usize;
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    if fed_since_restart + block > 3 * RATE as usize {
                        plugin.deactivate();
                        plugin.activate();
                        fed_since_restart = 0;
                    }
                    feeder.fill(&mut input, block);
                    let start = Instant::now();
                    plugin.process(&mut input, &mut output, block, &mut midi);
                    timed += start.elapsed();
                    fed_since_restart += block;
                    midi.clear();
                }
                timed
            });
        });
    }
    group.finish();
}

/// Total CPU time (ns) of this process's threads named `name` (Linux: /proc schedstat).
#[cfg(target_os = "linux")]
fn threads_cpu_ns(name: &str, only: Option<&[u32]>) -> (u64, Vec<u32>) {
    let mut total = 0;
    let mut tids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task").flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else {
            continue;
        };
        if only.is_some_and(|only| !only.contains(&tid)) {
            continue;
        }
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += schedstat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        tids.push(tid);
    }
    (total, tids)
}

#[cfg(target_os = "linux")]
fn worker_cpu_share(c: &mut Criterion) {
    let stream = speech_stream();
    let mut group = c.benchmark_group("worker_cpu_per_audio_second_48k");
    group.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_millis(500));
    group.bench_function("speech_with_pauses", |b| {
        // Offline mode: process() waits until the worker has analysed each block, so all the
        // work for one second of audio happens inside the measured window.
        let (_, before) = threads_cpu_ns("fsdd-recognizer", None);
        let config = HostConfig { sample_rate: RATE as f64, layout: Layout::Stereo, max_block: 512, offline: true };
        let mut plugin = HostedPlugin::new(config, None);
        // The worker names itself once it runs: give it a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        let ours: Vec<u32> = loop {
            let (_, after) = threads_cpu_ns("fsdd-recognizer", None);
            let new: Vec<u32> = after.into_iter().filter(|t| !before.contains(t)).collect();
            if !new.is_empty() || Instant::now() > deadline {
                break new;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(ours.len(), 1, "expected one new recognizer thread");
        let mut feeder = Feeder { stream: &stream, offset: 0 };
        let mut input = vec![vec![0.0f32; 512]; 2];
        let mut output = input.clone();
        let mut midi = Vec::with_capacity(1024);
        b.iter_custom(|iters| {
            let mut cpu = Duration::ZERO;
            for _ in 0..iters {
                let (start, _) = threads_cpu_ns("fsdd-recognizer", Some(&ours));
                for _ in 0..RATE as usize / 500 {
                    feeder.fill(&mut input, 500);
                    plugin.process(&mut input, &mut output, 500, &mut midi);
                }
                let (end, _) = threads_cpu_ns("fsdd-recognizer", Some(&ours));
                cpu += Duration::from_nanos(end - start);
                midi.clear();
            }
            cpu
        });
    });
    group.finish();
}

#[cfg(not(target_os = "linux"))]
fn worker_cpu_share(_: &mut Criterion) {
    eprintln!("worker_cpu_per_audio_second_48k: needs Linux /proc schedstat; not measured here");
}

criterion_group!(benches, process_cost, worker_cpu_share);
criterion_main!(benches);

//! Offline renders are repeatable, real-time processing finds the same digits (only later),
//! hostile input (NaN, Inf, denormals) never reaches the output, and the allocation gate that
//! every hosted test runs under is really compiled into the plugin.

mod common;

use common::*;

fn note_ons(midi: &[MidiAt]) -> Vec<(u64, u8)> {
    midi.iter()
        .filter_map(|m| match m.kind {
            MidiKind::NoteOn { key, .. } => Some((m.position, key)),
            _ => None,
        })
        .collect()
}

#[test]
fn offline_renders_give_the_same_midi_every_time() {
    let utterances = test_utterances(5);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 61);
    let config = HostConfig { sample_rate: 48_000.0, layout: Layout::Stereo, max_block: 4096, offline: true };
    let first = render(&mut HostedPlugin::new(config, None), &stream, 62, Pace::Unpaced);
    let second = render(&mut HostedPlugin::new(config, None), &stream, 62, Pace::Unpaced);
    assert!(!first.midi.is_empty());
    assert_eq!(first.midi, second.midi, "two renders of the same project differ");

    // With other host block sizes the digits are the same. The times may move a little: the
    // worker resamples in chunks (100 ms), so a decision can only be known (and played, at zero
    // latency) in the first block after its chunk is complete.
    let other_blocks = render(&mut HostedPlugin::new(config, None), &stream, 63, Pace::Unpaced);
    let (a, b) = (note_ons(&first.midi), note_ons(&other_blocks.midi));
    let keys = |v: &[(u64, u8)]| v.iter().map(|&(_, k)| k).collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b));
    let max_shift = a.iter().zip(&b).map(|(x, y)| x.0.abs_diff(y.0)).max().unwrap_or(0);
    assert!(max_shift <= 12_000, "notes moved by {max_shift} samples with other block sizes");
    eprintln!(
        "offline: {} notes, identical over 2 renders; other block sizes move them by <= {max_shift} samples ({} / {} / {} blocks)",
        a.len(),
        first.blocks,
        second.blocks,
        other_blocks.blocks
    );
}

#[test]
fn real_time_processing_finds_the_offline_digits_a_little_later() {
    let utterances = test_utterances(8);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 71);
    let offline = HostConfig { sample_rate: 48_000.0, layout: Layout::Stereo, max_block: 4096, offline: true };
    let reference = render(&mut HostedPlugin::new(offline, None), &stream, 72, Pace::Unpaced);

    // A live host: process() returns at once; the worker catches up between calls. Paced at
    // 6x real time so the test is quick yet the worker's ring never overflows.
    let realtime = HostConfig { offline: false, ..offline };
    let mut plugin = HostedPlugin::new(realtime, None);
    let live = render(&mut plugin, &stream, 73, Pace::RealTime { speed: 6.0 });
    live.assert_clean_passthrough();
    assert_timings_inside_blocks(&live.midi);
    assert_notes_paired(&live.midi);

    let expected = note_ons(&reference.midi);
    let got = note_ons(&live.midi);
    let keys = |v: &[(u64, u8)]| v.iter().map(|&(_, k)| k).collect::<Vec<_>>();
    assert_eq!(keys(&got), keys(&expected), "real-time digits differ from the offline render");
    let mut worst_delay = 0;
    for (&(live_pos, _), &(offline_pos, _)) in got.iter().zip(&expected) {
        assert!(live_pos >= offline_pos, "a live note came before its decision sample");
        worst_delay = worst_delay.max(live_pos - offline_pos);
    }
    // One block (<= 4096), the rest of the worker's resampler chunk (100 ms) and its reaction
    // time (at 6x real time, 0.3 s of audio pass in 50 ms of wall time).
    assert!(worst_delay < 14_400, "live notes up to {worst_delay} samples late");
    eprintln!("real time: {} notes, same digits as offline, at most {worst_delay} samples later", got.len());
}

#[test]
fn nan_inf_and_denormal_input_never_reach_the_output_and_recognition_carries_on() {
    let utterances = test_utterances(10);
    let clean = build_stream(&utterances, 44_100, Layout::Mono, 81);
    let mut hostile = TestStream {
        sample_rate: clean.sample_rate,
        channels: clean.channels.clone(),
        placements: clean.placements.clone(),
    };
    let samples = &mut hostile.channels[0];
    let mut rng = Rng::new(82);
    // Runs in the gaps: a NaN burst, an Inf burst, a long denormal stretch.
    for (i, p) in clean.placements.iter().enumerate() {
        let gap = p.speech_end as usize..p.window_end as usize;
        let run = gap.start + 2_000..gap.start + 6_000;
        match i % 3 {
            0 => samples[run].fill(f32::NAN),
            1 => samples[run]
                .iter_mut()
                .enumerate()
                .for_each(|(n, x)| *x = if n % 2 == 0 { f32::INFINITY } else { f32::NEG_INFINITY }),
            _ => samples[run].iter_mut().for_each(|x| *x = 1.0e-40 * (rng.unit() as f32 - 0.5)),
        }
    }
    // Single bad samples everywhere, speech included.
    for _ in 0..2_000 {
        let n = rng.range(0, samples.len() as u64 - 1) as usize;
        samples[n] = match rng.range(0, 3) {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => -f32::INFINITY,
            _ => f32::MIN_POSITIVE / 3.0,
        };
    }

    let config = HostConfig { sample_rate: 44_100.0, layout: Layout::Mono, max_block: 4096, offline: true };
    let reference = render(&mut HostedPlugin::new(config, None), &clean, 83, Pace::Unpaced);
    let mut plugin = HostedPlugin::new(config, None);
    let rendered = render(&mut plugin, &hostile, 83, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert_timings_inside_blocks(&rendered.midi);
    assert_notes_paired(&rendered.midi);

    // The recognizer saw zeros where the bad samples were: the same digits as the clean
    // input, give or take a borderline utterance hit by a dropped sample.
    let clean_score = score_notes(&reference.midi, &clean.placements, DEFAULT_BASE_NOTE);
    let hostile_score = score_notes(&rendered.midi, &hostile.placements, DEFAULT_BASE_NOTE);
    eprintln!(
        "clean {}/{} right, hostile {}/{} right",
        clean_score.correct, clean_score.total, hostile_score.correct, hostile_score.total
    );
    assert!(hostile_score.correct + 2 >= clean_score.correct, "hostile input broke recognition");
    assert!(hostile_score.missing.len() <= clean_score.missing.len() + 2);
}

#[test]
fn the_tested_plugin_build_aborts_on_audio_thread_allocations() {
    // Every hosted test in this package loads this library; its process() runs inside
    // nice-plug's assert_no_alloc scope when built with debug assertions (the dev profile)
    // and the `assert_process_allocs` feature. The gate's abort message is compiled in only
    // then, so its presence proves the tests ran under the gate.
    let library = std::fs::read(plugin_library()).expect("reading the plugin library");
    let needle = b"Memory allocation of ";
    assert!(
        library.windows(needle.len()).any(|w| w == needle),
        "the plugin under test was built without the assert_process_allocs gate"
    );
}

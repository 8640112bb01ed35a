//! Plugin state (parameters + the enrolled voice) through the CLAP state extension, the MIDI
//! mapping parameters, garbage state, and projects of the earlier version (whose enrolled voice
//! was format-1 prototypes, which cannot be used: the window says so and the base model runs).

mod common;

use std::sync::Arc;

use common::headless::*;
use common::*;
use fsdd_core::{Model, PrototypeSet, Voice};
use fsdd_plugin::editor::{EditorInput, StatusView};
use fsdd_plugin::live_status::LiveStatus;
use fsdd_plugin::params::{FsddParams, ModeChoice};
use fsdd_plugin::voice_store::{OLD_PROJECT_MESSAGE, VoiceOrigin};
use serde_json::json;

/// A voice of real recordings: yweweler's takes 5-6 of every digit.
fn sample_voice() -> Voice {
    speaker_voice("yweweler", 5..7)
}

fn with_voice(state: serde_json::Value, voice: &Voice) -> serde_json::Value {
    with_field(state, "voice", &voice.to_json())
}

/// NoteOns (position, key, velocity) of a render: what a voice changes.
fn note_ons(midi: &[MidiAt]) -> Vec<(u64, u8, f64)> {
    midi.iter()
        .filter_map(|m| match m.kind {
            MidiKind::NoteOn { key, velocity, .. } => Some((m.position, key, velocity)),
            _ => None,
        })
        .collect()
}

/// Renders `stream` through a fresh hosted instance restored from `state`.
fn render_state(state: &[u8], stream: &TestStream, seed: u64) -> Vec<MidiAt> {
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), Some(state));
    let rendered = render(&mut plugin, stream, seed, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert_notes_paired(&rendered.midi);
    rendered.midi
}

#[test]
fn parameters_and_the_voice_survive_a_save_and_restore() {
    let voice = sample_voice();
    let wanted = [
        ("base_note", json!({"i32": 48})),
        ("channel", json!({"i32": 5})),
        ("output", json!({"string": "both"})),
        ("cc_num", json!({"i32": 21})),
        ("cc_value", json!({"string": "scaled"})),
        // The options' stable ids: projects of the earlier version name these three.
        ("mode", json!({"string": "hybrid"})),
        ("threshold", json!({"f32": 0.95})),
        ("note_ms", json!({"f32": 120.0})),
        ("gain_db", json!({"f32": -6.0})),
    ];
    let state = with_voice(state_json(&state_with(&wanted)), &voice);

    let mut first = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&state)));
    let saved = state_json(&first.save_state());
    for (id, value) in &wanted {
        assert_eq!(&saved["params"][*id], value, "parameter {id} after restore");
    }
    assert_eq!(stored_voice(&saved).as_ref(), Some(&voice));
    assert_eq!(stored_field(&saved, "voice").unwrap(), voice.to_json(), "byte for byte");

    // A second instance restored from the first one's save is indistinguishable.
    let mut second = HostedPlugin::new(HostConfig::offline_48k(), Some(&first.save_state()));
    assert_eq!(state_json(&second.save_state()), saved);

    // States store a mode option by its id: the earlier version's three keep theirs (and
    // their index, which CLAP automation records); Your voice is new, and the default.
    use nice_plug::prelude::Enum;
    assert_eq!(ModeChoice::ids(), Some(&["base", "proto", "hybrid", "voice"][..]));
    for (index, choice) in
        [ModeChoice::Base, ModeChoice::Proto, ModeChoice::Hybrid, ModeChoice::Voice].into_iter().enumerate()
    {
        assert_eq!(ModeChoice::from_index(index), choice);
    }
    assert_eq!(FsddParams::default().mode.value(), ModeChoice::Voice);
    assert_eq!(state_json(&state_with(&[]))["params"]["mode"], json!({"string": "voice"}));
}

/// Test (a): a project's voice is what the recogniser uses once the project is loaded. The same
/// words through instances restored from the same state, in Your voice and in Base model mode,
/// give different MIDI (the voice re-scores every word); without a voice, Your voice mode is
/// the base model, note for note.
#[test]
fn a_restored_voice_is_what_the_recogniser_uses() {
    let voice = speaker_voice("theo", 5..8);
    // theo's takes 0-1 (the test split): the voice's speaker.
    let stream = build_stream(&speaker_utterances("theo", 0..2), 48_000, Layout::Stereo, 81);
    let base_state = state_json(&state_with(&[("mode", json!({"string": "base"}))]));
    let voice_state = state_json(&state_with(&[("mode", json!({"string": "voice"}))]));

    let with_voice_midi = render_state(&state_bytes(&with_voice(voice_state.clone(), &voice)), &stream, 82);
    let base_midi = render_state(&state_bytes(&with_voice(base_state.clone(), &voice)), &stream, 82);
    let (voiced, base) = (note_ons(&with_voice_midi), note_ons(&base_midi));
    assert!(voiced.len() >= stream.placements.len() * 3 / 4, "{} notes", voiced.len());
    assert_ne!(voiced, base, "the restored voice changes what the recogniser decides");
    let voiced_score = score_notes(&with_voice_midi, &stream.placements, DEFAULT_BASE_NOTE);
    let base_score = score_notes(&base_midi, &stream.placements, DEFAULT_BASE_NOTE);
    eprintln!(
        "theo's test takes: base model {}/{}, with his voice {}/{}",
        base_score.correct, base_score.total, voiced_score.correct, voiced_score.total
    );
    assert!(voiced_score.correct >= base_score.correct, "his own voice must not cost accuracy");

    let no_voice = render_state(&state_bytes(&voice_state), &stream, 82);
    let no_voice_base = render_state(&state_bytes(&base_state), &stream, 82);
    assert_eq!(no_voice, no_voice_base, "without a voice, Your voice mode is the base model");

    // What a host's state load does in the plugin: the voice is prepared for the model and
    // handed to the engine.
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let params = FsddParams::default();
    params.voice.set_model(model);
    restore_fields(&params, &with_voice(voice_state, &voice));
    assert_eq!(params.voice.current(), voice);
    assert_eq!(params.voice.matcher().expect("a matcher for the restored voice").counts(), [3; 10]);
    assert_eq!(params.voice_status().origin, VoiceOrigin::Project);
}

/// An earlier version's prototypes, as its state stored them: the model's embeddings of real
/// recordings (jackson's takes 5-7) averaged per digit, in the format-1 JSON.
fn old_prototypes_json() -> String {
    let model = Model::embedded().expect("embedded model");
    let mut mfcc = fsdd_core::signal::mfcc::MfccExtractor::new();
    let mut set = PrototypeSet::new(model.embedding_dim()).with_model_fingerprint(model.fingerprint());
    for utt in speaker_utterances("jackson", 5..8) {
        let window = mfcc.compute(&utt.samples_8k);
        set.add_example(utt.digit, &model.infer(&window[..]).expect("inference").embedding).unwrap();
    }
    set.to_json()
}

/// A state as the earlier version saved it: no `voice` and no `voice_path`, its voice in
/// `prototypes` (format 1) and a `prototype_path`, in Hybrid mode.
fn earlier_versions_state(old_json: &str) -> serde_json::Value {
    let mut state = state_json(&state_with(&[("mode", json!({"string": "hybrid"}))]));
    let fields = state["fields"].as_object_mut().unwrap();
    fields.remove("voice");
    fields.remove("voice_path");
    let state = with_field(state, "prototypes", old_json);
    with_field(state, "prototype_path", "/home/someone/.config/fsdd/prototypes.json")
}

/// Test (b): a project of the earlier version loads without a crash; its prototypes are not
/// read as a voice (the plugin renders exactly what the base model renders), the window says to
/// enroll again, and the old prototypes stay in the project as they were.
#[test]
fn an_earlier_versions_project_gets_the_message_and_runs_on_the_base_model() {
    let old_json = old_prototypes_json();
    let old = earlier_versions_state(&old_json);
    let stream = build_stream(&test_utterances(25), 48_000, Layout::Stereo, 91);
    let base = render_state(&state_with(&[("mode", json!({"string": "base"}))]), &stream, 92);
    assert!(note_ons(&base).len() >= stream.placements.len() * 3 / 4);

    // A fresh instance restored from it.
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&old)));
    let saved = state_json(&plugin.save_state());
    assert_eq!(stored_voice(&saved), None, "no voice of this version");
    assert_eq!(stored_field(&saved, "voice_path").as_deref(), Some(""));
    assert_eq!(stored_field(&saved, "prototypes").as_deref(), Some(old_json.as_str()), "kept as it was");
    assert_eq!(saved["params"]["mode"], json!({"string": "hybrid"}));
    let rendered = render(&mut plugin, &stream, 92, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert_eq!(rendered.midi, base, "the base model's MIDI, note for note");

    // Loaded into an instance that holds a voice (a preset load): that voice goes too.
    let voiced = with_voice(state_json(&state_with(&[])), &sample_voice());
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&voiced)));
    plugin.load_state(&state_bytes(&old)).expect("the earlier version's state loads");
    plugin.deactivate();
    plugin.activate();
    assert_eq!(stored_voice(&state_json(&plugin.save_state())), None);
    let rendered = render(&mut plugin, &stream, 92, Pace::Unpaced);
    assert_eq!(rendered.midi, base);

    // In the plugin: no voice, no matcher, and the window says why.
    let model = Arc::new(Model::embedded().expect("embedded model"));
    let params = FsddParams::default();
    params.voice.set_model(model);
    params.voice.replace(sample_voice());
    restore_fields(&params, &old);
    assert!(params.voice.is_empty());
    assert!(params.voice.matcher().is_none(), "the engine gets no voice: the base model");
    let status = params.voice_status();
    assert_eq!(status.old_project.as_deref(), Some(OLD_PROJECT_MESSAGE));
    let mut editor = HeadlessEditor::new();
    let mut input = EditorInput::default();
    let view = StatusView::gather(&params, &LiveStatus::default());
    let texts = editor.texts(&view, &mut input);
    editor.assert_fits(&view, &mut input);
    assert!(texts.iter().any(|t| t == OLD_PROJECT_MESSAGE), "{texts:?}");
    assert!(OLD_PROJECT_MESSAGE.contains("earlier version") && OLD_PROJECT_MESSAGE.contains("enroll again"));
    assert!(contains(&texts, "Enrolled voice: none (base model only)"));

    // Once a voice of this version is there, the message goes (the old key still travels).
    params.store_enrolled(speaker_voice("jackson", 5..6)).expect("a voice of real takes");
    assert_eq!(params.voice_status().old_project, None);
    let texts = editor.texts(&StatusView::gather(&params, &LiveStatus::default()), &mut input);
    assert!(!texts.iter().any(|t| t == OLD_PROJECT_MESSAGE), "{texts:?}");
    let fields = nice_plug::prelude::Params::serialize_fields(&params);
    let kept: String = serde_json::from_str(&fields["prototypes"]).unwrap();
    assert_eq!(kept, old_json);
}

#[test]
fn midi_mapping_parameters_shape_the_output() {
    let state = state_with(&[
        ("base_note", json!({"i32": 36})),
        ("channel", json!({"i32": 10})),
        ("output", json!({"string": "both"})),
        ("cc_num", json!({"i32": 21})),
        ("cc_value", json!({"string": "scaled"})),
        ("note_ms", json!({"f32": 100.0})),
    ]);
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), Some(&state));
    let utterances = test_utterances(15);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 11);
    let rendered = render(&mut plugin, &stream, 12, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    assert_notes_paired(&rendered.midi);
    assert_timings_inside_blocks(&rendered.midi);

    let mut notes = 0;
    for (i, m) in rendered.midi.iter().enumerate() {
        match m.kind {
            MidiKind::NoteOn { key, channel, .. } => {
                notes += 1;
                assert!((36..=45).contains(&key), "key {key} outside base 36 + 0..=9");
                assert_eq!(channel, 9, "MIDI channel 10 is channel index 9");
                // The CC for the same digit comes right before its note, at the same time.
                let cc = rendered.midi[..i].iter().rev().find(|e| matches!(e.kind, MidiKind::Cc { .. }));
                let cc = cc.expect("a CC before every note");
                assert_eq!(cc.position, m.position);
                let digit = key - 36;
                let scaled = (digit as f32 * 127.0 / 9.0).round() as u8;
                assert_eq!(cc.kind, MidiKind::Cc { channel: 9, cc: 21, value: scaled });
            }
            MidiKind::NoteOff { channel, .. } => assert_eq!(channel, 9),
            MidiKind::Cc { .. } => {}
            MidiKind::OtherMidi(data) => panic!("unexpected MIDI {data:?}"),
        }
    }
    assert!(notes >= stream.placements.len() * 3 / 4, "only {notes} notes for {} utterances", stream.placements.len());
    // Note length 100 ms: every NoteOff 4800 samples after its NoteOn.
    for (i, m) in rendered.midi.iter().enumerate() {
        if let MidiKind::NoteOn { key, .. } = m.kind {
            let off = rendered.midi[i..]
                .iter()
                .find(|e| matches!(e.kind, MidiKind::NoteOff { key: k, .. } if k == key))
                .unwrap();
            assert_eq!(off.position - m.position, 4_800, "note length");
        }
    }
}

#[test]
fn cc_only_output_sends_the_digit_as_value() {
    let state = state_with(&[("output", json!({"string": "cc"})), ("cc_num", json!({"i32": 20}))]);
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), Some(&state));
    let utterances = test_utterances(20);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 21);
    let rendered = render(&mut plugin, &stream, 22, Pace::Unpaced);
    let ccs: Vec<(u64, u8)> = rendered
        .midi
        .iter()
        .map(|m| match m.kind {
            MidiKind::Cc { channel: 0, cc: 20, value } => (m.position, value),
            other => panic!("only CC 20 on channel 1 expected, got {other:?}"),
        })
        .collect();
    assert!(ccs.len() >= stream.placements.len() * 3 / 4);
    // Score the CC values like notes (value = digit).
    let as_notes: Vec<MidiAt> = ccs
        .iter()
        .map(|&(position, value)| MidiAt {
            position,
            timing: 0,
            block_len: 1,
            kind: MidiKind::NoteOn { key: value, channel: 0, velocity: 1.0 },
        })
        .collect();
    let score = score_notes(&as_notes, &stream.placements, 0);
    eprintln!("CC digits: {}/{} right", score.correct, score.total);
    assert!(score.accuracy() >= 0.75, "CC values are the digits");
}

#[test]
fn automation_of_the_base_note_takes_effect_on_the_next_block() {
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), None);
    let utterances = test_utterances(30);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 31);
    // nice-plug's CLAP value of an integer parameter is its step index: base note 24.
    plugin.queue_param("base_note", 24.0);
    let rendered = render(&mut plugin, &stream, 32, Pace::Unpaced);
    let keys: Vec<u8> = rendered
        .midi
        .iter()
        .filter_map(|m| match m.kind {
            MidiKind::NoteOn { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| (24..=33).contains(k)), "keys {keys:?} not from base note 24");
    assert_eq!(state_json(&plugin.save_state())["params"]["base_note"], json!({"i32": 24}));
}

#[test]
fn garbage_state_is_refused_and_the_plugin_keeps_working() {
    let voice = sample_voice();
    let good = with_voice(state_json(&state_with(&[("base_note", json!({"i32": 50}))])), &voice);
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&good)));
    let before = state_json(&plugin.save_state());

    // Not a state at all, a truncated one, a huge length prefix, and invalid JSON.
    assert!(plugin.load_state(b"").is_err());
    assert!(plugin.load_state(b"\x05\x00\x00").is_err());
    assert!(plugin.load_state(&[0xFF; 64]).is_err());
    let mut not_json = 9u64.to_le_bytes().to_vec();
    not_json.extend_from_slice(b"{not json");
    assert!(plugin.load_state(&not_json).is_err());
    assert_eq!(state_json(&plugin.save_state()), before, "refused states change nothing");

    // Valid JSON with a broken voice, garbage in the old prototypes key and unknown or
    // ill-typed entries: parameters that make sense are taken, the broken voice is ignored
    // (the enrolled voice stays), the garbage is dropped.
    let mut odd = before.clone();
    odd = with_field(odd, "voice", "{\"format\": \"fsdd-voice\", \"version\": 99, \"garbage\": true}");
    odd = with_field(odd, "prototypes", "{\"garbage\": true}");
    odd["params"]["base_note"] = json!({"i32": 40});
    odd["params"]["no_such_param"] = json!({"f32": 1.0});
    let _ = plugin.load_state(&state_bytes(&odd));
    let after = state_json(&plugin.save_state());
    assert_eq!(after["params"]["base_note"], json!({"i32": 40}));
    assert_eq!(stored_voice(&after).as_ref(), Some(&voice), "a broken voice must not replace a good one");
    assert_eq!(stored_field(&after, "prototypes").as_deref(), Some(""));

    let mut wrong_type = before.clone();
    wrong_type["fields"]["voice"] = json!(42);
    wrong_type["params"]["base_note"] = json!("sixty");
    let _ = plugin.load_state(&state_bytes(&wrong_type));
    assert_eq!(stored_voice(&state_json(&plugin.save_state())).as_ref(), Some(&voice));

    // Still recognising after all that.
    let utterances = test_utterances(30);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 41);
    let rendered = render(&mut plugin, &stream, 42, Pace::Unpaced);
    rendered.assert_clean_passthrough();
    let notes = assert_notes_paired(&rendered.midi);
    assert!(notes >= stream.placements.len() * 3 / 4, "{notes} notes");
}

#[test]
fn no_note_hangs_after_reset_or_reactivation() {
    let state = state_with(&[("note_ms", json!({"f32": 4000.0}))]);
    let mut plugin = HostedPlugin::new(HostConfig::offline_48k(), Some(&state));
    let utterances = test_utterances(100);
    let stream = build_stream(&utterances, 48_000, Layout::Stereo, 51);

    // Play until the first note starts (its 4 s NoteOff is far away), then reset.
    let feed_until_note = |plugin: &mut HostedPlugin| -> Vec<MidiAt> {
        let mut midi = Vec::new();
        let mut input = stream.channels.iter().map(|_| vec![0.0f32; 256]).collect::<Vec<_>>();
        let mut output = input.clone();
        let mut offset = 0;
        while !midi.iter().any(|m: &MidiAt| matches!(m.kind, MidiKind::NoteOn { .. })) {
            assert!(offset + 256 <= stream.channels[0].len(), "no note in the whole stream");
            for (c, buf) in input.iter_mut().enumerate() {
                buf.copy_from_slice(&stream.channels[c][offset..offset + 256]);
            }
            plugin.process(&mut input, &mut output, 256, &mut midi);
            offset += 256;
        }
        midi
    };
    let silent_block = |plugin: &mut HostedPlugin| -> Vec<MidiAt> {
        let mut midi = Vec::new();
        let mut input = stream.channels.iter().map(|_| vec![0.0f32; 64]).collect::<Vec<_>>();
        let mut output = input.clone();
        plugin.process(&mut input, &mut output, 64, &mut midi);
        midi
    };

    let mut midi = feed_until_note(&mut plugin);
    plugin.reset();
    let after_reset = silent_block(&mut plugin);
    assert!(
        after_reset.iter().any(|m| matches!(m.kind, MidiKind::NoteOff { .. }) && m.timing == 0),
        "reset must end the sounding note at the next block's start: {after_reset:?}"
    );
    midi.extend(after_reset);
    assert_notes_paired(&midi);

    let mut midi = feed_until_note(&mut plugin);
    plugin.deactivate();
    plugin.activate();
    let after_reactivation = silent_block(&mut plugin);
    assert!(
        after_reactivation.iter().any(|m| matches!(m.kind, MidiKind::NoteOff { .. }) && m.timing == 0),
        "reactivation must end the note left sounding: {after_reactivation:?}"
    );
    midi.extend(after_reactivation);
    assert_notes_paired(&midi);
}

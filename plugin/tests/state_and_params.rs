//! Plugin state (parameters + enrolled prototypes) through the CLAP state extension, the MIDI
//! mapping parameters, and garbage state.

mod common;

use common::*;
use fsdd_core::{Model, PrototypeSet};
use serde_json::json;

/// A prototype set with the embedded model's embedding size (values are arbitrary but valid).
fn sample_prototypes() -> PrototypeSet {
    let model = Model::embedded().expect("embedded model");
    let dim = model.embedding_dim();
    let mut set = PrototypeSet::new(dim).with_model_fingerprint(model.fingerprint());
    for digit in 0..10u8 {
        for example in 0..3 {
            let embedding: Vec<f32> =
                (0..dim).map(|i| ((i * 7 + digit as usize * 13 + example * 3) % 17) as f32 / 17.0 - 0.4).collect();
            set.add_example(digit, &embedding).unwrap();
        }
    }
    set
}

fn stored_prototypes(state: &serde_json::Value) -> Option<PrototypeSet> {
    let field = state["fields"]["prototypes"].as_str().expect("prototypes field is a JSON string");
    let json: String = serde_json::from_str(field).expect("field holds a JSON-encoded string");
    if json.is_empty() { None } else { Some(PrototypeSet::from_json(&json).expect("stored prototypes parse")) }
}

fn with_prototypes(mut state: serde_json::Value, set: &PrototypeSet) -> serde_json::Value {
    state["fields"]["prototypes"] = json!(serde_json::to_string(&set.to_json()).unwrap());
    state
}

#[test]
fn parameters_and_prototypes_survive_a_save_and_restore() {
    let prototypes = sample_prototypes();
    let wanted = [
        ("base_note", json!({"i32": 48})),
        ("channel", json!({"i32": 5})),
        ("output", json!({"string": "both"})),
        ("cc_num", json!({"i32": 21})),
        ("cc_value", json!({"string": "scaled"})),
        ("mode", json!({"string": "hybrid"})),
        ("threshold", json!({"f32": 0.95})),
        ("note_ms", json!({"f32": 120.0})),
        ("gain_db", json!({"f32": -6.0})),
    ];
    let state = with_prototypes(state_json(&state_with(&wanted)), &prototypes);

    let mut first = HostedPlugin::new(HostConfig::offline_48k(), Some(&state_bytes(&state)));
    let saved = state_json(&first.save_state());
    for (id, value) in &wanted {
        assert_eq!(&saved["params"][*id], value, "parameter {id} after restore");
    }
    assert_eq!(stored_prototypes(&saved).as_ref(), Some(&prototypes));

    // A second instance restored from the first one's save is indistinguishable.
    let mut second = HostedPlugin::new(HostConfig::offline_48k(), Some(&first.save_state()));
    assert_eq!(state_json(&second.save_state()), saved);
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
    let prototypes = sample_prototypes();
    let good = with_prototypes(state_json(&state_with(&[("base_note", json!({"i32": 50}))])), &prototypes);
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

    // Valid JSON with broken prototypes and unknown/ill-typed entries: parameters that make
    // sense are taken, the broken prototypes are ignored (the enrolled voice stays).
    let mut odd = before.clone();
    odd["fields"]["prototypes"] = json!(serde_json::to_string("{\"version\": 99, \"garbage\": true}").unwrap());
    odd["params"]["base_note"] = json!({"i32": 40});
    odd["params"]["no_such_param"] = json!({"f32": 1.0});
    let _ = plugin.load_state(&state_bytes(&odd));
    let after = state_json(&plugin.save_state());
    assert_eq!(after["params"]["base_note"], json!({"i32": 40}));
    assert_eq!(stored_prototypes(&after).as_ref(), Some(&prototypes), "broken prototypes must not replace good ones");

    let mut wrong_type = before.clone();
    wrong_type["fields"]["prototypes"] = json!(42);
    wrong_type["params"]["base_note"] = json!("sixty");
    let _ = plugin.load_state(&state_bytes(&wrong_type));
    assert_eq!(stored_prototypes(&state_json(&plugin.save_state())).as_ref(), Some(&prototypes));

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

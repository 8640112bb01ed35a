//! Turns recognised digits into MIDI events with sample positions inside the current block.
//!
//! Fixed-capacity storage only: this runs inside `process()`, where nothing may allocate.
//! Every NoteOn gets its NoteOff: after the note length, earlier when the same key is
//! retriggered or storage is full, and at the start of the next block after a reset.

/// Notes that can sound at the same time (a new note beyond this ends the oldest one).
pub const MAX_SOUNDING: usize = 16;
/// Events one block can carry; far more than digits can be spoken in one block.
pub const MAX_BLOCK_EVENTS: usize = 4 * MAX_SOUNDING;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MidiOut {
    NoteOn {
        key: u8,
        channel: u8,
        velocity: f32,
    },
    NoteOff {
        key: u8,
        channel: u8,
    },
    /// `value` is the raw 7-bit value.
    ControlChange {
        channel: u8,
        cc: u8,
        value: u8,
    },
}

impl MidiOut {
    /// At equal timing: NoteOffs first (a retriggered key ends before it starts again), then
    /// CCs (a MIDI-learned target is set before the note it belongs to), then NoteOns.
    fn order(&self) -> u8 {
        match self {
            MidiOut::NoteOff { .. } => 0,
            MidiOut::ControlChange { .. } => 1,
            MidiOut::NoteOn { .. } => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedMidi {
    /// Sample offset inside the block.
    pub timing: u32,
    pub event: MidiOut,
}

#[derive(Debug, Clone, Copy)]
struct Sounding {
    key: u8,
    channel: u8,
    /// Absolute stream position (samples) of the NoteOff.
    off_at: u64,
}

/// What a recognised digit should produce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigitOutput {
    pub note: Option<NoteSpec>,
    pub cc: Option<CcSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteSpec {
    pub key: u8,
    pub channel: u8,
    pub velocity: f32,
    pub length_samples: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CcSpec {
    pub channel: u8,
    pub cc: u8,
    pub value: u8,
}

/// Velocity (0..=1, as nice-plug expects) from the recogniser's confidence: a sure detection
/// plays loud, a borderline one soft, never silent.
pub fn velocity_from_confidence(confidence: f32) -> f32 {
    if confidence.is_finite() { confidence.clamp(1.0 / 127.0, 1.0) } else { 1.0 / 127.0 }
}

pub struct NoteScheduler {
    sounding: [Option<Sounding>; MAX_SOUNDING],
    events: [TimedMidi; MAX_BLOCK_EVENTS],
    event_count: usize,
    block_start: u64,
    block_len: u32,
    /// Set by `release_all_at_next_block` (reset, reactivation): every sounding note ends at
    /// sample 0 of the next block.
    release_pending: bool,
}

impl Default for NoteScheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl NoteScheduler {
    pub fn new() -> Self {
        Self {
            sounding: [None; MAX_SOUNDING],
            events: [TimedMidi { timing: 0, event: MidiOut::NoteOff { key: 0, channel: 0 } }; MAX_BLOCK_EVENTS],
            event_count: 0,
            block_start: 0,
            block_len: 0,
            release_pending: false,
        }
    }

    /// Number of notes currently sounding.
    pub fn sounding_count(&self) -> usize {
        self.sounding.iter().flatten().count()
    }

    /// Ends every sounding note at the start of the next block. Stream positions restart
    /// (the caller's sample counter may go back to 0), so pending NoteOff times are void.
    pub fn release_all_at_next_block(&mut self) {
        if self.sounding_count() > 0 {
            self.release_pending = true;
        }
    }

    /// Starts a block of `len` samples at absolute position `start`.
    pub fn begin_block(&mut self, start: u64, len: u32) {
        self.block_start = start;
        self.block_len = len;
        self.event_count = 0;
        if self.release_pending {
            self.release_pending = false;
            for slot in &mut self.sounding {
                if let Some(note) = slot.take() {
                    Self::push(
                        &mut self.events,
                        &mut self.event_count,
                        0,
                        MidiOut::NoteOff { key: note.key, channel: note.channel },
                    );
                }
            }
        }
    }

    /// Block offset for an absolute position (clamped into the block: a detection decided in an
    /// earlier block plays at the start of this one).
    pub fn timing_for(&self, position: u64) -> u32 {
        let offset = position.saturating_sub(self.block_start);
        offset.min(self.block_len.saturating_sub(1) as u64) as u32
    }

    /// Schedules the output of one digit at `timing` (inside the current block).
    pub fn digit(&mut self, timing: u32, output: DigitOutput) {
        let timing = timing.min(self.block_len.saturating_sub(1));
        if let Some(cc) = output.cc {
            Self::push(
                &mut self.events,
                &mut self.event_count,
                timing,
                MidiOut::ControlChange { channel: cc.channel, cc: cc.cc, value: cc.value.min(127) },
            );
        }
        if let Some(note) = output.note {
            self.note_on(timing, note);
        }
    }

    fn note_on(&mut self, timing: u32, note: NoteSpec) {
        // A retriggered key ends first, so the host never sees two overlapping NoteOns.
        let retriggered =
            self.sounding.iter().position(|s| matches!(s, Some(s) if s.key == note.key && s.channel == note.channel));
        let slot = retriggered.or_else(|| self.sounding.iter().position(Option::is_none)).unwrap_or_else(|| {
            // Full: end the note that would have ended first.
            (0..MAX_SOUNDING).min_by_key(|&i| self.sounding[i].map_or(0, |s| s.off_at)).unwrap_or(0)
        });
        if let Some(previous) = self.sounding[slot].take() {
            Self::push(
                &mut self.events,
                &mut self.event_count,
                timing,
                MidiOut::NoteOff { key: previous.key, channel: previous.channel },
            );
        }
        Self::push(
            &mut self.events,
            &mut self.event_count,
            timing,
            MidiOut::NoteOn { key: note.key, channel: note.channel, velocity: note.velocity },
        );
        self.sounding[slot] = Some(Sounding {
            key: note.key,
            channel: note.channel,
            off_at: self.block_start + timing as u64 + note.length_samples.max(1),
        });
    }

    /// Adds the NoteOffs due in this block and returns the block's events sorted by timing.
    pub fn finish_block(&mut self) -> &[TimedMidi] {
        let block_end = self.block_start + self.block_len as u64;
        for slot in &mut self.sounding {
            if let Some(note) = *slot
                && note.off_at < block_end
            {
                *slot = None;
                let timing = note.off_at.saturating_sub(self.block_start) as u32;
                Self::push(
                    &mut self.events,
                    &mut self.event_count,
                    timing,
                    MidiOut::NoteOff { key: note.key, channel: note.channel },
                );
            }
        }
        let events = &mut self.events[..self.event_count];
        // Insertion sort: stable, in place, no allocation, and the lists are tiny.
        for i in 1..events.len() {
            let mut j = i;
            while j > 0 && key(&events[j - 1]) > key(&events[j]) {
                events.swap(j - 1, j);
                j -= 1;
            }
        }
        events
    }

    fn push(events: &mut [TimedMidi], count: &mut usize, timing: u32, event: MidiOut) {
        // Cannot overflow in practice (MAX_BLOCK_EVENTS is 4x the sounding notes); if it ever
        // did, dropping a CC/NoteOn is better than an allocation on the audio thread. NoteOffs
        // are never dropped because they only come from sounding notes (<= MAX_SOUNDING).
        if *count < events.len() {
            events[*count] = TimedMidi { timing, event };
            *count += 1;
        }
    }
}

fn key(event: &TimedMidi) -> (u32, u8) {
    (event.timing, event.event.order())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(key: u8, length_samples: u64) -> DigitOutput {
        DigitOutput { note: Some(NoteSpec { key, channel: 0, velocity: 0.9, length_samples }), cc: None }
    }

    #[test]
    fn a_note_ends_after_its_length_even_across_blocks() {
        let mut s = NoteScheduler::new();
        s.begin_block(0, 100);
        s.digit(90, note(64, 30));
        assert_eq!(
            s.finish_block(),
            &[TimedMidi { timing: 90, event: MidiOut::NoteOn { key: 64, channel: 0, velocity: 0.9 } }]
        );
        s.begin_block(100, 100);
        assert_eq!(s.finish_block(), &[TimedMidi { timing: 20, event: MidiOut::NoteOff { key: 64, channel: 0 } }]);
        assert_eq!(s.sounding_count(), 0);
    }

    #[test]
    fn a_retriggered_key_is_ended_before_it_starts_again() {
        let mut s = NoteScheduler::new();
        s.begin_block(0, 64);
        s.digit(10, note(61, 1000));
        s.digit(20, note(61, 1000));
        let events = s.finish_block();
        assert_eq!(events.len(), 3);
        assert!(matches!(events[0].event, MidiOut::NoteOn { .. }) && events[0].timing == 10);
        assert!(matches!(events[1].event, MidiOut::NoteOff { .. }) && events[1].timing == 20);
        assert!(matches!(events[2].event, MidiOut::NoteOn { .. }) && events[2].timing == 20);
        assert_eq!(s.sounding_count(), 1);
    }

    #[test]
    fn events_come_out_sorted_and_cc_precedes_its_note() {
        let mut s = NoteScheduler::new();
        s.begin_block(0, 512);
        s.digit(300, note(60, 10));
        s.digit(
            100,
            DigitOutput {
                note: Some(NoteSpec { key: 62, channel: 3, velocity: 0.5, length_samples: 5 }),
                cc: Some(CcSpec { channel: 3, cc: 20, value: 2 }),
            },
        );
        let timings: Vec<(u32, u8)> = s.finish_block().iter().map(key).collect();
        assert_eq!(timings, vec![(100, 1), (100, 2), (105, 0), (300, 2), (310, 0)]);
    }

    #[test]
    fn reset_releases_every_sounding_note_at_the_next_block_start() {
        let mut s = NoteScheduler::new();
        s.begin_block(0, 32);
        s.digit(1, note(60, 48_000));
        s.digit(2, note(61, 48_000));
        s.finish_block();
        s.release_all_at_next_block();
        // Positions restart after a reactivation.
        s.begin_block(0, 16);
        let offs: Vec<_> = s.finish_block().to_vec();
        assert_eq!(offs.len(), 2);
        assert!(offs.iter().all(|e| e.timing == 0 && matches!(e.event, MidiOut::NoteOff { .. })));
        assert_eq!(s.sounding_count(), 0);
    }

    #[test]
    fn a_late_detection_plays_at_the_block_start_and_timing_stays_inside_the_block() {
        let mut s = NoteScheduler::new();
        s.begin_block(1000, 1);
        assert_eq!(s.timing_for(10), 0);
        assert_eq!(s.timing_for(5000), 0);
        s.begin_block(1000, 256);
        assert_eq!(s.timing_for(1100), 100);
        assert_eq!(s.timing_for(5000), 255);
    }

    #[test]
    fn more_notes_than_slots_end_the_oldest_instead_of_dropping_offs() {
        let mut s = NoteScheduler::new();
        s.begin_block(0, 4096);
        for i in 0..(MAX_SOUNDING as u8 + 4) {
            s.digit(i as u32, note(i, 100_000 + i as u64));
        }
        let events = s.finish_block().to_vec();
        let ons = events.iter().filter(|e| matches!(e.event, MidiOut::NoteOn { .. })).count();
        let offs = events.iter().filter(|e| matches!(e.event, MidiOut::NoteOff { .. })).count();
        assert_eq!(ons, MAX_SOUNDING + 4);
        assert_eq!(offs, 4);
        assert_eq!(s.sounding_count(), MAX_SOUNDING);
    }

    #[test]
    fn velocity_follows_confidence_but_is_never_zero() {
        assert_eq!(velocity_from_confidence(1.0), 1.0);
        assert_eq!(velocity_from_confidence(0.5), 0.5);
        assert!(velocity_from_confidence(0.0) > 0.0);
        assert!(velocity_from_confidence(f32::NAN) > 0.0);
    }
}

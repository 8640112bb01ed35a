//! The Free Spoken Digit Dataset on disk as a corpus: every recording of a directory, the
//! official split, the validation takes and leave-one-speaker-out folds, and the speaker groups
//! that split a multi-speaker corpus (Speech Commands) for cross-validation.
//!
//! LOSO folds train on the other speakers' takes 5-49 only and test on every take of the
//! held-out speaker. The file-name convention itself is the product's too and lives in
//! `fsdd_core::labels::file_names`; it is re-exported here so evaluation code has one import.

use std::path::{Path, PathBuf};

pub use fsdd_core::labels::file_names::{
    DEFAULT_FSDD_DIR, FSDD_DIR_ENV, LAST_TEST_TAKE, LAST_VALIDATION_TAKE, Split, Utterance, label_from_file_name,
    resolve_dir,
};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "FSDD recordings not found at {0}: get them with `git clone https://github.com/Jakobovski/free-spoken-digit-dataset` \
         and pass `--data <clone>/recordings` or set FSDD_DIR"
    )]
    Missing(PathBuf),
    #[error("{path}: cannot list directory: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: holds no FSDD recordings named {{digit}}_{{speaker}}_{{take}}.wav")]
    NoRecordings(PathBuf),
}

/// Every recording in a directory, sorted by (speaker, digit, take) so runs are reproducible.
#[derive(Debug, Clone)]
pub struct Fsdd {
    pub dir: PathBuf,
    pub utterances: Vec<Utterance>,
}

impl Fsdd {
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, DatasetError> {
        let dir = dir.as_ref().to_owned();
        if !dir.is_dir() {
            return Err(DatasetError::Missing(dir));
        }
        let entries = std::fs::read_dir(&dir).map_err(|source| DatasetError::Io { path: dir.clone(), source })?;
        let mut utterances = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| DatasetError::Io { path: dir.clone(), source })?;
            if let Some(u) = Utterance::from_path(&entry.path()) {
                utterances.push(u);
            }
        }
        if utterances.is_empty() {
            return Err(DatasetError::NoRecordings(dir));
        }
        utterances.sort_by(|a, b| (&a.speaker, a.digit, a.take).cmp(&(&b.speaker, b.digit, b.take)));
        Ok(Self { dir, utterances })
    }

    pub fn split(&self, split: Split) -> Vec<&Utterance> {
        self.utterances.iter().filter(|u| u.split() == split).collect()
    }

    /// The validation takes (5-9, see [`LAST_VALIDATION_TAKE`]) of every speaker and digit.
    pub fn validation_takes(&self) -> Vec<&Utterance> {
        self.utterances.iter().filter(|u| (LAST_TEST_TAKE + 1..=LAST_VALIDATION_TAKE).contains(&u.take)).collect()
    }

    /// Speakers, sorted.
    pub fn speakers(&self) -> Vec<String> {
        let mut s: Vec<String> = self.utterances.iter().map(|u| u.speaker.clone()).collect();
        s.sort();
        s.dedup();
        s
    }

    /// Leave-one-speaker-out folds: for each speaker, train on the others' TRAIN takes and test
    /// on all of the held-out speaker's takes.
    pub fn loso_folds(&self) -> Vec<LosoFold<'_>> {
        self.speakers()
            .into_iter()
            .map(|held_out| LosoFold {
                train: self.utterances.iter().filter(|u| u.speaker != held_out && u.split() == Split::Train).collect(),
                test: self.utterances.iter().filter(|u| u.speaker == held_out).collect(),
                held_out,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct LosoFold<'a> {
    pub held_out: String,
    pub train: Vec<&'a Utterance>,
    pub test: Vec<&'a Utterance>,
}

/// Cross-validation folds of the speaker groups (one per FSDD speaker, so fold `k` can hold out
/// FSDD's `k`-th speaker and a sixth of the other corpus's speakers at once).
pub const SPEAKER_FOLDS: u8 = 6;

/// Which side of every split a speaker of a multi-speaker corpus (Speech Commands) is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SpeakerGroup {
    /// About one speaker in ten: picks the trainer's best epoch, never fit; tests that need
    /// voices the shipped model never fit draw from here.
    Validation,
    /// Cross-validation group `0..SPEAKER_FOLDS`.
    Fold(u8),
}

/// The group of a speaker id, fixed by its FNV-1a hash: one in ten validates, the rest spread
/// over [`SPEAKER_FOLDS`] folds. A speaker's recordings all land in one group.
pub fn speaker_group(speaker: &str) -> SpeakerGroup {
    let h = speaker_hash(speaker);
    if h.is_multiple_of(10) {
        SpeakerGroup::Validation
    } else {
        SpeakerGroup::Fold(((h / 10) % SPEAKER_FOLDS as u64) as u8)
    }
}

/// FNV-1a of a speaker id: stable across runs and platforms, so a speaker's group (and any
/// other per-speaker choice) never changes.
pub fn speaker_hash(speaker: &str) -> u64 {
    speaker.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_takes_are_five_to_nine() {
        let utterances = ["0_a_4.wav", "0_a_5.wav", "3_b_9.wav", "3_b_10.wav", "9_a_49.wav"]
            .iter()
            .map(|n| Utterance::from_path(Path::new(n)).unwrap())
            .collect();
        let fsdd = Fsdd { dir: PathBuf::from("x"), utterances };
        let takes: Vec<u32> = fsdd.validation_takes().iter().map(|u| u.take).collect();
        assert_eq!(takes, [5, 9]);
    }

    #[test]
    fn speaker_groups_are_stable_and_all_used() {
        assert_eq!(speaker_group("sc0fa1e7a9"), speaker_group("sc0fa1e7a9"));
        let groups: Vec<SpeakerGroup> = (0..2000).map(|i| speaker_group(&format!("sc{i:08x}"))).collect();
        let validation = groups.iter().filter(|g| **g == SpeakerGroup::Validation).count();
        assert!((150..250).contains(&validation), "{validation}");
        for k in 0..SPEAKER_FOLDS {
            assert!(groups.contains(&SpeakerGroup::Fold(k)));
        }
    }

    #[test]
    fn missing_dir_says_how_to_get_the_data() {
        let err = Fsdd::open("/definitely/not/here").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/definitely/not/here") && msg.contains("free-spoken-digit-dataset"), "{msg}");
    }
}

//! The Free Spoken Digit Dataset on disk: file names, the official split and
//! leave-one-speaker-out folds.
//!
//! Names are `{digit}_{speaker}_{take}.wav`. Takes 0-4 of every speaker and digit are the
//! official TEST split; nothing may train on them, so LOSO folds train on the other speakers'
//! takes 5-49 only and test on every take of the held-out speaker.

use std::path::{Path, PathBuf};

/// Environment variable naming the FSDD `recordings` directory.
pub const FSDD_DIR_ENV: &str = "FSDD_DIR";
/// Where the data is looked for when neither a flag nor [`FSDD_DIR_ENV`] names it.
pub const DEFAULT_FSDD_DIR: &str = "data/fsdd/recordings";
/// Highest take number in the official test split.
pub const LAST_TEST_TAKE: u32 = 4;
/// Train takes `LAST_TEST_TAKE + 1..=LAST_VALIDATION_TAKE` are the trainer's validation takes:
/// never fit, they pick the best epoch; tools that choose rules use them, never the test split.
pub const LAST_VALIDATION_TAKE: u32 = 9;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

/// One FSDD recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    pub path: PathBuf,
    pub digit: u8,
    pub speaker: String,
    pub take: u32,
}

impl Utterance {
    /// Parses `{digit}_{speaker}_{take}.wav`.
    pub fn from_path(path: &Path) -> Option<Self> {
        if path.extension()?.to_str()?.to_ascii_lowercase() != "wav" {
            return None;
        }
        let stem = path.file_stem()?.to_str()?;
        let mut parts = stem.splitn(2, '_');
        let digit: u8 = parts.next()?.parse().ok().filter(|d| *d <= 9)?;
        let rest = parts.next()?;
        let (speaker, take) = rest.rsplit_once('_')?;
        let take: u32 = take.parse().ok()?;
        (!speaker.is_empty()).then(|| Self { path: path.to_owned(), digit, speaker: speaker.to_owned(), take })
    }

    pub fn split(&self) -> Split {
        if self.take <= LAST_TEST_TAKE { Split::Test } else { Split::Train }
    }
}

/// The label carried by a file name's leading `{digit}_` (any file, not only FSDD).
pub fn label_from_file_name(path: &Path) -> Option<u8> {
    let name = path.file_name()?.to_str()?;
    let (head, _) = name.split_once('_')?;
    head.parse().ok().filter(|d: &u8| *d <= 9)
}

/// The recordings directory: the flag, else `$FSDD_DIR`, else [`DEFAULT_FSDD_DIR`].
pub fn resolve_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_owned)
        .or_else(|| std::env::var_os(FSDD_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FSDD_DIR))
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
    if h % 10 == 0 { SpeakerGroup::Validation } else { SpeakerGroup::Fold(((h / 10) % SPEAKER_FOLDS as u64) as u8) }
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
    fn names_parse_and_split() {
        let u = Utterance::from_path(Path::new("/x/7_jackson_32.wav")).unwrap();
        assert_eq!((u.digit, u.speaker.as_str(), u.take, u.split()), (7, "jackson", 32, Split::Train));
        let t = Utterance::from_path(Path::new("0_george_4.wav")).unwrap();
        assert_eq!(t.split(), Split::Test);
        assert!(Utterance::from_path(Path::new("12_george_4.wav")).is_none());
        assert!(Utterance::from_path(Path::new("7_jackson_x.wav")).is_none());
        assert!(Utterance::from_path(Path::new("7_jackson_3.txt")).is_none());
        assert_eq!(label_from_file_name(Path::new("dir/3_me_take2.wav")), Some(3));
        assert_eq!(label_from_file_name(Path::new("dir/x3_me.wav")), None);
    }

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

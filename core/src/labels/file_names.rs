//! The names recordings carry their labels in: FSDD's `{digit}_{speaker}_{take}.wav`, the
//! official split those names imply, and where the recordings are looked for.
//!
//! Takes 0-4 of every speaker and digit are the official TEST split; nothing may train on them.
//! The corpus as a whole (listing, leave-one-speaker-out folds, speaker groups) is an
//! evaluation tool and lives in `fsdd-eval`'s `corpus`.

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
        if !path.extension()?.to_str()?.eq_ignore_ascii_case("wav") {
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
}

//! The enrolled voice as persisted plugin state, and what the recogniser makes of it.
//!
//! The store keeps the voice (`fsdd_core::Voice`: every take as 8 kHz audio) and its format-2
//! JSON, which the host saves in the project. With the plugin's model it builds the
//! `VoiceMatcher` the engine scores with, and hands it to the running engine, so a loaded
//! state, an imported file, a finished enrollment or a taught correction takes effect at once.
//! Building runs the model on every take: it happens here, on the thread that changed the voice
//! (the host's main thread or the editor's), never on the audio thread or the engine's worker.
//!
//! While the plugin runs, word capture is on: the engine queues every whole word it closes
//! (bounded, oldest dropped), and [`VoiceStore::collect_words`] moves them into the
//! [`RecentWords`] a correction is taught from ([`VoiceStore::teach`]) and hands them on to a
//! running enrollment. It also remembers where the voice came from and how the last import,
//! export and teach went, for the editor.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use fsdd_core::inference::model::N_OUTPUTS;
use fsdd_core::{
    Added, CapturedWord, Detection, DetectionKind, Engine, LiveView, Model, RecentWords, TakeSource, Voice,
    VoiceBuildError, VoiceError, VoiceMatcher, VoiceTake,
};
use nice_plug::params::persist::PersistentField;

/// Why an import was refused. The previous voice stays in place in every case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no voice file location is known on this system")]
    NoDefaultPath,
    /// The default voice file is missing, but the earlier version's prototype file is there.
    #[error(
        "{} does not exist, and {} holds prototypes from an earlier fsdd (averages without the \
         recordings), which this version cannot use: enroll again (fsdd-tui: press e; plugin: Enroll); \
         the old file is left as it is",
        voice.display(),
        old.display()
    )]
    OnlyOldPrototypes { voice: PathBuf, old: PathBuf },
    /// The core's error names the file already; `path` is kept for callers.
    #[error("could not import the voice: {source}")]
    Load { path: PathBuf, source: VoiceError },
    #[error("{}: the voice file holds no takes", path.display())]
    Empty { path: PathBuf },
    #[error("{}: the voice could not be prepared for the plugin's model: {source}", path.display())]
    Build { path: PathBuf, source: VoiceBuildError },
}

/// Why an export did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no enrolled voice to export")]
    NothingEnrolled,
    #[error("no voice file location is known on this system")]
    NoDefaultPath,
    #[error("could not export the enrolled voice: {0}")]
    Save(#[from] VoiceError),
}

/// Why a correction was not taught (or not undone). Nothing changed in every case.
#[derive(Debug, thiserror::Error)]
pub enum TeachError {
    #[error(
        "the word behind that detection is no longer available (it is not finished yet, it was too \
         long ago, or the plugin restarted since)"
    )]
    WordGone,
    #[error("that word was already taught")]
    AlreadyTaught,
    #[error("the word cannot be a take: {0}")]
    Take(#[from] VoiceError),
    #[error("the voice could not be rebuilt with the correction: {0}")]
    Build(#[from] VoiceBuildError),
    #[error("nothing to undo")]
    NothingToUndo,
    #[error("the voice changed since the last teach; nothing was undone")]
    UndoStale,
}

/// Where the current voice came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum VoiceOrigin {
    /// No enrolled voice.
    #[default]
    None,
    /// Restored with the project (plugin state).
    Project,
    /// Imported from this file.
    File(PathBuf),
    /// Enrolled in the plugin window (and saved with the project).
    Enrolled,
    /// Built from corrections taught in the plugin window alone (saved with the project).
    Taught,
}

/// What a teach did, for the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taught {
    /// What the detection said (`None`: not a digit).
    pub heard: Option<u8>,
    /// The digit the word is now a take of.
    pub digit: u8,
    /// The digit was full: its oldest take made room.
    pub replaced_oldest: bool,
}

impl Taught {
    pub fn message(&self) -> String {
        let heard = match self.heard {
            Some(d) => format!("heard as {d}"),
            None => "heard as not a digit".to_owned(),
        };
        let replaced = if self.replaced_oldest { " (its oldest take made room)" } else { "" };
        format!("Taught: the word {heard} is now a take of {}{replaced}", self.digit)
    }
}

/// What the editor shows about the enrolled voice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VoiceStatus {
    /// Takes per digit, all sources.
    pub per_digit: [usize; 10],
    /// Of those, takes taught from corrections.
    pub corrections: [usize; 10],
    pub origin: VoiceOrigin,
    /// The outcome of the last import attempt: `Ok(file)` or `Err(message)`.
    pub last_import: Option<Result<PathBuf, String>>,
    /// The outcome of the last export: `Ok(file)` or `Err(message)`.
    pub last_export: Option<Result<PathBuf, String>>,
    /// The voice could not be prepared for the model (why); the plugin runs on the base model.
    pub unusable: Option<String>,
    /// The project holds an enrolled voice of an earlier version, which cannot be used, and no
    /// voice of this version (filled in by `FsddParams::voice_status`).
    pub old_project: Option<String>,
    /// The outcome of the last teach or undo: `Ok(message)` or `Err(message)`.
    pub last_teach: Option<Result<String, String>>,
    /// The last teach can be undone.
    pub can_undo: bool,
}

impl VoiceStatus {
    pub fn is_empty(&self) -> bool {
        self.per_digit.iter().all(|&n| n == 0)
    }
}

/// The files an import without a path looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultFiles {
    /// The voice file `fsdd-tui` writes.
    pub voice: Option<PathBuf>,
    /// Where the earlier version kept its prototypes (only to say why it cannot be used).
    pub old_prototypes: Option<PathBuf>,
}

impl DefaultFiles {
    /// This system's (`Voice::default_path`, `Voice::old_prototypes_path`).
    pub fn system() -> Self {
        DefaultFiles { voice: Voice::default_path(), old_prototypes: Voice::old_prototypes_path() }
    }
}

#[derive(Default)]
pub struct VoiceStore {
    inner: Mutex<StoreInner>,
}

#[derive(Default)]
struct StoreInner {
    voice: Voice,
    /// `voice` as format-2 JSON, what the host saves; empty = no enrolled voice. Kept next to
    /// the voice so saving a project never re-encodes the audio.
    json: String,
    /// Known once the plugin has loaded its model.
    model: Option<Arc<Model>>,
    /// What the engine scores with: built from `voice` with `model`.
    matcher: Option<Arc<VoiceMatcher>>,
    /// Why `matcher` could not be built (then the engine runs on the base model).
    unusable: Option<String>,
    /// The running engine, if the plugin is active.
    engine: Weak<Engine>,
    origin: VoiceOrigin,
    last_import: Option<Result<PathBuf, String>>,
    last_export: Option<Result<PathBuf, String>>,
    /// Words of the running engine, newest last (cleared when another engine starts: positions
    /// restart with it).
    recent: RecentWords,
    /// Onsets of the words taught from the running engine, so one word is not taught twice.
    taught: Vec<u64>,
    /// The last teach: its receipt and onset, for undo.
    undo: Option<(Added, u64)>,
    last_teach: Option<Result<String, String>>,
}

impl StoreInner {
    /// Builds the matcher for `voice` with the model (none for an empty voice or before the
    /// model is known).
    fn build(&self, voice: &Voice) -> Result<Option<Arc<VoiceMatcher>>, VoiceBuildError> {
        match &self.model {
            Some(model) if !voice.is_empty() => VoiceMatcher::build(model, voice).map(|m| Some(Arc::new(m))),
            _ => Ok(None),
        }
    }

    /// Makes `voice` (with its already built `matcher`) the current voice and tells the engine.
    fn commit(&mut self, voice: Voice, matcher: Option<Arc<VoiceMatcher>>) {
        self.json = if voice.is_empty() { String::new() } else { voice.to_json() };
        self.voice = voice;
        self.matcher = matcher;
        self.unusable = None;
        self.send_to_engine();
    }

    /// Rebuilds the matcher of the current voice (new model, or a voice restored before the
    /// model was known). A failure leaves the voice in the project but unused, with the reason.
    fn rebuild(&mut self) {
        match self.build(&self.voice) {
            Ok(matcher) => {
                self.matcher = matcher;
                self.unusable = None;
            }
            Err(err) => {
                nice_plug::nice_warn!("fsdd: the enrolled voice is not used: {err}");
                self.matcher = None;
                self.unusable = Some(err.to_string());
            }
        }
        self.send_to_engine();
    }

    fn send_to_engine(&self) {
        if let Some(engine) = self.engine.upgrade() {
            engine.set_voice(self.matcher.clone());
        }
    }

    /// A voice replaced as a whole: an undo receipt no longer applies.
    fn forget_undo(&mut self) {
        self.undo = None;
    }

    fn collect_words(&mut self) -> Vec<CapturedWord> {
        let Some(engine) = self.engine.upgrade() else { return Vec::new() };
        let mut words = Vec::new();
        while let Some(word) = engine.pop_word() {
            self.recent.push(word.clone());
            words.push(word);
        }
        words
    }
}

/// `voice` as the project will give it back: the voice file keeps 16-bit PCM, so a voice is
/// used (and its matcher built) from exactly the samples a reload of the project gives, and
/// behaves the same before and after. Idempotent: a voice read from JSON comes back unchanged.
fn as_saved(voice: Voice) -> Voice {
    match Voice::from_json(&voice.to_json()) {
        Ok(saved) => saved,
        Err(err) => {
            // Cannot happen (every take was validated on its way in); the unrounded voice still
            // works, it only differs from the saved one by less than the 16-bit step.
            nice_plug::nice_warn!("fsdd: the voice did not read back from its own JSON: {err}");
            voice
        }
    }
}

/// One take as the project will give it back (see [`as_saved`]).
fn take_as_saved(take: VoiceTake) -> VoiceTake {
    let mut alone = Voice::new();
    let _ = alone.push(take.clone());
    as_saved(alone).takes().first().cloned().unwrap_or(take)
}

/// The detection to find a word by: `RecentWords` matches a detection's word by its onset, the
/// only field read here (the rest is what the window knew of it).
fn detection_at(onset: u64, heard: Option<u8>) -> Detection {
    Detection {
        digit: heard,
        confidence: 0.0,
        probs: [0.0; N_OUTPUTS],
        kind: if heard.is_some() { DetectionKind::Final } else { DetectionKind::Rejected },
        onset,
        decision: onset,
        end: None,
        compute_us: 0,
        saliency: None,
    }
}

impl VoiceStore {
    fn lock(&self) -> MutexGuard<'_, StoreInner> {
        // Every change is computed aside and then assigned whole, so a panic while holding the
        // lock cannot leave a half-changed voice: a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current voice (a copy; empty when none is enrolled).
    pub fn current(&self) -> Voice {
        self.lock().voice.clone()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().voice.is_empty()
    }

    /// The voice as the project stores it (format-2 JSON; empty when none is enrolled).
    pub fn json(&self) -> String {
        self.lock().json.clone()
    }

    /// The matcher the engine was given (`None`: base model only).
    pub fn matcher(&self) -> Option<Arc<VoiceMatcher>> {
        self.lock().matcher.clone()
    }

    /// Replaces the voice as restored with the project (empty: no voice). A voice that cannot
    /// be prepared for the model is kept in the project but not used (see [`VoiceStatus`]).
    pub fn replace(&self, voice: Voice) {
        self.replace_saved(as_saved(voice));
    }

    /// [`VoiceStore::replace`] for a voice read from JSON (already as saved).
    fn replace_saved(&self, voice: Voice) {
        let origin = if voice.is_empty() { VoiceOrigin::None } else { VoiceOrigin::Project };
        let mut inner = self.lock();
        inner.forget_undo();
        inner.origin = origin;
        inner.json = if voice.is_empty() { String::new() } else { voice.to_json() };
        inner.voice = voice;
        inner.rebuild();
    }

    /// Stores a voice enrolled in the plugin window.
    pub fn replace_enrolled(&self, voice: Voice) -> Result<(), VoiceBuildError> {
        let voice = as_saved(voice);
        let mut inner = self.lock();
        let matcher = inner.build(&voice)?;
        inner.forget_undo();
        inner.origin = if voice.is_empty() { VoiceOrigin::None } else { VoiceOrigin::Enrolled };
        inner.commit(voice, matcher);
        Ok(())
    }

    /// The model voices are prepared with (set when the plugin loads its model). A voice
    /// restored before it was known is prepared now.
    pub fn set_model(&self, model: Arc<Model>) {
        let mut inner = self.lock();
        inner.model = Some(model);
        inner.rebuild();
    }

    /// Writes the enrolled voice to `path` (or `fsdd-tui`'s default file) in the format
    /// `fsdd-tui --voice` reads. Main or editor thread only (it writes a file).
    pub fn export(&self, path: Option<&Path>) -> Result<PathBuf, ExportError> {
        let result = self.export_inner(path);
        self.lock().last_export = Some(match &result {
            Ok(path) => Ok(path.clone()),
            Err(err) => Err(err.to_string()),
        });
        result
    }

    fn export_inner(&self, path: Option<&Path>) -> Result<PathBuf, ExportError> {
        let path = match path {
            Some(path) => path.to_owned(),
            None => Voice::default_path().ok_or(ExportError::NoDefaultPath)?,
        };
        let voice = self.current();
        if voice.is_empty() {
            return Err(ExportError::NothingEnrolled);
        }
        voice.save(&path)?;
        Ok(path)
    }

    /// The running engine, if the plugin is active.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.lock().engine.upgrade()
    }

    /// Imports the voice file `fsdd-tui` writes (`path`, or this system's default file) and
    /// returns the file it read. See [`VoiceStore::import_with`].
    pub fn import(&self, path: Option<&Path>) -> Result<PathBuf, ImportError> {
        self.import_with(path, &DefaultFiles::system())
    }

    /// Imports `path`, or without one `defaults.voice`. A missing, broken or empty file, a
    /// prototype file of the earlier version, or a voice the model cannot prepare is an error:
    /// it is remembered for the editor, and the current voice stays. Main or editor thread only
    /// (it reads a file and runs the model on every take).
    pub fn import_with(&self, path: Option<&Path>, defaults: &DefaultFiles) -> Result<PathBuf, ImportError> {
        let result = self.import_inner(path, defaults);
        let mut inner = self.lock();
        inner.last_import = Some(match &result {
            Ok(path) => Ok(path.clone()),
            Err(err) => Err(err.to_string()),
        });
        result
    }

    fn import_inner(&self, path: Option<&Path>, defaults: &DefaultFiles) -> Result<PathBuf, ImportError> {
        let path = match path {
            Some(path) => path.to_owned(),
            None => {
                let voice = defaults.voice.clone().ok_or(ImportError::NoDefaultPath)?;
                if !voice.exists()
                    && let Some(old) = defaults.old_prototypes.as_ref().filter(|old| old.is_file())
                {
                    return Err(ImportError::OnlyOldPrototypes { voice, old: old.clone() });
                }
                voice
            }
        };
        let voice = Voice::load(&path).map_err(|source| ImportError::Load { path: path.clone(), source })?;
        if voice.is_empty() {
            return Err(ImportError::Empty { path });
        }
        let mut inner = self.lock();
        let matcher = inner.build(&voice).map_err(|source| ImportError::Build { path: path.clone(), source })?;
        inner.forget_undo();
        inner.origin = VoiceOrigin::File(path.clone());
        inner.commit(voice, matcher);
        Ok(path)
    }

    /// Counts, origin and the outcomes of the last import, export and teach, for the editor.
    pub fn status(&self) -> VoiceStatus {
        let inner = self.lock();
        let mut corrections = [0; 10];
        for take in inner.voice.takes().iter().filter(|t| t.source == TakeSource::Correction) {
            corrections[take.digit as usize] += 1;
        }
        VoiceStatus {
            per_digit: inner.voice.counts(),
            corrections,
            origin: inner.origin.clone(),
            last_import: inner.last_import.clone(),
            last_export: inner.last_export.clone(),
            unusable: inner.unusable.clone(),
            old_project: None,
            last_teach: inner.last_teach.clone(),
            can_undo: inner.undo.is_some(),
        }
    }

    /// Connects the store to a freshly started engine: it gets the current voice, and word
    /// capture is switched on (for teaching and enrollment) for as long as it runs.
    pub fn attach(&self, engine: Weak<Engine>) {
        let mut inner = self.lock();
        // Positions restart with every engine: words of an earlier one would match the wrong
        // detections.
        inner.recent = RecentWords::default();
        inner.taught.clear();
        inner.engine = engine;
        if let Some(live) = inner.engine.upgrade() {
            live.capture_words(true);
        }
        inner.send_to_engine();
    }

    /// What the running engine sees right now (for the editor; takes the engine's brief
    /// snapshot lock, so never from the audio thread). `None` while inactive.
    pub fn live_view(&self) -> Option<LiveView> {
        let engine = self.lock().engine.upgrade();
        engine.map(|engine| engine.live())
    }

    /// Forgets the engine (before it is stopped), and with it the words it captured.
    pub fn detach(&self) {
        let mut inner = self.lock();
        inner.engine = Weak::new();
        inner.recent = RecentWords::default();
        inner.taught.clear();
    }

    /// Moves the words the running engine captured since the last call into the recent words
    /// (what a correction is taught from) and returns them (for a running enrollment).
    /// Non-real-time threads only: it takes the engine's word-queue lock.
    pub fn collect_words(&self) -> Vec<CapturedWord> {
        self.lock().collect_words()
    }

    /// Teaches a correction: the word of the detection with speech onset `onset` (which said
    /// `heard`) becomes a take of `digit`, the voice is rebuilt and the engine uses it at once.
    /// The last teach can be undone ([`VoiceStore::undo_teach`]). Main or editor thread only
    /// (it runs the model on every take).
    pub fn teach(&self, onset: u64, heard: Option<u8>, digit: u8) -> Result<Taught, TeachError> {
        let mut inner = self.lock();
        let result = Self::teach_inner(&mut inner, onset, heard, digit);
        inner.last_teach = Some(match &result {
            Ok(taught) => Ok(taught.message()),
            Err(err) => Err(err.to_string()),
        });
        result
    }

    fn teach_inner(inner: &mut StoreInner, onset: u64, heard: Option<u8>, digit: u8) -> Result<Taught, TeachError> {
        // A word that ended since the last frame is taught too.
        inner.collect_words();
        if inner.taught.contains(&onset) {
            return Err(TeachError::AlreadyTaught);
        }
        let take = inner.recent.take_for(&detection_at(onset, heard), digit)?.ok_or(TeachError::WordGone)?;
        let take = take_as_saved(take);
        let mut voice = inner.voice.clone();
        let added = voice.push(take);
        let matcher = inner.build(&voice)?;
        let taught = Taught { heard, digit, replaced_oldest: added.evicted.is_some() };
        if inner.voice.is_empty() {
            inner.origin = VoiceOrigin::Taught;
        }
        inner.commit(voice, matcher);
        inner.taught.push(onset);
        inner.undo = Some((added, onset));
        Ok(taught)
    }

    /// Takes back the last teach (and puts back the take it displaced).
    pub fn undo_teach(&self) -> Result<(), TeachError> {
        let mut inner = self.lock();
        let result = Self::undo_inner(&mut inner);
        inner.last_teach = Some(match &result {
            Ok(()) => Ok("Undone: the last taught word is no longer a take".to_owned()),
            Err(err) => Err(err.to_string()),
        });
        result
    }

    fn undo_inner(inner: &mut StoreInner) -> Result<(), TeachError> {
        let (added, onset) = inner.undo.take().ok_or(TeachError::NothingToUndo)?;
        let mut voice = inner.voice.clone();
        if !voice.undo(added.clone()) {
            return Err(TeachError::UndoStale);
        }
        let matcher = match inner.build(&voice) {
            Ok(matcher) => matcher,
            Err(err) => {
                // Nothing changed: the receipt stays for another try.
                inner.undo = Some((added, onset));
                return Err(err.into());
            }
        };
        if voice.is_empty() && inner.origin == VoiceOrigin::Taught {
            inner.origin = VoiceOrigin::None;
        }
        inner.commit(voice, matcher);
        inner.taught.retain(|&o| o != onset);
        Ok(())
    }
}

/// The host saves and restores the voice JSON. Text that is not a voice of this version (a
/// damaged or foreign project) is ignored with a log line: the plugin keeps its current voice.
/// Called on the host's main thread: a restored voice is prepared for the model right here.
impl<'a> PersistentField<'a, String> for VoiceStore {
    fn set(&self, new_value: String) {
        if new_value.is_empty() {
            self.replace_saved(Voice::new());
            return;
        }
        match Voice::from_json_named(&new_value, "the project's voice") {
            Ok(voice) => self.replace_saved(voice),
            Err(err) => nice_plug::nice_warn!("fsdd: ignoring a stored voice that does not parse: {err}"),
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&String) -> R,
    {
        f(&self.lock().json)
    }
}

/// The persisted key of an earlier version's enrolled voice (format-1 prototypes JSON). It is
/// read only to tell the user: averages without the recordings cannot be used by this version.
/// What was loaded is saved back unchanged, so the earlier version still finds its voice in a
/// project this version saved; anything else in the key is dropped.
#[derive(Default)]
pub struct OldPrototypes {
    json: Mutex<String>,
}

/// What the window says about a project whose voice is from the earlier version.
pub const OLD_PROJECT_MESSAGE: &str = "This project's enrolled voice is from an earlier version (averages \
     without the recordings) and cannot be used: enroll again. Until then the base model recognises.";

impl OldPrototypes {
    fn lock(&self) -> MutexGuard<'_, String> {
        self.json.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the project holds an earlier version's enrolled voice.
    pub fn present(&self) -> bool {
        !self.lock().is_empty()
    }
}

impl<'a> PersistentField<'a, String> for OldPrototypes {
    fn set(&self, new_value: String) {
        let kept = if new_value.is_empty() {
            String::new()
        } else {
            match Voice::from_json(&new_value) {
                Err(VoiceError::OldPrototypes { .. }) => {
                    nice_plug::nice_warn!("fsdd: {OLD_PROJECT_MESSAGE}");
                    new_value
                }
                _ => {
                    nice_plug::nice_warn!("fsdd: ignoring the stored \"prototypes\": not an earlier version's voice");
                    String::new()
                }
            }
        };
        *self.lock() = kept;
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&String) -> R,
    {
        f(&self.lock())
    }
}

//! The enrolled-voice prototypes as persisted plugin state.
//!
//! The store keeps the `PrototypeSet` JSON (what the host saves in the project) and, while the
//! plugin is active, a link to the running engine so a loaded state or an imported file takes
//! effect at once (the editor reads the engine's live view through the same link).
//! It also remembers where the current prototypes came from and how the last file import went,
//! for the editor. Everything here runs on the host's main thread or the editor's thread
//! (state load/save, activate, the editor): never on the audio thread.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Weak};

use fsdd_core::{Engine, LiveView, PrototypeSet};
use nice_plug::params::persist::PersistentField;

/// Why an import was refused. The previous prototypes stay in place in every case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no prototype file location is known on this system")]
    NoDefaultPath,
    /// The core's error names the file already; `path` is kept for callers.
    #[error("could not import prototypes: {source}")]
    Load { path: String, source: fsdd_core::PrototypeError },
    #[error("{path} was enrolled with another model ({reason}); enroll again with fsdd-tui")]
    OtherModel { path: String, reason: String },
}

/// Why an export did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no enrolled voice to export")]
    NothingEnrolled,
    #[error("no prototype file location is known on this system")]
    NoDefaultPath,
    #[error("could not export the enrolled voice: {0}")]
    Save(#[from] fsdd_core::PrototypeError),
}

/// Where the current prototypes came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PrototypeOrigin {
    /// No enrolled voice.
    #[default]
    None,
    /// Restored with the project (plugin state).
    Project,
    /// Imported from this file.
    File(PathBuf),
    /// Enrolled in the plugin window (and saved with the project).
    Enrolled,
}

/// What the editor shows about the enrolled voice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnrollmentStatus {
    pub per_digit: [usize; 10],
    pub origin: PrototypeOrigin,
    /// The outcome of the last import attempt: `Ok(file)` or `Err(message)`.
    pub last_import: Option<Result<PathBuf, String>>,
    /// The stored prototypes do not fit the plugin's model (why); they are not used.
    pub model_mismatch: Option<String>,
    /// The outcome of the last export: `Ok(file)` or `Err(message)`.
    pub last_export: Option<Result<PathBuf, String>>,
}

/// Embedding size and fingerprint of the model prototypes must have been enrolled with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelIdentity {
    pub embedding_dim: usize,
    pub fingerprint: u64,
}

impl ModelIdentity {
    pub fn of(model: &fsdd_core::Model) -> Self {
        Self { embedding_dim: model.embedding_dim(), fingerprint: model.fingerprint() }
    }

    /// Why `set` does not fit this model, if it does not.
    fn mismatch(&self, set: &PrototypeSet) -> Option<String> {
        if set.embedding_dim() != self.embedding_dim {
            Some(format!(
                "its embeddings have {} values, the plugin's model has {}",
                set.embedding_dim(),
                self.embedding_dim
            ))
        } else if !set.matches_model(self.fingerprint) {
            Some(format!(
                "model fingerprint {} instead of {:016x}",
                set.model_fingerprint().unwrap_or("?"),
                self.fingerprint
            ))
        } else {
            None
        }
    }
}

#[derive(Default)]
pub struct PrototypeStore {
    inner: Mutex<StoreInner>,
}

#[derive(Default)]
struct StoreInner {
    /// Validated `PrototypeSet` JSON; empty = no enrolled voice.
    json: String,
    /// Summary for the UI, kept next to the JSON so it never has to be re-parsed.
    per_digit: [usize; 10],
    /// The running engine, if the plugin is active.
    engine: Weak<Engine>,
    origin: PrototypeOrigin,
    last_import: Option<Result<PathBuf, String>>,
    /// Known once the plugin has loaded its model; imports are checked against it.
    model: Option<ModelIdentity>,
    /// Why the stored prototypes do not fit `model` (then the engine does not get them).
    mismatch: Option<String>,
    last_export: Option<Result<PathBuf, String>>,
}

impl StoreInner {
    /// The prototypes the engine may use: none when they do not fit the model.
    fn usable(&self) -> Option<PrototypeSet> {
        if self.json.is_empty() || self.mismatch.is_some() {
            return None;
        }
        PrototypeSet::from_json(&self.json).ok()
    }

    fn check_model(&mut self) {
        self.mismatch = match (&self.model, self.json.is_empty()) {
            (Some(model), false) => PrototypeSet::from_json(&self.json).ok().and_then(|set| model.mismatch(&set)),
            _ => None,
        };
    }
}

impl PrototypeStore {
    fn lock(&self) -> MutexGuard<'_, StoreInner> {
        // A panic while holding this lock cannot leave the data half-written (every write is a
        // whole-value assignment), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current set, if any (parsed from the stored JSON).
    pub fn current(&self) -> Option<PrototypeSet> {
        let json = self.lock().json.clone();
        if json.is_empty() { None } else { PrototypeSet::from_json(&json).ok() }
    }

    /// Enrolled examples per digit (all zero when no voice is enrolled).
    pub fn examples_per_digit(&self) -> [usize; 10] {
        self.lock().per_digit
    }

    /// Replaces the prototypes with `set` (or clears them) and hands them to the running engine.
    pub fn replace(&self, set: Option<PrototypeSet>) {
        let origin = match set {
            Some(_) => PrototypeOrigin::Project,
            None => PrototypeOrigin::None,
        };
        self.replace_from(set, origin);
    }

    /// Stores prototypes enrolled in the plugin window.
    pub fn replace_enrolled(&self, set: PrototypeSet) {
        self.replace_from(Some(set), PrototypeOrigin::Enrolled);
    }

    fn replace_from(&self, set: Option<PrototypeSet>, origin: PrototypeOrigin) {
        let mut inner = self.lock();
        inner.origin = origin;
        match &set {
            Some(set) => {
                inner.json = set.to_json();
                inner.per_digit = std::array::from_fn(|digit| set.count(digit as u8));
            }
            None => {
                inner.json.clear();
                inner.per_digit = [0; 10];
            }
        }
        inner.check_model();
        if let Some(mismatch) = &inner.mismatch {
            nice_plug::nice_warn!(
                "the stored prototypes were enrolled with another model ({mismatch}); they are not used"
            );
        }
        if let Some(engine) = inner.engine.upgrade() {
            engine.set_prototypes(inner.usable());
        }
    }

    /// Writes the enrolled voice to `path` (or `fsdd-tui`'s default file) in the format
    /// `fsdd-tui --prototypes` reads. Main or editor thread only (it writes a file).
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
            None => PrototypeSet::default_path().ok_or(ExportError::NoDefaultPath)?,
        };
        let set = self.current().ok_or(ExportError::NothingEnrolled)?;
        set.save(&path)?;
        Ok(path)
    }

    /// The running engine, if the plugin is active.
    pub fn engine(&self) -> Option<std::sync::Arc<Engine>> {
        self.lock().engine.upgrade()
    }

    /// Imports the file `fsdd-tui` writes (`path`, or `PrototypeSet::default_path()`) and
    /// returns the file it read. A missing or broken file, or one enrolled with another model,
    /// is an error: it is remembered for the editor, and the current prototypes stay.
    pub fn import(&self, path: Option<&Path>) -> Result<PathBuf, ImportError> {
        let result = self.load_checked(path);
        let mut inner = self.lock();
        inner.last_import = Some(match &result {
            Ok((_, path)) => Ok(path.clone()),
            Err(err) => Err(err.to_string()),
        });
        drop(inner);
        let (set, path) = result?;
        self.replace_from(Some(set), PrototypeOrigin::File(path.clone()));
        Ok(path)
    }

    fn load_checked(&self, path: Option<&Path>) -> Result<(PrototypeSet, PathBuf), ImportError> {
        let path = match path {
            Some(path) => path.to_owned(),
            None => PrototypeSet::default_path().ok_or(ImportError::NoDefaultPath)?,
        };
        let set = PrototypeSet::load(&path)
            .map_err(|source| ImportError::Load { path: path.display().to_string(), source })?;
        let model = self.lock().model;
        if let Some(reason) = model.and_then(|model| model.mismatch(&set)) {
            return Err(ImportError::OtherModel { path: path.display().to_string(), reason });
        }
        Ok((set, path))
    }

    /// The model imports must fit (set when the plugin loads its model). Stored prototypes
    /// that do not fit it are kept in the state but not used, and the editor says why.
    pub fn set_model(&self, model: ModelIdentity) {
        let mut inner = self.lock();
        inner.model = Some(model);
        inner.check_model();
    }

    /// Counts, origin and the last import's outcome, for the editor.
    pub fn status(&self) -> EnrollmentStatus {
        let inner = self.lock();
        EnrollmentStatus {
            per_digit: inner.per_digit,
            origin: inner.origin.clone(),
            last_import: inner.last_import.clone(),
            model_mismatch: inner.mismatch.clone(),
            last_export: inner.last_export.clone(),
        }
    }

    /// Connects the store to a freshly started engine and gives it the current prototypes.
    pub fn attach(&self, engine: Weak<Engine>) {
        let mut inner = self.lock();
        if let Some(live) = engine.upgrade() {
            live.set_prototypes(inner.usable());
        }
        inner.engine = engine;
    }

    /// What the running engine sees right now (for the editor; takes the engine's brief
    /// snapshot lock, so never from the audio thread). `None` while inactive.
    pub fn live_view(&self) -> Option<LiveView> {
        let engine = self.lock().engine.upgrade();
        engine.map(|engine| engine.live())
    }

    /// Forgets the engine (before it is stopped).
    pub fn detach(&self) {
        self.lock().engine = Weak::new();
    }
}

/// The host saves and restores the JSON text. Text that is not a valid `PrototypeSet` (a damaged
/// or foreign project) is ignored with a log line: the plugin keeps its current prototypes.
impl<'a> PersistentField<'a, String> for PrototypeStore {
    fn set(&self, new_value: String) {
        if new_value.is_empty() {
            self.replace(None);
            return;
        }
        match PrototypeSet::from_json(&new_value) {
            Ok(set) => self.replace(Some(set)),
            Err(err) => {
                nice_plug::nice_warn!("ignoring stored prototypes that do not parse: {err}")
            }
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&String) -> R,
    {
        f(&self.lock().json)
    }
}

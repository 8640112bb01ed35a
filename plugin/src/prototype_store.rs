//! The enrolled-voice prototypes as persisted plugin state.
//!
//! The store keeps the `PrototypeSet` JSON (what the host saves in the project) and, while the
//! plugin is active, a link to the running engine so a loaded state or an imported file takes
//! effect at once (the editor reads the engine's live view through the same link). Everything here runs on the host's main thread (state load/save, activate,
//! the editor): never on the audio thread.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, Weak};

use fsdd_core::{Engine, LiveView, PrototypeSet};
use nice_plug::params::persist::PersistentField;

/// Why an import was refused. The previous prototypes stay in place in every case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no prototype file location is known on this system")]
    NoDefaultPath,
    #[error("could not read prototypes from {path}: {source}")]
    Load {
        path: String,
        source: fsdd_core::PrototypeError,
    },
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
}

impl PrototypeStore {
    fn lock(&self) -> MutexGuard<'_, StoreInner> {
        // A panic while holding this lock cannot leave the data half-written (every write is a
        // whole-value assignment), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current set, if any (parsed from the stored JSON).
    pub fn current(&self) -> Option<PrototypeSet> {
        let json = self.lock().json.clone();
        if json.is_empty() {
            None
        } else {
            PrototypeSet::from_json(&json).ok()
        }
    }

    /// Enrolled examples per digit (all zero when no voice is enrolled).
    pub fn examples_per_digit(&self) -> [usize; 10] {
        self.lock().per_digit
    }

    /// Replaces the prototypes with `set` (or clears them) and hands them to the running engine.
    pub fn replace(&self, set: Option<PrototypeSet>) {
        let mut inner = self.lock();
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
        if let Some(engine) = inner.engine.upgrade() {
            engine.set_prototypes(set);
        }
    }

    /// Imports the file `fsdd-tui` writes (`path`, or `PrototypeSet::default_path()`).
    /// A missing or broken file is an error and leaves the current prototypes untouched.
    pub fn import(&self, path: Option<&Path>) -> Result<(), ImportError> {
        let path = match path {
            Some(path) => path.to_owned(),
            None => PrototypeSet::default_path().ok_or(ImportError::NoDefaultPath)?,
        };
        let set = PrototypeSet::load(&path).map_err(|source| ImportError::Load {
            path: path.display().to_string(),
            source,
        })?;
        self.replace(Some(set));
        Ok(())
    }

    /// Connects the store to a freshly started engine and gives it the current prototypes.
    pub fn attach(&self, engine: Weak<Engine>) {
        let set = self.current();
        let mut inner = self.lock();
        if let Some(live) = engine.upgrade() {
            live.set_prototypes(set);
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

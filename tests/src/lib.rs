//! Shared helpers for the cross-crate tests in `tests/tests/`.

use std::path::{Path, PathBuf};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_owned()
}

/// FSDD recordings for tests: `$FSDD_DIR`, else `<root>/../shared/fsdd/recordings`.
/// Panics with a clear message when absent: tests never pass by skipping.
pub fn fsdd_dir() -> PathBuf {
    let dir = std::env::var_os("FSDD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/fsdd/recordings"));
    assert!(dir.is_dir(), "FSDD recordings not found at {} (set FSDD_DIR)", dir.display());
    dir
}

/// Fixture directory `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    workspace_root().join("tests/fixtures").join(name)
}

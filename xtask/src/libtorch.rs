//! A CPU-only libtorch 2.13.0 for `tch` 0.26, cut out of PyPI wheels.
//!
//! The usual libtorch download host is unreachable from our machines, but PyPI is. PyPI's
//! `torch==2.13.0` Linux wheel is the CUDA build; a full `pip install` would pull 2.7 GB of NVIDIA
//! wheels. The trainer needs only the CPU library, its headers, and two small CUDA runtime
//! libraries that `libtorch_cpu.so` names at load time (it never touches a GPU), so we download
//! three wheels (~540 MB, pip caches them) and copy those files into a per-user cache shared by
//! every clone on the machine. `<workspace>/.libtorch` (the `LIBTORCH` that `.cargo/config.toml`
//! hands to torch-sys) is a symlink to it.
//!
//! Only std + anyhow: xtask must build in seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The libtorch version `tch` 0.26 / `torch-sys` 0.26 are written against.
pub const VERSION: &str = "2.13.0";

/// Wheels to download: torch itself and the two CUDA runtime wheels holding the libraries that
/// `libtorch_cpu.so` links.
const WHEELS: [&str; 3] = ["torch==2.13.0", "nvidia-cuda-runtime==13.0.96", "nvidia-cuda-cupti==13.0.85"];

/// Makes sure the CPU libtorch exists in the per-user cache and that `<workspace_root>/.libtorch`
/// points at it; returns the cache directory. Idempotent and fast (a few `stat`s) once done.
pub fn ensure(workspace_root: &Path) -> Result<PathBuf> {
    let cache = cache_dir()?;
    if !is_complete(&cache) {
        cut(&cache).with_context(|| format!("building the CPU libtorch {VERSION} in {}", cache.display()))?;
    }
    link(&workspace_root.join(".libtorch"), &cache)?;
    Ok(cache)
}

/// `$XDG_CACHE_HOME/fsdd/libtorch-2.13.0`, else `~/.cache/fsdd/libtorch-2.13.0`.
fn cache_dir() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither XDG_CACHE_HOME nor HOME is set: no place for the libtorch cache")?;
            PathBuf::from(home).join(".cache")
        }
    };
    Ok(base.join("fsdd").join(format!("libtorch-{VERSION}")))
}

/// A cut is complete only once renamed into place, and the rename is the last step, so checking
/// the version file and the main library is enough.
fn is_complete(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("build-version")).is_ok_and(|v| v.trim() == VERSION)
        && dir.join("lib/libtorch_cpu.so").is_file()
        && dir.join("include").is_dir()
}

/// Downloads the wheels and lays out `include/`, `lib/` and `build-version` in a temporary
/// sibling directory, then renames it into place, so an interrupted cut is never mistaken for a
/// finished one.
fn cut(dest: &Path) -> Result<()> {
    let parent = dest.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = parent.join(format!(".libtorch-{VERSION}.partial-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing stale {}", staging.display()))?;
    }
    let result = cut_into(&staging);
    if let Err(err) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    match std::fs::rename(&staging, dest) {
        Ok(()) => Ok(()),
        // Another process finished the same cut first: theirs is as good as ours.
        Err(_) if is_complete(dest) => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(err) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(err).with_context(|| format!("renaming {} to {}", staging.display(), dest.display()))
        }
    }
}

fn cut_into(staging: &Path) -> Result<()> {
    let wheels = staging.join("wheels");
    std::fs::create_dir_all(&wheels).with_context(|| format!("creating {}", wheels.display()))?;
    eprintln!("libtorch: downloading {} from PyPI (~540 MB the first time; pip caches it)", WHEELS.join(", "));
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-d"])
        .arg(&wheels)
        .args(WHEELS)
        .status()
        .context("running `python3 -m pip download` (is python3 with pip installed?)")?;
    if !status.success() {
        bail!("`python3 -m pip download {}` failed ({status})", WHEELS.join(" "));
    }
    let torch = find_wheel(&wheels, "torch-")?;
    let runtime = find_wheel(&wheels, "nvidia_cuda_runtime-")?;
    let cupti = find_wheel(&wheels, "nvidia_cuda_cupti-")?;

    // Wheels are zip files; python3's zipfile module (already required for pip) unpacks the
    // members we want without needing `unzip` on the machine.
    let extract = r#"
import os, shutil, sys, zipfile
dest, torch_whl, runtime_whl, cupti_whl = sys.argv[1:5]
inc, lib = os.path.join(dest, "include"), os.path.join(dest, "lib")
os.makedirs(lib, exist_ok=True)
def copy(z, member, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with z.open(member) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
with zipfile.ZipFile(torch_whl) as z:
    names = z.namelist()
    for n in names:
        if n.startswith("torch/include/") and not n.endswith("/"):
            copy(z, n, os.path.join(inc, n[len("torch/include/"):]))
    for so in ("libtorch_cpu.so", "libc10.so", "libgomp.so.1"):
        copy(z, "torch/lib/" + so, os.path.join(lib, so))
for whl, so in ((runtime_whl, "libcudart.so.13"), (cupti_whl, "libcupti.so.13")):
    with zipfile.ZipFile(whl) as z:
        copy(z, "nvidia/cu13/lib/" + so, os.path.join(lib, so))
"#;
    let status = Command::new("python3")
        .arg("-c")
        .arg(extract)
        .arg(staging)
        .args([&torch, &runtime, &cupti])
        .status()
        .context("running python3 to unpack the wheels")?;
    if !status.success() {
        bail!("unpacking the libtorch wheels failed ({status})");
    }
    // torch-sys always links `-ltorch`; the wheel's real libtorch.so drags in libtorch_cuda.
    std::os::unix::fs::symlink("libtorch_cpu.so", staging.join("lib/libtorch.so"))
        .context("linking lib/libtorch.so -> libtorch_cpu.so")?;
    // torch-sys checks this file against the version it was written for.
    std::fs::write(staging.join("build-version"), format!("{VERSION}\n")).context("writing build-version")?;
    std::fs::remove_dir_all(&wheels).with_context(|| format!("removing {}", wheels.display()))?;
    Ok(())
}

fn find_wheel(dir: &Path, prefix: &str) -> Result<PathBuf> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(prefix) && name.ends_with(".whl") {
            return Ok(path);
        }
    }
    bail!("pip download left no {prefix}*.whl in {}", dir.display())
}

/// Points `link` at `target`, replacing an older symlink; refuses to delete a real directory.
fn link(link: &Path, target: &Path) -> Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if std::fs::read_link(link).is_ok_and(|current| current == target) {
                return Ok(());
            }
            std::fs::remove_file(link).with_context(|| format!("replacing symlink {}", link.display()))?;
        }
        Ok(_) => bail!(
            "{} exists and is not a symlink; move it away so it can point at {}",
            link.display(),
            target.display()
        ),
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("symlinking {} -> {}", link.display(), target.display()))
}

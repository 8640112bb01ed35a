//! Embeds `models/fsdd.onnx` when it exists. The model is produced by the trainer and committed
//! separately; until it is there the crate must still build (three other packages depend on it),
//! so `Model::embedded()` then returns a clear error instead of failing the build.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let models = Path::new(&manifest).join("../models");
    let model = models.join("fsdd.onnx");
    // Watch the directory so a model that appears later triggers a rebuild, and the file itself
    // (only once it exists: a missing watched file would rerun this script on every build) so a
    // retrained model is re-embedded.
    println!("cargo::rerun-if-changed={}", models.display());
    println!("cargo::rustc-check-cfg=cfg(fsdd_embedded_model)");
    if model.is_file() {
        println!("cargo::rerun-if-changed={}", model.display());
        println!("cargo::rustc-cfg=fsdd_embedded_model");
    }
}

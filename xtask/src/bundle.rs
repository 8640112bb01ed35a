//! `cargo xtask bundle fsdd-plugin [--release]`: builds the plugin and lays out
//! `target/bundled/fsdd-plugin.clap` and `target/bundled/fsdd-plugin.vst3`.
//!
//! All the platform knowledge (bundle layouts, macOS Info.plist, which formats the library
//! exports) lives in `nice-plug-xtask`; this module only forwards the command line to it.

/// Runs the bundler. `args` are the words after `cargo xtask`, with or without the leading
/// `bundle` (both `["bundle", "fsdd-plugin", "--release"]` and `["fsdd-plugin", "--release"]`
/// work), so `main.rs` can pass either its full argument list or just the subcommand's.
pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    nice_plug_xtask::main_with_args("cargo xtask", with_bundle_command(args))
}

/// nice-plug-xtask expects its own command name (`bundle`) first.
fn with_bundle_command(args: Vec<String>) -> Vec<String> {
    match args.first().map(String::as_str) {
        Some("bundle") | Some("bundle-universal") => args,
        _ => std::iter::once("bundle".to_owned()).chain(args).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_bundle_command;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_bundle_command_is_added_only_when_missing() {
        assert_eq!(with_bundle_command(words("fsdd-plugin --release")), words("bundle fsdd-plugin --release"));
        assert_eq!(with_bundle_command(words("bundle fsdd-plugin --release")), words("bundle fsdd-plugin --release"));
    }
}

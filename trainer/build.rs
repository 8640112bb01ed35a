//! tch's build script sets the libtorch rpath for tch's own targets only; our binary, tests and
//! benches need it too, so they run without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(lib) => println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}"),
        Err(_) => {
            println!("cargo:warning=torch-sys did not report DEP_TCH_LIBTORCH_LIB; set LD_LIBRARY_PATH to libtorch/lib")
        }
    }
}

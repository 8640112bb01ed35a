//! Which of tract's matrix-product kernel families this CPU should run (issue #14).
//!
//! tract picks among its x86_64 kernels with a cost model per platform; on an AMD CPU with
//! AVX-512 it uses one fitted on a Zen 5, whose AVX-512 units are 512 bits wide. Zen 4
//! (family 0x19) splits each 512-bit operation into two 256-bit halves, and there the AVX-512
//! kernels it picks run our forward pass slower than its AVX2+FMA ones: 88 against 71 us median
//! on the shipped model (`forward_pass`, alternating runs on an EPYC Zen 4; the three
//! convolutions and the first dense layer are all faster with FMA kernels). So on Zen 4 tract
//! is told to leave AVX-512 out.
//!
//! This goes through tract's own `TRACT_CPU_ISA` knob as a config value, which the environment
//! overrides: `TRACT_CPU_ISA=+avx512f` (or any other value) wins. tract reads the knob once,
//! the first time it asks what the CPU has, so this runs before the first model is loaded.

use std::sync::Once;

/// Applies the choice once per process; call before tract first inspects the CPU.
pub(crate) fn configure_tract() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if avx512_runs_at_half_width() {
            // Only fails when another part of the process already set a different value, in
            // which case that choice stands.
            let _ = tract_onnx::tract_core::knobs::set_config_global("TRACT_CPU_ISA", "-avx512f");
        }
    });
}

/// An AMD Zen 4 (or any family 0x19 part; Zen 3 has no AVX-512, so this is moot there).
#[cfg(target_arch = "x86_64")]
pub fn avx512_runs_at_half_width() -> bool {
    use std::arch::x86_64::__cpuid;
    // CPUID exists on every x86_64 CPU; Rust releases before 1.87 mark the intrinsic unsafe.
    #[allow(unused_unsafe)]
    let (vendor, signature) = unsafe { (__cpuid(0), __cpuid(1)) };
    let name: Vec<u8> = [vendor.ebx, vendor.edx, vendor.ecx].iter().flat_map(|r| r.to_le_bytes()).collect();
    let base = (signature.eax >> 8) & 0xf;
    let family = if base == 0xf { base + ((signature.eax >> 20) & 0xff) } else { base };
    name == b"AuthenticAMD" && family == 0x19
}

#[cfg(not(target_arch = "x86_64"))]
pub fn avx512_runs_at_half_width() -> bool {
    false
}

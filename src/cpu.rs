//! What the CPU can do, detected once: the SIMD levels the hand-dispatched loops are compiled
//! for (each has a portable version giving the same results).

/// True when the CPU has AVX-512 F, BW and VL (detected once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
    })
}

/// True when the CPU has AVX2 (detected once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::is_x86_feature_detected!("avx2"))
}

//! Public-key signature algorithms, one module per family, each behind its feature.

#[cfg(feature = "eddsa")]
pub mod eddsa;

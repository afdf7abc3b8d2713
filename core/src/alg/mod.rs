//! Public-key signature algorithms, one module per family, each behind its feature.

#[cfg(any(feature = "es256", feature = "es384"))]
pub mod ecdsa;
#[cfg(feature = "eddsa")]
pub mod eddsa;

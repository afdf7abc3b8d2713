//! Public-key signature algorithms, one leaf module per family, each behind its feature.

#[cfg(feature = "rsa")]
pub mod rsa;

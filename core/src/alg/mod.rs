//! Public-key signature algorithms, one leaf module per family, each behind its feature.

#[cfg(any(feature = "es256", feature = "es384"))]
pub mod ecdsa;
#[cfg(feature = "eddsa")]
pub mod eddsa;
#[cfg(feature = "rsa")]
pub mod rsa;

//! What the device saves before it acts, and the interface it saves through.
//!
//! Two things persist: the [`Counters`] (clock floor and replay window), saved
//! before every command runs, so that no token is obeyed twice across a power
//! cut; and the key table's record, saved when a trust statement is taken up.
//! The binary saves them to flash ([`crate::state`]); host tests use
//! [`crate::testing::MemoryStore`].

pub use crate::state::Counters;

/// The save did not complete: the state saved before it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveFailed;

/// Where the device saves its state. A save either completes (and survives a
/// power cut from then on) or fails and leaves the previous state.
pub trait Persist {
    /// Saves the counters.
    ///
    /// # Errors
    /// [`SaveFailed`].
    fn save_counters(&mut self, counters: &Counters) -> Result<(), SaveFailed>;

    /// Saves the key table's record ([`crate::keys::KeyTable::encode`]).
    ///
    /// # Errors
    /// [`SaveFailed`].
    fn save_keys(&mut self, record: &[u8]) -> Result<(), SaveFailed>;
}

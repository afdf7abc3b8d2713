//! Replay protection: the server numbers each device's command tokens (`seq`), and
//! the device obeys each number at most once, within a sliding window below the
//! highest number it obeyed, as the IPsec and DTLS anti-replay windows do (RFC
//! 4303 section 3.4.3).
//!
//! The whole state is two words (the highest `seq` and a 64-bit map of the
//! [`REPLAY_WINDOW`] numbers below and including it), so it fits a small flash
//! record that is saved before every command runs, and no user can fill it: a
//! burst of tokens only moves the window up, and the server's per-user issuance
//! limit ([`latchkey_protocol::MAX_TOKENS_PER_USER`]) keeps one user's burst from
//! pushing another user's unused token out of it.

use latchkey_protocol::{MAX_SEQ, REPLAY_WINDOW, Reason};

/// The numbers obeyed: `highest`, and bit `i` of `map` set when `highest - i` was
/// obeyed. A new device has obeyed none (`highest` 0, an empty map).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// The highest `seq` obeyed, 0 if none.
    pub highest: u64,
    /// Bit `i`: `highest - i` was obeyed (bit 0 is `highest` itself).
    pub map: u64,
}

impl Window {
    /// Whether `seq` may be obeyed now.
    ///
    /// # Errors
    /// [`Reason::BadSequence`] for 0 or a number over [`MAX_SEQ`];
    /// [`Reason::SequenceTooOld`] for a number [`REPLAY_WINDOW`] or more below
    /// `highest`; [`Reason::Replayed`] for one already obeyed.
    pub fn check(&self, seq: u64) -> Result<(), Reason> {
        if seq == 0 || seq > MAX_SEQ {
            return Err(Reason::BadSequence);
        }
        let Some(below) = self.highest.checked_sub(seq) else {
            return Ok(()); // above everything obeyed
        };
        if below >= REPLAY_WINDOW {
            return Err(Reason::SequenceTooOld);
        }
        if self.map & (1 << below) != 0 {
            return Err(Reason::Replayed);
        }
        Ok(())
    }

    /// The window after `seq` (which [`Window::check`] allowed) is obeyed.
    #[must_use]
    pub fn with(self, seq: u64) -> Window {
        match seq.checked_sub(self.highest) {
            Some(0) | None => {
                let below = self.highest.saturating_sub(seq);
                let bit = if below < REPLAY_WINDOW { 1 << below } else { 0 };
                Window {
                    highest: self.highest,
                    map: self.map | bit,
                }
            }
            Some(up) => Window {
                highest: seq,
                map: self.map.checked_shl(up.min(64) as u32).unwrap_or(0) | 1,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obey(w: &mut Window, seq: u64) -> Result<(), Reason> {
        w.check(seq)?;
        *w = w.with(seq);
        Ok(())
    }

    #[test]
    fn each_number_is_obeyed_once_in_any_order_within_the_window() {
        let mut w = Window::default();
        for seq in [5, 3, 4, 1, 2, 10, 7] {
            assert_eq!(obey(&mut w, seq), Ok(()), "{seq}");
        }
        for seq in [1, 2, 3, 4, 5, 7, 10] {
            assert_eq!(obey(&mut w, seq), Err(Reason::Replayed), "{seq}");
        }
        assert_eq!(obey(&mut w, 6), Ok(()));
        assert_eq!(obey(&mut w, 8), Ok(()));
        assert_eq!(w.highest, 10);
    }

    #[test]
    fn numbers_that_fell_out_of_the_window_are_too_old() {
        let mut w = Window::default();
        assert_eq!(obey(&mut w, 1), Ok(()));
        assert_eq!(obey(&mut w, 100), Ok(()));
        // 100 - 64 = 36 is the first number out of the window.
        assert_eq!(w.check(37), Ok(()));
        assert_eq!(w.check(36), Err(Reason::SequenceTooOld));
        assert_eq!(w.check(1), Err(Reason::SequenceTooOld));
        // A jump of more than the window forgets the whole map.
        assert_eq!(obey(&mut w, 1000), Ok(()));
        assert_eq!(w.map, 1);
        assert_eq!(w.check(999), Ok(()));
        assert_eq!(w.check(100), Err(Reason::SequenceTooOld));
    }

    #[test]
    fn zero_and_numbers_past_the_json_range_are_bad() {
        let w = Window::default();
        assert_eq!(w.check(0), Err(Reason::BadSequence));
        assert_eq!(w.check(MAX_SEQ + 1), Err(Reason::BadSequence));
        assert_eq!(w.check(u64::MAX), Err(Reason::BadSequence));
        assert_eq!(w.check(MAX_SEQ), Ok(()));
        let top = w.with(MAX_SEQ);
        assert_eq!(top.check(MAX_SEQ), Err(Reason::Replayed));
        assert_eq!(top.check(MAX_SEQ - 63), Ok(()));
        assert_eq!(top.check(MAX_SEQ - 64), Err(Reason::SequenceTooOld));
    }

    /// Against a plain set of every number obeyed: the window refuses exactly the
    /// numbers obeyed before, plus those too far below the highest.
    #[test]
    fn agrees_with_a_set_of_everything_obeyed() {
        use proptest::prelude::*;
        use std::collections::BTreeSet;
        proptest!(|(seqs in proptest::collection::vec(1u64..300, 1..200))| {
            let mut w = Window::default();
            let mut seen = BTreeSet::new();
            for seq in seqs {
                let highest = seen.iter().next_back().copied().unwrap_or(0);
                let want = if seen.contains(&seq) && highest - seq < REPLAY_WINDOW {
                    Err(Reason::Replayed)
                } else if highest >= seq + REPLAY_WINDOW {
                    Err(Reason::SequenceTooOld)
                } else {
                    Ok(())
                };
                prop_assert_eq!(obey(&mut w, seq), want);
                if want.is_ok() {
                    seen.insert(seq);
                }
                prop_assert_eq!(w.highest, seen.iter().next_back().copied().unwrap_or(0));
            }
        });
    }
}

//! The device's idea of the time: a monotonic uptime plus an offset that only
//! moves forward, set at build time and raised by authenticated tokens' `iat`.

/// Wall-clock estimate: `now = uptime + offset`, with `offset` never decreasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    offset: u64,
}

impl Clock {
    /// A clock that reads `floor` (unix seconds) at uptime 0.
    pub const fn new(floor: u64) -> Self {
        Self { offset: floor }
    }

    /// The current estimate (unix seconds) at `uptime` seconds since boot.
    pub const fn now(&self, uptime: u64) -> u64 {
        uptime.saturating_add(self.offset)
    }

    /// Moves the clock forward so that it reads at least `t` at `uptime`.
    /// Returns the (possibly new) current time. Never moves it back.
    pub fn raise_to(&mut self, t: u64, uptime: u64) -> u64 {
        if t > self.now(uptime) {
            self.offset = t.saturating_sub(uptime);
        }
        self.now(uptime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_only_moves_forward() {
        let mut c = Clock::new(1_000);
        assert_eq!(c.now(5), 1_005);
        assert_eq!(c.raise_to(900, 5), 1_005);
        assert_eq!(c.raise_to(2_000, 10), 2_000);
        // Later uptime keeps counting from the raised value.
        assert_eq!(c.now(70), 2_060);
        assert_eq!(c.raise_to(2_050, 70), 2_060);
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        let mut c = Clock::new(u64::MAX - 1);
        assert_eq!(c.now(10), u64::MAX);
        assert_eq!(c.raise_to(u64::MAX, 3), u64::MAX);
    }
}

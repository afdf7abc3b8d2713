//! Plain fakes of the output traits and of flash, for host tests and examples.

use core::convert::Infallible;

use crate::persist::{Counters, Persist, SaveFailed};

use embedded_hal::digital::{ErrorType as PinErrorType, OutputPin, StatefulOutputPin};
use embedded_hal::pwm::{ErrorType as PwmErrorType, SetDutyCycle};

/// An output pin that remembers its level.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FakePin {
    /// Current level.
    pub high: bool,
}

impl PinErrorType for FakePin {
    type Error = Infallible;
}

impl OutputPin for FakePin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.high = false;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.high = true;
        Ok(())
    }
}

impl StatefulOutputPin for FakePin {
    fn is_set_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.high)
    }
    fn is_set_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.high)
    }
}

/// A PWM channel with an 8-bit duty that remembers the last duty set.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FakeLed {
    /// Current duty, 0..=255.
    pub duty: u16,
}

impl PwmErrorType for FakeLed {
    type Error = Infallible;
}

impl SetDutyCycle for FakeLed {
    fn max_duty_cycle(&self) -> u16 {
        255
    }
    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), Infallible> {
        self.duty = duty;
        Ok(())
    }
}

/// A [`Persist`] that keeps the last saved state in RAM, and can be told to fail:
/// what a device with working (or broken) flash would hold after a reboot.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemoryStore {
    /// The last counters saved.
    pub counters: Option<Counters>,
    /// The last key record saved.
    pub keys: Option<heapless::Vec<u8, { crate::keys::RECORD_LEN }>>,
    /// When set, every save fails and changes nothing.
    pub fail: bool,
    /// Saves that completed.
    pub saves: usize,
}

impl Persist for MemoryStore {
    fn save_counters(&mut self, counters: &Counters) -> Result<(), SaveFailed> {
        if self.fail {
            return Err(SaveFailed);
        }
        self.counters = Some(*counters);
        self.saves += 1;
        Ok(())
    }

    fn save_keys(&mut self, record: &[u8]) -> Result<(), SaveFailed> {
        if self.fail {
            return Err(SaveFailed);
        }
        self.keys = Some(heapless::Vec::from_slice(record).map_err(|_| SaveFailed)?);
        self.saves += 1;
        Ok(())
    }
}

//! Plain fakes of the output traits, for host tests and examples.

use core::convert::Infallible;

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

//! Carrying out commands on the outputs, through `embedded-hal` traits.

use embedded_hal::digital::StatefulOutputPin;
use embedded_hal::pwm::SetDutyCycle;

use latchkey_protocol::{Command, Outcome, Reason};

/// The device's outputs: the lock (a pin, high = released) and a dimmable LED.
#[derive(Debug)]
pub struct Outputs<L, P> {
    lock: L,
    led: P,
    /// `SetDutyCycle` cannot be read back: the last level set (0 at boot).
    led_level: u8,
}

impl<L: StatefulOutputPin, P: SetDutyCycle> Outputs<L, P> {
    /// Takes the outputs. The lock is left as it is; the LED is assumed off.
    pub const fn new(lock: L, led: P) -> Self {
        Self {
            lock,
            led,
            led_level: 0,
        }
    }

    /// Carries out an (already authorized) command.
    ///
    /// # Errors
    /// [`Reason::OutputFault`] when a pin or PWM channel reports an error.
    pub fn execute(&mut self, command: Command) -> Result<Outcome, Reason> {
        match command {
            Command::Open => {
                self.lock.set_high().map_err(|_| Reason::OutputFault)?;
                Ok(Outcome::Opened)
            }
            Command::Close => {
                self.lock.set_low().map_err(|_| Reason::OutputFault)?;
                Ok(Outcome::Closed)
            }
            Command::Led(level) => {
                self.led
                    .set_duty_cycle_fraction(u16::from(level), 255)
                    .map_err(|_| Reason::OutputFault)?;
                self.led_level = level;
                Ok(Outcome::Led(level))
            }
            Command::Status => Ok(Outcome::Status {
                open: self.lock.is_set_high().map_err(|_| Reason::OutputFault)?,
                led: self.led_level,
            }),
            // `trust` changes keys, not outputs: no scope grants it, so it is never
            // authorized as a command and never reaches here.
            Command::Trust => Err(Reason::MissingScope),
        }
    }

    /// Gives the outputs back.
    pub fn release(self) -> (L, P) {
        (self.lock, self.led)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeLed, FakePin};

    #[test]
    fn commands_drive_the_outputs_and_status_reads_them_back() {
        let mut out = Outputs::new(FakePin::default(), FakeLed::default());
        assert_eq!(
            out.execute(Command::Status),
            Ok(Outcome::Status {
                open: false,
                led: 0
            })
        );
        assert_eq!(out.execute(Command::Open), Ok(Outcome::Opened));
        assert_eq!(out.execute(Command::Led(255)), Ok(Outcome::Led(255)));
        assert_eq!(
            out.execute(Command::Status),
            Ok(Outcome::Status {
                open: true,
                led: 255
            })
        );
        assert_eq!(out.execute(Command::Led(1)), Ok(Outcome::Led(1)));
        assert_eq!(out.execute(Command::Close), Ok(Outcome::Closed));
        let (lock, led) = out.release();
        assert!(!lock.high);
        // 1/255 of the fake's 255 steps.
        assert_eq!(led.duty, 1);
    }
}

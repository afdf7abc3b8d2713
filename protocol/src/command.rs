//! The commands a device carries out, their arguments, and how a token's `scope`
//! and `arg` claims grant them.

use crate::Reason;

/// The names of the commands a command token's `scope` can grant, in the order of
/// [`Command`]'s variants ([`Command::Trust`] is not one of them).
pub const COMMAND_NAMES: [&str; 4] = ["open", "close", "status", "led"];

/// A command the device can carry out, with its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `open`: release the lock output. No argument.
    Open,
    /// `close`: engage the lock output. No argument.
    Close,
    /// `status`: report the outputs. No argument.
    Status,
    /// `led <n>`: set the LED duty to `n`/255; the argument is `0`-`255`, one to
    /// three decimal digits.
    Led(u8),
    /// `trust`: change the device's command keys. No argument; its token is a
    /// trust statement signed by the root key (`lk-trust+jwt`, see
    /// [`crate::TrustStatement`]), which no `scope` can stand in for.
    Trust,
}

impl Command {
    /// The command's name, as written on a request line and in a token's `scope`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Command::Open => "open",
            Command::Close => "close",
            Command::Status => "status",
            Command::Led(_) => "led",
            Command::Trust => "trust",
        }
    }

    /// Whether a command token's `scope` can grant this command: every command
    /// but [`Command::Trust`], which only the root key authorizes. The server
    /// issues command tokens for these alone.
    #[must_use]
    pub const fn is_grantable(self) -> bool {
        !matches!(self, Command::Trust)
    }

    /// The command's argument, as bound into a token's `arg` claim.
    #[must_use]
    pub const fn argument(self) -> Option<u8> {
        match self {
            Command::Led(level) => Some(level),
            Command::Open | Command::Close | Command::Status | Command::Trust => None,
        }
    }

    /// Whether the command called `name` takes an argument; `None` for a name
    /// that is not a command. Names are lower case and matched exactly.
    #[must_use]
    pub fn takes_argument(name: &[u8]) -> Option<bool> {
        match name {
            b"open" | b"close" | b"status" | b"trust" => Some(false),
            b"led" => Some(true),
            _ => None,
        }
    }

    /// The command called `name` with `argument` (the argument's text, as on a
    /// request line).
    ///
    /// # Errors
    /// [`Reason::UnknownCommand`] for a name that is not a command;
    /// [`Reason::BadArgument`] when the argument is missing, not `0`-`255` in one
    /// to three decimal digits, or given to a command that takes none.
    pub fn parse(name: &[u8], argument: Option<&[u8]>) -> Result<Command, Reason> {
        let takes = Command::takes_argument(name).ok_or(Reason::UnknownCommand)?;
        match (takes, argument) {
            (false, None) => Ok(match name {
                b"open" => Command::Open,
                b"close" => Command::Close,
                b"trust" => Command::Trust,
                _ => Command::Status,
            }),
            (true, Some(text)) => parse_level(text).map(Command::Led),
            _ => Err(Reason::BadArgument),
        }
    }

    /// The command called `name` with an already numeric argument (the server's
    /// command line takes `--arg N`).
    ///
    /// # Errors
    /// As [`Command::parse`].
    pub fn with_argument(name: &str, argument: Option<u8>) -> Result<Command, Reason> {
        let takes = Command::takes_argument(name.as_bytes()).ok_or(Reason::UnknownCommand)?;
        match (takes, argument) {
            (false, None) => Command::parse(name.as_bytes(), None),
            (true, Some(level)) => Ok(Command::Led(level)),
            _ => Err(Reason::BadArgument),
        }
    }

    /// Whether a token's `scope` grants this command: `scope` is a list of command
    /// names separated by single spaces (as the characters of the decoded JSON
    /// string), and one of them must be this command's name exactly.
    /// [`Command::Trust`] is never granted this way.
    pub fn granted_by(self, scope: impl IntoIterator<Item = char>) -> bool {
        if !self.is_grantable() {
            return false;
        }
        let name = self.name();
        // Command names are ASCII, so their bytes are their characters.
        let mut want = name.bytes().map(char::from);
        let mut matching = true;
        for c in scope {
            if c == ' ' {
                if matching && want.next().is_none() {
                    return true;
                }
                want = name.bytes().map(char::from);
                matching = true;
            } else if matching && want.next() != Some(c) {
                matching = false;
            }
        }
        matching && want.next().is_none()
    }

    /// Whether a token's `arg` claim binds this command's argument: `led n` needs
    /// `"arg": n`, and a command without an argument needs no `arg` at all.
    #[must_use]
    pub fn bound_by(self, arg: ArgClaim) -> bool {
        match (self.argument(), arg) {
            (Some(level), ArgClaim::Integer(n)) => n == i64::from(level),
            (None, ArgClaim::Absent) => true,
            _ => false,
        }
    }
}

/// A token's `arg` claim as the device found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgClaim {
    /// The token has no `arg`.
    Absent,
    /// `arg` is a JSON integer.
    Integer(i64),
    /// `arg` is there but not an integer.
    Other,
}

/// `0`-`255` in one to three ASCII decimal digits (leading zeros allowed).
fn parse_level(text: &[u8]) -> Result<u8, Reason> {
    if text.is_empty() || text.len() > 3 {
        return Err(Reason::BadArgument);
    }
    let mut n: u16 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return Err(Reason::BadArgument);
        }
        n = n * 10 + u16::from(b - b'0');
    }
    u8::try_from(n).map_err(|_| Reason::BadArgument)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command's name and argument as they appear on a line.
    type Fields<'a> = (&'a [u8], Option<&'a [u8]>);

    #[test]
    fn every_command_and_argument_rule() {
        let ok: [(Fields<'_>, Command); 8] = [
            ((b"open", None), Command::Open),
            ((b"close", None), Command::Close),
            ((b"status", None), Command::Status),
            ((b"led", Some(b"0")), Command::Led(0)),
            ((b"led", Some(b"255")), Command::Led(255)),
            ((b"led", Some(b"007")), Command::Led(7)),
            ((b"led", Some(b"99")), Command::Led(99)),
            ((b"led", Some(b"1")), Command::Led(1)),
        ];
        for ((name, arg), want) in ok {
            assert_eq!(Command::parse(name, arg), Ok(want), "{name:?} {arg:?}");
            assert!(want.is_grantable());
            assert_eq!(want.name().as_bytes(), name);
            assert_eq!(
                Command::with_argument(want.name(), want.argument()),
                Ok(want)
            );
        }
        let bad: [(Fields<'_>, Reason); 13] = [
            ((b"OPEN", None), Reason::UnknownCommand),
            ((b"reboot", None), Reason::UnknownCommand),
            ((b"", None), Reason::UnknownCommand),
            ((b"open ", None), Reason::UnknownCommand),
            ((b"open", Some(b"1")), Reason::BadArgument),
            ((b"status", Some(b"")), Reason::BadArgument),
            ((b"led", None), Reason::BadArgument),
            ((b"led", Some(b"256")), Reason::BadArgument),
            ((b"led", Some(b"1000")), Reason::BadArgument),
            ((b"led", Some(b"0255")), Reason::BadArgument),
            ((b"led", Some(b"-1")), Reason::BadArgument),
            ((b"led", Some(b"+1")), Reason::BadArgument),
            ((b"led", Some(b"")), Reason::BadArgument),
        ];
        assert_eq!(Command::parse(b"trust", None), Ok(Command::Trust));
        assert_eq!(
            Command::parse(b"trust", Some(b"1")),
            Err(Reason::BadArgument)
        );
        for ((name, arg), want) in bad {
            assert_eq!(Command::parse(name, arg), Err(want), "{name:?} {arg:?}");
        }
        assert_eq!(
            Command::with_argument("led", None),
            Err(Reason::BadArgument)
        );
        assert_eq!(
            Command::with_argument("open", Some(1)),
            Err(Reason::BadArgument)
        );
        assert_eq!(
            Command::with_argument("nope", None),
            Err(Reason::UnknownCommand)
        );
        for (i, name) in COMMAND_NAMES.iter().enumerate() {
            let command = match i {
                0 => Command::Open,
                1 => Command::Close,
                2 => Command::Status,
                _ => Command::Led(0),
            };
            assert_eq!(command.name(), *name);
            assert_eq!(
                Command::takes_argument(name.as_bytes()),
                Some(command.argument().is_some())
            );
        }
    }

    #[test]
    fn scope_names_the_command_exactly() {
        let grants = |scope: &str, c: Command| c.granted_by(scope.chars());
        assert!(grants("open", Command::Open));
        assert!(grants("close open", Command::Open));
        assert!(grants("open status", Command::Status));
        assert!(grants("led", Command::Led(3)));
        assert!(!grants("opener", Command::Open));
        assert!(!grants("ope", Command::Open));
        assert!(!grants("xopen", Command::Open));
        assert!(!grants("", Command::Open));
        assert!(!grants("OPEN", Command::Open));
        assert!(!grants("close status", Command::Open));
        // Single spaces only separate; an empty name between two spaces names nothing.
        assert!(grants("close  open", Command::Open));
        assert!(!grants(" ", Command::Open));
        // Only the root key authorizes `trust`: no scope grants it.
        assert!(!grants("trust", Command::Trust));
        assert!(!Command::Trust.is_grantable());
        assert!(Command::Open.is_grantable() && Command::Led(1).is_grantable());
    }

    #[test]
    fn arg_binds_the_argument() {
        assert!(Command::Led(10).bound_by(ArgClaim::Integer(10)));
        assert!(!Command::Led(10).bound_by(ArgClaim::Integer(11)));
        assert!(!Command::Led(10).bound_by(ArgClaim::Absent));
        assert!(!Command::Led(10).bound_by(ArgClaim::Other));
        assert!(!Command::Led(0).bound_by(ArgClaim::Integer(256)));
        assert!(Command::Open.bound_by(ArgClaim::Absent));
        assert!(!Command::Open.bound_by(ArgClaim::Integer(0)));
        assert!(!Command::Status.bound_by(ArgClaim::Other));
    }
}

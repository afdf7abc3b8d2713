//! Golden transcripts: what a session said, with volatile parts (tokens) redacted,
//! compared with `tests/golden/<name>.txt` and rewritten only on purpose, when
//! `LATCHKEY_BLESS=1` (`cargo xtask test --bless`).

use std::path::{Path, PathBuf};

use crate::Error;

/// The committed transcripts: `tests/golden/`.
pub fn dir() -> PathBuf {
    crate::workspace_root().join("tests/golden")
}

/// Whether this run rewrites transcripts (`LATCHKEY_BLESS=1`).
pub fn blessing() -> bool {
    std::env::var_os("LATCHKEY_BLESS").is_some_and(|v| v == "1")
}

/// A transcript being recorded.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    text: String,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// A `# ...` comment line, to say what the next exchange is for.
    pub fn note(&mut self, text: &str) {
        self.line("# ", text);
    }

    /// A UART exchange: `> request` and `< answer`.
    pub fn uart(&mut self, request: &str, answer: &str) {
        self.line("> ", request);
        self.line("< ", answer);
    }

    /// A line written without waiting for an answer (a half line, say): `> text`.
    pub fn line_sent(&mut self, text: &str) {
        self.line("> ", text);
    }

    /// An HTTP exchange: `> METHOD path` and `< status` plus the body if any
    /// (`method` may be empty when `path` already says it).
    pub fn http(&mut self, method: &str, path: &str, status: u16, body: &str) {
        let request = if method.is_empty() {
            path.to_string()
        } else {
            format!("{method} {path}")
        };
        self.line("> ", &request);
        if body.is_empty() {
            self.line("< ", &status.to_string());
        } else {
            self.line("< ", &format!("{status} {body}"));
        }
    }

    fn line(&mut self, prefix: &str, text: &str) {
        self.text.push_str(prefix);
        self.text.push_str(&redact(text));
        self.text.push('\n');
    }

    /// The transcript so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Compares with (or, when blessing, writes) `tests/golden/<name>.txt`.
    ///
    /// # Errors
    /// As [`check_in`].
    pub fn check(&self, name: &str) -> Result<(), Error> {
        check_in(&dir(), name, &self.text, blessing())
    }
}

/// Replaces every JWT-shaped word (three base64url segments joined by dots, the first
/// starting with `eyJ`, i.e. a JSON object) with `<jwt>`: tokens differ on each run.
pub fn redact(text: &str) -> String {
    map_words(text, |word| {
        if is_jwt(word) {
            "<jwt>".to_owned()
        } else {
            word.to_owned()
        }
    })
}

/// `text` with every word (a run of base64url characters and dots, so a whole
/// compact token is one word) replaced by `f(word)`; everything else kept.
pub fn map_words(text: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            out.push_str(&f(word));
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].len() >= 2
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Compares `actual` with `<dir>/<name>.txt`, or writes it there when `bless` is set.
///
/// # Errors
/// `Error::Golden` with a line diff when they differ or the file is missing (and not
/// blessing); `Error::Io` when the file cannot be read or written.
pub fn check_in(dir: &Path, name: &str, actual: &str, bless: bool) -> Result<(), Error> {
    let path = dir.join(format!("{name}.txt"));
    if bless {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        return std::fs::write(&path, actual)
            .map_err(Error::io(format!("writing {}", path.display())));
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Golden(format!(
                "{} does not exist; create it with LATCHKEY_BLESS=1 \
                 (cargo xtask test --bless) and review it. The transcript was:\n{actual}",
                path.display()
            )));
        }
        Err(source) => {
            return Err(Error::Io {
                what: format!("reading {}", path.display()),
                source,
            });
        }
    };
    if expected == actual {
        return Ok(());
    }
    Err(Error::Golden(format!(
        "{} differs from this run (- golden, + now); if the change is intended, \
         rerun with LATCHKEY_BLESS=1 (cargo xtask test --bless):\n{}",
        path.display(),
        diff(&expected, actual)
    )))
}

/// A unified line diff (`similar`): lines only in `old` as `-`, only in `new` as `+`,
/// with three lines of context.
pub fn diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header("golden", "now")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir;

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl-_x";

    #[test]
    fn redacts_tokens_and_nothing_else() {
        let line = format!("open {TOKEN}");
        assert_eq!(redact(&line), "open <jwt>");
        let json = format!("{{\"access_token\":\"{TOKEN}\",\"v\":\"1.2.3\"}}");
        assert_eq!(
            redact(&json),
            "{\"access_token\":\"<jwt>\",\"v\":\"1.2.3\"}"
        );
        assert_eq!(redact("DENIED bad-signature"), "DENIED bad-signature");
        assert_eq!(redact("a.b.c eyJ.x"), "a.b.c eyJ.x");
    }

    #[test]
    fn missing_golden_fails_then_bless_writes_then_compare_passes() {
        let dir = temp_dir("golden").expect("temp dir");
        let mut t = Transcript::new();
        t.note("a granted command");
        t.uart(&format!("open {TOKEN}"), "OK opened");
        t.http(
            "POST",
            "/login",
            200,
            &format!("{{\"access_token\":\"{TOKEN}\"}}"),
        );
        let missing = check_in(dir.path(), "s", t.text(), false);
        assert!(matches!(missing, Err(Error::Golden(msg)) if msg.contains("LATCHKEY_BLESS=1")));
        check_in(dir.path(), "s", t.text(), true).expect("bless writes");
        let written = std::fs::read_to_string(dir.path().join("s.txt")).expect("written");
        assert_eq!(
            written,
            "# a granted command\n> open <jwt>\n< OK opened\n> POST /login\n< 200 {\"access_token\":\"<jwt>\"}\n"
        );
        check_in(dir.path(), "s", t.text(), false).expect("same transcript passes");
    }

    #[test]
    fn a_changed_answer_fails_with_a_diff() {
        let dir = temp_dir("golden").expect("temp dir");
        check_in(dir.path(), "s", "> open x\n< OK opened\n", true).expect("bless");
        let err = check_in(dir.path(), "s", "> open x\n< DENIED replayed\n", false);
        match err {
            Err(Error::Golden(msg)) => {
                assert!(msg.contains("\n > open x\n"));
                assert!(msg.contains("\n-< OK opened\n"));
                assert!(msg.contains("\n+< DENIED replayed\n"));
            }
            other => panic!("expected a golden mismatch, got {other:?}"),
        }
    }

    #[test]
    fn diff_of_equal_texts_has_no_changes() {
        assert_eq!(diff("a\nb\nc\n", "a\nb\nc\n"), "");
        assert_eq!(
            diff("a\nc\n", "a\nb\nc\n"),
            "--- golden\n+++ now\n@@ -1,2 +1,3 @@\n a\n+b\n c\n"
        );
    }
}

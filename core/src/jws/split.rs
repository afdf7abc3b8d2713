//! Splitting a compact token into its three base64url segments, and the rule
//! that more than three segments is `Malformed` whatever else fails.

use crate::Error;

/// The three base64url segments of a compact token, not yet trusted.
pub(super) struct Parts<'t> {
    pub(super) header: &'t [u8],
    pub(super) payload: &'t [u8],
    pub(super) signature: &'t [u8],
    pub(super) signing_input: &'t [u8],
}

/// Splits at the first and the last dot. Dots in between (more than three
/// segments) are not looked for here: [`three_segments`] reports them.
///
/// With `mac_chars`, the length of the MAC segment the key expects, the last dot
/// is first looked for where that puts it. A dot inside what is then taken for the
/// MAC makes its decode fail, and every failure with a dot in the payload or MAC
/// is `Malformed`; so the result is what the search from the back gives.
pub(super) fn split(token: &[u8], mac_chars: Option<usize>) -> Result<Parts<'_>, Error> {
    // The header is short and the MAC is at the end: look for the first dot from
    // the front and the last from the back.
    let first = crate::scan::position(token, b'.').ok_or(Error::Malformed)?;
    let expected = mac_chars
        .and_then(|n| token.len().checked_sub(n.saturating_add(1)))
        .filter(|&i| i > first && token.get(i) == Some(&b'.'));
    let last = match expected {
        Some(i) => i,
        None => crate::scan::rposition(token, b'.').ok_or(Error::Malformed)?,
    };
    let header = token.get(..first).ok_or(Error::Malformed)?;
    let signing_input = token.get(..last).ok_or(Error::Malformed)?;
    let payload = signing_input
        .get(first.saturating_add(1)..)
        .ok_or(Error::Malformed)?;
    let signature = token
        .get(last.saturating_add(1)..)
        .ok_or(Error::Malformed)?;
    if first == last || header.is_empty() || signature.is_empty() {
        return Err(Error::Malformed);
    }
    Ok(Parts {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// `result` of checking `parts`, unless the payload or the MAC holds a dot: then
/// the token has more than three segments and that is the error, whatever else
/// failed.
///
/// Looked for only when something failed: a payload or MAC with a dot never
/// succeeds (a dot is not base64url, so its decode refuses it), so a success needs
/// no scan and every failure reports exactly what a scan before anything else
/// would have.
pub(super) fn three_segments<T>(parts: &Parts<'_>, result: Result<T, Error>) -> Result<T, Error> {
    let dot = |segment| crate::scan::contains(segment, b'.');
    match result {
        Err(_) if dot(parts.payload) || dot(parts.signature) => Err(Error::Malformed),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split the MAC length points at is the one the search from the back makes.
    #[test]
    fn expected_mac_length_splits_as_the_search_from_the_back() {
        for token in [
            &b"aa.bb.cccc"[..],
            b"aa.bb.cc.c",
            b"aa.b.b.ccc",
            b"a.bbcccc",
            b"aa..cccc",
        ] {
            for n in 0..token.len() + 2 {
                let hinted = split(token, Some(n)).map(|p| (p.header, p.payload, p.signature));
                let plain = split(token, None).map(|p| (p.header, p.payload, p.signature));
                match (hinted, plain) {
                    (Ok(h), Ok(p)) if h != p => {
                        // Only when the MAC segment it takes holds a dot, which fails.
                        assert!(h.2.contains(&b'.'), "{token:?} {n}");
                    }
                    (h, p) => assert_eq!(h.is_ok(), p.is_ok(), "{token:?} {n}"),
                }
            }
        }
    }

    #[test]
    fn split_counts_segments() {
        assert_eq!(split(b"a.b", None).err(), Some(Error::Malformed));
        assert_eq!(split(b".b.c", None).err(), Some(Error::Malformed));
        assert_eq!(split(b"a.b.", None).err(), Some(Error::Malformed));
        let p = split(b"a..c", None).unwrap();
        assert_eq!(p.signing_input, b"a.");
        assert!(p.payload.is_empty());
    }
}

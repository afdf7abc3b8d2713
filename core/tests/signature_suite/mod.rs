//! One table-driven check for the Wycheproof signature suites in `data/wycheproof/`
//! (the project's copy of C2SP Wycheproof `testvectors_v1/`, commit dac1dd47, see
//! its README): every case is run, and its outcome must be its label's unless the
//! test's policy table names the case with a reason.

use std::path::PathBuf;

use latchkey_core::Error;
use serde_json::Value;

/// A case where the project does not follow the suite's label (or an `acceptable`
/// case, which has no label to follow), with the reason.
pub struct Policy {
    /// The case's `tcId`.
    pub tc_id: u64,
    /// Whether the project accepts the signature.
    pub accept: bool,
    /// Why the project goes this way.
    pub reason: &'static str,
}

/// What a suite run did, case by case.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cases labelled `valid` that were accepted.
    pub valid_accepted: usize,
    /// Cases labelled `invalid` that were refused.
    pub invalid_refused: usize,
    /// Of the refused cases, those refused because the group's key was
    /// ([`Error::InvalidKey`]) rather than the signature.
    pub refused_for_the_key: usize,
    /// Cases labelled `acceptable` (each must have a policy entry).
    pub acceptable: usize,
    /// Cases whose outcome came from the policy table instead of the label.
    pub by_policy: usize,
}

/// Bytes from the suite's hex strings.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs every case of `file` (a name under `tests/data/wycheproof/`): `key` builds
/// the group's key from the group's JSON, `verify` checks one message and
/// signature. Panics listing every case whose outcome is not what the label, or the
/// policy table, wants; a refusal must be [`Error::BadSignature`] or
/// [`Error::InvalidKey`].
pub fn run<K>(
    file: &str,
    key: impl Fn(&Value) -> Result<K, Error>,
    verify: impl Fn(&K, &[u8], &[u8]) -> Result<(), Error>,
    policy: &[Policy],
) -> Totals {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let suite: Value = serde_json::from_str(&text).unwrap();
    let mut totals = Totals::default();
    assert!(
        policy.iter().all(|p| !p.reason.is_empty()),
        "every policy entry says why"
    );
    let mut used = vec![false; policy.len()];
    let mut wrong = Vec::new();
    let mut cases = 0;
    for group in suite["testGroups"].as_array().unwrap() {
        let key = key(group);
        for t in group["tests"].as_array().unwrap() {
            cases += 1;
            let id = t["tcId"].as_u64().unwrap();
            let label = t["result"].as_str().unwrap();
            let rule = policy.iter().position(|p| p.tc_id == id);
            let accept = match (rule, label) {
                (Some(i), _) => {
                    used[i] = true;
                    // An entry that agrees with a valid/invalid label would hide nothing.
                    assert!(
                        label == "acceptable" || policy[i].accept != (label == "valid"),
                        "tcId {id}: the policy entry agrees with the label; remove it"
                    );
                    policy[i].accept
                }
                (None, "valid") => true,
                (None, "invalid") => false,
                (None, other) => panic!("tcId {id}: label {other:?} needs a policy entry"),
            };
            let msg = unhex(t["msg"].as_str().unwrap());
            let sig = unhex(t["sig"].as_str().unwrap());
            let got = key
                .as_ref()
                .map_err(|e| *e)
                .and_then(|k| verify(k, &msg, &sig));
            match (accept, got) {
                (true, Ok(())) => totals.valid_accepted += usize::from(label == "valid"),
                (false, Err(e @ (Error::BadSignature | Error::InvalidKey))) => {
                    totals.invalid_refused += usize::from(label == "invalid");
                    totals.refused_for_the_key += usize::from(e == Error::InvalidKey);
                }
                (_, got) => wrong.push(format!(
                    "tcId {id} ({label}, {}, {}): want accept={accept}{}, got {got:?}",
                    t["comment"],
                    t["flags"],
                    rule.map(|i| format!(" (policy: {})", policy[i].reason))
                        .unwrap_or_default()
                )),
            }
            totals.acceptable += usize::from(label == "acceptable");
            totals.by_policy += usize::from(rule.is_some());
        }
    }
    assert!(
        wrong.is_empty(),
        "{file}: {} cases:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(
        cases,
        suite["numberOfTests"].as_u64().unwrap(),
        "{file}: numberOfTests"
    );
    let stale: Vec<u64> = policy
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(p, _)| p.tc_id)
        .collect();
    assert!(
        stale.is_empty(),
        "{file}: policy entries for absent cases {stale:?}"
    );
    eprintln!("{file}: {cases} cases, {totals:?}");
    totals
}

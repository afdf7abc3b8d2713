//! Property tests: the parsers take any bytes without panicking, and every line
//! they accept or write reads back the same.

use latchkey_protocol::{
    Command, MAX_LINE_LEN, MAX_TOKEN_LEN, MAX_VERDICT_LEN, Outcome, Reason, Request, RequestId,
    Verdict, VerdictKind, parse_request, parse_verdict,
};
use proptest::prelude::*;

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::Open),
        Just(Command::Close),
        Just(Command::Status),
        any::<u8>().prop_map(Command::Led),
    ]
}

fn request_id() -> impl Strategy<Value = RequestId> {
    "[0-9A-Za-z]{1,8}".prop_map(|s| RequestId::new(&s).expect("the pattern is the rule"))
}

/// Bytes with the protocol's separators made common.
fn line_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_map(|b| match b {
            0..=29 => b' ',
            30..=33 => b'\r',
            34..=35 => 0x18,
            36..=45 => b'7',
            b => b,
        }),
        0..max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic_the_parsers(line in line_bytes(2 * MAX_LINE_LEN)) {
        match parse_request(&line) {
            Ok(request) => {
                prop_assert!(line.len() <= MAX_LINE_LEN);
                prop_assert!(request.token.len() <= MAX_TOKEN_LEN);
                prop_assert!(!line.contains(&0x18));
            }
            Err(refusal) => {
                // The answer to any line is a well-formed verdict.
                let verdict = refusal.verdict();
                let mut buf = [0u8; MAX_VERDICT_LEN];
                let text = verdict.encode(&mut buf).expect("every refusal is writable");
                prop_assert_eq!(parse_verdict(text), Ok(verdict));
            }
        }
        if let Ok(verdict) = parse_verdict(&line) {
            let mut buf = [0u8; MAX_VERDICT_LEN];
            let text = verdict.encode(&mut buf).expect("a parsed verdict is writable");
            prop_assert_eq!(parse_verdict(text), Ok(verdict));
        }
    }

    #[test]
    fn request_shaped_lines_never_panic(
        id in "[-0-9A-Za-z]{0,10}",
        name in "(open|close|status|led|x|)",
        arg in "[0-9]{0,4}",
        token in "[!-~]{0,800}",
    ) {
        let line = format!("{id} {name} {arg} {token}");
        if let Ok(request) = parse_request(line.as_bytes()) {
            // With both in place, the first two fields are the id and the command.
            if !id.is_empty() && !name.is_empty() {
                prop_assert_eq!(request.id.as_str(), id.as_str());
                prop_assert_eq!(request.command.name(), name.as_str());
            }
        }
    }

    #[test]
    fn requests_round_trip(
        id in request_id(),
        command in command(),
        token in proptest::collection::vec(b'!'..=b'~', 1..=MAX_TOKEN_LEN),
    ) {
        let request = Request { id, command, token: &token };
        let mut buf = [0u8; MAX_LINE_LEN];
        let line = request.encode(&mut buf).expect("a valid request fits");
        prop_assert!(line.len() <= MAX_LINE_LEN);
        prop_assert_eq!(parse_request(line), Ok(request));
    }

    #[test]
    fn accepted_lines_read_back_the_same_once_rewritten(line in line_bytes(64)) {
        if let Ok(request) = parse_request(&line) {
            let mut buf = [0u8; MAX_LINE_LEN];
            if let Ok(canonical) = request.encode(&mut buf) {
                prop_assert_eq!(parse_request(canonical), Ok(request));
            }
        }
    }

    #[test]
    fn verdicts_round_trip(
        id in proptest::option::of(request_id()),
        outcome in prop_oneof![
            Just(Outcome::Opened),
            Just(Outcome::Closed),
            any::<u8>().prop_map(Outcome::Led),
            (any::<bool>(), any::<u8>()).prop_map(|(open, led)| Outcome::Status { open, led }),
        ],
        reason in proptest::sample::select(Reason::ALL.to_vec()),
        core_code in "[a-z][a-z-]{0,23}",
    ) {
        let detail = outcome.detail();
        let core_refusal = Verdict { id, kind: VerdictKind::Denied, detail: &core_code };
        for verdict in [Verdict::ok(id, &detail), Verdict::refused(id, reason), core_refusal] {
            let mut buf = [0u8; MAX_VERDICT_LEN];
            let text = verdict.encode(&mut buf).expect("every verdict fits");
            let read = parse_verdict(text).expect("reads back");
            prop_assert_eq!(read, verdict);
        }
        let ok = Verdict::ok(id, &detail);
        prop_assert_eq!(ok.outcome(), Some(outcome));
        prop_assert_eq!(Verdict::refused(id, reason).reason(), Some(reason));
    }
}

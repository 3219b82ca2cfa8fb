//! `Instant`'s own RFC 3339 parser and formatter against chrono, which the
//! core used until its ~12 KB in the WebAssembly module were cut (see
//! `core/src/instant.rs`): the same texts are accepted, to the same instant,
//! and rejected. The reasons are the core's own, deliberately not chrono's
//! ("premature end of input" said nothing of what was missing): they name the
//! missing or wrong part and where it is (`reasons_name_the_part_and_where`).

use bangui_state_core::{ErrorKind, Instant};
use chrono::{DateTime, SecondsFormat, Utc};
use proptest::prelude::*;

/// The reasons the core gives for texts chrono reads: the instant's range.
const RANGE_REASONS: [&str; 2] = [
    "leap seconds cannot be represented",
    "outside years 0001 to 9999 in UTC",
];

/// What chrono makes of `text`, in the core's terms: the instant's Unix
/// microseconds, or the reason the core gives for an instant outside its
/// range (for a text chrono reads), or chrono's reason (for one it rejects).
fn chrono_reading(text: &str) -> Result<i64, String> {
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|e| e.to_string())?;
    let nanos = parsed.timestamp_subsec_nanos();
    if nanos >= 1_000_000_000 {
        return Err("leap seconds cannot be represented".into());
    }
    parsed
        .timestamp()
        .checked_mul(1_000_000)
        .and_then(|us| us.checked_add(i64::from(nanos / 1_000)))
        .filter(|us| (Instant::MIN.unix_micros()..=Instant::MAX.unix_micros()).contains(us))
        .ok_or_else(|| "outside years 0001 to 9999 in UTC".into())
}

fn core_reading(text: &str) -> Result<i64, String> {
    match Instant::parse_rfc3339(text) {
        Ok(instant) => Ok(instant.unix_micros()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInstant);
            let message = e.message();
            let quoted = serde_json::to_string(text).unwrap();
            let prefix =
                format!("expected an RFC 3339 instant like 2026-04-27T16:42:52.000000Z, got {quoted} (");
            let reason = message
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .unwrap_or_else(|| panic!("unexpected message for {text:?}: {message}"));
            Err(reason.to_owned())
        }
    }
}

/// The core accepts what chrono accepts, as the same instant, and rejects
/// the rest: an instant outside its range for the same reason, a text
/// chrono cannot read with a reason of its own.
fn assert_same(text: &str) {
    match (core_reading(text), chrono_reading(text)) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "for {text:?}"),
        (Err(ours), Err(theirs)) if RANGE_REASONS.contains(&theirs.as_str()) => {
            assert_eq!(ours, theirs, "for {text:?}");
        }
        (Err(ours), Err(_)) => {
            assert!(!RANGE_REASONS.contains(&ours.as_str()), "for {text:?}: {ours}");
        }
        (ours, theirs) => panic!("for {text:?}: the core reads {ours:?}, chrono {theirs:?}"),
    }
}

fn reason(text: &str) -> String {
    core_reading(text).unwrap_err()
}

#[test]
fn reasons_name_the_part_and_where() {
    for (text, want) in [
        // BanGUI's own mistakes: a naive datetime, and a word.
        (
            "2026-04-27T16:42:00",
            "the UTC offset is missing: end with Z, +HH:MM or -HH:MM",
        ),
        (
            "2026-04-27T16:42:00.123456",
            "the UTC offset is missing: end with Z, +HH:MM or -HH:MM",
        ),
        (
            "yesterday",
            r#"expected the year (YYYY) at character 1, found "y""#,
        ),
        ("", "the text is empty"),
        ("202", "the year (YYYY) is cut short"),
        ("2026", "the month (-MM) is missing"),
        ("2026-04-27", "the time (THH:MM:SS) is missing"),
        ("2026-04-27T16", "the minute (:MM) is missing"),
        ("2026-04-27T16:4", "the minute (:MM) is cut short"),
        ("2026-04-27T16:42", "the second (:SS) is missing"),
        (
            "2026/04/27T16:42:00Z",
            r#"expected the month (-MM) at character 5, found "/""#,
        ),
        (
            "2026-04-2éT16:42:52Z",
            r#"expected the day (-DD) at character 10, found "é""#,
        ),
        (
            "2026-04-27 16:42:52 UTC",
            r#"expected the UTC offset (Z, +HH:MM or -HH:MM) at character 20, found " ""#,
        ),
        (
            "2026-04-27T16:42:52€05:00",
            r#"expected the UTC offset (Z, +HH:MM or -HH:MM) at character 20, found "€""#,
        ),
        ("2026-04-27T16:42:52.", "the fraction (.ffffff) is cut short"),
        (
            "2026-04-27T16:42:52.Z",
            r#"expected the fraction (.ffffff) at character 21, found "Z""#,
        ),
        ("2026-04-27T16:42:52+05", "the offset's minute (:MM) is missing"),
        (
            "2026-04-27T16:42:52+0500",
            r#"expected the offset's minute (:MM) at character 23, found "0""#,
        ),
        (
            "2026-04-27T16:42:52\u{2212}05",
            "the offset's minute (:MM) is missing",
        ),
        (
            "2026-04-27T16:42:52Zjunk",
            "unexpected text after the UTC offset, from character 21",
        ),
        (
            "2026-04-27T16:42:52\u{2212}05:00junk",
            "unexpected text after the UTC offset, from character 26",
        ),
        ("2026-13-01T00:00:00Z", "month 13 is out of range (01 to 12)"),
        ("2026-00-01T00:00:00Z", "month 00 is out of range (01 to 12)"),
        ("2023-02-29T00:00:00Z", "2023-02 has no day 29"),
        ("2026-04-27T24:00:00Z", "hour 24 is out of range (00 to 23)"),
        ("2026-04-27T16:60:00Z", "minute 60 is out of range (00 to 59)"),
        ("2026-04-27T16:42:61Z", "second 61 is out of range (00 to 59)"),
        (
            "2026-04-27T16:42:52+24:00",
            "offset hour 24 is out of range (00 to 23)",
        ),
        (
            "2026-04-27T16:42:52+05:60",
            "offset minute 60 is out of range (00 to 59)",
        ),
    ] {
        assert_eq!(reason(text), want, "for {text:?}");
        assert!(
            DateTime::parse_from_rfc3339(text).is_err(),
            "chrono reads {text:?}"
        );
    }
}

#[test]
fn a_rejected_instant_in_an_event_keeps_its_path() {
    let event = r#"{"type": "jail_activated", "jail_name": "sshd", "at": "2026-04-27T16:42:00"}"#;
    let err = bangui_state_core::Event::from_json(event).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidEvent);
    assert_eq!(err.path(), "event.at");
    assert!(
        err.message()
            .ends_with("(the UTC offset is missing: end with Z, +HH:MM or -HH:MM)"),
        "{err}"
    );
}

/// Near-RFC 3339 texts: every field over and past its range, each separator
/// right or wrong, fractions of any length, every offset form.
fn near_rfc3339() -> impl Strategy<Value = String> {
    let two = |max: u32| (0..=max).prop_map(|n| format!("{n:02}"));
    (
        (0u32..=9999).prop_map(|y| format!("{y:04}")),
        prop::sample::select(vec!["-", "/", ""]),
        two(19),
        two(39),
        prop::sample::select(vec!["T", "t", " ", "x", "TT"]),
        two(29),
        two(69),
        two(69),
        prop_oneof![
            Just(String::new()),
            "[0-9]{1,12}".prop_map(|d| format!(".{d}")),
            Just(".".into()),
            Just(".x".into()),
        ],
        prop_oneof![
            Just("Z".to_owned()),
            Just("z".to_owned()),
            Just(String::new()),
            Just("UTC".to_owned()),
            (
                prop::sample::select(vec!["+", "-", "\u{2212}", "~"]),
                0u32..=99,
                prop::sample::select(vec![":", "", "-"]),
                0u32..=99
            )
                .prop_map(|(sign, h, colon, m)| format!("{sign}{h:02}{colon}{m:02}")),
            "[+-][0-9:]{0,4}",
        ],
        prop::sample::select(vec!["", "", "", " ", "x", "0", "é"]),
    )
        .prop_map(|(y, dash, mo, d, sep, h, mi, s, frac, off, tail)| {
            format!("{y}{dash}{mo}{dash}{d}{sep}{h}:{mi}:{s}{frac}{off}{tail}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn near_rfc3339_texts_read_as_chrono_reads_them(text in near_rfc3339()) {
        assert_same(&text);
    }

    #[test]
    fn every_prefix_and_one_byte_change_reads_as_chrono_reads_it(
        text in near_rfc3339(),
        cut in any::<prop::sample::Index>(),
        replacement in prop::sample::select(vec!['0', '9', ':', '-', '.', 'T', 'Z', '+', ' ', 'é', '\u{2212}']),
    ) {
        let chars: Vec<char> = text.chars().collect();
        let at = cut.index(chars.len());
        let prefix: String = chars[..at].iter().collect();
        assert_same(&prefix);
        let mut changed = chars.clone();
        changed[at] = replacement;
        assert_same(&changed.iter().collect::<String>());
    }

    #[test]
    fn any_text_reads_as_chrono_reads_it(text in "\\PC{0,40}") {
        assert_same(&text);
    }

    #[test]
    fn formatting_matches_chrono(
        micros in Instant::MIN.unix_micros()..=Instant::MAX.unix_micros(),
    ) {
        let ours = Instant::from_unix_micros(micros).unwrap().to_string();
        let theirs = DateTime::<Utc>::from_timestamp_micros(micros)
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(Instant::parse_rfc3339(&ours).unwrap().unix_micros(), micros);
    }
}

#[test]
fn edges_read_as_chrono_reads_them() {
    for text in [
        "0000-12-31T23:59:59.999999-00:01",
        "0001-01-01T00:00:00Z",
        "0000-12-31T23:59:59Z",
        "9999-12-31T23:59:59.9999999Z",
        "9999-12-31T23:59:59-00:01",
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:60.5+01:00",
        "2024-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "2026-04-27T16:42:52+23:59",
        "2026-04-27T16:42:52+24:00",
        "2026-04-27T16:42:52\u{2212}05:00",
        "2026-04-27T16:42:52.Z",
        "2026-04-27T16:42:52.",
        "2026-04-27T16:42:52+05",
        "2026-04-27T16:42:52+05:6",
        "2026-04-27T16:42:52+05:60",
        "2026-04-27T16:42:52+5:00",
        "2026-04-27T16:42:52",
        "2026-04-27T24:00:00Z",
        "2026-04-27T16:42:52Zjunk",
        "2026-04-2éT16:42:52Z",
        "1969-12-31T23:59:59.9999999Z",
    ] {
        assert_same(text);
    }
}

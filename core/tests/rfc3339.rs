//! `Instant`'s own RFC 3339 parser and formatter against chrono, which the
//! core used until its ~12 KB in the WebAssembly module were cut (see
//! `core/src/instant.rs`): the same texts are accepted, to the same instant,
//! and a rejected text gives chrono's reason.

use bangui_state_core::{ErrorKind, Instant};
use chrono::{DateTime, SecondsFormat, Utc};
use proptest::prelude::*;

/// What chrono makes of `text`, in the core's terms: the instant's Unix
/// microseconds, or the reason the core's message carries in parentheses.
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

fn assert_same(text: &str) {
    assert_eq!(core_reading(text), chrono_reading(text), "for {text:?}");
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

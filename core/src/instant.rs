//! UTC instants with microsecond precision, as Python's aware `datetime`.

use alloc::format;
use chrono::{DateTime, Datelike, Timelike, Utc};
use core::fmt;
use serde::{Serialize, Serializer};

use crate::error::{Error, ErrorKind};

/// Microseconds in one second.
pub const MICROS_PER_SECOND: i64 = 1_000_000;

/// A UTC instant, counted in microseconds since the Unix epoch.
///
/// The range is Python's `datetime`: `0001-01-01T00:00:00.000000Z` to
/// `9999-12-31T23:59:59.999999Z`, so every instant has one
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` form and every seed computation on it is
/// defined.
///
/// ```
/// use bangui_state_core::Instant;
/// let t = Instant::parse_rfc3339("2026-04-27T18:42:52.5+02:00").unwrap();
/// assert_eq!(t.to_string(), "2026-04-27T16:42:52.500000Z");
/// assert_eq!(Instant::from_unix_micros(t.unix_micros()).unwrap(), t);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

impl Instant {
    /// The earliest instant: `0001-01-01T00:00:00.000000Z`.
    pub const MIN: Instant = Instant(-62_135_596_800 * MICROS_PER_SECOND);
    /// The latest instant: `9999-12-31T23:59:59.999999Z`.
    pub const MAX: Instant = Instant(253_402_300_800 * MICROS_PER_SECOND - 1);

    /// The instant `micros` microseconds after the Unix epoch, or an
    /// [`ErrorKind::InvalidInstant`] error outside the supported range.
    pub fn from_unix_micros(micros: i64) -> Result<Instant, Error> {
        if (Self::MIN.0..=Self::MAX.0).contains(&micros) {
            Ok(Instant(micros))
        } else {
            Err(Error::new(
                ErrorKind::InvalidInstant,
                "",
                format!(
                    "{micros} Unix microseconds is outside the supported range \
                     (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z)"
                ),
            ))
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 timestamp with any offset, normalising it to UTC and
    /// truncating digits finer than the microsecond.
    pub fn parse_rfc3339(text: &str) -> Result<Instant, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidInstant,
                "",
                format!(
                    "expected an RFC 3339 instant like 2026-04-27T16:42:52.000000Z, got {text:?} ({why})"
                ),
            )
        };
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|e| invalid(&format!("{e}")))?;
        let nanos = parsed.timestamp_subsec_nanos();
        if nanos >= 1_000_000_000 {
            return Err(invalid("leap seconds cannot be represented"));
        }
        parsed
            .timestamp()
            .checked_mul(MICROS_PER_SECOND)
            .and_then(|us| us.checked_add(i64::from(nanos / 1_000)))
            .and_then(|us| Instant::from_unix_micros(us).ok())
            .ok_or_else(|| invalid("outside years 0001 to 9999 in UTC"))
    }

    /// `self - earlier` in microseconds (negative when `earlier` is later).
    /// Never overflows: both instants lie in the supported range.
    pub const fn micros_since(self, earlier: Instant) -> i64 {
        self.0 - earlier.0
    }

    /// `self + micros`, or `None` past the supported range.
    pub fn checked_add_micros(self, micros: i64) -> Option<Instant> {
        self.0
            .checked_add(micros)
            .and_then(|us| Instant::from_unix_micros(us).ok())
    }
}

impl fmt::Display for Instant {
    /// Always `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // In range by construction, so the conversion cannot fail.
        let t = DateTime::<Utc>::from_timestamp_micros(self.0).ok_or(fmt::Error)?;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_micros()
        )
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Seconds in `micros` microseconds, exactly as Python's
/// `timedelta.total_seconds()`: the integer true division `micros / 10**6`,
/// correctly rounded to the nearest `f64` (ties to even).
pub fn micros_to_seconds(micros: i64) -> f64 {
    let magnitude = micros.unsigned_abs();
    let seconds = if magnitude < (1 << 53) {
        // Both operands are exact doubles, and IEEE division rounds once.
        magnitude as f64 / 1e6
    } else {
        // Beyond 2^53 the integer itself would round first. Scale so the
        // quotient has at least 55 bits, fold the remainder into a sticky bit
        // below the rounding position, and round once on conversion.
        let bits = 64 - magnitude.leading_zeros();
        let shift = 75 - bits;
        let scaled = u128::from(magnitude) << shift;
        let quotient = scaled / 1_000_000;
        let sticky = u128::from(scaled % 1_000_000 != 0);
        let power_of_two = f64::from_bits(u64::from(1023 - shift) << 52);
        (quotient | sticky) as f64 * power_of_two
    };
    if micros < 0 { -seconds } else { seconds }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn output_is_utc_with_six_fraction_digits() {
        let t = Instant::parse_rfc3339("2026-04-27T18:42:52+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-04-27T16:42:52.000000Z");
    }

    #[test]
    fn finer_than_microsecond_is_truncated() {
        let t = Instant::parse_rfc3339("2026-04-27T16:42:52.123456999Z").unwrap();
        assert_eq!(t.to_string(), "2026-04-27T16:42:52.123456Z");
        let before_epoch = Instant::parse_rfc3339("1969-12-31T23:59:59.9999999Z").unwrap();
        assert_eq!(before_epoch.to_string(), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn range_is_pythons_datetime() {
        assert_eq!(Instant::MIN.to_string(), "0001-01-01T00:00:00.000000Z");
        assert_eq!(Instant::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
        assert!(Instant::from_unix_micros(Instant::MAX.unix_micros() + 1).is_err());
        assert!(Instant::from_unix_micros(Instant::MIN.unix_micros() - 1).is_err());
        let err = Instant::parse_rfc3339("9999-12-31T23:59:59-01:00").unwrap_err();
        assert!(err.message().contains("outside years"), "{err}");
    }

    #[test]
    fn rejects_text_that_is_not_rfc3339() {
        for bad in [
            "",
            "2026-04-27",
            "2026-04-27T16:42:52",
            "yesterday",
            "2026-13-01T00:00:00Z",
        ] {
            let err = Instant::parse_rfc3339(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInstant);
            assert!(err.message().contains("expected an RFC 3339 instant"), "{err}");
        }
    }

    #[test]
    fn rejects_leap_seconds() {
        let err = Instant::parse_rfc3339("2016-12-31T23:59:60Z").unwrap_err();
        assert!(err.message().contains("leap seconds"), "{err}");
    }

    #[test]
    fn seconds_match_python_total_seconds() {
        // Values computed with CPython: timedelta(microseconds=n).total_seconds().
        assert_eq!(micros_to_seconds(12_000_000), 12.0);
        assert_eq!(micros_to_seconds(60_000_000), 60.0);
        assert_eq!(micros_to_seconds(60_000_001), 60.000001);
        assert_eq!(micros_to_seconds(-1), -1e-06);
        assert_eq!(micros_to_seconds(0), 0.0);
        assert_eq!(micros_to_seconds(123_456_789), 123.456789);
        // Beyond 2^53 microseconds the naive `n as f64 / 1e6` rounds twice.
        assert_eq!(micros_to_seconds(9_007_199_254_740_993), 9007199254.740993);
        assert_eq!(micros_to_seconds(76_982_702_851_241_020), 76982702851.24101);
        assert_eq!(micros_to_seconds(-227_840_475_888_798_747), -227840475888.79874);
        assert_eq!(micros_to_seconds(130_037_907_869_779_478), 130037907869.77948);
        assert_eq!(micros_to_seconds(315_537_897_599_999_999), 315537897600.0);
    }
}

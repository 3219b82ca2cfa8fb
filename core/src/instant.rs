//! UTC instants with microsecond precision, as Python's aware `datetime`.

use alloc::format;
use core::fmt;
use serde::{Serialize, Serializer};

use crate::error::{Error, ErrorKind};
use crate::json::quoted;

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
    ///
    /// Accepts what chrono's `DateTime::parse_from_rfc3339` accepts (`T`, `t`
    /// or a space between date and time, `Z`/`z` or `±HH:MM` with `+`, `-` or
    /// U+2212, any number of fraction digits); a test checks it against
    /// chrono. The reason in parentheses in the error says which part is
    /// missing or wrong, and where:
    ///
    /// ```
    /// use bangui_state_core::Instant;
    /// let err = Instant::parse_rfc3339("2026-04-27T16:42:00").unwrap_err();
    /// assert!(err.message().ends_with("(the UTC offset is missing: end with Z, +HH:MM or -HH:MM)"));
    /// let err = Instant::parse_rfc3339("yesterday").unwrap_err();
    /// assert!(err.message().ends_with(r#"(expected the year (YYYY) at character 1, found "y")"#));
    /// ```
    pub fn parse_rfc3339(text: &str) -> Result<Instant, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidInstant,
                "",
                format!(
                    "expected an RFC 3339 instant like 2026-04-27T16:42:52.000000Z, got {} ({why})",
                    quoted(text)
                ),
            )
        };
        let (seconds, nanos) = rfc3339::parse(text).map_err(|e| invalid(&e.reason(text)))?;
        if nanos >= 1_000_000_000 {
            return Err(invalid("leap seconds cannot be represented"));
        }
        seconds
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
        let seconds = self.0.div_euclid(MICROS_PER_SECOND);
        let micros = self.0.rem_euclid(MICROS_PER_SECOND);
        let (year, month, day) = rfc3339::civil_from_days(seconds.div_euclid(86_400));
        let second_of_day = seconds.rem_euclid(86_400);
        // Fixed-width digits into a buffer: the range keeps the year at four
        // digits, and this avoids `core::fmt`'s padding machinery.
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            for slot in text[at..at + width].iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, i64::from(month));
        put(8, 2, i64::from(day));
        put(11, 2, second_of_day / 3_600);
        put(14, 2, second_of_day / 60 % 60);
        put(17, 2, second_of_day % 60);
        put(20, 6, micros);
        // Only ASCII digits were written into an ASCII template.
        f.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)
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

/// RFC 3339 text to and from civil dates, on bytes only (no `str` slicing,
/// whose panic paths would pull `char` formatting into the WebAssembly module).
mod rfc3339 {
    use alloc::format;
    use alloc::string::String;

    use crate::json::quoted;

    // The parts of an RFC 3339 timestamp, each with its leading separator,
    // as the error messages name them.
    const YEAR: &str = "the year (YYYY)";
    const MONTH: &str = "the month (-MM)";
    const DAY: &str = "the day (-DD)";
    const TIME: &str = "the time (THH:MM:SS)";
    const MINUTE: &str = "the minute (:MM)";
    const SECOND: &str = "the second (:SS)";
    const FRACTION: &str = "the fraction (.ffffff)";
    const OFFSET: &str = "the UTC offset (Z, +HH:MM or -HH:MM)";
    const OFFSET_MINUTE: &str = "the offset's minute (:MM)";

    /// Why a text is not an RFC 3339 timestamp: the first problem from the left.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum Reject {
        /// The text ends where `part` should begin.
        Missing(&'static str),
        /// The text ends inside `part`.
        CutShort(&'static str),
        /// The byte at `at` cannot start or continue `part`.
        Unexpected { part: &'static str, at: usize },
        /// Text follows a complete timestamp, from byte `at`.
        Trailing { at: usize },
        /// A field outside its range, and the byte its two digits start at.
        OutOfRange { field: &'static Field, at: usize },
        /// A day the month does not have (the date is the text's first 10 bytes).
        NoSuchDay,
    }

    impl Reject {
        /// The reason, for the error message; `text` is the text parsed.
        pub(super) fn reason(self, text: &str) -> String {
            match self {
                Reject::Missing(YEAR) => String::from("the text is empty"),
                Reject::Missing(OFFSET) => {
                    String::from("the UTC offset is missing: end with Z, +HH:MM or -HH:MM")
                }
                Reject::Missing(part) => format!("{part} is missing"),
                Reject::CutShort(part) => format!("{part} is cut short"),
                Reject::Unexpected { part, at } => format!(
                    "expected {part} at character {}, found {}",
                    position(text, at),
                    found(text, at)
                ),
                Reject::Trailing { at } => format!(
                    "unexpected text after the UTC offset, from character {}",
                    position(text, at)
                ),
                // Numbers are quoted from the text: no integer formatting
                // (and its padding code) in the WebAssembly module.
                Reject::OutOfRange { field, at } => format!(
                    "{} {} is out of range ({})",
                    field.name,
                    slice(text, at, 2),
                    field.range
                ),
                Reject::NoSuchDay => format!("{} has no day {}", slice(text, 0, 7), slice(text, 8, 2)),
            }
        }
    }

    /// `length` bytes of `text` from byte `at` (ASCII digits where used).
    fn slice(text: &str, at: usize, length: usize) -> &str {
        text.get(at..at + length).unwrap_or_default()
    }

    /// The 1-based character position of byte `at`, which always follows
    /// whole characters (only ASCII and U+2212 are ever consumed).
    fn position(text: &str, at: usize) -> usize {
        // The bytes before `at` that start a character (not UTF-8
        // continuation bytes, 0b10xx_xxxx). Not `chars().count()`: a second
        // caller of core's character counter moves it out of
        // `Formatter::pad` into a function of its own (~200 B more wasm).
        text.bytes().take(at).filter(|b| b & 0xC0 != 0x80).count() + 1
    }

    /// The character at byte `at`, quoted.
    fn found(text: &str, at: usize) -> String {
        let mut buffer = [0; 4];
        match text.get(at..).and_then(|rest| rest.chars().next()) {
            Some(c) => quoted(c.encode_utf8(&mut buffer)),
            None => String::from("the end"),
        }
    }

    /// Reads `text` byte by byte, naming the part being read when it fails.
    struct Cursor<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl Cursor<'_> {
        /// Consumes one byte that `accept` takes; `starts` when it is the
        /// first byte of `part` (the text ending there means `part` is missing).
        fn byte(&mut self, part: &'static str, starts: bool, accept: fn(u8) -> bool) -> Result<u8, Reject> {
            match self.bytes.get(self.at) {
                Some(&b) if accept(b) => {
                    self.at += 1;
                    Ok(b)
                }
                Some(_) => Err(Reject::Unexpected { part, at: self.at }),
                None if starts => Err(Reject::Missing(part)),
                None => Err(Reject::CutShort(part)),
            }
        }

        /// `count` digits of `part`, as a number.
        fn digits(&mut self, part: &'static str, starts: bool, count: usize) -> Result<u32, Reject> {
            let mut value = 0;
            for i in 0..count {
                let digit = self.byte(part, starts && i == 0, |b| b.is_ascii_digit())?;
                value = value * 10 + u32::from(digit - b'0');
            }
            Ok(value)
        }

        /// A separator that `accept` takes, then two digits: `part`.
        fn field(&mut self, part: &'static str, accept: fn(u8) -> bool) -> Result<u32, Reject> {
            self.byte(part, true, accept)?;
            self.digits(part, false, 2)
        }
    }

    /// A two-digit field with a range: its name and range as the error
    /// messages say them. (One reference in [`Reject`] rather than three
    /// values: a smaller error to pass up, less code in WebAssembly.)
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Field {
        name: &'static str,
        min: u32,
        max: u32,
        range: &'static str,
    }

    const fn field(name: &'static str, min: u32, max: u32, range: &'static str) -> Field {
        Field {
            name,
            min,
            max,
            range,
        }
    }

    static MONTH_FIELD: Field = field("month", 1, 12, "01 to 12");
    static HOUR_FIELD: Field = field("hour", 0, 23, "00 to 23");
    static MINUTE_FIELD: Field = field("minute", 0, 59, "00 to 59");
    static SECOND_FIELD: Field = field("second", 0, 59, "00 to 59");
    static OFFSET_HOUR_FIELD: Field = field("offset hour", 0, 23, "00 to 23");
    static OFFSET_MINUTE_FIELD: Field = field("offset minute", 0, 59, "00 to 59");

    /// `value`, the two digits just read, if it lies in `field`'s range.
    fn in_range(c: &Cursor<'_>, field: &'static Field, value: u32) -> Result<u32, Reject> {
        if !(field.min..=field.max).contains(&value) {
            return Err(Reject::OutOfRange { field, at: c.at - 2 });
        }
        Ok(value)
    }

    /// `text` as (Unix seconds, nanoseconds of the second), the nanoseconds
    /// at or above 10^9 for a leap second (`:60`), as chrono's `timestamp()`
    /// and `timestamp_subsec_nanos()`. Accepts exactly what chrono's
    /// `DateTime::parse_from_rfc3339` accepts (tests/rfc3339.rs checks it).
    pub(super) fn parse(text: &str) -> Result<(i64, u32), Reject> {
        let c = &mut Cursor {
            bytes: text.as_bytes(),
            at: 0,
        };
        let year = c.digits(YEAR, true, 4)?;
        let month = c.field(MONTH, |b| b == b'-')?;
        let month = in_range(c, &MONTH_FIELD, month)?;
        let day = c.field(DAY, |b| b == b'-')?;
        if day == 0 || day > days_in_month(year, month) {
            return Err(Reject::NoSuchDay);
        }
        let hour = c.field(TIME, |b| matches!(b, b'T' | b't' | b' '))?;
        let hour = in_range(c, &HOUR_FIELD, hour)?;
        let minute = c.field(MINUTE, |b| b == b':')?;
        let minute = in_range(c, &MINUTE_FIELD, minute)?;
        let (second, mut nanos) = match c.field(SECOND, |b| b == b':')? {
            60 => (59, 1_000_000_000), // a leap second, as chrono keeps it
            second => (in_range(c, &SECOND_FIELD, second)?, 0),
        };
        if c.bytes.get(c.at) == Some(&b'.') {
            c.at += 1;
            // At least one digit; digits past the ninth are skipped.
            let mut scale = 100_000_000;
            nanos += c.digits(FRACTION, false, 1)? * scale;
            while let Some(&b @ b'0'..=b'9') = c.bytes.get(c.at) {
                scale /= 10;
                nanos += u32::from(b - b'0') * scale;
                c.at += 1;
            }
        }
        let offset = offset(c)?;
        if c.at < c.bytes.len() {
            return Err(Reject::Trailing { at: c.at });
        }
        let days = days_from_civil(i64::from(year), month, day);
        let local = days * 86_400 + i64::from(hour * 3_600 + minute * 60 + second);
        Ok((local - i64::from(offset), nanos))
    }

    /// `Z`, `z` or `±HH:MM` (with `+`, `-` or U+2212), as seconds east of UTC.
    fn offset(c: &mut Cursor<'_>) -> Result<i32, Reject> {
        let negative = match c.byte(OFFSET, true, |b| matches!(b, b'Z' | b'z' | b'+' | b'-' | 0xE2))? {
            b'Z' | b'z' => return Ok(0),
            b'+' => false,
            b'-' => true,
            // U+2212 MINUS SIGN (E2 88 92), which chrono accepts too.
            _ if c.bytes.get(c.at..c.at + 2) == Some(&[0x88, 0x92]) => {
                c.at += 2;
                true
            }
            _ => {
                return Err(Reject::Unexpected {
                    part: OFFSET,
                    at: c.at - 1,
                });
            }
        };
        let hours = c.digits(OFFSET, false, 2)?;
        let hours = in_range(c, &OFFSET_HOUR_FIELD, hours)?;
        let minutes = c.field(OFFSET_MINUTE, |b| b == b':')?;
        let minutes = in_range(c, &OFFSET_MINUTE_FIELD, minutes)?;
        let seconds = (hours * 3_600 + minutes * 60) as i32;
        Ok(if negative { -seconds } else { seconds })
    }

    fn is_leap_year(year: u32) -> bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    fn days_in_month(year: u32, month: u32) -> u32 {
        match month {
            2 if is_leap_year(year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
    /// `days_from_civil`, eras of 400 years).
    pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = i64::from((month + 9) % 12);
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The inverse of [`days_from_civil`]: (year, month, day).
    pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
        let days = days + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u32;
        let year = year_of_era + era * 400;
        (if month <= 2 { year + 1 } else { year }, month, day)
    }
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

//! Packet timestamps and their text form (UTC, RFC 3339).

use std::fmt;

/// Nanoseconds since the Unix epoch, as written in the capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    pub fn from_secs_nanos(secs: i64, nanos: i64) -> Self {
        Timestamp(
            secs.saturating_mul(Self::NANOS_PER_SEC)
                .saturating_add(nanos),
        )
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(Self::NANOS_PER_SEC)
    }

    pub fn subsec_nanos(self) -> i64 {
        self.0.rem_euclid(Self::NANOS_PER_SEC)
    }

    /// Seconds from `earlier` to `self`, as a float (negative if `earlier` is later).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.0.saturating_sub(earlier.0)) as f64 / Self::NANOS_PER_SEC as f64
    }

    pub fn saturating_add_secs(self, secs: i64) -> Self {
        Timestamp(
            self.0
                .saturating_add(secs.saturating_mul(Self::NANOS_PER_SEC)),
        )
    }

    /// `2026-11-01T20:00:00.123456Z` (microsecond precision, UTC).
    pub fn rfc3339(self) -> String {
        self.to_string()
    }

    /// The UTC day: `2026-11-01`.
    pub fn day(self) -> String {
        let digits = self.rfc3339_digits();
        String::from_utf8_lossy(digits.get(..10).unwrap_or_default()).into_owned()
    }

    /// Midnight (UTC) of a day given as `2026-11-01`; `None` if it is not a date.
    pub fn parse_day(s: &str) -> Option<Timestamp> {
        let mut parts = s.trim().splitn(3, '-');
        let y: i64 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1678..=2261).contains(&y) {
            return None;
        }
        let days = days_from_civil(y, m, d);
        // a day past the month's end (02-30) would fall in the next month: refused
        if civil_from_days(days) != (y, m, d) {
            return None;
        }
        Some(Timestamp(
            days.checked_mul(86_400)?.checked_mul(Self::NANOS_PER_SEC)?,
        ))
    }
}

impl Timestamp {
    /// The RFC 3339 text, digit by digit: reports write one or more per flow, and the general
    /// formatting machinery costs ten times as much. Nanoseconds in an `i64` reach only the
    /// years 1677 to 2262, so four digits always hold the year.
    fn rfc3339_digits(self) -> [u8; 27] {
        let secs = self.secs();
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400) as u32;
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                if let Some(b) = out.get_mut(i) {
                    *b = b'0' + (value % 10) as u8;
                }
                value /= 10;
            }
        };
        put(0, 4, y.clamp(0, 9999) as u32);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, rem / 3600);
        put(14, 2, (rem % 3600) / 60);
        put(17, 2, rem % 60);
        put(20, 6, (self.subsec_nanos() / 1000) as u32);
        out
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.rfc3339_digits();
        f.write_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

/// In reports a timestamp is its RFC 3339 text.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.rfc3339_digits();
        s.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The wall clock, for the report's generation time only (never for packets).
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000Z");
        // 2026-11-07T20:00:00Z
        let t = Timestamp::from_secs_nanos(1_794_081_600, 123_456_789);
        assert_eq!(t.to_string(), "2026-11-07T20:00:00.123456Z");
        // a leap day
        let t = Timestamp::from_secs_nanos(951_782_400, 0);
        assert_eq!(t.to_string(), "2000-02-29T00:00:00.000000Z");
    }

    proptest::proptest! {
        /// The digit-by-digit text is the general formatting's, to the microsecond.
        #[test]
        fn digits_match_the_general_formatting(n in proptest::num::i64::ANY) {
            let t = Timestamp(n);
            let secs = t.secs();
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let rem = secs.rem_euclid(86_400);
            let general = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
                rem / 3600,
                (rem % 3600) / 60,
                rem % 60,
                t.subsec_nanos() / 1000
            );
            // every instant an i64 holds has a four-digit year, which the digits hold exactly
            proptest::prop_assert!((0..=9999).contains(&y));
            proptest::prop_assert_eq!(t.to_string(), general.clone());
            proptest::prop_assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{general}\"")
            );
        }
    }

    #[test]
    fn days_parse_and_print_back() {
        let t = Timestamp::parse_day("2026-12-06").unwrap();
        assert_eq!(t.rfc3339(), "2026-12-06T00:00:00.000000Z");
        assert_eq!(t.day(), "2026-12-06");
        assert_eq!(
            Timestamp::parse_day("2024-02-29").unwrap().day(),
            "2024-02-29"
        );
        assert_eq!(Timestamp(0).day(), "1970-01-01");
        assert_eq!(
            Timestamp::parse_day("1969-12-31").unwrap().0,
            -86_400_000_000_000
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1",
            "yesterday",
            "2026-00-10",
            "",
        ] {
            assert_eq!(Timestamp::parse_day(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_day_parses_back_to_its_midnight(days in -100_000i64..100_000) {
            let t = Timestamp(days * 86_400 * Timestamp::NANOS_PER_SEC);
            proptest::prop_assert_eq!(Timestamp::parse_day(&t.day()), Some(t));
        }
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999Z");
    }
}

//! Calendar arithmetic on UTC unix seconds, so certificate dates and personnummer birth dates can
//! be compared and shown without pulling a date crate into the public API.

/// A calendar date (proleptic Gregorian, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// `None` unless `month`/`day` name a real day, so a typo like 19900230 is caught.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// The UTC date that contains `unix` seconds.
    pub fn from_unix(unix: i64) -> Date {
        let days = unix.div_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Date { year, month, day }
    }

    /// Today in UTC, from the system clock (1970-01-01 if the clock is before the epoch).
    pub fn today() -> Date {
        Date::from_unix(now_unix())
    }

    /// Midnight UTC at the start of this date, as unix seconds.
    pub fn to_unix(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Seconds since the unix epoch: the one "now" of the whole program (certificates issued, checked
/// and shown, TLS, the audit log, the CA mock). The system clock (0 if it is set before 1970),
/// unless [`start_calendar_at`] moved this process's calendar.
pub fn now_unix() -> i64 {
    match CALENDAR.get() {
        Some(&(start, since)) => {
            start.saturating_add(i64::try_from(since.elapsed().as_secs()).unwrap_or(i64::MAX))
        }
        None => system_now_unix(),
    }
}

fn system_now_unix() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Where this process's calendar started, and when (monotonic).
static CALENDAR: std::sync::OnceLock<(i64, std::time::Instant)> = std::sync::OnceLock::new();

/// Run this process's calendar from `unix` (it then advances with real time), so that pictures
/// of the window show the same dates on any day the tests run: every certificate issued, checked
/// or drawn, and every TLS handshake, then agree on this instant. The product never calls it.
/// Once per process: `false` (and nothing changes) when the calendar was already started
/// elsewhere.
pub fn start_calendar_at(unix: i64) -> bool {
    let mut started = false;
    let &(start, _) = CALENDAR.get_or_init(|| {
        started = true;
        (unix, std::time::Instant::now())
    });
    started || start == unix
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX });
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_dates_round_trip() {
        assert_eq!(Date::from_unix(0).to_string(), "1970-01-01");
        // 2049-09-15 20:00:00 UTC, the end of SITHS e-id Root CA v2.
        assert_eq!(Date::from_unix(2_515_348_800).to_string(), "2049-09-15");
        assert_eq!(Date::from_unix(-1).to_string(), "1969-12-31");
        let d = Date::new(2024, 2, 29).map(Date::to_unix);
        assert_eq!(d.map(Date::from_unix), Date::new(2024, 2, 29));
    }

    #[test]
    fn rejects_days_that_do_not_exist() {
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(2024, 4, 31).is_none());
    }
}

//! `strftime_now(format)` for chat templates (Llama 3.x put today's date in the system prompt).
//!
//! Time is UTC (no time-zone database is bundled). Supported directives: `%Y %y %m %d %e %j
//! %H %I %M %S %p %A %a %B %b %h %F %T %D %%`; any other directive is copied verbatim.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    year: i64,
    month: u32,   // 1..=12
    day: u32,     // 1..=31
    yday: u32,    // 1..=366
    weekday: u32, // 0 = Monday
    hour: u32,
    minute: u32,
    second: u32,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Converts seconds since the Unix epoch (UTC) to a civil date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_unix(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let month_idx = usize::try_from(month - 1).unwrap_or(0).min(11);
    let leap_extra = i64::from(month > 2 && is_leap(year));
    let yday = cumulative[month_idx] + day + leap_extra;
    // 1970-01-01 was a Thursday (index 3 with Monday = 0).
    let weekday = (days + 3).rem_euclid(7);
    let to_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
    Civil {
        year,
        month: to_u32(month),
        day: to_u32(day),
        yday: to_u32(yday),
        weekday: to_u32(weekday),
        hour: to_u32(rem / 3600),
        minute: to_u32(rem % 3600 / 60),
        second: to_u32(rem % 60),
    }
}

/// Formats `t` with a strftime-style `format`.
pub(crate) fn format_civil(t: &Civil, format: &str) -> String {
    let month_name = MONTHS[(t.month.clamp(1, 12) - 1) as usize];
    let weekday_name = WEEKDAYS[t.weekday.min(6) as usize];
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(d) = chars.next() else {
            out.push('%');
            break;
        };
        let hour12 = match t.hour % 12 {
            0 => 12,
            h => h,
        };
        match d {
            'Y' => out.push_str(&t.year.to_string()),
            'y' => out.push_str(&format!("{:02}", t.year.rem_euclid(100))),
            'm' => out.push_str(&format!("{:02}", t.month)),
            'd' => out.push_str(&format!("{:02}", t.day)),
            'e' => out.push_str(&format!("{:>2}", t.day)),
            'j' => out.push_str(&format!("{:03}", t.yday)),
            'H' => out.push_str(&format!("{:02}", t.hour)),
            'I' => out.push_str(&format!("{hour12:02}")),
            'M' => out.push_str(&format!("{:02}", t.minute)),
            'S' => out.push_str(&format!("{:02}", t.second)),
            'p' => out.push_str(if t.hour < 12 { "AM" } else { "PM" }),
            'A' => out.push_str(weekday_name),
            'a' => out.push_str(&weekday_name[..3]),
            'B' => out.push_str(month_name),
            'b' | 'h' => out.push_str(&month_name[..3]),
            'F' => out.push_str(&format!("{}-{:02}-{:02}", t.year, t.month, t.day)),
            'T' => out.push_str(&format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second)),
            'D' => out.push_str(&format!(
                "{:02}/{:02}/{:02}",
                t.month,
                t.day,
                t.year.rem_euclid(100)
            )),
            '%' => out.push('%'),
            other => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// Formats the current UTC time.
pub(crate) fn format_utc_now(format: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    format_civil(&civil_from_unix(secs), format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_thursday_first_of_january_1970() {
        let t = civil_from_unix(0);
        assert_eq!(
            format_civil(&t, "%A %d %B %Y %H:%M:%S %j"),
            "Thursday 01 January 1970 00:00:00 001"
        );
    }

    #[test]
    fn known_dates() {
        // 2024-02-29T13:45:07Z (leap day), a Thursday; day 60 of the year.
        let t = civil_from_unix(1_709_214_307);
        assert_eq!(
            format_civil(&t, "%F %T %a %b %j %I%p %y"),
            "2024-02-29 13:45:07 Thu Feb 060 01PM 24"
        );
        // 2000-12-31T23:59:59Z, a Sunday, day 366.
        let t = civil_from_unix(978_307_199);
        assert_eq!(format_civil(&t, "%d %b %Y %A %j"), "31 Dec 2000 Sunday 366");
        // Before the epoch: 1969-12-31T23:00:00Z, a Wednesday.
        let t = civil_from_unix(-3600);
        assert_eq!(format_civil(&t, "%D %H %A"), "12/31/69 23 Wednesday");
    }

    #[test]
    fn unknown_directives_and_percent_are_kept() {
        let t = civil_from_unix(0);
        assert_eq!(format_civil(&t, "100%% %Q %"), "100% %Q %");
    }
}

//! Public holidays of the main countries in UCI Online Retail, computed offline.
//!
//! Holidays are the nationwide public holidays of each country: fixed-date
//! ones, ones tied to Easter Sunday, and the UK bank holidays that fall on a
//! Monday of a month. Easter Sunday comes from the anonymous Gregorian
//! algorithm (Meeus/Jones/Butcher). Regional holidays (German states, Scottish bank
//! holidays) and substitute days for holidays on a weekend are left out.
//! Start from [`is_holiday`] or [`holidays_in`].
//!
//! Country names are matched as UCI Online Retail writes them ("United
//! Kingdom", "EIRE", "Germany", ...). A country without rules has no holidays.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// A holiday rule: a fixed date, an offset from Easter Sunday, or the
/// first or last given weekday of a month.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Fixed { month: u32, day: u32 },
    Easter { offset_days: i64 },
    FirstWeekday { month: u32, weekday: Weekday },
    LastWeekday { month: u32, weekday: Weekday },
}

const fn fixed(month: u32, day: u32) -> Rule {
    Rule::Fixed { month, day }
}

const fn easter(offset_days: i64) -> Rule {
    Rule::Easter { offset_days }
}

const NEW_YEAR: Rule = fixed(1, 1);
const GOOD_FRIDAY: Rule = easter(-2);
const EASTER_MONDAY: Rule = easter(1);
const ASCENSION: Rule = easter(39);
const WHIT_MONDAY: Rule = easter(50);
const LABOUR_DAY: Rule = fixed(5, 1);
const ASSUMPTION: Rule = fixed(8, 15);
const ALL_SAINTS: Rule = fixed(11, 1);
const CHRISTMAS: Rule = fixed(12, 25);
const BOXING_DAY: Rule = fixed(12, 26);

const UNITED_KINGDOM: &[Rule] = &[
    NEW_YEAR,
    GOOD_FRIDAY,
    EASTER_MONDAY,
    Rule::FirstWeekday {
        month: 5,
        weekday: Weekday::Mon,
    },
    Rule::LastWeekday {
        month: 5,
        weekday: Weekday::Mon,
    },
    Rule::LastWeekday {
        month: 8,
        weekday: Weekday::Mon,
    },
    CHRISTMAS,
    BOXING_DAY,
];

const IRELAND: &[Rule] = &[
    NEW_YEAR,
    fixed(3, 17),
    EASTER_MONDAY,
    Rule::FirstWeekday {
        month: 5,
        weekday: Weekday::Mon,
    },
    Rule::FirstWeekday {
        month: 6,
        weekday: Weekday::Mon,
    },
    Rule::FirstWeekday {
        month: 8,
        weekday: Weekday::Mon,
    },
    Rule::LastWeekday {
        month: 10,
        weekday: Weekday::Mon,
    },
    CHRISTMAS,
    BOXING_DAY,
];

const GERMANY: &[Rule] = &[
    NEW_YEAR,
    GOOD_FRIDAY,
    EASTER_MONDAY,
    LABOUR_DAY,
    ASCENSION,
    WHIT_MONDAY,
    fixed(10, 3),
    CHRISTMAS,
    BOXING_DAY,
];

const FRANCE: &[Rule] = &[
    NEW_YEAR,
    EASTER_MONDAY,
    LABOUR_DAY,
    fixed(5, 8),
    ASCENSION,
    WHIT_MONDAY,
    fixed(7, 14),
    ASSUMPTION,
    ALL_SAINTS,
    fixed(11, 11),
    CHRISTMAS,
];

const SPAIN: &[Rule] = &[
    NEW_YEAR,
    fixed(1, 6),
    GOOD_FRIDAY,
    LABOUR_DAY,
    ASSUMPTION,
    fixed(10, 12),
    ALL_SAINTS,
    fixed(12, 6),
    fixed(12, 8),
    CHRISTMAS,
];

const NETHERLANDS: &[Rule] = &[
    NEW_YEAR,
    GOOD_FRIDAY,
    EASTER_MONDAY,
    fixed(4, 27),
    fixed(5, 5),
    ASCENSION,
    WHIT_MONDAY,
    CHRISTMAS,
    BOXING_DAY,
];

const BELGIUM: &[Rule] = &[
    NEW_YEAR,
    EASTER_MONDAY,
    LABOUR_DAY,
    ASCENSION,
    WHIT_MONDAY,
    fixed(7, 21),
    ASSUMPTION,
    ALL_SAINTS,
    fixed(11, 11),
    CHRISTMAS,
];

const PORTUGAL: &[Rule] = &[
    NEW_YEAR,
    GOOD_FRIDAY,
    fixed(4, 25),
    LABOUR_DAY,
    fixed(6, 10),
    ASSUMPTION,
    fixed(12, 8),
    CHRISTMAS,
];

const SWITZERLAND: &[Rule] = &[NEW_YEAR, ASCENSION, fixed(8, 1), CHRISTMAS];

/// Returns the holiday rules of a country as UCI Online Retail names it.
fn rules_of(country: &str) -> &'static [Rule] {
    match country {
        "United Kingdom" | "UK" | "GB" => UNITED_KINGDOM,
        "EIRE" | "Ireland" | "IE" => IRELAND,
        "Germany" | "DE" => GERMANY,
        "France" | "FR" => FRANCE,
        "Spain" | "ES" => SPAIN,
        "Netherlands" | "NL" => NETHERLANDS,
        "Belgium" | "BE" => BELGIUM,
        "Portugal" | "PT" => PORTUGAL,
        "Switzerland" | "CH" => SWITZERLAND,
        _ => &[],
    }
}

/// Returns whether a country has holiday rules here.
pub fn has_calendar(country: &str) -> bool {
    !rules_of(country).is_empty()
}

/// Returns Easter Sunday of a Gregorian year (Meeus/Jones/Butcher algorithm).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
        .expect("the Easter algorithm returns a March or April date")
}

/// Returns the date a rule gives in `year`, or `None` for an impossible date.
fn date_of(rule: Rule, year: i32) -> Option<NaiveDate> {
    match rule {
        Rule::Fixed { month, day } => NaiveDate::from_ymd_opt(year, month, day),
        Rule::Easter { offset_days } => Some(easter_sunday(year) + Duration::days(offset_days)),
        Rule::FirstWeekday { month, weekday } => {
            NaiveDate::from_weekday_of_month_opt(year, month, weekday, 1)
        }
        Rule::LastWeekday { month, weekday } => {
            let next_month_first = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)?
            };
            let mut day = next_month_first - Duration::days(1);
            while day.weekday() != weekday {
                day -= Duration::days(1);
            }
            Some(day)
        }
    }
}

/// Returns whether `date` is a public holiday in `country`.
pub fn is_holiday(country: &str, date: NaiveDate) -> bool {
    rules_of(country)
        .iter()
        .any(|&rule| date_of(rule, date.year()) == Some(date))
}

/// Counts the public holidays of `country` in the `n_days` days from `start`.
pub fn holidays_in(country: &str, start: NaiveDate, n_days: u32) -> usize {
    (0..n_days)
        .filter(|&offset| is_holiday(country, start + Duration::days(i64::from(offset))))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn easter_matches_known_dates() {
        assert_eq!(easter_sunday(2010), date("2010-04-04"));
        assert_eq!(easter_sunday(2011), date("2011-04-24"));
        assert_eq!(easter_sunday(2024), date("2024-03-31"));
    }

    #[test]
    fn uk_bank_holidays_of_2011() {
        assert!(is_holiday("United Kingdom", date("2011-04-22")));
        assert!(is_holiday("United Kingdom", date("2011-05-02")));
        assert!(is_holiday("United Kingdom", date("2011-05-30")));
        assert!(is_holiday("United Kingdom", date("2011-08-29")));
        assert!(!is_holiday("United Kingdom", date("2011-05-09")));
    }

    #[test]
    fn easter_based_holidays_move_with_easter() {
        assert!(is_holiday("Germany", date("2011-06-02")));
        assert!(is_holiday("France", date("2011-06-13")));
        assert!(is_holiday("Netherlands", date("2011-04-25")));
    }

    #[test]
    fn holidays_in_counts_christmas_week() {
        assert_eq!(holidays_in("United Kingdom", date("2011-12-22"), 7), 2);
        assert_eq!(holidays_in("EIRE", date("2011-03-14"), 7), 1);
        assert_eq!(holidays_in("Atlantis", date("2011-12-22"), 7), 0);
    }
}

//! Number formatting, owned by one module so every output says numbers the same way.
//!
//! ```text
//! rates:   0 -> "0";  < 0.001 -> 2.50e-4 (3 significant digits);  else 3 significant digits
//! counts:  thousands separators: 2,100,000
//! means:   >= 1000 -> 30,712;  >= 10 -> 238.4;  else as a rate
//! shares:  45.2 %
//! scores in tables: at most 10 decimals, zeros trimmed: 0.34 (not 0.3400000000000001)
//! input:   `text` with control characters escaped, cut after 60 characters: `abc…` (+N chars)
//! ```

/// A threshold score as the tables write it: rounded to 10 decimals, below the score
/// resolution of 1/32767^2 = 9.3e-10 (so it names the same integer threshold), with trailing
/// zeros trimmed; the float noise of a percent mapping (2 x 0.67 - 1 = 0.3400000000000001)
/// does not show.
pub fn score(x: f64) -> String {
    let text = format!("{x:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// A float as tables write it: the shortest text that reads back as the same number, in
/// positional form (0.0025, 27429.1), or in exponent form below 1e-5 (6.5e-15) where the
/// positional one would be a row of zeros.
pub fn float(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-5 {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// A rate (or any small non-negative number) with 3 significant digits.
pub fn rate(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else {
        let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
        format!("{x:.digits$}")
    }
}

/// An input value as it may be echoed in an error message: in backquotes, control characters
/// (CR, LF, tab, ...) escaped, and cut after 60 characters, so every message stays one
/// readable line whatever the input holds.
pub fn quoted(value: &str) -> String {
    quoted_up_to(value, 60) + &quoted_rest(value, 60)
}

/// An error and its causes as one readable line: causes whose text the message already holds
/// are not repeated (an OS error is said once), control characters are escaped, and the line
/// is cut after 1,000 characters.
pub fn error_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    for cause in std::iter::successors(Some(err), |e| e.source()) {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    let quoted = quoted_up_to(&line, 1000);
    quoted[1..quoted.len() - 1].to_string() + &quoted_rest(&line, 1000)
}

fn quoted_up_to(value: &str, keep: usize) -> String {
    let mut out = String::from("`");
    for ch in value.chars().take(keep) {
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out.push('`');
    out
}

fn quoted_rest(value: &str, keep: usize) -> String {
    let rest = value.chars().count().saturating_sub(keep);
    if rest > 0 {
        format!("... ({} more characters)", count(rest as u64))
    } else {
        String::new()
    }
}

/// An integer count with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A mean count (e.g. false candidates per search).
pub fn mean(x: f64) -> String {
    if x >= 1000.0 {
        count(x.round() as u64)
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        rate(x)
    }
}

/// A share as a percentage with one decimal.
pub fn share(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// A rate as a percentage for plain-language text, 3 significant digits: "76.2 %", "0.918 %",
/// "0.0253 %"; below 1e-6 % in scientific notation ("2.50e-7 %"), and "0 %" for zero.
pub fn percent(x: f64) -> String {
    let p = 100.0 * x;
    if p == 0.0 {
        return "0 %".into();
    }
    let digits = 2 - p.abs().log10().floor() as i32;
    if digits > 8 {
        format!("{p:.2e} %")
    } else {
        format!("{p:.prec$} %", prec = digits.max(0) as usize)
    }
}

/// A confidence level: 0.95 -> "95 %", 0.995 -> "99.5 %".
pub fn level(x: f64) -> String {
    let p = 100.0 * x;
    if (p - p.round()).abs() < 1e-9 {
        format!("{} %", p.round())
    } else {
        format!("{p} %")
    }
}

/// An estimate with its interval: "0.125 [0.101, 0.152]".
pub fn with_interval(value: f64, lower: f64, upper: f64, f: fn(f64) -> String) -> String {
    format!("{} [{}, {}]", f(value), f(lower), f(upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(2.5e-4), "2.50e-4");
        assert_eq!(rate(0.00420), "0.00420");
        assert_eq!(rate(0.5), "0.500");
        assert_eq!(rate(1.0), "1.00");
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(2_100_000), "2,100,000");
        assert_eq!(mean(30712.4), "30,712");
        assert_eq!(mean(238.04), "238.0");
        assert_eq!(mean(2.5), "2.50");
        assert_eq!(share(0.4521), "45.2 %");
        assert_eq!(score(2.0 * 0.67 - 1.0), "0.34");
        assert_eq!(score(0.5), "0.5");
        assert_eq!(score(-0.0), "0");
        assert_eq!(score(-0.25), "-0.25");
        assert_eq!(score(1.0), "1");
        for x in [
            6.508199893790681e-15,
            0.0025,
            27429.1,
            -3.5e-7,
            0.0,
            1e300,
            123456789.0,
        ] {
            assert_eq!(float(x).parse::<f64>().unwrap(), x, "{}", float(x));
        }
        assert_eq!(float(6.508199893790681e-15), "6.508199893790681e-15");
        assert_eq!(float(0.0025), "0.0025");
        assert_eq!(score(0.6364628603621887), "0.6364628604");
        assert_eq!(level(0.95), "95 %");
        assert_eq!(level(0.995), "99.5 %");
        assert_eq!(percent(0.762), "76.2 %");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.00918), "0.918 %");
        assert_eq!(percent(2.53e-4), "0.0253 %");
        assert_eq!(percent(2.5e-9), "2.50e-7 %");
        assert_eq!(with_interval(0.5, 0.25, 0.75, rate), "0.500 [0.250, 0.750]");
    }

    #[test]
    fn input_and_errors_are_one_short_line() {
        assert_eq!(quoted("a\r\nb"), "`a\\r\\nb`");
        let long = "y".repeat(100);
        assert_eq!(
            quoted(&long),
            format!("`{}`... (40 more characters)", "y".repeat(60))
        );
        let os = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = os.to_string();
        let err = anyhow::Error::new(os).context(format!("x.csv: {text}"));
        assert_eq!(error_line(err.as_ref()), format!("x.csv: {text}"));
        let err = anyhow::anyhow!("line 1\nline 2").context("reading");
        assert_eq!(error_line(err.as_ref()), "reading: line 1\\nline 2");
    }
}

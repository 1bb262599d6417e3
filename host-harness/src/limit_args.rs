//! The values of the limit flags (`--max-memory 64MiB`,
//! `--call-timeout 500ms`): parsed with errors that say what is expected.

use std::time::Duration;

/// Parses a size in bytes: a whole number with an optional binary unit,
/// `B`, `KiB`, `MiB` or `GiB` (`K`, `M`, `G`, `KB`, `MB`, `GB` mean the
/// same; case does not matter).
///
/// # Examples
///
/// ```
/// use wasync_harness::limit_args::parse_size;
///
/// assert_eq!(parse_size("64MiB"), Ok(64 << 20));
/// assert_eq!(parse_size("1g"), Ok(1 << 30));
/// assert!(parse_size("lots").unwrap_err().contains("expected a size"));
/// ```
pub fn parse_size(s: &str) -> Result<usize, String> {
    let (number, unit) = split_number(s.trim());
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "`{s}`: expected a size such as 65536, 512KiB, 64MiB or 1GiB"
            ));
        }
    };
    let n: usize = number
        .parse()
        .map_err(|_| format!("`{s}`: expected a size such as 65536, 512KiB, 64MiB or 1GiB"))?;
    if n == 0 {
        return Err(format!("`{s}`: a memory limit must be more than 0"));
    }
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}`: too large for this machine"))
}

/// Parses a duration: a whole number with a unit, `ms`, `s` or `m`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wasync_harness::limit_args::parse_duration;
///
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
/// assert!(parse_duration("2").unwrap_err().contains("needs a unit"));
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(s.trim());
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}`: expected a duration such as 500ms, 2s or 1m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "" => {
            return Err(format!(
                "`{s}`: a duration needs a unit: ms, s or m (500ms, 2s)"
            ));
        }
        _ => {
            return Err(format!(
                "`{s}`: expected a duration such as 500ms, 2s or 1m"
            ));
        }
    };
    if d.is_zero() {
        return Err(format!("`{s}`: a timeout must be more than 0"));
    }
    Ok(d)
}

/// Parses a count that must be at least 1 (`--max-calls`, `--fuel`).
///
/// # Examples
///
/// ```
/// use wasync_harness::limit_args::parse_count;
///
/// assert_eq!(parse_count("8"), Ok(8));
/// assert!(parse_count("0").unwrap_err().contains("at least 1"));
/// ```
pub fn parse_count(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{s}`: expected a whole number"))?;
    if n == 0 {
        return Err(format!("`{s}`: must be at least 1"));
    }
    Ok(n)
}

/// Splits `64MiB` into `64` and `MiB`.
fn split_number(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_and_refuse_nonsense() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("16 MB"), Ok(16 << 20));
        assert!(parse_size("").is_err());
        assert!(parse_size("-1M").is_err());
        assert!(parse_size("1.5M").is_err());
        assert!(parse_size("3T").unwrap_err().contains("expected a size"));
        assert!(parse_size("0").unwrap_err().contains("more than 0"));
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn durations_need_a_unit_and_a_positive_value() {
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s").unwrap_err().contains("more than 0"));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn counts_are_positive_whole_numbers() {
        assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
        assert!(parse_count("-3").is_err());
        assert!(parse_count("x").is_err());
    }
}

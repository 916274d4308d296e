//! Conversions of `linux.resources` values, written in cgroup v1 terms by runtime-spec, into the
//! files of cgroup v2, as current runc (1.3.2+) and crun (1.23+) convert them, not as the
//! Debian runc 1.1.5 of these machines does (see docs/known-differences.md).
//!
//! Pure functions: the v2 backend writes what they return.

/// Errors of a conversion: a combination of values cgroup v2 cannot express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// `memory.swap` set without `memory.limit` (v2 has no memory+swap total to bound).
    #[error("linux.resources.memory.swap {swap} needs linux.resources.memory.limit: cgroup v2 limits swap alone (memory.swap.max = swap - limit); set a memory limit too, or remove swap")]
    SwapWithoutLimit {
        /// `memory.swap` as given (bytes, memory plus swap).
        swap: i64,
    },
    /// `memory.swap` below `memory.limit` (the v1 total cannot be below the memory part).
    #[error("linux.resources.memory.swap {swap} is below memory.limit {limit}: swap is the memory+swap total (cgroup v1 memsw semantics), so it must be at least the limit, or -1 for unlimited")]
    SwapBelowLimit {
        /// `memory.swap` (bytes).
        swap: i64,
        /// `memory.limit` (bytes).
        limit: i64,
    },
    /// A negative value other than -1.
    #[error("{field} {value}: only -1 (unlimited) or a value >= 0 is valid")]
    Negative {
        /// The JSON field.
        field: &'static str,
        /// The value.
        value: i64,
    },
}

/// `cpu.weight` (1..=10000) for `cpu.shares` (v1, 2..=262144), with the curve runc 1.3.2+ and
/// crun 1.23+ use, which maps the v1 default 1024 to the v2 default 100:
/// `ceil(10^((l² + 125·l)/612 − 7/34))` with `l = log2(shares)`. `0` (unset) gives `None`;
/// shares <= 2 give 1 and shares >= 262144 give 10000.
pub fn shares_to_weight(shares: u64) -> Option<u64> {
    match shares {
        0 => None,
        s if s <= 2 => Some(1),
        s if s >= 262_144 => Some(10_000),
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            Some((10f64.powf(exponent).ceil() as u64).clamp(1, 10_000))
        }
    }
}

/// What to write to `memory.swap.max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapMax {
    /// `max`.
    Unlimited,
    /// A byte count.
    Bytes(u64),
}

/// `memory.swap.max` for the v1-style `memory.swap` (memory plus swap, bytes) and
/// `memory.limit` (bytes): `swap - limit`; `-1` is unlimited; `None` (or 0) leaves it unset.
/// A limit of -1 with swap unset is unlimited swap too (runc's rule).
///
/// # Errors
/// [`ConvertError`] for swap without a limit, swap below the limit, or other negative values.
pub fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<SwapMax>, ConvertError> {
    let swap = swap.unwrap_or(0);
    let limit = limit.unwrap_or(0);
    if limit == -1 && swap == 0 {
        return Ok(Some(SwapMax::Unlimited));
    }
    match swap {
        0 => return Ok(None),
        -1 => return Ok(Some(SwapMax::Unlimited)),
        s if s < 0 => {
            return Err(ConvertError::Negative {
                field: "linux.resources.memory.swap",
                value: s,
            })
        }
        _ => {}
    }
    match limit {
        0 | -1 => Err(ConvertError::SwapWithoutLimit { swap }),
        l if l < 0 => Err(ConvertError::Negative {
            field: "linux.resources.memory.limit",
            value: l,
        }),
        l if swap < l => Err(ConvertError::SwapBelowLimit { swap, limit: l }),
        l => Ok(Some(SwapMax::Bytes((swap - l) as u64))),
    }
}

/// The content of `cpu.max` for `cpu.quota` and `cpu.period` (µs): `"<quota> <period>"`,
/// `"max <period>"` for a quota of -1 (or none with a period), `None` when neither is set.
/// The period defaults to the kernel's 100000 µs.
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let period_text = period.unwrap_or(100_000);
    match (quota, period) {
        (None, None) => None,
        (Some(q), _) if q > 0 => Some(format!("{q} {period_text}")),
        // -1 (or another non-positive quota, which v1 also reads as "no limit") and a period
        // alone: unlimited with that period.
        _ => Some(format!("max {period_text}")),
    }
}

/// `io.weight` (1..=10000) for a v1 `blkio.weight` (10..=1000), linearly as runc does:
/// `1 + (weight - 10) * 9999 / 990`; 0 (unset) gives `None`. `io.bfq.weight` takes the v1
/// range (1..=1000) as it is.
pub fn blkio_weight_to_io_weight(weight: u16) -> Option<u64> {
    if weight == 0 {
        return None;
    }
    let w = u64::from(weight.clamp(10, 1000));
    Some(1 + (w - 10) * 9999 / 990)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_follows_the_current_curve() {
        // The pairs of issue 4 and runc 1.3.2's tests; 1024 -> 100 (runc 1.1.5's linear formula
        // gave 39).
        for (shares, weight) in [
            (0, None),
            (1, Some(1)),
            (2, Some(1)),
            (3, Some(2)),
            (1024, Some(100)),
            (2000, Some(170)),
            (262_143, Some(10_000)),
            (262_144, Some(10_000)),
            (1_000_000, Some(10_000)),
        ] {
            assert_eq!(shares_to_weight(shares), weight, "shares {shares}");
        }
        // Monotonic over the whole v1 range.
        let mut last = 0;
        for s in (2..262_144).step_by(97) {
            let w = shares_to_weight(s).unwrap();
            assert!(w >= last, "shares {s}: {w} < {last}");
            last = w;
        }
    }

    #[test]
    fn swap_is_the_total_minus_the_limit() {
        let mb = 1 << 20;
        assert_eq!(
            swap_max(Some(300 * mb), Some(100 * mb)),
            Ok(Some(SwapMax::Bytes(200 * mb as u64)))
        );
        assert_eq!(
            swap_max(Some(100 * mb), Some(100 * mb)),
            Ok(Some(SwapMax::Bytes(0)))
        );
        assert_eq!(
            swap_max(Some(-1), Some(100 * mb)),
            Ok(Some(SwapMax::Unlimited))
        );
        assert_eq!(swap_max(None, Some(100 * mb)), Ok(None));
        assert_eq!(swap_max(None, None), Ok(None));
        assert_eq!(swap_max(None, Some(-1)), Ok(Some(SwapMax::Unlimited)));
        assert_eq!(
            swap_max(Some(50 * mb), Some(100 * mb)),
            Err(ConvertError::SwapBelowLimit {
                swap: 50 * mb,
                limit: 100 * mb
            })
        );
        assert_eq!(
            swap_max(Some(50 * mb), None),
            Err(ConvertError::SwapWithoutLimit { swap: 50 * mb })
        );
        assert!(matches!(
            swap_max(Some(-2), Some(mb)),
            Err(ConvertError::Negative { .. })
        ));
        assert!(swap_max(Some(50 * mb), None)
            .unwrap_err()
            .to_string()
            .contains("linux.resources.memory.swap"));
    }

    #[test]
    fn cpu_max_from_quota_and_period() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(50_000), None).as_deref(), Some("50000 100000"));
        assert_eq!(
            cpu_max(Some(20_000), Some(50_000)).as_deref(),
            Some("20000 50000")
        );
        assert_eq!(cpu_max(Some(-1), None).as_deref(), Some("max 100000"));
        assert_eq!(
            cpu_max(Some(-1), Some(20_000)).as_deref(),
            Some("max 20000")
        );
        assert_eq!(cpu_max(None, Some(20_000)).as_deref(), Some("max 20000"));
    }

    #[test]
    fn blkio_weight_to_io_weight_linearly() {
        assert_eq!(blkio_weight_to_io_weight(0), None);
        assert_eq!(blkio_weight_to_io_weight(10), Some(1));
        assert_eq!(blkio_weight_to_io_weight(500), Some(4950));
        assert_eq!(blkio_weight_to_io_weight(1000), Some(10_000));
    }
}

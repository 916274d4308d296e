//! The resource options of `husk run`, with Docker's syntax and meaning (docker run reference,
//! "Runtime constraints on resources"): `--memory`, `--memory-swap`, `--cpus`, `--cpu-shares`,
//! `--cpuset-cpus`, `--pids-limit` and `--blkio-weight` become `linux.resources`, and each
//! `--device` a `linux.devices` entry plus its `linux.resources.devices` allow rule
//! (runtime-spec v1.3 config-linux.md, "Control groups" and "Devices").
//!
//! Parsing is pure and unit tested ([`parse_size`], [`parse_cpus`], [`parse_cpu_list`],
//! [`DeviceSpec::parse`], ...). [`Resources::from_args`] then checks the values against the
//! host, given as [`HostFacts`]: how many CPUs husk may use, which are online, whether the
//! kernel accounts swap, and what each `--device` host path is.
//!
//! Where Docker and runtime-spec v1.3 differ, the spec wins: `--pids-limit 0` is a limit of zero
//! processes (Docker reads 0 as unlimited). Where Docker silently clamps (`--cpu-shares` outside
//! 2..=262144), husk refuses.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Map, Value};

/// `cpu.period` husk writes with `--cpus`, in microseconds (Docker's and the kernel's default
/// CFS period, 100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

/// The smallest CFS quota the kernel accepts, in microseconds (1 ms; sched-bwc.rst), so the
/// smallest `--cpus` is 0.01.
pub const MIN_CPU_QUOTA_US: u64 = 1_000;

/// The smallest `--memory` Docker accepts, in bytes (6 MiB: less cannot start a container).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// The range of `--cpu-shares` (cgroup v1 `cpu.shares`, kernel sched/core.c MIN_SHARES and
/// MAX_SHARES as Docker bounds them).
pub const CPU_SHARES_RANGE: std::ops::RangeInclusive<u64> = 2..=262_144;

/// The range of `--blkio-weight` (cgroup v1 `blkio.weight`).
pub const BLKIO_WEIGHT_RANGE: std::ops::RangeInclusive<u16> = 10..=1000;

const SIZE_FORM: &str =
    "expected a whole number of bytes with an optional unit b, k, m or g (binary, case-insensitive), e.g. 512m or 1g";

/// Errors of the resource options; each names the option and the form it accepts.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// A value that does not have the option's form or is out of its range.
    #[error("{flag} `{value}`: {expected}")]
    Invalid {
        /// The option, e.g. `--memory`.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// What the option accepts.
        expected: String,
    },
    /// `--memory-swap` without `--memory`.
    #[error("--memory-swap `{0}` needs --memory: it is the memory+swap total (docker's meaning), so set --memory too, or use -1 for unlimited swap")]
    SwapWithoutMemory(String),
    /// `--memory-swap` below `--memory`.
    #[error("--memory-swap `{swap}` is below --memory `{memory}`: it is the memory+swap total, so it must be at least --memory (equal: no swap), or -1 for unlimited swap")]
    SwapBelowMemory {
        /// `--memory-swap` as given.
        swap: String,
        /// `--memory` as given.
        memory: String,
    },
    /// `--memory-swap` on a host whose kernel does not account swap.
    #[error("--memory-swap `{0}`: this host's kernel does not account swap (no memory.memsw.limit_in_bytes; boot with swapaccount=1), so swap cannot be limited; drop --memory-swap")]
    SwapUnsupported(String),
    /// A `--device` whose host path cannot be read.
    #[error("--device `{spec}`: {}: {source} (the host device must exist)", host.display())]
    DeviceHost {
        /// The whole `--device` value.
        spec: String,
        /// The host path.
        host: PathBuf,
        /// The error of stat(2).
        #[source]
        source: nix::Error,
    },
    /// A `--device` whose host path is not a device node.
    #[error("--device `{spec}`: {} is {what}, not a character or block device (a directory of devices is not supported; name each device)", host.display())]
    NotADevice {
        /// The whole `--device` value.
        spec: String,
        /// The host path.
        host: PathBuf,
        /// What it is instead (`a directory`, `a regular file`, ...).
        what: &'static str,
    },
    /// Two `--device` options for the same container path.
    #[error("--device: container path {0} is given twice")]
    DuplicateDevice(String),
}

fn invalid(flag: &'static str, value: &str, expected: impl Into<String>) -> ResourceError {
    ResourceError::Invalid {
        flag,
        value: value.to_owned(),
        expected: expected.into(),
    }
}

/// Parses Docker's size syntax: a whole number with an optional unit `b`, `k`, `m` or `g`
/// (powers of 1024, case-insensitive): `512m` is 536870912. Negative values, fractions and
/// values above `i64::MAX` (runtime-spec sizes are int64) are refused.
///
/// Errors: [`ResourceError::Invalid`] naming `flag`.
pub fn parse_size(flag: &'static str, text: &str) -> Result<u64, ResourceError> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(invalid(flag, text, SIZE_FORM)),
    };
    if digits.is_empty() {
        return Err(invalid(flag, text, SIZE_FORM));
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .filter(|&n| i64::try_from(n).is_ok())
        .ok_or_else(|| {
            invalid(
                flag,
                text,
                format!("{SIZE_FORM}; at most {} bytes", i64::MAX),
            )
        })
}

/// `--memory-swap`: `-1` (unlimited swap) or a size; `0` is unset (Docker's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapOption {
    /// `-1`.
    Unlimited,
    /// The memory+swap total in bytes.
    Total(u64),
}

/// Parses `--memory-swap`: `-1` or a size as [`parse_size`]; `0` gives `None` (unset).
///
/// Errors: [`ResourceError::Invalid`].
pub fn parse_memory_swap(text: &str) -> Result<Option<SwapOption>, ResourceError> {
    if text == "-1" {
        return Ok(Some(SwapOption::Unlimited));
    }
    let total = parse_size("--memory-swap", text).map_err(|_| {
        invalid(
            "--memory-swap",
            text,
            format!("expected -1 (unlimited swap) or the memory+swap total: {SIZE_FORM}"),
        )
    })?;
    Ok((total != 0).then_some(SwapOption::Total(total)))
}

/// Parses `--cpus` (a decimal number of CPUs, at most 9 decimals) into the CFS quota for
/// [`CPU_PERIOD_US`]: `1.5` gives 150000. `0` gives `None` (no limit, Docker's default). The
/// quota must be at least [`MIN_CPU_QUOTA_US`] (0.01 CPUs) and the CPUs at most `available`.
///
/// Errors: [`ResourceError::Invalid`].
pub fn parse_cpus(text: &str, available: u32) -> Result<Option<u64>, ResourceError> {
    let expected = || {
        format!("expected a number of CPUs from 0.01 to {available} (this host lets husk use {available}), e.g. 1.5")
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !all_digits(whole)
        || !all_digits(fraction)
        || (text.contains('.') && fraction.is_empty())
        || fraction.len() > 9
    {
        return Err(invalid("--cpus", text, expected()));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| invalid("--cpus", text, expected()))?
    };
    // Nano-CPUs, as Docker counts them: exact for up to 9 decimals.
    let padded = format!("{fraction:0<9}");
    let nanos: u64 = padded
        .parse()
        .map_err(|_| invalid("--cpus", text, expected()))?;
    let nano_cpus = whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(nanos))
        .ok_or_else(|| invalid("--cpus", text, expected()))?;
    if nano_cpus == 0 {
        return Ok(None);
    }
    if nano_cpus > u64::from(available) * 1_000_000_000 {
        return Err(invalid("--cpus", text, expected()));
    }
    // nano_cpus * period / 10^9, without the product (which could overflow).
    let quota = nano_cpus / (1_000_000_000 / CPU_PERIOD_US);
    if quota < MIN_CPU_QUOTA_US {
        return Err(invalid("--cpus", text, expected()));
    }
    Ok(Some(quota))
}

/// Parses `--cpu-shares`: a relative weight in [`CPU_SHARES_RANGE`]; `0` gives `None` (the
/// default weight, 1024).
///
/// Errors: [`ResourceError::Invalid`].
pub fn parse_cpu_shares(text: &str) -> Result<Option<u64>, ResourceError> {
    let expected = "expected a relative CPU weight from 2 to 262144 (1024 is the default)";
    let shares: u64 = text
        .parse()
        .map_err(|_| invalid("--cpu-shares", text, expected))?;
    match shares {
        0 => Ok(None),
        s if CPU_SHARES_RANGE.contains(&s) => Ok(Some(s)),
        _ => Err(invalid("--cpu-shares", text, expected)),
    }
}

/// Parses a CPU list (cpuset(7) "List format": `0-3,8`, as `--cpuset-cpus` and
/// /sys/devices/system/cpu/online write it) into its CPU numbers, ascending, without
/// duplicates.
///
/// Errors: [`ResourceError::Invalid`] naming `flag`.
pub fn parse_cpu_list(flag: &'static str, text: &str) -> Result<Vec<u32>, ResourceError> {
    let expected = "expected a list of CPU numbers and ranges, e.g. 0-3 or 0,2 or 0-1,4";
    let bad = || invalid(flag, text, expected);
    let mut cpus = Vec::new();
    for item in text.split(',') {
        let (first, last) = item.split_once('-').unwrap_or((item, item));
        let number = |s: &str| {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<u32>().map_err(|_| bad())
        };
        let (first, last) = (number(first)?, number(last)?);
        if first > last {
            return Err(bad());
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Parses `--pids-limit`: a number of processes, 0 included (runtime-spec v1.3: a limit of 0
/// is a real limit), or `-1` for unlimited.
///
/// Errors: [`ResourceError::Invalid`] for other negative numbers and non-numbers.
pub fn parse_pids_limit(text: &str) -> Result<i64, ResourceError> {
    match text.parse::<i64>() {
        Ok(n) if n >= -1 => Ok(n),
        _ => Err(invalid(
            "--pids-limit",
            text,
            "expected a number of processes (0 or more; 0 allows none), or -1 for unlimited",
        )),
    }
}

/// Parses `--blkio-weight`: a relative block I/O weight in [`BLKIO_WEIGHT_RANGE`]; `0` gives
/// `None` (unset, Docker's default).
///
/// Errors: [`ResourceError::Invalid`].
pub fn parse_blkio_weight(text: &str) -> Result<Option<u16>, ResourceError> {
    let expected = "expected a relative block I/O weight from 10 to 1000 (0: unset)";
    let weight: u16 = text
        .parse()
        .map_err(|_| invalid("--blkio-weight", text, expected))?;
    match weight {
        0 => Ok(None),
        w if BLKIO_WEIGHT_RANGE.contains(&w) => Ok(Some(w)),
        _ => Err(invalid("--blkio-weight", text, expected)),
    }
}

/// A parsed `--device HOST[:CONTAINER[:PERMS]]` before the host path is looked at (Docker's
/// syntax: CONTAINER defaults to HOST, PERMS to `rwm`; `HOST:PERMS` is accepted when the
/// second part is a valid PERMS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The host device node.
    pub host: PathBuf,
    /// The path inside the container.
    pub container: String,
    /// A non-empty subset of `rwm` (read, write, mknod), in the order given.
    pub perms: String,
}

/// Whether `s` is Docker's device PERMS: a non-empty combination of r, w and m, each once.
fn valid_perms(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 3
        && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && s.chars().enumerate().all(|(i, c)| !s[i + 1..].contains(c))
}

impl DeviceSpec {
    /// Parses the value of `--device`.
    ///
    /// Errors: [`ResourceError::Invalid`] for more than three parts, an empty or relative
    /// path, a container path with `..` or `/` itself, or PERMS other than r, w, m.
    pub fn parse(text: &str) -> Result<DeviceSpec, ResourceError> {
        let bad = |why: &str| {
            invalid(
                "--device",
                text,
                format!("{why}; expected HOST[:CONTAINER[:PERMS]] with absolute paths and PERMS a combination of r, w, m (default rwm), e.g. /dev/fuse or /dev/sdb:/dev/xvdb:r"),
            )
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (host, container, perms) = match parts.as_slice() {
            [host] => (*host, *host, "rwm"),
            [host, second] if valid_perms(second) => (*host, *host, *second),
            [host, container] => (*host, *container, "rwm"),
            [host, container, perms] => (*host, *container, *perms),
            _ => return Err(bad("too many `:`")),
        };
        if !host.starts_with('/') {
            return Err(bad("the host path must be absolute"));
        }
        let container_ok = container.starts_with('/')
            && container != "/"
            && !Path::new(container)
                .components()
                .any(|c| c == Component::ParentDir);
        if !container_ok {
            return Err(bad(
                "the container path must be absolute, not `/`, and without `..`",
            ));
        }
        if !valid_perms(perms) {
            return Err(bad("PERMS must be r, w and m, each at most once"));
        }
        Ok(DeviceSpec {
            host: PathBuf::from(host),
            container: container.to_owned(),
            perms: perms.to_owned(),
        })
    }
}

/// A device node's kind, as `linux.devices[].type` and a device cgroup rule write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// `c`.
    Char,
    /// `b`.
    Block,
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Char => "c",
            Self::Block => "b",
        })
    }
}

/// What stat(2) says of a `--device` host path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceNode {
    /// Char or block.
    pub kind: DeviceType,
    /// The major number.
    pub major: u64,
    /// The minor number.
    pub minor: u64,
    /// The permission bits (mode & 0o777), given to the container's node.
    pub file_mode: u32,
    /// The owner, given to the container's node.
    pub uid: u32,
    /// The group, given to the container's node.
    pub gid: u32,
}

/// A `--device` checked against the host: the node to make and the rule that allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The host node's path (`--device HOST`).
    pub host: PathBuf,
    /// The path inside the container.
    pub container: String,
    /// The host node's kind, numbers, mode and owner.
    pub node: DeviceNode,
    /// The allowed access (`rwm` subset).
    pub perms: String,
}

/// What [`Resources::from_args`] needs to know of the host ([`LiveHost`] reads the running one).
pub trait HostFacts {
    /// How many CPUs husk may run on (sched_getaffinity(2), as Docker's `runtime.NumCPU`).
    fn available_cpus(&self) -> u32;
    /// The online CPUs (/sys/devices/system/cpu/online), or None when unknown.
    fn online_cpus(&self) -> Option<Vec<u32>>;
    /// Whether the kernel accounts (and so can limit) swap in memory cgroups.
    fn swap_accounting(&self) -> bool;
    /// stat(2) of a `--device` host path (following symlinks).
    ///
    /// Errors: the errno; a path that is no device is [`ResourceError::NotADevice`], made by
    /// the caller from `Ok(Err(what))`.
    fn device(&self, path: &Path) -> Result<Result<DeviceNode, &'static str>, nix::Error>;
}

/// The running host, read when asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveHost;

impl HostFacts for LiveHost {
    fn available_cpus(&self) -> u32 {
        nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|&i| set.is_set(i).unwrap_or(false))
                    .count()
            })
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0)
            .unwrap_or(1)
    }

    fn online_cpus(&self) -> Option<Vec<u32>> {
        let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
        parse_cpu_list("/sys/devices/system/cpu/online", text.trim()).ok()
    }

    /// v1: the memory hierarchy has `memory.memsw.limit_in_bytes` (present in every memory
    /// cgroup when the kernel accounts swap); v2: the memory controller is available, which is
    /// how Docker decides it on cgroup v2 (memory.swap.max exists only below the root).
    fn swap_accounting(&self) -> bool {
        let Ok(layout) = husk_cgroups::Layout::detect() else {
            return false;
        };
        if let Some(memory) = layout.v1_hierarchy("memory") {
            return memory
                .mount_point
                .join("memory.memsw.limit_in_bytes")
                .exists();
        }
        layout.unified().is_some_and(|h| {
            std::fs::read_to_string(h.mount_point.join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
        })
    }

    fn device(&self, path: &Path) -> Result<Result<DeviceNode, &'static str>, nix::Error> {
        use nix::sys::stat::{major, minor, stat, SFlag};
        let st = stat(path)?;
        let kind = match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFCHR => DeviceType::Char,
            SFlag::S_IFBLK => DeviceType::Block,
            SFlag::S_IFDIR => return Ok(Err("a directory")),
            SFlag::S_IFREG => return Ok(Err("a regular file")),
            _ => return Ok(Err("not a device node")),
        };
        Ok(Ok(DeviceNode {
            kind,
            major: major(st.st_rdev),
            minor: minor(st.st_rdev),
            file_mode: st.st_mode & 0o777,
            uid: st.st_uid,
            gid: st.st_gid,
        }))
    }
}

/// The resource options as given (`husk run`'s flags, unparsed).
#[derive(Debug, Clone, Default)]
pub struct ResourceArgs<'a> {
    /// `--memory`.
    pub memory: Option<&'a str>,
    /// `--memory-swap`.
    pub memory_swap: Option<&'a str>,
    /// `--cpus`.
    pub cpus: Option<&'a str>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<&'a str>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<&'a str>,
    /// `--pids-limit`.
    pub pids_limit: Option<&'a str>,
    /// `--blkio-weight`.
    pub blkio_weight: Option<&'a str>,
    /// Each `--device`.
    pub devices: &'a [String],
}

/// The checked resource options, ready for config.json.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// `memory.limit` (bytes).
    pub memory: Option<i64>,
    /// `memory.swap` (memory+swap bytes, -1 unlimited).
    pub memory_swap: Option<i64>,
    /// `cpu.quota` (µs per [`CPU_PERIOD_US`]).
    pub cpu_quota: Option<i64>,
    /// `cpu.shares`.
    pub cpu_shares: Option<u64>,
    /// `cpu.cpus`, as given.
    pub cpuset_cpus: Option<String>,
    /// `pids.limit` (-1 unlimited).
    pub pids_limit: Option<i64>,
    /// `blockIO.weight`.
    pub blkio_weight: Option<u16>,
    /// The `--device`s, in order.
    pub devices: Vec<Device>,
}

/// An i64 from a u64 that the parsers already bounded to i64.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Resources {
    /// Parses and checks the options against `host`.
    ///
    /// Docker's rules: `--memory` 0 is no limit, otherwise at least 6m; without
    /// `--memory-swap`, a `--memory` limit gets a memory+swap total of twice the limit when the
    /// kernel accounts swap (and no swap limit when it does not); `--memory-swap` needs
    /// `--memory` (but for -1) and is at least it.
    ///
    /// Errors: [`ResourceError`] naming the option.
    pub fn from_args(args: &ResourceArgs<'_>, host: &dyn HostFacts) -> Result<Self, ResourceError> {
        let mut r = Resources::default();
        let memory = match args.memory {
            Some(text) => {
                let m = parse_size("--memory", text)?;
                if m != 0 && m < MIN_MEMORY {
                    return Err(invalid(
                        "--memory",
                        text,
                        format!("the smallest memory limit is 6m (0: no limit); {SIZE_FORM}"),
                    ));
                }
                (m != 0).then_some(m)
            }
            None => None,
        };
        r.memory = memory.map(to_i64);
        let swap = args
            .memory_swap
            .map(parse_memory_swap)
            .transpose()?
            .flatten();
        r.memory_swap = match (swap, memory) {
            (Some(SwapOption::Total(_)), None) => {
                return Err(ResourceError::SwapWithoutMemory(
                    args.memory_swap.unwrap_or_default().to_owned(),
                ))
            }
            (Some(SwapOption::Total(total)), Some(m)) if total < m => {
                return Err(ResourceError::SwapBelowMemory {
                    swap: args.memory_swap.unwrap_or_default().to_owned(),
                    memory: args.memory.unwrap_or_default().to_owned(),
                })
            }
            (Some(SwapOption::Total(total)), Some(_)) => {
                if !host.swap_accounting() {
                    return Err(ResourceError::SwapUnsupported(
                        args.memory_swap.unwrap_or_default().to_owned(),
                    ));
                }
                Some(to_i64(total))
            }
            (Some(SwapOption::Unlimited), _) => Some(-1),
            (None, Some(m)) if host.swap_accounting() => Some(to_i64(m.saturating_mul(2))),
            (None, _) => None,
        };
        r.cpu_quota = args
            .cpus
            .map(|t| parse_cpus(t, host.available_cpus()))
            .transpose()?
            .flatten()
            .map(to_i64);
        r.cpu_shares = args.cpu_shares.map(parse_cpu_shares).transpose()?.flatten();
        if let Some(text) = args.cpuset_cpus {
            let wanted = parse_cpu_list("--cpuset-cpus", text)?;
            if let Some(online) = host.online_cpus() {
                if let Some(cpu) = wanted.iter().find(|c| !online.contains(c)) {
                    return Err(invalid(
                        "--cpuset-cpus",
                        text,
                        format!(
                            "CPU {cpu} is not online here (online: {}); give a list of online CPUs, e.g. 0-1",
                            format_cpu_list(&online)
                        ),
                    ));
                }
            }
            r.cpuset_cpus = Some(text.to_owned());
        }
        r.pids_limit = args.pids_limit.map(parse_pids_limit).transpose()?;
        r.blkio_weight = args
            .blkio_weight
            .map(parse_blkio_weight)
            .transpose()?
            .flatten();
        for text in args.devices {
            let spec = DeviceSpec::parse(text)?;
            if r.devices.iter().any(|d| d.container == spec.container) {
                return Err(ResourceError::DuplicateDevice(spec.container));
            }
            let node = host
                .device(&spec.host)
                .map_err(|source| ResourceError::DeviceHost {
                    spec: text.clone(),
                    host: spec.host.clone(),
                    source,
                })?
                .map_err(|what| ResourceError::NotADevice {
                    spec: text.clone(),
                    host: spec.host.clone(),
                    what,
                })?;
            r.devices.push(Device {
                host: spec.host.clone(),
                container: spec.container,
                node,
                perms: spec.perms,
            });
        }
        Ok(r)
    }

    /// `linux.resources` for config.json: only the fields set, `cpu.period` with `cpu.quota`,
    /// and one allow rule per device (the runtime puts deny-all before them and its default
    /// allow list after). None when nothing is set.
    pub fn linux_resources(&self) -> Option<Value> {
        let mut out = Map::new();
        let mut memory = Map::new();
        if let Some(m) = self.memory {
            memory.insert("limit".into(), json!(m));
        }
        if let Some(s) = self.memory_swap {
            memory.insert("swap".into(), json!(s));
        }
        if !memory.is_empty() {
            out.insert("memory".into(), Value::Object(memory));
        }
        let mut cpu = Map::new();
        if let Some(s) = self.cpu_shares {
            cpu.insert("shares".into(), json!(s));
        }
        if let Some(q) = self.cpu_quota {
            cpu.insert("quota".into(), json!(q));
            cpu.insert("period".into(), json!(CPU_PERIOD_US));
        }
        if let Some(c) = &self.cpuset_cpus {
            cpu.insert("cpus".into(), json!(c));
        }
        if !cpu.is_empty() {
            out.insert("cpu".into(), Value::Object(cpu));
        }
        if let Some(p) = self.pids_limit {
            out.insert("pids".into(), json!({"limit": p}));
        }
        if let Some(w) = self.blkio_weight {
            out.insert("blockIO".into(), json!({"weight": w}));
        }
        if !self.devices.is_empty() {
            let rules: Vec<Value> = self
                .devices
                .iter()
                .map(|d| {
                    json!({
                        "allow": true,
                        "type": d.node.kind.to_string(),
                        "major": d.node.major,
                        "minor": d.node.minor,
                        "access": d.perms,
                    })
                })
                .collect();
            out.insert("devices".into(), Value::Array(rules));
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    /// `linux.devices` for config.json: the nodes the runtime makes in the container's /dev,
    /// with the host node's numbers, mode and owner. With `in_userns` (rootless), only those
    /// at the host's own path: the runtime binds the host's node at the same path there (mknod
    /// is not allowed in a user namespace); see [`Resources::device_binds`] for the others.
    pub fn linux_devices(&self, in_userns: bool) -> Vec<Value> {
        self.devices
            .iter()
            .filter(|d| !in_userns || d.host == Path::new(&d.container))
            .map(|d| {
                json!({
                    "path": d.container,
                    "type": d.node.kind.to_string(),
                    "major": d.node.major,
                    "minor": d.node.minor,
                    "fileMode": d.node.file_mode,
                    "uid": d.node.uid,
                    "gid": d.node.gid,
                })
            })
            .collect()
    }
}

impl Resources {
    /// Rootless: the `--device HOST:CTR` whose container path is not the host's, as bind mounts
    /// of the host's node (nosuid, noexec). Only the device cgroup can hold a device to the
    /// `r`/`w`/`m` permissions (a read-only mount does not stop writes to a device node), and a
    /// rootless container has none: the host node's own permissions apply.
    pub fn device_binds(&self, in_userns: bool) -> Vec<oci_spec::runtime::Mount> {
        self.devices
            .iter()
            .filter(|d| in_userns && d.host != Path::new(&d.container))
            .map(|d| crate::bundle::bind_mount(&d.host, &d.container, false, &["nosuid", "noexec"]))
            .collect()
    }
}

/// Writes CPU numbers back in list format (`0-3,8`).
pub fn format_cpu_list(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with 2 CPUs (0-1), swap accounting, and /dev/null-like nodes at every path but
    /// `/dir` (a directory) and `/missing` (ENOENT).
    struct FakeHost {
        swap: bool,
    }

    impl HostFacts for FakeHost {
        fn available_cpus(&self) -> u32 {
            2
        }
        fn online_cpus(&self) -> Option<Vec<u32>> {
            Some(vec![0, 1])
        }
        fn swap_accounting(&self) -> bool {
            self.swap
        }
        fn device(&self, path: &Path) -> Result<Result<DeviceNode, &'static str>, nix::Error> {
            match path.to_str() {
                Some("/dir") => Ok(Err("a directory")),
                Some("/missing") => Err(nix::Error::ENOENT),
                Some("/dev/sda") => Ok(Ok(DeviceNode {
                    kind: DeviceType::Block,
                    major: 8,
                    minor: 0,
                    file_mode: 0o660,
                    uid: 0,
                    gid: 6,
                })),
                _ => Ok(Ok(DeviceNode {
                    kind: DeviceType::Char,
                    major: 1,
                    minor: 3,
                    file_mode: 0o666,
                    uid: 0,
                    gid: 0,
                })),
            }
        }
    }

    const HOST: FakeHost = FakeHost { swap: true };

    fn message(e: ResourceError) -> String {
        e.to_string()
    }

    #[test]
    fn sizes_in_docker_units_any_case() {
        let p = |t| parse_size("--memory", t).unwrap();
        assert_eq!(p("0"), 0);
        assert_eq!(p("1048576"), 1_048_576);
        assert_eq!(p("100b"), 100);
        assert_eq!(p("100B"), 100);
        assert_eq!(p("4k"), 4096);
        assert_eq!(p("4K"), 4096);
        assert_eq!(p("512m"), 536_870_912);
        assert_eq!(p("512M"), 536_870_912);
        assert_eq!(p("1g"), 1_073_741_824);
        assert_eq!(p("2G"), 2_147_483_648);
        assert_eq!(p("8589934591g"), 8_589_934_591 << 30);
    }

    #[test]
    fn bad_sizes_name_the_flag_and_the_form() {
        for bad in [
            "",
            "-1",
            "-5m",
            "1.5g",
            "m",
            "12x",
            "1t",
            "1kb",
            "1 g",
            " 1g",
            "0x10",
            "8589934592g", // 2^63: above int64
        ] {
            let e = message(parse_size("--memory", bad).unwrap_err());
            assert!(e.starts_with(&format!("--memory `{bad}`: expected")), "{e}");
            assert!(e.contains("b, k, m or g"), "{e}");
        }
    }

    #[test]
    fn memory_swap_is_minus_one_a_size_or_unset() {
        assert_eq!(
            parse_memory_swap("-1").unwrap(),
            Some(SwapOption::Unlimited)
        );
        assert_eq!(parse_memory_swap("0").unwrap(), None);
        assert_eq!(
            parse_memory_swap("1g").unwrap(),
            Some(SwapOption::Total(1 << 30))
        );
        for bad in ["-2", "-1m", "x", "--1"] {
            let e = message(parse_memory_swap(bad).unwrap_err());
            assert!(
                e.starts_with(&format!("--memory-swap `{bad}`: expected -1")),
                "{e}"
            );
        }
    }

    #[test]
    fn cpus_become_quota_per_100ms() {
        assert_eq!(parse_cpus("1.5", 2).unwrap(), Some(150_000));
        assert_eq!(parse_cpus("2", 2).unwrap(), Some(200_000));
        assert_eq!(parse_cpus("0.5", 2).unwrap(), Some(50_000));
        assert_eq!(parse_cpus(".25", 2).unwrap(), Some(25_000));
        assert_eq!(parse_cpus("0.01", 2).unwrap(), Some(1_000));
        assert_eq!(parse_cpus("1.000000001", 2).unwrap(), Some(100_000));
        assert_eq!(parse_cpus("0", 2).unwrap(), None);
        assert_eq!(parse_cpus("0.0", 2).unwrap(), None);
        for bad in [
            "",
            ".",
            "1.",
            "-1",
            "-0.5",
            "1,5",
            "abc",
            "2.5",
            "3",
            "0.009",
            "1e3",
            "0.0000000001",
            "99999999999999999999",
        ] {
            let e = message(parse_cpus(bad, 2).unwrap_err());
            assert!(
                e.starts_with(&format!(
                    "--cpus `{bad}`: expected a number of CPUs from 0.01 to 2"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn cpu_shares_range() {
        assert_eq!(parse_cpu_shares("512").unwrap(), Some(512));
        assert_eq!(parse_cpu_shares("2").unwrap(), Some(2));
        assert_eq!(parse_cpu_shares("262144").unwrap(), Some(262_144));
        assert_eq!(parse_cpu_shares("0").unwrap(), None);
        for bad in ["1", "262145", "-1", "x", "1.5"] {
            let e = message(parse_cpu_shares(bad).unwrap_err());
            assert!(
                e.starts_with(&format!(
                    "--cpu-shares `{bad}`: expected a relative CPU weight from 2 to 262144"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn cpu_lists() {
        let p = |t| parse_cpu_list("--cpuset-cpus", t).unwrap();
        assert_eq!(p("0"), [0]);
        assert_eq!(p("0-3"), [0, 1, 2, 3]);
        assert_eq!(p("3,0-1,1"), [0, 1, 3]);
        for bad in ["", "a", "1-", "-1", "3-1", "0,,1", "0 - 1", "0-1-2"] {
            let e = message(parse_cpu_list("--cpuset-cpus", bad).unwrap_err());
            assert!(
                e.starts_with(&format!("--cpuset-cpus `{bad}`: expected a list")),
                "{e}"
            );
        }
        assert_eq!(format_cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn pids_limit_zero_is_a_limit_and_minus_one_unlimited() {
        assert_eq!(parse_pids_limit("0").unwrap(), 0);
        assert_eq!(parse_pids_limit("-1").unwrap(), -1);
        assert_eq!(parse_pids_limit("100").unwrap(), 100);
        for bad in ["-2", "x", "1.5", ""] {
            let e = message(parse_pids_limit(bad).unwrap_err());
            assert!(
                e.starts_with(&format!(
                    "--pids-limit `{bad}`: expected a number of processes"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn blkio_weight_range() {
        assert_eq!(parse_blkio_weight("10").unwrap(), Some(10));
        assert_eq!(parse_blkio_weight("1000").unwrap(), Some(1000));
        assert_eq!(parse_blkio_weight("0").unwrap(), None);
        for bad in ["9", "1001", "-1", "x", "70000"] {
            let e = message(parse_blkio_weight(bad).unwrap_err());
            assert!(
                e.starts_with(&format!(
                    "--blkio-weight `{bad}`: expected a relative block I/O weight from 10 to 1000"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn device_syntax_as_docker() {
        let p = |t| DeviceSpec::parse(t).unwrap();
        let d = |h: &str, c: &str, perms: &str| DeviceSpec {
            host: PathBuf::from(h),
            container: c.to_owned(),
            perms: perms.to_owned(),
        };
        assert_eq!(p("/dev/fuse"), d("/dev/fuse", "/dev/fuse", "rwm"));
        assert_eq!(
            p("/dev/null:/dev/mynull"),
            d("/dev/null", "/dev/mynull", "rwm")
        );
        assert_eq!(p("/dev/sda:r"), d("/dev/sda", "/dev/sda", "r"));
        assert_eq!(p("/dev/sda:mw"), d("/dev/sda", "/dev/sda", "mw"));
        assert_eq!(p("/dev/sda:/dev/xvda:rw"), d("/dev/sda", "/dev/xvda", "rw"));
        for bad in [
            "",
            "dev/null",
            "/dev/null:dev/x",
            "/dev/null:/",
            "/dev/null:/dev/../etc/x",
            "/dev/null:/dev/x:rwx",
            "/dev/null:/dev/x:rr",
            "/dev/null:/dev/x:",
            "/dev/null:/dev/x:r:w",
        ] {
            let e = message(DeviceSpec::parse(bad).unwrap_err());
            assert!(e.starts_with(&format!("--device `{bad}`: ")), "{e}");
            assert!(e.contains("expected HOST[:CONTAINER[:PERMS]]"), "{e}");
        }
    }

    fn from(args: ResourceArgs<'_>) -> Result<Resources, ResourceError> {
        Resources::from_args(&args, &HOST)
    }

    #[test]
    fn nothing_set_gives_no_resources() {
        let r = from(ResourceArgs::default()).unwrap();
        assert_eq!(r, Resources::default());
        assert_eq!(r.linux_resources(), None);
        assert!(r.linux_devices(false).is_empty());
    }

    #[test]
    fn memory_and_docker_swap_rules() {
        let mem = |memory, swap, host: &FakeHost| {
            Resources::from_args(
                &ResourceArgs {
                    memory,
                    memory_swap: swap,
                    ..Default::default()
                },
                host,
            )
        };
        let no_swap = FakeHost { swap: false };
        // Docker's default: memory+swap = twice the limit where swap is accounted.
        let r = mem(Some("64m"), None, &HOST).unwrap();
        assert_eq!((r.memory, r.memory_swap), (Some(64 << 20), Some(128 << 20)));
        let r = mem(Some("64m"), None, &no_swap).unwrap();
        assert_eq!((r.memory, r.memory_swap), (Some(64 << 20), None));
        let r = mem(Some("64m"), Some("96m"), &HOST).unwrap();
        assert_eq!(r.memory_swap, Some(96 << 20));
        let r = mem(Some("64m"), Some("64m"), &HOST).unwrap();
        assert_eq!(r.memory_swap, Some(64 << 20), "equal: no swap");
        let r = mem(Some("64m"), Some("-1"), &no_swap).unwrap();
        assert_eq!(r.memory_swap, Some(-1));
        let r = mem(None, Some("-1"), &HOST).unwrap();
        assert_eq!((r.memory, r.memory_swap), (None, Some(-1)));
        let r = mem(Some("0"), None, &HOST).unwrap();
        assert_eq!((r.memory, r.memory_swap), (None, None), "0: no limit");
        let r = mem(Some("64m"), Some("0"), &HOST).unwrap();
        assert_eq!(r.memory_swap, Some(128 << 20), "--memory-swap 0 is unset");

        let e = |m, s, h| message(mem(m, s, h).unwrap_err());
        assert!(e(Some("5m"), None, &HOST)
            .starts_with("--memory `5m`: the smallest memory limit is 6m"));
        assert!(e(None, Some("1g"), &HOST).starts_with("--memory-swap `1g` needs --memory"));
        assert!(e(Some("1g"), Some("512m"), &HOST)
            .starts_with("--memory-swap `512m` is below --memory `1g`"));
        assert!(e(Some("1g"), Some("2g"), &no_swap)
            .starts_with("--memory-swap `2g`: this host's kernel does not account swap"));
        assert!(e(Some("-1"), None, &HOST).starts_with("--memory `-1`: expected"));
    }

    #[test]
    fn every_option_into_linux_resources() {
        let devices = vec![
            "/dev/null:/dev/mynull".to_owned(),
            "/dev/sda:/dev/xvda:r".to_owned(),
        ];
        let r = from(ResourceArgs {
            memory: Some("1g"),
            memory_swap: Some("-1"),
            cpus: Some("1.5"),
            cpu_shares: Some("512"),
            cpuset_cpus: Some("0-1"),
            pids_limit: Some("0"),
            blkio_weight: Some("300"),
            devices: &devices,
        })
        .unwrap();
        assert_eq!(
            r.linux_resources().unwrap(),
            json!({
                "memory": {"limit": 1_073_741_824_i64, "swap": -1},
                "cpu": {"shares": 512, "quota": 150_000, "period": 100_000, "cpus": "0-1"},
                "pids": {"limit": 0},
                "blockIO": {"weight": 300},
                "devices": [
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"},
                ],
            })
        );
        // Rootless: a device at another path than the host's is a bind of the host's node.
        let binds = r.device_binds(true);
        assert_eq!(binds.len(), 2, "{binds:?}");
        assert_eq!(binds[1].destination(), Path::new("/dev/xvda"));
        assert_eq!(binds[1].source().as_deref(), Some(Path::new("/dev/sda")));
        assert!(r.linux_devices(true).is_empty() && r.device_binds(false).is_empty());
        assert_eq!(
            r.linux_devices(false),
            [
                json!({"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
                       "fileMode": 0o666, "uid": 0, "gid": 0}),
                json!({"path": "/dev/xvda", "type": "b", "major": 8, "minor": 0,
                       "fileMode": 0o660, "uid": 0, "gid": 6}),
            ]
        );
        // oci-spec reads it as runtime-spec v1.3.
        let parsed: oci_spec::runtime::LinuxResources =
            serde_json::from_value(r.linux_resources().unwrap()).unwrap();
        assert_eq!(parsed.pids().as_ref().unwrap().limit(), 0);
        assert_eq!(parsed.cpu().as_ref().unwrap().quota(), Some(150_000));
    }

    #[test]
    fn unlimited_pids_is_minus_one() {
        let r = from(ResourceArgs {
            pids_limit: Some("-1"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.linux_resources().unwrap(), json!({"pids": {"limit": -1}}));
    }

    #[test]
    fn host_checks_name_the_flag() {
        let e = |args: ResourceArgs<'_>| message(from(args).unwrap_err());
        assert!(e(ResourceArgs {
            cpus: Some("3"),
            ..Default::default()
        })
        .contains("from 0.01 to 2 (this host lets husk use 2)"));
        assert_eq!(
            e(ResourceArgs {
                cpuset_cpus: Some("0-3"),
                ..Default::default()
            }),
            "--cpuset-cpus `0-3`: CPU 2 is not online here (online: 0-1); give a list of online CPUs, e.g. 0-1"
        );
        let missing = vec!["/missing:/dev/x".to_owned()];
        assert_eq!(
            e(ResourceArgs {
                devices: &missing,
                ..Default::default()
            }),
            "--device `/missing:/dev/x`: /missing: ENOENT: No such file or directory (the host device must exist)"
        );
        let dir = vec!["/dir".to_owned()];
        assert!(e(ResourceArgs {
            devices: &dir,
            ..Default::default()
        })
        .starts_with("--device `/dir`: /dir is a directory, not a character or block device"));
        let twice = vec!["/dev/null:/dev/x".to_owned(), "/dev/zero:/dev/x".to_owned()];
        assert_eq!(
            e(ResourceArgs {
                devices: &twice,
                ..Default::default()
            }),
            "--device: container path /dev/x is given twice"
        );
    }

    #[test]
    fn live_host_reads_a_real_device() {
        let node = LiveHost.device(Path::new("/dev/null")).unwrap().unwrap();
        assert_eq!(
            (node.kind, node.major, node.minor, node.file_mode),
            (DeviceType::Char, 1, 3, 0o666)
        );
        assert_eq!(LiveHost.device(Path::new("/")).unwrap(), Err("a directory"));
        assert!(LiveHost.available_cpus() >= 1);
        let online = LiveHost.online_cpus().unwrap();
        assert!(!online.is_empty());
    }
}

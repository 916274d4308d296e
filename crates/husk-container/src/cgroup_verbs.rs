//! The verbs that read or drive a container's cgroup, with runc 1.1's command-line behaviour:
//! `pause`, `resume`, `ps`, `events` (usage statistics and OOM notifications) and `update`.
//!
//! Each locks the container's state directory as the lifecycle verbs do, reads state.json and
//! reopens the cgroup recorded there (never one derived again from the config). `events`
//! releases the lock once it has the cgroup, so the container can be killed and deleted while
//! it streams.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use husk_cgroups::{Cgroup, Stats};
use oci_spec::runtime::LinuxResources;
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::{debug, warn};

use crate::container::ContainerError;
use crate::state::{StateDir, StateFile, Status};

/// How often `events` looks at the OOM counter and whether the container is still there,
/// between two statistics (see [`husk_cgroups::OomWatch`]: on cgroup v2 an OOM kill wakes it
/// at once, on v1 it is seen within this time).
const EVENTS_CHECK: Duration = Duration::from_millis(100);

/// Lock the container's state directory and read its state.
fn open(root: &Path, id: &str) -> Result<(StateDir, StateFile), ContainerError> {
    crate::id::validate(id)?;
    let dir = StateDir::open(root, id)?;
    let state = dir.read_state()?;
    Ok((dir, state))
}

/// The recorded cgroup of a container whose status allows `verb`.
fn cgroup_for<'a>(
    state: &'a StateFile,
    verb: &'static str,
    allowed: fn(Status) -> bool,
    hint: &'static str,
) -> Result<&'a Cgroup, ContainerError> {
    let status = state.live_status();
    if !allowed(status) {
        return Err(ContainerError::WrongStatus {
            verb,
            id: state.id.clone(),
            status,
            hint,
        });
    }
    state.cgroup.as_ref().ok_or(ContainerError::WrongStatus {
        verb,
        id: state.id.clone(),
        status,
        hint: "; it has no cgroup (it was created rootless by a user who may not make one: \
               give the user a delegated cgroup v2 subtree and set linux.cgroupsPath in it)",
    })
}

/// `pause ID`: freeze every process of a created or running container (runc 1.1: the
/// container is `paused` afterwards, and `resume` gives it back its status).
///
/// # Errors
/// WrongStatus for a paused, stopped or creating container; the freezer's errors (none on this
/// host, or the cgroup did not freeze within 5 s, after which it is thawed again).
pub fn pause(root: &Path, id: &str) -> Result<(), ContainerError> {
    let (_dir, state) = open(root, id)?;
    let cgroup = cgroup_for(
        &state,
        "pause",
        |s| matches!(s, Status::Created | Status::Running),
        "; only a created or running container can be paused",
    )?;
    cgroup.freeze()?;
    debug!(id, "paused");
    Ok(())
}

/// `resume ID`: thaw a paused container.
///
/// # Errors
/// WrongStatus when it is not paused; the freezer file cannot be written.
pub fn resume(root: &Path, id: &str) -> Result<(), ContainerError> {
    let (_dir, state) = open(root, id)?;
    let cgroup = cgroup_for(
        &state,
        "resume",
        |s| s == Status::Paused,
        "; only a paused container can be resumed",
    )?;
    cgroup.thaw()?;
    debug!(id, "resumed");
    Ok(())
}

/// `ps ID`: the pids (in the runtime's pid namespace) of every process in the container's
/// cgroup, sorted; empty for a container whose processes are gone (runc prints no rows then,
/// whatever the status). A rootless container without a cgroup lists the processes of its
/// init's pid namespace (the init alone when it shares the runtime's).
///
/// # Errors
/// An unknown container; the cgroup cannot be read.
pub fn processes(root: &Path, id: &str) -> Result<Vec<i32>, ContainerError> {
    let (_dir, state) = open(root, id)?;
    match (&state.cgroup, state.init) {
        (Some(cgroup), _) => Ok(cgroup.procs()?),
        (None, Some(init)) if state.live_status() != Status::Stopped => {
            Ok(pid_ns_members(init.pid))
        }
        (None, _) => Ok(Vec::new()),
    }
}

/// The processes of a container without a cgroup (rootless): those in the pid namespace of its
/// init when that is not the runtime's own, else the init alone. Sorted.
pub(crate) fn pid_ns_members(init: i32) -> Vec<i32> {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(init_ns) = ns(&init.to_string()) else {
        return Vec::new();
    };
    if ns("self").as_ref() == Some(&init_ns) {
        return vec![init];
    }
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()).as_ref() == Some(&init_ns))
        .collect();
    pids.sort_unstable();
    pids
}

/// `ps ID [PS_OPTIONS]` in table form, as runc does it: the host's `ps` with the options
/// given (`-ef` when none), its header, and the rows whose PID column holds one of `pids`.
///
/// # Errors
/// `ps` cannot be run or fails (its output in the message: most likely a bad option), or its
/// header has no `PID` column, or a row's PID does not parse.
pub fn ps_table(pids: &[i32], ps_options: &[String]) -> Result<String, ContainerError> {
    let options: Vec<&str> = if ps_options.is_empty() {
        vec!["-ef"]
    } else {
        ps_options.iter().map(String::as_str).collect()
    };
    let shown = format!("ps {}", options.join(" "));
    let output = Command::new("ps")
        .args(&options)
        .output()
        .map_err(|source| ContainerError::Io {
            what: format!("run {shown}"),
            source,
        })?;
    if !output.status.success() {
        return Err(ContainerError::Config {
            field: "ps options",
            detail: format!(
                "`{shown}` failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            ),
        });
    }
    filter_ps(&String::from_utf8_lossy(&output.stdout), pids).map_err(|detail| {
        ContainerError::Config {
            field: "ps options",
            detail: format!("`{shown}`: {detail}"),
        }
    })
}

/// Keep the header of `ps` output and the rows of `pids`, found by the header's `PID` column
/// (the whitespace-separated field at the same index). A pure function of the text.
///
/// # Errors
/// No `PID` column in the header, or a row whose field there is not a number.
pub fn filter_ps(output: &str, pids: &[i32]) -> Result<String, String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|name| name == "PID")
        .ok_or_else(|| format!("no PID column in the header {header:?}; add pid to -o"))?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let field = line.split_whitespace().nth(column).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .map_err(|_| format!("the PID column of {line:?} is not a number"))?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// One line of `events` output: runc's `{"type","id","data"}` event.
#[derive(Serialize, Debug)]
pub struct Event<'a> {
    /// `stats` or `oom`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The container id.
    pub id: &'a str,
    /// The statistics of a `stats` event (absent for `oom`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a Stats>,
}

/// `events ID --stats`: the container's cgroup usage once.
///
/// # Errors
/// WrongStatus for a stopped container (runc: "not running"); a cgroup file that cannot be
/// read.
pub fn stats(root: &Path, id: &str) -> Result<Stats, ContainerError> {
    let (_dir, state) = open(root, id)?;
    let cgroup = cgroup_for(
        &state,
        "read the events of",
        Status::can_kill,
        "; the container is not running",
    )?;
    Ok(cgroup.stats()?)
}

/// `events ID [--interval D]`: hand `emit` a `stats` event every `interval` (the first after
/// one interval, as runc) and an `oom` event for each OOM kill in the container's memory
/// cgroup, until the container's cgroup has no process left (its processes exited, or it was
/// deleted). A failed statistics read is a warning and the stream goes on (runc: the same).
/// `emit` failing with a broken pipe (the reader went away) ends the stream without error.
///
/// # Errors
/// WrongStatus for a stopped container; an interval of zero; `emit`'s other errors; the OOM
/// counter cannot be read.
pub fn events(
    root: &Path,
    id: &str,
    interval: Duration,
    mut emit: impl FnMut(&Event) -> std::io::Result<()>,
) -> Result<(), ContainerError> {
    if interval.is_zero() {
        return Err(ContainerError::Config {
            field: "--interval",
            detail: "must be greater than 0".into(),
        });
    }
    let cgroup = {
        let (_dir, state) = open(root, id)?;
        cgroup_for(
            &state,
            "read the events of",
            Status::can_kill,
            "; the container is not running",
        )?
        .clone()
        // The lock goes here: `kill` and `delete` must work while this streams.
    };
    let mut emit = |event: &Event| -> Result<bool, ContainerError> {
        match emit(event) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(source) => Err(ContainerError::Io {
                what: "write an event".into(),
                source,
            }),
        }
    };
    let oom = Event {
        kind: "oom",
        id,
        data: None,
    };
    let mut watch = cgroup.oom_watch()?;
    let mut next_stats = Instant::now() + interval;
    loop {
        let step = next_stats
            .saturating_duration_since(Instant::now())
            .min(EVENTS_CHECK);
        let kills = watch.wait(step)?.unwrap_or(0);
        for _ in 0..kills {
            if !emit(&oom)? {
                return Ok(());
            }
        }
        let now = Instant::now();
        if now >= next_stats {
            match cgroup.stats() {
                Ok(stats) => {
                    let event = Event {
                        kind: "stats",
                        id,
                        data: Some(&stats),
                    };
                    if !emit(&event)? {
                        return Ok(());
                    }
                }
                Err(e) => warn!("container {id:?}: reading its statistics: {e}"),
            }
            next_stats += interval;
            if next_stats < now {
                // A slow reader: skip the missed ticks rather than burst.
                next_stats = now + interval;
            }
        }
        if is_gone(&cgroup) {
            // The kill that emptied the cgroup may have come after the last read.
            for _ in 0..watch.wait(Duration::ZERO)?.unwrap_or(0) {
                if !emit(&oom)? {
                    break;
                }
            }
            return Ok(());
        }
    }
}

/// Whether the container's cgroup has no process left (or is gone).
fn is_gone(cgroup: &Cgroup) -> bool {
    match cgroup.procs() {
        Ok(pids) => pids.is_empty(),
        Err(e) => {
            debug!("reading the container's processes: {e}");
            true
        }
    }
}

/// `update ID`: apply new `linux.resources` values to a created, running or paused
/// container's cgroup. `pids_limit` is the presence-aware `pids.limit` (None: unchanged).
///
/// # Errors
/// WrongStatus for a stopped container (runc: "container not running"); what
/// [`Cgroup::update`] refuses (values, controllers the host lacks), naming the field.
pub fn update(
    root: &Path,
    id: &str,
    resources: &LinuxResources,
    pids_limit: Option<i64>,
) -> Result<(), ContainerError> {
    let (_dir, state) = open(root, id)?;
    let cgroup = cgroup_for(
        &state,
        "update",
        Status::can_kill,
        "; the container is not running",
    )?;
    cgroup.update(resources, pids_limit)?;
    debug!(id, "updated");
    Ok(())
}

/// The `update` flags of runc 1.1 (`--memory`, `--cpu-share`, ...), already parsed; None is a
/// flag not given. [`ResourceFlags::to_json`] makes them the `linux.resources` JSON that
/// `update -r` reads, so both take the same path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFlags {
    /// `--memory`: memory.limit, bytes (-1 unlimited).
    pub memory: Option<i64>,
    /// `--memory-swap`: memory.swap (memory plus swap), bytes (-1 unlimited).
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`: memory.reservation, bytes.
    pub memory_reservation: Option<i64>,
    /// `--cpu-share`: cpu.shares.
    pub cpu_shares: Option<u64>,
    /// `--cpu-quota`: cpu.quota, microseconds.
    pub cpu_quota: Option<i64>,
    /// `--cpu-period`: cpu.period, microseconds.
    pub cpu_period: Option<u64>,
    /// `--cpu-rt-period`: cpu.realtimePeriod, microseconds.
    pub cpu_rt_period: Option<u64>,
    /// `--cpu-rt-runtime`: cpu.realtimeRuntime, microseconds.
    pub cpu_rt_runtime: Option<i64>,
    /// `--cpuset-cpus`: cpu.cpus.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`: cpu.mems.
    pub cpuset_mems: Option<String>,
    /// `--blkio-weight`: blockIO.weight.
    pub blkio_weight: Option<u16>,
    /// `--pids-limit`: pids.limit.
    pub pids_limit: Option<i64>,
}

impl ResourceFlags {
    /// The `linux.resources` JSON of the flags given (runtime-spec names), e.g.
    /// `{"memory":{"limit":104857600}}`.
    pub fn to_json(&self) -> Value {
        let mut top = Map::new();
        let mut section = |name: &str, fields: Vec<(&str, Option<Value>)>| {
            let object: Map<String, Value> = fields
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                .collect();
            if !object.is_empty() {
                top.insert(name.to_owned(), Value::Object(object));
            }
        };
        section(
            "memory",
            vec![
                ("limit", self.memory.map(Value::from)),
                ("swap", self.memory_swap.map(Value::from)),
                ("reservation", self.memory_reservation.map(Value::from)),
            ],
        );
        section(
            "cpu",
            vec![
                ("shares", self.cpu_shares.map(Value::from)),
                ("quota", self.cpu_quota.map(Value::from)),
                ("period", self.cpu_period.map(Value::from)),
                ("realtimePeriod", self.cpu_rt_period.map(Value::from)),
                ("realtimeRuntime", self.cpu_rt_runtime.map(Value::from)),
                ("cpus", self.cpuset_cpus.clone().map(Value::from)),
                ("mems", self.cpuset_mems.clone().map(Value::from)),
            ],
        );
        section(
            "blockIO",
            vec![("weight", self.blkio_weight.map(Value::from))],
        );
        section("pids", vec![("limit", self.pids_limit.map(Value::from))]);
        Value::Object(top)
    }
}

/// Parse `linux.resources` JSON for `update` (`-r FILE`, or the flags' [`ResourceFlags::to_json`]),
/// named `source` in errors. Returns the resources and the presence-aware `pids.limit` (oci-spec
/// reads an absent limit as 0). runc's rule that a memory limit of -1 without a swap value makes
/// swap unlimited too is applied by the cgroup backends, where the host accounts swap. Fields
/// oci-spec does not know are warned about, not applied.
///
/// # Errors
/// Not JSON, or a field of the wrong type (named with its path).
pub fn resources_from_json(
    mut value: Value,
    source: &str,
) -> Result<(LinuxResources, Option<i64>), ContainerError> {
    let bad = |detail: String| ContainerError::Config {
        field: "update --resources",
        detail: format!("{source}: {detail}"),
    };
    let Some(top) = value.as_object_mut() else {
        return Err(bad(
            "is not a JSON object of linux.resources (e.g. {\"memory\": {\"limit\": 104857600}})"
                .into(),
        ));
    };
    let pids_limit = take_pids_limit(top).map_err(|e| bad(e.into()))?;
    let mut unknown = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let parsed: Result<LinuxResources, serde_json::Error> = serde_ignored::deserialize(
        serde_path_to_error::Deserializer::new(value, &mut track),
        |path| unknown.push(path.to_string()),
    );
    let resources = parsed.map_err(|e| bad(format!("{}: {e}", track.path())))?;
    for field in unknown {
        warn!("{source}: unknown field {field} ignored");
    }
    Ok((resources, pids_limit))
}

/// Take `pids.limit` out of the resources JSON: None when absent or null.
fn take_pids_limit(top: &mut Map<String, Value>) -> Result<Option<i64>, &'static str> {
    let Some(pids) = top.get_mut("pids").and_then(Value::as_object_mut) else {
        return Ok(None);
    };
    match pids.get("limit") {
        None => Ok(None),
        Some(Value::Null) => {
            pids.remove("limit");
            Ok(None)
        }
        Some(limit) => limit.as_i64().map(Some).ok_or("pids.limit: not an integer"),
    }
}

/// Write one event as a JSON line and flush it (a reader sees each event as it happens).
///
/// # Errors
/// The write fails.
pub fn write_event(out: &mut impl Write, event: &Event) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, event)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root       20774       1 20 12:05 ?        00:00:00 sh -c sleep 1000 & sleep 1000 & wait
root       20780   20774  0 12:05 ?        00:00:00 sleep 1000
root       20999   20774  0 12:05 ?        00:00:00 ps -ef
";

    #[test]
    fn ps_rows_are_chosen_by_the_pid_column() {
        let out = filter_ps(PS_EF, &[20774, 20780]).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("UID"));
        assert!(lines[1].contains("sh -c sleep"));
        assert!(lines[2].ends_with("sleep 1000"));
        // 1 is in the PPID column of a row, never matched there.
        let out = filter_ps(PS_EF, &[1]).unwrap();
        assert_eq!(out.lines().count(), 2);
        // PID first, as with `-o pid,comm`.
        let out = filter_ps("  PID COMMAND\n   7 sleep\n   8 sh\n", &[8]).unwrap();
        assert_eq!(out, "  PID COMMAND\n   8 sh\n");
        assert!(filter_ps("USER COMMAND\nroot sh\n", &[1])
            .unwrap_err()
            .contains("no PID column"));
        assert!(filter_ps("PID CMD\nx sh\n", &[1])
            .unwrap_err()
            .contains("not a number"));
        assert_eq!(filter_ps(PS_EF, &[]).unwrap().lines().count(), 1);
    }

    #[test]
    fn flags_become_resources_json() {
        let flags = ResourceFlags {
            memory: Some(104857600),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            blkio_weight: Some(300),
            pids_limit: Some(20),
            ..ResourceFlags::default()
        };
        let json = flags.to_json();
        assert_eq!(
            json,
            serde_json::json!({
                "memory": {"limit": 104857600},
                "cpu": {"shares": 512, "cpus": "0"},
                "blockIO": {"weight": 300},
                "pids": {"limit": 20}
            })
        );
        let (r, pids) = resources_from_json(json, "flags").unwrap();
        assert_eq!(pids, Some(20));
        let memory = r.memory().as_ref().unwrap();
        assert_eq!(memory.limit(), Some(104857600));
        assert_eq!(memory.swap(), None);
        assert_eq!(r.cpu().as_ref().unwrap().shares(), Some(512));
        assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(300));
        assert_eq!(ResourceFlags::default().to_json(), serde_json::json!({}));
    }

    #[test]
    fn resources_json_rules() {
        // Unlimited memory without a swap value stays without one here (the backends lift
        // swap where the host accounts it).
        let (r, pids) =
            resources_from_json(serde_json::json!({"memory": {"limit": -1}}), "-").unwrap();
        assert_eq!(r.memory().as_ref().unwrap().swap(), None);
        assert_eq!(pids, None);
        let (r, _) = resources_from_json(
            serde_json::json!({"memory": {"limit": -1, "swap": 1048576}}),
            "-",
        )
        .unwrap();
        assert_eq!(r.memory().as_ref().unwrap().swap(), Some(1048576));
        // pids.limit: absent, null and 0 are three things.
        let (_, pids) = resources_from_json(serde_json::json!({"pids": {}}), "-").unwrap();
        assert_eq!(pids, None);
        let (_, pids) =
            resources_from_json(serde_json::json!({"pids": {"limit": null}}), "-").unwrap();
        assert_eq!(pids, None);
        let (_, pids) =
            resources_from_json(serde_json::json!({"pids": {"limit": 0}}), "-").unwrap();
        assert_eq!(pids, Some(0));
        let err = resources_from_json(serde_json::json!({"memory": {"limit": "lots"}}), "res.json")
            .unwrap_err();
        assert!(err.to_string().contains("res.json: memory.limit"), "{err}");
        let err = resources_from_json(serde_json::json!([1]), "res.json").unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
        let err =
            resources_from_json(serde_json::json!({"pids": {"limit": "x"}}), "-").unwrap_err();
        assert!(err.to_string().contains("pids.limit"), "{err}");
    }

    #[test]
    fn events_serialise_as_runc_does() {
        let oom = Event {
            kind: "oom",
            id: "c1",
            data: None,
        };
        let mut out = Vec::new();
        write_event(&mut out, &oom).unwrap();
        assert_eq!(out, b"{\"type\":\"oom\",\"id\":\"c1\"}\n");
        let stats = Stats::default();
        let event = Event {
            kind: "stats",
            id: "c1",
            data: Some(&stats),
        };
        let v = serde_json::to_value(&event).unwrap();
        assert_eq!(v["type"], "stats");
        assert_eq!(v["data"]["network_interfaces"], Value::Null);
    }
}

//! runc's verbs on a container's cgroup: `pause`/`resume` (the freezer), `ps`, `events`
//! (`--stats` and the stream with OOM notifications) and `kill --all`, on real containers.
//! `HUSK_RUNTIME=/usr/sbin/runc` runs the same checks against runc 1.1.5, and the `events
//! --stats` output is compared with runc's for the same bundle.
//!
//! On cgroup v2 the runtime enables the controllers down to the container's cgroup (runc and
//! husk both do), so its memory and pids files are there to read.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use husk_tests::runtime::{self, spawn, wait_child, Flavour};
use husk_tests::{cgroups, host, host_lacks, Bundle, Runtime};
use serde_json::Value;

/// The reference runtime.
const RUNC: &str = "/usr/sbin/runc";

/// Waits (at most 10 s, then fails) until the container's cgroup lists `n` processes; returns
/// them sorted.
fn wait_procs(id: &str, n: usize) -> Vec<i32> {
    let dir = cgroups::dir_for("pids", id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut pids: Vec<i32> = fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        if pids.len() == n {
            pids.sort_unstable();
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "container {id} has {pids:?}, expected {n} processes"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The last number the container printed (its counter).
fn last_count(rt: &Runtime, id: &str) -> u64 {
    rt.container_stdout(id)
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits (at most 10 s) until the counter is above `than`.
fn wait_count_above(rt: &Runtime, id: &str, than: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = last_count(rt, id);
        if now > than {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the counter of {id} stays at {now}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// A shell that prints an increasing counter, one line every 10 ms.
fn counter() -> Bundle {
    Bundle::busybox(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i; sleep 0.01; done",
    ])
}

/// What the container's cgroup says of the freezer: v1 freezer.state, v2 cgroup.freeze.
fn freezer_file(id: &str) -> String {
    match cgroups::v1_dir("freezer", id) {
        Some(dir) => fs::read_to_string(dir.join("freezer.state")).unwrap(),
        None => {
            fs::read_to_string(cgroups::dir_for("pids", id).unwrap().join("cgroup.freeze")).unwrap()
        }
    }
    .trim()
    .to_string()
}

#[test]
fn pause_freezes_the_container_and_resume_thaws_it() {
    let rt = Runtime::new();
    let b = counter();
    rt.create_start(&b);
    let before = wait_count_above(&rt, &b.id, 0);

    rt.cmd(&["pause", &b.id]).ok();
    assert_eq!(rt.status(&b.id), "paused");
    let frozen = freezer_file(&b.id);
    assert!(frozen == "FROZEN" || frozen == "1", "freezer says {frozen}");
    let at_pause = last_count(&rt, &b.id);
    assert!(at_pause >= before);
    // Frozen: many loop periods later it has not printed a line (a wait, not a deadline: a
    // slow machine only makes the check weaker, never wrong).
    thread::sleep(Duration::from_millis(300));
    assert_eq!(last_count(&rt, &b.id), at_pause, "a paused container ran");
    // runc's answers to verbs on a paused container.
    rt.cmd(&["pause", &b.id]).failed();
    rt.start(&b.id).failed();
    rt.cmd(&["delete", &b.id]).failed();

    rt.cmd(&["resume", &b.id]).ok();
    assert_eq!(rt.status(&b.id), "running");
    let frozen = freezer_file(&b.id);
    assert!(frozen == "THAWED" || frozen == "0", "freezer says {frozen}");
    wait_count_above(&rt, &b.id, at_pause);
    rt.cmd(&["resume", &b.id]).failed();
}

#[test]
fn a_paused_created_container_is_paused_then_created_again() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["true"]);
    rt.create(&b);
    rt.cmd(&["pause", &b.id]).ok();
    assert_eq!(rt.status(&b.id), "paused");
    rt.start(&b.id).failed().stderr_mentions(&["paused"]);
    rt.cmd(&["resume", &b.id]).ok();
    assert_eq!(rt.status(&b.id), "created");
    rt.start(&b.id).ok();
    rt.wait_status(&b.id, "stopped");
    rt.cmd(&["pause", &b.id]).failed();
    rt.cmd(&["resume", &b.id]).failed();
}

#[test]
fn sigkill_reaches_a_paused_container() {
    let rt = Runtime::new();
    let b = counter();
    rt.create_start(&b);
    rt.cmd(&["pause", &b.id]).ok();
    // A signal other than KILL waits for resume (runc: the same).
    rt.kill(&b.id, "TERM").ok();
    assert_eq!(rt.status(&b.id), "paused");
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
    rt.delete(&b.id).ok();
    rt.assert_left_nothing(&b);

    // delete --force of a paused container thaws what it killed, so its cgroup can go.
    let b = counter();
    rt.create_start(&b);
    rt.cmd(&["pause", &b.id]).ok();
    rt.cmd(&["delete", "--force", &b.id]).ok();
    rt.assert_left_nothing(&b);
}

#[test]
fn ps_lists_the_containers_processes() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sh", "-c", "sleep 300 & sleep 301 & wait"]);
    rt.create_start(&b);
    let pids = wait_procs(&b.id, 3);

    let out = rt.cmd(&["ps", "--format", "json", &b.id]).ok().stdout;
    let listed: Vec<i32> = serde_json::from_str(&out).unwrap();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, pids, "{out}");
    assert!(out.ends_with('\n'));

    // The default table is `ps -ef`: its header and one row per process.
    let table = rt.cmd(&["ps", &b.id]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].split_whitespace().any(|c| c == "PID"), "{table}");
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines.iter().any(|l| l.ends_with("sleep 301")),
        "the table has no row of `sleep 301`: {table}"
    );
    assert!(
        lines.iter().any(|l| l.contains("sh -c sleep 300")),
        "{table}"
    );

    // ps options after the id go to ps(1).
    let table = rt.cmd(&["ps", &b.id, "-o", "pid,args"]).ok().stdout;
    let rows: Vec<(i32, String)> = table
        .lines()
        .skip(1)
        .map(|l| {
            let (pid, args) = l.trim().split_once(' ').unwrap();
            (pid.parse().unwrap(), args.trim().to_string())
        })
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<BTreeSet<_>>(),
        pids.iter().copied().collect(),
        "{table}"
    );
    assert!(rows.iter().any(|r| r.1 == "sleep 300"), "{table}");
    // A header without a PID column cannot be filtered.
    rt.cmd(&["ps", &b.id, "-o", "args"]).failed();
}

/// The `events --stats` line of container `id`, parsed and checked to be runc's event.
fn stats_event(rt: &Runtime, id: &str) -> Value {
    let out = rt.cmd(&["events", "--stats", id]).ok().stdout;
    assert_eq!(out.lines().count(), 1, "one JSON line: {out}");
    let event: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(event["type"], "stats", "{out}");
    assert_eq!(event["id"], id, "{out}");
    event
}

/// Whether the container's cgroup has the memory controller's files.
fn has_memory_controller(id: &str) -> bool {
    let dir = cgroups::dir_for("memory", id).unwrap();
    dir.join("memory.usage_in_bytes").exists() || dir.join("memory.current").exists()
}

/// The key paths of a JSON object, recursively (arrays are leaves); `raw` maps are left out
/// (their keys are the kernel's, compared on their own).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = v {
        for (k, child) in map {
            let path = format!("{prefix}.{k}");
            out.insert(path.clone());
            if k != "raw" {
                key_paths(child, &path, out);
            }
        }
    }
}

/// Runs `sh` with two `sleep`s under `rt` and returns its `events --stats` event.
fn stats_of_three_processes(rt: &Runtime) -> Value {
    let b = Bundle::busybox(&["sh", "-c", "sleep 300 & sleep 301 & wait"]);
    rt.create_start(&b);
    let pids = wait_procs(&b.id, 3);
    let event = stats_event(rt, &b.id);
    let data = &event["data"];
    assert_eq!(data["pids"]["current"], pids.len(), "{data}");
    if has_memory_controller(&b.id) {
        assert!(
            data["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
            "{data}"
        );
        assert!(
            data["memory"]["usage"]["limit"].as_u64().unwrap() > 0,
            "{data}"
        );
        assert!(
            !data["memory"]["raw"].as_object().unwrap().is_empty(),
            "{data}"
        );
    } else {
        host_lacks(true, "the memory controller in the container's cgroup");
    }
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{data}"
    );
    rt.cmd(&["delete", "--force", &b.id]).ok();
    event
}

#[test]
fn events_stats_reports_the_cgroup_usage_as_runc_does() {
    let ours = stats_of_three_processes(&Runtime::new());
    if runtime::flavour() == Flavour::Runc
        || host_lacks(
            !Path::new(RUNC).exists(),
            "runc 1.1.5 at /usr/sbin/runc to compare with",
        )
    {
        return;
    }
    let theirs = stats_of_three_processes(&Runtime::with_binary(Path::new(RUNC)));
    // The same document shape: every key runc writes, husk writes, and no other. Keys that
    // are left out when zero (Go's omitempty) are compared only where both are non-zero or
    // structural: everything but `hugetlb` page sizes, which depend on the controllers each
    // runtime enables on cgroup v2.
    let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
    key_paths(&ours["data"], "data", &mut a);
    key_paths(&theirs["data"], "data", &mut b);
    let unstable = |k: &String| {
        k.starts_with("data.hugetlb.")
            || k.starts_with("data.blkio.")
            || k.starts_with("data.cpu.throttling.")
            || k.starts_with("data.memory.cache")
            || k.ends_with(".max")
            || k.ends_with(".usage") && k.starts_with("data.memory.kernel")
    };
    let differ: Vec<&String> = a
        .symmetric_difference(&b)
        .filter(|k| !unstable(k))
        .collect();
    assert!(
        differ.is_empty(),
        "events --stats keys differ from runc's: {differ:?}\nhusk: {ours}\nrunc: {theirs}"
    );
    // memory.stat is the kernel's: the same keys.
    if let (Some(x), Some(y)) = (
        ours["data"]["memory"]["raw"].as_object(),
        theirs["data"]["memory"]["raw"].as_object(),
    ) {
        let (x, y): (BTreeSet<_>, BTreeSet<_>) = (x.keys().collect(), y.keys().collect());
        assert_eq!(x, y, "memory.raw keys");
    }
}

#[test]
fn events_of_a_stopped_container_are_refused() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["true"]);
    rt.create_start(&b);
    rt.wait_status(&b.id, "stopped");
    rt.cmd(&["events", "--stats", &b.id]).failed();
    rt.cmd(&["events", &b.id]).failed();
    // ps of a stopped container: the header, no rows (runc: the same).
    let table = rt.cmd(&["ps", &b.id]).ok().stdout;
    assert_eq!(table.lines().count(), 1, "{table}");
}

/// The lines a child writes to stdout, as they come.
fn line_reader(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line, or a failure after `what` did not come in 60 s.
fn next_line(rx: &mpsc::Receiver<String>, what: &str) -> Option<String> {
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => Some(line),
        Err(mpsc::RecvTimeoutError::Disconnected) => None,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("no {what} within 60 s"),
    }
}

#[test]
fn events_streams_stats_and_an_oom_kill() {
    let rt = Runtime::new();
    let trigger = rt.scratch().join("trigger");
    fs::create_dir(&trigger).unwrap();
    // Waits for the test, then runs `tail` on an endless line, which holds all of it in memory
    // until the cgroup's limit kills it.
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "while [ ! -e /mnt/a/go ]; do sleep 0.01; done; head -c 256m /dev/zero | tail; \
         echo tail-exited=$?; exec sleep 300",
    ]);
    b.mount(
        "/mnt/a",
        "bind",
        trigger.to_str().unwrap(),
        &["rbind", "rw"],
    );
    rt.create(&b);
    let Some(limit_file) = memory_limit_file(&b.id) else {
        host_lacks(true, "the memory controller in the container's cgroup");
        return;
    };
    fs::write(&limit_file, "33554432").unwrap();
    rt.start(&b.id).ok();

    let mut events = rt.command(&["events", "--interval", "100ms", &b.id], &b.id);
    events.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(&mut events);
    let rx = line_reader(child.stdout.take().unwrap());
    // The first stats event: the stream is running (and has read the OOM counter).
    let first: Value = serde_json::from_str(&next_line(&rx, "stats event").unwrap()).unwrap();
    assert_eq!(first["type"], "stats", "{first}");
    assert_eq!(first["id"], b.id.as_str());
    assert!(
        first["data"]["pids"]["current"].as_u64().unwrap() >= 1,
        "{first}"
    );

    fs::write(trigger.join("go"), "").unwrap();
    let oom = loop {
        let line = next_line(&rx, "oom event").expect("events ended before the OOM kill");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["type"] == "oom" {
            break event;
        }
        assert_eq!(event["type"], "stats", "{line}");
    };
    assert_eq!(
        oom,
        serde_json::json!({"type": "oom", "id": b.id.as_str()}),
        "runc's oom event"
    );
    // The stream ends with the container (runc: when its cgroup is removed).
    rt.cmd(&["delete", "--force", &b.id]).ok();
    while next_line(&rx, "the end of the stream").is_some() {}
    let status = wait_child(&mut child, Duration::from_secs(30), "events");
    assert!(status.success(), "events exited with {status}");
}

/// The memory limit file of the container's cgroup, if its memory controller is there.
fn memory_limit_file(id: &str) -> Option<PathBuf> {
    let dir = cgroups::dir_for("memory", id)?;
    ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
}

#[test]
fn kill_all_reaches_children_also_after_the_init_exited() {
    let rt = Runtime::new();
    // No pid namespace: the children outlive the init.
    let mut b = Bundle::busybox(&["sh", "-c", "sleep 300 & sleep 301 & wait"]);
    b.namespaces(&["mount", "ipc", "uts", "network"]);
    rt.create_start(&b);
    let pids = wait_procs(&b.id, 3);
    rt.cmd(&["kill", "--all", &b.id, "TERM"]).ok();
    rt.wait_status(&b.id, "stopped");
    wait_procs(&b.id, 0);
    assert!(pids.iter().all(|p| !host::alive(*p)), "{pids:?} alive");

    let mut b = Bundle::busybox(&["sh", "-c", "sleep 300 & sleep 301 & exit 0"]);
    b.namespaces(&["mount", "ipc", "uts", "network"]);
    rt.create_start(&b);
    rt.wait_status(&b.id, "stopped");
    let orphans = wait_procs(&b.id, 2);
    // kill without --all has no process to signal in a stopped container...
    rt.kill(&b.id, "KILL").failed();
    // ...with -a it reaches what is left in the cgroup.
    rt.cmd(&["kill", "-a", &b.id, "KILL"]).ok();
    wait_procs(&b.id, 0);
    assert!(
        orphans.iter().all(|p| !host::alive(*p)),
        "{orphans:?} alive"
    );
    rt.delete(&b.id).ok();
    rt.assert_left_nothing(&b);
}

/// The container's cgroup file that holds `v1` on a v1 host (in the controller's hierarchy) or
/// `v2` on cgroup v2, trimmed.
fn limit(controller: &str, id: &str, v1: &str, v2: &str) -> String {
    let file = match cgroups::v1_dir(controller, id) {
        Some(dir) => dir.join(v1),
        None => cgroups::dir_for(controller, id).unwrap().join(v2),
    };
    fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_string()
}

#[test]
fn update_changes_the_limits_of_a_running_container() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "300"]);
    rt.create_start(&b);
    let memory = |id: &str| limit("memory", id, "memory.limit_in_bytes", "memory.max");
    let pids = |id: &str| limit("pids", id, "pids.max", "pids.max");

    // runc's flags and size syntax.
    rt.cmd(&["update", "--memory", "100M", "--pids-limit", "20", &b.id])
        .ok();
    assert_eq!(memory(&b.id), "104857600");
    assert_eq!(pids(&b.id), "20");
    // --pids-limit 0 leaves the limit alone (runc's flag: 0 is "not given").
    rt.cmd(&["update", "--pids-limit", "0", "--memory", "150m", &b.id])
        .ok();
    assert_eq!(pids(&b.id), "20");
    assert_eq!(memory(&b.id), "157286400");

    // -r FILE: linux.resources JSON.
    let file = rt.scratch().join("resources.json");
    fs::write(
        &file,
        r#"{"memory": {"limit": 209715200}, "pids": {"limit": -1}}"#,
    )
    .unwrap();
    rt.cmd(&["update", "-r", file.to_str().unwrap(), &b.id])
        .ok();
    assert_eq!(memory(&b.id), "209715200");
    assert_eq!(pids(&b.id), "max");

    // -r -: the same JSON on stdin.
    let mut cmd = rt.command(&["update", "-r", "-", &b.id], &b.id);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = spawn(&mut cmd);
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(br#"{"pids": {"limit": 30}}"#).unwrap();
    }
    let status = wait_child(&mut child, Duration::from_secs(60), "update -r -");
    assert!(status.success(), "update -r - exited with {status}");
    assert_eq!(pids(&b.id), "30");
    assert_eq!(memory(&b.id), "209715200", "a field not given is unchanged");

    // Refused: a bad size, Intel RDT, and (nothing applied) a stopped container.
    rt.cmd(&["update", "--memory", "lots", &b.id]).failed();
    rt.cmd(&["update", "--l3-cache-schema", "L3:0=f", &b.id])
        .failed();
    assert_eq!(memory(&b.id), "209715200");
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
    rt.cmd(&["update", "--pids-limit", "40", &b.id]).failed();
}

#[test]
fn update_refuses_flags_beside_a_resources_file() {
    if husk_tests::reference_lacks("runc ignores the flags given with -r; husk refuses them") {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "300"]);
    rt.create_start(&b);
    rt.cmd(&["update", "-r", "-", "--memory", "1M", &b.id])
        .failed()
        .stderr_mentions(&["--memory"]);
}

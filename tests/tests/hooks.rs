//! Hooks: createRuntime, createContainer, startContainer, poststart, poststop and the
//! deprecated prestart, each given the state JSON on stdin, with its args, env and timeout, at
//! the points the spec names, and the failure rules of runtime-spec v1.3 (runtime-tools
//! validation: hooks, hooks_stdin, prestart, poststart, poststop, *_fail).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use husk_tests::{host, reference_lacks, Bundle, Runtime};
use serde_json::{json, Value};

/// A hook that saves its stdin as `<dir>/<name>.json` and appends `name` to `<dir>/order`.
/// `sh` is the hook's path: the host's for runtime-namespace hooks, the container's for
/// startContainer.
fn recorder(sh: &str, dir: &str, name: &str) -> Value {
    json!({
        "path": sh,
        "args": ["sh", "-c", format!("cat > {dir}/{name}.json; echo {name} >> {dir}/order")],
        "timeout": 10
    })
}

fn read_state(dir: &Path, name: &str) -> Value {
    let text = fs::read_to_string(dir.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name} hook left no stdin record: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} stdin is not JSON ({e}): {text}"))
}

/// A bundle with every hook kind recording into a fresh host dir, which is also bound at
/// /mnt/b in the container (for startContainer, which runs in the container).
fn all_hooks(args: &[&str]) -> (Bundle, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let d = out.path().to_str().unwrap().to_string();
    let mut b = Bundle::busybox(args);
    b.set("/annotations", json!({"org.husk.hooks": "stdin test"}));
    b.mount("/mnt/b", "bind", &d, &["bind", "rw"]);
    for kind in [
        "createRuntime",
        "prestart",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        b.hook(kind, recorder("/bin/sh", &d, kind));
    }
    b.hook(
        "startContainer",
        recorder("/bin/sh", "/mnt/b", "startContainer"),
    );
    (b, out)
}

#[test]
fn every_hook_runs_in_order_with_the_state_on_stdin() {
    let rt = Runtime::new();
    let (b, out) = all_hooks(&["sleep", "30"]);
    rt.create(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    let order = || fs::read_to_string(out.path().join("order")).unwrap_or_default();
    let mut created: Vec<String> = order().lines().map(str::to_string).collect();
    if reference_lacks("poststart at start, not create (runc 1.1.5 runs it at create)") {
        created.retain(|h| h != "poststart");
    }
    assert_eq!(created.len(), 3, "after create: {created:?}");
    assert_eq!(
        created[2], "createContainer",
        "createContainer comes last at create"
    );
    assert!(created.contains(&"createRuntime".into()) && created.contains(&"prestart".into()));
    rt.start(&b.id).ok();
    // poststart may finish after start returns.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !order().contains("poststart") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
    rt.delete(&b.id).ok();
    let all: Vec<String> = order().lines().map(str::to_string).collect();
    if husk_tests::runtime::flavour() == husk_tests::Flavour::Husk {
        assert_eq!(
            all[3..],
            ["startContainer", "poststart", "poststop"],
            "{all:?}"
        );
    } else {
        assert_eq!(all[4..], ["startContainer", "poststop"], "{all:?}");
    }

    let bundle = json!(b.path());
    let husk = husk_tests::runtime::flavour() == husk_tests::Flavour::Husk;
    for (hook, statuses) in [
        ("createRuntime", &["creating", "created"][..]),
        ("prestart", &["creating", "created"][..]),
        ("createContainer", &["creating", "created"][..]),
        ("startContainer", &["created", "running"][..]),
        ("poststart", &["running"][..]),
        ("poststop", &["stopped"][..]),
    ] {
        let st = read_state(out.path(), hook);
        assert_eq!(st["id"], json!(b.id), "{hook}: {st}");
        assert_eq!(st["bundle"], bundle, "{hook}: {st}");
        assert_eq!(
            st["annotations"]["org.husk.hooks"], "stdin test",
            "{hook}: {st}"
        );
        assert!(st["ociVersion"].is_string(), "{hook}: {st}");
        let status = st["status"].as_str().unwrap_or("");
        let runc_poststart = hook == "poststart" && !husk;
        assert!(
            runc_poststart || statuses.contains(&status),
            "{hook} saw status {status:?}, want one of {statuses:?}"
        );
        match hook {
            "poststop" => {}
            // Run inside the container's pid namespace, the pid may be given as seen there.
            "createContainer" | "startContainer" => {
                let p = st["pid"].as_i64();
                assert!(p == Some(pid) || p == Some(1), "{hook}: {st}");
            }
            _ => assert_eq!(st["pid"].as_i64(), Some(pid), "{hook}: {st}"),
        }
    }
}

#[test]
fn hooks_get_their_args_and_env() {
    let rt = Runtime::new();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("seen");
    let mut b = Bundle::busybox(&["true"]);
    b.hook(
        "createRuntime",
        json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo \"$HOOK_VAR|$0|$1\" > {}", file.display()), "zero", "one"],
            "env": ["HOOK_VAR=hook value"]
        }),
    );
    rt.run(&b).ok();
    assert_eq!(fs::read_to_string(&file).unwrap(), "hook value|zero|one\n");
}

#[test]
fn a_failing_prestart_hook_fails_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.hook("prestart", json!({"path": "/bin/false", "args": ["false"]}));
    rt.create_with(&b, &b.id, &[]).failed();
    rt.assert_left_nothing(&b);
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.hook(
        "createRuntime",
        json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}),
    );
    rt.create_with(&b, &b.id, &[]).failed();
    rt.assert_left_nothing(&b);
}

#[test]
fn a_hook_past_its_timeout_is_killed_and_fails_create() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.hook(
        "createRuntime",
        json!({"path": "/bin/sleep", "args": ["sleep", "20"], "timeout": 1}),
    );
    let t = Instant::now();
    rt.create_with(&b, &b.id, &[]).failed();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "timeout not enforced: {:?}",
        t.elapsed()
    );
    rt.assert_left_nothing(&b);
}

#[test]
fn a_failing_poststart_hook_fails_start_and_stops_the_container() {
    // runtime-spec v1.3 lifecycle: a failing poststart hook is an error; the runtime stops the
    // container and continues at delete (which runs poststop).
    if reference_lacks("poststart at start and its failure rule (runc 1.1.5 runs it at create)") {
        return;
    }
    let rt = Runtime::new();
    let out = tempfile::tempdir().unwrap();
    let d = out.path().to_str().unwrap();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.hook(
        "poststart",
        json!({"path": "/bin/false", "args": ["false"]}),
    );
    b.hook("poststop", recorder("/bin/sh", d, "poststop"));
    rt.create(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap() as i32;
    rt.start(&b.id).failed();
    husk_tests::runtime::reap(pid);
    assert!(
        !host::alive(pid),
        "container process still runs after a failed poststart"
    );
    if rt.try_state(&b.id).is_some() {
        rt.delete(&b.id).ok();
    }
    assert!(
        out.path().join("poststop.json").exists(),
        "poststop did not run"
    );
}

#[test]
fn a_failing_poststop_hook_is_a_warning_and_the_rest_still_run() {
    let rt = Runtime::new();
    let out = tempfile::tempdir().unwrap();
    let d = out.path().to_str().unwrap();
    let mut b = Bundle::busybox(&["true"]);
    b.hook("poststop", json!({"path": "/bin/false", "args": ["false"]}));
    b.hook("poststop", recorder("/bin/sh", d, "poststop"));
    rt.create_start(&b);
    rt.wait_status(&b.id, "stopped");
    let o = rt.delete(&b.id);
    if reference_lacks("poststop failure rule (runc 1.1.5 stops at the failing hook)") {
        return;
    }
    o.ok();
    assert!(rt.try_state(&b.id).is_none());
    assert!(
        out.path().join("poststop.json").exists(),
        "the second poststop hook did not run"
    );
}

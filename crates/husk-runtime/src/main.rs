//! husk-runtime: an OCI runtime (runtime-spec v1.3) with runc's command line. This binary only
//! parses arguments, sets up logging, dispatches to husk-container and maps errors to exit codes.

mod cli;
mod log;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use husk_container::cgroup_verbs::{self, Event, ResourceFlags};
use husk_container::container::{self, CreateOptions};
use husk_container::exec::{ExecArgs, ExecOptions, ExecProcess};
use husk_container::features;

use crate::cli::{Cli, Command, ListFormat, PsFormat, UpdateArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Nothing the caller left open reaches a hook or the container's program (STYLE: clean
    // inherited fds first thing), but the fds it hands over on purpose: LISTEN_FDS (create,
    // run) and --preserve-fds, from 3 up. Closed, not just close-on-exec: the container's init
    // keeps close-on-exec fds until execve, and a process.cwd of /proc/self/fd/N would reach a
    // directory among them (CVE-2024-21626). clap opens nothing while parsing. close_range
    // needs Linux 5.9 (husk needs 5.12); failure is not fatal here: the init marks everything
    // close-on-exec again before execve, where it is, and checks process.cwd itself.
    let exec_verb = matches!(cli.command, Command::Exec(_));
    // runc's exit status when `exec` itself fails (the process's own status otherwise).
    let failed = ExitCode::from(if exec_verb { 255 } else { 1 });
    let (listen_fds, preserve_fds) = passed_fds(&cli);
    // No fd can be numbered at or above RLIMIT_NOFILE's soft limit: a count reaching it names
    // fds that cannot be open (and 3 + the count must not overflow).
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let keep = match listen_fds
        .checked_add(preserve_fds)
        .filter(|k| u64::from(*k) + 3 <= limit)
    {
        Some(k) => k,
        None => {
            eprintln!(
                "husk-runtime: LISTEN_FDS={listen_fds} and --preserve-fds {preserve_fds} pass \
                 more fds than this process may have open (RLIMIT_NOFILE {limit}): lower the count"
            );
            let _ = husk_sys::close_from(3);
            return failed;
        }
    };
    let _ = husk_sys::close_from(3 + keep);
    for fd in 3..3 + keep {
        if nix::fcntl::fcntl(fd as i32, nix::fcntl::FcntlArg::F_GETFD).is_err() {
            eprintln!(
                "husk-runtime: fd {fd} is not open, but LISTEN_FDS={listen_fds} and \
                 --preserve-fds {preserve_fds} pass fds 3 to {}: pass it or lower the count",
                2 + keep
            );
            return failed;
        }
    }
    if matches!(
        cli.command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) {
        // The container's init (and an exec'd process) is forked from this process: its
        // /proc/PID/exe must not be a writable host file (CVE-2019-5736). Re-executes from a
        // read-only copy and returns once running from one; before anything is opened (a
        // --log FIFO would be opened twice). The passed fds survive the re-exec.
        if let Err(e) = husk_container::exeseal::ensure_sealed() {
            eprintln!("husk-runtime: {e}");
            return failed;
        }
    }
    if let Err(e) = log::init(&cli) {
        eprintln!("husk-runtime: {e}");
        return failed;
    }
    match dispatch(&cli, listen_fds) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            // The error goes to stderr and, with --log, into the log too (clients read both).
            if cli.log.is_some() {
                tracing::error!("{msg}");
            }
            eprintln!("husk-runtime: {msg}");
            failed
        }
    }
}

/// The fds the caller passes on purpose: `(LISTEN_FDS, --preserve-fds)`. LISTEN_FDS counts
/// only for create and run, and only when LISTEN_PID is this process (`sd_listen_fds(3)`;
/// runc's rule).
fn passed_fds(cli: &Cli) -> (u32, u32) {
    let listen = || -> u32 {
        let pid_ok = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            == Some(std::process::id());
        if !pid_ok {
            return 0;
        }
        std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    };
    match &cli.command {
        Command::Create(a) => (listen(), a.preserve_fds),
        Command::Run(a) => (listen(), a.container.preserve_fds),
        Command::Exec(a) => (0, a.preserve_fds),
        _ => (0, 0),
    }
}

fn dispatch(cli: &Cli, listen_fds: u32) -> Result<u8, String> {
    if cli.systemd_cgroup {
        return Err("--systemd-cgroup: the systemd cgroup driver is not supported yet (and systemd is not running here); use the default cgroupfs driver".into());
    }
    let s = |e: container::ContainerError| e.to_string();
    // `spec` needs no state root (a rootless user without XDG_RUNTIME_DIR may still write one).
    let root = match &cli.command {
        Command::Spec(_) => std::path::PathBuf::new(),
        _ => husk_container::rootless::state_root(cli.root.clone()).map_err(|e| e.to_string())?,
    };
    tracing::debug!(root = %root.display(), "state root");
    match &cli.command {
        Command::Spec(a) => {
            let bundle = a.bundle.clone().unwrap_or_else(|| ".".into());
            husk_container::spec_default::write_default(&bundle, a.rootless)
                .map_err(|e| e.to_string())?;
            Ok(0)
        }
        Command::Create(a) => {
            container::create(&create_options(root, a, listen_fds), false).map_err(s)?;
            Ok(0)
        }
        Command::Exec(a) => {
            let code = husk_container::exec::exec(&exec_options(root, a)).map_err(s)?;
            Ok(u8::try_from(code).unwrap_or(255))
        }
        Command::Start(a) => {
            container::start(&root, &a.id).map_err(s)?;
            Ok(0)
        }
        Command::Run(a) => {
            let opts = create_options(root, &a.container, listen_fds);
            if a.detach {
                container::create(&opts, false).map_err(s)?;
                if let Err(e) = container::start(&opts.root, &opts.id) {
                    // As runc: a container whose start failed under `run` is not kept.
                    let _ = container::delete(&opts.root, &opts.id, true);
                    return Err(s(e));
                }
                return Ok(0);
            }
            let code = container::run(&opts).map_err(s)?;
            Ok(u8::try_from(code).unwrap_or(255))
        }
        Command::State(a) => {
            let v = container::state(&root, &a.id).map_err(s)?;
            print_json(&v, true)?;
            Ok(0)
        }
        Command::Kill(a) => {
            let sig = container::parse_signal(a.signal.as_deref().unwrap_or("TERM")).map_err(s)?;
            container::kill_container(&root, &a.id, sig, a.all).map_err(s)?;
            Ok(0)
        }
        Command::Delete(a) => {
            container::delete(&root, &a.id, a.force).map_err(s)?;
            Ok(0)
        }
        Command::List(a) => {
            let all = container::list(&root).map_err(s)?;
            list(&all, a.format, a.quiet)?;
            Ok(0)
        }
        Command::Pause(a) => {
            cgroup_verbs::pause(&root, &a.id).map_err(s)?;
            Ok(0)
        }
        Command::Resume(a) => {
            cgroup_verbs::resume(&root, &a.id).map_err(s)?;
            Ok(0)
        }
        Command::Ps(a) => {
            let pids = cgroup_verbs::processes(&root, a.id()).map_err(s)?;
            let text = match a.format {
                PsFormat::Json => {
                    let mut text = serde_json::to_string(&pids).map_err(|e| e.to_string())?;
                    text.push('\n');
                    text
                }
                PsFormat::Table => cgroup_verbs::ps_table(&pids, a.ps_options()).map_err(s)?,
            };
            write_stdout(&text)?;
            Ok(0)
        }
        Command::Events(a) => {
            let mut out = std::io::stdout().lock();
            if a.stats {
                let stats = cgroup_verbs::stats(&root, &a.id).map_err(s)?;
                let event = Event {
                    kind: "stats",
                    id: &a.id,
                    data: Some(&stats),
                };
                cgroup_verbs::write_event(&mut out, &event)
                    .map_err(|e| format!("write to stdout: {e}"))?;
                return Ok(0);
            }
            cgroup_verbs::events(&root, &a.id, a.interval, |event| {
                cgroup_verbs::write_event(&mut out, event)
            })
            .map_err(s)?;
            Ok(0)
        }
        Command::Update(a) => {
            update(&root, a)?;
            Ok(0)
        }
        Command::Features => {
            let doc = features::features();
            let text = features::to_json(&doc).map_err(|e| e.to_string())?;
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(|e| format!("write to stdout: {e}"))?;
            Ok(0)
        }
    }
}

/// `update`: the flags (or the `-r` JSON) into linux.resources, then the cgroup.
fn update(root: &std::path::Path, a: &UpdateArgs) -> Result<(), String> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        return Err("--l3-cache-schema, --mem-bw-schema: Intel RDT is not supported by husk; remove the flag".into());
    }
    for (flag, value) in [
        ("--kernel-memory", &a.kernel_memory),
        ("--kernel-memory-tcp", &a.kernel_memory_tcp),
    ] {
        if value.is_some() {
            // runc 1.1 ignores them the same way: the kernel deprecated kmem limits (5.4) and
            // removed them on v1 (6.x).
            tracing::warn!("{flag} is ignored: kernel memory limits are obsolete");
        }
    }
    let parse = |text: &str, source: String| {
        serde_json::from_str::<serde_json::Value>(text)
            .map(|v| (v, source.clone()))
            .map_err(|e| format!("update --resources {source}: not JSON: {e}"))
    };
    let (value, source) = match &a.resources {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("update --resources -: reading stdin: {e}"))?;
            parse(&text, "stdin".into())?
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("update --resources {}: {e}", path.display()))?;
            parse(&text, path.display().to_string())?
        }
        None => {
            let flags = ResourceFlags {
                memory: a.memory,
                memory_swap: a.memory_swap,
                memory_reservation: a.memory_reservation,
                cpu_shares: a.cpu_share,
                cpu_quota: a.cpu_quota,
                cpu_period: a.cpu_period,
                cpu_rt_period: a.cpu_rt_period,
                cpu_rt_runtime: a.cpu_rt_runtime,
                cpuset_cpus: a.cpuset_cpus.clone().filter(|v| !v.is_empty()),
                cpuset_mems: a.cpuset_mems.clone().filter(|v| !v.is_empty()),
                // runc: 0 leaves these two unchanged.
                blkio_weight: a.blkio_weight.filter(|w| *w != 0),
                pids_limit: a.pids_limit.filter(|l| *l != 0),
            };
            (flags.to_json(), "the flags".to_string())
        }
    };
    let (resources, pids_limit) =
        cgroup_verbs::resources_from_json(value, &source).map_err(|e| e.to_string())?;
    cgroup_verbs::update(root, &a.id, &resources, pids_limit).map_err(|e| e.to_string())
}

fn write_stdout(text: &str) -> Result<(), String> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| format!("write to stdout: {e}"))
}

fn exec_options(root: std::path::PathBuf, a: &cli::ExecArgs) -> ExecOptions {
    let process = match &a.process {
        Some(f) => ExecProcess::File(f.clone()),
        None => ExecProcess::Args(ExecArgs {
            args: a.command().to_vec(),
            tty: a.tty,
            cwd: a.cwd.clone(),
            env: a.env.clone(),
            user: a.user.clone(),
            additional_gids: a.additional_gids.clone(),
            caps: a.cap.clone(),
            no_new_privs: a.no_new_privs,
            apparmor: a.apparmor.clone(),
            process_label: a.process_label.clone(),
        }),
    };
    ExecOptions {
        root,
        id: a.id().to_string(),
        process,
        console_socket: a.console_socket.clone(),
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        cgroup: a.cgroup.clone(),
        ignore_paused: a.ignore_paused,
    }
}

fn create_options(
    root: std::path::PathBuf,
    a: &cli::ContainerArgs,
    listen_fds: u32,
) -> CreateOptions {
    CreateOptions {
        root,
        id: a.id.clone(),
        bundle: a.bundle.clone().unwrap_or_else(|| ".".into()),
        pid_file: a.pid_file.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        console_socket: a.console_socket.clone(),
        listen_fds,
        preserve_fds: a.preserve_fds,
        namespace_fds: false,
    }
}

fn print_json(v: &serde_json::Value, pretty: bool) -> Result<(), String> {
    let text = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| format!("write to stdout: {e}"))
}

/// runc's `list`: a table (ID PID STATUS BUNDLE CREATED OWNER), JSON, or ids only.
fn list(all: &[serde_json::Value], format: ListFormat, quiet: bool) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let w = |r: std::io::Result<()>| r.map_err(|e| format!("write to stdout: {e}"));
    if quiet {
        for v in all {
            w(writeln!(out, "{}", v["id"].as_str().unwrap_or("")))?;
        }
        return Ok(());
    }
    match format {
        ListFormat::Json => {
            let text = serde_json::to_string(all).map_err(|e| e.to_string())?;
            w(writeln!(out, "{text}"))
        }
        ListFormat::Table => {
            let rows: Vec<[String; 6]> = all
                .iter()
                .map(|v| {
                    let f = |k: &str| match &v[k] {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    [
                        f("id"),
                        f("pid"),
                        f("status"),
                        f("bundle"),
                        f("created"),
                        f("owner"),
                    ]
                })
                .collect();
            let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = head.clone().map(|h| h.len());
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    widths[i] = widths[i].max(c.len());
                }
            }
            for r in std::iter::once(&head).chain(rows.iter()) {
                let line: Vec<String> = r
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                    .collect();
                w(writeln!(out, "{}", line.join("   ").trim_end()))?;
            }
            Ok(())
        }
    }
}

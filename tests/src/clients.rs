//! Real clients driving the runtime: Podman (through conmon) and containerd (through `ctr` and
//! the `io.containerd.runc.v2` shim), each run once with the runtime under test and once with
//! runc, the reference (tests/tests/clients.rs).
//!
//! Everything a client keeps is the test's own: [`Podman`] has its own `--root`, `--runroot`,
//! `--tmpdir`, containers.conf, storage.conf and registries.conf in a temp dir, file locks
//! (not the machine-wide `/dev/shm/libpod_lock`), the cgroupfs manager, no network, and runs
//! each Podman command in a private mount namespace with tmpfs over `/run` and `/var/lib`,
//! because Podman 4.3 writes `/run/containers/networks` and
//! `/var/lib/containers/cache/blob-info-cache-v1.boltdb` whatever it is told. [`Containerd`]
//! is a daemon of the test's own (own config, root, state and socket; the CRI plugin disabled)
//! in such a namespace too (the shim sockets live in `/run/containerd/s`), killed with its
//! shims and tasks when dropped.
//!
//! The runtime is reached through a two-line shell wrapper named like the binary
//! (`<dir>/bin/husk-runtime` or `<dir>/bin/runc`) that appends its arguments to `calls.log`
//! and `exec`s the binary (adding Podman's `--root`, which Podman 4.3 does not pass to the
//! `delete` of its exit cleanup when given as `--runtime-flag`). Failures print that log: it
//! is the exact command line the client used.
//!
//! Container cgroups go below the test cgroup parent (see [`crate::cgroups`]): Podman gets
//! `--cgroups no-conmon --cgroup-parent husk-test-<pid>` (conmon stays in the test's cgroup,
//! so the relative path lands under it in every hierarchy) and `ctr run` gets
//! `--cgroup husk-test-<pid>/<id>`.
//!
//! [`Podman::rootless`] is rootless Podman (issue 7): every Podman command runs as the test
//! user of [`crate::rootless`] (no private mount namespace: an unprivileged user cannot make
//! one, and rootless Podman keeps nothing in /run or /var/lib), with HOME, XDG_CONFIG_HOME,
//! XDG_DATA_HOME and XDG_RUNTIME_DIR of its own in its temp dir (owned by the user), so its
//! pause process, network state and caches are the test's alone; the pause process (which
//! holds Podman's user namespace) is killed when the Podman is dropped. Podman runs the runtime
//! as uid 0 of the user namespace it makes from the user's /etc/subuid and /etc/subgid ranges;
//! containers run without cgroups (a cgroup v1 host delegates none) and with `--network none`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::cgroups::{self, ParentGuard};
use crate::rootfs;
use crate::rootless::{self, TestUser};
use crate::runtime::{self, exec_timeout, Outcome};

/// The runc reference binary.
pub const RUNC: &str = "/usr/sbin/runc";

/// The name every test image gets.
pub const IMAGE: &str = "localhost/husk-busybox:test";

/// How long one client command may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The runtimes each scenario runs with: runc (the reference) first, then the runtime under
/// test (`$HUSK_RUNTIME` or target/debug/husk-runtime).
pub fn runtimes() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("runc", PathBuf::from(RUNC)),
        ("husk", runtime::binary().to_path_buf()),
    ]
}

/// [`runtimes`] as the rootless test user can run them: the runtime under test is its copy
/// every user can read ([`rootless::runtime_binary`]).
pub fn rootless_runtimes() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("runc", PathBuf::from(RUNC)),
        ("husk", rootless::runtime_binary().to_path_buf()),
    ]
}

/// The first of `programs` not found on `PATH` (or as an absolute path), if any.
pub fn missing_program(programs: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    programs
        .iter()
        .find(|p| {
            if p.starts_with('/') {
                return !Path::new(p).exists();
            }
            !std::env::split_paths(&path).any(|d| d.join(p).is_file())
        })
        .map(|p| p.to_string())
}

/// Quotes `arg` for `sh` (single quotes).
pub fn sh_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// Runs `argv` under a pseudo-terminal with `script -qec`, output captured (the terminal's
/// `\r`, NULs and `^@` echoes removed). script's stdin is a pipe held open until it exits: at
/// the end of an empty stdin script ends the terminal's input, and an `-i` client (podman run
/// -it) that sees it early can stop relaying the container's output before it came.
pub fn under_pty(argv: &[String], env: &[(String, String)]) -> Outcome {
    under_pty_as(None, argv, env)
}

/// [`under_pty`] as `user` (its login environment, then `env`), or as the caller with `None`.
pub fn under_pty_as(user: Option<&TestUser>, argv: &[String], env: &[(String, String)]) -> Outcome {
    let line = argv
        .iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let files = match user {
        Some(u) => u.tempdir("husk-pty-"),
        None => tempfile::Builder::new()
            .prefix("husk-pty-")
            .tempdir()
            .unwrap(),
    };
    let mut cmd = match user {
        Some(u) => u.command("script"),
        None => Command::new("script"),
    };
    cmd.args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(fs::File::create(files.path().join("out")).unwrap())
        .stderr(fs::File::create(files.path().join("err")).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = runtime::spawn(&mut cmd);
    let stdin = child.stdin.take();
    let status = runtime::wait_child(&mut child, CLIENT_TIMEOUT, &line);
    drop(stdin);
    let read = |name: &str| fs::read_to_string(files.path().join(name)).unwrap_or_default();
    Outcome {
        status,
        stdout: read("out").replace(['\r', '\0'], "").replace("^@", ""),
        stderr: read("err"),
    }
}

/// Writes the shell wrapper `<dir>/<basename of bin>` that logs its arguments to `log` and
/// `exec`s `bin` with `extra` first; returns its path.
fn write_wrapper(dir: &Path, bin: &Path, extra: &[&str], log: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let name = bin.file_name().unwrap();
    let path = dir.join(name);
    let extra: Vec<String> = extra.iter().map(|a| sh_quote(a)).collect();
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\nexec {bin} {extra} \"$@\"\n",
        log = sh_quote(&log.to_string_lossy()),
        bin = sh_quote(&bin.to_string_lossy()),
        extra = extra.join(" "),
    );
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The `sh -c` script that runs a client in a private mount namespace with tmpfs over `/run`
/// and `/var/lib` (so it cannot leave state there), then `exec`s its arguments.
const PRIVATE_RUN: &str = "mount -t tmpfs -o size=4m,mode=0755 husk-client-run /run && \
mount -t tmpfs -o size=16m,mode=0755 husk-client-varlib /var/lib && exec \"$@\"";

/// `argv` prefixed so it runs in such a namespace.
fn in_private_ns(argv: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        PRIVATE_RUN,
        "husk-client",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(argv);
    v
}

/// Writes the busybox test rootfs as a tar file at `path`.
pub fn busybox_tar(path: &Path) {
    let file = fs::File::create(path).unwrap();
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    builder.append_dir_all(".", rootfs::busybox()).unwrap();
    builder.into_inner().unwrap();
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The OCI name of this machine's architecture (image-spec config `architecture`).
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Writes an OCI image layout archive (image-spec image-layout.md) of the busybox test rootfs
/// at `path`: one uncompressed layer, a config, a manifest, and an index naming it
/// [`IMAGE`] (`io.containerd.image.name` and `org.opencontainers.image.ref.name`).
pub fn busybox_oci_archive(path: &Path) {
    let layer_path = path.with_extension("layer.tar");
    busybox_tar(&layer_path);
    let layer = fs::read(&layer_path).unwrap();
    fs::remove_file(&layer_path).unwrap();
    let layer_digest = sha256_hex(&layer);
    let config = serde_json::json!({
        "architecture": oci_arch(),
        "os": "linux",
        "config": { "Env": ["PATH=/bin"] },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_digest}")] },
    })
    .to_string()
    .into_bytes();
    let config_digest = sha256_hex(&config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_digest}"),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{layer_digest}"),
            "size": layer.len(),
        }],
    })
    .to_string()
    .into_bytes();
    let manifest_digest = sha256_hex(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_digest}"),
            "size": manifest.len(),
            "annotations": {
                "io.containerd.image.name": IMAGE,
                "org.opencontainers.image.ref.name": IMAGE,
            },
        }],
    })
    .to_string()
    .into_bytes();
    let file = fs::File::create(path).unwrap();
    let mut builder = tar::Builder::new(file);
    let mut add = |name: &str, data: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, name, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    add(&format!("blobs/sha256/{manifest_digest}"), &manifest);
    add(&format!("blobs/sha256/{config_digest}"), &config);
    add(&format!("blobs/sha256/{layer_digest}"), &layer);
    builder.into_inner().unwrap();
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes; returns its last
/// answer.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One isolated Podman driving one runtime; see the module doc.
#[derive(Debug)]
pub struct Podman {
    dir: TempDir,
    /// The wrapper Podman is given as `--runtime`.
    wrapper: PathBuf,
    /// The runtime's `--root`.
    runtime_root: PathBuf,
    /// The unprivileged user rootless Podman runs as; `None`: root.
    user: Option<&'static TestUser>,
    _cgroups: ParentGuard,
}

impl Podman {
    /// A Podman of its own for runtime `bin`, with the busybox rootfs imported as [`IMAGE`].
    pub fn new(bin: &Path) -> Podman {
        Podman::build(bin, None)
    }

    /// A rootless Podman of its own (see the module doc) for runtime `bin`, which the test
    /// user must be able to run (see [`rootless_runtimes`]), with the busybox rootfs imported
    /// as [`IMAGE`].
    pub fn rootless(bin: &Path) -> Podman {
        Podman::build(bin, Some(rootless::user()))
    }

    fn build(bin: &Path, user: Option<&'static TestUser>) -> Podman {
        let cgroups = ParentGuard::acquire();
        let dir = match user {
            Some(u) => u.tempdir("husk-podman-rl-"),
            None => tempfile::Builder::new()
                .prefix("husk-podman-")
                .tempdir()
                .unwrap(),
        };
        let d = dir.path();
        let runtime_root = d.join("runtime-root");
        let wrapper = write_wrapper(
            &d.join("bin"),
            bin,
            &["--root", &runtime_root.to_string_lossy()],
            &d.join("calls.log"),
        );
        let runtime_name = bin.file_name().unwrap().to_string_lossy().into_owned();
        fs::create_dir_all(d.join("net")).unwrap();
        fs::write(
            d.join("containers.conf"),
            format!(
                "[engine]\n\
                 cgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"none\"\n\
                 lock_type = \"file\"\n\
                 tmp_dir = \"{tmp}\"\n\
                 image_copy_tmp_dir = \"{tmp}\"\n\
                 # Podman passes --log-format=json --log FILE to the runtimes named here.\n\
                 runtime_supports_json = [\"runc\", \"{runtime_name}\"]\n\
                 [network]\n\
                 # CNI whether or not netavark is installed: --network none runs no plugin.\n\
                 network_backend = \"cni\"\n\
                 network_config_dir = \"{net}\"\n",
                tmp = d.join("tmp").display(),
                net = d.join("net").display(),
            ),
        )
        .unwrap();
        fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\nrunroot = \"{}\"\ngraphroot = \"{}\"\n",
                d.join("runroot").display(),
                d.join("root").display()
            ),
        )
        .unwrap();
        fs::write(
            d.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .unwrap();
        let tar = d.join("busybox.tar");
        busybox_tar(&tar);
        if let Some(u) = user {
            for sub in ["home", "xdg", "tmp"] {
                fs::create_dir_all(d.join(sub)).unwrap();
            }
            // Podman refuses an XDG_RUNTIME_DIR others can enter.
            fs::set_permissions(d.join("xdg"), fs::Permissions::from_mode(0o700)).unwrap();
            u.chown_tree(d);
        }
        let podman = Podman {
            dir,
            wrapper,
            runtime_root,
            user,
            _cgroups: cgroups,
        };
        podman.cmd(&["import", &tar.to_string_lossy(), IMAGE]).ok();
        podman
    }

    /// The temp dir of this Podman (a test's host files go there too).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self) -> Vec<(String, String)> {
        let d = self.dir.path();
        let mut vars = vec![
            ("CONTAINERS_CONF", "containers.conf"),
            ("CONTAINERS_STORAGE_CONF", "storage.conf"),
            ("CONTAINERS_REGISTRIES_CONF", "registries.conf"),
        ];
        if self.user.is_some() {
            vars.extend([
                ("HOME", "home"),
                ("XDG_CONFIG_HOME", "home/.config"),
                ("XDG_DATA_HOME", "home/.local/share"),
                ("XDG_RUNTIME_DIR", "xdg"),
            ]);
        }
        vars.iter()
            .map(|(k, f)| (k.to_string(), d.join(f).to_string_lossy().into_owned()))
            .collect()
    }

    /// The user rootless Podman runs as; `None` for root's.
    pub fn user(&self) -> Option<&'static TestUser> {
        self.user
    }

    /// `argv` in a private mount namespace (root's Podman; a rootless one runs it as is).
    fn isolated(&self, argv: Vec<String>) -> Vec<String> {
        match self.user {
            Some(_) => argv,
            None => in_private_ns(argv),
        }
    }

    /// The whole command line of `podman <global flags> <args>` (in its private namespace
    /// when root's).
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        self.isolated(self.podman_argv(args))
    }

    /// `podman <global flags> <args>`.
    fn podman_argv(&self, args: &[&str]) -> Vec<String> {
        let d = self.dir.path();
        let mut v: Vec<String> = vec!["podman".into()];
        for (flag, value) in [
            ("--root", d.join("root")),
            ("--runroot", d.join("runroot")),
            ("--tmpdir", d.join("tmp")),
            ("--runtime", self.wrapper.clone()),
        ] {
            v.push(flag.into());
            v.push(value.to_string_lossy().into_owned());
        }
        for a in [
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "none",
        ] {
            v.push(a.into());
        }
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// Runs `podman <args>`, output captured.
    pub fn cmd(&self, args: &[&str]) -> Outcome {
        self.run_argv(self.argv(args))
    }

    /// Runs `podman <args>` with `file` open for reading as its fd 3 and, when `listen`, with
    /// `LISTEN_FDS=1 LISTEN_PID=<podman's pid>` in its environment (systemd socket activation,
    /// `man 3 sd_listen_fds`), output captured.
    pub fn cmd_with_fd3(&self, file: &Path, listen: bool, args: &[&str]) -> Outcome {
        let script = if listen {
            "exec 3<\"$0\" && LISTEN_FDS=1 LISTEN_PID=$$ exec \"$@\""
        } else {
            "exec 3<\"$0\" && exec \"$@\""
        };
        let mut argv: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            file.to_string_lossy().into_owned(),
        ];
        argv.extend(self.podman_argv(args));
        self.run_argv(self.isolated(argv))
    }

    fn run_argv(&self, argv: Vec<String>) -> Outcome {
        let mut cmd = match self.user {
            Some(u) => u.command(&argv[0]),
            None => Command::new(&argv[0]),
        };
        cmd.args(&argv[1..]);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        exec_timeout(cmd, true, CLIENT_TIMEOUT)
    }

    /// Runs `podman <args>` under a pseudo-terminal (`script`).
    pub fn cmd_pty(&self, args: &[&str]) -> Outcome {
        under_pty_as(self.user, &self.argv(args), &self.env())
    }

    /// The `run` flags every test container gets: no network, the ulimits this host allows,
    /// and the cgroup below the test parent.
    pub fn run_flags() -> Vec<String> {
        [
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "--cgroups",
            "no-conmon",
            "--cgroup-parent",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([cgroups::parent_name()])
        .collect()
    }

    /// `podman run --rm <run_flags> <extra> IMAGE <command>`.
    pub fn run(&self, extra: &[&str], command: &[&str]) -> Outcome {
        let mut head = vec!["run", "--rm"];
        head.extend_from_slice(extra);
        let args = Self::run_args(&head, command);
        self.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The `run` flags of a rootless Podman's containers: no network (rootless Podman makes
    /// no cgroup on a cgroup v1 host and may not raise ulimits).
    pub fn rootless_run_flags() -> Vec<String> {
        vec!["--network".into(), "none".into()]
    }

    /// `<head> <rootless_run_flags> IMAGE <command>`, as [`Podman::run_args`].
    pub fn rootless_run_args(head: &[&str], command: &[&str]) -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(Self::rootless_run_flags())
            .chain(std::iter::once(IMAGE.to_string()))
            .chain(command.iter().map(|s| s.to_string()))
            .collect()
    }

    /// `<head> <run_flags> IMAGE <command>`: the arguments of a `podman run` (head: `run`
    /// and its own flags, e.g. `-d --name c1` or `-it --rm`).
    pub fn run_args(head: &[&str], command: &[&str]) -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(Self::run_flags())
            .chain(std::iter::once(IMAGE.to_string()))
            .chain(command.iter().map(|s| s.to_string()))
            .collect()
    }

    /// The runtime command lines Podman and conmon ran so far (one per line), after the
    /// runtime's path.
    pub fn calls(&self) -> String {
        format!(
            "runtime {}:\n{}",
            self.wrapper.display(),
            fs::read_to_string(self.dir.path().join("calls.log")).unwrap_or_default()
        )
    }

    /// Panics (with the runtime calls) unless Podman left no container in the runtime's root
    /// within 5 s (a container's cleanup runs when conmon sees it exit).
    pub fn assert_clean(&self) {
        let empty = || {
            fs::read_dir(&self.runtime_root)
                .map(|mut d| d.next().is_none())
                .unwrap_or(true)
        };
        assert!(
            wait_for(Duration::from_secs(5), empty),
            "containers left in {}: {:?}\nruntime calls:\n{}",
            self.runtime_root.display(),
            fs::read_dir(&self.runtime_root)
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>()),
            self.calls()
        );
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Every container this Podman made, whatever state the test left it in.
        let _ = self.cmd(&["rm", "--all", "--force", "--time", "0"]);
        if self.user.is_some() {
            // Rootless Podman's pause process (it holds the user namespace; its pid file is in
            // the --tmpdir) outlives every command.
            let pid_file = self.dir.path().join("tmp/pause.pid");
            if let Some(pid) = fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
                .filter(|p| *p > 1)
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                wait_for(Duration::from_secs(5), || {
                    runtime::reap_orphans();
                    !Path::new(&format!("/proc/{pid}/status")).exists()
                });
            }
        }
        runtime::reap_orphans();
    }
}

/// The containerd namespace the tests use.
pub const CTR_NAMESPACE: &str = "husk-test";

/// A containerd daemon of the test's own; see the module doc.
#[derive(Debug)]
pub struct Containerd {
    dir: TempDir,
    daemon: Child,
    _cgroups: ParentGuard,
}

impl Containerd {
    /// Starts containerd with its own config (root, state, sockets in a temp dir; no CRI),
    /// waits until it answers, and imports the busybox image as [`IMAGE`].
    pub fn start() -> Containerd {
        let cgroups = ParentGuard::acquire();
        nix::sys::prctl::set_child_subreaper(true).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("husk-containerd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("fifo")).unwrap();
        let config = d.join("config.toml");
        fs::write(
            &config,
            format!(
                "version = 2\n\
                 root = \"{root}\"\n\
                 state = \"{state}\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{sock}\"\n\
                 [ttrpc]\n  address = \"{sock}.ttrpc\"\n\
                 [debug]\n  address = \"\"\n\
                 [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
                root = d.join("root").display(),
                state = d.join("state").display(),
                sock = d.join("containerd.sock").display(),
                opt = d.join("opt").display(),
            ),
        )
        .unwrap();
        let argv = in_private_ns(vec![
            "containerd".into(),
            "--config".into(),
            config.to_string_lossy().into_owned(),
        ]);
        let log = fs::File::create(d.join("containerd.log")).unwrap();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let daemon = runtime::spawn(&mut cmd);
        let ctrd = Containerd {
            dir,
            daemon,
            _cgroups: cgroups,
        };
        let up = wait_for(Duration::from_secs(20), || {
            ctrd.dir.path().join("containerd.sock").exists()
                && ctrd.ctr(&["version"]).status.success()
        });
        assert!(up, "containerd did not come up:\n{}", ctrd.log());
        let archive = ctrd.dir.path().join("busybox-oci.tar");
        busybox_oci_archive(&archive);
        ctrd.ctr(&["image", "import", &archive.to_string_lossy()])
            .ok();
        ctrd
    }

    /// The temp dir of this daemon.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// containerd's own log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// The command line of `ctr --address SOCK -n husk-test <args>`.
    pub fn ctr_argv(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "ctr".into(),
            "--address".into(),
            self.dir
                .path()
                .join("containerd.sock")
                .to_string_lossy()
                .into_owned(),
            "--namespace".into(),
            CTR_NAMESPACE.into(),
        ];
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// Runs `ctr <args>`, output captured.
    pub fn ctr(&self, args: &[&str]) -> Outcome {
        let argv = self.ctr_argv(args);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        exec_timeout(cmd, true, CLIENT_TIMEOUT)
    }

    /// Runs `ctr <args>` under a pseudo-terminal (`script`). ctr resizes the terminal of a
    /// `--tty` process after starting it and logs an error line ("resize pty ... cannot resize
    /// a stopped container") when the process was quicker: such lines are dropped.
    pub fn ctr_pty(&self, args: &[&str]) -> Outcome {
        let mut out = under_pty(&self.ctr_argv(args), &[]);
        out.stdout = out
            .stdout
            .lines()
            .filter(|l| !l.contains("resize pty"))
            .map(|l| format!("{l}\n"))
            .collect();
        out
    }

    /// The FIFO directory for `ctr run` and `ctr task exec` (`--fifo-dir`).
    pub fn fifo_dir(&self) -> String {
        self.dir.path().join("fifo").to_string_lossy().into_owned()
    }

    /// The flags of `ctr run` for container `id` on runtime `bin` (named `name`): the shim's
    /// runtime binary (a logging wrapper of `bin`), its `--root`, the FIFO dir, and the cgroup
    /// `husk-test-<pid>/<id>`.
    pub fn run_flags(&self, name: &str, bin: &Path, id: &str) -> Vec<String> {
        let d = self.dir.path();
        let wrapper = write_wrapper(
            &d.join(format!("bin-{name}")),
            bin,
            &[],
            &d.join(format!("calls-{name}.log")),
        );
        vec![
            "--fifo-dir".into(),
            self.fifo_dir(),
            "--runc-binary".into(),
            wrapper.to_string_lossy().into_owned(),
            "--runc-root".into(),
            d.join(format!("runtime-root-{name}"))
                .to_string_lossy()
                .into_owned(),
            "--cgroup".into(),
            cgroups::cgroups_path(id),
        ]
    }

    /// The runtime command lines the shim ran for runtime `name` so far.
    pub fn calls(&self, name: &str) -> String {
        format!(
            "runtime {name}:\n{}",
            fs::read_to_string(self.dir.path().join(format!("calls-{name}.log")))
                .unwrap_or_default()
        )
    }

    /// The runtime's own log of container `id` (the shim's `--log` file, JSON lines).
    pub fn runtime_log(&self, id: &str) -> String {
        fs::read_to_string(
            self.dir
                .path()
                .join("state/io.containerd.runtime.v2.task")
                .join(CTR_NAMESPACE)
                .join(id)
                .join("log.json"),
        )
        .unwrap_or_default()
    }

    /// The ids `ctr <what> ls -q` lists (`what`: `task` or `container`).
    fn list(&self, what: &str) -> Vec<String> {
        let out = self.ctr(&[what, "ls", "-q"]);
        out.stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Kills and deletes every task and container of the test namespace.
    pub fn remove_all(&self) {
        for task in self.list("task") {
            let _ = self.ctr(&["task", "kill", "--signal", "SIGKILL", &task]);
            let _ = self.ctr(&["task", "delete", "--force", &task]);
        }
        for ctr in self.list("container") {
            let _ = self.ctr(&["container", "delete", &ctr]);
        }
    }

    /// Panics unless no task and no container is left.
    pub fn assert_clean(&self) {
        let tasks = self.list("task");
        let containers = self.list("container");
        assert!(
            tasks.is_empty() && containers.is_empty(),
            "left behind: tasks {tasks:?}, containers {containers:?}"
        );
    }

    /// Pids of the shims still alive (their `shim.pid` files).
    fn shim_pids(&self) -> Vec<i32> {
        let dir = self
            .dir
            .path()
            .join("state/io.containerd.runtime.v2.task")
            .join(CTR_NAMESPACE);
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path().join("shim.pid")).ok())
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.remove_all();
        let shims = self.shim_pids();
        let pid = nix::unistd::Pid::from_raw(self.daemon.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let stopped = wait_for(Duration::from_secs(10), || {
            matches!(self.daemon.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
        }
        runtime::waited(&self.daemon);
        // Shims of tasks that could not be deleted: they were started for this test.
        for shim in shims {
            if crate::host::alive(shim) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(shim),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        runtime::reap_orphans();
    }
}

/// What one scenario step showed: a label, the exit code and the (normalised) output. Two runs
/// of a scenario, one per runtime, must give the same list.
pub type Transcript = Vec<(String, Option<i32>, String)>;

/// Appends a step to `t` and returns the outcome.
pub fn record(t: &mut Transcript, label: &str, out: Outcome) -> Outcome {
    t.push((label.to_string(), out.code(), out.stdout.trim().to_string()));
    out
}

/// Panics with the runtime's command lines (`calls`) unless `cond`.
pub fn check(cond: bool, what: &str, out: &Outcome, calls: &str) {
    assert!(cond, "{what}: {out:#?}\nruntime calls:\n{calls}");
}

/// `podman <run_args>` under a pty (`run -it --rm … sh -c 'tty; echo ok'`): the container's
/// terminal is /dev/pts/0. The scenario's transcript; Podman left nothing behind.
pub fn podman_tty_scenario(p: &Podman, run_args: &[String]) -> Transcript {
    let args: Vec<&str> = run_args.iter().map(String::as_str).collect();
    let mut t = Transcript::new();
    let out = record(&mut t, "run -it", p.cmd_pty(&args));
    check(
        out.code() == Some(0) && out.stdout == "/dev/pts/0\nok\n",
        "tty under run -it",
        &out,
        &p.calls(),
    );
    p.assert_clean();
    t
}

/// The exec statuses Podman derives from the runtime's error (its --log), as Docker does: a
/// missing program is 127, a file that is not executable 126. In running container `c1` of
/// `p`, recorded in `t`.
pub fn podman_exec_failure_statuses(p: &Podman, t: &mut Transcript) {
    let out = record(
        t,
        "exec a missing program",
        p.cmd(&["exec", "c1", "no-such-program"]),
    );
    check(
        out.code() == Some(127) && out.stderr.contains("no-such-program"),
        "exec of a missing program: 127",
        &out,
        &p.calls(),
    );
    let out = record(
        t,
        "exec a file that is not executable",
        p.cmd(&["exec", "c1", "/etc/passwd"]),
    );
    check(
        out.code() == Some(126),
        "exec of a non-executable file: 126",
        &out,
        &p.calls(),
    );
}

/// Runs `scenario` once per runtime of [`runtimes`] and asserts that every runtime gave the
/// reference's transcript.
pub fn same_for_both(scenario: impl Fn(&str, &Path) -> Transcript) {
    same_for_each(runtimes(), scenario);
}

/// [`same_for_both`] with [`rootless_runtimes`].
pub fn same_for_both_rootless(scenario: impl Fn(&str, &Path) -> Transcript) {
    same_for_each(rootless_runtimes(), scenario);
}

fn same_for_each(
    runtimes: Vec<(&'static str, PathBuf)>,
    scenario: impl Fn(&str, &Path) -> Transcript,
) {
    let mut reference: Option<Transcript> = None;
    for (name, bin) in runtimes {
        eprintln!("== {name}: {}", bin.display());
        let t = scenario(name, &bin);
        match &reference {
            None => reference = Some(t),
            Some(r) => assert_eq!(
                &t,
                r,
                "{name} ({}) differs from runc (left: {name}, right: runc)",
                bin.display()
            ),
        }
    }
}

//! Reading and validating a bundle's `config.json` (runtime-spec v1.3, config.md and
//! config-linux.md) into a [`Config`]: oci-spec's [`Spec`] plus the fields oci-spec's types would
//! lose, kept as husk needs them.
//!
//! What oci-spec loses, and what this module does about it:
//! - `process.capabilities`: oci-spec parses names into an enum, so one unknown name (a newer
//!   kernel's capability, a typo) fails the whole config. runtime-spec v1.1+ says a capability
//!   that cannot be mapped or granted MUST be logged as a warning, not refused. The five sets are
//!   taken out of the JSON *before* oci-spec sees it and kept as strings in [`CapabilitySets`];
//!   [`Config::validate`] adds a warning per name the `caps` crate does not know. The
//!   capabilities module resolves the names later. `spec.process().capabilities()` is always
//!   `None`: read [`Config::capabilities`].
//! - `linux.resources.pids.limit`: oci-spec's `LinuxPids::limit` defaults to 0, which would set
//!   `pids.max` to 0 and make every fork fail. [`Config::pids_limit`] keeps it as written (`None`
//!   when absent or null). Read it, never `spec.linux().resources().pids().limit()`.
//! - `process.scheduler.flags`: oci-spec 0.10 spells two of runtime-spec's names differently
//!   (`SCHED_RESET_ON_FORK`, `SCHED_FLAG_D_L_OVERRUN`), so a config written to the spec would not
//!   parse. The flags are taken out before oci-spec sees them and kept as strings in
//!   [`Config::scheduler_flags`]; the kernel module maps and checks them.
//!
//! Parse errors name the JSON path of the offending field (through `serde_path_to_error`, e.g.
//! `linux.namespaces[2].type: unknown variant "foo"`, `process.rlimits[0].hard: invalid type:
//! string "x", expected u64`); validation errors name the field too (`process.args`,
//! `linux.namespaces[3]`, `root.path`) and say what to do. Unknown fields are ignored, as
//! runtime-spec config.md requires ("Runtimes MUST ignore unknown properties"), but not silently:
//! `serde_ignored` collects the JSON path of each into [`Config::unknown_fields`], and
//! [`Config::load`] logs them at debug level (a typo such as `proccess` is then one `--debug`
//! away from being found).
//!
//! The checks are those of runc's config validation and of the OCI runtime-tools `validate`
//! package for the fields listed on [`Config::validate`]; those that need host state beyond the
//! rootfs (does a namespace path exist, is it the host's netns, does the kernel know this
//! capability) belong to the modules that act on the field.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::runtime::{Hook, LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use serde_json::Value;
use thiserror::Error;

/// The runtime-spec version husk implements; written by `husk-runtime spec` and reported in
/// state.json. Configs of any 1.x are accepted; above 1.3 with a warning.
pub const OCI_VERSION: &str = "1.3.0";

/// The minor version of runtime-spec 1.x husk implements (see [`OCI_VERSION`]).
const SUPPORTED_MINOR: u64 = 3;

/// The most lines a uid_map or gid_map may hold since Linux 4.15 (`man 7 user_namespaces`,
/// "Defining user and group ID mappings"). runtime-tools still checks the pre-4.15 limit of 5.
pub const MAX_ID_MAPPINGS: usize = 340;

/// The clocks a time namespace can offset (`man 7 time_namespaces`): the only keys
/// `linux.timeOffsets` may have.
const TIME_NAMESPACE_CLOCKS: [&str; 2] = ["monotonic", "boottime"];

/// The values `linux.rootfsPropagation` may take (config-linux.md, "Rootfs Mount Propagation").
const ROOTFS_PROPAGATIONS: [&str; 8] = [
    "shared",
    "slave",
    "private",
    "unbindable",
    "rshared",
    "rslave",
    "rprivate",
    "runbindable",
];

/// The five capability sets of `process.capabilities` as the config wrote them: strings, in
/// order, duplicates and unknown names included (an unknown name is a warning from
/// [`Config::validate`], never a parse failure). `None` = the set is absent (or null).
///
/// Source: runtime-spec config.md, "Linux Process" (`capabilities`), and `man 7 capabilities`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapabilitySets {
    /// `process.capabilities.bounding`.
    pub bounding: Option<Vec<String>>,
    /// `process.capabilities.effective`.
    pub effective: Option<Vec<String>>,
    /// `process.capabilities.inheritable`.
    pub inheritable: Option<Vec<String>>,
    /// `process.capabilities.permitted`.
    pub permitted: Option<Vec<String>>,
    /// `process.capabilities.ambient`.
    pub ambient: Option<Vec<String>>,
}

impl CapabilitySets {
    /// The JSON names of the five sets, in the order [`CapabilitySets::sets`] returns them.
    pub const NAMES: [&'static str; 5] = [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ];

    /// Each set with its JSON name (`"bounding"`, …, in [`CapabilitySets::NAMES`] order), for
    /// code that treats the five alike (warnings, resolution to kernel capabilities).
    pub fn sets(&self) -> [(&'static str, Option<&[String]>); 5] {
        [
            ("bounding", self.bounding.as_deref()),
            ("effective", self.effective.as_deref()),
            ("inheritable", self.inheritable.as_deref()),
            ("permitted", self.permitted.as_deref()),
            ("ambient", self.ambient.as_deref()),
        ]
    }

    fn set_mut(&mut self, name: &str) -> Option<&mut Option<Vec<String>>> {
        match name {
            "bounding" => Some(&mut self.bounding),
            "effective" => Some(&mut self.effective),
            "inheritable" => Some(&mut self.inheritable),
            "permitted" => Some(&mut self.permitted),
            "ambient" => Some(&mut self.ambient),
            _ => None,
        }
    }
}

/// What kind of JSON value was found where another was expected (for error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    fn of(value: &Value) -> JsonKind {
        match value {
            Value::Null => JsonKind::Null,
            Value::Bool(_) => JsonKind::Bool,
            Value::Number(_) => JsonKind::Number,
            Value::String(_) => JsonKind::String,
            Value::Array(_) => JsonKind::Array,
            Value::Object(_) => JsonKind::Object,
        }
    }
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonKind::Null => "null",
            JsonKind::Bool => "a boolean",
            JsonKind::Number => "a number",
            JsonKind::String => "a string",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
        })
    }
}

/// Why a config.json could not be read, parsed or validated. Each message names the file or the
/// JSON field (runtime-spec names, e.g. `linux.namespaces[3]`) and says what to do.
#[derive(Debug, Error)]
pub enum SpecError {
    /// `<bundle>/config.json` does not exist.
    #[error(
        "{path}: no such file: a bundle needs a config.json; run `husk-runtime spec` in the \
         bundle directory to write a default one, or pass the right directory with --bundle"
    )]
    ConfigMissing {
        /// The path that was tried.
        path: PathBuf,
    },
    /// `<bundle>/config.json` exists but could not be read.
    #[error("cannot read {path}: {source}")]
    ReadConfig {
        /// The config file.
        path: PathBuf,
        /// The read error.
        #[source]
        source: io::Error,
    },
    /// The bytes are not JSON (the message carries serde_json's line and column).
    #[error("config.json is not valid JSON: {source}; fix the file or write a new one with `husk-runtime spec`")]
    NotJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON document is not an object.
    #[error("config.json must hold a JSON object (runtime-spec config.md), found {found}")]
    NotAnObject {
        /// What was found instead.
        found: JsonKind,
    },
    /// `process.capabilities` or one of its sets has the wrong JSON type.
    #[error(
        "{field} must be {expected}, found {found} (e.g. \"bounding\": [\"CAP_KILL\", \
         \"CAP_NET_BIND_SERVICE\"]; see `man 7 capabilities` for the names)"
    )]
    CapabilityType {
        /// The JSON path, e.g. `process.capabilities.bounding[2]`.
        field: String,
        /// What the field must be.
        expected: &'static str,
        /// What was found.
        found: JsonKind,
    },
    /// A field husk takes out of the JSON itself has the wrong JSON type.
    #[error("{field} must be {expected}, found {found}")]
    FieldType {
        /// The JSON path, e.g. `process.scheduler.flags[1]`.
        field: String,
        /// What the field must be.
        expected: &'static str,
        /// What was found.
        found: JsonKind,
    },
    /// A field has a value of the wrong type, an unknown enum value or a missing required
    /// member (the error from oci-spec's types, with the JSON path of the field).
    #[error("config.json: {field}: {source}; fix this field (runtime-spec v1.3 config.md and config-linux.md)")]
    Field {
        /// The JSON path, e.g. `linux.namespaces[2].type`; `.` for the top level.
        field: String,
        /// The deserialisation error.
        #[source]
        source: serde_json::Error,
    },
    /// `ociVersion` is absent, empty or not a SemVer version.
    #[error(
        "ociVersion {version:?} is not a SemVer version (MAJOR.MINOR.PATCH[-PRERELEASE]): set \
         ociVersion to the runtime-spec version the config follows, e.g. \"{OCI_VERSION}\""
    )]
    OciVersionSyntax {
        /// The value found ("" when absent).
        version: String,
    },
    /// `ociVersion` has a major version other than 1.
    #[error(
        "ociVersion {version:?} is not supported: husk implements runtime-spec 1.x (up to \
         {OCI_VERSION}); write the config for runtime-spec 1.x"
    )]
    OciVersionMajor {
        /// The value found.
        version: String,
    },
    /// `root` is absent.
    #[error("root is missing: config.json must name the container's root filesystem in root.path (e.g. \"root\": {{\"path\": \"rootfs\"}})")]
    RootMissing,
    /// `root.path` is absent or empty.
    #[error("root.path is empty: set it to the root filesystem directory, relative to the bundle or absolute (e.g. \"rootfs\")")]
    RootPathEmpty,
    /// The root filesystem cannot be resolved (it does not exist, or cannot be reached).
    #[error("root.path {root_path:?} resolves to {resolved}, which cannot be used: {source}; create the root filesystem there or fix root.path")]
    Rootfs {
        /// `root.path` as written.
        root_path: PathBuf,
        /// The path it resolves to (joined to the bundle when relative).
        resolved: PathBuf,
        /// The error from resolving it.
        #[source]
        source: io::Error,
    },
    /// The root filesystem path is not a directory.
    #[error("root.path {root_path:?} resolves to {resolved}, which is not a directory: root.path must name the root filesystem directory")]
    RootfsNotDirectory {
        /// `root.path` as written.
        root_path: PathBuf,
        /// The path it resolves to.
        resolved: PathBuf,
    },
    /// `root.path` resolves to the host's own root directory.
    #[error("root.path {root_path:?} resolves to /, the host's own root: the container would create its mountpoints, devices and working directory in the host's filesystem; give the container a root filesystem of its own (e.g. <bundle>/rootfs)")]
    RootfsIsHostRoot {
        /// `root.path` as written.
        root_path: PathBuf,
    },
    /// `process` is absent.
    #[error("process is missing: config.json must say what to run in process (at least process.args and process.cwd)")]
    ProcessMissing,
    /// `process.args` is absent or empty.
    #[error("process.args is empty: give the command to run, e.g. \"args\": [\"sh\"]")]
    ArgsEmpty,
    /// A string that becomes part of an exec (argument, environment entry) holds a NUL byte.
    #[error("{field} contains a NUL byte, which cannot be passed to execve(2): remove it")]
    NulByte {
        /// The JSON path, e.g. `process.args[1]`.
        field: String,
    },
    /// A path that must be absolute is relative.
    #[error("{field} is {path:?}, which is not an absolute path: {what} must be absolute")]
    NotAbsolute {
        /// The JSON path, e.g. `process.cwd`, `hooks.poststart[0].path`.
        field: String,
        /// The path as written.
        path: PathBuf,
        /// Which path it is, for the message (e.g. "the working directory").
        what: &'static str,
    },
    /// An environment entry is not of the form `KEY=VALUE` with a non-empty key.
    #[error("{field} is {entry:?}: environment entries must have the form KEY=VALUE with a non-empty KEY")]
    Env {
        /// The JSON path, e.g. `process.env[3]`.
        field: String,
        /// The entry as written.
        entry: String,
    },
    /// Two `linux.namespaces` entries have the same type.
    #[error("{field} repeats namespace type {kind:?} of linux.namespaces[{first}]: each type may appear once; remove one of them")]
    NamespaceDuplicate {
        /// The JSON path of the second entry, e.g. `linux.namespaces[3]`.
        field: String,
        /// The namespace type (`pid`, `network`, …).
        kind: &'static str,
        /// The index of the first entry of that type.
        first: usize,
    },
    /// `linux.uidMappings`/`gidMappings` are given without any user namespace.
    #[error("{field} is set but linux.namespaces has no user namespace: add {{\"type\": \"user\"}} to linux.namespaces, or remove {field}")]
    IdMappingsWithoutUserNamespace {
        /// `linux.uidMappings` or `linux.gidMappings`.
        field: &'static str,
    },
    /// A new user namespace is asked for without uid or gid mappings.
    #[error("linux.namespaces[{index}] asks for a new user namespace but {field} is empty: give at least one mapping (e.g. {{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}})")]
    UserNamespaceWithoutMappings {
        /// The index of the user namespace entry.
        index: usize,
        /// `linux.uidMappings` or `linux.gidMappings`.
        field: &'static str,
    },
    /// More id mappings than the kernel accepts.
    #[error("{field} has {count} entries: the kernel accepts at most {max} (man 7 user_namespaces); merge adjacent ranges", max = MAX_ID_MAPPINGS)]
    IdMappingCount {
        /// `linux.uidMappings`, `linux.gidMappings` or a mount's (`mounts[3].uidMappings`).
        field: String,
        /// How many entries were given.
        count: usize,
    },
    /// An id mapping range is empty, runs past 2^32, or overlaps another.
    #[error("{field}: {problem} (man 7 user_namespaces); fix the mapping")]
    IdMappingRange {
        /// The JSON path, e.g. `linux.uidMappings[1]`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `hostname` or `domainname` is set without a new UTS namespace.
    #[error("{field} is set but linux.namespaces has no new uts namespace (runc: \"unable to set {field} without a private UTS namespace\"): add {{\"type\": \"uts\"}} without a path to linux.namespaces, or remove {field}")]
    UtsWithoutNamespace {
        /// `hostname` or `domainname`.
        field: &'static str,
    },
    /// `linux.timeOffsets` is set without a new time namespace.
    #[error("linux.timeOffsets is set but linux.namespaces has no new time namespace: offsets can only be written to a time namespace before a process enters it; add {{\"type\": \"time\"}} without a path, or remove linux.timeOffsets")]
    TimeOffsetsWithoutNamespace,
    /// `linux.timeOffsets` names a clock the kernel cannot offset.
    #[error("linux.timeOffsets.{clock}: a time namespace can only offset the \"monotonic\" and \"boottime\" clocks (man 7 time_namespaces); remove this key")]
    TimeOffsetClock {
        /// The key as written.
        clock: String,
    },
    /// Two `process.rlimits` entries have the same type.
    #[error("{field} repeats {kind} of process.rlimits[{first}]: runtime-spec requires an error for duplicated rlimit types; keep one")]
    RlimitDuplicate {
        /// The JSON path of the second entry.
        field: String,
        /// The rlimit type, e.g. `RLIMIT_NOFILE`.
        kind: String,
        /// The index of the first entry of that type.
        first: usize,
    },
    /// An rlimit's soft limit is above its hard limit.
    #[error("{field} ({kind}) has soft {soft} above hard {hard}: setrlimit(2) refuses that; make soft <= hard")]
    RlimitSoftAboveHard {
        /// The JSON path, e.g. `process.rlimits[0]`.
        field: String,
        /// The rlimit type.
        kind: String,
        /// The soft limit.
        soft: u64,
        /// The hard limit.
        hard: u64,
    },
    /// A hook's timeout is zero or negative.
    #[error("{field} is {timeout}: a hook timeout is in seconds and must be greater than zero (runtime-spec config.md, \"POSIX-platform Hooks\"); remove it or make it positive")]
    HookTimeout {
        /// The JSON path, e.g. `hooks.poststart[0].timeout`.
        field: String,
        /// The value as written.
        timeout: i64,
    },
    /// A mount has an empty destination.
    #[error(
        "{field} is empty: every mount needs a destination inside the container (e.g. \"/proc\")"
    )]
    MountDestinationEmpty {
        /// The JSON path, e.g. `mounts[2].destination`.
        field: String,
    },
    /// A mount destination that is the container's `/` itself (`/`, `/..`).
    #[error("{field} {destination:?} is the container's / itself: a mount there would cover the rootfs (use root.path for the root filesystem, root.readonly or a `remount` entry to change it, or pick a directory below /)")]
    MountDestinationRoot {
        /// The JSON path, e.g. `mounts[2].destination`.
        field: String,
        /// The destination as written.
        destination: PathBuf,
    },
    /// A mount option that names one of runtime-spec's flags but carries a value (`ro=0`): the
    /// filesystem would match its name alone and do the opposite of what it says.
    #[error("mounts[{index}].options: \"{option}\": {name} is a flag and takes no value; write \"{name}\" (or its opposite, e.g. rw for ro)")]
    MountOptionValue {
        /// The index in `mounts`.
        index: usize,
        /// The option as written.
        option: String,
        /// The flag's name.
        name: String,
    },
    /// An idmapped mount (`idmap`/`ridmap`, or a mount's `uidMappings`/`gidMappings`) that
    /// cannot be made as configured (runtime-spec config.md "POSIX-platform Mounts").
    #[error("mounts[{index}]: {problem}")]
    MountIdmap {
        /// The index in `mounts`.
        index: usize,
        /// What is wrong and what to do.
        problem: String,
    },
    /// `linux.maskedPaths`/`readonlyPaths` are given without a mount namespace.
    #[error("{field} is set but linux.namespaces has no mount namespace (runc: \"unable to restrict sys entries without a private MNT namespace\"): add {{\"type\": \"mount\"}} to linux.namespaces")]
    PathsWithoutMountNamespace {
        /// `linux.maskedPaths` or `linux.readonlyPaths`.
        field: &'static str,
    },
    /// `husk-runtime spec` found a config.json already in the bundle.
    #[error("{path} exists: remove it first, or use `husk-runtime spec --bundle DIR` to write one elsewhere")]
    ConfigExists {
        /// The existing file.
        path: PathBuf,
    },
    /// `husk-runtime spec` could not write config.json.
    #[error(
        "cannot write {path}: {source}; check that the bundle directory exists and is writable"
    )]
    WriteConfig {
        /// The file being written.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A uid or gid of 4294967295, which the kernel reads as "unchanged".
    #[error("{field} is 4294967295, which setresuid(2)/setresgid(2) read as (uid_t)-1, \"leave unchanged\": the process would stay root; use a real id")]
    IdReserved {
        /// The JSON path.
        field: String,
    },
    /// husk's `org.husk.rootfs.overlay` annotation is malformed or cannot apply.
    #[error("annotations.\"{key}\": {problem}; husk's extension expects lowerdir=/ABS,upperdir=/ABS,workdir=/ABS and a mount namespace")]
    Annotation {
        /// The annotation's key.
        key: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// `linux.rootfsPropagation` has a value the spec does not define.
    #[error("linux.rootfsPropagation is {value:?}: it must be one of shared, slave, private, unbindable, rshared, rslave, rprivate, runbindable (or absent)")]
    RootfsPropagation {
        /// The value as written.
        value: String,
    },
}

/// A parsed config.json: oci-spec's [`Spec`] plus what it would lose (see the module doc).
///
/// Build it with [`Config::load`] (create: read, parse, validate against the bundle) or
/// [`Config::from_snapshot`] (later verbs: the state directory's copy of the bytes).
#[derive(Debug, Clone)]
pub struct Config {
    /// The config as oci-spec parsed it, with `process.capabilities` removed (always `None`:
    /// read [`Config::capabilities`]) and `linux.resources.pids.limit` possibly defaulted to 0
    /// by oci-spec (read [`Config::pids_limit`]).
    pub spec: Spec,
    /// `process.capabilities` as written (`None` when absent or null).
    pub capabilities: Option<CapabilitySets>,
    /// `linux.resources.pids.limit` as written: `None` when absent or null (no limit is set),
    /// otherwise the value, including 0 and negative values (-1 conventionally means "max").
    pub pids_limit: Option<i64>,
    /// `process.scheduler.flags` as written (`None` when absent or null); see the module doc.
    pub scheduler_flags: Option<Vec<String>>,
    /// Warnings found by [`Config::validate`] (e.g. ociVersion above 1.3, an unknown
    /// capability name, a relative mount destination), each naming the field; the caller logs
    /// them. Validation replaces the list.
    pub warnings: Vec<String>,
    /// The JSON path of every field the config has and husk does not know (e.g.
    /// `process.futureField`, `linux.namespaces[1].flags`), in document order. They are
    /// ignored (runtime-spec config.md: "Runtimes MUST ignore unknown properties");
    /// [`Config::load`] logs each at debug level.
    pub unknown_fields: Vec<String>,
}

impl Config {
    /// Parse config.json bytes, without validating them (see [`Config::validate`]).
    ///
    /// Steps: the bytes are parsed as JSON; `process.capabilities` is taken out (each set must
    /// be an array of strings, or null) into [`Config::capabilities`]; the presence of
    /// `linux.resources.pids.limit` is recorded in [`Config::pids_limit`] (a null limit is
    /// treated as absent); the rest is deserialised into oci-spec's [`Spec`], with errors naming
    /// the JSON path. Unknown fields are ignored (runtime-spec: "Runtimes MUST ignore unknown
    /// properties") and their JSON paths listed in [`Config::unknown_fields`].
    ///
    /// # Errors
    /// [`SpecError::NotJson`] (with line and column), [`SpecError::NotAnObject`],
    /// [`SpecError::CapabilityType`] (e.g. `process.capabilities.bounding is not an array`),
    /// [`SpecError::Field`] (e.g. `linux.namespaces[2].type: unknown variant "foo"`).
    pub fn from_json(bytes: &[u8]) -> Result<Config, SpecError> {
        let mut value: Value =
            serde_json::from_slice(bytes).map_err(|source| SpecError::NotJson {
                line: source.line(),
                column: source.column(),
                source,
            })?;
        let Value::Object(top) = &mut value else {
            return Err(SpecError::NotAnObject {
                found: JsonKind::of(&value),
            });
        };

        let mut unknown_fields = Vec::new();
        // Taken out before oci-spec sees them: its enum would refuse an unknown name.
        let capabilities = match top.get_mut("process") {
            Some(Value::Object(process)) => match process.remove("capabilities") {
                Some(caps) => parse_capability_sets(caps, &mut unknown_fields)?,
                None => None,
            },
            _ => None,
        };

        let pids_limit = take_pids_limit(top);
        let scheduler_flags = take_scheduler_flags(top)?;

        // serde_ignored reports each key no field of oci-spec's types takes; serde_path_to_error
        // records where an error happened. The two wrap the same deserializer, one in the other.
        let mut track = serde_path_to_error::Track::new();
        let parsed: Result<Spec, serde_json::Error> = serde_ignored::deserialize(
            serde_path_to_error::Deserializer::new(value, &mut track),
            |path| unknown_fields.push(ignored_field_path(&path)),
        );
        let spec = parsed.map_err(|source| SpecError::Field {
            field: field_of_error(&track.path(), &source),
            source,
        })?;

        Ok(Config {
            spec,
            capabilities,
            pids_limit,
            scheduler_flags,
            warnings: Vec::new(),
            unknown_fields,
        })
    }

    /// Read `<bundle>/config.json`, parse it ([`Config::from_json`]) and validate it against
    /// the bundle ([`Config::validate`]).
    ///
    /// Returns the config and the raw bytes: the state directory keeps the bytes as its
    /// snapshot, which every later verb reads (runtime-spec runtime.md: changes to the bundle's
    /// config after create MUST NOT affect the container).
    ///
    /// # Errors
    /// [`SpecError::ConfigMissing`] when the file does not exist (the message says to run
    /// `husk-runtime spec`), [`SpecError::ReadConfig`] when it cannot be read, then any error
    /// of [`Config::from_json`] or [`Config::validate`].
    pub fn load(bundle: &Path) -> Result<(Config, Vec<u8>), SpecError> {
        let path = bundle.join("config.json");
        let bytes = std::fs::read(&path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                SpecError::ConfigMissing { path: path.clone() }
            } else {
                SpecError::ReadConfig {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let mut config = Config::from_json(&bytes)?;
        for field in &config.unknown_fields {
            tracing::debug!("config.json: {field} is not a field husk knows: ignored");
        }
        config.validate(bundle)?;
        Ok((config, bytes))
    }

    /// Parse and validate the state directory's snapshot of config.json, for the verbs after
    /// create (start, kill, delete, hooks). The same checks as [`Config::validate`] except that
    /// the root filesystem is not looked at: the bundle may have changed or gone since create,
    /// and the snapshot is what counts.
    ///
    /// # Errors
    /// Those of [`Config::from_json`] and [`Config::validate`] except the rootfs ones.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Config, SpecError> {
        let mut config = Config::from_json(bytes)?;
        config.check(None)?;
        Ok(config)
    }

    /// Check what needs no host state except the root filesystem, replacing
    /// [`Config::warnings`]. In order (the first failure is returned):
    /// - `ociVersion`: SemVer; major 1 (any 1.x, pre-releases like "1.0.2-dev" included); above
    ///   1.3 a warning.
    /// - `root` present with a non-empty `path`; the root filesystem exists and is a directory
    ///   (`root.path` relative to the bundle or absolute).
    /// - `process` present; `process.args` non-empty, no NUL bytes in args or env;
    ///   `process.cwd` absolute; `process.env` entries `KEY=VALUE` with a non-empty key;
    ///   `process.rlimits` without duplicated types and with soft <= hard; capability names
    ///   unknown to husk are warnings.
    /// - `linux.namespaces`: no duplicated type; a `path` must be absolute.
    /// - `linux.uidMappings`/`gidMappings`: only with a user namespace (runc's rule: new or
    ///   joined; with a joined one a warning, since its maps already exist); a new user namespace
    ///   needs both; at most 340 entries; no empty, overflowing or overlapping range.
    /// - `hostname`/`domainname`: only with a new uts namespace (runc; runtime-spec: a joined
    ///   namespace MUST NOT be set up further).
    /// - `linux.timeOffsets`: only with a new time namespace; keys `monotonic`/`boottime`.
    /// - `linux.maskedPaths`/`readonlyPaths`: absolute, and only with a mount namespace (runc).
    /// - `linux.devices[].path` absolute; `linux.rootfsPropagation` one of the spec's values.
    /// - `mounts[].destination` non-empty (a relative one is a warning: runc treats it as
    ///   relative to `/`, deprecated).
    /// - hooks (all six kinds): `path` absolute, `env` entries `KEY=VALUE`, `timeout` > 0.
    ///
    /// Sources: runtime-spec v1.3 config.md and config-linux.md; runc's
    /// `libcontainer/configs/validate`; runtime-tools `validate/validate.go`.
    ///
    /// # Errors
    /// The [`SpecError`] variant of the first rule broken, naming the JSON field.
    pub fn validate(&mut self, bundle: &Path) -> Result<(), SpecError> {
        self.check(Some(bundle))
    }

    /// `root.path` resolved against the bundle (joined to it when relative) and canonicalised
    /// (symlinks resolved, an absolute path).
    ///
    /// # Errors
    /// [`SpecError::RootMissing`], [`SpecError::RootPathEmpty`], [`SpecError::Rootfs`] when
    /// the path cannot be resolved (e.g. it does not exist), [`SpecError::RootfsNotDirectory`],
    /// [`SpecError::RootfsIsHostRoot`] when it resolves to `/`.
    pub fn rootfs(&self, bundle: &Path) -> Result<PathBuf, SpecError> {
        let root_path = self.root_path()?;
        let resolved = bundle.join(root_path);
        let canonical = std::fs::canonicalize(&resolved).map_err(|source| SpecError::Rootfs {
            root_path: root_path.to_path_buf(),
            resolved: resolved.clone(),
            source,
        })?;
        if !canonical.is_dir() {
            return Err(SpecError::RootfsNotDirectory {
                root_path: root_path.to_path_buf(),
                resolved: canonical,
            });
        }
        // Everything the init makes "in the rootfs" (missing mountpoints, device nodes, the
        // cwd) would be made in the host's own tree, and pivot_root cannot leave it anyway.
        if canonical == Path::new("/") {
            return Err(SpecError::RootfsIsHostRoot {
                root_path: root_path.to_path_buf(),
            });
        }
        Ok(canonical)
    }

    fn root_path(&self) -> Result<&Path, SpecError> {
        let root = self.spec.root().as_ref().ok_or(SpecError::RootMissing)?;
        if root.path().as_os_str().is_empty() {
            return Err(SpecError::RootPathEmpty);
        }
        Ok(root.path())
    }

    /// All checks; the rootfs one only when a bundle is given.
    fn check(&mut self, bundle: Option<&Path>) -> Result<(), SpecError> {
        let mut warnings = Vec::new();
        check_version(self.spec.version(), &mut warnings)?;
        self.root_path()?;
        if let Some(bundle) = bundle {
            self.rootfs(bundle)?;
        }
        check_process(&self.spec)?;
        if let Some(caps) = &self.capabilities {
            capability_warnings(caps, &mut warnings);
        }
        let namespaces = check_namespaces(&self.spec)?;
        check_linux(&self.spec, &namespaces, &mut warnings)?;
        check_mounts(&self.spec, &mut warnings)?;
        check_hooks(&self.spec)?;
        check_overlay_annotation(&self.spec, &namespaces)?;
        self.warnings = warnings;
        Ok(())
    }
}

/// Parse the taken-out `process.capabilities` value; keys that name no set are added to
/// `unknown_fields`.
fn parse_capability_sets(
    caps: Value,
    unknown_fields: &mut Vec<String>,
) -> Result<Option<CapabilitySets>, SpecError> {
    let map =
        match caps {
            Value::Null => return Ok(None),
            Value::Object(map) => map,
            other => return Err(SpecError::CapabilityType {
                field: "process.capabilities".into(),
                expected:
                    "an object with the sets bounding, effective, inheritable, permitted, ambient",
                found: JsonKind::of(&other),
            }),
        };
    let mut sets = CapabilitySets::default();
    for (name, set) in map {
        // Unknown keys are ignored like any unknown property (runtime-spec config.md).
        let Some(slot) = sets.set_mut(&name) else {
            unknown_fields.push(json_path([
                PathPart::Key("process"),
                PathPart::Key("capabilities"),
                PathPart::Key(&name),
            ]));
            continue;
        };
        let field = format!("process.capabilities.{name}");
        *slot = match set {
            Value::Null => None,
            Value::Array(items) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(s) => Ok(s),
                        other => Err(SpecError::CapabilityType {
                            field: format!("{field}[{i}]"),
                            expected: "a capability name (a string such as \"CAP_KILL\")",
                            found: JsonKind::of(&other),
                        }),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            other => {
                return Err(SpecError::CapabilityType {
                    field,
                    expected: "an array of capability names",
                    found: JsonKind::of(&other),
                })
            }
        };
    }
    Ok(Some(sets))
}

/// Record `linux.resources.pids.limit` as written. A null limit is removed so that oci-spec
/// (whose `limit` is a plain i64) does not refuse it; a limit of another type is left for
/// oci-spec to refuse with its JSON path.
fn take_pids_limit(top: &mut serde_json::Map<String, Value>) -> Option<i64> {
    let pids = top
        .get_mut("linux")?
        .get_mut("resources")?
        .get_mut("pids")?
        .as_object_mut()?;
    match pids.get("limit") {
        Some(Value::Null) => {
            pids.remove("limit");
            None
        }
        Some(limit) => limit.as_i64(),
        None => None,
    }
}

/// Take `process.scheduler.flags` out of the JSON (see the module doc): an array of strings, or
/// null.
fn take_scheduler_flags(
    top: &mut serde_json::Map<String, Value>,
) -> Result<Option<Vec<String>>, SpecError> {
    let Some(scheduler) = top
        .get_mut("process")
        .and_then(|p| p.get_mut("scheduler"))
        .and_then(Value::as_object_mut)
    else {
        return Ok(None);
    };
    let wrong = |field: String, expected, found: &Value| SpecError::FieldType {
        field,
        expected,
        found: JsonKind::of(found),
    };
    match scheduler.remove("flags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                other => Err(wrong(
                    format!("process.scheduler.flags[{i}]"),
                    "a flag name (a string such as \"SCHED_FLAG_RESET_ON_FORK\")",
                    &other,
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(wrong(
            "process.scheduler.flags".into(),
            "an array of flag names",
            &other,
        )),
    }
}

/// One step of a JSON path: an object member or an array index.
#[derive(Debug, Clone, Copy)]
enum PathPart<'a> {
    /// An object member (a field name or a map key).
    Key(&'a str),
    /// An array index.
    Index(usize),
}

/// A JSON path as husk's messages spell it: members joined by `.`, indexes in brackets, and a
/// key that is not a plain identifier quoted as a JSON string, so that a map key holding dots
/// stays one step (`process.rlimits[0].hard`, `linux.sysctl."net.ipv4.ip_forward"`,
/// `annotations."org.example/key"`). The empty path (the top level) is `.`.
fn json_path<'a>(parts: impl IntoIterator<Item = PathPart<'a>>) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            PathPart::Index(i) => out.push_str(&format!("[{i}]")),
            PathPart::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let plain = key.chars().next().is_some_and(|c| !c.is_ascii_digit())
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    out.push_str(key);
                } else {
                    out.push_str(&Value::String(key.to_owned()).to_string());
                }
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// The JSON path of a field serde_ignored reports as ignored. Its `Some`/newtype steps are
/// wrappers of the same JSON value, not steps of the path.
fn ignored_field_path(path: &serde_ignored::Path<'_>) -> String {
    let mut steps = Vec::new();
    let mut at = path;
    loop {
        match at {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                steps.push(PathPart::Index(*index));
                at = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                steps.push(PathPart::Key(key));
                at = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => at = parent,
        }
    }
    steps.reverse();
    json_path(steps)
}

/// The JSON path an oci-spec error is about. serde reports a missing member at its parent
/// ("root: missing field `path`"); the member is appended so the message names `root.path`.
fn field_of_error(path: &serde_path_to_error::Path, err: &serde_json::Error) -> String {
    use serde_path_to_error::Segment;
    let mut parts: Vec<PathPart<'_>> = path
        .iter()
        .map(|segment| match segment {
            Segment::Seq { index } => PathPart::Index(*index),
            Segment::Map { key } => PathPart::Key(key),
            Segment::Enum { variant } => PathPart::Key(variant),
            Segment::Unknown => PathPart::Key("?"),
        })
        .collect();
    let message = err.to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = missing {
        parts.push(PathPart::Key(name));
    }
    json_path(parts)
}

/// `ociVersion`: SemVer, major 1; above 1.[`SUPPORTED_MINOR`] a warning.
fn check_version(version: &str, warnings: &mut Vec<String>) -> Result<(), SpecError> {
    let Some((major, minor, _patch)) = parse_semver(version) else {
        return Err(SpecError::OciVersionSyntax {
            version: version.to_owned(),
        });
    };
    if major != 1 {
        return Err(SpecError::OciVersionMajor {
            version: version.to_owned(),
        });
    }
    if minor > SUPPORTED_MINOR {
        warnings.push(format!(
            "ociVersion {version:?} is newer than the runtime-spec husk implements \
             ({OCI_VERSION}): fields added after 1.{SUPPORTED_MINOR} are ignored"
        ));
    }
    Ok(())
}

/// Parse a SemVer 2.0.0 version (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`) into its numbers.
/// Leading zeros are tolerated; the pre-release and build parts must be non-empty dot-separated
/// identifiers of `[0-9A-Za-z-]`.
fn parse_semver(version: &str) -> Option<(u64, u64, u64)> {
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let identifiers_ok = |s: &str| {
        s.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if !pre.is_none_or(identifiers_ok) || !build.is_none_or(identifiers_ok) {
        return None;
    }
    let mut numbers = core.split('.').map(|part| {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            part.parse::<u64>().ok()
        }
    });
    let major = numbers.next()??;
    let minor = numbers.next()??;
    let patch = numbers.next()??;
    if numbers.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// An environment entry (process or hook): `KEY=VALUE`, non-empty key, no NUL.
fn check_env_entry(field: String, entry: &str) -> Result<(), SpecError> {
    if entry.contains('\0') {
        return Err(SpecError::NulByte { field });
    }
    match entry.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(()),
        _ => Err(SpecError::Env {
            field,
            entry: entry.to_owned(),
        }),
    }
}

fn check_process(spec: &Spec) -> Result<(), SpecError> {
    let process = spec.process().as_ref().ok_or(SpecError::ProcessMissing)?;

    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err(SpecError::ArgsEmpty);
    }
    if let Some(i) = args.iter().position(|a| a.contains('\0')) {
        return Err(SpecError::NulByte {
            field: format!("process.args[{i}]"),
        });
    }

    // (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to setresuid(2)/setresgid(2): the
    // container would keep running as root.
    let user = process.user();
    let ids = [
        ("process.user.uid".to_string(), user.uid()),
        ("process.user.gid".to_string(), user.gid()),
    ]
    .into_iter()
    .chain(
        user.additional_gids()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, g)| (format!("process.user.additionalGids[{i}]"), *g)),
    );
    for (field, id) in ids {
        if id == u32::MAX {
            return Err(SpecError::IdReserved { field });
        }
    }

    if !process.cwd().is_absolute() {
        return Err(SpecError::NotAbsolute {
            field: "process.cwd".into(),
            path: process.cwd().clone(),
            what: "the working directory (a path inside the container)",
        });
    }

    for (i, entry) in process.env().iter().flatten().enumerate() {
        check_env_entry(format!("process.env[{i}]"), entry)?;
    }

    let rlimits = process.rlimits().as_deref().unwrap_or_default();
    for (i, rlimit) in rlimits.iter().enumerate() {
        let kind = rlimit.typ().to_string();
        if let Some(first) = rlimits[..i].iter().position(|r| r.typ() == rlimit.typ()) {
            return Err(SpecError::RlimitDuplicate {
                field: format!("process.rlimits[{i}]"),
                kind,
                first,
            });
        }
        if rlimit.soft() > rlimit.hard() {
            return Err(SpecError::RlimitSoftAboveHard {
                field: format!("process.rlimits[{i}]"),
                kind,
                soft: rlimit.soft(),
                hard: rlimit.hard(),
            });
        }
    }
    Ok(())
}

/// One warning per capability name the `caps` crate does not know (runtime-spec config.md:
/// a capability that cannot be mapped MUST be logged as a warning). The names stay in the sets
/// as written; the capabilities module skips what it cannot resolve.
fn capability_warnings(caps: &CapabilitySets, warnings: &mut Vec<String>) {
    for (set, names) in caps.sets() {
        for (i, name) in names.into_iter().flatten().enumerate() {
            if caps::Capability::from_str(name).is_err() {
                warnings.push(format!(
                    "process.capabilities.{set}[{i}]: unknown capability {name:?} (not in \
                     man 7 capabilities as husk knows it): it is ignored"
                ));
            }
        }
    }
}

/// What `linux.namespaces` asks for, by runtime-spec type name: the index of the entry and
/// whether it asks for a new namespace (no `path`) rather than joining one. A type with no entry
/// stays the runtime's own.
#[derive(Debug, Default)]
struct Namespaces {
    entries: HashMap<&'static str, (usize, bool)>,
}

impl Namespaces {
    /// The entry index of `kind` and whether it asks for a new namespace.
    fn get(&self, kind: &str) -> Option<(usize, bool)> {
        self.entries.get(kind).copied()
    }

    fn is_new(&self, kind: &str) -> bool {
        matches!(self.get(kind), Some((_, true)))
    }

    fn has(&self, kind: &str) -> bool {
        self.get(kind).is_some()
    }
}

fn check_namespaces(spec: &Spec) -> Result<Namespaces, SpecError> {
    let mut namespaces = Namespaces::default();
    let Some(linux) = spec.linux() else {
        return Ok(namespaces);
    };
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let kind = crate::namespaces::name(ns.typ());
        if let Some((first, _)) = namespaces.get(kind) {
            return Err(SpecError::NamespaceDuplicate {
                field: format!("linux.namespaces[{i}]"),
                kind,
                first,
            });
        }
        // An empty path means a new namespace, as in runc (Go's empty string).
        let path = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty());
        if let Some(path) = path {
            if !path.is_absolute() {
                return Err(SpecError::NotAbsolute {
                    field: format!("linux.namespaces[{i}].path"),
                    path: path.clone(),
                    what: "a namespace path (e.g. /proc/1234/ns/net)",
                });
            }
        }
        namespaces.entries.insert(kind, (i, path.is_none()));
    }
    Ok(namespaces)
}

fn check_id_mappings(field: &str, maps: &[LinuxIdMapping]) -> Result<(), SpecError> {
    if maps.len() > MAX_ID_MAPPINGS {
        return Err(SpecError::IdMappingCount {
            field: field.to_string(),
            count: maps.len(),
        });
    }
    const LIMIT: u64 = 1 << 32;
    let range_error = |i: usize, problem: String| SpecError::IdMappingRange {
        field: format!("{field}[{i}]"),
        problem,
    };
    for (i, m) in maps.iter().enumerate() {
        let (inside, outside, size) = (
            u64::from(m.container_id()),
            u64::from(m.host_id()),
            u64::from(m.size()),
        );
        if size == 0 {
            return Err(range_error(
                i,
                "size is 0: a mapping must cover at least one id".into(),
            ));
        }
        if inside + size > LIMIT || outside + size > LIMIT {
            return Err(range_error(
                i,
                format!("containerID {inside} or hostID {outside} plus size {size} runs past 2^32"),
            ));
        }
        // The kernel refuses overlapping ranges on either side (EINVAL on the map write).
        for (j, other) in maps[..i].iter().enumerate() {
            let overlaps = |a: u64, b: u64| {
                let len = u64::from(other.size());
                a < b + len && b < a + size
            };
            if overlaps(inside, u64::from(other.container_id())) {
                return Err(range_error(
                    i,
                    format!("its containerID range overlaps {field}[{j}]"),
                ));
            }
            if overlaps(outside, u64::from(other.host_id())) {
                return Err(range_error(
                    i,
                    format!("its hostID range overlaps {field}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

fn check_linux(
    spec: &Spec,
    namespaces: &Namespaces,
    warnings: &mut Vec<String>,
) -> Result<(), SpecError> {
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if value.as_deref().is_some_and(|v| !v.is_empty()) && !namespaces.is_new("uts") {
            return Err(SpecError::UtsWithoutNamespace { field });
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };

    let uid_maps = linux.uid_mappings().as_deref().unwrap_or_default();
    let gid_maps = linux.gid_mappings().as_deref().unwrap_or_default();
    match namespaces.get("user") {
        None => {
            for (field, maps) in [
                ("linux.uidMappings", uid_maps),
                ("linux.gidMappings", gid_maps),
            ] {
                if !maps.is_empty() {
                    return Err(SpecError::IdMappingsWithoutUserNamespace { field });
                }
            }
        }
        Some((index, true)) => {
            for (field, maps) in [
                ("linux.uidMappings", uid_maps),
                ("linux.gidMappings", gid_maps),
            ] {
                if maps.is_empty() {
                    return Err(SpecError::UserNamespaceWithoutMappings { index, field });
                }
            }
        }
        Some((index, false)) => {
            if !uid_maps.is_empty() || !gid_maps.is_empty() {
                warnings.push(format!(
                    "linux.uidMappings/gidMappings are not written: the user namespace is joined \
                     through linux.namespaces[{index}].path and its mappings already exist"
                ));
            }
        }
    }
    check_id_mappings("linux.uidMappings", uid_maps)?;
    check_id_mappings("linux.gidMappings", gid_maps)?;

    if let Some(offsets) = linux.time_offsets().as_ref().filter(|o| !o.is_empty()) {
        if !namespaces.is_new("time") {
            return Err(SpecError::TimeOffsetsWithoutNamespace);
        }
        let mut clocks: Vec<&String> = offsets.keys().collect();
        clocks.sort();
        if let Some(clock) = clocks
            .into_iter()
            .find(|c| !TIME_NAMESPACE_CLOCKS.contains(&c.as_str()))
        {
            return Err(SpecError::TimeOffsetClock {
                clock: clock.clone(),
            });
        }
    }

    for (field, paths) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        let paths = paths.as_deref().unwrap_or_default();
        if !paths.is_empty() && !namespaces.has("mount") {
            return Err(SpecError::PathsWithoutMountNamespace { field });
        }
        for (i, path) in paths.iter().enumerate() {
            if !path.starts_with('/') {
                return Err(SpecError::NotAbsolute {
                    field: format!("{field}[{i}]"),
                    path: PathBuf::from(path),
                    what: "a path inside the container",
                });
            }
        }
    }

    for (i, device) in linux.devices().iter().flatten().enumerate() {
        if !device.path().is_absolute() {
            return Err(SpecError::NotAbsolute {
                field: format!("linux.devices[{i}].path"),
                path: device.path().clone(),
                what: "a device path inside the container (e.g. /dev/fuse)",
            });
        }
    }

    if let Some(value) = linux.rootfs_propagation().as_deref() {
        if !value.is_empty() && !ROOTFS_PROPAGATIONS.contains(&value) {
            return Err(SpecError::RootfsPropagation {
                value: value.to_owned(),
            });
        }
    }
    Ok(())
}

/// husk's `org.husk.rootfs.overlay` annotation (see [`crate::rootfs::overlay`]): well formed,
/// with a mount namespace to mount the overlay in, and a user namespace bounding it (the
/// container's, or the runtime's own under a rootless engine): mounted with real root's
/// privilege, its layers could be any host directory (`lowerdir=/`), and an annotation is
/// often set by whoever may label a pod rather than by the one who may pick `root.path`.
fn check_overlay_annotation(spec: &Spec, namespaces: &Namespaces) -> Result<(), SpecError> {
    let key = crate::rootfs::overlay::ANNOTATION;
    let refuse = |problem: String| SpecError::Annotation { key, problem };
    if crate::rootfs::overlay::from_spec(spec)
        .map_err(refuse)?
        .is_none()
    {
        return Ok(());
    }
    if !namespaces.has("mount") {
        return Err(refuse(
            "the overlay is mounted in the container's own mount namespace, and \
             linux.namespaces has none"
                .into(),
        ));
    }
    if !namespaces.has("user") && !crate::rootless::in_user_namespace() {
        return Err(refuse(
            "is only honoured in a container with a user namespace (the kernel then limits \
             the layers to what that namespace may reach); add {\"type\": \"user\"} with \
             mappings, or give the merged tree as root.path"
                .into(),
        ));
    }
    Ok(())
}

fn check_mounts(spec: &Spec, warnings: &mut Vec<String>) -> Result<(), SpecError> {
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        let destination = mount.destination();
        if destination.as_os_str().is_empty() {
            return Err(SpecError::MountDestinationEmpty {
                field: format!("mounts[{i}].destination"),
            });
        }
        let remount = mount.options().iter().flatten().any(|o| o == "remount");
        if !remount
            && crate::rootfs::resolve::in_root(destination)
                .as_os_str()
                .is_empty()
        {
            return Err(SpecError::MountDestinationRoot {
                field: format!("mounts[{i}].destination"),
                destination: destination.to_path_buf(),
            });
        }
        check_mount_idmap(spec, i, mount)?;
        for option in mount.options().iter().flatten() {
            if let Some((name, _)) = option.split_once('=') {
                if crate::rootfs::options::known_options().contains(&name) {
                    return Err(SpecError::MountOptionValue {
                        index: i,
                        option: option.clone(),
                        name: name.to_string(),
                    });
                }
            }
        }
        if !destination.is_absolute() {
            warnings.push(format!(
                "mounts[{i}].destination {destination:?} is relative: it is taken as relative to \
                 the container's / (deprecated; write an absolute path)"
            ));
        }
    }
    Ok(())
}

/// The idmapped-mount rules of runtime-spec config.md: `uidMappings` and `gidMappings` come
/// together; `ridmap` is for binds (`idmap` also for a filesystem the container mounts); with no mappings of its own the mount takes the
/// container's user namespace's, and without a user namespace that is an error (MUST).
fn check_mount_idmap(spec: &Spec, index: usize, mount: &Mount) -> Result<(), SpecError> {
    let uid = mount.uid_mappings().as_deref().unwrap_or_default();
    let gid = mount.gid_mappings().as_deref().unwrap_or_default();
    let options = mount.options().as_deref().unwrap_or_default();
    let has = |o: &str| options.iter().any(|x| x == o);
    let idmap = has("idmap") || has("ridmap");
    let problem = |problem: &str| SpecError::MountIdmap {
        index,
        problem: problem.to_string(),
    };
    if uid.is_empty() != gid.is_empty() {
        return Err(problem(
            "uidMappings and gidMappings must be given together (one is missing)",
        ));
    }
    if !idmap && uid.is_empty() {
        return Ok(());
    }
    if has("ridmap") && !(has("bind") || has("rbind")) {
        return Err(problem(
            "ridmap idmaps a bind and the mounts below it: add \"rbind\" to options, or use \
             idmap for a filesystem of its own",
        ));
    }
    if uid.is_empty() {
        let userns = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
        if !userns {
            return Err(problem(
                "idmap/ridmap without uidMappings and gidMappings takes the container's user \
                 namespace mappings, but the container has no user namespace: give the mount \
                 uidMappings and gidMappings, or add a user namespace",
            ));
        }
    }
    check_id_mappings(&format!("mounts[{index}].uidMappings"), uid)?;
    check_id_mappings(&format!("mounts[{index}].gidMappings"), gid)?;
    Ok(())
}

fn check_hooks(spec: &Spec) -> Result<(), SpecError> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    #[allow(deprecated)] // prestart is deprecated in the spec but still run (issue 2).
    let kinds: [(&str, &Option<Vec<Hook>>); 6] = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (kind, list) in kinds {
        for (i, hook) in list.iter().flatten().enumerate() {
            let field = format!("hooks.{kind}[{i}]");
            if !hook.path().is_absolute() {
                return Err(SpecError::NotAbsolute {
                    field: format!("{field}.path"),
                    path: hook.path().clone(),
                    what: "a hook path (in the runtime's mount namespace)",
                });
            }
            for (j, entry) in hook.env().iter().flatten().enumerate() {
                check_env_entry(format!("{field}.env[{j}]"), entry)?;
            }
            if let Some(i) = hook.args().iter().flatten().position(|a| a.contains('\0')) {
                return Err(SpecError::NulByte {
                    field: format!("{field}.args[{i}]"),
                });
            }
            if let Some(timeout) = hook.timeout().filter(|t| *t <= 0) {
                return Err(SpecError::HookTimeout {
                    field: format!("{field}.timeout"),
                    timeout,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    /// A bundle directory with an empty `rootfs/` and the smallest config that passes.
    fn bundle() -> (tempfile::TempDir, Value) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let config = json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "process": {
                "user": {"uid": 0, "gid": 0},
                "args": ["sh"],
                "cwd": "/",
                "env": ["PATH=/bin", "EMPTY="]
            },
            "hostname": "box",
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
        });
        (dir, config)
    }

    fn parse_and_validate(dir: &tempfile::TempDir, config: &Value) -> Result<Config, SpecError> {
        let mut parsed = Config::from_json(&serde_json::to_vec(config).unwrap())?;
        parsed.validate(dir.path())?;
        Ok(parsed)
    }

    /// Apply `edit` to the minimal config and return the error message, asserting it names
    /// `field`.
    fn refused(edit: impl FnOnce(&mut Value), field: &str) -> SpecError {
        let (dir, mut config) = bundle();
        edit(&mut config);
        let err = match parse_and_validate(&dir, &config) {
            Ok(_) => panic!("config was accepted, expected an error naming {field}: {config}"),
            Err(err) => err,
        };
        let msg = err.to_string();
        assert!(
            msg.contains(field),
            "message does not name {field:?}: {msg}"
        );
        err
    }

    fn accepted(edit: impl FnOnce(&mut Value)) -> Config {
        let (dir, mut config) = bundle();
        edit(&mut config);
        match parse_and_validate(&dir, &config) {
            Ok(parsed) => parsed,
            Err(err) => panic!("config refused: {err}\n{config}"),
        }
    }

    fn set(config: &mut Value, pointer: &str, value: Value) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut *config
        } else {
            config.pointer_mut(parent).unwrap()
        };
        match parent {
            Value::Object(map) => {
                map.insert(key.to_owned(), value);
            }
            Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
            other => panic!("cannot set {pointer} in {other}"),
        }
    }

    fn remove(config: &mut Value, pointer: &str) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut *config
        } else {
            config.pointer_mut(parent).unwrap()
        };
        parent.as_object_mut().unwrap().remove(key);
    }

    fn push_namespace(config: &mut Value, ns: Value) {
        config
            .pointer_mut("/linux/namespaces")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(ns);
    }

    #[test]
    fn minimal_config_passes_without_warnings() {
        let config = accepted(|_| {});
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.capabilities, None);
        assert_eq!(config.pids_limit, None);
        let process = config.spec.process().as_ref().unwrap();
        assert_eq!(process.args().as_deref(), Some(&["sh".to_owned()][..]));
    }

    // --- parsing ---

    #[test]
    fn scheduler_flags_are_kept_as_written() {
        let config = accepted(|c| {
            set(
                c,
                "/process/scheduler",
                json!({"policy": "SCHED_BATCH", "flags": ["SCHED_FLAG_RESET_ON_FORK"]}),
            )
        });
        assert_eq!(
            config.scheduler_flags.as_deref(),
            Some(&["SCHED_FLAG_RESET_ON_FORK".to_owned()][..])
        );
        let err = refused(
            |c| {
                set(
                    c,
                    "/process/scheduler",
                    json!({"policy": "SCHED_BATCH", "flags": [1]}),
                )
            },
            "process.scheduler.flags[0]",
        );
        assert!(matches!(err, SpecError::FieldType { .. }), "{err}");
    }

    #[test]
    fn not_json_reports_line_and_column() {
        let err =
            Config::from_json(b"{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": ,\n}").unwrap_err();
        match &err {
            SpecError::NotJson { line, column, .. } => {
                assert_eq!((*line, *column), (3, 11));
            }
            other => panic!("expected NotJson, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("not valid JSON") && msg.contains("line 3"),
            "{msg}"
        );
    }

    #[test]
    fn top_level_must_be_an_object() {
        let err = Config::from_json(b"[1, 2]").unwrap_err();
        assert!(matches!(
            err,
            SpecError::NotAnObject {
                found: JsonKind::Array
            }
        ));
        assert!(err.to_string().contains("an array"));
    }

    #[test]
    fn unknown_namespace_type_names_the_json_path() {
        let err = refused(
            |c| push_namespace(c, json!({"type": "foo"})),
            "linux.namespaces[3].type",
        );
        assert!(matches!(err, SpecError::Field { .. }));
        assert!(err.to_string().contains("unknown variant `foo`"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_json_path() {
        refused(
            |c| set(c, "/process/terminal", json!("yes")),
            "process.terminal",
        );
        refused(
            |c| set(c, "/process/user/uid", json!(-1)),
            "process.user.uid",
        );
        refused(
            |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
                )
            },
            "process.rlimits[0].type",
        );
    }

    #[test]
    fn missing_required_member_names_the_member() {
        let err = refused(|c| remove(c, "/process/cwd"), "process.cwd");
        assert!(err.to_string().contains("missing field `cwd`"), "{err}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_listed_by_json_path() {
        let parsed = accepted(|c| {
            set(c, "/somethingNew", json!({"a": 1}));
            set(c, "/process/futureField", json!(true));
            set(
                c,
                "/process/rlimits",
                json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1, "burst": 2}]),
            );
            set(
                c,
                "/process/capabilities",
                json!({"bounding": [], "future": []}),
            );
            set(c, "/linux/namespaces/1/flags", json!(["x"]));
            set(
                c,
                "/linux/netDevices",
                json!({"eth0": {"name": "e0", "mtu": 9000}}),
            );
            set(c, "/org.example.key", json!("v"));
        });
        assert_eq!(
            parsed.unknown_fields,
            [
                "process.capabilities.future",
                "process.futureField",
                "process.rlimits[0].burst",
                "linux.namespaces[1].flags",
                "linux.netDevices.eth0.mtu",
                "somethingNew",
                "\"org.example.key\"",
            ]
        );
        // Known fields under unknown names stay usable: the spec parsed around them.
        assert_eq!(
            parsed
                .spec
                .process()
                .as_ref()
                .unwrap()
                .rlimits()
                .as_ref()
                .unwrap()[0]
                .hard(),
            1
        );
        // A config without unknown fields lists none.
        assert!(accepted(|_| {}).unknown_fields.is_empty());
    }

    #[test]
    fn json_paths_quote_keys_that_are_not_identifiers() {
        let path = json_path([
            PathPart::Key("linux"),
            PathPart::Key("sysctl"),
            PathPart::Key("net.ipv4.ip_forward"),
        ]);
        assert_eq!(path, "linux.sysctl.\"net.ipv4.ip_forward\"");
        assert_eq!(
            json_path([
                PathPart::Key("mounts"),
                PathPart::Index(2),
                PathPart::Key("options")
            ]),
            "mounts[2].options"
        );
        assert_eq!(json_path([]), ".");
    }

    #[test]
    fn invalid_values_of_known_fields_name_the_json_path() {
        let err = refused(
            |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": "x"}]),
                )
            },
            "process.rlimits[0].hard: invalid type: string \"x\", expected u64",
        );
        assert!(matches!(err, SpecError::Field { .. }), "{err:?}");
        refused(
            |c| set(c, "/annotations", json!({"org.example/key": 1})),
            "annotations.\"org.example/key\": invalid type: integer `1`, expected a string",
        );
        refused(
            |c| set(c, "/linux/sysctl", json!({"net.ipv4.ip_forward": true})),
            "linux.sysctl.\"net.ipv4.ip_forward\": invalid type: boolean `true`",
        );
    }

    #[test]
    fn rich_config_parses_through_the_value_tree() {
        // Fields from every corner of the spec, to be sure deserialising from a Value (not
        // from bytes) loses nothing oci-spec needs: u64 seccomp arguments above i64::MAX,
        // maps, nested enums.
        let config = accepted(|c| {
            set(c, "/annotations", json!({"org.example.key": "value"}));
            set(
                c,
                "/process/consoleSize",
                json!({"height": 24, "width": 80}),
            );
            set(c, "/process/user/additionalGids", json!([5, 10]));
            set(c, "/process/user/umask", json!(18));
            set(c, "/process/oomScoreAdj", json!(100));
            set(c, "/process/noNewPrivileges", json!(true));
            set(
                c,
                "/process/ioPriority",
                json!({"class": "IOPRIO_CLASS_BE", "priority": 4}),
            );
            set(
                c,
                "/process/scheduler",
                json!({"policy": "SCHED_OTHER", "nice": 5}),
            );
            set(c, "/linux/sysctl", json!({"kernel.shmmax": "4096"}));
            set(c, "/linux/cgroupsPath", json!("/husk/test"));
            set(
                c,
                "/linux/devices",
                json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}]),
            );
            set(
                c,
                "/linux/resources",
                json!({
                    "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
                    "memory": {"limit": 536870912, "swap": 536870912},
                    "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
                    "pids": {"limit": 64}
                }),
            );
            set(
                c,
                "/linux/seccomp",
                json!({
                    "defaultAction": "SCMP_ACT_ERRNO",
                    "defaultErrnoRet": 1,
                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                    "syscalls": [
                        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": 18446744073709551615u64, "op": "SCMP_CMP_EQ"}]}
                    ]
                }),
            );
            set(c, "/linux/maskedPaths", json!(["/proc/kcore"]));
            set(
                c,
                "/hooks",
                json!({"createRuntime": [{"path": "/bin/true"}]}),
            );
        });
        assert_eq!(config.pids_limit, Some(64));
        let linux = config.spec.linux().as_ref().unwrap();
        let seccomp = linux.seccomp().as_ref().unwrap();
        let arg = seccomp.syscalls().as_ref().unwrap()[1]
            .args()
            .as_ref()
            .unwrap()[0];
        assert_eq!(arg.value(), u64::MAX);
        let memory = linux.resources().as_ref().unwrap().memory().unwrap();
        assert_eq!(memory.limit(), Some(536870912));
        assert_eq!(
            config.spec.annotations().as_ref().unwrap()["org.example.key"],
            "value"
        );
    }

    // --- ociVersion ---

    #[test]
    fn any_1x_version_is_accepted() {
        for version in [
            "1.0.0",
            "1.0.2-dev",
            "1.1.0-rc.1",
            "1.2.3+build.5",
            "1.3.0",
            "1.3.7",
        ] {
            let config = accepted(|c| set(c, "/ociVersion", json!(version)));
            assert!(
                config.warnings.is_empty(),
                "{version}: {:?}",
                config.warnings
            );
        }
    }

    #[test]
    fn version_above_1_3_is_a_warning() {
        let config = accepted(|c| set(c, "/ociVersion", json!("1.4.0")));
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(
            config.warnings[0].contains("ociVersion \"1.4.0\""),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn other_major_or_unparsable_version_is_refused() {
        let err = refused(
            |c| set(c, "/ociVersion", json!("2.0.0")),
            "ociVersion \"2.0.0\"",
        );
        assert!(matches!(err, SpecError::OciVersionMajor { .. }));
        let err = refused(|c| set(c, "/ociVersion", json!("0.9.0")), "ociVersion");
        assert!(matches!(err, SpecError::OciVersionMajor { .. }));
        for bad in [
            "", "abc", "1.0", "1", "1.0.0.0", "1.0.0-", "1.x.0", "v1.0.0", "1.0.0+",
        ] {
            let err = refused(|c| set(c, "/ociVersion", json!(bad)), "ociVersion");
            assert!(
                matches!(err, SpecError::OciVersionSyntax { .. }),
                "{bad}: {err:?}"
            );
        }
        let err = refused(|c| remove(c, "/ociVersion"), "ociVersion \"\"");
        assert!(matches!(err, SpecError::OciVersionSyntax { .. }));
    }

    // --- root ---

    #[test]
    fn root_missing_or_without_path_is_refused() {
        let err = refused(|c| remove(c, "/root"), "root.path");
        assert!(matches!(err, SpecError::RootMissing));
        let err = refused(|c| set(c, "/root", json!({})), "root.path");
        assert!(matches!(err, SpecError::RootPathEmpty));
        let err = refused(|c| set(c, "/root/path", json!("")), "root.path");
        assert!(matches!(err, SpecError::RootPathEmpty));
    }

    #[test]
    fn missing_rootfs_names_root_path_and_resolved_path() {
        let (dir, mut config) = bundle();
        set(&mut config, "/root/path", json!("nope"));
        let err = parse_and_validate(&dir, &config).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SpecError::Rootfs { .. }), "{err:?}");
        assert!(msg.contains("root.path \"nope\""), "{msg}");
        assert!(
            msg.contains(&dir.path().join("nope").display().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn rootfs_that_is_a_file_is_refused() {
        let (dir, mut config) = bundle();
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        set(&mut config, "/root/path", json!("file"));
        let err = parse_and_validate(&dir, &config).unwrap_err();
        assert!(
            matches!(err, SpecError::RootfsNotDirectory { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("not a directory"));
    }

    #[test]
    fn rootfs_that_resolves_to_the_host_root_is_refused() {
        let (dir, mut config) = bundle();
        std::os::unix::fs::symlink("/", dir.path().join("hostroot")).unwrap();
        for path in ["/", "hostroot", "../../../../../../.."] {
            set(&mut config, "/root/path", json!(path));
            let err = parse_and_validate(&dir, &config).unwrap_err();
            assert!(
                matches!(err, SpecError::RootfsIsHostRoot { .. }),
                "{path}: {err:?}"
            );
            assert!(err.to_string().contains("root.path"), "{err}");
        }
    }

    #[test]
    fn rootfs_relative_and_absolute_resolve_to_the_same_directory() {
        let (dir, config) = bundle();
        let expected = std::fs::canonicalize(dir.path().join("rootfs")).unwrap();
        let relative = parse_and_validate(&dir, &config).unwrap();
        assert_eq!(relative.rootfs(dir.path()).unwrap(), expected);

        let mut absolute = config.clone();
        set(
            &mut absolute,
            "/root/path",
            json!(expected.to_str().unwrap()),
        );
        let other_bundle = tempfile::tempdir().unwrap();
        let parsed = parse_and_validate(&other_bundle, &absolute).unwrap();
        assert_eq!(parsed.rootfs(other_bundle.path()).unwrap(), expected);
    }

    // --- process ---

    #[test]
    fn process_missing_is_refused() {
        let err = refused(|c| remove(c, "/process"), "process");
        assert!(matches!(err, SpecError::ProcessMissing));
    }

    #[test]
    fn empty_or_absent_args_are_refused() {
        let err = refused(|c| set(c, "/process/args", json!([])), "process.args");
        assert!(matches!(err, SpecError::ArgsEmpty));
        let err = refused(|c| remove(c, "/process/args"), "process.args");
        assert!(matches!(err, SpecError::ArgsEmpty));
    }

    #[test]
    fn nul_bytes_in_args_and_env_are_refused() {
        refused(
            |c| set(c, "/process/args", json!(["sh", "a\u{0}b"])),
            "process.args[1]",
        );
        refused(
            |c| set(c, "/process/env", json!(["A=1", "B=\u{0}"])),
            "process.env[1]",
        );
    }

    #[test]
    fn relative_cwd_is_refused() {
        let err = refused(|c| set(c, "/process/cwd", json!("tmp")), "process.cwd");
        for (ptr, field) in [
            ("/process/user/uid", "process.user.uid"),
            ("/process/user/gid", "process.user.gid"),
        ] {
            let e = refused(|c| set(c, ptr, json!(4294967295u32)), field);
            assert!(matches!(e, SpecError::IdReserved { .. }), "{e}");
        }
        assert!(matches!(err, SpecError::NotAbsolute { .. }));
    }

    #[test]
    fn env_entries_must_be_key_value() {
        let err = refused(
            |c| set(c, "/process/env", json!(["A=1", "NOEQUALS"])),
            "process.env[1]",
        );
        assert!(matches!(err, SpecError::Env { .. }));
        refused(
            |c| set(c, "/process/env", json!(["=value"])),
            "process.env[0]",
        );
        // A value may be empty and may contain '='.
        accepted(|c| set(c, "/process/env", json!(["A=", "B=x=y"])));
    }

    #[test]
    fn duplicated_rlimit_type_is_refused() {
        let err = refused(
            |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([
                        {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10},
                        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                        {"type": "RLIMIT_NOFILE", "soft": 20, "hard": 20}
                    ]),
                )
            },
            "process.rlimits[2]",
        );
        match err {
            SpecError::RlimitDuplicate { kind, first, .. } => {
                assert_eq!((kind.as_str(), first), ("RLIMIT_NOFILE", 0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rlimit_soft_above_hard_is_refused() {
        let err = refused(
            |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]),
                )
            },
            "process.rlimits[0]",
        );
        assert!(
            err.to_string().contains("soft 2048 above hard 1024"),
            "{err}"
        );
        accepted(|c| {
            set(
                c,
                "/process/rlimits",
                json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]),
            )
        });
    }

    // --- capabilities ---

    #[test]
    fn capability_strings_round_trip_with_unknown_name_as_warning() {
        let config = accepted(|c| {
            set(
                c,
                "/process/capabilities",
                json!({
                    "bounding": ["CAP_KILL", "CAP_FUTURE_THING", "CAP_NET_BIND_SERVICE"],
                    "effective": ["CAP_KILL"],
                    "permitted": [],
                    "ambient": null
                }),
            )
        });
        let caps = config.capabilities.clone().unwrap();
        assert_eq!(
            caps,
            CapabilitySets {
                bounding: Some(vec![
                    "CAP_KILL".into(),
                    "CAP_FUTURE_THING".into(),
                    "CAP_NET_BIND_SERVICE".into()
                ]),
                effective: Some(vec!["CAP_KILL".into()]),
                inheritable: None,
                permitted: Some(vec![]),
                ambient: None,
            }
        );
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(config.warnings[0].contains("process.capabilities.bounding[1]"));
        assert!(config.warnings[0].contains("CAP_FUTURE_THING"));
        // oci-spec never saw them.
        assert!(config
            .spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .is_none());
        // The sets serialise back to the same JSON shape.
        let back = serde_json::to_value(&caps).unwrap();
        assert_eq!(back["bounding"][1], json!("CAP_FUTURE_THING"));
        assert_eq!(
            serde_json::from_value::<CapabilitySets>(back).unwrap(),
            caps
        );
    }

    #[test]
    fn every_kernel_capability_name_is_known() {
        // Names of man 7 capabilities up to Linux 5.9: none may produce a warning.
        let names: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
        assert!(names.contains(&"CAP_CHECKPOINT_RESTORE".to_owned()));
        let config = accepted(|c| set(c, "/process/capabilities", json!({"bounding": names})));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        // Lower case is not a capability name (runc and the kernel's names are upper case).
        let config =
            accepted(|c| set(c, "/process/capabilities", json!({"ambient": ["cap_kill"]})));
        assert!(config.warnings[0].contains("process.capabilities.ambient[0]"));
    }

    #[test]
    fn capabilities_absent_or_null_is_none() {
        assert_eq!(accepted(|_| {}).capabilities, None);
        assert_eq!(
            accepted(|c| set(c, "/process/capabilities", json!(null))).capabilities,
            None
        );
        assert_eq!(
            accepted(|c| set(c, "/process/capabilities", json!({}))).capabilities,
            Some(CapabilitySets::default())
        );
    }

    #[test]
    fn capability_set_of_wrong_type_is_refused() {
        let err = refused(
            |c| set(c, "/process/capabilities", json!({"bounding": "CAP_KILL"})),
            "process.capabilities.bounding must be an array",
        );
        assert!(matches!(
            err,
            SpecError::CapabilityType {
                found: JsonKind::String,
                ..
            }
        ));
        refused(
            |c| {
                set(
                    c,
                    "/process/capabilities",
                    json!({"effective": ["CAP_KILL", 3]}),
                )
            },
            "process.capabilities.effective[1] must be a capability name",
        );
        refused(
            |c| set(c, "/process/capabilities", json!(["CAP_KILL"])),
            "process.capabilities must be an object",
        );
    }

    // --- pids limit ---

    fn pids(limit: Option<Value>) -> Option<i64> {
        accepted(|c| {
            let pids = match limit {
                Some(limit) => json!({"limit": limit}),
                None => json!({}),
            };
            set(c, "/linux/resources", json!({"pids": pids}));
        })
        .pids_limit
    }

    #[test]
    fn pids_limit_absent_zero_and_minus_one_stay_distinct() {
        assert_eq!(accepted(|_| {}).pids_limit, None);
        assert_eq!(pids(None), None, "pids without limit");
        assert_eq!(pids(Some(json!(null))), None, "null limit");
        assert_eq!(pids(Some(json!(0))), Some(0));
        assert_eq!(pids(Some(json!(-1))), Some(-1));
        assert_eq!(pids(Some(json!(100))), Some(100));
        // oci-spec's own field would have said 0 for the absent limit.
        let config = accepted(|c| set(c, "/linux/resources", json!({"pids": {}})));
        let spec_limit = config
            .spec
            .linux()
            .as_ref()
            .unwrap()
            .resources()
            .as_ref()
            .unwrap()
            .pids()
            .unwrap()
            .limit();
        assert_eq!((spec_limit, config.pids_limit), (0, None));
    }

    #[test]
    fn pids_limit_of_wrong_type_names_the_field() {
        refused(
            |c| set(c, "/linux/resources", json!({"pids": {"limit": "many"}})),
            "linux.resources.pids.limit",
        );
    }

    // --- namespaces ---

    #[test]
    fn duplicated_namespace_type_is_refused() {
        let err = refused(
            |c| push_namespace(c, json!({"type": "pid"})),
            "linux.namespaces[3]",
        );
        match err {
            SpecError::NamespaceDuplicate { kind, first, .. } => {
                assert_eq!((kind, first), ("pid", 0))
            }
            other => panic!("{other:?}"),
        }
        // A new and a joined namespace of the same type are still a duplicate.
        refused(
            |c| push_namespace(c, json!({"type": "mount", "path": "/proc/1/ns/mnt"})),
            "linux.namespaces[3] repeats namespace type \"mount\" of linux.namespaces[1]",
        );
    }

    #[test]
    fn namespace_path_must_be_absolute() {
        refused(
            |c| push_namespace(c, json!({"type": "network", "path": "ns/net"})),
            "linux.namespaces[3].path",
        );
        // An empty path asks for a new namespace, as in runc.
        accepted(|c| {
            set(c, "/linux/namespaces/2", json!({"type": "uts", "path": ""}));
        });
    }

    #[test]
    fn all_eight_namespace_types_parse() {
        accepted(|c| {
            for kind in ["network", "ipc", "cgroup", "time"] {
                push_namespace(c, json!({"type": kind}));
            }
            push_namespace(c, json!({"type": "user"}));
            set(
                c,
                "/linux/uidMappings",
                json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
            );
            set(
                c,
                "/linux/gidMappings",
                json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
            );
        });
    }

    // --- user namespace and id mappings ---

    fn with_user_ns(c: &mut Value) {
        push_namespace(c, json!({"type": "user"}));
        set(
            c,
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        );
        set(
            c,
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        );
    }

    #[test]
    fn id_mappings_without_user_namespace_are_refused() {
        let err = refused(
            |c| {
                set(
                    c,
                    "/linux/uidMappings",
                    json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
                )
            },
            "linux.uidMappings",
        );
        assert!(matches!(
            err,
            SpecError::IdMappingsWithoutUserNamespace { .. }
        ));
        refused(
            |c| {
                set(
                    c,
                    "/linux/gidMappings",
                    json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
                )
            },
            "linux.gidMappings",
        );
    }

    #[test]
    fn new_user_namespace_needs_both_mappings() {
        accepted(with_user_ns);
        refused(
            |c| {
                with_user_ns(c);
                remove(c, "/linux/uidMappings");
            },
            "linux.namespaces[3] asks for a new user namespace but linux.uidMappings",
        );
        refused(
            |c| {
                with_user_ns(c);
                set(c, "/linux/gidMappings", json!([]));
            },
            "linux.gidMappings is empty",
        );
    }

    #[test]
    fn mappings_with_joined_user_namespace_are_a_warning() {
        let config = accepted(|c| {
            with_user_ns(c);
            set(
                c,
                "/linux/namespaces/3",
                json!({"type": "user", "path": "/proc/1/ns/user"}),
            );
        });
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(config.warnings[0].contains("linux.namespaces[3].path"));
    }

    #[test]
    fn bad_mapping_ranges_are_refused() {
        refused(
            |c| {
                with_user_ns(c);
                set(c, "/linux/uidMappings/0/size", json!(0));
            },
            "linux.uidMappings[0]: size is 0",
        );
        refused(
            |c| {
                with_user_ns(c);
                set(
                    c,
                    "/linux/gidMappings/0",
                    json!({"containerID": 0, "hostID": 4294967295u32, "size": 2}),
                );
            },
            "linux.gidMappings[0]",
        );
        refused(
            |c| {
                with_user_ns(c);
                set(
                    c,
                    "/linux/uidMappings",
                    json!([
                        {"containerID": 0, "hostID": 100000, "size": 1000},
                        {"containerID": 999, "hostID": 300000, "size": 10}
                    ]),
                );
            },
            "linux.uidMappings[1]: its containerID range overlaps linux.uidMappings[0]",
        );
        refused(
            |c| {
                with_user_ns(c);
                set(
                    c,
                    "/linux/uidMappings",
                    json!([
                        {"containerID": 0, "hostID": 100000, "size": 1000},
                        {"containerID": 1000, "hostID": 100999, "size": 10}
                    ]),
                );
            },
            "linux.uidMappings[1]: its hostID range overlaps",
        );
        // Adjacent ranges are fine.
        accepted(|c| {
            with_user_ns(c);
            set(
                c,
                "/linux/uidMappings",
                json!([
                    {"containerID": 0, "hostID": 100000, "size": 1000},
                    {"containerID": 1000, "hostID": 101000, "size": 10}
                ]),
            );
        });
    }

    #[test]
    fn more_than_340_mappings_are_refused() {
        let maps: Vec<Value> = (0..341u32)
            .map(|i| json!({"containerID": i, "hostID": 100000 + i, "size": 1}))
            .collect();
        let err = refused(
            |c| {
                with_user_ns(c);
                set(c, "/linux/uidMappings", Value::Array(maps));
            },
            "linux.uidMappings has 341 entries",
        );
        assert!(matches!(err, SpecError::IdMappingCount { count: 341, .. }));
    }

    // --- uts ---

    #[test]
    fn hostname_and_domainname_need_a_new_uts_namespace() {
        let drop_uts = |c: &mut Value| {
            c.pointer_mut("/linux/namespaces")
                .unwrap()
                .as_array_mut()
                .unwrap()
                .remove(2);
        };
        let err = refused(drop_uts, "hostname");
        assert!(err
            .to_string()
            .contains("unable to set hostname without a private UTS namespace"));
        refused(
            |c| {
                drop_uts(c);
                remove(c, "/hostname");
                set(c, "/domainname", json!("example.org"));
            },
            "domainname",
        );
        // A joined uts namespace is already set up: hostname may not change it.
        refused(
            |c| set(c, "/linux/namespaces/2/path", json!("/proc/1/ns/uts")),
            "hostname",
        );
        // No hostname (or an empty one) needs no uts namespace.
        accepted(|c| {
            drop_uts(c);
            set(c, "/hostname", json!(""));
        });
    }

    // --- time namespace ---

    #[test]
    fn time_offsets_need_a_new_time_namespace() {
        let offsets = json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 1}});
        let err = refused(
            |c| set(c, "/linux/timeOffsets", offsets.clone()),
            "linux.timeOffsets",
        );
        assert!(matches!(err, SpecError::TimeOffsetsWithoutNamespace));
        refused(
            |c| {
                push_namespace(c, json!({"type": "time", "path": "/proc/1/ns/time"}));
                set(c, "/linux/timeOffsets", offsets.clone());
            },
            "linux.timeOffsets",
        );
        accepted(|c| {
            push_namespace(c, json!({"type": "time"}));
            set(c, "/linux/timeOffsets", offsets.clone());
        });
    }

    #[test]
    fn time_offsets_only_for_monotonic_and_boottime() {
        refused(
            |c| {
                push_namespace(c, json!({"type": "time"}));
                set(c, "/linux/timeOffsets", json!({"realtime": {"secs": 1}}));
            },
            "linux.timeOffsets.realtime",
        );
    }

    // --- paths, devices, propagation ---

    #[test]
    fn the_overlay_annotation_must_be_well_formed_and_have_a_mount_namespace() {
        let good = json!({"org.husk.rootfs.overlay": "lowerdir=/l,upperdir=/u,workdir=/w"});
        let userns = |c: &mut Value| {
            c.pointer_mut("/linux/namespaces")
                .unwrap()
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            set(c, "/linux/uidMappings", map.clone());
            set(c, "/linux/gidMappings", map);
        };
        accepted(|c| {
            set(c, "/annotations", good.clone());
            userns(c);
        });
        if !crate::rootless::in_user_namespace() {
            // Real root's overlay could take any host directory for a layer.
            let err = refused(
                |c| set(c, "/annotations", good.clone()),
                "annotations.\"org.husk.rootfs.overlay\"",
            );
            assert!(err.to_string().contains("user namespace"), "{err}");
        }
        let err = refused(
            |c| {
                set(
                    c,
                    "/annotations",
                    json!({"org.husk.rootfs.overlay": "lowerdir=l,upperdir=/u,workdir=/w"}),
                )
            },
            "annotations.\"org.husk.rootfs.overlay\"",
        );
        assert!(err.to_string().contains("not an absolute path"), "{err}");
        let err = refused(
            |c| {
                set(c, "/annotations", good.clone());
                let ns = c.pointer_mut("/linux/namespaces").unwrap();
                let kept: Vec<Value> = ns
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|n| n["type"] != "mount")
                    .cloned()
                    .collect();
                *ns = Value::Array(kept);
                set(c, "/linux/maskedPaths", json!([]));
                set(c, "/linux/readonlyPaths", json!([]));
            },
            "org.husk.rootfs.overlay",
        );
        assert!(
            err.to_string().contains("linux.namespaces has none"),
            "{err}"
        );
        // Other annotations mean nothing to husk.
        accepted(|c| set(c, "/annotations", json!({"org.husk.other": "x"})));
    }

    #[test]
    fn masked_and_readonly_paths_must_be_absolute_and_need_a_mount_namespace() {
        refused(
            |c| set(c, "/linux/maskedPaths", json!(["/proc/kcore", "proc/keys"])),
            "linux.maskedPaths[1]",
        );
        refused(
            |c| set(c, "/linux/readonlyPaths", json!(["sys"])),
            "linux.readonlyPaths[0]",
        );
        let err = refused(
            |c| {
                c.pointer_mut("/linux/namespaces")
                    .unwrap()
                    .as_array_mut()
                    .unwrap()
                    .remove(1);
                set(c, "/linux/maskedPaths", json!(["/proc/kcore"]));
            },
            "linux.maskedPaths",
        );
        assert!(matches!(err, SpecError::PathsWithoutMountNamespace { .. }));
        accepted(|c| {
            set(c, "/linux/maskedPaths", json!(["/proc/kcore"]));
            set(c, "/linux/readonlyPaths", json!(["/proc/sys"]));
        });
    }

    #[test]
    fn device_path_must_be_absolute() {
        refused(
            |c| {
                set(
                    c,
                    "/linux/devices",
                    json!([{"path": "dev/fuse", "type": "c", "major": 10, "minor": 229}]),
                )
            },
            "linux.devices[0].path",
        );
    }

    #[test]
    fn rootfs_propagation_must_be_a_spec_value() {
        let err = refused(
            |c| set(c, "/linux/rootfsPropagation", json!("sideways")),
            "linux.rootfsPropagation",
        );
        assert!(matches!(err, SpecError::RootfsPropagation { .. }));
        for value in ROOTFS_PROPAGATIONS {
            accepted(|c| set(c, "/linux/rootfsPropagation", json!(value)));
        }
    }

    // --- mounts ---

    #[test]
    fn mount_destination_must_not_be_empty_and_relative_is_a_warning() {
        let err = refused(
            |c| {
                set(
                    c,
                    "/mounts",
                    json!([{"destination": "/proc", "type": "proc"}, {"destination": ""}]),
                )
            },
            "mounts[1].destination",
        );
        assert!(matches!(err, SpecError::MountDestinationEmpty { .. }));
        refused(
            |c| set(c, "/mounts", json!([{"type": "proc"}])),
            "mounts[0].destination",
        );
        let config = accepted(|c| {
            set(
                c,
                "/mounts",
                json!([{"destination": "data", "type": "tmpfs"}]),
            )
        });
        assert_eq!(config.warnings.len(), 1);
        assert!(config.warnings[0].contains("mounts[0].destination \"data\" is relative"));
    }

    // --- hooks ---

    #[test]
    fn hook_paths_must_be_absolute() {
        for kind in [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ] {
            let err = refused(
                |c| {
                    set(
                        c,
                        "/hooks",
                        json!({kind: [{"path": "/bin/true"}, {"path": "hook.sh"}]}),
                    )
                },
                &format!("hooks.{kind}[1].path"),
            );
            assert!(matches!(err, SpecError::NotAbsolute { .. }));
        }
    }

    #[test]
    fn hook_env_and_timeout_are_checked() {
        refused(
            |c| {
                set(
                    c,
                    "/hooks",
                    json!({"poststop": [{"path": "/bin/true", "env": ["A"]}]}),
                )
            },
            "hooks.poststop[0].env[0]",
        );
        let err = refused(
            |c| {
                set(
                    c,
                    "/hooks",
                    json!({"createRuntime": [{"path": "/bin/true", "timeout": 0}]}),
                )
            },
            "hooks.createRuntime[0].timeout",
        );
        assert!(matches!(err, SpecError::HookTimeout { timeout: 0, .. }));
        accepted(|c| {
            set(
                c,
                "/hooks",
                json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "true"], "env": ["A=1"], "timeout": 5}]}),
            )
        });
    }

    // --- load and snapshots ---

    #[test]
    fn load_without_config_json_says_to_run_spec() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path()).unwrap_err();
        assert!(matches!(err, SpecError::ConfigMissing { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains(&dir.path().join("config.json").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("husk-runtime spec"), "{msg}");
    }

    #[test]
    fn load_returns_the_bytes_as_written() {
        let (dir, config) = bundle();
        let bytes = serde_json::to_vec_pretty(&config).unwrap();
        std::fs::write(dir.path().join("config.json"), &bytes).unwrap();
        let (parsed, raw) = Config::load(dir.path()).unwrap();
        assert_eq!(raw, bytes);
        assert_eq!(parsed.spec.hostname().as_deref(), Some("box"));
    }

    #[test]
    fn snapshot_parses_without_the_rootfs_but_still_validates() {
        let (dir, config) = bundle();
        let bytes = serde_json::to_vec(&config).unwrap();
        drop(dir); // the bundle (and its rootfs) is gone
        let parsed = Config::from_snapshot(&bytes).unwrap();
        assert_eq!(parsed.spec.version(), "1.3.0");
        let mut bad = config.clone();
        set(&mut bad, "/process/args", json!([]));
        assert!(matches!(
            Config::from_snapshot(&serde_json::to_vec(&bad).unwrap()),
            Err(SpecError::ArgsEmpty)
        ));
    }

    #[test]
    fn validating_twice_does_not_repeat_warnings() {
        let (dir, mut config) = bundle();
        set(&mut config, "/ociVersion", json!("1.9.0"));
        let mut parsed = parse_and_validate(&dir, &config).unwrap();
        parsed.validate(dir.path()).unwrap();
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    }

    #[test]
    fn semver_parser() {
        assert_eq!(parse_semver("1.0.2-dev"), Some((1, 0, 2)));
        assert_eq!(parse_semver("1.2.3-rc.1+git.abc-1"), Some((1, 2, 3)));
        assert_eq!(parse_semver("10.20.30"), Some((10, 20, 30)));
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "1..3",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3+",
            "1.2.-3",
            "a.b.c",
            " 1.2.3",
        ] {
            assert_eq!(parse_semver(bad), None, "{bad:?}");
        }
    }
}

//! A mount's `options` (runtime-spec config.md "Mounts"; `man 8 mount`,
//! "FILESYSTEM-INDEPENDENT MOUNT OPTIONS"), sorted into what the new mount API needs: superblock
//! flags for `fsconfig`, per-mount attributes for `fsmount`/`mount_setattr` (on the mount only,
//! and the recursive `r*` forms), propagation changes, bind/rbind/idmap, and filesystem data.

use husk_sys::mount::{MountAttrFlags, Propagation};

/// The access-time mode of a mount (`MOUNT_ATTR__ATIME`: exactly one applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Atime {
    /// `relatime` (the kernel's default).
    Relatime,
    /// `noatime`.
    Noatime,
    /// `strictatime`.
    Strictatime,
}

impl Atime {
    /// The `MOUNT_ATTR_*` value of the mode.
    pub fn attr(self) -> MountAttrFlags {
        match self {
            Atime::Relatime => MountAttrFlags::MOUNT_ATTR_RELATIME,
            Atime::Noatime => MountAttrFlags::MOUNT_ATTR_NOATIME,
            Atime::Strictatime => MountAttrFlags::MOUNT_ATTR_STRICTATIME,
        }
    }
}

/// Per-mount attributes to set and clear, and the access-time mode if one was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    /// `MOUNT_ATTR_*` to set (ro, nosuid, nodev, noexec, nodiratime, nosymfollow).
    pub set: MountAttrFlags,
    /// `MOUNT_ATTR_*` to clear (rw, suid, dev, exec, diratime, symfollow).
    pub clear: MountAttrFlags,
    /// The access-time mode, when an option named one.
    pub atime: Option<Atime>,
}

impl Default for Attrs {
    fn default() -> Self {
        Attrs {
            set: MountAttrFlags::empty(),
            clear: MountAttrFlags::empty(),
            atime: None,
        }
    }
}

impl Attrs {
    fn apply(&mut self, flag: MountAttrFlags, on: bool) {
        if on {
            self.set.insert(flag);
            self.clear.remove(flag);
        } else {
            self.clear.insert(flag);
            self.set.remove(flag);
        }
    }

    /// `atime`-family options: the named mode, or "back to the default" for the `no*`/`atime`
    /// forms that only cancel a mode (mount(2) falls back to relatime then).
    fn atime(&mut self, opt: &str) {
        self.atime = match opt {
            "noatime" => Some(Atime::Noatime),
            "relatime" => Some(Atime::Relatime),
            "strictatime" => Some(Atime::Strictatime),
            // atime, norelatime, nostrictatime: cancel that mode if it was chosen.
            "atime" if self.atime == Some(Atime::Noatime) => Some(Atime::Relatime),
            "norelatime" if self.atime == Some(Atime::Relatime) => None,
            "nostrictatime" if self.atime == Some(Atime::Strictatime) => Some(Atime::Relatime),
            _ => self.atime,
        };
    }
}

/// How the source is bound, for `bind`/`rbind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// `bind`: the source mount only (`open_tree(OPEN_TREE_CLONE)`).
    Single,
    /// `rbind`: with every mount below the source (`AT_RECURSIVE`).
    Recursive,
}

/// One mount's options, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MountOptions {
    /// Superblock flags for `fsconfig(FSCONFIG_SET_FLAG)` of a new filesystem: "sync",
    /// "dirsync", "lazytime", "mand" (ro is a mount attribute, see [`MountOptions::attrs`]).
    pub sb_flags: Vec<&'static str>,
    /// Attributes of this mount only.
    pub attrs: Attrs,
    /// Attributes of this mount and every mount below it (`rro`, `rnosuid`, ...:
    /// `mount_setattr(AT_RECURSIVE)`).
    pub rec_attrs: Attrs,
    /// Propagation changes in the order given, each with whether it is recursive.
    pub propagation: Vec<(Propagation, bool)>,
    /// `bind` or `rbind`.
    pub bind: Option<Bind>,
    /// `remount`: change the attributes of the mount already at the destination.
    pub remount: bool,
    /// `idmap` (false) or `ridmap` (true): an idmapped bind (runtime-spec v1.2).
    pub idmap: Option<bool>,
    /// `tmpcopyup`: a tmpfs starts with a copy of the directory it covers.
    pub copy_up: bool,
    /// Filesystem data, as `fsconfig` parameters: `("mode", Some("755"))`, `("newinstance",
    /// None)`.
    pub data: Vec<(String, Option<String>)>,
}

impl MountOptions {
    /// The read-only attribute is set on the mount itself (`ro` or `rro`).
    pub fn read_only(&self) -> bool {
        self.attrs.set.contains(MountAttrFlags::MOUNT_ATTR_RDONLY)
            || self
                .rec_attrs
                .set
                .contains(MountAttrFlags::MOUNT_ATTR_RDONLY)
    }

    /// The value of the filesystem data option `key` (`mode` → `Some(Some("755"))`).
    pub fn data_value(&self, key: &str) -> Option<Option<&str>> {
        self.data
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }
}

/// The flag and whether the option turns it on, for the attribute options and their `r*`
/// forms (without the leading `r`).
fn attr_option(opt: &str) -> Option<(MountAttrFlags, bool)> {
    Some(match opt {
        "ro" => (MountAttrFlags::MOUNT_ATTR_RDONLY, true),
        "rw" => (MountAttrFlags::MOUNT_ATTR_RDONLY, false),
        "nosuid" => (MountAttrFlags::MOUNT_ATTR_NOSUID, true),
        "suid" => (MountAttrFlags::MOUNT_ATTR_NOSUID, false),
        "nodev" => (MountAttrFlags::MOUNT_ATTR_NODEV, true),
        "dev" => (MountAttrFlags::MOUNT_ATTR_NODEV, false),
        "noexec" => (MountAttrFlags::MOUNT_ATTR_NOEXEC, true),
        "exec" => (MountAttrFlags::MOUNT_ATTR_NOEXEC, false),
        "nodiratime" => (MountAttrFlags::MOUNT_ATTR_NODIRATIME, true),
        "diratime" => (MountAttrFlags::MOUNT_ATTR_NODIRATIME, false),
        "nosymfollow" => (MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => (MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW, false),
        _ => return None,
    })
}

const ATIME_OPTIONS: &[&str] = &[
    "atime",
    "noatime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
];

/// Options that only exist as `r*` forms of an attribute (`rro`, `rnosuid`...): the option
/// without its `r`, if `opt` is one. `rw`/`rbind`/`rshared`-style names are handled before.
fn recursive_form(opt: &str) -> Option<&str> {
    let base = opt.strip_prefix('r')?;
    (attr_option(base).is_some() || ATIME_OPTIONS.contains(&base)).then_some(base)
}

/// Parse a mount's `options`. Every option of runtime-spec config.md is recognised; anything
/// else is filesystem data (`mode=1777`, `size=64m`, `newinstance`), passed to the filesystem,
/// which rejects what it does not know.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        let opt = opt.as_str();
        if let Some((flag, on)) = attr_option(opt) {
            o.attrs.apply(flag, on);
            continue;
        }
        if ATIME_OPTIONS.contains(&opt) {
            o.attrs.atime(opt);
            continue;
        }
        match opt {
            "defaults" | "async" | "nomand" | "nolazytime" | "loud" => {
                // Defaults of a new superblock; on a bind they change nothing either.
                if let Some(f) = match opt {
                    "async" => Some("sync"),
                    "nomand" => Some("mand"),
                    "nolazytime" => Some("lazytime"),
                    _ => None,
                } {
                    o.sb_flags.retain(|x| *x != f);
                }
                continue;
            }
            // Kernel log verbosity of mount(2); the new API logs into the fs context instead,
            // which husk reads into its error messages.
            "silent" => continue,
            "sync" | "dirsync" | "lazytime" | "mand" => {
                let f = match opt {
                    "sync" => "sync",
                    "dirsync" => "dirsync",
                    "lazytime" => "lazytime",
                    _ => "mand",
                };
                if !o.sb_flags.contains(&f) {
                    o.sb_flags.push(f);
                }
                continue;
            }
            "remount" => {
                o.remount = true;
                continue;
            }
            "bind" => {
                if o.bind.is_none() {
                    o.bind = Some(Bind::Single);
                }
                continue;
            }
            "rbind" => {
                o.bind = Some(Bind::Recursive);
                continue;
            }
            "idmap" => {
                o.idmap = Some(o.idmap.unwrap_or(false));
                continue;
            }
            "ridmap" => {
                o.idmap = Some(true);
                continue;
            }
            "tmpcopyup" => {
                o.copy_up = true;
                continue;
            }
            _ => {}
        }
        let prop = match opt {
            "shared" => Some((Propagation::Shared, false)),
            "rshared" => Some((Propagation::Shared, true)),
            "slave" => Some((Propagation::Slave, false)),
            "rslave" => Some((Propagation::Slave, true)),
            "private" => Some((Propagation::Private, false)),
            "rprivate" => Some((Propagation::Private, true)),
            "unbindable" => Some((Propagation::Unbindable, false)),
            "runbindable" => Some((Propagation::Unbindable, true)),
            _ => None,
        };
        if let Some(p) = prop {
            o.propagation.push(p);
            continue;
        }
        if let Some(base) = recursive_form(opt) {
            if let Some((flag, on)) = attr_option(base) {
                o.rec_attrs.apply(flag, on);
            } else {
                o.rec_attrs.atime(base);
            }
            continue;
        }
        match opt.split_once('=') {
            Some((k, v)) => o.data.push((k.to_string(), Some(v.to_string()))),
            None => o.data.push((opt.to_string(), None)),
        }
    }
    o
}

/// Every option name [`parse`] gives a meaning to (for `husk-runtime features`).
pub fn known_options() -> Vec<&'static str> {
    let mut v = vec![
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "idmap",
        "lazytime",
        "loud",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "private",
        "rbind",
        "relatime",
        "remount",
        "ridmap",
        "ro",
        "rprivate",
        "rshared",
        "rslave",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "symfollow",
        "sync",
        "tmpcopyup",
        "unbindable",
    ];
    v.extend([
        "rro",
        "rrw",
        "rnosuid",
        "rsuid",
        "rnodev",
        "rdev",
        "rnoexec",
        "rexec",
        "rnodiratime",
        "rdiratime",
        "rrelatime",
        "rnorelatime",
        "rnoatime",
        "ratime",
        "rstrictatime",
        "rnostrictatime",
        "rnosymfollow",
        "rsymfollow",
    ]);
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn attributes_data_and_propagation_are_split() {
        let o = parse(&s(&[
            "nosuid",
            "noexec",
            "nodev",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
            "newinstance",
        ]));
        assert_eq!(
            o.attrs.set,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NOEXEC
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_RDONLY
        );
        assert!(o.attrs.clear.is_empty());
        assert_eq!(o.propagation, vec![(Propagation::Slave, true)]);
        assert_eq!(
            o.data,
            vec![
                ("mode".to_string(), Some("755".to_string())),
                ("size".to_string(), Some("65536k".to_string())),
                ("newinstance".to_string(), None)
            ]
        );
        assert_eq!(o.bind, None);
        assert!(o.read_only());
        assert_eq!(o.data_value("mode"), Some(Some("755")));
    }

    #[test]
    fn later_options_win() {
        let o = parse(&s(&["rbind", "ro", "rw", "nosuid", "suid"]));
        assert_eq!(o.bind, Some(Bind::Recursive));
        assert!(o.attrs.set.is_empty());
        assert_eq!(
            o.attrs.clear,
            MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NOSUID
        );
        assert!(!o.read_only());
    }

    #[test]
    fn recursive_forms_are_separate_from_the_mount_only_ones() {
        let o = parse(&s(&[
            "bind",
            "rro",
            "rnosuid",
            "rnoatime",
            "nodev",
            "rsymfollow",
        ]));
        assert_eq!(o.bind, Some(Bind::Single));
        assert_eq!(o.attrs.set, MountAttrFlags::MOUNT_ATTR_NODEV);
        assert_eq!(
            o.rec_attrs.set,
            MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NOSUID
        );
        assert_eq!(o.rec_attrs.clear, MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW);
        assert_eq!(o.rec_attrs.atime, Some(Atime::Noatime));
        assert!(o.read_only());
    }

    #[test]
    fn atime_modes() {
        assert_eq!(parse(&s(&["noatime"])).attrs.atime, Some(Atime::Noatime));
        assert_eq!(
            parse(&s(&["noatime", "atime"])).attrs.atime,
            Some(Atime::Relatime)
        );
        assert_eq!(
            parse(&s(&["strictatime"])).attrs.atime,
            Some(Atime::Strictatime)
        );
        assert_eq!(parse(&s(&["relatime", "norelatime"])).attrs.atime, None);
        assert_eq!(
            parse(&s(&["nodiratime"])).attrs.set,
            MountAttrFlags::MOUNT_ATTR_NODIRATIME
        );
    }

    #[test]
    fn propagation_forms() {
        let o = parse(&s(&[
            "shared",
            "rprivate",
            "unbindable",
            "runbindable",
            "slave",
        ]));
        assert_eq!(
            o.propagation,
            vec![
                (Propagation::Shared, false),
                (Propagation::Private, true),
                (Propagation::Unbindable, false),
                (Propagation::Unbindable, true),
                (Propagation::Slave, false),
            ]
        );
        // Not propagation: filesystem data.
        assert_eq!(parse(&s(&["rrshared"])).data.len(), 1);
    }

    #[test]
    fn superblock_flags_idmap_and_remount() {
        let o = parse(&s(&[
            "sync", "dirsync", "lazytime", "mand", "async", "silent", "loud", "remount", "idmap",
        ]));
        assert_eq!(o.sb_flags, vec!["dirsync", "lazytime", "mand"]);
        assert!(o.remount);
        assert_eq!(o.idmap, Some(false));
        assert!(o.data.is_empty());
        assert_eq!(parse(&s(&["ridmap"])).idmap, Some(true));
    }

    #[test]
    fn every_known_option_parses_to_something_other_than_data() {
        for opt in known_options() {
            let o = parse(&s(&[opt]));
            assert!(o.data.is_empty(), "{opt} was taken as filesystem data");
        }
    }
}

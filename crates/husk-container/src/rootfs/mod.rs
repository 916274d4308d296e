//! The container's root filesystem: propagation, the rootfs bind, the `mounts` of config.json,
//! devices, masked and read-only paths, the root switch and a read-only root.
//!
//! Every destination is resolved *inside* the rootfs with openat2(RESOLVE_IN_ROOT) and every
//! mount is attached with move_mount(2) onto the resulting fd (the new mount API), so an
//! absolute symlink, `..`, or a path swapped between check and use can never put a mount on the
//! host (the class of CVE-2021-30465). Runs in the init, in the new mount namespace, before
//! pivot_root ([`prepare`]) and after it ([`finish`]).
//!
//! - [`options`]: a mount's options sorted for fsconfig/fsmount/mount_setattr.
//! - [`resolve`]: paths inside the root, mountpoint creation.
//! - [`mount`]: one `mounts` entry, `cgroup` mounts, the /proc rules.
//! - [`idmap`]: idmapped binds, made by the runtime before the container's processes exist,
//!   and the mappings of idmapped filesystems the init mounts.
//! - [`copyup`]: the `tmpcopyup` option.
//! - [`overlay`]: husk's `org.husk.rootfs.overlay` annotation (the rootfs as an overlay).
//! - [`devices`]: `linux.devices`, the default devices, /dev symlinks.
//! - [`paths`]: `linux.maskedPaths`, `linux.readonlyPaths`.
//! - [`pivot`]: pivot_root or MS_MOVE + chroot.

pub mod copyup;
pub mod devices;
pub mod idmap;
pub mod mount;
pub mod options;
pub mod overlay;
pub mod paths;
pub mod pivot;
pub mod resolve;

use std::path::{Path, PathBuf};

use husk_sys::mount::{self as sysmount, MountAttr, MountAttrFlags, Propagation};
use nix::fcntl::OFlag;
use oci_spec::runtime::Spec;

pub use pivot::switch_root;

use crate::process::ChildError;
use resolve::in_root;

/// What the rootfs setup needs besides the spec.
#[derive(Debug)]
pub struct Rootfs<'a> {
    /// The config.
    pub spec: &'a Spec,
    /// The rootfs on the host (absolute, canonical).
    pub rootfs: PathBuf,
    /// The bundle (relative bind sources are relative to it).
    pub bundle: PathBuf,
    /// The container's cgroup as its `cgroup` mount must show it.
    pub cgroup_mounts: Vec<husk_cgroups::CgroupMount>,
    /// The container has its own user namespace, or the runtime runs in a non-initial one (no
    /// mknod; locked mount flags).
    pub in_userns: bool,
    /// The container has its own network namespace (else sysfs must be read-only).
    pub new_netns: bool,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `linux.mountLabel` when SELinux is enabled (else `None`, with a warning at create).
    pub mount_label: Option<String>,
}

/// `linux.rootfsPropagation` (None when unset), as a propagation type and whether it is
/// recursive.
fn root_propagation(spec: &Spec) -> Result<Option<(Propagation, bool)>, ChildError> {
    let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
        .filter(|p| !p.is_empty())
    else {
        return Ok(None);
    };
    let o = options::parse(std::slice::from_ref(&p));
    match o.propagation.as_slice() {
        [one] if o.data.is_empty() => Ok(Some(*one)),
        _ => Err(ChildError::Config {
            field: "linux.rootfsPropagation".into(),
            detail: format!(
                "\"{p}\" is not one of shared, slave, private, unbindable (or their r* forms)"
            ),
        }),
    }
}

fn set_propagation(path: &Path, p: Propagation, recursive: bool) -> Result<(), ChildError> {
    let err = |e| ChildError::setup("set propagation of", Some(&path.to_string_lossy()), e);
    let mnt = sysmount::open_mount(None, path).map_err(err)?;
    let a = MountAttr {
        propagation: Some(p),
        ..MountAttr::default()
    };
    sysmount::mount_setattr(&mnt, recursive, &a).map_err(err)
}

/// Before pivot_root: propagation, the rootfs bind, every mount, devices, then the read-only
/// attribute of mounts that had to stay writable until then, masked and read-only paths.
/// `idmapped` holds, per entry of `mounts`, the idmapped mount [`idmap::prepare`] made.
///
/// # Errors
/// A [`ChildError`] naming the mount entry, device, path or step.
pub fn prepare(r: &Rootfs<'_>, idmapped: &[Option<idmap::Idmapped>]) -> Result<(), ChildError> {
    // Keep host mount events from reaching the container and vice versa: every mount of this
    // namespace is made rslave first, whatever linux.rootfsPropagation says: a non-recursive
    // value on / alone would leave the mount holding the rootfs shared with the host, and the
    // rootfs bind below would propagate there (and pivot_root refuse it). Then the configured
    // value: private or slave now; shared and unbindable on the new / after the root switch
    // ([`finish`]), as shared propagation cannot stay on the mounts pivot_root works with and
    // an unbindable rootfs cannot be bound onto itself.
    set_propagation(Path::new("/"), Propagation::Slave, true)?;
    if let Some((p @ (Propagation::Private | Propagation::Slave), rec)) = root_propagation(r.spec)?
    {
        if (p, rec) != (Propagation::Slave, true) {
            set_propagation(Path::new("/"), p, rec)?;
        }
    }
    // pivot_root needs the new root to be a mount point whose parent mount is not shared: a
    // private recursive bind of the rootfs onto itself gives both.
    let rootfs_err = |step: &'static str| {
        let at = r.rootfs.to_string_lossy().into_owned();
        move |e: std::io::Error| ChildError::setup(step, Some(&at), e)
    };
    // husk's overlay annotation: the overlay is the rootfs mount, made here in the container's
    // mount (and user) namespace; otherwise the rootfs is bound onto itself.
    let overlay = overlay::from_spec(r.spec).map_err(|detail| ChildError::Config {
        field: format!("annotations.\"{}\"", overlay::ANNOTATION),
        detail,
    })?;
    let self_bind = match &overlay {
        Some(layers) => overlay::mount(layers, r.in_userns, &r.rootfs)?,
        None => sysmount::clone_tree(None, &r.rootfs, true, false)
            .map_err(rootfs_err("bind the rootfs onto itself"))?,
    };
    let spot = husk_sys::open_in_root(
        std::fs::File::open("/").map_err(|e| ChildError::setup("open /", None, e))?,
        &r.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    )
    .map_err(rootfs_err("open the rootfs"))?;
    sysmount::attach(&self_bind, &spot).map_err(rootfs_err(if overlay.is_some() {
        "attach the overlay at"
    } else {
        "bind the rootfs onto itself"
    }))?;
    sysmount::mount_setattr(
        &self_bind,
        false,
        &MountAttr {
            propagation: Some(Propagation::Private),
            ..MountAttr::default()
        },
    )
    .map_err(rootfs_err("make the rootfs mount private"))?;
    // The fd of the bind's root: every path below is resolved from here.
    let root = sysmount::open_mount(Some(std::os::fd::AsFd::as_fd(&self_bind)), Path::new(""))
        .map_err(rootfs_err("open the rootfs"))?;

    let mut made = mount::Made::default();
    let mut dev_is_bind = false;
    for (i, m) in r.spec.mounts().iter().flatten().enumerate() {
        let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
        if in_root(m.destination()) == Path::new("dev") && opts.bind.is_some() {
            dev_is_bind = true;
        }
        let pre = idmapped.get(i).and_then(Option::as_ref);
        mount::mount_one(r, &root, i, m, &opts, pre, &mut made)?;
    }
    if !dev_is_bind {
        devices::create(r, &root)?;
    }
    for d in &made.deferred {
        d.apply()?;
    }
    let linux = r.spec.linux().as_ref();
    for (i, p) in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        paths::mask(&root, i, p)?;
    }
    for (i, p) in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        paths::readonly(&root, i, p)?;
    }
    Ok(())
}

/// After the root switch: a shared or unbindable `linux.rootfsPropagation`, then
/// `root.readonly`.
///
/// # Errors
/// The failing step.
pub fn finish(r: &Rootfs<'_>) -> Result<(), ChildError> {
    if let Some((p @ (Propagation::Shared | Propagation::Unbindable), rec)) =
        root_propagation(r.spec)?
    {
        set_propagation(Path::new("/"), p, rec)?;
    }
    if r.spec
        .root()
        .as_ref()
        .and_then(|root| root.readonly())
        .unwrap_or(false)
    {
        let err = |e| ChildError::setup("make / read-only", Some("root.readonly"), e);
        let mnt = sysmount::open_mount(None, Path::new("/")).map_err(err)?;
        let ro = MountAttr {
            set: MountAttrFlags::MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        sysmount::mount_setattr(&mnt, false, &ro).map_err(err)?;
    }
    Ok(())
}

//! `linux.netDevices` (runtime-spec v1.3 config-linux.md, "Network Devices"): checking the
//! entries, moving host network interfaces into the container's network namespace over
//! rtnetlink (renamed, with their addresses, up), and moving them back when `create` fails.
//!
//! How a move goes, from the runtime (the parent), once the container's init exists:
//! 1. in the runtime's network namespace, read the interface (index, up or not) and its
//!    addresses: the kernel drops every address of an interface that changes namespace, and the
//!    spec says the permanent (IFA_F_PERMANENT) addresses of global scope (RT_SCOPE_UNIVERSE),
//!    of any family, MUST be kept (RFC 3549 section 2.3.3.2);
//! 2. check that the name it will have is free in the container's namespace (the spec: an error,
//!    unless the name is a `%d` template the kernel fills in);
//! 3. one RTM_SETLINK with IFLA_NET_NS_FD and IFLA_IFNAME moves and renames it (the kernel takes
//!    it down on the way), as runc 1.3's `devChangeNetNamespace` does;
//! 4. in the container's namespace, add the kept addresses again and bring it up (the spec:
//!    MUST be "up" after the move).
//!
//! Unlike runc, the interface is not taken down before the move: the kernel closes it as the
//! first step of the move anyway, and a move the kernel refuses (a namespace-local device such
//! as `lo` or a bridge) then leaves the host's interface exactly as it was.
//!
//! The runtime's sockets: one opened in the runtime's own network namespace, one opened by a
//! short-lived thread that joined the container's namespace with setns(2) (a netlink socket
//! stays in the namespace it was made in, and setns(CLONE_NEWNET) only moves the calling
//! thread). The netlink messages come from `netlink-packet-route` and go over a blocking
//! `netlink-sys` socket: a handful of request/acknowledge exchanges, for which the `rtnetlink`
//! crate would bring a tokio runtime into a process that forks.
//!
//! Namespace lifecycle: the spec says the runtime MUST NOT move an interface out before the
//! container is deleted; when the namespace goes, the kernel returns physical interfaces to the
//! initial namespace and destroys virtual ones (`man 7 network_namespaces`). A `create` that
//! fails is no container: there husk moves what it moved back, with the original name,
//! addresses and up state, so that a failed create leaves nothing changed.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::Socket;
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

use crate::namespaces::Plan;

/// The longest interface name the kernel accepts: IFNAMSIZ (16) less the terminating NUL.
pub const MAX_NAME_LEN: usize = 15;

/// Errors of `linux.netDevices`; each names the entry as `linux.netDevices."eth0"`.
#[derive(Debug, thiserror::Error)]
pub enum NetDevError {
    /// Devices are asked for but the container has no network namespace of its own.
    #[error(
        "{field}: moving a network device needs a network namespace of the container's own, and \
         linux.namespaces has no \"network\" entry (runc: \"unable to move network devices \
         without a private NET namespace\"): add {{\"type\": \"network\"}} to linux.namespaces, \
         or remove linux.netDevices"
    )]
    NoNetworkNamespace {
        /// The first entry, e.g. `linux.netDevices."eth0"`.
        field: String,
    },
    /// The network namespace joined by path is the runtime's own.
    #[error(
        "{field}: linux.namespaces joins the network namespace {path}, which is the runtime's \
         own: an interface cannot be moved into the namespace it is already in; give the \
         container a new network namespace ({{\"type\": \"network\"}}) or another one's path"
    )]
    HostNetworkNamespace {
        /// The entry.
        field: String,
        /// The `path` of the network namespace entry.
        path: PathBuf,
    },
    /// A host or container interface name the kernel would refuse.
    #[error(
        "{field}: {name:?} is not a valid network interface name: {problem} (the kernel's rule: \
         1 to 15 bytes, no '/', ':', NUL or whitespace, not \".\" or \"..\"; the name inside the \
         container may hold one %d, which the kernel replaces by a number)"
    )]
    Name {
        /// The entry, or its `.name`.
        field: String,
        /// The name as written.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Two entries would give the container two interfaces of the same name.
    #[error(
        "{field}: the container would have two interfaces named {name:?} (the other is \
         {other}): give each a distinct name"
    )]
    DuplicateName {
        /// The second entry.
        field: String,
        /// The name inside the container.
        name: String,
        /// The first entry of that name.
        other: String,
    },
    /// The host interface does not exist in the runtime's network namespace.
    #[error(
        "{field}: there is no network interface {name:?} in the runtime's network namespace \
         (see `ip link`): create it first, or fix the key of this entry"
    )]
    HostInterfaceMissing {
        /// The entry.
        field: String,
        /// The host interface name (the key).
        name: String,
    },
    /// The name the interface would get is taken in the container's network namespace.
    #[error(
        "{field}: the container's network namespace already has an interface named {name:?} \
         (runtime-spec: a name that exists there is an error, unless it is a template ending \
         in %d): choose another \"name\""
    )]
    NameTaken {
        /// The entry.
        field: String,
        /// The name inside the container.
        name: String,
    },
    /// An rtnetlink request failed.
    #[error("{field}: {step}: {source}")]
    Netlink {
        /// The entry.
        field: String,
        /// What was being done, e.g. "move eth0 into the container's network namespace as c0".
        step: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// A network namespace or netlink socket could not be opened.
    #[error("linux.netDevices: {what}: {source}")]
    Namespace {
        /// What was being done, with the path.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A netlink failure of the entry `field` while doing `step`, for `map_err`.
fn netlink_err(field: String, step: String) -> impl FnOnce(io::Error) -> NetDevError {
    move |source| NetDevError::Netlink {
        field,
        step,
        source,
    }
}

/// The JSON path of the entry for host interface `host_name`: `linux.netDevices."eth0"`.
pub fn field(host_name: &str) -> String {
    format!(
        "linux.netDevices.{}",
        serde_json::Value::String(host_name.to_owned())
    )
}

/// What is wrong with `name` as an interface name, after the kernel's `dev_valid_name()` and,
/// with `template`, `dev_alloc_name()`'s rule for a `%d` template (one `%d`, no other `%`).
/// `None` when the kernel would take it.
pub fn name_problem(name: &str, template: bool) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Some("it is longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return Some("\".\" and \"..\" are not interface names");
    }
    // isspace() in the kernel's C locale: space, \t, \n, \v, \f, \r.
    if name.chars().any(|c| {
        matches!(
            c,
            '/' | ':' | '\0' | ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'
        )
    }) {
        return Some("it holds '/', ':', NUL or whitespace");
    }
    if name.contains('%') {
        if !template {
            return Some(
                "'%' makes it a name template, which only the name inside the container may be",
            );
        }
        if name.matches('%').count() != 1 || !name.contains("%d") {
            return Some("a template holds exactly one %d and no other '%'");
        }
    }
    None
}

/// Whether `name` is a `%d` template the kernel completes.
fn is_template(name: &str) -> bool {
    name.contains("%d")
}

/// One checked `linux.netDevices` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDevice {
    /// The interface's name in the runtime's network namespace (the entry's key).
    pub host_name: String,
    /// Its name inside the container: `name`, or the host name when `name` is absent or empty;
    /// may be a `%d` template.
    pub name: String,
}

/// Check `linux.netDevices` before anything is made: a network namespace of the container's own
/// (new, or joined by a path that is not the runtime's own namespace), valid and distinct names,
/// and host interfaces that exist. Returns the entries sorted by host name.
///
/// # Errors
/// [`NetDevError`] naming the entry (`linux.netDevices."eth0"`).
pub fn check(spec: &Spec, plan: &Plan) -> Result<Vec<NetDevice>, NetDevError> {
    let Some(entries) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .filter(|d| !d.is_empty())
    else {
        return Ok(Vec::new());
    };
    let mut devices: Vec<NetDevice> = entries
        .iter()
        .map(|(host_name, device)| NetDevice {
            host_name: host_name.clone(),
            name: device
                .name()
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| host_name.clone()),
        })
        .collect();
    devices.sort_by(|a, b| a.host_name.cmp(&b.host_name));
    let first = field(&devices[0].host_name);

    let joined = plan
        .join
        .iter()
        .find(|j| j.ns == LinuxNamespaceType::Network);
    match joined {
        Some(join) => {
            let own = own_netns()?;
            if same_file(join.fd.as_fd(), own.as_fd()) {
                return Err(NetDevError::HostNetworkNamespace {
                    field: first,
                    path: join.path.clone(),
                });
            }
        }
        None if plan.is_new(LinuxNamespaceType::Network) => {}
        None => return Err(NetDevError::NoNetworkNamespace { field: first }),
    }

    let mut names: Vec<(&str, String)> = Vec::new();
    for d in &devices {
        let f = field(&d.host_name);
        if let Some(problem) = name_problem(&d.host_name, false) {
            return Err(NetDevError::Name {
                field: f,
                name: d.host_name.clone(),
                problem,
            });
        }
        if let Some(problem) = name_problem(&d.name, true) {
            return Err(NetDevError::Name {
                field: format!("{f}.name"),
                name: d.name.clone(),
                problem,
            });
        }
        if !is_template(&d.name) {
            if let Some((_, other)) = names.iter().find(|(n, _)| *n == d.name) {
                return Err(NetDevError::DuplicateName {
                    field: f,
                    name: d.name.clone(),
                    other: other.clone(),
                });
            }
            names.push((&d.name, f));
        }
    }

    let mut host = Rtnl::open().map_err(|source| NetDevError::Namespace {
        what: "open an rtnetlink socket in the runtime's network namespace".into(),
        source,
    })?;
    for d in &devices {
        let f = field(&d.host_name);
        let link = host
            .link_by_name(&d.host_name)
            .map_err(|source| NetDevError::Netlink {
                field: f.clone(),
                step: format!("look up {:?}", d.host_name),
                source,
            })?;
        if link.is_none() {
            return Err(NetDevError::HostInterfaceMissing {
                field: f,
                name: d.host_name.clone(),
            });
        }
    }
    Ok(devices)
}

/// An address kept across the move (an IFA_F_PERMANENT address of global scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAddress {
    /// IFA_ADDRESS: the address (the peer's, on a point-to-point link with a `local`).
    pub address: IpAddr,
    /// IFA_LOCAL, when the kernel reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<IpAddr>,
    /// The prefix length.
    pub prefix_len: u8,
    /// IFA_BROADCAST (IPv4), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Ipv4Addr>,
}

impl std::fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.local.unwrap_or(self.address),
            self.prefix_len
        )
    }
}

/// An interface husk moved into the container (recorded in state.json before the move).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedDevice {
    /// Its name in the runtime's network namespace.
    pub host_name: String,
    /// Its name in the container's (the kernel's pick once a `%d` template is resolved).
    pub name: String,
    /// Whether it was up on the host.
    pub was_up: bool,
    /// The addresses carried over.
    pub addresses: Vec<DeviceAddress>,
}

/// A network namespace's identity: the device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsId {
    /// st_dev.
    pub dev: u64,
    /// st_ino.
    pub ino: u64,
}

/// What state.json keeps of the moved interfaces: where they came from and what they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedDevices {
    /// The runtime's network namespace, the one the interfaces came from.
    pub host_netns: NetnsId,
    /// The interfaces, in the order they were moved.
    pub devices: Vec<MovedDevice>,
}

/// The runtime's and the container's network namespaces, each with an rtnetlink socket.
/// Holding the container's namespace fd keeps the namespace (and the interfaces in it) alive
/// even after the container's processes are gone, so a failed create can still move them back.
#[derive(Debug)]
pub struct NetDeviceMover {
    host: Rtnl,
    container: Rtnl,
    host_netns: OwnedFd,
    container_netns: OwnedFd,
}

fn ns_err(what: String) -> impl FnOnce(io::Error) -> NetDevError {
    move |source| NetDevError::Namespace { what, source }
}

/// The calling thread's network namespace.
fn own_netns() -> Result<OwnedFd, NetDevError> {
    File::open("/proc/thread-self/ns/net")
        .map(OwnedFd::from)
        .map_err(ns_err("open /proc/thread-self/ns/net".into()))
}

fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    match (netns_id(a), netns_id(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn netns_id(fd: BorrowedFd<'_>) -> io::Result<NetnsId> {
    let md = File::from(fd.try_clone_to_owned()?).metadata()?;
    Ok(NetnsId {
        dev: md.dev(),
        ino: md.ino(),
    })
}

impl NetDeviceMover {
    /// Open the calling thread's network namespace (the host side) and that of process `pid`
    /// (the container's init), and an rtnetlink socket in each.
    ///
    /// # Errors
    /// [`NetDevError::Namespace`] naming the file or step.
    pub fn open(pid: i32) -> Result<NetDeviceMover, NetDevError> {
        let host_netns = own_netns()?;
        let path = format!("/proc/{pid}/ns/net");
        let container_netns: OwnedFd = File::open(&path)
            .map(OwnedFd::from)
            .map_err(ns_err(format!("open {path}")))?;
        let host = Rtnl::open().map_err(ns_err(
            "open an rtnetlink socket in the runtime's network namespace".into(),
        ))?;
        let container = Rtnl::open_in(container_netns.as_fd()).map_err(ns_err(format!(
            "open an rtnetlink socket in the network namespace {path}"
        )))?;
        Ok(NetDeviceMover {
            host,
            container,
            host_netns,
            container_netns,
        })
    }

    /// The identity of the host-side namespace, recorded in state.json.
    ///
    /// # Errors
    /// [`NetDevError::Namespace`] when it cannot be stat'ed.
    pub fn host_netns_id(&self) -> Result<NetnsId, NetDevError> {
        netns_id(self.host_netns.as_fd())
            .map_err(ns_err("stat the runtime's network namespace".into()))
    }

    /// Step 1 and 2 of the move: read `device` on the host (up or not, addresses to keep) and
    /// check its name is free in the container. Changes nothing.
    ///
    /// # Errors
    /// [`NetDevError::HostInterfaceMissing`], [`NetDevError::NameTaken`], Netlink.
    pub fn prepare(&mut self, device: &NetDevice) -> Result<MovedDevice, NetDevError> {
        let f = field(&device.host_name);
        let nl = |step: String| netlink_err(f.clone(), step);
        let link = self
            .host
            .link_by_name(&device.host_name)
            .map_err(nl(format!("look up {:?}", device.host_name)))?
            .ok_or_else(|| NetDevError::HostInterfaceMissing {
                field: f.clone(),
                name: device.host_name.clone(),
            })?;
        let addresses = self
            .host
            .addresses(link.header.index)
            .map_err(nl(format!("list the addresses of {:?}", device.host_name)))?
            .iter()
            .filter_map(kept_address)
            .collect();
        if !is_template(&device.name) {
            let taken = self.container.link_by_name(&device.name).map_err(nl(
                "look up the name in the container's network namespace".into(),
            ))?;
            if taken.is_some() {
                return Err(NetDevError::NameTaken {
                    field: f,
                    name: device.name.clone(),
                });
            }
        }
        Ok(MovedDevice {
            host_name: device.host_name.clone(),
            name: device.name.clone(),
            was_up: link.header.flags.contains(LinkFlags::Up),
            addresses,
        })
    }

    /// Steps 3 and 4: move `moved` (from [`NetDeviceMover::prepare`]) into the container's
    /// namespace under its name, add its addresses there and bring it up. `moved.name` is
    /// updated to the kernel's name when it was a `%d` template.
    ///
    /// # Errors
    /// [`NetDevError::Netlink`] naming the step; the caller moves back what moved
    /// ([`NetDeviceMover::move_back`]).
    pub fn move_in(&mut self, moved: &mut MovedDevice) -> Result<(), NetDevError> {
        let f = field(&moved.host_name);
        let nl = |step: String| netlink_err(f.clone(), step);
        let host_name = moved.host_name.clone();
        let link = self
            .host
            .link_by_name(&host_name)
            .map_err(nl(format!("look up {host_name:?}")))?
            .ok_or_else(|| NetDevError::HostInterfaceMissing {
                field: f.clone(),
                name: host_name.clone(),
            })?;
        let before = if is_template(&moved.name) {
            self.container
                .links()
                .map_err(nl("list the container's interfaces".into()))?
        } else {
            BTreeSet::new()
        };
        self.host
            .move_to(link.header.index, self.container_netns.as_fd(), &moved.name)
            .map_err(nl(format!(
                "move {host_name:?} into the container's network namespace as {:?}",
                moved.name
            )))?;
        // Where it is now: by name, or (for a template) the one interface that is new there.
        let index = if is_template(&moved.name) {
            let after = self
                .container
                .links()
                .map_err(nl("list the container's interfaces".into()))?;
            let mut new = after.difference(&before);
            match (new.next(), new.next()) {
                (Some((index, name)), None) => {
                    moved.name = name.clone();
                    *index
                }
                _ => {
                    return Err(NetDevError::Netlink {
                        field: f,
                        step: format!("find {host_name:?} after its move"),
                        source: io::Error::from_raw_os_error(libc::ENODEV),
                    })
                }
            }
        } else {
            self.container
                .link_by_name(&moved.name)
                .map_err(nl(format!("look up {:?} after the move", moved.name)))?
                .ok_or_else(|| NetDevError::Netlink {
                    field: f.clone(),
                    step: format!("find {:?} after the move", moved.name),
                    source: io::Error::from_raw_os_error(libc::ENODEV),
                })?
                .header
                .index
        };
        for address in &moved.addresses {
            self.container
                .add_address(index, address)
                .map_err(nl(format!("add the address {address} to {:?}", moved.name)))?;
        }
        self.container
            .set_up(index, true)
            .map_err(nl(format!("bring {:?} up", moved.name)))?;
        Ok(())
    }

    /// Move `moved` back to the host's namespace under its host name, add its addresses again
    /// and restore its up state. An interface that is not in the container's namespace (its
    /// move never happened) is left alone.
    ///
    /// # Errors
    /// [`NetDevError::Netlink`] naming the step (e.g. the host name was taken meanwhile).
    pub fn move_back(&mut self, moved: &MovedDevice) -> Result<(), NetDevError> {
        let f = field(&moved.host_name);
        let nl = |step: String| netlink_err(f.clone(), step);
        let Some(link) = self
            .container
            .link_by_name(&moved.name)
            .map_err(nl(format!("look up {:?} in the container", moved.name)))?
        else {
            return Ok(());
        };
        self.container
            .move_to(link.header.index, self.host_netns.as_fd(), &moved.host_name)
            .map_err(nl(format!(
                "move {:?} back to the runtime's network namespace as {:?}",
                moved.name, moved.host_name
            )))?;
        let index = self
            .host
            .link_by_name(&moved.host_name)
            .map_err(nl(format!(
                "look up {:?} after moving it back",
                moved.host_name
            )))?
            .ok_or_else(|| NetDevError::HostInterfaceMissing {
                field: f.clone(),
                name: moved.host_name.clone(),
            })?
            .header
            .index;
        for address in &moved.addresses {
            self.host.add_address(index, address).map_err(nl(format!(
                "add the address {address} back to {:?}",
                moved.host_name
            )))?;
        }
        if moved.was_up {
            self.host
                .set_up(index, true)
                .map_err(nl(format!("bring {:?} up again", moved.host_name)))?;
        }
        Ok(())
    }
}

/// The address of `msg` to carry over, if it is one the spec says to keep: permanent and of
/// global scope.
fn kept_address(msg: &AddressMessage) -> Option<DeviceAddress> {
    if msg.header.scope != AddressScope::Universe {
        return None;
    }
    // IFA_FLAGS (32 bits) supersedes the header's 8-bit flags when present.
    let permanent = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Flags(f) => Some(f.contains(AddressFlags::Permanent)),
            _ => None,
        })
        .unwrap_or_else(|| {
            msg.header
                .flags
                .contains(netlink_packet_route::address::AddressHeaderFlags::Permanent)
        });
    if !permanent {
        return None;
    }
    let mut address = None;
    let mut local = None;
    let mut broadcast = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Broadcast(ip) => broadcast = Some(*ip),
            _ => {}
        }
    }
    Some(DeviceAddress {
        address: address.or(local)?,
        local,
        prefix_len: msg.header.prefix_len,
        broadcast,
    })
}

/// A blocking rtnetlink socket (`man 7 rtnetlink`) with the few requests husk makes.
#[derive(Debug)]
struct Rtnl {
    socket: Socket,
    seq: u32,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    fn open() -> io::Result<Rtnl> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        Ok(Rtnl { socket, seq: 0 })
    }

    /// A socket in the network namespace `netns`: made by a thread that joins it first, since
    /// setns(CLONE_NEWNET) moves only the calling thread and a socket keeps the namespace it
    /// was made in. The thread ends right after; the runtime's own threads never change
    /// namespace.
    fn open_in(netns: BorrowedFd<'_>) -> io::Result<Rtnl> {
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(netns, CloneFlags::CLONE_NEWNET)?;
                Rtnl::open()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(io::Error::other(
                    "the thread that joins the namespace panicked",
                ))
            })
        })
    }

    /// Send `msg` and collect the answers: until NLMSG_DONE for a dump, until the
    /// acknowledgement otherwise. A negative acknowledgement is the kernel's errno.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut answers = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full()?;
            let mut offset = 0;
            while offset < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    break;
                }
                // NLMSG_ALIGN: messages start on 4-byte boundaries.
                offset += (len + 3) & !3;
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(_) => Err(e.to_io()),
                        }
                    }
                    NetlinkPayload::Overrun(_) => {
                        return Err(io::Error::other("netlink overrun"));
                    }
                    _ => {}
                }
            }
        }
    }

    /// RTM_GETLINK by name; `None` when there is no such interface (ENODEV).
    fn link_by_name(&mut self, name: &str) -> io::Result<Option<LinkMessage>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(msg), NLM_F_ACK) {
            Ok(answers) => Ok(answers.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every interface of the namespace, as (index, name).
    fn links(&mut self) -> io::Result<BTreeSet<(u32, String)>> {
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => {
                    let name = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some(n.clone()),
                        _ => None,
                    })?;
                    Some((l.header.index, name))
                }
                _ => None,
            })
            .collect())
    }

    /// The addresses (every family) of interface `index`.
    fn addresses(&mut self, index: u32) -> io::Result<Vec<AddressMessage>> {
        let answers = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => Some(a),
                _ => None,
            })
            .collect())
    }

    /// RTM_SETLINK: set or clear IFF_UP of interface `index`.
    fn set_up(&mut self, index: u32, up: bool) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = if up {
            LinkFlags::Up
        } else {
            LinkFlags::empty()
        };
        msg.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK)
            .map(drop)
    }

    /// RTM_SETLINK with IFLA_NET_NS_FD and IFLA_IFNAME: move interface `index` into `netns` and
    /// name it `name` there, in one request (the kernel renames it after the move, so the name
    /// only has to be free in the target namespace).
    fn move_to(&mut self, index: u32, netns: BorrowedFd<'_>, name: &str) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK)
            .map(drop)
    }

    /// RTM_NEWADDR of `address` on interface `index`, global scope.
    fn add_address(&mut self, index: u32, address: &DeviceAddress) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = match address.address {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        msg.header.prefix_len = address.prefix_len;
        msg.header.scope = AddressScope::Universe;
        msg.header.index = index;
        if let Some(local) = address.local {
            msg.attributes.push(AddressAttribute::Local(local));
        }
        msg.attributes
            .push(AddressAttribute::Address(address.address));
        if let Some(b) = address.broadcast {
            msg.attributes.push(AddressAttribute::Broadcast(b));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kernels_rules() {
        for good in ["eth0", "c0", "a-b_c.d", "123456789012345", "ctr@x"] {
            assert_eq!(name_problem(good, false), None, "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "a\0b",
            "1234567890123456",
        ] {
            assert!(name_problem(bad, true).is_some(), "{bad:?} accepted");
        }
        assert_eq!(name_problem("eth%d", true), None);
        assert_eq!(name_problem("c%dx", true), None);
        assert!(
            name_problem("eth%d", false).is_some(),
            "a host name is no template"
        );
        assert!(name_problem("e%d%d", true).is_some());
        assert!(name_problem("e%s", true).is_some());
        assert!(name_problem("e%", true).is_some());
    }

    #[test]
    fn fields_quote_the_host_name() {
        assert_eq!(field("eth0"), "linux.netDevices.\"eth0\"");
        assert_eq!(field("a\"b"), "linux.netDevices.\"a\\\"b\"");
    }

    fn address_message(scope: AddressScope, flags: AddressFlags) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.scope = scope;
        m.header.prefix_len = 24;
        m.attributes
            .push(AddressAttribute::Address("10.1.2.3".parse().unwrap()));
        m.attributes
            .push(AddressAttribute::Local("10.1.2.3".parse().unwrap()));
        m.attributes
            .push(AddressAttribute::Broadcast("10.1.2.255".parse().unwrap()));
        m.attributes.push(AddressAttribute::Flags(flags));
        m
    }

    #[test]
    fn only_permanent_global_addresses_are_kept() {
        let kept = kept_address(&address_message(
            AddressScope::Universe,
            AddressFlags::Permanent,
        ))
        .unwrap();
        assert_eq!(kept.to_string(), "10.1.2.3/24");
        assert_eq!(kept.broadcast, Some("10.1.2.255".parse().unwrap()));
        assert!(kept_address(&address_message(
            AddressScope::Link,
            AddressFlags::Permanent
        ))
        .is_none());
        assert!(kept_address(&address_message(
            AddressScope::Universe,
            AddressFlags::empty()
        ))
        .is_none());
    }

    #[test]
    fn the_loopback_of_this_namespace_is_found_by_name() {
        let mut rtnl = Rtnl::open().unwrap();
        let lo = rtnl.link_by_name("lo").unwrap().unwrap();
        assert_eq!(lo.header.index, 1);
        assert!(rtnl.link_by_name("husk-no-such").unwrap().is_none());
        assert!(rtnl.links().unwrap().contains(&(1, "lo".to_string())));
    }
}

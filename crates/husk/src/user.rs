//! `-u/--user USER[:GROUP]`: the container process's uid and gid.
//!
//! USER and GROUP are numbers or names; names are looked up in the container's own /etc/passwd
//! and /etc/group (`man 5 passwd`, `man 5 group`), never the host's. Without GROUP the gid is
//! the user's primary group from /etc/passwd, or 0 when the uid has no entry (Docker's rule).

use std::path::Path;

/// Errors of `-u`.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Empty USER or GROUP, or more than one `:`.
    #[error("-u `{0}`: expected UID[:GID] or NAME[:GROUP]")]
    Syntax(String),
    /// A name that the container's /etc/passwd or /etc/group does not have.
    #[error("-u `{spec}`: no {what} `{name}` in the container's /etc/{file}; give a number")]
    UnknownName {
        /// The whole -u value.
        spec: String,
        /// "user" or "group".
        what: &'static str,
        /// The name.
        name: String,
        /// "passwd" or "group".
        file: &'static str,
    },
}

/// A user or group as given: a number or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    /// A numeric id.
    Id(u32),
    /// A name to look up.
    Name(String),
}

impl IdOrName {
    fn parse(s: &str) -> Self {
        s.parse()
            .map_or_else(|_| Self::Name(s.to_owned()), Self::Id)
    }
}

/// A parsed `-u`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// USER.
    pub user: IdOrName,
    /// GROUP, if given.
    pub group: Option<IdOrName>,
}

/// Parses USER[:GROUP].
///
/// Errors: [`UserError::Syntax`].
pub fn parse(spec: &str) -> Result<UserSpec, UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(|g| g.is_empty() || g.contains(':')) {
        return Err(UserError::Syntax(spec.to_owned()));
    }
    Ok(UserSpec {
        user: IdOrName::parse(user),
        group: group.map(IdOrName::parse),
    })
}

/// Reads `<rootfs>/etc/<file>` if it is a regular file; a symlink is not followed, since an
/// absolute one would read the host's file instead of the container's.
fn read_etc(rootfs: &Path, file: &str) -> String {
    let path = rootfs.join("etc").join(file);
    match path.symlink_metadata() {
        Ok(m) if m.is_file() => std::fs::read_to_string(&path).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The (uid, gid) of `spec` in the root filesystem at `rootfs`.
///
/// Errors: [`UserError::UnknownName`].
pub fn resolve(spec_text: &str, spec: &UserSpec, rootfs: &Path) -> Result<(u32, u32), UserError> {
    let passwd = read_etc(rootfs, "passwd");
    // passwd lines: name:password:uid:gid:gecos:home:shell
    let entries: Vec<(&str, u32, u32)> = passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((
                *f.first()?,
                f.get(2)?.parse().ok()?,
                f.get(3)?.parse().ok()?,
            ))
        })
        .collect();
    let (uid, primary_gid) = match &spec.user {
        IdOrName::Id(uid) => (
            *uid,
            entries.iter().find(|e| e.1 == *uid).map_or(0, |e| e.2),
        ),
        IdOrName::Name(name) => entries
            .iter()
            .find(|e| e.0 == name)
            .map(|e| (e.1, e.2))
            .ok_or_else(|| UserError::UnknownName {
                spec: spec_text.to_owned(),
                what: "user",
                name: name.clone(),
                file: "passwd",
            })?,
    };
    let gid = match &spec.group {
        None => primary_gid,
        Some(IdOrName::Id(gid)) => *gid,
        Some(IdOrName::Name(name)) => read_etc(rootfs, "group")
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&name.as_str())).then(|| f.get(2)?.parse().ok())?
            })
            .ok_or_else(|| UserError::UnknownName {
                spec: spec_text.to_owned(),
                what: "group",
                name: name.clone(),
                file: "group",
            })?,
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001::/home/alice:/bin/sh\nbad line\n",
        )
        .unwrap();
        std::fs::write(t.path().join("etc/group"), "root:x:0:\nstaff:x:50:alice\n").unwrap();
        t
    }

    fn ids(s: &str, root: &Path) -> Result<(u32, u32), UserError> {
        resolve(s, &parse(s)?, root)
    }

    #[test]
    fn numeric_and_named() {
        let r = rootfs();
        assert_eq!(ids("1000", r.path()).unwrap(), (1000, 1001)); // primary group from passwd
        assert_eq!(ids("4242", r.path()).unwrap(), (4242, 0)); // no entry: gid 0
        assert_eq!(ids("1000:7", r.path()).unwrap(), (1000, 7));
        assert_eq!(ids("alice", r.path()).unwrap(), (1000, 1001));
        assert_eq!(ids("alice:staff", r.path()).unwrap(), (1000, 50));
        assert_eq!(ids("0:staff", r.path()).unwrap(), (0, 50));
    }

    #[test]
    fn errors() {
        let r = rootfs();
        assert!(matches!(ids("", r.path()), Err(UserError::Syntax(_))));
        assert!(matches!(ids("1:", r.path()), Err(UserError::Syntax(_))));
        assert!(matches!(ids("1:2:3", r.path()), Err(UserError::Syntax(_))));
        let err = ids("bob", r.path()).unwrap_err();
        assert!(matches!(&err, UserError::UnknownName { what: "user", name, .. } if name == "bob"));
        assert!(err.to_string().contains("/etc/passwd"));
        assert!(matches!(
            ids("alice:wheel", r.path()),
            Err(UserError::UnknownName { what: "group", .. })
        ));
    }

    #[test]
    fn a_symlinked_passwd_is_not_followed() {
        let r = tempfile::tempdir().unwrap();
        std::fs::create_dir(r.path().join("etc")).unwrap();
        // Points at the host's own file: must not be read.
        std::os::unix::fs::symlink("/etc/passwd", r.path().join("etc/passwd")).unwrap();
        assert!(matches!(
            ids("root", r.path()),
            Err(UserError::UnknownName { .. })
        ));
    }
}

//! The container process's environment (`process.env`): husk's defaults, then `-e` in order.

/// The default PATH (Docker's and runc's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Errors of `-e`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    /// `-e =V`, `-e ""` or a name with a NUL byte.
    #[error("-e `{0}`: expected NAME=VALUE or NAME (a non-empty name without `=` or NUL)")]
    BadName(String),
}

/// Builds `process.env`: `PATH`, `HOSTNAME`, `TERM=xterm` when `tty`, then each `-e` in order
/// (`K=V` sets K; `K` alone takes K from `lookup`, husk's own environment, and is left out when
/// unset there, as Docker does). A later value of a name replaces an earlier one in place.
///
/// Errors: [`EnvError::BadName`].
pub fn container_env(
    options: &[String],
    hostname: &str,
    tty: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, EnvError> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOSTNAME".into(), hostname.into()),
    ];
    if tty {
        env.push(("TERM".into(), "xterm".into()));
    }
    for opt in options {
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (opt.as_str(), None),
        };
        if name.is_empty()
            || name.contains('\0')
            || value.as_deref().is_some_and(|v| v.contains('\0'))
        {
            return Err(EnvError::BadName(opt.clone()));
        }
        let Some(value) = value.or_else(|| lookup(name)) else {
            continue;
        };
        match env.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => env.push((name.to_owned(), value)),
        }
    }
    Ok(env.into_iter().map(|(n, v)| format!("{n}={v}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(name: &str) -> Option<String> {
        (name == "FROM_CALLER").then(|| "yes".to_owned())
    }

    #[test]
    fn defaults() {
        assert_eq!(
            container_env(&[], "box", false, caller).unwrap(),
            vec![format!("PATH={DEFAULT_PATH}"), "HOSTNAME=box".into()]
        );
        assert_eq!(
            container_env(&[], "box", true, caller).unwrap()[2],
            "TERM=xterm"
        );
    }

    #[test]
    fn options_override_and_pass_through() {
        let opts: Vec<String> = [
            "A=1",
            "PATH=/bin",
            "FROM_CALLER",
            "UNSET",
            "A=2",
            "E=",
            "X=a=b",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            container_env(&opts, "box", false, caller).unwrap(),
            vec![
                "PATH=/bin",
                "HOSTNAME=box",
                "A=2",
                "FROM_CALLER=yes",
                "E=",
                "X=a=b"
            ]
        );
    }

    #[test]
    fn bad_names() {
        for bad in ["=v", "", "A\0B=1"] {
            assert_eq!(
                container_env(&[bad.to_owned()], "h", false, caller),
                Err(EnvError::BadName(bad.to_owned()))
            );
        }
    }
}

//! Container names: validation of `--name` and generation of a default one.
//!
//! The name is also the runtime's container id and a directory name under the data root and the
//! state root, and the default hostname, so it must be safe as all four: letters, digits and
//! `_ . + -`, starting with a letter or digit (so never `.`, `..` or an option-like `-x`), at most
//! 64 bytes (HOST_NAME_MAX, `man 2 sethostname`).

use std::io::Read;

/// The longest name accepted: HOST_NAME_MAX, since the name is the default hostname.
pub const MAX_NAME_LEN: usize = 64;

/// Why a container name was refused.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("--name: the container name is empty; give letters, digits and `_ . + -`")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("--name `{name}`: {len} bytes is too long (at most {MAX_NAME_LEN})")]
    TooLong {
        /// The name given.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The first character is not a letter or digit.
    #[error("--name `{0}`: must start with a letter or a digit")]
    BadStart(String),
    /// A character outside the allowed set.
    #[error("--name `{name}`: character {ch:?} is not allowed; use letters, digits and `_ . + -`")]
    BadChar {
        /// The name given.
        name: String,
        /// The first offending character.
        ch: char,
    },
    /// The random source for a generated name could not be read.
    #[error("reading /dev/urandom for a container name: {0}; give one with --name")]
    Random(#[source] std::io::Error),
}

/// Checks `name` against the rules in the module doc and returns it unchanged.
///
/// Errors: [`NameError`] naming the rule broken.
pub fn validate(name: &str) -> Result<&str, NameError> {
    let first = name.chars().next().ok_or(NameError::Empty)?;
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    if !first.is_ascii_alphanumeric() {
        return Err(NameError::BadStart(name.to_owned()));
    }
    if let Some(ch) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')))
    {
        return Err(NameError::BadChar {
            name: name.to_owned(),
            ch,
        });
    }
    Ok(name)
}

/// A generated name, `husk-` and 8 random hex digits (from /dev/urandom, `man 4 random`).
///
/// Errors: [`NameError::Random`] when /dev/urandom cannot be read.
pub fn generate() -> Result<String, NameError> {
    Ok(format!(
        "husk-{}",
        random_hex(4).map_err(NameError::Random)?
    ))
}

/// `bytes` random bytes from /dev/urandom as lowercase hex (2 × `bytes` digits).
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_docker_like_names() {
        for ok in ["web", "a", "my_app.v1+2-x", "0abc", "A-Z"] {
            assert_eq!(validate(ok).unwrap(), ok);
        }
        let long = "a".repeat(MAX_NAME_LEN);
        assert_eq!(validate(&long).unwrap(), long);
    }

    #[test]
    fn refuses_unsafe_names() {
        assert!(matches!(validate(""), Err(NameError::Empty)));
        assert!(matches!(validate(".."), Err(NameError::BadStart(n)) if n == ".."));
        assert!(matches!(validate("-rf"), Err(NameError::BadStart(n)) if n == "-rf"));
        assert!(matches!(
            validate("a/b"),
            Err(NameError::BadChar { ch: '/', .. })
        ));
        assert!(matches!(
            validate("a b"),
            Err(NameError::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(
            validate("aé"),
            Err(NameError::BadChar { ch: 'é', .. })
        ));
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(
            validate(&long),
            Err(NameError::TooLong { len: 65, .. })
        ));
        let msg = validate("a:b").unwrap_err().to_string();
        assert!(msg.contains("--name `a:b`") && msg.contains("':'"), "{msg}");
    }

    #[test]
    fn generated_names_are_valid_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(a.starts_with("husk-") && a.len() == 13, "{a}");
        assert_eq!(validate(&a).unwrap(), a);
        assert_ne!(a, b);
    }
}

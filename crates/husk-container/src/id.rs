//! Container id rules: which strings `husk-runtime create ID` accepts as an id.
//!
//! The id becomes the name of the state directory `<root>/<id>` (and part of the default cgroup
//! path), so it must be exactly one safe path component. The rules follow runc's
//! (`libcontainer`: the id matches `^[\w+-.]+$` and cleaning `/<id>` must give `/<id>` back),
//! with two deliberate differences:
//! - runc's character class `+-\.` is a *range* from `+` to `.`, which lets a comma through by
//!   accident; husk accepts exactly letters, digits, `_`, `+`, `-` and `.`.
//! - runc has no length limit; husk refuses ids longer than [`MAX_ID_LEN`] bytes (NAME_MAX,
//!   `man 3 readdir` / `<linux/limits.h>`), because a longer name cannot be a directory entry
//!   and `mkdir <root>/<id>` would fail later with a less helpful ENAMETOOLONG.

use thiserror::Error;

/// The longest id accepted, in bytes: NAME_MAX (255), the longest file name a Linux filesystem
/// stores, so that `<root>/<id>` is always a valid path component. (Ids from containerd, Podman
/// and Kubernetes are 64 hex characters.)
pub const MAX_ID_LEN: usize = 255;

/// Why a container id was refused. Every message names the id and the rule it broke.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdError {
    /// The id is the empty string.
    #[error("container id is empty: give a non-empty id (letters, digits, `_`, `+`, `-`, `.`)")]
    Empty,
    /// The id is `.` or `..`, which name a directory other than its own under --root.
    #[error("container id {id:?} is not allowed: `.` and `..` name other directories; choose another id")]
    Dot {
        /// The refused id.
        id: String,
    },
    /// The id contains `/`, which would make it more than one path component.
    #[error("container id {id:?} contains `/`: an id must be a single path component")]
    Slash {
        /// The refused id.
        id: String,
    },
    /// The id contains a character outside `[A-Za-z0-9_+.-]`.
    #[error(
        "container id {id:?} contains {character:?} at byte {offset}: only ASCII letters, \
         digits, `_`, `+`, `-` and `.` are allowed"
    )]
    Character {
        /// The refused id.
        id: String,
        /// The first character that is not allowed.
        character: char,
        /// Its byte offset in the id.
        offset: usize,
    },
    /// The id is longer than [`MAX_ID_LEN`] bytes.
    #[error(
        "container id {id:?} is {len} bytes long: at most {max} bytes are allowed (NAME_MAX, \
         so that <root>/<id> is a valid directory name)",
        max = MAX_ID_LEN
    )]
    TooLong {
        /// The refused id.
        id: String,
        /// Its length in bytes.
        len: usize,
    },
}

/// Check that `id` is an acceptable container id: not empty, not `.` or `..`, no `/`, only ASCII
/// letters, digits, `_`, `+`, `-` and `.`, and at most [`MAX_ID_LEN`] bytes.
///
/// Source: runc's `libcontainer` id check (see the module doc for the differences); the
/// runtime-spec itself only says the id MUST be unique across containers on this host
/// (runtime.md, "State").
///
/// # Errors
/// An [`IdError`] naming the id and the first rule it breaks, checked in the order above.
pub fn validate(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id == "." || id == ".." {
        return Err(IdError::Dot { id: id.to_owned() });
    }
    if id.contains('/') {
        return Err(IdError::Slash { id: id.to_owned() });
    }
    if let Some((offset, character)) = id
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        return Err(IdError::Character {
            id: id.to_owned(),
            character,
            offset,
        });
    }
    // After the charset check every character is one byte, so len() is the byte length.
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            id: id.to_owned(),
            len: id.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_ids() {
        for id in [
            "a",
            "mycontainer",
            "web-1",
            "web_1.2",
            "c+d",
            "...",
            ".hidden",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(validate(id), Ok(()), "id {id:?}");
        }
    }

    #[test]
    fn refuses_empty() {
        assert_eq!(validate(""), Err(IdError::Empty));
        assert!(IdError::Empty.to_string().contains("empty"));
    }

    #[test]
    fn refuses_dot_and_dotdot() {
        for id in [".", ".."] {
            let err = validate(id).unwrap_err();
            assert_eq!(err, IdError::Dot { id: id.to_owned() });
            assert!(err.to_string().contains(&format!("{id:?}")));
        }
    }

    #[test]
    fn refuses_slash() {
        for id in ["a/b", "/abs", "../escape", "x/"] {
            let err = validate(id).unwrap_err();
            assert_eq!(err, IdError::Slash { id: id.to_owned() }, "id {id:?}");
            assert!(err.to_string().contains('/'));
        }
    }

    #[test]
    fn refuses_other_characters_naming_the_first() {
        assert_eq!(
            validate("a,b"),
            Err(IdError::Character {
                id: "a,b".into(),
                character: ',',
                offset: 1
            })
        );
        assert_eq!(
            validate("ab c"),
            Err(IdError::Character {
                id: "ab c".into(),
                character: ' ',
                offset: 2
            })
        );
        assert_eq!(
            validate("é"),
            Err(IdError::Character {
                id: "é".into(),
                character: 'é',
                offset: 0
            })
        );
        for id in ["a\0b", "a\nb", "a:b", "a*b", "a\\b"] {
            assert!(
                matches!(validate(id), Err(IdError::Character { .. })),
                "id {id:?}"
            );
        }
        let msg = validate("a,b").unwrap_err().to_string();
        assert!(msg.contains("\"a,b\"") && msg.contains("','"), "{msg}");
    }

    #[test]
    fn length_bound_is_name_max() {
        let longest = "a".repeat(MAX_ID_LEN);
        assert_eq!(validate(&longest), Ok(()));
        let too_long = "a".repeat(MAX_ID_LEN + 1);
        let err = validate(&too_long).unwrap_err();
        assert_eq!(
            err,
            IdError::TooLong {
                id: too_long.clone(),
                len: 256
            }
        );
        assert!(err.to_string().contains("256 bytes"));
    }
}

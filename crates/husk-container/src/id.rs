//! STUB (replaced by the spec helper's module at merge).
#![allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum IdError {
    #[error("invalid container id {0:?}")]
    Invalid(String),
}
pub fn validate(id: &str) -> Result<(), IdError> {
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(IdError::Invalid(id.into()));
    }
    Ok(())
}

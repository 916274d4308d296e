//! STUB (replaced by the spec helper's module at merge).
#![allow(missing_docs)]
use std::path::{Path, PathBuf};
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapabilitySets {
    pub bounding: Option<Vec<String>>,
    pub effective: Option<Vec<String>>,
    pub inheritable: Option<Vec<String>>,
    pub permitted: Option<Vec<String>>,
    pub ambient: Option<Vec<String>>,
}
#[derive(Debug, Clone)]
pub struct Config {
    pub spec: oci_spec::runtime::Spec,
    pub capabilities: Option<CapabilitySets>,
    pub pids_limit: Option<i64>,
    pub warnings: Vec<String>,
}
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Bad(String),
}
impl Config {
    pub fn from_json(bytes: &[u8]) -> Result<Config, SpecError> {
        let mut v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| SpecError::Bad(e.to_string()))?;
        let caps = v
            .get_mut("process")
            .and_then(|p| p.as_object_mut())
            .and_then(|p| p.remove("capabilities"));
        let capabilities = caps
            .map(|c| serde_json::from_value(c).map_err(|e| SpecError::Bad(e.to_string())))
            .transpose()?;
        let pids_limit = v
            .pointer("/linux/resources/pids/limit")
            .and_then(|l| l.as_i64());
        let spec = serde_json::from_value(v).map_err(|e| SpecError::Bad(e.to_string()))?;
        Ok(Config {
            spec,
            capabilities,
            pids_limit,
            warnings: vec![],
        })
    }
    pub fn from_snapshot(bytes: &[u8]) -> Result<Config, SpecError> {
        Self::from_json(bytes)
    }
    pub fn load(bundle: &Path) -> Result<(Config, Vec<u8>), SpecError> {
        let raw = std::fs::read(bundle.join("config.json")).map_err(|e| {
            SpecError::Bad(format!("{}: {e}", bundle.join("config.json").display()))
        })?;
        let mut c = Self::from_json(&raw)?;
        c.validate(bundle)?;
        Ok((c, raw))
    }
    pub fn validate(&mut self, bundle: &Path) -> Result<(), SpecError> {
        self.rootfs(bundle).map(|_| ())
    }
    pub fn rootfs(&self, bundle: &Path) -> Result<PathBuf, SpecError> {
        let p = self
            .spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .ok_or_else(|| SpecError::Bad("root.path missing".into()))?;
        bundle
            .join(p)
            .canonicalize()
            .map_err(|e| SpecError::Bad(format!("root.path: {e}")))
    }
}

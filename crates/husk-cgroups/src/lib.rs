//! STUB (replaced by the cgroups helper's crate at merge).
#![allow(missing_docs)]
use std::path::PathBuf;
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{0}")]
    Bad(String),
}
pub struct Layout;
impl Layout {
    pub fn detect() -> Result<Layout, CgroupError> {
        Ok(Layout)
    }
}
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Cgroup {
    pub paths: Vec<PathBuf>,
}
#[derive(Debug, Clone)]
pub struct CgroupMount {
    pub name: String,
    pub fstype: String,
    pub data: String,
    pub host_path: PathBuf,
    pub symlinks: Vec<String>,
}
impl Cgroup {
    pub fn check_supported(
        _r: &oci_spec::runtime::LinuxResources,
        _p: Option<i64>,
    ) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn create(_l: &Layout, _p: Option<&str>, _id: &str) -> Result<Cgroup, CgroupError> {
        Ok(Cgroup { paths: vec![] })
    }
    pub fn add_process(&self, _pid: i32) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn apply(&self, _r: Option<&oci_spec::runtime::LinuxResources>) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn procs(&self) -> Result<Vec<i32>, CgroupError> {
        Ok(vec![])
    }
    pub fn kill_all(&self, _s: nix::sys::signal::Signal) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn mounts(&self) -> Vec<CgroupMount> {
        vec![]
    }
}

//! STUB (replaced by the secu helper's module at merge).
#![allow(missing_docs)]
#[derive(Debug, Clone, Default)]
pub struct ResolvedCapabilities {
    pub bounding: caps::CapsHashSet,
    pub effective: caps::CapsHashSet,
    pub inheritable: caps::CapsHashSet,
    pub permitted: caps::CapsHashSet,
    pub ambient: caps::CapsHashSet,
}
#[derive(Debug, thiserror::Error)]
pub enum CapabilitiesError {
    #[error("{0}")]
    Caps(String),
}
fn set(v: Option<&[String]>) -> caps::CapsHashSet {
    v.unwrap_or(&[])
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}
pub fn resolve(
    b: Option<&[String]>,
    e: Option<&[String]>,
    i: Option<&[String]>,
    p: Option<&[String]>,
    a: Option<&[String]>,
) -> (ResolvedCapabilities, Vec<String>) {
    (
        ResolvedCapabilities {
            bounding: set(b),
            effective: set(e),
            inheritable: set(i),
            permitted: set(p),
            ambient: set(a),
        },
        vec![],
    )
}
pub fn drop_bounding(c: &ResolvedCapabilities) -> Result<(), CapabilitiesError> {
    for cap in caps::all() {
        if !c.bounding.contains(&cap) {
            let _ = caps::drop(None, caps::CapSet::Bounding, cap);
        }
    }
    Ok(())
}
pub fn apply(c: &ResolvedCapabilities) -> Result<(), CapabilitiesError> {
    let m = |e: caps::errors::CapsError| CapabilitiesError::Caps(e.to_string());
    caps::set(None, caps::CapSet::Effective, &c.effective).map_err(m)?;
    caps::set(None, caps::CapSet::Permitted, &c.permitted).map_err(m)?;
    caps::set(None, caps::CapSet::Inheritable, &c.inheritable).map_err(m)?;
    for cap in &c.ambient {
        let _ = caps::raise(None, caps::CapSet::Ambient, *cap);
    }
    Ok(())
}

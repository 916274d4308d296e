//! STUB (replaced by the secu helper's module at merge).
#![allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{0}")]
    Failed(String),
}
pub fn run(
    hooks: &[oci_spec::runtime::Hook],
    _kind: HookKind,
    state_json: &[u8],
) -> Result<(), HookError> {
    use std::io::Write;
    for h in hooks {
        let mut c = std::process::Command::new(h.path());
        if let Some(a) = h.args() {
            c.args(a.iter().skip(1));
        }
        c.env_clear();
        if let Some(e) = h.env() {
            for kv in e {
                if let Some((k, v)) = kv.split_once('=') {
                    c.env(k, v);
                }
            }
        }
        c.stdin(std::process::Stdio::piped());
        let mut ch = c.spawn().map_err(|e| HookError::Failed(e.to_string()))?;
        if let Some(mut s) = ch.stdin.take() {
            let _ = s.write_all(state_json);
        }
        let st = ch.wait().map_err(|e| HookError::Failed(e.to_string()))?;
        if !st.success() {
            return Err(HookError::Failed(format!(
                "hook {} failed: {st}",
                h.path().display()
            )));
        }
    }
    Ok(())
}

//! The seccomp profile compiler (`husk_container::seccomp::compile`): any `linux.seccomp` that
//! parses gives a program or an error naming the field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::runtime::LinuxSeccomp;

fuzz_target!(|data: &[u8]| {
    if let Ok(profile) = serde_json::from_slice::<LinuxSeccomp>(data) {
        let _ = husk_container::seccomp::compile(&profile);
    }
});

//! config.json parsing (`husk_container::spec::Config::from_json`): any bytes give a `Config`
//! or an error naming the field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = husk_container::spec::Config::from_json(data);
});

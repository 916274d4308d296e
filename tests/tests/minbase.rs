//! The Debian minbase rootfs (a real distribution's /etc, dynamic binaries, coreutils) through
//! husk-runtime: group names and HOME come from the container's own /etc files.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use husk_tests::{Bundle, Runtime};
use serde_json::json;

#[test]
fn id_gn_and_home_of_users_with_groups() {
    let rt = Runtime::new();
    for (uid, gids, groups, home) in [
        (65534, &[4, 100][..], "nogroup adm users", "/nonexistent"),
        (33, &[1][..], "www-data daemon", "/var/www"),
        (1, &[][..], "daemon", "/usr/sbin"),
    ] {
        let mut b = Bundle::minbase(&["sh", "-c", "id -Gn; echo $HOME"]);
        b.set(
            "/process/user",
            json!({"uid": uid, "gid": uid, "additionalGids": gids}),
        );
        assert_eq!(
            rt.run_ok(&b),
            format!("{groups}\n{home}\n"),
            "uid {uid} with groups {gids:?}"
        );
    }
}

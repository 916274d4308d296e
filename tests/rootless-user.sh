#!/bin/sh
# Makes the unprivileged test user of the rootless suite (issue 7), idempotently, and prints it.
# Run as root, by .ci/run once and by the test harness (tests/src/rootless.rs) in every test
# process; two at once are serialised by a flock.
#
# - the user husk-rootless (override: HUSK_ROOTLESS_USER), with a group of its own, a home
#   directory and /bin/sh as its shell: useradd where there is one, else (the busybox v2 guest of
#   tests/v2vm.sh) lines appended to /etc/passwd and /etc/group;
# - 65536 subordinate uids in /etc/subuid and gids in /etc/subgid, only when it has no range yet
#   (useradd may have given it one), starting past every range already there and at 100000 or
#   above (login.defs' SUB_UID_MIN);
# - its XDG_RUNTIME_DIR, /run/user/UID: mode 0700, owned by it.
#
# Prints one line: NAME UID GID HOME XDG_RUNTIME_DIR SUBUID_START SUBUID_COUNT SUBGID_START
# SUBGID_COUNT (the first range of each file when it has several).
# POSIX sh and busybox applets only (the v2 guest has no bash, useradd or getent).
set -eu

name=${HUSK_ROOTLESS_USER:-husk-rootless}
count=65536

if [ "$(id -u)" -ne 0 ]; then
    echo "rootless-user.sh: makes a user: run as root" >&2
    exit 1
fi
command -v flock >/dev/null || {
    echo "rootless-user.sh: needs flock (util-linux)" >&2
    exit 1
}

mkdir -p /run/lock
exec 9>/run/lock/husk-rootless-user.lock
flock 9

# field N of NAME's line in FILE (colon separated), empty when absent
field() { awk -F: -v n="$1" -v f="$3" '$1 == n { print $f; exit }' "$2"; }

if ! id -u "$name" >/dev/null 2>&1; then
    if command -v useradd >/dev/null; then
        useradd --create-home --user-group --shell /bin/sh "$name"
    else
        # The lowest uid from 1000 that is free as a uid and as a gid.
        uid=1000
        while awk -F: -v u="$uid" '$3 == u { found = 1 } END { exit !found }' /etc/passwd /etc/group; do
            uid=$((uid + 1))
        done
        mkdir -p /home
        echo "$name:x:$uid:$uid::/home/$name:/bin/sh" >> /etc/passwd
        echo "$name:x:$uid:" >> /etc/group
        mkdir -p "/home/$name"
        chown "$uid:$uid" "/home/$name"
        chmod 755 "/home/$name"
    fi
fi
uid=$(id -u "$name")
gid=$(id -g "$name")
home=$(field "$name" /etc/passwd 6)
[ -n "$home" ] || home=/home/$name
[ -d "$home" ] || { mkdir -p "$home"; chown "$uid:$gid" "$home"; }

# A range for NAME in FILE unless it has one: past the end of every range there, >= 100000.
add_range() {
    file=$1
    [ -e "$file" ] || : > "$file"
    if [ -z "$(field "$name" "$file" 2)" ]; then
        start=$(awk -F: 'BEGIN { e = 100000 } NF >= 3 && $2 + $3 > e { e = $2 + $3 } END { print e }' "$file")
        echo "$name:$start:$count" >> "$file"
    fi
}
add_range /etc/subuid
add_range /etc/subgid

xdg=/run/user/$uid
mkdir -p /run/user "$xdg"
chown "$uid:$gid" "$xdg"
chmod 700 "$xdg"

echo "$name $uid $gid $home $xdg $(field "$name" /etc/subuid 2) $(field "$name" /etc/subuid 3)" \
    "$(field "$name" /etc/subgid 2) $(field "$name" /etc/subgid 3)"

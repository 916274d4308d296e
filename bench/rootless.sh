#!/usr/bin/env bash
# Rootless start-up benchmark: `runc run` and `husk-runtime run` of the same bundle (a busybox
# rootfs owned by the user, runc's `spec --rootless` with /bin/true and no terminal), run by the
# unprivileged test user of tests/rootless-user.sh, in ONE hyperfine run: once with the single
# mapping of the user's own ids (written by the runtime itself), once with the user's
# /etc/subuid and /etc/subgid ranges added (written through newuidmap/newgidmap). Then the
# ratios husk-runtime/runc and each one's peak RSS. Exits non-zero if any of them fails.
# Needs root (to make the user), busybox-static, runc, hyperfine, time and uidmap.
set -euo pipefail

cd "$(dirname "$0")/.."
ws=$(pwd)
runs=${HUSK_BENCH_RUNS:-200}
warmup=${HUSK_BENCH_WARMUP:-20}
runc_bin=${RUNC:-/usr/sbin/runc}

for tool in hyperfine /usr/bin/time "$runc_bin" /bin/busybox newuidmap setpriv; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine time runc busybox-static uidmap)" >&2; exit 1; }
done
read -r user uid gid _home xdg subuid subuid_n subgid subgid_n < <(bash tests/rootless-user.sh)

cargo build --release -q -p husk-runtime

# Everything the user runs or reads lives in a directory it owns (the checkout may sit in a
# home directory other users cannot enter).
work=$(mktemp -d /var/tmp/husk-bench-rootless.XXXXXX)
as_user() {
    setpriv --reuid "$uid" --regid "$gid" --clear-groups \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work" XDG_RUNTIME_DIR="$xdg" "$@"
}
cleanup() {
    for r in runc husk-runtime; do
        [ -d "$work/root-$r" ] || continue
        bin=$runc_bin; [ "$r" = husk-runtime ] && bin=$work/husk-runtime
        for id in $(ls "$work/root-$r" 2>/dev/null); do
            as_user "$bin" --root "$work/root-$r" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT
cp "$ws/target/release/husk-runtime" "$work/husk-runtime"

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

# runc's own rootless config (its uid and gid are the caller's: made as the user).
mkdir -p "$work/single" "$work/subid" "$work/root-runc" "$work/root-husk-runtime"
chown -R "$uid:$gid" "$work"
chmod 755 "$work"
as_user "$runc_bin" spec --rootless --bundle "$work/single"
python3 - "$work" "$uid" "$gid" "$subuid" "$subuid_n" "$subgid" "$subgid_n" <<'PY'
import json, sys
work, uid, gid, su, sun, sg, sgn = sys.argv[1], *map(int, sys.argv[2:])
c = json.load(open(f"{work}/single/config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": f"{work}/rootfs", "readonly": True}
json.dump(c, open(f"{work}/single/config.json", "w"), indent=1)
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1},
                             {"containerID": 1, "hostID": su, "size": sun}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1},
                             {"containerID": 1, "hostID": sg, "size": sgn}]
json.dump(c, open(f"{work}/subid/config.json", "w"), indent=1)
PY
chown -R "$uid:$gid" "$work"

cat >"$work/one" <<SH
#!/bin/sh
case "\$1" in
  runc) exec "$runc_bin" --root "$work/root-runc" run --bundle "$work/single" "b\$\$" ;;
  husk-runtime) exec "$work/husk-runtime" --root "$work/root-husk-runtime" run --bundle "$work/single" "b\$\$" ;;
  runc-subid) exec "$runc_bin" --root "$work/root-runc" run --bundle "$work/subid" "s\$\$" ;;
  husk-runtime-subid) exec "$work/husk-runtime" --root "$work/root-husk-runtime" run --bundle "$work/subid" "s\$\$" ;;
esac
SH
chmod 755 "$work/one"

kinds="runc husk-runtime runc-subid husk-runtime-subid"
for kind in $kinds; do
    if ! as_user "$work/one" "$kind" >"$work/check-$kind.log" 2>&1; then
        echo "bench: $kind failed on the rootless bundle:" >&2
        cat "$work/check-$kind.log" >&2
        exit 1
    fi
done

as_user hyperfine -N --warmup "$warmup" --runs "$runs" --export-csv "$work/times.csv" \
    -n "runc run" "$work/one runc" \
    -n "husk-runtime run" "$work/one husk-runtime" \
    -n "runc run subid" "$work/one runc-subid" \
    -n "husk-runtime run subid" "$work/one husk-runtime-subid"

mean() { awk -F, -v name="$1" '$1 == name { print $2 }' "$work/times.csv"; }
peak_rss() {
    as_user /usr/bin/time -v "$work/one" "$1" 2>&1 >/dev/null |
        awk -F': ' '/Maximum resident set size/ { print $2 }'
}
echo
printf '%-28s %10s %14s\n' "rootless, as $user" "mean (ms)" "peak RSS (kB)"
for name in "runc run" "husk-runtime run" "runc run subid" "husk-runtime run subid"; do
    case $name in
        "runc run") kind=runc ;; "husk-runtime run") kind=husk-runtime ;;
        "runc run subid") kind=runc-subid ;; *) kind=husk-runtime-subid ;;
    esac
    printf '%-28s %10.2f %14s\n' "$name" "$(awk -v s="$(mean "$name")" 'BEGIN { print s * 1000 }')" "$(peak_rss "$kind")"
done
awk -v h="$(mean "husk-runtime run")" -v r="$(mean "runc run")" \
    'BEGIN { printf "\nhusk-runtime/runc time ratio, own ids: %.2f\n", h / r }'
awk -v h="$(mean "husk-runtime run subid")" -v r="$(mean "runc run subid")" \
    'BEGIN { printf "with the subordinate ranges (newuidmap): %.2f\n", h / r }'

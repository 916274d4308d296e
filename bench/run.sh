#!/usr/bin/env bash
# Side-by-side start-up benchmark: `runc run`, `husk-runtime run` (same bundle: a busybox
# rootfs, /bin/true, terminal false, no linux.resources) and `husk run <rootfs> /bin/true`, and
# both runtimes again on that bundle with memory, cpu and pids limits, and `exec ID /bin/true`
# into a running container of each runtime, in ONE hyperfine run;
# then the ratios husk-runtime/runc and each one's peak RSS (/usr/bin/time -v, "Maximum
# resident set size"). Exits non-zero if any of them fails.
# Needs root, busybox-static, runc, hyperfine and time (Debian packages). See bench/README.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ws=$(pwd)
runs=${HUSK_BENCH_RUNS:-200}
warmup=${HUSK_BENCH_WARMUP:-20}
runc_bin=${RUNC:-/usr/sbin/runc}

for tool in hyperfine /usr/bin/time "$runc_bin" /bin/busybox; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine time runc busybox-static)" >&2; exit 1; }
done

cargo build --release -q -p husk-runtime -p husk
husk_runtime=$ws/target/release/husk-runtime
husk=$ws/target/release/husk

work=$(mktemp -d /tmp/husk-bench.XXXXXX)
cleanup() {
    # Containers a failed iteration may have left (each runtime's own --root).
    for r in runc husk-runtime; do
        [ -d "$work/root-$r" ] || continue
        bin=$runc_bin; [ "$r" = husk-runtime ] && bin=$husk_runtime
        for id in $(ls "$work/root-$r" 2>/dev/null); do
            "$bin" --root "$work/root-$r" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The rootfs: busybox-static with its applets, as the tests build it.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

# The bundle: runc's default spec (runc spec) with terminal false, args /bin/true and no
# linux.resources.
bundle=$work/bundle
mkdir -p "$bundle"
# runc's own default config (the reference's), with /bin/true and no terminal.
"$runc_bin" spec --bundle "$bundle"
python3 - "$bundle/config.json" "$rootfs" <<'PY'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": rootfs, "readonly": True}
json.dump(c, open(path, "w"), indent=1)
PY
# The same bundle with limits (memory, cpu shares and quota, pids): what a container engine
# usually sets, so the cost of applying linux.resources is timed too.
bundle_limits=$work/bundle-limits
mkdir -p "$bundle_limits"
python3 - "$bundle/config.json" "$bundle_limits/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"].setdefault("resources", {}).update({
    "memory": {"limit": 268435456},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    "pids": {"limit": 100},
})
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY

# One iteration = one command line; a fresh container id each time ($$ of the wrapper plus a
# counter is unique), each runtime with its own --root.
mkdir -p "$work/root-runc" "$work/root-husk-runtime"
cat >"$work/one" <<SH
#!/bin/sh
case "\$1" in
  runc) exec "$runc_bin" --root "$work/root-runc" run --bundle "$bundle" "b\$\$" ;;
  husk-runtime) exec "$husk_runtime" --root "$work/root-husk-runtime" run --bundle "$bundle" "b\$\$" ;;
  runc-limits) exec "$runc_bin" --root "$work/root-runc" run --bundle "$bundle_limits" "l\$\$" ;;
  husk-runtime-limits) exec "$husk_runtime" --root "$work/root-husk-runtime" run --bundle "$bundle_limits" "l\$\$" ;;
  husk) exec "$husk" run "$rootfs" /bin/true ;;
  runc-exec) exec "$runc_bin" --root "$work/root-runc" exec xrunning /bin/true ;;
  husk-runtime-exec) exec "$husk_runtime" --root "$work/root-husk-runtime" exec xrunning /bin/true ;;
esac
SH
chmod +x "$work/one"

# Each must work once before it is timed (hyperfine also stops on a non-zero exit).
for kind in runc husk-runtime husk runc-limits husk-runtime-limits; do
    if ! "$work/one" "$kind" >"$work/check-$kind.log" 2>&1; then
        echo "bench: $kind failed on the bench bundle:" >&2
        cat "$work/check-$kind.log" >&2
        exit 1
    fi
done

# A running container per runtime for `exec` (the same bundle, running sleep).
bundle_sleep=$work/bundle-sleep
mkdir -p "$bundle_sleep"
python3 - "$bundle/config.json" "$bundle_sleep/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sleep", "1000000"]
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
"$runc_bin" --root "$work/root-runc" run -d --bundle "$bundle_sleep" xrunning </dev/null >/dev/null 2>&1
"$husk_runtime" --root "$work/root-husk-runtime" run -d --bundle "$bundle_sleep" xrunning </dev/null >/dev/null 2>&1
for kind in runc-exec husk-runtime-exec; do
    if ! "$work/one" "$kind" >"$work/check-$kind.log" 2>&1; then
        echo "bench: $kind failed:" >&2
        cat "$work/check-$kind.log" >&2
        exit 1
    fi
done

hyperfine -N --warmup "$warmup" --runs "$runs" --export-csv "$work/times.csv" \
    -n "runc run" "$work/one runc" \
    -n "husk-runtime run" "$work/one husk-runtime" \
    -n "husk run" "$work/one husk" \
    -n "runc run with limits" "$work/one runc-limits" \
    -n "husk-runtime run with limits" "$work/one husk-runtime-limits" \
    -n "runc exec" "$work/one runc-exec" \
    -n "husk-runtime exec" "$work/one husk-runtime-exec"

mean() { awk -F, -v name="$1" '$1 == name { print $2 }' "$work/times.csv"; }
runc_s=$(mean "runc run")
husk_runtime_s=$(mean "husk-runtime run")
husk_s=$(mean "husk run")
runc_limits_s=$(mean "runc run with limits")
husk_runtime_limits_s=$(mean "husk-runtime run with limits")
runc_exec_s=$(mean "runc exec")
husk_runtime_exec_s=$(mean "husk-runtime exec")

peak_rss() {
    /usr/bin/time -v "$work/one" "$1" 2>&1 >/dev/null |
        awk -F': ' '/Maximum resident set size/ { print $2 }'
}

echo
printf '%-24s %10s %14s\n' "" "mean (ms)" "peak RSS (kB)"
for kind in runc husk-runtime husk runc-limits husk-runtime-limits runc-exec husk-runtime-exec; do
    case $kind in
        runc) s=$runc_s ;; husk-runtime) s=$husk_runtime_s ;; husk) s=$husk_s ;;
        runc-limits) s=$runc_limits_s ;; husk-runtime-limits) s=$husk_runtime_limits_s ;;
        runc-exec) s=$runc_exec_s ;; husk-runtime-exec) s=$husk_runtime_exec_s ;;
    esac
    label="$kind run"
    case $kind in *-exec) label=$kind ;; esac
    printf '%-24s %10.2f %14s\n' "$label" "$(awk -v s="$s" 'BEGIN { print s * 1000 }')" "$(peak_rss "$kind")"
done
awk -v h="$husk_runtime_s" -v r="$runc_s" \
    'BEGIN { printf "\nhusk-runtime/runc time ratio: %.2f (target <= 0.5)\n", h / r }'
awk -v h="$husk_runtime_limits_s" -v r="$runc_limits_s" \
    'BEGIN { printf "with limits: %.2f\n", h / r }'
awk -v h="$husk_runtime_exec_s" -v r="$runc_exec_s" \
    'BEGIN { printf "exec: %.2f\n", h / r }'

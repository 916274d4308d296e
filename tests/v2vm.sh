#!/usr/bin/env bash
# Runs the end-to-end suite on a pure cgroup v2 host: the v2vm guest of ../shared/tools (this
# project's machines are hybrid v1 hosts). Builds the test binaries, copies them with
# husk-runtime, husk and the cached test root filesystems into a folder, boots the guest and runs
# every test binary there. Exits non-zero if any test fails or the guest cannot run them.
#
# Usage: tests/v2vm.sh [PATH-TO-v2vm]   (default: ../shared/tools/v2vm beside the checkout)
# V2VM_TESTS="cgroup_limits husk_cgroups" runs only those test binaries (names as in
# tests/tests/, plus husk_cgroups for the cgroup crate's own root tests); default: all.
# V2VM_TEST_ARGS="delegated --nocapture" passes a name filter and options to every test binary
# (words without quotes).
set -euo pipefail

cd "$(dirname "$0")/.."
v2vm=${1:-}
if [ -z "$v2vm" ]; then
    for c in "$(cd .. && pwd)/shared/tools/v2vm" /work/shared/tools/v2vm; do
        [ -x "$c" ] && { v2vm=$c; break; }
    done
fi
if [ -z "$v2vm" ] || [ ! -x "$v2vm" ]; then
    # Loud, not silent: the v2 run needs the project's shared/ tools beside the checkout.
    echo "tests/v2vm.sh: SKIPPED the cgroup v2 run: no shared/tools/v2vm beside this checkout" >&2
    exit 0
fi
cache=${HUSK_TEST_CACHE:-/var/cache/husk-test}

# The rootfs caches must exist before they are copied: a host run of the suite builds them.
[ -d "$cache/busybox-v1" ] && [ -d "$cache/minbase" ] || {
    echo "tests/v2vm.sh: $cache lacks busybox-v1 or minbase: run cargo test -p husk-tests first" >&2
    exit 1
}

cargo build -p husk-runtime -p husk
# The static in-container probe, built as tests/src/probe.rs builds it (the guest has no cargo).
arch=$(uname -m)
RUSTFLAGS="-C target-feature=+crt-static -C strip=debuginfo" \
    cargo build -p husk-probe --target "$arch-unknown-linux-gnu" --target-dir target/husk-probe
# The end-to-end tests, and the cgroup crate's unit tests (its root_tests drive the real
# cgroup2 hierarchy there).
bins=$(cargo test -p husk-tests -p husk-cgroups --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys,os
only=os.environ.get("V2VM_TESTS","").split()
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")!="compiler-artifact" or not m.get("executable"):
        continue
    name=m["target"]["name"].replace("-","_")
    if m["target"]["kind"]==["test"] or (name=="husk_cgroups" and m["profile"]["test"]):
        if not only or name in only:
            print(m["executable"])')

dir=$(mktemp -d /tmp/husk-v2vm.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# mktemp makes it 0700: a container's root mapped by a user namespace must traverse it.
chmod 755 "$dir"
mkdir -p "$dir/bin" "$dir/cache"
for b in $bins; do cp "$b" "$dir/bin/$(basename "$b" | sed 's/-[0-9a-f]*$//')"; done
cp target/debug/husk-runtime target/debug/husk "$dir/"
cp "target/husk-probe/$arch-unknown-linux-gnu/debug/husk-probe" "$dir/"
cp tests/rootless-user.sh "$dir/"
cp -a "$cache/busybox-v1" "$cache/minbase" "$dir/cache/"
echo "test_args='${V2VM_TEST_ARGS:-}'" > "$dir/run.sh"
cat >> "$dir/run.sh" <<'EOF'
export HUSK_RUNTIME=/work/husk-runtime HUSK_FRONT=/work/husk HUSK_TEST_CACHE=/work/cache
export HUSK_PROBE=/work/husk-probe
status=0
# A few 2 MiB huge pages, so the hugetlb limits are seen enforced (the hosts have none).
echo 8 > /proc/sys/vm/nr_hugepages
# The rootless tests: newuidmap and newgidmap are setuid root (v2vm's --add copy drops the bit),
# and the unprivileged test user with its subordinate ranges (the tests run the script too).
chmod 4755 /usr/bin/newuidmap /usr/bin/newgidmap
sh /work/rootless-user.sh || status=1
cd /work
for t in bin/*; do
    echo "== cgroup v2: ${t#bin/}"
    # shellcheck disable=SC2086 # words, split on purpose
    ./"$t" --test-threads=2 $test_args || status=1
done
exit $status
EOF
# apparmor_parser (Debian package apparmor) loads the profile of the AppArmor test: the guest's
# Debian kernel has AppArmor, this host's has not. perl (perl-base) makes the raw system calls
# of husk run's default seccomp profile test (through the `host` source). The rootless tests
# (Debian uidmap, util-linux): newuidmap and newgidmap write the test user's subordinate ranges,
# flock serialises tests/rootless-user.sh, setpriv starts the user's runtime in a delegated
# cgroup (busybox's setpriv cannot change uids).
extra=()
for tool in apparmor_parser perl newuidmap newgidmap flock setpriv; do
    path=$(command -v "$tool" || true)
    [ -n "$path" ] && extra+=(--add "$path")
done
# The guest is emulated (TCG) on this project's machines. Once in about twenty runs its kernel
# wedged: both vCPUs in "BUG: soft lockup" for the rest of the run, which then times out (124).
# That is the emulated guest's failure, not a test's, so such a run is repeated once, loudly; a
# test failure, or a timeout without a lockup, is not.
err=$(mktemp /tmp/husk-v2vm-err.XXXXXX)
trap 'rm -rf "$dir" "$err"' EXIT
for attempt in 1 2; do
    status=0
    # stderr through tee into $err (the pipeline ends with tee; pipefail keeps v2vm's status).
    { "$v2vm" --mem 4096 --timeout 1200 "${extra[@]}" "$dir" -- sh /work/run.sh \
        2>&1 1>&3 3>&- | tee "$err" >&2 3>&-; } 3>&1 || status=$?
    if [ "$status" -eq 124 ] && [ "$attempt" -eq 1 ] && grep -q "BUG: soft lockup" "$err"; then
        echo "tests/v2vm.sh: the guest kernel locked up (soft lockup, above) and the run timed" \
            "out; running the guest suite once more" >&2
        continue
    fi
    exit "$status"
done

#!/usr/bin/env bash
# Assembles the runtime root filesystem of a Gatehouse container image: the
# binary, its ELF interpreter and every shared library `ldd` resolves, the CA
# bundle, and passwd/group entries for the unprivileged user 65532. Nothing
# else: no shell, no package manager. The Dockerfiles copy this folder into an
# empty (scratch) image; e2e/tests/rootfs.test.mjs runs the binaries from it
# with chroot to prove nothing is missing.
#
#   scripts/build-rootfs.sh BINARY OUTDIR     # BINARY lands in OUTDIR/usr/local/bin/
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BINARY OUTDIR" >&2
  exit 2
fi
binary=$1
out=$2
[[ -x $binary ]] || { echo "$0: $binary is not an executable file" >&2; exit 1; }

mkdir -p "$out"/{usr/local/bin,etc/ssl/certs,tmp}
chmod 1777 "$out/tmp"
install -m 0755 "$binary" "$out/usr/local/bin/$(basename "$binary")"

# Copies FILE (following symlinks) to the same absolute path under $out.
copy_into() {
  local file=$1
  mkdir -p "$out$(dirname "$file")"
  cp -L --preserve=mode "$file" "$out$file"
}

interpreter=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
[[ -n $interpreter ]] || { echo "$0: $binary has no ELF interpreter (static?)" >&2; exit 1; }
copy_into "$interpreter"

# "libx.so.1 => /path/libx.so.1 (0x...)": the resolved path of each dependency.
# A dependency ldd cannot find is an error here rather than in production.
libs=$(ldd "$binary")
if grep -q "not found" <<<"$libs"; then
  echo "$0: unresolved libraries:" >&2
  grep "not found" <<<"$libs" >&2
  exit 1
fi
while read -r lib; do
  copy_into "$lib"
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$libs")

# TLS to identity providers and upstreams verifies against the system CA bundle.
cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
ln -sf certs/ca-certificates.crt "$out/etc/ssl/cert.pem"

# Name resolution: files then DNS (glibc has both built in since 2.34).
printf 'hosts: files dns\n' >"$out/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' \
  >"$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/etc/group"

#!/usr/bin/env bash
# Generates the key Secrets the Gatehouse chart expects when it is rendered with
# secrets.generate=false (as manifests/gatehouse.yaml is), and prints them as
# YAML on stdout. Nothing is written anywhere else; the key files live in a
# private temporary folder that is removed on exit.
#
#   scripts/gen-secrets.sh NAMESPACE [FULLNAME] | kubectl apply -f -
#
# FULLNAME is the chart's base name (default "gatehouse", as for release
# "gatehouse"). Secrets:
#   FULLNAME-keys           signing-key.pem (ES256 / P-256), session-keys (one
#                           32-byte base64url key per line; first encrypts)
#   FULLNAME-push-proxy     ca.crt, tls.crt, tls.key: the proxies' admin (push) server cert
#   FULLNAME-push-operator  ca.crt, tls.crt, tls.key: the operator's push client cert
# Environment: PUSH_SERVER_NAME (default FULLNAME-proxy-admin.NAMESPACE.svc),
# VALIDITY_DAYS (default 3650).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
ns=$1
full=${2:-gatehouse}
admin="$full-proxy-admin"
server_name=${PUSH_SERVER_NAME:-$admin.$ns.svc}
days=${VALIDITY_DAYS:-3650}

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

b64() { base64 -w0 <"$1"; }

# Fleet signing key and one session key.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signing-key.pem 2>/dev/null
openssl rand 32 | base64 -w0 | tr '+/' '-_' | tr -d '=' >session-keys
echo >>session-keys

# Two push CAs: ca.crt signs the proxies' server certificates (SANs: the names
# the operator may verify), client-ca.crt signs the operator's client
# certificate. Proxies trust only client-ca.crt for pushes, so a proxy's own
# certificate (and key) can never push a config to its peers.
make_ca() {  # NAME CN
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days "$days" \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
make_ca ca gatehouse-push-server-ca
make_ca client-ca gatehouse-push-client-ca
issue() {  # NAME CA CN EXTENSIONS
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" \
    -days "$days" -extfile "$1.ext" 2>/dev/null
}
issue server ca "$server_name" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$server_name,DNS:$admin,DNS:$admin.$ns,DNS:$admin.$ns.svc,DNS:$admin.$ns.svc.cluster.local"
issue client client-ca gatehouse-operator "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

labels="  labels:
    app.kubernetes.io/name: gatehouse
    app.kubernetes.io/instance: $full
    app.kubernetes.io/part-of: gatehouse"
cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $full-keys
  namespace: $ns
$labels
type: Opaque
data:
  signing-key.pem: $(b64 signing-key.pem)
  session-keys: $(b64 session-keys)
---
apiVersion: v1
kind: Secret
metadata:
  name: $full-push-proxy
  namespace: $ns
$labels
type: kubernetes.io/tls
data:
  ca.crt: $(b64 ca.crt)
  client-ca.crt: $(b64 client-ca.crt)
  tls.crt: $(b64 server.crt)
  tls.key: $(b64 server.key)
---
apiVersion: v1
kind: Secret
metadata:
  name: $full-push-operator
  namespace: $ns
$labels
type: kubernetes.io/tls
data:
  ca.crt: $(b64 ca.crt)
  tls.crt: $(b64 client.crt)
  tls.key: $(b64 client.key)
YAML

#!/usr/bin/env bash
# scripts/make_cert.sh: a self-signed certificate for local HTTPS (the
# 8443 listener of conf/server.json), made with openssl when it is missing.
#
# make_cert.sh DIR: DIR/cert.pem and DIR/key.pem, an ECDSA P-256 key and a
# certificate for localhost and 127.0.0.1, valid 365 days. Files already
# there are kept. Never for production: clients cannot verify it
# (curl -k); use a real certificate there (docs/operations.md#tls).
set -euo pipefail
dir=${1:?usage: make_cert.sh DIR}
[ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && exit 0
mkdir -p "$dir"
# The key is written under a temporary name and renamed last, so that an
# interrupted run leaves no half pair behind that the check above accepts.
tmp=$(mktemp -d "$dir/.make_cert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 365 \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
    { echo "make_cert.sh: openssl could not make a certificate in $dir" >&2; exit 1; }
chmod 644 "$tmp/cert.pem"
mv "$tmp/cert.pem" "$dir/cert.pem"
mv "$tmp/key.pem" "$dir/key.pem"
echo "make_cert.sh: made a self-signed certificate for localhost in $dir"

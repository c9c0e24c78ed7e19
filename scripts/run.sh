#!/usr/bin/env bash
# scripts/run.sh: install what is missing, build, and run swx-server on
# conf/server.json (the example plugins: see README.md). The HTTPS
# listener's self-signed certificate is made in conf/tls/ on the first run
# (not committed: .gitignore).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
swx_install_packages
swx_build build
scripts/make_cert.sh conf/tls
exec ./build/server/swx-server --config "${1:-conf/server.json}"

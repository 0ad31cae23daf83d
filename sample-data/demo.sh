#!/usr/bin/env bash
# The main job on the embedded SQLite store: define the sample modules, load the sample records,
# then query them. Uses a fresh demo.db in the working directory (or RECORDPORT_DATABASE_URL).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
cargo build --release --quiet
rp() { target/release/recordport "$@"; }
if [ -z "${RECORDPORT_DATABASE_URL:-}" ]; then
  rm -f demo.db demo.db-wal demo.db-shm
  export RECORDPORT_DATABASE_URL=sqlite://demo.db
fi

rp module apply "$here"/modules/*.json
rp records bulk-create --module accounts --data @"$here/records/accounts.json"
rp records bulk-create --module contacts --data @"$here/records/contacts.json"
echo
echo "Active contacts, or any worth 50,000 or more, biggest first:"
rp records list --module contacts --sort deal_value:desc --advanced-filter \
  '{"root":{"conjunction":"OR","conditions":[{"fieldSlug":"status","operator":"eq","value":"active"},{"fieldSlug":"deal_value","operator":"gte","value":50000}]}}'

#!/usr/bin/env bash
# The main job on the embedded SQLite store: define the sample modules, then import the sample
# contacts through the four steps of spec 002 (parse, suggest a mapping, validate, execute), import
# the same contacts from a spreadsheet (every row matches: nothing changes), import a file with
# in-file duplicates as an update, list the import jobs, roll the last one back, and query the
# records. Uses a fresh demo.db in the repository's root (or RECORDPORT_DATABASE_URL).
#
# The binary comes through `cargo run --release`: cargo builds what changed (nothing, after the
# first step) and finds it wherever CARGO_TARGET_DIR puts it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
rp() { cargo run --release --quiet -- "$@"; }
if [ -z "${RECORDPORT_DATABASE_URL:-}" ]; then
  rm -f demo.db demo.db-wal demo.db-shm
  export RECORDPORT_DATABASE_URL=sqlite://demo.db
fi
step() { printf '\n== %s\n' "$*"; }

step "Define the modules; load the sample accounts"
rp module apply "$here"/modules/*.json
rp records bulk-create --module accounts --data @"$here/records/accounts.json" >/dev/null
rp records list --module accounts --fields name,domain

step "1. Parse: columns, sample rows, row count, encoding (a Windows-1252, semicolon file)"
rp import parse "$here/import/contacts-windows1252.csv"

step "2. Suggest a mapping"
rp import suggest "$here/import/contacts.csv" --module contacts

step "3. Validate a file with one defect per row (nothing is written)"
rp import validate "$here/import/contacts-defects.csv" --module contacts

step "4. Execute: import the contacts with the suggested mapping"
rp import run "$here/import/contacts.csv" --module contacts

step "The same contacts from XLSX, as an update matching on email: every row is unchanged"
rp import run "$here/import/contacts.xlsx" --module contacts --strategy update --match email

step "A file with in-file duplicates, as an update (prefer the file's values)"
rp import run "$here/import/contacts-duplicates.csv" --module contacts --strategy update \
  --merge prefer_import --errors-out demo-errors.csv

step "Import jobs"
rp import jobs --module contacts
last_job=$(rp --json import jobs --module contacts --limit 1 | sed -n 's/.*"importJobId": "\(job_[^"]*\)".*/\1/p' | head -n 1)

step "Roll back the last import (created records deleted, updated ones restored; the report says why its counts differ from the job's rows)"
rp import rollback --module contacts "$last_job"

step "Active contacts, or any worth 50,000 or more, biggest first"
rp records list --module contacts --sort deal_value:desc --page-size 10 --fields email,status,deal_value --advanced-filter \
  '{"root":{"conjunction":"OR","conditions":[{"fieldSlug":"status","operator":"eq","value":"active"},{"fieldSlug":"deal_value","operator":"gte","value":50000}]}}'

# Sourced by .ci/run: a PostgreSQL server on loopback for the eventsourcing source tests
# (tests/test_source_eventsourcing.py reads a database an eventsourcing application wrote).
# Debian's server, installed when missing; a role and a database named eventlab.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
pg_lsclusters -h | grep -q . || pg_createcluster "$pg_version" main
pg_cluster=$(pg_lsclusters -h | head -n 1)
pg_port=$(echo "$pg_cluster" | awk '{print $3}')
pg_ctlcluster "$(echo "$pg_cluster" | awk '{print $1}')" "$(echo "$pg_cluster" | awk '{print $2}')" start 2>/dev/null || true
as_postgres() { su postgres -c "$1"; }
as_postgres "psql -p $pg_port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'eventlab'\"" | grep -q 1 \
    || as_postgres "psql -p $pg_port -qc \"CREATE ROLE eventlab LOGIN SUPERUSER PASSWORD 'eventlab'\""
as_postgres "psql -p $pg_port -tAc \"SELECT 1 FROM pg_database WHERE datname = 'eventlab'\"" | grep -q 1 \
    || as_postgres "createdb -p $pg_port -O eventlab eventlab"
export EVENTLAB_POSTGRES_DSN="postgresql://eventlab:eventlab@127.0.0.1:$pg_port/eventlab"

#!/bin/sh
# A local Citus cluster for the Citus tests (docs/postgresql-and-citus.md, "Tested on a local cluster"): a coordinator
# on port 9700 and workers on 9701 and 9702, one machine, trust auth on 127.0.0.1. Needs Citus already built and
# installed into the PostgreSQL that pg_config names (./configure --without-libcurl && make && make install).
#   scripts/citus-cluster.sh start    initdb and configure the nodes that have no data yet, start them, and give the
#                                     coordinator's postgres database the extension and the two workers
#   scripts/citus-cluster.sh stop     stop the three nodes (their data is kept)
#   scripts/citus-cluster.sh stop w2  stop one node (coord, w1 or w2; test/reliability/citus-worker-down.test.ts), and
#   scripts/citus-cluster.sh start w2 start it again
#   scripts/citus-cluster.sh status
# CITUS_CLUSTER_DIR (default /var/lib/citus) holds coord/, w1/, w2/ and each node's log. Run as root (the nodes run as
# postgres) or as the user who owns that directory.
set -eu
export PGOPTIONS="-c client_min_messages=warning"

DIR=${CITUS_CLUSTER_DIR:-/var/lib/citus}
BIN=$(pg_config --bindir)
NODES="coord:9700 w1:9701 w2:9702"

as_owner () {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

sql () { # port, statement
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc "$2"
}

init_node () { # name, port
  data=$DIR/$1
  if [ -f "$data/PG_VERSION" ]; then return 0; fi
  as_owner "$BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/$1.initdb.log"
  cat >>"$data/postgresql.conf" <<EOF

# scripts/citus-cluster.sh
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_preload_libraries = 'citus'
max_prepared_transactions = 200
max_connections = 300
wal_level = logical
EOF
}

# The nodes named after the command (all three when none is): "w2" is the node w2:9702.
command=${1:-}
if [ $# -gt 1 ]; then
  shift
  chosen=""
  for wanted in "$@"; do
    found=""
    for node in $NODES; do
      if [ "${node%%:*}" = "$wanted" ]; then found=$node; fi
    done
    if [ -z "$found" ]; then echo "no node $wanted (coord, w1, w2)" >&2; exit 2; fi
    chosen="$chosen $found"
  done
  NODES=$chosen
fi

case $command in
  start)
    if [ ! -d "$DIR" ]; then
      mkdir -p "$DIR"
      if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR"; fi
    fi
    for node in $NODES; do
      name=${node%%:*} port=${node##*:}
      init_node "$name" "$port"
      as_owner "$BIN/pg_ctl" -D "$DIR/$name" status >/dev/null 2>&1 ||
        as_owner "$BIN/pg_ctl" -D "$DIR/$name" -l "$DIR/$name.log" -w start >/dev/null
      sql "$port" 'CREATE EXTENSION IF NOT EXISTS citus'
      # Some PostgreSQL builds (this machine's) allow only listed libraries as logical decoding output plugins; Citus's
      # moves and splits with logical replication (shard_transfer_mode 'force_logical') decode through citus.
      allowed=$(sql "$port" "SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'")
      case ", $allowed," in
        ", ,"|*", citus,"*) ;;
        *) listed=$(echo "$allowed, citus" | sed "s/ *, */', '/g")
           sql "$port" "ALTER SYSTEM SET output_plugin_libraries = '$listed'" && sql "$port" 'SELECT pg_reload_conf()' >/dev/null ;;
      esac
    done
    sql 9700 "SELECT citus_set_coordinator_host('127.0.0.1', 9700)" >/dev/null
    for port in 9701 9702; do
      sql 9700 "SELECT citus_add_node('127.0.0.1', $port) WHERE NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodename = '127.0.0.1' AND nodeport = $port)" >/dev/null
    done
    echo "$(sql 9700 'SELECT citus_version()' | cut -d' ' -f1-2): coordinator 127.0.0.1:9700, workers $(sql 9700 "SELECT string_agg(node_name || ':' || node_port, ', ' ORDER BY node_port) FROM citus_get_active_worker_nodes()")"
    ;;
  stop)
    for node in $NODES; do
      name=${node%%:*}
      if as_owner "$BIN/pg_ctl" -D "$DIR/$name" status >/dev/null 2>&1; then
        as_owner "$BIN/pg_ctl" -D "$DIR/$name" -m fast -w stop >/dev/null
      fi
    done
    ;;
  status)
    for node in $NODES; do
      name=${node%%:*}
      printf '%s: ' "$name"
      as_owner "$BIN/pg_ctl" -D "$DIR/$name" status | head -n 1
    done
    ;;
  *)
    echo "usage: $0 start|stop|status [coord|w1|w2 ...]" >&2
    exit 2
    ;;
esac

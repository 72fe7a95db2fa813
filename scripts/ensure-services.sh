#!/usr/bin/env bash
# Makes sure what the pipeline needs on this machine is there:
#   RabbitMQ (AMQP_URL, default 127.0.0.1:5672) and Redis (REDIS_URL, default
#   127.0.0.1:6379), and the xz tool (reads the 2013 .lzma archives).
# A service that is reachable is left alone. A local one that is installed but
# stopped is started on loopback; one that is absent is installed with apt
# when we are root on Debian; otherwise we stop with a clear message.
# Remote services (a host other than loopback) are only checked, never started.
set -euo pipefail

log() { printf '[ensure-services] %s\n' "$*" >&2; }

host_port() { # URL default_port -> "host port"
  local url=$1 def=$2 rest host port
  rest=${url#*://}; rest=${rest#*@}; rest=${rest%%/*}
  host=${rest%%:*}; port=${rest##*:}
  [ "$port" = "$rest" ] && port=$def
  echo "${host:-127.0.0.1} $port"
}

reachable() { timeout 2 bash -c ">/dev/tcp/$1/$2" 2>/dev/null; }

wait_for() { # host port seconds
  local i
  for ((i = 0; i < $3 * 2; i++)); do reachable "$1" "$2" && return 0; sleep 0.5; done
  return 1
}

is_local() { [[ $1 == 127.* || $1 == localhost || $1 == ::1 ]]; }

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "cannot install $* automatically (need root on Debian/Ubuntu). Install it, or point the URL at a running server."
    exit 1
  fi
  if [ $apt_updated = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2; apt_updated=1; fi
  log "installing $* with apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_rabbitmq() {
  # AMQP_URL may list a cluster's nodes (comma-separated URLs): one that answers is enough.
  local entry brokers
  IFS=, read -ra brokers <<< "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}"
  for entry in "${brokers[@]}"; do
    read -r host port < <(host_port "${entry// /}" 5672)
    reachable "$host" "$port" && return 0
  done
  read -r host port < <(host_port "${brokers[0]// /}" 5672)
  if ! is_local "$host"; then log "RabbitMQ at $host:$port is not reachable (AMQP_URL)."; exit 1; fi
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  log "starting RabbitMQ on loopback"
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 rabbitmq-server -detached >&2 || true
  wait_for "$host" "$port" 60 || { log "RabbitMQ did not come up on $host:$port within 60 s."; exit 1; }
  # The port opens before the broker accepts connections; give it a moment.
  command -v rabbitmqctl >/dev/null && timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || sleep 3
}

ensure_redis() {
  read -r host port < <(host_port "${REDIS_URL:-redis://127.0.0.1:6379}" 6379)
  reachable "$host" "$port" && return 0
  if ! is_local "$host"; then log "Redis at $host:$port is not reachable (REDIS_URL)."; exit 1; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis on loopback"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no >&2
  wait_for "$host" "$port" 20 || { log "Redis did not come up on $host:$port within 20 s."; exit 1; }
}

ensure_xz() {
  command -v xz >/dev/null || apt_install xz-utils
}

ensure_xz
ensure_rabbitmq
ensure_redis
log "RabbitMQ, Redis and xz are ready"

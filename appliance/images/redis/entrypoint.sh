#!/bin/sh
# The password comes from $REDIS_PASSWORD (never on the command line, where `ps` would show it).
set -eu
: "${REDIS_PASSWORD:?REDIS_PASSWORD must be set}"
conf=/data/.redis.conf
umask 077
cat >"$conf" <<CONF
bind * -::*
protected-mode no
port 6379
dir /data
appendonly yes
appendfsync everysec
maxmemory ${REDIS_MAXMEMORY:-256mb}
maxmemory-policy noeviction
requirepass $REDIS_PASSWORD
CONF
exec redis-server "$conf"

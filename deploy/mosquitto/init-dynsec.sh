#!/bin/sh
# Create the broker's dynamic-security file with the admin account yiju-admin, once, before the
# broker's first start (Mosquitto 2.0 cannot create it itself). Later runs leave it alone: the
# accounts made at run time live in it. Run by the mosquitto-init service of docker-compose.yml.
set -eu

file=${DYNSEC_FILE:-/mosquitto/data/dynamic-security.json}
admin=${DYNSEC_ADMIN:-yiju-admin}

if [ -e "$file" ]; then
  echo "init-dynsec: $file exists; leaving it as it is"
  exit 0
fi
: "${YIJU_BROKER_ADMIN_PASSWORD:?YIJU_BROKER_ADMIN_PASSWORD is not set}"

# mosquitto_ctrl 2.0 reports an existing file but still exits 0: check the result ourselves.
mosquitto_ctrl dynsec init "$file" "$admin" "$YIJU_BROKER_ADMIN_PASSWORD" >/dev/null
[ -s "$file" ] || { echo "init-dynsec: mosquitto_ctrl did not create $file" >&2; exit 1; }

# Password hashes: readable by the broker's user only (it drops root and rewrites the file).
chmod 600 "$file"
if [ "$(id -u)" = 0 ]; then
  chown mosquitto:mosquitto "$file"
fi
echo "init-dynsec: created $file with admin $admin"

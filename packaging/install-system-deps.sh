#!/usr/bin/env bash
# Installs the Debian packages guardroom's demo and tests need, only if they are missing:
# mosquitto (the MQTT broker the tests and the demo start on a free loopback port), openssl
# (throwaway TLS certificates in tests), a C compiler and the Python headers (the Cython core),
# python3-venv, the CJK font Chinese reports embed (fonts-wqy-microhei, 5 MB) and poppler-utils
# (pdftotext/pdftoppm: the report tests read the PDFs back) and rabbitmq-server (the fleet
# bench and its test start a three-node cluster of it with the MQTT plugin, as the calling user
# on free loopback ports; the package's own service is not used). Works as root or with sudo;
# on a Pi the same packages come from Pi OS.
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
python3 -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' \
  || need+=(python3-dev)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' >/dev/null 2>&1 \
  || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${need[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"

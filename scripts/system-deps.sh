#!/usr/bin/env bash
# Install the Debian packages that tests and benchmarks read real media from, only where missing.
# Real recordings: alsa-utils (voice), sound-theme-freedesktop (alarms, bells), asterisk-core-sounds-en-wav (speech,
# monkeys); espeak-ng for synthetic speech; chromium for the dashboard's browser test.
set -euo pipefail
packages=(alsa-utils sound-theme-freedesktop asterisk-core-sounds-en-wav espeak-ng chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null

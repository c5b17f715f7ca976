#!/usr/bin/env bash
# Debian packages opsdeck's tests, demo and benchmark use: nats-server (2.9.10, JetStream), tmux,
# systemd for systemd-analyze (the deploy tests verify the units opsdeck deploy plan writes; nothing
# is started through it), prometheus for promtool (the metrics tests check /metrics and the scrape
# config with it, and run its server on loopback; ~19 MB download), and for the benchmark's
# terminal figures util-linux `script` (bsdutils) and htop (the baseline), and strace (the
# migrate crash tests). Installs only what is
# missing; needs root (or sudo) the first time.
# `demo` as the first argument installs only what the demo needs (nats-server, tmux).
set -euo pipefail
missing=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ "${1:-}" != "demo" ]; then
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v script >/dev/null 2>&1 || missing+=(bsdutils)
  command -v htop >/dev/null 2>&1 || missing+=(htop)
  # The crash tests stop `config migrate` at each write step with strace's syscall injection.
  command -v strace >/dev/null 2>&1 || missing+=(strace)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing from Debian: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
others=()
for p in "${missing[@]}"; do [ "$p" = prometheus ] || others+=("$p"); done
[ ${#others[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${others[@]}" >/dev/null
if [ ${#others[@]} -ne ${#missing[@]} ]; then
  # promtool is what opsdeck wants: no node exporter (a recommend). Debian starts the server it
  # installs; the one this script caused is stopped and kept from starting at boot (the tests
  # start their own on loopback).
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -d /run/systemd/system ]; then $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

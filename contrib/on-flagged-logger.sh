#!/bin/sh
# telltale --on-flagged contrib/on-flagged-logger.sh
#
# Writes each newly flagged flow to the system journal (syslog) with logger(1), tagged
# "telltale", priority warning. Nothing leaves the machine. Read them back with
#   journalctl -t telltale
# telltale gives the flow as JSON on standard input (kept here as the structured part, when
# logger can send it to journald) and a summary in TELLTALE_* variables.
set -u
json=$(cat)
if [ "${TELLTALE_EVENT:-}" = summary ]; then
  msg="flagged ${TELLTALE_FLAGGED:-?} more flows (rate limit): ${TELLTALE_DESTINATIONS:-}"
else
  msg="flagged flow ${TELLTALE_FLOW_ID:-?} to ${TELLTALE_DESTINATION:-?} (${TELLTALE_REMOTE:-?}): ${TELLTALE_CATEGORY:-?}, ${TELLTALE_BYTES_OUT:-?} bytes out${TELLTALE_PROCESS:+, process $TELLTALE_PROCESS}"
fi
# journald keeps the whole flow as a field when logger can write to it; else the line alone
if logger --help 2>&1 | grep -q -- '--journald'; then
  printf 'MESSAGE=%s\nSYSLOG_IDENTIFIER=telltale\nPRIORITY=4\nTELLTALE_FLOW=%s\n' "$msg" "$json" | logger --journald
else
  logger -t telltale -p user.warning -- "$msg"
fi

#!/bin/sh
# telltale --on-flagged contrib/on-flagged-ntfy.sh
#
# Posts each newly flagged flow to a self-hosted ntfy server (https://ntfy.sh/docs/), so it
# reaches your phone. THIS SENDS DATA: telltale itself never does, and this script does only
# because you run it. Point it at a server you run, on your own network:
#   NTFY_URL=http://ntfy.lan/telltale telltale watch --on-flagged contrib/on-flagged-ntfy.sh
# Optional: NTFY_TOKEN (an access token), NTFY_PRIORITY (default 4, "high").
# What is sent: the destination, its category, the bytes out and the process; not the JSON.
set -u
: "${NTFY_URL:?set NTFY_URL to your ntfy topic, e.g. http://ntfy.lan/telltale}"
cat >/dev/null # the flow's JSON: not sent
if [ "${TELLTALE_EVENT:-}" = summary ]; then
  title="telltale: ${TELLTALE_FLAGGED:-?} more flows flagged"
  body="Held back by the rate limit: ${TELLTALE_DESTINATIONS:-}"
else
  title="telltale: flagged ${TELLTALE_DESTINATION:-?}"
  body="${TELLTALE_CATEGORY:-?}: ${TELLTALE_BYTES_OUT:-?} bytes out to ${TELLTALE_REMOTE:-?}${TELLTALE_PROCESS:+ by $TELLTALE_PROCESS}. ${TELLTALE_REASON:-}"
fi
set -- -fsS -m 10 -H "Title: $title" -H "Priority: ${NTFY_PRIORITY:-4}" -H "Tags: warning"
if [ -n "${NTFY_TOKEN:-}" ]; then
  set -- "$@" -H "Authorization: Bearer $NTFY_TOKEN"
fi
exec curl "$@" --data-binary "$body" "$NTFY_URL"

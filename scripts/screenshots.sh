#!/usr/bin/env bash
# Screenshots of every screen of the desktop app for docs/screenshots:
# builds bin/medwallet and bin/medwallet-node, creates the wallet of a demo
# household (two people, Napoleon Ullrich and Tobie Rempel, from the Synthea
# fixtures), anchors it with a clinic node on loopback and redeems a share
# another wallet hosted there, runs the window under Xvfb on
# `--wallet DIR`, unlocks it by typing the passphrase, and captures each
# screen with ImageMagick's import, moving by the keyboard shortcuts. Run
# from the repository root.
set -euo pipefail
root=$(pwd)
bin="${BIN:-$root/bin/medwallet}"
out="${OUT:-$root/docs/screenshots}"
fixtures="${FIXTURES:-$root/../shared/fixtures}"
node="${NODE:-$root/bin/medwallet-node}"
[ -n "${BIN:-}" ] || go build -o "$bin" .
[ -n "${NODE:-}" ] || CGO_ENABLED=0 go build -o "$node" ./cmd/medwallet-node
mkdir -p "$out"
work=$(mktemp -d)
app_pid=""; xvfb_pid=""; node_pid=""
trap 'kill $app_pid $xvfb_pid $node_pid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT

pass="demo passphrase for screenshots"
export MEDWALLET_HOME="$work/wallet"
MEDWALLET_PASSPHRASE=$pass "$bin" init >/dev/null
# The first file's Patient becomes the owner; the second is added as a
# new person (the command line says so).
MEDWALLET_PASSPHRASE=$pass "$bin" import "$fixtures"/fhir/synthea/Napoleon_Ullrich_*.json >/dev/null
MEDWALLET_PASSPHRASE=$pass "$bin" import "$fixtures"/fhir/synthea/Tobie_Rempel_*.json >/dev/null

# A clinic node on loopback: the demo wallet's witness, and the host of a
# share that another patient's wallet makes for it to redeem.
"$node" --data "$work/node" --listen /ip4/127.0.0.1/tcp/0 >"$work/node.log" 2>&1 &
node_pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(awk '/address:/ {print $2; exit}' "$work/node.log")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "screenshots: the clinic node did not start"; cat "$work/node.log"; exit 1; }
MEDWALLET_PASSPHRASE=$pass "$bin" anchor --witness "$addr" >/dev/null
other="$work/other"
MEDWALLET_HOME=$other MEDWALLET_PASSPHRASE=$pass "$bin" init >/dev/null
MEDWALLET_HOME=$other MEDWALLET_PASSPHRASE=$pass "$bin" import "$fixtures"/fhir/synthea/Max_Kris_*.json >/dev/null
MEDWALLET_HOME=$other MEDWALLET_PASSPHRASE=$pass "$bin" anchor --witness "$addr" >/dev/null
link=$(MEDWALLET_HOME=$other MEDWALLET_PASSPHRASE=$pass "$bin" share create --kind immunization,allergy \
  --label "Max Kris: immunizations and allergies" --host "$addr" --json | sed -n 's/.*"link": *"\([^"]*\)".*/\1/p')
[ -n "$link" ] || { echo "screenshots: no share link"; exit 1; }
MEDWALLET_PASSPHRASE=$pass "$bin" redeem "$link" --recipient "Dr Rivera" >/dev/null
# A second share, scanned in the window and shown for review (not kept).
review_link=$(MEDWALLET_HOME=$other MEDWALLET_PASSPHRASE=$pass "$bin" share create --kind condition,immunization \
  --label "Max Kris: for today's visit" --host "$addr" --json | sed -n 's/.*"link": *"\([^"]*\)".*/\1/p')
[ -n "$review_link" ] || { echo "screenshots: no share link to review"; exit 1; }

display=":$((110 + RANDOM % 9))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done
export DISPLAY=$display
"$bin" --wallet "$MEDWALLET_HOME" >"$work/app.log" 2>&1 &
app_pid=$!

win=""
for _ in $(seq 300); do
  win=$(xdotool search --onlyvisible --name '^Medwallet' 2>/dev/null | head -1 || true)
  [ -n "$win" ] && break
  sleep 0.2
done
[ -n "$win" ] || { echo "screenshots: no Medwallet window"; cat "$work/app.log"; exit 1; }
sleep 2

# shot NAME: capture the window into $out/NAME.png, as a palette PNG to stay small.
shot() {
  import -display "$display" -window "$win" "$work/$1.png"
  convert "$work/$1.png" -colors 256 -strip "PNG8:$out/$1.png"
  echo "screenshots: $out/$1.png"
}
# click X Y: click at window coordinates.
click() {
  xdotool mousemove --window "$win" "$1" "$2" click 1
  sleep "${3:-1}"
}

shot unlock
xdotool type --window "$win" --delay 20 "$pass"
xdotool key --window "$win" Return
for _ in $(seq 50); do
  xdotool search --name 'unlocked' >/dev/null 2>&1 && break
  sleep 0.2
done
sleep 3
eval "$(xdotool getwindowgeometry --shell "$win")"
shot summary
# A line of the summary opens its record beside it.
click "${LINE_X:-120}" "${LINE_Y:-571}" 3
shot record-detail
xdotool key --window "$win" ctrl+2
sleep 4
shot records
xdotool key --window "$win" ctrl+3
sleep 4
shot timeline
xdotool key --window "$win" ctrl+4
sleep 4
shot lab-trends
xdotool key --window "$win" ctrl+k
# The checklist fills from the summary in the background.
sleep 5
shot checkin
# The person switcher: the household's two people.
xdotool key --window "$win" ctrl+1
sleep 1
click "${SWITCH_X:-1010}" "${SWITCH_Y:-64}" 2
shot people
click "${SWITCH_X:-1010}" "${SECOND_Y:-140}" 4
shot summary-second-person
xdotool key --window "$win" ctrl+shift+s
sleep 1.5
shot share
xdotool key --window "$win" ctrl+shift+o
sleep 1
shot scan
# The link typed as a USB scanner types it, ending in Enter.
xdotool type --window "$win" --delay 2 "$review_link"
xdotool key --window "$win" Return
sleep 4
shot review
xdotool key --window "$win" ctrl+shift+r
sleep 1.5
click 200 "${RECEIVED_Y:-255}" 1.5
shot received
xdotool key --window "$win" ctrl+comma
sleep 1.5
shot settings
xdotool key --window "$win" ctrl+shift+a
sleep 1.5
shot witnesses
xdotool key --window "$win" ctrl+shift+p
sleep 1.5
shot peers
xdotool key --window "$win" ctrl+e
sleep 1.5
shot export
xdotool key --window "$win" Escape
sleep 0.5
xdotool key --window "$win" ctrl+n
sleep 1
shot new-record
xdotool key --window "$win" ctrl+q
for _ in $(seq 50); do kill -0 $app_pid 2>/dev/null || break; sleep 0.2; done
wait $app_pid
app_pid=""

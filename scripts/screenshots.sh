#!/usr/bin/env bash
# Screenshots of every screen of the desktop app for docs/screenshots:
# builds bin/medwallet and bin/medwallet-node, creates the wallet of a demo
# household (two people, Napoleon Ullrich and Tobie Rempel, from the Synthea
# fixtures), anchors it with a clinic node on loopback and redeems a share
# another wallet hosted there, runs the window under Xvfb on
# `--wallet DIR`, unlocks it by typing the passphrase, and captures each
# screen with ImageMagick's import, moving by the keyboard shortcuts. Run
# from the repository root. Needs Xvfb, xdotool, ImageMagick, openssl, curl
# and jq. FYNE_THEME=light renders the light variant.
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

# A clinic node on loopback: the demo wallet's witness, the host of a
# share that another patient's wallet makes for it to redeem, and, over
# HTTPS (a certificate made here for 127.0.0.1), the host of the window's
# check-in, which a clinic's record system then opens.
https_port=$((20000 + RANDOM % 20000))
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$work/node-key.pem" -out "$work/node-cert.pem" >/dev/null 2>&1
"$node" --data "$work/node" --listen /ip4/127.0.0.1/tcp/0 \
  --https "127.0.0.1:$https_port" --public-host "127.0.0.1:$https_port" \
  --cert "$work/node-cert.pem" --key "$work/node-key.pem" >"$work/node.log" 2>&1 &
node_pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(awk '/address:/ {print $2; exit}' "$work/node.log")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "screenshots: the clinic node did not start"; cat "$work/node.log"; exit 1; }
grep -q "https:" "$work/node.log" || { echo "screenshots: the clinic node serves no HTTPS"; cat "$work/node.log"; exit 1; }
MEDWALLET_PASSPHRASE=$pass "$bin" anchor --witness "$addr" >/dev/null
# A check-in from the command line makes the node one of the wallet's
# clinic nodes, offered on the window's check-in screen; it is stopped at
# once (the window shows its own code).
first_checkin=$(MEDWALLET_PASSPHRASE=$pass "$bin" share create --checkin --host "$addr" --label "Check-in at the clinic" --json | jq -r .id)
[ -n "$first_checkin" ] && [ "$first_checkin" != null ] || { echo "screenshots: no check-in from the command line"; exit 1; }
MEDWALLET_PASSPHRASE=$pass "$bin" share revoke -- "$first_checkin" >/dev/null
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

# grab NAME: capture the window into $work/NAME.png.
grab() { import -display "$display" -window "$win" "$work/$1.png"; }
# shot NAME: capture the window into $out/NAME.png, as a palette PNG to stay small.
shot() {
  grab "$1"
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
# The clinic node: the one the command line's check-in used, the first
# the list offers.
click "${NODE_X:-600}" "${NODE_Y:-283}" 1
click "${NODE_X:-600}" "${NODE_ITEM_Y:-320}" 1
shot checkin
# The code: a QR with the time it stays valid counting down, and who
# opened it (the window polls the node's access log).
click "${CODE_X:-95}" "${CODE_Y:-650}" 2
# The clinic scans the code on screen, once it shows: the other wallet
# redeems it as "Riverside Clinic", trusting the node's certificate made
# above.
scanned=""
for _ in $(seq 30); do
  grab code-to-scan
  if SSL_CERT_FILE="$work/node-cert.pem" MEDWALLET_HOME=$other MEDWALLET_PASSPHRASE=$pass \
    "$bin" redeem --qr "$work/code-to-scan.png" --recipient "Riverside Clinic" --allow-private-hosts >"$work/redeem.log" 2>&1; then
    scanned=1
    break
  fi
  sleep 1
done
[ -n "$scanned" ] || { echo "screenshots: the clinic could not open the check-in"; cat "$work/redeem.log"; exit 1; }
sleep 8
shot checkin-code
# Close the code (it stays valid until it expires), back to the window.
click "${CLOSE_X:-947}" "${CLOSE_Y:-341}" 1
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
click "${EXPORT_CLOSE_X:-314}" "${EXPORT_CLOSE_Y:-615}" 1
xdotool key --window "$win" ctrl+n
sleep 1
shot new-record
xdotool key --window "$win" ctrl+q
for _ in $(seq 50); do kill -0 $app_pid 2>/dev/null || break; sleep 0.2; done
wait $app_pid
app_pid=""

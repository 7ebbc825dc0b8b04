#!/usr/bin/env bash
# Smoke test of the real desktop binary: start it under Xvfb on a fresh
# wallet as `medwallet --wallet DIR --passphrase-file F` (no command: the
# window, unlocked directly), wait for its window to say it is unlocked,
# take a screenshot, check that it is not blank, then quit with Ctrl+Q and
# expect a clean exit.
set -euo pipefail
bin=$(realpath "${1:-bin/medwallet}")
work=$(mktemp -d)
trap 'kill $app_pid $xvfb_pid 2>/dev/null || true; rm -rf "$work"' EXIT
app_pid=""; xvfb_pid=""

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done

export DISPLAY=$display
printf 'smoke test passphrase\n' >"$work/pass"
chmod 600 "$work/pass"
"$bin" --wallet "$work/wallet" --passphrase-file "$work/pass" init >/dev/null
"$bin" --wallet "$work/wallet" --passphrase-file "$work/pass" >"$work/app.log" 2>&1 &
app_pid=$!

# The title ends "(unlocked)" once the passphrase file has opened the
# wallet (key derivation takes a few seconds).
win=""
for _ in $(seq 300); do
  win=$(xdotool search --name '^Medwallet.*\(unlocked\)' 2>/dev/null | head -1 || true)
  [ -n "$win" ] && break
  kill -0 $app_pid 2>/dev/null || { echo "smoke: medwallet exited before opening a window"; cat "$work/app.log"; exit 1; }
  sleep 0.2
done
[ -n "$win" ] || { echo "smoke: no unlocked Medwallet window after 60 s"; xdotool search --name '^Medwallet' getwindowname 2>/dev/null || true; cat "$work/app.log"; exit 1; }
# Wait for the first frame: on a loaded machine it can take a while, so look
# again until the window shows something, for up to 60 s.
shot="${SMOKE_SHOT:-$work/smoke.png}"
for _ in $(seq 60); do
  sleep 1
  import -display "$display" -window root "$shot"
  sd=$(convert "$shot" -colorspace gray -format '%[fx:standard_deviation]' info:)
  awk -v s="$sd" 'BEGIN { exit !(s > 0.02) }' && break
done
colors=$(convert "$shot" -format '%k' info:)
echo "smoke: window $win, screenshot stddev $sd, $colors colours"
awk -v s="$sd" 'BEGIN { exit !(s > 0.02) }' || { echo "smoke: the window looks blank"; exit 1; }

# The app may quit on the key press and close its window before xdotool
# sends the release, which xdotool reports as an X error: whether the app
# quit is what the lines below check.
xdotool key --window "$win" ctrl+q 2>/dev/null || true
for _ in $(seq 50); do kill -0 $app_pid 2>/dev/null || break; sleep 0.2; done
if kill -0 $app_pid 2>/dev/null; then echo "smoke: medwallet did not quit on Ctrl+Q"; exit 1; fi
wait $app_pid && code=0 || code=$?
app_pid=""
[ "$code" = 0 ] || { echo "smoke: medwallet exited with $code"; cat "$work/app.log"; exit 1; }
if grep -qiE 'panic|fatal' "$work/app.log"; then echo "smoke: errors in the log:"; cat "$work/app.log"; exit 1; fi
echo "smoke: ok"

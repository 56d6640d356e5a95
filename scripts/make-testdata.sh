#!/usr/bin/env bash
# make-testdata.sh regenerates the synthetic bot media committed in the repo:
#
#   media/source/assets/bot.ivf  VP8, 640x480, 25 fps, 10 s, keyframe every 2 s, ~400 kbit/s
#   media/source/assets/bot.ogg  Opus, 48 kHz mono, 40 ms frames (as pages send: a=ptime:40), 10 s, ~32 kbit/s
#
# The files live ONLY in media/source/assets (so package source can go:embed
# them); testdata/bot.ivf and testdata/bot.ogg are relative symlinks to them.
#
# This script is documentation: CI never runs it (CI has no ffmpeg). Run it by
# hand from anywhere inside the repo when the media must change, then commit
# the results. Needs ffmpeg built with libvpx, libopus and libfreetype
# (Debian: apt-get install ffmpeg fonts-dejavu-core).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
assets="$root/media/source/assets"
font="${FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf}"
mkdir -p "$assets" "$root/testdata"

# Video: ffmpeg's testsrc2 pattern (moving shapes) with a large overlay of the
# media time and the frame number, so any screenshot shows motion. Realtime
# VP8 settings similar to what a browser sends: CBR 400 kbit/s, error
# resilient, no alt-ref / lag, fixed 2 s GOP (-g 50 -keyint_min 50).
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x480:rate=25:duration=10" \
  -vf "drawtext=fontfile=${font}:fontsize=32:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=8:x=(w-tw)/2:y=h-th-24:text='peets bot %{pts\:hms} #%{n}'" \
  -an -c:v libvpx -deadline realtime -cpu-used 8 -error-resilient 1 \
  -b:v 400k -minrate 400k -maxrate 400k -bufsize 400k \
  -g 50 -keyint_min 50 -auto-alt-ref 0 -lag-in-frames 0 -max-intra-rate 300 \
  -qmin 4 -qmax 56 \
  -map_metadata -1 -fflags +bitexact -flags:v +bitexact \
  -f ivf "$assets/bot.ivf"

# Audio: a quiet 440 Hz tone with a louder 880 Hz beep for the first 200 ms
# of every second. libopus, 40 ms frames, 32 kbit/s constrained VBR. The Ogg muxer's
# default pagination puts ~1 s of packets on one page (package source splits
# pages into packets with the segment table).
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "aevalsrc=0.08*sin(2*PI*440*t)+0.35*sin(2*PI*880*t)*lt(mod(t\,1)\,0.2):s=48000:c=mono:d=10" \
  -c:a libopus -application audio -frame_duration 40 -b:a 32k -vbr constrained \
  -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
  -f ogg "$assets/bot.ogg"

ln -sfn ../media/source/assets/bot.ivf "$root/testdata/bot.ivf"
ln -sfn ../media/source/assets/bot.ogg "$root/testdata/bot.ogg"

ls -l "$assets"

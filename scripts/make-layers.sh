#!/usr/bin/env bash
# make-layers.sh regenerates the simulcast camera that `peets bot --layers
# embedded` publishes (bench room's bots), committed in the repo:
#
#   media/source/assets/cam-l.ivf  VP8, 320x180,  20 fps, 6 s, keyframe every 2 s, ~120 kbit/s
#   media/source/assets/cam-m.ivf  VP8, 640x360,  20 fps, 6 s, keyframe every 2 s, ~350 kbit/s
#   media/source/assets/cam-h.ivf  VP8, 1280x720, 20 fps, 6 s, keyframe every 2 s, ~1 Mbit/s
#
# The three are one moving picture (ffmpeg's testsrc2, labelled with the
# layer, the media time and the frame number) at the scales of a page's
# simulcast camera (daemon.DefaultLayers: 1/4, 1/2, full), with realtime
# VP8 settings like a browser's. This script is documentation: CI never runs
# it. Run it by hand when the media must change, then commit the results.
# Needs ffmpeg built with libvpx and libfreetype (Debian: apt-get install
# ffmpeg fonts-dejavu-core).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
assets="$root/media/source/assets"
font="${FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf}"
mkdir -p "$assets"

layer() { # rid size bitrate fontsize
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i "testsrc2=size=$2:rate=20:duration=6" \
		-vf "drawtext=fontfile=${font}:fontsize=$4:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=4:x=(w-tw)/2:y=h-th-8:text='peets cam $1 %{pts\:hms} #%{n}'" \
		-an -c:v libvpx -deadline realtime -cpu-used 8 -error-resilient 1 \
		-b:v "$3" -minrate "$3" -maxrate "$3" -bufsize "$3" \
		-g 40 -keyint_min 40 -auto-alt-ref 0 -lag-in-frames 0 -max-intra-rate 300 \
		-qmin 4 -qmax 56 \
		-map_metadata -1 -fflags +bitexact -flags:v +bitexact \
		-f ivf "$assets/cam-$1.ivf"
}
layer l 320x180 120k 10
layer m 640x360 350k 18
layer h 1280x720 1000k 32

ls -l "$assets"/cam-*.ivf

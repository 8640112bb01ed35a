#!/usr/bin/env bash
# Rebuilds tests/noise/{train,heldout}/*.wav from Debian 12 (bookworm) packages.
# Documents provenance exactly; CI does not run it.
#
# Needs: apt-get (Debian bookworm sources), dpkg, sox + libsox-fmt-all, fluidsynth,
#        fluid-soundfont-gm (/usr/share/sounds/sf2/FluidR3_GM.sf2), awk.
#   apt-get install -y sox libsox-fmt-all fluidsynth fluid-soundfont-gm
# Downloads ~1.6 GB of .deb files (supertuxkart-data and berusky2-data are big)
# into a temp dir that is removed at the end (set KEEP=1 to keep it, or
# WORK=/some/dir to reuse an existing download).
#
# Every output: 8000 Hz, mono, 16-bit signed PCM WAV, normalised to -20 dBFS RMS
# unless that would push the peak above -1 dBFS (then peak = -1 dBFS).
# sox runs with -R (repeatable dither) so outputs are byte-identical run to run.
set -euo pipefail

OUT=$(cd "$(dirname "$0")" && pwd)
SF2=${SF2:-/usr/share/sounds/sf2/FluidR3_GM.sf2}
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/noise-make.XXXXXX); OWN_WORK=1; else OWN_WORK=0; fi
mkdir -p "$WORK/deb" "$WORK/x" "$WORK/tmp"

# package=version pinned to what the table in README.md was made from
PKGS=(
  supertuxkart-data=1.4+dfsg-2
  scorched3d-data=44+dfsg-8
  flare-game=1.14-1
  minetest-data=5.6.1+dfsg+~1.9.0mt8+dfsg-2
  searchandrescue-data=1.3.0-1.1
  berusky2-data=0.12-2
  etw-data=3.6+svn162-6
  lmms-common=1.2.2+dfsg1-6
  tuxfootball=0.3.1-7
  csoundqt-examples=1.1.1+dfsg0-1
  openttd-openmsx=0.4.2-1
)

for pv in "${PKGS[@]}"; do
  p=${pv%%=*}
  if [ ! -d "$WORK/x/$p" ]; then
    ( cd "$WORK/deb" && ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$pv" )
    mkdir -p "$WORK/x/$p"
    dpkg -x "$WORK/deb/${p}"_*.deb "$WORK/x/$p"
  fi
done

STK=$WORK/x/supertuxkart-data/usr/share/games/supertuxkart/data
S3D=$WORK/x/scorched3d-data/usr/share/games/scorched3d/data/globalmods
FLARE=$WORK/x/flare-game/usr/share/games/flare/mods/fantasycore/soundfx
FLAREE=$WORK/x/flare-game/usr/share/games/flare/mods/empyrean_campaign/soundfx
FLAREMUSIC=$WORK/x/flare-game/usr/share/games/flare/mods/fantasycore/music
MT=$WORK/x/minetest-data/usr/share/games/minetest/games/minetest_game/mods
SAR=$WORK/x/searchandrescue-data/usr/share/games/searchandrescue/sounds
BER=$WORK/x/berusky2-data/usr/share/games/berusky2/sound/sound
ETW=$WORK/x/etw-data/usr/share/games/etw
LMMS=$WORK/x/lmms-common/usr/share/lmms/samples
TUXF=$WORK/x/tuxfootball/usr/share/games/tuxfootball/sound
CSQ=$WORK/x/csoundqt-examples/usr/share/csoundqt/Examples/SourceMaterials
MSX=$WORK/x/openttd-openmsx/usr/share/games/openttd/baseset/openmsx

rm -rf "$OUT/train" "$OUT/heldout"
mkdir -p "$OUT/train" "$OUT/heldout"

# normalise FLOATWAV OUTWAV: -20 dBFS RMS, but peak <= -1 dBFS; write s16 8 kHz mono
normalise() {
  local in=$1 out=$2 g
  g=$(sox "$in" -n stats 2>&1 | awk '
      /^Pk lev dB/ {pk=$4} /^RMS lev dB/ {rms=$4}
      END { g=-20-rms; if (g > -1-pk) g=-1-pk; printf "%.2f", g }')
  sox -R "$in" -r 8000 -c 1 -b 16 -e signed-integer "$out" gain "$g"
}

# seg SPLIT/NAME SRC START LEN [extra sox effects...]
seg() {
  echo "== $1" >&2
  local name=$1 src=$2 start=$3 len=$4; shift 4
  local t=$WORK/tmp/seg.wav
  sox -R "$src" -e floating-point -b 32 "$t" trim "$start" "$len" gain -6 channels 1 rate -v 8000 "$@"
  normalise "$t" "$OUT/$name.wav"
}

# collage SPLIT/NAME GAP_SECONDS "extra effects" SRC... : events, each followed by GAP s of silence
collage() {
  echo "== $1" >&2
  local name=$1 gap=$2 fx=$3; shift 3
  local i=0 parts=()
  for src in "$@"; do
    i=$((i+1))
    sox -R "$src" -e floating-point -b 32 "$WORK/tmp/c$i.wav" gain -6 channels 1 rate -v 8000 pad 0 "$gap"
    parts+=("$WORK/tmp/c$i.wav")
  done
  # shellcheck disable=SC2086
  sox -R "${parts[@]}" -e floating-point -b 32 "$WORK/tmp/col.wav" $fx
  normalise "$WORK/tmp/col.wav" "$OUT/$name.wav"
  rm -f "$WORK"/tmp/c*.wav
}

# music SPLIT/NAME MIDI START LEN : FluidR3_GM via fluidsynth at 44.1 kHz, then seg
music() {
  local name=$1 mid=$2 start=$3 len=$4
  fluidsynth -ni -q -g 0.5 -r 44100 -F "$WORK/tmp/fs.wav" "$SF2" "$mid" >/dev/null 2>&1
  seg "$name" "$WORK/tmp/fs.wav" "$start" "$len"
}

# ---------------------------------------------------------------- train
seg train/machinery_scorched3d-factoryloop "$S3D/apoc/data/wav/misc/factoryloop1.wav" 0 18
seg train/machinery_stk-steamlocomotive "$STK/tracks/black_forest/steamLocomotive.ogg" 5 15
collage train/kitchen_minetest-flare-clatter 0.1 "" \
  "$MT/default/sounds/default_break_glass.1.ogg" "$FLARE/inventory/inventory_metal.ogg" \
  "$MT/default/sounds/default_dig_metal.ogg" "$FLARE/inventory/inventory_potion.ogg" \
  "$MT/default/sounds/default_break_glass.2.ogg" "$MT/default/sounds/default_place_node_metal.1.ogg" \
  "$FLARE/powers/potion.ogg" "$MT/default/sounds/default_break_glass.3.ogg" \
  "$MT/default/sounds/default_dig_metal.ogg" "$FLARE/inventory/inventory_metal.ogg" \
  "$MT/default/sounds/default_place_node_metal.2.ogg" "$FLARE/inventory/inventory_potion.ogg" \
  "$MT/default/sounds/default_break_glass.1.ogg" "$MT/default/sounds/default_dig_metal.ogg"
collage train/kitchen_minetest-flare-clatter-reverb 0.1 "reverb 50 50 100" \
  "$MT/default/sounds/default_break_glass.2.ogg" "$FLARE/inventory/inventory_potion.ogg" \
  "$MT/default/sounds/default_dig_metal.ogg" "$FLARE/inventory/inventory_metal.ogg" \
  "$MT/default/sounds/default_break_glass.3.ogg" "$MT/default/sounds/default_place_node_metal.2.ogg" \
  "$FLARE/powers/potion.ogg" "$MT/default/sounds/default_break_glass.1.ogg" \
  "$MT/default/sounds/default_place_node_metal.1.ogg" "$FLARE/inventory/inventory_metal.ogg"
seg train/rain_flare-rain "$FLAREE/environment/rain.ogg" 10 18
seg train/water_scorched3d-oceanwaves "$S3D/none/data/wav/misc/oceanwaves.wav" 2 15
seg train/water_flare-cavedroplets "$FLARE/environment/cave_droplets_loop.ogg" 0 10
seg train/wind_flare-wind "$FLARE/environment/wind_loop.ogg" 5 18
seg train/birds_scorched3d-birds1 "$S3D/none/data/wav/misc/birds1.wav" 5 15
seg train/crowd_scorched3d-cheeringloop "$S3D/apoc/data/wav/misc/cheeringloop.wav" 0 15
seg train/crowd_lmms-ravingcrowd "$LMMS/misc/raving_crowd01.ogg" 0 10
seg train/traffic_scorched3d-citysounds "$S3D/apoc/data/wav/misc/citysounds.wav" 0 13
seg train/impulse_flare-anvil "$FLARE/environment/anvil_loop.ogg" 0 15
collage train/impulse_minetest-footsteps 0.15 "" \
  "$MT/default/sounds/default_hard_footstep.1.ogg" "$MT/default/sounds/default_wood_footstep.1.ogg" \
  "$MT/default/sounds/default_hard_footstep.2.ogg" "$MT/default/sounds/default_wood_footstep.2.ogg" \
  "$MT/default/sounds/default_hard_footstep.3.ogg" "$MT/default/sounds/default_gravel_footstep.1.ogg" \
  "$MT/default/sounds/default_gravel_footstep.2.ogg" "$MT/default/sounds/default_hard_footstep.1.ogg" \
  "$MT/default/sounds/default_wood_footstep.1.ogg" "$MT/default/sounds/default_gravel_footstep.3.ogg" \
  "$MT/default/sounds/default_hard_footstep.2.ogg" "$MT/default/sounds/default_wood_footstep.2.ogg" \
  "$MT/default/sounds/default_gravel_footstep.4.ogg" "$MT/default/sounds/default_hard_footstep.3.ogg"
seg train/impulse_flare-anvil-reverb "$FLARE/environment/anvil_loop.ogg" 15 8 reverb 50 50 100
music train/music_openmsx-boogimarabi "$MSX/boogi_marabi_redfarn.mid" 2 15
music train/music_openmsx-harpharmony "$MSX/harp_harmony.mid" 3 15
# Added in session 10: more wind, and music whose instruments are tonal and breathy (flute,
# whistle, ocarina, sax, trumpet, choir-like pads, organ): a recogniser trained on only two
# tunes took a held-out woodwind tune for digits. Still other tunes than the held-out ones.
seg train/wind_flare-cavewind "$FLARE/environment/cave_wind_loop.ogg" 2 12
seg train/wind_flare-windambient "$FLAREMUSIC/wind_ambient.ogg" 20 12
music train/music_openmsx-linnsbasket "$MSX/linns_basket.mid" 2 10
music train/music_openmsx-relaxsong "$MSX/relax_song.mid" 2 10
music train/music_openmsx-midnightsnowrun "$MSX/midnight_snow_run.mid" 2 10
music train/music_openmsx-mightygiantrun "$MSX/mighty_giant_run.mid" 2 10
music train/music_openmsx-keeponrolling "$MSX/keep_on_rolling.mid" 2 10
music train/music_openmsx-tttheme2 "$MSX/tttheme2.mid" 2 10
music train/music_openmsx-chemistrylab "$MSX/chemistry_lab.mid" 2 10
music train/music_openmsx-chuggachugga "$MSX/chuggachugga.mid" 2 10

# ---------------------------------------------------------------- heldout
seg heldout/machinery_sar-hh65-engine "$SAR/hh65/engine_inside.wav" 0 9.4
seg heldout/machinery_sar-jet-inside "$SAR/jet_engine_inside2.wav" 0 6.6
collage heldout/kitchen_stk-csoundqt-clatter 0.3 "" \
  "$STK/sfx/metal_clang.ogg" "$CSQ/dish.wav" "$STK/sfx/break.ogg" "$CSQ/dish.wav"
seg heldout/water_stk-river "$STK/sfx/river_loop.ogg" 0 15
seg heldout/water_stk-waterfall "$STK/sfx/waterfall_loop_2.ogg" 0 14.5
seg heldout/rain_scorched3d-rain "$S3D/none/data/wav/misc/rain.wav" 0 14
seg heldout/wind_berusky2-vitr111 "$BER/Vitr111.wav" 0 17
seg heldout/birds_stk-exoticbirds2 "$STK/sfx/exotic-birds_2.ogg" 0 16
seg heldout/babble_stk-restaurant "$STK/sfx/lenautile_restaurant.ogg" 2 20
seg heldout/babble_stk-restaurant-reverb "$STK/sfx/lenautile_restaurant.ogg" 2 10 reverb 50 50 100
seg heldout/crowd_etw-crowd05 "$ETW/crowd/crowd05.wav" 0 11.9
seg heldout/crowd_tuxfootball-crowdcheer "$TUXF/crowdcheer.wav" 0 6.2
seg heldout/impulse_stk-clock "$STK/sfx/clock.ogg" 0 6.7
collage heldout/impulse_berusky2-steps 0.1 "" \
  "$BER/wstep1.wav" "$BER/wstep2.wav" "$BER/wstep3.wav" "$BER/wstep4.wav" \
  "$BER/stepswood.wav" "$BER/stepsstone2.wav" "$BER/stepssteel1.wav" "$BER/stepsand.wav" \
  "$BER/wstep2.wav" "$BER/wstep4.wav" "$BER/stepswood.wav"
collage heldout/impulse_berusky2-steps-reverb 0.1 "reverb 50 50 100" \
  "$BER/wstep3.wav" "$BER/stepsstone2.wav" "$BER/wstep1.wav" "$BER/stepssteel1.wav" \
  "$BER/wstep4.wav" "$BER/stepswood.wav" "$BER/wstep2.wav"
music heldout/music_openmsx-cityblues "$MSX/city_blues_redfarn.mid" 2 15
music heldout/music_openmsx-woodwhistles "$MSX/wood_whistles.mid" 2 15

rm -rf "$WORK/tmp"
if [ "$OWN_WORK" = 1 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
echo "done: $(ls "$OUT"/train | wc -l) train, $(ls "$OUT"/heldout | wc -l) heldout"

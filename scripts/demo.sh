#!/bin/sh
# `make demo`: compile the example rules, show a table, route a morning of chats, explain one
# decision, and plan the Double 12 outreach across the promo days (embedded example inputs).
set -e
RULEC=${1:-rulec}
OUT=demo-out
rm -rf "$OUT"; mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*"; }

say "check and compile every example in rules/ (twice: the tables must be byte-identical)"
for src in rules/*.rules rules/*.yaml; do
  name=$(basename "$src"); name=${name%.*}-$(echo "$src" | sed 's/.*\.//')
  "$RULEC" compile "$src" -o "$OUT/$name.rtbl"
  "$RULEC" compile "$src" -o "$OUT/$name.again.rtbl" 2>/dev/null
  cmp -s "$OUT/$name.rtbl" "$OUT/$name.again.rtbl" && echo "   $name: deterministic"
done

say "rulec inspect: header, sizes and the decision tree of the tea shop"
"$RULEC" inspect "$OUT/shop-double12-rules.rtbl" | head -40

say "rulec route: a morning of chats (one JSON decision per chat)"
"$RULEC" route "$OUT/shop-double12-rules.rtbl" --events rules/demo/events.jsonl --seed 7 \
  | tee "$OUT/decisions.jsonl" | cut -c1-200

say "rulec explain: u1001 writes again; last contact 小美 (suspended) 25h ago: why this agent?"
tail -1 rules/demo/events.jsonl > "$OUT/event.json"
"$RULEC" explain "$OUT/shop-double12-rules.rtbl" --event "$OUT/event.json" --state rules/demo/state.json

say "rulec plan: Double 12 outreach, run as the days go by (one ledger, nothing sent twice)"
for now in 2023-12-04T10:05:00+08:00 2023-12-11T20:01:00+08:00 2023-12-12T14:01:00+08:00 \
           2023-12-12T20:01:00+08:00 2023-12-12T21:00:00+08:00; do
  echo "-- now $now"
  "$RULEC" plan "$OUT/shop-double12-rules.rtbl" --audience rules/demo/audience.jsonl \
    --activities rules/demo/activities.jsonl --ledger "$OUT/ledger.db" --now "$now" \
    --report "$OUT/report.json"
done

say "rulec check: a rules file with mistakes (diagnostics with positions and hints)"
cat > "$OUT/typo.yaml" <<'YAML'
shop: demo
attributes: {member_level: int}
crowds:
  vip: member_levle >= 3
agents: {小美: {level: 6}}
groups:
  售前: {agents: [小美, 小丽], order: [unpayed], crowd: [vip]}
YAML
"$RULEC" check "$OUT/typo.yaml" || echo "(exit status $?: the file has errors)"
echo
echo "demo outputs are in $OUT/"

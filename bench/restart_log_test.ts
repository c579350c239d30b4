import assert from "node:assert/strict";
import { startLogFigures } from "./restart_log.ts";

const LOG =
  `2026-12-07T05:48:12.954Z info ports bound; starting http="127.0.0.1:41665" raft="127.0.0.1:37489"
2026-12-07T05:48:13.003Z info opened storage segments=0 walRecords=0 walPoints=0 ms=6
2026-12-07T05:48:13.003Z info opened partition replica group=2 database="epochnexus" flushedBefore=1 replay=0 tornBytes=0
2026-12-07T05:48:13.500Z info opened storage segments=4 walRecords=0 walPoints=0 ms=480
2026-12-07T05:48:13.501Z info opened partition replica group=6 database="b" flushedBefore=9 replay=3 tornBytes=0
2026-12-07T05:48:14.020Z info opened storage segments=5 walRecords=0 walPoints=0 ms=510
2026-12-07T05:48:14.021Z info opened partition replica group=7 database="b" flushedBefore=9 replay=40 tornBytes=0
2026-12-07T05:48:14.129Z info epochnexus listening http="127.0.0.1:41665" https=false raft="127.0.0.1:37489" node=1`;

Deno.test("restart bench: a start's storage figures sum every partition's open, not the first", () => {
  assert.deepEqual(startLogFigures(LOG), {
    storageOpens: 3,
    storageMs: 996,
    segments: 9,
    replayEntries: 43,
    nodeStartMs: 1175,
  });
});

Deno.test("restart bench: an open line without its figure is an error, not a zero", () => {
  assert.throws(
    () => startLogFigures("2026-12-07T05:48:13.003Z info opened storage segments=0"),
    /log line without ms=: .*opened storage/,
  );
});

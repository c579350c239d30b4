import assert from "node:assert/strict";
import { escapeMeasurement, escapeTag, seriesKey } from "./point.ts";

Deno.test("series keys escape as line protocol does", () => {
  assert.equal(escapeMeasurement("cpu load,x=y"), "cpu\\ load\\,x=y");
  assert.equal(escapeTag("a b,c=d"), "a\\ b\\,c\\=d");
  assert.equal(escapeTag("plain"), "plain");
  assert.equal(
    seriesKey("m m", [{ key: "h=1", value: "x y" }, { key: "r", value: "z" }]),
    "m\\ m,h\\=1=x\\ y,r=z",
  );
});

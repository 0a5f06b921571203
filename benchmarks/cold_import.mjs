// Cold `import masivo_web` from page wheels, each in a fresh Pyodide under Node, interleaved, so
// two builds (before and after a change) are compared in one run on one machine:
//
//   node benchmarks/cold_import.mjs [--runs 7] <page wheel> [<page wheel> ...]
//
// For each wheel: the median and range of the import's milliseconds (Python's own clock around
// the import, after the wheel is unpacked into site-packages), the wheel's bytes and its modules.
// Under Node, not a page: a proxy for the browser's figure (make bench), good for A/B.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { loadPyodide } from "pyodide";

const args = process.argv.slice(2);
let runs = 7;
if (args[0] === "--runs") {
  runs = Number(args[1]);
  args.splice(0, 2);
}
if (!args.length) {
  console.error("usage: cold_import.mjs [--runs N] <page wheel> [<page wheel> ...]");
  process.exit(2);
}
const times = new Map(args.map((wheel) => [wheel, []]));
for (let run = 0; run < runs; run++) {
  for (const wheel of args) {
    const pyodide = await loadPyodide();
    pyodide.unpackArchive(new Uint8Array(readFileSync(wheel)), "wheel", {
      extractDir: "/lib/python3.14/site-packages",
    });
    const ms = pyodide.runPython(`
import sys, time
sys.dont_write_bytecode = True
start = time.perf_counter()
import masivo_web
(time.perf_counter() - start) * 1000
`);
    times.get(wheel).push(ms);
  }
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
for (const [wheel, values] of times) {
  const bytes = readFileSync(wheel).length;
  console.log(
    `${basename(wheel)}: ${median(values).toFixed(1)} ms (${Math.min(...values).toFixed(1)}` +
      ` to ${Math.max(...values).toFixed(1)}, ${runs} runs), ${bytes.toLocaleString("en")} bytes`,
  );
}
process.exit(0);

// Run the MicroPython checks (tests/micropython) under MicroPython in Node: PyScript's own
// build (npm @micropython/micropython-webassembly-pyscript, pinned in package.json), offline.
//
//   node tools/micropython_node/run_checks.mjs PAGE_DIR [check-name-substring]
//
// PAGE_DIR holds the package as pages get it (the types erased by tools/page_source.py:
// tests/integration/test_micropython.py writes it). Each check prints one line,
// "PASS name" or "FAIL name: reason"; the last line is "DONE passed failed". The exit status
// is 0 once every check ran (the verdicts are in the lines), 3 if they did not all run.
// The browser a check needs is a small fake written in JS here (`fakebrowser`), so the SDK's
// calls cross MicroPython's real JS bridge, throwing storage included.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const [pageDir, only = ""] = process.argv.slice(2);
let finished = false;
process.on("exit", () => {
  if (!finished) {
    console.error("the checks did not finish: one awaited something that never resolved.");
    process.exitCode = 3;
  }
});

function storage({ failWrites = () => false } = {}) {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => {
      if (failWrites()) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      items.set(String(key), String(value));
    },
    removeItem: (key) => { items.delete(key); },
    key: (index) => [...items.keys()][index] ?? null,
    get length() { return items.size; },
  };
}

function target(extra) {
  const listeners = new Map();
  return Object.assign(extra, {
    addEventListener(name, listener) {
      if (!listeners.has(name)) listeners.set(name, []);
      listeners.get(name).push(listener);
    },
    removeEventListener(name, listener) {
      listeners.set(name, (listeners.get(name) || []).filter((l) => l !== listener));
    },
    dispatch(name) {
      for (const listener of [...(listeners.get(name) || [])]) listener({ type: name });
    },
    listening(name) { return (listeners.get(name) || []).length; },
  });
}

const fakebrowser = {
  storage,
  // A site: its localStorage; a page of it at `href`.
  page(href, local, session) {
    const navigator = { onLine: true, userAgent: "FakeBrowser/1.0", language: "es-MX" };
    const window = target({ location: { href }, navigator, Promise, Object, Intl });
    const document = target({ visibilityState: "visible", referrer: "", title: "Shop" });
    return { window, document, navigator, localStorage: local, sessionStorage: session };
  },
  // A storage whose every write throws (the quota is full), and a window whose storage
  // throws on access (a sandboxed iframe: SecurityError).
  fullStorage: () => storage({ failWrites: () => true }),
  // Node as a Web Worker would look to the SDK: a worker global scope, no window.
  pretendWorker(on) {
    if (on) globalThis.WorkerGlobalScope = function WorkerGlobalScope() {};
    else delete globalThis.WorkerGlobalScope;
  },
  lockedWindow: () => Object.defineProperty({}, "localStorage", {
    get() { throw new DOMException("The document is sandboxed.", "SecurityError"); },
  }),
};

const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line.endsWith("\n") ? line : line + "\n"),
  stderr: (line) => process.stderr.write(line.endsWith("\n") ? line : line + "\n"),
});
mp.registerJsModule("fakebrowser", fakebrowser);
function copyTree(from, to) {
  mp.FS.mkdirTree(to);
  for (const name of readdirSync(from)) {
    const path = join(from, name);
    if (statSync(path).isDirectory()) copyTree(path, `${to}/${name}`);
    else if (name.endsWith(".py")) mp.FS.writeFile(`${to}/${name}`, readFileSync(path));
  }
}
copyTree(pageDir, "/lib");
copyTree(join(root, "tests", "micropython"), "/checks");
const started = Date.now();
// The harness runs as a task (MicroPython's top-level await cannot take an exception thrown
// into it) and calls fakebrowser.finished() at the end.
const done = new Promise((resolve) => { fakebrowser.finished = resolve; });
mp.runPython(`
import sys
sys.path.append("/checks")
import asyncio, harness
asyncio.create_task(harness.main(${JSON.stringify(only)}))
`);
await done;
finished = true;
console.log(`(MicroPython checks: ${Date.now() - started} ms)`);
// Timers the checks left (a closed tab's sleep, a flusher's idle wait) would keep Node alive.
process.exit(0);

// Run the core unit tests inside Pyodide under Node (offline): the same asyncio code on
// Pyodide's WebLoop, not only on CPython's loop.
//
//   node --experimental-wasm-stack-switching tools/pyodide_node/run_unit_tests.mjs [pytest args]
//
// Pyodide comes from node_modules (npm `pyodide`, pinned in package.json); pytest and its pure
// dependencies are PyPI wheels in .cache/pyodide-wheels (tools/browser_assets.py fetches them).
// The repository is mounted read-only-in-spirit at /repo; masivo_web is imported from source.
// JSPI (the stack-switching flag) is what lets asyncio.run() work inside Pyodide on Node 20.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wheels = join(root, ".cache", "pyodide-wheels");
const started = Date.now();
// If Python awaits something that never resolves, Node's event loop empties and the process
// would end with status 0 mid-run: a silent false pass. Only a finished pytest may exit cleanly.
let finished = false;
process.on("exit", (status) => {
  if (!finished) {
    console.error("pytest did not finish: a test awaited something that never resolved.");
    process.exitCode = 3;
  }
});
const pyodide = await loadPyodide();
const sitePackages = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
for (const name of readdirSync(wheels).filter((n) => n.endsWith(".whl"))) {
  const archive = new Uint8Array(readFileSync(join(wheels, name)));  // a Buffer is refused
  pyodide.unpackArchive(archive, "wheel", { extractDir: sitePackages });
}
pyodide.FS.mkdirTree("/repo");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root }, "/repo");
const boot = Date.now() - started;
const args = process.argv.slice(2);
pyodide.globals.set("extra_args", pyodide.toPy(args));
const code = await pyodide.runPythonAsync(`
import os, sys
sys.path.insert(0, "/repo")
os.chdir("/repo")
sys.dont_write_bytecode = True
with open("/tmp/pytest-pyodide.ini", "w") as ini:
    ini.write("[pytest]\\nfilterwarnings =\\n    error\\n")
import pytest
print(f"Pyodide {sys.version.split()[0]} on {sys.platform}: running tests/unit", flush=True)
pytest.main(["-c", "/tmp/pytest-pyodide.ini", "--rootdir", "/repo", "-p", "no:cacheprovider",
             "-q", "tests/unit", *extra_args])
`);
finished = true;
console.log(`(Pyodide boot ${boot} ms, total ${Date.now() - started} ms)`);
process.exit(Number(code));

// Compile the page's wheel to bytecode with Pyodide's own interpreter (offline, under Node):
//
//   node tools/pyodide_node/precompile_wheel.mjs static/vendor/wheels/<page wheel> static/vendor/wheels
//
// Paths are relative to the repository. Prints the precompiled wheel's path. The work is
// tools/browser_wheel.py's precompile(); tools/browser_assets.py runs this after each build.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const [wheel, targetDir] = process.argv.slice(2);
if (!wheel || !targetDir) {
  console.error("usage: precompile_wheel.mjs <page wheel> <target dir> (relative to the repo)");
  process.exit(2);
}
const pyodide = await loadPyodide();
pyodide.FS.mkdirTree("/repo");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root }, "/repo");
pyodide.globals.set("paths", pyodide.toPy([wheel, targetDir]));
const built = pyodide.runPython(`
import sys
from pathlib import Path
sys.path.insert(0, "/repo/tools")
sys.dont_write_bytecode = True
import browser_wheel
str(browser_wheel.precompile(Path("/repo", paths[0]), Path("/repo", paths[1])).relative_to("/repo"))
`);
console.log(built);

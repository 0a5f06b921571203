// Compile the page's wheel to bytecode with Pyodide's own interpreter (offline, under Node):
//
//   node precompile.mjs <Pyodide's npm package folder> <page wheel> <target folder>
//
// Prints the precompiled wheel's path. The work is bytecode.py's precompile(), imported from
// the masivo_web package this file belongs to (installed or a checkout's);
// masivo_web.devtools.page_build.archives runs this.
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chmodSync } from "node:fs";

const [pyodideFolder, wheel, target] = process.argv.slice(2).map((path) => path && resolve(path));
if (!pyodideFolder || !wheel || !target) {
  console.error("usage: precompile.mjs <pyodide folder> <page wheel> <target folder>");
  process.exit(2);
}
// page_build/ -> devtools/ -> masivo_web/ -> the folder on sys.path that holds masivo_web
const packageParent = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const { loadPyodide } = await import(pathToFileURL(join(pyodideFolder, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideFolder + "/" });
const mounts = { "/pkg": packageParent, "/in": dirname(wheel), "/out": target };
for (const [at, root] of Object.entries(mounts)) {
  pyodide.FS.mkdirTree(at);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root }, at);
}
pyodide.globals.set("wheel_name", basename(wheel));
const built = pyodide.runPython(`
import sys
from pathlib import Path
sys.path.insert(0, "/pkg")
sys.dont_write_bytecode = True
from masivo_web.devtools.page_build.bytecode import precompile
precompile(Path("/in", wheel_name), Path("/out")).name
`);
const path = join(target, built);
chmodSync(path, 0o644); // written from inside Pyodide, whose files are 0666
console.log(path);

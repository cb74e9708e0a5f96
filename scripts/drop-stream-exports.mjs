// Part of scripts/build-prompts-bundle, between wasm-bindgen and wasm-opt: takes out of the prompt
// bundle the JavaScript classes wasm-streams exports (IntoUnderlyingSource, IntoUnderlyingSink,
// IntoUnderlyingByteSource). Leptos always depends on server_fn, which depends on wasm-streams, and
// a #[wasm_bindgen] export is kept by the linker whether or not anything uses it; the prompts never
// stream, so these are dead weight (about 2 KB brotli). The wasm's exports go through binaryen's
// wasm-metadce (so wasm-opt then drops the code only they reach) and the classes leave the glue.
//
// The promises those classes returned leave too (2.9 KB brotli more): a Rust future becomes a JS
// promise only through `future_to_promise`, whose closures and their drop glue sit in the function
// table, which JavaScript can reach, so no optimizer may drop them. The bundles never turn a
// future into a promise (requests take callbacks; Leptos's CSR renderer spawns nothing), and the
// streams' methods were the only code that did; their table slots now hold one function that
// traps, and wasm-opt drops the code only they reached. The module must keep its names (wasm-bindgen
// --keep-debug) until then; wasm-opt strips them after. Fails if the glue still names anything it
// took out, if no table slot matched (a renamed runtime must be looked at, not skipped), or if any
// code calls a matched function directly.
//
// usage: node scripts/drop-stream-exports.mjs BUNDLE_bg.wasm BUNDLE.js (both rewritten in place)
import binaryen from "binaryen";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [wasmPath, jsPath] = process.argv.slice(2);
if (!wasmPath || !jsPath) {
  console.error("usage: drop-stream-exports.mjs BUNDLE_bg.wasm BUNDLE.js");
  process.exit(2);
}
const dropped = /^(__wbg_)?intounderlying/;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// The wasm: every export but the streams' is a root of wasm-metadce's graph.
const module = new WebAssembly.Module(readFileSync(wasmPath));
const graph = WebAssembly.Module.exports(module).map((e) =>
  dropped.test(e.name) ? { name: `e_${e.name}`, export: e.name } : { name: `e_${e.name}`, export: e.name, root: true },
);
for (const i of WebAssembly.Module.imports(module)) {
  graph.push({ name: `i_${i.name}`, import: [i.module, i.name] });
}
const work = mkdtempSync(join(tmpdir(), "drop-stream-exports-"));
try {
  const graphPath = join(work, "graph.json");
  writeFileSync(graphPath, JSON.stringify(graph));
  execFileSync(join(root, "node_modules/.bin/wasm-metadce"), [wasmPath, "-f", graphPath, "-g", "-o", wasmPath], {
    stdio: ["ignore", "ignore", "inherit"],
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

// The table: every slot of a `future_to_promise` closure, or of its drop glue, traps instead.
const promises = /future_to_promise/;
const wasm = binaryen.readBinary(readFileSync(wasmPath));
const segments = [];
for (let i = 0; i < wasm.getNumElementSegments(); i++) {
  segments.push(binaryen.getElementSegmentInfo(wasm.getElementSegmentByIndex(i)));
}
const slots = segments.flatMap((seg) => seg.data);
const cut = new Set(slots.filter((f) => promises.test(f)));
if (cut.size === 0) {
  console.error("drop-stream-exports: no future_to_promise closure in the table: check the runtime's names");
  process.exit(1);
}
// The call graph (direct calls and references, names as binaryen prints them): no cut function may be
// reachable from an export, the start function or a slot that stays.
const unquote = (n) => (n.startsWith('"') ? n.slice(1, -1).replace(/\\(.)/g, "$1") : n);
const NAME = String.raw`\$("(?:[^"\\]|\\.)*"|[^\s()]+)`;
const text = wasm.emitText();
const calls = new Map();
for (const body of text.split(/\n (?=\(func )/).slice(1)) {
  const head = body.match(new RegExp(`^\\(func ${NAME}`));
  if (head) {
    calls.set(unquote(head[1]), [...body.matchAll(new RegExp(`\\((?:call|ref\\.func|return_call) ${NAME}`, "g"))].map((m) => unquote(m[1])));
  }
}
// A slot whose function calls a cut one directly is that closure's own vtable shim: it goes too.
for (let grew = true; grew; ) {
  grew = false;
  for (const f of slots) {
    if (!cut.has(f) && (calls.get(f) || []).some((g) => cut.has(g))) {
      cut.add(f);
      grew = true;
    }
  }
}
const roots = [...text.matchAll(new RegExp(`\\((?:export "[^"]*" \\(func|start) ${NAME}`, "g"))].map((m) => unquote(m[1]));
roots.push(...slots.filter((f) => !cut.has(f)));
const live = new Set();
for (const stack = [...roots]; stack.length; ) {
  const f = stack.pop();
  if (!live.has(f)) {
    live.add(f);
    stack.push(...(calls.get(f) || []));
  }
}
console.error(`drop-stream-exports: ${cut.size} table slots trap instead`);
if (live.size < calls.size / 2) {
  console.error(`drop-stream-exports: the call graph looks wrong (${live.size} of ${calls.size} functions live)`);
  process.exit(1);
}
for (const f of cut) {
  if (live.has(f)) {
    console.error(`drop-stream-exports: ${f} is reached by code that stays, not only through the table`);
    process.exit(1);
  }
}
const trap = "holdfast_dead_promise";
wasm.addFunction(trap, binaryen.none, binaryen.none, [], wasm.unreachable());
for (const seg of segments) {
  const data = seg.data.map((f) => (cut.has(f) ? trap : f));
  wasm.removeElementSegment(seg.name);
  wasm.addActiveElementSegment(seg.table, seg.name, data, seg.offset);
}
if (!wasm.validate()) {
  console.error("drop-stream-exports: the module no longer validates");
  process.exit(1);
}
writeFileSync(wasmPath, wasm.emitBinary());
wasm.dispose();

// The glue: the classes, their Symbol.dispose lines, their finalization registries, the streams' enum.
let js = readFileSync(jsPath, "utf8");
js = js.replace(/^export class IntoUnderlying\w+ \{\n[\s\S]*?^\}\n/gm, "");
js = js.replace(/^if \(Symbol\.dispose\) IntoUnderlying\w+\.prototype.*\n/gm, "");
js = js.replace(/^const IntoUnderlying\w+Finalization = [\s\S]*?;\n/gm, "");
js = js.replace(/^const __wbindgen_enum_ReadableStreamType = .*\n/gm, "");
const left = js.match(/intounderlying|IntoUnderlying|ReadableStreamType\b/gi);
if (left) {
  console.error(`drop-stream-exports: the glue still names ${[...new Set(left)].join(", ")}`);
  process.exit(1);
}
writeFileSync(jsPath, js);

// Part of scripts/build-prompts-bundle, between wasm-bindgen and wasm-opt: takes out of the prompt
// bundle the JavaScript classes wasm-streams exports (IntoUnderlyingSource, IntoUnderlyingSink,
// IntoUnderlyingByteSource). Leptos always depends on server_fn, which depends on wasm-streams, and
// a #[wasm_bindgen] export is kept by the linker whether or not anything uses it; the prompts never
// stream, so these are dead weight (about 2 KB brotli). The wasm's exports go through binaryen's
// wasm-metadce (so wasm-opt then drops the code only they reach) and the classes leave the glue.
// Fails if the glue still names anything it took out.
//
// usage: node scripts/drop-stream-exports.mjs BUNDLE_bg.wasm BUNDLE.js (both rewritten in place)
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
  execFileSync(join(root, "node_modules/.bin/wasm-metadce"), [wasmPath, "-f", graphPath, "-o", wasmPath], {
    stdio: ["ignore", "ignore", "inherit"],
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

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

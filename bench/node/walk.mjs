// walk: the peer of ebb/walk.lua, with fs.promises.readdir({ recursive: true,
// withFileTypes: true }). Usage: walk.mjs dir
import { readdir } from "node:fs/promises";
import { join } from "node:path";

const root = process.argv[2];
let files = 0, dirs = 0, chars = 0;
for (const d of await readdir(root, { recursive: true, withFileTypes: true })) {
  if (d.isDirectory()) dirs++;
  else if (d.isFile()) {
    files++;
    chars += join(d.parentPath, d.name).length - root.length;
  }
}
console.log(`walk ${files} files ${dirs} directories ${chars} chars`);

// path: the peer of ebb/path.lua, with path.posix. Usage: path.mjs [rounds]
import { posix as path } from "node:path";

const N = Number(process.argv[2] ?? 1000000);
let total = 0;
for (let i = 1; i <= N; i++) {
  const dir = "/srv/app/src/" + (i % 100);
  const file = path.join(dir, "../lib", "mod" + i + ".lua");
  total += path.basename(file, ".lua").length + path.extname(file).length + path.dirname(file).length;
  total += path.relative("/srv/app", file).length + path.normalize(dir + "//./x/../y/").length;
}
console.log("path " + N + " " + total);

// Regenerates src/data/common-passwords.txt: the 10,000 most common passwords, in rank order,
// taken from the ranked password dictionary of @zxcvbn-ts/language-common (a devDependency).
// The list is committed; run this only to refresh it: node scripts/build-common-passwords.mjs
import { writeFileSync } from "node:fs";
import { dictionary } from "@zxcvbn-ts/language-common";

const COUNT = 10_000;
const seen = new Set();
for (const p of dictionary["passwords-common"]) {
  const normalized = String(p).normalize("NFC").toLowerCase();
  if (normalized.length > 0 && !seen.has(normalized)) seen.add(normalized);
  if (seen.size === COUNT) break;
}
if (seen.size < COUNT) throw new Error(`only ${seen.size} passwords in the source dictionary`);
writeFileSync(new URL("../src/data/common-passwords.txt", import.meta.url), [...seen].join("\n") + "\n");
console.log(`wrote ${seen.size} common passwords to src/data/common-passwords.txt`);

// build.mjs is the web UI's build step (`npm run build`, run by `make web`).
// hlsd's own HTML, CSS and JavaScript modules need no build: Go embeds
// templates/ and static/ as they are. What it does is copy the third-party
// browser libraries, at the exact versions package-lock.json pins, from
// node_modules into dist/vendor/, which the Go binary embeds too; dist/ is
// never committed, so the shipped libraries always come from the registry.
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist', 'vendor');

// [package, file in the package, name in dist/vendor]
const files = [
  ['hls.js', 'dist/hls.min.js', 'hls.min.js'],
  ['hls.js', 'LICENSE', 'hls.js.LICENSE.txt'],
  ['tus-js-client', 'dist/tus.min.js', 'tus.min.js'],
  ['tus-js-client', 'LICENSE', 'tus-js-client.LICENSE.txt'],
];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [pkg, file, name] of files) {
  const src = join(here, 'node_modules', pkg, file);
  if (!existsSync(src)) {
    console.error(`web build: ${src} is missing: run npm ci in web/ first`);
    process.exit(1);
  }
  copyFileSync(src, join(out, name));
}
console.log(`web build: ${files.length} files in dist/vendor`);

// Writes the browser libraries that embed.go embeds into the folder given as
// the argument (`make web-vendor` writes lib/, `make check-web-vendor` a
// temporary folder it compares with lib/), from node_modules as `npm ci`
// installs it from package-lock.json:
//
//   vue.runtime.esm-browser.prod.js  Vue's runtime-only browser build (the app
//                                    renders with h(), so it needs no compiler)
//   bulma.css                        the parts of Bulma that bulma.scss names
//
// each with a gzip (.gz) and a brotli (.br) copy at the highest levels, which
// the server sends to browsers that accept them. The output depends only on
// the lockfile and bulma.scss, so the check can rebuild it byte for byte.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import * as sass from 'sass';

const out = process.argv[2];
if (!out) {
  console.error('usage: node vendor.mjs <output folder>');
  process.exit(2);
}

const bulmaVersion = JSON.parse(fs.readFileSync('node_modules/bulma/package.json', 'utf8')).version;
const bulma = sass.compile('bulma.scss', { loadPaths: ['node_modules'], style: 'compressed', quietDeps: true });

const libs = {
  'vue.runtime.esm-browser.prod.js': fs.readFileSync('node_modules/vue/dist/vue.runtime.esm-browser.prod.js'),
  'bulma.css': Buffer.from(`/*! bulma.io v${bulmaVersion} | MIT License | github.com/jgthms/bulma */\n${bulma.css}\n`),
};

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
for (const [name, body] of Object.entries(libs)) {
  const file = path.join(out, name);
  fs.writeFileSync(file, body);
  fs.writeFileSync(file + '.gz', zlib.gzipSync(body, { level: 9 }));
  fs.writeFileSync(file + '.br', zlib.brotliCompressSync(body, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  }));
}

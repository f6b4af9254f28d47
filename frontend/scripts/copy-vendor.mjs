// Copy the browser builds of npm packages into dist/vendor/<name>/, which Django serves as static files.
//
// The deployment network is closed: no CDN at run time.  Packages come from npm at install time
// (`npm ci`), and this script puts the files pages load under frontend/dist/vendor/, which Django's
// staticfiles (STATICFILES_DIRS + WhiteNoise) serves as /static/vendor/....  Add a package by adding an
// entry to VENDOR; bundled code (a later Vite build) writes its own output beside vendor/.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_MODULES = join(ROOT, 'node_modules');
const OUT = join(ROOT, 'dist', 'vendor');

// package name -> files to copy: [path inside the package, path inside dist/vendor/<name>/]
const VENDOR = {
  // OpenLayers: the UMD build (global `ol`) that Django's admin map widget (OLMapWidget.js) expects.
  ol: [
    ['dist/ol.js', 'ol.js'],
    ['dist/ol.js.map', 'ol.js.map'],
    ['ol.css', 'ol.css'],
    ['LICENSE.md', 'LICENSE.md'],
  ],
  // MapLibre's worker: bundlers do not emit it (it is loaded with `new Worker(url)`), so the map pages
  // point maplibregl.setWorkerUrl() at this copy.  The main library is bundled by Vite (dist/app/).
  'maplibre-gl': [
    ['dist/maplibre-gl-worker.mjs', 'maplibre-gl-worker.mjs'],
    ['LICENSE.txt', 'LICENSE.txt'],
  ],
  // Leaflet for the situation maps folium writes (frontend/situation.py inlines these into the file).
  leaflet: [
    ['dist/leaflet.js', 'leaflet.js'],
    ['dist/leaflet.css', 'leaflet.css'],
    ['dist/images/layers.png', 'images/layers.png'],
    ['dist/images/layers-2x.png', 'images/layers-2x.png'],
    ['dist/images/marker-icon.png', 'images/marker-icon.png'],
    ['LICENSE', 'LICENSE'],
  ],
};

function packageVersion(name) {
  const manifest = JSON.parse(readFileSync(join(NODE_MODULES, name, 'package.json'), 'utf8'));
  return manifest.version;
}

rmSync(OUT, { recursive: true, force: true });
const versions = {};
for (const [name, files] of Object.entries(VENDOR)) {
  const pkgDir = join(NODE_MODULES, name);
  if (!existsSync(pkgDir)) {
    console.error(`copy-vendor: ${name} is not installed; run \`npm ci\` in frontend/ first`);
    process.exit(1);
  }
  for (const [from, to] of files) {
    const src = join(pkgDir, from);
    const dest = join(OUT, name, to);
    if (!existsSync(src)) {
      console.error(`copy-vendor: ${name}/${from} is missing (did the package layout change?)`);
      process.exit(1);
    }
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(src, dest);
  }
  versions[name] = packageVersion(name);
}
// Which versions are deployed, for support questions on machines without internet.
writeFileSync(join(OUT, 'versions.json'), JSON.stringify(versions, null, 2) + '\n');
console.log(`copy-vendor: ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(', ')} -> dist/vendor/`);

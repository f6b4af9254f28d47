// Vite builds the map pages' bundles (src/dispatch/main.js, src/public/main.js) into dist/app/, which
// Django serves under /static/app/ (STATICFILES_DIRS + WhiteNoise).  Django templates are the HTML: the
// manifest (dist/app/manifest.json) tells frontend/assets.py which hashed files an entry needs.
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative URLs inside the bundles (chunks, CSS assets): the pages work under any STATIC_URL.
  base: './',
  publicDir: false,
  build: {
    outDir: 'dist/app',
    emptyOutDir: true,
    manifest: 'manifest.json',
    target: 'es2022',
    sourcemap: false,
    // MapLibre (~1 MB) and ECharts are big by nature; they are split into their own cached chunks.
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: {
        dispatch: 'src/dispatch/main.js',
        public: 'src/public/main.js',
        field: 'src/field/main.js',
        planner: 'src/planner/main.js',
      },
      output: {
        manualChunks(id) {
          if (id.includes('node_modules/maplibre-gl')) return 'maplibre';
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts';
          return undefined;
        },
      },
    },
  },
});

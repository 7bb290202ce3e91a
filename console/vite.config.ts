import { defineConfig } from 'vite';

// esbuild's own JSX transform (React 17+ automatic runtime): no Babel plugin to keep in step with Vite.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One small app: a source map helps whoever debugs it in the browser, and costs nothing at runtime.
    sourcemap: true,
    // The control plane serves a strict CSP (no inline script): keep the preload helper in a file.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});

import { defineConfig } from 'vitest/config';

// Dev server proxies the API (and its WebSocket) to a local `flowly serve`.
// Override the target with FLOWLY_API=http://127.0.0.1:8080 npm run dev.
const api = process.env.FLOWLY_API ?? 'http://127.0.0.1:18090';

export default defineConfig({
  esbuild: {
    jsx: 'automatic',
    jsxImportSource: 'preact',
  },
  resolve: {
    alias: {
      react: 'preact/compat',
      'react-dom': 'preact/compat',
    },
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: api, ws: true, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  test: {
    environment: 'node',
    // The optional end-to-end run (src/e2e) renders the app in happy-dom against a real server.
    environmentOptions: { happyDOM: { url: process.env.FLOWLY_E2E_URL ?? 'http://127.0.0.1:18090/' } },
    testTimeout: 60_000,
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});

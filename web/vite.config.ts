import { defineConfig, type Plugin } from 'vitest/config';

// Dev server proxies the API (and its WebSocket) to a local `flowly serve`.
// Override the target with FLOWLY_API=http://127.0.0.1:8080 npm run dev.
const api = process.env.FLOWLY_API ?? 'http://127.0.0.1:18090';

/**
 * The emoji picker's data (emojibase-data, loaded lazily) keeps only what the picker reads: the
 * emoji, its name, tags and group. Skin-tone variants and codes are most of the file.
 */
function slimEmojiData(): Plugin {
  return {
    name: 'flowly-slim-emoji-data',
    enforce: 'pre',
    transform(code, id) {
      if (!id.replace(/\\/g, '/').endsWith('emojibase-data/en/compact.json')) return null;
      const list = JSON.parse(code) as { unicode: string; label: string; tags?: string[]; group?: number }[];
      return JSON.stringify(list.map(({ unicode, label, tags, group }) => ({ unicode, label, tags, group })));
    },
  };
}

export default defineConfig({
  plugins: [slimEmojiData()],
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

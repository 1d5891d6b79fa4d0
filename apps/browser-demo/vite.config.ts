import { defineConfig } from 'vite'

// The demo is served on 127.0.0.1 (a secure context, so WebCrypto signing works) next to the inspector.
export default defineConfig({
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
  build: { target: 'es2022' },
})

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Dev server: `npx vite web` proxies the API and the viewer socket to a local Omoi server.
const target = process.env.OMOI_DEV_TARGET ?? "http://127.0.0.1:18000";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      "/api": { target, changeOrigin: true, ws: true },
      "/ws": { target, changeOrigin: true, ws: true },
    },
  },
});

// The web app's benchmarks (scripts/bench-ui.sh): timings printed, never asserted.
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

export default defineConfig({ ...base, testDir: "bench", timeout: 300_000 });

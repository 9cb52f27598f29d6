// How long the run page takes from navigation to every chart drawn, when each of its four
// metrics holds 10,000 points: drawn at the default 1,000 points per chart and at all
// 10,000 (`?points=10000`). Printed as median and worst of several loads; never asserted.
import { expect, request as http, test } from "@playwright/test";
import { PASSWORD, account, client } from "../e2e/api";

const METRICS = ["loss", "accuracy", "lr", "grad_norm"];
const POINTS = 10_000;
const LOADS = 9;

function summary(label: string, ms: number[]) {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`${label}: median ${median} ms, worst ${sorted[sorted.length - 1]} ms (${ms.length} loads)`);
}

test("the run page with four metrics of 10,000 points", async ({ page, baseURL }) => {
  const api = await http.newContext({ baseURL });
  const email = `bench-${Date.now()}@bench.test`;
  const me = await account(api, email, "Bench");
  const gql = client(api, me.token);
  const p = await gql(`mutation { createProject(input: { name: "bench" }) { id } }`);
  const e = await gql(`mutation($p: ID!) { createExperiment(input: { projectId: $p, name: "bench" }) { id } }`, {
    p: p.createProject.id,
  });
  const r = await gql(`mutation($e: ID!) { createRun(input: { experimentId: $e, name: "long" }) { id } }`, {
    e: e.createExperiment.id,
  });
  const runId = r.createRun.id;
  for (const key of METRICS) {
    for (let start = 0; start < POINTS; start += 1000) {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ key, value: Math.sin((start + i) / 500), step: start + i }));
      await gql(`mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }`, { r: runId, m: batch });
    }
  }
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/projects$/);

  for (const drawn of [1000, POINTS]) {
    const loads: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      // Settle between loads: each load trades the refresh token, and leaving a page while
      // that trade is in flight loses its successor (the session then ends as a reuse).
      await page.goto("/projects");
      await expect(page.getByRole("heading", { name: "Projects" })).toBeVisible();
      const started = Date.now();
      await page.goto(`/runs/${runId}?points=${drawn}`);
      await expect(page.locator(".chart canvas")).toHaveCount(METRICS.length, { timeout: 30_000 });
      loads.push(Date.now() - started);
    }
    // The sampler keeps each bucket's first, last and extremes: at most `drawn` points.
    const counts = await page.locator(".chart").evaluateAll((charts) => charts.map((c) => Number(c.getAttribute("data-points"))));
    summary(`run page, ${METRICS.length} charts asked for ${drawn.toLocaleString("en")} points (drew ${counts.join(", ")}), navigation to drawn`, loads);
  }
  await api.dispose();
});

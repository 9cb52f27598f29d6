// The web app in a real browser against the real server: what a person does, checked
// through the API, with the security headers, same-origin requests and accessibility.
import AxeBuilder from "@axe-core/playwright";
import { expect, request as http, test, type APIRequestContext, type Browser, type Page } from "@playwright/test";
import { PASSWORD, account, client, raw, type Gql } from "./api";

test.describe.configure({ mode: "serial" });

const stamp = Date.now().toString(36);
const ADMIN = `admin-${stamp}@e2e.test`;
const MEMBER = `member-${stamp}@e2e.test`;
const SCREENSHOTS = process.env.SCREENSHOTS_DIR;

let api: APIRequestContext;
let admin: { token: string; id: string };
let member: { token: string; id: string };
let asMember: Gql;
let asAdmin: Gql;
let projectId: string;
let runId: string;
let modelId: string;
/** Every URL any page asked for, across the whole file. */
const requested: string[] = [];
/** Content-Security-Policy violations and uncaught exceptions, across the whole file. */
const problems: string[] = [];

test.beforeAll(async ({ baseURL }) => {
  api = await http.newContext({ baseURL });
  // On a fresh database the first account becomes ADMIN.
  admin = await account(api, ADMIN, "Ada Admin");
  member = await account(api, MEMBER, "Max Member");
  asAdmin = client(api, admin.token);
  asMember = client(api, member.token);
  const me = await asAdmin(`{ me { role } }`);
  expect(me.me.role, "the e2e server needs a fresh database: its first account is the ADMIN").toBe("ADMIN");
  const d = await asMember(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }`, {
    i: { name: `vision-${stamp}`, description: "Image models" },
  });
  projectId = d.createProject.id;
});

test.afterAll(async () => {
  await api.dispose();
});

async function signIn(page: Page, email: string) {
  page.on("request", (r) => requested.push(r.url()));
  page.on("console", (m) => m.text().includes("Content Security Policy") && problems.push(m.text().slice(0, 300)));
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/projects$/);
}

async function newSignedInPage(browser: Browser, email: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, email);
  return page;
}

async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(", ")}`)).toEqual([]);
}

test("pages carry the security headers and unknown app paths fall back to the app", async ({ request }) => {
  for (const path of ["/", "/login", "/projects/anything", "/no/such/page"]) {
    const res = await request.get(path);
    expect(res.status(), path).toBe(200);
    const csp = res.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers()["x-content-type-options"]).toBe("nosniff");
    expect(await res.text()).toContain('<div id="root">');
  }
  const missing = await request.get("/assets/missing-chunk.js");
  expect(missing.status()).toBe(404);
});

test("signing in shows a project made through the API", async ({ page }) => {
  await page.goto("/projects");
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel("Email").fill(MEMBER);
  await page.getByLabel("Password").fill("wrong password here");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  await expect(page.getByRole("link", { name: "Register" }), "registration is open on the test server").toBeVisible();
  await signIn(page, MEMBER);
  await expect(page.getByRole("link", { name: `vision-${stamp}` })).toBeVisible();
  await expectAccessible(page);
});

test("an experiment made in the UI shows runs logged through the API, and their charts", async ({ page }) => {
  await signIn(page, MEMBER);
  await page.getByRole("link", { name: `vision-${stamp}` }).click();
  await page.getByLabel("Experiment name").fill("resnet-sweep");
  await page.getByRole("button", { name: "Create experiment" }).click();
  await page.getByRole("link", { name: "resnet-sweep" }).click();
  await expect(page.getByText("No runs yet")).toBeVisible();
  const experimentId = page.url().split("/").pop()!;

  // A training job logs through the API while the page is open.
  const run = await asMember(
    `mutation($i: CreateRunInput!) { createRun(input: $i) { id } }`,
    { i: { experimentId, name: "lr-0.1", params: [{ key: "lr", value: "0.1" }, { key: "depth", value: "50" }] } },
  );
  runId = run.createRun.id;
  const points = Array.from({ length: 300 }, (_, step) => ({ key: "loss", value: 2 / (1 + step), step }));
  await asMember(`mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }`, {
    r: runId,
    m: points,
  });
  const other = await asMember(`mutation($i: CreateRunInput!) { createRun(input: $i) { id } }`, {
    i: { experimentId, name: "lr-0.01", params: [{ key: "lr", value: "0.01" }, { key: "depth", value: "50" }] },
  });
  await asMember(`mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }`, {
    r: other.createRun.id,
    m: points.map((p) => ({ ...p, value: p.value * 1.5 })),
  });

  await expect(page.getByRole("link", { name: "lr-0.1", exact: true })).toBeVisible({ timeout: 15_000 });
  await expect(page.getByRole("link", { name: "lr-0.01" })).toBeVisible();
  await expectAccessible(page);

  // The filter builder narrows the table through the API.
  await page.getByText("Filter runs").click();
  await page.getByRole("button", { name: "Param" }).click();
  await page.getByLabel("Key").fill("lr");
  await page.getByLabel("Value").fill("0.01");
  await page.getByRole("button", { name: "Apply filter" }).click();
  await expect(page.getByRole("link", { name: "lr-0.1", exact: true })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "lr-0.01" })).toBeVisible();
  await page.getByRole("button", { name: "Clear" }).click();

  // Compare both.
  await page.getByLabel("Select lr-0.1", { exact: true }).check();
  await page.getByLabel("Select lr-0.01").check();
  await page.getByRole("button", { name: /Compare selected/ }).click();
  await expect(page).toHaveURL(/\/compare\?runs=/);
  await expect(page.locator("tr.differs")).toHaveCount(1); // lr differs, depth does not
  await expect(page.locator(".chart[data-points='600']")).toBeVisible();

  await page.goto(`/runs/${runId}`);
  await expect(page.getByRole("heading", { name: /lr-0.1/ })).toBeVisible();
  const chart = page.locator(".chart[data-points='300']");
  await expect(chart).toBeVisible();
  await expect(chart.locator("canvas")).toBeVisible();
  await expectAccessible(page);

  // An artifact uploaded from the browser through the signed URL, downloaded back.
  const content = "weights: 0.1 0.2 0.3\n";
  await page.getByLabel("Upload a file").setInputFiles({ name: "weights.txt", mimeType: "text/plain", buffer: Buffer.from(content) });
  await expect(page.getByText("weights.txt uploaded.")).toBeVisible();
  const link = page.getByRole("link", { name: "weights.txt" });
  await expect(link).toBeVisible();
  const download = await page.request.get((await link.getAttribute("href"))!);
  expect(await download.text()).toBe(content);
  if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/run.png`, fullPage: true });
});

test("an API token made on the account page works until it is revoked there", async ({ page }) => {
  await signIn(page, MEMBER);
  await page.getByRole("link", { name: "Account" }).click();
  await page.getByLabel("Token name").fill("nightly-ci");
  await page.getByLabel("WRITE").check();
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.locator(".secret code").textContent())!;
  expect(secret.length).toBeGreaterThan(20);
  const me = await client(api, secret)(`{ me { email } }`);
  expect(me.me.email).toBe(MEMBER);
  await page.getByRole("button", { name: "Revoke nightly-ci" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke token" }).click();
  await expect(page.getByRole("button", { name: "Revoke nightly-ci" })).toHaveCount(0);
  const refused = await raw(api, secret, `{ me { email } }`);
  expect(refused.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  await expectAccessible(page);
});

test("a stage change and an alias move made in the UI are visible through the API", async ({ page }) => {
  const model = await asMember(`mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, {
    i: { projectId, name: `classifier-${stamp}` },
  });
  modelId = model.createModel.id;
  for (let i = 0; i < 2; i++) {
    await asMember(`mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { id } }`, {
      i: { modelId, sourceRunId: runId },
    });
  }
  await signIn(page, MEMBER);
  await page.getByRole("link", { name: "Models" }).click();
  await page.getByLabel("Search models by name").fill(`classifier-${stamp}`);
  await page.getByRole("link", { name: `classifier-${stamp}` }).click();

  await page.getByLabel("Stage of version 1").selectOption("PRODUCTION");
  const dialog = page.getByRole("dialog", { name: "Move version 1" });
  await expect(dialog.getByLabel("Archive the version now in PRODUCTION")).toBeChecked();
  await dialog.getByRole("button", { name: "Move to PRODUCTION" }).click();
  await expect(page.getByLabel("Stage of version 1")).toHaveValue("PRODUCTION");

  await page.getByLabel("Alias", { exact: true }).fill("champion");
  await page.getByLabel("Version", { exact: true }).selectOption({ label: "v1" });
  await page.getByRole("button", { name: "Set alias" }).click();
  await expect(page.getByRole("row", { name: /^champion v1/ })).toBeVisible();
  await page.getByLabel("Alias", { exact: true }).fill("champion");
  await page.getByLabel("Version", { exact: true }).selectOption({ label: "v2" });
  await page.getByRole("button", { name: "Set alias" }).click();
  await expect(page.getByText("champion → v2")).toBeVisible();

  const seen = await asMember(
    `query($id: ID!) { model(id: $id) { aliases { alias versionNumber } version(number: 1) { stage } } }`,
    { id: modelId },
  );
  expect(seen.model.version.stage).toBe("PRODUCTION");
  expect(seen.model.aliases).toEqual([{ alias: "champion", versionNumber: 2 }]);
  await expectAccessible(page);
  if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/registry.png`, fullPage: true });

  // The admin's audit log holds both moves, with who made them.
  const log = await asAdmin(`{ auditEvents(filter: { kinds: [STAGE_CHANGED, ALIAS_SET] }) { nodes { kind actor { email } } } }`);
  const kinds = log.auditEvents.nodes.map((n: { kind: string }) => n.kind);
  expect(kinds.filter((k: string) => k === "ALIAS_SET")).toHaveLength(2);
  expect(kinds).toContain("STAGE_CHANGED");
  expect(log.auditEvents.nodes.every((n: { actor: { email: string } }) => n.actor.email === MEMBER)).toBe(true);
});

test("the runs table holds 1,000 runs, and pages fit a phone", async ({ page }) => {
  const project = await asMember(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }`, {
    i: { name: `big-${stamp}` },
  });
  const experiment = await asMember(`mutation($i: CreateExperimentInput!) { createExperiment(input: $i) { id } }`, {
    i: { projectId: project.createProject.id, name: "thousand" },
  });
  const experimentId = experiment.createExperiment.id;
  // Ten CI jobs at once, a hundred runs each.
  await Promise.all(
    Array.from({ length: 10 }, async (_, job) => {
      for (let i = 0; i < 100; i++) {
        await asMember(`mutation($i: CreateRunInput!) { createRun(input: $i) { id } }`, {
          i: { experimentId, name: `run-${job}-${i}`, params: [{ key: "seed", value: String(i) }] },
        });
      }
    }),
  );
  await signIn(page, MEMBER);
  await page.goto(`/experiments/${experimentId}`);
  await expect(page.getByText("100 of 1000 runs")).toBeVisible();
  for (let loaded = 200; loaded <= 1000; loaded += 100) {
    await page.getByRole("button", { name: "Load 100 more" }).click();
    await expect(page.getByText(`${loaded} of 1000 runs`)).toBeVisible();
  }
  await expect(page.locator("table.runs tbody tr")).toHaveCount(1000);
  await expect(page.getByRole("button", { name: "Load 100 more" })).toHaveCount(0);
  // Still usable with all of them on the page: selecting and sorting answer.
  await page.getByLabel("Select run-9-99").check();
  await expect(page.getByRole("button", { name: "Compare selected (1)" })).toBeVisible();
  await page.getByRole("button", { name: "Name" }).click();
  await expect(page.locator("table.runs tbody tr").first()).toContainText("run-0-0");

  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of [`/experiments/${experimentId}`, `/runs/${runId}`, "/models", "/account"]) {
    await page.goto(path);
    await expect(page.locator("h1")).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path} is wider than a phone`).toBeLessThanOrEqual(1);
  }
});

test("a MEMBER is refused at /admin, by the page and by the API", async ({ page, request }) => {
  await signIn(page, MEMBER);
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  const body = await raw(request, member.token, `{ systemStatus { version } }`);
  expect(body.errors[0].extensions.code).toBe("FORBIDDEN");
});

test("the admin dashboard shows the system's status and the audit log", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.getByRole("link", { name: "Admin" }).click();
  await page.getByRole("tab", { name: "System status" }).click();
  await expect(page.getByText("Metric points")).toBeVisible();
  await expect(page.locator(".facts")).toContainText("UP");
  await page.getByRole("tab", { name: "Audit log" }).click();
  await page.getByLabel("Kind").selectOption("SIGN_IN_FAILED");
  await expect(page.locator("td", { hasText: "wrong password" }).first()).toBeVisible();
  await expectAccessible(page);
});

test("an admin disabling a user sends the user's open app to /login", async ({ browser }) => {
  const memberPage = await newSignedInPage(browser, MEMBER);
  const adminPage = await newSignedInPage(browser, ADMIN);
  await adminPage.getByRole("link", { name: "Admin" }).click();
  await adminPage.getByLabel("Search users").fill(MEMBER);
  await adminPage.getByRole("button", { name: `Disable ${MEMBER}` }).click();
  await adminPage.getByRole("dialog").getByRole("button", { name: "Disable account" }).click();
  await expect(adminPage.getByRole("button", { name: `Enable ${MEMBER}` })).toBeVisible();
  // The member does nothing: the open app notices on its own.
  await expect(memberPage).toHaveURL(/\/login/, { timeout: 25_000 });
  const log = await asAdmin(`query($u: ID) { auditEvents(filter: { userId: $u, kinds: [USER_DISABLED] }) { nodes { subject { email } } } }`, {
    u: member.id,
  });
  expect(log.auditEvents.nodes[0].subject.email).toBe(MEMBER);
  await asAdmin(`mutation($id: ID!) { updateUser(id: $id, input: { disabled: false }) { id } }`, { id: member.id });
});

test("GraphiQL comes from the bundle and carries the signed-in user's token", async ({ page }) => {
  await signIn(page, ADMIN);
  const response = await page.goto("/graphql");
  expect(response?.headers()["content-security-policy"]).toContain("default-src 'self'");
  await expect(page.locator(".graphiql-container")).toBeVisible();
  // The editors load after the page: run the default query once it is in place.
  await expect(page.locator(".graphiql-query-editor")).toContainText("me");
  await expect(async () => {
    await page.getByRole("button", { name: /Execute query/i }).click();
    await expect(page.locator(".result-window")).toContainText(ADMIN, { timeout: 3_000 });
  }).toPass({ timeout: 20_000 });
});

test("every request any page made went to the server's own origin", async ({ baseURL }) => {
  expect(requested.length).toBeGreaterThan(20);
  const origin = new URL(baseURL!).origin;
  const foreign = requested.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:") && !u.startsWith("blob:"));
  expect(foreign).toEqual([]);
  expect(problems, "no CSP violation, no uncaught exception").toEqual([]);
});

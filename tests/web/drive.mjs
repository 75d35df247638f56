// Drives the browser page (target/web/, `make web`) in Debian's Chromium with puppeteer-core,
// as a clinician would: fills the form for each case, presses "Assess risk" and reads what
// the page shows. Started by tests/web/test_page.py, which compares the answers with the
// served component's POST /predict.
//
// usage: node tests/web/drive.mjs <page URL> <cases.json> <screenshot dir> [chromium path]
// cases.json: [{"name": "...", "values": {"age": "63", "cp": "1", "ca": "", ...}, "screenshot": bool}, ...]
//             (values are what is typed or selected; "" leaves a field empty)
// stdout: JSON {requests, afterLoad, responses, cspViolations, pageErrors, consoleErrors, form,
//               loadMs, results: [{name, outcome, probability, riskLevel, prediction,
//               contributions, intercept, imputed, errors, fieldErrors}]}
import { readFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [url, casesFile, shotDir, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesFile, "utf8"));

const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const out = { requests: [], afterLoad: [], responses: [], pageErrors: [], consoleErrors: [], results: [] };
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  let loaded = false;
  page.on("request", (r) => {
    const entry = { url: r.url(), method: r.method(), type: r.resourceType() };
    (loaded ? out.afterLoad : out.requests).push(entry);
  });
  page.on("response", (r) => {
    out.responses.push({ url: r.url(), status: r.status(), contentType: r.headers()["content-type"] ?? "" });
  });
  // Errors also go to stderr at once, so a page that never gets ready says why.
  page.on("pageerror", (e) => {
    out.pageErrors.push(String(e));
    process.stderr.write(`page error: ${e}\n`);
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    out.consoleErrors.push(m.text());
    process.stderr.write(`console error: ${m.text()}\n`);
  });
  await page.evaluateOnNewDocument(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.documentElement.dataset.ready, { timeout: 30000 });
  const ready = await page.evaluate(() => document.documentElement.dataset.ready);
  if (ready !== "true") {
    throw new Error(`the page did not load the model: ${await page.$eval("#form-status", (e) => e.textContent)}`);
  }
  await page.waitForNetworkIdle({ idleTime: 300, timeout: 10000 });
  loaded = true;
  out.loadMs = await page.evaluate(() => Number(document.documentElement.dataset.loadMs));

  // The form as shown: each field's label, control, options and hint.
  out.form = await page.$$eval("#fields .field", (fields) => fields.map((f) => {
    const control = f.querySelector("input, select");
    return {
      name: f.dataset.name,
      label: f.querySelector("label").childNodes[0].textContent.trim(),
      optional: f.classList.contains("optional"),
      control: control.tagName.toLowerCase(),
      options: control.tagName === "SELECT"
        ? [...control.options].map((o) => ({ value: o.value, label: o.textContent }))
        : null,
      hint: f.querySelector(".hint").textContent,
    };
  }));

  const fields = new Map(out.form.map((f) => [f.name, f]));
  for (const [i, c] of cases.entries()) {
    for (const [name, value] of Object.entries(c.values)) {
      const field = fields.get(name);
      if (!field) throw new Error(`${c.name}: the form has no field ${name}`);
      const selector = `#f-${name}`;
      if (field.control === "select") {
        const chosen = await page.select(selector, value);
        if (chosen[0] !== value) throw new Error(`${c.name}: ${name} has no option ${JSON.stringify(value)}`);
      } else {
        await page.$eval(selector, (input) => { input.value = ""; });
        if (value !== "") await page.type(selector, value);
        const now = await page.$eval(selector, (input) => input.value);
        if (now !== value) throw new Error(`${c.name}: ${name} reads ${JSON.stringify(now)}, not ${JSON.stringify(value)}`);
      }
    }
    await page.click("#assess");
    await page.waitForFunction((n) => document.forms.patient.dataset.assessments === String(n), {}, i + 1);
    const result = await page.evaluate(() => {
      const form = document.forms.patient;
      const r = { outcome: form.dataset.outcome };
      if (r.outcome === "assessed") {
        r.probability = Number(document.getElementById("probability").dataset.probability);
        r.riskLevel = document.getElementById("risk").dataset.riskLevel;
        r.prediction = Number(document.getElementById("prediction").dataset.prediction);
        r.intercept = Number(document.getElementById("intercept").dataset.intercept);
        r.contributions = Object.fromEntries([...document.querySelectorAll("#contributions [data-feature]")]
          .map((li) => [li.dataset.feature, Number(li.dataset.contribution)]));
        r.imputed = [...document.querySelectorAll("#imputed [data-imputed]")].map((li) => li.dataset.imputed);
        r.shown = document.getElementById("probability").textContent;
      } else {
        r.errors = [...document.querySelectorAll("#errors li")]
          .map((li) => ({ field: li.dataset.field, reason: li.dataset.reason }));
        r.fieldErrors = Object.fromEntries([...document.querySelectorAll(".field .error:not([hidden])")]
          .map((p) => [p.dataset.field, p.textContent]));
      }
      r.resultVisible = !document.getElementById("result").hidden;
      r.errorsVisible = !document.getElementById("invalid").hidden;
      return r;
    });
    out.results.push({ name: c.name, ...result });
    if (c.screenshot) {
      await page.screenshot({ path: join(shotDir, "web.png"), fullPage: true });
      // A phone-sized viewport (not `isMobile`, whose change makes puppeteer reload the page).
      await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2 });
      await page.screenshot({ path: join(shotDir, "web-mobile.png"), fullPage: true });
      await page.setViewport({ width: 1280, height: 900 });
    }
  }
  // Anything the page would still send (beacons, late fetches) shows up here.
  await new Promise((r) => setTimeout(r, 500));
  out.cspViolations = await page.evaluate(() => window.__cspViolations);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));

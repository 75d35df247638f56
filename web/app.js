// The page: instantiates the heart-disease-api component (transpiled by jco) in the browser,
// builds the patient form from the component's own feature table, and assesses each patient
// with the component's typed export heart:predictor/predictor (wit/predictor.wit).
//
// Nothing here knows a feature: names, meanings, units, valid values, optional fields and
// imputation values come from the component (GET /openapi.json and GET /model, answered in
// memory by its wasi:http handler, no network), and every error shown is the component's own
// validation-error. After the page has loaded it makes no request at all.
import * as cli from "@bytecodealliance/preview2-shim/cli";
import * as clocks from "@bytecodealliance/preview2-shim/clocks";
import * as http from "@bytecodealliance/preview2-shim/http";
import * as io from "@bytecodealliance/preview2-shim/io";
import * as random from "@bytecodealliance/preview2-shim/random";
import { createStdio } from "./preview2-stdio.js";
import { wasiImports } from "./wasi-imports.js";
import { instantiate } from "./component/heart.js";

const $ = (id) => document.getElementById(id);

// The component writes one JSON log line to stderr per HTTP request it answers; keep them off
// the console (the stdio override hands out a fresh stream per get-stderr: see that file).
const componentLog = [];
const stdio = createStdio({ stdout: (line) => console.log(line), stderr: (line) => componentLog.push(line) });

const imports = wasiImports({ cli, clocks, http, io, random }, stdio);

/** Instantiates the component, compiling its core modules while they download. */
async function loadComponent() {
  const base = new URL("./component/", import.meta.url);
  const root = await instantiate((name) => WebAssembly.compileStreaming(fetch(new URL(name, base))), imports);
  const predictor = root.predictor ?? root["heart:predictor/predictor@0.1.0"];
  const handler = root.incomingHandler ?? root["wasi:http/incoming-handler@0.2.0"];
  if (!predictor || !handler) throw new Error(`unexpected exports: ${Object.keys(root).join(", ")}`);
  return { predictor, client: new http.InMemoryHttpClient(handler) };
}

/** GET a path from the component's own HTTP handler, in memory (the Request is never sent). */
async function getJson(client, path) {
  const response = await client.fetch(new Request(`http://component.invalid${path}`));
  if (!response.ok) throw new Error(`the component answered ${response.status} to GET ${path}`);
  return response.json();
}

/** "Chest pain type: 1 = typical angina, 2 = …" → ["Chest pain type", {1: "typical angina", …}]. */
function splitDescription(description) {
  const colon = description.indexOf(": ");
  if (colon < 0) return [description, new Map()];
  const codes = new Map();
  for (const [, code, label] of description.slice(colon + 2).matchAll(/(-?\d+(?:\.\d+)?)\s*=\s*([^,]+)/g)) {
    codes.set(Number(code), label.trim());
  }
  return codes.size ? [description.slice(0, colon), codes] : [description, new Map()];
}

/** One form field from the model card's feature and the OpenAPI document's JSON Schema. */
function fieldSpec(card, schema) {
  const [label, codes] = splitDescription(card.description);
  const spec = {
    name: card.name,
    label,
    unit: card.unit,
    required: card.required,
    valid: card.valid,
    imputation: card.imputation_value,
  };
  if (Array.isArray(schema.enum)) {
    spec.levels = schema.enum.filter((v) => v !== null).map((v) => ({ value: v, label: codes.get(v) ?? String(v) }));
  } else {
    spec.min = schema.minimum;
    spec.max = schema.maximum;
    spec.integer = schema.multipleOf === 1;
  }
  return spec;
}

/** How a value of a field reads: the code's meaning, or the number and unit. */
function valueText(spec, value) {
  const level = spec.levels?.find((l) => l.value === value);
  if (level) return level.label;
  return spec.unit ? `${value} ${spec.unit}` : String(value);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

function buildField(spec) {
  const id = `f-${spec.name}`;
  const describedBy = `h-${spec.name} e-${spec.name}`;
  let control;
  if (spec.levels) {
    control = el("select", { id, name: spec.name, "aria-describedby": describedBy },
      el("option", { value: "", text: spec.required ? "— choose —" : "not known (impute)" }),
      ...spec.levels.map((l) => el("option", { value: String(l.value), text: l.label })));
  } else {
    control = el("input", {
      id, name: spec.name, type: "text", inputmode: spec.integer ? "numeric" : "decimal",
      autocomplete: "off", spellcheck: "false", "aria-describedby": describedBy,
      placeholder: spec.required ? "" : "not known",
    });
  }
  const hint = [];
  if (!spec.levels) hint.push(`${spec.min}–${spec.max}${spec.unit ? ` ${spec.unit}` : ""}${spec.integer ? ", whole number" : ""}`);
  if (!spec.required) hint.push(`optional: if not known, imputed as ${valueText(spec, spec.imputation)}`);
  return el("div", { class: `field${spec.required ? "" : " optional"}`, "data-name": spec.name },
    el("label", { for: id }, spec.label, spec.required ? "" : el("span", { class: "tag", text: "optional" })),
    control,
    el("p", { class: "hint", id: `h-${spec.name}` }, hint.join(" · "), hint.length ? " · " : "", el("code", { text: spec.name })),
    el("p", { class: "error", id: `e-${spec.name}`, "data-field": `/${spec.name}`, hidden: true }));
}

/** The form's values as the WIT patient record: empty optional → none (imputed), empty
 * required → NaN, which the component refuses like any other invalid number. */
function readPatient(form, specs) {
  const patient = {};
  for (const spec of specs) {
    const raw = form.elements[spec.name].value.trim().replace(",", ".");
    patient[spec.name] = raw === "" ? (spec.required ? NaN : undefined) : Number(raw);
  }
  return patient;
}

function clearErrors(specs) {
  for (const spec of specs) {
    const box = $(`e-${spec.name}`);
    box.hidden = true;
    box.textContent = "";
    box.removeAttribute("data-reason");
    $(`f-${spec.name}`).removeAttribute("aria-invalid");
  }
  $("errors").replaceChildren();
  $("invalid").hidden = true;
}

function showErrors(errors, specs) {
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const { field, reason } of errors) {
    const spec = byName.get(field.replace(/^\//, ""));
    if (spec) {
      const box = $(`e-${spec.name}`);
      box.textContent = box.textContent ? `${box.textContent}; ${reason}` : reason;
      box.dataset.reason = reason;
      box.hidden = false;
      $(`f-${spec.name}`).setAttribute("aria-invalid", "true");
    }
    $("errors").append(el("li", { "data-field": field, "data-reason": reason },
      el("strong", { text: spec ? spec.label : field || "patient" }), `: ${reason}`));
  }
  $("result").hidden = true;
  $("invalid").hidden = false;
  const first = errors.map((e) => byName.get(e.field.replace(/^\//, ""))).find(Boolean);
  if (first) $(`f-${first.name}`).focus();
}

const percent = (p) => `${(100 * p).toFixed(1)} %`;
/** A threshold as a percentage without a needless ".0" (0.3 → "30 %"). */
const threshold = (p) => `${Number((100 * p).toFixed(1))} %`;
const signed = (x) => `${x > 0 ? "+" : x < 0 ? "−" : ""}${Math.abs(x).toFixed(2)}`;

function showAssessment(a, patient, specs, card) {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const p = $("probability");
  p.textContent = percent(a.probability);
  p.dataset.probability = String(a.probability);
  const risk = $("risk");
  risk.textContent = `${a.riskLevel} risk`;
  risk.dataset.riskLevel = a.riskLevel;
  risk.className = `risk risk-${a.riskLevel}`;
  $("scale-marker").style.left = `${100 * a.probability}%`;
  const prediction = $("prediction");
  prediction.dataset.prediction = String(a.prediction);
  prediction.textContent = a.prediction === 1
    ? `At or above the model's decision threshold (${threshold(card.decision_threshold)}): heart disease likely.`
    : `Below the model's decision threshold (${threshold(card.decision_threshold)}): heart disease unlikely.`;

  const imputed = new Set(a.imputed);
  $("imputed").replaceChildren(...a.imputed.map((name) => {
    const spec = byName.get(name);
    return el("li", { "data-imputed": name },
      el("strong", { text: spec.label }), ` not given: imputed as ${valueText(spec, spec.imputation)} (the training data's most frequent value).`);
  }));
  $("imputed-box").hidden = a.imputed.length === 0;

  const scale = Math.max(0.5, ...a.contributions.map((c) => Math.abs(c.value)));
  const rows = [...a.contributions].sort((x, y) => Math.abs(y.value) - Math.abs(x.value)).map(({ feature, value }) => {
    const spec = byName.get(feature);
    const given = imputed.has(feature) ? spec.imputation : patient[feature];
    const width = (50 * Math.abs(value)) / scale;
    const bar = el("span", { class: `bar ${value > 0 ? "up" : "down"}` });
    bar.style.width = `${width}%`;
    bar.style.left = value > 0 ? "50%" : `${50 - width}%`;
    return el("li", { "data-feature": feature, "data-contribution": String(value) },
      el("span", { class: "what" }, el("span", { class: "name", text: spec.label }),
        el("span", { class: "value", text: `${valueText(spec, given)}${imputed.has(feature) ? " (imputed)" : ""}` })),
      el("span", { class: "track", role: "img", "aria-label": `${signed(value)} log-odds` }, bar),
      el("span", { class: "num", text: signed(value) }));
  });
  $("contributions").replaceChildren(...rows);
  const findings = a.contributions.reduce((s, c) => s + c.value, 0);
  const intercept = $("intercept");
  intercept.dataset.intercept = String(a.intercept);
  intercept.textContent = `Baseline (intercept) ${signed(a.intercept)}, findings ${signed(findings)}: `
    + `log-odds ${signed(a.intercept + findings)}, probability ${percent(a.probability)}. Model ${a.modelVersion}.`;
  $("invalid").hidden = true;
  $("result").hidden = false;
}

/** "probability < 0.3" → 0.3: the thresholds of the model card's risk levels. */
function riskThresholds(card) {
  const num = (text) => Number(/(\d*\.\d+|\d+)\s*$/.exec(text.trim())?.[1]);
  return { moderate: num(card.risk_levels.low), high: num(card.risk_levels.high) };
}

async function main() {
  const started = performance.now();
  const { predictor, client } = await loadComponent();
  const loadedMs = performance.now() - started;
  const [openapi, card] = await Promise.all([getJson(client, "/openapi.json"), getJson(client, "/model")]);
  const schema = openapi.components.schemas.Patient.properties;
  const specs = card.features.map((f) => fieldSpec(f, schema[f.name]));

  const form = $("patient");
  $("fields").replaceChildren(...specs.map(buildField));
  const { moderate, high } = riskThresholds(card);
  $("scale").style.setProperty("--moderate", `${100 * moderate}%`);
  $("scale").style.setProperty("--high", `${100 * high}%`);
  $("scale-legend").replaceChildren(el("span", { text: `low < ${threshold(moderate)}` }),
    el("span", { text: "moderate" }), el("span", { text: `high ≥ ${threshold(high)}` }));
  const data = card.training_data;
  $("about").textContent = `Model ${card.model_version}: ${card.algorithm}, trained on ${data.rows} patients `
    + `(${data.source}, ${data.license}). The component loaded in ${Math.round(loadedMs)} ms.`;
  $("limitations").textContent = [card.intended_use, ...card.limitations].join(" ");

  let assessments = 0;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(specs);
    const patient = readPatient(form, specs);
    try {
      showAssessment(predictor.predict(patient), patient, specs, card);
      form.dataset.outcome = "assessed";
    } catch (e) {
      if (!Array.isArray(e?.payload?.errors)) throw e;
      showErrors(e.payload.errors, specs);
      form.dataset.outcome = "invalid";
    }
    form.dataset.assessments = String(++assessments);
  });
  form.addEventListener("reset", () => {
    clearErrors(specs);
    $("result").hidden = true;
  });
  $("form-status").textContent = "";
  $("form-status").hidden = true;
  $("assess").disabled = false;
  document.documentElement.dataset.loadMs = String(Math.round(loadedMs));
  document.documentElement.dataset.ready = "true";
}

main().catch((error) => {
  console.error(error);
  const status = $("form-status");
  status.hidden = false;
  status.textContent = `The model could not be loaded in this browser: ${error?.message ?? error}`;
  status.classList.add("failed");
  document.documentElement.dataset.ready = "error";
});

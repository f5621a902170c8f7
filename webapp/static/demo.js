// The demo page: send an image (file, drop, paste, camera, drawing) or a form row to the
// model through POST /demo/<name>/predict, run the same model.onnx in the page with
// onnxruntime-web on the same preprocessed input, and show both answers side by side.
// Everything shown is set with textContent: names and labels from a manifest are text.

import { BlankImage, flattenToMode, prepareImage, sniffImage } from "./prepare.js";

const root = document.getElementById("demo");
const config = {
  model: root.dataset.model,
  kind: root.dataset.kind,
  predictUrl: root.dataset.predictUrl,
  modelUrl: root.dataset.modelUrl,
  ortUrl: root.dataset.ortUrl,
  ortBase: root.dataset.ortBase,
  input: JSON.parse(root.dataset.input),
  labels: JSON.parse(root.dataset.labels),
  features: JSON.parse(root.dataset.features),
  maxBytes: Number(root.dataset.maxBytes),
  outputKind: root.dataset.outputKind,
};
const TOP_BARS = 5;
// A missing category in a string input (model_store/specs.py MISSING_CATEGORY).
const MISSING_CATEGORY = "";
const results = root.querySelector(".results");
const errorBox = document.getElementById("error");
const parity = document.getElementById("parity");
// For the tests: the last comparison, readable from the page.
window.featherserveDemo = { last: null, prepare: { flattenToMode, prepareImage, sniffImage } };

let sessionPromise = null;

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function session() {
  if (!sessionPromise) {
    sessionPromise = (async () => {
      const ort = await import(config.ortUrl);
      ort.env.wasm.wasmPaths = config.ortBase;
      ort.env.wasm.numThreads = 1;  // no workers, no cross-origin isolation needed
      ort.env.wasm.proxy = false;
      const response = await fetch(config.modelUrl);
      if (!response.ok) throw new Error(`model file: HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const created = await ort.InferenceSession.create(bytes, {
        executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      return { ort, session: created };
    })();
    sessionPromise.catch(() => { sessionPromise = null; });
  }
  return sessionPromise;
}

async function runInBrowser(input) {
  const { ort, session: model } = await session();
  // One float32 input, or (tabular "columns" layout) one [1, 1] tensor per feature.
  const feeds = input.feeds
    ? Object.fromEntries(Object.entries(input.feeds).map(([name, { type, data, dims }]) => [
      name, new ort.Tensor(type, data, dims)]))
    : { [model.inputNames[0]]: new ort.Tensor("float32", input.data, input.dims) };
  const started = performance.now();
  const outputs = await model.run(feeds);
  const elapsed = performance.now() - started;
  const output = outputs[model.outputNames.includes("probabilities") ? "probabilities"
    : model.outputNames[0]];
  return { scores: softmaxIfLogits(Array.from(output.data)), elapsed };
}

function softmaxIfLogits(scores) {
  if (config.outputKind !== "logits") return scores;
  const top = Math.max(...scores);
  const exps = scores.map((v) => Math.exp(v - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / total);
}

function render(columnId, ranked, timing) {
  const column = document.getElementById(columnId);
  const label = column.querySelector(".label");
  const bars = column.querySelector(".bars");
  const time = column.querySelector(".timing");
  bars.replaceChildren();
  if (!ranked) {
    label.textContent = "—";
    time.textContent = timing || "";
    return;
  }
  label.textContent = ranked[0].label;
  for (const { label: name, score } of ranked.slice(0, TOP_BARS)) {
    const item = document.createElement("li");
    const text = document.createElement("span");
    text.className = "bar-label";
    text.textContent = name;
    const meter = document.createElement("span");
    meter.className = "bar";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${Math.max(0, Math.min(100, score * 100)).toFixed(1)}%`;
    meter.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = score.toFixed(4);
    item.append(text, meter, value);
    bars.append(item);
  }
  time.textContent = timing;
}

function rankScores(scores) {
  return scores.map((score, index) => ({ label: config.labels[index], index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
}

function serverTiming(header) {
  const found = {};
  for (const part of (header || "").split(",")) {
    const match = part.trim().match(/^([a-z]+);dur=([0-9.]+)$/);
    if (match) found[match[1]] = Number(match[2]);
  }
  return found;
}

async function askServer(body, contentType) {
  const url = `${config.predictUrl}?top_k=${config.labels.length || 1}`;
  const started = performance.now();
  const response = await fetch(url, { method: "POST", body, headers: { "Content-Type": contentType } });
  const roundTrip = performance.now() - started;
  const payload = await response.json().catch(() => null);
  if (!response.ok || !payload || !payload.predictions) {
    const message = payload && payload.error ? payload.error.message : `HTTP ${response.status}`;
    throw new Error(`The server said: ${message}`);
  }
  return { prediction: payload.predictions[0], version: payload.version, roundTrip,
    timing: serverTiming(response.headers.get("Server-Timing")) };
}

function compare(server, browser, exactInput, why) {
  // Both halves are done, each shown already: say how they compare, when both answered.
  const last = { done: true, server: server.prediction || null,
    serverError: server.error || null, browser: browser.scores || null,
    browserError: browser.error || null, exactInput: Boolean(exactInput) };
  if (last.serverError) last.error = last.serverError;
  window.featherserveDemo.last = last;
  if (!last.server || !last.browser) {
    parity.textContent = !last.browser ? `In the browser: ${browser.error || why || "not run"}`
      : "No server answer to compare with.";
    if (last.browser && last.browser.length && config.labels.length) {
      last.browserLabel = rankScores(last.browser)[0].label;
    }
    return;
  }
  if (!last.server.top) {  // regression: one value
    last.largest = Math.abs(last.server.value - last.browser[0]);
    parity.textContent = `Largest difference ${last.largest.toExponential(2)}.`;
    return;
  }
  const serverScores = new Map(last.server.top.map((t) => [t.label, t.score]));
  let largest = 0;
  last.browser.forEach((score, index) => {
    const other = serverScores.get(config.labels[index]);
    if (other !== undefined) largest = Math.max(largest, Math.abs(other - score));
  });
  last.browserLabel = rankScores(last.browser)[0].label;
  last.largest = largest;
  const same = last.browserLabel === last.server.label;
  parity.textContent = `${same ? "Same label" : "Different labels"}; largest probability `
    + `difference ${largest.toExponential(2)}`
    + (exactInput ? " (same preprocessed input, bit for bit)." : ` (${why}).`);
}

function showServer(server) {
  const t = server.timing;
  const serverTime = t.inference !== undefined
    ? `inference ${t.inference.toFixed(2)} ms (+ preprocessing ${(t.preprocess || 0).toFixed(2)} ms) on the server; round trip ${server.roundTrip.toFixed(0)} ms`
    : `round trip ${server.roundTrip.toFixed(0)} ms`;
  render("server", server.prediction.top ? server.prediction.top : null, serverTime);
  if (!server.prediction.top) {
    document.querySelector("#server .label").textContent = String(server.prediction.value);
  }
}

function showBrowser(browser, why) {
  if (!browser) {
    render("browser", null, why || "");
    return;
  }
  const timing = `inference ${browser.elapsed.toFixed(2)} ms in this page`;
  if (config.labels.length) {
    render("browser", rankScores(browser.scores), timing);
  } else {  // regression: one value
    render("browser", null, timing);
    document.querySelector("#browser .label").textContent = String(browser.scores[0]);
  }
}

async function predict(serverBody, contentType, browserInput) {
  // The server and the browser answer independently: each column shows its own answer (or
  // its own error) as soon as it has one, and one failing never holds up the other.
  showError("");
  results.hidden = false;
  parity.textContent = "";
  window.featherserveDemo.last = null;
  render("server", null, "asking the model's function…");
  const runnable = Boolean(browserInput.data || browserInput.feeds);
  render("browser", null, runnable ? "running onnxruntime-web…" : "");
  const serverDone = askServer(serverBody, contentType).then((server) => {
    showServer(server);
    return server;
  }, (error) => {
    render("server", null, error.message);
    document.querySelector("#server .label").textContent = "unavailable";
    showError(error.message);
    return { error: error.message };
  });
  const browserDone = (runnable ? runInBrowser(browserInput) : Promise.resolve(null))
    .then((browser) => {
      showBrowser(browser, browserInput.why);
      return browser || { error: browserInput.why || "" };
    }, (error) => {
      render("browser", null, `could not run here: ${error.message}`);
      return { error: error.message };
    });
  const [server, browser] = await Promise.all([serverDone, browserDone]);
  compare(server, browser, browserInput.exact && !browser.error, browserInput.why);
}

// -- images ------------------------------------------------------------------------------
async function decodeRGBA(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none",
    premultiplyAlpha: "none", imageOrientation: "from-image" });
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const { data } = context.getImageData(0, 0, bitmap.width, bitmap.height);
  bitmap.close();
  return { rgba: data, width: canvas.width, height: canvas.height };
}

async function shrinkToFit(blob) {
  // A phone photo can be larger than the demo's body limit: send a smaller JPEG instead
  // (the browser runs the model on those same bytes).
  const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
  const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
}

async function browserImageInput(blob) {
  const spec = config.input;
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const source = sniffImage(bytes);
  try {
    const { rgba, width, height } = await decodeRGBA(blob);
    if (width * height > 4096 * 4096) return { why: "the image is too large to run here" };
    const { image, exact, why } = flattenToMode(rgba, width, height, spec, source);
    const data = prepareImage(image, spec);
    const channels = spec.mode === "L" ? 1 : 3;
    return { data, dims: [1, channels, spec.height, spec.width], exact, why };
  } catch (error) {
    if (error instanceof BlankImage) return { why: "the image looks blank" };
    return { why: `the browser could not read the image (${error.message})` };
  }
}

async function predictImage(blob) {
  if (!blob || !blob.type.startsWith("image/")) {
    showError("Choose an image file (PNG, JPEG, WebP, BMP or GIF).");
    return;
  }
  let upload = blob;
  if (upload.size > config.maxBytes) upload = await shrinkToFit(upload);
  const preview = document.getElementById("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(upload);
  preview.parentElement.hidden = false;
  await predict(upload, "application/octet-stream", await browserImageInput(upload));
}

function setUpImage() {
  const drop = document.getElementById("drop");
  for (const id of ["file", "camera"]) {
    document.getElementById(id).addEventListener("change", (event) => {
      const [file] = event.target.files;
      if (file) predictImage(file);
      event.target.value = "";
    });
  }
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const [file] = event.dataTransfer.files;
    if (file) predictImage(file);
  });
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((i) => i.type.startsWith("image/"));
    if (item) predictImage(item.getAsFile());
  });
  const pad = document.getElementById("pad");
  if (pad) setUpPad(pad);
}

function setUpPad(pad) {
  const context = pad.getContext("2d");
  const clear = () => {
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  context.lineCap = "round";
  context.lineJoin = "round";
  context.strokeStyle = "#000000";
  context.lineWidth = pad.width / 14;
  let drawing = false;
  const point = (event) => {
    const rect = pad.getBoundingClientRect();
    return [(event.clientX - rect.left) * (pad.width / rect.width),
      (event.clientY - rect.top) * (pad.height / rect.height)];
  };
  pad.addEventListener("pointerdown", (event) => {
    drawing = true;
    pad.setPointerCapture(event.pointerId);
    const [x, y] = point(event);
    context.beginPath();
    context.moveTo(x, y);
    context.lineTo(x, y);
    context.stroke();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const [x, y] = point(event);
    context.lineTo(x, y);
    context.stroke();
  });
  const stop = () => { drawing = false; };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  document.getElementById("clear-pad").addEventListener("click", clear);
  document.getElementById("predict-drawing").addEventListener("click", () => {
    pad.toBlob((blob) => predictImage(blob), "image/png");
  });
}

// -- tabular -----------------------------------------------------------------------------
function setUpForm() {
  const form = document.getElementById("features");
  const features = config.input.features;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const instance = {};
    const numbers = [];
    // The "columns" layout (text categories): one [1, 1] tensor per feature, laid out as
    // model_runtime/tabular.py does: strings (MISSING_CATEGORY, "", where missing) and
    // float32 numbers (NaN where missing); the graph imputes and encodes them itself.
    const feeds = {};
    for (const [index, feature] of features.entries()) {
      const field = document.getElementById(`f${index}`);
      // A category is the card's value as spelled (" Male" keeps its space); a number
      // may have spaces around it.
      const raw = feature.kind === "category" ? field.value : field.value.trim();
      if (raw === "" && !feature.allow_missing) {
        showError(`${feature.name} needs a value.`);
        field.focus();
        return;
      }
      if (feature.kind === "category") {
        instance[feature.name] = raw === "" ? null : raw;
        feeds[feature.name] = { type: "string", data: [raw === "" ? MISSING_CATEGORY : raw],
          dims: [1, 1] };
      } else {
        const value = raw === "" ? null : Number(raw);
        if (value !== null && !Number.isFinite(value)) {
          showError(`${feature.name} must be a number.`);
          return;
        }
        instance[feature.name] = value;
        numbers.push(value === null ? NaN : value);
        feeds[feature.name] = { type: "float32", data: Float32Array.of(numbers.at(-1)),
          dims: [1, 1] };
      }
    }
    const body = JSON.stringify({ instances: [instance] });
    const browserInput = config.input.layout === "columns"
      ? { feeds, exact: true, why: "" }
      : { data: Float32Array.from(numbers), dims: [1, numbers.length], exact: true, why: "" };
    await predict(body, "application/json", browserInput);
  });
}

if (config.kind === "image") setUpImage(); else setUpForm();
root.dataset.ready = "true";

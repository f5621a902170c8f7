// The server's image preprocessing (preprocessing/prepare.py and the reduce/flatten steps
// of preprocessing/imaging.py), ported step by step so the browser feeds the model the
// same tensor: Pillow's operations come from pillow.js, NumPy's arithmetic is redone in
// float32 (Math.fround) with NumPy's order of additions. The test suite compares this
// port with the Python one on a set of images (tests/e2e/test_web_browser.py).

import { overWhite, premultiply, reduce, resize, rgbToL, unpremultiply } from "./pillow.js";

const f32 = Math.fround;
const BLANK_CONTRAST = 10.0;
const INK_THRESHOLD = 0.3 * 255;
const INK_TRIM = 0.004;
const LUMA = [f32(0.299), f32(0.587), f32(0.114)];

export class BlankImage extends Error {}

/** Python's round() and NumPy's rint(): halves go to the even neighbour. */
export function roundHalfEven(x) {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** NumPy's pairwise summation of a float32 run (what ``sum`` does along a contiguous axis). */
function pairwiseSum(values, start, n) {
  if (n < 8) {
    let res = f32(0);
    for (let i = 0; i < n; i++) res = f32(res + values[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(values[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] = f32(r[j] + values[start + i + j]);
    }
    let res = f32(f32(f32(r[0] + r[1]) + f32(r[2] + r[3])) + f32(f32(r[4] + r[5]) + f32(r[6] + r[7])));
    for (; i < n; i++) res = f32(res + values[start + i]);
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return f32(pairwiseSum(values, start, half) + pairwiseSum(values, start + half, n - half));
}

export function workingSide(spec) {
  return Math.min(1024, Math.max(64, 4 * Math.max(spec.height, spec.width)));
}

function reduceTo(image, side) {
  const factor = Math.ceil(Math.max(image.width, image.height) / side);
  return factor >= 2 ? reduce(image, factor, factor) : image;
}

/** Decoded RGBA → the 8-bit "L" or "RGB" image the server works on (decode, flatten, mode),
 * and whether the browser saw the same pixels the server decodes (see ``sniffImage``). */
export function flattenToMode(rgba, width, height, spec, source) {
  const n = width * height;
  const planes = [0, 1, 2, 3].map(() => new Uint8Array(n));
  let transparent = false;
  let partial = false;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 4; c++) planes[c][i] = rgba[i * 4 + c];
    const alpha = planes[3][i];
    if (alpha !== 255) transparent = true;
    if (alpha !== 255 && alpha !== 0) partial = true;
  }
  let exact = source.exact;
  let why = source.why;
  if (partial) {
    // The canvas stores premultiplied pixels: a half-transparent pixel loses precision.
    exact = false;
    why = "the image is partly transparent";
  } else if (transparent && !source.alphaExact) {
    exact = false;
    why = `${source.format} transparency is read differently by the server's decoder`;
  }
  const side = workingSide(spec);
  let image;
  if (!transparent) {
    image = reduceTo({ width, height, planes: planes.slice(0, 3) }, side);
  } else if (source.palette) {
    // A palette image is flattened before it is reduced (Pillow cannot reduce mode "P").
    image = reduceTo({ width, height, planes: overWhite(planes) }, side);
  } else {
    // RGBA/LA are reduced premultiplied (as Pillow does), then flattened over white.
    const reduced = reduceTo({ width, height, planes: premultiply(planes) }, side);
    image = { ...reduced, planes: overWhite(unpremultiply(reduced.planes)) };
  }
  if (spec.mode === "L") {
    const [r, g, b] = image.planes;
    image = { ...image, planes: [rgbToL(r, g, b)] };
  }
  return { image, exact, why };
}

function luminance(planes) {
  if (planes.length === 1) return Float32Array.from(planes[0]);
  const [r, g, b] = planes;
  const out = new Float32Array(r.length);
  for (let i = 0; i < r.length; i++) {
    out[i] = f32(f32(f32(r[i] * LUMA[0]) + f32(g[i] * LUMA[1])) + f32(b[i] * LUMA[2]));
  }
  return out;
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2) return sorted[middle];
  return (sorted[middle - 1] + sorted[middle]) / 2;
}

function borderMedian(gray, width, height) {
  const ring = Math.max(1, roundHalfEven(0.04 * Math.min(height, width)));
  const edges = [];
  for (let y = 0; y < ring; y++) for (let x = 0; x < width; x++) edges.push(gray[y * width + x]);
  for (let y = height - ring; y < height; y++) {
    for (let x = 0; x < width; x++) edges.push(gray[y * width + x]);
  }
  for (let y = 0; y < height; y++) for (let x = 0; x < ring; x++) edges.push(gray[y * width + x]);
  for (let y = 0; y < height; y++) {
    for (let x = width - ring; x < width; x++) edges.push(gray[y * width + x]);
  }
  return median(edges);
}

function blurredExtremes(gray, width, height) {
  const grey = gray instanceof Uint8Array ? gray
    : Uint8Array.from(gray, (v) => Math.min(255, Math.max(0, roundHalfEven(v))));
  if (Math.min(width, height) < 3) {
    let low = 255;
    let high = 0;
    for (const v of grey) { low = Math.min(low, v); high = Math.max(high, v); }
    return [low, high];
  }
  let low = Infinity;
  let high = -Infinity;
  for (let y = 0; y + 2 < height; y++) {
    for (let x = 0; x + 2 < width; x++) {
      let sum = 0;
      for (let dy = 0; dy < 3; dy++) {
        for (let dx = 0; dx < 3; dx++) sum += grey[(y + dy) * width + x + dx];
      }
      low = Math.min(low, sum);
      high = Math.max(high, sum);
    }
  }
  return [low / 9, high / 9];
}

function inkContrast(image) {
  const gray = image.planes.length === 1 ? image.planes[0] : luminance(image.planes);
  const [low, high] = blurredExtremes(gray, image.width, image.height);
  const background = borderMedian(gray, image.width, image.height);
  return {
    darkOnLight: background - low > high - background,
    peak: (flipped) => (flipped ? background - low : high - background),
  };
}

function crossing(cumulative, profile, level) {
  let index = 0;
  while (index < cumulative.length && cumulative[index] < level) index++;  // searchsorted left
  index = Math.min(index, profile.length - 1);
  const before = index ? cumulative[index - 1] : 0.0;
  const inside = profile[index];
  return index + (inside > 0 ? Math.min(Math.max((level - before) / inside, 0.0), 1.0) : 0.0);
}

function trimmedSpan(profile) {
  const cumulative = new Float64Array(profile.length);
  let running = 0.0;
  for (let i = 0; i < profile.length; i++) { running += profile[i]; cumulative[i] = running; }
  const total = cumulative[cumulative.length - 1];
  const start = crossing(cumulative, profile, INK_TRIM * total);
  const stop = crossing(cumulative, profile, (1.0 - INK_TRIM) * total);
  // At least one pixel wide, never past the edge (as preprocessing/prepare.py).
  const length = profile.length;
  const first = Math.min(start, length - 1.0);
  return [first, Math.min(Math.max(stop, first + 1.0), length)];
}

function inkBounds(mass, width, height) {
  if (!mass.some((v) => v > 0)) return [0.0, 0.0, width, height];
  const rows = new Float32Array(height);   // sum(axis=1): pairwise along each row
  for (let y = 0; y < height; y++) rows[y] = pairwiseSum(mass, y * width, width);
  const columns = new Float32Array(width);  // sum(axis=0): row after row
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) columns[x] = f32(columns[x] + mass[y * width + x]);
  }
  const [top, bottom] = trimmedSpan(rows);
  const [left, right] = trimmedSpan(columns);
  return [left, top, right, bottom];
}

function fitCentred(work, width, height, box, spec) {
  const boxW = Math.max(1, roundHalfEven((1.0 - 2.0 * spec.padding) * spec.width));
  const boxH = Math.max(1, roundHalfEven((1.0 - 2.0 * spec.padding) * spec.height));
  const [left, top, right, bottom] = box;
  const w = right - left;
  const h = bottom - top;
  const scale = Math.min(boxW / w, boxH / h);
  const sizeW = Math.max(1, roundHalfEven(w * scale));
  const sizeH = Math.max(1, roundHalfEven(h * scale));
  const x0 = Math.floor((spec.width - sizeW) / 2);
  const y0 = Math.floor((spec.height - sizeH) / 2);
  return work.map((plane) => {
    const canvas = new Float32Array(spec.width * spec.height);
    const resized = resize({ width, height, planes: [plane] }, sizeW, sizeH, box).planes[0];
    for (let y = 0; y < sizeH; y++) {
      for (let x = 0; x < sizeW; x++) {
        canvas[(y0 + y) * spec.width + x0 + x] = Math.min(255, Math.max(0, resized[y * sizeW + x]));
      }
    }
    return canvas;
  });
}

function inkBox(image, spec, peak) {
  const { width, height } = image;
  const work = image.planes.map((plane) => {
    const background = f32(borderMedian(plane, width, height));
    return Float32Array.from(plane, (v) => Math.max(f32(v - background), 0));
  });
  if (peak < BLANK_CONTRAST) throw new BlankImage("the image looks blank");
  const scale = f32(255.0 / peak);
  for (const plane of work) {
    for (let i = 0; i < plane.length; i++) plane[i] = Math.min(f32(plane[i] * scale), 255);
  }
  const level = work.length === 1 ? work[0] : luminance(work);
  const mass = level.map((v) => (v >= INK_THRESHOLD ? v : 0.0));
  return fitCentred(work, width, height, inkBounds(mass, width, height), spec);
}

function resizeWhole(image, spec) {
  const { width, height } = image;
  const target = [spec.width, spec.height];
  let out;
  if (spec.resize === "stretch") {
    out = resize(image, target[0], target[1]);
  } else if (spec.resize === "fit-pad") {
    const scale = Math.min(target[0] / width, target[1] / height);
    const w = Math.min(target[0], Math.max(1, roundHalfEven(width * scale)));
    const h = Math.min(target[1], Math.max(1, roundHalfEven(height * scale)));
    const small = resize(image, w, h);
    const x0 = Math.floor((target[0] - w) / 2);
    const y0 = Math.floor((target[1] - h) / 2);
    out = { width: target[0], height: target[1], planes: small.planes.map((plane) => {
      const canvas = new Uint8Array(target[0] * target[1]);
      for (let y = 0; y < h; y++) canvas.set(plane.subarray(y * w, y * w + w), (y0 + y) * target[0] + x0);
      return canvas;
    }) };
  } else {  // center-crop: prepare.py's center_crop_box (the side that fits taken exactly)
    let cropW = width;
    let cropH = height;
    if (target[0] * height >= target[1] * width) cropH = Math.min(height, width * target[1] / target[0]);
    else cropW = Math.min(width, height * target[0] / target[1]);
    const left = (width - cropW) / 2;
    const top = (height - cropH) / 2;
    out = resize(image, target[0], target[1],
      [left, top, Math.min(width, left + cropW), Math.min(height, top + cropH)]);
  }
  return out.planes.map((plane) => Float32Array.from(plane));
}

function normalise(canvas, spec) {
  const scale = f32(1.0 / 255.0);
  const out = new Float32Array(canvas.length * canvas[0].length);
  canvas.forEach((plane, c) => {
    const mean = f32(spec.mean[c]);
    const std = f32(spec.std[c]);
    for (let i = 0; i < plane.length; i++) {
      out[c * plane.length + i] = f32(f32(f32(plane[i] * scale) - mean) / std);
    }
  });
  return out;
}

/** An 8-bit "L"/"RGB" image at the working size → the model's float32 (C, H, W) input. */
export function prepareImage(image, spec) {
  if (spec.resize !== "ink-box") {
    const contrast = inkContrast(image);
    const flip = spec.invert === "always" || (spec.invert === "auto" && contrast.darkOnLight);
    const pixels = flip ? { ...image, planes: image.planes.map((p) => p.map((v) => 255 - v)) } : image;
    return normalise(resizeWhole(pixels, spec), spec);
  }
  const contrast = inkContrast(image);
  const flip = spec.invert === "always" || (spec.invert === "auto" && contrast.darkOnLight);
  const pixels = flip ? { ...image, planes: image.planes.map((p) => p.map((v) => 255 - v)) } : image;
  return normalise(inkBox(pixels, spec, contrast.peak(flip)), spec);
}

/** What the browser's decoder gives exactly as Pillow does: lossless 8-bit formats. */
export function sniffImage(bytes) {
  const b = bytes;
  const ascii = (start, end) => String.fromCharCode(...b.subarray(start, end));
  const lossy = (format) => ({ format, palette: false, exact: false, alphaExact: false,
    why: `${format} decoders differ slightly between the browser and the server` });
  if (b[0] === 0x89 && ascii(1, 4) === "PNG") {
    const bitDepth = b[24];
    const colorType = b[25];
    return { format: "PNG", palette: colorType === 3, exact: bitDepth <= 8,
      // Pillow ignores a tRNS colour key on grey/RGB PNGs; the browser applies it.
      alphaExact: colorType === 3 || colorType === 4 || colorType === 6,
      why: bitDepth > 8 ? "16-bit PNGs are reduced to 8 bits differently" : "" };
  }
  if (ascii(0, 3) === "GIF") {
    return { format: "GIF", palette: true, exact: true, alphaExact: false, why: "" };
  }
  if (ascii(0, 2) === "BM") {
    const bits = b[28] | (b[29] << 8);
    const exact = bits === 8 || bits === 24;
    return { format: "BMP", palette: bits <= 8, exact, alphaExact: false,
      why: exact ? "" : `${bits}-bit BMPs are read differently` };
  }
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") {
    if (ascii(12, 16) === "VP8L") {
      return { format: "WebP", palette: false, exact: true, alphaExact: true, why: "" };
    }
    return lossy("lossy WebP");
  }
  if (b[0] === 0xff && b[1] === 0xd8) return lossy("JPEG");
  return lossy("this format");
}

// The few Pillow operations the server's preprocessing uses, ported line by line from
// Pillow's C sources (libImaging/Reduce.c, Resample.c, Convert.c, Paste.c) so that the
// browser computes the very same pixels: same integer rounding, the same float32 stores,
// the same order of additions. Images are planar: {width, height, planes: [typed arrays]}
// (Uint8Array for 8-bit images, Float32Array for mode "F").

const f32 = Math.fround;

// -- Convert.c -------------------------------------------------------------------------
/** RGB → L: ``L24(rgb) >> 16`` (ITU-R 601 weights in 16-bit fixed point). */
export function rgbToL(r, g, b) {
  const out = new Uint8Array(r.length);
  for (let i = 0; i < r.length; i++) {
    out[i] = Math.floor((r[i] * 19595 + g[i] * 38470 + b[i] * 7471 + 0x8000) / 65536);
  }
  return out;
}

function divideBy255(value) {
  const tmp = value + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

/** RGBA → RGBa (premultiplied), as Image.reduce does for RGBA images. */
export function premultiply(planes) {
  const [r, g, b, a] = planes;
  const out = [new Uint8Array(r.length), new Uint8Array(r.length), new Uint8Array(r.length), a];
  for (let i = 0; i < r.length; i++) {
    out[0][i] = divideBy255(r[i] * a[i]);
    out[1][i] = divideBy255(g[i] * a[i]);
    out[2][i] = divideBy255(b[i] * a[i]);
  }
  return out;
}

/** RGBa → RGBA. */
export function unpremultiply(planes) {
  const [r, g, b, a] = planes;
  const out = [new Uint8Array(r.length), new Uint8Array(r.length), new Uint8Array(r.length), a];
  for (let i = 0; i < r.length; i++) {
    const alpha = a[i];
    for (let c = 0; c < 3; c++) {
      const v = planes[c][i];
      out[c][i] = alpha === 255 || alpha === 0 ? v : Math.min(255, Math.floor((255 * v) / alpha));
    }
  }
  return out;
}

/** RGBA pasted with its alpha as mask onto white (Paste.c's BLEND): the flattened RGB. */
export function overWhite(planes) {
  const [r, g, b, a] = planes;
  const out = [new Uint8Array(r.length), new Uint8Array(r.length), new Uint8Array(r.length)];
  for (let i = 0; i < r.length; i++) {
    const m = a[i];
    for (let c = 0; c < 3; c++) {
      out[c][i] = divideBy255(255 * (255 - m) + [r, g, b][c][i] * m);
    }
  }
  return out;
}

// -- Reduce.c --------------------------------------------------------------------------
function multiplier(count) {
  // division_UINT32: (UINT32)((float)(1 << 30) * 4.0 / (float)(256 * count)), in float32.
  return Math.trunc(f32(4294967296 / f32(256 * count)));
}

function reduceBlock8(plane, width, x0, y0, w, h) {
  let sum = 0;
  for (let y = y0; y < y0 + h; y++) {
    const row = y * width;
    for (let x = x0; x < x0 + w; x++) sum += plane[row + x];
  }
  const count = w * h;
  return Math.floor(((sum + Math.floor(count / 2)) * multiplier(count)) / 16777216);
}

/** ImagingReduce on 8-bit planes; box = [left, top, width, height]. */
export function reduce8(image, xscale, yscale, box) {
  const [bx, by, bw, bh] = box;
  const outW = Math.floor((bw + xscale - 1) / xscale);
  const outH = Math.floor((bh + yscale - 1) / yscale);
  const planes = image.planes.map((plane) => {
    const out = new Uint8Array(outW * outH);
    for (let y = 0; y < outH; y++) {
      const y0 = by + y * yscale;
      const h = Math.min(yscale, by + bh - y0);
      for (let x = 0; x < outW; x++) {
        const x0 = bx + x * xscale;
        const w = Math.min(xscale, bx + bw - x0);
        out[y * outW + x] = reduceBlock8(plane, image.width, x0, y0, w, h);
      }
    }
    return out;
  });
  return { width: outW, height: outH, planes };
}

/** ImagingReduceNxN_32bpc and ImagingReduceCorners_32bpc on float32 planes. */
export function reduce32(image, xscale, yscale, box) {
  const [bx, by, bw, bh] = box;
  const outW = Math.floor((bw + xscale - 1) / xscale);
  const outH = Math.floor((bh + yscale - 1) / yscale);
  const fullW = Math.floor(bw / xscale);
  const fullH = Math.floor(bh / yscale);
  const width = image.width;
  const planes = image.planes.map((plane) => {
    const out = new Float32Array(outW * outH);
    const at = (x, y) => plane[y * width + x];
    for (let y = 0; y < fullH; y++) {
      const yyFrom = by + y * yscale;
      for (let x = 0; x < fullW; x++) {
        const xxFrom = bx + x * xscale;
        let ss = 0;
        let yy = yyFrom;
        let xx;
        for (; yy < yyFrom + yscale - 1; yy += 2) {
          for (xx = xxFrom; xx < xxFrom + xscale - 1; xx += 2) {
            // float + float + float + float, in float32, then added to the double sum
            ss += f32(f32(f32(at(xx, yy) + at(xx + 1, yy)) + at(xx, yy + 1)) + at(xx + 1, yy + 1));
          }
          if (xscale & 1) ss += f32(at(xx, yy) + at(xx, yy + 1));
        }
        if (yscale & 1) {
          for (xx = xxFrom; xx < xxFrom + xscale - 1; xx += 2) ss += f32(at(xx, yy) + at(xx + 1, yy));
          if (xscale & 1) ss += at(xx, yy);
        }
        out[y * outW + x] = ss * (1.0 / (yscale * xscale));
      }
    }
    const corner = (x, y, xFrom, xTo, yFrom, yTo) => {
      let ss = 0;
      for (let yy = yFrom; yy < yTo; yy++) for (let xx = xFrom; xx < xTo; xx++) ss += at(xx, yy);
      out[y * outW + x] = ss * (1.0 / ((xTo - xFrom) * (yTo - yFrom)));
    };
    if (bw % xscale) {
      for (let y = 0; y < fullH; y++) {
        corner(fullW, y, bx + fullW * xscale, bx + bw, by + y * yscale, by + y * yscale + yscale);
      }
    }
    if (bh % yscale) {
      for (let x = 0; x < fullW; x++) {
        corner(x, fullH, bx + x * xscale, bx + x * xscale + xscale, by + fullH * yscale, by + bh);
      }
    }
    if (bw % xscale && bh % yscale) {
      corner(fullW, fullH, bx + fullW * xscale, bx + bw, by + fullH * yscale, by + bh);
    }
    return out;
  });
  return { width: outW, height: outH, planes };
}

// -- Resample.c ------------------------------------------------------------------------
function sinc(x) {
  if (x === 0.0) return 1.0;
  const t = x * Math.PI;
  return Math.sin(t) / t;
}

function lanczos(x) {
  return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
}

const LANCZOS_SUPPORT = 3.0;

function precomputeCoeffs(inSize, in0, in1, outSize) {
  const scale = f32(in1 - in0) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = LANCZOS_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Float64Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const invFilterscale = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * invFilterscale);
      kk[k + x] = w;
      ww += w;
    }
    if (ww !== 0.0) for (let x = 0; x < xmax; x++) kk[k + x] /= ww;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, kk, bounds };
}

const PRECISION_BITS = 32 - 8 - 2;

function normalize8(kk) {
  const out = new Int32Array(kk.length);
  for (let i = 0; i < kk.length; i++) {
    out[i] = kk[i] < 0 ? Math.trunc(-0.5 + kk[i] * (1 << PRECISION_BITS))
      : Math.trunc(0.5 + kk[i] * (1 << PRECISION_BITS));
  }
  return out;
}

function clip8(ss) {
  const v = Math.floor(ss / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function resampleHorizontal(image, outW, rows, offset, coeffs, eightBit) {
  const { ksize, bounds } = coeffs;
  const kk = eightBit ? normalize8(coeffs.kk) : coeffs.kk;
  const planes = image.planes.map((plane) => {
    const out = eightBit ? new Uint8Array(outW * rows) : new Float32Array(outW * rows);
    for (let yy = 0; yy < rows; yy++) {
      const row = (yy + offset) * image.width;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        const k = xx * ksize;
        let ss = eightBit ? 1 << (PRECISION_BITS - 1) : 0.0;
        for (let x = 0; x < xmax; x++) ss += plane[row + x + xmin] * kk[k + x];
        out[yy * outW + xx] = eightBit ? clip8(ss) : ss;
      }
    }
    return out;
  });
  return { width: outW, height: rows, planes };
}

function resampleVertical(image, outH, coeffs, eightBit) {
  const { ksize, bounds } = coeffs;
  const kk = eightBit ? normalize8(coeffs.kk) : coeffs.kk;
  const width = image.width;
  const planes = image.planes.map((plane) => {
    const out = eightBit ? new Uint8Array(width * outH) : new Float32Array(width * outH);
    for (let yy = 0; yy < outH; yy++) {
      const ymin = bounds[yy * 2];
      const ymax = bounds[yy * 2 + 1];
      const k = yy * ksize;
      for (let xx = 0; xx < width; xx++) {
        let ss = eightBit ? 1 << (PRECISION_BITS - 1) : 0.0;
        for (let y = 0; y < ymax; y++) ss += plane[(y + ymin) * width + xx] * kk[k + y];
        out[yy * width + xx] = eightBit ? clip8(ss) : ss;
      }
    }
    return out;
  });
  return { width, height: outH, planes };
}

function crop(image, left, top, right, bottom) {
  const w = right - left;
  const h = bottom - top;
  const planes = image.planes.map((plane) => {
    const out = new plane.constructor(w * h);
    for (let y = 0; y < h; y++) {
      out.set(plane.subarray((y + top) * image.width + left, (y + top) * image.width + right), y * w);
    }
    return out;
  });
  return { width: w, height: h, planes };
}

function isEightBit(image) {
  return image.planes[0] instanceof Uint8Array;
}

/** ImagingResample (Lanczos) with ``_resize``'s crop shortcut; ``box`` is float32 in C.
 * Pillow 13 runs the vertical pass first when the height shrinks much more than the width. */
export function coreResize(image, width, height, box) {
  const b = box.map(f32);
  if (b[0] - Math.trunc(b[0]) === 0 && f32(b[2] - b[0]) === width
      && b[1] - Math.trunc(b[1]) === 0 && f32(b[3] - b[1]) === height) {
    return crop(image, Math.trunc(b[0]), Math.trunc(b[1]), Math.trunc(b[2]), Math.trunc(b[3]));
  }
  const eightBit = isEightBit(image);
  const needHorizontal = width !== image.width || b[0] !== 0 || b[2] !== width;
  const needVertical = height !== image.height || b[1] !== 0 || b[3] !== height;
  const shrink = image.height - height;
  const horizontalFirst = !(shrink > 0 && shrink > (image.width - width) * 2);
  const vertical = precomputeCoeffs(image.height, b[1], b[3], height);
  let current = image;
  if (horizontalFirst) {
    if (needHorizontal) {
      const yFirst = vertical.bounds[0];
      const yLast = vertical.bounds[height * 2 - 2] + vertical.bounds[height * 2 - 1];
      for (let i = 0; i < height; i++) vertical.bounds[i * 2] -= yFirst;
      const horizontal = precomputeCoeffs(image.width, b[0], b[2], width);
      current = resampleHorizontal(current, width, yLast - yFirst, yFirst, horizontal, eightBit);
    }
    if (needVertical) current = resampleVertical(current, height, vertical, eightBit);
  } else {
    if (needVertical) current = resampleVertical(current, height, vertical, eightBit);
    if (needHorizontal) {
      const horizontal = precomputeCoeffs(image.width, b[0], b[2], width);
      current = resampleHorizontal(current, width, height, 0, horizontal, eightBit);
    }
  }
  if (current === image) current = crop(image, 0, 0, image.width, image.height);
  return current;
}

/** Image.reduce (Python level): crop when the factor is 1. */
export function reduce(image, xscale, yscale, box = [0, 0, image.width, image.height]) {
  if (xscale === 1 && yscale === 1) return crop(image, box[0], box[1], box[2], box[3]);
  const sized = [box[0], box[1], box[2] - box[0], box[3] - box[1]];
  return isEightBit(image) ? reduce8(image, xscale, yscale, sized)
    : reduce32(image, xscale, yscale, sized);
}

/** Image.resize(size, LANCZOS, box, reducing_gap) for single-band or planar images. */
export function resize(image, width, height, box = null, reducingGap = 2.0) {
  let b = box || [0, 0, image.width, image.height];
  if (image.width === width && image.height === height
      && b[0] === 0 && b[1] === 0 && b[2] === image.width && b[3] === image.height) {
    return crop(image, 0, 0, image.width, image.height);
  }
  let current = image;
  if (reducingGap !== null) {
    const fx = Math.trunc((b[2] - b[0]) / width / reducingGap) || 1;
    const fy = Math.trunc((b[3] - b[1]) / height / reducingGap) || 1;
    if (fx > 1 || fy > 1) {
      // Image._get_safe_box
      const support = LANCZOS_SUPPORT - 0.5;
      const sx = support * ((b[2] - b[0]) / width);
      const sy = support * ((b[3] - b[1]) / height);
      const safe = [Math.max(0, Math.trunc(b[0] - sx)), Math.max(0, Math.trunc(b[1] - sy)),
        Math.min(image.width, Math.ceil(b[2] + sx)), Math.min(image.height, Math.ceil(b[3] + sy))];
      current = reduce(image, fx, fy, safe);
      b = [(b[0] - safe[0]) / fx, (b[1] - safe[1]) / fy, (b[2] - safe[0]) / fx, (b[3] - safe[1]) / fy];
    }
  }
  return coreResize(current, width, height, b);
}

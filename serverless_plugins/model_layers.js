'use strict';

// `${modelLayer:NAME}`: which model the built layer of NAME holds, as
// "NAME v<version> sha256:<first 12 hex digits>", read from the manifest inside
// <custom.layersDir>/model-NAME.zip (what `make layers` wrote).
//
// serverless.yml puts it in each model layer's description and in the function's
// FEATHERSERVE_MODEL_LAYER variable. A published Lambda version keeps its configuration,
// so every version, and therefore the `live` alias, says which model it serves; and a new
// model is a configuration change even where only a layer changed. With no zip built yet
// (local runs before `make layers`) it says so instead of failing: packaging checks the
// artifacts anyway.

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const MANIFEST = /^models\/([^/]+)\/([^/]+)\/manifest\.json$/;

// The zip's entries (name, method, offsets) from its central directory.
function zipEntries(buffer) {
  const searchFrom = Math.max(0, buffer.length - 22 - 0xffff);
  let end = -1;
  for (let at = buffer.length - 22; at >= searchFrom; at -= 1) {
    if (buffer.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new Error('not a zip file (no end of central directory)');
  const count = buffer.readUInt16LE(end + 10);
  let at = buffer.readUInt32LE(end + 16);
  const entries = [];
  for (let index = 0; index < count; index += 1) {
    if (buffer.readUInt32LE(at) !== CENTRAL_FILE_HEADER) throw new Error('corrupt zip directory');
    const nameLength = buffer.readUInt16LE(at + 28);
    const extraLength = buffer.readUInt16LE(at + 30);
    const commentLength = buffer.readUInt16LE(at + 32);
    entries.push({
      name: buffer.toString('utf8', at + 46, at + 46 + nameLength),
      method: buffer.readUInt16LE(at + 10),
      compressedSize: buffer.readUInt32LE(at + 20),
      localHeader: buffer.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function readEntry(buffer, entry) {
  const at = entry.localHeader;
  if (buffer.readUInt32LE(at) !== LOCAL_FILE_HEADER) throw new Error(`corrupt zip entry ${entry.name}`);
  const start = at + 30 + buffer.readUInt16LE(at + 26) + buffer.readUInt16LE(at + 28);
  const data = buffer.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return data;
  if (entry.method === 8) return zlib.inflateRawSync(data);
  throw new Error(`${entry.name}: unsupported zip compression method ${entry.method}`);
}

// { name, version, sha256 } of the one model a model layer zip holds.
function describeModelLayer(zipPath) {
  const buffer = fs.readFileSync(zipPath);
  const manifests = zipEntries(buffer).filter((entry) => MANIFEST.test(entry.name));
  if (manifests.length !== 1) {
    throw new Error(`${zipPath}: expected one models/<name>/<version>/manifest.json, found ${manifests.length}`);
  }
  const manifest = JSON.parse(readEntry(buffer, manifests[0]).toString('utf8'));
  return { name: manifest.name, version: String(manifest.version), sha256: manifest.sha256 };
}

function modelLayerLabel(layersDir, modelName) {
  const zipPath = path.join(layersDir, `model-${modelName}.zip`);
  if (!fs.existsSync(zipPath)) return `${modelName} (layer not built: ${zipPath})`;
  const model = describeModelLayer(zipPath);
  if (model.name !== modelName) {
    throw new Error(`${zipPath} holds model ${model.name}, not ${modelName}`);
  }
  return `${model.name} v${model.version} sha256:${String(model.sha256).slice(0, 12)}`;
}

class ModelLayersPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.configurationVariablesSources = {
      modelLayer: {
        resolve: async ({ address, resolveConfigurationProperty }) => {
          if (!address) throw new Error('use ${modelLayer:MODEL_NAME}');
          const layersDir = await resolveConfigurationProperty(['custom', 'layersDir']);
          const root = path.resolve(this.serverless.serviceDir || process.cwd(), layersDir);
          return { value: modelLayerLabel(root, address) };
        },
      },
    };
  }
}

module.exports = ModelLayersPlugin;
module.exports.describeModelLayer = describeModelLayer;
module.exports.modelLayerLabel = modelLayerLabel;

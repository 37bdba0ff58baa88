// Reference runtime for TF.js graph models: @tensorflow/tfjs 4.22 with its pure-JS CPU backend.
//
//   node tools/convert/run_tfjs.js JOB.json
//
// JOB.json: {"model": "<dir>/<name>.json", "runs": [{"inputs": {"<name>": {"file": "x.bin", "dtype": "float32",
// "shape": [1, 416, 416, 3]}}, "out": "<dir>"}]}.  Each run writes <out>/<k>.bin (raw little-endian float32) for
// output k of the model's signature order, and <out>/outputs.json (names, shapes).  Run by
// tools/convert/human_models.py (never by vidlens): NODE_PATH must point at a node_modules holding @tensorflow/tfjs.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function loadHandler(jsonPath) {
  const topo = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const dir = path.dirname(jsonPath);
  const specs = [];
  const buffers = [];
  for (const group of topo.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.io.fromMemory({ modelTopology: topo.modelTopology, weightSpecs: specs, weightData,
    format: topo.format, generatedBy: topo.generatedBy, convertedBy: topo.convertedBy,
    signature: topo.signature, userDefinedMetadata: topo.userDefinedMetadata });
}

function toTensor(spec) {
  const raw = fs.readFileSync(spec.file);
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const data = spec.dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf);
  return tf.tensor(data, spec.shape, spec.dtype);
}

async function main() {
  await tf.setBackend('cpu');
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const model = await tf.loadGraphModel(loadHandler(job.model));
  const names = job.outputs || model.outputs.map((o) => o.name);
  for (const run of job.runs) {
    const feed = {};
    for (const [name, spec] of Object.entries(run.inputs)) feed[name] = toTensor(spec);
    let outs = model.execute(feed, names);
    if (!Array.isArray(outs)) outs = [outs];
    fs.mkdirSync(run.out, { recursive: true });
    const meta = [];
    for (let k = 0; k < outs.length; k++) {
      const values = await outs[k].data();
      const f32 = Float32Array.from(values);
      fs.writeFileSync(path.join(run.out, `${k}.bin`), Buffer.from(f32.buffer));
      meta.push({ name: names[k], shape: outs[k].shape });
    }
    fs.writeFileSync(path.join(run.out, 'outputs.json'), JSON.stringify(meta));
    tf.dispose([...Object.values(feed), ...outs]);
  }
  console.log(`[tfjs] ${job.runs.length} run(s) of ${path.basename(job.model)} on backend ${tf.getBackend()}`);
}

main().catch((err) => { console.error(err); process.exit(1); });

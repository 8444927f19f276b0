#!/usr/bin/env python3
"""Convert Palisade's two toxicity classifiers to ONNX and check parity.

1. ``jigsaw-bilstm``: the Keras 6-label BiLSTM of PyPI ``toxic-comment-classifier==0.3.0``
   (``model.weights.h5`` + ``tokenizer.pickle``). The ONNX graph is written by hand from the
   Keras weights (Gather -> bidirectional LSTM -> max over time -> Dense/ReLU -> Dense/sigmoid),
   so its input and output names are ours. Alongside it: the vocabulary (``word -> id`` for the
   ``num_words - 1`` ids the model can see) and the preprocessing config as JSON.
2. ``profanity-svm``: the TF-IDF + calibrated LinearSVC of PyPI ``alt-profanity-check==1.9.1``,
   converted with skl2onnx. Its StringNormalizer gets ``locale="C.UTF-8"`` and its Tokenizer the
   pattern ``[\\p{L}\\p{N}_][\\p{L}\\p{N}_]+`` (sklearn's ``(?u)\\b\\w\\w+\\b`` in RE2 terms).

Both are compared with the original Python models on every text of
``testdata/toxicity/eval.jsonl`` plus synthetic edge cases (>= 1,000 texts); the run fails if any
score differs by 1e-4 or more. The figures go to ``models/toxicity/parity.json``. Reference cases
for the Rust tests go to ``testdata/toxicity/keras_reference.jsonl`` and ``svm_reference.jsonl``,
and a tiny graph with the wrong input/output names to ``testdata/toxicity/wrong-io.onnx``.

Usage (in a venv with tools/requirements-convert.txt):
    python tools/convert_toxicity.py [--repo .]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
from importlib import resources
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
TOLERANCE = 1e-4
OPSET = 17
TOKEN_PATTERN = r"[\p{L}\p{N}_][\p{L}\p{N}_]+"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- texts


def edge_cases() -> list[str]:
    """Hand-written texts that stress the Keras preprocessing and the RE2 tokenizer."""
    return [
        "",
        "   ",
        "You are so dumb and stupid!",
        "YOU ARE AN IDIOT!!!",
        "don't   do that\tplease\nnow",
        "line one\r\nline two",
        "non\u00a0breaking space",
        "Straße STRASSE \u1e9e",
        "İstanbul ISTANBUL ıi",
        "ΟΔΟΣ σοφός ΣΟΦΟΣ",
        "naïve café résumé CAFÉ",
        "emoji 😀 test 🤬 angry",
        "tabs\tand\tmore\ttabs",
        "under_score words_with_underscores",
        "numbers 123 4567 and 1st 2nd",
        "hyphen-ated e-mail co-operate",
        "quotes “curly” ‘single’ \"double\" 'plain'",
        "url http://example.com/path?q=1 and www.example.org",
        "Привет как дела идиот",
        "日本語のテキスト",
        "a b c d e f g",
        "fuck " * 150,
        " ".join(["word"] * 99 + ["idiot"]),
        "kill kill kill you",
        "I will find you and hurt you",
        "Thanks for the help, have a great day :)",
    ]


def synthetic(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    """Random word salads from the vocabulary, with punctuation, case and length varied."""
    punct = list("!?.,;:'\"-()") + ["", "", ""]
    out = []
    for _ in range(n):
        k = rng.choice([1, 3, 8, 20, 60, 99, 100, 101, 140, 300])
        words = []
        for _ in range(k):
            w = rng.choice(vocab) if rng.random() < 0.9 else rng.choice(["zzqx", "ÆØÅ", "l33t"])
            if rng.random() < 0.1:
                w = w.upper()
            words.append(w + rng.choice(punct))
        out.append(" ".join(words))
    return out


def load_texts(repo: Path) -> list[str]:
    path = repo / "testdata/toxicity/eval.jsonl"
    if not path.exists():
        sys.exit(f"{path} is missing: run tools/make_toxicity_eval.py first")
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]


# ---------------------------------------------------------------- BiLSTM


def keras_lstm_to_onnx(kernel, recurrent, bias):
    """Reorder one Keras LSTM direction (gates i,f,c,o; [in, 4h]) to ONNX (gates i,o,f,c; [4h, in])."""
    def reorder(m):
        i, f, c, o = np.split(m, 4, axis=-1)
        return np.concatenate([i, o, f, c], axis=-1)

    w = reorder(kernel).T
    r = reorder(recurrent).T
    b = np.concatenate([reorder(bias), np.zeros_like(bias)])
    return w, r, b


def build_bilstm(model, maxlen: int) -> onnx.ModelProto:
    layers = {layer.name: layer for layer in model.layers}
    emb = layers["embedding"].get_weights()[0].astype(np.float32)
    fk, fr, fb, bk, br, bb = [w.astype(np.float32) for w in layers["bidirectional"].get_weights()]
    d1w, d1b = [w.astype(np.float32) for w in layers["dense"].get_weights()]
    d2w, d2b = [w.astype(np.float32) for w in layers["dense_1"].get_weights()]
    hidden = fr.shape[0]
    fw, fr_, fb_ = keras_lstm_to_onnx(fk, fr, fb)
    bw, br_, bb_ = keras_lstm_to_onnx(bk, br, bb)
    inits = [
        numpy_helper.from_array(emb, "embedding"),
        numpy_helper.from_array(np.stack([fw, bw]), "lstm_W"),
        numpy_helper.from_array(np.stack([fr_, br_]), "lstm_R"),
        numpy_helper.from_array(np.stack([fb_, bb_]), "lstm_B"),
        numpy_helper.from_array(d1w, "dense1_W"),
        numpy_helper.from_array(d1b, "dense1_B"),
        numpy_helper.from_array(d2w, "dense2_W"),
        numpy_helper.from_array(d2b, "dense2_B"),
        numpy_helper.from_array(np.array([0, 2 * hidden], dtype=np.int64), "pooled_shape"),
    ]
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"], axis=0),
        helper.make_node("Transpose", ["embedded"], ["time_major"], perm=[1, 0, 2]),
        helper.make_node(
            "LSTM", ["time_major", "lstm_W", "lstm_R", "lstm_B"], ["lstm_Y"],
            hidden_size=hidden, direction="bidirectional",
        ),
        helper.make_node("ReduceMax", ["lstm_Y"], ["pooled_dirs"], axes=[0], keepdims=0),
        helper.make_node("Transpose", ["pooled_dirs"], ["pooled_bt"], perm=[1, 0, 2]),
        helper.make_node("Reshape", ["pooled_bt", "pooled_shape"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "dense1_W"], ["dense1_mm"]),
        helper.make_node("Add", ["dense1_mm", "dense1_B"], ["dense1_pre"]),
        helper.make_node("Relu", ["dense1_pre"], ["dense1"]),
        helper.make_node("MatMul", ["dense1", "dense2_W"], ["dense2_mm"]),
        helper.make_node("Add", ["dense2_mm", "dense2_B"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probabilities"]),
    ]
    graph = helper.make_graph(
        nodes,
        "jigsaw_bilstm",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", maxlen])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(LABELS)])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="palisade-convert")
    m.ir_version = 8
    m.doc_string = "Jigsaw 6-label BiLSTM from PyPI toxic-comment-classifier==0.3.0 (MIT); labels: " + ",".join(LABELS)
    onnx.checker.check_model(m, full_check=True)
    return m


def convert_bilstm(repo: Path, out: Path, texts: list[str], rng: random.Random) -> dict:
    from keras.preprocessing.sequence import pad_sequences
    from toxic_classifier import model as tcm

    pkg = Path(tcm.__file__).parent / "model"
    clf = tcm.ToxicCommentClassifier()
    tok = clf.tokenizer
    maxlen = tcm.MAXLEN
    assert tcm.LIST_CLASSES == LABELS, tcm.LIST_CLASSES

    onnx_model = build_bilstm(clf.model, maxlen)
    onnx.save(onnx_model, out / "jigsaw-bilstm.onnx")
    vocab = {w: i for w, i in sorted(tok.word_index.items(), key=lambda kv: kv[1]) if i < tok.num_words}
    (out / "jigsaw-bilstm.vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    config = {
        "model": "jigsaw-bilstm",
        "labels": LABELS,
        "input_name": "input_ids",
        "output_name": "probabilities",
        "maxlen": maxlen,
        "padding": "pre",
        "truncating": "pre",
        "pad_id": 0,
        "num_words": tok.num_words,
        "lower": tok.lower,
        "filters": tok.filters,
        "split": tok.split,
        "oov_token": tok.oov_token,
    }
    (out / "jigsaw-bilstm.config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")

    words = list(vocab)
    all_texts = texts + edge_cases() + synthetic(rng, words, 400)
    seqs = tok.texts_to_sequences(all_texts)
    padded = pad_sequences(seqs, maxlen=maxlen).astype(np.int64)
    keras_scores = clf.model.predict(padded, batch_size=256, verbose=0)
    sess = ort.InferenceSession(str(out / "jigsaw-bilstm.onnx"), providers=["CPUExecutionProvider"])
    onnx_scores = np.concatenate([sess.run(["probabilities"], {"input_ids": padded[i:i + 256]})[0]
                                  for i in range(0, len(padded), 256)])
    diff = float(np.max(np.abs(keras_scores - onnx_scores)))
    print(f"jigsaw-bilstm: {len(all_texts)} texts, max |keras - onnx| = {diff:.3e}")

    # Reference cases for the Rust tokenizer and session tests (full, untruncated ids).
    ref_texts = edge_cases() + texts[::25] + synthetic(random.Random(7), words, 40)
    ref_seqs = tok.texts_to_sequences(ref_texts)
    ref_scores = clf.model.predict(pad_sequences(ref_seqs, maxlen=maxlen), verbose=0)
    with (repo / "testdata/toxicity/keras_reference.jsonl").open("w", encoding="utf-8") as f:
        for t, s, p in zip(ref_texts, ref_seqs, ref_scores):
            f.write(json.dumps({"text": t, "ids": s, "scores": [round(float(x), 7) for x in p]},
                               ensure_ascii=False) + "\n")
    return {
        "texts": len(all_texts),
        "max_abs_diff": diff,
        "source_sha256": {n: sha256(pkg / n) for n in ("model.weights.h5", "tokenizer.pickle")},
    }


# ---------------------------------------------------------------- SVM


def convert_svm(repo: Path, out: Path, texts: list[str]) -> dict:
    import joblib
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.pipeline import Pipeline

    data = resources.files("profanity_check") / "data"
    vec = joblib.load(data / "vectorizer.joblib")
    clf = joblib.load(data / "model.joblib")
    pipe = Pipeline([("tfidf", vec), ("svm", clf)])
    onx = convert_sklearn(
        pipe,
        "profanity_svm",
        [("text", StringTensorType([None, 1]))],
        target_opset={"": OPSET, "ai.onnx.ml": 3},
        options={id(clf): {"zipmap": False}, id(vec): {"tokenexp": TOKEN_PATTERN}},
    )
    for node in onx.graph.node:
        if node.op_type == "StringNormalizer":
            node.attribute.append(helper.make_attribute("locale", "C.UTF-8"))
    # skl2onnx lists opset imports in set order; sort them so the file is reproducible.
    imports = sorted(((o.domain, o.version) for o in onx.opset_import))
    del onx.opset_import[:]
    onx.opset_import.extend(helper.make_opsetid(d, v) for d, v in imports)
    onx.doc_string = "TF-IDF + calibrated LinearSVC from PyPI alt-profanity-check==1.9.1 (MIT)"
    onnx.save(onx, out / "profanity-svm.onnx")
    names = {"inputs": [i.name for i in onx.graph.input], "outputs": [o.name for o in onx.graph.output]}

    all_texts = texts + edge_cases()
    expected = clf.predict_proba(vec.transform(all_texts))[:, 1]
    sess = ort.InferenceSession(str(out / "profanity-svm.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(["probabilities"], {"text": np.array(all_texts, dtype=object).reshape(-1, 1)})[0][:, 1]
    diff = float(np.max(np.abs(expected - got)))
    print(f"profanity-svm: {len(all_texts)} texts, max |sklearn - onnx| = {diff:.3e}; io {names}")
    with (repo / "testdata/toxicity/svm_reference.jsonl").open("w", encoding="utf-8") as f:
        for t, p in list(zip(all_texts, expected))[::20] + list(zip(edge_cases(), expected[len(texts):])):
            f.write(json.dumps({"text": t, "score": round(float(p), 7)}, ensure_ascii=False) + "\n")
    return {
        "texts": len(all_texts),
        "max_abs_diff": diff,
        "io": names,
        "source_sha256": {n: sha256(Path(str(data / n))) for n in ("vectorizer.joblib", "model.joblib")},
    }


def write_wrong_io_model(repo: Path) -> None:
    """A tiny graph with the BiLSTM's shapes but other I/O names, for the runtime's error tests."""
    nodes = [
        helper.make_node("Cast", ["ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["ids_f", "starts", "ends", "axes"], ["first6"]),
        helper.make_node("Sigmoid", ["first6"], ["probs"]),
    ]
    inits = [numpy_helper.from_array(np.array([v], dtype=np.int64), n)
             for n, v in (("starts", 0), ("ends", len(LABELS)), ("axes", 1))]
    graph = helper.make_graph(
        nodes, "wrong_io",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 100])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", len(LABELS)])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="palisade-convert")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, repo / "testdata/toxicity/wrong-io.onnx")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    args = ap.parse_args()
    out = args.repo / "models/toxicity"
    out.mkdir(parents=True, exist_ok=True)
    texts = load_texts(args.repo)
    rng = random.Random(1234)
    report = {
        "tolerance": TOLERANCE,
        "onnxruntime": ort.__version__,
        "jigsaw-bilstm": convert_bilstm(args.repo, out, texts, rng),
        "profanity-svm": convert_svm(args.repo, out, texts),
    }
    for name in ("jigsaw-bilstm", "profanity-svm"):
        report[name]["onnx_sha256"] = sha256(out / f"{name}.onnx")
    write_wrong_io_model(args.repo)
    (out / "parity.json").write_text(json.dumps(report, indent=2) + "\n")
    bad = [n for n in ("jigsaw-bilstm", "profanity-svm") if not report[n]["max_abs_diff"] < TOLERANCE]
    if bad:
        sys.exit(f"parity FAILED for {bad} (tolerance {TOLERANCE})")
    print("parity OK; wrote", out / "parity.json")


if __name__ == "__main__":
    main()

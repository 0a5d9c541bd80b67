#!/usr/bin/python3
"""A random-weight llama GGUF of a real model's shape, for bench/llama/compare.sh on something larger than
tokenflow-tiny. Its text is noise; its cost per token is the real shape's.

    PYTHONPATH=<llama.cpp tree>/gguf-py python3 bench/llama/random_gguf.py OUT.gguf [--shape smollm2-135m] [--type q8_0]

Needs numpy and llama.cpp's gguf-py (in its source tree). The tokenizer is tokenflow-tiny's, padded with
control tokens to the shape's vocabulary size, so the output layer and sampling cost what the real model's do.
"""
import argparse
import os

import numpy as np
import gguf

SHAPES = {
    # dim, layers, heads, kv heads, ffn, vocab, context
    "smollm2-135m": dict(dim=576, layers=30, heads=9, kv_heads=3, ffn=1536, vocab=49152, ctx=2048),
    "smollm2-360m": dict(dim=960, layers=32, heads=15, kv_heads=5, ffn=2560, vocab=49152, ctx=2048),
}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "src", "Tokenflow.Server", "model", "tokenflow-tiny-v1.gguf")


def field(reader, key):
    f = reader.fields[key]
    return [f.parts[i] for i in f.data]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", default="smollm2-135m", choices=sorted(SHAPES))
    ap.add_argument("--type", default="q8_0", choices=["f32", "f16", "q8_0"])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    s = SHAPES[args.shape]
    rng = np.random.default_rng(args.seed)

    tiny = gguf.GGUFReader(TINY)
    tokens = [bytes(p).decode("utf-8") for p in field(tiny, "tokenizer.ggml.tokens")]
    scores = [float(p[0]) for p in field(tiny, "tokenizer.ggml.scores")]
    types = [int(p[0]) for p in field(tiny, "tokenizer.ggml.token_type")]
    for i in range(len(tokens), s["vocab"]):
        tokens.append("<extra_%d>" % i)
        scores.append(0.0)
        types.append(gguf.TokenType.CONTROL)

    w = gguf.GGUFWriter(args.out, "llama")
    w.add_name("random %s (bench only)" % args.shape)
    w.add_context_length(s["ctx"])
    w.add_embedding_length(s["dim"])
    w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["ffn"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv_heads"])
    w.add_rope_dimension_count(s["dim"] // s["heads"])
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(s["vocab"])
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    qtype = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
             "q8_0": gguf.GGMLQuantizationType.Q8_0}[args.type]
    w.add_file_type({"f32": 0, "f16": 1, "q8_0": 7}[args.type])

    def matrix(name, rows, cols):
        a = (rng.standard_normal((rows, cols), dtype=np.float32) * (1.0 / np.sqrt(cols))).astype(np.float32)
        if qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, a)
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, a.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)

    def norm(name, n):
        w.add_tensor(name, np.ones(n, dtype=np.float32))

    dim, hd = s["dim"], s["dim"] // s["heads"]
    matrix("token_embd.weight", s["vocab"], dim)
    for i in range(s["layers"]):
        norm("blk.%d.attn_norm.weight" % i, dim)
        matrix("blk.%d.attn_q.weight" % i, dim, dim)
        matrix("blk.%d.attn_k.weight" % i, s["kv_heads"] * hd, dim)
        matrix("blk.%d.attn_v.weight" % i, s["kv_heads"] * hd, dim)
        matrix("blk.%d.attn_output.weight" % i, dim, dim)
        norm("blk.%d.ffn_norm.weight" % i, dim)
        matrix("blk.%d.ffn_gate.weight" % i, s["ffn"], dim)
        matrix("blk.%d.ffn_up.weight" % i, s["ffn"], dim)
        matrix("blk.%d.ffn_down.weight" % i, dim, s["ffn"])
    norm("output_norm.weight", dim)
    matrix("output.weight", s["vocab"], dim)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()

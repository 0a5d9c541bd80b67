#!/usr/bin/python3
"""tokenflow-tiny: corpus -> SPM-style BPE tokenizer -> llama model (PyTorch) -> GGUF v3.

Non-shipping recipe. Run it with Debian's /usr/bin/python3 (python3-torch), see README.md.

Sub-commands:
  all      corpus + tokenizer + train + export + reference files (default)
  export   re-export GGUF + reference files from an existing checkpoint
"""
import argparse
import heapq
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import time
from collections import Counter, defaultdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SPACE = "\u2581"  # '▁', what llama.cpp's SPM path turns ' ' into
UNK, BOS, EOS = 0, 1, 2
SPECIALS = ["<unk>", "<s>", "</s>"]
# llama.cpp token types (LLAMA_TOKEN_TYPE_*)
TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_BYTE = 1, 2, 3, 6


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ----------------------------------------------------------------------------- corpus

def load_corpus():
    """Chapters of the KJV as plain text: verses joined by '\n', headings and numbers stripped."""
    raw = subprocess.run(["bible", "-l0", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    chapters, cur = [], []
    verse_re = re.compile(r"^\s+(\d+) (.*)$")
    heading_re = re.compile(r"^\S.* \d+$")
    for line in raw.split("\n"):
        if not line.strip():
            continue
        m = verse_re.match(line)
        if m:
            cur.append(" ".join(m.group(2).split()))
        elif heading_re.match(line):
            if cur:
                chapters.append("\n".join(cur))
            cur = []
        else:
            raise ValueError("unexpected line: %r" % line)
    if cur:
        chapters.append("\n".join(cur))
    return chapters


# ----------------------------------------------------------------------------- tokenizer

PIECE_RE = re.compile("%s?[A-Za-z]+|%s?[0-9]+|%s?[^A-Za-z0-9%s\n]+|%s|\n" % ((SPACE,) * 5))


def escape(text):
    """What llama.cpp's SPM path tokenizes for a text fragment that follows BOS (add_space_prefix)."""
    return (" " + text).replace(" ", SPACE)


def train_bpe(chapters, vocab_size):
    """Plain BPE over pieces (never across a '▁' word start, a newline or a letter/digit/punct
    boundary). Returns the merged token strings in merge order."""
    words = Counter()
    for ch in chapters:
        for p in PIECE_RE.findall(escape(ch)):
            if p != "\n":
                words[p] += 1
    chars = sorted({c for w in words for c in w})
    n_merges = vocab_size - len(SPECIALS) - 256 - len(chars)
    assert n_merges > 0
    wlist = [list(w) for w in words]
    wfreq = [words[w] for w in words]
    pair_count = Counter()
    pair_where = defaultdict(set)
    for i, w in enumerate(wlist):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += wfreq[i]
            pair_where[(a, b)].add(i)
    merges = []
    for _ in range(n_merges):
        # most frequent pair; ties -> lexicographically smallest (deterministic)
        (a, b) = max(pair_count, key=lambda p: (pair_count[p], p))
        cnt = pair_count[(a, b)]
        if cnt < 2:
            break
        new = a + b
        merges.append(new)
        for i in list(pair_where[(a, b)]):
            w, f = wlist[i], wfreq[i]
            for x, y in zip(w, w[1:]):
                pair_count[(x, y)] -= f
                if pair_count[(x, y)] <= 0:
                    del pair_count[(x, y)]
                pair_where[(x, y)].discard(i)
            j, out = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            wlist[i] = out
            for x, y in zip(out, out[1:]):
                pair_count[(x, y)] += f
                pair_where[(x, y)].add(i)
    return chars, merges


class Tokenizer:
    """Exactly llama.cpp's SPM ('llama') tokenizer over our vocabulary: greedy merging of the
    adjacent pair whose concatenation is a token with the highest score (ties: leftmost), then
    byte fallback <0xNN> for symbols that are not tokens."""

    def __init__(self, tokens, scores, types):
        self.tokens, self.scores, self.types = tokens, scores, types
        self.tok2id = {t: i for i, t in enumerate(tokens)}
        self.byte_id = [self.tok2id["<0x%02X>" % b] for b in range(256)]
        self.cache = {}

    @classmethod
    def build(cls, chars, merges):
        tokens = list(SPECIALS) + ["<0x%02X>" % b for b in range(256)] + chars + merges
        scores = [0.0] * (len(SPECIALS) + 256 + len(chars)) + [-float(i + 1) for i in range(len(merges))]
        types = [TT_UNKNOWN, TT_CONTROL, TT_CONTROL] + [TT_BYTE] * 256 + [TT_NORMAL] * (len(chars) + len(merges))
        return cls(tokens, scores, types)

    def spm(self, text):
        """llm_tokenizer_spm_session::tokenize on an already escaped string."""
        syms = list(text)  # str chars == UTF-8 code points, as llama.cpp splits
        n = len(syms)
        if n == 0:
            return []
        size = [len(s.encode("utf-8")) for s in syms]
        txt = syms[:]
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n)) + [-1]
        heap = []

        def add(l, r):
            if l == -1 or r == -1:
                return
            t = txt[l] + txt[r]
            tid = self.tok2id.get(t)
            if tid is None:
                return
            # max score first, then smallest left index
            heapq.heappush(heap, (-self.scores[tid], l, r, size[l] + size[r], t))

        for i in range(1, n):
            add(i - 1, i)
        while heap:
            _, l, r, sz, t = heapq.heappop(heap)
            if size[l] == 0 or size[r] == 0 or size[l] + size[r] != sz:
                continue
            size[l] += size[r]
            txt[l] = txt[l] + txt[r]
            size[r] = 0
            nxt[l] = nxt[r]
            if nxt[r] >= 0:
                prev[nxt[r]] = l
            add(prev[l], l)
            add(l, nxt[l])
        out = []
        i = 0
        while i != -1:
            tid = self.tok2id.get(txt[i])
            if tid is not None:
                out.append(tid)
            else:
                out.extend(self.byte_id[b] for b in txt[i].encode("utf-8"))
            i = nxt[i]
        return out

    def encode(self, text, bos=True, fast=True):
        """llama_tokenize(text, add_special=bos, parse_special=false)."""
        s = escape(text)
        ids = [BOS] if bos else []
        if not fast:
            return ids + self.spm(s)
        # no token spans a piece boundary, so merging piece by piece gives the same result
        for p in PIECE_RE.findall(s) if PIECE_RE.sub("", s) == "" else [s]:
            c = self.cache.get(p)
            if c is None:
                c = self.cache[p] = self.spm(p)
            ids.extend(c)
        return ids

    def decode(self, ids):
        bs = bytearray()
        for i in ids:
            if self.types[i] == TT_BYTE:
                bs.append(int(self.tokens[i][3:5], 16))
            elif self.types[i] == TT_NORMAL:
                bs.extend(self.tokens[i].replace(SPACE, " ").encode("utf-8"))
        return bs.decode("utf-8", errors="replace")

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"tokens": self.tokens, "scores": self.scores, "types": self.types}, f)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            d = json.load(f)
        return cls(d["tokens"], d["scores"], d["types"])


# ----------------------------------------------------------------------------- model

class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(hd, T, base):
    inv = base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    # llama.cpp rope mode 0 (arch llama): rotate adjacent pairs (x[2i], x[2i+1]).
    # Because we train in this layout, Q/K weights are exported unpermuted.
    B, H, T, hd = x.shape
    x = x.view(B, H, T, hd // 2, 2)
    x0, x1 = x[..., 0], x[..., 1]
    c, s = cos[:T], sin[:T]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).view(B, H, T, hd)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f = cfg["dim"], cfg["ffn"]
        self.nh = cfg["heads"]
        self.attn_norm = RMSNorm(d, cfg["eps"])
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d, cfg["eps"])
        self.w1 = nn.Linear(d, f, bias=False)  # gate
        self.w3 = nn.Linear(d, f, bias=False)  # up
        self.w2 = nn.Linear(f, d, bias=False)  # down

    def forward(self, x, cos, sin, mask):
        B, T, d = x.shape
        hd = d // self.nh
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.nh, hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.nh, hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.nh, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.wo(y)
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg["vocab"], cfg["dim"])
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg["layers"]))
        self.norm = RMSNorm(cfg["dim"], cfg["eps"])
        self.out = nn.Linear(cfg["dim"], cfg["vocab"], bias=False)
        self.out.weight = self.tok.weight  # tied; exported as both token_embd and output
        cos, sin = rope_tables(cfg["dim"] // cfg["heads"], cfg["ctx"], cfg["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.triu(torch.ones(cfg["ctx"], cfg["ctx"], dtype=torch.bool), 1)
        self.register_buffer("mask", mask, persistent=False)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg["layers"]) if n.endswith(("wo.weight", "w2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        x = self.tok(idx)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        return self.out(self.norm(x))


# ----------------------------------------------------------------------------- GGUF v3 writer

GGUF_UINT32, GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_F16 = 0, 1
ALIGN = 32


def _s(x):
    b = x.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _kv(key, typ, val):
    out = _s(key) + struct.pack("<I", typ)
    if typ == GGUF_STRING:
        return out + _s(val)
    if typ == GGUF_UINT32:
        return out + struct.pack("<I", val)
    if typ == GGUF_INT32:
        return out + struct.pack("<i", val)
    if typ == GGUF_FLOAT32:
        return out + struct.pack("<f", val)
    if typ == GGUF_BOOL:
        return out + struct.pack("<B", 1 if val else 0)
    if typ == GGUF_ARRAY:
        et, items = val
        out += struct.pack("<IQ", et, len(items))
        if et == GGUF_STRING:
            return out + b"".join(_s(i) for i in items)
        if et == GGUF_FLOAT32:
            return out + np.asarray(items, dtype="<f4").tobytes()
        if et == GGUF_INT32:
            return out + np.asarray(items, dtype="<i4").tobytes()
    raise ValueError(typ)


def write_gguf(path, kvs, tensors):
    """kvs: list of (key, type, value); tensors: list of (name, np.ndarray f32/f16) in torch
    (row-major) shape; GGUF dims are written innermost first (reversed)."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    head += b"".join(_kv(*kv) for kv in kvs)
    infos, blobs, off = b"", [], 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        typ = {np.dtype("float32"): GGML_F32, np.dtype("float16"): GGML_F16}[arr.dtype]
        dims = list(reversed(arr.shape))
        infos += _s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", typ, off)
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        pad = (-len(data)) % ALIGN
        blobs.append(data + b"\0" * pad)
        off += len(data) + pad
    meta = head + infos
    meta += b"\0" * ((-len(meta)) % ALIGN)
    with open(path, "wb") as f:
        f.write(meta)
        for b in blobs:
            f.write(b)


def export_gguf(model, tok, path, name, f16=False):
    cfg = model.cfg
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    wt = (lambda a: a.astype(np.float16)) if f16 else (lambda a: a)
    tensors = [("token_embd.weight", wt(sd["tok.weight"]))]
    for i in range(cfg["layers"]):
        p = "layers.%d." % i
        tensors += [
            ("blk.%d.attn_norm.weight" % i, sd[p + "attn_norm.weight"]),
            ("blk.%d.attn_q.weight" % i, wt(sd[p + "wq.weight"])),
            ("blk.%d.attn_k.weight" % i, wt(sd[p + "wk.weight"])),
            ("blk.%d.attn_v.weight" % i, wt(sd[p + "wv.weight"])),
            ("blk.%d.attn_output.weight" % i, wt(sd[p + "wo.weight"])),
            ("blk.%d.ffn_norm.weight" % i, sd[p + "ffn_norm.weight"]),
            ("blk.%d.ffn_gate.weight" % i, wt(sd[p + "w1.weight"])),
            ("blk.%d.ffn_up.weight" % i, wt(sd[p + "w3.weight"])),
            ("blk.%d.ffn_down.weight" % i, wt(sd[p + "w2.weight"])),
        ]
    tensors += [("output_norm.weight", sd["norm.weight"]), ("output.weight", wt(sd["out.weight"]))]
    hd = cfg["dim"] // cfg["heads"]
    kvs = [
        ("general.architecture", GGUF_STRING, "llama"),
        ("general.name", GGUF_STRING, name),
        ("general.description", GGUF_STRING,
         "Tiny llama-architecture model trained from scratch on the King James Bible (public domain); "
         "not instruction-tuned, continues text. Recipe: tools/model in Tokenflow."),
        ("general.license", GGUF_STRING, "public-domain"),
        ("general.file_type", GGUF_UINT32, 1 if f16 else 0),
        ("general.alignment", GGUF_UINT32, ALIGN),
        ("llama.context_length", GGUF_UINT32, cfg["ctx"]),
        ("llama.embedding_length", GGUF_UINT32, cfg["dim"]),
        ("llama.block_count", GGUF_UINT32, cfg["layers"]),
        ("llama.feed_forward_length", GGUF_UINT32, cfg["ffn"]),
        ("llama.attention.head_count", GGUF_UINT32, cfg["heads"]),
        ("llama.attention.head_count_kv", GGUF_UINT32, cfg["heads"]),
        ("llama.rope.dimension_count", GGUF_UINT32, hd),
        ("llama.rope.freq_base", GGUF_FLOAT32, cfg["rope_base"]),
        ("llama.attention.layer_norm_rms_epsilon", GGUF_FLOAT32, cfg["eps"]),
        ("llama.vocab_size", GGUF_UINT32, cfg["vocab"]),
        ("tokenizer.ggml.model", GGUF_STRING, "llama"),
        ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, tok.tokens)),
        ("tokenizer.ggml.scores", GGUF_ARRAY, (GGUF_FLOAT32, tok.scores)),
        ("tokenizer.ggml.token_type", GGUF_ARRAY, (GGUF_INT32, tok.types)),
        ("tokenizer.ggml.bos_token_id", GGUF_UINT32, BOS),
        ("tokenizer.ggml.eos_token_id", GGUF_UINT32, EOS),
        ("tokenizer.ggml.unknown_token_id", GGUF_UINT32, UNK),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
        ("tokenizer.ggml.add_eos_token", GGUF_BOOL, False),
        ("tokenizer.ggml.add_space_prefix", GGUF_BOOL, True),
    ]
    write_gguf(path, kvs, tensors)


# ----------------------------------------------------------------------------- training

PRESETS = {
    # dim, layers, heads, ffn
    "tiny": dict(dim=192, layers=4, heads=6, ffn=512),
    "small": dict(dim=256, layers=6, heads=8, ffn=688),
}

PROMPTS = [
    "In the beginning",
    "And the LORD said unto Moses,",
    "Blessed are the",
    "The kingdom of heaven is like",
    "Hello, how are you today?",
]


def build_data(args):
    chapters = load_corpus()
    n_val = max(1, round(len(chapters) * args.val_frac))
    train_ch, val_ch = chapters[:-n_val], chapters[-n_val:]
    log("corpus: %d chapters (%d train, %d validation), %d chars" %
        (len(chapters), len(train_ch), len(val_ch), sum(map(len, chapters))))
    chars, merges = train_bpe(train_ch, args.vocab)
    tok = Tokenizer.build(chars, merges)
    log("tokenizer: %d tokens (%d chars, %d merges); last merges: %s" %
        (len(tok.tokens), len(chars), len(merges), merges[-5:]))

    def enc(chs):
        ids = []
        for c in chs:
            ids += tok.encode(c) + [EOS]
        return ids

    # the piece-wise fast path must equal the literal llama.cpp algorithm
    for c in chapters[::97]:
        assert tok.encode(c) == tok.encode(c, fast=False)
    tr, va = enc(train_ch), enc(val_ch)
    log("tokens: train %d, validation %d (%.2f chars/token)" %
        (len(tr), len(va), sum(map(len, train_ch)) / len(tr)))
    return tok, np.array(tr, dtype=np.int16), np.array(va, dtype=np.int16), val_ch


def evaluate(model, val, T):
    model.eval()
    n = (len(val) - 1) // T
    x = torch.from_numpy(val[: n * T].astype(np.int64)).view(n, T)
    y = torch.from_numpy(val[1: n * T + 1].astype(np.int64)).view(n, T)
    tot = 0.0
    with torch.no_grad():
        for i in range(0, n, 16):
            lo = model(x[i:i + 16])
            tot += F.cross_entropy(lo.reshape(-1, lo.size(-1)), y[i:i + 16].reshape(-1), reduction="sum").item()
    model.train()
    return tot / (n * T)


def train(args, tok, tr, va):
    cfg = dict(PRESETS[args.preset], vocab=len(tok.tokens), ctx=args.ctx, eps=1e-5, rope_base=10000.0)
    model = Llama(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log("model %s: %s, %d parameters" % (args.preset, cfg, n_params))
    decay = [p for p in model.parameters() if p.dim() == 2]
    nodecay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    T, B = args.ctx, args.batch
    rng = np.random.default_rng(args.seed)
    tr64 = tr.astype(np.int64)
    t0 = time.time()
    history = []
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            vl = evaluate(model, va, T)
            el = time.time() - t0
            history.append((step, el, vl))
            log("step %5d/%d  val_loss %.4f  ppl %.2f  elapsed %.0fs  tok/s %.0f" %
                (step, args.steps, vl, math.exp(vl), el, step * B * T / max(el, 1e-9)))
        if step == args.steps:
            break
        warm = args.warmup
        lr = args.lr * (step + 1) / warm if step < warm else \
            args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, args.steps - warm))))
        for g in opt.param_groups:
            g["lr"] = lr
        off = rng.integers(0, len(tr64) - T - 1, size=B)
        x = torch.from_numpy(np.stack([tr64[o:o + T] for o in off]))
        y = torch.from_numpy(np.stack([tr64[o + 1:o + T + 1] for o in off]))
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0:
            log("step %5d  loss %.4f  lr %.2e  %.1fs" % (step, loss.item(), lr, time.time() - t0))
    return model, cfg, n_params, time.time() - t0, history


def write_reference(model, tok, val_ch, out):
    """Files the C# validator compares llama.cpp against."""
    model.eval()
    text = "\n".join(val_ch[:3])
    with open(os.path.join(out, "ref_text.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "ref_text_ids.txt"), "w") as f:
        f.write(" ".join(map(str, tok.encode(text))))
    prompts = []
    with torch.no_grad():
        for p in PROMPTS:
            ids = tok.encode(p)
            lo = model(torch.tensor([ids]))[0, -1].tolist()
            prompts.append({"prompt": p, "ids": ids, "logits": lo})
    with open(os.path.join(out, "ref_logits.json"), "w") as f:
        json.dump(prompts, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", nargs="?", default="all", choices=["all", "export"])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    ap.add_argument("--quick", action="store_true", help="400 steps instead of 800 (about 16 min on 2 idle cores)")
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--val-frac", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--f16", action="store_true")
    ap.add_argument("--name", default="tokenflow-tiny-v1")
    args = ap.parse_args()
    if args.steps is None:
        args.steps = 400 if args.quick else 800
    torch.set_num_threads(2)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    gguf = os.path.join(args.out, args.name + ".gguf")
    ckpt = os.path.join(args.out, "model.pt")

    if args.cmd == "all":
        tok, tr, va, val_ch = build_data(args)
        tok.save(os.path.join(args.out, "tokenizer.json"))
        model, cfg, n_params, secs, hist = train(args, tok, tr, va)
        torch.save({"cfg": cfg, "state": model.state_dict()}, ckpt)
        summary = {"cfg": cfg, "params": n_params, "train_seconds": secs, "history": hist,
                   "train_tokens": int(len(tr)), "val_tokens": int(len(va)),
                   "tokens_seen": args.steps * args.batch * args.ctx,
                   "val_loss": hist[-1][2], "val_ppl": math.exp(hist[-1][2]), "args": vars(args)}
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
    else:
        tok = Tokenizer.load(os.path.join(args.out, "tokenizer.json"))
        ck = torch.load(ckpt)
        model = Llama(ck["cfg"])
        model.load_state_dict(ck["state"])
        chapters = load_corpus()
        val_ch = chapters[-max(1, round(len(chapters) * args.val_frac)):]
    export_gguf(model, tok, gguf, args.name, f16=args.f16)
    write_reference(model, tok, val_ch, args.out)
    log("wrote %s (%.1f MB)" % (gguf, os.path.getsize(gguf) / 1e6))


if __name__ == "__main__":
    main()

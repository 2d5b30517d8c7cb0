#!/usr/bin/env python3
"""Writes a tiny llama-architecture GGUF with random weights for the real-engine tests.

The model is deterministic from --seed (same seed, same bytes) and small enough that an
engine on a 2-core CPU serves it quickly: 4 layers of width 64, 4 query heads of 16 and 2
key/value heads (grouped-query attention), a feed-forward width of 192 and a byte-level
SentencePiece ("llama") vocabulary of 259 tokens: <unk>, <s>, </s> and the 256 byte tokens
<0x00>..<0xFF>. llama.cpp's SPM tokenizer falls back to the byte tokens for any text, so
every prompt tokenizes without a trained vocabulary.

Predictable output lengths: residual dimension 0 carries a constant (every token embedding
has 1.0 there and no layer writes to it: row 0 of attn_output and ffn_down is zero), so after
the final RMSNorm that dimension is always positive. Column 0 of output.weight is -100 for
every token except the printable ASCII bytes 0x20..0x7E other than '<', whose column 0 is 0:
the end-of-sequence token, the control tokens, every non-printable byte and '<' get a logit
far below the others at every step, so no sampler ever picks them. A request for N tokens therefore
generates exactly N tokens, each one printable ASCII character other than '<', and every
engine streams each token in its own chunk: the characters are complete UTF-8 (nothing is
held back as a partial character) and Ollama's output parser, which holds a '<' back as a
possible tag start and sends it together with the next token, never sees one.

Needs the `gguf` and `numpy` packages (scripts/install-engines.sh installs them in its venv).

Usage: make-tiny-model.py --out model.gguf [--seed 1234]
"""
import argparse
import sys

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - a clear message instead of a traceback
    sys.exit("make-tiny-model.py: the 'gguf' package is missing; run scripts/install-engines.sh "
             "or `pip install gguf numpy`")

N_EMBD = 64
N_LAYER = 4
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = N_EMBD // N_HEAD
N_FF = 192
N_CTX_TRAIN = 4096
RMS_EPS = 1e-5
ROPE_BASE = 10000.0
BOS_ID, EOS_ID, UNK_ID = 1, 2, 0
BYTE_BASE = 3  # token id of <0x00>
N_VOCAB = BYTE_BASE + 256
BANNED_LOGIT = -100.0

# SentencePiece token types (llama.cpp LLAMA_TOKEN_TYPE_*).
TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_BYTE = 1, 2, 3, 6

CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant: {% endif %}")


def Vocab():
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL] + [TYPE_BYTE] * 256
    scores = [0.0] * N_VOCAB
    return tokens, scores, types


def Weights(seed):
    rng = np.random.default_rng(seed)

    def Normal(rows, cols, std):
        return (rng.standard_normal((rows, cols)) * std).astype(np.float32)

    tensors = {}
    # numpy shape (rows, cols) = ggml ne {cols, rows}: (out_features, in_features).
    embd = Normal(N_VOCAB, N_EMBD, 0.3)
    embd[:, 0] = 1.0  # the constant dimension
    tensors["token_embd.weight"] = embd
    for i in range(N_LAYER):
        p = "blk.%d." % i
        tensors[p + "attn_norm.weight"] = np.ones(N_EMBD, dtype=np.float32)
        tensors[p + "attn_q.weight"] = Normal(N_HEAD * HEAD_DIM, N_EMBD, 0.2)
        tensors[p + "attn_k.weight"] = Normal(N_HEAD_KV * HEAD_DIM, N_EMBD, 0.2)
        tensors[p + "attn_v.weight"] = Normal(N_HEAD_KV * HEAD_DIM, N_EMBD, 0.2)
        wo = Normal(N_EMBD, N_HEAD * HEAD_DIM, 0.1)
        wo[0, :] = 0.0  # never writes the constant dimension
        tensors[p + "attn_output.weight"] = wo
        tensors[p + "ffn_norm.weight"] = np.ones(N_EMBD, dtype=np.float32)
        tensors[p + "ffn_gate.weight"] = Normal(N_FF, N_EMBD, 0.2)
        tensors[p + "ffn_up.weight"] = Normal(N_FF, N_EMBD, 0.2)
        wd = Normal(N_EMBD, N_FF, 0.1)
        wd[0, :] = 0.0
        tensors[p + "ffn_down.weight"] = wd
    tensors["output_norm.weight"] = np.ones(N_EMBD, dtype=np.float32)
    out = Normal(N_VOCAB, N_EMBD, 0.5)
    out[:, 0] = BANNED_LOGIT
    allowed = np.array([b for b in range(0x20, 0x7F) if b != ord("<")]) + BYTE_BASE
    out[allowed, 0] = 0.0
    tensors["output.weight"] = out
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="path of the GGUF file to write")
    parser.add_argument("--seed", type=int, default=1234, help="weights seed (default 1234)")
    args = parser.parse_args()

    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_name("llmbench-tiny-llama")
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(ROPE_BASE)
    writer.add_vocab_size(N_VOCAB)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens, scores, types = Vocab()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_unk_token_id(UNK_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    for name, array in Weights(args.seed).items():
        writer.add_tensor(name, array)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print("wrote %s (seed %d, %d tokens, %d layers of width %d)" %
          (args.out, args.seed, N_VOCAB, N_LAYER, N_EMBD))


if __name__ == "__main__":
    main()

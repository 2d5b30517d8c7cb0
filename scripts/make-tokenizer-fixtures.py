#!/usr/bin/env python3
"""Makes the tokenizer.json fixtures that coordinator/tokenizer_json_test.cc checks the C++
tokenizer against, with the real HuggingFace `tokenizers` library (PyPI): four small tokenizers
trained here on the repository's own docs (no download), in the shapes real models ship --
GPT-2 byte-level BPE, Llama-3 (split regex + byte level, BOS, ignore_merges, NFC), Llama-2 /
Mistral (SentencePiece-style BPE with byte fallback and Metaspace), BERT (WordPiece) -- and for
each, the ids the library gives for a set of test texts, with and without special tokens.

Usage: python3 -m venv /tmp/tok && /tmp/tok/bin/pip install tokenizers
       /tmp/tok/bin/python scripts/make-tokenizer-fixtures.py   # writes tests/fixtures/tokenizers/
"""
import glob
import json
import os

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def corpus():
    texts = []
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")) + [os.path.join(ROOT, "README.md")]):
        with open(path, encoding="utf-8") as f:
            texts.extend(line for line in f.read().splitlines() if line.strip())
    texts += ["café naïve résumé über straße", "日本語のテキスト 中文 한국어", "emoji 🙂 🚀 ok"]
    return texts


CASES = [
    "",
    "Hello world",
    "the of and to in is that for it as was with be by on not",
    "information carefully understand different important",
    "  leading and trailing spaces  ",
    "multiple    spaces\tand\ttabs\nand\n\nnewlines",
    "Numbers: 12345 3.14159 2026-12-06 1,000,000",
    "Punctuation!? (parens) [brackets] {braces} \"quotes\" 'single' -- em—dash",
    "I'm sure you'll see they've done it; don't WE'LL",
    "café naïve résumé über straße Ångström",
    "日本語のテキスト 中文字符 한국어 텍스트",
    "emoji 🙂🚀 and symbols ∑ ∞ ≠ →",
    "URL https://example.com/path?q=1&r=2 and email a.b@c.de",
    "CamelCaseWords snake_case_words kebab-case-words",
    "llmbench sends a prompt of exactly five hundred and twelve tokens to the engine",
    "x" * 300,
    "word " * 60,
]


def save(name, tok):
    tok.save(os.path.join(OUT, name + ".json"))
    cases = []
    for text in CASES:
        cases.append({
            "text": text,
            "ids": tok.encode(text, add_special_tokens=False).ids,
            "ids_special": tok.encode(text, add_special_tokens=True).ids,
        })
    with open(os.path.join(OUT, name + ".vectors.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": name + ".json", "cases": cases}, f, ensure_ascii=False, indent=0)
        f.write("\n")


def gpt2():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=800, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"])
    tok.train_from_iterator(corpus(), trainer)
    return tok


def llama3():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=900, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|begin_of_text|>", "<|end_of_text|>"])
    tok.train_from_iterator(corpus(), trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    return tok


def llama2():
    # SentencePiece-style BPE as HuggingFace converts it: spaces become U+2581, byte fallback.
    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
                                  limit_alphabet=120)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def mistral():
    # Newer SentencePiece conversions: a Metaspace pre-tokenizer (prepend_scheme "first").
    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
                                  limit_alphabet=120)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def bert():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=900,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, make in [("gpt2-bpe", gpt2), ("llama3-bpe", llama3), ("llama2-sp-bpe", llama2),
                       ("mistral-metaspace-bpe", mistral), ("bert-wordpiece", bert)]:
        save(name, make())
        print("wrote", name)


if __name__ == "__main__":
    main()

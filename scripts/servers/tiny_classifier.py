"""Build a tiny random-weight BERT text classifier with a WordPiece tokenizer trained here, offline, and save it
as a model directory (config.json, model.safetensors, tokenizer files) a Hugging Face pipeline loads.

    python tiny_classifier.py OUT_DIR

Its answers mean nothing (the weights are random); its shape is a real text-classification model's, which is
what a conformance run needs. Does nothing when OUT_DIR already holds a model.
"""

from __future__ import annotations

import sys
from pathlib import Path

SENTENCES = [
    "I loved this film, the acting was wonderful.", "The service was slow and the food was cold.",
    "What a great day, everything went right.", "This product broke after one day.",
    "Paris is the capital of France.", "My name is Ada and I live in London.",
    "The weather is nice today and I will walk to the park.", "I am happy with the result.",
]


def main(out: Path) -> None:
    if (out / "config.json").is_file():
        print(f"a model is already in {out}")
        return
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train_from_iterator(SENTENCES * 10, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    cls, sep = wordpiece.token_to_id("[CLS]"), wordpiece.token_to_id("[SEP]")
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    wordpiece.decoder = decoders.WordPiece()
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]",
                                  cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    torch.manual_seed(0)
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    config = BertConfig(vocab_size=wordpiece.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        num_labels=len(labels), id2label=labels, label2id={v: k for k, v in labels.items()})
    out.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"wrote a text classifier to {out} (vocabulary {wordpiece.get_vocab_size()}, labels {labels})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))

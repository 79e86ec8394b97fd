"""The LLM zoo at full depth against Hugging Face: parameters and MACs, no extrapolation.

The tests (tests/test_llm_zoo.py, tests/test_llm_zoo_seq2seq.py) build each
Hugging Face model 1 and 2 layers deep to stay fast; this script builds
every one at its published depth on the meta device and compares
parameters, and MACs (FlopCounterMode // 2 on the eager forward, batch 1)
at one sequence length.  Not a test: run it by hand, paste the table into
benchmarks/README.md.

    PYTHONPATH=. python benchmarks/llm_zoo_full_size.py [--length 128]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from tests.test_llm_zoo import ZOO, hf_model
from tests.test_llm_zoo_seq2seq import ENCODERS, T5, WHISPER, build_hf


def macs_of(model, **inputs):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**inputs)
    return counter.get_total_flops() // 2


def rows(transformers, length):
    ids = torch.zeros(1, length, dtype=torch.long, device="meta")
    for name, (build, config_class, model_class, depth, config) in ZOO.items():
        model = hf_model(transformers, config_class, model_class, depth, config)
        yield name, build(), model, dict(S=length), dict(input_ids=ids)
    for name, (build, config_class, model_class, depth, depth_key, config) in ENCODERS.items():
        model = build_hf(transformers, config_class, model_class, {**config, depth_key: depth})
        yield name, build(), model, dict(S=length), dict(input_ids=ids)
    for name, (build, depth, widths) in T5.items():
        config = dict(vocab_size=32128, d_kv=64, relative_attention_num_buckets=32, feed_forward_proj="relu",
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, num_layers=depth,
                      num_decoder_layers=depth, **widths)
        model = build_hf(transformers, "T5Config", "T5ForConditionalGeneration", config)
        yield name, build(), model, dict(S=length, T=length), dict(input_ids=ids, decoder_input_ids=ids)
    from costgraph.models import whisper_small

    model = build_hf(transformers, "WhisperConfig", "WhisperForConditionalGeneration",
                     {**WHISPER, "encoder_layers": 12, "decoder_layers": 12})
    features = torch.zeros(1, 80, 3000, device="meta")
    yield "whisper_small", whisper_small(), model, dict(S=1500, T=length), dict(input_features=features, decoder_input_ids=ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=128, help="sequence length (the decoder's, for Whisper)")
    args = parser.parse_args()
    import transformers

    transformers.logging.set_verbosity_error()
    print(f"| model | params (costgraph = HF) | MACs at length {args.length}, N = 1 (costgraph = HF) | agree | HF build + count (s) |")
    print("|---|---:|---:|:---:|---:|")
    for name, net, model, sizes, inputs in rows(transformers, args.length):
        start = time.perf_counter()
        hf_params = sum(p.numel() for p in model.parameters())
        hf_macs = macs_of(model, **inputs)
        elapsed = time.perf_counter() - start
        totals = net.totals(N=1, **sizes)
        same = totals.params == hf_params and totals.macs == hf_macs
        print(f"| {name} | {totals.params:,} | {totals.macs:,} | {'yes' if same else f'NO: HF {hf_params:,} / {hf_macs:,}'} | {elapsed:.1f} |")


if __name__ == "__main__":
    main()

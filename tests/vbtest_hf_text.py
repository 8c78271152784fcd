"""Tiny, randomly initialised Hugging Face text+vision models saved to folders, with a tokenizer made here.

Nothing is downloaded: configs are built in code, the tokenizer is a word-level vocabulary built
with the ``tokenizers`` library and wrapped in ``PreTrainedTokenizerFast``, and every folder is
written with ``save_pretrained`` so the adapters load it through the real ``from_pretrained`` path.
"""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "with",
    "and",
    "is",
    "this",
    "photo",
    "picture",
    "image",
    "describe",
    "classify",
    "answer",
    "one",
    "these",
    "labels",
    "red",
    "green",
    "blue",
    "yellow",
    "circle",
    "square",
    "triangle",
    "shape",
    "shapes",
    "small",
    "large",
    "dog",
    "cat",
    "bird",
    "car",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    ".",
    ",",
    ":",
    "?",
]
SPECIAL = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "<image>", "<user>", "<assistant>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<user>"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% else %} {{ part['text'] }}{% endif %}"
    "{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %} <assistant>{% endif %}"
)


def word_tokenizer(wrap: bool = False, **extra):
    """A whitespace/punctuation word-level tokenizer over :data:`WORDS` (ids are hand-checkable).

    ``wrap`` puts ``[BOS]``/``[EOS]`` around every text, as CLIP's tokenizer does (its text
    encoder pools at the end token).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(dict.fromkeys([*SPECIAL, *WORDS]))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    from tokenizers import decoders

    core.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    if wrap:
        core.post_processor = processors.TemplateProcessing(
            single="[BOS] $A [EOS]", special_tokens=[("[BOS]", vocab["[BOS]"]), ("[EOS]", vocab["[EOS]"])]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        additional_special_tokens=["<image>", "<user>", "<assistant>"],
        **extra,
    )


def _ids(tokenizer) -> dict[str, int]:
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


def _vision(cls, **kw):
    return cls(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
               image_size=32, patch_size=8, **kw)  # fmt: skip


def save_vision_encoder_decoder(folder: Path, seed: int = 0) -> Path:
    """ViT encoder + GPT-2 decoder with cross-attention, a ViT image processor and the word tokenizer."""
    import torch
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    torch.manual_seed(seed)
    tokenizer = word_tokenizer()
    encoder = _vision(ViTConfig)
    decoder = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, n_positions=64,
                         add_cross_attention=True, is_decoder=True, **_ids(tokenizer))  # fmt: skip
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.bos_token_id
    config.pad_token_id, config.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    model = VisionEncoderDecoderModel(config=config)
    model.generation_config.decoder_start_token_id = tokenizer.bos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_blip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    torch.manual_seed(seed)
    tokenizer = word_tokenizer()
    config = BlipConfig(
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        text_config={"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "encoder_hidden_size": 16,
                     "max_position_embeddings": 64, **_ids(tokenizer),
                     "sep_token_id": tokenizer.eos_token_id},
        projection_dim=16,
    )  # fmt: skip
    BlipForConditionalGeneration(config).save_pretrained(folder)
    image = BlipImageProcessor(size={"height": 32, "width": 32})
    BlipProcessor(image_processor=image, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_git(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor

    torch.manual_seed(seed)
    tokenizer = word_tokenizer()
    config = GitConfig(
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=64, **_ids(tokenizer),
    )  # fmt: skip
    GitForCausalLM(config).save_pretrained(folder)
    image = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    GitProcessor(image_processor=image, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_llava(folder: Path, seed: int = 0) -> Path:
    """A LLaVA-style chat model: CLIP vision tower, Llama language model, a chat template."""
    import torch
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    torch.manual_seed(seed)
    tokenizer = word_tokenizer()
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    config = LlavaConfig(
        vision_config={"model_type": "clip_vision_model", "hidden_size": 16, "intermediate_size": 32,
                       "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 32, "patch_size": 8,
                       "projection_dim": 16},
        text_config={"model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 16,
                     "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "num_key_value_heads": 2, "max_position_embeddings": 128, **_ids(tokenizer)},
        image_token_id=image_token, vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )  # fmt: skip
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    image = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    LlavaProcessor(image_processor=image, tokenizer=tokenizer, patch_size=8,
                   vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                   num_additional_image_tokens=1).save_pretrained(folder)  # fmt: skip
    return folder


def save_clip(folder: Path, seed: int = 0, family: str = "clip") -> Path:
    """A CLIP (or SigLIP) dual encoder with its image processor and the word tokenizer."""
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    tokenizer = word_tokenizer(wrap=True, model_max_length=16)
    text = {"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32,
            "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 16, **_ids(tokenizer)}  # fmt: skip
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 2, "image_size": 32, "patch_size": 8}  # fmt: skip
    if family == "siglip":
        config = tf.SiglipConfig(text_config=text, vision_config=vision)
        model = tf.SiglipModel(config)
        image = tf.SiglipImageProcessor(size={"height": 32, "width": 32})
        processor = tf.SiglipProcessor(image_processor=image, tokenizer=tokenizer)
    else:
        config = tf.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
        model = tf.CLIPModel(config)
        image = tf.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
        processor = tf.CLIPProcessor(image_processor=image, tokenizer=tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder

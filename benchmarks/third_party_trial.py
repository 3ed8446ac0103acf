"""Trial on model code nobody here wrote: the model files shipped inside installed packages.

For every model file of the trial packages (``pip install -e ".[trial]"``; see pyproject.toml) the
file is translated once, and every ``nn.Module`` class that can be built with a small configuration
is checked the way ``torch2flax check`` checks it. Each class ends in one of:

* PASS        the check passed (outputs, input and parameter gradients within tolerance);
* DIAGNOSED   the translation stopped with diagnostics (``FILE:LINE:COL: CODE message``): the tool
              refused, and said where and why -- a legitimate outcome for unsupported constructs;
* FAIL-SILENT the translation had no error diagnostic, but the Flax model is wrong: outputs or
              gradients outside tolerance, a parameter tree that does not match, or an exception
              inside the translated model -- the worst defect;
* CRASH       the tool itself raised (a traceback from the translator, the port or the check).

A class is SKIPPED (and left out of the shares) when no small configuration from the tables below
builds it and runs its PyTorch forward: an abstract helper, a wrapper that takes another model, a
loss module that needs targets. Constructor arguments come from a table of small values by
parameter name (``NAME_VALUES``) plus per-class overrides (``OVERRIDES``); inputs are tried from a
list of candidate shapes until the PyTorch forward runs.

The flat packages (``STAGED``) are staged into a temporary copy with an empty ``__init__.py``:
vit-pytorch's ``__init__`` imports torchvision, whose PyPI wheel does not import with the CPU torch
used here, and importing the model file by its package name would fail before the translator gets a
say (``--no-stage`` runs on the installed files as a user would).  The large packages (``IN_PLACE``:
monai, diffusers, transformers) import across the whole package with relative imports, so a chosen
list of their model files is checked in place, as the installed package's modules (the translation,
self-contained, is written to a temporary directory: monai's ``__init__`` imports every module it finds in
the package, so a translation left there would be imported by anyone importing monai).  Their constructor values
come from per-package tables (``PACKAGE_VALUES``, which may hold Python objects such as a small
``BertConfig``); a class whose forward takes several tensors is given several input specs.  A package
that is not installed is left out.

``--isolated`` also checks each DIAGNOSED class whose own lines carry no diagnostic (the file was
stopped by another class) on the partial translation: a failure there is a silent defect waiting
behind the diagnostics.

Run: ``python benchmarks/third_party_trial.py [--json OUT.json] [--examples N] [--only PATTERN] [--isolated]
[--packages monai,diffusers]``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

STAGED = ("vit_pytorch", "efficientnet_pytorch", "mlp_mixer_pytorch", "densenet_pytorch")
# Packages checked in place (relative imports across the package): the model files tried, relative to
# the installed package directory.
IN_PLACE = {
    "monai": ("networks/blocks/convolutions.py", "networks/blocks/segresnet_block.py",
              "networks/blocks/squeeze_and_excitation.py", "networks/blocks/mlp.py", "networks/blocks/selfattention.py",
              "networks/blocks/transformerblock.py", "networks/blocks/patchembedding.py",
              "networks/blocks/dynunet_block.py", "networks/blocks/unetr_block.py", "networks/blocks/aspp.py",
              "networks/nets/basic_unet.py", "networks/nets/unet.py", "networks/nets/segresnet.py",
              "networks/nets/autoencoder.py", "networks/nets/varautoencoder.py", "networks/nets/densenet.py",
              "networks/nets/resnet.py", "networks/nets/attentionunet.py", "networks/nets/highresnet.py",
              "networks/nets/fullyconnectednet.py", "networks/nets/vit.py"),
    "diffusers": ("models/activations.py", "models/normalization.py", "models/embeddings.py", "models/resnet.py",
                  "models/upsampling.py", "models/downsampling.py", "models/autoencoders/vae.py",
                  "models/unets/unet_2d_blocks.py"),
    "transformers": ("models/bert/modeling_bert.py", "models/gpt2/modeling_gpt2.py", "models/vit/modeling_vit.py"),
}
PACKAGES = STAGED + tuple(IN_PLACE)

# Small values for constructor parameters, by name: used for every required parameter, and for the
# optional ones listed in SHRINK (so defaults sized for ImageNet do not make the run slow).
NAME_VALUES = {
    "dim": 32, "depth": 1, "heads": 2, "dim_head": 16, "mlp_dim": 64, "num_classes": 10,
    "image_size": 32, "patch_size": 8, "hidden_dim": 64, "dim_out": 32, "dim_in": 32,
    "kernel_size": 3, "stride": 1, "padding": 1, "frame_patch_size": 2, "frames": 4,
    "image_patch_size": 8, "num_input_features": 16, "growth_rate": 8, "bn_size": 2,
    "drop_rate": 0.0, "in_channels": 16, "out_channels": 16, "seq_len": 64, "mlp_mult": 2,
    "channels": 3, "dropout": 0.0, "emb_dropout": 0.0, "mult": 2, "num_layers": 1, "d_model": 32,
    "nhead": 2, "window_size": 4, "fmap_size": 8, "num_register_tokens": 2, "dim_inner": 32,
    "kernel": 3, "groups": 1, "inp": 16, "oup": 16, "num_output_features": 8, "prob": 0.0,
    "dim_key": 16, "dim_value": 16, "channel": 16, "reduction_factor": 2, "max_frames": 4,
    "proj_kernel": 3, "kv_proj_stride": 1, "output_num_tokens": 4, "out_dim": 16, "ndim": 2,
    "input_shape": (32, 32), "sm_dim": 32, "lg_dim": 32, "cls_depth": 1, "spatial_depth": 1,
    "temporal_depth": 1, "num_residual_streams": 2, "dim_pos": 2, "use_flash": False,
    "local_window_size": 4, "global_window_size": 4, "num_hierarchies": 2, "block_repeats": (1, 1),
    "dims": (16, 32), "layer_index": 0, "dim_mask": 16, "specialize_qkv_depth": 1,
    "num_tokens_out": 4, "h_s": 4, "w_s": 4, "max_tokens_per_depth": (16,), "decoder_dim": 32,
}
SHRINK = ("depth", "dim", "heads", "dim_head", "mlp_dim", "image_size", "patch_size", "num_classes",
          "hidden_dim", "num_layers", "dropout", "emb_dropout", "drop_rate")




def transformers_config(module):
    """A small config object for the transformers modeling file ``module`` (BERT, GPT-2 or ViT)."""
    name = module.__name__.rsplit(".", 1)[1]
    configuration = importlib.import_module(module.__name__.replace(".modeling_", ".configuration_"))
    if name == "modeling_gpt2":
        config = configuration.GPT2Config(vocab_size=100, n_positions=32, n_embd=32, n_layer=1, n_head=2, n_inner=64,
                                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                          use_cache=False)  # a returned DynamicCache is state the trace reports (X009)
    elif name == "modeling_vit":
        config = configuration.ViTConfig(image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=64, hidden_dropout_prob=0.0,
                                         attention_probs_dropout_prob=0.0)
    else:
        config = configuration.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                          intermediate_size=64, max_position_embeddings=32, hidden_dropout_prob=0.0,
                                          attention_probs_dropout_prob=0.0)
    config._attn_implementation = "eager"
    return config


# Per-package values by parameter name, over NAME_VALUES; a callable value is called with the imported
# module.  Unlike NAME_VALUES they also replace a default when the name is in PACKAGE_SHRINK.
PACKAGE_VALUES = {
    "monai": {
        "spatial_dims": 2, "in_channels": 4, "out_channels": 8, "channels": (8, 16), "strides": (2,), "in_chns": 4,
        "out_chns": 8, "cat_chns": 4, "act": "relu", "norm": "batch", "bias": True, "growth_rate": 4, "bn_size": 2,
        "dropout_prob": 0.0, "hidden_size": 32, "mlp_dim": 64, "num_heads": 2, "img_size": 16, "patch_size": 4,
        "kernel_size": 3, "stride": 1, "upsample_kernel_size": 2, "norm_name": "batch", "in_planes": 8, "planes": 8,
        "hidden_channels": (16,), "latent_size": 4, "conv_out_channels": 4, "layers": 2, "num_layer": 1,
        "in_shape": (4, 16, 16), "inplanes": 32, "groups": 1, "reduction": 4, "n_chns_1": 8, "n_chns_2": 8,
        "n_chns_3": 8, "f_int": 4, "f_g": 8, "f_l": 8, "init_filters": 8, "features": (8, 8, 16, 32, 64, 8),
        "init_features": 8, "block_config": (1, 1), "num_layers": 1, "dropout_rate": 0.0,
    },
    "diffusers": {
        "in_channels": 8, "out_channels": 8, "temb_channels": 16, "resnet_groups": 4, "groups": 4, "norm_num_groups": 4,
        "num_layers": 1, "channels": 8, "dim_in": 16, "dim_out": 32, "dim": 16, "embedding_dim": 16,
        "time_embed_dim": 16, "num_channels": 16, "flip_sin_to_cos": True, "downscale_freq_shift": 0, "eps": 1e-6,
        "normalized_shape": 16, "num_groups": 4, "out_dim": 16, "block_out_channels": (8, 16), "layers_per_block": 1,
        "attention_head_dim": 4, "prev_output_channel": 8, "act_fn": "silu", "inp_channels": 8, "embed_dim": 16,
        "kernel_size": 3, "in_dim": 8, "num_blocks": (1, 1), "upsampling_scaling_factor": 2, "upsample_fn": "nearest",
        "embedding_size": 8, "in_features": 16, "hidden_size": 16, "dropout": 0.0, "resnet_group_size": 4,
        "n_groups": 4, "conditioning_embedding_dim": 16, "alpha": 0.5, "num_attention_heads": 2,
    },
    "transformers": {"config": transformers_config, "intermediate_size": 64, "layer_idx": 0},
}
PACKAGE_SHRINK = {
    "monai": ("spatial_dims", "num_layers", "hidden_size", "mlp_dim", "num_heads", "dropout_rate", "init_filters", "features",
              "init_features", "growth_rate", "block_config", "in_channels"),
    "diffusers": ("temb_channels", "resnet_groups", "groups", "norm_num_groups", "num_layers", "block_out_channels",
                  "layers_per_block", "attention_head_dim", "embedding_size", "dropout", "in_channels",
                  "out_channels", "channels", "resnet_group_size", "n_groups", "embedding_dim"),
    "transformers": (),
}
# Extra candidate inputs per package (after the generic ones)
PACKAGE_INPUTS = {
    "monai": ("float32[2,{dim},16,16]", "float32[2,{dim},32,32]", "float32[2,1,32,32]"),
    "diffusers": ("float32[2,{dim},16,16]", "float32[2,3,16,16]", "float32[2,16]", "float32[2]"),
    "transformers": ("float32[2,16,32]", "int64[2,16]:0..100", "float32[2,3,16,16]"),
}


def efficientnet_kwargs(module):
    utils = importlib.import_module(module.__name__.rsplit(".", 1)[0] + ".utils")
    blocks, params = utils.get_model_params("efficientnet-b0", {"image_size": 32, "num_classes": 10})
    blocks = [b._replace(num_repeat=1) for b in blocks[:3]]
    params = params._replace(width_coefficient=0.25, depth_coefficient=0.5, drop_connect_rate=0.0, dropout_rate=0.0)
    return {"blocks_args": blocks, "global_params": params}


def mbconv_kwargs(module):
    kwargs = efficientnet_kwargs(module)
    block = kwargs["blocks_args"][1]._replace(input_filters=8, output_filters=16)
    return {"block_args": block, "global_params": kwargs["global_params"], "image_size": 16}


def densenet_kwargs(module):
    utils = importlib.import_module(module.__name__.rsplit(".", 1)[0] + ".utils")
    blocks, params = utils.get_model_params("densenet121", {"image_size": 32, "num_classes": 10})
    params = params._replace(growth_rate=8, num_init_features=16, drop_rate=0.0)
    return {"blocks_args": (2, 2), "global_params": params}


def densenet_block_kwargs(module):
    return {"num_layers": 2, "num_input_features": 16, "global_params": densenet_kwargs(module)["global_params"]}


# (file stem, class) -> kwargs (a dict, or a callable of the imported module) and optional input specs
OVERRIDES: dict[tuple[str, str], dict] = {
    ("model", "EfficientNet"): {"kwargs": efficientnet_kwargs, "inputs": ["float32[2,3,32,32]"]},
    ("model", "MBConvBlock"): {"kwargs": mbconv_kwargs, "inputs": ["float32[2,8,16,16]"]},
    ("model", "DenseNet"): {"kwargs": densenet_kwargs, "inputs": ["float32[2,3,32,32]"]},
    ("model", "DenseBlock"): {"kwargs": densenet_block_kwargs, "inputs": ["float32[2,16,8,8]"]},
    ("utils", "Conv2dDynamicSamePadding"): {"kwargs": {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "stride": 2}},
    ("utils", "Conv2dStaticSamePadding"): {"kwargs": {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "stride": 2, "image_size": 16}},
    ("utils", "MaxPool2dDynamicSamePadding"): {"kwargs": {"kernel_size": 3, "stride": 2}},
    ("utils", "MaxPool2dStaticSamePadding"): {"kwargs": {"kernel_size": 3, "stride": 2, "image_size": 16}},
    ("cct", "CCT"): {"kwargs": {"img_size": 32, "embedding_dim": 32, "n_conv_layers": 1, "kernel_size": 3, "stride": 2,
                                "padding": 1, "pooling_kernel_size": 3, "pooling_stride": 2, "pooling_padding": 1,
                                "num_layers": 1, "num_heads": 2, "mlp_ratio": 2.0, "num_classes": 10}},
    ("cvt", "CvT"): {"kwargs": {"num_classes": 10, "s1_emb_dim": 16, "s1_depth": 1, "s1_heads": 1, "s2_emb_dim": 16,
                                "s2_depth": 1, "s2_heads": 1, "s3_emb_dim": 16, "s3_depth": 1, "s3_heads": 1}},
    ("levit", "LeViT"): {"kwargs": {"image_size": 64, "num_classes": 10, "dim": (32, 48, 64), "depth": 1, "heads": (2, 2, 2),
                                    "mlp_mult": 2, "dim_key": 16, "dim_value": 16}, "inputs": ["float32[2,3,64,64]"]},
    ("pit", "PiT"): {"kwargs": {"image_size": 32, "patch_size": 8, "dim": 32, "num_classes": 10, "depth": (1, 1),
                                "heads": 2, "mlp_dim": 64}},
    ("twins_svt", "TwinsSVT"): {"kwargs": {"num_classes": 10, "s1_emb_dim": 16, "s1_local_patch_size": 4, "s1_global_k": 7,
                                           "s1_depth": 1, "s2_emb_dim": 16, "s2_depth": 1, "s3_emb_dim": 16, "s3_depth": 1,
                                           "s4_emb_dim": 16, "s4_depth": 1}, "inputs": ["float32[2,3,64,64]"]},
    ("max_vit", "MaxViT"): {"kwargs": {"num_classes": 10, "dim": 16, "depth": (1,), "dim_head": 8, "window_size": 4,
                                       "dim_conv_stem": 16}},
    ("mobile_vit", "MobileViT"): {"kwargs": {"image_size": (32, 32), "dims": [16, 16, 16], "channels": [8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 32],
                                             "num_classes": 10}},
    ("nest", "NesT"): {"kwargs": {"image_size": 32, "patch_size": 4, "dim": 16, "heads": 2, "num_hierarchies": 2,
                                  "block_repeats": (1, 1), "num_classes": 10}},
    ("cross_vit", "CrossViT"): {"kwargs": {"image_size": 32, "num_classes": 10, "sm_dim": 16, "lg_dim": 32, "sm_patch_size": 8,
                                           "lg_patch_size": 16, "sm_enc_depth": 1, "lg_enc_depth": 1, "depth": 1,
                                           "cross_attn_depth": 1, "dropout": 0.0, "emb_dropout": 0.0}},
    ("crossformer", "CrossFormer"): {"kwargs": {"dim": (16, 16, 16, 16), "depth": (1, 1, 1, 1), "num_classes": 10,
                                                "global_window_size": (2, 2, 2, 1), "local_window_size": 2}, "inputs": ["float32[2,3,64,64]"]},
    ("regionvit", "RegionViT"): {"kwargs": {"dim": (16, 16, 16, 16), "depth": (1, 1, 1, 1), "window_size": 2, "num_classes": 10,
                                            "tokenize_local_3_conv": False}, "inputs": ["float32[2,3,64,64]"]},
    ("scalable_vit", "ScalableViT"): {"kwargs": {"num_classes": 10, "dim": 16, "heads": (1, 1, 1, 1), "depth": (1, 1, 1, 1),
                                                 "reduction_factor": (2, 2, 2, 1), "window_size": (2, 2, None, None)},
                                      "inputs": ["float32[2,3,64,64]"]},
    ("sep_vit", "SepViT"): {"kwargs": {"num_classes": 10, "dim": 16, "dim_head": 8, "heads": (1, 1, 1, 1), "depth": (1, 1, 1, 1),
                                       "window_size": 2}, "inputs": ["float32[2,3,64,64]"]},
    ("xcit", "XCiT"): {"kwargs": {"image_size": 32, "patch_size": 8, "num_classes": 10, "dim": 32, "depth": 1, "cls_depth": 1,
                                  "heads": 2, "mlp_dim": 64, "dropout": 0.0, "emb_dropout": 0.0, "local_patch_kernel_size": 3,
                                  "layer_dropout": 0.0}},
    # in-place packages: keys name the package ("monai/resnet"), as their file names repeat across packages;
    # an input candidate that is a tuple gives the forward several tensors
    ("monai/basic_unet", "UpCat"): {"inputs": [("float32[2,4,8,8]", "float32[2,4,16,16]")]},
    ("monai/attentionunet", "AttentionBlock"): {"inputs": [("float32[2,8,8,8]", "float32[2,8,8,8]")]},
    ("monai/unetr_block", "UnetrUpBlock"): {"inputs": [("float32[2,4,8,8]", "float32[2,8,16,16]")]},
    ("monai/dynunet_block", "UnetUpBlock"): {"kwargs": {"spatial_dims": 2, "in_channels": 4, "out_channels": 8,
                                                        "kernel_size": 3, "stride": 1, "upsample_kernel_size": 2,
                                                        "norm_name": "batch"},
                                             "inputs": [("float32[2,4,8,8]", "float32[2,8,16,16]")]},
    ("monai/autoencoder", "AutoEncoder"): {"kwargs": {"spatial_dims": 2, "in_channels": 4, "out_channels": 4,
                                                      "channels": (8, 16), "strides": (2, 2)}},
    ("monai/varautoencoder", "VarAutoEncoder"): {"kwargs": {"spatial_dims": 2, "in_shape": (4, 16, 16), "out_channels": 4,
                                                            "latent_size": 4, "channels": (8, 16), "strides": (2, 2)},
                                                 "inputs": ["float32[2,4,16,16]"]},
    ("monai/squeeze_and_excitation", "SEResNeXtBottleneck"): {"kwargs": {"spatial_dims": 2, "inplanes": 64, "planes": 16,
                                                                          "groups": 2, "reduction": 4},
                                                              "inputs": ["float32[2,64,8,8]"]},
    ("monai/resnet", "ResNetBottleneck"): {"kwargs": {"in_planes": 32, "planes": 8, "spatial_dims": 2}},
    ("monai/resnet", "ResNet"): {"kwargs": {"block": "basic", "layers": (1, 1, 1, 1), "block_inplanes": (8, 8, 16, 16),
                                            "spatial_dims": 2, "n_input_channels": 3, "num_classes": 10},
                                 "inputs": ["float32[2,3,32,32]"]},
    ("monai/fullyconnectednet", "VarFullyConnectedNet"): {"kwargs": {"in_channels": 4, "out_channels": 4, "latent_size": 2,
                                                                     "encode_channels": (8,), "decode_channels": (8,)}},
    **{("monai/densenet", f"DenseNet{n}"): {"skip": "a preset of DenseNet (tried)"} for n in (121, 169, 201, 264)},
    ("diffusers/resnet", "ResnetBlock2D"): {"inputs": [("float32[2,8,8,8]", "float32[2,16]")]},
    ("diffusers/resnet", "ResnetBlockCondNorm2D"): {"inputs": [("float32[2,8,8,8]", "float32[2,16]")]},
    ("diffusers/resnet", "Conv1dBlock"): {"inputs": ["float32[2,8,16]"]},
    ("diffusers/resnet", "ResidualTemporalBlock1D"): {"inputs": [("float32[2,8,16]", "float32[2,16]")]},
    ("diffusers/upsampling", "Upsample1D"): {"inputs": ["float32[2,8,16]"]},
    ("diffusers/downsampling", "Downsample1D"): {"inputs": ["float32[2,8,16]"]},
    ("diffusers/embeddings", "PatchEmbed"): {"kwargs": {"height": 16, "width": 16, "patch_size": 4, "in_channels": 3,
                                                        "embed_dim": 16}, "inputs": ["float32[2,3,16,16]"]},
    ("diffusers/embeddings", "GaussianFourierProjection"): {"kwargs": {"embedding_size": 8, "log": False}},
    ("diffusers/embeddings", "LabelEmbedding"): {"kwargs": {"num_classes": 10, "hidden_size": 16, "dropout_prob": 0.0},
                                                 "inputs": ["int64[2]:0..10"]},
    ("diffusers/embeddings", "CombinedTimestepLabelEmbeddings"): {"kwargs": {"num_classes": 10, "embedding_dim": 16,
                                                                             "class_dropout_prob": 0.0},
                                                                  "inputs": [("float32[2]", "int64[2]:0..10")]},
    ("diffusers/normalization", "AdaGroupNorm"): {"inputs": [("float32[2,16,8,8]", "float32[2,16]")]},
    ("diffusers/normalization", "AdaLayerNormContinuous"): {"inputs": [("float32[2,16,16]", "float32[2,16]")]},
    ("diffusers/normalization", "AdaLayerNormZeroSingle"): {"inputs": [("float32[2,16,16]", "float32[2,16]")]},
    ("diffusers/normalization", "GlobalResponseNorm"): {"inputs": ["float32[2,8,8,16]"]},
    ("diffusers/vae", "Encoder"): {"kwargs": {"in_channels": 3, "out_channels": 4, "block_out_channels": (8, 16),
                                              "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
                                              "layers_per_block": 1, "norm_num_groups": 4},
                                   "inputs": ["float32[2,3,16,16]"]},
    ("diffusers/vae", "Decoder"): {"kwargs": {"in_channels": 4, "out_channels": 3, "block_out_channels": (8, 16),
                                              "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
                                              "layers_per_block": 1, "norm_num_groups": 4},
                                   "inputs": ["float32[2,4,8,8]"]},
    ("diffusers/vae", "EncoderTiny"): {"kwargs": {"in_channels": 3, "out_channels": 4, "num_blocks": (1, 1),
                                                  "block_out_channels": (8, 8), "act_fn": "relu"},
                                       "inputs": ["float32[2,3,16,16]"]},
    ("diffusers/vae", "DecoderTiny"): {"kwargs": {"in_channels": 4, "out_channels": 3, "num_blocks": (1, 1),
                                                  "block_out_channels": (8, 8), "upsampling_scaling_factor": 2,
                                                  "act_fn": "relu", "upsample_fn": "nearest"},
                                       "inputs": ["float32[2,4,8,8]"]},
    **{("diffusers/unet_2d_blocks", name): {"inputs": [("float32[2,8,16,16]", "float32[2,16]")]}
       for name in ("UNetMidBlock2D", "ResnetDownsampleBlock2D", "KDownBlock2D")},
    **{("transformers/" + stem, name): {"inputs": [("float32[2,16,32]", "float32[2,16,32]")]}
       for stem, name in (("modeling_bert", "BertSelfOutput"), ("modeling_vit", "ViTSelfOutput"))},
    **{("transformers/" + stem, name): {"inputs": [("float32[2,16,64]", "float32[2,16,32]")]}
       for stem, name in (("modeling_bert", "BertOutput"), ("modeling_vit", "ViTOutput"))},
    ("transformers/modeling_bert", "BertPreTrainingHeads"): {"inputs": [("float32[2,16,32]", "float32[2,32]")]},
    ("transformers/modeling_bert", "BertOnlyNSPHead"): {"inputs": ["float32[2,32]"]},
}


def override_for(package: str, stem: str, name: str) -> dict:
    return OVERRIDES.get((f"{package}/{stem}", name)) or OVERRIDES.get((stem, name), {})


# Candidate input specs, tried in order (first one whose PyTorch forward runs is used)
def candidate_inputs(kwargs: dict, package: str = "") -> list:
    c = kwargs.get("channels", 3) if isinstance(kwargs.get("channels", 3), int) else 3
    size = kwargs.get("image_size", 32) if isinstance(kwargs.get("image_size", 32), int) else 32
    dim = next((kwargs[k] for k in ("dim", "d_model", "dim_in", "in_channels", "inp", "num_input_features", "channel", "in_chns", "in_planes", "inplanes")
                if isinstance(kwargs.get(k), int)), 32)
    out = []
    if "frames" in kwargs:
        out.append(f"float32[2,{c},{kwargs['frames']},{size},{size}]")
    if "seq_len" in kwargs:
        out.append(f"float32[2,{c},{kwargs['seq_len']}]")
    if "image_size" in kwargs or "num_classes" in kwargs:
        out.append(f"float32[2,{c},{size},{size}]")
    out += [f"float32[2,16,{dim}]", f"float32[2,{dim},8,8]", f"float32[2,{dim}]", f"float32[2,{dim},16]",
            f"float32[2,{c},{size},{size}]", "float32[2,3,64,64]"]
    out += [spec.format(dim=dim) for spec in PACKAGE_INPUTS.get(package, ())]
    return list(dict.fromkeys(out))


def spec_list(candidate) -> list[str]:
    return [candidate] if isinstance(candidate, str) else list(candidate)


# --------------------------------------------------------------------------- results
@dataclass
class Result:
    package: str
    file: str
    cls: str
    status: str  # PASS, DIAGNOSED, FAIL-SILENT, CRASH, SKIPPED
    detail: str = ""
    codes: list[str] = field(default_factory=list)
    own_codes: list[str] = field(default_factory=list)  # diagnostics inside the class's own lines
    errors: dict = field(default_factory=dict)
    kwargs: str = ""
    inputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    isolated: str = ""  # --isolated: the check of a DIAGNOSED class whose own lines are clean, on the partial translation
    traced: list[str] = field(default_factory=list)  # the source stopped it: checked from the built model, these traced
    #: DIAGNOSED: the first few diagnostics in full (``FILE:LINE: CODE message``), for --json readers
    diagnostics: list[str] = field(default_factory=list)


class Timeout(BaseException):
    """A BaseException: the translator reports its own failures per definition (``I001``) by catching
    Exception, which must not swallow the trial's time limit."""


@contextlib.contextmanager
def time_limit(seconds: int):
    def handler(signum, frame):
        raise Timeout(f"over {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # does not run the package's __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def stage(packages: list[str], root: Path) -> dict[str, Path]:
    """Copy each package's .py files under root, with an empty __init__.py."""
    staged = {}
    for name in packages:
        source = package_dir(name)
        if source is None:
            continue
        target = root / name
        target.mkdir(parents=True)
        for file in source.glob("*.py"):
            shutil.copy(file, target / file.name)
        (target / "__init__.py").write_text("")
        staged[name] = target
    sys.path.insert(0, str(root))
    return staged


def class_spans(source: str) -> dict[str, tuple[int, int]]:
    import ast

    return {node.name: (node.lineno, node.end_lineno) for node in ast.parse(source).body if isinstance(node, ast.ClassDef)}


def build_kwargs(cls, module, override: dict, package: str = "") -> dict | None:
    if "kwargs" in override:
        kwargs = override["kwargs"]
        return dict(kwargs(module) if callable(kwargs) else kwargs)
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    values = {**NAME_VALUES, **PACKAGE_VALUES.get(package, {})}
    shrink = PACKAGE_SHRINK.get(package, ())
    kwargs = {}
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            if p.name not in values:
                return None
            kwargs[p.name] = values[p.name]
        elif p.name in shrink:
            kwargs[p.name] = values[p.name]
        elif p.name in SHRINK and p.name in values and isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            kwargs[p.name] = values[p.name]
    return {k: v(module) if callable(v) and not isinstance(v, type) else v for k, v in kwargs.items()}


def example(spec):
    import torch

    if spec.is_float:
        return torch.randn(*spec.shape)
    return torch.randint(spec.low, spec.high, spec.shape, dtype=getattr(torch, spec.dtype))


def torch_runs(cls, kwargs, candidate) -> bool:
    import jax
    import torch

    from translator.equivalence.pair import plain_containers
    from translator.equivalence.specs import parse_spec

    specs = [parse_spec(s) for s in spec_list(candidate)]
    try:
        with time_limit(30):
            torch.manual_seed(0)
            model = cls(**kwargs)
            model.eval()
            out = model(*[example(spec) for spec in specs])
            # as check reads outputs: tensors in tuples, lists and mappings (Hugging Face's ModelOutput)
            leaves = [o for o in jax.tree_util.tree_leaves(plain_containers(out))
                      if isinstance(o, torch.Tensor) and o.is_floating_point()]
            if not leaves:
                return False
            if any(o.requires_grad for o in leaves):  # check compares gradients: PyTorch must differentiate it
                sum(o.sum() for o in leaves if o.requires_grad).backward()
        return True
    except Exception:
        return False


def short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def run_check(result: Result, path: Path, name: str, spec_text, kwargs: dict, flax_file: Path | None,
              examples: int, timeout: int) -> None:
    """The check as the CLI runs it, on a translation already written to ``flax_file`` (or, without one,
    on the translation ``check`` chooses: the source's, else the built model's); sets status and detail."""
    from translator.diagnostics import TranslationFailed, UsageError
    from translator.equivalence.check import check
    from translator.equivalence.specs import parse_spec

    try:
        with time_limit(timeout), contextlib.redirect_stderr(io.StringIO()):
            report = check(path, name, [parse_spec(s) for s in spec_list(spec_text)], kwargs, flax_source=flax_file,
                           examples=examples)
    except TranslationFailed as error:  # the source's errors, and what the built model could not express
        built = [d for d in error.diagnostics  # what stopped the built model's translation, not the source's
                 if d.code == "X009" or "(in a traced forward)" in d.message or "(in the built `" in d.message]
        built.sort(key=lambda d: d.code != "X009")  # a method that could not be traced explains the rest
        where = (built or error.diagnostics)[0]
        result.status = "DIAGNOSED"
        result.detail = f"{len(error.diagnostics)} error(s), e.g. {Path(where.path).name}:{where.line}: {where.code} {short(where.message, 110)}"
        result.diagnostics = [f"{Path(d.path).name}:{d.line}: {d.code} {d.message}" for d in (built or error.diagnostics)[:5]]
    except Timeout as error:
        result.status, result.detail = "CRASH", f"check timed out ({error})"
    except UsageError as error:  # a clear refusal (exit 2) naming what the tool does not do: not silent
        result.status, result.detail = "DIAGNOSED", f"refused: {short(error, 300)}"
    except Exception as error:
        result.status = "CRASH"
        result.detail = f"check: {type(error).__name__}: {short(error)} at {internal_frame(error)}"
    else:
        result.errors = {q: report.errors[q].max_rel for q in report.quantities}
        result.traced = list(report.traced)
        if report.ok:
            result.status = "PASS"
            result.detail = "max rel " + ", ".join(f"{q} {v:.1e}" for q, v in result.errors.items())
        else:
            result.status = "FAIL-SILENT"
            result.detail = f"{report.stage}: {short(report.failure, 300)}"
            if report.divergence is not None:
                result.detail += f" | first divergence: {report.divergence.torch_module} ({report.divergence.rule})"


def trial_file(package: str, path: Path, examples: int, timeout: int, isolated: bool = False,
               instance: bool = True, rel: str | None = None, flax_dir: Path | None = None) -> list[Result]:
    import torch

    from translator.diagnostics import UsageError
    from translator.instance.translate import source_translation
    from translator.loading import import_source
    from translator.rewrite.local_imports import errors_affecting

    rel = rel or f"{package}/{path.name}"
    source = path.read_text()
    try:
        module = import_source(path)
    except UsageError as error:
        return [Result(package, rel, "-", "SKIPPED", f"PyTorch file does not import: {short(error)}")]
    classes = [n for n, c in vars(module).items()  # an alias (monai's `Densenet = DenseNet`) is not a class of its own
               if isinstance(c, type) and issubclass(c, torch.nn.Module) and c.__module__ == module.__name__
               and c.__name__ == n]
    if not classes:
        return []
    started = time.perf_counter()
    try:
        with time_limit(timeout), contextlib.redirect_stderr(io.StringIO()):
            translation = source_translation(source, str(path), True)  # check reuses it
    except Timeout as error:
        return [Result(package, rel, c, "CRASH", f"translate timed out ({error})") for c in classes]
    except UsageError as error:
        return [Result(package, rel, c, "DIAGNOSED", short(error)) for c in classes]
    except Exception as error:
        detail = f"translate: {type(error).__name__}: {short(error)} at {internal_frame(error)}"
        return [Result(package, rel, c, "CRASH", detail) for c in classes]
    translate_seconds = time.perf_counter() - started
    all_errors = translation.errors
    spans = class_spans(source)
    # next to the file, or (an installed package: monai's __init__ imports every module it finds) elsewhere
    flax_file = (flax_dir / (rel.replace("/", "_")[:-3] + "_flax_trial.py") if flax_dir is not None
                 else path.with_name(path.stem + "_flax_trial.py"))
    flax_file.write_text(translation.code)
    results = []
    for name in classes:
        cls = getattr(module, name)
        override = override_for(package, path.stem, name)
        result = Result(package, rel, name, "SKIPPED")
        results.append(result)
        lo, hi = spans.get(name, (0, 0))
        errors = all_errors
        result.codes = sorted({d.code for d in errors})
        result.own_codes = sorted({d.code for d in errors if lo <= d.line <= hi})
        if "skip" in override:
            result.detail = override["skip"]
            continue
        try:
            kwargs = build_kwargs(cls, module, override, package)
        except Exception as error:
            result.detail = f"kwargs: {short(error)}"
            continue
        if kwargs is None:
            result.detail = "no small configuration (a constructor argument the table does not know)"
            continue
        candidates = override.get("inputs") or candidate_inputs(kwargs, package)
        spec_text = next((s for s in candidates if torch_runs(cls, kwargs, s)), None)
        result.kwargs = short(repr(kwargs), 300)
        if spec_text is None:
            result.detail = "PyTorch's forward and backward run on none of the candidate inputs"
            continue
        result.inputs = spec_list(spec_text)
        # as `torch2flax check` does: only errors in this class or what it uses stop its check
        blocking = errors_affecting(errors, name, path)
        if blocking and instance:  # as check does: translated from the built model instead
            started = time.perf_counter()
            run_check(result, path, name, spec_text, kwargs, None, examples, timeout)
            result.seconds = round(time.perf_counter() - started + translate_seconds, 2)
            continue
        if blocking:
            errors = blocking
            first = errors[0]
            where = next((d for d in errors if lo <= d.line <= hi), first)
            result.status = "DIAGNOSED"
            result.detail = f"{len(errors)} error(s), e.g. {Path(where.path).name}:{where.line}: {where.code} {short(where.message, 110)}"
            if isolated and not result.own_codes:
                probe = Result(package, rel, name, "")
                run_check(probe, path, name, spec_text, kwargs, flax_file, examples, timeout)
                if probe.status == "FAIL-SILENT" and "importing" in probe.detail:  # TODO lines left untranslated
                    probe.status = "UNRUNNABLE"
                result.isolated = f"{probe.status}: {short(probe.detail, 200)}"
            continue
        started = time.perf_counter()
        # errors elsewhere in the file: as `check` does (it falls back to the built model when the file's
        # translation does not import); a clean file's translation is checked as written
        run_check(result, path, name, spec_text, kwargs, None if all_errors else flax_file, examples, timeout)
        result.seconds = round(time.perf_counter() - started + translate_seconds, 2)
        if result.status == "FAIL-SILENT" and "importing" in result.detail and all_errors:
            # untranslated code elsewhere in the file runs at import: `check` reports the diagnostics (exit 1)
            first = all_errors[0]
            result.status = "DIAGNOSED"
            result.detail = f"{len(all_errors)} error(s) elsewhere break the import, e.g. {Path(first.path).name}:{first.line}: {first.code}"
    return results


def internal_frame(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "/translator/" in f.filename]
    frame = frames[-1] if frames else traceback.extract_tb(error.__traceback__)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


STATUSES = ("PASS", "DIAGNOSED", "FAIL-SILENT", "CRASH")


def summary(results: list[Result]) -> dict:
    out = {}
    for package in [*dict.fromkeys(r.package for r in results), "all"]:
        rows = [r for r in results if (package == "all" or r.package == package) and r.status != "SKIPPED"]
        counts = collections.Counter(r.status for r in rows)
        tried = len(rows)
        out[package] = {"tried": tried, **{s: counts.get(s, 0) for s in STATUSES},
                        "skipped": sum(1 for r in results if (package == "all" or r.package == package) and r.status == "SKIPPED"),
                        "share_pass_or_diagnosed": round((counts["PASS"] + counts["DIAGNOSED"]) / tried, 3) if tried else None,
                        "share_pass": round(counts["PASS"] / tried, 3) if tried else None,
                        "pass_from_built_model": sum(1 for r in rows if r.status == "PASS" and r.traced)}
    return out


def print_report(results: list[Result], show_skipped: bool) -> None:
    print(f"{'class':<48} {'status':<11} detail")
    for r in results:
        if r.status == "SKIPPED" and not show_skipped:
            continue
        print(f"{r.file + '::' + r.cls:<48} {r.status:<11} {r.detail}")
        if r.isolated:
            print(f"{'':<48} {'':<11} isolated (own lines clean, checked on the partial translation): {r.isolated}")
    codes = collections.Counter(c for r in results if r.status == "DIAGNOSED" for c in r.codes)
    own = collections.Counter(c for r in results if r.status == "DIAGNOSED" for c in r.own_codes)
    print("\ndiagnostic codes among DIAGNOSED classes (classes whose file has the code / whose own lines have it):")
    print("  " + ", ".join(f"{c} {n}/{own.get(c, 0)}" for c, n in codes.most_common()))
    clean_own = sum(1 for r in results if r.status == "DIAGNOSED" and not r.own_codes)
    print(f"  DIAGNOSED classes with no diagnostic in their own lines (stopped by another class of the file): {clean_own}")
    isolated = collections.Counter(r.isolated.split(":")[0] for r in results if r.isolated)
    if isolated:
        print("  of those, checked on the partial translation (--isolated): "
              + ", ".join(f"{k} {v}" for k, v in isolated.most_common()))
    print(f"\n{'package':<22} {'tried':>5} {'pass':>5} {'built':>5} {'diag':>5} {'silent':>6} {'crash':>5} {'skip':>5}  pass+diag  pass")
    for package, s in summary(results).items():
        share = f"{s['share_pass_or_diagnosed']:.0%}" if s["tried"] else "-"
        share_pass = f"{s['share_pass']:.0%}" if s["tried"] else "-"
        print(f"{package:<22} {s['tried']:>5} {s['PASS']:>5} {s['pass_from_built_model']:>5} {s['DIAGNOSED']:>5} "
              f"{s['FAIL-SILENT']:>6} {s['CRASH']:>5} {s['skipped']:>5}  {share:>9} {share_pass:>5}")
    print("(built: passing classes whose source the translator could not read, checked from the built model)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="OUT.json", help="also write every result and the summary as JSON")
    parser.add_argument("--examples", type=int, default=3, help="Hypothesis examples per check (default 3)")
    parser.add_argument("--only", metavar="PATTERN", help="only files whose package/name contains PATTERN (several: comma-separated)")
    parser.add_argument("--timeout", type=int, default=180, help="seconds per translation and per check")
    parser.add_argument("--no-stage", action="store_true", help="run on the installed files (package __init__ runs)")
    parser.add_argument("--show-skipped", action="store_true")
    parser.add_argument("--source-only", action="store_true",
                        help="no fallback to the built model: a class the source translation stops is DIAGNOSED")
    parser.add_argument("--isolated", action="store_true",
                        help="also check DIAGNOSED classes whose own lines have no diagnostic, on the partial translation")
    parser.add_argument("--packages", metavar="A,B", help=f"only these packages (default: every installed one of {', '.join(PACKAGES)})")
    args = parser.parse_args(argv)

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    wanted = args.packages.split(",") if args.packages else list(PACKAGES)
    unknown = sorted(set(wanted) - set(PACKAGES))
    if unknown:
        parser.error(f"unknown package(s) {', '.join(unknown)} (one of {', '.join(PACKAGES)})")
    packages = [p for p in PACKAGES if p in wanted and package_dir(p) is not None]
    if not packages:
        print('no trial package installed: pip install -e ".[trial]" (with --no-deps where it would replace torch)')
        return 2
    missing = sorted(set(wanted) - set(packages))
    if missing:
        print(f"not installed (left out): {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="t2f_trial_") as tmp:
        flat = [p for p in packages if p in STAGED]
        dirs = {p: package_dir(p) for p in flat} if args.no_stage else stage(flat, Path(tmp))
        # (package, file, shown name, in place: the translation is written to flax_dir)
        flax_dir = Path(tmp) / "flax"
        flax_dir.mkdir()
        files = [(package, path, f"{package}/{path.name}", args.no_stage)
                 for package, directory in dirs.items() for path in sorted(directory.glob("*.py"))
                 if path.name != "__init__.py" and not path.name.endswith("_flax_trial.py")]
        for package in (p for p in packages if p in IN_PLACE):
            directory = package_dir(package)
            files += [(package, directory / rel, f"{package}/{rel}", True) for rel in IN_PLACE[package]]
        results: list[Result] = []
        for package, path, shown, in_place in files:
            if args.only and not any(pattern in shown for pattern in args.only.split(",")):
                continue
            if not path.is_file():
                results.append(Result(package, shown, "-", "SKIPPED", "no such file in this version of the package"))
                continue
            file_results = trial_file(package, path, args.examples, args.timeout, args.isolated,
                                      not args.source_only, rel=shown, flax_dir=flax_dir if in_place else None)
            for r in file_results:
                if r.status != "SKIPPED":
                    print(f"  {r.file}::{r.cls}: {r.status} {short(r.detail, 120)}", file=sys.stderr, flush=True)
            results += file_results
    print_report(results, args.show_skipped)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary(results), "results": [asdict(r) for r in results]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

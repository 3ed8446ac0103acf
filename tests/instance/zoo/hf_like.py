"""Shapes of Hugging Face transformers code (no transformers needed): a forward decorated by a wrapper that
advertises a deprecated keyword, layers called with constants and extra keywords into **kwargs, and
outputs that are ordered dicts dropping their None fields (ModelOutput), read as attributes."""

import functools
import inspect
from collections import OrderedDict

import torch.nn as nn


def deprecate_kwarg(old, new):
    """transformers.utils.deprecation.deprecate_kwarg: renames `old=` to `new=` and shows `old` in the signature."""

    def wrapper(func):
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            if old in kwargs:
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        parameters = list(signature.parameters.values())
        parameters.insert(-1, inspect.Parameter(old, inspect.Parameter.KEYWORD_ONLY, default=None))
        wrapped.__signature__ = signature.replace(parameters=parameters)
        return wrapped

    return wrapper


class Output(OrderedDict):
    """ModelOutput: fields given as None are not stored; reading one as an attribute gives None."""

    FIELDS = ("last_hidden_state", "cache", "attentions")

    def __init__(self, **fields):
        super().__init__((k, v) for k, v in fields.items() if v is not None)

    def __getitem__(self, key):  # ModelOutput: an int indexes the fields that are not None, in order
        return list(self.values())[key] if isinstance(key, int) else super().__getitem__(key)

    def __getattr__(self, name):
        if name in self:
            return self[name]
        if name in self.FIELDS:
            return None
        raise AttributeError(name)


class Layer(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    @deprecate_kwarg("past_key_values", "cache")
    def forward(self, hidden_states, attention_mask=None, cache=None, **kwargs):
        if attention_mask is not None:
            hidden_states = hidden_states * attention_mask
        scale = kwargs.get("scale", 1.0)
        return self.fc(hidden_states) * scale


class Encoder(nn.Module):
    def __init__(self, dim=8, layers=2):
        super().__init__()
        self.layer = nn.ModuleList([Layer(dim) for _ in range(layers)])

    def forward(self, hidden_states, use_cache=False):
        for layer in self.layer:
            hidden_states = layer(hidden_states, None, cache=None, scale=0.5)
        return Output(last_hidden_state=hidden_states, cache=[] if use_cache else None)


class TinyModel(nn.Module):
    def __init__(self, vocab=11, dim=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.encoder = Encoder(dim)
        self.head = nn.Linear(dim, vocab)

    @deprecate_kwarg("past_key_values", "cache")
    def forward(self, input_ids, cache=None, **kwargs):
        out = self.encoder(self.embed(input_ids))
        logits = self.head(out.last_hidden_state)
        if out.cache is None:  # PyTorch takes this branch: the field was dropped
            logits = logits * 2.0
        return Output(last_hidden_state=logits)


class SelfAttention(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.query = nn.Linear(dim, dim)

    def forward(self, hidden_states):
        return self.query(hidden_states).softmax(-1), None


class Attention(nn.Module):
    """BertAttention: a submodule named `self` (fx names its result after it)."""

    def __init__(self, dim=8):
        super().__init__()
        self.self = SelfAttention(dim)
        self.output = nn.Linear(dim, dim)

    def forward(self, hidden_states):
        attention, weights = self.self(hidden_states)
        return self.output(attention) + hidden_states


class PoolingEncoder(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        h = self.fc(x)
        return Output(last_hidden_state=h, cache=None, attentions=h.mean(1))


class Classifier(nn.Module):
    """BertForSequenceClassification: `outputs[1]` is the second field that is not None (here `attentions`)."""

    def __init__(self, dim=8, labels=3):
        super().__init__()
        self.encoder = PoolingEncoder(dim)
        self.head = nn.Linear(dim, labels)

    def forward(self, x):
        outputs = self.encoder(x)
        return self.head(outputs[1]) + outputs[0].sum(1)[:, :1]


class TiedLM(nn.Module):
    """GPT2LMHeadModel's tie: the head's weight is the embedding's table."""

    def __init__(self, vocab=11, dim=8):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, input_ids):
        return self.lm_head(self.wte(input_ids).tanh())

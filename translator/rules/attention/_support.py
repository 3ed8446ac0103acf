"""Flax source emitted into translated files by the attention rules (L040-L044).

Each entry is ``(name, source)``; a rule lists the ones its output needs in
``LayerBuild.support`` (or asks for them with ``ctx.support``), and the rewriter
writes each definition once at the end of the file.
"""

from __future__ import annotations

TORCH_SDPA = '''
def torch_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False, make_rng=None):
    """F.scaled_dot_product_attention with PyTorch's semantics (rule L041).

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).  A bool
    ``attn_mask`` is True where a query may attend (the opposite of
    nn.MultiheadAttention's masks); a float mask is added to the scores.  Rows
    with every key masked give 0, as PyTorch does.  Dropout (applied whenever
    ``dropout_p > 0``, as in PyTorch) draws its mask with ``make_rng("dropout")``.
    """
    if enable_gqa:
        key = jnp.repeat(key, query.shape[-3] // key.shape[-3], axis=-3)
        value = jnp.repeat(value, query.shape[-3] // value.shape[-3], axis=-3)
    if scale is None:
        scale = query.shape[-1] ** -0.5
    scores = jnp.einsum("...le,...se->...ls", query, key) * scale
    if is_causal:
        causal = jnp.tril(jnp.ones((query.shape[-2], key.shape[-2]), dtype=bool))
        scores = jnp.where(causal, scores, -jnp.inf)
    if attn_mask is not None:
        scores = jnp.where(attn_mask, scores, -jnp.inf) if attn_mask.dtype == jnp.bool_ else scores + attn_mask
    blocked = jnp.all(scores == -jnp.inf, axis=-1, keepdims=True)
    weights = jnp.where(blocked, 0.0, jax.nn.softmax(jnp.where(blocked, 0.0, scores), axis=-1))
    if dropout_p > 0:
        keep = jax.random.bernoulli(make_rng("dropout"), 1.0 - dropout_p, weights.shape)
        weights = jnp.where(keep, weights / (1.0 - dropout_p), 0.0)
    return jnp.einsum("...ls,...sv->...lv", weights, value)
'''

TORCH_MULTIHEAD_ATTENTION = '''
class TorchMultiheadAttention(nn.Module):
    """nn.MultiheadAttention with PyTorch's parameters and call (rule L040).

    Variables keep PyTorch's names and layouts: ``in_proj_weight`` (3E, E) packs the
    query, key and value projections as rows [q; k; v] (separate
    ``q/k/v_proj_weight`` when kdim/vdim differ from embed_dim), ``in_proj_bias``
    (3E,), and ``out_proj`` is a Dense.  The call takes PyTorch's arguments: masks
    are True where attention is *blocked* (bool) or added to the scores (float),
    and it returns ``(output, weights or None)``.
    """

    embed_dim: int
    num_heads: int
    dropout: float = 0.0
    bias: bool = True
    batch_first: bool = False
    kdim: int | None = None
    vdim: int | None = None

    def setup(self):
        e = self.embed_dim
        kdim, vdim = self.kdim or e, self.vdim or e
        init = nn.initializers.xavier_uniform()
        if kdim == e and vdim == e:
            self.in_proj_weight = self.param("in_proj_weight", init, (3 * e, e))
        else:
            self.q_proj_weight = self.param("q_proj_weight", init, (e, e))
            self.k_proj_weight = self.param("k_proj_weight", init, (e, kdim))
            self.v_proj_weight = self.param("v_proj_weight", init, (e, vdim))
        if self.bias:
            self.in_proj_bias = self.param("in_proj_bias", nn.initializers.zeros, (3 * e,))
        self.out_proj = nn.Dense(e, use_bias=self.bias)
        self.attention_dropout = nn.Dropout(self.dropout)

    def projection_weights(self):
        """The (E, in) weights of the query, key and value projections."""
        if (self.kdim or self.embed_dim) == self.embed_dim and (self.vdim or self.embed_dim) == self.embed_dim:
            return jnp.split(self.in_proj_weight, 3)
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def __call__(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
        deterministic=True,
    ):
        if is_causal and attn_mask is None:
            raise ValueError("is_causal=True needs attn_mask (it is only a hint in PyTorch)")
        batched, self_attention = query.ndim == 3, query is key is value
        if not batched:  # (L, E): one sequence
            query, key, value = query[None], key[None], value[None]
            key_padding_mask = None if key_padding_mask is None else key_padding_mask[None]
        elif not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = (jnp.swapaxes(t, 0, 1) for t in (query, key, value))
        n, length, _ = query.shape
        heads, head_dim = self.num_heads, self.embed_dim // self.num_heads

        # project, then split E into (heads, head_dim), heads major as in PyTorch
        if self_attention and (self.kdim or self.embed_dim) == (self.vdim or self.embed_dim) == self.embed_dim:
            packed = query @ self.in_proj_weight.T + (self.in_proj_bias if self.bias else 0.0)  # one matmul
            q, k, v = (t.reshape(n, length, heads, head_dim) for t in jnp.split(packed, 3, axis=-1))
        else:
            w_q, w_k, w_v = self.projection_weights()
            b_q, b_k, b_v = jnp.split(self.in_proj_bias, 3) if self.bias else (0.0, 0.0, 0.0)
            q = (query @ w_q.T + b_q).reshape(n, length, heads, head_dim)
            k = (key @ w_k.T + b_k).reshape(n, key.shape[1], heads, head_dim)
            v = (value @ w_v.T + b_v).reshape(n, value.shape[1], heads, head_dim)

        scores = jnp.einsum("nlhd,nshd->nhls", q * head_dim**-0.5, k)
        # PyTorch turns both masks into one additive mask: bool True -> -inf (blocked)
        if attn_mask is not None:
            if attn_mask.ndim == 3:  # (N * heads, L, S)
                attn_mask = attn_mask.reshape(n, heads, *attn_mask.shape[1:])
            scores = scores + (jnp.where(attn_mask, -jnp.inf, 0.0) if attn_mask.dtype == jnp.bool_ else attn_mask)
        if key_padding_mask is not None:  # (N, S), the same for every head and query
            kpm = key_padding_mask[:, None, None, :]
            scores = scores + (jnp.where(kpm, -jnp.inf, 0.0) if kpm.dtype == jnp.bool_ else kpm)
        if need_weights:
            weights = jax.nn.softmax(scores, axis=-1)  # a fully masked row is NaN, as in PyTorch
        else:  # PyTorch's fused path gives 0 for a fully masked row
            blocked = jnp.all(scores == -jnp.inf, axis=-1, keepdims=True)
            weights = jnp.where(blocked, 0.0, jax.nn.softmax(jnp.where(blocked, 0.0, scores), axis=-1))
        weights = self.attention_dropout(weights, deterministic=deterministic)

        output = jnp.einsum("nhls,nshd->nlhd", weights, v).reshape(n, length, self.embed_dim)
        output = self.out_proj(output)
        if not batched:
            output = output[0]
        elif not self.batch_first:
            output = jnp.swapaxes(output, 0, 1)
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return output, (weights if batched else weights[0])
'''


TORCH_TRANSFORMER_ENCODER_LAYER = '''
class TorchTransformerEncoderLayer(nn.Module):
    """nn.TransformerEncoderLayer with PyTorch's submodule names (rule L042).

    self-attention (``self_attn``) then a feed-forward block (``linear1``,
    ``linear2``), each with dropout and a residual connection, and layer norm after
    (post-norm, default) or before (``norm_first``) each block.
    """

    d_model: int
    nhead: int
    dim_feedforward: int = 2048
    dropout_rate: float = 0.1
    activation: str = "relu"
    layer_norm_eps: float = 1e-5
    batch_first: bool = False
    norm_first: bool = False
    bias: bool = True

    def setup(self):
        self.self_attn = TorchMultiheadAttention(
            self.d_model, self.nhead, dropout=self.dropout_rate, bias=self.bias, batch_first=self.batch_first
        )
        self.linear1 = nn.Dense(self.dim_feedforward, use_bias=self.bias)
        self.dropout = nn.Dropout(self.dropout_rate)
        self.linear2 = nn.Dense(self.d_model, use_bias=self.bias)
        self.norm1 = nn.LayerNorm(epsilon=self.layer_norm_eps, use_bias=self.bias, use_fast_variance=False)
        self.norm2 = nn.LayerNorm(epsilon=self.layer_norm_eps, use_bias=self.bias, use_fast_variance=False)
        self.dropout1 = nn.Dropout(self.dropout_rate)
        self.dropout2 = nn.Dropout(self.dropout_rate)

    def activate(self, x):
        if self.activation == "gelu":
            return nn.gelu(x, approximate=False)  # PyTorch's exact gelu (Flax's default is tanh)
        return nn.relu(x)

    def self_attention_block(self, x, src_mask, src_key_padding_mask, is_causal, deterministic):
        x = self.self_attn(
            x, x, x, attn_mask=src_mask, key_padding_mask=src_key_padding_mask,
            need_weights=False, is_causal=is_causal, deterministic=deterministic,
        )[0]
        return self.dropout1(x, deterministic=deterministic)

    def feedforward_block(self, x, deterministic):
        x = self.linear2(self.dropout(self.activate(self.linear1(x)), deterministic=deterministic))
        return self.dropout2(x, deterministic=deterministic)

    def __call__(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False, deterministic=True):
        x = src
        if self.norm_first:
            x = x + self.self_attention_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal, deterministic)
            x = x + self.feedforward_block(self.norm2(x), deterministic)
        else:
            x = self.norm1(x + self.self_attention_block(x, src_mask, src_key_padding_mask, is_causal, deterministic))
            x = self.norm2(x + self.feedforward_block(x, deterministic))
        return x
'''

TORCH_TRANSFORMER_DECODER_LAYER = '''
class TorchTransformerDecoderLayer(nn.Module):
    """nn.TransformerDecoderLayer with PyTorch's submodule names (rule L043).

    self-attention (``self_attn``), cross-attention over ``memory``
    (``multihead_attn``) and a feed-forward block (``linear1``, ``linear2``), each
    with dropout and a residual connection, and layer norm after (post-norm,
    default) or before (``norm_first``) each block.
    """

    d_model: int
    nhead: int
    dim_feedforward: int = 2048
    dropout_rate: float = 0.1
    activation: str = "relu"
    layer_norm_eps: float = 1e-5
    batch_first: bool = False
    norm_first: bool = False
    bias: bool = True

    def setup(self):
        attention = dict(dropout=self.dropout_rate, bias=self.bias, batch_first=self.batch_first)
        self.self_attn = TorchMultiheadAttention(self.d_model, self.nhead, **attention)
        self.multihead_attn = TorchMultiheadAttention(self.d_model, self.nhead, **attention)
        self.linear1 = nn.Dense(self.dim_feedforward, use_bias=self.bias)
        self.dropout = nn.Dropout(self.dropout_rate)
        self.linear2 = nn.Dense(self.d_model, use_bias=self.bias)
        self.norm1 = nn.LayerNorm(epsilon=self.layer_norm_eps, use_bias=self.bias, use_fast_variance=False)
        self.norm2 = nn.LayerNorm(epsilon=self.layer_norm_eps, use_bias=self.bias, use_fast_variance=False)
        self.norm3 = nn.LayerNorm(epsilon=self.layer_norm_eps, use_bias=self.bias, use_fast_variance=False)
        self.dropout1 = nn.Dropout(self.dropout_rate)
        self.dropout2 = nn.Dropout(self.dropout_rate)
        self.dropout3 = nn.Dropout(self.dropout_rate)

    def activate(self, x):
        if self.activation == "gelu":
            return nn.gelu(x, approximate=False)  # PyTorch's exact gelu (Flax's default is tanh)
        return nn.relu(x)

    def self_attention_block(self, x, mask, key_padding_mask, is_causal, deterministic):
        x = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask,
            need_weights=False, is_causal=is_causal, deterministic=deterministic,
        )[0]
        return self.dropout1(x, deterministic=deterministic)

    def cross_attention_block(self, x, memory, mask, key_padding_mask, is_causal, deterministic):
        x = self.multihead_attn(
            x, memory, memory, attn_mask=mask, key_padding_mask=key_padding_mask,
            need_weights=False, is_causal=is_causal, deterministic=deterministic,
        )[0]
        return self.dropout2(x, deterministic=deterministic)

    def feedforward_block(self, x, deterministic):
        x = self.linear2(self.dropout(self.activate(self.linear1(x)), deterministic=deterministic))
        return self.dropout3(x, deterministic=deterministic)

    def __call__(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=False,
        memory_is_causal=False,
        deterministic=True,
    ):
        x = tgt
        if self.norm_first:
            x = x + self.self_attention_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal, deterministic)
            x = x + self.cross_attention_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal, deterministic
            )
            x = x + self.feedforward_block(self.norm3(x), deterministic)
        else:
            x = self.norm1(x + self.self_attention_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal, deterministic))
            x = self.norm2(
                x + self.cross_attention_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal, deterministic)
            )
            x = self.norm3(x + self.feedforward_block(x, deterministic))
        return x
'''

TORCH_TRANSFORMER_ENCODER = '''
class TorchTransformerEncoder(nn.Module):
    """nn.TransformerEncoder: ``num_layers`` copies of a layer, then an optional norm (rule L044).

    Each copy has its own parameters (``layers_0``, ``layers_1``, ... like PyTorch's
    ``layers.0``, ``layers.1``, ...).
    """

    encoder_layer: nn.Module
    num_layers: int
    norm: nn.Module | None = None

    def setup(self):
        self.layers = [self.encoder_layer.clone(parent=None, name=None) for _ in range(self.num_layers)]

    def __call__(self, src, mask=None, src_key_padding_mask=None, is_causal=None, deterministic=True):
        x = src
        for layer in self.layers:
            x = layer(
                x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal), deterministic=deterministic,
            )
        if self.norm is not None:
            x = self.norm(x)
        return x
'''

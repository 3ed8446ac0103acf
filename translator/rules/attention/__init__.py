"""Attention rules (L040-L049): MultiheadAttention, scaled_dot_product_attention, Transformer layers."""

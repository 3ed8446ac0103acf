"""Rules for einops (``rearrange``, ``repeat``, ``reduce``, ``einsum``, ``pack``/``unpack`` and the torch layers).

einops dispatches on the array type, so the translation of an einops call is the
same call on the jax array.  What the rules add is layout: a channels-last value
is read by rewriting the pattern's left side instead of transposing it back.
"""

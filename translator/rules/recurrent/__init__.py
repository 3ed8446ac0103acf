"""Recurrent layers: nn.LSTM / GRU / RNN and their cells (L050-L059).

Every rule here emits a support module that keeps PyTorch's parameter names and
layouts, so the port is the identity and a round trip is bit-exact.
"""

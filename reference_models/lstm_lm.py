"""An LSTM language model (Zaremba et al. 2014; the PyTorch word_language_model example):
embedding, a 2-layer LSTM, dropout, and a linear decoder over the vocabulary."""

import torch.nn as nn


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab_size=1000, embed_dim=64, hidden_dim=64, num_layers=2, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_dim, vocab_size)

    def forward(self, tokens):
        emb = self.drop(self.embedding(tokens))
        output, _ = self.lstm(emb)
        return self.decoder(self.drop(output))

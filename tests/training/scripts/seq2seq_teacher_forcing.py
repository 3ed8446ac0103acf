# A GRU encoder-decoder that learns to reverse token sequences, trained with teacher forcing:
# at each decoder step a coin flip (random.random() < ratio) feeds it the true token or its own guess.
import random

import torch
import torch.nn as nn
import torch.optim as optim

random.seed(0)
torch.manual_seed(0)

VOCAB, SOS, SEQ_LEN = 10, 0, 5  # tokens 1..9, 0 is the start token
src_data = torch.randint(1, VOCAB, (128, SEQ_LEN))
trg_data = src_data.flip(1)


class Encoder(nn.Module):
    def __init__(self, vocab_size, emb_dim, hid_dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.rnn = nn.GRU(emb_dim, hid_dim, batch_first=True)

    def forward(self, src):
        embedded = self.embedding(src)
        _, hidden = self.rnn(embedded)
        return hidden


class Decoder(nn.Module):
    def __init__(self, vocab_size, emb_dim, hid_dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.rnn = nn.GRU(emb_dim, hid_dim, batch_first=True)
        self.fc_out = nn.Linear(hid_dim, vocab_size)

    def forward(self, input, hidden):
        embedded = self.embedding(input.unsqueeze(1))
        output, hidden = self.rnn(embedded, hidden)
        prediction = self.fc_out(output.squeeze(1))
        return prediction, hidden


class Seq2Seq(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, src, trg, teacher_forcing_ratio=0.5):
        batch_size, trg_len = trg.shape
        outputs = torch.zeros(batch_size, trg_len, VOCAB)
        hidden = self.encoder(src)
        input = torch.full((batch_size,), SOS, dtype=torch.long)
        for t in range(trg_len):
            output, hidden = self.decoder(input, hidden)
            outputs[:, t] = output
            teacher_force = random.random() < teacher_forcing_ratio
            top1 = output.argmax(1)
            input = trg[:, t] if teacher_force else top1
        return outputs


model = Seq2Seq(Encoder(VOCAB, 8, 32), Decoder(VOCAB, 8, 32))
optimizer = optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()

batch_size = 32
for epoch in range(3):
    model.train()
    epoch_loss = 0
    for i in range(0, len(src_data), batch_size):
        src, trg = src_data[i:i + batch_size], trg_data[i:i + batch_size]
        optimizer.zero_grad()
        output = model(src, trg, teacher_forcing_ratio=0.5)
        loss = criterion(output.reshape(-1, VOCAB), trg.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        epoch_loss += loss.item()
    print(f'Epoch: {epoch + 1:02} | Train Loss: {epoch_loss / (len(src_data) // batch_size):.3f}')

model.eval()
with torch.no_grad():
    output = model(src_data[:64], trg_data[:64], teacher_forcing_ratio=0)  # no teacher forcing
    token_accuracy = (output.argmax(-1) == trg_data[:64]).float().mean().item()
print(f'greedy token accuracy: {token_accuracy:.3f}')
